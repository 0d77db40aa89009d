// Error reporting and small file helpers shared by the satchel commands.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cli.h"

namespace satchel::cli {

int fail(const Error& e) {
  std::cerr << "satchel: " << e.message << " [" << errc_name(e.code) << "]\n";
  return kExitFailed;
}

int fail(const std::string& message) {
  std::cerr << "satchel: " << message << "\n";
  return kExitFailed;
}

int fail(const std::string& context, const Error& e) {
  return fail(Error{e.code, context + ": " + e.message});
}

std::string format_utc(int64_t unix_seconds, const char* format) {
  const std::time_t tt = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char buf[64];
  // gmtime_r fails when the year does not fit in an int; strftime returns 0 when it fails too.
  if (static_cast<int64_t>(tt) != unix_seconds || gmtime_r(&tt, &tm) == nullptr ||
      std::strftime(buf, sizeof buf, format, &tm) == 0)
    return "out of range (" + std::to_string(unix_seconds) + ")";
  return buf;
}

Result<std::string> read_text_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kNotFound, "cannot read " + path + ": " + std::strerror(errno));
  std::string out;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > max_bytes)
      return make_error(Errc::kInvalidArgument,
                        path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return out;
}

Status write_text_file(const std::string& path, std::string_view text, bool overwrite) {
  if (!overwrite && ::access(path.c_str(), F_OK) == 0)
    return make_error(Errc::kAlreadyExists, path + " already exists (not overwritten)");
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    return make_error(Errc::kIoError, "cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::kIoError, "cannot write " + path + ": " + std::strerror(saved));
  }
  return Status::Ok();
}

}  // namespace satchel::cli
