// The sync client (client/sync.h, client/relay_client.h) against a real relay in this process,
// over TLS 1.3 on 127.0.0.1 with a generated certificate pinned by its SPKI hash.
#include <catch2/catch_test_macros.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "client/client_fixture.h"
#include "client/sqlcipher_pages.h"
#include "relay_harness.h"
#include "satchel/client/outbox.h"
#include "satchel/client/relay_client.h"
#include "satchel/client/sync.h"
#include "satchel/relay/tls_identity.h"
#include "support/fault_proxy.h"

using namespace satchel;
using namespace satchel::client;
using satchel::relay::testing::TestOrganisation;
using satchel::relay::testing::TestRelay;
using satchel::testing::FaultProxy;

namespace {

SecretBytes secret_text(const std::string& s) {
  return satchel::testing::secret_of(s);
}

// A device profile with an outbox, enrolled with a relay's mailbox.
struct Device {
  satchel::testing::TestProfile profile{"sync"};
  Profile opened = profile.open();
  Outbox outbox{opened};

  // Adds a bundle of `size` deterministic bytes; returns its outbox entry.
  OutboxEntry add(size_t size, uint32_t seed) {
    Bytes data = satchel::relay::testing::test_bytes(size, seed);
    auto w = OutboxWriter::begin(opened);
    REQUIRE(w);
    REQUIRE(w->write(data));
    auto e = w->finish(seed);
    REQUIRE(e);
    return *e;
  }
};

RelayUrl url_of(const TestRelay& relay) {
  auto u = parse_relay_url("https://127.0.0.1:" + std::to_string(relay.port()));
  REQUIRE(u);
  return *u;
}

Hash32 pin_of(const TestRelay& relay) {
  auto pin = relay::certificate_pin(relay.cert_path);
  REQUIRE(pin);
  return *pin;
}

std::unique_ptr<RelayClient> client_of(const TestRelay& relay, std::vector<Hash32> pins) {
  RelayClientOptions o;
  o.connect_timeout_seconds = 5;
  o.read_timeout_seconds = 5;
  o.write_timeout_seconds = 5;
  auto c = RelayClient::create(url_of(relay), std::move(pins), o);
  REQUIRE(c);
  return std::move(c.value());
}

SecretBytes enroll(TestRelay& relay, const std::string& mailbox) {
  auto c = client_of(relay, {pin_of(relay)});
  auto e = c->enroll(secret_text(relay.mint_code(mailbox)));
  REQUIRE(e);
  return std::move(e->token);
}

// A relay with one organisation's mailbox, and a device enrolled with it.
struct Enrolled {
  TestRelay relay;
  TestOrganisation org{1};
  std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
};

bool outbox_is_empty(Outbox& outbox) {
  auto l = outbox.list();
  REQUIRE(l);
  return l->empty();
}

SyncOptions fast_options() {
  SyncOptions o;
  o.sleep = [](std::chrono::milliseconds) {};
  return o;
}

UploadState state_on_relay(TestRelay& relay, const SecretBytes& token, const std::string& id) {
  auto c = client_of(relay, {pin_of(relay)});
  auto s = c->status(id, token);
  REQUIRE(s);
  return s->state;
}

}  // namespace

TEST_CASE("sync stores every outbox bundle on the relay, resuming large ones, then deletes them",
          "[sync]") {
  Enrolled setup;
  auto& [relay, org, mailbox, token, device] = setup;
  std::vector<OutboxEntry> entries;
  for (size_t size : {1u, 4096u, 65536u, 65537u, 3u << 20})
    entries.push_back(device.add(size, static_cast<uint32_t>(size)));

  auto c = client_of(relay, {pin_of(relay)});
  SyncOptions o = fast_options();
  o.max_request_bytes = 256 * 1024;  // the 3 MiB bundle needs a creation and 11 PATCHes
  size_t progress_calls = 0;
  o.progress = [&](const SyncProgress& p) {
    ++progress_calls;
    CHECK(p.bytes_done <= p.bytes_total);
  };
  auto report = sync_outbox(device.outbox, *c, token, o);
  REQUIRE(report);
  CHECK(report->stored == entries.size());
  CHECK(report->deleted == entries.size());
  CHECK(report->pending == 0);
  CHECK(report->bytes_sent == report->bundle_bytes);  // nothing sent twice on a clean network
  CHECK(progress_calls > entries.size());
  for (const auto& e : entries)
    CHECK(state_on_relay(relay, token, e.upload_id) == UploadState::kStored);
  CHECK(outbox_is_empty(device.outbox));
}

TEST_CASE("a relay certificate matching neither roster pin is refused before any byte is sent",
          "[sync]") {
  Enrolled setup;
  auto& [relay, org, mailbox, token, device] = setup;
  OutboxEntry e = device.add(5000, 7);

  Hash32 wrong = pin_of(relay);
  wrong[0] ^= 1;
  Hash32 also_wrong{};
  auto c = client_of(relay, {wrong, also_wrong});
  auto report = sync_outbox(device.outbox, *c, token, fast_options());
  REQUIRE_FALSE(report);
  CHECK(report.error().code == Errc::kRelayPinMismatch);
  CHECK(report.error().message.find("intercept") != std::string::npos);
  CHECK(c->body_bytes_sent() == 0);
  CHECK(state_on_relay(relay, token, e.upload_id) == UploadState::kAbsent);
  auto left = device.outbox.list();
  REQUIRE(left);
  REQUIRE(left->size() == 1);  // the bundle stays on the device

  // Enrollment is refused the same way: the code never leaves the device.
  auto enrolled = c->enroll(secret_text(relay.mint_code(mailbox)));
  REQUIRE_FALSE(enrolled);
  CHECK(enrolled.error().code == Errc::kRelayPinMismatch);
}

TEST_CASE("the backup pin is accepted in place of the primary", "[sync]") {
  Enrolled setup;
  auto& [relay, org, mailbox, token, device] = setup;
  device.add(1000, 1);
  Hash32 retired{};
  retired.fill(9);
  auto c = client_of(relay, {retired, pin_of(relay)});
  auto report = sync_outbox(device.outbox, *c, token, fast_options());
  REQUIRE(report);
  CHECK(report->stored == 1);
}

TEST_CASE("an enrollment code is redeemed once; a malformed one never reaches the relay",
          "[sync]") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  auto c = client_of(relay, {pin_of(relay)});
  const std::string code = relay.mint_code(mailbox);
  auto first = c->enroll(secret_text(code));
  REQUIRE(first);
  CHECK(first->token.size() == 43);
  CHECK(first->token_id.size() == 16);
  auto again = c->enroll(secret_text(code));
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::kRelayUnauthorized);
  auto bad = c->enroll(secret_text("not-a-code!"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::kInvalidArgument);
  CHECK(bad.error().message.find("not-a-code") == std::string::npos);  // never echoed
}

TEST_CASE("keeping bundles until delivered: a stored bundle leaves the device once acknowledged",
          "[sync]") {
  Enrolled setup;
  auto& [relay, org, mailbox, token, device] = setup;
  OutboxEntry e = device.add(20000, 3);
  auto c = client_of(relay, {pin_of(relay)});
  SyncOptions keep = fast_options();
  keep.delete_when_stored = false;

  auto first = sync_outbox(device.outbox, *c, token, keep);
  REQUIRE(first);
  CHECK(first->stored == 1);
  CHECK(first->deleted == 0);
  auto held = device.outbox.list();
  REQUIRE(held);
  REQUIRE(held->size() == 1);
  CHECK((*held)[0].state == "stored");

  // Not delivered yet: a second run sends nothing and keeps it.
  auto second = sync_outbox(device.outbox, *c, token, keep);
  REQUIRE(second);
  CHECK(second->bytes_sent == 0);
  CHECK(second->deleted == 0);

  const std::string session = relay.coordinator_session(org.coordinators[0], mailbox);
  auto ack =
      relay.client()->Post("/v1/coordinator/uploads/" + e.upload_id + "/ack",
                           satchel::relay::testing::bearer(session), std::string(), std::string());
  REQUIRE(ack);
  REQUIRE(ack->status == 200);
  auto third = sync_outbox(device.outbox, *c, token, keep);
  REQUIRE(third);
  CHECK(third->deleted == 1);
  CHECK(outbox_is_empty(device.outbox));
}

TEST_CASE("a bundle being sent that the relay already holds is not sent again", "[sync]") {
  Enrolled setup;
  auto& [relay, org, mailbox, token, device] = setup;
  OutboxEntry e = device.add(300000, 11);
  REQUIRE(device.outbox.set_state(e.outbox_id, "uploading", 0));
  // Another copy of the device (a restored backup) already sent it.
  auto c = client_of(relay, {pin_of(relay)});
  Bytes data = satchel::relay::testing::test_bytes(300000, 11);
  auto up = satchel::relay::testing::tus_upload_whole(
      *relay.client(), std::string(reinterpret_cast<const char*>(token.data()), token.size()),
      data);
  REQUIRE(up);
  REQUIRE(up->status == 201);
  auto report = sync_outbox(device.outbox, *c, token, fast_options());
  REQUIRE(report);
  CHECK(report->stored == 1);
  CHECK(report->bytes_sent == 0);
}

TEST_CASE("a revoked token ends the run with a clear error and keeps the bundles", "[sync]") {
  Enrolled setup;
  auto& [relay, org, mailbox, token, device] = setup;
  device.add(1000, 5);
  SecretBytes forged = secret_text(std::string(43, 'A'));
  auto c = client_of(relay, {pin_of(relay)});
  auto report = sync_outbox(device.outbox, *c, forged, fast_options());
  REQUIRE_FALSE(report);
  CHECK(report.error().code == Errc::kRelayUnauthorized);
  auto left = device.outbox.list();
  REQUIRE(left);
  CHECK(left->size() == 1);
}

TEST_CASE("an unreachable relay is retried with bounded backoff, and the bundle stays pending",
          "[sync]") {
  Device device;
  device.add(1000, 5);
  auto url = parse_relay_url("https://127.0.0.1:1");
  REQUIRE(url);
  Hash32 pin{};
  auto c = RelayClient::create(*url, {pin}, RelayClientOptions{});
  REQUIRE(c);
  SyncOptions o = fast_options();
  std::vector<std::chrono::milliseconds> waits;
  o.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  o.max_failures = 4;
  auto report = sync_outbox(device.outbox, **c, secret_text(std::string(43, 'A')), o);
  REQUIRE(report);
  CHECK(report->pending == 1);
  CHECK(waits.size() == 3);
  auto left = device.outbox.list();
  REQUIRE(left);
  CHECK((*left)[0].state == "uploading");
}

TEST_CASE("backoff is full jitter under an exponential cap and honours Retry-After", "[sync]") {
  using std::chrono::milliseconds;
  for (uint32_t f = 0; f < 30; ++f) {
    auto d = backoff_delay(f, milliseconds(100), milliseconds(5000), std::chrono::seconds(0));
    CHECK(d.count() >= 0);
    CHECK(d.count() <= std::min<int64_t>(5000, int64_t{100} << std::min<uint32_t>(f, 20)));
  }
  CHECK(backoff_delay(0, milliseconds(100), milliseconds(5000), std::chrono::seconds(7)).count() >=
        7000);
  // Jitter: twenty draws at the cap are not all equal.
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i)
    seen.insert(backoff_delay(10, milliseconds(1000), milliseconds(60000), std::chrono::seconds(0))
                    .count());
  CHECK(seen.size() > 1);
}

TEST_CASE("relay URLs and proxy addresses are parsed strictly", "[sync]") {
  auto u = parse_relay_url("https://relay.example.org:8443/base/");
  REQUIRE(u);
  CHECK(u->host == "relay.example.org");
  CHECK(u->port == 8443);
  CHECK(u->base_path == "/base");
  auto onion =
      parse_relay_url("https://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion");
  REQUIRE(onion);
  CHECK(onion->port == 443);
  CHECK(parse_relay_url("https://[::1]:9")->host == "::1");
  for (const char* bad :
       {"http://relay.example.org", "https://user@relay", "https://relay/?q=1", "https://relay:0",
        "https://relay:99999", "https://", "https://a b", "ftp://relay"}) {
    INFO(bad);
    CHECK_FALSE(parse_relay_url(bad));
  }
  auto p = parse_proxy_address("127.0.0.1:9080");
  REQUIRE(p);
  CHECK(p->port == 9080);
  CHECK_FALSE(parse_proxy_address("127.0.0.1"));
  CHECK_FALSE(parse_proxy_address("127.0.0.1:x"));
}

namespace {

bool full_tier() {
  const char* t = std::getenv("SATCHEL_TEST_TIER");
  return t && std::string(t) == "full";
}

}  // namespace

TEST_CASE(
    "through a proxy breaking 20% of connections, every bundle is stored exactly once and "
    "byte-identical",
    "[sync][proxy]") {
  TestRelay relay([](relay::RelayConfig& c) {
    c.limits.read_timeout_seconds = 3;
    c.limits.token_requests_per_minute = 100000;
  });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
  const size_t count = full_tier() ? 300 : 60;
  std::map<std::string, Bytes> sent;
  uint64_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    // Mixed sizes: mostly small records, every tenth with an attachment of 1 to 2 MiB.
    size_t size = (i % 10 == 9) ? (1u << 20) + (i * 7919) % (1u << 20) : 1 + (i * 104729) % 200000;
    OutboxEntry e = device.add(size, static_cast<uint32_t>(1000 + i));
    sent[e.upload_id] = satchel::relay::testing::test_bytes(size, static_cast<uint32_t>(1000 + i));
    total += size;
  }

  // A quarter of connections draw a fault; a few finish before theirs fires, so about a fifth
  // really break.
  FaultProxy proxy({"--target", "127.0.0.1:" + std::to_string(relay.port()), "--seed", "20261201",
                    "--break-fraction", "0.25", "--window", "2048", "--cut-up", "--cut-down",
                    "--stall", "1", "--reset"});
  auto url = parse_relay_url("https://127.0.0.1:" + std::to_string(proxy.port()));
  REQUIRE(url);
  RelayClientOptions o;
  o.connect_timeout_seconds = 3;
  o.read_timeout_seconds = 3;
  o.write_timeout_seconds = 3;
  o.keep_alive = false;  // every request on its own connection: 20% of requests are broken
  auto c = RelayClient::create(*url, {pin_of(relay)}, o);
  REQUIRE(c);
  SyncOptions so = fast_options();
  so.max_request_bytes = 512 * 1024;
  uint64_t bytes_sent = 0;
  size_t runs = 0;
  for (; runs < 20; ++runs) {
    auto report = sync_outbox(device.outbox, **c, token, so);
    REQUIRE(report);
    bytes_sent += report->bytes_sent;
    auto left = device.outbox.list();
    REQUIRE(left);
    if (left->empty()) break;
  }
  CHECK(outbox_is_empty(device.outbox));
  const auto stats = proxy.stats();
  std::ostringstream line;
  line << count << " bundles, " << total << " bytes: " << runs + 1 << " sync run(s), " << bytes_sent
       << " body bytes sent, " << stats.at("connections") << " connections, " << stats.at("faults")
       << " broken";
  std::cout << "proxy test: " << line.str() << "\n";
  INFO(line.str());
  CHECK(stats.at("faults") * 100 >= stats.at("connections") * 12);  // ~20% really broken

  // The coordinator's view: each upload listed once, and its bytes identical.
  const std::string session = relay.coordinator_session(org.coordinators[0], mailbox);
  auto http = relay.client();
  std::map<std::string, int> listed;
  std::string after;
  for (int page = 0; page < 100; ++page) {
    auto res =
        http->Get("/v1/coordinator/uploads?limit=100" + (after.empty() ? "" : "&after=" + after),
                  satchel::relay::testing::bearer(session));
    REQUIRE(res);
    REQUIRE(res->status == 200);
    auto j = nlohmann::json::parse(res->body);
    for (auto& u : j["uploads"]) listed[u["id"].get<std::string>()]++;
    if (j["next"].is_null()) break;
    after = j["next"].get<std::string>();
  }
  CHECK(listed.size() == count);
  for (const auto& [id, n] : listed) {
    INFO(id);
    CHECK(n == 1);
    REQUIRE(sent.count(id) == 1);
    auto res = http->Get("/v1/coordinator/uploads/" + id, satchel::relay::testing::bearer(session));
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->body == satchel::relay::testing::body_of(sent[id]));
  }
}

TEST_CASE("a seized relay's storage holds no token, code, client address or user agent", "[sync]") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string code = relay.mint_code(mailbox);
  auto c = client_of(relay, {pin_of(relay)});
  auto enrolled = c->enroll(secret_text(code));
  REQUIRE(enrolled);
  const std::string token(reinterpret_cast<const char*>(enrolled->token.data()),
                          enrolled->token.size());
  auto token_bytes = from_base64url(token);
  REQUIRE(token_bytes);
  auto code_bytes = from_base32(code);
  REQUIRE(code_bytes);
  Device device;
  for (uint32_t i = 0; i < 5; ++i) device.add(10000 + i, 50 + i);
  auto report = sync_outbox(device.outbox, *c, enrolled->token, fast_options());
  REQUIRE(report);
  REQUIRE(report->stored == 5);
  relay.stop();  // checkpoint and close the database, as a seizure of a stopped relay would find

  std::string everything;
  for (const auto& f : std::filesystem::recursive_directory_iterator(relay.config.storage)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    everything.append(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(everything.size() > 50000);  // the bundles are there
  auto absent = [&](std::string_view what, std::string_view needle) {
    INFO(what);
    CHECK(everything.find(needle) == std::string::npos);
  };
  absent("token text", token);
  absent("token bytes", {reinterpret_cast<const char*>(token_bytes->data()), token_bytes->size()});
  absent("code text", code);
  absent("code bytes", {reinterpret_cast<const char*>(code_bytes->data()), code_bytes->size()});
  absent("client address", "127.0.0.1");
  absent("user agent", "tus-client");
}

TEST_CASE("a sent bundle's id and bytes were only ever stored under a key that sync destroys",
          "[sync][forensics]") {
  Enrolled setup;
  auto& [relay, org, mailbox, token, device] = setup;
  const size_t size = 300000;
  OutboxEntry e = device.add(size, 77);
  Bytes data = satchel::relay::testing::test_bytes(size, 77);
  // Samples of the bundle: 32 bytes from every 16 KiB, and the relay's name for it.
  std::vector<Bytes> samples;
  for (size_t at = 0; at + 32 <= size; at += 16384)
    samples.emplace_back(data.begin() + at, data.begin() + at + 32);
  samples.push_back(from_hex(e.upload_id).value());
  samples.emplace_back(e.upload_id.begin(), e.upload_id.end());
  const SecretBytes key =
      satchel::testing::profile_keys(device.profile.home, device.profile.passphrase).db_key.clone();
  auto count_hits = [&] {
    size_t n = 0;
    auto scan = [&](const std::vector<Bytes>& pages) {
      for (const Bytes& page : pages)
        for (const Bytes& s : samples)
          if (std::search(page.begin(), page.end(), s.begin(), s.end()) != page.end()) ++n;
    };
    scan(satchel::testing::decrypt_database_pages(database_path(device.profile.home), key));
    scan(satchel::testing::decrypt_wal_frames(database_path(device.profile.home) + "-wal", key));
    return n;
  };
  // Under the database key alone (what a coerced passphrase opens) no page shows them, even
  // before the sync; the outbox reads them back through the entry's key.
  CHECK(count_hits() == 0);
  MemorySink back;
  REQUIRE(device.outbox.read(e.outbox_id, back));
  REQUIRE(back.data() == data);
  REQUIRE(device.opened.keyring().keys_held() == 1);

  auto c = client_of(relay, {pin_of(relay)});
  auto report = sync_outbox(device.outbox, *c, token, fast_options());
  REQUIRE(report);
  REQUIRE(report->deleted == 1);
  CHECK(count_hits() == 0);
  // The entry's key is gone from the keyring: the copies SQLite left are unreadable.
  CHECK(device.opened.keyring().keys_held() == 0);
}

TEST_CASE("a bundle exported to a folder is still uploaded, unless sync is told to skip it",
          "[sync]") {
  Enrolled setup;
  auto& [relay, org, mailbox, token, device] = setup;
  OutboxEntry e = device.add(4000, 21);
  REQUIRE(device.outbox.mark_exported(e.outbox_id));
  // A second exported bundle whose upload had begun: the mark outlives the upload state.
  OutboxEntry begun = device.add(3000, 22);
  REQUIRE(device.outbox.mark_exported(begun.outbox_id));
  REQUIRE(device.outbox.set_state(begun.outbox_id, "uploading", 0));
  auto c = client_of(relay, {pin_of(relay)});
  SyncOptions skip = fast_options();
  skip.include_exported = false;
  auto both_on_relay = [&](UploadState s) {
    return state_on_relay(relay, token, e.upload_id) == s &&
           state_on_relay(relay, token, begun.upload_id) == s;
  };
  auto skipped = sync_outbox(device.outbox, *c, token, skip);
  REQUIRE(skipped);
  CHECK(skipped->stored == 0);
  CHECK(both_on_relay(UploadState::kAbsent));
  // Kept until delivered: stored on the relay, still on the device, still marked exported.
  SyncOptions keep = fast_options();
  keep.delete_when_stored = false;
  auto sent = sync_outbox(device.outbox, *c, token, keep);
  REQUIRE(sent);
  CHECK(sent->stored == 2);
  CHECK(both_on_relay(UploadState::kStored));
  // A stored bundle is only asked about (no bundle bytes go out), so --skip-exported does not
  // keep it on the device once the relay has it.
  auto forgotten = sync_outbox(device.outbox, *c, token, skip);
  REQUIRE(forgotten);
  CHECK(forgotten->deleted == 2);
  CHECK(outbox_is_empty(device.outbox));
}

TEST_CASE("a version-1 profile's exported bundles keep their mark after the migration") {
  satchel::testing::TestProfile profile{"migrate-exported"};
  {
    // Version 1's outbox, where "exported" was a state.
    Profile p = profile.open();
    Database& db = p.db();
    // Undo what migrations 3 and 4 added to the other tables.
    REQUIRE(db.exec("DROP INDEX records_key_slot; ALTER TABLE records DROP COLUMN key_slot"));
    REQUIRE(
        db.exec("DROP INDEX attachment_chunks_cell; ALTER TABLE attachment_chunks DROP COLUMN "
                "cell; ALTER TABLE attachment_chunks DROP COLUMN cell_bytes"));
    REQUIRE(db.exec("DROP TABLE outbox_chunks"));
    REQUIRE(db.exec("DROP TABLE outbox"));
    // And the coordinator tables of migrations 5 and 6.
    REQUIRE(db.exec(
        "DROP TABLE coord_retractions; DROP TABLE coord_exports; DROP TABLE coord_quarantine; "
        "DROP TABLE coord_records; "
        "DROP TABLE coord_bundles; DROP TABLE coord_devices; DROP TABLE coord_body_chunks; "
        "DROP TABLE coord_bodies"));
    // The organisation tables of migration 8 and the invite tables of migrations 9 to 11.
    REQUIRE(
        db.exec("DROP TABLE org_documents; DROP TABLE org_forms; DROP TABLE org_relays; "
                "DROP TABLE org_coordinators; DROP TABLE coord_registrations; "
                "DROP TABLE coord_known_coordinators; DROP TABLE coord_invite_disputes; "
                "DROP TABLE coord_device_invites; "
                "DROP TABLE coord_minted_invites"));
    const std::string v1_sql =
        std::string(
            "CREATE TABLE outbox (outbox_id INTEGER PRIMARY KEY, upload_id TEXT NOT NULL UNIQUE, "
            "size INTEGER NOT NULL, sequence INTEGER NOT NULL, state TEXT NOT NULL CHECK (state IN "
            "('sealed', 'uploading', 'stored', 'exported')), uploaded_offset INTEGER NOT NULL "
            "DEFAULT 0, created_day INTEGER NOT NULL);"
            "CREATE TABLE outbox_chunks (outbox_id INTEGER NOT NULL REFERENCES outbox (outbox_id) "
            "ON DELETE CASCADE, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (outbox_id, "
            "seq));"
            "INSERT INTO outbox (upload_id, size, sequence, state, uploaded_offset, created_day) "
            "VALUES ('") +
        std::string(64, 'a') + "', 10, 1, 'exported', 0, 1), ('" + std::string(64, 'b') +
        "', 10, 2, 'uploading', 4, 1);"
        "PRAGMA user_version = 1;";
    REQUIRE(db.exec(v1_sql.c_str()));
  }
  Profile again = profile.open();
  CHECK(again.db().schema_version() == 11);  // the newest: schema/client/0011-*.sql
  Outbox box(again);
  auto l = box.list();
  REQUIRE(l);
  REQUIRE(l->size() == 2);
  CHECK((*l)[0].exported);
  CHECK((*l)[0].state == "sealed");
  CHECK_FALSE((*l)[1].exported);
  CHECK((*l)[1].state == "uploading");
  CHECK((*l)[1].uploaded_offset == 4);
}

TEST_CASE("sync waits as long as a 429's Retry-After asks, then finishes", "[sync]") {
  TestRelay relay([](relay::RelayConfig& c) { c.limits.token_requests_per_minute = 4; });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
  for (uint32_t i = 0; i < 10; ++i) device.add(2000 + i, 300 + i);
  auto c = client_of(relay, {pin_of(relay)});
  SyncOptions o = fast_options();
  o.backoff_base = std::chrono::milliseconds(1);  // so only Retry-After can make a wait of 1 s
  o.backoff_cap = std::chrono::milliseconds(10);
  std::vector<int64_t> waits;
  o.sleep = [&](std::chrono::milliseconds d) {
    waits.push_back(d.count());
    relay.clock.advance((d.count() + 999) / 1000);  // the relay's clock moves as the device waits
  };
  auto report = sync_outbox(device.outbox, *c, token, o);
  REQUIRE(report);
  CHECK(report->stored == 10);
  REQUIRE_FALSE(waits.empty());
  CHECK(*std::max_element(waits.begin(), waits.end()) >= 1000);  // Retry-After is whole seconds
}

namespace {

// A pinned server that speaks just enough tus to lie: every request gets `answer`.
struct LyingRelay {
  std::unique_ptr<httplib::SSLServer> server;
  std::thread thread;
  int port = 0;
  std::atomic<int> requests{0};

  LyingRelay(const TestRelay& real, std::function<void(httplib::Response&)> answer) {
    server = std::make_unique<httplib::SSLServer>(real.config.certificate.c_str(),
                                                  real.config.private_key.c_str());
    auto handler = [this, answer](const httplib::Request&, httplib::Response& res) {
      ++requests;
      answer(res);
    };
    server->Post("/v1/uploads", handler);
    server->Patch(R"(/v1/uploads/.*)", handler);
    server->Get(R"(/v1/uploads/.*)", handler);  // HEAD goes to the Get handler
    port = server->bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server->listen_after_bind(); });
    for (int i = 0; i < 200 && !server->is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~LyingRelay() {
    server->stop();
    thread.join();
  }
};

void tus_answer(httplib::Response& res, const char* state, uint64_t offset, uint64_t length) {
  res.status = 204;
  res.set_header("Tus-Resumable", "1.0.0");
  res.set_header("Upload-State", state);
  res.set_header("Upload-Offset", std::to_string(offset));
  res.set_header("Upload-Length", std::to_string(length));
}

}  // namespace

TEST_CASE("answers a relay cannot honestly give never make the device delete a bundle",
          "[sync][hostile]") {
  TestRelay real;
  Device device;
  OutboxEntry e = device.add(100000, 31);
  RelayClientOptions o;
  o.read_timeout_seconds = 5;
  auto url_for = [](int port) {
    return parse_relay_url("https://127.0.0.1:" + std::to_string(port)).value();
  };
  struct Lie {
    const char* what;
    std::function<void(httplib::Response&)> answer;
  };
  const uint64_t n = e.size;
  const std::vector<Lie> lies = {
      {"stored, but with an offset short of the length",
       [n](httplib::Response& r) { tus_answer(r, "stored", n - 1, n); }},
      {"delivered, for another length",
       [n](httplib::Response& r) { tus_answer(r, "delivered", n + 1, n + 1); }},
      {"stored, without Tus-Resumable",
       [n](httplib::Response& r) {
         tus_answer(r, "stored", n, n);
         r.headers.erase("Tus-Resumable");
       }},
      {"an unknown state", [n](httplib::Response& r) { tus_answer(r, "kept", n, n); }},
      {"partial forever, never moving",
       [n](httplib::Response& r) { tus_answer(r, "partial", 0, n); }},
  };
  for (const Lie& lie : lies) {
    INFO(lie.what);
    LyingRelay liar(real, lie.answer);
    auto c = RelayClient::create(url_for(liar.port), {pin_of(real)}, o);
    REQUIRE(c);
    SyncOptions so = fast_options();
    auto report = sync_outbox(device.outbox, **c, secret_text(std::string(43, 'A')), so);
    if (report) CHECK(report->stored == 0);
    auto left = device.outbox.list();
    REQUIRE(left);
    REQUIRE(left->size() == 1);         // still on the device
    CHECK(liar.requests.load() <= 40);  // bounded however the relay answers
    CHECK((*c)->body_bytes_sent() <= 2 * n + (1u << 20));
  }
}

TEST_CASE("a relay trickling its answer cannot hold a request past its deadline",
          "[sync][hostile]") {
  TestRelay real;
  std::atomic<bool> done{false};
  // Each byte comes well within the receive timeout, so only the request's deadline ends it.
  LyingRelay trickler(real, [&done](httplib::Response& res) {
    res.status = 200;  // (a 204 has no body to trickle)
    res.set_header("Tus-Resumable", "1.0.0");
    res.set_chunked_content_provider("text/plain", [&done](size_t, httplib::DataSink& sink) {
      for (int i = 0; i < 400 && !done; ++i) {  // at most 20 s
        if (!sink.write("x", 1)) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      sink.done();
      return true;
    });
  });
  RelayClientOptions o;
  o.read_timeout_seconds = 5;
  o.deadline_base_seconds = 2;
  o.min_rate_bytes_per_second = 1 << 20;
  auto c = RelayClient::create(
      parse_relay_url("https://127.0.0.1:" + std::to_string(trickler.port)).value(), {pin_of(real)},
      o);
  REQUIRE(c);
  const Bytes data = satchel::relay::testing::test_bytes(1000, 61);
  BodyReader body = [&data](uint64_t offset, size_t max, Bytes& out) -> Status {
    const size_t n = std::min<size_t>(max, data.size() - offset);
    out.assign(data.begin() + static_cast<long>(offset),
               data.begin() + static_cast<long>(offset + n));
    return Status::Ok();
  };
  const auto start = std::chrono::steady_clock::now();
  auto r =
      (*c)->append(std::string(64, 'a'), 0, data.size(), secret_text(std::string(43, 'A')), body);
  const auto took = std::chrono::steady_clock::now() - start;
  done = true;
  REQUIRE_FALSE(r);
  CHECK(r.code() == Errc::kNetwork);
  CHECK(r.error().message.find("deadline") != std::string::npos);
  CHECK(took >= std::chrono::seconds(2));
  CHECK(took < std::chrono::seconds(8));
  CHECK(trickler.requests == 1);
}
