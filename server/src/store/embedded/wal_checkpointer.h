// Checkpoints relay.db's WAL (copies committed pages into the database file and syncs it) on a
// thread of its own, so that the request whose commit filled the WAL does not wait for that
// copy, and other commits go on meanwhile (a PASSIVE checkpoint takes no writer lock).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "store/embedded/metadata_db.h"

namespace satchel::relay {

class WalCheckpointer {
 public:
  // Frames in the WAL after a commit that wake the thread (SQLite's own threshold).
  static constexpr int kWakeFrames = 1000;
  // Frames past which the committing connection checkpoints by itself, as SQLite's automatic
  // checkpoint would. Needed: the WAL starts over only after a checkpoint that found no newer
  // frames, which a thread racing busy writers may never manage. Cheap: the thread has copied
  // most frames already.
  static constexpr int kInlineFrames = 4000;

  // Opens a connection of its own to the database at `path` and starts the thread; `log`
  // reports failed checkpoints (the WAL then keeps the pages, nothing is lost).
  static Result<std::unique_ptr<WalCheckpointer>> start(const std::string& path,
                                                        std::function<void(std::string_view)> log);
  // Stops and joins the thread. Connections watched must have been unwatched first.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces `db`'s automatic checkpoint with this thread.
  void watch(MetadataDb& db);
  // Removes the hook: `db` checkpoints no more (before it is closed).
  static void unwatch(MetadataDb& db);

 private:
  WalCheckpointer(MetadataDb db, std::function<void(std::string_view)> log)
      : db_(std::move(db)), log_(std::move(log)) {}
  static int after_commit(void* self, sqlite3* db, const char* schema, int frames);
  void run();

  MetadataDb db_;  // used by the thread only
  std::function<void(std::string_view)> log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace satchel::relay
