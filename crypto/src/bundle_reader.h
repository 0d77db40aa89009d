// Internal to crypto/: the opening rules of schema/bundle-format.md as three steps over a
// random-access source, each reading its bytes exactly once: the header (B1-B7), the payload
// (B8, B9 and B12, with the content hash) and the trailer (B10, B11, B13). bundle_open.cpp runs
// them in the spec's order; every verdict and message is made here.
#pragma once

#include <array>
#include <optional>

#include "bundle_layout.h"

namespace satchel::bundle_v1 {

// What B1-B7 establish: the geometry, the reader's slot and the keys for the rest.
struct OpenedHeader {
  uint16_t slots = 0;
  uint64_t padded = 0;
  uint16_t slot_index = 0;
  size_t length = 0;  // header bytes: the payload starts here
  Hash32 header_hash{};
  std::array<uint8_t, 24> stream_header{};
  Key32 reader{};  // R = X25519(r, 9)
  // dh_eph, payload_key, trailer_mac_key, then scratch for the trailer check (one allocation).
  SecretBytes keys;
  const uint8_t* dh_eph() const { return keys.data(); }
  const uint8_t* payload_key() const { return keys.data() + 32; }
  const uint8_t* trailer_key() const { return keys.data() + 64; }
  uint64_t trailer_offset() const { return length + payload_len(padded); }
};

// Rules B1-B7: structure and exact size, the reader's slot, the header MAC (key commitment).
Result<OpenedHeader> open_header(RandomAccessSource& src, const SecretBytes& recipient_sk);

// Where a payload stream lies and how to decrypt it.
struct StreamPlan {
  uint64_t offset = 0;  // of the first ciphertext chunk
  uint64_t padded = 0;
  const uint8_t* key = nullptr;     // payload_key
  const uint8_t* header = nullptr;  // 24-byte secretstream header
};

enum class PayloadPass {
  kFirstChunk,   // pass 1 of the two-pass opener: decrypt chunk 0 only
  kWholeStream,  // decrypt every chunk (B12), releasing body bytes to the sink
};

struct PayloadOutcome {
  Hash32 content_hash{};  // SHA-256 of every payload byte read
  ParsedInner inner;
  Status stream;  // the first B12 failure (kWholeStream only); ok if none
};

// Reads the payload once, in blocks, hashing every byte on a helper thread while this thread
// decrypts. A failure of B8 or B9, a read error or a sink error is returned as the error. With
// kWholeStream every chunk is then checked (B12) and the body bytes of the chunks that passed
// are written to body (when not null); the first B12 failure ends decryption and is returned in
// `stream`, and the rest of the payload is still hashed, since B10, B11 and B13 come first.
Result<PayloadOutcome> read_payload(RandomAccessSource& src, const StreamPlan& plan,
                                    PayloadPass pass, ByteSink* body);

// Rules B10 (trailer MAC), B11 (sender authenticator; kBundleBadSender when it fails, for the
// caller to refine with B12) and B13 (expected sender), reading the trailer once.
Status check_trailer(RandomAccessSource& src, OpenedHeader& h, const SecretBytes& recipient_sk,
                     const ParsedInner& inner, const Hash32& content_hash,
                     const std::optional<DevicePublicKey>& expect_sender);

}  // namespace satchel::bundle_v1
