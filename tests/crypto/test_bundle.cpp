// Sealing and opening: round trips, padding, recipients and slots, streaming from files.
#include <unistd.h>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "bundle_layout.h"
#include "satchel/crypto/bundle.h"

using namespace satchel;

namespace {

struct Party {
  DeviceSecretKey device = DeviceSecretKey::generate();
  std::vector<CoordinatorSecretKey> coords;
  explicit Party(int n) {
    for (int i = 0; i < n; i++) coords.push_back(CoordinatorSecretKey::generate());
  }
  std::vector<Key32> recipients() const {
    std::vector<Key32> r;
    for (auto& c : coords) r.push_back(c.public_key().x25519);
    return r;
  }
};

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(i * 7 + (i >> 11));
  return b;
}

Bytes seal(const Party& p, ByteView body, uint16_t slots = 0) {
  SealRequest req;
  req.sender = &p.device;
  req.recipients = p.recipients();
  req.slot_count = slots;
  req.metadata.body_length = body.size();
  req.metadata.sequence = 99;
  req.metadata.created_at = 1700000000;
  MemorySource src(body);
  MemorySink out;
  auto info = seal_bundle(std::move(req), src, out);
  REQUIRE(info.ok());
  CHECK(info->size == out.data().size());
  return std::move(out.data());
}

Result<Bytes> open(ByteView bundle, const CoordinatorSecretKey& key) {
  MemorySource src(bundle);
  auto vb = verify_bundle(src, key.x25519(), std::nullopt);
  if (!vb) return vb.error();
  MemorySink out;
  Status s = vb->decrypt_to(out);
  if (!s) return s.error();
  return std::move(out.data());
}

}  // namespace

TEST_CASE("bodies round-trip at chunk-boundary sizes for every recipient", "[bundle]") {
  const size_t chunk = kBundleChunkSize;
  const size_t inner = bundle_v1::kInnerFixedLen;
  auto size = GENERATE_COPY(size_t{0}, size_t{1}, chunk - 1, chunk, chunk + 1, chunk - inner,
                            chunk - inner + 1, 2 * chunk - inner, size_t{3} * 1024 * 1024 + 17);
  CAPTURE(size);
  Party p(3);
  Bytes body = pattern(size);
  Bytes b = seal(p, body);
  CHECK(b.size() == bundle_size_for(size, 3, 0));
  for (auto& c : p.coords) {
    auto out = open(b, c);
    REQUIRE(out.ok());
    CHECK(*out == body);
  }
}

TEST_CASE("the opener learns sender, sequence and metadata only from inside", "[bundle]") {
  Party p(1);
  SealRequest req;
  req.sender = &p.device;
  req.recipients = p.recipients();
  req.metadata.sequence = 123456789;
  req.metadata.created_at = 1750000000;
  req.metadata.content_type = ContentType::kRetraction;
  req.metadata.form_id = "testimony-intake";
  req.metadata.form_version = 4;
  req.metadata.form_hash.fill(0xab);
  req.metadata.roster_version = 9;
  req.metadata.org_id.fill(0x42);
  Bytes body = pattern(10);
  req.metadata.body_length = body.size();
  MemorySource src(body);
  MemorySink out;
  auto info = seal_bundle(req, src, out);
  REQUIRE(info.ok());
  MemorySource bs(out.data());
  auto vb = verify_bundle(bs, p.coords[0].x25519(), p.device.public_key());
  REQUIRE(vb.ok());
  const auto& m = vb->metadata();
  CHECK(m.bundle_id == info->bundle_id);
  CHECK(m.sequence == 123456789);
  CHECK(m.created_at == 1750000000);
  CHECK(m.content_type == ContentType::kRetraction);
  CHECK(m.form_id == "testimony-intake");
  CHECK(m.form_version == 4);
  CHECK(m.roster_version == 9);
  CHECK(m.org_id == req.metadata.org_id);
  CHECK(vb->sender() == p.device.public_key());
  // Nothing of the metadata appears in clear.
  std::string raw(out.data().begin(), out.data().end());
  CHECK(raw.find("testimony-intake") == std::string::npos);
}

TEST_CASE("padded sizes follow Padme with a 4 KiB floor and bounded overhead", "[bundle]") {
  CHECK(padme_padded_length(0) == 4096);
  CHECK(padme_padded_length(4096) == 4096);
  CHECK(padme_padded_length(4097) == 4352);
  for (uint64_t l = 4096; l < (uint64_t{1} << 34); l = l * 3 / 2 + 1) {
    uint64_t p = padme_padded_length(l);
    CHECK(p >= l);
    CHECK(padme_padded_length(p) == p);
    CHECK(static_cast<double>(p - l) / static_cast<double>(l) < 0.0625);
  }
  // Two bodies of nearby sizes give identical bundle sizes.
  Party p(2);
  CHECK(seal(p, pattern(5000)).size() == seal(p, pattern(5100)).size());
}

TEST_CASE("unused slots and real slots are indistinguishable in position", "[bundle]") {
  Party p(1);
  std::set<uint16_t> positions;
  for (int i = 0; i < 64 && positions.size() < 8; i++) {
    Bytes b = seal(p, pattern(1), 8);
    MemorySource src(b);
    auto vb = verify_bundle(src, p.coords[0].x25519(), std::nullopt);
    REQUIRE(vb.ok());
    positions.insert(vb->slot_index());
  }
  CHECK(positions.size() == 8);
}

TEST_CASE("seal refuses bad requests with a reason", "[bundle]") {
  Party p(2);
  Bytes body = pattern(5);
  auto attempt = [&](SealRequest req) {
    MemorySource src(body);
    MemorySink out;
    return seal_bundle(std::move(req), src, out).code();
  };
  SealRequest base;
  base.sender = &p.device;
  base.recipients = p.recipients();
  base.metadata.body_length = body.size();
  SealRequest r = base;
  r.slot_count = 1;
  CHECK(attempt(r) == Errc::kInvalidArgument);  // more recipients than slots
  r = base;
  r.slot_count = 65;
  CHECK(attempt(r) == Errc::kInvalidArgument);
  r = base;
  r.recipients.push_back(r.recipients[0]);
  CHECK(attempt(r) == Errc::kInvalidArgument);  // repeated recipient
  r = base;
  r.recipients[1] = Key32{};
  CHECK(attempt(r) == Errc::kKeyInvalid);  // low-order point
  r = base;
  r.metadata.body_length = body.size() + 1;
  CHECK(attempt(r) == Errc::kInvalidArgument);  // body shorter than declared
  r = base;
  r.metadata.body_length = body.size() - 1;
  CHECK(attempt(r) == Errc::kInvalidArgument);  // body longer than declared
  r = base;
  r.metadata.form_id = "bad id";
  CHECK(attempt(r) == Errc::kInvalidArgument);
}

TEST_CASE("sealing and opening stream through files", "[bundle]") {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("satchel-bundle-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Party p(2);
  Bytes body = pattern(300000);
  {
    std::ofstream f(dir / "in", std::ios::binary);
    f.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
  }
  auto in = FileSource::open((dir / "in").string());
  REQUIRE(in.ok());
  auto out = FileSink::create((dir / "b").string());
  REQUIRE(out.ok());
  SealRequest req;
  req.sender = &p.device;
  req.recipients = p.recipients();
  req.metadata.body_length = in->size();
  REQUIRE(seal_bundle(std::move(req), *in, *out).ok());
  REQUIRE(out->commit().ok());
  auto bsrc = FileSource::open((dir / "b").string());
  REQUIRE(bsrc.ok());
  auto vb = verify_bundle(*bsrc, p.coords[1].x25519(), p.device.public_key());
  REQUIRE(vb.ok());
  MemorySink plain;
  REQUIRE(vb->decrypt_to(plain).ok());
  CHECK(plain.data() == body);
  // A sink dropped before commit leaves no file behind.
  {
    auto tmp = FileSink::create((dir / "partial").string());
    REQUIRE(tmp.ok());
    REQUIRE(tmp->write(body).ok());
  }
  CHECK_FALSE(fs::exists(dir / "partial"));
  fs::remove_all(dir);
}
