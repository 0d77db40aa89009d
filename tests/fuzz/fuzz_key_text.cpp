// libFuzzer target for key strings and byte encodings: whatever parses must re-encode to the
// canonical text it came from, and a refusal must never echo a secret key back.
#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include "fuzz_common.h"
#include "satchel/crypto/keys.h"

namespace {

using namespace satchel;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The text a parsed key must print as: the input without surrounding whitespace, and with its
// base32 body in lower case: key strings are read in either case, by design (the spec says so:
// keys copied from an upper-case QR code or a shouting typist must still work).
std::string canonical_key_text(std::string_view text) {
  text = fuzz::trim(text);
  const size_t dash = text.find('-');
  return std::string(text.substr(0, dash + 1)) + lower(text.substr(dash + 1));
}

// Long enough, and in the key alphabet, that finding it in a message means it was echoed (short
// or spaced bodies could match the message's own words).
bool looks_like_key_body(std::string_view body) {
  return body.size() >= 16 && std::all_of(body.begin(), body.end(), [](char c) {
           return std::isalpha(static_cast<unsigned char>(c)) || (c >= '2' && c <= '7');
         });
}

bool is_key_error(Errc code) {
  return code >= Errc::kKeyWrongKind && code <= Errc::kKeyInvalid;
}

template <class Key>
void check_public(std::string_view text) {
  auto k = Key::from_text(text);
  if (!k) {
    SATCHEL_FUZZ_CHECK(is_key_error(k.code()), "a bad public key was refused with a non-key code");
    return;
  }
  const std::string printed = k->to_text();
  SATCHEL_FUZZ_CHECK(printed == canonical_key_text(text),
                     "a public key does not print as it was read");
  auto again = Key::from_text(printed);
  SATCHEL_FUZZ_CHECK(again.ok() && *again == *k, "a printed public key does not read back");
}

template <class Key, class Public>
void check_secret(std::string_view text) {
  auto k = Key::from_text(as_bytes(text));
  if (!k) {
    SATCHEL_FUZZ_CHECK(is_key_error(k.code()), "a bad secret key was refused with a non-key code");
    const std::string_view trimmed = fuzz::trim(text);
    const std::string_view body = trimmed.substr(std::min(trimmed.find('-') + 1, trimmed.size()));
    SATCHEL_FUZZ_CHECK(
        !looks_like_key_body(body) || k.error().message.find(body) == std::string::npos,
        "a refused secret key is echoed in the error message");
    return;
  }
  const SecretBytes printed = k->to_text();
  SATCHEL_FUZZ_CHECK(printed.equals(as_bytes(canonical_key_text(text))),
                     "a secret key does not print as it was read");
  auto again = Key::from_text(printed.span());
  SATCHEL_FUZZ_CHECK(again.ok() && again->public_key() == k->public_key(),
                     "a printed secret key does not read back");
  auto pub = Public::from_text(k->public_key().to_text());
  SATCHEL_FUZZ_CHECK(pub.ok() && *pub == k->public_key(), "a secret key's public key is unusable");
}

std::optional<Bytes> decode_hex(std::string_view hex) {
  return from_hex(hex);
}

// Decoders accept only canonical encodings, modulo case where the alphabet is case-insensitive;
// encoders round-trip any bytes.
void check_encodings(ByteView input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  if (auto b = decode_hex(text))
    SATCHEL_FUZZ_CHECK(to_hex(*b) == lower(text), "hex is not canonical");
  if (auto b = from_base32(text)) {
    SATCHEL_FUZZ_CHECK(to_base32(*b) == lower(text), "base32 is not canonical");
    auto s = from_base32_secret(text);
    SATCHEL_FUZZ_CHECK(s && s->equals(*b), "secret base32 decoding differs");
  } else {
    SATCHEL_FUZZ_CHECK(!from_base32_secret(text), "secret base32 decoding accepts more");
  }
  if (auto b = from_base64url(text))
    SATCHEL_FUZZ_CHECK(to_base64url(*b) == std::string(text), "base64url is not canonical");

  SATCHEL_FUZZ_CHECK(decode_hex(to_hex(input)) == Bytes(input.begin(), input.end()),
                     "hex round trip");
  SATCHEL_FUZZ_CHECK(from_base32(to_base32(input)) == Bytes(input.begin(), input.end()),
                     "base32 round trip");
  const SecretBytes b32 = to_base32_secret(input);
  SATCHEL_FUZZ_CHECK(b32.equals(as_bytes(to_base32(input))), "secret base32 encoding differs");
  SATCHEL_FUZZ_CHECK(from_base64url(to_base64url(input)) == Bytes(input.begin(), input.end()),
                     "base64url round trip");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::use_replayable_random();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::restart_random();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_public<OrgPublicKey>(text);
  check_public<CoordinatorPublicKey>(text);
  check_public<DevicePublicKey>(text);
  check_public<BackupPublicKey>(text);
  check_secret<OrgSecretKey, OrgPublicKey>(text);
  check_secret<CoordinatorSecretKey, CoordinatorPublicKey>(text);
  check_secret<DeviceSecretKey, DevicePublicKey>(text);
  check_secret<BackupSecretKey, BackupPublicKey>(text);
  check_encodings(ByteView(data, size));
  return 0;
}
