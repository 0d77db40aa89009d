// `satchel join` against a real relay over TLS (in this process): a coordinator publishes the
// organisation's roster and forms under the publication key and mints an invite; a device with
// nothing but the invite joins. Refusals before the code is redeemed change nothing in the
// profile; a join cut after it resumes without redeeming again.
#include "join_world.h"

using namespace satchel;
using namespace satchel::client;
using namespace satchel::testing;

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

TEST_CASE("a join takes a newer version of an invite's form, signed since the invite was made",
          "[join]") {
  JoinWorld w;
  std::string v2 = testing::kTestForm;
  v2.replace(v2.find("\"version\": 1"), 12, "\"version\": 2");
  w.publish(PublishedKind::kForm, 1, w.form_package(testing::kTestForm));
  w.publish(PublishedKind::kForm, 2, w.form_package(v2, 2));
  const SecretBytes invite = w.invite();  // names intake version 1
  testing::TestProfile device("join-device");
  auto p = device.open();
  auto report = join_with_invite_text(p, invite.span(), w.fingerprint(), "phone", w.options());
  if (!report) FAIL(report.error().message);
  CHECK(report->problems.empty());
  CHECK(report->forms_added == std::vector<std::string>{"intake version 1", "intake version 2"});
  CHECK(report->forms_missing.empty());
  CHECK(TrustStore(p).form("intake").value().version == 2);
}
