// Positional file I/O for the profile's key files: exact reads and writes at an offset, syncs,
// and overwriting in place. Everything a raw-disk examiner must not find is destroyed through
// these calls, never by unlink, truncate or rename (schema/client-database.md, "Keyring").
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel::client {

// An open file descriptor, closed on destruction.
class DiskFile {
 public:
  DiskFile() = default;
  ~DiskFile();
  DiskFile(DiskFile&& o) noexcept;
  DiskFile& operator=(DiskFile&& o) noexcept;
  DiskFile(const DiskFile&) = delete;
  DiskFile& operator=(const DiskFile&) = delete;

  // Opens an existing file for reading and writing; kNotFound if it does not exist.
  static Result<DiskFile> open(const std::string& path);
  // Creates a new file (never an existing one: kAlreadyExists) with the given mode.
  static Result<DiskFile> create(const std::string& path, mode_t mode);

  // Reads exactly out.size() bytes at offset; a short file is kIoError naming the path.
  Status read_at(uint64_t offset, std::span<uint8_t> out) const;
  // Writes all of data at offset (no sync).
  Status write_at(uint64_t offset, ByteView data);
  // Overwrites [offset, offset + length) with random bytes (no sync).
  Status randomize(uint64_t offset, uint64_t length);
  // fdatasync: the data written so far (and the file's size) are on the disk.
  Status sync();
  Result<uint64_t> size() const;
  // flock(LOCK_EX | LOCK_NB); false if another process holds the lock.
  Result<bool> try_lock();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  DiskFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// An exclusive flock on a directory, held until destruction: one process per profile.
class DirectoryLock {
 public:
  // Locks dir; another process holding it: kIoError "the profile is in use by another satchel
  // process".
  static Result<DirectoryLock> acquire(const std::string& dir);
  DirectoryLock(DirectoryLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  DirectoryLock(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// fsync of a directory, so that a file created or renamed in it survives a power cut.
Status sync_directory(const std::string& dir);

// An kIoError "<what> <path>: <strerror(errno)>".
Error errno_error(const std::string& what, const std::string& path);

}  // namespace satchel::client
