// Sealing and opening: round trips with both openers, padding, recipients and slots, streaming
// from files, staged output files, and the hashing pipeline under them.
#include <unistd.h>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "bundle_layout.h"
#include "payload_pipeline.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"

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

// Opens with both openers, which must agree.
Result<Bytes> open(ByteView bundle, const CoordinatorSecretKey& key) {
  MemorySource src(bundle);
  StagedMemorySink staged;
  auto opened = open_bundle(src, key.x25519(), std::nullopt, staged);
  auto vb = verify_bundle(src, key.x25519(), std::nullopt);
  if (!vb) {
    CHECK(opened.code() == vb.code());
    return vb.error();
  }
  MemorySink out;
  Status s = vb->decrypt_to(out);
  CHECK(opened.code() == s.code());
  if (!s) return s.error();
  CHECK(Bytes(staged.data().begin(), staged.data().end()) == out.data());
  CHECK(opened->metadata.bundle_id == vb->metadata().bundle_id);
  CHECK(opened->sender == vb->sender());
  CHECK(opened->slot_index == vb->slot_index());
  return std::move(out.data());
}

}  // namespace

TEST_CASE("bodies round-trip at chunk-boundary sizes for every recipient", "[bundle]") {
  const size_t chunk = kBundleChunkSize;
  const size_t inner = bundle_v1::kInnerFixedLen;
  const size_t block = bundle_v1::kChunksPerBlock * chunk;  // the pipeline's block of plaintext
  auto size =
      GENERATE_COPY(size_t{0}, size_t{1}, chunk - 1, chunk, chunk + 1, chunk - inner,
                    chunk - inner + 1, 2 * chunk - inner, block - inner, block - inner + 1,
                    2 * block - inner, size_t{3} * 1024 * 1024 + 17, size_t{9} * 1024 * 1024 + 3);
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

TEST_CASE("seal refuses a recipient key with bit 255 set rather than address one key twice",
          "[bundle]") {
  // X25519 ignores bit 255: R and R with bit 255 set are one recipient under two names, which
  // the byte comparison of repeated recipients would not catch.
  Party p(1);
  Bytes body = pattern(5);
  SealRequest req;
  req.sender = &p.device;
  Key32 second_name = p.recipients()[0];
  second_name[31] |= 0x80;
  req.recipients = {p.recipients()[0], second_name};
  req.metadata.body_length = body.size();
  MemorySource src(body);
  MemorySink out;
  auto sealed = seal_bundle(std::move(req), src, out);
  CHECK(sealed.code() == Errc::kKeyInvalid);
  CHECK(sealed.error().message == "recipient 2 is not a canonical X25519 encoding: bit 255 is set");
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

namespace {

namespace fs = std::filesystem;

// A fresh directory for one test, removed at the end.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("satchel-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.insert(e.path().filename().string());
    return names;
  }
};

Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& p, ByteView b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("a staged file appears only when committed, complete and private", "[bundle][io]") {
  TempDir dir("staged");
  const fs::path out = dir.path / "out";
  Bytes body = pattern(3 * 1024 * 1024);
  auto sink = StagedFileSink::create(out.string());
  REQUIRE(sink.ok());
  REQUIRE(sink->write(ByteView(body.data(), 1000)).ok());
  REQUIRE(sink->write(ByteView(body.data() + 1000, body.size() - 1000)).ok());
  CHECK_FALSE(fs::exists(out));
  REQUIRE(sink->commit().ok());
  CHECK(read_file(out) == body);
  CHECK((fs::status(out).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(dir.entries() == std::set<std::string>{"out"});
}

TEST_CASE("a staged file never replaces an existing file", "[bundle][io]") {
  TempDir dir("staged-noreplace");
  const fs::path out = dir.path / "out";
  write_file(out, as_bytes(std::string_view("already here")));
  CHECK(StagedFileSink::create(out.string()).code() == Errc::kAlreadyExists);
  // A name that appears between create() and commit() is not replaced either.
  const fs::path late = dir.path / "late";
  auto sink = StagedFileSink::create(late.string());
  REQUIRE(sink.ok());
  REQUIRE(sink->write(pattern(5000)).ok());
  write_file(late, as_bytes(std::string_view("got here first")));
  CHECK(sink->commit().code() == Errc::kAlreadyExists);
  CHECK(read_file(late) == Bytes(as_bytes(std::string_view("got here first")).begin(),
                                 as_bytes(std::string_view("got here first")).end()));
  CHECK(dir.entries() == std::set<std::string>{"late", "out"});
}

TEST_CASE("a staged file discarded or dropped before commit leaves nothing behind",
          "[bundle][io]") {
  TempDir dir("staged-discard");
  {
    auto sink = StagedFileSink::create((dir.path / "dropped").string());
    REQUIRE(sink.ok());
    REQUIRE(sink->write(pattern(70000)).ok());
  }
  auto sink = StagedFileSink::create((dir.path / "discarded").string());
  REQUIRE(sink.ok());
  REQUIRE(sink->write(pattern(70000)).ok());
  sink->discard();
  CHECK(sink->commit().code() == Errc::kInternal);
  CHECK(dir.entries().empty());
}

TEST_CASE("open_bundle into a staged file creates it only for an accepted bundle", "[bundle][io]") {
  TempDir dir("open-staged");
  Party p(1);
  Bytes body = pattern(2 * 1024 * 1024 + 11);
  Bytes bundle = seal(p, body);
  write_file(dir.path / "b", bundle);
  auto src = FileSource::open((dir.path / "b").string());
  REQUIRE(src.ok());
  auto good = StagedFileSink::create((dir.path / "good").string());
  REQUIRE(good.ok());
  REQUIRE(open_bundle(*src, p.coords[0].x25519(), p.device.public_key(), *good).ok());
  CHECK(read_file(dir.path / "good") == body);
  // The same bundle from an unexpected sender: decrypted whole, then refused, and no file.
  auto other = DeviceSecretKey::generate();
  auto refused = StagedFileSink::create((dir.path / "refused").string());
  REQUIRE(refused.ok());
  CHECK(open_bundle(*src, p.coords[0].x25519(), other.public_key(), *refused).code() ==
        Errc::kBundleUnexpectedSender);
  CHECK(dir.entries() == std::set<std::string>{"b", "good"});
}

namespace {

// Collects what is written; optionally pinned to its thread; fails from the fail_at-th write.
class TestSink final : public ByteSink {
 public:
  TestSink(bool any_thread, size_t fail_at) : any_thread_(any_thread), fail_at_(fail_at) {}
  Status write(ByteView d) override {
    if (++writes_ >= fail_at_) return make_error(Errc::kIoError, "disk full");
    out_.insert(out_.end(), d.begin(), d.end());
    return Status::Ok();
  }
  bool writable_from_any_thread() const override { return any_thread_; }
  const Bytes& out() const { return out_; }

 private:
  bool any_thread_;
  size_t fail_at_, writes_ = 0;
  Bytes out_;
};

}  // namespace

TEST_CASE("the payload pipeline hashes and writes every block in order, threaded or not",
          "[bundle]") {
  const bool threaded = GENERATE(false, true);
  const bool any_thread = GENERATE(false, true);
  CAPTURE(threaded, any_thread);
  PayloadPipeline pipe(4, 1000, 500, threaded, nullptr);
  TestSink sink(any_thread, SIZE_MAX);
  PayloadPipeline piped(4, 1000, 500, threaded, &sink);
  Bytes hashed, written;
  for (size_t i = 0; i < 50; i++) {
    for (PayloadPipeline* p : {&pipe, &piped}) {
      PayloadPipeline::Block b = p->next();
      const size_t n = 1 + (i * 37) % 1000;
      for (size_t j = 0; j < n; j++) b.cipher[j] = static_cast<uint8_t>(i + j);
      for (size_t j = 0; j < 300; j++) b.plain[j] = static_cast<uint8_t>(i * 3 + j);
      REQUIRE(p->submit(n, ByteView(b.plain.data() + i, 300 - i)).ok());
      if (p == &pipe) {
        hashed.insert(hashed.end(), b.cipher.begin(), b.cipher.begin() + static_cast<long>(n));
        written.insert(written.end(), b.plain.begin() + static_cast<long>(i),
                       b.plain.begin() + 300);
      }
    }
  }
  CHECK(pipe.finish().value() == Sha256::digest(hashed));
  CHECK(piped.finish().value() == Sha256::digest(hashed));
  CHECK(sink.out() == written);
}

TEST_CASE("a sink failure stops the payload pipeline with the sink's error", "[bundle]") {
  const bool threaded = GENERATE(false, true);
  const bool any_thread = GENERATE(false, true);
  CAPTURE(threaded, any_thread);
  TestSink sink(any_thread, 3);
  PayloadPipeline pipe(4, 100, 0, threaded, &sink);
  Status s;
  for (int i = 0; i < 20 && s.ok(); i++) {
    PayloadPipeline::Block b = pipe.next();
    s = pipe.submit(10, ByteView(b.cipher.data(), 10));
  }
  auto digest = pipe.finish();
  CHECK(digest.code() == Errc::kIoError);
  CHECK(sink.out().size() == 20);  // the two writes before the failure, nothing after
}
