// SQLite access for the embedded store, and the metadata schema (schema/relay-api.md, "What the
// relay keeps", describes each table).
#include "store/embedded/metadata_db.h"

#include <unistd.h>

namespace satchel::relay {

namespace {

// Days and sizes only: no column holds a precise time, an address or a token. Credentials (token
// and code hashes) are in kCredentialSchema, a database file of its own.
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
-- Coordinators that declared a stored upload not theirs (no slot of the bundle opens for
-- them): each lowers the number of acknowledgements that delivers it (acknowledgements_required).
CREATE TABLE IF NOT EXISTS declines (
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

// tokens.db, attached as `credentials`: token and enrollment-code hashes. A file (and a WAL) of its
// own, so that no WAL holds a token's row beside the upload rows committed after it. Mailbox ids
// are not foreign keys (SQLite has none across files); a mailbox is never deleted.
// minter: the coordinator key that minted an unredeemed code (NULL: the operator's). The row is
// deleted at redemption, so no row ever links a token to the coordinator that minted its code.
constexpr const char* kCredentialSchema = R"sql(
CREATE TABLE IF NOT EXISTS credentials.tokens (
  hash BLOB PRIMARY KEY,
  mailbox_id TEXT NOT NULL,
  token_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credentials.enrollment_codes (
  hash BLOB PRIMARY KEY,
  mailbox_id TEXT NOT NULL,
  code_id TEXT NOT NULL,
  expires_hour INTEGER NOT NULL,
  minter BLOB
) WITHOUT ROWID;
)sql";

// Whether `schema` holds a table named `table`.
Result<bool> has_table(MetadataDb& db, std::string_view schema, std::string_view table) {
  const std::string sql =
      "SELECT 1 FROM " + std::string(schema) + ".sqlite_master WHERE type = 'table' AND name = ?1";
  auto st = db.prepare(sql.c_str());
  if (!st) return st.error();
  st->bind(1, table);
  auto row = st->step();
  if (!row) return row.error();
  return static_cast<bool>(*row);
}

// Databases made before tokens.db kept both credential tables in relay.db: their rows move into
// tokens.db (one commit), then the tables are dropped from relay.db (a second commit: WAL mode
// makes no commit atomic across files, and a crash in between only repeats the idempotent copy).
// The old rows' pages are overwritten in relay.db (secure_delete) and its WAL truncated; frames of
// older WALs may remain in the file system's free blocks (SECURITY.md).
Status move_credentials_out(MetadataDb& db) {
  auto tokens = has_table(db, "main", "tokens");
  if (!tokens) return tokens.error();
  auto codes = has_table(db, "main", "enrollment_codes");
  if (!codes) return codes.error();
  if (!*tokens && !*codes) return Status::Ok();
  std::string inserts;
  if (*tokens)
    inserts +=
        "INSERT OR IGNORE INTO credentials.tokens (hash, mailbox_id, token_id) "
        "SELECT hash, mailbox_id, token_id FROM main.tokens;";
  if (*codes) {
    auto st = db.prepare(
        "SELECT 1 FROM pragma_table_info('enrollment_codes', 'main') "
        "WHERE name = 'minter'");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    const bool has_minter = *row;
    st = Statement();
    inserts += std::string(
                   "INSERT OR IGNORE INTO credentials.enrollment_codes "
                   "(hash, mailbox_id, code_id, expires_hour, minter) "
                   "SELECT hash, mailbox_id, code_id, expires_hour, ") +
               (has_minter ? "minter" : "NULL") + " FROM main.enrollment_codes;";
  }
  const std::string copy = "BEGIN IMMEDIATE;" + inserts + "COMMIT;";
  if (Status s = db.exec(copy.c_str()); !s) {
    (void)db.exec("ROLLBACK");
    return s.error();
  }
  // The drop copies again under the same write lock: a token that a relay of the previous
  // version redeemed between the two commits (an operator command migrating beside it) moves
  // too instead of being dropped.
  std::string drop = "BEGIN IMMEDIATE;" + inserts;
  if (*tokens) drop += "DROP TABLE main.tokens;";
  if (*codes) drop += "DROP TABLE main.enrollment_codes;";
  drop += "COMMIT;";
  if (Status s = db.exec(drop.c_str()); !s) {
    (void)db.exec("ROLLBACK");
    // Another process may have finished the move first.
    auto still = has_table(db, "main", *tokens ? "tokens" : "enrollment_codes");
    if (!still || *still) return s.error();
  }
  // Busy (another process reads relay.db): the hourly housekeeping truncates the WAL instead.
  if (Status s = db.checkpoint_truncate(); !s && sqlite3_errcode(db.handle()) != SQLITE_BUSY)
    return s.error();
  return Status::Ok();
}

// Recomputed whenever the database is opened: the triggers keep it from there.
constexpr const char* kRecountUsage = R"sql(
BEGIN IMMEDIATE;
DELETE FROM mailbox_usage;
INSERT INTO mailbox_usage (mailbox_id, bytes)
  SELECT mailbox_id, SUM(length) FROM uploads GROUP BY mailbox_id;
COMMIT;
)sql";

}  // namespace

std::string MetadataDb::credentials_path(const std::string& path) {
  const size_t slash = path.rfind('/');
  return (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "tokens.db";
}

Result<MetadataDb> MetadataDb::open(const std::string& path) {
  auto c = sqlite::Connection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                    "metadata database");
  if (!c) return c.error();
  MetadataDb db(std::move(*c));
  sqlite3_busy_timeout(db.handle(), 10000);
  SATCHEL_TRY(db.exec("PRAGMA temp_store = MEMORY"));
  // A relay.db whose credentials already live in tokens.db must find that file: ATTACH would
  // otherwise create an empty one, and every device would be refused as unknown.
  if (auto meta = has_table(db, "main", "meta"); !meta) {
    return meta.error();
  } else if (*meta) {
    auto st = db.prepare("SELECT 1 FROM meta WHERE key = 'credentials_in_tokens_db'");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    if (*row && ::access(credentials_path(path).c_str(), F_OK) != 0)
      return make_error(Errc::kIoError,
                        credentials_path(path) +
                            " is missing: it holds the devices' tokens and enrollment codes; "
                            "restore it together with relay.db");
  }
  {
    auto attach = db.prepare("ATTACH DATABASE ?1 AS credentials");
    if (!attach) return attach.error();
    attach->bind(1, credentials_path(path));
    SATCHEL_TRY(attach->run());
  }
  for (const char* schema : {"main", "credentials"}) {
    const std::string s(schema);
    for (const char* pragma : {".secure_delete = ON", ".journal_mode = WAL", ".synchronous = FULL"})
      SATCHEL_TRY(db.exec(("PRAGMA " + s + pragma).c_str()));
  }
  SATCHEL_TRY(db.exec("PRAGMA foreign_keys = ON"));
  SATCHEL_TRY(db.exec(kSchema));
  SATCHEL_TRY(db.exec(kCredentialSchema));
  SATCHEL_TRY(move_credentials_out(db));
  SATCHEL_TRY(
      db.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('credentials_in_tokens_db', 1)"));
  if (Status s = db.exec(kRecountUsage); !s) {
    (void)db.exec("ROLLBACK");
    return s.error();
  }
  return db;
}

Status MetadataDb::checkpoint_truncate() {
  int log = 0, done = 0;
  if (sqlite3_wal_checkpoint_v2(handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done) !=
      SQLITE_OK)
    return sqlite::sqlite_error(handle(), "checkpoint failed");
  return Status::Ok();
}

Status MetadataDb::checkpoint_passive() {
  if (sqlite3_wal_checkpoint_v2(handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) !=
      SQLITE_OK)
    return sqlite::sqlite_error(handle(), "checkpoint failed");
  return Status::Ok();
}

}  // namespace satchel::relay
