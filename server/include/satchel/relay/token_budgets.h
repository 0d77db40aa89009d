// Per-token budgets, kept in memory only (never on disk: nothing written links a token to an
// upload; after a restart they start empty and unfinished uploads expire as before). A device's
// token may hold at most a share of the relay's body threads and upload slots, at most
// kPartialUploadsPerToken unfinished uploads it created, and at most a share of its mailbox's
// quota in their declared lengths; revoking the token hands back those unfinished uploads for
// removal. Memory: one entry per token holding a share or unfinished uploads, each with at most
// kPartialUploadsPerToken ids (an idle token's ids are pruned when it next creates).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/bundle.h"
#include "satchel/relay/clock.h"
#include "satchel/relay/relay_config.h"

namespace satchel::relay {

// Unfinished uploads one token may have created and not yet finished or terminated.
inline constexpr size_t kPartialUploadsPerToken = 32;
// A token may hold 1/kTokenShareDivisor of the relay's body threads and of its upload slots
// (at least one of each; no limit when the relay sets none).
inline constexpr size_t kTokenShareDivisor = 8;

// A device token as the budgets know it: its mailbox and public token id (never its bytes).
struct TokenKey {
  std::string mailbox;
  std::string token_id;
  auto operator<=>(const TokenKey&) const = default;
};

class TokenBudgets {
 public:
  // Shares derived from `limits`; unfinished uploads idle for more than `partial_expiry_days`
  // full days are forgotten (the store expires them).
  TokenBudgets(const RelayLimits& limits, uint32_t partial_expiry_days);

  // The share of body threads (reading or draining a body) and of upload slots one token holds.
  size_t thread_share() const { return thread_share_; }
  size_t slot_share() const { return slot_share_; }
  // The declared bytes of unfinished uploads one token may hold open (0 = unlimited).
  uint64_t declared_bytes_share() const { return declared_share_; }

  enum class Kind : uint8_t { kThread, kSlot };
  // One unit of a token's thread or slot share, held until destroyed.
  class Hold {
   public:
    Hold(TokenBudgets* owner, TokenKey key, Kind kind)
        : owner_(owner), key_(std::move(key)), kind_(kind) {}
    Hold(Hold&& o) noexcept : owner_(o.owner_), key_(std::move(o.key_)), kind_(o.kind_) {
      o.owner_ = nullptr;
    }
    Hold& operator=(Hold&&) = delete;
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold();

   private:
    TokenBudgets* owner_;
    TokenKey key_;
    Kind kind_;
  };
  // A unit of the token's thread (or slot) share; nullopt when it already holds its share.
  std::optional<Hold> try_hold(const TokenKey& key, Kind kind);

  enum class Open : uint8_t {
    kReserved,     // counted now: call forget() if the upload turns out not to be new
    kAlreadyOpen,  // this token already holds this upload open: nothing changes
    kTooMany,      // kPartialUploadsPerToken reached
    kTooLarge,     // the declared bytes share would be exceeded
  };
  // Counts a new unfinished upload `id` of `length` declared bytes against the token.
  Open try_open(const TokenKey& key, const Hash32& id, uint64_t length, Day today);
  // Undoes a kReserved try_open of the token whose upload was not created after all.
  void cancel(const TokenKey& key, const Hash32& id);
  // Marks the mailbox's upload `id` written today (it stays counted while it lives).
  void touch(std::string_view mailbox, const Hash32& id, Day today);
  // Stops counting the mailbox's upload `id` (stored, terminated or never created).
  void forget(std::string_view mailbox, const Hash32& id);
  // Stops counting the unfinished uploads of the mailbox's token `token_id` (every token of the
  // mailbox when nullopt) and returns their ids, for removal on revocation.
  std::vector<Hash32> take_open(std::string_view mailbox, std::optional<std::string_view> token_id);
  // The ids of the unfinished uploads counted against the token now.
  std::vector<Hash32> open_ids(const TokenKey& key);
  // Unfinished uploads counted against the token now.
  size_t open_count(const TokenKey& key, Day today);

 private:
  struct OpenUpload {
    uint64_t length = 0;
    Day last_write = 0;
  };
  struct Usage {
    size_t threads = 0;
    size_t slots = 0;
    std::map<Hash32, OpenUpload> open;
  };
  void prune_locked(Usage& u, Day today);
  void release(const TokenKey& key, Kind kind);
  void erase_if_idle_locked(std::map<TokenKey, Usage>::iterator it);

  size_t thread_share_;
  size_t slot_share_;
  uint64_t declared_share_;
  uint32_t partial_expiry_days_;
  std::mutex mu_;
  std::map<TokenKey, Usage> usage_;
};

}  // namespace satchel::relay
