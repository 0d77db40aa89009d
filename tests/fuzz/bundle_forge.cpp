// The "forge" plan's encryption: a v1 bundle whose plaintext and chunk tags seal_bundle would
// never produce, built with crypto/'s internal layout and key schedule (bundle_layout.h).
#include <cstring>

#include "bundle_layout.h"
#include "fuzz_common.h"
#include "satchel/crypto/sha256.h"

namespace satchel::fuzz {

using namespace bundle_v1;

Bytes forge_bundle(const ForgePlan& plan) {
  const Bytes plain = forge_plaintext(plan);
  const uint64_t padded = plain.size();
  const uint16_t n = plan.slots;
  const Key32& recipient = keys().coordinator.public_key().x25519;
  const uint16_t mine = static_cast<uint16_t>(n - 1);

  uint8_t file_key[32], payload_key[32], mac_key[32], trailer_key[32], eph_sk[32];
  randombytes_buf(file_key, sizeof file_key);
  randombytes_buf(eph_sk, sizeof eph_sk);
  crypto_kdf_derive_from_key(payload_key, 32, kSubkeyPayload, kKdfContext, file_key);
  crypto_kdf_derive_from_key(mac_key, 32, kSubkeyHeaderMac, kKdfContext, file_key);
  crypto_kdf_derive_from_key(trailer_key, 32, kSubkeyTrailerMac, kKdfContext, file_key);

  // Prefix: version, flags, u16 slot count, u64 padded length, ephemeral key, stream header.
  Bytes out(header_len(n));
  WireWriter prefix;
  prefix.u8(kBundleVersion);
  prefix.u8(0);
  prefix.u16(n);
  prefix.u64(padded);
  std::memcpy(out.data(), prefix.data().data(), prefix.data().size());
  uint8_t* eph_pub = out.data() + 12;
  crypto_scalarmult_base(eph_pub, eph_sk);
  crypto_secretstream_xchacha20poly1305_state stream;
  crypto_secretstream_xchacha20poly1305_init_push(&stream, out.data() + 44, payload_key);

  randombytes_buf(out.data() + kPrefixLen, kSlotLen * n);
  uint8_t dh_eph[32], slot[32];
  if (crypto_scalarmult(dh_eph, eph_sk, recipient.data()) != 0) fail("forge: bad recipient");
  slot_key(dh_eph, eph_pub, recipient.data(), slot);
  static const uint8_t kZeroNonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {};
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + kPrefixLen + kSlotLen * mine, nullptr,
                                            file_key, 32, out.data(), kPrefixLen, nullptr,
                                            kZeroNonce, slot);
  const size_t mac_at = kPrefixLen + kSlotLen * n;
  header_mac(mac_key, ByteView(out.data(), mac_at), out.data() + mac_at);
  const Hash32 header_hash = Sha256::digest(out);

  Sha256 content;
  const uint64_t chunks = chunk_count(padded);
  for (uint64_t k = 0; k < chunks; k++) {
    const size_t len = chunk_plain_len(padded, k);
    Bytes ct(len + kChunkOverhead);
    crypto_secretstream_xchacha20poly1305_push(&stream, ct.data(), nullptr,
                                               plain.data() + k * kBundleChunkSize, len, nullptr, 0,
                                               forge_tag(plan, k, chunks));
    content.update(ct);
    out.insert(out.end(), ct.begin(), ct.end());
  }
  const Hash32 content_hash = content.finish();

  // N authenticators (ours, or random when the plan says so), then the MAC over all of them.
  Bytes trailer(trailer_len(n));
  randombytes_buf(trailer.data(), kAuthLen * n);
  if (!plan.bad_authenticator) {
    uint8_t dh_static[32];
    if (crypto_scalarmult(dh_static, keys().device.x25519().data(), recipient.data()) != 0)
      fail("forge: bad recipient");
    sender_authenticator(dh_static, dh_eph, header_hash, mine,
                         keys().device.public_key().x25519.data(), recipient.data(), content_hash,
                         trailer.data() + kAuthLen * mine);
  }
  trailer_mac(trailer_key, header_hash, ByteView(trailer.data(), kAuthLen * n),
              trailer.data() + kAuthLen * n);
  out.insert(out.end(), trailer.begin(), trailer.end());
  return out;
}

}  // namespace satchel::fuzz
