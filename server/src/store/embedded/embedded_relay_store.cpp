// EmbeddedRelayStore: opening, paths, and the metadata-only parts (mailboxes, credentials,
// published documents, housekeeping). Uploads are in embedded_uploads.cpp, start-up recovery in
// embedded_recovery.cpp.
#include "satchel/relay/embedded_relay_store.h"

#include <sodium.h>

#include <algorithm>
#include <iostream>

#include "satchel/crypto/trust_documents.h"
#include "store/embedded/metadata_db.h"
#include "store/embedded/pack_log.h"
#include "store/embedded/store_rows.h"
#include "store/embedded/wal_checkpointer.h"

namespace satchel::relay {

bool is_mailbox_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string mailbox_id_for(const OrgPublicKey& org) {
  return to_hex(org_id_for(org));
}

EmbeddedRelayStore::EmbeddedRelayStore(std::string dir, std::unique_ptr<MetadataDb> db,
                                       std::unique_ptr<MetadataDb> group_db,
                                       EmbeddedStoreOptions options)
    : dir_(std::move(dir)),
      db_(std::move(db)),
      group_db_(std::move(group_db)),
      options_(std::move(options)),
      ops_(options_.file_ops ? options_.file_ops : &default_ops_) {
  options_.inline_max_bytes =
      std::min(options_.inline_max_bytes, EmbeddedStoreOptions::kLargestInlineMaxBytes);
}

EmbeddedRelayStore::~EmbeddedRelayStore() {
  if (checkpointer_) {
    WalCheckpointer::unwatch(*db_);
    WalCheckpointer::unwatch(*group_db_);
    WalCheckpointer::unwatch(*documents_db_);
    checkpointer_.reset();
  }
}

Result<std::unique_ptr<EmbeddedRelayStore>> EmbeddedRelayStore::open(const std::string& dir,
                                                                     Day today,
                                                                     EmbeddedStoreOptions options) {
  FileOps posix;
  FileOps& ops = options.file_ops ? *options.file_ops : posix;
  SATCHEL_TRY(make_private_directory(ops, dir));
  SATCHEL_TRY(make_private_directory(ops, dir + "/uploads"));
  SATCHEL_TRY(make_private_directory(ops, dir + "/packs"));
  auto db = MetadataDb::open(dir + "/relay.db");
  if (!db) return db.error();
  // New regions go to a pack numbered above every pack named by the metadata (or on disk).
  auto last_pack = db->prepare("SELECT COALESCE(MAX(pack), -1) FROM upload_packs");
  if (!last_pack) return last_pack.error();
  auto row = last_pack->step();
  if (!row) return row.error();
  const int64_t last_named = *row ? last_pack->int64(0) : -1;
  last_pack = Statement();
  auto group_db = MetadataDb::open(dir + "/relay.db");
  if (!group_db) return group_db.error();
  std::unique_ptr<EmbeddedRelayStore> store(new EmbeddedRelayStore(
      dir, std::make_unique<MetadataDb>(std::move(db.value())),
      std::make_unique<MetadataDb>(std::move(group_db.value())), std::move(options)));
  auto documents_db = MetadataDb::open(dir + "/relay.db");
  if (!documents_db) return documents_db.error();
  store->documents_db_ = std::make_unique<MetadataDb>(std::move(documents_db.value()));
  store->packs_ = std::make_unique<PackLog>(dir + "/packs", *store->ops_, last_named,
                                            store->options_.pack_max_bytes);
  if (store->options_.serve) {
    // Locked first: a second relay on the same directory must fail before it starts anything.
    SATCHEL_TRY(store->lock_directory());
    // Serving: WAL checkpoints run on a thread of their own (administration keeps SQLite's).
    auto checkpointer = WalCheckpointer::start(
        dir + "/relay.db", [s = store.get()](std::string_view m) { s->log(m); });
    if (!checkpointer) return checkpointer.error();
    store->checkpointer_ = std::move(checkpointer.value());
    store->checkpointer_->watch(*store->db_);
    store->checkpointer_->watch(*store->group_db_);
    store->checkpointer_->watch(*store->documents_db_);
    SATCHEL_TRY(store->recover(today));
    // put_mailbox commits relay.db before tokens.db (WAL mode has no commit across files): a
    // crash in between leaves codes of a coordinator the stored registration no longer lists.
    SATCHEL_TRY(store->delete_codes_of_unregistered_minters());
  }
  return store;
}

std::string EmbeddedRelayStore::mailbox_dir(std::string_view mailbox) const {
  return dir_ + "/uploads/" + std::string(mailbox);
}

std::string EmbeddedRelayStore::partial_path(std::string_view mailbox, const Hash32& id) const {
  return mailbox_dir(mailbox) + "/" + to_hex(id) + ".part";
}

std::string EmbeddedRelayStore::stored_path(std::string_view mailbox, const Hash32& id) const {
  return mailbox_dir(mailbox) + "/" + to_hex(id);
}

void EmbeddedRelayStore::trace(std::string_view step) const {
  if (options_.trace) options_.trace(step);
}

void EmbeddedRelayStore::log(std::string_view message) const {
  if (options_.log)
    options_.log(message);
  else
    std::cerr << "satchel-relay: " << message << "\n";
}

// --- Mailboxes ---

Result<std::optional<MailboxRecord>> EmbeddedRelayStore::mailbox(std::string_view id) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("SELECT org_key, version, registration FROM mailboxes WHERE id = ?1");
  if (!st) return st.error();
  st->bind(1, id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<MailboxRecord>();
  MailboxRecord m;
  m.id = std::string(id);
  if (!copy_key(st->blob(0), m.org.ed25519))
    return make_error(Errc::kIoError, "metadata damaged: mailbox organisation key");
  m.version = static_cast<uint64_t>(st->int64(1));
  m.registration = st->text(2);
  return std::optional<MailboxRecord>(std::move(m));
}

Status EmbeddedRelayStore::put_mailbox(const MailboxRecord& record,
                                       const std::vector<Key32>& coordinators) {
  if (!is_mailbox_id(record.id)) return make_error(Errc::kInvalidArgument, "bad mailbox id");
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto st = db_->prepare(
      "INSERT INTO mailboxes (id, org_key, version, registration) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
      "registration = excluded.registration WHERE excluded.version > mailboxes.version");
  if (!st) return st.error();
  st->bind(1, record.id)
      .bind_blob(2, record.org.ed25519)
      .bind(3, static_cast<int64_t>(record.version))
      .bind(4, record.registration);
  SATCHEL_TRY(st->run());
  if (db_->changes() == 0)
    return make_error(Errc::kDocRollback, "the mailbox already holds registration version " +
                                              std::to_string(record.version) + " or newer");
  st = Statement();
  SATCHEL_TRY(delete_unlisted_codes_locked(record.id, coordinators));
  return tx->commit();
}

Status EmbeddedRelayStore::delete_unlisted_codes_locked(std::string_view mailbox,
                                                        const std::vector<Key32>& coordinators) {
  // A coordinator the registration no longer lists loses the codes it has not handed out yet;
  // the operator's codes (no minter) stay.
  auto minted = db_->prepare(
      "SELECT hash, minter FROM credentials.enrollment_codes WHERE mailbox_id = ?1 AND "
      "minter IS NOT NULL");
  if (!minted) return minted.error();
  minted->bind(1, mailbox);
  std::vector<Hash32> unlisted;
  for (;;) {
    auto row = minted->step();
    if (!row) return row.error();
    if (!*row) break;
    Key32 minter{};
    Hash32 hash{};
    if (!copy_key(minted->blob(1), minter) || !copy_key(minted->blob(0), hash))
      return make_error(Errc::kIoError, "metadata damaged: enrollment code minter");
    if (std::find(coordinators.begin(), coordinators.end(), minter) == coordinators.end())
      unlisted.push_back(hash);
  }
  minted = Statement();
  for (const Hash32& hash : unlisted) {
    auto del = db_->prepare("DELETE FROM credentials.enrollment_codes WHERE hash = ?1");
    if (!del) return del.error();
    del->bind_blob(1, hash);
    SATCHEL_TRY(del->run());
  }
  return Status::Ok();
}

Status EmbeddedRelayStore::delete_codes_of_unregistered_minters() {
  auto all = mailboxes();
  if (!all) return all.error();
  std::lock_guard lock(mu_);
  for (const MailboxRecord& m : *all) {
    auto registration = RelayRegistration::verify(m.registration, m.org);
    if (!registration) {
      log("mailbox " + m.id + ": stored registration does not verify; its minted codes are kept");
      continue;
    }
    auto tx = Transaction::begin(*db_);
    if (!tx) return tx.error();
    SATCHEL_TRY(delete_unlisted_codes_locked(m.id, registration->coordinator_auth_keys));
    SATCHEL_TRY(tx->commit());
  }
  return Status::Ok();
}

Result<std::vector<MailboxRecord>> EmbeddedRelayStore::mailboxes() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("SELECT id, org_key, version, registration FROM mailboxes ORDER BY id");
  if (!st) return st.error();
  std::vector<MailboxRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    MailboxRecord m;
    m.id = st->text(0);
    if (!copy_key(st->blob(1), m.org.ed25519))
      return make_error(Errc::kIoError, "metadata damaged: mailbox organisation key");
    m.version = static_cast<uint64_t>(st->int64(2));
    m.registration = st->text(3);
    out.push_back(std::move(m));
  }
  return out;
}

// --- Credentials ---

Status EmbeddedRelayStore::add_enrollment_code(const EnrollmentCodeRecord& code) {
  std::lock_guard lock(mu_);
  // A minter's registration is checked in the insert itself, so that a registration stored since
  // the minter's session was checked (whose deletion this code would have escaped) refuses it.
  auto st = db_->prepare(
      "INSERT INTO credentials.enrollment_codes (hash, mailbox_id, code_id, expires_hour, minter) "
      "SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?5 IS NULL OR EXISTS "
      "(SELECT 1 FROM mailboxes WHERE id = ?2 AND version = ?6)");
  if (!st) return st.error();
  st->bind_blob(1, code.hash)
      .bind(2, code.mailbox)
      .bind(3, code.code_id)
      .bind(4, code.expires_at / 3600)
      .bind(6, static_cast<int64_t>(code.registration_version));
  if (code.minter)
    st->bind_blob(5, *code.minter);
  else
    st->bind_null(5);
  SATCHEL_TRY(st->run());
  if (db_->changes() == 0)
    return make_error(Errc::kDocRollback,
                      "the mailbox's registration changed while the code was minted");
  return Status::Ok();
}

Result<TokenRecord> EmbeddedRelayStore::redeem_enrollment_code(const Hash32& code_hash, int64_t now,
                                                               const Hash32& token_hash) {
  std::lock_guard lock(mu_);
  {
    // An unknown code (the usual failure, and a flood's) is answered from a read, without the
    // write transaction that would hold up other requests' commits.
    auto known = db_->prepare("SELECT 1 FROM credentials.enrollment_codes WHERE hash = ?1");
    if (!known) return known.error();
    known->bind_blob(1, code_hash);
    auto found = known->step();
    if (!found) return found.error();
    if (!*found) return make_error(Errc::kNotFound, "unknown enrollment code");
  }
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto st = db_->prepare(
      "SELECT hash, mailbox_id, code_id, expires_hour FROM credentials.enrollment_codes WHERE hash "
      "= ?1");
  if (!st) return st.error();
  st->bind_blob(1, code_hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row || !equal_in_constant_time(st->blob(0), code_hash))
    return make_error(Errc::kNotFound, "unknown enrollment code");
  TokenRecord token{st->text(1), st->text(2)};
  const bool expired = st->int64(3) * 3600 <= now;
  st = Statement();
  // The code is spent whether or not it was still valid: an expired one is removed here too.
  auto del = db_->prepare("DELETE FROM credentials.enrollment_codes WHERE hash = ?1");
  if (!del) return del.error();
  del->bind_blob(1, code_hash);
  SATCHEL_TRY(del->run());
  if (expired) {
    SATCHEL_TRY(tx->commit());
    return make_error(Errc::kNotFound, "enrollment code expired");
  }
  auto ins = db_->prepare(
      "INSERT INTO credentials.tokens (hash, mailbox_id, token_id) VALUES (?1, ?2, ?3)");
  if (!ins) return ins.error();
  ins->bind_blob(1, token_hash).bind(2, token.mailbox).bind(3, token.token_id);
  SATCHEL_TRY(ins->run());
  SATCHEL_TRY(tx->commit());
  return token;
}

Result<std::optional<TokenRecord>> EmbeddedRelayStore::token(const Hash32& token_hash) {
  std::lock_guard lock(mu_);
  auto st =
      db_->prepare("SELECT hash, mailbox_id, token_id FROM credentials.tokens WHERE hash = ?1");
  if (!st) return st.error();
  st->bind_blob(1, token_hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row || !equal_in_constant_time(st->blob(0), token_hash))
    return std::optional<TokenRecord>();
  return std::optional<TokenRecord>(TokenRecord{st->text(1), st->text(2)});
}

Result<size_t> EmbeddedRelayStore::revoke_tokens(std::string_view mailbox,
                                                 std::optional<std::string_view> token_id) {
  std::lock_guard lock(mu_);
  auto st =
      token_id
          ? db_->prepare("DELETE FROM credentials.tokens WHERE mailbox_id = ?1 AND token_id = ?2")
          : db_->prepare("DELETE FROM credentials.tokens WHERE mailbox_id = ?1");
  if (!st) return st.error();
  st->bind(1, mailbox);
  if (token_id) st->bind(2, *token_id);
  SATCHEL_TRY(st->run());
  return static_cast<size_t>(db_->changes());
}

Result<std::vector<std::string>> EmbeddedRelayStore::token_ids(std::string_view mailbox) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT token_id FROM credentials.tokens WHERE mailbox_id = ?1 ORDER BY token_id");
  if (!st) return st.error();
  st->bind(1, mailbox);
  std::vector<std::string> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(st->text(0));
  }
  return out;
}

// --- Published documents ---

Result<DocumentPutOutcome> EmbeddedRelayStore::put_document(std::string_view mailbox,
                                                            std::string_view name, ByteView content,
                                                            const DocumentQuota& quota) {
  std::lock_guard lock(documents_mu_);
  auto tx = Transaction::begin(*documents_db_);
  if (!tx) return tx.error();
  // What the mailbox holds besides the document this one replaces.
  auto held = documents_db_->prepare(
      "SELECT COUNT(*), COALESCE(SUM(length(content)), 0) FROM documents "
      "WHERE mailbox_id = ?1 AND name <> ?2");
  if (!held) return held.error();
  held->bind(1, mailbox).bind(2, name);
  auto row = held->step();
  if (!row) return row.error();
  const auto others = static_cast<uint64_t>(held->int64(0));
  const auto other_bytes = static_cast<uint64_t>(held->int64(1));
  held = Statement();
  if (quota.max_count != 0 && others + 1 > quota.max_count) return DocumentPutOutcome::kTooMany;
  if (quota.max_total_bytes != 0 && (content.size() > quota.max_total_bytes ||
                                     other_bytes > quota.max_total_bytes - content.size()))
    return DocumentPutOutcome::kOverQuota;
  auto st = documents_db_->prepare(
      "INSERT INTO documents (mailbox_id, name, content) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (mailbox_id, name) DO UPDATE SET content = excluded.content");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, name).bind_blob(3, content);
  SATCHEL_TRY(st->run());
  st = Statement();
  SATCHEL_TRY(tx->commit());
  return DocumentPutOutcome::kStored;
}

Result<bool> EmbeddedRelayStore::delete_document(std::string_view mailbox, std::string_view name) {
  std::lock_guard lock(documents_mu_);
  auto st = documents_db_->prepare("DELETE FROM documents WHERE mailbox_id = ?1 AND name = ?2");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, name);
  SATCHEL_TRY(st->run());
  return documents_db_->changes() > 0;
}

Result<std::vector<DocumentInfo>> EmbeddedRelayStore::documents(std::string_view mailbox) {
  std::lock_guard lock(documents_mu_);
  auto st = documents_db_->prepare(
      "SELECT name, length(content) FROM documents WHERE mailbox_id = ?1 ORDER BY name");
  if (!st) return st.error();
  st->bind(1, mailbox);
  std::vector<DocumentInfo> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(DocumentInfo{st->text(0), static_cast<uint64_t>(st->int64(1))});
  }
  return out;
}

Result<std::optional<Bytes>> EmbeddedRelayStore::document(std::string_view mailbox,
                                                          std::string_view name) {
  std::lock_guard lock(documents_mu_);
  auto st =
      documents_db_->prepare("SELECT content FROM documents WHERE mailbox_id = ?1 AND name = ?2");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, name);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Bytes>();
  const ByteView b = st->blob(0);
  return std::optional<Bytes>(Bytes(b.begin(), b.end()));
}

// --- Housekeeping ---

Result<Day> EmbeddedRelayStore::retention_since(uint32_t days, Day today) {
  std::lock_guard lock(mu_);
  if (days == 0) {
    SATCHEL_TRY(db_->exec("DELETE FROM meta WHERE key IN ('retention_days', 'retention_since')"));
    return Day{0};
  }
  auto st = db_->prepare(
      "SELECT (SELECT value FROM meta WHERE key = 'retention_days'), "
      "(SELECT value FROM meta WHERE key = 'retention_since')");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (*row && st->int64(0) == static_cast<int64_t>(days)) return Day{st->int64(1)};
  st = Statement();
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  auto put = db_->prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  if (!put) return put.error();
  put->bind(1, std::string_view("retention_days")).bind(2, static_cast<int64_t>(days));
  SATCHEL_TRY(put->run());
  auto put2 = db_->prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  if (!put2) return put2.error();
  put2->bind(1, std::string_view("retention_since")).bind(2, today);
  SATCHEL_TRY(put2->run());
  SATCHEL_TRY(tx->commit());
  return today;
}

}  // namespace satchel::relay
