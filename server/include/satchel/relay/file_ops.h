// The file-system calls the embedded store makes, behind a seam so tests can inject write and
// fsync errors and record their order. The defaults are the POSIX calls; every failure is
// reported with errno set, and the store never retries a failed fsync as if it had succeeded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "satchel/crypto/status.h"
#include "satchel/relay/clock.h"

namespace satchel::relay {

class FileOps {
 public:
  virtual ~FileOps() = default;
  // pwrite(2): may write fewer bytes than asked; -1 with errno on failure.
  virtual ssize_t pwrite(int fd, const void* data, size_t size, off_t offset);
  // fsync(2) of a file: data and inode (including the day-rounded times).
  virtual int fsync(int fd);
  // rename(2).
  virtual int rename(const char* from, const char* to);
  // Opens the directory and fsyncs it, so that entries created, renamed or removed in it are
  // durable; -1 with errno on failure.
  virtual int fsync_directory(const char* path);
};

// Messages of errors caused by a full disk or an exhausted quota start with this, so the HTTP
// layer can answer 507 rather than 500.
inline constexpr std::string_view kDiskFullPrefix = "disk full: ";
bool is_disk_full(const Error& error);

// An kIoError "what: strerror(err)", marked as disk-full for ENOSPC and EDQUOT.
Error errno_error(const std::string& what, int err);

// Owns a file descriptor; closes it on destruction.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  FileHandle(FileHandle&& o) noexcept : fd_(o.release()) {}
  FileHandle& operator=(FileHandle&& o) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();

 private:
  int fd_ = -1;
};

// Writes all of `size` bytes at `offset`, retrying short writes and EINTR.
Status write_all_at(FileOps& ops, int fd, const uint8_t* data, size_t size, uint64_t offset);

// Sets the access and modification times of an open file (or of a path) to midnight UTC of
// `day`, so they reveal no more than the day. Change times cannot be set on Linux.
Status set_times_to_day(int fd, Day day);
Status set_path_times_to_day(const std::string& path, Day day);

// Creates `path` exclusively (never over an existing file) with `mode`, writes `text` and fsyncs
// it; the caller syncs the directory.
Status write_new_file(FileOps& ops, const std::string& path, std::string_view text, mode_t mode);

// Creates a directory with mode 0700 if it does not exist (an existing one must be a directory
// and is narrowed to 0700); fsyncs its parent when it was created.
Status make_private_directory(FileOps& ops, const std::string& path);

}  // namespace satchel::relay
