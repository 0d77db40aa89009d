// One SQLite connection (libsqlcipher, never libsqlite3 beside it) with cached prepared
// statements, and Transaction. Keying, pragmas and schemas belong to each database's own
// class (satchel::client::Database, satchel::relay::MetadataDb), built on this one.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "satchel/crypto/status.h"
#include "satchel/sqlite/statement.h"

namespace satchel::sqlite {

class Connection {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is added: a connection is
  // used by one thread at a time). kIoError naming `what` and the path if it cannot be opened.
  static Result<Connection> open(const std::string& path, int flags, const std::string& what);
  Connection() = default;
  Connection(Connection&& o) noexcept;
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Finalizes the cached statements and closes the connection now (no Statement of it may be
  // alive); the object is then unusable until reassigned.
  void close();
  bool is_open() const { return db_ != nullptr; }
  // Runs one or more statements of SQL text.
  Status exec(const char* sql);
  // A statement for `sql`, prepared once per connection and reused (StatementCache). Only for
  // SQL text of which there are few: never text built from data.
  Result<Statement> prepare(const char* sql);
  // Runs one statement through the cache (prepare + run): for statements run often.
  Status run(const char* sql);
  // Whether a transaction is open (SQLite rolls one back by itself after some I/O errors).
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const { return sqlite3_changes64(db_); }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  // The connection, for SQLite calls this class does not wrap (keying, hooks, checkpoints).
  sqlite3* handle() const { return db_; }

 protected:
  explicit Connection(sqlite3* db) : db_(db), cache_(std::make_unique<StatementCache>()) {}

 private:
  sqlite3* db_ = nullptr;
  std::unique_ptr<StatementCache> cache_;  // finalized before the connection is closed
};

// BEGIN IMMEDIATE … COMMIT; rolled back on destruction unless committed. Begun while another
// transaction is open, it is a SAVEPOINT inside it instead: its commit releases the savepoint
// (durable only when the outer transaction commits), its destruction undoes only its own
// changes. This lets a caller group many units of work, each written as a Transaction, into
// one durable commit.
class Transaction {
 public:
  static Result<Transaction> begin(Connection& db);
  Transaction(Transaction&& o) noexcept : db_(std::exchange(o.db_, nullptr)), nested_(o.nested_) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  // Commits (durably when the database's synchronous setting says so) or releases the
  // savepoint; on failure the transaction (or the savepoint's changes) is rolled back.
  Status commit();
  // Whether this transaction is a savepoint inside another.
  bool nested() const { return nested_; }

 private:
  Transaction(Connection* db, bool nested) : db_(db), nested_(nested) {}
  Connection* db_ = nullptr;
  bool nested_ = false;
};

}  // namespace satchel::sqlite
