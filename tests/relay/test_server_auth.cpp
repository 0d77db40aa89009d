// Authentication against the real server: enrollment codes (single use, expiry), upload tokens
// (malformed, unknown, revoked; the mailbox comes from the token), coordinator challenges
// (bound to the mailbox, single use, fresh) and request rate limits.
#include <catch2/catch_test_macros.hpp>

#include "relay_harness.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

TEST_CASE("an enrollment code is redeemed once, and not after it expires") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string code = relay.mint_code(mailbox, 1);
  auto first = relay.redeem(code);
  REQUIRE(first);
  REQUIRE(first->status == 200);
  const auto body = nlohmann::json::parse(first->body);
  CHECK(body["token"].get<std::string>().size() == 43);
  CHECK(body["token_id"].get<std::string>().size() == 16);
  CHECK(first->get_header_value("Cache-Control") == "no-store");
  auto replay = relay.redeem(code);
  REQUIRE(replay);
  CHECK(replay->status == 403);
  CHECK(replay->body == R"({"error":"invalid-code"})");

  const std::string late = relay.mint_code(mailbox, 1);
  relay.clock.advance(2 * 3600);
  auto expired = relay.redeem(late);
  REQUIRE(expired);
  CHECK(expired->status == 403);
  CHECK(expired->body == replay->body);  // an expired code looks like any unknown code

  for (const std::string& bad :
       std::vector<std::string>{"", "short", std::string(32, '1'), code + "a"}) {
    auto res = relay.redeem(bad);
    REQUIRE(res);
    CHECK(res->status == 403);
  }
  auto not_json = relay.client()->Post("/v1/enroll", "code=x", "application/json");
  REQUIRE(not_json);
  CHECK(not_json->status == 400);
}

TEST_CASE("malformed, unknown and revoked tokens are refused with 401") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  auto options_with = [&](const httplib::Headers& h) {
    auto res = relay.client()->Options("/v1/uploads", h);
    return res ? res->status : -1;
  };
  CHECK(options_with(bearer(token)) == 204);
  CHECK(options_with({}) == 401);
  CHECK(options_with(bearer(random_bearer_token())) == 401);
  CHECK(options_with(bearer(token.substr(1))) == 401);
  CHECK(options_with({{"Authorization", "Basic " + token}}) == 401);
  CHECK(options_with({{"Authorization", "Bearer  " + token}}) == 401);

  // Revoked by a coordinator, through the token id the code carried.
  const std::string code = relay.mint_code(mailbox);
  auto redeemed = relay.redeem(code);
  REQUIRE(redeemed);
  const auto body = nlohmann::json::parse(redeemed->body);
  const std::string second = body["token"];
  CHECK(options_with(bearer(second)) == 204);
  const std::string session = relay.coordinator_session(org.coordinators[0], mailbox);
  auto revoke = c->Post("/v1/coordinator/tokens/" + body["token_id"].get<std::string>() + "/revoke",
                        bearer(session), std::string(), std::string());
  REQUIRE(revoke);
  CHECK(revoke->status == 200);
  CHECK(options_with(bearer(second)) == 401);
  CHECK(options_with(bearer(token)) == 204);  // only that device's token
  // Revoked by the operator (`satchel-relay mailbox revoke --all`).
  REQUIRE(relay.store->revoke_tokens(mailbox, std::nullopt));
  CHECK(options_with(bearer(token)) == 401);
}

TEST_CASE("the mailbox comes from the token: one mailbox's device cannot see another's uploads") {
  TestRelay relay;
  TestOrganisation a(1), b(1);
  const std::string mailbox_a = relay.add_mailbox(a);
  const std::string mailbox_b = relay.add_mailbox(b);
  const std::string token_a = relay.device_token(mailbox_a);
  const std::string token_b = relay.device_token(mailbox_b);
  auto c = relay.client();
  const Bytes data = test_bytes(5000, 1);
  REQUIRE(tus_upload_whole(*c, token_a, data)->status == 201);
  CHECK(tus_head(*c, token_a, sha256_of(data))->status == 200);
  CHECK(tus_head(*c, token_b, sha256_of(data))->status == 404);
  // The same bundle sent to b is b's own upload.
  REQUIRE(tus_upload_whole(*c, token_b, data)->status == 201);
  CHECK(relay.store->find_upload(mailbox_b, sha256_of(data))->upload);
  // Coordinators and devices do not share endpoints.
  CHECK(c->Get("/v1/coordinator/uploads", bearer(token_a))->status == 401);
  const std::string session = relay.coordinator_session(a.coordinators[0], mailbox_a);
  CHECK(tus_head(*c, session, sha256_of(data))->status == 401);
}

TEST_CASE("a coordinator challenge opens a session only for its own mailbox, once, while fresh") {
  TestRelay relay;
  TestOrganisation a(2), b(1);
  const std::string mailbox_a = relay.add_mailbox(a);
  const std::string mailbox_b = relay.add_mailbox(b);
  auto attempt = [&](const CoordinatorSecretKey& key, const std::string& signed_for,
                     const std::string& post_to, const std::string& nonce) {
    auto res = relay.session_attempt(key, signed_for, post_to, nonce);
    return res ? res->status : -1;
  };

  // A challenge for mailbox a, replayed to mailbox b (whose coordinator is also a's), fails:
  // both the signed message and the nonce are bound to a.
  TestOrganisation shared(1);
  shared.coordinators[0] = std::move(a.coordinators[0]);
  a.coordinators[0] = CoordinatorSecretKey::generate();
  const std::string nonce_a = relay.challenge(mailbox_a);
  CHECK(attempt(shared.coordinators[0], mailbox_a, mailbox_b, nonce_a) == 401);
  // Signed for b with a's nonce: the nonce was issued for a (and is now spent anyway).
  const std::string nonce_a2 = relay.challenge(mailbox_a);
  CHECK(attempt(b.coordinators[0], mailbox_b, mailbox_b, nonce_a2) == 401);
  // The proper flow works, once.
  const std::string nonce_b = relay.challenge(mailbox_b);
  CHECK(attempt(b.coordinators[0], mailbox_b, mailbox_b, nonce_b) == 200);
  CHECK(attempt(b.coordinators[0], mailbox_b, mailbox_b, nonce_b) == 401);
  // A coordinator not registered for the mailbox.
  TestOrganisation stranger(1);
  CHECK(attempt(stranger.coordinators[0], mailbox_b, mailbox_b, relay.challenge(mailbox_b)) == 401);
  // A stale challenge.
  const std::string stale = relay.challenge(mailbox_a);
  relay.clock.advance(121);
  CHECK(attempt(a.coordinators[1], mailbox_a, mailbox_a, stale) == 401);
  // A nonce the relay never issued.
  CHECK(attempt(a.coordinators[1], mailbox_a, mailbox_a, random_bearer_token()) == 401);
  // Any well-formed mailbox id gets a challenge: existence is not revealed.
  CHECK(relay.client()->Get("/v1/coordinator/challenge?mailbox=" + std::string(32, 'a'))->status ==
        200);
  CHECK(relay.client()->Get("/v1/coordinator/challenge?mailbox=../etc")->status == 400);
}

TEST_CASE("a coordinator session expires") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string session = relay.coordinator_session(org.coordinators[0], mailbox);
  auto c = relay.client();
  CHECK(c->Get("/v1/coordinator/uploads", bearer(session))->status == 200);
  relay.clock.advance(901);
  CHECK(c->Get("/v1/coordinator/uploads", bearer(session))->status == 401);
}

TEST_CASE("a token over its request rate gets 429 with Retry-After") {
  TestRelay relay([](RelayConfig& c) { c.limits.token_requests_per_minute = 5; });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  const std::string other = relay.device_token(mailbox);
  auto c = relay.client();
  for (int i = 0; i < 5; i++) CHECK(c->Options("/v1/uploads", bearer(token))->status == 204);
  auto limited = relay.client()->Options("/v1/uploads", bearer(token));
  REQUIRE(limited);
  CHECK(limited->status == 429);
  CHECK(limited->get_header_value("Retry-After") == "12");
  CHECK(relay.client()->Options("/v1/uploads", bearer(other))->status == 204);
  relay.clock.advance(12);
  CHECK(relay.client()->Options("/v1/uploads", bearer(token))->status == 204);
}

TEST_CASE("a token over its daily bytes gets 429 until the next UTC day") {
  TestRelay relay([](RelayConfig& c) { c.limits.token_daily_bytes = 30'000; });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  REQUIRE(tus_upload_whole(*c, token, test_bytes(20'000, 2))->status == 201);
  auto over = tus_upload_whole(*relay.client(), token, test_bytes(20'000, 3));
  REQUIRE(over);
  CHECK(over->status == 429);
  const int retry = std::atoi(over->get_header_value("Retry-After").c_str());
  CHECK(retry >= 1);
  CHECK(retry <= 86400);
  relay.clock.advance(retry);
  // The refused request had created the (empty) upload; the retry continues it.
  auto next_day = tus_upload_whole(*relay.client(), token, test_bytes(20'000, 3));
  REQUIRE(next_day);
  CHECK(next_day->status == 200);
  CHECK(next_day->get_header_value("Upload-State") == "stored");
}

TEST_CASE("behind a TLS proxy, challenges are bound to the proxy's pin from the configuration") {
  Hash32 proxy_pin{};
  proxy_pin.fill(0x5a);
  TestRelay relay([&](RelayConfig& c) {
    c.tls = false;
    c.challenge_pin = proxy_pin;
  });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  httplib::Client plain("127.0.0.1", relay.port());
  auto attempt = [&](const Hash32& pin) {
    auto c = plain.Get("/v1/coordinator/challenge?mailbox=" + mailbox);
    REQUIRE(c);
    REQUIRE(c->status == 200);
    const std::string nonce = nlohmann::json::parse(c->body)["nonce"];
    const int64_t issued_at = relay.clock.now();
    auto msg = relay_challenge_message(pin, as_bytes(mailbox), as_bytes(nonce), issued_at);
    REQUIRE(msg);
    const auto sig = sign_relay_challenge(org.coordinators[0], *msg);
    nlohmann::json body = {{"mailbox", mailbox},
                           {"key", to_hex(org.coordinators[0].public_key().ed25519)},
                           {"nonce", nonce},
                           {"issued_at", issued_at},
                           {"signature", to_base64url(sig)}};
    auto res = plain.Post("/v1/coordinator/session", body.dump(), "application/json");
    return res ? res->status : -1;
  };
  // A signature over the relay's own certificate pin is an interception: refused.
  CHECK(attempt(certificate_pin(relay.cert_path).value()) == 401);
  CHECK(attempt(proxy_pin) == 200);
}
