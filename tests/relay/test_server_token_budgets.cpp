// Per-token budgets (issue 14, findings 1 per token, 2, 3 and 11): one device's token cannot fill
// its mailbox's quota with declared lengths, nor leave unbounded unfinished uploads (files), nor
// hold every upload slot; its unfinished uploads go when it is revoked; and a re-sent stored
// bundle is answered without its body being read, holding no upload slot.
#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "relay_harness.h"
#include "satchel/relay/token_budgets.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

struct Enrolled {
  std::string token;
  std::string token_id;
};

Enrolled enroll(TestRelay& relay, const std::string& mailbox) {
  auto res = relay.redeem(relay.mint_code(mailbox));
  REQUIRE(res);
  REQUIRE(res->status == 200);
  auto j = nlohmann::json::parse(res->body);
  return {j["token"].get<std::string>(), j["token_id"].get<std::string>()};
}

// An upload id no bundle has (creation only needs one).
Hash32 fake_id(uint64_t i) {
  return sha256_of(test_bytes(16, static_cast<uint32_t>(i + 1000)));
}

std::string error_of(const httplib::Result& res) {
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "";
}

// The headers of a creation-with-upload request whose body is sent separately.
std::string creation_head(const std::string& token, const Hash32& id, uint64_t length) {
  return "POST /v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
         "Authorization: Bearer " +
         token + "\r\nUpload-Length: " + std::to_string(length) +
         "\r\nUpload-Metadata: " + metadata_for(id) +
         "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " +
         std::to_string(length) + "\r\n\r\n";
}

}  // namespace

TEST_CASE("one device's bodiless creations cannot fill the mailbox quota for its other devices") {
  TestRelay relay([](RelayConfig& c) {
    c.limits.mailbox_quota_bytes = 4 << 20;
    c.limits.max_bundle_bytes = 512 << 10;
  });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const Enrolled attacker = enroll(relay, mailbox);
  const Enrolled other = enroll(relay, mailbox);
  auto c = relay.client();
  int created = 0;
  int last = 0;
  for (uint64_t i = 0; i < 40; i++) {  // 40 × 512 KiB declared would be 5 times the quota
    auto h = tus_headers(attacker.token);
    h.emplace("Upload-Length", std::to_string(512 << 10));
    h.emplace("Upload-Metadata", metadata_for(fake_id(i)));
    auto res = c->Post("/v1/uploads", h, std::string(), std::string());
    REQUIRE(res);
    last = res->status;
    if (last != 201) {
      CHECK(error_of(res) == "partial-bytes-exceeded");
      break;
    }
    created++;
  }
  CHECK(last == 429);
  CHECK(created < 8);  // a share of the quota, not all of it
  const Bytes data = test_bytes(300'000, 7);
  auto res = tus_upload_whole(*relay.client(), other.token, data);
  REQUIRE(res);
  CHECK(res->status == 201);
}

TEST_CASE("a token's unfinished uploads (and so files) are capped with a clear error") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const Enrolled device = enroll(relay, mailbox);
  auto c = relay.client();
  int created = 0;
  std::string refusal;
  int refused_status = 0;
  for (uint64_t i = 0; i < 100; i++) {  // 1-byte creations left unfinished
    auto h = tus_headers(device.token);
    h.emplace("Upload-Length", "1");
    h.emplace("Upload-Metadata", metadata_for(fake_id(i)));
    auto res = c->Post("/v1/uploads", h, std::string(), std::string());
    REQUIRE(res);
    if (res->status != 201) {
      refused_status = res->status;
      refusal = error_of(res);
      break;
    }
    created++;
  }
  CHECK(created == 32);
  CHECK(refused_status == 429);
  CHECK(refusal == "too-many-partial-uploads");
  // Resuming one it holds is still allowed (the limit counts new ones).
  CHECK(tus_create(*c, device.token, fake_id(0), 1) == 200);
  size_t rows = 0;
  for (uint64_t i = 0; i < 100; i++) {
    auto found = relay.store->find_upload(mailbox, fake_id(i));
    REQUIRE(found);
    if (found->upload) rows++;
  }
  CHECK(rows == 32);
  // Finishing one frees its place.
  auto done = tus_patch(*c, device.token, fake_id(0), 0, "x");
  REQUIRE(done);
  // (the 1-byte body does not hash to the fake id: the upload is discarded, which frees it too)
  CHECK(tus_create(*c, device.token, fake_id(99), 1) == 201);
}

TEST_CASE("revoking a token removes the unfinished uploads it made") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const Enrolled device = enroll(relay, mailbox);
  const Enrolled kept = enroll(relay, mailbox);
  auto c = relay.client();
  for (uint64_t i = 0; i < 3; i++) REQUIRE(tus_create(*c, device.token, fake_id(i), 1000) == 201);
  auto written = tus_patch(*c, device.token, fake_id(2), 0, std::string(100, 'a'));
  REQUIRE(written);
  REQUIRE(written->status == 204);
  REQUIRE(tus_create(*c, kept.token, fake_id(50), 1000) == 201);

  const std::string session = relay.coordinator_session(org.coordinators[0], mailbox);
  auto revoked = relay.client()->Post("/v1/coordinator/tokens/" + device.token_id + "/revoke",
                                      bearer(session), std::string(), std::string());
  REQUIRE(revoked);
  REQUIRE(revoked->status == 200);
  for (uint64_t i = 0; i < 3; i++) {
    auto found = relay.store->find_upload(mailbox, fake_id(i));
    REQUIRE(found);
    CHECK_FALSE(found->upload);
    CHECK_FALSE(std::filesystem::exists(relay.store->partial_path(mailbox, fake_id(i))));
  }
  auto other = relay.store->find_upload(mailbox, fake_id(50));
  REQUIRE(other);
  CHECK(other->upload);  // another device's unfinished upload stays
}

TEST_CASE("64 connections of one token holding upload bodies do not stop another token's upload") {
  TestRelay relay([](RelayConfig& c) {
    c.limits.threads = 80;
    c.limits.max_concurrent_uploads = 64;
    c.limits.read_timeout_seconds = 15;
  });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const Enrolled attacker = enroll(relay, mailbox);
  const Enrolled other = enroll(relay, mailbox);
  // Each attacking connection starts a 1 MB creation-with-upload, sends 1 KiB and stalls.
  std::vector<std::unique_ptr<RawTlsConnection>> held;
  for (uint64_t i = 0; i < 64; i++) {
    auto conn = std::make_unique<RawTlsConnection>(relay.port(), relay.cert_path);
    REQUIRE(conn->connected());
    REQUIRE(conn->send(creation_head(attacker.token, fake_id(i), 1'000'000)));
    REQUIRE(conn->send(std::string(1024, 'z')));
    held.push_back(std::move(conn));
  }
  // Wait (bounded) until the relay holds the attacker's whole share, so the honest upload below
  // really meets a token at its limit: a free unit would be taken and given back at once.
  const TokenKey attacker_key{mailbox, attacker.token_id};
  for (int i = 0; i < 250; i++) {
    if (!relay.server->relay().token_budgets.try_hold(attacker_key, TokenBudgets::Kind::kSlot))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE_FALSE(
      relay.server->relay().token_budgets.try_hold(attacker_key, TokenBudgets::Kind::kSlot));
  const Bytes data = test_bytes(200'000, 9);
  auto res = tus_upload_whole(*relay.client(), other.token, data);  // client timeouts: 5 s
  REQUIRE(res);
  CHECK(res->status == 201);
  held.clear();
}

TEST_CASE("re-sends past the daily allowance give back no bytes they did not reserve") {
  TestRelay relay([](RelayConfig& c) { c.limits.token_daily_bytes = 1'040'000; });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const Enrolled device = enroll(relay, mailbox);
  const Bytes data = test_bytes(1'000'000, 5);
  auto first = tus_upload_whole(*relay.client(), device.token, data);
  REQUIRE(first);
  REQUIRE(first->status == 201);
  // 1,000,000 of today's 1,040,000 bytes are used: a re-send's 1 MiB drain cannot be reserved.
  for (int i = 0; i < 3; i++) {
    RawTlsConnection resend(relay.port(), relay.cert_path);
    REQUIRE(resend.connected());
    REQUIRE(resend.send(creation_head(device.token, sha256_of(data), data.size())));
    CHECK(status_of(resend.read_until_close(1500).bytes) == 200);
  }
  // 50,000 more bytes are still over the allowance. (A body this small fits in what the relay
  // drains after refusing it, so the client reads the 429 rather than a reset.)
  auto more = tus_upload_whole(*relay.client(), device.token, test_bytes(50'000, 6));
  REQUIRE(more);
  CHECK(more->status == 429);
}

TEST_CASE("a re-sent stored bundle is answered without its body being read and holds no slot") {
  TestRelay relay([](RelayConfig& c) { c.limits.max_concurrent_uploads = 1; });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const Enrolled device = enroll(relay, mailbox);
  const Enrolled other = enroll(relay, mailbox);
  const Bytes data = test_bytes(1'000'000, 3);
  const Hash32 id = sha256_of(data);
  auto first = tus_upload_whole(*relay.client(), device.token, data);
  REQUIRE(first);
  REQUIRE(first->status == 201);

  // Only the headers of the re-send: the answer must come without a single body byte.
  RawTlsConnection resend(relay.port(), relay.cert_path);
  REQUIRE(resend.connected());
  REQUIRE(resend.send(creation_head(device.token, id, data.size())));
  auto reply = resend.read_until_close(1500);
  CHECK(status_of(reply.bytes) == 200);
  CHECK(reply.bytes.find("Upload-State: stored") != std::string::npos);
  CHECK(reply.bytes.find("Connection: close") != std::string::npos);

  // While the re-send lingers, the only upload slot is free for another device's upload.
  auto res = tus_upload_whole(*relay.client(), other.token, test_bytes(100'000, 4));
  REQUIRE(res);
  CHECK(res->status == 201);

  // The re-send's connection is closed after at most 1 MiB (or 1 s) of its body is drained.
  // (the relay may already have closed it, after its read timeout: then this send fails)
  resend.send(std::string(200'000, 'b'));
  auto rest = resend.read_until_close(5000);
  CHECK(rest.closed);
}

TEST_CASE(
    "token budgets give each token a share of threads and slots and forget unfinished uploads "
    "after expiry") {
  RelayLimits limits;  // defaults: 96 threads, 64 slots, 20 GiB quota, 2 GiB bundles
  TokenBudgets budgets(limits, 7);
  CHECK(budgets.thread_share() == 12);
  CHECK(budgets.slot_share() == 8);
  CHECK(budgets.declared_bytes_share() == 5ull << 30);
  const TokenKey a{"m", "a"};
  const TokenKey b{"m", "b"};
  std::vector<TokenBudgets::Hold> held;
  for (int i = 0; i < 20; i++)
    if (auto h = budgets.try_hold(a, TokenBudgets::Kind::kSlot)) held.push_back(std::move(*h));
  CHECK(held.size() == 8);
  CHECK(budgets.try_hold(b, TokenBudgets::Kind::kSlot));  // another token is not affected
  held.pop_back();
  CHECK(budgets.try_hold(a, TokenBudgets::Kind::kSlot));  // a released unit is free again

  const Day today = 20000;
  for (uint64_t i = 0; i < kPartialUploadsPerToken; i++)
    REQUIRE(budgets.try_open(a, fake_id(i), 1, today) == TokenBudgets::Open::kReserved);
  CHECK(budgets.try_open(a, fake_id(0), 1, today) == TokenBudgets::Open::kAlreadyOpen);
  CHECK(budgets.try_open(a, fake_id(100), 1, today) == TokenBudgets::Open::kTooMany);
  CHECK(budgets.try_open(b, fake_id(100), 1, today) == TokenBudgets::Open::kReserved);
  budgets.touch("m", fake_id(1), today + 5);
  // Idle for more than the expiry (7 full days, and a day's margin): forgotten, but not the
  // one written later.
  CHECK(budgets.open_count(a, today + 8) == kPartialUploadsPerToken);
  CHECK(budgets.open_count(a, today + 9) == 1);
  CHECK(budgets.take_open("m", std::string_view("a")) == std::vector<Hash32>{fake_id(1)});
  CHECK(budgets.take_open("m", std::nullopt) == std::vector<Hash32>{fake_id(100)});
  CHECK(budgets.open_count(b, today) == 0);

  RelayLimits small;
  small.mailbox_quota_bytes = 4 << 20;
  small.max_bundle_bytes = 3 << 20;
  small.threads = 4;
  small.max_concurrent_uploads = 0;
  TokenBudgets tight(small, 7);
  CHECK(tight.thread_share() == 1);
  CHECK(tight.slot_share() == SIZE_MAX);           // no relay-wide cap, no per-token one
  CHECK(tight.declared_bytes_share() == 3 << 20);  // never less than one largest bundle
  CHECK(tight.try_open(a, fake_id(1), 3 << 20, today) == TokenBudgets::Open::kReserved);
  CHECK(tight.try_open(a, fake_id(2), 1, today) == TokenBudgets::Open::kTooLarge);
  tight.cancel(b, fake_id(1));  // another token's cancel changes nothing
  CHECK(tight.try_open(a, fake_id(2), 1, today) == TokenBudgets::Open::kTooLarge);
  tight.cancel(a, fake_id(1));
  CHECK(tight.try_open(a, fake_id(2), 1, today) == TokenBudgets::Open::kReserved);
}
