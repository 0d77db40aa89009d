#include "satchel/client/outbox.h"

#include "profile/little_endian.h"

#include <sodium.h>

#include <cstring>
#include <ctime>

#include "satchel/client/sealed_blob.h"

namespace satchel::client {

namespace {
constexpr size_t kChunk = 64 * 1024;
constexpr size_t kMetaSize = 32 + 8 + 8;  // upload id, size, sequence

std::string chunk_ad(int64_t outbox_id, int64_t seq) {
  return "satchel outbox v1|" + std::to_string(outbox_id) + "|" + std::to_string(seq);
}
std::string meta_ad(int64_t outbox_id) {
  return "satchel outbox v1|" + std::to_string(outbox_id) + "|meta";
}

Error damaged(int64_t outbox_id, const std::string& why) {
  return make_error(Errc::kIoError, "outbox entry " + std::to_string(outbox_id) + ": " + why);
}

}  // namespace

Result<OutboxWriter> OutboxWriter::begin(Profile& profile) {
  // The entry's key is synced into the keyring before the row naming it can be committed.
  auto added = profile.keyring().add();
  if (!added) return added.error();
  // The upload id is known only at the end, and is kept encrypted: a random placeholder holds
  // the column's place.
  Bytes placeholder(16);
  randombytes_buf(placeholder.data(), placeholder.size());
  Database& db = profile.db();
  auto st = db.prepare(
      "INSERT INTO outbox (upload_id, size, sequence, state, created_day, key_slot) VALUES (?1, "
      "0, 0, 'sealed', ?2, ?3)");
  Status s = st ? Status::Ok() : Status(st.error());
  if (s) {
    st->bind(1, "sealed-" + to_hex(placeholder))
        .bind(2, static_cast<int64_t>(std::time(nullptr) / 86400))
        .bind(3, static_cast<int64_t>(added->slot));
    s = st->run();
  }
  if (!s) {
    (void)profile.keyring().destroy(added->slot);
    return s.error();
  }
  auto insert = db.prepare(
      "INSERT INTO outbox_chunks (outbox_id, seq, data, cell, cell_bytes) VALUES (?1, ?2, X'', "
      "?3, ?4)");
  if (!insert) return insert.error();
  return OutboxWriter(db, profile.pool(), std::move(insert.value()), db.last_insert_rowid(),
                      added->slot, std::move(added->key));
}

Status OutboxWriter::flush() {
  if (buf_.empty()) return Status::Ok();
  const int64_t seq = seq_++;
  const Bytes sealed = seal_blob(key_, chunk_ad(id_, seq), buf_);
  auto cell = pool_->put(sealed);
  if (!cell) return cell.error();
  insert_.reset();
  insert_.bind(1, id_).bind(2, seq).bind(3, static_cast<int64_t>(*cell));
  insert_.bind(4, static_cast<int64_t>(sealed.size()));
  SATCHEL_TRY(insert_.run());
  buf_.clear();
  return Status::Ok();
}

Status OutboxWriter::write(ByteView data) {
  hash_->update(data);
  size_ += data.size();
  while (!data.empty()) {
    size_t n = std::min(kChunk - buf_.size(), data.size());
    buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    data = data.subspan(n);
    if (buf_.size() == kChunk) SATCHEL_TRY(flush());
  }
  return Status::Ok();
}

Result<OutboxEntry> OutboxWriter::finish(uint64_t sequence) {
  SATCHEL_TRY(flush());
  // The chunks reach the disk before the caller commits the rows that name them.
  SATCHEL_TRY(pool_->sync());
  const auto digest = hash_->finish();
  OutboxEntry e;
  e.outbox_id = id_;
  e.upload_id = to_hex(digest);
  e.size = size_;
  e.sequence = sequence;
  e.state = "sealed";
  uint8_t meta[kMetaSize];
  std::memcpy(meta, digest.data(), 32);
  put_u64(meta + 32, size_);
  put_u64(meta + 40, sequence);
  auto st = db_->prepare("UPDATE outbox SET sealed_meta = ?1 WHERE outbox_id = ?2");
  if (!st) return st.error();
  st->bind_blob(1, seal_blob(key_, meta_ad(id_), ByteView(meta, kMetaSize))).bind(2, id_);
  SATCHEL_TRY(st->run());
  return e;
}

Result<std::optional<SecretBytes>> Outbox::entry_key(int64_t outbox_id) {
  auto st = db_.prepare("SELECT key_slot FROM outbox WHERE outbox_id = ?1");
  if (!st) return st.error();
  st->bind(1, outbox_id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::kNotFound, "no outbox entry " + std::to_string(outbox_id));
  if (st->is_null(0)) return std::optional<SecretBytes>();
  auto key = keyring_.key(static_cast<uint32_t>(st->int64(0)));
  if (!key) return damaged(outbox_id, key.error().message);
  return std::optional<SecretBytes>(std::move(key.value()));
}

Result<ByteView> Outbox::sealed_chunk(const Statement& row, int data_col, Bytes& cell) {
  if (row.is_null(data_col + 1)) return row.blob(data_col);
  const int64_t bytes = row.int64(data_col + 2);
  if (bytes < 0 || static_cast<uint64_t>(bytes) > ChunkPool::kCellSize)
    return make_error(Errc::kIoError, "outbox chunk has a damaged length");
  cell.resize(static_cast<size_t>(bytes));
  SATCHEL_TRY(pool_.get(static_cast<uint64_t>(row.int64(data_col + 1)), cell));
  return ByteView(cell);
}

Result<std::vector<OutboxEntry>> Outbox::list() {
  auto st = db_.prepare(
      "SELECT outbox_id, upload_id, size, sequence, state, uploaded_offset, exported, key_slot, "
      "sealed_meta FROM outbox ORDER BY outbox_id");
  if (!st) return st.error();
  std::vector<OutboxEntry> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    OutboxEntry e{st->int64(0),
                  st->text(1),
                  static_cast<uint64_t>(st->int64(2)),
                  static_cast<uint64_t>(st->int64(3)),
                  st->text(4),
                  static_cast<uint64_t>(st->int64(5)),
                  st->int64(6) != 0};
    if (!st->is_null(7)) {
      auto key = keyring_.key(static_cast<uint32_t>(st->int64(7)));
      if (!key) return damaged(e.outbox_id, key.error().message);
      Bytes meta;
      SATCHEL_TRY(open_blob(*key, meta_ad(e.outbox_id), st->blob(8), meta));
      if (meta.size() != kMetaSize) return damaged(e.outbox_id, "its sealed id is damaged");
      e.upload_id = to_hex(ByteView(meta.data(), 32));
      e.size = get_u64(meta.data() + 32);
      e.sequence = get_u64(meta.data() + 40);
    }
    out.push_back(std::move(e));
  }
  return out;
}

Status Outbox::read(int64_t outbox_id, ByteSink& out) {
  auto key = entry_key(outbox_id);
  if (!key) return key.error();
  auto st = db_.prepare(
      "SELECT seq, data, cell, cell_bytes FROM outbox_chunks WHERE outbox_id = ?1 ORDER BY seq");
  if (!st) return st.error();
  st->bind(1, outbox_id);
  int64_t expect = 0;
  Bytes plain, cell;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    const int64_t seq = st->int64(0);
    if (seq != expect++) return damaged(outbox_id, "chunks are missing");
    auto sealed = sealed_chunk(*st, 1, cell);
    if (!sealed) return sealed.error();
    if (*key) {
      SATCHEL_TRY(open_blob(**key, chunk_ad(outbox_id, seq), *sealed, plain));
      SATCHEL_TRY(out.write(plain));
    } else {
      SATCHEL_TRY(out.write(*sealed));
    }
  }
  return Status::Ok();
}

Status Outbox::read_range(int64_t outbox_id, uint64_t offset, size_t max, Bytes& out) {
  auto key = entry_key(outbox_id);
  if (!key) return key.error();
  // Every chunk but the last holds exactly kChunk bundle bytes (OutboxWriter), so the chunk
  // holding `offset` is found by division.
  auto st = db_.prepare(
      "SELECT seq, data, cell, cell_bytes FROM outbox_chunks WHERE outbox_id = ?1 AND seq >= ?2 "
      "ORDER BY seq");
  if (!st) return st.error();
  int64_t expect = static_cast<int64_t>(offset / kChunk);
  size_t skip = static_cast<size_t>(offset % kChunk);
  st->bind(1, outbox_id).bind(2, expect);
  Bytes plain, cell;
  while (max > 0) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    const int64_t seq = st->int64(0);
    if (seq != expect++) return damaged(outbox_id, "chunks are missing");
    auto sealed = sealed_chunk(*st, 1, cell);
    if (!sealed) return sealed.error();
    ByteView data = *sealed;
    if (*key) {
      SATCHEL_TRY(open_blob(**key, chunk_ad(outbox_id, seq), data, plain));
      data = plain;
    }
    if (skip > data.size()) return damaged(outbox_id, "a chunk is short");
    data = data.subspan(skip);
    skip = 0;
    size_t n = std::min(max, data.size());
    out.insert(out.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    max -= n;
  }
  return Status::Ok();
}

Status Outbox::set_state(int64_t outbox_id, const std::string& state, uint64_t offset) {
  auto st = db_.prepare("UPDATE outbox SET state = ?1, uploaded_offset = ?2 WHERE outbox_id = ?3");
  if (!st) return st.error();
  st->bind(1, state).bind(2, static_cast<int64_t>(offset)).bind(3, outbox_id);
  return st->run();
}

Status Outbox::mark_exported(int64_t outbox_id) {
  auto st = db_.prepare("UPDATE outbox SET exported = 1 WHERE outbox_id = ?1");
  if (!st) return st.error();
  st->bind(1, outbox_id);
  return st->run();
}

Status Outbox::remove(int64_t outbox_id) {
  auto slot = db_.prepare("SELECT key_slot FROM outbox WHERE outbox_id = ?1");
  if (!slot) return slot.error();
  slot->bind(1, outbox_id);
  auto row = slot->step();
  if (!row) return row.error();
  if (!*row) return Status::Ok();  // already gone
  std::optional<uint32_t> key_slot;
  if (!slot->is_null(0)) key_slot = static_cast<uint32_t>(slot->int64(0));
  *slot = Statement();
  auto st = db_.prepare("DELETE FROM outbox WHERE outbox_id = ?1");
  if (!st) return st.error();
  st->bind(1, outbox_id);
  SATCHEL_TRY(st->run());
  // The row is gone (committed: sync removes outside any transaction); now its key.
  if (key_slot) SATCHEL_TRY(keyring_.destroy(*key_slot));
  return Status::Ok();
}

}  // namespace satchel::client
