#include "store/embedded/wal_checkpointer.h"

namespace satchel::relay {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(
    const std::string& path, std::function<void(std::string_view)> log) {
  auto db = MetadataDb::open(path);
  if (!db) return db.error();
  std::unique_ptr<WalCheckpointer> c(new WalCheckpointer(std::move(db.value()), std::move(log)));
  c->thread_ = std::thread([p = c.get()] { p->run(); });
  return c;
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WalCheckpointer::watch(MetadataDb& db) {
  sqlite3_wal_hook(db.handle(), &WalCheckpointer::after_commit, this);
}

void WalCheckpointer::unwatch(MetadataDb& db) {
  sqlite3_wal_hook(db.handle(), nullptr, nullptr);
}

int WalCheckpointer::after_commit(void* self, sqlite3* db, const char* schema, int frames) {
  auto* c = static_cast<WalCheckpointer*>(self);
  if (frames >= kInlineFrames) {
    // Fallen behind: do it here (what SQLite's automatic checkpoint does), but never fail the
    // commit that already happened.
    (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  if (frames >= kWakeFrames) {
    {
      std::lock_guard lock(c->mu_);
      c->pending_ = true;
    }
    c->cv_.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return pending_ || stopping_; });
    if (stopping_) return;
    pending_ = false;
    lock.unlock();
    // Busy (another checkpoint holds the lock) is harmless: the next commits wake the thread.
    Status s = db_.checkpoint_passive();
    if (!s && sqlite3_errcode(db_.handle()) == SQLITE_BUSY) s = Status::Ok();
    if (!s && log_)
      log_("WAL checkpoint failed (retried after the next commits): " + s.error().message);
    lock.lock();
  }
}

}  // namespace satchel::relay
