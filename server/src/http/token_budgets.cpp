// Per-token budgets in memory (see token_budgets.h).
#include "satchel/relay/token_budgets.h"

#include <algorithm>
#include <cstdint>

namespace satchel::relay {

namespace {

// A token's share of `capacity` (0: unlimited, and so is the share).
size_t share_of(uint64_t capacity) {
  if (capacity == 0) return SIZE_MAX;
  return static_cast<size_t>(std::max<uint64_t>(1, capacity / kTokenShareDivisor));
}

}  // namespace

TokenBudgets::TokenBudgets(const RelayLimits& limits, uint32_t partial_expiry_days)
    : thread_share_(share_of(limits.threads)),
      slot_share_(share_of(limits.max_concurrent_uploads)),
      // A quarter of the quota, but never less than one largest bundle (nor more than the quota).
      declared_share_(
          limits.mailbox_quota_bytes == 0
              ? 0
              : std::min(limits.mailbox_quota_bytes,
                         std::max(limits.max_bundle_bytes, limits.mailbox_quota_bytes / 4))),
      partial_expiry_days_(partial_expiry_days) {}

TokenBudgets::Hold::~Hold() {
  if (owner_) owner_->release(key_, kind_);
}

std::optional<TokenBudgets::Hold> TokenBudgets::try_hold(const TokenKey& key, Kind kind) {
  std::lock_guard lock(mu_);
  Usage& u = usage_[key];
  size_t& used = kind == Kind::kThread ? u.threads : u.slots;
  if (used >= (kind == Kind::kThread ? thread_share_ : slot_share_)) {
    erase_if_idle_locked(usage_.find(key));
    return std::nullopt;
  }
  used++;
  return Hold(this, key, kind);
}

void TokenBudgets::release(const TokenKey& key, Kind kind) {
  std::lock_guard lock(mu_);
  auto it = usage_.find(key);
  if (it == usage_.end()) return;
  size_t& used = kind == Kind::kThread ? it->second.threads : it->second.slots;
  if (used > 0) used--;
  erase_if_idle_locked(it);
}

void TokenBudgets::erase_if_idle_locked(std::map<TokenKey, Usage>::iterator it) {
  if (it != usage_.end() && it->second.threads == 0 && it->second.slots == 0 &&
      it->second.open.empty())
    usage_.erase(it);
}

void TokenBudgets::prune_locked(Usage& u, Day today) {
  // The store removes a partial upload idle for partial_expiry_days full days; forgetting it a
  // day later errs on the side of counting.
  std::erase_if(u.open, [&](const auto& e) {
    return e.second.last_write + static_cast<Day>(partial_expiry_days_) + 1 < today;
  });
}

TokenBudgets::Open TokenBudgets::try_open(const TokenKey& key, const Hash32& id, uint64_t length,
                                          Day today) {
  std::lock_guard lock(mu_);
  Usage& u = usage_[key];
  prune_locked(u, today);
  if (u.open.count(id)) return Open::kAlreadyOpen;
  Open verdict = Open::kReserved;
  if (u.open.size() >= kPartialUploadsPerToken) {
    verdict = Open::kTooMany;
  } else if (declared_share_ > 0) {
    uint64_t declared = 0;
    for (const auto& [_, o] : u.open) declared += o.length;
    if (declared > declared_share_ || declared_share_ - declared < length)
      verdict = Open::kTooLarge;
  }
  if (verdict == Open::kReserved)
    u.open.emplace(id, OpenUpload{length, today});
  else
    erase_if_idle_locked(usage_.find(key));
  return verdict;
}

void TokenBudgets::cancel(const TokenKey& key, const Hash32& id) {
  std::lock_guard lock(mu_);
  auto it = usage_.find(key);
  if (it == usage_.end()) return;
  it->second.open.erase(id);
  erase_if_idle_locked(it);
}

void TokenBudgets::touch(std::string_view mailbox, const Hash32& id, Day today) {
  std::lock_guard lock(mu_);
  for (auto it = usage_.lower_bound(TokenKey{std::string(mailbox), ""});
       it != usage_.end() && it->first.mailbox == mailbox; ++it) {
    auto o = it->second.open.find(id);
    if (o != it->second.open.end()) o->second.last_write = today;
  }
}

void TokenBudgets::forget(std::string_view mailbox, const Hash32& id) {
  std::lock_guard lock(mu_);
  for (auto it = usage_.lower_bound(TokenKey{std::string(mailbox), ""});
       it != usage_.end() && it->first.mailbox == mailbox;) {
    auto next = std::next(it);
    it->second.open.erase(id);
    erase_if_idle_locked(it);
    it = next;
  }
}

std::vector<Hash32> TokenBudgets::take_open(std::string_view mailbox,
                                            std::optional<std::string_view> token_id) {
  std::vector<Hash32> ids;
  std::lock_guard lock(mu_);
  for (auto it = usage_.lower_bound(TokenKey{std::string(mailbox), ""});
       it != usage_.end() && it->first.mailbox == mailbox;) {
    auto next = std::next(it);
    if (!token_id || it->first.token_id == *token_id) {
      for (const auto& [id, _] : it->second.open) ids.push_back(id);
      it->second.open.clear();
      erase_if_idle_locked(it);
    }
    it = next;
  }
  return ids;
}

std::vector<Hash32> TokenBudgets::open_ids(const TokenKey& key) {
  std::vector<Hash32> ids;
  std::lock_guard lock(mu_);
  auto it = usage_.find(key);
  if (it != usage_.end())
    for (const auto& [id, _] : it->second.open) ids.push_back(id);
  return ids;
}

size_t TokenBudgets::open_count(const TokenKey& key, Day today) {
  std::lock_guard lock(mu_);
  auto it = usage_.find(key);
  if (it == usage_.end()) return 0;
  prune_locked(it->second, today);
  return it->second.open.size();
}

}  // namespace satchel::relay
