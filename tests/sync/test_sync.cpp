// The sync client (client/sync.h, client/relay_client.h) against a real relay in this process,
// over TLS 1.3 on 127.0.0.1 with a generated certificate pinned by its SPKI hash.
#include <catch2/catch_test_macros.hpp>

#include <set>

#include "client/client_fixture.h"
#include "relay_harness.h"
#include "satchel/client/outbox.h"
#include "satchel/client/relay_client.h"
#include "satchel/client/sync.h"
#include "satchel/relay/tls_identity.h"

using namespace satchel;
using namespace satchel::client;
using satchel::relay::testing::TestOrganisation;
using satchel::relay::testing::TestRelay;

namespace {

SecretBytes secret_text(const std::string& s) { return satchel::testing::secret_of(s); }

// A device profile with an outbox, enrolled with a relay's mailbox.
struct Device {
  satchel::testing::TestProfile profile{"sync"};
  Profile opened = profile.open();
  Outbox outbox{opened.db()};

  // Adds a bundle of `size` deterministic bytes; returns its outbox entry.
  OutboxEntry add(size_t size, uint32_t seed) {
    Bytes data = satchel::relay::testing::test_bytes(size, seed);
    auto w = OutboxWriter::begin(opened.db());
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
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
  std::vector<OutboxEntry> entries;
  for (size_t size : {1u, 4096u, 65536u, 65537u, 3u << 20}) entries.push_back(device.add(size, static_cast<uint32_t>(size)));

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
  for (const auto& e : entries) CHECK(state_on_relay(relay, token, e.upload_id) == UploadState::kStored);
  auto left = device.outbox.list();
  REQUIRE(left);
  CHECK(left->empty());
}

TEST_CASE("a relay certificate matching neither roster pin is refused before any byte is sent",
          "[sync]") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
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
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
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
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
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
  auto ack = relay.client()->Post("/v1/coordinator/uploads/" + e.upload_id + "/ack",
                                  satchel::relay::testing::bearer(session), std::string(),
                                  std::string());
  REQUIRE(ack);
  REQUIRE(ack->status == 200);
  auto third = sync_outbox(device.outbox, *c, token, keep);
  REQUIRE(third);
  CHECK(third->deleted == 1);
  auto gone = device.outbox.list();
  REQUIRE(gone);
  CHECK(gone->empty());
}

TEST_CASE("a bundle the relay already holds is not sent again", "[sync]") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
  OutboxEntry e = device.add(300000, 11);
  REQUIRE(device.outbox.set_state(e.outbox_id, "uploading", 0));
  // Another copy of the device (a restored backup) already sent it.
  auto c = client_of(relay, {pin_of(relay)});
  Bytes data = satchel::relay::testing::test_bytes(300000, 11);
  auto up = satchel::relay::testing::tus_upload_whole(*relay.client(), std::string(reinterpret_cast<const char*>(token.data()), token.size()), data);
  REQUIRE(up);
  REQUIRE(up->status == 201);
  auto report = sync_outbox(device.outbox, *c, token, fast_options());
  REQUIRE(report);
  CHECK(report->stored == 1);
  CHECK(report->bytes_sent == 0);
}

TEST_CASE("a revoked token ends the run with a clear error and keeps the bundles", "[sync]") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  SecretBytes token = enroll(relay, mailbox);
  Device device;
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
  CHECK(backoff_delay(0, milliseconds(100), milliseconds(5000), std::chrono::seconds(7)).count() >= 7000);
  // Jitter: twenty draws at the cap are not all equal.
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i)
    seen.insert(backoff_delay(10, milliseconds(1000), milliseconds(60000), std::chrono::seconds(0)).count());
  CHECK(seen.size() > 1);
}

TEST_CASE("relay URLs and proxy addresses are parsed strictly", "[sync]") {
  auto u = parse_relay_url("https://relay.example.org:8443/base/");
  REQUIRE(u);
  CHECK(u->host == "relay.example.org");
  CHECK(u->port == 8443);
  CHECK(u->base_path == "/base");
  auto onion = parse_relay_url("https://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion");
  REQUIRE(onion);
  CHECK(onion->port == 443);
  CHECK(parse_relay_url("https://[::1]:9")->host == "::1");
  for (const char* bad : {"http://relay.example.org", "https://user@relay", "https://relay/?q=1",
                          "https://relay:0", "https://relay:99999", "https://", "https://a b",
                          "ftp://relay"}) {
    INFO(bad);
    CHECK_FALSE(parse_relay_url(bad));
  }
  auto p = parse_proxy_address("127.0.0.1:9080");
  REQUIRE(p);
  CHECK(p->port == 9080);
  CHECK_FALSE(parse_proxy_address("127.0.0.1"));
  CHECK_FALSE(parse_proxy_address("127.0.0.1:x"));
}
