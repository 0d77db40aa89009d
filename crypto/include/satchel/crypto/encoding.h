// Byte encodings: hex, unpadded lower-case base32 (RFC 4648 alphabet) and base64url, plus a
// little-endian wire writer/reader with bounds checks for the binary formats in schema/.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/secret.h"

namespace satchel {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

std::string to_hex(ByteView data);
std::optional<Bytes> from_hex(std::string_view hex);

// Lower-case RFC 4648 base32 without padding. Decoding accepts either case.
std::string to_base32(ByteView data);
// Returns nullopt on a character outside the alphabet or non-zero trailing bits.
std::optional<Bytes> from_base32(std::string_view text);
// Same as from_base32, decoding into secret memory.
std::optional<SecretBytes> from_base32_secret(std::string_view text);
// Encodes into secret memory (for secret key strings); the result is not NUL-terminated.
SecretBytes to_base32_secret(ByteView data);

std::string to_base64url(ByteView data);
std::optional<Bytes> from_base64url(std::string_view text);

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Appends little-endian integers and length-prefixed fields to a byte vector. When the vector
// grows, the old buffer is wiped before it is freed, so a writer may carry secrets (the caller
// wipes what take() returns).
class WireWriter {
 public:
  void u8(uint8_t v) {
    make_room(1);
    out_.push_back(v);
  }
  void u16(uint16_t v);
  void u32(uint32_t v);
  void u64(uint64_t v);
  void bytes(ByteView b) {
    make_room(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  // u16 length then the bytes; the caller guarantees b.size() <= 65535.
  void var16(ByteView b);
  void str16(std::string_view s) { var16(as_bytes(s)); }
  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  void make_room(size_t more);  // grows by copying into a larger buffer and wiping the old one
  Bytes out_;
};

// Reads what WireWriter wrote; every read returns false (and reads nothing) past the end.
class WireReader {
 public:
  explicit WireReader(ByteView in) : in_(in) {}
  bool u8(uint8_t& v);
  bool u16(uint16_t& v);
  bool u32(uint32_t& v);
  bool u64(uint64_t& v);
  bool bytes(std::span<uint8_t> out);
  template <size_t N>
  bool array(std::array<uint8_t, N>& out) {
    return bytes(std::span<uint8_t>(out));
  }
  // A u16 length then that many bytes, viewed in place.
  bool var16(ByteView& out);
  bool str16(std::string& out);
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  ByteView in_;
  size_t pos_ = 0;
};

}  // namespace satchel
