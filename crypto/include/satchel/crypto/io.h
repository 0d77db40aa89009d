// Byte streams for sealing and opening in constant memory: sequential sources, sinks,
// random-access sources (opening needs the exact size first), and staging sinks, whose bytes
// stay private until committed (opening decrypts before the sender is verified).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to out.size() bytes; returns 0 only at end of stream.
  virtual Result<size_t> read(std::span<uint8_t> out) = 0;
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes all of data or fails.
  virtual Status write(ByteView data) = 0;
  // True if write() may be called from a thread other than the one that made the sink (one call
  // at a time, in order): sealing and opening then write from their hashing thread.
  virtual bool writable_from_any_thread() const { return false; }
};

// A sink whose bytes stay private until commit(). open_bundle writes plaintext into one before
// the bundle is fully verified, and commits it only once every check has passed.
class StagingSink : public ByteSink {
 public:
  // Makes everything written visible to its reader, or fails and makes nothing visible.
  virtual Status commit() = 0;
  // Throws away everything written; nothing may be written afterwards. An uncommitted sink does
  // the same when destroyed.
  virtual void discard() = 0;
};

class RandomAccessSource {
 public:
  virtual ~RandomAccessSource() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly out.size() bytes at offset or fails.
  virtual Status read_at(uint64_t offset, std::span<uint8_t> out) = 0;
};

class MemorySource final : public ByteSource, public RandomAccessSource {
 public:
  explicit MemorySource(ByteView data) : data_(data) {}
  Result<size_t> read(std::span<uint8_t> out) override;
  uint64_t size() const override { return data_.size(); }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override;

 private:
  ByteView data_;
  size_t pos_ = 0;
};

class MemorySink final : public ByteSink {
 public:
  Status write(ByteView data) override {
    out_.insert(out_.end(), data.begin(), data.end());
    return Status::Ok();
  }
  bool writable_from_any_thread() const override { return true; }
  Bytes& data() { return out_; }

 private:
  Bytes out_;
};

// Bytes staged in memory: visible through data() only once committed; discard() wipes them.
class StagedMemorySink final : public StagingSink {
 public:
  StagedMemorySink() = default;
  StagedMemorySink(const StagedMemorySink&) = delete;
  StagedMemorySink& operator=(const StagedMemorySink&) = delete;
  ~StagedMemorySink() override;
  Status write(ByteView data) override;
  bool writable_from_any_thread() const override { return true; }
  Status commit() override;
  void discard() override;
  bool committed() const { return committed_; }
  // The committed bytes; empty before commit() and after discard().
  ByteView data() const { return committed_ ? ByteView(out_) : ByteView(); }

 private:
  Bytes out_;
  bool committed_ = false;
  bool discarded_ = false;
};

// A file opened for reading; both sequential and positional reads.
class FileSource final : public ByteSource, public RandomAccessSource {
 public:
  static Result<FileSource> open(const std::string& path);
  FileSource(FileSource&& o) noexcept;
  FileSource& operator=(FileSource&&) = delete;
  ~FileSource() override;
  Result<size_t> read(std::span<uint8_t> out) override;
  uint64_t size() const override { return size_; }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override;

 private:
  FileSource(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

// A new file (created exclusively, mode 0600) at its final name from the start. commit() fsyncs
// and closes it; a sink destroyed without commit() removes the file, so a failed operation
// leaves nothing behind (unless the process dies: StagedFileSink leaves nothing even then).
class FileSink final : public ByteSink {
 public:
  static Result<FileSink> create(const std::string& path);
  FileSink(FileSink&& o) noexcept;
  FileSink& operator=(FileSink&&) = delete;
  ~FileSink() override;
  Status write(ByteView data) override;
  bool writable_from_any_thread() const override { return true; }
  Status commit();

 private:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
  uint64_t written_ = 0, writeback_from_ = 0;
};

// A new file (mode 0600) that appears at its path only when commit() succeeds, complete and
// synced. It is written as a private temporary in the same directory (unnamed, with O_TMPFILE,
// where the file system allows; else a hidden file with a random name), then fsynced, linked or
// renamed into place without ever replacing an existing file, and the directory fsynced. An
// uncommitted sink removes its temporary when discarded or destroyed.
class StagedFileSink final : public StagingSink {
 public:
  // Fails with kAlreadyExists if path exists (even as a dangling symlink), so that a refusal
  // comes before any work; commit() fails with kAlreadyExists if path appeared meanwhile.
  static Result<StagedFileSink> create(const std::string& path);
  StagedFileSink(StagedFileSink&& o) noexcept;
  StagedFileSink& operator=(StagedFileSink&&) = delete;
  ~StagedFileSink() override;
  Status write(ByteView data) override;
  bool writable_from_any_thread() const override { return true; }
  Status commit() override;
  void discard() override;

 private:
  StagedFileSink(int fd, std::string path, std::string temp)
      : fd_(fd), path_(std::move(path)), temp_(std::move(temp)) {}
  int fd_ = -1;
  std::string path_;
  std::string temp_;  // the temporary's name, or empty for an unnamed (O_TMPFILE) file
  uint64_t written_ = 0, writeback_from_ = 0;
};

}  // namespace satchel
