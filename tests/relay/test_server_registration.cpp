// A coordinator uploads a newer registration (PUT /v1/coordinator/registration): accepted only
// when signed by the organisation key the mailbox was created with and strictly newer; it
// replaces the held one, ends the sessions of coordinators it no longer lists at once, and its
// k of n applies to bundles already stored; the unredeemed codes of coordinators it drops are
// deleted with it.
#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <optional>

#include "relay_harness.h"
#include "store/embedded/metadata_db.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

CoordinatorSecretKey clone(const CoordinatorSecretKey& k) {
  return CoordinatorSecretKey::from_text(k.to_text().span()).value();
}

// A registration of `org` listing only the coordinators at `indices`.
std::string registration_of(const TestOrganisation& org, uint64_t version,
                            const std::vector<size_t>& indices, uint16_t required_acks = 0) {
  RelayRegistration r;
  r.org = org.org.public_key();
  r.version = version;
  r.issued_at = 1'700'000'000;
  r.required_acks = required_acks;
  for (size_t i : indices)
    r.coordinator_auth_keys.push_back(org.coordinators[i].public_key().ed25519);
  auto text = r.sign(org.org);
  if (!text) throw std::runtime_error(text.error().message);
  return *text;
}

httplib::Result put_registration(TestRelay& relay, const std::string& session,
                                 const std::string& text) {
  return relay.client()->Put("/v1/coordinator/registration", bearer(session), text, "text/plain");
}

uint64_t held_version(TestRelay& relay, const std::string& mailbox) {
  auto m = relay.store->mailbox(mailbox);
  REQUIRE(m);
  REQUIRE(*m);
  return (*m)->version;
}

httplib::Result ack(httplib::SSLClient& c, const std::string& session, const Hash32& id) {
  return c.Post("/v1/coordinator/uploads/" + hex_of(id) + "/ack", bearer(session), std::string(),
                std::string());
}

// The listing entry of upload `id` for `session`.
nlohmann::json listed(httplib::SSLClient& c, const std::string& session, const Hash32& id) {
  auto res = c.Get("/v1/coordinator/uploads", bearer(session));
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const auto body = nlohmann::json::parse(res->body);
  for (const auto& u : body["uploads"])
    if (u["id"] == hex_of(id)) return u;
  return nullptr;
}

// Mints a code through `session`; returns the answer's body.
nlohmann::json mint_through(TestRelay& relay, const std::string& session) {
  auto res = relay.client()->Post("/v1/coordinator/enrollment-codes", bearer(session),
                                  std::string(), std::string());
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return nlohmann::json::parse(res->body);
}

// The integer answer of `sql` (one row, one column) in the stopped relay's metadata database.
int64_t count_rows(TestRelay& relay, const std::string& sql, const std::optional<Key32>& key = {}) {
  auto db = MetadataDb::open(relay.config.storage + "/relay.db");
  REQUIRE(db);
  auto st = db->prepare(sql.c_str());
  REQUIRE(st);
  if (key) st->bind_blob(1, *key);
  auto row = st->step();
  REQUIRE(row);
  REQUIRE(*row);
  return st->int64(0);
}

std::string upload_state(httplib::SSLClient& c, const std::string& token, const Hash32& id) {
  auto res = tus_head(c, token, id);
  REQUIRE(res);
  return res->get_header_value("Upload-State");
}

}  // namespace

TEST_CASE("a newer registration signed by the mailbox's organisation replaces the old one") {
  TestRelay relay;
  TestOrganisation org(64);
  const std::string mailbox = relay.add_mailbox(org);  // version 1, all 64 coordinators
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);

  // Version 2 lists three of them. A trailing newline (as a file has) is ignored.
  auto res = put_registration(relay, s, registration_of(org, 2, {0, 1, 2}, 2) + "\n");
  REQUIRE(res);
  CHECK(res->status == 200);
  const auto body = nlohmann::json::parse(res->body);
  CHECK(body["version"] == 2);
  CHECK(body["coordinators"] == 3);
  CHECK(held_version(relay, mailbox) == 2);
  auto active = relay.server->relay().mailboxes.find(mailbox);
  REQUIRE(active);
  REQUIRE(*active);
  CHECK((*active)->registration.coordinator_auth_keys.size() == 3);
  CHECK((*active)->required_acks() == 2);
  // A coordinator only the old registration listed can no longer open a session.
  CHECK(relay.session_attempt(org.coordinators[9], mailbox, mailbox, relay.challenge(mailbox))
            ->status == 401);

  // The largest registration (64 coordinators) fits the endpoint's 4 KiB body limit.
  const std::string largest = org.registration(3);
  CHECK(largest.size() <= 4096);
  res = put_registration(relay, s, largest);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(nlohmann::json::parse(res->body)["coordinators"] == 64);
  CHECK(relay.coordinator_session(org.coordinators[9], mailbox).size() == 43);
}

TEST_CASE("a registration signed by another organisation key is refused and changes nothing") {
  TestRelay relay;
  TestOrganisation org(2);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);

  // Another organisation's registration, listing this organisation's coordinators.
  TestOrganisation other(0);
  other.coordinators.push_back(clone(org.coordinators[0]));
  other.coordinators.push_back(clone(org.coordinators[1]));
  auto res = put_registration(relay, s, other.registration(9));
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(nlohmann::json::parse(res->body) ==
        nlohmann::json{{"error", "bad-registration"}, {"rule", "doc-untrusted-signer"}});

  // Not a registration at all, and a registration whose signature was altered.
  res = put_registration(relay, s, "registration-AAAA");
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(nlohmann::json::parse(res->body)["error"] == "bad-registration");
  std::string tampered = org.registration(2);
  char& in_signature = tampered[tampered.size() - 8];
  in_signature = in_signature == 'A' ? 'B' : 'A';
  res = put_registration(relay, s, tampered);
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(nlohmann::json::parse(res->body)["rule"] == "doc-bad-signature");
  // Another content type is refused before the body is read.
  res = relay.client()->Put("/v1/coordinator/registration", bearer(s), org.registration(2),
                            "application/octet-stream");
  REQUIRE(res);
  CHECK(res->status == 415);

  CHECK(held_version(relay, mailbox) == 1);
  CHECK(relay.client()->Get("/v1/coordinator/uploads", bearer(s))->status == 200);
}

TEST_CASE("an older or equal registration version is refused (rollback)") {
  TestRelay relay;
  TestOrganisation org(2);
  const std::string mailbox = relay.add_mailbox(org, 0, 3);
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);

  for (uint64_t version : {3u, 2u}) {
    // Even one that would drop the other coordinator: nothing changes.
    auto res = put_registration(relay, s, registration_of(org, version, {0}));
    REQUIRE(res);
    CHECK(res->status == 409);
    CHECK(nlohmann::json::parse(res->body) ==
          nlohmann::json{{"error", "registration-rollback"}, {"version", 3}});
  }
  CHECK(held_version(relay, mailbox) == 3);
  CHECK(relay.coordinator_session(org.coordinators[1], mailbox).size() == 43);

  // The store itself never replaces a registration by an older or equal version, whoever
  // writes (the operator's command runs in another process).
  CHECK(relay.store->put_mailbox(org.record(2), org.keys()).code() == Errc::kDocRollback);
  CHECK(relay.store->put_mailbox(org.record(3), org.keys()).code() == Errc::kDocRollback);
  CHECK(held_version(relay, mailbox) == 3);
  CHECK(relay.store->put_mailbox(org.record(4), org.keys()));
  CHECK(held_version(relay, mailbox) == 4);
}

TEST_CASE(
    "removing a coordinator from the registration ends its sessions at once: list, fetch, "
    "acknowledgements, publish and code minting answer 401") {
  TestRelay relay;
  TestOrganisation org(3);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  const Bytes data = test_bytes(5000, 31);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_upload_whole(*c, token, data)->status == 201);
  // Coordinator 0 holds two sessions; coordinator 1 uploads a registration without it.
  const std::string s0 = relay.coordinator_session(org.coordinators[0], mailbox);
  const std::string s0b = relay.coordinator_session(org.coordinators[0], mailbox);
  const std::string s1 = relay.coordinator_session(org.coordinators[1], mailbox);
  REQUIRE(c->Get("/v1/coordinator/uploads", bearer(s0))->status == 200);
  REQUIRE(put_registration(relay, s1, registration_of(org, 2, {1, 2}))->status == 200);

  const std::string ids = nlohmann::json{{"ids", {hex_of(id)}}}.dump();
  const std::string acks = nlohmann::json{{"acknowledge", {hex_of(id)}}}.dump();
  for (const std::string& s : {s0, s0b}) {
    CHECK(c->Get("/v1/coordinator/uploads", bearer(s))->status == 401);
    CHECK(c->Get("/v1/coordinator/uploads/" + hex_of(id), bearer(s))->status == 401);
    CHECK(ack(*c, s, id)->status == 401);
    CHECK(c->Post("/v1/coordinator/uploads/fetch", bearer(s), ids, "application/json")->status ==
          401);
    CHECK(c->Post("/v1/coordinator/uploads/acknowledgements", bearer(s), acks, "application/json")
              ->status == 401);
    CHECK(c->Put("/v1/coordinator/documents/roster", bearer(s), "x", "application/octet-stream")
              ->status == 401);
    CHECK(c->Post("/v1/coordinator/enrollment-codes", bearer(s), std::string(), std::string())
              ->status == 401);
    CHECK(c->Post("/v1/coordinator/tokens/0123456789abcdef/revoke", bearer(s), std::string(),
                  std::string())
              ->status == 401);
    CHECK(c->Get("/v1/documents/roster", bearer(s))->status == 401);
    CHECK(put_registration(relay, s, registration_of(org, 3, {0, 1, 2}))->status == 401);
  }
  // Nothing was acknowledged by the removed coordinator, and it cannot open a new session.
  CHECK(listed(*c, s1, id)["acknowledgements"] == 0);
  CHECK(relay.session_attempt(org.coordinators[0], mailbox, mailbox, relay.challenge(mailbox))
            ->status == 401);

  // A coordinator may remove itself: it is answered, then its session has ended.
  auto res = put_registration(relay, s1, registration_of(org, 3, {2}));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(nlohmann::json::parse(res->body)["coordinators"] == 1);
  CHECK(c->Get("/v1/coordinator/uploads", bearer(s1))->status == 401);
}

TEST_CASE("the remaining coordinators keep their sessions") {
  TestRelay relay;
  TestOrganisation org(3);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string s0 = relay.coordinator_session(org.coordinators[0], mailbox);
  const std::string s1 = relay.coordinator_session(org.coordinators[1], mailbox);
  const std::string s2 = relay.coordinator_session(org.coordinators[2], mailbox);
  REQUIRE(put_registration(relay, s0, registration_of(org, 2, {0, 1}))->status == 200);
  auto c = relay.client();
  CHECK(c->Get("/v1/coordinator/uploads", bearer(s0))->status == 200);
  CHECK(c->Get("/v1/coordinator/uploads", bearer(s1))->status == 200);
  CHECK(c->Get("/v1/coordinator/uploads", bearer(s2))->status == 401);
  // A session of another mailbox whose coordinator key is the same is not touched.
  TestOrganisation neighbour(0);
  neighbour.coordinators.push_back(clone(org.coordinators[2]));
  const std::string other_mailbox = relay.add_mailbox(neighbour);
  const std::string n2 = relay.coordinator_session(org.coordinators[2], other_mailbox);
  REQUIRE(put_registration(relay, s0, registration_of(org, 3, {0}))->status == 200);
  CHECK(c->Get("/v1/coordinator/uploads", bearer(n2))->status == 200);
  CHECK(c->Get("/v1/coordinator/uploads", bearer(s0))->status == 200);
  CHECK(c->Get("/v1/coordinator/uploads", bearer(s1))->status == 401);
}

TEST_CASE("a bundle's required acknowledgements follow the new registration") {
  TestRelay relay;
  TestOrganisation org(3);
  const std::string mailbox = relay.add_mailbox(org);  // k = 0: all three
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  const Bytes x = test_bytes(4000, 41), y = test_bytes(4000, 42), z = test_bytes(4000, 43);
  for (const Bytes* b : {&x, &y, &z}) REQUIRE(tus_upload_whole(*c, token, *b)->status == 201);
  const std::string s0 = relay.coordinator_session(org.coordinators[0], mailbox);
  const std::string s1 = relay.coordinator_session(org.coordinators[1], mailbox);
  REQUIRE(ack(*c, s0, sha256_of(x))->status == 200);
  REQUIRE(ack(*c, s0, sha256_of(z))->status == 200);
  REQUIRE(ack(*c, s1, sha256_of(z))->status == 200);
  CHECK(listed(*c, s0, sha256_of(y))["required"] == 3);

  // k = 2 of 3: z (two acknowledgements) is delivered at once; x and y now need two.
  REQUIRE(put_registration(relay, s0, registration_of(org, 2, {0, 1, 2}, 2))->status == 200);
  CHECK(upload_state(*c, token, sha256_of(z)) == "delivered");
  CHECK(listed(*c, s0, sha256_of(x))["required"] == 2);
  CHECK(listed(*c, s0, sha256_of(y))["required"] == 2);
  auto a = ack(*c, s1, sha256_of(x));
  REQUIRE(a);
  CHECK(nlohmann::json::parse(a->body) ==
        nlohmann::json{{"state", "delivered"}, {"acknowledgements", 2}, {"required", 2}});

  // Dropping coordinator 0 with k = 0: y needs both remaining coordinators, and an
  // acknowledgement by the dropped key no longer counts.
  REQUIRE(ack(*c, s0, sha256_of(y))->status == 200);
  REQUIRE(put_registration(relay, s1, registration_of(org, 3, {1, 2}))->status == 200);
  const auto entry = listed(*c, s1, sha256_of(y));
  CHECK(entry["required"] == 2);
  CHECK(entry["acknowledgements"] == 0);
  // Dropping coordinator 2 as well leaves one: coordinator 1's acknowledgement delivers y.
  REQUIRE(ack(*c, s1, sha256_of(y))->status == 200);
  CHECK(upload_state(*c, token, sha256_of(y)) == "stored");
  REQUIRE(put_registration(relay, s1, registration_of(org, 4, {1}))->status == 200);
  CHECK(upload_state(*c, token, sha256_of(y)) == "delivered");
}

TEST_CASE("a download being sent when its session ends is cut before its next part") {
  TestRelay relay;
  TestOrganisation org(2);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  // Larger than the socket buffers between the two ends, so most of it is still unsent.
  const Bytes data = test_bytes(48u << 20, 51);
  const Hash32 id = sha256_of(data);
  auto c = relay.client();
  REQUIRE(tus_upload_whole(*c, token, data)->status == 201);
  const std::string s0 = relay.coordinator_session(org.coordinators[0], mailbox);
  const std::string s1 = relay.coordinator_session(org.coordinators[1], mailbox);

  size_t received = 0;
  bool updated = false;
  auto res =
      c->Get("/v1/coordinator/uploads/" + hex_of(id), bearer(s0), [&](const char*, size_t n) {
        received += n;
        if (!updated) {
          updated = true;
          auto put = put_registration(relay, s1, registration_of(org, 2, {1}));
          CHECK((put && put->status == 200));
        }
        return true;
      });
  CHECK(updated);
  CHECK(received < data.size());
  // The remaining coordinator's download is whole.
  received = 0;
  res = c->Get("/v1/coordinator/uploads/" + hex_of(id), bearer(s1), [&](const char*, size_t n) {
    received += n;
    return true;
  });
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(received == data.size());
}

TEST_CASE(
    "a registration that removes a coordinator deletes the codes it minted and did not hand out; "
    "the remaining coordinators' codes and the operator's still work") {
  TestRelay relay;
  TestOrganisation org(2);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string sa = relay.coordinator_session(org.coordinators[0], mailbox);
  const std::string sb = relay.coordinator_session(org.coordinators[1], mailbox);
  const auto by_a = mint_through(relay, sa);
  const auto by_b = mint_through(relay, sb);
  const auto by_b_handed_out = mint_through(relay, sb);
  const std::string by_operator = relay.mint_code(mailbox);
  REQUIRE(relay.redeem(by_b_handed_out["code"])->status == 200);
  REQUIRE(put_registration(relay, sa, registration_of(org, 2, {0}))->status == 200);

  // B's code gets the answer of any bad code; A's and the operator's are redeemed.
  auto refused = relay.redeem(by_b["code"]);
  REQUIRE(refused);
  auto unknown = relay.redeem("abcdefghijklmnopqrstuvwxyz234567");
  REQUIRE(unknown);
  CHECK(refused->status == unknown->status);
  CHECK(refused->body == unknown->body);
  auto from_a = relay.redeem(by_a["code"]);
  REQUIRE(from_a);
  CHECK(from_a->status == 200);
  auto from_operator = relay.redeem(by_operator);
  REQUIRE(from_operator);
  CHECK(from_operator->status == 200);
  // The token B's code gave before the removal stays (revocation ends it).
  auto ids = relay.store->token_ids(mailbox);
  REQUIRE(ids);
  CHECK(ids->size() == 3);
  CHECK(std::find(ids->begin(), ids->end(), by_b_handed_out["code_id"].get<std::string>()) !=
        ids->end());
}

TEST_CASE("a redeemed code leaves no row linking its token to the coordinator that minted it") {
  TestRelay relay;
  TestOrganisation org(2);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string sa = relay.coordinator_session(org.coordinators[0], mailbox);
  const Key32 a = org.coordinators[0].public_key().ed25519;
  const auto minted = mint_through(relay, sa);
  (void)mint_through(relay, sa);  // a second code, not redeemed
  auto redeemed = relay.redeem(minted["code"]);
  REQUIRE(redeemed);
  REQUIRE(redeemed->status == 200);
  relay.stop();
  // The unredeemed code still names its minter; the redeemed one's row is gone, and a token row
  // has no column that could name it.
  CHECK(count_rows(relay, "SELECT COUNT(*) FROM enrollment_codes WHERE minter = ?1", a) == 1);
  CHECK(count_rows(relay, "SELECT COUNT(*) FROM enrollment_codes WHERE code_id = '" +
                              minted["code_id"].get<std::string>() + "'") == 0);
  CHECK(count_rows(relay, "SELECT COUNT(*) FROM tokens WHERE token_id = '" +
                              minted["code_id"].get<std::string>() + "'") == 1);
  CHECK(count_rows(relay,
                   "SELECT COUNT(*) FROM pragma_table_info('tokens') "
                   "WHERE name NOT IN ('hash', 'mailbox_id', 'token_id')") == 0);
}

TEST_CASE("a code minted under a registration that was replaced meanwhile is not stored") {
  TestRelay relay;
  TestOrganisation org(2);
  const std::string mailbox = relay.add_mailbox(org);
  const Key32 b = org.coordinators[1].public_key().ed25519;
  const std::string sa = relay.coordinator_session(org.coordinators[0], mailbox);
  REQUIRE(put_registration(relay, sa, registration_of(org, 2, {0}))->status == 200);
  // B's session was checked against version 1; version 2 came first.
  auto late = mint_enrollment_code(*relay.store, mailbox, relay.clock.now(), 1, CodeMinter{b, 1});
  CHECK(late.code() == Errc::kDocRollback);
  relay.stop();
  CHECK(count_rows(relay, "SELECT COUNT(*) FROM enrollment_codes") == 0);
}
