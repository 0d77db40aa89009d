// Enrollment codes and upload tokens: generation, strict parsing and hashing.
#include "satchel/relay/credentials.h"

#include <sodium.h>

#include <array>

#include "satchel/crypto/sha256.h"

namespace satchel::relay {

namespace {

bool all_in(std::string_view text, std::string_view alphabet) {
  for (char c : text)
    if (alphabet.find(c) == std::string_view::npos) return false;
  return true;
}

std::string random_hex(size_t bytes) {
  Bytes b(bytes);
  randombytes_buf(b.data(), b.size());
  return to_hex(b);
}

}  // namespace

std::string random_bearer_token() {
  std::array<uint8_t, kTokenBytes> b{};
  randombytes_buf(b.data(), b.size());
  std::string text = to_base64url(b);
  sodium_memzero(b.data(), b.size());
  return text;
}

std::optional<Hash32> bearer_token_hash(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  if (text.size() != 43 || !all_in(text, kAlphabet)) return std::nullopt;
  auto bytes = from_base64url(text);
  if (!bytes || bytes->size() != kTokenBytes) return std::nullopt;
  Hash32 h = Sha256::digest(*bytes);
  sodium_memzero(bytes->data(), bytes->size());
  return h;
}

std::optional<Hash32> enrollment_code_hash(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  if (text.size() != 32 || !all_in(text, kAlphabet)) return std::nullopt;
  auto bytes = from_base32(text);
  if (!bytes || bytes->size() != kEnrollmentCodeBytes) return std::nullopt;
  Hash32 h = Sha256::digest(*bytes);
  sodium_memzero(bytes->data(), bytes->size());
  return h;
}

Result<IssuedCode> mint_enrollment_code(RelayStore& store, std::string_view mailbox, int64_t now,
                                        int64_t hours, const std::optional<CodeMinter>& minter) {
  if (hours < 1 || hours > kMaxEnrollmentHours)
    return make_error(Errc::kInvalidArgument, "an enrollment code is valid for 1 to 72 hours");
  auto m = store.mailbox(mailbox);
  if (!m) return m.error();
  if (!*m) return make_error(Errc::kNotFound, "no mailbox " + std::string(mailbox));
  std::array<uint8_t, kEnrollmentCodeBytes> raw{};
  randombytes_buf(raw.data(), raw.size());
  IssuedCode out;
  out.code = to_base32(raw);
  out.code_id = random_hex(8);
  out.expires_at = (now + hours * 3600 + 3599) / 3600 * 3600;
  EnrollmentCodeRecord record{Sha256::digest(raw),
                              std::string(mailbox),
                              out.code_id,
                              out.expires_at,
                              minter ? std::optional<Key32>(minter->key) : std::nullopt,
                              minter ? minter->registration_version : 0};
  sodium_memzero(raw.data(), raw.size());
  SATCHEL_TRY(store.add_enrollment_code(record));
  return out;
}

Result<IssuedToken> redeem_enrollment_code(RelayStore& store, std::string_view code, int64_t now) {
  const auto code_hash = enrollment_code_hash(code);
  if (!code_hash) return make_error(Errc::kNotFound, "malformed enrollment code");
  std::string token = random_bearer_token();
  const auto token_hash = bearer_token_hash(token);
  if (!token_hash) return make_error(Errc::kInternal, "generated token does not parse");
  auto record = store.redeem_enrollment_code(*code_hash, now, *token_hash);
  if (!record) return record.error();
  return IssuedToken{std::move(token), record->token_id, record->mailbox};
}

Result<std::optional<TokenRecord>> authenticate_device(RelayStore& store, std::string_view token) {
  const auto hash = bearer_token_hash(token);
  if (!hash) return std::optional<TokenRecord>();
  return store.token(*hash);
}

}  // namespace satchel::relay
