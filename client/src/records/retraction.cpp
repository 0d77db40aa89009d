#include "satchel/client/retraction.h"

#include <sodium.h>

#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

#include "satchel/client/queue_content.h"
#include "satchel/crypto/encoding.h"
#include "satchel/crypto/sha256.h"

namespace satchel::client {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr size_t kCodeChars = 26;  // ceil(128 / 5)
}  // namespace

Hash32 retraction_hash(ByteView secret) {
  Sha256 h;
  static constexpr std::string_view kDomain = "satchel retraction v1";
  h.update(as_bytes(kDomain));
  h.update(secret);
  return h.finish();
}

SecretBytes retraction_code_text(const SecretBytes& secret) {
  char digits[kCodeChars];
  uint32_t buffer = 0;
  int bits = 0;
  size_t n = 0;
  for (uint8_t byte : secret.span()) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      digits[n++] = kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) digits[n++] = kAlphabet[(buffer << (5 - bits)) & 31];
  SecretBytes out(n + (n - 1) / 4);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (i && i % 4 == 0) out.data()[o++] = '-';
    out.data()[o++] = static_cast<uint8_t>(digits[i]);
  }
  sodium_memzero(digits, sizeof digits);
  return out;
}

Result<SecretBytes> parse_retraction_code(std::string_view text) {
  SecretBytes out(kRetractionSecretBytes);
  uint32_t buffer = 0;
  int bits = 0;
  size_t n = 0, chars = 0;
  for (char c : text) {
    if (c == '-' || c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const char* at = std::strchr(kAlphabet, u);
    if (u == '\0' || at == nullptr)
      return make_error(Errc::kInvalidArgument,
                        "a retraction code holds only letters and the digits 2 to 7");
    if (++chars > kCodeChars) break;
    buffer = (buffer << 5) | static_cast<uint32_t>(at - kAlphabet);
    bits += 5;
    if (bits >= 8) {
      if (n < kRetractionSecretBytes) out.data()[n++] = static_cast<uint8_t>(buffer >> (bits - 8));
      bits -= 8;
    }
  }
  if (chars != kCodeChars)
    return make_error(
        Errc::kInvalidArgument,
        "a retraction code has 26 letters and digits, this one has " + std::to_string(chars));
  if (n != kRetractionSecretBytes || (buffer & ((1u << bits) - 1)) != 0)
    return make_error(Errc::kInvalidArgument,
                      "this is not a retraction code (its last character is wrong)");
  return out;
}

Result<FinalizedRecord> queue_retraction(Profile& profile, const SecretBytes& secret, int64_t now) {
  if (secret.size() != kRetractionSecretBytes)
    return make_error(Errc::kInvalidArgument, "a retraction secret is 16 bytes");
  // The body, built in secret memory: {"version":1,"secret":"<32 hex>"}.
  static constexpr std::string_view kHead = R"({"version":1,"secret":")";
  static constexpr std::string_view kTail = R"("})";
  SecretBytes body(kHead.size() + 2 * kRetractionSecretBytes + kTail.size());
  std::memcpy(body.data(), kHead.data(), kHead.size());
  char hex[2 * kRetractionSecretBytes + 1];
  sodium_bin2hex(hex, sizeof hex, secret.data(), secret.size());
  std::memcpy(body.data() + kHead.size(), hex, 2 * kRetractionSecretBytes);
  sodium_memzero(hex, sizeof hex);
  std::memcpy(body.data() + kHead.size() + 2 * kRetractionSecretBytes, kTail.data(), kTail.size());

  return queue_content(profile, ContentType::kRetraction, body.span(), now);
}

}  // namespace satchel::client
