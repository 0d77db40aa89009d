// Drafts: answers and attachments, each draft encrypted under its own random key, kept in the
// profile's keyring (never in a row). Destroying a draft deletes its rows, then overwrites its
// key: the copies SQLite leaves in WAL frames and free blocks are then unreadable.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/crypto/io.h"

namespace satchel::client {

inline constexpr size_t kAttachmentChunk = 64 * 1024;
// No attachment is larger: a record must fit in one bundle (finalize.h, kMaxBundleBytes).
inline constexpr uint64_t kMaxAttachmentBytes = 2ull << 30;

struct DraftInfo {
  std::string record_id;
  std::string form_id;
  uint64_t form_version = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct AttachmentInfo {
  std::string attachment_id;
  std::string question;
  std::string name;
  std::string media_type;
  uint64_t size = 0;
};

// Reads one attachment's plaintext chunk by chunk (constant memory).
class AttachmentReader final : public ByteSource {
 public:
  Result<size_t> read(std::span<uint8_t> out) override;

 private:
  friend class RecordStore;
  AttachmentReader(Statement st, const ChunkPool& pool, SecretBytes key, std::string record_id,
                   std::string attachment_id)
      : st_(std::move(st)),
        pool_(&pool),
        key_(std::move(key)),
        record_id_(std::move(record_id)),
        attachment_id_(std::move(attachment_id)) {}
  Statement st_;
  const ChunkPool* pool_;
  SecretBytes key_;
  std::string record_id_, attachment_id_;
  int64_t next_seq_ = 0;
  Bytes buf_;
  Bytes cell_;  // the sealed chunk read from the pool
  size_t pos_ = 0;
  bool done_ = false;
};

class RecordStore {
 public:
  explicit RecordStore(Profile& profile)
      : db_(profile.db()), keyring_(profile.keyring()), pool_(profile.pool()) {}

  // Creates a draft with a fresh record key in the keyring; returns its id (16 random bytes,
  // hex).
  Result<std::string> create(const std::string& form_id, uint64_t form_version,
                             const nlohmann::json& answers);
  Result<DraftInfo> info(const std::string& record_id);
  Result<std::vector<DraftInfo>> list();
  Result<nlohmann::json> answers(const std::string& record_id);
  Status save_answers(const std::string& record_id, const nlohmann::json& answers);

  // Streams src to its end into encrypted 64 KiB chunks in the chunk pool, named by rows inside
  // one transaction (all or nothing), in constant memory; the size need not be known in advance. If
  // expected_size is given, a source that ends early or grows is refused. Returns the attachment
  // id.
  Result<std::string> attach(const std::string& record_id, ByteSource& src,
                             std::optional<uint64_t> expected_size, const std::string& question,
                             const std::string& name, const std::string& media_type);
  Result<std::vector<AttachmentInfo>> attachments(const std::string& record_id);
  // A reader over one attachment's plaintext, decrypting chunk by chunk (constant memory).
  Result<AttachmentReader> open_attachment(const std::string& record_id,
                                           const std::string& attachment_id);

  // Deletes the draft's answers, attachment metadata and chunks inside the caller's
  // transaction, and returns the keyring slot of its key (none for a version-1 draft, whose key
  // was in its row). The caller destroys that slot once the deletion is committed.
  Result<std::optional<uint32_t>> delete_rows(const std::string& record_id);
  // delete_rows, committed, then the key destroyed.
  Status destroy(const std::string& record_id);

 private:
  Result<SecretBytes> record_key(const std::string& record_id);
  Database& db_;
  Keyring& keyring_;
  ChunkPool& pool_;
};

}  // namespace satchel::client
