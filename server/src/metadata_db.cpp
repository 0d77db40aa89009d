// SQLite access for the embedded store, and the metadata schema (schema/relay-api.md, "What the
// relay keeps", describes each table).
#include "metadata_db.h"

#include "satchel/relay/file_ops.h"

namespace satchel::relay {

namespace {

Error db_error(sqlite3* db, const std::string& what) {
  const int rc = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
  std::string message = what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  if (rc == SQLITE_FULL) message = std::string(kDiskFullPrefix) + message;
  Error e = make_error(Errc::kIoError, std::move(message));
  if (rc == SQLITE_CONSTRAINT) e.code = Errc::kAlreadyExists;
  return e;
}

// Days and sizes only: no column holds a precise time, an address or a token.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mailboxes (
  id TEXT PRIMARY KEY,
  org_key BLOB NOT NULL,
  version INTEGER NOT NULL,
  registration TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
  hash BLOB PRIMARY KEY,
  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
  token_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS enrollment_codes (
  hash BLOB PRIMARY KEY,
  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
  code_id TEXT NOT NULL,
  expires_hour INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
  id BLOB NOT NULL,
  length INTEGER NOT NULL,
  committed INTEGER NOT NULL,
  state INTEGER NOT NULL,
  day INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS acknowledgements (
  mailbox_id TEXT NOT NULL,
  upload_id BLOB NOT NULL,
  coordinator_key BLOB NOT NULL,
  PRIMARY KEY (mailbox_id, upload_id, coordinator_key),
  FOREIGN KEY (mailbox_id, upload_id) REFERENCES uploads(mailbox_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (
  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
  id BLOB NOT NULL,
  length INTEGER NOT NULL,
  until_day INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
  name TEXT NOT NULL,
  content BLOB NOT NULL,
  PRIMARY KEY (mailbox_id, name)
) WITHOUT ROWID;
-- Where the bytes of a small upload stored whole in one request are, instead of a data file of
-- its own (EmbeddedStoreOptions::inline_max_bytes): `length` (the upload's) bytes at `offset` of
-- packs/<pack>.pack. Inserted in the commit that records the upload stored, deleted with it.
CREATE TABLE IF NOT EXISTS upload_packs (
  mailbox_id TEXT NOT NULL,
  upload_id BLOB NOT NULL,
  pack INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, upload_id),
  FOREIGN KEY (mailbox_id, upload_id) REFERENCES uploads(mailbox_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS upload_packs_by_pack ON upload_packs (pack, offset);
-- The declared bytes of each mailbox's uploads (partial and stored), kept by triggers in the
-- transaction that changes `uploads` (an upload's length never changes), so that the quota
-- check of a creation reads one row instead of summing every upload.
CREATE TABLE IF NOT EXISTS mailbox_usage (
  mailbox_id TEXT PRIMARY KEY,
  bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS uploads_usage_insert AFTER INSERT ON uploads BEGIN
  INSERT INTO mailbox_usage (mailbox_id, bytes) VALUES (NEW.mailbox_id, NEW.length)
    ON CONFLICT (mailbox_id) DO UPDATE SET bytes = bytes + NEW.length;
END;
CREATE TRIGGER IF NOT EXISTS uploads_usage_delete AFTER DELETE ON uploads BEGIN
  UPDATE mailbox_usage SET bytes = bytes - OLD.length WHERE mailbox_id = OLD.mailbox_id;
END;
)sql";

// Recomputed whenever the database is opened: the triggers keep it from there.
constexpr const char* kRecountUsage = R"sql(
BEGIN IMMEDIATE;
DELETE FROM mailbox_usage;
INSERT INTO mailbox_usage (mailbox_id, bytes)
  SELECT mailbox_id, SUM(length) FROM uploads GROUP BY mailbox_id;
COMMIT;
)sql";

}  // namespace

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    release();
    s_ = std::exchange(o.s_, nullptr);
    cache_ = std::exchange(o.cache_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  release();
}

void Statement::release() {
  if (!s_) return;
  if (cache_)
    cache_->give_back(s_);
  else
    sqlite3_finalize(s_);
  s_ = nullptr;
}

StatementCache::~StatementCache() {
  for (auto& [sql, e] : by_sql_) sqlite3_finalize(e.stmt);
}

sqlite3_stmt* StatementCache::take(const std::string& sql) {
  auto it = by_sql_.find(sql);
  if (it == by_sql_.end() || it->second.in_use) return nullptr;
  it->second.in_use = true;
  return it->second.stmt;
}

void StatementCache::add(const std::string& sql, sqlite3_stmt* s) {
  by_sql_.emplace(sql, Entry{s, true});
  sql_of_.emplace(s, sql);
}

void StatementCache::give_back(sqlite3_stmt* s) {
  // Reset ends the statement's read of the database (a stepped statement holds its snapshot).
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  by_sql_.at(sql_of_.at(s)).in_use = false;
}

Statement& Statement::bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}

Statement& Statement::bind(int i, std::string_view text) {
  sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_blob(int i, ByteView blob) {
  static const uint8_t kEmpty = 0;  // a zero-length blob must stay a blob, not NULL
  sqlite3_bind_blob(s_, i, blob.empty() ? &kEmpty : blob.data(), static_cast<int>(blob.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(sqlite3_db_handle(s_), "database error");
}

Status Statement::run() {
  auto r = step();
  if (!r) return r.error();
  return Status::Ok();
}

std::string Statement::text(int col) const {
  const unsigned char* t = sqlite3_column_text(s_, col);
  const int n = sqlite3_column_bytes(s_, col);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(n)) : std::string();
}

ByteView Statement::blob(int col) const {
  const void* b = sqlite3_column_blob(s_, col);
  const int n = sqlite3_column_bytes(s_, col);
  return b ? ByteView(static_cast<const uint8_t*>(b), static_cast<size_t>(n)) : ByteView();
}

void Statement::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

MetadataDb& MetadataDb::operator=(MetadataDb&& o) noexcept {
  if (this != &o) {
    cache_.reset();
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    cache_ = std::move(o.cache_);
  }
  return *this;
}

MetadataDb::~MetadataDb() {
  cache_.reset();
  if (db_) sqlite3_close_v2(db_);
}

Result<MetadataDb> MetadataDb::open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  MetadataDb db(raw);
  if (rc != SQLITE_OK) return db_error(raw, "cannot open metadata database " + path);
  sqlite3_busy_timeout(raw, 10000);
  SATCHEL_TRY(db.exec("PRAGMA temp_store = MEMORY"));
  SATCHEL_TRY(db.exec("PRAGMA secure_delete = ON"));
  SATCHEL_TRY(db.exec("PRAGMA journal_mode = WAL"));
  SATCHEL_TRY(db.exec("PRAGMA synchronous = FULL"));
  SATCHEL_TRY(db.exec("PRAGMA foreign_keys = ON"));
  SATCHEL_TRY(db.exec(kSchema));
  if (Status s = db.exec(kRecountUsage); !s) {
    (void)db.exec("ROLLBACK");
    return s.error();
  }
  return db;
}

Status MetadataDb::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    sqlite3_free(msg);
    return db_error(db_, "database error");
  }
  return Status::Ok();
}

Result<Statement> MetadataDb::prepare(const char* sql) {
  const std::string text(sql);
  if (sqlite3_stmt* cached = cache_->take(text)) return Statement(cached, cache_.get());
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    return db_error(db_, "cannot prepare statement");
  // The first statement for this text is kept; a second one, prepared while the first is in
  // use, is the caller's alone.
  if (!cache_->contains(text)) {
    cache_->add(text, s);
    return Statement(s, cache_.get());
  }
  return Statement(s);
}

Status MetadataDb::checkpoint_truncate() {
  int log = 0, done = 0;
  if (sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &done) != SQLITE_OK)
    return db_error(db_, "checkpoint failed");
  return Status::Ok();
}

Status MetadataDb::checkpoint_passive() {
  if (sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) !=
      SQLITE_OK)
    return db_error(db_, "checkpoint failed");
  return Status::Ok();
}

Result<Transaction> Transaction::begin(MetadataDb& db) {
  SATCHEL_TRY(db.exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  MetadataDb* db = std::exchange(db_, nullptr);
  Status s = db->exec("COMMIT");
  if (!s) (void)db->exec("ROLLBACK");
  return s;
}

}  // namespace satchel::relay
