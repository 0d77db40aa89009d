#include "satchel/crypto/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace satchel {

Result<size_t> MemorySource::read(std::span<uint8_t> out) {
  size_t n = std::min(out.size(), data_.size() - pos_);
  if (n > 0) std::memcpy(out.data(), data_.data() + pos_, n);
  pos_ += n;
  return n;
}

Status MemorySource::read_at(uint64_t offset, std::span<uint8_t> out) {
  if (offset > data_.size() || data_.size() - offset < out.size())
    return make_error(Errc::kIoError, "read past end of buffer");
  if (!out.empty()) std::memcpy(out.data(), data_.data() + offset, out.size());
  return Status::Ok();
}

namespace {
Error io_error(const std::string& what, const std::string& path) {
  return make_error(Errc::kIoError, what + " " + path + ": " + std::strerror(errno));
}
}  // namespace

Result<FileSource> FileSource::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Error e = io_error("cannot open", path);
    if (errno == ENOENT) e.code = Errc::kNotFound;
    return e;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(Errc::kInvalidArgument, path + " is not a regular file");
  }
  return FileSource(fd, static_cast<uint64_t>(st.st_size), path);
}

FileSource::FileSource(FileSource&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), size_(o.size_), path_(std::move(o.path_)) {}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

Result<size_t> FileSource::read(std::span<uint8_t> out) {
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::read(fd_, out.data() + got, out.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return io_error("cannot read", path_);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

Status FileSource::read_at(uint64_t offset, std::span<uint8_t> out) {
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return io_error("cannot read", path_);
    if (r == 0) return make_error(Errc::kIoError, "unexpected end of file in " + path_);
    got += static_cast<size_t>(r);
  }
  return Status::Ok();
}

Result<FileSink> FileSink::create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return make_error(Errc::kAlreadyExists, path + " already exists (not overwritten)");
    return io_error("cannot create", path);
  }
  return FileSink(fd, path);
}

FileSink::FileSink(FileSink&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}

FileSink::~FileSink() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
}

Status FileSink::write(ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(fd_, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return io_error("cannot write", path_);
    done += static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status FileSink::commit() {
  if (::fsync(fd_) != 0) return io_error("cannot sync", path_);
  if (::close(std::exchange(fd_, -1)) != 0) {
    ::unlink(path_.c_str());
    return io_error("cannot close", path_);
  }
  return Status::Ok();
}

}  // namespace satchel
