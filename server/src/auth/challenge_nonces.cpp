// Stateless challenge nonces under an in-memory relay secret (see challenge_nonces.h).
#include "satchel/relay/challenge_nonces.h"

#include <sodium.h>

#include <algorithm>

#include "satchel/crypto/encoding.h"

namespace satchel::relay {

namespace {
constexpr size_t kTimeBytes = 8;
constexpr size_t kRandomBytes = 8;
constexpr size_t kMacBytes = 16;
static_assert(kTimeBytes + kRandomBytes + kMacBytes == kChallengeNonceBytes);
constexpr std::string_view kDomain = "satchel relay challenge nonce v1";
}  // namespace

ChallengeNonces::ChallengeNonces(int64_t ttl_seconds)
    : ttl_(ttl_seconds), key_(crypto_generichash_KEYBYTES) {
  crypto_init();
  randombytes_buf(key_.data(), key_.size());
}

std::array<uint8_t, 16> ChallengeNonces::mac(std::string_view mailbox_id,
                                             const uint8_t* time_and_random) const {
  crypto_generichash_state st;
  crypto_generichash_init(&st, key_.data(), key_.size(), kMacBytes);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kDomain.data()), kDomain.size());
  crypto_generichash_update(&st, time_and_random, kTimeBytes + kRandomBytes);
  // Last, so no field boundary is ambiguous (mailbox ids are fixed-length anyway).
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(mailbox_id.data()),
                            mailbox_id.size());
  std::array<uint8_t, kMacBytes> out{};
  crypto_generichash_final(&st, out.data(), out.size());
  wipe(&st, sizeof st);
  return out;
}

std::string ChallengeNonces::issue(std::string_view mailbox_id, int64_t now) const {
  NonceBytes n{};
  const uint64_t t = static_cast<uint64_t>(now);
  for (size_t i = 0; i < kTimeBytes; i++) n[i] = static_cast<uint8_t>(t >> (8 * (7 - i)));
  randombytes_buf(n.data() + kTimeBytes, kRandomBytes);
  const auto m = mac(mailbox_id, n.data());
  std::copy(m.begin(), m.end(), n.begin() + kTimeBytes + kRandomBytes);
  return to_base64url(n);
}

Result<NonceBytes> ChallengeNonces::check(std::string_view mailbox_id, std::string_view nonce_text,
                                          int64_t now) const {
  auto bytes = nonce_text.size() == 43 ? from_base64url(nonce_text) : std::nullopt;
  if (!bytes || bytes->size() != kChallengeNonceBytes)
    return make_error(Errc::kInvalidArgument, "malformed nonce");
  NonceBytes n{};
  std::copy(bytes->begin(), bytes->end(), n.begin());
  const auto m = mac(mailbox_id, n.data());
  if (crypto_verify_16(m.data(), n.data() + kTimeBytes + kRandomBytes) != 0)
    return make_error(Errc::kInvalidArgument, "nonce not issued by this relay for this mailbox");
  uint64_t t = 0;
  for (size_t i = 0; i < kTimeBytes; i++) t = (t << 8) | n[i];
  const int64_t issued = static_cast<int64_t>(t);
  // Issued later than now only if the clock stepped back: accepted within one ttl.
  if (now - issued >= ttl_ || issued - now > ttl_)
    return make_error(Errc::kInvalidArgument, "expired nonce");
  return n;
}

}  // namespace satchel::relay
