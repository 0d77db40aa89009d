// Opening: every check of schema/bundle-format.md "Opening", in its order. Pass 1
// (verify_bundle) checks structure, slot, header MAC, the first chunk and inner header, the
// trailer MAC and the sender authenticator over the SHA-256 of the whole payload, releasing no
// plaintext. Pass 2 (VerifiedBundle::decrypt_to) decrypts, checking every chunk, tag and the
// padding as it goes. When the authenticator fails, the stream is walked to name the precise
// reason (corrupt chunk, bad tag, bad padding) before blaming the sender.
#include <cstring>

#include "bundle_layout.h"
#include "satchel/crypto/sha256.h"

namespace satchel {
namespace {

using namespace bundle_v1;

Error err(Errc code, const std::string& msg) {
  return make_error(code, msg);
}

struct Prefix {
  uint16_t slots = 0;
  uint64_t padded = 0;
};

// Rules B1-B5: version, flags, slot count, padded length, exact file size.
Result<Prefix> check_structure(RandomAccessSource& src) {
  const uint64_t size = src.size();
  uint8_t fixed[12] = {};
  const size_t have = static_cast<size_t>(std::min<uint64_t>(size, sizeof fixed));
  SATCHEL_TRY(src.read_at(0, std::span<uint8_t>(fixed, have)));
  if (have < 1) return err(Errc::kBundleTruncated, "truncated: empty file");
  if (fixed[0] != kBundleVersion)
    return err(Errc::kBundleUnsupportedVersion,
               "unsupported bundle version " + std::to_string(fixed[0]) + " (this build reads 1)");
  if (have < 2) return err(Errc::kBundleTruncated, "truncated inside the header");
  if (fixed[1] != 0) return err(Errc::kBundleUnknownFlags, "unknown header flags");
  if (have < sizeof fixed) return err(Errc::kBundleTruncated, "truncated inside the header");
  WireReader r(ByteView(fixed + 2, 10));
  Prefix p;
  (void)r.u16(p.slots);
  (void)r.u64(p.padded);
  if (p.slots < 1 || p.slots > kBundleMaxSlots)
    return err(Errc::kBundleBadSlotCount,
               "slot count " + std::to_string(p.slots) + " not in 1..64");
  if (p.padded < kBundlePaddingFloor || p.padded > kBundleMaxPadded ||
      padme_padded_length(p.padded) != p.padded)
    return err(Errc::kBundleBadLength, "padded length is not a valid Padme size");
  const uint64_t expected = total_len(p.slots, p.padded);
  if (size < expected)
    return err(Errc::kBundleTruncated,
               "truncated: " + std::to_string(expected - size) + " bytes missing");
  if (size > expected)
    return err(Errc::kBundleTrailingData,
               std::to_string(size - expected) + " unexpected bytes after the bundle");
  return p;
}

// Geometry and keys of one bundle's payload stream.
struct StreamPlan {
  uint64_t offset = 0;  // of the first ciphertext chunk
  uint64_t padded = 0;
  const uint8_t* key = nullptr;
  const uint8_t* header = nullptr;  // 24-byte secretstream header
};

// Rule B12: decrypts every chunk in order, checking authentication, the MESSAGE...FINAL tag
// sequence and zero padding. Body bytes [body_begin, body_end) go to out (may be null).
Status walk_stream(RandomAccessSource& src, const StreamPlan& plan, uint64_t body_begin,
                   uint64_t body_end, ByteSink* out) {
  crypto_secretstream_xchacha20poly1305_state st;
  crypto_secretstream_xchacha20poly1305_init_pull(&st, plan.header, plan.key);
  const uint64_t chunks = chunk_count(plan.padded);
  std::vector<uint8_t> cbuf(kBundleChunkSize + kChunkOverhead), pbuf(kBundleChunkSize);
  uint64_t off = plan.offset, plain_off = 0;
  Status status;
  for (uint64_t k = 0; k < chunks; k++) {
    const size_t plen = chunk_plain_len(plan.padded, k);
    std::span<uint8_t> ct(cbuf.data(), plen + kChunkOverhead);
    status = src.read_at(off, ct);
    if (!status) break;
    uint8_t tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&st, pbuf.data(), nullptr, &tag, ct.data(),
                                                   ct.size(), nullptr, 0) != 0) {
      status = err(Errc::kBundleChunkCorrupt,
                   "chunk " + std::to_string(k) +
                       " failed authentication (altered, reordered or from another bundle)");
      break;
    }
    const bool last = k + 1 == chunks;
    const uint8_t want = last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                              : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    if (tag != want) {
      status = err(Errc::kBundleBadChunkTag, last ? std::string("last chunk is not marked final")
                                                  : "chunk " + std::to_string(k) + " has tag " +
                                                        std::to_string(tag) +
                                                        " where a message chunk was expected");
      break;
    }
    const uint64_t chunk_end = plain_off + plen;
    if (chunk_end > body_end) {
      const uint64_t from = std::max(plain_off, body_end) - plain_off;
      if (sodium_is_zero(pbuf.data() + from, plen - from) != 1) {
        status = err(Errc::kBundlePaddingNotZero, "padding after the body is not zero");
        break;
      }
    }
    const uint64_t a = std::max(plain_off, body_begin), b = std::min(chunk_end, body_end);
    if (out != nullptr && b > a) {
      status = out->write(ByteView(pbuf.data() + (a - plain_off), b - a));
      if (!status) break;
    }
    plain_off = chunk_end;
    off += ct.size();
  }
  wipe(pbuf.data(), pbuf.size());
  wipe(&st, sizeof st);
  return status;
}

}  // namespace

VerifiedBundle::~VerifiedBundle() = default;

Result<VerifiedBundle> verify_bundle(RandomAccessSource& src, const SecretBytes& recipient_sk,
                                     const std::optional<DevicePublicKey>& expect_sender) {
  crypto_init();
  if (recipient_sk.size() != 32)
    return err(Errc::kInvalidArgument, "recipient key must be 32 bytes");
  auto prefix = check_structure(src);
  if (!prefix) return prefix.error();
  const uint16_t n = prefix->slots;
  const uint64_t padded = prefix->padded;

  Bytes header(header_len(n));
  SATCHEL_TRY(src.read_at(0, header));
  const uint8_t* eph_pub = header.data() + 12;

  // One secret allocation for every transient key of this function.
  SecretBytes keys(6 * 32);
  uint8_t* dh_eph = keys.data();
  uint8_t* file_key = dh_eph + 32;
  uint8_t* candidate = dh_eph + 64;
  uint8_t* mac_key = dh_eph + 96;
  uint8_t* trailer_key = dh_eph + 128;
  uint8_t* dh_static = dh_eph + 160;

  // B6: one DH, then trial decryption of every slot (all are tried, whatever matches).
  Key32 my_pub{};
  crypto_scalarmult_base(my_pub.data(), recipient_sk.data());
  int found = -1, opened = 0;
  if (crypto_scalarmult(dh_eph, recipient_sk.data(), eph_pub) == 0) {
    uint8_t sk[32];
    slot_key(dh_eph, eph_pub, my_pub.data(), sk);
    static const uint8_t kZeroNonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {};
    for (uint16_t j = 0; j < n; j++) {
      const uint8_t* slot = header.data() + kPrefixLen + kSlotLen * j;
      if (crypto_aead_chacha20poly1305_ietf_decrypt(candidate, nullptr, nullptr, slot, kSlotLen,
                                                    header.data(), kPrefixLen, kZeroNonce,
                                                    sk) == 0) {
        opened++;
        if (found < 0) {
          found = j;
          std::memcpy(file_key, candidate, 32);
        }
      }
    }
    wipe(sk, sizeof sk);
  }
  if (found < 0) return err(Errc::kBundleNoSlotOpens, "no slot opens with this key");
  // An honest sealer never addresses one key twice; two openings could carry two file keys.
  if (opened > 1) return err(Errc::kBundleHeaderTampered, "more than one slot opens with this key");

  // B7: key commitment. The header MAC is keyed from the file key.
  VerifiedBundle vb(src);
  vb.payload_key_ = SecretBytes(32);
  crypto_kdf_derive_from_key(vb.payload_key_.data(), 32, kSubkeyPayload, kKdfContext, file_key);
  crypto_kdf_derive_from_key(mac_key, 32, kSubkeyHeaderMac, kKdfContext, file_key);
  crypto_kdf_derive_from_key(trailer_key, 32, kSubkeyTrailerMac, kKdfContext, file_key);
  const size_t mac_at = kPrefixLen + kSlotLen * n;
  uint8_t mac[32];
  header_mac(mac_key, ByteView(header.data(), mac_at), mac);
  if (crypto_verify_32(mac, header.data() + mac_at) != 0)
    return err(Errc::kBundleHeaderTampered, "header was altered (MAC mismatch)");
  const Hash32 header_hash = Sha256::digest(header);
  std::memcpy(vb.stream_header_.data(), header.data() + 44, 24);
  const StreamPlan plan{header.size(), padded, vb.payload_key_.data(), vb.stream_header_.data()};

  // B8-B9: the whole payload is hashed; only chunk 0 is decrypted, for the inner header.
  Sha256 content;
  const uint64_t chunks = chunk_count(padded);
  std::vector<uint8_t> cbuf(kBundleChunkSize + kChunkOverhead), pbuf(kBundleChunkSize);
  uint64_t off = header.size();
  bundle_v1::ParsedInner inner;
  Status status;
  for (uint64_t k = 0; k < chunks && status.ok(); k++) {
    const size_t plen = chunk_plain_len(padded, k);
    std::span<uint8_t> ct(cbuf.data(), plen + kChunkOverhead);
    status = src.read_at(off, ct);
    if (!status) break;
    content.update(ct);
    off += ct.size();
    if (k != 0) continue;
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_secretstream_xchacha20poly1305_init_pull(&st, plan.header, plan.key);
    uint8_t tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&st, pbuf.data(), nullptr, &tag, ct.data(),
                                                   ct.size(), nullptr, 0) != 0) {
      status = err(Errc::kBundleChunkCorrupt,
                   "chunk 0 failed authentication (altered, or from "
                   "another bundle)");
    } else if (tag != (chunks == 1 ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                   : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)) {
      status =
          err(Errc::kBundleBadChunkTag, "chunk 0 has tag " + std::to_string(tag) +
                                            (chunks == 1 ? " where the final chunk was expected"
                                                         : " where a message chunk was expected"));
    } else {
      auto parsed = parse_inner(ByteView(pbuf.data(), plen), padded);
      if (parsed)
        inner = std::move(parsed.value());
      else
        status = parsed.error();
    }
    wipe(&st, sizeof st);
    wipe(pbuf.data(), pbuf.size());
  }
  if (!status) return status.error();
  const Hash32 content_hash = content.finish();

  // B10: the trailer MAC covers every authenticator, so no byte of the trailer is malleable.
  Bytes trailer(trailer_len(n));
  SATCHEL_TRY(src.read_at(off, trailer));
  trailer_mac(trailer_key, header_hash, ByteView(trailer.data(), kAuthLen * n), mac);
  if (crypto_verify_32(mac, trailer.data() + kAuthLen * n) != 0)
    return err(Errc::kBundleTrailerTampered, "authenticator block was altered (MAC mismatch)");

  // B11: the sender authenticator for our slot, over the header and the payload hash.
  const bool static_ok =
      crypto_scalarmult(dh_static, recipient_sk.data(), inner.device.x25519.data()) == 0;
  uint8_t expected_auth[32];
  sender_authenticator(dh_static, dh_eph, header_hash, static_cast<uint16_t>(found),
                       inner.device.x25519.data(), my_pub.data(), content_hash, expected_auth);
  if (!static_ok || crypto_verify_32(trailer.data() + kAuthLen * found, expected_auth) != 0) {
    // Name the precise fault if the stream itself is damaged; otherwise blame the sender.
    Status walk =
        walk_stream(src, plan, inner.length, inner.length + inner.meta.body_length, nullptr);
    if (!walk) return walk.error();
    return err(Errc::kBundleBadSender,
               "sender authentication failed: the bundle was altered or its sender is forged");
  }
  // B13.
  if (expect_sender && !(*expect_sender == inner.device))
    return err(Errc::kBundleUnexpectedSender,
               "authentic bundle from an unexpected sender " + inner.device.to_text());

  vb.payload_offset_ = header.size();
  vb.padded_length_ = padded;
  vb.inner_length_ = inner.length;
  vb.meta_ = std::move(inner.meta);
  vb.sender_ = inner.device;
  vb.slot_index_ = static_cast<uint16_t>(found);
  return vb;
}

Status VerifiedBundle::decrypt_to(ByteSink& out) {
  const StreamPlan plan{payload_offset_, padded_length_, payload_key_.data(),
                        stream_header_.data()};
  return walk_stream(*src_, plan, inner_length_, inner_length_ + meta_.body_length, &out);
}

}  // namespace satchel
