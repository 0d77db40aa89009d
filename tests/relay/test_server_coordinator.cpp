// Coordinator endpoints against the real server: listing in pages, resumable download of one
// range, acknowledgement until every (or k of n) coordinator has it, then deletion with a
// tombstone that answers "delivered"; retention warnings; published documents; enrollment codes.
#include <catch2/catch_test_macros.hpp>

#include "relay_harness.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

nlohmann::json get_json(httplib::SSLClient& c, const std::string& path,
                        const std::string& session) {
  auto res = c.Get(path, bearer(session));
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return nlohmann::json::parse(res->body);
}

}  // namespace

TEST_CASE(
    "coordinators list, download by range, acknowledge; the last ack deletes, leaving a "
    "tombstone that answers delivered") {
  TestRelay relay;
  TestOrganisation org(2);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  const Bytes data = test_bytes(200'000, 1);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_upload_whole(*c, token, data)->status == 201);
  // A partial upload is never listed.
  const Bytes partial = test_bytes(9000, 2);
  REQUIRE(tus_create(*c, token, sha256_of(partial), partial.size()) == 201);

  const std::string s0 = relay.coordinator_session(org.coordinators[0], mailbox);
  const std::string s1 = relay.coordinator_session(org.coordinators[1], mailbox);
  auto list = get_json(*c, "/v1/coordinator/uploads", s0);
  REQUIRE(list["uploads"].size() == 1);
  const auto& item = list["uploads"][0];
  CHECK(item["id"] == hex_of(id));
  CHECK(item["size"] == data.size());
  CHECK(item["arrival"] == day_text(relay.clock.today()));
  CHECK(item["acknowledged"] == false);
  CHECK(item["required"] == 2);
  CHECK_FALSE(item.contains("warning"));
  CHECK(list["next"].is_null());

  // Download: whole, then resumed from an offset, then a suffix.
  const std::string path = "/v1/coordinator/uploads/" + hex_of(id);
  auto whole = c->Get(path, bearer(s0));
  REQUIRE(whole);
  CHECK(whole->status == 200);
  CHECK(whole->body == body_of(data));
  CHECK(whole->get_header_value("Accept-Ranges") == "bytes");
  auto h = bearer(s0);
  h.emplace("Range", "bytes=150000-");
  auto tail = c->Get(path, h);
  REQUIRE(tail);
  CHECK(tail->status == 206);
  CHECK(tail->get_header_value("Content-Range") == "bytes 150000-199999/200000");
  CHECK(tail->body == body_of(ByteView(data).subspan(150'000)));
  auto h2 = bearer(s0);
  h2.emplace("Range", "bytes=10-19");
  auto mid = c->Get(path, h2);
  REQUIRE(mid);
  CHECK(mid->status == 206);
  CHECK(mid->body == body_of(ByteView(data).subspan(10, 10)));

  // The first acknowledgement keeps it; the second (all of n = 2) deletes it.
  auto ack0 = c->Post(path + "/ack", bearer(s0), std::string(), std::string());
  REQUIRE(ack0);
  CHECK(ack0->status == 200);
  CHECK(nlohmann::json::parse(ack0->body) ==
        nlohmann::json{{"state", "stored"}, {"acknowledgements", 1}, {"required", 2}});
  auto pending0 = get_json(*c, "/v1/coordinator/uploads?pending=1", s0);
  CHECK(pending0["uploads"].empty());
  auto pending1 = get_json(*c, "/v1/coordinator/uploads?pending=1", s1);
  CHECK(pending1["uploads"].size() == 1);
  auto ack1 = c->Post(path + "/ack", bearer(s1), std::string(), std::string());
  REQUIRE(ack1);
  CHECK(nlohmann::json::parse(ack1->body)["state"] == "delivered");
  CHECK_FALSE(file_exists(relay.store->stored_path(mailbox, id)));
  CHECK(get_json(*c, "/v1/coordinator/uploads", s0)["uploads"].empty());
  CHECK(c->Get(path, bearer(s0))->status == 404);

  // The device asks: delivered. A late re-upload is answered delivered, not stored again.
  auto head = tus_head(*c, token, id);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->get_header_value("Upload-State") == "delivered");
  auto again = tus_upload_whole(*c, token, data);
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(again->get_header_value("Upload-State") == "delivered");
  CHECK_FALSE(file_exists(relay.store->stored_path(mailbox, id)));
  CHECK_FALSE(file_exists(relay.store->partial_path(mailbox, id)));
}

TEST_CASE("with k of n, the k-th acknowledgement deletes the bundle") {
  TestRelay relay;
  TestOrganisation org(3);
  const std::string mailbox = relay.add_mailbox(org, 1);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  const Bytes data = test_bytes(5000, 3);
  REQUIRE(tus_upload_whole(*c, token, data)->status == 201);
  const std::string s = relay.coordinator_session(org.coordinators[2], mailbox);
  auto ack = c->Post("/v1/coordinator/uploads/" + hex_of(sha256_of(data)) + "/ack", bearer(s),
                     std::string(), std::string());
  REQUIRE(ack);
  CHECK(nlohmann::json::parse(ack->body)["state"] == "delivered");
  CHECK(nlohmann::json::parse(ack->body)["required"] == 1);
}

TEST_CASE("listing is paginated in id order") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  std::vector<std::string> ids;
  for (uint32_t i = 0; i < 5; i++) {
    const Bytes b = test_bytes(4000, 10 + i);
    REQUIRE(tus_upload_whole(*c, token, b)->status == 201);
    ids.push_back(hex_of(sha256_of(b)));
  }
  std::sort(ids.begin(), ids.end());
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);
  std::vector<std::string> seen;
  std::string next;
  for (int page = 0; page < 5; page++) {
    auto list =
        get_json(*c, "/v1/coordinator/uploads?limit=2" + (next.empty() ? "" : "&after=" + next), s);
    for (const auto& u : list["uploads"]) seen.push_back(u["id"]);
    if (list["next"].is_null()) break;
    next = list["next"];
  }
  CHECK(seen == ids);
  CHECK(c->Get("/v1/coordinator/uploads?limit=0", bearer(s))->status == 400);
  CHECK(c->Get("/v1/coordinator/uploads?after=zz", bearer(s))->status == 400);
}

TEST_CASE("an operator's retention shows warnings at least 7 days before it deletes") {
  TestRelay relay([](RelayConfig& c) { c.retention_days = 10; });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);
  auto c = relay.client();
  const Bytes data = test_bytes(5000, 20);
  REQUIRE(tus_upload_whole(*c, token, data)->status == 201);
  const Day arrival = relay.clock.today();
  REQUIRE(relay.server->housekeep());
  CHECK_FALSE(get_json(*c, "/v1/coordinator/uploads", s)["uploads"][0].contains("warning"));
  relay.clock.advance(3 * kSecondsPerDay);  // 7 days before arrival + 10
  const std::string later = relay.coordinator_session(org.coordinators[0], mailbox);
  auto warned = get_json(*c, "/v1/coordinator/uploads", later)["uploads"][0];
  CHECK(warned["deletion"] == day_text(arrival + 10));
  CHECK(warned["warning"].get<std::string>().find(day_text(arrival + 10)) != std::string::npos);
  relay.clock.advance(6 * kSecondsPerDay);
  REQUIRE(relay.server->housekeep());
  CHECK(relay.store->find_upload(mailbox, sha256_of(data))->upload);  // the day before: kept
  relay.clock.advance(kSecondsPerDay);
  REQUIRE(relay.server->housekeep());
  CHECK_FALSE(relay.store->find_upload(mailbox, sha256_of(data))->upload);
}

TEST_CASE("partial uploads expire after the configured days without writes") {
  TestRelay relay([](RelayConfig& c) { c.partial_expiry_days = 7; });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  const Bytes data = test_bytes(5000, 21);
  REQUIRE(tus_create(*c, token, sha256_of(data), data.size()) == 201);
  const std::string expires =
      tus_head(*c, token, sha256_of(data))->get_header_value("Upload-Expires");
  CHECK(expires == http_date_of_day(relay.clock.today() + 8));
  relay.clock.advance(7 * kSecondsPerDay);
  REQUIRE(relay.server->housekeep());
  CHECK(tus_head(*relay.client(), token, sha256_of(data))->status == 200);
  relay.clock.advance(kSecondsPerDay);
  REQUIRE(relay.server->housekeep());
  CHECK(tus_head(*relay.client(), token, sha256_of(data))->status == 404);
}

TEST_CASE("a coordinator publishes a document that devices of the mailbox fetch") {
  TestRelay relay;
  TestOrganisation org(1), other(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string other_mailbox = relay.add_mailbox(other);
  const std::string token = relay.device_token(mailbox);
  const std::string stranger = relay.device_token(other_mailbox);
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);
  auto c = relay.client();
  const std::string blob = body_of(test_bytes(3000, 22));
  auto put =
      c->Put("/v1/coordinator/documents/roster", bearer(s), blob, "application/octet-stream");
  REQUIRE(put);
  CHECK(put->status == 204);
  auto got = c->Get("/v1/documents/roster", bearer(token));
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(got->body == blob);
  CHECK(c->Get("/v1/documents/roster", bearer(stranger))->status == 404);
  CHECK(c->Get("/v1/documents/roster", httplib::Headers{})->status == 401);
  CHECK(c->Get("/v1/documents/missing", bearer(token))->status == 404);
  CHECK(c->Put("/v1/coordinator/documents/roster", bearer(token), blob, "application/octet-stream")
            ->status == 401);
}

TEST_CASE("a coordinator mints an enrollment code that a device redeems") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);
  auto res = relay.client()->Post("/v1/coordinator/enrollment-codes?hours=2", bearer(s),
                                  std::string(), std::string());
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const auto body = nlohmann::json::parse(res->body);
  CHECK(body["expires_at"].get<int64_t>() % 3600 == 0);
  CHECK(body["expires_at"].get<int64_t>() - relay.clock.now() <= 3 * 3600);
  auto redeemed = relay.redeem(body["code"]);
  REQUIRE(redeemed);
  CHECK(redeemed->status == 200);
  CHECK(nlohmann::json::parse(redeemed->body)["token_id"] == body["code_id"]);
}

TEST_CASE("a newer registration replaces the mailbox's; another organisation's cannot") {
  TestRelay relay;
  TestOrganisation org(2);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  const Bytes data = test_bytes(5000, 23);
  REQUIRE(tus_upload_whole(*c, token, data)->status == 201);
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);
  REQUIRE(c->Post("/v1/coordinator/uploads/" + hex_of(sha256_of(data)) + "/ack", bearer(s),
                  std::string(), std::string())
              ->status == 200);
  // Version 2 asks for one acknowledgement: the bundle already has it and is delivered.
  auto v2 =
      relay.server->relay().mailboxes.register_mailbox(org.registration(2, 1), relay.clock.today());
  REQUIRE(v2);
  CHECK(v2->replaced);
  CHECK(tus_head(*c, token, sha256_of(data))->get_header_value("Upload-State") == "delivered");
  // A coordinator that a newer registration drops loses its session at once.
  RelayRegistration v3;
  v3.org = org.org.public_key();
  v3.version = 3;
  v3.issued_at = relay.clock.now();
  v3.coordinator_auth_keys = {org.coordinators[1].public_key().ed25519};
  auto v3_text = v3.sign(org.org);
  REQUIRE(v3_text);
  REQUIRE(relay.server->relay().mailboxes.register_mailbox(*v3_text, relay.clock.today()));
  CHECK(c->Get("/v1/coordinator/uploads", bearer(s))->status == 401);
  const std::string s1 = relay.coordinator_session(org.coordinators[1], mailbox);
  CHECK(c->Get("/v1/coordinator/uploads", bearer(s1))->status == 200);
  auto rollback =
      relay.server->relay().mailboxes.register_mailbox(org.registration(1), relay.clock.today());
  CHECK(rollback.code() == Errc::kDocRollback);
}
