#include "satchel/client/chunk_pool.h"

#include <unistd.h>

#include <filesystem>

#include "profile/disk_file.h"

namespace satchel::client {

ChunkPool::ChunkPool(std::unique_ptr<DiskFile> file, uint64_t cells, std::vector<bool> taken)
    : file_(std::move(file)), cells_(cells), taken_(std::move(taken)) {}
ChunkPool::ChunkPool(ChunkPool&&) noexcept = default;
ChunkPool& ChunkPool::operator=(ChunkPool&&) noexcept = default;
ChunkPool::~ChunkPool() = default;

Status ChunkPool::create(const std::string& path) {
  auto file = DiskFile::create(path, 0600);
  if (!file) return file.error();
  SATCHEL_TRY(file->sync());
  return sync_directory(std::filesystem::path(path).parent_path().string());
}

Result<ChunkPool> ChunkPool::open(const std::string& path, const std::vector<uint64_t>& used) {
  auto file = DiskFile::open(path);
  if (!file) return file.error();
  auto size = file->size();
  if (!size) return size.error();
  const uint64_t cells = *size / kCellSize;
  std::vector<bool> taken(cells, false);
  for (uint64_t c : used) {
    if (c >= cells)
      return make_error(Errc::kIoError, path +
                                            " is shorter than the chunks the database names "
                                            "(damaged profile)");
    taken[c] = true;
  }
  return ChunkPool(std::make_unique<DiskFile>(std::move(file.value())), cells, std::move(taken));
}

Result<uint64_t> ChunkPool::put(ByteView sealed) {
  if (sealed.size() > kCellSize) return make_error(Errc::kInternal, "chunk larger than a cell");
  while (first_free_ < cells_ && taken_[first_free_]) first_free_++;
  if (first_free_ == cells_) {
    // Grow in steps, so the file's size moves seldom and says little about single records.
    const uint64_t grown = cells_ + std::max(kGrowCells, cells_ / 8);
    if (::ftruncate(file_->fd(), static_cast<off_t>(grown * kCellSize)) != 0)
      return errno_error(errno == ENOSPC ? "disk full: cannot grow" : "cannot grow", file_->path());
    cells_ = grown;
    taken_.resize(grown, false);
  }
  const uint64_t cell = first_free_;
  SATCHEL_TRY(file_->write_at(cell * kCellSize, sealed));
  taken_[cell] = true;
  return cell;
}

Status ChunkPool::get(uint64_t cell, std::span<uint8_t> out) const {
  if (cell >= cells_ || out.size() > kCellSize)
    return make_error(Errc::kIoError, "a chunk names a cell beyond the pool (damaged profile)");
  return file_->read_at(cell * kCellSize, out);
}

Status ChunkPool::sync() {
  if (deferred_ > 0) {
    owed_ = true;
    return Status::Ok();
  }
  return file_->sync();
}

Status ChunkPool::settle_syncs() {
  if (deferred_ > 0) deferred_--;
  if (deferred_ > 0 || !owed_) return Status::Ok();
  owed_ = false;
  return file_->sync();
}

}  // namespace satchel::client
