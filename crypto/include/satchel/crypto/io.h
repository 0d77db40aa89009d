// Byte streams for sealing and opening in constant memory: sequential sources, sinks, and
// random-access sources (opening reads the ciphertext twice: verify, then decrypt).
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
  Bytes& data() { return out_; }

 private:
  Bytes out_;
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

// A new file (created exclusively, mode 0600). commit() fsyncs and closes it; a sink destroyed
// without commit() removes the file, so a failed operation leaves nothing behind.
class FileSink final : public ByteSink {
 public:
  static Result<FileSink> create(const std::string& path);
  FileSink(FileSink&& o) noexcept;
  FileSink& operator=(FileSink&&) = delete;
  ~FileSink() override;
  Status write(ByteView data) override;
  Status commit();

 private:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace satchel
