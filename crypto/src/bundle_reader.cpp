// The opening rules as steps (see bundle_reader.h): header, payload, trailer. Each step reads
// its bytes from the source once and judges only those bytes.
#include "bundle_reader.h"

#include <cstring>

#include "payload_pipeline.h"
#include "satchel/crypto/sha256.h"

namespace satchel::bundle_v1 {
namespace {

Error err(Errc code, const std::string& msg) {
  return make_error(code, msg);
}

constexpr size_t kFixedLen = 12;  // version, flags, N, P

// Rules B1-B5 on the first bytes (at most kFixedLen of them) and the source's size.
Status check_structure(ByteView fixed, uint64_t size, uint16_t& slots, uint64_t& padded) {
  if (fixed.empty()) return err(Errc::kBundleTruncated, "truncated: empty file");
  if (fixed[0] != kBundleVersion)
    return err(Errc::kBundleUnsupportedVersion,
               "unsupported bundle version " + std::to_string(fixed[0]) + " (this build reads 1)");
  if (fixed.size() < 2) return err(Errc::kBundleTruncated, "truncated inside the header");
  if (fixed[1] != 0) return err(Errc::kBundleUnknownFlags, "unknown header flags");
  if (fixed.size() < kFixedLen) return err(Errc::kBundleTruncated, "truncated inside the header");
  WireReader r(fixed.subspan(2, 10));
  (void)r.u16(slots);
  (void)r.u64(padded);
  if (slots < 1 || slots > kBundleMaxSlots)
    return err(Errc::kBundleBadSlotCount, "slot count " + std::to_string(slots) + " not in 1..64");
  if (padded < kBundlePaddingFloor || padded > kBundleMaxPadded ||
      padme_padded_length(padded) != padded)
    return err(Errc::kBundleBadLength, "padded length is not a valid Padme size");
  const uint64_t expected = total_len(slots, padded);
  if (size < expected)
    return err(Errc::kBundleTruncated,
               "truncated: " + std::to_string(expected - size) + " bytes missing");
  if (size > expected)
    return err(Errc::kBundleTrailingData,
               std::to_string(size - expected) + " unexpected bytes after the bundle");
  return Status::Ok();
}

// Decrypts one chunk and checks its tag: the checks B8 (chunk 0) and B12 share.
Status pull_chunk(crypto_secretstream_xchacha20poly1305_state& st, ByteView ct, uint8_t* plain,
                  uint64_t k, uint64_t chunks) {
  uint8_t tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&st, plain, nullptr, &tag, ct.data(), ct.size(),
                                                 nullptr, 0) != 0) {
    return err(Errc::kBundleChunkCorrupt,
               k == 0 ? std::string("chunk 0 failed authentication (altered, or from another "
                                    "bundle)")
                      : "chunk " + std::to_string(k) +
                            " failed authentication (altered, reordered or from another bundle)");
  }
  const bool last = k + 1 == chunks;
  const uint8_t want = last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  if (tag == want) return Status::Ok();
  if (k == 0)
    return err(Errc::kBundleBadChunkTag, "chunk 0 has tag " + std::to_string(tag) +
                                             (last ? " where the final chunk was expected"
                                                   : " where a message chunk was expected"));
  return err(Errc::kBundleBadChunkTag, last ? std::string("last chunk is not marked final")
                                            : "chunk " + std::to_string(k) + " has tag " +
                                                  std::to_string(tag) +
                                                  " where a message chunk was expected");
}

}  // namespace

Result<OpenedHeader> open_header(RandomAccessSource& src, const SecretBytes& recipient_sk) {
  OpenedHeader h;
  const uint64_t size = src.size();
  Bytes header(static_cast<size_t>(std::min<uint64_t>(size, kFixedLen)));
  SATCHEL_TRY(src.read_at(0, header));
  SATCHEL_TRY(check_structure(header, size, h.slots, h.padded));
  const uint16_t n = h.slots;
  // The rest of the header, read once: N and P are never read again from the source.
  h.length = header_len(n);
  header.reserve(h.length);  // before resize: else GCC 12 -O3 warns falsely (stringop-overflow)
  header.resize(h.length);
  SATCHEL_TRY(src.read_at(kFixedLen, std::span<uint8_t>(header).subspan(kFixedLen)));
  const uint8_t* eph_pub = header.data() + 12;
  // B6 starts with E's encoding, before any key is used: the verdict is every reader's.
  Key32 eph{};
  std::memcpy(eph.data(), eph_pub, eph.size());
  if (const char* why = x25519_noncanonical_reason(eph))
    return err(Errc::kBundleKeyNotCanonical,
               std::string("the ephemeral key is not a canonical X25519 encoding: ") + why);

  h.keys = SecretBytes(7 * 32);
  uint8_t* dh_eph = h.keys.data();
  uint8_t* payload_key = dh_eph + 32;
  uint8_t* trailer_key = dh_eph + 64;
  uint8_t* file_key = dh_eph + 128;  // after the trailer check's scratch (see OpenedHeader)
  uint8_t* candidate = dh_eph + 160;
  uint8_t* mac_key = dh_eph + 192;

  // B6: one DH, then trial decryption of every slot (all are tried, whatever matches).
  crypto_scalarmult_base(h.reader.data(), recipient_sk.data());
  int found = -1, second = -1;
  if (crypto_scalarmult(dh_eph, recipient_sk.data(), eph_pub) == 0) {
    uint8_t sk[32];
    slot_key(dh_eph, eph_pub, h.reader.data(), sk);
    static const uint8_t kZeroNonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {};
    for (uint16_t j = 0; j < n; j++) {
      const uint8_t* slot = header.data() + kPrefixLen + kSlotLen * j;
      if (crypto_aead_chacha20poly1305_ietf_decrypt(candidate, nullptr, nullptr, slot, kSlotLen,
                                                    header.data(), kPrefixLen, kZeroNonce,
                                                    sk) == 0) {
        if (found < 0) {
          found = j;
          std::memcpy(file_key, candidate, 32);
        } else if (second < 0) {
          second = j;
        }
      }
    }
    wipe(sk, sizeof sk);
  }
  if (found < 0) return err(Errc::kBundleNoSlotOpens, "no slot opens with this key");
  // A sealer addresses each key once; two openings could carry two file keys, and readers that
  // picked different ones would check different authenticators.
  if (second >= 0)
    return err(Errc::kBundleDuplicateSlot, "slots " + std::to_string(found) + " and " +
                                               std::to_string(second) +
                                               " both open with this key (a recipient addressed "
                                               "twice)");
  h.slot_index = static_cast<uint16_t>(found);

  // B7: key commitment. The header MAC is keyed from the file key.
  crypto_kdf_derive_from_key(payload_key, 32, kSubkeyPayload, kKdfContext, file_key);
  crypto_kdf_derive_from_key(mac_key, 32, kSubkeyHeaderMac, kKdfContext, file_key);
  crypto_kdf_derive_from_key(trailer_key, 32, kSubkeyTrailerMac, kKdfContext, file_key);
  wipe(file_key, 2 * 32);  // the file key and the last candidate are needed no more
  const size_t mac_at = kPrefixLen + kSlotLen * n;
  uint8_t mac[32];
  header_mac(mac_key, ByteView(header.data(), mac_at), mac);
  const bool mac_ok = crypto_verify_32(mac, header.data() + mac_at) == 0;
  wipe(mac_key, 32);
  if (!mac_ok) return err(Errc::kBundleHeaderTampered, "header was altered (MAC mismatch)");
  h.header_hash = Sha256::digest(header);
  std::memcpy(h.stream_header.data(), header.data() + 44, 24);
  return h;
}

Result<PayloadOutcome> read_payload(RandomAccessSource& src, const StreamPlan& plan,
                                    PayloadPass pass, ByteSink* body) {
  const uint64_t chunks = chunk_count(plan.padded);
  const bool whole = pass == PayloadPass::kWholeStream;
  const BlockPlan blocks = block_plan(plan.padded);
  // Each block holds its ciphertext and the plaintext of its chunks back to back (in pass 1,
  // of chunk 0 alone).
  const size_t plain_len =
      whole ? blocks.plain_len
            : static_cast<size_t>(std::min<uint64_t>(plan.padded, kBundleChunkSize));
  PayloadPipeline pipe(kRingBlocks, blocks.cipher_len, plain_len, blocks.threaded, body);
  crypto_secretstream_xchacha20poly1305_state st;
  crypto_secretstream_xchacha20poly1305_init_pull(&st, plan.header, plan.key);

  PayloadOutcome o;
  uint64_t body_begin = 0, body_end = 0;  // body bytes in plaintext positions, known after B9
  uint64_t off = plan.offset;
  bool decrypting = true;
  Status fatal;
  for (uint64_t first = 0; first < chunks && fatal.ok(); first += blocks.chunks_per_block) {
    const PayloadBlock blk = payload_block(blocks, plan.padded, first);
    PayloadPipeline::Block b = pipe.next();
    fatal = src.read_at(off, b.cipher.first(blk.cipher_len));
    if (!fatal) break;
    off += blk.cipher_len;

    // Decrypt this block's chunks; good_end is the plaintext position after the last good one.
    uint64_t good_end = blk.plain_at;
    size_t c = 0;
    for (uint64_t k = blk.first; k < blk.last && decrypting; k++) {
      const size_t plen = chunk_plain_len(plan.padded, k);
      const uint64_t plain_at = k * kBundleChunkSize;
      uint8_t* pt = b.plain.data() + (whole ? plain_at - blk.plain_at : 0);
      Status s =
          pull_chunk(st, ByteView(b.cipher.data() + c, plen + kChunkOverhead), pt, k, chunks);
      c += plen + kChunkOverhead;
      if (k == 0) {  // B8 and B9 are verdicts at once
        if (!s) {
          fatal = s;
          break;
        }
        auto parsed = parse_inner(ByteView(pt, plen), plan.padded);
        if (!parsed) {
          fatal = parsed.error();
          break;
        }
        o.inner = std::move(parsed.value());
        body_begin = o.inner.length;
        body_end = body_begin + o.inner.meta.body_length;
        if (!whole) {
          decrypting = false;
          break;
        }
      } else if (!s) {
        o.stream = s;
        decrypting = false;
        break;
      }
      // B12: every plaintext byte after the body is zero.
      if (plain_at + plen > body_end) {
        const uint64_t from = std::max(plain_at, body_end) - plain_at;
        if (sodium_is_zero(pt + from, plen - from) != 1) {
          o.stream = err(Errc::kBundlePaddingNotZero, "padding after the body is not zero");
          decrypting = false;
          break;
        }
      }
      good_end = plain_at + plen;
    }
    if (!fatal) break;
    // The block is hashed whole; only body bytes of chunks that passed are released.
    ByteView out;
    const uint64_t a = std::max(blk.plain_at, body_begin), e = std::min(good_end, body_end);
    if (whole && e > a)
      out = ByteView(b.plain.data() + (a - blk.plain_at), static_cast<size_t>(e - a));
    fatal = pipe.submit(blk.cipher_len, out);
  }
  wipe(&st, sizeof st);
  if (!fatal) return fatal.error();
  auto content_hash = pipe.finish();
  if (!content_hash) return content_hash.error();
  o.content_hash = *content_hash;
  return o;
}

Status check_trailer(RandomAccessSource& src, OpenedHeader& h, const SecretBytes& recipient_sk,
                     const ParsedInner& inner, const Hash32& content_hash,
                     const std::optional<DevicePublicKey>& expect_sender) {
  const uint16_t n = h.slots;
  // B10: the trailer MAC covers every authenticator, so no byte of the trailer is malleable.
  Bytes trailer(trailer_len(n));
  SATCHEL_TRY(src.read_at(h.trailer_offset(), trailer));
  uint8_t mac[32];
  trailer_mac(h.trailer_key(), h.header_hash, ByteView(trailer.data(), kAuthLen * n), mac);
  if (crypto_verify_32(mac, trailer.data() + kAuthLen * n) != 0)
    return err(Errc::kBundleTrailerTampered, "authenticator block was altered (MAC mismatch)");

  // B11: the sender authenticator for our slot, over the header and the payload hash.
  uint8_t* dh_static = h.keys.data() + 96;
  const bool static_ok =
      crypto_scalarmult(dh_static, recipient_sk.data(), inner.device.x25519.data()) == 0;
  uint8_t expected[32];
  sender_authenticator(dh_static, h.dh_eph(), h.header_hash, h.slot_index,
                       inner.device.x25519.data(), h.reader.data(), content_hash, expected);
  wipe(dh_static, 32);
  if (!static_ok || crypto_verify_32(trailer.data() + kAuthLen * h.slot_index, expected) != 0)
    return err(Errc::kBundleBadSender,
               "sender authentication failed: the bundle was altered or its sender is forged");
  // B13.
  if (expect_sender && !(*expect_sender == inner.device))
    return err(Errc::kBundleUnexpectedSender,
               "authentic bundle from an unexpected sender " + inner.device.to_text());
  return Status::Ok();
}

}  // namespace satchel::bundle_v1
