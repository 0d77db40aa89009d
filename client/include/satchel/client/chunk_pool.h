// The chunk pool: the sealed 64 KiB chunks of attachments and outbox entries, kept outside
// SQLite in one file of equal cells, so that large media is written once (not through the
// database's pages and journal) and the file shows only how much was ever held at once
// (schema/client-database.md, "Chunk pool"). Every cell is sealed under a keyring key, so a
// freed cell is unreadable once its key is destroyed; cells are reused, never erased.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel::client {

class DiskFile;

class ChunkPool {
 public:
  // A sealed chunk: nonce (24) + 64 KiB + tag (16).
  static constexpr uint64_t kCellSize = 24 + 65536 + 16;
  // The file grows by at least this many cells at a time (4 MiB).
  static constexpr uint64_t kGrowCells = 64;

  // Creates an empty pool file (which must not exist), synced with its directory.
  static Status create(const std::string& path);
  // Opens the pool; `used` lists the cells that committed rows name. Every other cell is free.
  static Result<ChunkPool> open(const std::string& path, const std::vector<uint64_t>& used);

  ChunkPool(ChunkPool&&) noexcept;
  ChunkPool& operator=(ChunkPool&&) noexcept;
  ~ChunkPool();

  // Writes a sealed chunk (at most kCellSize bytes) into the lowest free cell, growing the file
  // when none is free, and returns the cell. Not synced: call sync() before committing the row
  // that names it. The cell stays taken until the pool is opened again.
  Result<uint64_t> put(ByteView sealed);
  // Reads `out.size()` bytes (at most kCellSize) of the chunk in `cell`.
  Status get(uint64_t cell, std::span<uint8_t> out) const;
  // fdatasync: every chunk put so far is on the disk. While syncs are deferred (defer_syncs),
  // only notes that one is owed.
  Status sync();
  // Defers sync() until settle_syncs(), for a caller that groups many units of work (each of
  // which syncs before its rows are written) into one database commit: it calls
  // settle_syncs() before that commit. Deferrals nest.
  void defer_syncs() { deferred_++; }
  // Ends one deferral; when it was the last and a sync was owed, syncs now.
  Status settle_syncs();

  uint64_t cells() const { return cells_; }

 private:
  ChunkPool(std::unique_ptr<DiskFile> file, uint64_t cells, std::vector<bool> taken);
  std::unique_ptr<DiskFile> file_;
  uint64_t cells_ = 0;       // the file's size in cells
  std::vector<bool> taken_;  // per cell: named by a row, or put since open
  uint64_t first_free_ = 0;  // no free cell below this one
  int deferred_ = 0;         // open deferrals of sync()
  bool owed_ = false;        // a sync() was deferred
};

}  // namespace satchel::client
