// Sealing: header (slots + MAC), secretstream payload (hashed on a helper thread while the cipher
// runs), sender authenticators.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "bundle_layout.h"
#include "payload_pipeline.h"
#include "satchel/crypto/sha256.h"

namespace satchel {
namespace {

using namespace bundle_v1;

// Counts what is written through it.
class CountingSink final : public ByteSink {
 public:
  explicit CountingSink(ByteSink& inner) : inner_(inner) {}
  Status write(ByteView data) override {
    written_ += data.size();
    return inner_.write(data);
  }
  bool writable_from_any_thread() const override { return inner_.writable_from_any_thread(); }
  uint64_t written() const { return written_; }

 private:
  ByteSink& inner_;
  uint64_t written_ = 0;
};

Status check_request(const SealRequest& req, uint16_t n) {
  if (req.sender == nullptr) return make_error(Errc::kInvalidArgument, "no sender key");
  if (n < 1 || n > kBundleMaxSlots)
    return make_error(Errc::kInvalidArgument, "slot count must be 1..64");
  if (req.recipients.empty()) return make_error(Errc::kInvalidArgument, "no recipients");
  if (req.recipients.size() > n)
    return make_error(Errc::kInvalidArgument, "more recipients (" +
                                                  std::to_string(req.recipients.size()) +
                                                  ") than slots (" + std::to_string(n) + ")");
  // A second encoding of a key would pass the byte comparison below as another recipient.
  for (size_t i = 0; i < req.recipients.size(); i++)
    if (const char* why = x25519_noncanonical_reason(req.recipients[i]))
      return make_error(Errc::kKeyInvalid, "recipient " + std::to_string(i + 1) +
                                               " is not a canonical X25519 encoding: " + why);
  for (size_t i = 0; i < req.recipients.size(); i++)
    for (size_t j = i + 1; j < req.recipients.size(); j++)
      if (req.recipients[i] == req.recipients[j])
        return make_error(
            Errc::kInvalidArgument,
            "recipient " + std::to_string(j + 1) + " repeats recipient " + std::to_string(i + 1));
  return bundle_v1::validate_metadata(req.metadata);
}

// Fills a chunk's plaintext from inner header, then body, then zero padding.
class PlaintextStream {
 public:
  PlaintextStream(ByteView inner, ByteSource& body, uint64_t body_length)
      : inner_(inner), body_(body), body_left_(body_length) {}

  Status fill(std::span<uint8_t> out) {
    size_t pos = 0;
    if (inner_pos_ < inner_.size()) {
      size_t n = std::min(out.size(), inner_.size() - inner_pos_);
      std::memcpy(out.data(), inner_.data() + inner_pos_, n);
      inner_pos_ += n;
      pos += n;
    }
    while (pos < out.size() && body_left_ > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(out.size() - pos, body_left_));
      auto got = body_.read(out.subspan(pos, want));
      if (!got) return got.error();
      if (*got == 0)
        return make_error(Errc::kInvalidArgument, "body ended " + std::to_string(body_left_) +
                                                      " bytes before its declared length");
      pos += *got;
      body_left_ -= *got;
    }
    if (pos < out.size()) std::memset(out.data() + pos, 0, out.size() - pos);
    return Status::Ok();
  }

  // True if the body source has no byte beyond the declared length.
  Result<bool> body_exhausted() {
    uint8_t extra;
    auto got = body_.read(std::span<uint8_t>(&extra, 1));
    if (!got) return got.error();
    return *got == 0;
  }

 private:
  ByteView inner_;
  size_t inner_pos_ = 0;
  ByteSource& body_;
  uint64_t body_left_;
};

// Encrypts the padded plaintext into MESSAGE chunks, the last one FINAL, in blocks: while this
// thread reads and encrypts a block, the pipeline's helper hashes (and, if out allows it, writes)
// the ones before. Returns the content hash (SHA-256 of every ciphertext byte).
Result<Hash32> encrypt_payload(crypto_secretstream_xchacha20poly1305_state& stream,
                               PlaintextStream& plain, uint64_t padded, ByteSink& out) {
  const uint64_t chunks = chunk_count(padded);
  const BlockPlan plan = block_plan(padded);
  PayloadPipeline pipe(kRingBlocks, plan.cipher_len, plan.plain_len, plan.threaded, &out);
  for (uint64_t first = 0; first < chunks; first += plan.chunks_per_block) {
    const PayloadBlock blk = payload_block(plan, padded, first);
    PayloadPipeline::Block b = pipe.next();
    SATCHEL_TRY(plain.fill(b.plain.first(blk.plain_len)));
    size_t p = 0, c = 0;
    for (uint64_t k = blk.first; k < blk.last; k++) {
      const size_t plen = chunk_plain_len(padded, k);
      const uint8_t tag = (k + 1 == chunks) ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
      crypto_secretstream_xchacha20poly1305_push(&stream, b.cipher.data() + c, nullptr,
                                                 b.plain.data() + p, plen, nullptr, 0, tag);
      p += plen;
      c += plen + kChunkOverhead;
    }
    SATCHEL_TRY(pipe.submit(c, ByteView(b.cipher.data(), c)));
  }
  return pipe.finish();
}

}  // namespace

Result<SealedBundleInfo> seal_bundle(SealRequest req, ByteSource& body, ByteSink& out_sink) {
  crypto_init();
  const uint16_t n = req.slot_count != 0
                         ? req.slot_count
                         : static_cast<uint16_t>(std::min<size_t>(req.recipients.size(), 0xffff));
  SATCHEL_TRY(check_request(req, n));
  const DeviceSecretKey& sender = *req.sender;
  BundleMetadata& meta = req.metadata;
  randombytes_buf(meta.bundle_id.data(), meta.bundle_id.size());

  const Bytes inner = encode_inner(meta, sender.public_key());
  const uint64_t padded = padme_padded_length(inner.size() + meta.body_length);
  if (meta.body_length > kBundleMaxPadded || padded > kBundleMaxPadded)
    return make_error(Errc::kBundleTooLarge, "body too large for a bundle (limit 1 TiB)");

  // Key schedule. One secret allocation holds every per-bundle key (sodium_malloc is costly).
  SecretBytes keys(5 * 32);
  uint8_t* file_key = keys.data();
  uint8_t* payload_key = file_key + 32;
  uint8_t* mac_key = file_key + 64;
  uint8_t* trailer_key = file_key + 96;
  uint8_t* eph_sk = file_key + 128;
  randombytes_buf(file_key, 32);
  crypto_kdf_derive_from_key(payload_key, 32, kSubkeyPayload, kKdfContext, file_key);
  crypto_kdf_derive_from_key(mac_key, 32, kSubkeyHeaderMac, kKdfContext, file_key);
  crypto_kdf_derive_from_key(trailer_key, 32, kSubkeyTrailerMac, kKdfContext, file_key);
  randombytes_buf(eph_sk, 32);
  Key32 eph_pub{};
  crypto_scalarmult_base(eph_pub.data(), eph_sk);

  crypto_secretstream_xchacha20poly1305_state stream;
  Bytes header(header_len(n));
  WireWriter prefix;
  prefix.u8(kBundleVersion);
  prefix.u8(0);
  prefix.u16(n);
  prefix.u64(padded);
  prefix.bytes(eph_pub);
  std::memcpy(header.data(), prefix.data().data(), prefix.data().size());
  crypto_secretstream_xchacha20poly1305_init_push(&stream, header.data() + 44, payload_key);

  // Real recipients take random slot positions; unused slots and authenticators stay random.
  std::vector<uint16_t> pos(n);
  std::iota(pos.begin(), pos.end(), uint16_t{0});
  for (uint16_t i = n - 1; i > 0; i--) std::swap(pos[i], pos[randombytes_uniform(i + 1u)]);
  randombytes_buf(header.data() + kPrefixLen, kSlotLen * n);
  Bytes trailer(trailer_len(n));
  randombytes_buf(trailer.data(), kAuthLen * n);

  SecretBytes dh_eph(32 * req.recipients.size());
  static const uint8_t kZeroNonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {};
  for (size_t i = 0; i < req.recipients.size(); i++) {
    const Key32& r = req.recipients[i];
    uint8_t* dh = dh_eph.data() + 32 * i;
    if (crypto_scalarmult(dh, eph_sk, r.data()) != 0)
      return make_error(Errc::kKeyInvalid,
                        "recipient " + std::to_string(i + 1) + " is not a usable X25519 key");
    uint8_t sk[32];
    slot_key(dh, eph_pub.data(), r.data(), sk);
    uint8_t* slot = header.data() + kPrefixLen + kSlotLen * pos[i];
    crypto_aead_chacha20poly1305_ietf_encrypt(slot, nullptr, file_key, 32, header.data(),
                                              kPrefixLen, nullptr, kZeroNonce, sk);
    wipe(sk, sizeof sk);
  }
  const size_t mac_at = kPrefixLen + kSlotLen * n;
  header_mac(mac_key, ByteView(header.data(), mac_at), header.data() + mac_at);
  const Hash32 header_hash = Sha256::digest(header);

  CountingSink out(out_sink);
  SATCHEL_TRY(out.write(header));

  PlaintextStream plain(inner, body, meta.body_length);
  auto content_hash = encrypt_payload(stream, plain, padded, out);
  wipe(&stream, sizeof stream);
  if (!content_hash) return content_hash.error();
  auto exhausted = plain.body_exhausted();
  if (!exhausted) return exhausted.error();
  if (!*exhausted)
    return make_error(Errc::kInvalidArgument, "body is longer than its declared length");

  for (size_t i = 0; i < req.recipients.size(); i++) {
    const Key32& r = req.recipients[i];
    uint8_t dh_static[32];
    if (crypto_scalarmult(dh_static, sender.x25519().data(), r.data()) != 0)
      return make_error(Errc::kKeyInvalid,
                        "recipient " + std::to_string(i + 1) + " is not a usable X25519 key");
    sender_authenticator(dh_static, dh_eph.data() + 32 * i, header_hash, pos[i],
                         sender.public_key().x25519.data(), r.data(), *content_hash,
                         trailer.data() + kAuthLen * pos[i]);
    wipe(dh_static, sizeof dh_static);
  }
  trailer_mac(trailer_key, header_hash, ByteView(trailer.data(), kAuthLen * n),
              trailer.data() + kAuthLen * n);
  SATCHEL_TRY(out.write(trailer));

  SealedBundleInfo info;
  info.bundle_id = meta.bundle_id;
  info.size = out.written();
  return info;
}

Result<Hash32> compute_upload_id(ByteSource& bundle) {
  Sha256 h;
  std::vector<uint8_t> buf(kBundleChunkSize);
  for (;;) {
    auto got = bundle.read(buf);
    if (!got) return got.error();
    if (*got == 0) break;
    h.update(ByteView(buf.data(), *got));
  }
  return h.finish();
}

}  // namespace satchel
