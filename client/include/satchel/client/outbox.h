// The outbox: sealed bundles waiting to leave the device, stored as 64 KiB chunks in the chunk
// pool, encrypted under a key of the entry's own in the profile's keyring, with the entry's upload
// id, size and sequence. Removing an entry deletes its rows, then destroys that key: what SQLite
// leaves in WAL frames and free blocks no longer names the upload. State (sealed ->
// uploading(offset) -> stored) and the exported mark stay in the clear.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/crypto/io.h"
#include "satchel/crypto/sha256.h"

namespace satchel::client {

struct OutboxEntry {
  int64_t outbox_id = 0;
  std::string upload_id;  // SHA-256 of the bundle, hex: the relay's name for it
  uint64_t size = 0;
  uint64_t sequence = 0;
  std::string state;
  uint64_t uploaded_offset = 0;
  bool exported = false;  // written to a folder by `satchel outbox export`; independent of state
};

// A sink that stores a bundle as a new outbox entry. Use inside a transaction; finish() names
// the entry by the bundle's hash and marks it sealed. If that transaction is rolled back, the
// entry's key is left to Profile::open, which destroys keys no row names.
class OutboxWriter final : public ByteSink {
 public:
  static Result<OutboxWriter> begin(Profile& profile);
  Status write(ByteView data) override;
  Result<OutboxEntry> finish(uint64_t sequence);
  // The keyring slot of the entry's key (to destroy it if the transaction is abandoned).
  uint32_t key_slot() const { return key_slot_; }

 private:
  OutboxWriter(Database& db, ChunkPool& pool, Statement insert, int64_t id, uint32_t key_slot,
               SecretBytes key)
      : db_(&db),
        pool_(&pool),
        insert_(std::move(insert)),
        id_(id),
        key_slot_(key_slot),
        key_(std::move(key)) {}
  Status flush();
  Database* db_;
  ChunkPool* pool_;
  Statement insert_;  // one chunk row, prepared once: a bundle of 1 GiB has 16,384 of them
  int64_t id_;
  uint32_t key_slot_;
  SecretBytes key_;
  int64_t seq_ = 0;
  uint64_t size_ = 0;
  Bytes buf_;
  std::unique_ptr<Sha256> hash_ = std::make_unique<Sha256>();
};

class Outbox {
 public:
  explicit Outbox(Profile& profile)
      : db_(profile.db()), keyring_(profile.keyring()), pool_(profile.pool()) {}
  Result<std::vector<OutboxEntry>> list();
  // Streams an entry's bundle bytes into out.
  Status read(int64_t outbox_id, ByteSink& out);
  // Appends up to `max` bytes of an entry's bundle, starting at `offset`, to `out` (fewer only
  // at the end of the bundle).
  Status read_range(int64_t outbox_id, uint64_t offset, size_t max, Bytes& out);
  Status set_state(int64_t outbox_id, const std::string& state, uint64_t offset);
  // Marks an entry as written to a folder; its state (and upload) are unchanged.
  Status mark_exported(int64_t outbox_id);
  // Deletes an entry and its bytes (committed), then destroys its key: no row or receipt is
  // kept, and the copies SQLite left behind are unreadable.
  Status remove(int64_t outbox_id);

 private:
  // The entry's key, or none for a version-1 entry (plaintext id and bytes).
  Result<std::optional<SecretBytes>> entry_key(int64_t outbox_id);
  // One chunk's sealed bytes: from its row (versions 1-3) or its pool cell (version 4).
  Result<ByteView> sealed_chunk(const Statement& row, int data_col, Bytes& cell);
  Database& db_;
  Keyring& keyring_;
  ChunkPool& pool_;
};

}  // namespace satchel::client
