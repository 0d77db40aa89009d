// Internal to crypto/: the v1 byte layout and key schedule shared by sealing and opening.
// Every constant and derivation here is specified in schema/bundle-format.md.
#pragma once

#include <sodium.h>

#include <string_view>

#include "satchel/crypto/bundle.h"

namespace satchel::bundle_v1 {

inline constexpr size_t kPrefixLen = 68;  // version..secretstream header
inline constexpr size_t kSlotLen = 48;    // wrapped file key + Poly1305 tag
inline constexpr size_t kMacLen = 32;
inline constexpr size_t kAuthLen = 32;
inline constexpr size_t kChunkOverhead = crypto_secretstream_xchacha20poly1305_ABYTES;  // 17
inline constexpr size_t kInnerFixedLen = 139;  // inner header without the form id
inline constexpr char kKdfContext[9] = "SATbndl1";
inline constexpr uint64_t kSubkeyPayload = 1;
inline constexpr uint64_t kSubkeyHeaderMac = 2;
inline constexpr uint64_t kSubkeyTrailerMac = 3;
inline constexpr std::string_view kSlotDomain = "satchel bundle v1 slot";
inline constexpr std::string_view kSenderDomain = "satchel bundle v1 sender";

inline size_t header_len(uint16_t n) {
  return kPrefixLen + kSlotLen * n + kMacLen;
}
// N authenticators, then the trailer MAC over them.
inline size_t trailer_len(uint16_t n) {
  return kAuthLen * n + kMacLen;
}
inline uint64_t chunk_count(uint64_t padded) {
  return (padded + kBundleChunkSize - 1) / kBundleChunkSize;
}
inline uint64_t payload_len(uint64_t padded) {
  return padded + kChunkOverhead * chunk_count(padded);
}
inline uint64_t total_len(uint16_t n, uint64_t padded) {
  return header_len(n) + payload_len(padded) + trailer_len(n);
}
// Plaintext length of chunk k (all chunks are full except the last).
inline size_t chunk_plain_len(uint64_t padded, uint64_t k) {
  uint64_t start = k * kBundleChunkSize;
  return static_cast<size_t>(std::min<uint64_t>(kBundleChunkSize, padded - start));
}

// slot_key = BLAKE2b-256(key = dh, msg = kSlotDomain || E || R)
void slot_key(const uint8_t dh[32], const uint8_t eph_pub[32], const uint8_t recipient[32],
              uint8_t out[32]);

// mac_key = BLAKE2b-256(key = dh_static, msg = kSenderDomain || dh_eph || header_hash ||
//                       u16le(slot index) || D || R)
// auth    = BLAKE2b-256(key = mac_key, msg = header_hash || content_hash)
void sender_authenticator(const uint8_t dh_static[32], const uint8_t dh_eph[32],
                          const Hash32& header_hash, uint16_t index, const uint8_t device[32],
                          const uint8_t recipient[32], const Hash32& content_hash, uint8_t out[32]);

// header_mac = BLAKE2b-256(key = header_mac_key, msg = header bytes before the MAC)
void header_mac(const uint8_t key[32], ByteView header_without_mac, uint8_t out[32]);

// trailer_mac = BLAKE2b-256(key = trailer_mac_key, msg = header_hash || authenticators)
void trailer_mac(const uint8_t key[32], const Hash32& header_hash, ByteView authenticators,
                 uint8_t out[32]);

// Serialises the inner header (schema/bundle-format.md "Inner header").
Bytes encode_inner(const BundleMetadata& meta, const DevicePublicKey& device);

struct ParsedInner {
  BundleMetadata meta;
  DevicePublicKey device;
  size_t length = 0;
};
// Parses the inner header at the start of the first chunk's plaintext.
Result<ParsedInner> parse_inner(ByteView first_chunk, uint64_t padded);

// Checks the fields a sealer controls (form id charset/length, content type, form fields).
Status validate_metadata(const BundleMetadata& meta);

}  // namespace satchel::bundle_v1
