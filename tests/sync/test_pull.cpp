// The coordinator's pull against a real relay over TLS: every bundle a device uploaded is
// imported once and acknowledged only after it is imported; the relay deletes a bundle once
// every coordinator acknowledged it (k = n); a bundle sealed before a coordinator joined stays.
#include <catch2/catch_test_macros.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include "client/client_fixture.h"
#include "relay_harness.h"
#include "satchel/client/finalize.h"
#include "satchel/client/outbox.h"
#include "satchel/client/record_store.h"
#include "satchel/client/sync.h"
#include "satchel/coord/importer.h"
#include "satchel/coord/pull.h"
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

// The world of client_fixture.h (organisation, coordinators A and B, a testimony form) with
// its mailbox on a real relay, and a device that has uploaded `records` records there.
struct PullWorld {
  TestRelay relay;
  testing::TestProfile device{"pull-device"};
  std::string mailbox;

  // `required_acks`: the registration's k (0: all).
  explicit PullWorld(int records, uint16_t required_acks = 0) {
    TestOrganisation org(0);
    org.org = OrgSecretKey::from_text(device.org.to_text().span()).value();
    org.coordinators.push_back(clone(device.coord_a));
    org.coordinators.push_back(clone(device.coord_b));
    mailbox = relay.add_mailbox(org, required_acks);  // n = 2
    auto p = device.open();
    device.trust_all(p);
    RecordStore store(p);
    for (int i = 0; i < records; i++) {
      auto id = store.create("intake", 1,
                             {{"consent", true}, {"narrative", "pulled " + std::to_string(i)}});
      REQUIRE(id);
      REQUIRE(finalize_record(p, *id, device.now));
    }
    RelayClientOptions o;
    auto url = parse_relay_url(url_of(relay));
    REQUIRE(url);
    auto c = RelayClient::create(*url, {pin_of(relay)}, o);
    REQUIRE(c);
    auto enrolled = (*c)->enroll([&] {
      const std::string code = relay.mint_code(mailbox);
      SecretBytes s(code.size());
      std::memcpy(s.data(), code.data(), code.size());
      return s;
    }());
    REQUIRE(enrolled);
    Outbox box(p);
    SyncOptions so;
    so.sleep = [](std::chrono::milliseconds) {};
    auto sent = sync_outbox(box, **c, enrolled->token, so);
    REQUIRE(sent);
    REQUIRE(sent->stored == static_cast<uint64_t>(records));
  }

  // A coordinator profile holding `key`, trusting the organisation, its roster naming this
  // relay, and the form.
  std::string coordinator(const CoordinatorSecretKey& key, const std::string& tag) {
    const std::string home = device.home + "-" + tag;
    std::filesystem::remove_all(home);
    ProfileContents c;
    c.kind = ProfileKind::kCoordinator;
    c.coordinator_key = clone(key);
    REQUIRE(Profile::create(home, device.passphrase, kArgon2Floor, std::move(c)));
    auto p = Profile::open(home, device.passphrase).value();
    TrustStore t(p);
    REQUIRE(t.trust_organisation(device.org.public_key()));
    Roster r = device.roster(2);
    Hash32 backup{};
    backup.fill(2);  // the operator's backup key, never seen here
    r.relays = {{url_of(relay), pin_of(relay), backup}};
    REQUIRE(t.add_roster(r.sign(device.org).value(), device.now));
    auto pkg = FormEnvelope::sign_package(
        device.org, "intake", 1, as_bytes(std::string_view(testing::kTestForm)), device.now);
    REQUIRE(t.add_form(pkg.value(), "intake.signed"));
    return home;
  }

  coord::PullSummary pull(const std::string& home) {
    auto opened = Profile::open(home, device.passphrase);
    if (!opened) FAIL("open: " + opened.error().message);
    Profile& p = *opened;
    coord::PullOptions o;
    o.now = relay.clock.now();
    o.page_size = 2;  // several pages
    o.sleep = [](int64_t) {};
    auto s = coord::pull(p, o);
    if (!s) FAIL(s.error().message);
    return *s;
  }

  // Every stored upload of the mailbox, with its bytes.
  std::vector<Bytes> stored() {
    std::vector<Bytes> out;
    Key32 nobody{};
    auto listing = relay.store->list_stored(mailbox, std::nullopt, 1000, nobody, false);
    REQUIRE(listing);
    for (const auto& u : *listing) {
      auto src = relay.store->open_stored(mailbox, u.id);
      REQUIRE(src);
      Bytes b(static_cast<size_t>((*src)->size()));
      REQUIRE((*src)->read_at(0, b));
      out.push_back(std::move(b));
    }
    return out;
  }

  int64_t records_in(const std::string& home) {
    auto p = Profile::open(home, device.passphrase).value();
    auto st = p.db().prepare("SELECT count(*) FROM coord_records");
    REQUIRE(st->step().value());
    return st->int64(0);
  }
};

}  // namespace

TEST_CASE("coordinators pull every bundle once; the relay deletes it when both acknowledged",
          "[pull]") {
  PullWorld w(3);
  const std::string a = w.coordinator(w.device.coord_a, "coord-a");
  const std::string b = w.coordinator(w.device.coord_b, "coord-b");
  auto first = w.pull(a);
  CHECK(first.imported == 3);
  CHECK(first.acknowledged == 3);
  CHECK(first.bytes_downloaded == first.bundle_bytes);
  CHECK(Profile::open(a, w.device.passphrase)->setting(coord::kRelayAckRuleSetting).value() ==
        std::optional<std::string>(""));  // k = n: nothing to say
  CHECK(w.records_in(a) == 3);
  // A's acknowledged bundles are no longer pending for A, but stay for B (k = n = 2).
  auto again = w.pull(a);
  CHECK(again.imported + again.duplicate + again.acknowledged == 0);
  auto on_b = w.pull(b);
  CHECK(on_b.imported == 3);
  CHECK(on_b.acknowledged == 3);
  CHECK(w.records_in(b) == 3);
  CHECK(w.stored().empty());
  std::filesystem::remove_all(a);
  std::filesystem::remove_all(b);
}

TEST_CASE("with k = 1 the first coordinator's acknowledgement deletes each bundle", "[pull]") {
  PullWorld w(3, 1);
  const std::string a = w.coordinator(w.device.coord_a, "coord-a");
  const std::string b = w.coordinator(w.device.coord_b, "coord-b");
  auto first = w.pull(a);
  CHECK(first.imported == 3);
  CHECK(first.acknowledged == 3);
  CHECK(w.stored().empty());
  // The pull noted k < n, for `coord devices` to say beside its gaps.
  CHECK(first.most_required == 1);
  CHECK(Profile::open(a, w.device.passphrase)->setting(coord::kRelayAckRuleSetting).value() ==
        std::optional<std::string>("1/2"));
  // B finds nothing left: with k < n a coordinator sees only what it pulled first.
  auto on_b = w.pull(b);
  CHECK(on_b.imported + on_b.duplicate + on_b.acknowledged == 0);
  CHECK(w.records_in(b) == 0);
  std::filesystem::remove_all(a);
  std::filesystem::remove_all(b);
}

TEST_CASE(
    "a bundle imported but not acknowledged (a crash between) is a duplicate next time, "
    "then acknowledged",
    "[pull]") {
  PullWorld w(2);
  const std::string a = w.coordinator(w.device.coord_a, "coord-a");
  {
    // Import by hand what the relay holds, as if a pull died before acknowledging.
    auto p = Profile::open(a, w.device.passphrase).value();
    auto importer = coord::Importer::open(p);
    REQUIRE(importer);
    auto bundles = w.stored();
    REQUIRE(bundles.size() == 2);
    for (const auto& bytes : bundles) {
      MemorySource src(bytes);
      REQUIRE(importer->import(src, 20000)->result == coord::ImportResult::kImported);
    }
  }
  auto s = w.pull(a);
  CHECK(s.imported == 0);
  CHECK(s.duplicate == 2);
  CHECK(s.acknowledged == 2);
  CHECK(w.records_in(a) == 2);
  std::filesystem::remove_all(a);
}

TEST_CASE(
    "a bundle with no slot for this coordinator is declared not mine: kept in quarantine, not "
    "downloaded again, and deleted once the coordinators it was sealed for hold it (k = n)",
    "[pull]") {
  PullWorld w(1);
  CoordinatorSecretKey newcomer = CoordinatorSecretKey::generate();
  const std::string c = w.coordinator(newcomer, "newcomer");
  // The relay lets the newcomer in (a newer registration lists it: k = n = 3), but the bundle
  // was sealed for A and B only.
  TestOrganisation org(0);
  org.org = OrgSecretKey::from_text(w.device.org.to_text().span()).value();
  org.coordinators.push_back(clone(w.device.coord_a));
  org.coordinators.push_back(clone(w.device.coord_b));
  org.coordinators.push_back(clone(newcomer));
  w.relay.add_mailbox(org, 0, 2);
  auto s = w.pull(c);
  CHECK(s.quarantined == 1);
  CHECK(s.not_mine == 1);
  CHECK(s.acknowledged == 0);
  auto again = w.pull(c);
  CHECK(again.quarantined + again.not_mine + again.already_kept == 0);
  CHECK(again.bytes_downloaded == 0);
  // "Not mine" never counts towards deleting it: A alone does not delete it ...
  const std::string a = w.coordinator(w.device.coord_a, "coord-a");
  CHECK(w.pull(a).acknowledged == 1);
  CHECK(w.stored().size() == 1);
  // ... but it lowered the number required from 3 to 2: B's acknowledgement deletes it.
  const std::string b = w.coordinator(w.device.coord_b, "coord-b");
  CHECK(w.pull(b).acknowledged == 1);
  CHECK(w.stored().empty());
  std::filesystem::remove_all(a);
  std::filesystem::remove_all(b);
  std::filesystem::remove_all(c);
}

namespace {

// What a child process of the killed-pull test does, in a fresh image of this test binary:
// "pull NOW PAGE HOME" pulls to the end; "check NOW N HOME" checks that HOME holds N records
// once each and that pulling again finds nothing. Exits 0 on success, another code naming the
// step that failed.
int run_pull_child(const std::string& spec) {
  std::istringstream in(spec);
  std::string mode, home;
  int64_t now = 0, arg = 0;
  if (!(in >> mode >> now >> arg) || in.get() != ' ' || !std::getline(in, home)) return 20;
  auto p = Profile::open(home, testing::secret_of(testing::kTestPassphrase));
  if (!p) return 2;
  coord::PullOptions o;
  o.now = now;
  o.sleep = [](int64_t) {};
  if (mode == "pull") {
    o.page_size = static_cast<int>(arg);
    return coord::pull(*p, o) ? 0 : 3;
  }
  auto st = p->db().prepare(
      "SELECT (SELECT count(*) FROM coord_records), (SELECT count(*) FROM coord_bundles), "
      "(SELECT count(DISTINCT bundle_id) FROM coord_bundles)");
  if (!st) return 4;
  auto row = st->step();
  if (!row || !*row) return 4;
  if (st->int64(0) != arg) return 10;  // every record, once
  if (st->int64(1) != arg || st->int64(2) != arg) return 11;
  st->release();
  // Nothing is left pending for this coordinator: every bundle was acknowledged.
  auto again = coord::pull(*p, o);
  if (!again) return 5;
  return again->imported + again->duplicate + again->acknowledged == 0 ? 0 : 12;
}

// Starts this test binary again running only the hidden child case with `spec`. A new image,
// not a bare fork: this process runs the relay, and a fork taken while one of its threads holds
// a lock (the allocator's under ASan, SQLite's) would deadlock in the child.
pid_t spawn_pull_child(const std::string& spec) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; e++)
    if (std::string_view(*e).rfind("SATCHEL_PULL_CHILD=", 0) != 0) env_strings.emplace_back(*e);
  env_strings.push_back("SATCHEL_PULL_CHILD=" + spec);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", name = "satchel_sync_tests", filter = "[.pull-child]";
  char* argv[] = {name.data(), filter.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);  // Catch2's report, beside the parent's
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Waits for `pid`: its exit code, or 100 + the signal that ended it.
int wait_for(pid_t pid) {
  REQUIRE(pid > 0);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("(the killed-pull test's child process)", "[.pull-child]") {
  const char* spec = std::getenv("SATCHEL_PULL_CHILD");
  if (spec == nullptr) SKIP("run by the killed-pull test only");
  ::_exit(run_pull_child(spec));
}

TEST_CASE("a coordinator pull killed at random moments and run again imports every record once",
          "[pull][crash]") {
  const char* tier = std::getenv("SATCHEL_TEST_TIER");
  const int n = tier && std::string(tier) == "full" ? 200 : 60;
  PullWorld w(n);
  const std::string a = w.coordinator(w.device.coord_a, "coord-a");
  const std::string now = std::to_string(w.relay.clock.now());
  std::mt19937 rng(std::random_device{}());
  int killed = 0;
  for (int round = 0; round < 8; round++) {
    // The child pulls until killed (or done); it touches nothing of this process's relay.
    const pid_t pid = spawn_pull_child("pull " + now + " 7 " + a);
    REQUIRE(pid > 0);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 600)(rng)));
    if (::kill(pid, SIGKILL) == 0) killed++;
    const int code = wait_for(pid);
    if (code < 100) {
      CHECK(code == 0);  // finished before the kill: a clean pull
      break;
    }
  }
  INFO("killed " << killed << " time(s)");
  // Run again to the end, then check, each in a new process as a person re-running `satchel
  // coord pull` would.
  CHECK(wait_for(spawn_pull_child("pull " + now + " 100 " + a)) == 0);
  CHECK(wait_for(spawn_pull_child("check " + now + " " + std::to_string(n) + " " + a)) == 0);
  std::filesystem::remove_all(a);
}

TEST_CASE(
    "a coordinator's newer registration through RelayClient ends a removed coordinator's "
    "access; an older one or another organisation's is refused",
    "[pull]") {
  PullWorld w(1);
  auto url = parse_relay_url(url_of(w.relay));
  REQUIRE(url);
  auto c = RelayClient::create(*url, {pin_of(w.relay)}, RelayClientOptions{});
  REQUIRE(c);
  RelayClient& relay = **c;
  const int64_t now = w.relay.clock.now();
  auto a = relay.open_session(w.device.coord_a, w.mailbox, now);
  auto b = relay.open_session(w.device.coord_b, w.mailbox, now);
  REQUIRE(a);
  REQUIRE(b);
  auto registration = [&](const OrgSecretKey& org, uint64_t version) {
    RelayRegistration r;
    r.org = org.public_key();
    r.version = version;
    r.issued_at = now;
    r.coordinator_auth_keys = {w.device.coord_b.public_key().ed25519};
    return r.sign(org).value();
  };

  // B registers version 2 without A: A's session ends at once, B's stays.
  auto updated = relay.update_registration(*b, registration(w.device.org, 2) + "\n");
  if (!updated) FAIL(updated.error().message);
  CHECK(*updated == 2);
  CHECK(relay.list_pending(*a, "", 10).code() == Errc::kRelayUnauthorized);
  auto page = relay.list_pending(*b, "", 10);
  REQUIRE(page);
  CHECK(page->uploads.size() == 1);
  CHECK(relay.open_session(w.device.coord_a, w.mailbox, now).code() == Errc::kRelayUnauthorized);

  // The same version again, an older one and another organisation's are refused.
  CHECK(relay.update_registration(*b, registration(w.device.org, 2)).code() == Errc::kDocRollback);
  CHECK(relay.update_registration(*b, registration(w.device.org, 1)).code() == Errc::kDocRollback);
  const OrgSecretKey stranger = OrgSecretKey::generate();
  CHECK(relay.update_registration(*b, registration(stranger, 3)).code() ==
        Errc::kDocUntrustedSigner);
  CHECK(relay.update_registration(*b, "not a registration").code() == Errc::kDocMalformed);
  CHECK(relay.list_pending(*b, "", 10));
}
