// Abuse limits kept in memory (never on disk, so they link no token to any upload): a request
// rate per credential, a daily byte allowance per upload token, and a cap on concurrent upload
// bodies. Counters start afresh when the relay restarts.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/secret.h"
#include "satchel/relay/clock.h"

namespace satchel::relay {

// A token bucket per key: `per_minute` requests, refilled continuously, bursts up to the same.
class RateLimiter {
 public:
  RateLimiter(const Clock& clock, uint32_t per_minute, size_t max_keys = 100'000);
  // Takes one request for `key`: 0 when allowed, else the whole seconds to wait (>= 1).
  // A limit of 0 per minute allows everything.
  int64_t acquire(const Hash32& key);

 private:
  struct Bucket {
    double tokens;
    int64_t at;
  };
  const Clock& clock_;
  uint32_t per_minute_;
  size_t max_keys_;
  std::mutex mu_;
  std::map<Hash32, Bucket> buckets_;
};

// Bytes accepted per key per UTC day.
class DailyByteAllowance {
 public:
  DailyByteAllowance(const Clock& clock, uint64_t per_day);
  // Reserves `bytes` for `key` today: true if within the allowance (0 = unlimited).
  bool reserve(const Hash32& key, uint64_t bytes);
  // Gives back bytes reserved but not received.
  void release(const Hash32& key, uint64_t bytes);
  // Seconds until the allowance renews (the next midnight UTC).
  int64_t seconds_until_renewal() const;

 private:
  const Clock& clock_;
  uint64_t per_day_;
  std::mutex mu_;
  Day day_ = 0;
  std::map<Hash32, uint64_t> used_;
};

// At most `capacity` upload bodies in flight; a slot is held for the life of an UploadSlot.
class UploadSlots {
 public:
  explicit UploadSlots(size_t capacity) : capacity_(capacity) {}
  class Slot {
   public:
    explicit Slot(UploadSlots* owner) : owner_(owner) {}
    Slot(Slot&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    UploadSlots* owner_;
  };
  // A slot, or nullopt when `capacity` bodies are already being received.
  std::optional<Slot> try_acquire();

 private:
  size_t capacity_;
  std::mutex mu_;
  size_t used_ = 0;
};

// Failed anonymous requests per client address, for direct mode. Behind nginx or Tor every
// client arrives from loopback, so loopback peers are never counted (the relay-wide anonymous
// allowance covers them). Addresses are held only as keyed BLAKE2b hashes under a key generated
// at start: in memory, never written, meaningless after a restart.
class AddressFailureLimit {
 public:
  // `per_minute` failures per address (token bucket, bursts up to the same); 0 disables.
  AddressFailureLimit(const Clock& clock, uint32_t per_minute, size_t max_addresses = 100'000);
  // Takes one failure for the peer `address` (numeric, as the socket gives it): 0 when allowed
  // (always for loopback or when disabled), else the whole seconds to wait (>= 1).
  int64_t acquire(std::string_view address);

 private:
  RateLimiter rate_;
  bool enabled_;
  SecretBytes key_;
};

}  // namespace satchel::relay
