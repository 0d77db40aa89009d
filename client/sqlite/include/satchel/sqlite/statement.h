// A prepared SQLite statement: bind, step, read columns. Owned (finalized at the end) or borrowed
// from a Connection's StatementCache (reset, unbound and returned at the end).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel::sqlite {

// The Error for a failed SQLite call on `db`: kIoError with "what: <SQLite's message>",
// prefixed "disk full: " for SQLITE_FULL; kAlreadyExists for a constraint violation.
Error sqlite_error(sqlite3* db, const std::string& what);

class StatementCache;

class Statement {
 public:
  Statement() = default;
  // Owns `s`, or, with `cache`, borrows it from there.
  explicit Statement(sqlite3_stmt* s, StatementCache* cache = nullptr) : s_(s), cache_(cache) {}
  Statement(Statement&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)), cache_(std::exchange(o.cache_, nullptr)) {}
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binders copy their argument (SQLITE_TRANSIENT); a zero-length blob stays a blob, not NULL.
  Statement& bind(int i, int64_t v);
  Statement& bind(int i, std::string_view text);
  Statement& bind_blob(int i, ByteView blob);
  Statement& bind_null(int i);
  // Steps once: true when a row is available, false when done; an error as sqlite_error.
  Result<bool> step();
  // Steps to completion, expecting no row.
  Status run();
  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text(int col) const;
  // Valid until the next step, reset or the end of the statement.
  ByteView blob(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  // Rewinds the statement and clears its bindings, for the next row of a loop.
  void reset();
  // Ends this use now: a borrowed statement goes back to its cache, an owned one is finalized.
  void release();

 private:
  sqlite3_stmt* s_ = nullptr;
  StatementCache* cache_ = nullptr;
};

// Prepared statements kept for reuse, by SQL text: preparing is most of a simple query's cost
// (more so with SQLCipher's memory security, which locks and wipes every allocation). A
// statement in use is not handed out twice (a second user gets one of its own).
class StatementCache {
 public:
  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  // Finalizes every cached statement; none may be borrowed then.
  ~StatementCache();
  // The cached statement for `sql` if it is free (now marked in use), else nullptr.
  sqlite3_stmt* take(const std::string& sql);
  bool contains(const std::string& sql) const { return by_sql_.count(sql) != 0; }
  // Keeps `s` (prepared from `sql`, in use by the caller) for reuse.
  void add(const std::string& sql, sqlite3_stmt* s);
  // Takes back a statement handed out by this cache, reset and unbound (a stepped statement
  // holds its read of the database until reset; unbinding frees copies of bound values).
  void give_back(sqlite3_stmt* s);

 private:
  struct Entry {
    sqlite3_stmt* stmt;
    bool in_use;
  };
  std::unordered_map<std::string, Entry> by_sql_;
  std::unordered_map<sqlite3_stmt*, std::string> sql_of_;
};

}  // namespace satchel::sqlite
