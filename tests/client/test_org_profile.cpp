// The organisation profile (`satchel org …`): its state and rules, what `org publish` signs and
// writes, invite bases, and the import of a key file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client_fixture.h"
#include "satchel/crypto/sha256.h"
#include "satchel/org/org_forms.h"
#include "satchel/org/org_invite_base.h"
#include "satchel/org/org_profile.h"
#include "satchel/org/org_publication.h"
#include "satchel/org/org_state.h"

using namespace satchel;
using satchel::testing::kTestForm;
using satchel::testing::secret_of;

namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& tag) {
  static int counter = 0;
  return (fs::temp_directory_path() / ("satchel-org-" + tag + "-" + std::to_string(::getpid()) +
                                       "-" + std::to_string(counter++)))
      .string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A form of the test fixture's shape under another id and version.
std::string form_json(const std::string& id, uint64_t version) {
  std::string json = kTestForm;
  json.replace(json.find("\"intake\""), 8, "\"" + id + "\"");
  json.replace(json.find("\"version\": 1"), 12, "\"version\": " + std::to_string(version));
  return json;
}

Hash32 pin(uint8_t fill) {
  Hash32 h{};
  h.fill(fill);
  return h;
}

// An organisation profile in a fresh directory, removed at the end.
struct OrgWorld {
  std::string home = temp_path("profile");
  SecretBytes passphrase = secret_of("organisation test passphrase, not a real one");
  CoordinatorSecretKey amira = CoordinatorSecretKey::generate();
  CoordinatorSecretKey bao = CoordinatorSecretKey::generate();
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  OrgPublicKey org;

  explicit OrgWorld(const std::string& import_key_file = "") {
    org::OrgSettings s;
    s.name = "Example Rights Network";
    std::optional<org::KeyImport> import;
    if (!import_key_file.empty()) import = org::read_key_file(import_key_file).value();
    auto made = org::create_profile(home, passphrase, client::kArgon2Floor, s, std::move(import));
    if (!made) throw std::runtime_error(made.error().message);
    org = *made->info.organisation;
  }
  ~OrgWorld() { fs::remove_all(home); }

  client::Profile open() {
    auto p = client::Profile::open(home, passphrase);
    if (!p) throw std::runtime_error(p.error().message);
    return std::move(p.value());
  }

  // One coordinator and one relay: the least a roster needs.
  static void least_roster(client::Profile& p, const CoordinatorSecretKey& c) {
    REQUIRE(org::add_coordinator(p, {"Amira", c.public_key()}, c.public_key().fingerprint()));
    REQUIRE(org::add_relay(p, {"https://relay.example.org", pin(1), pin(2)}));
  }
};

}  // namespace

TEST_CASE("the roster version grows only when the roster changes", "[org]") {
  OrgWorld w;
  auto p = w.open();
  OrgWorld::least_roster(p, w.amira);
  auto first = org::prepare_publication(p, w.now, false);
  REQUIRE(first);
  CHECK(first->roster.version == 1);
  CHECK(first->roster_reason == org::RosterReason::kFirst);
  CHECK(first->registration.version == 1);
  auto verified = Roster::verify(first->roster.text, w.org, w.now);
  REQUIRE(verified);
  CHECK(verified->org_name == "Example Rights Network");
  CHECK(verified->slot_count == 1);

  // Nothing changed: the same text, not signed again (a later time changes nothing).
  auto again = org::prepare_publication(p, w.now + 100, false);
  REQUIRE(again);
  CHECK(again->roster_reason == org::RosterReason::kUnchanged);
  CHECK_FALSE(again->roster.signed_now);
  CHECK(again->roster.text == first->roster.text);
  CHECK(again->registration.text == first->registration.text);

  // A setting the roster does not carry changes nothing until the next roster.
  auto s = org::settings(p).value();
  s.valid_days = 30;
  REQUIRE(org::set_settings(p, s));
  CHECK(org::prepare_publication(p, w.now, false)->roster.version == 1);

  // A relay: a new roster, the same registration.
  REQUIRE(org::add_relay(p, {"https://relay2.example.org", pin(3), pin(4)}));
  CHECK(org::pending_changes(p, w.now)->roster);
  CHECK_FALSE(org::pending_changes(p, w.now)->registration);
  auto relayed = org::prepare_publication(p, w.now, false);
  REQUIRE(relayed);
  CHECK(relayed->roster.version == 2);
  CHECK(relayed->roster_reason == org::RosterReason::kChanged);
  CHECK_FALSE(relayed->registration.signed_now);
  CHECK(relayed->registration.version == 1);

  // A coordinator: both.
  REQUIRE(org::add_coordinator(p, {"Bao", w.bao.public_key()}, w.bao.public_key().fingerprint()));
  auto added = org::prepare_publication(p, w.now, false);
  CHECK(added->roster.version == 3);
  CHECK(added->registration.version == 2);
  auto reg = RelayRegistration::verify(added->registration.text, w.org);
  REQUIRE(reg);
  CHECK(reg->coordinator_auth_keys.size() == 2);

  // The name and the slots are signed in the roster; k only in the registration.
  s = org::settings(p).value();
  s.name = "Example Rights Network (Geneva)";
  REQUIRE(org::set_settings(p, s));
  CHECK(org::prepare_publication(p, w.now, false)->roster.version == 4);
  s.slots = 5;
  REQUIRE(org::set_settings(p, s));
  auto slotted = org::prepare_publication(p, w.now, false);
  CHECK(slotted->roster.version == 5);
  CHECK(Roster::verify(slotted->roster.text, w.org, w.now)->slot_count == 5);
  CHECK(slotted->registration.version == 2);
  s.required_acks = 1;
  REQUIRE(org::set_settings(p, s));
  auto acked = org::prepare_publication(p, w.now, false);
  CHECK(acked->roster.version == 5);
  CHECK(acked->registration.version == 3);

  // Removing a coordinator is a change; an expired roster and --renew sign again.
  REQUIRE(org::remove_coordinator(p, "Bao"));
  CHECK(org::prepare_publication(p, w.now, false)->roster.version == 6);
  auto late = w.now + int64_t{86400} * 31;
  CHECK(org::pending_changes(p, late)->roster_expired);
  auto expired = org::prepare_publication(p, late, false);
  CHECK(expired->roster.version == 7);
  CHECK(expired->roster_reason == org::RosterReason::kExpired);
  CHECK(expired->roster.expires_at == late + int64_t{86400} * 30);
  auto renewed = org::prepare_publication(p, late, true);
  CHECK(renewed->roster.version == 8);
  CHECK(renewed->roster_reason == org::RosterReason::kRenewed);
  CHECK_FALSE(org::pending_changes(p, late)->any());
}

TEST_CASE("a publication is refused until the roster can be made, naming what is missing",
          "[org]") {
  OrgWorld w;
  auto p = w.open();
  auto none = org::prepare_publication(p, w.now, false);
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("no coordinator") != std::string::npos);
  REQUIRE(
      org::add_coordinator(p, {"Amira", w.amira.public_key()}, w.amira.public_key().fingerprint()));
  auto no_relay = org::prepare_publication(p, w.now, false);
  REQUIRE_FALSE(no_relay);
  CHECK(no_relay.error().message.find("no relay") != std::string::npos);
  REQUIRE(org::add_relay(p, {"https://relay.example.org", pin(1), pin(2)}));
  auto s = org::settings(p).value();
  s.required_acks = 2;
  REQUIRE(org::set_settings(p, s));
  auto too_many = org::prepare_publication(p, w.now, false);
  REQUIRE_FALSE(too_many);
  CHECK(too_many.error().message.find("--required-acks 2") != std::string::npos);
  // Nothing was recorded by the refusals: the first roster is still version 1.
  s.required_acks = 0;
  REQUIRE(org::set_settings(p, s));
  CHECK(org::prepare_publication(p, w.now, false)->roster.version == 1);
}

TEST_CASE("a coordinator is added only with its full fingerprint", "[org]") {
  OrgWorld w;
  auto p = w.open();
  const CoordinatorPublicKey key = w.amira.public_key();
  const std::string fp = key.fingerprint();  // "12345 67890 …"

  auto other = org::add_coordinator(p, {"Amira", key}, w.bao.public_key().fingerprint());
  CHECK(other.code() == Errc::kDocNotConfirmed);
  CHECK(other.error().message.find("does not match") != std::string::npos);
  auto cut = org::add_coordinator(p, {"Amira", key}, fp.substr(0, fp.size() - 6));
  CHECK(cut.code() == Errc::kDocNotConfirmed);
  auto longer = org::add_coordinator(p, {"Amira", key}, fp + " 1");
  CHECK(longer.code() == Errc::kDocNotConfirmed);
  CHECK(org::add_coordinator(p, {"Amira", key}, "").code() == Errc::kDocNotConfirmed);
  std::string letters = fp;
  letters[3] = 'x';
  CHECK(org::add_coordinator(p, {"Amira", key}, letters).code() == Errc::kDocNotConfirmed);
  CHECK(org::coordinators(p)->empty());

  // Spaces and dashes are ignored.
  std::string dashed = fp;
  for (char& c : dashed)
    if (c == ' ') c = '-';
  REQUIRE(org::add_coordinator(p, {"Amira", key}, "  " + dashed + "\t"));
  REQUIRE(org::coordinators(p)->size() == 1);
  CHECK(org::coordinators(p)->front().key == key);

  // Neither the name nor the key twice; a name must pass the roster's text rule.
  CHECK(org::add_coordinator(p, {"Amira", w.bao.public_key()}, w.bao.public_key().fingerprint())
            .code() == Errc::kAlreadyExists);
  CHECK(org::add_coordinator(p, {"Amira B", key}, fp).code() == Errc::kAlreadyExists);
  CHECK(
      org::add_coordinator(p, {"Bao\x1b[2J", w.bao.public_key()}, w.bao.public_key().fingerprint())
          .code() == Errc::kInvalidArgument);
  CHECK(org::remove_coordinator(p, "Nobody").code() == Errc::kNotFound);
}

TEST_CASE("a relay is refused with a plain URL, a zero pin or the same pin twice", "[org]") {
  OrgWorld w;
  auto p = w.open();
  CHECK(org::add_relay(p, {"http://relay.example.org", pin(1), pin(2)}).code() ==
        Errc::kInvalidArgument);
  CHECK(org::add_relay(p, {"https://relay.example.org", pin(0), pin(2)}).code() ==
        Errc::kInvalidArgument);
  CHECK(org::add_relay(p, {"https://relay.example.org", pin(1), pin(1)}).code() ==
        Errc::kInvalidArgument);
  REQUIRE(org::add_relay(p, {"https://relay.example.org", pin(1), pin(2)}));
  CHECK(org::add_relay(p, {"https://relay.example.org", pin(3), pin(4)}).code() ==
        Errc::kAlreadyExists);
  CHECK(org::parse_pin(std::string(63, 'a'), "--pin").code() == Errc::kInvalidArgument);
  REQUIRE(org::remove_relay(p, "https://relay.example.org"));
  CHECK(org::relays(p)->empty());
}

TEST_CASE("a rotated relay gets new pins in its place, one of them held unless unrelated",
          "[org]") {
  OrgWorld w;
  auto p = w.open();
  REQUIRE(org::add_relay(p, {"https://a.example.org", pin(1), pin(2)}));
  REQUIRE(org::add_relay(p, {"https://b.example.org", pin(5), pin(6)}));
  // The relay moved to its backup key (2): (2, 3) keeps it reachable for the held roster.
  REQUIRE(org::set_relay_pins(p, {"https://a.example.org", pin(2), pin(3)}, false));
  auto held = org::relays(p).value();
  REQUIRE(held.size() == 2);
  CHECK(held[0].url == "https://a.example.org");  // still first: invites count relays by index
  CHECK(held[0].spki_pin == pin(2));
  CHECK(held[0].backup_pin == pin(3));
  CHECK(held[1].spki_pin == pin(5));
  // A pin that is neither held would lock out every device holding the current roster.
  auto refused = org::set_relay_pins(p, {"https://a.example.org", pin(7), pin(8)}, false);
  CHECK(refused.code() == Errc::kInvalidArgument);
  CHECK(refused.error().message.find("--unrelated") != std::string::npos);
  CHECK(org::relays(p).value()[0].spki_pin == pin(2));
  REQUIRE(org::set_relay_pins(p, {"https://a.example.org", pin(7), pin(8)}, true));
  CHECK(org::relays(p).value()[0].spki_pin == pin(7));
  CHECK(org::set_relay_pins(p, {"https://a.example.org", pin(8), pin(8)}, false).code() ==
        Errc::kInvalidArgument);
  CHECK(org::set_relay_pins(p, {"https://c.example.org", pin(2), pin(3)}, true).code() ==
        Errc::kNotFound);
}

TEST_CASE("form publication numbers follow the order forms were added", "[org]") {
  OrgWorld w;
  auto p = w.open();
  OrgWorld::least_roster(p, w.amira);
  auto a1 = org::add_form(p, form_json("intake", 1), "intake.json", w.now);
  REQUIRE(a1);
  auto b1 = org::add_form(p, form_json("census", 1), "census.json", w.now);
  REQUIRE(b1);
  auto a3 = org::add_form(p, form_json("intake", 3), "intake.json", w.now);
  REQUIRE(a3);
  CHECK(a1->number == 1);
  CHECK(b1->number == 2);
  CHECK(a3->number == 3);

  // A version not above the one held is refused, and takes no number.
  for (uint64_t v : {uint64_t{3}, uint64_t{2}, uint64_t{1}}) {
    auto old = org::add_form(p, form_json("intake", v), "intake.json", w.now);
    CHECK(old.code() == Errc::kDocRollback);
    CHECK(old.error().message.find("not newer than version 3") != std::string::npos);
  }
  CHECK(org::add_form(p, "{\"id\": \"broken\"}", "broken.json", w.now).code() != Errc::kOk);
  auto b2 = org::add_form(p, form_json("census", 2), "census.json", w.now);
  REQUIRE(b2);
  CHECK(b2->number == 4);
  CHECK(org::pending_changes(p, w.now)->forms == 4);

  const std::string dir = temp_path("publish");
  auto pub = org::prepare_publication(p, w.now, false);
  REQUIRE(pub);
  REQUIRE(org::write_publication(*pub, dir));
  const std::vector<std::pair<std::string, uint64_t>> expected = {
      {"intake", 1}, {"census", 1}, {"intake", 3}, {"census", 2}};
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/forms")) {
    (void)e;
    files++;
  }
  CHECK(files == expected.size());
  for (size_t i = 0; i < expected.size(); i++) {
    const std::string path = dir + "/forms/" + org::form_file_name(i + 1);
    INFO(path);
    auto pkg = FormEnvelope::verify_package(read_file(path), w.org);
    REQUIRE(pkg);
    CHECK(pkg->first.form_id == expected[i].first);
    CHECK(pkg->first.form_version == expected[i].second);
    CHECK((fs::status(path).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
  }
  CHECK(org::form_file_name(1) == "000001.form");
  CHECK(org::pending_changes(p, w.now)->forms == 0);
  CHECK(Roster::verify(read_file(dir + "/roster.txt"), w.org, w.now));
  CHECK(RelayRegistration::verify(read_file(dir + "/registration.txt"), w.org));

  // The folder is never written into twice.
  CHECK(org::check_publication_dir(dir).code() == Errc::kAlreadyExists);
  CHECK(org::write_publication(*pub, dir).code() == Errc::kAlreadyExists);
  fs::remove_all(dir);
}

TEST_CASE("an invite base verifies against the organisation key and names the current roster",
          "[org]") {
  OrgWorld w;
  auto p = w.open();
  OrgWorld::least_roster(p, w.amira);
  const std::string json = form_json("intake", 2);
  REQUIRE(org::add_form(p, form_json("intake", 1), "intake.json", w.now));
  REQUIRE(org::add_form(p, json, "intake.json", w.now));
  org::InviteBaseRequest r;
  r.form_ids = {"intake"};
  r.valid_days = 14;
  r.now = w.now;

  // Unpublished: refused, saying what to run.
  auto early = org::make_invite_base(p, r);
  REQUIRE_FALSE(early);
  CHECK(early.error().message.find("satchel org publish") != std::string::npos);

  auto pub = org::prepare_publication(p, w.now, false);
  REQUIRE(pub);
  auto base = org::make_invite_base(p, r);
  REQUIRE(base);
  auto verified = SignedInviteBase::verify(base->text.span(), w.org, w.now);
  REQUIRE(verified);
  CHECK(verified->base().roster_text == pub->roster.text);
  CHECK(verified->roster().version == pub->roster.version);
  CHECK(verified->base().expires_at == w.now + 14 * 86400);
  REQUIRE(verified->base().forms.size() == 1);
  CHECK(verified->base().forms[0].form_id == "intake");
  CHECK(verified->base().forms[0].version == 2);
  CHECK(verified->base().forms[0].content_hash == Sha256::digest(as_bytes(json)));
  CHECK(verified->base().publication_key.equals(org::publication_key(p)->span()));
  CHECK(verified->base().enrollment_secret.equals(org::enrollment_secret(p)->span()));
  CHECK(SignedInviteBase::verify(base->text.span(), OrgSecretKey::generate().public_key(), w.now)
            .code() == Errc::kDocUntrustedSigner);

  // A roster change not yet published refuses the next base; once published, the base names
  // the new roster and keeps the publication key.
  REQUIRE(org::add_coordinator(p, {"Bao", w.bao.public_key()}, w.bao.public_key().fingerprint()));
  auto stale = org::make_invite_base(p, r);
  REQUIRE_FALSE(stale);
  CHECK(stale.error().message.find("the roster changed") != std::string::npos);
  auto pub2 = org::prepare_publication(p, w.now, false);
  REQUIRE(pub2);
  auto base2 = org::make_invite_base(p, r);
  REQUIRE(base2);
  auto verified2 = SignedInviteBase::verify(base2->text.span(), w.org, w.now);
  REQUIRE(verified2);
  CHECK(verified2->roster().version == pub2->roster.version);
  CHECK(verified2->roster().coordinators.size() == 2);
  CHECK(verified2->base().publication_key.equals(verified->base().publication_key.span()));

  // Forms not held or named twice are refused.
  r.form_ids = {"census"};
  CHECK(org::make_invite_base(p, r).code() == Errc::kNotFound);
  r.form_ids = {"intake", "intake"};
  CHECK(org::make_invite_base(p, r).code() == Errc::kInvalidArgument);

  // The file: mode 0600, never over an existing one.
  const std::string path = temp_path("base");
  REQUIRE(org::write_invite_base(*base2, path));
  CHECK((fs::status(path).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(SignedInviteBase::verify(as_bytes(read_file(path)), w.org, w.now));
  CHECK(org::write_invite_base(*base2, path).code() == Errc::kAlreadyExists);
  fs::remove(path);
}

TEST_CASE("an imported key file is gone after import, and the profile signs with its key",
          "[org]") {
  const std::string key_file = temp_path("orgsec");
  OrgSecretKey key = OrgSecretKey::generate();
  REQUIRE(write_secret_key_file(key_file, key.to_text(), key.public_key().to_text()));
  const std::string before = read_file(key_file);
  // Held open, the file's own blocks are still readable after the unlink.
  const int fd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  {
    OrgWorld w(key_file);
    CHECK(w.org == key.public_key());
    CHECK_FALSE(fs::exists(key_file));
    std::string after(before.size(), '\0');
    REQUIRE(::pread(fd, after.data(), after.size(), 0) == static_cast<ssize_t>(after.size()));
    CHECK(after != before);
    CHECK(after.find("orgsec-") == std::string::npos);
    auto p = w.open();
    CHECK(p.organisation_key()->public_key() == key.public_key());
  }
  ::close(fd);

  // A file that holds no organisation key creates nothing and is left alone.
  const std::string wrong = temp_path("coordsec");
  CoordinatorSecretKey c = CoordinatorSecretKey::generate();
  REQUIRE(write_secret_key_file(wrong, c.to_text(), c.public_key().to_text()));
  auto refused = org::read_key_file(wrong);
  CHECK(refused.code() == Errc::kKeyWrongKind);
  CHECK(refused.error().message.find(wrong) != std::string::npos);
  CHECK(fs::exists(wrong));
  fs::remove(wrong);
}

TEST_CASE("an organisation profile refuses the other kinds' commands and they refuse it", "[org]") {
  OrgWorld w;
  auto p = w.open();
  CHECK(p.kind().value() == client::ProfileKind::kOrganisation);
  auto as_coord = p.require_kind(client::ProfileKind::kCoordinator);
  REQUIRE_FALSE(as_coord);
  CHECK(as_coord.error().message.find("an organisation profile, not a coordinator profile") !=
        std::string::npos);
  CHECK_FALSE(p.coordinator_key());
  CHECK_FALSE(p.device_key());

  satchel::testing::TestProfile field("org-kind");
  auto f = field.open();
  CHECK(org::coordinators(f).code() == Errc::kInvalidArgument);
  CHECK(org::pending_changes(f, w.now).code() == Errc::kInvalidArgument);
}

TEST_CASE("organisation settings are checked before a profile is created", "[org]") {
  const std::string home = temp_path("bad-settings");
  org::OrgSettings s;
  s.name = "";
  CHECK(
      org::create_profile(home, secret_of("pass"), client::kArgon2Floor, s, std::nullopt).code() ==
      Errc::kInvalidArgument);
  s.name = std::string(65, 'a');
  CHECK(org::check_settings(s).code() == Errc::kInvalidArgument);
  s.name = "Example";
  s.valid_days = 0;
  CHECK(org::check_settings(s).code() == Errc::kInvalidArgument);
  s.valid_days = 90;
  s.slots = 65;
  CHECK(org::check_settings(s).code() == Errc::kInvalidArgument);
  CHECK_FALSE(fs::exists(home));
}

TEST_CASE(
    "a seized organisation profile shows neither its name, its coordinators' names nor its key "
    "without the passphrase",
    "[org]") {
  OrgWorld w;
  std::string key_text, publication;
  {
    auto p = w.open();
    OrgWorld::least_roster(p, w.amira);
    REQUIRE(org::add_form(p, form_json("intake", 1), "intake.json", w.now));
    REQUIRE(org::prepare_publication(p, w.now, false));
    auto key = p.organisation_key();
    REQUIRE(key);
    const SecretBytes text = key->to_text();
    key_text.assign(reinterpret_cast<const char*>(text.data()), text.size());
    const SecretBytes pk = org::publication_key(p).value();
    publication.assign(reinterpret_cast<const char*>(pk.data()), pk.size());
  }
  const std::vector<std::string> needles = {
      "Example Rights Network", "Amira",       key_text, key_text.substr(7, 20), publication,
      "relay.example.org",      "organisation"};
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(w.home)) {
    if (!e.is_regular_file()) continue;
    files++;
    const std::string bytes = read_file(e.path().string());
    for (const auto& n : needles) {
      INFO(e.path().filename().string() << " holds a needle of " << n.size() << " bytes");
      CHECK(bytes.find(n) == std::string::npos);
    }
  }
  CHECK(files >= 3);
}
