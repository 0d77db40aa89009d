// A coordinator mints invites and publishes the organisation's documents through a real relay
// over TLS: the invite confirms on a device and its relay code is redeemable once; published
// documents open on a device under their names and nowhere else.
#include <catch2/catch_test_macros.hpp>

#include <sodium.h>

#include <filesystem>
#include <fstream>

#include "client/client_fixture.h"
#include "relay_harness.h"
#include "satchel/coord/invite_book.h"
#include "satchel/coord/invite_minting.h"
#include "satchel/coord/publication.h"
#include "satchel/crypto/published_document.h"
#include "satchel/relay/tls_identity.h"

using namespace satchel;
using namespace satchel::client;
using satchel::relay::testing::TestOrganisation;
using satchel::relay::testing::TestRelay;

namespace {

CoordinatorSecretKey clone(const CoordinatorSecretKey& k) {
  return CoordinatorSecretKey::from_text(k.to_text().span()).value();
}

std::string text_of(const SecretBytes& s) {
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

// The organisation of client_fixture.h with its mailbox on a real relay, and coordinator A's
// profile trusting it, holding a roster that names the relay.
struct InviteWorld {
  TestRelay relay;
  testing::TestProfile fixture{"invite-world"};
  std::string mailbox, home = fixture.home + "-coordinator";
  Hash32 pin{};
  std::string roster_text;

  InviteWorld() {
    TestOrganisation org(0);
    org.org = OrgSecretKey::from_text(fixture.org.to_text().span()).value();
    org.coordinators.push_back(clone(fixture.coord_a));
    mailbox = relay.add_mailbox(org);
    pin = relay::certificate_pin(relay.cert_path).value();
    Roster r = fixture.roster(2);
    Hash32 backup{};
    backup.fill(2);
    r.relays = {{url(), pin, backup}};
    roster_text = r.sign(fixture.org).value();
    std::filesystem::remove_all(home);
    ProfileContents c;
    c.kind = ProfileKind::kCoordinator;
    c.coordinator_key = clone(fixture.coord_a);
    REQUIRE(Profile::create(home, fixture.passphrase, kArgon2Floor, std::move(c)));
    auto p = open();
    TrustStore t(p);
    REQUIRE(t.trust_organisation(fixture.org.public_key()));
    REQUIRE(t.add_roster(roster_text, now()));
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(relay.port()); }
  int64_t now() { return relay.clock.now(); }
  Profile open() { return Profile::open(home, fixture.passphrase).value(); }

  InviteBase base() {
    InviteBase b;
    b.org = fixture.org.public_key();
    b.roster_text = roster_text;
    b.enrollment_secret = SecretBytes(32);
    b.publication_key = SecretBytes(32);
    randombytes_buf(b.publication_key.data(), 32);
    b.forms = {{"intake", 1, Sha256::digest(as_bytes(std::string_view(testing::kTestForm)))}};
    b.issued_at = now() - 60;
    b.expires_at = now() + 86400 * 7;
    return b;
  }

  void import_base(const InviteBase& b) {
    auto p = open();
    REQUIRE(coord::store_invite_base(p, b.sign(fixture.org).value().span(), now()));
  }

  std::unique_ptr<RelayClient> device_client() {
    auto c = RelayClient::create(parse_relay_url(url()).value(), {pin}, RelayClientOptions{});
    REQUIRE(c);
    return std::move(*c);
  }
};

}  // namespace

TEST_CASE("a minted invite confirms on a device, names its relay, and its code enrolls once",
          "[invite]") {
  InviteWorld w;
  w.import_base(w.base());
  auto p = w.open();
  coord::InviteRequest r;
  r.now = w.now();
  auto issued = coord::issue_invite(p, r);
  REQUIRE(issued.ok());
  auto confirmed = UnconfirmedInvite::parse(issued->text.span())
                       .value()
                       .confirm(w.fixture.org.public_key().fingerprint(), w.now());
  REQUIRE(confirmed.ok());
  CHECK(confirmed->id() == issued->id);
  CHECK(confirmed->relay().url == w.url());
  CHECK(confirmed->mint().minter_key == w.fixture.coord_a.public_key().ed25519);
  auto minted = coord::minted_invites(p);
  REQUIRE(minted.ok());
  REQUIRE(minted->size() == 1);
  CHECK(minted->front().invite_id == issued->id);

  auto device = w.device_client();
  auto enrolled = device->enroll(confirmed->mint().relay_code);
  REQUIRE(enrolled.ok());
  CHECK(enrolled->token_id == to_hex(ByteView(issued->token_id.data(), issued->token_id.size())));
  CHECK(device->enroll(confirmed->mint().relay_code).code() == Errc::kRelayUnauthorized);
}

TEST_CASE("no invite is minted without an invite base, and no code is asked of the relay",
          "[invite]") {
  InviteWorld w;
  auto p = w.open();
  coord::InviteRequest r;
  r.now = w.now();
  auto issued = coord::issue_invite(p, r);
  CHECK(issued.code() == Errc::kNotFound);
  CHECK(issued.error().message.find("invite-base import") != std::string::npos);
  CHECK(coord::minted_invites(p).value().empty());
}

TEST_CASE("published documents open on a device under their names only", "[invite]") {
  InviteWorld w;
  const InviteBase b = w.base();
  w.import_base(b);
  const std::string dir = w.home + "-publish";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/forms");
  std::ofstream(dir + "/roster.txt") << w.roster_text << "\n";
  const std::string form =
      FormEnvelope::sign_package(w.fixture.org, "intake", 1,
                                 as_bytes(std::string_view(testing::kTestForm)), w.now())
          .value();
  std::ofstream(dir + "/forms/000001.form") << form;
  auto p = w.open();
  coord::PublishRequest r;
  r.dir = dir;
  r.now = w.now();
  auto s = coord::publish_directory(p, r);
  REQUIRE(s.ok());
  CHECK(s->roster_version == 2);
  CHECK(s->form_numbers == std::vector<uint64_t>{1});

  auto device = w.device_client();
  const std::string code = w.relay.mint_code(w.mailbox);
  SecretBytes code_bytes(code.size());
  std::memcpy(code_bytes.data(), code.data(), code.size());
  auto token = device->enroll(code_bytes).value().token;
  auto fetch = [&](PublishedKind kind, uint64_t n) {
    auto d = device->document(published_document_name(b.publication_key, kind, n), token);
    REQUIRE(d.ok());
    return *d;
  };
  auto roster_doc = fetch(PublishedKind::kRoster, 2);
  REQUIRE(roster_doc.has_value());
  auto opened = open_published_document(b.publication_key, PublishedKind::kRoster, 2, *roster_doc);
  REQUIRE(opened.ok());
  CHECK(text_of(*opened) == w.roster_text);
  auto form_doc = fetch(PublishedKind::kForm, 1);
  REQUIRE(form_doc.has_value());
  CHECK(text_of(open_published_document(b.publication_key, PublishedKind::kForm, 1, *form_doc)
                    .value()) == form);
  // Nothing under the next numbers, and the form's bytes do not open as a roster.
  CHECK_FALSE(fetch(PublishedKind::kRoster, 3).has_value());
  CHECK_FALSE(fetch(PublishedKind::kForm, 2).has_value());
  CHECK(open_published_document(b.publication_key, PublishedKind::kRoster, 1, *form_doc).code() ==
        Errc::kDocBadSignature);
}

TEST_CASE("a publication folder with a document that does not verify publishes nothing",
          "[invite]") {
  InviteWorld w;
  const InviteBase b = w.base();
  w.import_base(b);
  const std::string dir = w.home + "-publish-bad";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/forms");
  std::ofstream(dir + "/roster.txt") << w.roster_text << "\n";
  // Signed by another organisation.
  std::ofstream(dir + "/forms/000001.form")
      << FormEnvelope::sign_package(OrgSecretKey::generate(), "intake", 1,
                                    as_bytes(std::string_view(testing::kTestForm)), w.now())
             .value();
  auto p = w.open();
  coord::PublishRequest r;
  r.dir = dir;
  r.now = w.now();
  auto s = coord::publish_directory(p, r);
  CHECK(s.code() == Errc::kDocUntrustedSigner);
  CHECK(s.error().message.find("forms/000001.form") != std::string::npos);
  // A file not named by a number is refused too.
  std::filesystem::remove(dir + "/forms/000001.form");
  std::ofstream(dir + "/forms/intake.form") << "form-x";
  CHECK(coord::publish_directory(p, r).code() == Errc::kInvalidArgument);

  auto device = w.device_client();
  const std::string code = w.relay.mint_code(w.mailbox);
  SecretBytes code_bytes(code.size());
  std::memcpy(code_bytes.data(), code.data(), code.size());
  auto token = device->enroll(code_bytes).value().token;
  auto roster_doc = device->document(
      published_document_name(b.publication_key, PublishedKind::kRoster, 2), token);
  REQUIRE(roster_doc.ok());
  CHECK_FALSE(roster_doc->has_value());
}

TEST_CASE("publishing a folder uploads its registration, and again changes nothing", "[invite]") {
  InviteWorld w;
  w.import_base(w.base());
  const std::string dir = w.home + "-publish-reg";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/roster.txt") << w.roster_text << "\n";
  RelayRegistration reg;
  reg.org = w.fixture.org.public_key();
  reg.version = 2;
  reg.issued_at = w.now();
  reg.coordinator_auth_keys = {w.fixture.coord_a.public_key().ed25519,
                               w.fixture.coord_b.public_key().ed25519};
  std::ofstream(dir + "/registration.txt") << reg.sign(w.fixture.org).value() << "\n";
  auto p = w.open();
  coord::PublishRequest r;
  r.dir = dir;
  r.now = w.now();
  auto first = coord::publish_directory(p, r);
  REQUIRE(first.ok());
  CHECK(first->registration_updated);
  CHECK(first->registration_version == 2);
  auto again = coord::publish_directory(p, r);
  REQUIRE(again.ok());
  CHECK_FALSE(again->registration_updated);
  CHECK(again->registration_version == 2);
  // Another organisation's registration is refused before anything is sent.
  RelayRegistration other = reg;
  auto stranger = OrgSecretKey::generate();
  other.org = stranger.public_key();
  other.version = 3;
  std::ofstream(dir + "/registration.txt", std::ios::trunc) << other.sign(stranger).value();
  CHECK(coord::publish_directory(p, r).code() == Errc::kDocUntrustedSigner);
}

TEST_CASE(
    "an expired invite base and roster do not stop a registration that removes a coordinator "
    "from being published, and the registration goes first",
    "[invite]") {
  InviteWorld w;
  InviteBase b = w.base();
  b.expires_at = w.now() + 600;
  w.import_base(b);
  // A week later: the base and the coordinator's roster 2 (valid one day) have expired. The
  // organisation removes coordinator B in registration 2 and roster 3.
  w.relay.clock.advance(7 * 86400);
  Roster r3 = w.fixture.roster(3);
  r3.issued_at = w.now() - 60;
  r3.expires_at = w.now() + 86400;
  r3.coordinators = {{"Amira", w.fixture.coord_a.public_key()}};
  Hash32 backup{};
  backup.fill(2);
  r3.relays = {{w.url(), w.pin, backup}};
  const std::string dir = w.home + "-publish-emergency";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/roster.txt") << r3.sign(w.fixture.org).value() << "\n";
  RelayRegistration reg;
  reg.org = w.fixture.org.public_key();
  reg.version = 2;
  reg.issued_at = w.now();
  reg.coordinator_auth_keys = {w.fixture.coord_a.public_key().ed25519};
  std::ofstream(dir + "/registration.txt") << reg.sign(w.fixture.org).value() << "\n";
  auto p = w.open();
  coord::PublishRequest r;
  r.dir = dir;
  r.now = w.now();
  auto published = coord::publish_directory(p, r);
  if (!published) FAIL(published.error().message);
  CHECK(published->registration_updated);
  CHECK(published->roster_version == 3);
}
