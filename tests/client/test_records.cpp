// Drafts, attachments and finalize: per-record encryption, validation, the outbox, and a sealed
// record that the roster's coordinators can open.
#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>

#include <sodium.h>
#include "client_fixture.h"
#include "satchel/client/finalize.h"
#include "satchel/client/outbox.h"
#include "satchel/client/record_store.h"
#include "satchel/client/sealed_blob.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"
#include "sqlcipher_pages.h"

using namespace satchel;
using namespace satchel::client;
using satchel::testing::TestProfile;

namespace {
Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(i * 31 + (i >> 9));
  return b;
}
}  // namespace

TEST_CASE("a finalized record opens for every coordinator with its answers and attachments",
          "[records]") {
  TestProfile t("finalize");
  auto p = t.open();
  t.trust_all(p);
  RecordStore records(p);
  auto id =
      records.create("intake", 1, {{"consent", true}, {"narrative", "It happened at night."}});
  REQUIRE(id.ok());
  Bytes photo = pattern(200000);
  MemorySource src(photo);
  auto att = records.attach(*id, src, photo.size(), "files", "photo.jpg", "photo");
  REQUIRE(att.ok());
  auto answers = records.answers(*id).value();
  answers["files"] = {*att};
  REQUIRE(records.save_answers(*id, answers).ok());

  auto fin = finalize_record(p, *id, t.now);
  REQUIRE(fin.ok());
  CHECK(records.info(*id).code() == Errc::kNotFound);
  CHECK(records.list().value().empty());
  auto entries = Outbox(p).list().value();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].state == "sealed");
  CHECK(entries[0].upload_id.size() == 64);

  MemorySink bundle;
  REQUIRE(Outbox(p).read(entries[0].outbox_id, bundle).ok());
  CHECK(bundle.data().size() == entries[0].size);
  MemorySource bsrc(bundle.data());
  CHECK(compute_upload_id(bsrc).value() == [&] {
    Hash32 h{};
    auto b = from_hex(entries[0].upload_id).value();
    std::copy(b.begin(), b.end(), h.begin());
    return h;
  }());
  for (auto* c : {&t.coord_a, &t.coord_b}) {
    MemorySource s(bundle.data());
    auto vb = verify_bundle(s, c->x25519(), p.device_key().value().public_key());
    REQUIRE(vb.ok());
    CHECK(vb->metadata().form_id == "intake");
    CHECK(vb->metadata().roster_version == 1);
    CHECK(vb->metadata().sequence == entries[0].sequence);
    MemorySink body;
    REQUIRE(vb->decrypt_to(body).ok());
    // The record package: version, manifest length, manifest, then the attachment bytes.
    const Bytes& b = body.data();
    REQUIRE(b.size() > 5);
    CHECK(b[0] == 1);
    uint32_t mlen = static_cast<uint32_t>(b[1] | (b[2] << 8) | (b[3] << 16) | (b[4] << 24));
    auto manifest = nlohmann::json::parse(b.begin() + 5, b.begin() + 5 + mlen);
    CHECK(manifest["answers"]["narrative"] == "It happened at night.");
    CHECK(manifest["attachments"][0]["size"] == photo.size());
    CHECK(Bytes(b.begin() + 5 + mlen, b.end()) == photo);
  }
}

TEST_CASE("finalize refuses an invalid draft, listing every failing question, and changes nothing",
          "[records]") {
  TestProfile t("invalid");
  auto p = t.open();
  t.trust_all(p);
  RecordStore records(p);
  auto id = records.create("intake", 1, {{"consent", true}, {"narrative", 12}, {"bogus", 1}});
  REQUIRE(id.ok());
  auto fin = finalize_record(p, *id, t.now);
  REQUIRE_FALSE(fin.ok());
  CHECK(fin.error().message.find("narrative") != std::string::npos);
  CHECK(fin.error().message.find("bogus") != std::string::npos);
  CHECK(records.info(*id).ok());
  CHECK(Outbox(p).list().value().empty());
}

TEST_CASE("finalize needs a roster and refuses an answer naming a missing attachment",
          "[records]") {
  TestProfile t("noroster");
  auto p = t.open();
  t.trust_all(p);
  RecordStore records(p);
  auto id = records.create(
      "intake", 1, {{"consent", true}, {"narrative", "x"}, {"files", {"0011223344556677"}}});
  REQUIRE(id.ok());
  auto fin = finalize_record(p, *id, t.now);
  REQUIRE_FALSE(fin.ok());
  CHECK(fin.error().message.find("attachment") != std::string::npos);
  // An expired roster counts as none.
  auto fin2 = finalize_record(p, *id, t.now + 2 * 86400);
  REQUIRE_FALSE(fin2.ok());
}

TEST_CASE("a draft's data is bound to its record: moved blobs do not decrypt", "[records]") {
  TestProfile t("bound");
  auto p = t.open();
  t.trust_all(p);
  RecordStore records(p);
  auto a = records.create("intake", 1, {{"narrative", "first"}}).value();
  auto b = records.create("intake", 1, {{"narrative", "second"}}).value();
  REQUIRE(
      p.db()
          .exec(("UPDATE records SET answers = (SELECT answers FROM records WHERE record_id = '" +
                 a + "') WHERE record_id = '" + b + "'")
                    .c_str())
          .ok());
  CHECK(records.answers(b).code() == Errc::kIoError);
  CHECK(records.answers(a).ok());
}

TEST_CASE("an attachment that ends early leaves no trace", "[records]") {
  TestProfile t("short");
  auto p = t.open();
  t.trust_all(p);
  RecordStore records(p);
  auto id = records.create("intake", 1, {{"consent", true}}).value();
  Bytes data = pattern(100000);
  MemorySource src(data);
  auto att = records.attach(id, src, data.size() + 10, "files", "x.pdf", "document");
  REQUIRE_FALSE(att.ok());
  CHECK(records.attachments(id).value().empty());
  auto st = p.db().prepare("SELECT count(*) FROM attachment_chunks");
  REQUIRE(st->step().value());
  CHECK(st->int64(0) == 0);
}

namespace {
// A source that hands out at most `step` bytes per read, like a pipe.
class TricklingSource final : public ByteSource {
 public:
  TricklingSource(const Bytes& data, size_t step) : data_(data), step_(step) {}
  Result<size_t> read(std::span<uint8_t> out) override {
    const size_t n = std::min({out.size(), step_, data_.size() - pos_});
    std::copy(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
              data_.begin() + static_cast<std::ptrdiff_t>(pos_ + n), out.begin());
    pos_ += n;
    return n;
  }

 private:
  const Bytes& data_;
  size_t step_;
  size_t pos_ = 0;
};

Bytes keyring_slot(const TestProfile& t, uint32_t slot) {
  std::ifstream f(keyring_path(t.home), std::ios::binary);
  Bytes b(Keyring::kSlotSize);
  f.seekg(static_cast<std::streamoff>(slot) * Keyring::kSlotSize);
  f.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return b;
}

uint32_t draft_slot(Profile& p, const std::string& id) {
  auto st = p.db().prepare("SELECT key_slot, length(record_key) FROM records WHERE record_id = ?1");
  st->bind(1, id);
  REQUIRE(st->step().value());
  CHECK(st->int64(1) == 0);  // no key in the row
  return static_cast<uint32_t>(st->int64(0));
}
}  // namespace

TEST_CASE("an attachment of unknown size streams from a pipe-like source to its end", "[records]") {
  TestProfile t("stream");
  auto p = t.open();
  t.trust_all(p);
  RecordStore records(p);
  auto id = records.create("intake", 1, {{"consent", true}}).value();
  Bytes data = pattern(3 * kAttachmentChunk + 1234);
  TricklingSource src(data, 5000);
  auto att = records.attach(id, src, std::nullopt, "files", "clip.m4a", "audio");
  REQUIRE(att.ok());
  auto list = records.attachments(id).value();
  REQUIRE(list.size() == 1);
  CHECK(list[0].size == data.size());
  auto reader = records.open_attachment(id, *att);
  REQUIRE(reader.ok());
  MemorySink back;
  Bytes buf(10000);
  for (;;) {
    auto n = reader->read(buf);
    REQUIRE(n.ok());
    if (*n == 0) break;
    REQUIRE(back.write(ByteView(buf.data(), *n)).ok());
  }
  CHECK(back.data() == data);
}

TEST_CASE("finalize overwrites the draft's key in the keyring, the only copy of it", "[records]") {
  TestProfile t("destroy-key");
  auto p = t.open();
  t.trust_all(p);
  RecordStore records(p);
  auto id = records.create("intake", 1, {{"consent", true}, {"narrative", "x"}}).value();
  const uint32_t slot = draft_slot(p, id);
  const Bytes before = keyring_slot(t, slot);
  const auto size = std::filesystem::file_size(keyring_path(t.home));
  CHECK(p.keyring().key(slot).ok());
  REQUIRE(finalize_record(p, id, t.now).ok());
  CHECK(p.keyring().key(slot).code() == Errc::kNotFound);
  CHECK(keyring_slot(t, slot) != before);
  CHECK(std::filesystem::file_size(keyring_path(t.home)) == size);
  // The outbox entry holds its own key; the keyring holds exactly that one now.
  CHECK(p.keyring().keys_held() == 1);
}

TEST_CASE("keys that no row names are destroyed when the profile opens", "[records]") {
  TestProfile t("orphan");
  uint32_t orphan = 0, kept = 0;
  {
    auto p = t.open();
    t.trust_all(p);
    RecordStore records(p);
    kept = draft_slot(p, records.create("intake", 1, {{"consent", true}}).value());
    // What a crash between writing a key and committing its row leaves behind.
    auto added = p.keyring().add();
    REQUIRE(added.ok());
    orphan = added->slot;
  }
  auto p = t.open();
  CHECK(p.keyring().key(orphan).code() == Errc::kNotFound);
  CHECK(p.keyring().key(kept).ok());
  CHECK(p.keyring().keys_held() == 1);
}

TEST_CASE("a full keyring grows by doubling and keeps every key", "[records]") {
  TestProfile t("grow");
  auto p = t.open();
  Keyring& ring = p.keyring();
  std::vector<std::pair<uint32_t, Bytes>> held;
  for (uint32_t i = 0; i < Keyring::kInitialCapacity + 1; i++) {
    auto added = ring.add();
    REQUIRE(added.ok());
    held.emplace_back(added->slot, Bytes(added->key.data(), added->key.data() + 32));
  }
  CHECK(ring.capacity() == 2 * Keyring::kInitialCapacity);
  CHECK(std::filesystem::file_size(keyring_path(t.home)) ==
        2 * Keyring::kInitialCapacity * Keyring::kSlotSize);
  for (const auto& [slot, key] : held) {
    auto k = ring.key(slot);
    REQUIRE(k.ok());
    CHECK(k->equals(key));
  }
}

TEST_CASE(
    "drafts and outbox entries of versions 1-2 move under keyring keys and the database is "
    "rekeyed",
    "[records][profile]") {
  TestProfile t("legacy");
  const std::string id = "00112233445566778899aabbccddeeff";
  Bytes legacy_key(32), bundle = pattern(100000);
  randombytes_buf(legacy_key.data(), 32);
  SecretBytes key(32);
  std::copy(legacy_key.begin(), legacy_key.end(), key.data());
  const std::string upload_id = to_hex(Sha256::digest(bundle));
  SecretBytes old_db;
  {
    // Rows as versions 1-2 wrote them: the draft's key in its row, the outbox entry in the clear.
    auto p = t.open();
    t.trust_all(p);
    old_db = satchel::testing::profile_keys(t.home, t.passphrase).db_key.clone();
    const std::string answers = R"({"consent":true,"narrative":"LEGACY-CANARY"})";
    auto st = p.db().prepare(
        "INSERT INTO records (record_id, form_id, form_version, record_key, answers, created_at, "
        "updated_at) VALUES (?1, 'intake', 1, ?2, ?3, 1, 1)");
    st->bind(1, id).bind_blob(2, legacy_key);
    st->bind_blob(3, seal_blob(key, "satchel draft v1|" + id + "|answers", as_bytes(answers)));
    REQUIRE(st->run());
    auto a = p.db().prepare(
        "INSERT INTO attachments (record_id, attachment_id, meta, size, chunk_count, complete) "
        "VALUES (?1, 'a1', ?2, 5, 1, 1)");
    a->bind(1, id).bind_blob(2, seal_blob(key, "satchel draft v1|" + id + "|a1|meta",
                                          as_bytes(std::string(R"({"name":"x.pdf"})"))));
    REQUIRE(a->run());
    auto c = p.db().prepare(
        "INSERT INTO attachment_chunks (record_id, attachment_id, seq, data) VALUES (?1, 'a1', 0, "
        "?2)");
    c->bind(1, id).bind_blob(
        2, seal_blob(key, "satchel draft v1|" + id + "|a1|0", as_bytes(std::string("hello"))));
    REQUIRE(c->run());
    auto o = p.db().prepare(
        "INSERT INTO outbox (upload_id, size, sequence, state, created_day) VALUES (?1, ?2, 7, "
        "'sealed', 1)");
    o->bind(1, upload_id).bind(2, static_cast<int64_t>(bundle.size()));
    REQUIRE(o->run());
    const int64_t oid = p.db().last_insert_rowid();
    for (int64_t seq = 0; seq * 65536 < static_cast<int64_t>(bundle.size()); seq++) {
      auto ch =
          p.db().prepare("INSERT INTO outbox_chunks (outbox_id, seq, data) VALUES (?1, ?2, ?3)");
      const size_t at = static_cast<size_t>(seq) * 65536;
      ch->bind(1, oid).bind(2, seq).bind_blob(
          3, ByteView(bundle.data() + at, std::min<size_t>(65536, bundle.size() - at)));
      REQUIRE(ch->run());
    }
  }
  auto p = t.open();
  CHECK_FALSE(satchel::testing::profile_keys(t.home, t.passphrase).db_key.equals(old_db.span()));
  RecordStore records(p);
  CHECK(records.answers(id).value()["narrative"] == "LEGACY-CANARY");
  auto reader = records.open_attachment(id, "a1");
  REQUIRE(reader.ok());
  Bytes got(16);
  CHECK(reader->read(got).value() == 5);
  {
    auto st = p.db().prepare(
        "SELECT length(record_key), key_slot IS NOT NULL FROM records WHERE record_id = ?1");
    st->bind(1, id);
    REQUIRE(st->step().value());
    CHECK(st->int64(0) == 0);
    CHECK(st->int64(1) == 1);
  }
  auto entries = Outbox(p).list().value();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].upload_id == upload_id);
  CHECK(entries[0].size == bundle.size());
  CHECK(entries[0].sequence == 7);
  MemorySink back;
  REQUIRE(Outbox(p).read(entries[0].outbox_id, back).ok());
  CHECK(back.data() == bundle);
  // Nothing of the old rows is legible in the new database file under its key.
  const SecretBytes db_key = satchel::testing::profile_keys(t.home, t.passphrase).db_key.clone();
  size_t hits = 0;
  for (const auto& page : testing::decrypt_database_pages(database_path(t.home), db_key)) {
    hits +=
        std::search(page.begin(), page.end(), legacy_key.begin(), legacy_key.end()) != page.end();
    hits += std::search(page.begin(), page.end(), upload_id.begin(), upload_id.end()) != page.end();
  }
  CHECK(hits == 0);
}
