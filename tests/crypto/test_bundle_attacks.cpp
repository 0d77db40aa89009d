// Attacks on bundles: bit flips, truncation, splicing, slot swapping, re-addressing, insider
// forgery and a bundle changed while it is being opened are all refused, each for its own
// reason, and a refused open releases no plaintext.
#include <sodium.h>

#include <unistd.h>

#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

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

uint16_t slot_count(ByteView b) {
  return static_cast<uint16_t>(b[2] | (b[3] << 8));
}

uint64_t padded_length(ByteView b) {
  uint64_t padded = 0;
  for (int i = 0; i < 8; i++) padded |= uint64_t{b[4 + i]} << (8 * i);
  return padded;
}

// Inner header, body and zero padding: what an insider encrypts in place of the original.
Bytes padded_plaintext(uint64_t padded, ByteView body, const DevicePublicKey& claimed_sender) {
  BundleMetadata meta;
  meta.body_length = body.size();
  Bytes inner = v1::encode_inner(meta, claimed_sender);
  Bytes plain(padded, 0);
  REQUIRE(inner.size() + body.size() <= padded);
  std::memcpy(plain.data(), inner.data(), inner.size());
  std::memcpy(plain.data() + inner.size(), body.data(), body.size());
  return plain;
}

// What a malicious coordinator can do with its own key: recover the file key from its slot.
SecretBytes insider_file_key(ByteView b, const CoordinatorSecretKey& k) {
  const uint16_t n = slot_count(b);
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
  const uint16_t n = slot_count(original);
  const uint64_t padded = padded_length(original);
  Bytes plain = padded_plaintext(padded, new_body, claimed_sender);
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
  // the header MAC. Even with one file key in both (the header MAC holds), the reader refuses:
  // readers that picked different slots would check different authenticators.
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
  CHECK(verdict(bundle, a) == Errc::kBundleDuplicateSlot);
  MemorySource again(bundle);
  StagedMemorySink out;
  auto opened = open_bundle(again, a.x25519(), std::nullopt, out);
  CHECK(opened.code() == Errc::kBundleDuplicateSlot);
  CHECK(opened.error().message ==
        "slots 0 and 1 both open with this key (a recipient addressed twice)");
  CHECK_FALSE(out.committed());
}

TEST_CASE("an ephemeral key with bit 255 set is refused before any slot is tried",
          "[bundle][attack]") {
  // X25519 ignores bit 255, so the flipped E is the same point; the verdict is the same for
  // every reader, recipient or not, and a relay could reach it without any key.
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate(), stranger = CoordinatorSecretKey::generate();
  Bytes bundle = seal(dev, {a.public_key().x25519}, 2, pattern(10));
  REQUIRE((bundle[12 + 31] & 0x80) == 0);  // X25519(e, 9) is always canonical
  bundle[12 + 31] |= 0x80;
  CHECK(verdict(bundle, a) == Errc::kBundleKeyNotCanonical);
  CHECK(verdict(bundle, stranger) == Errc::kBundleKeyNotCanonical);
  MemorySource src(bundle);
  StagedMemorySink out;
  auto opened = open_bundle(src, a.x25519(), std::nullopt, out);
  CHECK(opened.code() == Errc::kBundleKeyNotCanonical);
  CHECK(opened.error().message ==
        "the ephemeral key is not a canonical X25519 encoding: bit 255 is set");
}

TEST_CASE("an inner header naming a second encoding of a device key is refused",
          "[bundle][attack]") {
  // A device's own key with bit 255 set (or a value p or more) would pass the sender
  // authenticator, since X25519 treats it alike, yet compare as another device: past a
  // registry, past a device marked lost, past duplicate-sequence detection.
  BundleMetadata meta;
  DevicePublicKey d = DeviceSecretKey::generate().public_key();
  Bytes plain(4096, 0);
  auto parse = [&](const DevicePublicKey& claimed) {
    Bytes inner = v1::encode_inner(meta, claimed);
    std::copy(inner.begin(), inner.end(), plain.begin());
    return v1::parse_inner(plain, plain.size());
  };
  REQUIRE(parse(d).ok());
  d.x25519[31] |= 0x80;
  auto top = parse(d);
  CHECK(top.code() == Errc::kBundleKeyNotCanonical);
  CHECK(top.error().message ==
        "the sender's device key is not a canonical X25519 encoding: bit 255 is set");
  d.x25519.fill(0xff);
  d.x25519[0] = 0xf6;  // p + 9
  d.x25519[31] = 0x7f;
  CHECK(parse(d).code() == Errc::kBundleKeyNotCanonical);
}

namespace {

// What an insider who holds the file key can do to a bundle in place: keep the header and the
// trailer byte for byte (so the header hash and every MAC still hold) and re-encrypt another
// body of the same padded length under the original payload key and stream header. Alone, the
// result fails B11; served in place of the original between two reads, it must not be opened.
Bytes insider_payload_swap(ByteView original, const CoordinatorSecretKey& insider,
                           ByteView new_body, const DevicePublicKey& claimed_sender) {
  SecretBytes fk = insider_file_key(original, insider);
  uint8_t pk[32];
  crypto_kdf_derive_from_key(pk, 32, v1::kSubkeyPayload, v1::kKdfContext, fk.data());
  const uint16_t n = slot_count(original);
  const uint64_t padded = padded_length(original);
  Bytes plain = padded_plaintext(padded, new_body, claimed_sender);
  // init_pull from the original stream header gives the state init_push had: the same stream
  // position, so the new chunks follow the original header.
  crypto_secretstream_xchacha20poly1305_state st;
  const size_t h = v1::header_len(n);
  REQUIRE(crypto_secretstream_xchacha20poly1305_init_pull(&st, original.data() + 44, pk) == 0);
  Bytes out(original.begin(), original.end());
  size_t at = h;
  const uint64_t chunks = v1::chunk_count(padded);
  for (uint64_t k = 0; k < chunks; k++) {
    const size_t plen = v1::chunk_plain_len(padded, k);
    crypto_secretstream_xchacha20poly1305_push(
        &st, out.data() + at, nullptr, plain.data() + k * kBundleChunkSize, plen, nullptr, 0,
        k + 1 == chunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    at += plen + v1::kChunkOverhead;
  }
  REQUIRE(at == original.size() - v1::trailer_len(n));
  return out;
}

// Serves one bundle until swap(), then another of the same size: a file replaced between two
// reads of it.
class SwappingSource final : public RandomAccessSource {
 public:
  SwappingSource(ByteView before, ByteView after) : before_(before), after_(after) {}
  void swap() { swapped_ = true; }
  uint64_t size() const override { return before_.size(); }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override {
    MemorySource src(swapped_ ? after_ : before_);
    return src.read_at(offset, out);
  }

 private:
  ByteView before_, after_;
  bool swapped_ = false;
};

// Serves each byte from `first` the first time it is read and from `later` every time after,
// and counts the reads of every byte.
class RereadChangingSource final : public RandomAccessSource {
 public:
  RereadChangingSource(ByteView first, ByteView later)
      : first_(first), later_(later), reads_(first.size(), 0) {}
  uint64_t size() const override { return first_.size(); }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > first_.size() || first_.size() - offset < out.size())
      return make_error(Errc::kIoError, "read past the end");
    for (size_t i = 0; i < out.size(); i++) {
      const size_t at = static_cast<size_t>(offset) + i;
      out[i] = reads_[at]++ == 0 ? first_[at] : later_[at];
    }
    return Status::Ok();
  }
  // True if every byte was read exactly once.
  bool each_byte_read_once() const {
    return std::all_of(reads_.begin(), reads_.end(), [](uint32_t r) { return r == 1; });
  }

 private:
  ByteView first_, later_;
  std::vector<uint32_t> reads_;
};

// A swap scenario: a device's bundle to an insider and a victim, and the insider's in-place
// replacement of its payload. Three blocks and more, so the hash runs on its helper thread.
struct Swap {
  DeviceSecretKey dev = DeviceSecretKey::generate();
  CoordinatorSecretKey insider = CoordinatorSecretKey::generate();
  CoordinatorSecretKey victim = CoordinatorSecretKey::generate();
  Bytes body = pattern(3 * 1024 * 1024 + 5, 1);
  Bytes bundle = seal(dev, {insider.public_key().x25519, victim.public_key().x25519}, 2, body);
  Bytes swapped =
      insider_payload_swap(bundle, insider, pattern(3 * 1024 * 1024 + 5, 2), dev.public_key());
};

}  // namespace

TEST_CASE("an insider's in-place payload swap fails the victim's sender check",
          "[bundle][attack]") {
  Swap s;
  REQUIRE(s.swapped.size() == s.bundle.size());
  CHECK(verdict(s.bundle, s.victim, s.dev.public_key()) == Errc::kOk);
  CHECK(verdict(s.swapped, s.victim, s.dev.public_key()) == Errc::kBundleBadSender);
}

TEST_CASE("decrypt_to refuses a payload swapped in after verification", "[bundle][attack]") {
  Swap s;
  SwappingSource src(s.bundle, s.swapped);
  auto vb = verify_bundle(src, s.victim.x25519(), s.dev.public_key());
  REQUIRE(vb.ok());
  src.swap();
  MemorySink out;
  CHECK(vb->decrypt_to(out).code() == Errc::kBundleBadSender);
}

TEST_CASE(
    "open_bundle reads each byte once, so bytes that change on a second read are never "
    "seen",
    "[bundle][attack]") {
  Swap s;
  RereadChangingSource src(s.bundle, s.swapped);
  StagedMemorySink out;
  auto opened = open_bundle(src, s.victim.x25519(), s.dev.public_key(), out);
  REQUIRE(opened.ok());
  CHECK(src.each_byte_read_once());
  REQUIRE(out.committed());
  CHECK(Bytes(out.data().begin(), out.data().end()) == s.body);
  // The same source defeats the two-pass opener's second read, which now refuses it.
  RereadChangingSource again(s.bundle, s.swapped);
  auto vb = verify_bundle(again, s.victim.x25519(), s.dev.public_key());
  REQUIRE(vb.ok());
  MemorySink plain;
  CHECK(vb->decrypt_to(plain).code() == Errc::kBundleBadSender);
}

TEST_CASE("open_bundle refuses a bundle swapped while it is read, and releases nothing",
          "[bundle][attack]") {
  Swap s;
  // The swap lands after the first block, at the second block, before the trailer, or at the
  // trailer; the bytes before it are the original's.
  const size_t h = v1::header_len(2);
  for (size_t switch_at : {h + v1::kBlockCipherLen, h + 2 * v1::kBlockCipherLen,
                           s.bundle.size() - v1::trailer_len(2) - 1}) {
    CAPTURE(switch_at);
    Bytes mixed(s.bundle.begin(), s.bundle.begin() + static_cast<std::ptrdiff_t>(switch_at));
    mixed.insert(mixed.end(), s.swapped.begin() + static_cast<std::ptrdiff_t>(switch_at),
                 s.swapped.end());
    MemorySource src(mixed);
    StagedMemorySink out;
    auto opened = open_bundle(src, s.victim.x25519(), s.dev.public_key(), out);
    CHECK((opened.code() == Errc::kBundleChunkCorrupt || opened.code() == Errc::kBundleBadSender));
    CHECK_FALSE(out.committed());
    CHECK(out.data().empty());
  }
}

TEST_CASE("every refusal of open_bundle discards the staged plaintext", "[bundle][attack]") {
  auto dev = DeviceSecretKey::generate();
  auto a = CoordinatorSecretKey::generate();
  Bytes bundle = seal(dev, {a.public_key().x25519}, 1, pattern(3 * kBundleChunkSize));
  // A sink that records what open_bundle asks of it.
  struct RecordingSink final : StagingSink {
    size_t written = 0;
    bool committed = false, discarded = false;
    Status write(ByteView d) override {
      written += d.size();
      return Status::Ok();
    }
    Status commit() override {
      committed = true;
      return Status::Ok();
    }
    void discard() override { discarded = true; }
  };
  const size_t last_chunk = bundle.size() - v1::trailer_len(1) - 5;
  for (size_t flip : {size_t{0}, size_t{20}, v1::header_len(1) + 3, last_chunk, bundle.size() - 40,
                      bundle.size() - 1}) {
    CAPTURE(flip);
    Bytes m = bundle;
    m[flip] ^= 0x01;
    MemorySource src(m);
    RecordingSink sink;
    auto opened = open_bundle(src, a.x25519(), std::nullopt, sink);
    CHECK_FALSE(opened.ok());
    CHECK_FALSE(sink.committed);
    CHECK(sink.discarded);
  }
  // A trailer flip is caught only after the whole body went to the staging sink: still
  // discarded, never committed.
  Bytes m = bundle;
  m[bundle.size() - 1] ^= 0x01;
  MemorySource src(m);
  RecordingSink sink;
  CHECK(open_bundle(src, a.x25519(), std::nullopt, sink).code() == Errc::kBundleTrailerTampered);
  CHECK(sink.written == 3 * kBundleChunkSize);
  CHECK((sink.discarded && !sink.committed));
}

TEST_CASE("a bundle file rewritten on disk during open_bundle is refused and leaves no file",
          "[bundle][attack]") {
  namespace fs = std::filesystem;
  Swap s;
  const fs::path dir =
      fs::temp_directory_path() / ("satchel-rewrite-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "bundle";
  auto write_all = [&](ByteView b) {
    std::ofstream f(path, std::ios::binary | std::ios::in | std::ios::out | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  write_all(s.bundle);
  auto file = FileSource::open(path.string());
  REQUIRE(file.ok());
  // Forwards reads to the real file, and rewrites the file with the insider's version once the
  // opener has read past the first block of the payload.
  struct RewriteMidway final : RandomAccessSource {
    FileSource& file;
    std::function<void()> rewrite;
    uint64_t trigger;
    bool done = false;
    RewriteMidway(FileSource& f, std::function<void()> r, uint64_t t)
        : file(f), rewrite(std::move(r)), trigger(t) {}
    uint64_t size() const override { return file.size(); }
    Status read_at(uint64_t offset, std::span<uint8_t> out) override {
      Status st = file.read_at(offset, out);
      if (!done && offset + out.size() >= trigger) {
        done = true;
        rewrite();
      }
      return st;
    }
  };
  RewriteMidway src(
      *file, [&] { write_all(s.swapped); }, v1::header_len(2) + v1::kBlockCipherLen);
  auto out = StagedFileSink::create((dir / "body").string());
  REQUIRE(out.ok());
  auto opened = open_bundle(src, s.victim.x25519(), s.dev.public_key(), *out);
  CHECK(src.done);
  CHECK((opened.code() == Errc::kBundleChunkCorrupt || opened.code() == Errc::kBundleBadSender));
  CHECK_FALSE(fs::exists(dir / "body"));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  fs::remove_all(dir);
}
