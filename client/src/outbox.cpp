#include "satchel/client/outbox.h"

#include <sodium.h>

#include <ctime>

namespace satchel::client {

namespace {
constexpr size_t kChunk = 64 * 1024;
}

Result<OutboxWriter> OutboxWriter::begin(Database& db) {
  // The unique upload id is known only at the end; a random placeholder holds its place.
  Bytes placeholder(16);
  randombytes_buf(placeholder.data(), placeholder.size());
  auto st = db.prepare(
      "INSERT INTO outbox (upload_id, size, sequence, state, created_day) VALUES (?1, 0, 0, "
      "'sealed', ?2)");
  if (!st) return st.error();
  st->bind(1, "pending-" + to_hex(placeholder))
      .bind(2, static_cast<int64_t>(std::time(nullptr) / 86400));
  SATCHEL_TRY(st->run());
  return OutboxWriter(db, db.last_insert_rowid());
}

Status OutboxWriter::flush() {
  if (buf_.empty()) return Status::Ok();
  auto st = db_->prepare("INSERT INTO outbox_chunks (outbox_id, seq, data) VALUES (?1, ?2, ?3)");
  if (!st) return st.error();
  st->bind(1, id_).bind(2, seq_++).bind_blob(3, buf_);
  SATCHEL_TRY(st->run());
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
  OutboxEntry e;
  e.outbox_id = id_;
  e.upload_id = to_hex(hash_->finish());
  e.size = size_;
  e.sequence = sequence;
  e.state = "sealed";
  auto st = db_->prepare(
      "UPDATE outbox SET upload_id = ?1, size = ?2, sequence = ?3 WHERE outbox_id = ?4");
  if (!st) return st.error();
  st->bind(1, e.upload_id)
      .bind(2, static_cast<int64_t>(e.size))
      .bind(3, static_cast<int64_t>(sequence))
      .bind(4, id_);
  SATCHEL_TRY(st->run());
  return e;
}

Result<std::vector<OutboxEntry>> Outbox::list() {
  auto st = db_.prepare(
      "SELECT outbox_id, upload_id, size, sequence, state, uploaded_offset, exported FROM outbox "
      "ORDER BY outbox_id");
  if (!st) return st.error();
  std::vector<OutboxEntry> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({st->int64(0), st->text(1), static_cast<uint64_t>(st->int64(2)),
                   static_cast<uint64_t>(st->int64(3)), st->text(4),
                   static_cast<uint64_t>(st->int64(5)), st->int64(6) != 0});
  }
  return out;
}

Status Outbox::read(int64_t outbox_id, ByteSink& out) {
  auto st = db_.prepare("SELECT seq, data FROM outbox_chunks WHERE outbox_id = ?1 ORDER BY seq");
  if (!st) return st.error();
  st->bind(1, outbox_id);
  int64_t expect = 0;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    if (st->int64(0) != expect++)
      return make_error(Errc::kIoError, "outbox entry is missing chunks");
    SATCHEL_TRY(out.write(st->blob(1)));
  }
  return Status::Ok();
}

Status Outbox::read_range(int64_t outbox_id, uint64_t offset, size_t max, Bytes& out) {
  // Every chunk but the last holds exactly kChunk bytes (OutboxWriter), so the chunk holding
  // `offset` is found by division.
  auto st = db_.prepare(
      "SELECT seq, data FROM outbox_chunks WHERE outbox_id = ?1 AND seq >= ?2 ORDER BY seq");
  if (!st) return st.error();
  int64_t expect = static_cast<int64_t>(offset / kChunk);
  size_t skip = static_cast<size_t>(offset % kChunk);
  st->bind(1, outbox_id).bind(2, expect);
  while (max > 0) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    if (st->int64(0) != expect++)
      return make_error(Errc::kIoError, "outbox entry is missing chunks");
    ByteView data = st->blob(1);
    if (skip > data.size()) return make_error(Errc::kIoError, "outbox entry has a short chunk");
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
  auto st = db_.prepare("DELETE FROM outbox WHERE outbox_id = ?1");
  if (!st) return st.error();
  st->bind(1, outbox_id);
  return st->run();
}

}  // namespace satchel::client
