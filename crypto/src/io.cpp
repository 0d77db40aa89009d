// Memory and file sources and sinks (staged files are in staged_file_sink.cpp).
#include "satchel/crypto/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "file_write.h"
#include "satchel/crypto/secret.h"

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

StagedMemorySink::~StagedMemorySink() {
  if (!committed_) discard();
}

Status StagedMemorySink::write(ByteView data) {
  if (committed_ || discarded_)
    return make_error(Errc::kInternal, "write to a committed or discarded sink");
  out_.insert(out_.end(), data.begin(), data.end());
  return Status::Ok();
}

Status StagedMemorySink::commit() {
  if (discarded_) return make_error(Errc::kInternal, "commit of a discarded sink");
  committed_ = true;
  return Status::Ok();
}

void StagedMemorySink::discard() {
  if (!out_.empty()) wipe(out_.data(), out_.size());
  out_.clear();
  committed_ = false;
  discarded_ = true;
}

namespace file_write {

Error errno_error(const std::string& what, const std::string& path) {
  return make_error(Errc::kIoError, what + " " + path + ": " + std::strerror(errno));
}

Status write_all(int fd, ByteView data, const std::string& path, uint64_t& written,
                 uint64_t& writeback_from) {
  constexpr uint64_t kWritebackStep = uint64_t{8} << 20;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno_error("cannot write", path);
    done += static_cast<size_t>(w);
  }
  written += data.size();
  if (written - writeback_from >= kWritebackStep) {
    // Only a hint: an error here shows again at fsync, which is checked.
    (void)::sync_file_range(fd, static_cast<off_t>(writeback_from),
                            static_cast<off_t>(written - writeback_from), SYNC_FILE_RANGE_WRITE);
    writeback_from = written;
  }
  return Status::Ok();
}

}  // namespace file_write

using file_write::errno_error;

Result<FileSource> FileSource::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Error e = errno_error("cannot open", path);
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
    if (r < 0) return errno_error("cannot read", path_);
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
    if (r < 0) return errno_error("cannot read", path_);
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
    return errno_error("cannot create", path);
  }
  return FileSink(fd, path);
}

FileSink::FileSink(FileSink&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      written_(o.written_),
      writeback_from_(o.writeback_from_) {}

FileSink::~FileSink() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
}

Status FileSink::write(ByteView data) {
  return file_write::write_all(fd_, data, path_, written_, writeback_from_);
}

Status FileSink::commit() {
  if (::fsync(fd_) != 0) return errno_error("cannot sync", path_);
  if (::close(std::exchange(fd_, -1)) != 0) {
    ::unlink(path_.c_str());
    return errno_error("cannot close", path_);
  }
  return Status::Ok();
}

}  // namespace satchel
