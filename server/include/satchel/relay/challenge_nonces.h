// Stateless coordinator challenge nonces: each nonce carries its own proof, so the relay keeps
// nothing per challenge and a flood of challenge requests fills no table. A nonce is 32 bytes,
// sent as 43 base64url characters: issue time (8, big-endian Unix seconds) || random (8) ||
// MAC (16), the MAC a keyed BLAKE2b over a domain label, the time, the random bytes and the
// mailbox id, under a 32-byte secret generated when the relay starts. The secret lives in
// sodium memory and is wiped on destruction, never written: a restart invalidates outstanding
// nonces, which costs a coordinator one more challenge (its sessions end at a restart anyway).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel::relay {

inline constexpr size_t kChallengeNonceBytes = 32;
using NonceBytes = std::array<uint8_t, kChallengeNonceBytes>;

class ChallengeNonces {
 public:
  // A fresh random secret; nonces are accepted for `ttl_seconds` after they are issued.
  explicit ChallengeNonces(int64_t ttl_seconds);

  // A nonce bound to `mailbox_id` and issued at `now`, as base64url text.
  std::string issue(std::string_view mailbox_id, int64_t now) const;
  // The nonce's bytes if this relay (since its start) issued `nonce_text` for `mailbox_id` and
  // its ttl has not run out at `now`; else kInvalidArgument naming why (malformed, forged or
  // for another mailbox, expired). Constant work per well-formed nonce; says nothing about use.
  Result<NonceBytes> check(std::string_view mailbox_id, std::string_view nonce_text,
                           int64_t now) const;

 private:
  std::array<uint8_t, 16> mac(std::string_view mailbox_id, const uint8_t* time_and_random) const;

  int64_t ttl_;
  SecretBytes key_;
};

}  // namespace satchel::relay
