// Relay certificate rotation (schema/relay-api.md, "Rotating the relay's key") against a real
// relay over TLS: `satchel-relay tls rotate` moves it to its backup key, and a device and a
// coordinator holding the current roster keep uploading, pulling and publishing without any
// change on their side; the organisation's next roster carries the new pins, and after a second
// rotation only a party still holding the roster from two rotations ago is refused, with a
// message that names the reason.
#include <catch2/catch_test_macros.hpp>

#include <sodium.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "client/client_fixture.h"
#include "relay_harness.h"
#include "satchel/client/finalize.h"
#include "satchel/client/join.h"
#include "satchel/client/outbox.h"
#include "satchel/client/published_updates.h"
#include "satchel/client/record_store.h"
#include "satchel/client/sync.h"
#include "satchel/coord/invite_book.h"
#include "satchel/coord/publication.h"
#include "satchel/coord/pull.h"
#include "satchel/crypto/published_document.h"
#include "satchel/relay/tls_identity.h"
#include "satchel/relay/tls_rotation.h"

using namespace satchel;
using namespace satchel::client;
using satchel::relay::testing::TestOrganisation;
using satchel::relay::testing::TestRelay;

namespace {

namespace fs = std::filesystem;

CoordinatorSecretKey clone(const CoordinatorSecretKey& k) {
  return CoordinatorSecretKey::from_text(k.to_text().span()).value();
}

SecretBytes secret(const std::string& s) {
  SecretBytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

// A relay directory as `satchel-relay init` leaves it (relay.conf naming the certificate and
// key), its backup key in an "offline" folder; the organisation's roster v2 naming the relay
// with (pin, backup pin); a device holding v2 and enrolled; coordinators A and B holding v2.
struct RotationWorld {
  TestRelay relay;
  testing::TestProfile device{"rotation-device"};
  std::string mailbox, config_path, offline_key, publish_dir;
  std::string coord_a = device.home + "-coordinator-a", coord_b = device.home + "-coordinator-b";
  SecretBytes token, publication_key{32};
  std::vector<Hash32> pins;  // every pin the relay was given, in order: A, B, C, …

  RotationWorld() {
    TestOrganisation org(0);
    org.org = OrgSecretKey::from_text(device.org.to_text().span()).value();
    org.coordinators.push_back(clone(device.coord_a));
    org.coordinators.push_back(clone(device.coord_b));
    mailbox = relay.add_mailbox(org);
    relay.config.listen_port = relay.port();  // a restart keeps the roster's URL

    relay::RelayConfig c = relay.config;
    c.certificate = "cert.pem";
    c.private_key = "key.pem";
    c.storage = "storage";
    c.health = false;
    config_path = relay.dir.path + "/relay.conf";
    std::ofstream(config_path) << relay::render_relay_config(c);
    const std::string offline = relay.dir.path + "-offline";
    fs::create_directories(offline);
    offline_key = offline + "/backup-key.pem";
    auto backup = relay::generate_key().value();
    std::ofstream(offline_key) << backup.private_key_pem;
    pins = {relay::certificate_pin(relay.cert_path).value(), backup.pin};

    const std::string roster = roster_text(2, pins[0], pins[1]);
    auto p = device.open();
    device.trust_all(p);
    REQUIRE(TrustStore(p).add_roster(roster, now()));
    auto enrolled = device_client(pins[0], pins[1])->enroll(secret(relay.mint_code(mailbox)));
    REQUIRE(enrolled);
    token = std::move(enrolled->token);
    // As `satchel join` leaves a device: the publication key of its invite.
    randombytes_buf(publication_key.data(), 32);
    REQUIRE(p.set_setting(kPublicationKeySetting, to_hex(ByteView(publication_key.data(), 32))));
    make_coordinator(coord_a, device.coord_a, roster);
    make_coordinator(coord_b, device.coord_b, roster);

    // Coordinator A publishes for the organisation: it holds an invite base (publication key).
    InviteBase b;
    b.org = device.org.public_key();
    b.roster_text = roster;
    b.enrollment_secret = SecretBytes(32);
    b.publication_key = SecretBytes(32);
    std::memcpy(b.publication_key.data(), publication_key.data(), 32);
    b.forms = {{"intake", 1, Sha256::digest(as_bytes(std::string_view(testing::kTestForm)))}};
    b.issued_at = now() - 60;
    b.expires_at = now() + 86400 * 7;
    auto pa = Profile::open(coord_a, device.passphrase).value();
    REQUIRE(coord::store_invite_base(pa, b.sign(device.org).value().span(), now()));
    publish_dir = device.home + "-publish";
  }
  ~RotationWorld() {
    for (const auto& d : {coord_a, coord_b, publish_dir, relay.dir.path + "-offline"})
      fs::remove_all(d);
  }

  int64_t now() { return relay.clock.now(); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(relay.port()); }

  std::string roster_text(uint64_t version, const Hash32& pin, const Hash32& backup) {
    Roster r = device.roster(version);
    r.relays = {{url(), pin, backup}};
    return r.sign(device.org).value();
  }

  void make_coordinator(const std::string& home, const CoordinatorSecretKey& key,
                        const std::string& roster) {
    fs::remove_all(home);
    ProfileContents c;
    c.kind = ProfileKind::kCoordinator;
    c.coordinator_key = clone(key);
    REQUIRE(Profile::create(home, device.passphrase, kArgon2Floor, std::move(c)));
    auto p = Profile::open(home, device.passphrase).value();
    TrustStore t(p);
    REQUIRE(t.trust_organisation(device.org.public_key()));
    REQUIRE(t.add_roster(roster, now()));
    auto pkg = FormEnvelope::sign_package(device.org, "intake", 1,
                                          as_bytes(std::string_view(testing::kTestForm)), now());
    REQUIRE(t.add_form(pkg.value(), "intake.signed"));
  }

  std::unique_ptr<RelayClient> device_client(const Hash32& pin, const Hash32& backup) {
    auto c = RelayClient::create(parse_relay_url(url()).value(), {pin, backup}, {});
    REQUIRE(c);
    return std::move(*c);
  }

  // The pins of the roster the device holds, as `satchel sync` takes them.
  std::pair<Hash32, Hash32> device_pins() {
    auto p = device.open();
    return device_pins(p);
  }
  std::pair<Hash32, Hash32> device_pins(Profile& p) {
    auto r = TrustStore(p).roster(now()).value();
    REQUIRE(r.has_value());
    REQUIRE(r->relays.size() == 1);
    return {r->relays[0].spki_pin, r->relays[0].backup_pin};
  }

  // What `satchel sync` does with a new testimony: sealed under the roster held, uploaded to
  // the relay with that roster's pins.
  Result<SyncReport> device_records_and_syncs(const std::string& text) {
    auto p = device.open();
    auto id = RecordStore(p).create("intake", 1, {{"consent", true}, {"narrative", text}});
    REQUIRE(id);
    REQUIRE(finalize_record(p, *id, now()));
    const auto [pin, backup] = device_pins(p);
    Outbox box(p);
    SyncOptions o;
    o.sleep = [](std::chrono::milliseconds) {};
    o.max_failures = 1;
    return sync_outbox(box, *device_client(pin, backup), token, o);
  }

  // `satchel coord pull`, with the pins of the coordinator's own roster.
  Result<coord::PullSummary> pull(const std::string& home) {
    auto p = Profile::open(home, device.passphrase).value();
    coord::PullOptions o;
    o.now = now();
    o.download_attempts = 1;
    o.sleep = [](int64_t) {};
    return coord::pull(p, o);
  }

  // The organisation's `org relay set-pins` + `org publish`, then coordinator A's `coord
  // publish` and `coord roster add` of the same roster by the coordinators given.
  void publish_roster(uint64_t version, const Hash32& pin, const Hash32& backup,
                      const std::vector<std::string>& coordinators) {
    const std::string roster = roster_text(version, pin, backup);
    fs::remove_all(publish_dir);
    fs::create_directories(publish_dir);
    std::ofstream(publish_dir + "/roster.txt") << roster << "\n";
    {
      auto pa = Profile::open(coord_a, device.passphrase).value();
      coord::PublishRequest r;
      r.dir = publish_dir;
      r.now = now();
      auto published = coord::publish_directory(pa, r);
      REQUIRE(published.ok());
      CHECK(published->roster_version == version);
      CHECK(published->roster_taken);  // the publishing coordinator holds it from now on
    }
    for (const std::string& home : coordinators) {
      if (home == coord_a) continue;
      auto p = Profile::open(home, device.passphrase).value();
      REQUIRE(TrustStore(p).add_roster(roster, now()));
    }
  }

  // What `satchel sync` does first on a device that joined by invite: newer rosters published
  // on the relay, fetched over the connection pinned by the roster held.
  void device_takes_published_updates(uint64_t version) {
    auto p = device.open();
    const auto [pin, backup] = device_pins(p);
    auto key = stored_publication_key(p);
    REQUIRE(key.ok());
    REQUIRE(key->has_value());
    auto updates = fetch_published_updates(p, *device_client(pin, backup), token, **key, now());
    if (!updates) FAIL(updates.error().message);
    CHECK(updates->roster_after == version);
    CHECK(updates->problems.empty());
  }

  // The operator: `satchel-relay tls rotate --config relay.conf --backup-key <offline copy>`,
  // a restart, and the new backup key moved offline in place of the one used.
  relay::TlsRotationResult rotate() {
    relay::TlsRotationRequest r;
    r.config_path = config_path;
    r.backup_key_path = offline_key;
    r.now = now();
    relay::FileOps ops;
    auto done = relay::rotate_tls_identity(r, ops);
    REQUIRE(done.ok());
    CHECK(done->old_pin == pins.at(pins.size() - 2));
    CHECK(done->pin == pins.back());
    CHECK_FALSE(fs::exists(offline_key));  // the key brought back is the relay's now
    relay.stop();
    auto c = relay::load_relay_config(config_path).value();
    relay.config.certificate = c.certificate;
    relay.config.private_key = c.private_key;
    relay.cert_path = c.certificate;
    relay.start();
    fs::rename(done->new_backup_key_path, offline_key);
    pins.push_back(done->backup_pin);
    CHECK(relay::certificate_pin(relay.cert_path).value() == done->pin);
    return *done;
  }
};

void require_stored(const Result<SyncReport>& r, const char* when) {
  INFO(when);
  if (!r) FAIL(r.error().message);
  CHECK(r->stored == 1);
  CHECK(r->pending == 0);
}

uint64_t require_pulled(const Result<coord::PullSummary>& r, const char* when) {
  INFO(when);
  if (!r) FAIL(r.error().message);
  return r->imported;
}

}  // namespace

TEST_CASE(
    "a relay rotated to its backup key twice keeps every device and coordinator that took the "
    "published roster in between; a roster two rotations old is refused by pin",
    "[rotation]") {
  RotationWorld w;
  // On key A, with roster v2 (A, B) everywhere.
  require_stored(w.device_records_and_syncs("before any rotation"), "device on A");
  CHECK(require_pulled(w.pull(w.coord_a), "coordinator A on A") == 1);
  CHECK(require_pulled(w.pull(w.coord_b), "coordinator B on A") == 1);

  // Rotation 1: the relay serves B. Nobody has changed anything yet.
  w.rotate();
  require_stored(w.device_records_and_syncs("after rotation 1, roster v2"), "device on B, v2");
  CHECK(require_pulled(w.pull(w.coord_a), "coordinator A on B, v2") == 1);
  CHECK(require_pulled(w.pull(w.coord_b), "coordinator B on B, v2") == 1);

  // The organisation signs roster v3 with (B, C); coordinator A publishes it (its session is
  // signed over pin B, the one it saw) and holds it; B does not take it. The device takes it
  // from the relay as `satchel sync` does.
  w.publish_roster(3, w.pins[1], w.pins[2], {w.coord_a});
  w.device_takes_published_updates(3);
  CHECK((w.device_pins() == std::pair{w.pins[1], w.pins[2]}));
  require_stored(w.device_records_and_syncs("after rotation 1, roster v3"), "device on B, v3");
  CHECK(require_pulled(w.pull(w.coord_a), "coordinator A on B, v3") == 1);

  // Rotation 2: the relay serves C. Roster v3 holders keep working, without a change.
  w.rotate();
  require_stored(w.device_records_and_syncs("after rotation 2, roster v3"), "device on C, v3");
  CHECK(require_pulled(w.pull(w.coord_a), "coordinator A on C, v3") == 1);

  // Coordinator B still holds v2 (A, B): refused before anything is sent, saying why.
  auto stale_pull = w.pull(w.coord_b);
  CHECK(stale_pull.code() == Errc::kRelayPinMismatch);
  CHECK(stale_pull.error().message.find("newer than this roster") != std::string::npos);
  // So is a device client with v2's pins.
  auto stale_device = w.device_client(w.pins[0], w.pins[1]);
  auto refused = stale_device->document(
      published_document_name(w.publication_key, PublishedKind::kRoster, 3), w.token);
  CHECK(refused.code() == Errc::kRelayPinMismatch);
  CHECK(refused.error().message.find("matches neither pin") != std::string::npos);
  // Once B takes roster v3 (coord roster add), it pulls what it missed.
  {
    auto p = Profile::open(w.coord_b, w.device.passphrase).value();
    REQUIRE(TrustStore(p).add_roster(w.roster_text(3, w.pins[1], w.pins[2]), w.now()));
  }
  CHECK(require_pulled(w.pull(w.coord_b), "coordinator B on C, v3") == 2);
}

TEST_CASE("the rotated relay's key files are private and the old key is gone", "[rotation]") {
  RotationWorld w;
  const std::string old_key = w.relay.config.private_key;
  const std::string old_cert = w.relay.cert_path;
  auto done = w.rotate();
  CHECK_FALSE(fs::exists(old_key));
  CHECK_FALSE(fs::exists(old_cert));
  struct stat st {};
  REQUIRE(::stat(done.private_key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(w.offline_key.c_str(), &st) == 0);  // the new backup key, moved offline
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(relay::private_key_pin(w.offline_key).value() == done.backup_pin);
  CHECK(relay::certificate_names(done.certificate_path).value() ==
        std::vector<std::string>{"127.0.0.1", "localhost"});
}
