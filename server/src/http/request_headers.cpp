// Strict header-value parsers (see request_headers.h).
#include "satchel/relay/request_headers.h"

#include "satchel/relay/relay_store.h"

#include <algorithm>
#include <set>

namespace satchel::relay {

namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  const size_t i = kBase64Alphabet.find(c);
  return i == std::string_view::npos ? -1 : static_cast<int>(i);
}

bool is_metadata_key(std::string_view k) {
  if (k.empty() || k.size() > 64) return false;
  for (char c : k)
    if (c <= 0x20 || c >= 0x7f || c == ',') return false;
  return true;
}

}  // namespace

// Declared in relay_store.h; defined here, with the other text parsers, so that the fuzz build
// can link this file without the store.
std::optional<Hash32> parse_hex32(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  auto bytes = from_hex(hex);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  Hash32 id{};
  std::copy(bytes->begin(), bytes->end(), id.begin());
  return id;
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<Bytes> from_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; j++) {
      const char c = text[i + static_cast<size_t>(j)];
      if (c == '=' && last && j >= 2) {
        pad++;
        v[j] = 0;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = base64_value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                       (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    // Non-canonical encodings (bits set under the padding) are refused.
    if ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0)) return std::nullopt;
    out.push_back(static_cast<uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(n >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(n));
  }
  return out;
}

std::string to_base64(ByteView data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<uint32_t>(data[i + 1]) << 8;
    if (i + 2 < data.size()) n |= data[i + 2];
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += i + 1 < data.size() ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kBase64Alphabet[n & 63] : '=';
  }
  return out;
}

Result<Hash32> upload_id_from_metadata(std::string_view header) {
  if (header.size() > 4096) return make_error(Errc::kInvalidArgument, "metadata too long");
  std::set<std::string_view> seen;
  std::optional<Hash32> id;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(pos, end - pos);
    // Optional spaces around pairs, as tus clients write "a x, b y" or "a x,b y".
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    while (!pair.empty() && pair.back() == ' ') pair.remove_suffix(1);
    const size_t space = pair.find(' ');
    const std::string_view key = pair.substr(0, space);
    const std::string_view value =
        space == std::string_view::npos ? std::string_view() : pair.substr(space + 1);
    if (!is_metadata_key(key) || !seen.insert(key).second)
      return make_error(Errc::kInvalidArgument, "malformed metadata");
    auto decoded = from_base64(value);
    if (!decoded) return make_error(Errc::kInvalidArgument, "malformed metadata value");
    if (key == "sha256") {
      id = parse_hex32(
          std::string_view(reinterpret_cast<const char*>(decoded->data()), decoded->size()));
      if (!id) return make_error(Errc::kInvalidArgument, "sha256 must be 64 lower-case hex digits");
    }
    if (end == header.size()) break;
    pos = end + 1;
  }
  if (!id) return make_error(Errc::kInvalidArgument, "metadata lacks sha256");
  return *id;
}

Result<Hash32> parse_upload_checksum(std::string_view header) {
  const size_t space = header.find(' ');
  if (space == std::string_view::npos || space == 0)
    return make_error(Errc::kInvalidArgument, "malformed checksum");
  if (header.substr(0, space) != "sha256")
    return make_error(Errc::kNotFound, "unsupported checksum algorithm");
  auto digest = from_base64(header.substr(space + 1));
  if (!digest || digest->size() != 32)
    return make_error(Errc::kInvalidArgument, "malformed checksum");
  Hash32 h{};
  std::copy(digest->begin(), digest->end(), h.begin());
  return h;
}

std::optional<std::string_view> bearer_credential(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.size() <= kPrefix.size() || authorization.substr(0, kPrefix.size()) != kPrefix)
    return std::nullopt;
  return authorization.substr(kPrefix.size());
}

std::optional<ByteRange> parse_single_range(std::string_view header, uint64_t size) {
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix || size == 0) return std::nullopt;
  const std::string_view spec = header.substr(kPrefix.size());
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {
    const auto n = parse_decimal(b);
    if (!n || *n == 0) return std::nullopt;
    const uint64_t count = std::min(*n, size);
    return ByteRange{size - count, size - 1};
  }
  const auto first = parse_decimal(a);
  if (!first || *first >= size) return std::nullopt;
  if (b.empty()) return ByteRange{*first, size - 1};
  const auto last = parse_decimal(b);
  if (!last || *last < *first || *last >= size) return std::nullopt;
  return ByteRange{*first, *last};
}

bool is_document_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace satchel::relay
