#include "satchel/sqlite/connection.h"

namespace satchel::sqlite {

Connection::Connection(Connection&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), cache_(std::move(o.cache_)) {}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    db_ = std::exchange(o.db_, nullptr);
    cache_ = std::move(o.cache_);
  }
  return *this;
}

Connection::~Connection() {
  close();
}

void Connection::close() {
  cache_.reset();
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Result<Connection> Connection::open(const std::string& path, int flags, const std::string& what) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection c(raw);  // closes `raw` on every path, also when opening failed
  if (rc != SQLITE_OK) return sqlite_error(raw, "cannot open " + what + " " + path);
  return c;
}

Status Connection::exec(const char* sql) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  sqlite3_free(msg);  // sqlite3_errmsg says the same
  if (rc != SQLITE_OK) return sqlite_error(db_, "database error");
  return Status::Ok();
}

Result<Statement> Connection::prepare(const char* sql) {
  const std::string text(sql);
  if (sqlite3_stmt* cached = cache_->take(text)) return Statement(cached, cache_.get());
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    return sqlite_error(db_, "cannot prepare statement");
  // The first statement for this text is kept; a second one, prepared while the first is in
  // use, is the caller's alone.
  if (!cache_->contains(text)) {
    cache_->add(text, s);
    return Statement(s, cache_.get());
  }
  return Statement(s);
}

Status Connection::run(const char* sql) {
  auto st = prepare(sql);
  if (!st) return st.error();
  return st->run();
}

Result<Transaction> Transaction::begin(Connection& db) {
  if (db.in_transaction()) {
    SATCHEL_TRY(db.run("SAVEPOINT nested"));
    return Transaction(&db, true);
  }
  SATCHEL_TRY(db.run("BEGIN IMMEDIATE"));
  return Transaction(&db, false);
}

Transaction::~Transaction() {
  if (!db_ || !db_->in_transaction()) return;
  if (nested_) {
    (void)db_->run("ROLLBACK TO nested");
    (void)db_->run("RELEASE nested");
  } else {
    (void)db_->run("ROLLBACK");
  }
}

Status Transaction::commit() {
  Connection* db = std::exchange(db_, nullptr);
  if (nested_) {
    Status s = db->run("RELEASE nested");
    if (!s && db->in_transaction()) {
      (void)db->run("ROLLBACK TO nested");
      (void)db->run("RELEASE nested");
    }
    return s;
  }
  Status s = db->run("COMMIT");
  if (!s && db->in_transaction()) (void)db->run("ROLLBACK");
  return s;
}

}  // namespace satchel::sqlite
