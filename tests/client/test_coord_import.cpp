// The coordinator's import: records sealed on a device arrive once, whatever is wrong is kept in
// quarantine with its reason, and the device registry shows gaps (client/src/coord/).
#include <catch2/catch_test_macros.hpp>

#include <cctype>
#include <cstring>
#include <filesystem>

#include "client_fixture.h"
#include "satchel/client/finalize.h"
#include "satchel/client/outbox.h"
#include "satchel/client/record_store.h"
#include "satchel/client/retraction.h"
#include "satchel/coord/importer.h"
#include "satchel/coord/registry.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"

using namespace satchel;
using namespace satchel::client;
using satchel::testing::TestProfile;

namespace {

CoordinatorSecretKey clone(const CoordinatorSecretKey& k) {
  return CoordinatorSecretKey::from_text(k.to_text().span()).value();
}

// A coordinator profile beside the device's, holding `key`, trusting the organisation and (if
// `with_form`) the test form.
struct CoordProfile {
  std::string home;
  SecretBytes passphrase = testing::secret_of("coordinator passphrase, not a real one");
  CoordProfile(TestProfile& world, CoordinatorSecretKey key, bool with_form) {
    home = world.home + "-coord";
    std::filesystem::remove_all(home);
    ProfileContents c;
    c.kind = ProfileKind::kCoordinator;
    c.coordinator_key = std::move(key);
    REQUIRE(Profile::create(home, passphrase, kArgon2Floor, std::move(c)));
    auto p = open();
    TrustStore t(p);
    REQUIRE(t.trust_organisation(world.org.public_key()));
    REQUIRE(t.add_roster(world.roster(1).sign(world.org).value(), world.now));
    if (with_form) add_form(world, p);
  }
  ~CoordProfile() { std::filesystem::remove_all(home); }
  Profile open() { return Profile::open(home, passphrase).value(); }
  static void add_form(TestProfile& world, Profile& p) {
    auto pkg = FormEnvelope::sign_package(
        world.org, "intake", 1, as_bytes(std::string_view(testing::kTestForm)), world.now);
    REQUIRE(TrustStore(p).add_form(pkg.value(), "intake.signed"));
  }
};

// Seals `n` records on the device and returns their bundles, in sequence order.
std::vector<Bytes> seal_records(TestProfile& world, int n) {
  auto p = world.open();
  world.trust_all(p);
  RecordStore store(p);
  std::vector<Bytes> out;
  for (int i = 0; i < n; i++) {
    auto id = store.create("intake", 1,
                           {{"consent", true}, {"narrative", "testimony " + std::to_string(i)}});
    REQUIRE(id);
    auto fin = finalize_record(p, *id, world.now);
    REQUIRE(fin);
    MemorySink sink;
    REQUIRE(Outbox(p).read(fin->entry.outbox_id, sink));
    out.push_back(sink.data());
  }
  return out;
}

coord::ImportOutcome import(Profile& p, const Bytes& bundle) {
  auto importer = coord::Importer::open(p);
  REQUIRE(importer);
  MemorySource src(bundle);
  auto r = importer->import(src, 20000);
  REQUIRE(r);
  return *r;
}

int64_t count(Profile& p, const char* sql) {
  auto st = p.db().prepare(sql);
  REQUIRE(st);
  REQUIRE(st->step().value());
  return st->int64(0);
}

}  // namespace

TEST_CASE(
    "a record sealed on a device is imported once, and its bundle seen again is a duplicate") {
  TestProfile world("coord-once");
  auto bundles = seal_records(world, 1);
  CoordProfile coord(world, clone(world.coord_a), true);
  auto p = coord.open();
  auto first = import(p, bundles[0]);
  CHECK(first.result == coord::ImportResult::kImported);
  CHECK(first.detail.size() == 32);
  const uint64_t cells = p.pool().cells();
  CHECK(import(p, bundles[0]).result == coord::ImportResult::kDuplicate);
  CHECK(count(p, "SELECT count(*) FROM coord_bodies") == 1);  // nothing decrypted or kept again
  CHECK(p.pool().cells() == cells);
  CHECK(count(p, "SELECT count(*) FROM coord_records") == 1);
  CHECK(count(p, "SELECT count(*) FROM coord_bundles") == 1);
  auto manifest = nlohmann::json::parse([&] {
    auto st = p.db().prepare("SELECT manifest FROM coord_records");
    REQUIRE(st->step().value());
    return st->text(0);
  }());
  CHECK(manifest["answers"]["narrative"] == "testimony 0");
  {
    // The store survives closing and reopening (its cells are named by committed rows).
    Profile closed = std::move(p);
  }
  auto again = coord.open();
  CHECK(import(again, bundles[0]).result == coord::ImportResult::kDuplicate);
}

TEST_CASE(
    "a bundle with no slot for this coordinator is quarantined with its reason, not dropped") {
  TestProfile world("coord-noslot");
  auto bundles = seal_records(world, 1);
  CoordProfile coord(world, CoordinatorSecretKey::generate(), true);
  auto p = coord.open();
  auto r = import(p, bundles[0]);
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(r.detail.find("did not open") != std::string::npos);
  auto q = coord::quarantine_entries(p).value();
  REQUIRE(q.size() == 1);
  CHECK(q[0].reason == r.detail);
  CHECK(!q[0].sender);
  // The bundle is kept as received.
  CHECK(count(p, "SELECT size FROM coord_bodies") == static_cast<int64_t>(bundles[0].size()));
  CHECK(count(p, "SELECT count(*) FROM coord_records") == 0);
}

TEST_CASE("a record whose form this coordinator does not hold waits in quarantine") {
  TestProfile world("coord-noform");
  auto bundles = seal_records(world, 1);
  CoordProfile coord(world, clone(world.coord_b), false);
  auto p = coord.open();
  auto r = import(p, bundles[0]);
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(r.detail.find("form intake version 1 is not known") != std::string::npos);
  CHECK(count(p, "SELECT count(*) FROM coord_records") == 0);
}

TEST_CASE("bundles missing from a device's sequence are reported as a gap") {
  TestProfile world("coord-gaps");
  auto bundles = seal_records(world, 4);
  CoordProfile coord(world, clone(world.coord_a), true);
  auto p = coord.open();
  CHECK(import(p, bundles[0]).result == coord::ImportResult::kImported);
  CHECK(import(p, bundles[3]).result == coord::ImportResult::kImported);
  auto devices = coord::device_reports(p).value();
  REQUIRE(devices.size() == 1);
  CHECK(!devices[0].label);  // not registered: UNVERIFIED
  CHECK(devices[0].bundles == 2);
  REQUIRE(devices[0].gaps.size() == 1);
  CHECK(devices[0].gaps[0].first == devices[0].lowest + 1);
  CHECK(devices[0].gaps[0].last == devices[0].lowest + 2);
  // The missing ones arrive late: the gap closes.
  CHECK(import(p, bundles[2]).result == coord::ImportResult::kImported);
  CHECK(import(p, bundles[1]).result == coord::ImportResult::kImported);
  devices = coord::device_reports(p).value();
  CHECK(devices[0].gaps.empty());
  REQUIRE(coord::register_device(p, devices[0].key, "north team", 20000));
  CHECK(coord::device_reports(p).value()[0].label == std::optional<std::string>("north team"));
}

TEST_CASE(
    "every bundle of a lost device imported after the report is quarantined, whatever "
    "sequence it claims") {
  TestProfile world("coord-lost");
  auto bundles = seal_records(world, 3);
  CoordProfile coord(world, clone(world.coord_a), true);
  auto p = coord.open();
  CHECK(import(p, bundles[1]).result == coord::ImportResult::kImported);
  auto dev = coord::device_reports(p).value().at(0);
  auto later = coord::mark_device_lost(p, dev.key, dev.highest - 1, 20000);
  REQUIRE(later);
  CHECK(*later == 1);     // the record already imported above the reported sequence
  for (int i : {2, 0}) {  // a higher sequence, and a lower one (a thief choosing a number)
    auto r = import(p, bundles[i]);
    CHECK(r.result == coord::ImportResult::kQuarantined);
    CHECK(r.detail.find("reported lost") != std::string::npos);
  }
}

namespace {

// A record bundle sealed by `device` for coordinators A and B with this manifest and body.
Bytes record_bundle(TestProfile& world, const DeviceSecretKey& device, const std::string& manifest,
                    uint64_t sequence) {
  const auto m = static_cast<uint32_t>(manifest.size());
  Bytes body(5 + manifest.size());
  body[0] = 1;
  for (int i = 0; i < 4; i++) body[static_cast<size_t>(1 + i)] = static_cast<uint8_t>(m >> (8 * i));
  std::memcpy(body.data() + 5, manifest.data(), manifest.size());
  SealRequest req;
  req.sender = &device;
  req.recipients = {world.coord_a.public_key().x25519, world.coord_b.public_key().x25519};
  req.slot_count = 3;
  req.metadata.sequence = sequence;
  req.metadata.created_at = world.now;
  req.metadata.org_id = world.roster(1).org_id();
  req.metadata.roster_version = 1;
  req.metadata.content_type = ContentType::kRecord;
  req.metadata.form_id = "intake";
  req.metadata.form_version = 1;
  req.metadata.form_hash = Sha256::digest(as_bytes(std::string_view(testing::kTestForm)));
  req.metadata.body_length = body.size();
  MemorySource src(body);
  MemorySink out;
  REQUIRE(seal_bundle(std::move(req), src, out));
  return out.data();
}

std::string manifest_with(const std::string& answers, const std::string& extra = "") {
  const std::string hash = to_hex(Sha256::digest(as_bytes(std::string_view(testing::kTestForm))));
  return R"({"record_id":"0123456789abcdef0123456789abcdef","form":{"id":"intake","version":1,"sha256":")" +
         hash + R"("},"answers":)" + answers + extra + "}";
}

}  // namespace

TEST_CASE(
    "a sequence of 2^63 or more is no device's: quarantined once, not recorded for completeness") {
  TestProfile world("coord-sequence-range");
  {
    auto p = world.open();
    REQUIRE(p.set_setting("next_sequence", "9223372036854775808"));  // 2^63
  }
  auto bundles = seal_records(world, 1);
  CoordProfile coord(world, clone(world.coord_a), true);
  auto p = coord.open();
  auto first = import(p, bundles[0]);
  CHECK(first.result == coord::ImportResult::kQuarantined);
  CHECK(first.detail.find("out of range") != std::string::npos);
  CHECK(import(p, bundles[0]).result == coord::ImportResult::kDuplicate);
  CHECK(coord::device_reports(p).value().empty());
}

TEST_CASE("hostile record packages are quarantined with their reason, never imported or fatal") {
  TestProfile world("coord-hostile");
  CoordProfile coord(world, clone(world.coord_a), true);
  auto p = coord.open();
  auto device = DeviceSecretKey::generate();
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  struct Case {
    std::string manifest, reason;
  };
  std::string many = R"(,"attachments":[)";
  for (int i = 0; i < 5000; i++)
    many +=
        (i ? "," : "") +
        std::string(
            R"({"id":"0000000000000000","question":"files","media_type":"photo","name":"a","size":0})");
  many += "]";
  const std::vector<Case> cases = {
      {manifest_with(R"({"consent":true,"narrative":)" + deep + "}"), "nest deeper than 16"},
      {manifest_with(R"({"consent":true,"narrative":"x"})", R"(,"junk":)" + deep),
       ""},  // a field the spec does not define, nested deep: dropped, the record is fine
      {manifest_with(R"({"consent":"yes","narrative":"x"})"), "answers do not fit"},
      {manifest_with(R"({"consent":true,"narrative":"x"})", many), "at most 4096"},
      {manifest_with(
           R"({"consent":true,"narrative":"x"})",
           R"(,"attachments":[{"id":"0000000000000000","question":1,"media_type":"photo","name":"a","size":0}])"),
       "names no valid question"},
  };
  uint64_t seq = 100;
  for (const auto& c : cases) {
    INFO(c.reason);
    auto r = import(p, record_bundle(world, device, c.manifest, seq++));
    if (c.reason.empty()) {
      CHECK(r.result == coord::ImportResult::kImported);
    } else {
      CHECK(r.result == coord::ImportResult::kQuarantined);
      CHECK(r.detail.find(c.reason) != std::string::npos);
    }
  }
}

TEST_CASE("a profile of one kind refuses the other kind's commands") {
  TestProfile world("coord-kind");
  CoordProfile coord(world, CoordinatorSecretKey::generate(), false);
  auto field = world.open();
  CHECK(field.kind().value() == ProfileKind::kField);
  auto refused = coord::Importer::open(field);
  REQUIRE(!refused);
  CHECK(refused.error().message.find("field profile") != std::string::npos);
  auto c = coord.open();
  CHECK(c.kind().value() == ProfileKind::kCoordinator);
  auto s = c.require_kind(ProfileKind::kField);
  REQUIRE(!s);
  CHECK(s.error().message.find("coordinator profile") != std::string::npos);
  CHECK(!c.device_key());
}

TEST_CASE("a retraction code round-trips as typed, and a mistyped one is refused by name") {
  SecretBytes secret(kRetractionSecretBytes);
  for (size_t i = 0; i < secret.size(); i++) secret.data()[i] = static_cast<uint8_t>(i * 37 + 1);
  SecretBytes code = retraction_code_text(secret);
  const std::string text(reinterpret_cast<const char*>(code.data()), code.size());
  CHECK(text.size() == 26 + 6);
  CHECK(text[4] == '-');
  auto back = parse_retraction_code(text);
  REQUIRE(back);
  CHECK(back->equals(secret.span()));
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(parse_retraction_code(" " + lower + "\n"));
  CHECK(parse_retraction_code(text.substr(0, 20)).error().message.find("26") != std::string::npos);
  std::string wrong = text;
  wrong[0] = wrong[0] == '1' ? '0' : '1';
  CHECK(parse_retraction_code(wrong).error().message.find("digits 2 to 7") != std::string::npos);
}

TEST_CASE(
    "a retraction sent from the device flags its record at the coordinator, in either order") {
  TestProfile world("coord-retract");
  std::vector<Bytes> bundles;  // record 0, its retraction, record 1, its retraction
  {
    auto p = world.open();
    world.trust_all(p);
    RecordStore store(p);
    for (int i = 0; i < 2; i++) {
      auto id = store.create("intake", 1,
                             {{"consent", true}, {"narrative", "withdrawn " + std::to_string(i)}});
      REQUIRE(id);
      auto fin = finalize_record(p, *id, world.now);
      REQUIRE(fin);
      REQUIRE(fin->retraction_code.size() == 32);
      MemorySink record;
      REQUIRE(Outbox(p).read(fin->entry.outbox_id, record));
      auto secret = parse_retraction_code(std::string_view(
          reinterpret_cast<const char*>(fin->retraction_code.data()), fin->retraction_code.size()));
      REQUIRE(secret);
      auto r = queue_retraction(p, *secret, world.now);
      REQUIRE(r);
      MemorySink retraction;
      REQUIRE(Outbox(p).read(r->entry.outbox_id, retraction));
      bundles.push_back(record.data());
      bundles.push_back(retraction.data());
    }
  }
  CoordProfile coord(world, clone(world.coord_a), true);
  auto p = coord.open();
  // Record first, then its retraction.
  CHECK(import(p, bundles[0]).result == coord::ImportResult::kImported);
  CHECK(import(p, bundles[1]).result == coord::ImportResult::kRetraction);
  // A retraction first: kept until its record arrives.
  CHECK(import(p, bundles[3]).result == coord::ImportResult::kRetraction);
  CHECK(count(p, "SELECT count(*) FROM coord_retractions") == 1);
  CHECK(import(p, bundles[2]).result == coord::ImportResult::kImported);
  CHECK(count(p, "SELECT count(*) FROM coord_retractions") == 0);
  CHECK(count(p, "SELECT count(*) FROM coord_records WHERE retracted = 1") == 2);
  // Nothing of a retraction's secret is kept: its body is gone.
  CHECK(count(p, "SELECT count(*) FROM coord_bodies") == 2);
}
