// The outbox: sealed bundles waiting to leave the device, stored as 64 KiB chunk rows. An entry
// shows only its upload id, size, state (sealed -> uploading(offset) -> stored) and whether it
// was exported to a folder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "satchel/client/database.h"
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
// the entry by the bundle's hash and marks it sealed.
class OutboxWriter final : public ByteSink {
 public:
  static Result<OutboxWriter> begin(Database& db);
  Status write(ByteView data) override;
  Result<OutboxEntry> finish(uint64_t sequence);

 private:
  OutboxWriter(Database& db, int64_t id) : db_(&db), id_(id) {}
  Status flush();
  Database* db_;
  int64_t id_;
  int64_t seq_ = 0;
  uint64_t size_ = 0;
  Bytes buf_;
  std::unique_ptr<Sha256> hash_ = std::make_unique<Sha256>();
};

class Outbox {
 public:
  explicit Outbox(Database& db) : db_(db) {}
  Result<std::vector<OutboxEntry>> list();
  // Streams an entry's bundle bytes into out.
  Status read(int64_t outbox_id, ByteSink& out);
  // Appends up to `max` bytes of an entry's bundle, starting at `offset`, to `out` (fewer only
  // at the end of the bundle).
  Status read_range(int64_t outbox_id, uint64_t offset, size_t max, Bytes& out);
  Status set_state(int64_t outbox_id, const std::string& state, uint64_t offset);
  // Marks an entry as written to a folder; its state (and upload) are unchanged.
  Status mark_exported(int64_t outbox_id);
  // Deletes an entry and its bytes: no row or receipt is kept. Call checkpoint() after a batch
  // of removals so that no earlier page version survives in the WAL.
  Status remove(int64_t outbox_id);
  Status checkpoint() { return db_.checkpoint_truncate(); }

 private:
  Database& db_;
};

}  // namespace satchel::client
