// The relay's metadata database: SQLite through libsqlcipher (never libsqlite3 beside it),
// deliberately unkeyed — it holds no secrets, only hashes, sizes and days. Commits are durable
// (WAL, synchronous=FULL) before a call returns; deleted rows are overwritten (secure_delete).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel::relay {

class StatementCache;

class Statement {
 public:
  Statement() = default;
  // Owns `s` (finalized at the end), or, with `cache`, borrows it from there (reset and
  // returned at the end).
  explicit Statement(sqlite3_stmt* s, StatementCache* cache = nullptr) : s_(s), cache_(cache) {}
  Statement(Statement&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)), cache_(std::exchange(o.cache_, nullptr)) {}
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
  void release();
  sqlite3_stmt* s_ = nullptr;
  StatementCache* cache_ = nullptr;
};

// Prepared statements kept for reuse, by SQL text: preparing is a large part of a simple
// query's cost. A statement in use is not handed out twice (a second user gets a fresh one).
class StatementCache {
 public:
  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  ~StatementCache();
  // The cached statement for `sql` if it is free, else nullptr.
  sqlite3_stmt* take(const std::string& sql);
  bool contains(const std::string& sql) const { return by_sql_.count(sql) != 0; }
  // Keeps `s` (prepared from `sql`, in use by the caller) for reuse.
  void add(const std::string& sql, sqlite3_stmt* s);
  // Returns a statement taken from this cache, reset and unbound.
  void give_back(sqlite3_stmt* s);

 private:
  struct Entry {
    sqlite3_stmt* stmt;
    bool in_use;
  };
  std::unordered_map<std::string, Entry> by_sql_;
  std::unordered_map<sqlite3_stmt*, std::string> sql_of_;
};

class MetadataDb {
 public:
  // Opens (creating if needed) the database at `path`, applies the durability pragmas and
  // creates the schema. kIoError if the file cannot be opened or is not a relay database.
  static Result<MetadataDb> open(const std::string& path);
  MetadataDb(MetadataDb&& o) noexcept
      : db_(std::exchange(o.db_, nullptr)), cache_(std::move(o.cache_)) {}
  MetadataDb& operator=(MetadataDb&& o) noexcept;
  MetadataDb(const MetadataDb&) = delete;
  MetadataDb& operator=(const MetadataDb&) = delete;
  ~MetadataDb();

  Status exec(const char* sql);
  // A statement for `sql`, prepared once per connection and reused (see StatementCache).
  Result<Statement> prepare(const char* sql);
  // Whether a transaction is open (SQLite rolls one back by itself after some I/O errors).
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const { return sqlite3_changes64(db_); }
  // Copies the WAL into the database and truncates it, so deleted rows leave no old frames.
  Status checkpoint_truncate();
  // Copies what it can of the WAL into the database without waiting for readers or writers.
  Status checkpoint_passive();
  // The connection, for hooks (WalCheckpointer).
  sqlite3* handle() const { return db_; }

 private:
  explicit MetadataDb(sqlite3* db) : db_(db), cache_(std::make_unique<StatementCache>()) {}
  sqlite3* db_ = nullptr;
  std::unique_ptr<StatementCache> cache_;  // finalized before the connection is closed
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
