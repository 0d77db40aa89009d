// Pack files: small stored uploads side by side in append-only files (storage/packs/<n>.pack),
// so that storing one costs a write and an fsync that run in parallel with other requests', no
// inode of its own, and its bytes are written once (schema/relay-api.md, "Durability").
// Which upload lives where is the metadata's business (table upload_packs); this class only
// hands out regions, writes them durably, frees them, and removes packs nothing uses.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"
#include "satchel/relay/clock.h"
#include "satchel/relay/file_ops.h"

namespace satchel::relay {

// Where a stored upload's bytes are: `length` bytes at `offset` of pack number `pack`.
struct PackRegion {
  int64_t pack = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

class PackLog {
 public:
  // Regions start at multiples of this, so that freeing one releases whole blocks.
  static constexpr uint64_t kAlignment = 4096;
  // Packs in `dir` (which must exist); new regions go to packs numbered above every pack on
  // disk and above `last_named` (the highest the metadata names, or -1), so no pack written
  // before is ever appended to again. A pack takes no new region once it holds `max_bytes`;
  // the next one starts.
  PackLog(std::string dir, FileOps& ops, int64_t last_named, uint64_t max_bytes);
  PackLog(const PackLog&) = delete;
  PackLog& operator=(const PackLog&) = delete;

  // Writes `data` (not empty) into a fresh region of the active pack, not yet durable: sync()
  // makes it so (and sets the pack's times back to `today`). Safe to call concurrently. A region
  // returned stays pending (see remove_unused) until settle(). On failure nothing names the
  // region's bytes; recovery frees them.
  Result<PackRegion> write(ByteView data, Day today);
  // Makes every region whose write() returned before this call durable in the packs named
  // (fsync of each, and of the directory for a new pack); per pack, Ok or the failure. One
  // caller at a time (the group commit's leader): every pack is synced through one shared
  // descriptor, so a write-back error is reported to exactly one sync, and a pack whose sync
  // failed fails every later sync and takes no new region.
  // The packs' modification and access times are set to `today` before each fsync.
  std::map<int64_t, Status> sync(const std::set<int64_t>& packs, Day today);
  // How a region's metadata commit ended.
  enum class Outcome {
    kCommitted,     // a row names the region
    kNotCommitted,  // no commit could name it (not synced, or its change undone): freed now
    kInDoubt,       // the commit failed: SQLite may replay it after a crash, so the region and
                    // its pack stay until the next start, when recovery settles them
  };
  // The region's metadata commit is over.
  void settle(const PackRegion& region, Outcome outcome, Day today);

  // Frees a region (up to the next region's start): it reads back as zeros and its blocks
  // return to the file system (where the file system cannot free them, zeros are written).
  // The pack's modification time is set back to the day.
  Status release(const PackRegion& region, Day today);
  // Removes every pack that takes no new region, has none pending or in doubt, and is not in
  // `in_use()`: the packs the metadata names, read after the others were chosen (so every
  // region settled in them is counted). Returns how many were removed.
  Result<size_t> remove_unused(const std::function<Result<std::set<int64_t>>()>& in_use, Day today);
  // Opens a pack for reading (O_NOATIME where allowed).
  Result<FileHandle> open_for_reading(int64_t pack) const;

  std::string path(int64_t pack) const;
  // The numbers of the pack files in the directory.
  std::set<int64_t> packs_on_disk() const;
  // Frees everything in pack `pack` outside `live` (offset → length) and cuts the file after
  // the last live region; false (and nothing cut) when the file is shorter than that. Only
  // while no region is being written (recovery).
  Result<bool> keep_only(int64_t pack, const std::map<uint64_t, uint64_t>& live, Day today);

 private:
  // The shared descriptor of a pack (opened, creating the file, on first use); null on error.
  // Creating one stamps the directory's times with the day only.
  std::shared_ptr<FileHandle> descriptor_locked(int64_t pack, Day today);

  std::string dir_;
  FileOps& ops_;
  std::mutex mu_;
  uint64_t max_bytes_;
  int64_t active_;                  // the pack new regions go to
  uint64_t end_ = 0;                // where its next region starts
  std::set<int64_t> dir_synced_;    // packs whose directory entry is durable
  std::set<int64_t> failed_;        // packs whose sync failed: never durable again
  std::map<int64_t, int> pending_;  // written regions not yet settled, per pack
  std::set<int64_t> in_doubt_;      // packs with a region whose commit failed
  // Descriptors of packs with pending regions (and of the active pack).
  std::map<int64_t, std::shared_ptr<FileHandle>> open_;
};

}  // namespace satchel::relay
