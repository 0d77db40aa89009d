// StagedFileSink: a file that appears at its name only complete, synced and never over another
// (see io.h). An unnamed O_TMPFILE inode is linked into place through /proc/self/fd (linkat
// refuses an existing name); where that is not possible, a hidden 0600 file is renamed into
// place with RENAME_NOREPLACE (or link + unlink where the file system lacks it).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "file_write.h"
#include "satchel/crypto/io.h"

namespace satchel {
namespace {

using file_write::errno_error;

struct SplitPath {
  std::string dir;  // "." for a bare name
  std::string base;
};

SplitPath split(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

Error already_exists(const std::string& path) {
  return make_error(Errc::kAlreadyExists, path + " already exists (not overwritten)");
}

// Makes a new name in dir durable.
Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open directory", dir);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return errno_error("cannot sync directory", dir);
  return Status::Ok();
}

// Gives the unnamed file fd the name path; EEXIST if path exists.
int link_unnamed(int fd, const std::string& path) {
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  return ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
}

// Renames temp to path unless path exists (EEXIST).
int rename_noreplace(const std::string& temp, const std::string& path) {
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  // No RENAME_NOREPLACE on this file system: link() refuses an existing name just as well.
  if (::link(temp.c_str(), path.c_str()) != 0) return -1;
  ::unlink(temp.c_str());
  return 0;
}

}  // namespace

Result<StagedFileSink> StagedFileSink::create(const std::string& path) {
  const SplitPath sp = split(path);
  if (sp.base.empty() || sp.base == "." || sp.base == "..")
    return make_error(Errc::kInvalidArgument, path + " does not name a file");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return already_exists(path);
  if (errno != ENOENT) return errno_error("cannot check", path);

  int fd = ::open(sp.dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    // Check that the unnamed file can be linked later (no /proc, say): else use a named one.
    struct stat proc {};
    if (::stat(("/proc/self/fd/" + std::to_string(fd)).c_str(), &proc) == 0)
      return StagedFileSink(fd, path, "");
    ::close(fd);
  } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
    return errno_error("cannot create a file in", sp.dir);
  }
  std::string temp = sp.dir + "/." + sp.base + ".XXXXXX";
  fd = ::mkostemp(temp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return errno_error("cannot create a file in", sp.dir);
  return StagedFileSink(fd, path, std::move(temp));
}

StagedFileSink::StagedFileSink(StagedFileSink&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      temp_(std::move(o.temp_)),
      written_(o.written_),
      writeback_from_(o.writeback_from_) {}

StagedFileSink::~StagedFileSink() {
  discard();
}

Status StagedFileSink::write(ByteView data) {
  if (fd_ < 0) return make_error(Errc::kInternal, "write to a committed or discarded file");
  return file_write::write_all(fd_, data, path_, written_, writeback_from_);
}

void StagedFileSink::discard() {
  if (fd_ < 0) return;
  ::close(std::exchange(fd_, -1));
  if (!temp_.empty()) ::unlink(temp_.c_str());  // an unnamed file vanishes with its descriptor
}

Status StagedFileSink::commit() {
  if (fd_ < 0) return make_error(Errc::kInternal, "commit of a committed or discarded file");
  Status s;
  if (::fsync(fd_) != 0) s = errno_error("cannot sync", path_);
  if (s.ok()) {
    const int rc = temp_.empty() ? link_unnamed(fd_, path_) : rename_noreplace(temp_, path_);
    if (rc != 0)
      s = errno == EEXIST ? Status(already_exists(path_))
                          : Status(errno_error("cannot create", path_));
  }
  if (!s) {
    discard();
    return s;
  }
  temp_.clear();  // renamed: nothing to remove any more
  const int rc = ::close(std::exchange(fd_, -1));
  if (rc != 0) return errno_error("cannot close", path_);
  return sync_dir(split(path_).dir);
}

}  // namespace satchel
