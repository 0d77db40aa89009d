// The coordinator's import: records sealed on a device arrive once, whatever is wrong is kept in
// quarantine with its reason, and the device registry shows gaps (client/src/coord/).
#include <catch2/catch_test_macros.hpp>

#include <filesystem>

#include "client_fixture.h"
#include "satchel/client/finalize.h"
#include "satchel/client/outbox.h"
#include "satchel/client/record_store.h"
#include "satchel/coord/importer.h"
#include "satchel/coord/registry.h"

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
    auto pkg = FormEnvelope::sign_package(world.org, "intake", 1,
                                          as_bytes(std::string_view(testing::kTestForm)), world.now);
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

TEST_CASE("a record sealed on a device is imported once, and its bundle seen again is a duplicate") {
  TestProfile world("coord-once");
  auto bundles = seal_records(world, 1);
  CoordProfile coord(world, clone(world.coord_a), true);
  auto p = coord.open();
  auto first = import(p, bundles[0]);
  CHECK(first.result == coord::ImportResult::kImported);
  CHECK(first.detail.size() == 32);
  CHECK(import(p, bundles[0]).result == coord::ImportResult::kDuplicate);
  CHECK(count(p, "SELECT count(*) FROM coord_records") == 1);
  CHECK(count(p, "SELECT count(*) FROM coord_bundles") == 1);
  auto manifest = nlohmann::json::parse(
      [&] {
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

TEST_CASE("a bundle with no slot for this coordinator is quarantined with its reason, not dropped") {
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

TEST_CASE("bundles a lost device sends after the sequence reported are quarantined") {
  TestProfile world("coord-lost");
  auto bundles = seal_records(world, 2);
  CoordProfile coord(world, clone(world.coord_a), true);
  auto p = coord.open();
  CHECK(import(p, bundles[0]).result == coord::ImportResult::kImported);
  auto dev = coord::device_reports(p).value().at(0);
  REQUIRE(coord::mark_device_lost(p, dev.key, dev.highest, 20000));
  auto r = import(p, bundles[1]);
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(r.detail.find("reported lost") != std::string::npos);
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
