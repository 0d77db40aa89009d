// In-memory abuse limits: token buckets, daily byte allowances, concurrent upload slots,
// failures per client address.
#include "satchel/relay/request_limits.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>

namespace satchel::relay {

RateLimiter::RateLimiter(const Clock& clock, uint32_t per_minute, size_t max_keys)
    : clock_(clock), per_minute_(per_minute), max_keys_(max_keys) {}

int64_t RateLimiter::acquire(const Hash32& key) {
  if (per_minute_ == 0) return 0;
  const int64_t now = clock_.now();
  const double capacity = per_minute_;
  const double per_second = capacity / 60.0;
  std::lock_guard lock(mu_);
  if (buckets_.size() >= max_keys_ && !buckets_.count(key)) {
    // Forget buckets that have refilled completely: they hold no information.
    std::erase_if(buckets_, [&](const auto& b) {
      return b.second.tokens + static_cast<double>(now - b.second.at) * per_second >= capacity;
    });
  }
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{capacity, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(capacity, b.tokens + static_cast<double>(now - b.at) * per_second);
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) / per_second)));
}

DailyByteAllowance::DailyByteAllowance(const Clock& clock, uint64_t per_day)
    : clock_(clock), per_day_(per_day) {}

bool DailyByteAllowance::reserve(const Hash32& key, uint64_t bytes) {
  if (per_day_ == 0) return true;
  const Day today = clock_.today();
  std::lock_guard lock(mu_);
  if (today != day_) {
    used_.clear();
    day_ = today;
  }
  uint64_t& used = used_[key];
  if (used > per_day_ || per_day_ - used < bytes) return false;
  used += bytes;
  return true;
}

void DailyByteAllowance::release(const Hash32& key, uint64_t bytes) {
  if (per_day_ == 0) return;
  std::lock_guard lock(mu_);
  auto it = used_.find(key);
  if (it != used_.end()) it->second -= std::min(it->second, bytes);
}

int64_t DailyByteAllowance::seconds_until_renewal() const {
  const int64_t now = clock_.now();
  return (day_of(now) + 1) * kSecondsPerDay - now;
}

UploadSlots::Slot::~Slot() {
  if (owner_) {
    std::lock_guard lock(owner_->mu_);
    owner_->used_--;
  }
}

std::optional<UploadSlots::Slot> UploadSlots::try_acquire() {
  std::lock_guard lock(mu_);
  if (capacity_ > 0 && used_ >= capacity_) return std::nullopt;
  used_++;
  return Slot(this);
}

AddressFailureLimit::AddressFailureLimit(const Clock& clock, uint32_t per_minute,
                                         size_t max_addresses)
    : rate_(clock, per_minute, max_addresses),
      enabled_(per_minute > 0),
      key_(crypto_generichash_KEYBYTES) {
  crypto_init();
  randombytes_buf(key_.data(), key_.size());
}

int64_t AddressFailureLimit::acquire(std::string_view address) {
  const bool loopback =
      address.starts_with("127.") || address == "::1" || address.starts_with("::ffff:127.");
  if (!enabled_ || loopback) return 0;
  Hash32 key{};
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const uint8_t*>(address.data()),
                     address.size(), key_.data(), key_.size());
  return rate_.acquire(key);
}

}  // namespace satchel::relay
