// What every `satchel sync` fetches after a join: newer rosters and forms published on a real
// relay (in this process, TLS) under the publication key; what it refuses (older, foreign,
// mislabelled, unreadable) and reports; and the device hello re-sent when the roster gains a
// coordinator. New bundles are sealed to the current roster only.
#include <string>

#include "join_world.h"
#include "satchel/client/published_updates.h"
#include "satchel/client/queue_content.h"

using namespace satchel;
using namespace satchel::client;
using namespace satchel::testing;

namespace {

// A device joined with roster 1 (coordinators A and B) and form intake v1.
struct JoinedDevice {
  JoinWorld& w;
  TestProfile home{"updates-device"};
  Profile p = home.open();
  SecretBytes token;

  explicit JoinedDevice(JoinWorld& world) : w(world) {
    w.publish(PublishedKind::kRoster, 1, w.roster(1));
    w.publish(PublishedKind::kForm, 1, w.form_package(kTestForm));
    const SecretBytes invite = w.invite();
    auto joined = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", w.options());
    if (!joined) FAIL(joined.error().message);
    REQUIRE(joined->roster_version == 1);
    const std::string t = setting(p, "relay.token").value();
    token = SecretBytes(t.size());
    std::copy(t.begin(), t.end(), token.data());
  }

  std::unique_ptr<RelayClient> relay() {
    auto url = parse_relay_url(url_of(w.relay));
    REQUIRE(url);
    auto c = RelayClient::create(*url, {pin_of(w.relay)}, RelayClientOptions{});
    REQUIRE(c);
    return std::move(c.value());
  }

  UpdateReport update() {
    auto key = stored_publication_key(p);
    REQUIRE(key);
    REQUIRE(*key);
    auto r = relay();
    auto report = fetch_published_updates(p, *r, token, **key, w.now);
    if (!report) FAIL(report.error().message);
    return std::move(report.value());
  }

  // Whether the newest outbox bundle opens with `coordinator`'s key.
  bool newest_opens_for(const CoordinatorSecretKey& coordinator, ContentType expected) {
    auto entries = Outbox(p).list().value();
    REQUIRE_FALSE(entries.empty());
    MemorySink bundle;
    REQUIRE(Outbox(p).read(entries.back().outbox_id, bundle));
    MemorySource src(bundle.data());
    StagedMemorySink body;
    auto opened = open_bundle(src, coordinator.x25519(), p.device_key().value().public_key(), body);
    if (opened) CHECK(opened->metadata.content_type == expected);
    return static_cast<bool>(opened);
  }
};

std::string form_v2() {
  std::string f = kTestForm;
  f.replace(f.find("\"version\": 1"), 12, "\"version\": 2");
  return f;
}

}  // namespace

TEST_CASE("sync takes a newer roster and seals new bundles to its coordinators only", "[updates]") {
  JoinWorld w;
  JoinedDevice d(w);
  CoordinatorSecretKey coord_c = CoordinatorSecretKey::generate();
  // Version 2: Bao stays, Amira is removed, Chen joins.
  w.publish(PublishedKind::kRoster, 2,
            w.roster(2, {{"Bao", w.org.coord_b.public_key()}, {"Chen", coord_c.public_key()}}));
  const UpdateReport report = d.update();
  CHECK(report.problems.empty());
  CHECK(report.roster_before == 1);
  CHECK(report.roster_after == 2);

  auto queued =
      queue_content(d.p, ContentType::kRecord, as_bytes(std::string_view("testimony")), w.now);
  REQUIRE(queued);
  CHECK(d.newest_opens_for(coord_c, ContentType::kRecord));
  CHECK(d.newest_opens_for(w.org.coord_b, ContentType::kRecord));
  CHECK_FALSE(d.newest_opens_for(w.org.coord_a, ContentType::kRecord));
}

TEST_CASE("the hello is queued again, once, when the roster gains a coordinator", "[updates]") {
  JoinWorld w;
  JoinedDevice d(w);
  REQUIRE(Outbox(d.p).list().value().size() == 1);  // the hello of the join
  // Nothing new in the roster: nothing queued.
  auto none = resend_hello_to_new_coordinators(d.p, w.now);
  REQUIRE(none);
  CHECK_FALSE(*none);

  CoordinatorSecretKey coord_c = CoordinatorSecretKey::generate();
  w.publish(PublishedKind::kRoster, 2,
            w.roster(2, {{"Amira", w.org.coord_a.public_key()},
                         {"Bao", w.org.coord_b.public_key()},
                         {"Chen", coord_c.public_key()}}));
  REQUIRE(d.update().roster_after == 2);
  auto resent = resend_hello_to_new_coordinators(d.p, w.now);
  REQUIRE(resent);
  CHECK(*resent);
  REQUIRE(Outbox(d.p).list().value().size() == 2);
  CHECK(d.newest_opens_for(coord_c, ContentType::kDeviceHello));

  // The same proof as the first time: the stored hello verifies for the new coordinator.
  auto entries = Outbox(d.p).list().value();
  MemorySink bundle;
  REQUIRE(Outbox(d.p).read(entries.back().outbox_id, bundle));
  MemorySource src(bundle.data());
  StagedMemorySink body;
  const DevicePublicKey device = d.p.device_key().value().public_key();
  REQUIRE(open_bundle(src, coord_c.x25519(), device, body));
  auto hello = DeviceHello::parse(body.data());
  REQUIRE(hello);
  CHECK(hello->verify(device, org_id_for(w.org.org.public_key())));
  CHECK(to_hex(hello->encode()) == setting(d.p, kHelloSetting).value());

  auto again = resend_hello_to_new_coordinators(d.p, w.now);
  REQUIRE(again);
  CHECK_FALSE(*again);

  // A coordinator removed (not added): nobody new, nothing queued.
  w.publish(PublishedKind::kRoster, 3,
            w.roster(3, {{"Bao", w.org.coord_b.public_key()}, {"Chen", coord_c.public_key()}}));
  REQUIRE(d.update().roster_after == 3);
  auto after_removal = resend_hello_to_new_coordinators(d.p, w.now);
  REQUIRE(after_removal);
  CHECK_FALSE(*after_removal);
  CHECK(Outbox(d.p).list().value().size() == 2);
}

TEST_CASE("an older, foreign, mislabelled or unreadable roster is refused and reported",
          "[updates]") {
  JoinWorld w;
  JoinedDevice d(w);
  // Number 2: a roster of version 1 again (a rollback placed at a newer number).
  w.publish(PublishedKind::kRoster, 2, w.roster(1));
  // Number 3: version 3 signed by another organisation.
  {
    Roster foreign = w.org.roster(3);
    OrgSecretKey other = OrgSecretKey::generate();
    foreign.org = other.public_key();
    Hash32 backup{};
    backup.fill(2);
    foreign.relays = {{url_of(w.relay), pin_of(w.relay), backup}};
    w.publish(PublishedKind::kRoster, 3, foreign.sign(other).value());
  }
  // Number 4: bytes that were not sealed under the publication key.
  {
    Bytes garbage(200, 0x5a);
    Status s = w.coordinator->publish_document(
        w.session, published_document_name(w.publication_key, PublishedKind::kRoster, 4), garbage);
    REQUIRE(s);
  }
  // Number 5, after three bad ones (which do not count as gaps): a good roster 5.
  w.publish(PublishedKind::kRoster, 5, w.roster(5));
  const UpdateReport report = d.update();
  CHECK(mentions(report.problems, "published roster 2 refused"));
  CHECK(mentions(report.problems, "published roster 3 refused"));
  CHECK(mentions(report.problems, "published roster 4 skipped"));
  CHECK(report.problems.size() == 3);
  CHECK(report.roster_after == 5);

  // An older roster published after the device moved on is never taken.
  w.publish(PublishedKind::kRoster, 6, w.roster(4));
  const UpdateReport later = d.update();
  CHECK(mentions(later.problems, "published roster 6 refused: it holds roster version 4"));
  CHECK(TrustStore(d.p).roster(w.now).value()->version == 5);
  // Reported once: the next run asks after number 6.
  CHECK(d.update().problems.empty());
}

TEST_CASE("sync takes newer forms, refuses older ones, and never asks twice", "[updates]") {
  JoinWorld w;
  JoinedDevice d(w);
  REQUIRE(setting(d.p, kFormNumberSetting) == "1");
  w.publish(PublishedKind::kForm, 2, w.form_package(form_v2(), 2));
  const UpdateReport report = d.update();
  CHECK(report.problems.empty());
  CHECK(report.forms_added == std::vector<std::string>{"intake version 2"});
  CHECK(TrustStore(d.p).form("intake").value().version == 2);
  CHECK(setting(d.p, kFormNumberSetting) == "2");

  w.publish(PublishedKind::kForm, 3, w.form_package(kTestForm, 1));  // version 1 again
  const UpdateReport older = d.update();
  CHECK(mentions(older.problems, "published form 3 (intake version 1) refused: older than"));
  CHECK(older.forms_added.empty());
  CHECK(TrustStore(d.p).form("intake").value().version == 2);

  // Numbers already seen are not asked for again: the next run asks for the gap limit only.
  const UpdateReport quiet = d.update();
  CHECK(quiet.problems.empty());
  CHECK(quiet.probes == 2 * static_cast<uint64_t>(kPublishedGapLimit));
}

TEST_CASE(
    "a relay serving bad documents at every number cannot keep a device probing, nor hide a "
    "newer roster behind them for good",
    "[updates]") {
  JoinWorld w;
  JoinedDevice d(w);
  Bytes garbage(64, 0x33);
  const uint64_t last_bad = 1 + kMaxPublishedProbes + 8;
  for (uint64_t n = 2; n <= last_bad; ++n) {
    Status s = w.coordinator->publish_document(
        w.session, published_document_name(w.publication_key, PublishedKind::kRoster, n), garbage);
    REQUIRE(s);
  }
  w.publish(PublishedKind::kRoster, last_bad + 1, w.roster(last_bad + 1));
  const UpdateReport report = d.update();
  // Rosters stop at the cap; forms stop at the gap limit.
  CHECK(report.probes == kMaxPublishedProbes + static_cast<uint64_t>(kPublishedGapLimit));
  CHECK(mentions(report.problems, "published rosters: stopped after 256 documents"));
  CHECK(report.roster_after == 1);
  // The next run goes on from where the first stopped, and reaches the newer roster.
  const UpdateReport next = d.update();
  CHECK(next.roster_after == last_bad + 1);
  CHECK(next.problems.size() == 8);  // the bad documents it had not asked for yet, once each
  // And a third run asks for nothing it has seen.
  const UpdateReport quiet = d.update();
  CHECK(quiet.problems.empty());
  CHECK(quiet.probes == 2 * static_cast<uint64_t>(kPublishedGapLimit));
}
