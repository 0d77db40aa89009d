#include "profile/disk_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace satchel::client {

Error errno_error(const std::string& what, const std::string& path) {
  return make_error(Errc::kIoError, what + " " + path + ": " + std::strerror(errno));
}

DiskFile::~DiskFile() {
  if (fd_ >= 0) ::close(fd_);
}

DiskFile::DiskFile(DiskFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}

DiskFile& DiskFile::operator=(DiskFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
  }
  return *this;
}

Result<DiskFile> DiskFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(Errc::kNotFound, path + " does not exist");
    return errno_error("cannot open", path);
  }
  return DiskFile(fd, path);
}

Result<DiskFile> DiskFile::create(const std::string& path, mode_t mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    if (errno == EEXIST) return make_error(Errc::kAlreadyExists, path + " already exists");
    return errno_error("cannot create", path);
  }
  return DiskFile(fd, path);
}

Status DiskFile::read_at(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t r =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_error("cannot read", path_);
    if (r == 0)
      return make_error(Errc::kIoError, path_ + " is shorter than expected (damaged profile)");
    done += static_cast<size_t>(r);
  }
  return Status::Ok();
}

Status DiskFile::write_at(uint64_t offset, ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t r =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return errno_error(errno == ENOSPC ? "disk full: cannot write" : "cannot write", path_);
    done += static_cast<size_t>(r);
  }
  return Status::Ok();
}

Status DiskFile::randomize(uint64_t offset, uint64_t length) {
  std::vector<uint8_t> noise(static_cast<size_t>(std::min<uint64_t>(length, 64 * 1024)));
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(length, noise.size()));
    randombytes_buf(noise.data(), n);
    SATCHEL_TRY(write_at(offset, ByteView(noise.data(), n)));
    offset += n;
    length -= n;
  }
  return Status::Ok();
}

Status DiskFile::sync() {
  if (::fdatasync(fd_) != 0) return errno_error("cannot sync", path_);
  return Status::Ok();
}

Result<uint64_t> DiskFile::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return errno_error("cannot stat", path_);
  return static_cast<uint64_t>(st.st_size);
}

Result<bool> DiskFile::try_lock() {
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return true;
  if (errno == EWOULDBLOCK) return false;
  return errno_error("cannot lock", path_);
}

Result<DirectoryLock> DirectoryLock::acquire(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open directory", dir);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool busy = errno == EWOULDBLOCK;
    Error e = busy ? make_error(Errc::kIoError, "the profile is in use by another satchel process")
                   : errno_error("cannot lock", dir);
    ::close(fd);
    return e;
  }
  return DirectoryLock(fd);
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_error("cannot sync directory", dir);
  return Status::Ok();
}

}  // namespace satchel::client
