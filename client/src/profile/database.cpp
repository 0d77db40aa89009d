#include "satchel/client/database.h"

#include <sodium.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "migrations.h"

namespace satchel::client {

SecretBytes sqlcipher_raw_key(const SecretBytes& key) {
  SecretBytes s(4 + key.size() * 2);  // x' hex ' NUL: exactly 67 characters for 32 bytes
  s.data()[0] = 'x';
  s.data()[1] = '\'';
  sodium_bin2hex(reinterpret_cast<char*>(s.data() + 2), key.size() * 2 + 1, key.data(), key.size());
  s.data()[2 + key.size() * 2] = '\'';
  s.data()[3 + key.size() * 2] = '\0';
  return s;
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
  auto c = sqlite::Connection::open(path, SQLITE_OPEN_READWRITE, "database");
  if (!c) return c.error();
  Database db(std::move(*c));
  sqlite3* raw = db.handle();
  SecretBytes k = sqlcipher_raw_key(key);
  if (sqlite3_key_v2(raw, "main", k.data(), static_cast<int>(k.size() - 1)) != SQLITE_OK)
    return sqlite::sqlite_error(raw, "cannot key database");
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
  st->bind(2, key_text);  // SQLITE_TRANSIENT copy, freed (and wiped) when the statement is released
  SATCHEL_TRY(st->run());
  st->release();
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
    auto tx = Transaction::begin(*this);
    if (!tx) return tx.error();
    SATCHEL_TRY(exec(kMigrations[v].sql));
    char sql[64];
    std::snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", v + 1);
    SATCHEL_TRY(exec(sql));
    SATCHEL_TRY(tx->commit());
  }
  return Status::Ok();
}

}  // namespace satchel::client
