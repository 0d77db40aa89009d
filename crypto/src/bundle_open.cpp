// Opening: every check of schema/bundle-format.md "Opening", in its order. Pass 1 verifies
// structure, slot, header MAC, every chunk, padding and the sender authenticator without
// releasing plaintext; VerifiedBundle::decrypt_to is pass 2.
#include <cstring>

#include "bundle_layout.h"
#include "satchel/crypto/sha256.h"

namespace satchel {
namespace {

using namespace bundle_v1;

Error err(Errc code, const std::string& msg) { return make_error(code, msg); }

struct Prefix {
  uint16_t slots = 0;
  uint64_t padded = 0;
};

// Checks version, flags, slot count, padded length and the exact file size (rules S1-S6).
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
    return err(Errc::kBundleBadSlotCount, "slot count " + std::to_string(p.slots) + " not in 1..64");
  if (p.padded < kBundlePaddingFloor || p.padded > kBundleMaxPadded ||
      padme_padded_length(p.padded) != p.padded)
    return err(Errc::kBundleBadLength, "padded length is not a valid Padme size");
  const uint64_t expected = total_len(p.slots, p.padded);
  if (size < expected)
    return err(Errc::kBundleTruncated, "truncated: " + std::to_string(expected - size) +
                                           " bytes missing");
  if (size > expected)
    return err(Errc::kBundleTrailingData, std::to_string(size - expected) +
                                              " unexpected bytes after the bundle");
  return p;
}

}  // namespace

VerifiedBundle::~VerifiedBundle() = default;

Result<VerifiedBundle> verify_bundle(RandomAccessSource& src, const SecretBytes& recipient_sk,
                                     const std::optional<DevicePublicKey>& expect_sender) {
  crypto_init();
  if (recipient_sk.size() != 32) return err(Errc::kInvalidArgument, "recipient key must be 32 bytes");
  auto prefix = check_structure(src);
  if (!prefix) return prefix.error();
  const uint16_t n = prefix->slots;
  const uint64_t padded = prefix->padded;

  Bytes header(header_len(n));
  SATCHEL_TRY(src.read_at(0, header));
  const uint8_t* eph_pub = header.data() + 12;

  // Slot: one DH, then trial decryption of every slot (all are tried, whatever matches).
  Key32 my_pub{};
  crypto_scalarmult_base(my_pub.data(), recipient_sk.data());
  SecretBytes dh_eph(32), file_key(32), candidate(32);
  bool dh_ok = crypto_scalarmult(dh_eph.data(), recipient_sk.data(), eph_pub) == 0;
  int found = -1;
  if (dh_ok) {
    uint8_t sk[32];
    slot_key(dh_eph.data(), eph_pub, my_pub.data(), sk);
    static const uint8_t kZeroNonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {};
    for (uint16_t j = 0; j < n; j++) {
      const uint8_t* slot = header.data() + kPrefixLen + kSlotLen * j;
      if (crypto_aead_chacha20poly1305_ietf_decrypt(candidate.data(), nullptr, nullptr, slot,
                                                    kSlotLen, header.data(), kPrefixLen,
                                                    kZeroNonce, sk) == 0 &&
          found < 0) {
        found = j;
        std::memcpy(file_key.data(), candidate.data(), 32);
      }
    }
    wipe(sk, sizeof sk);
  }
  if (found < 0) return err(Errc::kBundleNoSlotOpens, "no slot opens with this key");

  // Key commitment: the header MAC is keyed from the file key.
  SecretBytes mac_key(32);
  VerifiedBundle vb(src);
  vb.payload_key_ = SecretBytes(32);
  crypto_kdf_derive_from_key(vb.payload_key_.data(), 32, kSubkeyPayload, kKdfContext, file_key.data());
  crypto_kdf_derive_from_key(mac_key.data(), 32, kSubkeyHeaderMac, kKdfContext, file_key.data());
  const size_t mac_at = kPrefixLen + kSlotLen * n;
  uint8_t mac[32];
  header_mac(mac_key.data(), ByteView(header.data(), mac_at), mac);
  if (crypto_verify_32(mac, header.data() + mac_at) != 0)
    return err(Errc::kBundleHeaderTampered, "header was altered (MAC mismatch)");
  const Hash32 header_hash = Sha256::digest(header);
  std::memcpy(vb.stream_header_.data(), header.data() + 44, 24);

  // Pass 1: every chunk authenticates, tags are MESSAGE... FINAL, padding is zero.
  crypto_secretstream_xchacha20poly1305_state st;
  crypto_secretstream_xchacha20poly1305_init_pull(&st, vb.stream_header_.data(),
                                                  vb.payload_key_.data());
  Sha256 content;
  const uint64_t chunks = chunk_count(padded);
  std::vector<uint8_t> cbuf(kBundleChunkSize + kChunkOverhead), pbuf(kBundleChunkSize);
  uint64_t off = header.size();
  uint64_t plain_off = 0;
  uint64_t body_end = 0;
  bundle_v1::ParsedInner inner;
  Status status;
  for (uint64_t k = 0; k < chunks; k++) {
    const size_t plen = chunk_plain_len(padded, k);
    std::span<uint8_t> ct(cbuf.data(), plen + kChunkOverhead);
    status = src.read_at(off, ct);
    if (!status) break;
    content.update(ct);
    uint8_t tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&st, pbuf.data(), nullptr, &tag, ct.data(),
                                                   ct.size(), nullptr, 0) != 0) {
      status = err(Errc::kBundleChunkCorrupt, "chunk " + std::to_string(k) +
                                                  " failed authentication (altered, reordered or "
                                                  "from another bundle)");
      break;
    }
    const bool last = k + 1 == chunks;
    const uint8_t want = last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                              : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    if (tag != want) {
      status = err(Errc::kBundleBadChunkTag,
                   last ? "last chunk is not marked final"
                        : "chunk " + std::to_string(k) + " has tag " + std::to_string(tag) +
                              " where a message chunk was expected");
      break;
    }
    if (k == 0) {
      auto parsed = parse_inner(ByteView(pbuf.data(), plen), padded);
      if (!parsed) {
        status = parsed.error();
        break;
      }
      inner = std::move(parsed.value());
      body_end = inner.length + inner.meta.body_length;
    }
    // Padding: every plaintext byte at or after body_end must be zero.
    const uint64_t chunk_end = plain_off + plen;
    if (chunk_end > body_end) {
      const uint64_t from = std::max(plain_off, body_end) - plain_off;
      if (sodium_is_zero(pbuf.data() + from, plen - from) != 1) {
        status = err(Errc::kBundlePaddingNotZero, "padding after the body is not zero");
        break;
      }
    }
    plain_off = chunk_end;
    off += ct.size();
  }
  wipe(pbuf.data(), pbuf.size());
  wipe(&st, sizeof st);
  if (!status) return status.error();
  const Hash32 content_hash = content.finish();

  // Sender authenticator for our slot.
  uint8_t auth[32];
  SATCHEL_TRY(src.read_at(off + kAuthLen * static_cast<uint64_t>(found), std::span<uint8_t>(auth, 32)));
  SecretBytes dh_static(32);
  bool static_ok =
      crypto_scalarmult(dh_static.data(), recipient_sk.data(), inner.device.x25519.data()) == 0;
  uint8_t expected_auth[32];
  sender_authenticator(dh_static.data(), dh_eph.data(), header_hash, static_cast<uint16_t>(found),
                       inner.device.x25519.data(), my_pub.data(), content_hash, expected_auth);
  if (!static_ok || crypto_verify_32(auth, expected_auth) != 0)
    return err(Errc::kBundleBadSender,
               "sender authentication failed: the bundle was altered or its sender is forged");
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
  crypto_secretstream_xchacha20poly1305_state st;
  crypto_secretstream_xchacha20poly1305_init_pull(&st, stream_header_.data(), payload_key_.data());
  const uint64_t chunks = chunk_count(padded_length_);
  const uint64_t body_begin = inner_length_;
  const uint64_t body_end = inner_length_ + meta_.body_length;
  std::vector<uint8_t> cbuf(kBundleChunkSize + kChunkOverhead), pbuf(kBundleChunkSize);
  uint64_t off = payload_offset_, plain_off = 0;
  Status status;
  for (uint64_t k = 0; k < chunks && plain_off < body_end; k++) {
    const size_t plen = chunk_plain_len(padded_length_, k);
    std::span<uint8_t> ct(cbuf.data(), plen + kChunkOverhead);
    status = src_->read_at(off, ct);
    if (!status) break;
    uint8_t tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&st, pbuf.data(), nullptr, &tag, ct.data(),
                                                   ct.size(), nullptr, 0) != 0) {
      status = err(Errc::kBundleChunkCorrupt, "chunk " + std::to_string(k) +
                                                  " changed after verification");
      break;
    }
    const uint64_t a = std::max(plain_off, body_begin), b = std::min(plain_off + plen, body_end);
    if (b > a) {
      status = out.write(ByteView(pbuf.data() + (a - plain_off), b - a));
      if (!status) break;
    }
    plain_off += plen;
    off += ct.size();
  }
  wipe(pbuf.data(), pbuf.size());
  wipe(&st, sizeof st);
  return status;
}

}  // namespace satchel
