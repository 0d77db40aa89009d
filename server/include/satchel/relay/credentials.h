// Bearer credentials of devices: enrollment codes (minted by the operator or a coordinator,
// single-use, short-lived) and the upload tokens they are redeemed for. Both are random, shown
// once, and known to the store only by the SHA-256 of their bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "satchel/relay/relay_store.h"

namespace satchel::relay {

inline constexpr size_t kEnrollmentCodeBytes = 20;  // 160 bits: 32 base32 characters
inline constexpr size_t kTokenBytes = 32;           // 256 bits: 43 base64url characters
inline constexpr int64_t kMaxEnrollmentHours = 72;

struct IssuedCode {
  std::string code;        // lower-case base32, shown once
  std::string code_id;     // 16 hex digits; the token redeemed from the code gets the same id
  int64_t expires_at = 0;  // Unix seconds, on an hour boundary
};

struct IssuedToken {
  std::string token;  // base64url, shown once
  std::string token_id;
  std::string mailbox;
};

// 32 random bytes as base64url (43 characters): upload tokens and coordinator sessions.
std::string random_bearer_token();
// SHA-256 of a bearer token's bytes; nullopt unless the text is exactly 43 base64url characters
// decoding to 32 bytes.
std::optional<Hash32> bearer_token_hash(std::string_view text);
// SHA-256 of an enrollment code's bytes; nullopt unless the text is 32 base32 characters (either
// case) decoding to 20 bytes.
std::optional<Hash32> enrollment_code_hash(std::string_view text);

// Who mints a code through a coordinator session: its key, and the registration version that
// listed it when the session was checked.
struct CodeMinter {
  Key32 key{};
  uint64_t registration_version = 0;
};

// Mints a code for `mailbox` valid for `hours` (1..72), rounded up to the next full hour, and
// stores its hash with its minter (nullopt: the operator). kNotFound for an unknown mailbox;
// kDocRollback if a newer registration was stored after the minter's was checked.
Result<IssuedCode> mint_enrollment_code(RelayStore& store, std::string_view mailbox, int64_t now,
                                        int64_t hours,
                                        const std::optional<CodeMinter>& minter = std::nullopt);
// Redeems a code for a new upload token. kNotFound for a malformed, unknown, used or expired
// code (one answer for all, so a guesser learns nothing).
Result<IssuedToken> redeem_enrollment_code(RelayStore& store, std::string_view code, int64_t now);
// The token's record, or nullopt for a malformed, unknown or revoked token.
Result<std::optional<TokenRecord>> authenticate_device(RelayStore& store, std::string_view token);

}  // namespace satchel::relay
