// The relay's metadata database: SQLite through libsqlcipher (never libsqlite3 beside it),
// deliberately unkeyed — it holds no secrets, only hashes, sizes and days. Commits are durable
// (WAL, synchronous=FULL) before a call returns; deleted rows are overwritten (secure_delete).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel::relay {

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
  // Steps once: true when a row is available, false when done.
  Result<bool> step();
  // Steps to completion, expecting no row.
  Status run();
  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text(int col) const;
  ByteView blob(int col) const;
  // Rewinds the statement and clears its bindings, for the next row of a loop.
  void reset();

 private:
  sqlite3_stmt* s_ = nullptr;
};

class MetadataDb {
 public:
  // Opens (creating if needed) the database at `path`, applies the durability pragmas and
  // creates the schema. kIoError if the file cannot be opened or is not a relay database.
  static Result<MetadataDb> open(const std::string& path);
  MetadataDb(MetadataDb&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  MetadataDb& operator=(MetadataDb&& o) noexcept;
  MetadataDb(const MetadataDb&) = delete;
  MetadataDb& operator=(const MetadataDb&) = delete;
  ~MetadataDb();

  Status exec(const char* sql);
  Result<Statement> prepare(const char* sql);
  // Whether a transaction is open (SQLite rolls one back by itself after some I/O errors).
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const { return sqlite3_changes64(db_); }
  // Copies the WAL into the database and truncates it, so deleted rows leave no old frames.
  Status checkpoint_truncate();

 private:
  explicit MetadataDb(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE … COMMIT; rolls back on destruction unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(MetadataDb& db);
  Transaction(Transaction&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  // Commits durably (synchronous=FULL); on failure the transaction is rolled back.
  Status commit();

 private:
  explicit Transaction(MetadataDb* db) : db_(db) {}
  MetadataDb* db_ = nullptr;
};

}  // namespace satchel::relay
