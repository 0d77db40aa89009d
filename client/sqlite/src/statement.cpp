#include "satchel/sqlite/statement.h"

namespace satchel::sqlite {

Error sqlite_error(sqlite3* db, const std::string& what) {
  const int rc = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
  std::string message = what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  if (rc == SQLITE_FULL) message = "disk full: " + message;
  Error e = make_error(Errc::kIoError, std::move(message));
  if ((rc & 0xff) == SQLITE_CONSTRAINT) e.code = Errc::kAlreadyExists;
  return e;
}

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
  cache_ = nullptr;
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
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(sqlite3_db_handle(s_), "database error");
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
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  by_sql_.at(sql_of_.at(s)).in_use = false;
}

}  // namespace satchel::sqlite
