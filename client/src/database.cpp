#include "satchel/client/database.h"

#include <sodium.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "migrations.h"

namespace satchel::client {

namespace {
Error db_error(sqlite3* db, const std::string& what) {
  return make_error(Errc::kIoError, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}
}  // namespace

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (s_) sqlite3_finalize(s_);
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  if (s_) sqlite3_finalize(s_);
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
  // A zero-length blob must still be a blob, not NULL.
  static const uint8_t kEmpty = 0;
  sqlite3_bind_blob(s_, i, blob.empty() ? &kEmpty : blob.data(), static_cast<int>(blob.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(s_);
  Error e = db_error(db, "database error");
  if (rc == SQLITE_FULL) e.message = "disk full: " + e.message;
  if (rc == SQLITE_CONSTRAINT) e.code = Errc::kAlreadyExists;
  return e;
}

Status Statement::run() {
  auto r = step();
  if (!r) return r.error();
  return Status::Ok();
}

std::string Statement::text(int col) const {
  const unsigned char* t = sqlite3_column_text(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(n)) : std::string();
}

ByteView Statement::blob(int col) const {
  const void* b = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return b ? ByteView(static_cast<const uint8_t*>(b), static_cast<size_t>(n)) : ByteView();
}

void Statement::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

SecretBytes sqlcipher_raw_key(const SecretBytes& key) {
  SecretBytes s(4 + key.size() * 2);  // x' hex ' NUL: exactly 67 characters for 32 bytes
  s.data()[0] = 'x';
  s.data()[1] = '\'';
  sodium_bin2hex(reinterpret_cast<char*>(s.data() + 2), key.size() * 2 + 1, key.data(), key.size());
  s.data()[2 + key.size() * 2] = '\'';
  s.data()[3 + key.size() * 2] = '\0';
  return s;
}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Database::~Database() {
  close();
}

void Database::close() {
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Result<Database> Database::open(const std::string& path, const SecretBytes& key, bool create) {
  if (key.size() != 32) return make_error(Errc::kInvalidArgument, "database key must be 32 bytes");
  if (create) {
    // Created here with mode 0600, so that SQLite gives its journal the same mode.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
      return make_error(Errc::kIoError, "cannot create " + path + ": " + std::strerror(errno));
    ::close(fd);
  }
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw);
  if (rc != SQLITE_OK) return db_error(raw, "cannot open database " + path);
  SecretBytes k = sqlcipher_raw_key(key);
  if (sqlite3_key_v2(raw, "main", k.data(), static_cast<int>(k.size() - 1)) != SQLITE_OK)
    return db_error(raw, "cannot key database");
  // Order matters: the log level only sticks after keying (a wrong key would otherwise print
  // "hmac check failed" on stderr).
  SATCHEL_TRY(db.exec("PRAGMA cipher_log_level = NONE"));
  SATCHEL_TRY(db.exec("PRAGMA cipher_memory_security = ON"));
  // One process at a time, and a rollback journal that is kept (its header zeroed after each
  // commit) rather than created and unlinked: opening and closing the profile create, remove and
  // write no file, so the directory's and the files' times do not record each unlock
  // (schema/client-database.md, "Database keying and settings").
  SATCHEL_TRY(db.exec("PRAGMA locking_mode = EXCLUSIVE"));
  if (sqlite3_exec(raw, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    if (sqlite3_errcode(raw) == SQLITE_BUSY)
      return make_error(Errc::kIoError, "the profile is in use by another satchel process");
    return make_error(Errc::kIoError, "cannot unlock the database (wrong key or damaged file)");
  }
  SATCHEL_TRY(db.exec("PRAGMA temp_store = MEMORY"));
  // Deleted drafts and outbox entries are unreadable once their keys are destroyed (the
  // keyring), so freed pages need not be zeroed; FAST still clears cells within their pages.
  SATCHEL_TRY(db.exec("PRAGMA secure_delete = FAST"));
  SATCHEL_TRY(db.exec("PRAGMA journal_mode = PERSIST"));
  SATCHEL_TRY(db.exec("PRAGMA journal_size_limit = 67108864"));
  SATCHEL_TRY(db.exec("PRAGMA synchronous = FULL"));
  SATCHEL_TRY(db.exec("PRAGMA foreign_keys = ON"));
  sqlite3_busy_timeout(raw, 5000);
  SATCHEL_TRY(db.migrate());
  return db;
}

Status Database::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "unknown error";
    sqlite3_free(msg);
    Error e = make_error(Errc::kIoError, "database error: " + m);
    if (sqlite3_errcode(db_) == SQLITE_FULL) e.message = "disk full: " + m;
    return e;
  }
  return Status::Ok();
}

Result<Statement> Database::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK)
    return db_error(db_, "cannot prepare statement");
  return Statement(s);
}

Status Database::export_to(const std::string& path, const SecretBytes& new_key) {
  // ATTACH cannot create files on a connection opened without SQLITE_OPEN_CREATE: create an empty
  // one (private, and refusing to reuse a leftover).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(Errc::kIoError, "cannot create " + path + ": " + std::strerror(errno));
  ::close(fd);
  SecretBytes k = sqlcipher_raw_key(new_key);
  // ATTACH takes the key as a bound parameter, so it never appears in SQL text.
  auto st = prepare("ATTACH DATABASE ?1 AS rekeyed KEY ?2");
  if (!st) return st.error();
  st->bind(1, path);
  std::string_view key_text(reinterpret_cast<const char*>(k.data()), k.size() - 1);
  st->bind(2, key_text);  // SQLITE_TRANSIENT copy lives in SQLite's memory until the statement ends
  SATCHEL_TRY(st->run());
  *st = Statement();
  Status s = exec("SELECT sqlcipher_export('rekeyed')");
  if (s) {
    char sql[64];
    std::snprintf(sql, sizeof sql, "PRAGMA rekeyed.user_version = %d", schema_version());
    s = exec(sql);
  }
  (void)exec("DETACH DATABASE rekeyed");
  return s;
}

int Database::schema_version() {
  auto st = prepare("PRAGMA user_version");
  if (!st) return -1;
  auto r = st->step();
  return r && *r ? static_cast<int>(st->int64(0)) : -1;
}

Status Database::migrate() {
  int current = schema_version();
  if (current < 0) return make_error(Errc::kIoError, "cannot read the schema version");
  if (current > static_cast<int>(kMigrationCount))
    return make_error(Errc::kIoError, "profile was written by a newer Satchel (schema " +
                                          std::to_string(current) + "); upgrade Satchel");
  for (size_t v = static_cast<size_t>(current); v < kMigrationCount; v++) {
    Transaction tx(*this);
    SATCHEL_TRY(tx.begin());
    SATCHEL_TRY(exec(kMigrations[v].sql));
    char sql[64];
    std::snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", v + 1);
    SATCHEL_TRY(exec(sql));
    SATCHEL_TRY(tx.commit());
  }
  return Status::Ok();
}

}  // namespace satchel::client
