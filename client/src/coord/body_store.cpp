#include "satchel/coord/body_store.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "satchel/client/sealed_blob.h"

namespace satchel::coord {

namespace {

constexpr size_t kChunk = 65536;

std::string chunk_ad(int64_t body_id, int64_t seq) {
  return "satchel coord body v1|" + std::to_string(body_id) + "|" + std::to_string(seq);
}

}  // namespace

BodyWriter::BodyWriter(client::Profile& p, int64_t id, SecretBytes key, client::Statement insert)
    : profile_(&p), body_id_(id), key_(std::move(key)), insert_(std::move(insert)) {
  buf_.reserve(kChunk);
}

BodyWriter::~BodyWriter() {
  if (!buf_.empty()) sodium_memzero(buf_.data(), buf_.size());
}

BodyReader::~BodyReader() {
  if (!chunk_.empty()) sodium_memzero(chunk_.data(), chunk_.size());
}

Result<BodyWriter> BodyWriter::begin(client::Profile& profile) {
  auto& db = profile.db();
  if (!db.in_transaction())
    return make_error(Errc::kInternal, "BodyWriter::begin needs an open transaction");
  SecretBytes key(32);
  randombytes_buf(key.data(), key.size());
  auto st = db.prepare("INSERT INTO coord_bodies (body_key, size) VALUES (?1, 0)");
  if (!st) return st.error();
  st->bind_blob(1, key.span());
  SATCHEL_TRY(st->run());
  st->release();
  const int64_t id = db.last_insert_rowid();
  auto insert = db.prepare(
      "INSERT INTO coord_body_chunks (body_id, seq, cell, cell_bytes) VALUES (?1, ?2, ?3, ?4)");
  if (!insert) return insert.error();
  return BodyWriter(profile, id, std::move(key), std::move(insert.value()));
}

Status BodyWriter::write(ByteView data) {
  if (discarded_) return make_error(Errc::kInternal, "write after discard");
  while (!data.empty()) {
    const size_t n = std::min(kChunk - buf_.size(), data.size());
    buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(n));
    data = data.subspan(n);
    size_ += n;
    if (buf_.size() == kChunk) SATCHEL_TRY(flush());
  }
  return Status::Ok();
}

Status BodyWriter::flush() {
  Bytes sealed = client::seal_blob(key_, chunk_ad(body_id_, seq_), buf_);
  sodium_memzero(buf_.data(), buf_.size());
  buf_.clear();
  auto cell = profile_->pool().put(sealed);
  if (!cell) return cell.error();
  insert_.bind(1, body_id_).bind(2, seq_).bind(3, static_cast<int64_t>(*cell));
  insert_.bind(4, static_cast<int64_t>(sealed.size()));
  SATCHEL_TRY(insert_.run());
  insert_.reset();
  seq_++;
  return Status::Ok();
}

Status BodyWriter::commit() {
  if (discarded_) return make_error(Errc::kInternal, "commit after discard");
  if (!buf_.empty()) SATCHEL_TRY(flush());
  SATCHEL_TRY(profile_->pool().sync());
  auto st = profile_->db().prepare("UPDATE coord_bodies SET size = ?2 WHERE body_id = ?1");
  if (!st) return st.error();
  st->bind(1, body_id_).bind(2, static_cast<int64_t>(size_));
  return st->run();
}

Result<BodyReader> BodyReader::open(client::Profile& profile, int64_t body_id) {
  auto st = profile.db().prepare("SELECT body_key, size FROM coord_bodies WHERE body_id = ?1");
  if (!st) return st.error();
  st->bind(1, body_id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::kNotFound, "no stored body " + std::to_string(body_id));
  ByteView k = st->blob(0);
  if (k.size() != 32) return make_error(Errc::kIoError, "stored body key damaged");
  SecretBytes key(32);
  std::memcpy(key.data(), k.data(), 32);
  const auto size = static_cast<uint64_t>(st->int64(1));
  return BodyReader(profile, body_id, std::move(key), size);
}

Status BodyReader::load(int64_t seq) {
  if (loaded_ == seq) return Status::Ok();
  auto st = profile_->db().prepare(
      "SELECT cell, cell_bytes FROM coord_body_chunks WHERE body_id = ?1 AND seq = ?2");
  if (!st) return st.error();
  st->bind(1, body_id_).bind(2, seq);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row)
    return make_error(Errc::kIoError, "stored body " + std::to_string(body_id_) +
                                          " is missing chunk " + std::to_string(seq));
  const auto cell = static_cast<uint64_t>(st->int64(0));
  const auto bytes = static_cast<size_t>(st->int64(1));
  if (bytes > client::ChunkPool::kCellSize)
    return make_error(Errc::kIoError, "stored body chunk damaged");
  Bytes sealed(bytes);
  SATCHEL_TRY(profile_->pool().get(cell, sealed));
  loaded_.reset();
  SATCHEL_TRY(client::open_blob(key_, chunk_ad(body_id_, seq), sealed, chunk_));
  loaded_ = seq;
  return Status::Ok();
}

Status BodyReader::read_at(uint64_t offset, std::span<uint8_t> out) {
  if (offset > size_ || out.size() > size_ - offset)
    return make_error(Errc::kIoError, "read past the end of a stored body");
  while (!out.empty()) {
    SATCHEL_TRY(load(static_cast<int64_t>(offset / kChunk)));
    const size_t at = static_cast<size_t>(offset % kChunk);
    if (at >= chunk_.size()) return make_error(Errc::kIoError, "stored body chunk too short");
    const size_t n = std::min(out.size(), chunk_.size() - at);
    std::memcpy(out.data(), chunk_.data() + at, n);
    out = out.subspan(n);
    offset += n;
  }
  return Status::Ok();
}

Result<size_t> BodyReader::read(std::span<uint8_t> out) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - pos_));
  SATCHEL_TRY(read_at(pos_, out.first(n)));
  pos_ += n;
  return n;
}

Result<int64_t> store_body(client::Profile& profile, ByteSource& src) {
  auto w = BodyWriter::begin(profile);
  if (!w) return w.error();
  Bytes buf(kChunk);
  for (;;) {
    auto n = src.read(buf);
    if (!n) return n.error();
    if (*n == 0) break;
    SATCHEL_TRY(w->write(ByteView(buf.data(), *n)));
  }
  SATCHEL_TRY(w->commit());
  return w->body_id();
}

Status delete_body(client::Profile& profile, int64_t body_id) {
  auto st = profile.db().prepare("DELETE FROM coord_bodies WHERE body_id = ?1");
  if (!st) return st.error();
  st->bind(1, body_id);
  return st->run();
}

}  // namespace satchel::coord
