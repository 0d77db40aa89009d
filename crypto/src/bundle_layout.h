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

// Sealing and opening move a large payload in blocks of kChunksPerBlock chunks (about 1 MiB of
// ciphertext), through a ring of kRingBlocks blocks shared with the hashing thread: at most
// about 8 MiB of buffers, whatever the bundle's size. A payload shorter than kThreadedHashMin
// goes chunk by chunk on the caller's thread: there a thread would cost more than it saves.
inline constexpr size_t kChunksPerBlock = 16;
inline constexpr size_t kRingBlocks = 4;
inline constexpr size_t kBlockCipherLen = kChunksPerBlock * (kBundleChunkSize + kChunkOverhead);
inline constexpr uint64_t kThreadedHashMin = 2 * kBlockCipherLen;

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

// How a payload of padded length `padded` moves through the pipeline (see above).
struct BlockPlan {
  bool threaded = false;
  size_t chunks_per_block = 1;
  size_t cipher_len = 0;  // buffer sizes of one block
  size_t plain_len = 0;
};
inline BlockPlan block_plan(uint64_t padded) {
  BlockPlan p;
  p.threaded = payload_len(padded) >= kThreadedHashMin;
  p.chunks_per_block = p.threaded ? kChunksPerBlock : 1;
  p.plain_len =
      static_cast<size_t>(std::min<uint64_t>(padded, p.chunks_per_block * kBundleChunkSize));
  p.cipher_len = p.plain_len + kChunkOverhead * p.chunks_per_block;
  return p;
}

// The block of chunks [first, last) that starts at chunk `first` (a multiple of the plan's
// chunks_per_block).
struct PayloadBlock {
  uint64_t first = 0, last = 0;
  uint64_t plain_at = 0;  // plaintext position of its first byte
  size_t plain_len = 0;   // plaintext bytes in it
  size_t cipher_len = 0;  // ciphertext bytes in it
};
inline PayloadBlock payload_block(const BlockPlan& plan, uint64_t padded, uint64_t first) {
  PayloadBlock b;
  b.first = first;
  b.last = std::min<uint64_t>(first + plan.chunks_per_block, chunk_count(padded));
  b.plain_at = first * kBundleChunkSize;
  b.plain_len = static_cast<size_t>(
      std::min<uint64_t>(padded - b.plain_at, (b.last - first) * kBundleChunkSize));
  b.cipher_len = b.plain_len + static_cast<size_t>(kChunkOverhead * (b.last - first));
  return b;
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
