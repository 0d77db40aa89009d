#include "store/embedded/pack_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <vector>

namespace satchel::relay {

namespace {

uint64_t align_up(uint64_t n) {
  return (n + PackLog::kAlignment - 1) / PackLog::kAlignment * PackLog::kAlignment;
}

// "<n>.pack" with n a decimal number without leading zeros.
bool parse_pack_name(std::string_view name, int64_t& n) {
  constexpr std::string_view kSuffix = ".pack";
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix)
    return false;
  const std::string_view digits = name.substr(0, name.size() - kSuffix.size());
  if (digits.size() > 1 && digits[0] == '0') return false;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  // (Bounded, so that the next pack's number cannot overflow.)
  return ec == std::errc() && end == digits.data() + digits.size() && n >= 0 &&
         n < (int64_t{1} << 53);
}

// Frees [offset, offset + length) of an open pack: a hole where the file system makes one,
// zeros written otherwise.
Status free_range(FileOps& ops, int fd, uint64_t offset, uint64_t length) {
  if (length == 0) return Status::Ok();
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0)
    return Status::Ok();
  if (errno != EOPNOTSUPP && errno != ENOSYS)
    return errno_error("cannot free a region of a pack file", errno);
  const std::vector<uint8_t> zeros(static_cast<size_t>(std::min<uint64_t>(length, 1 << 20)));
  for (uint64_t at = 0; at < length; at += zeros.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), length - at));
    SATCHEL_TRY(write_all_at(ops, fd, zeros.data(), n, offset + at));
  }
  return Status::Ok();
}

}  // namespace

PackLog::PackLog(std::string dir, FileOps& ops, int64_t last_named, uint64_t max_bytes)
    : dir_(std::move(dir)), ops_(ops), max_bytes_(max_bytes), active_(last_named + 1) {
  if (const std::set<int64_t> on_disk = packs_on_disk(); !on_disk.empty())
    active_ = std::max(active_, *on_disk.rbegin() + 1);
}

std::string PackLog::path(int64_t pack) const {
  return dir_ + "/" + std::to_string(pack) + ".pack";
}

std::shared_ptr<FileHandle> PackLog::descriptor_locked(int64_t pack, Day today) {
  if (auto it = open_.find(pack); it != open_.end()) return it->second;
  FileHandle fd(::open(path(pack).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return nullptr;
  (void)set_path_times_to_day(dir_, today);
  auto shared = std::make_shared<FileHandle>(std::move(fd));
  open_.emplace(pack, shared);
  return shared;
}

Result<PackRegion> PackLog::write(ByteView data, Day today) {
  if (data.empty()) return make_error(Errc::kInvalidArgument, "an empty region");
  PackRegion region;
  std::shared_ptr<FileHandle> fd;
  {
    std::lock_guard lock(mu_);
    if ((end_ > 0 && end_ + data.size() > max_bytes_) || failed_.count(active_)) {
      if (!pending_.count(active_)) open_.erase(active_);
      active_++;
      end_ = 0;
    }
    fd = descriptor_locked(active_, today);
    if (!fd) return errno_error("cannot open a pack file", errno);
    region = PackRegion{active_, end_, data.size()};
    end_ = align_up(end_ + data.size());
    pending_[region.pack]++;
  }
  if (Status s = write_all_at(ops_, fd->get(), data.data(), data.size(), region.offset); !s) {
    settle(region, Outcome::kNotCommitted, today);
    return s.error();
  }
  return region;
}

std::map<int64_t, Status> PackLog::sync(const std::set<int64_t>& packs, Day today) {
  std::map<int64_t, Status> out;
  for (int64_t pack : packs) {
    std::shared_ptr<FileHandle> fd;
    bool dir_synced = false;
    {
      std::lock_guard lock(mu_);
      if (failed_.count(pack)) {
        // Its failed sync consumed the write-back error: later syncs cannot vouch for it.
        out.emplace(pack, make_error(Errc::kIoError, "pack file sync failed earlier"));
        continue;
      }
      auto it = open_.find(pack);
      if (it != open_.end()) fd = it->second;
      dir_synced = dir_synced_.count(pack) > 0;
    }
    Status s = fd ? Status::Ok() : Status(make_error(Errc::kIoError, "pack file not open"));
    // Once per group rather than per write: the modification and access times show the day
    // only (the change time cannot be set); writes after this are reset by the next group's.
    if (s) (void)set_times_to_day(fd->get(), today);
    if (s && ops_.fsync(fd->get()) != 0) s = errno_error("pack file sync failed", errno);
    // The pack's name must be durable before a region in it is reported durable.
    if (s && !dir_synced && ops_.fsync_directory(dir_.c_str()) != 0)
      s = errno_error("pack directory sync failed", errno);
    {
      std::lock_guard lock(mu_);
      if (s)
        dir_synced_.insert(pack);
      else
        failed_.insert(pack);
    }
    out.emplace(pack, std::move(s));
  }
  return out;
}

void PackLog::settle(const PackRegion& region, Outcome outcome, Day today) {
  if (outcome == Outcome::kNotCommitted) (void)release(region, today);  // else at the next start
  std::lock_guard lock(mu_);
  if (outcome == Outcome::kInDoubt) in_doubt_.insert(region.pack);
  auto it = pending_.find(region.pack);
  if (it != pending_.end() && --it->second == 0) {
    pending_.erase(it);
    if (region.pack != active_) open_.erase(region.pack);
  }
}

Status PackLog::release(const PackRegion& region, Day today) {
  FileHandle fd(::open(path(region.pack).c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("cannot open a pack file", errno);
  // The alignment padding after the region is its own: nothing else starts before it ends.
  SATCHEL_TRY(free_range(ops_, fd.get(), region.offset, align_up(region.length)));
  (void)set_times_to_day(fd.get(), today);
  return Status::Ok();
}

Result<size_t> PackLog::remove_unused(const std::function<Result<std::set<int64_t>>()>& in_use,
                                      Day today) {
  std::set<int64_t> candidates;
  {
    std::lock_guard lock(mu_);
    for (int64_t pack : packs_on_disk())
      if (pack < active_ && !pending_.count(pack) && !in_doubt_.count(pack))
        candidates.insert(pack);
  }
  if (candidates.empty()) return size_t{0};
  // Read now: a region in a candidate was settled before it was chosen, so its commit shows.
  auto used = in_use();
  if (!used) return used.error();
  size_t removed = 0;
  for (int64_t pack : candidates) {
    if (used->count(pack)) continue;
    if (::unlink(path(pack).c_str()) != 0) {
      if (errno == ENOENT) continue;
      return errno_error("cannot remove an unused pack file", errno);
    }
    removed++;
    std::lock_guard lock(mu_);
    dir_synced_.erase(pack);
  }
  if (removed > 0 && ops_.fsync_directory(dir_.c_str()) != 0)
    return errno_error("pack directory sync failed", errno);
  if (removed > 0) (void)set_path_times_to_day(dir_, today);
  return removed;
}

Result<FileHandle> PackLog::open_for_reading(int64_t pack) const {
  const std::string p = path(pack);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open a pack file", errno);
  return FileHandle(fd);
}

std::set<int64_t> PackLog::packs_on_disk() const {
  std::set<int64_t> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    int64_t n = 0;
    if (parse_pack_name(e->d_name, n)) out.insert(n);
  }
  ::closedir(d);
  return out;
}

Result<bool> PackLog::keep_only(int64_t pack, const std::map<uint64_t, uint64_t>& live, Day today) {
  FileHandle fd(::open(path(pack).c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return errno_error("cannot open a pack file", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat a pack file", errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t at = 0;
  for (const auto& [offset, length] : live) {
    if (offset > at)
      SATCHEL_TRY(free_range(ops_, fd.get(), at, std::min(offset, size) - std::min(at, size)));
    at = std::max(at, offset + length);
  }
  const bool whole = size >= at;
  if (whole && size > at) {
    if (::ftruncate(fd.get(), static_cast<off_t>(at)) != 0)
      return errno_error("cannot cut a pack file back", errno);
  }
  (void)set_times_to_day(fd.get(), today);
  if (ops_.fsync(fd.get()) != 0) return errno_error("pack file sync failed", errno);
  return whole;
}

}  // namespace satchel::relay
