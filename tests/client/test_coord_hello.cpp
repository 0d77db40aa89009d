// The coordinator's side of invites: the invite base kept in the profile, invites minted from
// it recorded, and device hellos (content type 3) that register their device as joined by
// invite, or go to quarantine with the rule they broke (client/src/coord/).
#include <catch2/catch_test_macros.hpp>

#include <sodium.h>

#include <filesystem>
#include <fstream>

#include "client_fixture.h"
#include "satchel/coord/backup.h"
#include "satchel/coord/importer.h"
#include "satchel/coord/invite_book.h"
#include "satchel/coord/registry.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/invite.h"
#include "satchel/crypto/sha256.h"

using namespace satchel;
using namespace satchel::client;
using satchel::testing::TestProfile;

namespace {

// A coordinator profile holding coordinator A's key, trusting the organisation and roster v1.
struct Coordinator {
  std::string home;
  SecretBytes passphrase = testing::secret_of("coordinator passphrase, not a real one");
  explicit Coordinator(TestProfile& world) {
    home = world.home + "-coord";
    std::filesystem::remove_all(home);
    ProfileContents c;
    c.kind = ProfileKind::kCoordinator;
    c.coordinator_key = CoordinatorSecretKey::from_text(world.coord_a.to_text().span()).value();
    REQUIRE(Profile::create(home, passphrase, kArgon2Floor, std::move(c)));
    auto p = open();
    TrustStore t(p);
    REQUIRE(t.trust_organisation(world.org.public_key()));
    REQUIRE(t.add_roster(world.roster(1).sign(world.org).value(), world.now));
  }
  ~Coordinator() { std::filesystem::remove_all(home); }
  Profile open() { return Profile::open(home, passphrase).value(); }
};

SecretBytes random_secret() {
  SecretBytes s(32);
  randombytes_buf(s.data(), s.size());
  return s;
}

// An invite base for `org`, with `roster_text`, issued `age` seconds before now.
SecretBytes base_text(const OrgSecretKey& org, const std::string& roster_text, int64_t now,
                      int64_t age = 60) {
  InviteBase b;
  b.org = org.public_key();
  b.roster_text = roster_text;
  b.enrollment_secret = random_secret();
  b.publication_key = random_secret();
  b.forms = {{"intake", 1, Sha256::digest(as_bytes(std::string_view(testing::kTestForm)))}};
  b.issued_at = now - age;
  b.expires_at = now + 86400;
  return b.sign(org).value();
}

// An invite of the test organisation minted by `minter`, as a device confirmed it.
ConfirmedInvite invite_minted_by(TestProfile& world, const CoordinatorSecretKey& minter,
                                 const TokenId& token) {
  const std::string roster = world.roster(1).sign(world.org).value();
  auto base = SignedInviteBase::verify(base_text(world.org, roster, world.now).span(),
                                       world.org.public_key(), world.now)
                  .value();
  const SecretBytes code = random_secret();
  auto minted = mint_invite(base, code, world.now + 600, 0, token, world.now, minter).value();
  return UnconfirmedInvite::parse(minted.text.span())
      .value()
      .confirm(world.org.public_key().fingerprint(), world.now)
      .value();
}

// `body` sealed as a device hello (content type 3) by `sender` for coordinators A and B.
Bytes hello_bundle(TestProfile& world, const DeviceSecretKey& sender, const Bytes& body,
                   uint64_t sequence) {
  SealRequest req;
  req.sender = &sender;
  req.recipients = {world.coord_a.public_key().x25519, world.coord_b.public_key().x25519};
  req.slot_count = 3;
  req.metadata.sequence = sequence;
  req.metadata.created_at = world.now;
  req.metadata.org_id = world.roster(1).org_id();
  req.metadata.roster_version = 1;
  req.metadata.content_type = ContentType::kDeviceHello;
  req.metadata.body_length = body.size();
  MemorySource src(body);
  MemorySink out;
  REQUIRE(seal_bundle(std::move(req), src, out));
  return out.data();
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

// The registry's report of `device`, which must be listed.
coord::DeviceReport report_of(Profile& p, const DeviceSecretKey& device) {
  const auto reports = coord::device_reports(p).value();
  for (const auto& d : reports)
    if (d.key == device.public_key()) return d;
  FAIL("device not listed");
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

const TokenId kToken{1, 2, 3, 4, 5, 6, 7, 8};

}  // namespace

TEST_CASE("a verified hello registers its device as joined by invite") {
  TestProfile world("hello-joins");
  Coordinator coord(world);
  auto p = coord.open();
  const auto invite = invite_minted_by(world, world.coord_b, kToken);
  const auto device = DeviceSecretKey::generate();
  const auto hello = make_device_hello(invite, device.public_key(), "north phone").value();
  auto r = import(p, hello_bundle(world, device, hello.encode(), 100));
  CHECK(r.result == coord::ImportResult::kJoined);
  CHECK(contains(r.detail, "minted by Bao"));
  const auto d = report_of(p, device);
  CHECK(d.label == std::optional<std::string>("north phone"));
  CHECK(d.registration == coord::Registration::kInvite);
  REQUIRE(d.invite);
  CHECK(d.invite->invite_id == invite.id());
  CHECK(d.invite->token_id == kToken);
  CHECK(d.invite->label == "north phone");
  CHECK(d.invite->minter_name == "Bao");
  CHECK(d.invite->minted_day == coord::day_of(world.now));
  CHECK(d.bundles == 1);  // counted for completeness like any bundle
  CHECK(count(p, "SELECT count(*) FROM coord_bodies") == 0);  // what it says is in the rows
  CHECK(coord::quarantine_entries(p).value().empty());
  // Registered in person afterwards: the in-person check is what counts from then on.
  REQUIRE(coord::register_device(p, device.public_key(), "north phone", 20001));
  CHECK(report_of(p, device).registration == coord::Registration::kInPerson);
}

TEST_CASE("a hello whose signature does not verify goes to quarantine") {
  TestProfile world("hello-signature");
  Coordinator coord(world);
  auto p = coord.open();
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  const auto device = DeviceSecretKey::generate();
  auto hello = make_device_hello(invite, device.public_key(), "north phone").value();
  hello.label = "south phone";  // changed after the invite key signed it
  auto r = import(p, hello_bundle(world, device, hello.encode(), 100));
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(contains(r.detail, "[doc-bad-signature]"));
  CHECK(contains(r.detail, "invite's signature"));
  CHECK(!report_of(p, device).label);
  CHECK(count(p, "SELECT count(*) FROM coord_device_invites") == 0);
  auto q = coord::quarantine_entries(p).value();
  REQUIRE(q.size() == 1);
  CHECK(q[0].reason == r.detail);
  CHECK(q[0].sender == std::optional<DevicePublicKey>(device.public_key()));
}

TEST_CASE(
    "a second hello for one invite from another device goes to quarantine and leaves neither "
    "device registered") {
  TestProfile world("hello-second");
  Coordinator coord(world);
  auto p = coord.open();
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  const auto first = DeviceSecretKey::generate(), second = DeviceSecretKey::generate();
  const auto one = make_device_hello(invite, first.public_key(), "north phone").value();
  const auto two = make_device_hello(invite, second.public_key(), "copied invite").value();
  CHECK(import(p, hello_bundle(world, first, one.encode(), 100)).result ==
        coord::ImportResult::kJoined);
  auto r = import(p, hello_bundle(world, second, two.encode(), 500));
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(contains(r.detail, "a second hello for one invite"));
  CHECK(contains(r.detail, first.public_key().fingerprint()));
  CHECK(contains(r.detail, "neither device is registered"));
  // Whichever hello came first, a copy of the invite was used: neither device is believed.
  CHECK(!report_of(p, second).label);
  CHECK(!report_of(p, first).label);
  CHECK(report_of(p, first).invite_disputed);
  CHECK(report_of(p, second).invite_disputed);
  CHECK(count(p, "SELECT count(*) FROM coord_device_invites") == 1);
  CHECK(count(p, "SELECT count(*) FROM coord_registrations") == 0);
  // The first device re-sending its hello does not register it again.
  CHECK(import(p, hello_bundle(world, first, one.encode(), 101)).result ==
        coord::ImportResult::kDuplicate);
  CHECK(!report_of(p, first).label);
  // An in-person check settles it.
  REQUIRE(coord::register_device(p, first.public_key(), "north phone", 20001));
  CHECK(report_of(p, first).registration == coord::Registration::kInPerson);
}

TEST_CASE("a device registered in person keeps its registration when its invite is disputed") {
  TestProfile world("hello-dispute-in-person");
  Coordinator coord(world);
  auto p = coord.open();
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  const auto first = DeviceSecretKey::generate(), second = DeviceSecretKey::generate();
  const auto one = make_device_hello(invite, first.public_key(), "north phone").value();
  const auto two = make_device_hello(invite, second.public_key(), "copied invite").value();
  REQUIRE(import(p, hello_bundle(world, first, one.encode(), 100)).result ==
          coord::ImportResult::kJoined);
  REQUIRE(coord::register_device(p, first.public_key(), "north phone", 20001));
  auto r = import(p, hello_bundle(world, second, two.encode(), 500));
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(contains(r.detail, "registration in person stands"));
  CHECK(report_of(p, first).label == std::optional<std::string>("north phone"));
  CHECK(report_of(p, first).registration == coord::Registration::kInPerson);
  CHECK(report_of(p, first).invite_disputed);
  CHECK(!report_of(p, second).label);
}

TEST_CASE("the same hello imported twice changes nothing") {
  TestProfile world("hello-twice");
  Coordinator coord(world);
  auto p = coord.open();
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  const auto device = DeviceSecretKey::generate();
  const Bytes hello = make_device_hello(invite, device.public_key(), "north phone")->encode();
  const Bytes bundle = hello_bundle(world, device, hello, 100);
  CHECK(import(p, bundle).result == coord::ImportResult::kJoined);
  // The same bundle again, and the same hello re-sent later in a bundle of its own.
  CHECK(import(p, bundle).result == coord::ImportResult::kDuplicate);
  auto again = import(p, hello_bundle(world, device, hello, 101));
  CHECK(again.result == coord::ImportResult::kDuplicate);
  CHECK(contains(again.detail, "joined this device already"));
  CHECK(count(p, "SELECT count(*) FROM coord_device_invites") == 1);
  CHECK(count(p, "SELECT count(*) FROM coord_registrations") == 1);
  CHECK(count(p, "SELECT count(*) FROM coord_bodies") == 0);
  CHECK(coord::quarantine_entries(p).value().empty());
  const auto d = report_of(p, device);
  CHECK(d.label == std::optional<std::string>("north phone"));
  CHECK(d.registration == coord::Registration::kInvite);
  CHECK(d.bundles == 2);
}

TEST_CASE("a hello minted by a key outside the roster goes to quarantine") {
  TestProfile world("hello-outsider");
  Coordinator coord(world);
  auto p = coord.open();
  const auto outsider = CoordinatorSecretKey::generate();
  const auto invite = invite_minted_by(world, outsider, kToken);
  const auto device = DeviceSecretKey::generate();
  const auto hello = make_device_hello(invite, device.public_key(), "north phone").value();
  auto r = import(p, hello_bundle(world, device, hello.encode(), 100));
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(contains(r.detail, "minted by no coordinator of the roster"));
  CHECK(!report_of(p, device).label);
  CHECK(count(p, "SELECT count(*) FROM coord_device_invites") == 0);
}

TEST_CASE("a hello sent by another device than it names goes to quarantine") {
  TestProfile world("hello-sender");
  Coordinator coord(world);
  auto p = coord.open();
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  const auto named = DeviceSecretKey::generate(), sender = DeviceSecretKey::generate();
  const auto hello = make_device_hello(invite, named.public_key(), "north phone").value();
  auto r = import(p, hello_bundle(world, sender, hello.encode(), 100));
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(contains(r.detail, "[doc-invalid-field]"));
  CHECK(contains(r.detail, "other than the bundle's sender"));
  const auto reports = coord::device_reports(p).value();
  for (const auto& d : reports) CHECK(!d.label);
  CHECK(count(p, "SELECT count(*) FROM coord_device_invites") == 0);
}

TEST_CASE("a hello that is not a hello goes to quarantine with the structure rule") {
  TestProfile world("hello-malformed");
  Coordinator coord(world);
  auto p = coord.open();
  const auto device = DeviceSecretKey::generate();
  auto r = import(p, hello_bundle(world, device, Bytes(5000, 1), 100));
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(contains(r.detail, "[doc-malformed]"));
  r = import(p, hello_bundle(world, device, Bytes{2, 0, 0}, 101));
  CHECK(r.result == coord::ImportResult::kQuarantined);
  CHECK(contains(r.detail, "[doc-unsupported-version]"));
  CHECK(!report_of(p, device).label);
}

TEST_CASE("a hello of a device registered in person keeps that registration") {
  TestProfile world("hello-in-person");
  Coordinator coord(world);
  auto p = coord.open();
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  const auto device = DeviceSecretKey::generate();
  REQUIRE(coord::register_device(p, device.public_key(), "checked in person", 20000));
  const auto hello = make_device_hello(invite, device.public_key(), "north phone").value();
  auto r = import(p, hello_bundle(world, device, hello.encode(), 100));
  CHECK(r.result == coord::ImportResult::kJoined);
  CHECK(contains(r.detail, "registration kept"));
  const auto d = report_of(p, device);
  CHECK(d.label == std::optional<std::string>("checked in person"));
  CHECK(d.registration == coord::Registration::kInPerson);
  // The invite is used up all the same.
  CHECK(count(p, "SELECT count(*) FROM coord_device_invites") == 1);
}

TEST_CASE("an invite base of another organisation is refused and nothing is stored") {
  TestProfile world("base-other-org");
  Coordinator coord(world);
  auto p = coord.open();
  const auto other = OrgSecretKey::generate();
  Roster r = world.roster(1);
  r.org = other.public_key();
  const SecretBytes text = base_text(other, r.sign(other).value(), world.now);
  CHECK(coord::store_invite_base(p, text.span(), world.now).code() == Errc::kDocUntrustedSigner);
  CHECK(!coord::current_invite_base(p, world.now).value());
  // From a file: refused the same way, and the file is left as it was.
  const std::string path = coord.home + "-base.txt";
  std::ofstream(path) << std::string(reinterpret_cast<const char*>(text.data()), text.size());
  CHECK(coord::import_invite_base_file(p, path, world.now).code() == Errc::kDocUntrustedSigner);
  CHECK(std::filesystem::file_size(path) == text.size());
  CHECK(!coord::current_invite_base(p, world.now).value());
  CHECK(!p.setting(coord::kInviteBaseSetting).value());
  std::filesystem::remove(path);
}

TEST_CASE("an imported invite base file is gone") {
  TestProfile world("base-shredded");
  Coordinator coord(world);
  auto p = coord.open();
  const SecretBytes text = base_text(world.org, world.roster(1).sign(world.org).value(), world.now);
  const std::string path = coord.home + "-base.txt";
  std::ofstream(path) << std::string(reinterpret_cast<const char*>(text.data()), text.size())
                      << "\n";
  auto imported = coord::import_invite_base_file(p, path, world.now);
  REQUIRE(imported);
  CHECK(!imported->not_shredded);
  CHECK(!imported->already_held);
  CHECK(!std::filesystem::exists(path));
  REQUIRE(imported->base.base().forms.size() == 1);
  CHECK(imported->base.base().forms[0].form_id == "intake");
  // Held in the profile, across closing and opening it.
  { Profile closed = std::move(p); }
  auto again = coord.open();
  auto held = coord::current_invite_base(again, world.now);
  REQUIRE(held);
  REQUIRE(*held);
  CHECK((*held)->wire().equals(imported->base.wire().span()));
  // Past its expiry the base held is refused by name.
  CHECK(coord::current_invite_base(again, world.now + 86400).code() == Errc::kDocExpired);
}

TEST_CASE("a newer invite base replaces the one held, and an older one is refused") {
  TestProfile world("base-newer");
  Coordinator coord(world);
  auto p = coord.open();
  const std::string roster = world.roster(1).sign(world.org).value();
  const SecretBytes older = base_text(world.org, roster, world.now, 600);
  const SecretBytes newer = base_text(world.org, roster, world.now, 60);
  REQUIRE(coord::store_invite_base(p, older.span(), world.now));
  auto replaced = coord::store_invite_base(p, newer.span(), world.now);
  REQUIRE(replaced);
  CHECK(replaced->replaced);
  CHECK(coord::store_invite_base(p, older.span(), world.now).code() == Errc::kDocRollback);
  auto same = coord::store_invite_base(p, newer.span(), world.now);
  REQUIRE(same);
  CHECK(same->already_held);
  auto held = coord::current_invite_base(p, world.now).value();
  REQUIRE(held);
  CHECK(held->base().issued_at == world.now - 60);
}

TEST_CASE("a minted invite is recorded once, by its id") {
  TestProfile world("minted-record");
  Coordinator coord(world);
  auto p = coord.open();
  coord::MintedInviteEntry e;
  e.invite_id.fill(7);
  e.token_id = kToken;
  e.minted_day = 20000;
  e.relay_index = 1;
  REQUIRE(coord::record_minted_invite(p, e));
  coord::MintedInviteEntry again = e;
  again.minted_day = 20001;
  CHECK(coord::record_minted_invite(p, again).code() == Errc::kAlreadyExists);
  coord::MintedInviteEntry other = e;
  other.invite_id.fill(8);
  other.relay_index = 0;
  REQUIRE(coord::record_minted_invite(p, other));
  auto list = coord::minted_invites(p).value();
  REQUIRE(list.size() == 2);
  CHECK(list[0].invite_id == e.invite_id);
  CHECK(list[0].token_id == kToken);
  CHECK(list[0].minted_day == 20000);  // the first record stands
  CHECK(list[0].relay_index == 1);
  CHECK(list[1].invite_id == other.invite_id);
}

TEST_CASE("an invite base travels in a coordinator backup, how devices joined does not yet") {
  TestProfile world("base-backup");
  Coordinator coord(world);
  auto p = coord.open();
  const SecretBytes text = base_text(world.org, world.roster(1).sign(world.org).value(), world.now);
  REQUIRE(coord::store_invite_base(p, text.span(), world.now));
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  const auto device = DeviceSecretKey::generate();
  const auto hello = make_device_hello(invite, device.public_key(), "north phone").value();
  REQUIRE(import(p, hello_bundle(world, device, hello.encode(), 100)).result ==
          coord::ImportResult::kJoined);
  const auto backup_key = BackupSecretKey::generate();
  MemorySink sealed;
  REQUIRE(coord::write_backup(p, {backup_key.public_key()}, sealed, world.now));
  MemorySource src(sealed.data());
  auto verified = coord::VerifiedBackup::verify(src, backup_key);
  REQUIRE(verified);
  coord::RestoreOptions o;
  o.home = coord.home + "-restored";
  o.params = kArgon2Floor;
  o.expect = world.coord_a.public_key();
  REQUIRE(verified->restore_to(coord.passphrase, o));
  auto restored = Profile::open(o.home, coord.passphrase).value();
  auto held = coord::current_invite_base(restored, world.now);
  REQUIRE(held);
  REQUIRE(*held);
  CHECK((*held)->wire().equals(coord::current_invite_base(p, world.now).value()->wire().span()));
  // Backup format 1 does not carry the invite tables (schema/coordinator-backup.md, "Left
  // out"): the device stays registered, and the registry says how is not recorded.
  const auto d = report_of(restored, device);
  CHECK(d.label == std::optional<std::string>("north phone"));
  CHECK(d.registration == coord::Registration::kUnrecorded);
  CHECK(!d.invite);
  CHECK(count(restored, "SELECT count(*) FROM coord_device_invites") == 0);
  std::filesystem::remove_all(o.home);
}

TEST_CASE(
    "a lost device's gaps stop at its cut-off, and its advocate re-joins with a new key by a "
    "new invite") {
  TestProfile world("hello-lost-rejoin");
  Coordinator coord(world);
  auto p = coord.open();
  const TokenId first_token{1, 1, 1, 1, 1, 1, 1, 1}, second_token{2, 2, 2, 2, 2, 2, 2, 2};
  const auto old_invite = invite_minted_by(world, world.coord_a, first_token);
  const auto old_device = DeviceSecretKey::generate();
  const Bytes old_hello = make_device_hello(old_invite, old_device.public_key(), "phone")->encode();
  // The old device's bundles 100, 101 and 105 arrived (the hello re-sent counts like any
  // bundle): 102..104 are missing.
  CHECK(import(p, hello_bundle(world, old_device, old_hello, 100)).result ==
        coord::ImportResult::kJoined);
  for (uint64_t seq : {101, 105}) import(p, hello_bundle(world, old_device, old_hello, seq));
  auto before = report_of(p, old_device);
  REQUIRE(before.gaps.size() == 1);
  CHECK(before.gaps[0].first == 102);
  CHECK(before.gaps[0].last == 104);

  // Lost: the last sequence still trusted is 102. Gaps are reported up to it, not beyond.
  REQUIRE(coord::mark_device_lost(p, old_device.public_key(), 102, 20001));
  auto lost = report_of(p, old_device);
  CHECK(lost.lost_after == std::optional<uint64_t>(102));
  REQUIRE(lost.gaps.size() == 1);
  CHECK(lost.gaps[0].first == 102);
  CHECK(lost.gaps[0].last == 102);
  // Whatever arrives from the old key later goes to quarantine and opens no new gap.
  auto late = import(p, hello_bundle(world, old_device, old_hello, 110));
  CHECK(late.result == coord::ImportResult::kQuarantined);
  CHECK(report_of(p, old_device).gaps.size() == 1);

  // The advocate re-joins on a new device with a new invite: registered by that invite.
  const auto new_invite = invite_minted_by(world, world.coord_b, second_token);
  const auto new_device = DeviceSecretKey::generate();
  const Bytes new_hello =
      make_device_hello(new_invite, new_device.public_key(), "phone 2")->encode();
  auto joined = import(p, hello_bundle(world, new_device, new_hello, 7000));
  CHECK(joined.result == coord::ImportResult::kJoined);
  const auto d = report_of(p, new_device);
  CHECK(d.registration == coord::Registration::kInvite);
  REQUIRE(d.invite);
  CHECK(d.invite->invite_id == new_invite.id());
  CHECK(d.invite->token_id == second_token);
  CHECK(d.gaps.empty());
  // The lost device's invite cannot register the new key: one device per invite.
  const Bytes reused = make_device_hello(old_invite, new_device.public_key(), "phone 2")->encode();
  auto second = import(p, hello_bundle(world, new_device, reused, 7001));
  CHECK(second.result == coord::ImportResult::kQuarantined);
  CHECK(contains(second.detail, "a second hello for one invite"));
}

TEST_CASE(
    "a hello minted by a coordinator removed since is recorded for its invite but registers no "
    "device") {
  TestProfile world("hello-removed-minter");
  Coordinator coord(world);
  auto p = coord.open();
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  // Roster 2 removes Amira, who minted the invite.
  Roster r2 = world.roster(2);
  r2.coordinators = {{"Bao", world.coord_b.public_key()}};
  REQUIRE(TrustStore(p).add_roster(r2.sign(world.org).value(), world.now));
  const auto device = DeviceSecretKey::generate();
  const auto hello = make_device_hello(invite, device.public_key(), "north phone").value();
  auto r = import(p, hello_bundle(world, device, hello.encode(), 100));
  CHECK(r.result == coord::ImportResult::kJoined);
  CHECK(contains(r.detail, "minted by Amira (no longer in the roster)"));
  CHECK(contains(r.detail, "not registered"));
  CHECK(!report_of(p, device).label);  // UNVERIFIED until checked in person
  CHECK(count(p, "SELECT count(*) FROM coord_registrations") == 0);
  // The invite is used: another device presenting it disputes it.
  const auto other = DeviceSecretKey::generate();
  const auto copy = make_device_hello(invite, other.public_key(), "copy").value();
  auto second = import(p, hello_bundle(world, other, copy.encode(), 300));
  CHECK(second.result == coord::ImportResult::kQuarantined);
  CHECK(contains(second.detail, "a second hello for one invite"));
}

TEST_CASE("a coordinator remembers the minters of its invite base's roster") {
  TestProfile world("hello-base-minter");
  // A coordinator added later: it holds only roster 2 (Bao and Chen), never roster 1.
  const auto chen = CoordinatorSecretKey::generate();
  Roster r2 = world.roster(2);
  r2.coordinators = {{"Bao", world.coord_b.public_key()}, {"Chen", chen.public_key()}};
  Coordinator coord(world);
  auto p = coord.open();
  REQUIRE(p.db().exec("DELETE FROM coord_known_coordinators"));
  REQUIRE(TrustStore(p).add_roster(r2.sign(world.org).value(), world.now));
  REQUIRE(p.db().exec("DELETE FROM coord_known_coordinators WHERE name = 'Amira'"));
  const auto invite = invite_minted_by(world, world.coord_a, kToken);
  const auto device = DeviceSecretKey::generate();
  const Bytes hello = make_device_hello(invite, device.public_key(), "phone")->encode();
  CHECK(import(p, hello_bundle(world, device, hello, 100)).result ==
        coord::ImportResult::kQuarantined);
  // The invite base it imports carries roster 1, which names Amira.
  REQUIRE(coord::store_invite_base(
      p, base_text(world.org, world.roster(1).sign(world.org).value(), world.now).span(),
      world.now));
  auto r = import(p, hello_bundle(world, device, hello, 101));
  CHECK(r.result == coord::ImportResult::kJoined);
  CHECK(contains(r.detail, "minted by Amira (no longer in the roster)"));
}
