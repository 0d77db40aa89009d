// An SQLCipher 4 database keyed with a raw 32-byte key, with the hardening pragmas Satchel
// requires, prepared statements, transactions and versioned migrations (schema/client/*.sql).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel::client {

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  Statement(Statement&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int i, int64_t v);
  Statement& bind(int i, std::string_view text);
  Statement& bind_blob(int i, ByteView blob);
  Statement& bind_null(int i);
  // Steps once: true if a row is available, false when done; an error as a Status.
  Result<bool> step();
  // Steps to completion expecting no row.
  Status run();
  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text(int col) const;
  ByteView blob(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  void reset();

 private:
  sqlite3_stmt* s_ = nullptr;
};

class Database {
 public:
  // Opens the database at path with a raw key (never a passphrase: the key string is exactly
  // x'<64 hex>' so SQLCipher skips PBKDF2), applies the pragmas and runs pending migrations.
  // A wrong key is kIoError "cannot unlock"; create=false refuses a missing file.
  static Result<Database> open(const std::string& path, const SecretBytes& key, bool create);
  Database(Database&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  Database& operator=(Database&& o) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Closes the connection now (the object is then unusable until reassigned).
  void close();
  Status exec(const char* sql);
  Result<Statement> prepare(const char* sql);
  Status begin() { return exec("BEGIN IMMEDIATE"); }
  Status commit() { return exec("COMMIT"); }
  void rollback() { (void)exec("ROLLBACK"); }
  // Copies the whole database into a new file under a new raw key (sqlcipher_export).
  Status export_to(const std::string& path, const SecretBytes& new_key);
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  int schema_version();
  sqlite3* handle() { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  Status migrate();
  sqlite3* db_ = nullptr;
};

// Rolls back unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  Status begin() {
    Status s = db_.begin();
    active_ = s.ok();
    return s;
  }
  Status commit() {
    Status s = db_.commit();
    if (s) active_ = false;
    return s;
  }
  ~Transaction() {
    if (active_) db_.rollback();
  }

 private:
  Database& db_;
  bool active_ = false;
};

// Builds the SQLCipher raw-key string x'<64 hex>' in secret memory (exposed for the test that
// proves the raw path is taken).
SecretBytes sqlcipher_raw_key(const SecretBytes& key);

}  // namespace satchel::client
