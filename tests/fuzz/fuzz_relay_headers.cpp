// libFuzzer target for the relay's request header parsers (server/src/http/request_headers.cpp) and
// the bearer credentials they hand on (server/src/auth/credentials.cpp). cpp-httplib
// percent-decodes header values, so any byte may reach them. The first input byte names the header;
// any other first byte sends the rest to every parser:
//   'd' Upload-Offset, Upload-Length, Content-Length (decimal)   'b' base64 (tus values)
//   'm' Upload-Metadata   'c' Upload-Checksum   'a' Authorization (bearer token, enrollment code)
//   'r' Range: the resource size, a newline, then the header   'n' a published document name
// What parses must re-render to the input (the parsers accept one spelling of each value), a
// range must lie inside the resource, and refusals carry the codes the headers promise.
#include <algorithm>
#include <cctype>
#include <string>

#include "fuzz_common.h"
#include "satchel/crypto/sha256.h"
#include "satchel/relay/credentials.h"
#include "satchel/relay/request_headers.h"

namespace {

using namespace satchel;
using namespace satchel::relay;

constexpr uint64_t kMaxDecimal = 9'999'999'999'999'999'999ull;  // 19 digits

std::string_view as_text(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void check_decimal(std::string_view text) {
  const auto v = parse_decimal(text);
  const bool grammar = !text.empty() && text.size() <= 19 &&
                       text.find_first_not_of("0123456789") == std::string_view::npos;
  SATCHEL_FUZZ_CHECK(v.has_value() == grammar, "a decimal is not exactly 1..19 digits");
  if (!v) return;
  // Leading zeros are the one liberty the grammar allows.
  const size_t digits = text.find_first_not_of('0');
  const std::string_view canonical = digits == std::string_view::npos ? "0" : text.substr(digits);
  SATCHEL_FUZZ_CHECK(std::to_string(*v) == canonical, "a decimal does not print as it was read");
}

void check_base64(std::string_view text) {
  if (auto b = from_base64(text))
    SATCHEL_FUZZ_CHECK(to_base64(*b) == text, "base64 decoding is not canonical");
  const ByteView bytes = as_bytes(text);
  SATCHEL_FUZZ_CHECK(from_base64(to_base64(bytes)) == Bytes(bytes.begin(), bytes.end()),
                     "base64 round trip");
}

void check_metadata(std::string_view header) {
  auto id = upload_id_from_metadata(header);
  if (!id) {
    SATCHEL_FUZZ_CHECK(id.code() == Errc::kInvalidArgument, "metadata refused with another code");
    return;
  }
  SATCHEL_FUZZ_CHECK(header.size() <= 4096, "overlong metadata accepted");
  // The id comes from a "sha256 <base64 of 64 lower-case hex digits>" pair of the header.
  const std::string pair = "sha256 " + to_base64(as_bytes(to_hex(*id)));
  SATCHEL_FUZZ_CHECK(header.find(pair) != std::string_view::npos,
                     "the upload id is not spelled in the metadata");
  auto again = upload_id_from_metadata(pair);
  SATCHEL_FUZZ_CHECK(again && *again == *id, "the canonical metadata of an id does not parse");
}

void check_checksum(std::string_view header) {
  auto h = parse_upload_checksum(header);
  if (h) {
    SATCHEL_FUZZ_CHECK("sha256 " + to_base64(*h) == header,
                       "a checksum does not print as it was read");
    return;
  }
  const size_t space = header.find(' ');
  const bool other_algorithm =
      space != std::string_view::npos && space != 0 && header.substr(0, space) != "sha256";
  SATCHEL_FUZZ_CHECK(h.code() == (other_algorithm ? Errc::kNotFound : Errc::kInvalidArgument),
                     "a checksum refused with the wrong code");
}

// An Authorization header, or a credential on its own (enrollment codes come in a body).
void check_credentials(std::string_view header) {
  std::string_view text = header;
  if (auto cred = bearer_credential(header)) {
    SATCHEL_FUZZ_CHECK(!cred->empty() && "Bearer " + std::string(*cred) == header,
                       "the bearer credential is not the rest of the header");
    text = *cred;
  }
  if (auto h = bearer_token_hash(text)) {
    auto bytes = from_base64url(text);
    SATCHEL_FUZZ_CHECK(text.size() == 43 && bytes && bytes->size() == kTokenBytes &&
                           to_base64url(*bytes) == text && Sha256::digest(*bytes) == *h,
                       "a bearer token is not 32 bytes in canonical base64url");
  }
  if (auto h = enrollment_code_hash(text)) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto bytes = from_base32(lower);
    SATCHEL_FUZZ_CHECK(text.size() == 32 && bytes && bytes->size() == kEnrollmentCodeBytes &&
                           to_base32(*bytes) == lower && Sha256::digest(*bytes) == *h,
                       "an enrollment code is not 20 bytes in canonical base32");
  }
}

void check_range(std::string_view header, uint64_t size) {
  const auto r = parse_single_range(header, size);
  if (!r) return;
  SATCHEL_FUZZ_CHECK(size > 0 && r->first <= r->last && r->last < size,
                     "a range outside the resource");
  const std::string_view spec = header.substr(6);  // after "bytes="
  // Positions take at most 19 digits (parse_decimal): resources beyond 10^19 bytes, which the
  // relay never holds, are reachable only by suffix and open ranges.
  if (r->last <= kMaxDecimal) {
    const std::string explicit_form =
        "bytes=" + std::to_string(r->first) + "-" + std::to_string(r->last);
    const auto again = parse_single_range(explicit_form, size);
    SATCHEL_FUZZ_CHECK(again && again->first == r->first && again->last == r->last,
                       "a resolved range does not parse back");
  }
  const size_t dash = spec.find('-');
  if (dash == 0 || dash + 1 == spec.size()) {
    // Suffix and open ranges run to the end of the resource.
    SATCHEL_FUZZ_CHECK(r->last == size - 1, "an open range stops short of the end");
  } else {
    SATCHEL_FUZZ_CHECK(parse_decimal(spec.substr(0, dash)) == r->first &&
                           parse_decimal(spec.substr(dash + 1)) == r->last,
                       "an explicit range resolved to other positions");
  }
}

// "SIZE\nHEADER"; a SIZE that is not a decimal stands for UINT64_MAX minus its length, so both
// small sizes (0 included) and the top of the range are reachable.
void check_range_input(std::string_view text) {
  const size_t nl = text.find('\n');
  const std::string_view size_text = text.substr(0, nl);
  const std::string_view header = nl == std::string_view::npos ? "" : text.substr(nl + 1);
  const auto size = parse_decimal(size_text);
  check_range(header, size ? *size : UINT64_MAX - size_text.size());
}

void check_document_name(std::string_view name) {
  if (!is_document_name(name)) return;
  SATCHEL_FUZZ_CHECK(!name.empty() && name.size() <= 64 && name.front() != '.',
                     "a document name that hides or is too long");
  SATCHEL_FUZZ_CHECK(std::all_of(name.begin(), name.end(),
                                 [](char c) {
                                   return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                          c == '_' || c == '-';
                                 }),
                     "a document name with a path or control character");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text = as_text(ByteView(data + 1, size - 1));
  switch (data[0]) {
    case 'd':
      check_decimal(text);
      break;
    case 'b':
      check_base64(text);
      break;
    case 'm':
      check_metadata(text);
      break;
    case 'c':
      check_checksum(text);
      break;
    case 'a':
      check_credentials(text);
      break;
    case 'r':
      check_range_input(text);
      break;
    case 'n':
      check_document_name(text);
      break;
    default:
      check_decimal(text);
      check_base64(text);
      check_metadata(text);
      check_checksum(text);
      check_credentials(text);
      check_range(text, data[0]);
      check_document_name(text);
      break;
  }
  return 0;
}
