// TEST ONLY. A temporary store directory, an organisation with a registered mailbox, and a
// FileOps that records the order of durable steps and injects write and fsync errors.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "satchel/crypto/sha256.h"
#include "satchel/crypto/trust_documents.h"
#include "satchel/relay/embedded_relay_store.h"

namespace satchel::relay::testing {

// A fresh directory under the system's temporary directory, removed afterwards.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path = (std::filesystem::temp_directory_path() /
            ("satchel-relay-" + tag + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++)))
               .string();
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Pseudo-random bytes that differ per seed (test data, not secrets).
inline Bytes test_bytes(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<uint8_t>(x);
  }
  return b;
}

inline Hash32 sha256_of(ByteView b) {
  return Sha256::digest(b);
}

inline uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(st.st_size);
}

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Writes `data` to `path`, creating its parent directories.
inline void write_file(const std::string& path, ByteView data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Whether any file under `dir` (the database, its WAL, data files) holds `probe`.
inline bool storage_files_contain(const std::string& dir, ByteView probe) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (std::search(text.begin(), text.end(), probe.begin(), probe.end(),
                    [](char a, uint8_t b) { return static_cast<uint8_t>(a) == b; }) != text.end())
      return true;
  }
  return false;
}

// Records every call into a shared log and fails the chosen ones.
class RecordingFileOps final : public FileOps {
 public:
  std::vector<std::string> log;
  std::atomic<int> fail_fsync_at{-1};     // the n-th fsync (0-based) fails with EIO
  std::atomic<int> fail_pwrite_errno{0};  // every pwrite fails with this errno when non-zero
  std::atomic<int> fsyncs{0};

  ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) override {
    record("pwrite");
    if (fail_pwrite_errno) {
      errno = fail_pwrite_errno;
      return -1;
    }
    return FileOps::pwrite(fd, data, size, offset);
  }
  int fsync(int fd) override {
    record("fsync");
    if (fsyncs++ == fail_fsync_at) {
      errno = EIO;
      return -1;
    }
    return FileOps::fsync(fd);
  }
  int rename(const char* from, const char* to) override {
    record("rename");
    return FileOps::rename(from, to);
  }
  int fsync_directory(const char* path) override {
    record("fsync-dir");
    return FileOps::fsync_directory(path);
  }
  void record(std::string_view step) {
    std::lock_guard lock(mu_);
    log.emplace_back(step);
  }
  // Position of the first occurrence of `step` at or after `from`, or npos.
  size_t find(std::string_view step, size_t from = 0) const {
    for (size_t i = from; i < log.size(); i++)
      if (log[i] == step) return i;
    return std::string::npos;
  }

 private:
  std::mutex mu_;
};

// An organisation with a signed registration for `coordinators` coordinator keys.
struct TestOrganisation {
  OrgSecretKey org = OrgSecretKey::generate();
  std::vector<CoordinatorSecretKey> coordinators;

  explicit TestOrganisation(size_t n) {
    for (size_t i = 0; i < n; i++) coordinators.push_back(CoordinatorSecretKey::generate());
  }

  std::string registration(uint64_t version, uint16_t required_acks = 0) const {
    RelayRegistration r;
    r.org = org.public_key();
    r.version = version;
    r.issued_at = 1'700'000'000;
    r.required_acks = required_acks;
    for (const auto& c : coordinators) r.coordinator_auth_keys.push_back(c.public_key().ed25519);
    auto text = r.sign(org);
    if (!text) throw std::runtime_error(text.error().message);
    return *text;
  }

  std::vector<Key32> keys() const {
    std::vector<Key32> k;
    for (const auto& c : coordinators) k.push_back(c.public_key().ed25519);
    return k;
  }

  std::string mailbox_id() const { return mailbox_id_for(org.public_key()); }

  MailboxRecord record(uint64_t version = 1) const {
    return MailboxRecord{mailbox_id(), org.public_key(), version, registration(version)};
  }
};

}  // namespace satchel::relay::testing
