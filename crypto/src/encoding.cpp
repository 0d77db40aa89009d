#include "satchel/crypto/encoding.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace satchel {

std::string to_hex(ByteView data) {
  std::string out(data.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data.data(), data.size());
  out.pop_back();
  return out;
}

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  if (hex.empty()) return Bytes{};  // libsodium's output pointer must not be null
  Bytes out(hex.size() / 2);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      len != out.size() || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  return out;
}

namespace {

constexpr char kBase32Alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

size_t base32_len(size_t n) {
  return (n * 8 + 4) / 5;
}

template <class Out>
void base32_encode_into(ByteView data, Out* out) {
  uint32_t buffer = 0;
  int bits = 0;
  size_t j = 0;
  for (uint8_t b : data) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out[j++] = static_cast<Out>(kBase32Alphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out[j++] = static_cast<Out>(kBase32Alphabet[(buffer << (5 - bits)) & 31]);
  buffer = 0;
}

// Decodes into out (sized by the caller to text.size()*5/8); false on any invalid input.
bool base32_decode_into(std::string_view text, uint8_t* out, size_t out_len) {
  uint32_t buffer = 0;
  int bits = 0;
  size_t j = 0;
  for (char c : text) {
    int v = base32_value(c);
    if (v < 0) return false;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      if (j >= out_len) return false;
      out[j++] = static_cast<uint8_t>(buffer >> (bits - 8));
      bits -= 8;
    }
  }
  // Leftover bits must be fewer than 5 and zero, so every byte string has one encoding.
  bool ok = bits < 5 && (buffer & ((1u << bits) - 1)) == 0 && j == out_len;
  buffer = 0;
  return ok;
}

}  // namespace

std::string to_base32(ByteView data) {
  std::string out(base32_len(data.size()), '\0');
  base32_encode_into(data, out.data());
  return out;
}

std::optional<Bytes> from_base32(std::string_view text) {
  Bytes out(text.size() * 5 / 8);
  if (!base32_decode_into(text, out.data(), out.size())) return std::nullopt;
  return out;
}

std::optional<SecretBytes> from_base32_secret(std::string_view text) {
  SecretBytes out(text.size() * 5 / 8);
  if (!base32_decode_into(text, out.data(), out.size())) return std::nullopt;
  return out;
}

SecretBytes to_base32_secret(ByteView data) {
  SecretBytes out(base32_len(data.size()));
  base32_encode_into(data, reinterpret_cast<char*>(out.data()));
  return out;
}

std::string to_base64url(ByteView data) {
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<Bytes> from_base64url(std::string_view text) {
  // libsodium 1.0.18 reads bytes >= 0x80 as '_' (signed char): check the alphabet ourselves.
  for (char c : text)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return std::nullopt;
  if (text.empty()) return Bytes{};
  Bytes out(text.size() * 3 / 4 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

void WireWriter::make_room(size_t more) {
  if (out_.capacity() - out_.size() >= more) return;
  Bytes bigger;
  bigger.reserve(std::max(out_.capacity() * 2, out_.size() + more));
  bigger.assign(out_.begin(), out_.end());
  sodium_memzero(out_.data(), out_.size());
  out_.swap(bigger);
}

void WireWriter::u16(uint16_t v) {
  u8(static_cast<uint8_t>(v));
  u8(static_cast<uint8_t>(v >> 8));
}
void WireWriter::u32(uint32_t v) {
  for (int i = 0; i < 4; i++) u8(static_cast<uint8_t>(v >> (8 * i)));
}
void WireWriter::u64(uint64_t v) {
  for (int i = 0; i < 8; i++) u8(static_cast<uint8_t>(v >> (8 * i)));
}
void WireWriter::var16(ByteView b) {
  if (b.size() > 0xffff) std::abort();  // a caller bug: every caller bounds its fields first
  u16(static_cast<uint16_t>(b.size()));
  bytes(b);
}

bool WireReader::u8(uint8_t& v) {
  if (remaining() < 1) return false;
  v = in_[pos_++];
  return true;
}
bool WireReader::u16(uint16_t& v) {
  if (remaining() < 2) return false;
  v = static_cast<uint16_t>(in_[pos_] | (in_[pos_ + 1] << 8));
  pos_ += 2;
  return true;
}
bool WireReader::u32(uint32_t& v) {
  if (remaining() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; i++) v |= static_cast<uint32_t>(in_[pos_ + i]) << (8 * i);
  pos_ += 4;
  return true;
}
bool WireReader::u64(uint64_t& v) {
  if (remaining() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; i++) v |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
  pos_ += 8;
  return true;
}
bool WireReader::bytes(std::span<uint8_t> out) {
  if (remaining() < out.size()) return false;
  if (!out.empty()) std::memcpy(out.data(), in_.data() + pos_, out.size());
  pos_ += out.size();
  return true;
}
bool WireReader::var16(ByteView& out) {
  size_t save = pos_;
  uint16_t n = 0;
  if (!u16(n) || remaining() < n) {
    pos_ = save;
    return false;
  }
  out = in_.subspan(pos_, n);
  pos_ += n;
  return true;
}
bool WireReader::str16(std::string& out) {
  ByteView b;
  if (!var16(b)) return false;
  out.assign(reinterpret_cast<const char*>(b.data()), b.size());
  return true;
}

}  // namespace satchel
