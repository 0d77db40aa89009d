// POSIX implementation of the store's file-system seam and the durable-write helpers.
#include "satchel/relay/file_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace satchel::relay {

ssize_t FileOps::pwrite(int fd, const void* data, size_t size, off_t offset) {
  return ::pwrite(fd, data, size, offset);
}

int FileOps::fsync(int fd) {
  return ::fsync(fd);
}

int FileOps::rename(const char* from, const char* to) {
  return ::rename(from, to);
}

int FileOps::fsync_directory(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return rc;
}

bool is_disk_full(const Error& error) {
  return error.message.compare(0, kDiskFullPrefix.size(), kDiskFullPrefix) == 0;
}

Error errno_error(const std::string& what, int err) {
  std::string message = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) message = std::string(kDiskFullPrefix) + message;
  return make_error(Errc::kIoError, std::move(message));
}

FileHandle& FileHandle::operator=(FileHandle&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

int FileHandle::release() {
  return std::exchange(fd_, -1);
}

Status write_all_at(FileOps& ops, int fd, const uint8_t* data, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ops.pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("write failed", errno);
    if (n == 0) return errno_error("write failed", EIO);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

namespace {
void day_times(Day day, struct timespec (&times)[2]) {
  times[0].tv_sec = static_cast<time_t>(day * kSecondsPerDay);
  times[0].tv_nsec = 0;
  times[1] = times[0];
}
}  // namespace

Status set_times_to_day(int fd, Day day) {
  struct timespec times[2];
  day_times(day, times);
  if (::futimens(fd, times) != 0) return errno_error("cannot set file times", errno);
  return Status::Ok();
}

Status set_path_times_to_day(const std::string& path, Day day) {
  struct timespec times[2];
  day_times(day, times);
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0)
    return errno_error("cannot set times of " + path, errno);
  return Status::Ok();
}

Status write_new_file(FileOps& ops, const std::string& path, std::string_view text, mode_t mode) {
  FileHandle fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return errno_error("cannot create " + path, errno);
  SATCHEL_TRY(
      write_all_at(ops, fd.get(), reinterpret_cast<const uint8_t*>(text.data()), text.size(), 0));
  if (ops.fsync(fd.get()) != 0) return errno_error("cannot sync " + path, errno);
  return Status::Ok();
}

Status make_private_directory(FileOps& ops, const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) {
    const std::string parent = std::filesystem::path(path).parent_path().string();
    if (ops.fsync_directory(parent.empty() ? "." : parent.c_str()) != 0)
      return errno_error("cannot sync directory " + parent, errno);
    return Status::Ok();
  }
  if (errno != EEXIST) return errno_error("cannot create directory " + path, errno);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_error("cannot stat " + path, errno);
  if (!S_ISDIR(st.st_mode)) return make_error(Errc::kInvalidArgument, path + " is not a directory");
  if ((st.st_mode & 0777) != 0700 && ::chmod(path.c_str(), 0700) != 0)
    return errno_error("cannot restrict " + path + " to mode 0700", errno);
  return Status::Ok();
}

}  // namespace satchel::relay
