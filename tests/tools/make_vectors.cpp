// TEST ONLY. Generates tests/vectors/ deterministically (seeded RNG): keys, good and bad bundles,
// good and bad trust documents, and the manifests bundles.tsv and documents.tsv that name, for
// each vector, the verdict expected and the spec rule it exercises (schema/bundle-format.md B*,
// schema/trust-documents.md D*). Bad bundles that only a key holder could make (rules B8, B9,
// B11, B12) are built by an independent implementation of the v1 layout below ("craft").
#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "bundle_layout.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/invite.h"
#include "satchel/crypto/published_document.h"
#include "satchel/crypto/sha256.h"
#include "satchel/crypto/trust_documents.h"
#include "support/seeded_random.h"

namespace fs = std::filesystem;
using namespace satchel;
namespace v1 = satchel::bundle_v1;

namespace {

constexpr int64_t kNow = 1800000000;  // the runner's fixed "now" (2027-01-15)

fs::path g_out;
std::ofstream g_bundles, g_docs;
int g_bad_bundles = 0, g_bad_docs = 0;

void write_file(const std::string& rel, ByteView data) {
  fs::path p = g_out / rel;
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

void write_text(const std::string& rel, std::string_view text) {
  write_file(rel, as_bytes(text));
}

std::string text_of(const SecretBytes& s) {
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return s;
}

std::string hex_sha(ByteView b) {
  return to_hex(Sha256::digest(b));
}

// One manifest line per bundle vector.
void bundle_vector(const std::string& name, ByteView bytes, const std::string& key,
                   const std::string& expect_sender, const std::string& expect, ByteView body,
                   const std::string& rule, const std::string& what) {
  write_file("bundle/" + name + ".bundle", bytes);
  g_bundles << name << '\t' << key << '\t' << expect_sender << '\t' << expect << '\t'
            << (expect == "ok" ? hex_sha(body) : "-") << '\t' << rule << '\t' << what << '\n';
  if (expect != "ok") g_bad_bundles++;
}

void doc_vector(const std::string& name, std::string_view text, const std::string& kind,
                const std::string& trusted, const std::string& held, const std::string& expect,
                const std::string& rule, const std::string& what) {
  write_text("docs/" + name + ".txt", text);
  g_docs << name << '\t' << kind << '\t' << trusted << '\t' << held << '\t' << expect << '\t'
         << rule << '\t' << what << '\n';
  if (expect != "ok") g_bad_docs++;
}

Bytes seal(const DeviceSecretKey& dev, std::vector<Key32> to, uint16_t slots, ByteView body,
           ContentType type = ContentType::kRecord, const std::string& form_id = "") {
  SealRequest req;
  req.sender = &dev;
  req.recipients = std::move(to);
  req.slot_count = slots;
  req.metadata.sequence = 7000 + body.size();
  req.metadata.created_at = kNow - 1000;
  req.metadata.content_type = type;
  req.metadata.body_length = body.size();
  if (!form_id.empty()) {
    req.metadata.form_id = form_id;
    req.metadata.form_version = 3;
    req.metadata.form_hash = Sha256::digest(as_bytes(form_id));
  }
  MemorySource src(body);
  MemorySink out;
  auto info = seal_bundle(std::move(req), src, out);
  if (!info) {
    std::cerr << "seal failed: " << info.error().message << "\n";
    std::exit(1);
  }
  return std::move(out.data());
}

// Independent construction of a v1 bundle with hooks, for vectors only a key holder can make.
struct Craft {
  const DeviceSecretKey* device = nullptr;  // computes the authenticators
  std::optional<DevicePublicKey> claimed;   // device key written in the inner header
  std::vector<Key32> recipients;
  uint16_t slots = 0;
  Bytes body;
  BundleMetadata meta;
  std::function<void(Bytes& inner)> edit_inner;
  std::function<void(Bytes& plaintext)> edit_plaintext;
  std::function<uint8_t(uint64_t k, uint64_t chunks)> tag;
  bool corrupt_auth_key = false;  // authenticate with a wrong device key
  // Rewrites E after it is computed; slot keys and the prefix then use the rewritten bytes.
  std::function<void(uint8_t eph_pub[32])> edit_ephemeral;
  // The one recipient's secret key: authenticate as that recipient can, to itself, for any
  // claimed device key (dh_static = X25519(r, claimed) instead of X25519(d, R)).
  const SecretBytes* self_forger = nullptr;
  // Indices into recipients whose slot wraps a random decoy key instead of the file key.
  std::vector<size_t> decoy_slots;
};

Bytes craft(const Craft& c) {
  BundleMetadata meta = c.meta;
  meta.body_length = c.body.size();
  randombytes_buf(meta.bundle_id.data(), meta.bundle_id.size());
  DevicePublicKey claimed = c.claimed ? *c.claimed : c.device->public_key();
  Bytes inner = v1::encode_inner(meta, claimed);
  if (c.edit_inner) c.edit_inner(inner);
  uint64_t padded = padme_padded_length(inner.size() + c.body.size());
  Bytes plain(padded, 0);
  std::memcpy(plain.data(), inner.data(), inner.size());
  std::memcpy(plain.data() + inner.size(), c.body.data(), c.body.size());
  if (c.edit_plaintext) c.edit_plaintext(plain);

  uint8_t file_key[32], payload_key[32], mac_key[32], trailer_key[32], eph_sk[32], eph_pk[32];
  randombytes_buf(file_key, 32);
  crypto_kdf_derive_from_key(trailer_key, 32, v1::kSubkeyTrailerMac, v1::kKdfContext, file_key);
  crypto_kdf_derive_from_key(payload_key, 32, v1::kSubkeyPayload, v1::kKdfContext, file_key);
  crypto_kdf_derive_from_key(mac_key, 32, v1::kSubkeyHeaderMac, v1::kKdfContext, file_key);
  randombytes_buf(eph_sk, 32);
  crypto_scalarmult_base(eph_pk, eph_sk);
  if (c.edit_ephemeral) c.edit_ephemeral(eph_pk);

  const uint16_t n = c.slots;
  Bytes header(v1::header_len(n));
  header[0] = kBundleVersion;
  header[1] = 0;
  header[2] = static_cast<uint8_t>(n);
  header[3] = static_cast<uint8_t>(n >> 8);
  for (int i = 0; i < 8; i++) header[4 + i] = static_cast<uint8_t>(padded >> (8 * i));
  std::memcpy(header.data() + 12, eph_pk, 32);
  crypto_secretstream_xchacha20poly1305_state st;
  crypto_secretstream_xchacha20poly1305_init_push(&st, header.data() + 44, payload_key);
  randombytes_buf(header.data() + v1::kPrefixLen, v1::kSlotLen * n);
  Bytes trailer(v1::trailer_len(n));
  randombytes_buf(trailer.data(), v1::kAuthLen * n);
  // Recipients take slots 0..r-1 in reverse order (position does not matter to a reader).
  std::vector<uint16_t> pos;
  for (size_t i = 0; i < c.recipients.size(); i++)
    pos.push_back(static_cast<uint16_t>(c.recipients.size() - 1 - i));
  std::vector<std::array<uint8_t, 32>> dh_eph(c.recipients.size());
  const uint8_t zero_nonce[12] = {};
  for (size_t i = 0; i < c.recipients.size(); i++) {
    if (crypto_scalarmult(dh_eph[i].data(), eph_sk, c.recipients[i].data()) != 0) std::abort();
    uint8_t sk[32], decoy[32];
    v1::slot_key(dh_eph[i].data(), eph_pk, c.recipients[i].data(), sk);
    const uint8_t* wrapped = file_key;
    if (std::find(c.decoy_slots.begin(), c.decoy_slots.end(), i) != c.decoy_slots.end()) {
      randombytes_buf(decoy, sizeof decoy);
      wrapped = decoy;
    }
    crypto_aead_chacha20poly1305_ietf_encrypt(
        header.data() + v1::kPrefixLen + v1::kSlotLen * pos[i], nullptr, wrapped, 32, header.data(),
        v1::kPrefixLen, nullptr, zero_nonce, sk);
  }
  const size_t mac_at = v1::kPrefixLen + v1::kSlotLen * n;
  v1::header_mac(mac_key, ByteView(header.data(), mac_at), header.data() + mac_at);
  Hash32 header_hash = Sha256::digest(header);

  Bytes out = header;
  Sha256 content;
  const uint64_t chunks = v1::chunk_count(padded);
  for (uint64_t k = 0; k < chunks; k++) {
    size_t plen = v1::chunk_plain_len(padded, k);
    Bytes ct(plen + v1::kChunkOverhead);
    uint8_t tag = c.tag ? c.tag(k, chunks)
                        : (k + 1 == chunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    crypto_secretstream_xchacha20poly1305_push(
        &st, ct.data(), nullptr, plain.data() + k * kBundleChunkSize, plen, nullptr, 0, tag);
    content.update(ct);
    out.insert(out.end(), ct.begin(), ct.end());
  }
  Hash32 content_hash = content.finish();
  DeviceSecretKey wrong = DeviceSecretKey::generate();
  const DeviceSecretKey& signer = c.corrupt_auth_key ? wrong : *c.device;
  for (size_t i = 0; i < c.recipients.size(); i++) {
    uint8_t dh_static[32];
    const int dh =
        c.self_forger
            ? crypto_scalarmult(dh_static, c.self_forger->data(), claimed.x25519.data())
            : crypto_scalarmult(dh_static, signer.x25519().data(), c.recipients[i].data());
    if (dh != 0 || (c.self_forger && c.recipients.size() != 1)) std::abort();
    v1::sender_authenticator(dh_static, dh_eph[i].data(), header_hash, pos[i],
                             claimed.x25519.data(), c.recipients[i].data(), content_hash,
                             trailer.data() + v1::kAuthLen * pos[i]);
  }
  v1::trailer_mac(trailer_key, header_hash, ByteView(trailer.data(), v1::kAuthLen * n),
                  trailer.data() + v1::kAuthLen * n);
  out.insert(out.end(), trailer.begin(), trailer.end());
  return out;
}

Bytes body_of(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 8));
  return b;
}

int slot_of(ByteView bundle, const CoordinatorSecretKey& key) {
  MemorySource src(bundle);
  auto vb = verify_bundle(src, key.x25519(), std::nullopt);
  if (!vb) {
    std::cerr << "base bundle does not verify: " << vb.error().message << "\n";
    std::exit(1);
  }
  return vb->slot_index();
}

// p + 9 (p = 2^255 - 19): a non-canonical name for u = 9, with bit 255 clear.
Key32 p_plus_9() {
  Key32 k;
  k.fill(0xff);
  k[0] = 0xf6;
  k[31] = 0x7f;
  return k;
}

void put_u16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void put_u64(Bytes& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; i++) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_vectors OUTDIR\n";
    return 2;
  }
  satchel::testing::install_seeded_random("satchel test vectors v1");
  g_out = argv[1];
  fs::create_directories(g_out);
  g_bundles.open(g_out / "bundles.tsv");
  g_docs.open(g_out / "documents.tsv");
  g_bundles << "# name\tkey\texpect_sender\texpect\tbody_sha256\trule\tdescription\n";
  g_docs << "# name\tkind\ttrusted\theld\texpect\trule\tdescription\n";

  // --- keys ---
  auto coord_a = CoordinatorSecretKey::generate();
  auto coord_b = CoordinatorSecretKey::generate();
  auto coord_c = CoordinatorSecretKey::generate();
  auto dev_d = DeviceSecretKey::generate();
  auto dev_e = DeviceSecretKey::generate();
  auto org_o = OrgSecretKey::generate();
  auto org_p = OrgSecretKey::generate();
  auto secret_text = [](const SecretBytes& s) {
    return std::string(reinterpret_cast<const char*>(s.data()), s.size()) + "\n";
  };
  write_text("keys/coordinator-a.key", secret_text(coord_a.to_text()));
  write_text("keys/coordinator-b.key", secret_text(coord_b.to_text()));
  write_text("keys/coordinator-c.key", secret_text(coord_c.to_text()));
  write_text("keys/device-d.pub", dev_d.public_key().to_text() + "\n");
  write_text("keys/device-e.pub", dev_e.public_key().to_text() + "\n");
  write_text("keys/org-o.pub", org_o.public_key().to_text() + "\n");
  write_text("keys/org-p.pub", org_p.public_key().to_text() + "\n");
  const Key32 A = coord_a.public_key().x25519, B = coord_b.public_key().x25519;

  // --- good bundles ---
  const Bytes small = body_of(100, 1), multi = body_of(70000, 2);
  Bytes base_small = seal(dev_d, {A, B}, 3, small);
  Bytes base_multi = seal(dev_d, {A, B}, 3, multi);
  Bytes other_multi = seal(dev_d, {A, B}, 3, body_of(70000, 9));
  bundle_vector("g01-empty-body", seal(dev_d, {A}, 1, {}), "coordinator-a", "device-d", "ok", {},
                "B1-B13", "empty body, one slot");
  bundle_vector("g02-one-byte", seal(dev_d, {A, B}, 2, body_of(1, 3)), "coordinator-b", "-", "ok",
                body_of(1, 3), "B1-B13", "one-byte body, read by the second recipient");
  bundle_vector("g03-small-three-slots", base_small, "coordinator-a", "device-d", "ok", small,
                "B1-B13", "100-byte body, 2 recipients in 3 slots");
  bundle_vector("g04-two-chunks", base_multi, "coordinator-b", "device-d", "ok", multi, "B1-B13",
                "70000-byte body over two chunks");
  bundle_vector("g05-cover-with-form",
                seal(dev_d, {A, B}, 4, body_of(5000, 4), ContentType::kCover, "gcm-input.v2"),
                "coordinator-a", "-", "ok", body_of(5000, 4), "B9",
                "cover content type with form fields");
  Craft good;
  good.device = &dev_d;
  good.recipients = {A, B};
  good.slots = 3;
  good.body = body_of(70000, 5);
  good.meta.sequence = 42;
  good.meta.created_at = kNow - 50;
  bundle_vector("g06-independent-implementation", craft(good), "coordinator-a", "device-d", "ok",
                good.body, "B1-B13", "built by the vector generator's own v1 writer");

  // --- bad bundles: structure (B1-B5) ---
  const int slot_a = slot_of(base_small, coord_a);
  const int slot_b = slot_of(base_small, coord_b);
  const int unused = 3 - slot_a - slot_b;  // slots are 0,1,2
  const size_t n3_header = v1::header_len(3);
  auto mutated = [](Bytes b, const std::function<void(Bytes&)>& f) {
    f(b);
    return b;
  };
  bundle_vector("b01-version-zero", mutated(base_small, [](Bytes& b) { b[0] = 0; }),
                "coordinator-a", "-", "bundle-unsupported-version", {}, "B1", "version byte 0");
  bundle_vector("b02-version-two", mutated(base_small, [](Bytes& b) { b[0] = 2; }), "coordinator-a",
                "-", "bundle-unsupported-version", {}, "B1", "version byte 2 (no negotiation)");
  bundle_vector("b03-flags-set", mutated(base_small, [](Bytes& b) { b[1] = 1; }), "coordinator-a",
                "-", "bundle-unknown-flags", {}, "B2", "flags byte 0x01");
  bundle_vector("b04-flags-high-bit", mutated(base_small, [](Bytes& b) { b[1] = 0x80; }),
                "coordinator-a", "-", "bundle-unknown-flags", {}, "B2", "flags byte 0x80");
  bundle_vector("b05-zero-slots", mutated(base_small, [&](Bytes& b) { put_u16(b, 2, 0); }),
                "coordinator-a", "-", "bundle-bad-slot-count", {}, "B3", "slot count 0");
  bundle_vector("b06-too-many-slots", mutated(base_small, [&](Bytes& b) { put_u16(b, 2, 65); }),
                "coordinator-a", "-", "bundle-bad-slot-count", {}, "B3", "slot count 65");
  bundle_vector("b07-length-not-padme", mutated(base_small, [&](Bytes& b) { put_u64(b, 4, 4097); }),
                "coordinator-a", "-", "bundle-bad-length", {}, "B4",
                "padded length 4097 is not a Padme size");
  bundle_vector("b08-length-below-floor",
                mutated(base_small, [&](Bytes& b) { put_u64(b, 4, 2048); }), "coordinator-a", "-",
                "bundle-bad-length", {}, "B4", "padded length 2048 is below the 4096 floor");
  bundle_vector("b09-length-too-large",
                mutated(base_small, [&](Bytes& b) { put_u64(b, 4, uint64_t{1} << 41); }),
                "coordinator-a", "-", "bundle-bad-length", {}, "B4",
                "padded length 2^41 exceeds the 2^40 limit");
  bundle_vector("b10-empty-file", Bytes{}, "coordinator-a", "-", "bundle-truncated", {}, "B5",
                "zero bytes");
  bundle_vector("b11-cut-in-prefix", Bytes(base_small.begin(), base_small.begin() + 7),
                "coordinator-a", "-", "bundle-truncated", {}, "B5", "cut inside the fixed prefix");
  bundle_vector("b12-cut-one-byte", Bytes(base_small.begin(), base_small.end() - 1),
                "coordinator-a", "-", "bundle-truncated", {}, "B5", "last byte missing");
  bundle_vector(
      "b13-cut-at-trailer",
      Bytes(base_multi.begin(), base_multi.end() - static_cast<std::ptrdiff_t>(v1::trailer_len(3))),
      "coordinator-a", "-", "bundle-truncated", {}, "B5",
      "authenticators cut off (final chunk boundary)");
  const size_t first_chunk_end = n3_header + kBundleChunkSize + v1::kChunkOverhead;
  bundle_vector(
      "b14-cut-at-chunk-boundary",
      Bytes(base_multi.begin(), base_multi.begin() + static_cast<std::ptrdiff_t>(first_chunk_end)),
      "coordinator-a", "-", "bundle-truncated", {}, "B5", "cut after the first chunk");
  bundle_vector("b15-one-byte-appended", mutated(base_small, [](Bytes& b) { b.push_back(0); }),
                "coordinator-a", "-", "bundle-trailing-data", {}, "B5",
                "one byte after the bundle");
  bundle_vector("b16-bundle-appended",
                mutated(base_small,
                        [&](Bytes& b) { b.insert(b.end(), base_small.begin(), base_small.end()); }),
                "coordinator-a", "-", "bundle-trailing-data", {}, "B5", "two bundles concatenated");
  // --- slots and header (B6-B7) ---
  bundle_vector("b17-wrong-key", base_small, "coordinator-c", "-", "bundle-no-slot-opens", {}, "B6",
                "a coordinator that is not a recipient");
  bundle_vector("b18-own-slot-damaged",
                mutated(base_small, [&](Bytes& b) { b[v1::kPrefixLen + 48 * slot_a + 5] ^= 1; }),
                "coordinator-a", "-", "bundle-no-slot-opens", {}, "B6",
                "the reader's slot has a flipped bit (same reason as a wrong key)");
  bundle_vector("b19-ephemeral-changed", mutated(base_small, [](Bytes& b) { b[20] ^= 0x40; }),
                "coordinator-a", "-", "bundle-no-slot-opens", {}, "B6",
                "ephemeral public key altered");
  bundle_vector("b20-ephemeral-low-order",
                mutated(base_small, [](Bytes& b) { std::memset(b.data() + 12, 0, 32); }),
                "coordinator-a", "-", "bundle-no-slot-opens", {}, "B6",
                "ephemeral key is the zero point");
  bundle_vector("b21-unused-slot-damaged",
                mutated(base_small, [&](Bytes& b) { b[v1::kPrefixLen + 48 * unused] ^= 1; }),
                "coordinator-a", "-", "bundle-header-tampered", {}, "B7", "an unused slot altered");
  bundle_vector(
      "b22-slots-swapped",
      mutated(base_small,
              [&](Bytes& b) {
                std::swap_ranges(
                    b.begin() + static_cast<std::ptrdiff_t>(v1::kPrefixLen + 48 * slot_a),
                    b.begin() + static_cast<std::ptrdiff_t>(v1::kPrefixLen + 48 * slot_a + 48),
                    b.begin() + static_cast<std::ptrdiff_t>(v1::kPrefixLen + 48 * unused));
              }),
      "coordinator-a", "-", "bundle-header-tampered", {}, "B7",
      "the reader's slot swapped with an unused one");
  bundle_vector("b23-header-mac-flipped",
                mutated(base_small, [&](Bytes& b) { b[n3_header - 1] ^= 1; }), "coordinator-a", "-",
                "bundle-header-tampered", {}, "B7", "header MAC altered");
  bundle_vector("b24-stream-header-flipped", mutated(base_small, [](Bytes& b) { b[50] ^= 1; }),
                "coordinator-a", "-", "bundle-no-slot-opens", {}, "B6",
                "secretstream header altered (the prefix is every slot's associated data)");
  // --- payload (B8-B11) ---
  bundle_vector("b25-payload-bit-flipped",
                mutated(base_small, [&](Bytes& b) { b[n3_header + 200] ^= 1; }), "coordinator-a",
                "-", "bundle-chunk-corrupt", {}, "B8", "a ciphertext bit in chunk 0");
  const size_t c0 = kBundleChunkSize + v1::kChunkOverhead;
  Bytes reordered = base_multi;
  {
    // Chunk 1 is shorter than chunk 0: move chunk 1 to the front and chunk 0 after it.
    Bytes ch0(base_multi.begin() + static_cast<std::ptrdiff_t>(n3_header),
              base_multi.begin() + static_cast<std::ptrdiff_t>(n3_header + c0));
    size_t c1 = base_multi.size() - v1::trailer_len(3) - n3_header - c0;
    Bytes ch1(base_multi.begin() + static_cast<std::ptrdiff_t>(n3_header + c0),
              base_multi.begin() + static_cast<std::ptrdiff_t>(n3_header + c0 + c1));
    Bytes r(base_multi.begin(), base_multi.begin() + static_cast<std::ptrdiff_t>(n3_header));
    r.insert(r.end(), ch1.begin(), ch1.end());
    r.insert(r.end(), ch0.begin(), ch0.end());
    r.insert(r.end(), base_multi.end() - static_cast<std::ptrdiff_t>(v1::trailer_len(3)),
             base_multi.end());
    reordered = r;
  }
  bundle_vector("b26-chunks-reordered", reordered, "coordinator-a", "-", "bundle-chunk-corrupt", {},
                "B8", "the two chunks in swapped order");
  bundle_vector("b27-chunk-from-other-bundle",
                mutated(base_multi,
                        [&](Bytes& b) {
                          std::copy(
                              other_multi.begin() + static_cast<std::ptrdiff_t>(n3_header + c0),
                              other_multi.end() - static_cast<std::ptrdiff_t>(v1::trailer_len(3)),
                              b.begin() + static_cast<std::ptrdiff_t>(n3_header + c0));
                        }),
                "coordinator-a", "-", "bundle-chunk-corrupt", {}, "B12",
                "chunk 1 spliced from another bundle of the same size");
  auto crafted = [&](const std::function<void(Craft&)>& f) {
    Craft c = good;
    c.body = body_of(70000, 6);
    f(c);
    return craft(c);
  };
  bundle_vector("b28-last-chunk-not-final",
                crafted([](Craft& c) { c.tag = [](uint64_t, uint64_t) -> uint8_t { return 0; }; }),
                "coordinator-a", "-", "bundle-bad-chunk-tag", {}, "B12",
                "every chunk tagged MESSAGE (stream never ends)");
  bundle_vector("b29-final-too-early", crafted([](Craft& c) {
                  c.tag = [](uint64_t, uint64_t) -> uint8_t {
                    return crypto_secretstream_xchacha20poly1305_TAG_FINAL;
                  };
                }),
                "coordinator-a", "-", "bundle-bad-chunk-tag", {}, "B8",
                "chunk 0 tagged FINAL with data after it");
  bundle_vector("b30-rekey-tag", crafted([](Craft& c) {
                  c.tag = [](uint64_t k, uint64_t n) -> uint8_t {
                    return k + 1 == n ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                      : crypto_secretstream_xchacha20poly1305_TAG_REKEY;
                  };
                }),
                "coordinator-a", "-", "bundle-bad-chunk-tag", {}, "B8", "chunk 0 tagged REKEY");
  bundle_vector("b31-inner-flags-set", crafted([](Craft& c) {
                  c.edit_inner = [](Bytes& in) { in[32 + 16 + 8 + 8 + 16 + 8 + 1] = 1; };
                }),
                "coordinator-a", "-", "bundle-malformed-inner", {}, "B9",
                "inner flags byte 0x01 (reserved)");
  bundle_vector("b32-body-length-overflows", crafted([](Craft& c) {
                  c.edit_inner = [](Bytes& in) {
                    for (int i = 0; i < 8; i++) in[in.size() - 8 + i] = 0xff;
                  };
                }),
                "coordinator-a", "-", "bundle-malformed-inner", {}, "B9",
                "body length larger than the payload");
  bundle_vector("b33-form-id-bad-char", crafted([](Craft& c) {
                  c.meta.form_id = "form/one";
                  c.meta.form_version = 1;
                  c.meta.form_hash[0] = 1;
                }),
                "coordinator-a", "-", "bundle-malformed-inner", {}, "B9", "form id with '/'");
  bundle_vector("b34-content-type-zero", crafted([](Craft& c) {
                  c.edit_inner = [](Bytes& in) { in[32 + 16 + 8 + 8 + 16 + 8] = 0; };
                }),
                "coordinator-a", "-", "bundle-unknown-content-type", {}, "B9", "content type 0");
  bundle_vector("b35-content-type-unknown", crafted([](Craft& c) {
                  c.edit_inner = [](Bytes& in) { in[32 + 16 + 8 + 8 + 16 + 8] = 9; };
                }),
                "coordinator-a", "-", "bundle-unknown-content-type", {}, "B9", "content type 9");
  bundle_vector("b36-padding-not-zero",
                crafted([](Craft& c) { c.edit_plaintext = [](Bytes& p) { p.back() = 1; }; }),
                "coordinator-a", "-", "bundle-padding-not-zero", {}, "B12",
                "last padding byte is 1");
  // --- sender (B12-B13) ---
  bundle_vector("b37-authenticator-flipped",
                mutated(base_small,
                        [&](Bytes& b) { b[b.size() - v1::trailer_len(3) + 32 * slot_a + 3] ^= 1; }),
                "coordinator-a", "-", "bundle-trailer-tampered", {}, "B10",
                "the reader's authenticator altered");
  bundle_vector(
      "b41-other-authenticator-flipped",
      mutated(base_small, [&](Bytes& b) { b[b.size() - v1::trailer_len(3) + 32 * unused] ^= 1; }),
      "coordinator-a", "-", "bundle-trailer-tampered", {}, "B10",
      "an unused authenticator altered");
  bundle_vector("b42-trailer-mac-flipped",
                mutated(base_small, [&](Bytes& b) { b[b.size() - 1] ^= 1; }), "coordinator-a", "-",
                "bundle-trailer-tampered", {}, "B10", "trailer MAC altered");
  bundle_vector("b38-claims-other-device",
                crafted([&](Craft& c) { c.claimed = dev_e.public_key(); }), "coordinator-a", "-",
                "bundle-bad-sender", {}, "B11",
                "inner header names device E, authenticated by device D");
  bundle_vector("b39-insider-forgery", crafted([](Craft& c) { c.corrupt_auth_key = true; }),
                "coordinator-a", "-", "bundle-bad-sender", {}, "B11",
                "a key holder re-encrypted the payload; it cannot make D's authenticator");
  bundle_vector("b40-unexpected-sender", base_small, "coordinator-a", "device-e",
                "bundle-unexpected-sender", {}, "B13",
                "authentic, but from D where E was expected");

  // --- trust documents ---
  auto make_roster = [&](uint64_t version, int64_t issued, int64_t expires) {
    Roster r;
    r.org = org_o.public_key();
    r.version = version;
    r.issued_at = issued;
    r.expires_at = expires;
    r.org_name = "Example Rights Network";
    r.slot_count = 3;
    r.coordinators = {{"Amira", coord_a.public_key()}, {"Bao", coord_b.public_key()}};
    Hash32 pin{}, backup{};
    pin.fill(0x11);
    backup.fill(0x22);
    r.relays = {{"https://relay.example.org", pin, backup}};
    return r;
  };
  const std::string roster_v2 = make_roster(2, kNow - 100, kNow + 86400).sign(org_o).value();
  const std::string roster_v3 = make_roster(3, kNow - 50, kNow + 86400).sign(org_o).value();
  doc_vector("d01-roster-v2", roster_v2, "roster", "org-o", "-", "ok", "D1-D9", "roster version 2");
  doc_vector("d02-roster-v3-over-v2", roster_v3, "roster", "org-o", "d01-roster-v2", "ok", "D9",
             "newer roster accepted");
  auto wire_of = [](const std::string& text, size_t prefix) {
    return from_base64url(std::string_view(text).substr(prefix)).value();
  };
  Bytes rw = wire_of(roster_v2, 7);
  auto rearmor = [&](const std::function<void(Bytes&)>& f) {
    Bytes w = rw;
    f(w);
    return armor_document(DocType::kRoster, w);
  };
  doc_vector("x01-roster-as-form-prefix", "form-" + roster_v2.substr(7), "roster", "org-o", "-",
             "doc-wrong-type", "D1", "roster bytes under the form prefix");
  doc_vector("x02-roster-bad-base64", roster_v2.substr(0, 20) + "!" + roster_v2.substr(21),
             "roster", "org-o", "-", "doc-malformed", "D1", "invalid base64url character");
  doc_vector("x03-format-version-2", rearmor([](Bytes& w) { w[0] = 2; }), "roster", "org-o", "-",
             "doc-unsupported-version", "D2", "document format 2");
  doc_vector("x04-type-byte-form", rearmor([](Bytes& w) { w[1] = 3; }), "roster", "org-o", "-",
             "doc-wrong-type", "D3", "type byte says form envelope");
  // erase, not resize(size - 10): GCC 12 under ASan reads the latter as a possible overflow.
  doc_vector("x05-signature-cut", rearmor([](Bytes& w) { w.erase(w.end() - 10, w.end()); }),
             "roster", "org-o", "-", "doc-malformed", "D4", "signature truncated");
  doc_vector("x06-trailing-byte", rearmor([](Bytes& w) { w.push_back(0); }), "roster", "org-o", "-",
             "doc-malformed", "D4", "a byte after the signature");
  doc_vector("x07-other-org", roster_v2, "roster", "org-p", "-", "doc-untrusted-signer", "D5",
             "signed by O, device trusts P");
  doc_vector("x08-signature-flipped", rearmor([](Bytes& w) { w[w.size() - 5] ^= 1; }), "roster",
             "org-o", "-", "doc-bad-signature", "D6", "signature altered");
  doc_vector("x09-body-flipped", rearmor([](Bytes& w) { w[6 + 32 + 16] ^= 1; }), "roster", "org-o",
             "-", "doc-bad-signature", "D6", "version field altered after signing");
  const std::string form_pkg =
      FormEnvelope::sign_package(org_o, "gcm-input", 2,
                                 as_bytes(std::string_view("{\"id\":\"gcm-input\",\"version\":2}")),
                                 kNow - 10)
          .value();
  Bytes fw = wire_of(form_pkg, 5);
  {
    // A form envelope's signature replayed as a roster: type byte relabelled, content dropped.
    uint32_t body_len = static_cast<uint32_t>(fw[2] | (fw[3] << 8) | (fw[4] << 16) | (fw[5] << 24));
    Bytes w(fw.begin(), fw.begin() + 6 + body_len + 64);
    w[1] = static_cast<uint8_t>(DocType::kRoster);
    doc_vector("x10-form-signature-as-roster", armor_document(DocType::kRoster, w), "roster",
               "org-o", "-", "doc-bad-signature", "D6", "a form envelope relabelled as a roster");
  }
  {
    // Validly signed body with an invalid field: slot count 0.
    Bytes w = rw;
    uint32_t body_len = static_cast<uint32_t>(w[2] | (w[3] << 8) | (w[4] << 16) | (w[5] << 24));
    Bytes body(w.begin() + 6, w.begin() + 6 + body_len);
    const size_t slots_at = 32 + 16 + 8 + 8 + 8 + (2 + 22);  // after the organisation name
    body[slots_at] = 0;
    body[slots_at + 1] = 0;
    doc_vector("x11-slot-count-zero",
               armor_document(DocType::kRoster, sign_document(DocType::kRoster, body, org_o)),
               "roster", "org-o", "-", "doc-invalid-field", "D7",
               "signed roster with slot count 0");
    Bytes body2(w.begin() + 6, w.begin() + 6 + body_len);
    body2[32] ^= 1;
    doc_vector("x12-org-id-mismatch",
               armor_document(DocType::kRoster, sign_document(DocType::kRoster, body2, org_o)),
               "roster", "org-o", "-", "doc-invalid-field", "D7",
               "organisation id does not match the key");
    Bytes body3(w.begin() + 6, w.begin() + 6 + body_len);
    body3.push_back(0);
    doc_vector("x13-body-extra-byte",
               armor_document(DocType::kRoster, sign_document(DocType::kRoster, body3, org_o)),
               "roster", "org-o", "-", "doc-malformed", "D7",
               "signed body with a byte after the last field");
  }
  doc_vector("x14-expired", make_roster(4, kNow - 86400 * 2, kNow - 1).sign(org_o).value(),
             "roster", "org-o", "-", "doc-expired", "D8", "expired one second before now");
  doc_vector("x15-rollback", roster_v2, "roster", "org-o", "d02-roster-v3-over-v2", "doc-rollback",
             "D9", "version 2 offered while holding 3");
  doc_vector("x16-same-version-replay", roster_v3, "roster", "org-o", "d02-roster-v3-over-v2",
             "doc-rollback", "D9", "version 3 offered again while holding 3");
  doc_vector("d03-form", form_pkg, "form", "org-o", "-", "ok", "D1-D10", "signed form package");
  {
    Bytes w = fw;
    w[w.size() - 3] ^= 0x20;
    doc_vector("x17-form-content-altered", armor_document(DocType::kFormEnvelope, w), "form",
               "org-o", "-", "doc-content-mismatch", "D10", "form JSON changed after signing");
  }
  RelayRegistration reg;
  reg.org = org_o.public_key();
  reg.version = 1;
  reg.issued_at = kNow - 10;
  reg.coordinator_auth_keys = {coord_a.public_key().ed25519, coord_b.public_key().ed25519};
  const std::string reg_text = reg.sign(org_o).value();
  doc_vector("d04-registration", reg_text, "registration", "-", "-", "ok", "D1-D7",
             "relay registration, first use");
  {
    Bytes w = wire_of(reg_text, 13);
    uint32_t body_len = static_cast<uint32_t>(w[2] | (w[3] << 8) | (w[4] << 16) | (w[5] << 24));
    Bytes body(w.begin() + 6, w.begin() + 6 + body_len);
    std::memcpy(body.data() + body.size() - 32, body.data() + body.size() - 64, 32);
    doc_vector("x18-registration-duplicate-key",
               armor_document(DocType::kRelayRegistration,
                              sign_document(DocType::kRelayRegistration, body, org_o)),
               "registration", "-", "-", "doc-invalid-field", "D7",
               "the same coordinator key twice");
  }
  doc_vector("x19-registration-as-roster", reg_text, "roster", "org-o", "-", "doc-wrong-type", "D1",
             "a registration offered as a roster");
  // The invite base draws its two secrets here; the invites minted from it (which draw a
  // per-invite secret) are written at the end, with the other vectors added later.
  InviteBase inv;
  inv.org = org_o.public_key();
  inv.roster_text = roster_v2;
  inv.enrollment_secret = SecretBytes(32);
  randombytes_buf(inv.enrollment_secret.data(), 32);
  inv.publication_key = SecretBytes(32);
  randombytes_buf(inv.publication_key.data(), 32);
  inv.forms = {{"gcm-input", 2, Sha256::digest(as_bytes(std::string_view("x")))}};
  inv.issued_at = kNow - 10;
  inv.expires_at = kNow + 86400;
  SecretBytes base_text = inv.sign(org_o).value();

  // --- added later: appended here, after every earlier vector, so that the seeded generator
  // draws the same values for those and none of them changes ---
  // Non-canonical X25519 encodings (B6, B9, D7) and duplicate slots (B6).
  bundle_vector("b43-ephemeral-top-bit",
                crafted([](Craft& c) { c.edit_ephemeral = [](uint8_t* e) { e[31] |= 0x80; }; }),
                "coordinator-a", "-", "bundle-key-not-canonical", {}, "B6",
                "E with bit 255 set, sealed consistently (X25519 would open it)");
  bundle_vector("b44-ephemeral-not-reduced",
                mutated(base_small,
                        [](Bytes& b) {
                          const Key32 e = p_plus_9();
                          std::copy(e.begin(), e.end(), b.begin() + 12);
                        }),
                "coordinator-a", "-", "bundle-key-not-canonical", {}, "B6", "E = p + 9");
  DevicePublicKey d_top_bit = dev_d.public_key();
  d_top_bit.x25519[31] |= 0x80;
  bundle_vector("b45-sender-key-top-bit", crafted([&](Craft& c) { c.claimed = d_top_bit; }),
                "coordinator-a", "-", "bundle-key-not-canonical", {}, "B9",
                "device D's key with bit 255 set, authenticated by D: a second name for D");
  DevicePublicKey d_not_reduced;
  d_not_reduced.x25519 = p_plus_9();
  bundle_vector("b46-sender-key-not-reduced", crafted([&](Craft& c) {
                  c.recipients = {A};
                  c.slots = 1;
                  c.claimed = d_not_reduced;
                  c.self_forger = &coord_a.x25519();
                }),
                "coordinator-a", "-", "bundle-key-not-canonical", {}, "B9",
                "D = p + 9, authenticated by the reader itself");
  bundle_vector("b47-duplicate-slot", crafted([&](Craft& c) {
                  c.recipients = {A, A};
                }),
                "coordinator-a", "-", "bundle-duplicate-slot", {}, "B6",
                "the reader's key in two slots, same file key (header MAC holds)");
  bundle_vector("b48-duplicate-slot-decoy", crafted([&](Craft& c) {
                  c.recipients = {A, A};
                  c.decoy_slots = {1};  // recipient 1 takes slot 0, the lower
                }),
                "coordinator-a", "-", "bundle-duplicate-slot", {}, "B6",
                "the reader's key in two slots, the lower with a decoy file key");
  // The opener does not interpret created_at: a value no calendar can show is still accepted.
  Craft far_future = good;
  far_future.body = body_of(300, 7);
  far_future.meta.created_at = INT64_MAX;
  bundle_vector("g07-created-at-int64-max", craft(far_future), "coordinator-a", "device-d", "ok",
                far_future.body, "B9", "created_at = 2^63 - 1 (beyond gmtime's range)");
  {
    // The roster of d01 with one coordinator X25519 key rewritten, validly signed.
    const size_t amira_x25519 = 76 + (2 + 22) + 2 + 5;  // after the organisation name
    const size_t bao_x25519 = amira_x25519 + 64 + 2 + 3;
    auto roster_with = [&](const std::function<void(Bytes&)>& edit) {
      uint32_t body_len =
          static_cast<uint32_t>(rw[2] | (rw[3] << 8) | (rw[4] << 16) | (rw[5] << 24));
      Bytes body(rw.begin() + 6, rw.begin() + 6 + body_len);
      edit(body);
      return armor_document(DocType::kRoster, sign_document(DocType::kRoster, body, org_o));
    };
    doc_vector("x22-roster-key-second-name", roster_with([&](Bytes& body) {
                 std::copy_n(body.begin() + amira_x25519, 32, body.begin() + bao_x25519);
                 body[bao_x25519 + 31] |= 0x80;
               }),
               "roster", "org-o", "-", "doc-invalid-field", "D7",
               "coordinator 2's X25519 key is coordinator 1's with bit 255 set");
    doc_vector("x23-roster-key-not-reduced", roster_with([&](Bytes& body) {
                 const Key32 k = p_plus_9();
                 std::copy(k.begin(), k.end(), body.begin() + amira_x25519);
               }),
               "roster", "org-o", "-", "doc-invalid-field", "D7",
               "coordinator 1's X25519 key is p + 9");
  }

  // --- invites, device hellos and published documents (rules D11, H1-H4, P1) ---
  {
    doc_vector("d06-invite-base", text_of(base_text), "invite-base", "org-o", "-", "ok", "D1-D8",
               "an invite base as the organisation signs it");
    doc_vector("x24-invite-base-other-org", text_of(base_text), "invite-base", "org-p", "-",
               "doc-untrusted-signer", "D5", "an invite base of another organisation");
    auto signed_base = SignedInviteBase::verify(base_text.span(), org_o.public_key(), kNow).value();
    SecretBytes code(26);
    std::memcpy(code.data(), "abcdefghijklmnopqrstuvwxyz", 26);
    const TokenId token{1, 2, 3, 4, 5, 6, 7, 8};
    auto minted = mint_invite(signed_base, code, kNow + 3600, 0, token, kNow - 5, coord_a).value();
    const std::string invite = text_of(minted.text);
    doc_vector("d05-invite", invite, "invite", org_o.public_key().fingerprint(), "-", "ok", "D11",
               "invite confirmed with the right fingerprint");
    doc_vector("x20-invite-wrong-fingerprint", invite, "invite", org_p.public_key().fingerprint(),
               "-", "doc-not-confirmed", "D11",
               "confirmed with another organisation's fingerprint");
    {
      std::string bad = invite;
      bad[40] = '1';
      doc_vector("x21-invite-typo", bad, "invite", org_o.public_key().fingerprint(), "-",
                 "doc-malformed", "D1", "a character outside base32 (typo)");
    }
    // The minted part, edited in place: [signed base][str16 code][u64][u8 relay index]…[sig].
    auto edited = [&](const std::function<void(Bytes&, size_t)>& edit) {
      auto wire = from_base32_secret(std::string_view(invite).substr(5)).value();
      Bytes w(wire.data(), wire.data() + wire.size());
      edit(w, signed_base.wire().size() + 2 + code.size() + 8);
      return "INV1-" + upper(to_base32(w));
    };
    doc_vector("x25-invite-relay-index", edited([](Bytes& w, size_t at) { w[at] = 1; }), "invite",
               org_o.public_key().fingerprint(), "-", "doc-invalid-field", "D11",
               "the minted part names relay 1 of a roster with one relay");
    doc_vector("x26-invite-mint-signature",
               edited([](Bytes& w, size_t) { w[w.size() - 1] ^= 0x01; }), "invite",
               org_o.public_key().fingerprint(), "-", "doc-bad-signature", "D11",
               "the minting coordinator's signature altered");

    auto confirmed = UnconfirmedInvite::parse(as_bytes(invite))
                         .value()
                         .confirm(org_o.public_key().fingerprint(), kNow)
                         .value();
    DeviceHello hello = make_device_hello(confirmed, dev_d.public_key(), "Field phone 3").value();
    const Bytes hb = hello.encode();
    doc_vector("h01-hello", to_hex(hb), "hello", "device-d", "-", "ok", "H1-H4",
               "the hello of device d, joined with d05-invite");
    Bytes flipped = hb;
    flipped[flipped.size() - 1] ^= 0x01;
    doc_vector("x27-hello-signature", to_hex(flipped), "hello", "device-d", "-",
               "doc-bad-signature", "H4", "the invite key's signature altered");
    doc_vector("x28-hello-other-sender", to_hex(hb), "hello", "device-e", "-", "doc-invalid-field",
               "H2", "the hello of device d sent by device e");
    Bytes other_token = hb;
    other_token[1 + 32 + 2 + 13] ^= 0x01;  // the token id: the mint statement no longer matches
    doc_vector("x29-hello-token-id", to_hex(other_token), "hello", "device-d", "-",
               "doc-bad-signature", "H3", "the token id changed after minting");

    // P1: a roster published as number 2; the name and the sealed bytes.
    Bytes sealed =
        seal_published_document(inv.publication_key, PublishedKind::kRoster, 2, as_bytes(roster_v2))
            .value();
    write_text("docs/p01-published-roster.name",
               published_document_name(inv.publication_key, PublishedKind::kRoster, 2) + "\n");
    write_text("docs/p01-published-roster.key", to_hex(inv.publication_key.span()) + "\n");
    write_text("docs/p01-published-roster.sealed", to_hex(sealed) + "\n");
  }

  g_bundles.close();
  g_docs.close();
  std::cout << "wrote " << g_bad_bundles << " bad bundles and " << g_bad_docs
            << " bad documents to " << g_out << "\n";
  return 0;
}
