// Drafts, attachments and finalize: per-record encryption, validation, the outbox, and a sealed
// record that the roster's coordinators can open.
#include <catch2/catch_test_macros.hpp>

#include "client_fixture.h"
#include "satchel/client/finalize.h"
#include "satchel/client/outbox.h"
#include "satchel/client/record_store.h"
#include "satchel/crypto/bundle.h"

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
  RecordStore records(p.db());
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
  auto entries = Outbox(p.db()).list().value();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].state == "sealed");
  CHECK(entries[0].upload_id.size() == 64);

  MemorySink bundle;
  REQUIRE(Outbox(p.db()).read(entries[0].outbox_id, bundle).ok());
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
  RecordStore records(p.db());
  auto id = records.create("intake", 1, {{"consent", true}, {"narrative", 12}, {"bogus", 1}});
  REQUIRE(id.ok());
  auto fin = finalize_record(p, *id, t.now);
  REQUIRE_FALSE(fin.ok());
  CHECK(fin.error().message.find("narrative") != std::string::npos);
  CHECK(fin.error().message.find("bogus") != std::string::npos);
  CHECK(records.info(*id).ok());
  CHECK(Outbox(p.db()).list().value().empty());
}

TEST_CASE("finalize needs a roster and refuses an answer naming a missing attachment",
          "[records]") {
  TestProfile t("noroster");
  auto p = t.open();
  t.trust_all(p);
  RecordStore records(p.db());
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
  RecordStore records(p.db());
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
  RecordStore records(p.db());
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
