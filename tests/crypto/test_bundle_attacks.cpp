// Attacks on bundles: bit flips, truncation, splicing, slot swapping, re-addressing and insider
// forgery are all refused, each for its own reason.
#include <sodium.h>

#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cstring>

#include "bundle_layout.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"

using namespace satchel;
namespace v1 = satchel::bundle_v1;

namespace {

Bytes pattern(size_t n, uint8_t s = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(s + i * 13);
  return b;
}

Bytes seal(const DeviceSecretKey& dev, std::vector<Key32> to, uint16_t slots, ByteView body) {
  SealRequest req;
  req.sender = &dev;
  req.recipients = std::move(to);
  req.slot_count = slots;
  req.metadata.body_length = body.size();
  MemorySource src(body);
  MemorySink out;
  REQUIRE(seal_bundle(std::move(req), src, out).ok());
  return std::move(out.data());
}

Errc verdict(ByteView b, const CoordinatorSecretKey& k,
             std::optional<DevicePublicKey> expect = std::nullopt) {
  MemorySource src(b);
  return verify_bundle(src, k.x25519(), expect).code();
}

// What a malicious coordinator can do with its own key: recover the file key from its slot.
SecretBytes insider_file_key(ByteView b, const CoordinatorSecretKey& k) {
  uint16_t n = static_cast<uint16_t>(b[2] | (b[3] << 8));
  uint8_t dh[32], sk[32];
  REQUIRE(crypto_scalarmult(dh, k.x25519().data(), b.data() + 12) == 0);
  v1::slot_key(dh, b.data() + 12, k.public_key().x25519.data(), sk);
  SecretBytes fk(32);
  const uint8_t nonce[12] = {};
  for (uint16_t j = 0; j < n; j++)
    if (crypto_aead_chacha20poly1305_ietf_decrypt(fk.data(), nullptr, nullptr,
                                                  b.data() + v1::kPrefixLen + 48 * j, 48, b.data(),
                                                  v1::kPrefixLen, nonce, sk) == 0)
      return fk;
  FAIL("insider cannot open its own slot");
  return fk;
}

// Appends the original authenticators to `out` (header + payload) with a fresh trailer MAC.
void reseal_trailer(Bytes& out, const SecretBytes& fk, ByteView original, uint16_t n) {
  uint8_t tk[32];
  crypto_kdf_derive_from_key(tk, 32, v1::kSubkeyTrailerMac, v1::kKdfContext, fk.data());
  Hash32 hh = Sha256::digest(ByteView(out.data(), v1::header_len(n)));
  ByteView auths = original.subspan(original.size() - v1::trailer_len(n), 32u * n);
  out.insert(out.end(), auths.begin(), auths.end());
  out.resize(out.size() + 32);
  v1::trailer_mac(tk, hh, auths, out.data() + out.size() - 32);
}

// The insider replaces the payload with its own body under the same file key, fixes the header
// MAC, and keeps the original authenticators (it cannot compute another coordinator's).
Bytes insider_forgery(ByteView original, const CoordinatorSecretKey& insider, ByteView new_body,
                      const DevicePublicKey& claimed_sender) {
  SecretBytes fk = insider_file_key(original, insider);
  uint8_t pk[32], mk[32];
  crypto_kdf_derive_from_key(pk, 32, v1::kSubkeyPayload, v1::kKdfContext, fk.data());
  crypto_kdf_derive_from_key(mk, 32, v1::kSubkeyHeaderMac, v1::kKdfContext, fk.data());
  uint16_t n = static_cast<uint16_t>(original[2] | (original[3] << 8));
  uint64_t padded = 0;
  for (int i = 0; i < 8; i++) padded |= uint64_t{original[4 + i]} << (8 * i);
  BundleMetadata meta;
  meta.body_length = new_body.size();
  Bytes inner = v1::encode_inner(meta, claimed_sender);
  Bytes plain(padded, 0);
  REQUIRE(inner.size() + new_body.size() <= padded);
  std::memcpy(plain.data(), inner.data(), inner.size());
  std::memcpy(plain.data() + inner.size(), new_body.data(), new_body.size());
  // A fresh secretstream header changes the prefix, which every slot binds as associated data,
  // so the insider must also re-wrap the slots it can: only its own. Instead it keeps the
  // original stream header and reuses the original key stream position by rebuilding the
  // state: impossible with secretstream, so it re-wraps its own slot under the new prefix.
  Bytes out(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(v1::header_len(n)));
  crypto_secretstream_xchacha20poly1305_state st;
  crypto_secretstream_xchacha20poly1305_init_push(&st, out.data() + 44, pk);
  uint8_t dh[32], sk[32];
  REQUIRE(crypto_scalarmult(dh, insider.x25519().data(), out.data() + 12) == 0);
  v1::slot_key(dh, out.data() + 12, insider.public_key().x25519.data(), sk);
  const uint8_t nonce[12] = {};
  for (uint16_t j = 0; j < n; j++) {
    uint8_t tmp[32];
    if (crypto_aead_chacha20poly1305_ietf_decrypt(tmp, nullptr, nullptr,
                                                  original.data() + v1::kPrefixLen + 48 * j, 48,
                                                  original.data(), v1::kPrefixLen, nonce, sk) == 0)
      crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + v1::kPrefixLen + 48 * j, nullptr,
                                                fk.data(), 32, out.data(), v1::kPrefixLen, nullptr,
                                                nonce, sk);
  }
  v1::header_mac(mk, ByteView(out.data(), v1::kPrefixLen + 48 * n),
                 out.data() + v1::kPrefixLen + 48 * n);
  uint64_t chunks = v1::chunk_count(padded);
  for (uint64_t k = 0; k < chunks; k++) {
    size_t plen = v1::chunk_plain_len(padded, k);
    Bytes ct(plen + 17);
    crypto_secretstream_xchacha20poly1305_push(
        &st, ct.data(), nullptr, plain.data() + k * kBundleChunkSize, plen, nullptr, 0,
        k + 1 == chunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    out.insert(out.end(), ct.begin(), ct.end());
  }
  // The insider keeps the original authenticators (it cannot make the victim's) and re-MACs
  // the trailer, which it can: the trailer MAC key comes from the file key.
  reseal_trailer(out, fk, original, n);
  return out;
}

}  // namespace

TEST_CASE("every single-byte change of a small bundle is refused", "[bundle][attack]") {
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate(), b = CoordinatorSecretKey::generate();
  Bytes bundle = seal(dev, {a.public_key().x25519, b.public_key().x25519}, 3, pattern(300));
  REQUIRE(verdict(bundle, a) == Errc::kOk);
  size_t refused = 0;
  for (size_t i = 0; i < bundle.size(); i++) {
    Bytes m = bundle;
    m[i] ^= 0x01;
    Errc e = verdict(m, a);
    if (e != Errc::kOk)
      refused++;
    else
      FAIL_CHECK("flip at byte " << i << " was accepted");
  }
  CHECK(refused == bundle.size());
}

TEST_CASE("truncation at every chunk boundary is reported as truncation", "[bundle][attack]") {
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate();
  Bytes bundle = seal(dev, {a.public_key().x25519}, 1, pattern(5 * kBundleChunkSize));
  const size_t h = v1::header_len(1);
  const size_t c = kBundleChunkSize + v1::kChunkOverhead;
  for (size_t cut = h; cut < bundle.size(); cut += c) {
    CAPTURE(cut);
    CHECK(verdict(ByteView(bundle.data(), cut), a) == Errc::kBundleTruncated);
  }
  CHECK(verdict(ByteView(bundle.data(), bundle.size() - v1::trailer_len(1)), a) ==
        Errc::kBundleTruncated);
  CHECK(verdict(ByteView(bundle.data(), 0), a) == Errc::kBundleTruncated);
}

TEST_CASE("a coordinator outside the recipients finds no slot", "[bundle][attack]") {
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate(), c = CoordinatorSecretKey::generate();
  Bytes bundle = seal(dev, {a.public_key().x25519}, 4, pattern(10));
  CHECK(verdict(bundle, c) == Errc::kBundleNoSlotOpens);
}

TEST_CASE("swapping two slots is detected by the header MAC", "[bundle][attack]") {
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate(), b = CoordinatorSecretKey::generate();
  Bytes bundle = seal(dev, {a.public_key().x25519, b.public_key().x25519}, 2, pattern(10));
  std::swap_ranges(bundle.begin() + v1::kPrefixLen, bundle.begin() + v1::kPrefixLen + 48,
                   bundle.begin() + v1::kPrefixLen + 48);
  CHECK(verdict(bundle, a) == Errc::kBundleHeaderTampered);
  CHECK(verdict(bundle, b) == Errc::kBundleHeaderTampered);
}

TEST_CASE("chunks spliced between two bundles are refused", "[bundle][attack]") {
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate();
  Bytes x = seal(dev, {a.public_key().x25519}, 1, pattern(3 * kBundleChunkSize, 1));
  Bytes y = seal(dev, {a.public_key().x25519}, 1, pattern(3 * kBundleChunkSize, 2));
  REQUIRE(x.size() == y.size());
  const size_t h = v1::header_len(1), c = kBundleChunkSize + v1::kChunkOverhead;
  Bytes spliced = x;
  std::copy(y.begin() + static_cast<std::ptrdiff_t>(h + c),
            y.begin() + static_cast<std::ptrdiff_t>(h + 2 * c),
            spliced.begin() + static_cast<std::ptrdiff_t>(h + c));
  CHECK(verdict(spliced, a) == Errc::kBundleChunkCorrupt);
}

TEST_CASE("a coordinator cannot forge a bundle to another coordinator", "[bundle][attack]") {
  auto dev = DeviceSecretKey::generate();
  auto insider = CoordinatorSecretKey::generate(), victim = CoordinatorSecretKey::generate();
  Bytes bundle =
      seal(dev, {insider.public_key().x25519, victim.public_key().x25519}, 2, pattern(500));
  Bytes forged =
      insider_forgery(bundle, insider, as_bytes("fabricated testimony"), dev.public_key());
  // The forgery is well formed for the insider's own slot...
  CHECK(verdict(forged, insider) == Errc::kBundleBadSender);
  // ...but the victim's slot no longer binds the new prefix, or its authenticator fails.
  Errc e = verdict(forged, victim);
  CHECK((e == Errc::kBundleNoSlotOpens || e == Errc::kBundleBadSender));
}

TEST_CASE("re-addressing a bundle to other recipients breaks the sender authenticator",
          "[bundle][attack]") {
  // An insider who knows the file key builds a new header for a third coordinator (fresh
  // ephemeral key, fresh slots, valid MAC) around the original payload and authenticators.
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate(), c = CoordinatorSecretKey::generate();
  Bytes bundle = seal(dev, {a.public_key().x25519}, 1, pattern(100));
  SecretBytes fk = insider_file_key(bundle, a);
  uint8_t mk[32], eph_sk[32], eph_pk[32], dh[32], sk[32];
  crypto_kdf_derive_from_key(mk, 32, v1::kSubkeyHeaderMac, v1::kKdfContext, fk.data());
  randombytes_buf(eph_sk, 32);
  crypto_scalarmult_base(eph_pk, eph_sk);
  Bytes m = bundle;
  std::memcpy(m.data() + 12, eph_pk, 32);
  REQUIRE(crypto_scalarmult(dh, eph_sk, c.public_key().x25519.data()) == 0);
  v1::slot_key(dh, eph_pk, c.public_key().x25519.data(), sk);
  const uint8_t nonce[12] = {};
  crypto_aead_chacha20poly1305_ietf_encrypt(m.data() + v1::kPrefixLen, nullptr, fk.data(), 32,
                                            m.data(), v1::kPrefixLen, nullptr, nonce, sk);
  v1::header_mac(mk, ByteView(m.data(), v1::kPrefixLen + 48), m.data() + v1::kPrefixLen + 48);
  Bytes readdressed(m.begin(), m.end() - static_cast<std::ptrdiff_t>(v1::trailer_len(1)));
  reseal_trailer(readdressed, fk, bundle, 1);
  m = readdressed;
  // The slot opens and the header MAC holds for C, the stream decrypts, but the authenticator
  // was bound to the original header: C learns this was not sent to it by the device.
  CHECK(verdict(m, c) == Errc::kBundleBadSender);
}

TEST_CASE("an authentic bundle from another device is refused when a sender is expected",
          "[bundle][attack]") {
  auto d1 = DeviceSecretKey::generate(), d2 = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate();
  Bytes bundle = seal(d1, {a.public_key().x25519}, 1, pattern(10));
  CHECK(verdict(bundle, a, d1.public_key()) == Errc::kOk);
  CHECK(verdict(bundle, a, d2.public_key()) == Errc::kBundleUnexpectedSender);
}

TEST_CASE("a bundle where two slots open for one key is refused", "[bundle][attack]") {
  // Only a key holder can do this: an insider copies its own slot over the unused one and fixes
  // the header MAC. Two openings could carry two file keys, so the reader refuses.
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate();
  Bytes bundle = seal(dev, {a.public_key().x25519}, 2, pattern(10));
  SecretBytes fk = insider_file_key(bundle, a);
  uint8_t mk[32];
  crypto_kdf_derive_from_key(mk, 32, v1::kSubkeyHeaderMac, v1::kKdfContext, fk.data());
  MemorySource src(bundle);
  int mine = verify_bundle(src, a.x25519(), std::nullopt)->slot_index();
  std::copy_n(bundle.begin() + v1::kPrefixLen + 48 * mine, 48,
              bundle.begin() + v1::kPrefixLen + 48 * (1 - mine));
  v1::header_mac(mk, ByteView(bundle.data(), v1::kPrefixLen + 96),
                 bundle.data() + v1::kPrefixLen + 96);
  CHECK(verdict(bundle, a) == Errc::kBundleHeaderTampered);
}
