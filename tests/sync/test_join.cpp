// `satchel join` against a real relay over TLS (in this process): a coordinator publishes the
// organisation's roster and forms under the publication key and mints an invite; a device with
// nothing but the invite joins. Refusals before the code is redeemed change nothing in the
// profile; a join cut after it resumes without redeeming again.
#include <catch2/catch_test_macros.hpp>

#include <sodium.h>

#include <cctype>
#include <string>

#include "client/client_fixture.h"
#include "relay_harness.h"
#include "satchel/client/join.h"
#include "satchel/client/outbox.h"
#include "satchel/crypto/published_document.h"
#include "satchel/crypto/sha256.h"
#include "satchel/relay/tls_identity.h"

using namespace satchel;
using namespace satchel::client;
using satchel::relay::testing::TestOrganisation;
using satchel::relay::testing::TestRelay;

namespace {

CoordinatorSecretKey clone(const CoordinatorSecretKey& k) {
  return CoordinatorSecretKey::from_text(k.to_text().span()).value();
}

Hash32 pin_of(const TestRelay& relay) {
  auto pin = relay::certificate_pin(relay.cert_path);
  REQUIRE(pin);
  return *pin;
}

std::string url_of(const TestRelay& relay) {
  return "https://127.0.0.1:" + std::to_string(relay.port());
}

SecretBytes random_secret(size_t n) {
  SecretBytes s(n);
  randombytes_buf(s.data(), s.size());
  return s;
}

// The organisation of client_fixture.h with its mailbox on a real relay, and coordinator A in a
// session there: it publishes documents and mints invites.
struct JoinWorld {
  TestRelay relay;
  testing::TestProfile org{"join-org"};  // its keys; its profile is not used
  std::string mailbox;
  SecretBytes publication_key = random_secret(32);
  std::unique_ptr<RelayClient> coordinator;
  SecretBytes session;
  int64_t now = 0;

  JoinWorld() {
    TestOrganisation registered(0);
    registered.org = OrgSecretKey::from_text(org.org.to_text().span()).value();
    registered.coordinators.push_back(clone(org.coord_a));
    registered.coordinators.push_back(clone(org.coord_b));
    mailbox = relay.add_mailbox(registered);
    now = relay.clock.now();
    auto url = parse_relay_url(url_of(relay));
    REQUIRE(url);
    auto c = RelayClient::create(*url, {pin_of(relay)}, RelayClientOptions{});
    REQUIRE(c);
    coordinator = std::move(c.value());
    auto s = coordinator->open_session(org.coord_a, mailbox, now);
    if (!s) FAIL(s.error().message);
    session = std::move(s.value());
  }

  std::string roster(uint64_t version) {
    Roster r = org.roster(version);
    Hash32 backup{};
    backup.fill(2);  // the operator's backup key, never seen here
    r.relays = {{url_of(relay), pin_of(relay), backup}};
    return r.sign(org.org).value();
  }

  std::string form_package(std::string_view content) {
    return FormEnvelope::sign_package(org.org, "intake", 1, as_bytes(content), now).value();
  }

  void publish(PublishedKind kind, uint64_t number, std::string_view text) {
    auto sealed = seal_published_document(publication_key, kind, number, as_bytes(text));
    REQUIRE(sealed);
    Status s = coordinator->publish_document(
        session, published_document_name(publication_key, kind, number), *sealed);
    if (!s) FAIL(s.error().message);
  }

  // An invite minted by coordinator A from a base with roster 1, naming form intake v1 by the
  // hash of the test form, valid `valid_for` seconds.
  SecretBytes invite(int64_t valid_for = 86400) {
    InviteBase base;
    base.org = org.org.public_key();
    base.roster_text = roster(1);
    base.enrollment_secret = random_secret(32);
    base.publication_key = publication_key.clone();
    base.forms = {{"intake", 1, Sha256::digest(as_bytes(std::string_view(testing::kTestForm)))}};
    base.issued_at = now - 60;
    base.expires_at = now + valid_for;
    auto text = base.sign(org.org);
    REQUIRE(text);
    auto verified = SignedInviteBase::verify(text->span(), org.org.public_key(), now);
    REQUIRE(verified);
    auto code = coordinator->mint_enrollment_code(session, 1);
    if (!code) FAIL(code.error().message);
    auto id = from_hex(code->code_id);
    REQUIRE(id);
    REQUIRE(id->size() == 8);
    TokenId token_id{};
    std::copy(id->begin(), id->end(), token_id.begin());
    auto minted =
        mint_invite(*verified, code->code, code->expires_at, 0, token_id, now, org.coord_a);
    REQUIRE(minted);
    return std::move(minted->text);
  }

  std::string fingerprint() const { return org.org.public_key().fingerprint(); }

  JoinOptions options() const {
    JoinOptions o;
    o.now = now;
    return o;
  }
};

// Everything a join could change: every setting, the forms and the outbox.
std::string state_of(Profile& p) {
  std::string out;
  for (const char* sql : {"SELECT name || '=' || hex(value) FROM settings ORDER BY name",
                          "SELECT form_id || ' ' || version FROM forms ORDER BY form_id, version",
                          "SELECT 'outbox ' || outbox_id FROM outbox ORDER BY outbox_id"}) {
    auto st = p.db().prepare(sql);
    REQUIRE(st);
    while (st->step().value()) out += st->text(0) + "\n";
  }
  return out;
}

std::optional<std::string> setting(Profile& p, const char* name) {
  return p.setting(name).value();
}

bool mentions(const std::vector<std::string>& lines, std::string_view what) {
  for (const auto& l : lines)
    if (l.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a device with nothing but an invite joins, fetches its forms and queues a hello",
          "[join]") {
  JoinWorld w;
  w.publish(PublishedKind::kRoster, 1, w.roster(1));
  w.publish(PublishedKind::kRoster, 2, w.roster(2));
  w.publish(PublishedKind::kForm, 1, w.form_package(testing::kTestForm));
  const SecretBytes invite = w.invite();
  testing::TestProfile device("join-device");
  auto p = device.open();
  auto report =
      join_with_invite_text(p, invite.span(), w.fingerprint(), "field phone 1", w.options());
  if (!report) FAIL(report.error().message);
  CHECK_FALSE(report->resumed);
  CHECK(report->problems.empty());
  CHECK(report->roster_version == 2);
  CHECK(report->forms_added == std::vector<std::string>{"intake version 1"});
  CHECK(report->forms_missing.empty());
  CHECK(report->hello_queued);
  auto device_key = p.device_key().value().public_key();
  CHECK(report->device_fingerprint == device_key.fingerprint());

  // Trust, token and publication key are in the profile.
  TrustStore trust(p);
  CHECK(trust.organisation().value() == std::optional<OrgPublicKey>(w.org.org.public_key()));
  CHECK(trust.roster(w.now).value()->version == 2);
  CHECK(trust.form("intake", 1));
  CHECK(setting(p, "relay.url") == url_of(w.relay));
  CHECK(setting(p, "relay.token_id") == report->token_id);
  CHECK(setting(p, "relay.token").value().size() == 43);
  CHECK(setting(p, kPublicationKeySetting) ==
        to_hex(ByteView(w.publication_key.data(), w.publication_key.size())));
  CHECK(setting(p, kFormNumberSetting) == "1");
  // The invite's relay code and per-invite secret are not kept.
  auto confirmed = UnconfirmedInvite::parse(invite.span()).value().confirm(w.fingerprint(), w.now);
  REQUIRE(confirmed);
  const std::string state = state_of(p);
  for (const SecretBytes* secret :
       {&confirmed->mint().relay_code, &confirmed->mint().invite_secret}) {
    std::string hex = to_hex(ByteView(secret->data(), secret->size()));
    for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(state.find(hex) == std::string::npos);  // hex(value) is upper-case
  }

  // The hello is kept, and queued as a content type 3 bundle coordinator A can open.
  auto hello_bytes = from_hex(setting(p, kHelloSetting).value());
  REQUIRE(hello_bytes);
  auto hello = DeviceHello::parse(*hello_bytes);
  REQUIRE(hello);
  CHECK(hello->label == "field phone 1");
  CHECK(hello->verify(device_key, org_id_for(w.org.org.public_key())));
  Outbox outbox(p);
  auto entries = outbox.list().value();
  REQUIRE(entries.size() == 1);
  MemorySink bundle;
  REQUIRE(outbox.read(entries[0].outbox_id, bundle));
  MemorySource src(bundle.data());
  StagedMemorySink body;
  auto opened = open_bundle(src, w.org.coord_a.x25519(), device_key, body);
  REQUIRE(opened);
  CHECK(opened->metadata.content_type == ContentType::kDeviceHello);
  CHECK(Bytes(body.data().begin(), body.data().end()) == *hello_bytes);
}

TEST_CASE("a tampered invite changes nothing", "[join]") {
  JoinWorld w;
  SecretBytes invite = w.invite();
  testing::TestProfile device("join-device");
  auto p = device.open();
  const std::string before = state_of(p);
  // One character of the base32 text changed, inside the signed part.
  uint8_t& c = invite.data()[200];
  c = c == 'A' ? 'B' : 'A';
  auto report = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", w.options());
  REQUIRE_FALSE(report);
  CHECK(report.code() == Errc::kDocBadSignature);
  CHECK(state_of(p) == before);
}

TEST_CASE("an invite confirmed with another fingerprint changes nothing", "[join]") {
  JoinWorld w;
  const SecretBytes invite = w.invite();
  testing::TestProfile device("join-device");
  auto p = device.open();
  const std::string before = state_of(p);
  auto report = join_with_invite_text(
      p, invite.span(), OrgSecretKey::generate().public_key().fingerprint(), "phone", w.options());
  REQUIRE_FALSE(report);
  CHECK(report.code() == Errc::kDocNotConfirmed);
  CHECK(state_of(p) == before);
}

TEST_CASE("an expired invite changes nothing", "[join]") {
  JoinWorld w;
  const SecretBytes invite = w.invite(600);
  testing::TestProfile device("join-device");
  auto p = device.open();
  const std::string before = state_of(p);
  JoinOptions o = w.options();
  o.now = w.now + 600;  // at expires_at: refused (D8)
  auto report = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", o);
  REQUIRE_FALSE(report);
  CHECK(report.code() == Errc::kDocExpired);
  CHECK(state_of(p) == before);
}

TEST_CASE("an invite of another organisation than the one trusted changes nothing", "[join]") {
  JoinWorld w;
  const SecretBytes invite = w.invite();
  testing::TestProfile device("join-device");
  auto p = device.open();
  REQUIRE(TrustStore(p).trust_organisation(OrgSecretKey::generate().public_key()));
  const std::string before = state_of(p);
  auto report = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", w.options());
  REQUIRE_FALSE(report);
  CHECK(report.code() == Errc::kAlreadyExists);
  CHECK(report.error().message.find("another organisation") != std::string::npos);
  CHECK(state_of(p) == before);
}

TEST_CASE("a redeemed code is refused and says the relay answers every bad code alike", "[join]") {
  JoinWorld w;
  const SecretBytes invite = w.invite();
  testing::TestProfile first("join-device");
  auto p1 = first.open();
  REQUIRE(join_with_invite_text(p1, invite.span(), w.fingerprint(), "first", w.options()));
  testing::TestProfile second("join-device");
  auto p2 = second.open();
  auto report = join_with_invite_text(p2, invite.span(), w.fingerprint(), "second", w.options());
  REQUIRE_FALSE(report);
  CHECK(report.code() == Errc::kRelayUnauthorized);
  CHECK(report.error().message.find("every bad code alike") != std::string::npos);
  CHECK(report.error().message.find("unknown to it, already used or expired") != std::string::npos);
  CHECK_FALSE(setting(p2, "relay.token"));
  CHECK_FALSE(setting(p2, kHelloSetting));
}

TEST_CASE("a form whose hash differs from the invite's is refused", "[join]") {
  JoinWorld w;
  std::string altered = testing::kTestForm;
  altered.replace(altered.find("Testimony intake"), 16, "Testimony intakE");
  w.publish(PublishedKind::kForm, 1, w.form_package(altered));  // validly signed, other content
  const SecretBytes invite = w.invite();
  testing::TestProfile device("join-device");
  auto p = device.open();
  auto report = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", w.options());
  if (!report) FAIL(report.error().message);
  CHECK(mentions(report->problems, "a form whose hash differs from the invite's"));
  CHECK(report->forms_added.empty());
  CHECK(report->forms_missing == std::vector<std::string>{"intake version 1"});
  CHECK_FALSE(TrustStore(p).form("intake"));
  CHECK(report->hello_queued);  // the join itself succeeds, with the warning
}

TEST_CASE("a join cut after the code was redeemed resumes without redeeming again", "[join]") {
  JoinWorld w;
  w.publish(PublishedKind::kForm, 1, w.form_package(testing::kTestForm));
  const SecretBytes invite = w.invite();
  testing::TestProfile device("join-device");
  auto p = device.open();
  JoinOptions cut = w.options();
  cut.on_step = [](JoinStep step) {
    return step == JoinStep::kRedeemed ? Status(make_error(Errc::kNetwork, "connection lost"))
                                       : Status::Ok();
  };
  auto first = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", cut);
  REQUIRE_FALSE(first);
  CHECK(first.error().message.find("run `satchel join` again") != std::string::npos);
  const auto token = setting(p, "relay.token");
  REQUIRE(token);
  CHECK_FALSE(setting(p, kHelloSetting));
  CHECK(Outbox(p).list().value().empty());

  // The code works once: a second redemption would be refused, so success proves none.
  auto again = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", w.options());
  if (!again) FAIL(again.error().message);
  CHECK(again->resumed);
  CHECK(again->forms_added == std::vector<std::string>{"intake version 1"});
  CHECK(again->hello_queued);
  CHECK(setting(p, "relay.token") == token);
  CHECK(Outbox(p).list().value().size() == 1);

  // Once finished, another run queues no second hello.
  auto third = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", w.options());
  if (!third) FAIL(third.error().message);
  CHECK_FALSE(third->hello_queued);
  CHECK(Outbox(p).list().value().size() == 1);
}
