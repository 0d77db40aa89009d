// Strict parsers for every request header value the relay reads. cpp-httplib percent-decodes
// header values, so a value may hold any byte, CR and LF included: each parser accepts only its
// own grammar, and nothing parsed here is ever echoed back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel::relay {

// A non-negative decimal integer of 1..19 digits with no sign, space or leading "+".
std::optional<uint64_t> parse_decimal(std::string_view text);

// Strict RFC 4648 base64 with its standard alphabet and padding (tus metadata and checksums).
std::optional<Bytes> from_base64(std::string_view text);
std::string to_base64(ByteView data);

// tus Upload-Metadata: comma-separated "key value" pairs (value base64, may be absent), keys
// unique. Returns the upload id from the required key "sha256": 64 lower-case hex digits,
// base64-encoded as tus requires. Other keys are ignored and never stored.
Result<Hash32> upload_id_from_metadata(std::string_view header);

// tus Upload-Checksum: "sha256 <base64 of 32 bytes>". kNotFound for another algorithm (the
// relay supports sha256 only), kInvalidArgument when malformed.
Result<Hash32> parse_upload_checksum(std::string_view header);

// "Bearer <credential>" with exactly one space; the credential itself is checked by its owner.
std::optional<std::string_view> bearer_credential(std::string_view authorization);

// One byte range resolved against a size: bytes first..last inclusive.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

// A Range header with exactly one range: "bytes=a-b" (a <= b < size), "bytes=a-" (a < size) or
// "bytes=-n" (1 <= n; the last min(n, size) bytes). nullopt for anything else, multiple ranges
// included: the relay answers 416.
std::optional<ByteRange> parse_single_range(std::string_view header, uint64_t size);

// Names of published documents: 1..64 characters of [A-Za-z0-9._-], not starting with a dot.
bool is_document_name(std::string_view name);

}  // namespace satchel::relay
