#include "profile/legacy_rows.h"

#include "profile/little_endian.h"

#include <sodium.h>

#include <cstring>
#include <string>
#include <vector>

#include "satchel/client/sealed_blob.h"

namespace satchel::client {
namespace {

// The ADs of schema/client-database.md ("Schema and migrations", "Version 3").
std::string draft_ad(const std::string& id, const std::string& what) {
  return "satchel draft v1|" + id + "|" + what;
}
std::string outbox_ad(int64_t id, const std::string& what) {
  return "satchel outbox v1|" + std::to_string(id) + "|" + what;
}

// Re-seals one blob from `from` to `to` under the same AD.
Result<Bytes> reseal(const SecretBytes& from, const SecretBytes& to, const std::string& ad,
                     ByteView blob) {
  Bytes plain;
  SATCHEL_TRY(open_blob(from, ad, blob, plain));
  Bytes out = seal_blob(to, ad, plain);
  wipe(plain.data(), plain.size());
  return out;
}

Status convert_drafts(Database& db, Keyring& keyring, ChunkPool& pool, size_t& converted) {
  std::vector<std::string> ids;
  {
    auto st = db.prepare("SELECT record_id FROM records WHERE key_slot IS NULL");
    if (!st) return st.error();
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      ids.push_back(st->text(0));
    }
  }
  for (const std::string& id : ids) {
    auto old_st = db.prepare("SELECT record_key, answers FROM records WHERE record_id = ?1");
    if (!old_st) return old_st.error();
    old_st->bind(1, id);
    auto r = old_st->step();
    if (!r) return r.error();
    if (!*r || old_st->blob(0).size() != 32)
      return make_error(Errc::kIoError, "draft " + id + " has a damaged key");
    SecretBytes old_key(32);
    std::memcpy(old_key.data(), old_st->blob(0).data(), 32);
    auto added = keyring.add();
    if (!added) return added.error();
    auto answers = reseal(old_key, added->key, draft_ad(id, "answers"), old_st->blob(1));
    if (!answers) return answers.error();
    *old_st = Statement();
    auto up = db.prepare(
        "UPDATE records SET answers = ?1, record_key = X'', key_slot = ?2 WHERE record_id = ?3");
    if (!up) return up.error();
    up->bind_blob(1, *answers).bind(2, static_cast<int64_t>(added->slot)).bind(3, id);
    SATCHEL_TRY(up->run());
    // Attachment metadata and chunks.
    auto metas = db.prepare("SELECT attachment_id, meta FROM attachments WHERE record_id = ?1");
    if (!metas) return metas.error();
    metas->bind(1, id);
    std::vector<std::pair<std::string, Bytes>> resealed_meta;
    for (;;) {
      auto row = metas->step();
      if (!row) return row.error();
      if (!*row) break;
      const std::string att = metas->text(0);
      auto m = reseal(old_key, added->key, draft_ad(id, att + "|meta"), metas->blob(1));
      if (!m) return m.error();
      resealed_meta.emplace_back(att, std::move(m.value()));
    }
    *metas = Statement();
    for (const auto& [att, blob] : resealed_meta) {
      auto st = db.prepare(
          "UPDATE attachments SET meta = ?1 WHERE record_id = ?2 AND attachment_id = ?3");
      if (!st) return st.error();
      st->bind_blob(1, blob).bind(2, id).bind(3, att);
      SATCHEL_TRY(st->run());
    }
    auto chunks = db.prepare(
        "SELECT attachment_id, seq, data FROM attachment_chunks WHERE record_id = ?1 AND cell IS "
        "NULL");
    if (!chunks) return chunks.error();
    chunks->bind(1, id);
    struct Moved {
      std::string att;
      int64_t seq;
      uint64_t cell;
      size_t bytes;
    };
    std::vector<Moved> moved;
    for (;;) {
      auto row = chunks->step();
      if (!row) return row.error();
      if (!*row) break;
      const std::string att = chunks->text(0);
      const int64_t seq = chunks->int64(1);
      auto c = reseal(old_key, added->key, draft_ad(id, att + "|" + std::to_string(seq)),
                      chunks->blob(2));
      if (!c) return c.error();
      auto cell = pool.put(*c);
      if (!cell) return cell.error();
      moved.push_back({att, seq, *cell, c->size()});
    }
    *chunks = Statement();
    for (const Moved& m : moved) {
      auto st = db.prepare(
          "UPDATE attachment_chunks SET data = X'', cell = ?1, cell_bytes = ?2 WHERE record_id = "
          "?3 AND attachment_id = ?4 AND seq = ?5");
      if (!st) return st.error();
      st->bind(1, static_cast<int64_t>(m.cell)).bind(2, static_cast<int64_t>(m.bytes));
      st->bind(3, id).bind(4, m.att).bind(5, m.seq);
      SATCHEL_TRY(st->run());
    }
    converted++;
  }
  return Status::Ok();
}

Status convert_outbox(Database& db, Keyring& keyring, ChunkPool& pool, size_t& converted) {
  struct Entry {
    int64_t id;
    std::string upload_id;
    uint64_t size, sequence;
  };
  std::vector<Entry> entries;
  {
    auto st = db.prepare(
        "SELECT outbox_id, upload_id, size, sequence FROM outbox WHERE key_slot IS NULL");
    if (!st) return st.error();
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      entries.push_back({st->int64(0), st->text(1), static_cast<uint64_t>(st->int64(2)),
                         static_cast<uint64_t>(st->int64(3))});
    }
  }
  for (const Entry& e : entries) {
    auto digest = from_hex(e.upload_id);
    if (!digest || digest->size() != 32)
      return make_error(Errc::kIoError,
                        "outbox entry " + std::to_string(e.id) + " has a damaged upload id");
    auto added = keyring.add();
    if (!added) return added.error();
    auto chunks =
        db.prepare("SELECT seq, data FROM outbox_chunks WHERE outbox_id = ?1 AND cell IS NULL");
    if (!chunks) return chunks.error();
    chunks->bind(1, e.id);
    std::vector<std::pair<int64_t, std::pair<uint64_t, size_t>>> moved;
    for (;;) {
      auto row = chunks->step();
      if (!row) return row.error();
      if (!*row) break;
      const int64_t seq = chunks->int64(0);
      Bytes sealed = seal_blob(added->key, outbox_ad(e.id, std::to_string(seq)), chunks->blob(1));
      auto cell = pool.put(sealed);
      if (!cell) return cell.error();
      moved.push_back({seq, {*cell, sealed.size()}});
    }
    *chunks = Statement();
    for (const auto& [seq, where] : moved) {
      auto st = db.prepare(
          "UPDATE outbox_chunks SET data = X'', cell = ?1, cell_bytes = ?2 WHERE outbox_id = ?3 "
          "AND seq = ?4");
      if (!st) return st.error();
      st->bind(1, static_cast<int64_t>(where.first)).bind(2, static_cast<int64_t>(where.second));
      st->bind(3, e.id).bind(4, seq);
      SATCHEL_TRY(st->run());
    }
    uint8_t meta[48];
    std::memcpy(meta, digest->data(), 32);
    put_u64(meta + 32, e.size);
    put_u64(meta + 40, e.sequence);
    Bytes placeholder(16);
    randombytes_buf(placeholder.data(), placeholder.size());
    auto st = db.prepare(
        "UPDATE outbox SET upload_id = ?1, size = 0, sequence = 0, key_slot = ?2, sealed_meta = "
        "?3, uploaded_offset = CASE WHEN state = 'stored' THEN 0 ELSE uploaded_offset END "
        "WHERE outbox_id = ?4");
    if (!st) return st.error();
    st->bind(1, "sealed-" + to_hex(placeholder)).bind(2, static_cast<int64_t>(added->slot));
    st->bind_blob(3, seal_blob(added->key, outbox_ad(e.id, "meta"), ByteView(meta, 48)));
    st->bind(4, e.id);
    SATCHEL_TRY(st->run());
    converted++;
  }
  return Status::Ok();
}

}  // namespace

Result<size_t> seal_legacy_rows(Database& db, Keyring& keyring, ChunkPool& pool) {
  size_t converted = 0;
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  SATCHEL_TRY(convert_drafts(db, keyring, pool, converted));
  SATCHEL_TRY(convert_outbox(db, keyring, pool, converted));
  if (converted == 0) return converted;  // rolled back: nothing was written
  // Keys and chunks are on the disk before the rows that name them are committed; a crash
  // before the commit leaves keys and cells no row names, which the next open reclaims.
  SATCHEL_TRY(pool.sync());
  SATCHEL_TRY(tx->commit());
  return converted;
}

}  // namespace satchel::client
