#include "satchel/client/record_store.h"

#include <sodium.h>

#include <cstring>
#include <ctime>

#include "satchel/client/sealed_blob.h"

namespace satchel::client {
namespace {

int64_t now() {
  return static_cast<int64_t>(std::time(nullptr));
}

std::string random_hex(size_t bytes) {
  Bytes b(bytes);
  randombytes_buf(b.data(), b.size());
  return to_hex(b);
}

std::string answers_ad(const std::string& id) {
  return "satchel draft v1|" + id + "|answers";
}
std::string meta_ad(const std::string& id, const std::string& att) {
  return "satchel draft v1|" + id + "|" + att + "|meta";
}
std::string chunk_ad(const std::string& id, const std::string& att, int64_t seq) {
  return "satchel draft v1|" + id + "|" + att + "|" + std::to_string(seq);
}

Error not_found(const std::string& id) {
  return make_error(Errc::kNotFound, "no draft " + id + " (satchel list shows drafts)");
}

Bytes json_bytes(const nlohmann::json& j) {
  std::string s = j.dump();
  Bytes b(s.begin(), s.end());
  wipe(s.data(), s.size());
  return b;
}

}  // namespace

Result<SecretBytes> RecordStore::record_key(const std::string& record_id) {
  auto st = db_.prepare("SELECT key_slot, record_key FROM records WHERE record_id = ?1");
  if (!st) return st.error();
  st->bind(1, record_id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found(record_id);
  if (!st->is_null(0)) {
    auto key = keyring_.key(static_cast<uint32_t>(st->int64(0)));
    if (!key) return make_error(Errc::kIoError, "draft " + record_id + ": " + key.error().message);
    return key;
  }
  ByteView k = st->blob(1);  // a version-1 draft keeps its key in its row
  if (k.size() != 32)
    return make_error(Errc::kIoError, "draft " + record_id + " has a damaged key");
  SecretBytes key(32);
  std::memcpy(key.data(), k.data(), 32);
  return key;
}

Result<std::string> RecordStore::create(const std::string& form_id, uint64_t form_version,
                                        const nlohmann::json& answers) {
  const std::string id = random_hex(16);
  // The key is synced into the keyring before the row that names it is committed; a crash in
  // between leaves a key no row names, which the next open destroys.
  auto added = keyring_.add();
  if (!added) return added.error();
  Bytes plain = json_bytes(answers);
  Bytes blob = seal_blob(added->key, answers_ad(id), plain);
  wipe(plain.data(), plain.size());
  auto st = db_.prepare(
      "INSERT INTO records (record_id, form_id, form_version, record_key, key_slot, answers, "
      "created_at, updated_at) VALUES (?1, ?2, ?3, X'', ?4, ?5, ?6, ?6)");
  Status s = st ? Status::Ok() : Status(st.error());
  if (s) {
    st->bind(1, id).bind(2, form_id).bind(3, static_cast<int64_t>(form_version));
    st->bind(4, static_cast<int64_t>(added->slot)).bind_blob(5, blob).bind(6, now());
    s = st->run();
  }
  if (!s) {
    (void)keyring_.destroy(added->slot);
    return s.error();
  }
  return id;
}

Result<DraftInfo> RecordStore::info(const std::string& record_id) {
  auto st = db_.prepare(
      "SELECT form_id, form_version, created_at, updated_at FROM records WHERE record_id = ?1");
  if (!st) return st.error();
  st->bind(1, record_id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found(record_id);
  return DraftInfo{record_id, st->text(0), static_cast<uint64_t>(st->int64(1)), st->int64(2),
                   st->int64(3)};
}

Result<std::vector<DraftInfo>> RecordStore::list() {
  auto st = db_.prepare(
      "SELECT record_id, form_id, form_version, created_at, updated_at FROM records ORDER BY "
      "updated_at, record_id");
  if (!st) return st.error();
  std::vector<DraftInfo> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({st->text(0), st->text(1), static_cast<uint64_t>(st->int64(2)), st->int64(3),
                   st->int64(4)});
  }
  return out;
}

Result<nlohmann::json> RecordStore::answers(const std::string& record_id) {
  auto key = record_key(record_id);
  if (!key) return key.error();
  auto st = db_.prepare("SELECT answers FROM records WHERE record_id = ?1");
  if (!st) return st.error();
  st->bind(1, record_id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found(record_id);
  Bytes plain;
  SATCHEL_TRY(open_blob(*key, answers_ad(record_id), st->blob(0), plain));
  auto j = nlohmann::json::parse(plain.begin(), plain.end(), nullptr, false);
  wipe(plain.data(), plain.size());
  if (j.is_discarded())
    return make_error(Errc::kIoError, "draft " + record_id + " answers are damaged");
  return j;
}

Status RecordStore::save_answers(const std::string& record_id, const nlohmann::json& answers) {
  auto key = record_key(record_id);
  if (!key) return key.error();
  Bytes plain = json_bytes(answers);
  Bytes blob = seal_blob(*key, answers_ad(record_id), plain);
  wipe(plain.data(), plain.size());
  auto st = db_.prepare("UPDATE records SET answers = ?1, updated_at = ?2 WHERE record_id = ?3");
  if (!st) return st.error();
  st->bind_blob(1, blob).bind(2, now()).bind(3, record_id);
  return st->run();
}

Result<std::string> RecordStore::attach(const std::string& record_id, ByteSource& src,
                                        std::optional<uint64_t> expected_size,
                                        const std::string& question, const std::string& name,
                                        const std::string& media_type) {
  auto key = record_key(record_id);
  if (!key) return key.error();
  const std::string att = random_hex(8);
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.error();
  nlohmann::json meta = {{"question", question}, {"name", name}, {"media_type", media_type}};
  Bytes meta_plain = json_bytes(meta);
  auto ins = db_.prepare(
      "INSERT INTO attachments (record_id, attachment_id, meta, size, chunk_count, complete) "
      "VALUES (?1, ?2, ?3, 0, 0, 0)");
  if (!ins) return ins.error();
  ins->bind(1, record_id)
      .bind(2, att)
      .bind_blob(3, seal_blob(*key, meta_ad(record_id, att), meta_plain));
  SATCHEL_TRY(ins->run());
  auto chunk = db_.prepare(
      "INSERT INTO attachment_chunks (record_id, attachment_id, seq, data, cell, cell_bytes) "
      "VALUES (?1, ?2, ?3, X'', ?4, ?5)");
  if (!chunk) return chunk.error();
  std::vector<uint8_t> buf(kAttachmentChunk);
  uint64_t size = 0;
  int64_t seq = 0;
  for (bool end = false; !end;) {
    // Fill a whole chunk (sources such as pipes return short reads) or reach the end.
    size_t got = 0;
    while (got < buf.size()) {
      auto r = src.read(std::span<uint8_t>(buf.data() + got, buf.size() - got));
      if (!r) return r.error();
      if (*r == 0) {
        end = true;
        break;
      }
      got += *r;
    }
    if (got == 0) break;
    size += got;
    if (size > kMaxAttachmentBytes)
      return make_error(Errc::kInvalidArgument, "attachment " + name + " is larger than " +
                                                    std::to_string(kMaxAttachmentBytes >> 20) +
                                                    " MiB, the most a record can carry");
    if (expected_size && size > *expected_size)
      return make_error(Errc::kIoError, "attachment " + name + " grew while being read");
    Bytes blob = seal_blob(*key, chunk_ad(record_id, att, seq), ByteView(buf.data(), got));
    auto cell = pool_.put(blob);
    if (!cell) return cell.error();
    chunk->reset();
    chunk->bind(1, record_id).bind(2, att).bind(3, seq++);
    chunk->bind(4, static_cast<int64_t>(*cell)).bind(5, static_cast<int64_t>(blob.size()));
    SATCHEL_TRY(chunk->run());
  }
  wipe(buf.data(), buf.size());
  if (expected_size && size != *expected_size)
    return make_error(Errc::kIoError,
                      "attachment " + name + " ended early (it changed while being read?)");
  auto done = db_.prepare(
      "UPDATE attachments SET complete = 1, size = ?3, chunk_count = ?4 WHERE record_id = ?1 AND "
      "attachment_id = ?2");
  if (!done) return done.error();
  done->bind(1, record_id).bind(2, att).bind(3, static_cast<int64_t>(size)).bind(4, seq);
  SATCHEL_TRY(done->run());
  auto touch = db_.prepare("UPDATE records SET updated_at = ?1 WHERE record_id = ?2");
  if (!touch) return touch.error();
  touch->bind(1, now()).bind(2, record_id);
  SATCHEL_TRY(touch->run());
  // The chunks reach the disk before the rows that name them are committed.
  SATCHEL_TRY(pool_.sync());
  SATCHEL_TRY(tx->commit());
  return att;
}

Result<std::vector<AttachmentInfo>> RecordStore::attachments(const std::string& record_id) {
  auto key = record_key(record_id);
  if (!key) return key.error();
  auto st = db_.prepare(
      "SELECT attachment_id, meta, size FROM attachments WHERE record_id = ?1 AND complete = 1 "
      "ORDER BY rowid");
  if (!st) return st.error();
  st->bind(1, record_id);
  std::vector<AttachmentInfo> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    AttachmentInfo a;
    a.attachment_id = st->text(0);
    Bytes plain;
    SATCHEL_TRY(open_blob(*key, meta_ad(record_id, a.attachment_id), st->blob(1), plain));
    auto meta = nlohmann::json::parse(plain.begin(), plain.end(), nullptr, false);
    if (meta.is_discarded()) return make_error(Errc::kIoError, "attachment metadata is damaged");
    a.question = meta.value("question", "");
    a.name = meta.value("name", "");
    a.media_type = meta.value("media_type", "");
    a.size = static_cast<uint64_t>(st->int64(2));
    out.push_back(std::move(a));
  }
  return out;
}

Result<AttachmentReader> RecordStore::open_attachment(const std::string& record_id,
                                                      const std::string& attachment_id) {
  auto key = record_key(record_id);
  if (!key) return key.error();
  auto st = db_.prepare(
      "SELECT seq, data, cell, cell_bytes FROM attachment_chunks WHERE record_id = ?1 AND "
      "attachment_id = ?2 ORDER BY seq");
  if (!st) return st.error();
  st->bind(1, record_id).bind(2, attachment_id);
  return AttachmentReader(std::move(st.value()), pool_, std::move(key.value()), record_id,
                          attachment_id);
}

Result<size_t> AttachmentReader::read(std::span<uint8_t> out) {
  size_t got = 0;
  while (got < out.size()) {
    if (pos_ == buf_.size()) {
      if (done_) break;
      auto row = st_.step();
      if (!row) return row.error();
      if (!*row) {
        done_ = true;
        wipe(buf_.data(), buf_.size());
        break;
      }
      if (st_.int64(0) != next_seq_)
        return make_error(Errc::kIoError, "attachment chunks are missing");
      ByteView sealed = st_.blob(1);
      if (!st_.is_null(2)) {  // version 4: the sealed chunk is in the pool
        const int64_t bytes = st_.int64(3);
        if (bytes < 0 || static_cast<uint64_t>(bytes) > ChunkPool::kCellSize)
          return make_error(Errc::kIoError, "attachment chunk has a damaged length");
        cell_.resize(static_cast<size_t>(bytes));
        SATCHEL_TRY(pool_->get(static_cast<uint64_t>(st_.int64(2)), cell_));
        sealed = cell_;
      }
      SATCHEL_TRY(open_blob(key_, chunk_ad(record_id_, attachment_id_, next_seq_), sealed, buf_));
      next_seq_++;
      pos_ = 0;
    }
    size_t n = std::min(out.size() - got, buf_.size() - pos_);
    std::memcpy(out.data() + got, buf_.data() + pos_, n);
    pos_ += n;
    got += n;
  }
  return got;
}

Result<std::optional<uint32_t>> RecordStore::delete_rows(const std::string& record_id) {
  auto slot = db_.prepare("SELECT key_slot FROM records WHERE record_id = ?1");
  if (!slot) return slot.error();
  slot->bind(1, record_id);
  auto row = slot->step();
  if (!row) return row.error();
  if (!*row) return not_found(record_id);
  std::optional<uint32_t> key_slot;
  if (!slot->is_null(0)) key_slot = static_cast<uint32_t>(slot->int64(0));
  // Chunks and metadata go through ON DELETE CASCADE; secure_delete zeroes the freed pages.
  auto st = db_.prepare("DELETE FROM records WHERE record_id = ?1");
  if (!st) return st.error();
  st->bind(1, record_id);
  SATCHEL_TRY(st->run());
  return key_slot;
}

Status RecordStore::destroy(const std::string& record_id) {
  auto slot = delete_rows(record_id);
  if (!slot) return slot.error();
  if (*slot) SATCHEL_TRY(keyring_.destroy(**slot));
  return Status::Ok();
}

}  // namespace satchel::client
