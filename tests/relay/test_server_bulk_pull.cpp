// Bulk pulls against the real server: POST /v1/coordinator/uploads/fetch (framed bundles in
// request order, exact Content-Length, 16 MiB of bundles at most) and
// /v1/coordinator/uploads/acknowledgements (held and not_mine in one request), their refusals
// and limits, and how declines show in the listing.
#include <catch2/catch_test_macros.hpp>
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "relay_harness.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

constexpr const char* kFetch = "/v1/coordinator/uploads/fetch";
constexpr const char* kAcks = "/v1/coordinator/uploads/acknowledgements";
constexpr size_t kFrameHeader = 41;       // id (32) || status (1) || length (8, little-endian)
constexpr size_t kBatchBody = 96 * 1024;  // the body limit of both batch endpoints

// A relay with one mailbox of `n` coordinators (`required` of them deliver), a device token and
// a session for each coordinator.
struct Bulk {
  TestRelay relay;
  TestOrganisation org;
  std::string mailbox;
  std::string token;
  std::vector<std::string> sessions;
  std::unique_ptr<httplib::SSLClient> c;

  explicit Bulk(size_t n, uint16_t required = 0) : org(n) {
    mailbox = relay.add_mailbox(org, required);
    token = relay.device_token(mailbox);
    for (const auto& k : org.coordinators)
      sessions.push_back(relay.coordinator_session(k, mailbox));
    c = relay.client();
    c->set_read_timeout(20, 0);
    c->set_write_timeout(20, 0);
  }

  // Uploads `data` whole; returns its id.
  Hash32 upload(const Bytes& data) {
    auto res = tus_upload_whole(*c, token, data);
    REQUIRE(res);
    REQUIRE(res->status == 201);
    return sha256_of(data);
  }

  httplib::Result post(const char* path, size_t who, const std::string& body) {
    return c->Post(path, bearer(sessions.at(who)), body, "application/json");
  }
  httplib::Result fetch(size_t who, const std::vector<Hash32>& ids) {
    nlohmann::json list = nlohmann::json::array();
    for (const Hash32& id : ids) list.push_back(hex_of(id));
    return post(kFetch, who, nlohmann::json{{"ids", list}}.dump());
  }
  // Posts acknowledgements; requires a 200 and returns its "results".
  nlohmann::json acknowledge(size_t who, const std::vector<Hash32>& held,
                             const std::vector<Hash32>& not_mine) {
    nlohmann::json body = nlohmann::json::object();
    body["acknowledge"] = nlohmann::json::array();
    body["not_mine"] = nlohmann::json::array();
    for (const Hash32& id : held) body["acknowledge"].push_back(hex_of(id));
    for (const Hash32& id : not_mine) body["not_mine"].push_back(hex_of(id));
    auto res = post(kAcks, who, body.dump());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Type").rfind("application/json", 0) == 0);
    return nlohmann::json::parse(res->body).at("results");
  }
  // The listing's items as coordinator `who` sees them, by id.
  std::map<std::string, nlohmann::json> listing(size_t who, bool pending = false) {
    auto res = c->Get(std::string("/v1/coordinator/uploads") + (pending ? "?pending=1" : ""),
                      bearer(sessions.at(who)));
    REQUIRE(res);
    REQUIRE(res->status == 200);
    std::map<std::string, nlohmann::json> items;
    const auto page = nlohmann::json::parse(res->body);
    REQUIRE(page["next"].is_null());
    for (const auto& u : page["uploads"]) items[u["id"].get<std::string>()] = u;
    return items;
  }
  bool stored(const Hash32& id) {
    auto l = relay.store->find_upload(mailbox, id);
    REQUIRE(l);
    return l->upload && l->upload->state == UploadState::kStored;
  }
};

// `n` distinct ids that no upload has.
std::vector<Hash32> unknown_ids(size_t n, uint32_t salt = 0) {
  std::vector<Hash32> ids;
  for (size_t i = 0; i < n; i++) {
    const std::string s = "unknown-" + std::to_string(salt) + "-" + std::to_string(i);
    ids.push_back(sha256_of(as_bytes(s)));
  }
  return ids;
}

struct Frame {
  Hash32 id{};
  int status = -1;
  uint64_t length = 0;
  std::string bytes;
};

// Splits a fetch answer into its frames; fails unless it is exactly a sequence of frames.
std::vector<Frame> frames_of(const std::string& body) {
  std::vector<Frame> frames;
  size_t at = 0;
  while (at < body.size()) {
    REQUIRE(body.size() - at >= kFrameHeader);
    Frame f;
    std::copy(body.begin() + static_cast<ptrdiff_t>(at),
              body.begin() + static_cast<ptrdiff_t>(at + 32), f.id.begin());
    f.status = static_cast<uint8_t>(body[at + 32]);
    for (int i = 0; i < 8; i++)
      f.length |= static_cast<uint64_t>(static_cast<uint8_t>(body[at + 33 + i])) << (8 * i);
    at += kFrameHeader;
    REQUIRE(body.size() - at >= f.length);
    f.bytes = body.substr(at, static_cast<size_t>(f.length));
    at += static_cast<size_t>(f.length);
    frames.push_back(std::move(f));
  }
  return frames;
}

std::string error_of(const httplib::Result& res) {
  REQUIRE(res);
  const auto j = nlohmann::json::parse(res->body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "";
}

// `json` padded with spaces (still valid JSON) to exactly `size` bytes.
std::string padded(std::string json, size_t size) {
  REQUIRE(json.size() <= size);
  json.append(size - json.size(), ' ');
  return json;
}

}  // namespace

TEST_CASE(
    "fetch answers one exact frame per id in request order: the bytes of stored uploads, status 1 "
    "for unknown, partial and delivered ones") {
  Bulk b(2, 1);
  const Bytes small = test_bytes(5000, 1);     // kept in a pack
  const Bytes large = test_bytes(700'000, 2);  // a data file, sent in several pieces
  const Bytes tiny = test_bytes(1, 3);
  const Bytes delivered = test_bytes(6000, 4);
  const Hash32 is = b.upload(small), il = b.upload(large), it = b.upload(tiny);
  const Hash32 id = b.upload(delivered);
  REQUIRE(b.acknowledge(0, {id}, {})[0]["state"] == "delivered");
  const Bytes partial = test_bytes(9000, 5);
  const Hash32 ip = sha256_of(partial);
  REQUIRE(tus_create(*b.c, b.token, ip, partial.size()) == 201);
  const Hash32 iu = unknown_ids(1)[0];

  const std::vector<Hash32> order{il, iu, is, id, ip, it};
  auto res = b.fetch(1, order);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/octet-stream");
  CHECK(res->get_header_value("Cache-Control") == "no-store");
  const size_t expected = 6 * kFrameHeader + large.size() + small.size() + tiny.size();
  CHECK(res->get_header_value("Content-Length") == std::to_string(expected));
  CHECK(res->body.size() == expected);
  const auto frames = frames_of(res->body);
  REQUIRE(frames.size() == order.size());
  for (size_t i = 0; i < order.size(); i++) CHECK(frames[i].id == order[i]);
  const std::vector<const Bytes*> content{&large, nullptr, &small, nullptr, nullptr, &tiny};
  for (size_t i = 0; i < order.size(); i++) {
    CAPTURE(i);
    if (content[i]) {
      CHECK(frames[i].status == 0);
      CHECK(frames[i].length == content[i]->size());
      CHECK(frames[i].bytes == body_of(*content[i]));
    } else {
      CHECK(frames[i].status == 1);
      CHECK(frames[i].length == 0);
      CHECK(frames[i].bytes.empty());
    }
  }
  // The header's length is little-endian: 700,000 = 0x0AAE60.
  CHECK(static_cast<uint8_t>(res->body[33]) == 0x60);
  CHECK(static_cast<uint8_t>(res->body[34]) == 0xAE);
  CHECK(static_cast<uint8_t>(res->body[35]) == 0x0A);
  CHECK(res->body.substr(36, 5) == std::string(5, '\0'));
  // Fetching acknowledges nothing.
  CHECK(b.stored(is));
  CHECK(b.listing(1, true).size() == 3);

  // Only unknown ids: frames of status 1 and nothing else.
  auto none = b.fetch(0, unknown_ids(3, 1));
  REQUIRE(none);
  REQUIRE(none->status == 200);
  CHECK(none->body.size() == 3 * kFrameHeader);
  for (const Frame& f : frames_of(none->body)) CHECK(f.status == 1);
}

TEST_CASE("fetch takes 1 to 1000 distinct well-formed ids and refuses anything else with 400") {
  Bulk b(1);
  const Hash32 x = b.upload(test_bytes(3000, 10));
  const std::string hx = hex_of(x);
  std::string upper = hx;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));

  auto max = b.fetch(0, unknown_ids(1000));
  REQUIRE(max);
  CHECK(max->status == 200);
  CHECK(max->body.size() == 1000 * kFrameHeader);

  auto over = b.fetch(0, unknown_ids(1001));
  REQUIRE(over);
  CHECK(over->status == 400);
  CHECK(error_of(over) == "bad-request");
  CHECK(b.fetch(0, {})->status == 400);
  CHECK(b.fetch(0, {x, x})->status == 400);
  auto dup = unknown_ids(10);
  dup.push_back(dup[3]);
  CHECK(b.fetch(0, dup)->status == 400);

  const std::vector<std::string> refused{
      "{}",
      R"({"ids":null})",
      R"({"ids":")" + hx + R"("})",
      R"({"ids":{"a":")" + hx + R"("}})",
      R"({"ids":[")" + hx.substr(1) + R"("]})",          // 63 digits
      R"({"ids":[")" + hx + R"(0"]})",                   // 65 digits
      R"({"ids":[")" + std::string(64, 'z') + R"("]})",  // not hex
      R"({"ids":[")" + upper + R"("]})",                 // upper case
      R"({"ids":[")" + hx + R"(",5]})",
      R"({"ids":[")" + hx + R"(",null]})",
      R"({"ids":[[")" + hx + R"("]]})",
      R"([")" + hx + R"("])",
      "not json",
  };
  for (const std::string& body : refused) {
    CAPTURE(body);
    auto res = b.post(kFetch, 0, body);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(error_of(res) == "bad-request");
  }
  // The well-formed one next to them is answered.
  auto ok = b.post(kFetch, 0, R"({"ids":[")" + hx + R"("]})");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body.size() == kFrameHeader + 3000);
}

TEST_CASE("fetch answers up to exactly 16 MiB of bundles and refuses 413 batch-too-large above") {
  Bulk b(1);
  const Bytes first = test_bytes(8u << 20, 20), second = test_bytes(8u << 20, 21);
  const Bytes one_more = test_bytes(1, 22);
  const Hash32 a = b.upload(first), c = b.upload(second), d = b.upload(one_more);
  // A partial upload announcing 20 MiB: only stored bytes count.
  const Hash32 partial = sha256_of(test_bytes(1000, 23));
  REQUIRE(tus_create(*b.c, b.token, partial, 20u << 20) == 201);

  // 16 MiB of bundles exactly (the frame headers do not count), unknown ids beside them.
  auto full = b.fetch(0, {a, unknown_ids(1)[0], c, partial});
  REQUIRE(full);
  REQUIRE(full->status == 200);
  CHECK(full->body.size() == (16u << 20) + 4 * kFrameHeader);
  const auto frames = frames_of(full->body);
  REQUIRE(frames.size() == 4);
  CHECK(frames[0].bytes == body_of(first));
  CHECK(frames[1].status == 1);
  CHECK(frames[2].bytes == body_of(second));
  CHECK(frames[3].status == 1);

  // One byte more is refused, whatever the order.
  for (const auto& ids : {std::vector<Hash32>{a, c, d}, std::vector<Hash32>{d, a, c}}) {
    auto over = b.fetch(0, ids);
    REQUIRE(over);
    CHECK(over->status == 413);
    CHECK(error_of(over) == "batch-too-large");
  }
  // Each alone (or any two of at most 16 MiB) is still answered, and nothing was acknowledged.
  auto two = b.fetch(0, {d, c});
  REQUIRE(two);
  CHECK(two->status == 200);
  CHECK(two->body.size() == (8u << 20) + 1 + 2 * kFrameHeader);
  CHECK(b.stored(a));
  CHECK(b.stored(c));
  CHECK(b.stored(d));
}

TEST_CASE("fetch and acknowledgements reach only the session's own mailbox") {
  Bulk b(1);
  TestOrganisation other(1);
  const std::string other_mailbox = b.relay.add_mailbox(other);
  const std::string other_token = b.relay.device_token(other_mailbox);
  const Bytes theirs = test_bytes(5000, 35);
  REQUIRE(tus_upload_whole(*b.c, other_token, theirs)->status == 201);
  const Hash32 id = sha256_of(theirs);
  const Hash32 mine = b.upload(test_bytes(5000, 36));

  auto res = b.fetch(0, {id, mine});
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const auto frames = frames_of(res->body);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].status == 1);
  CHECK(frames[0].length == 0);
  CHECK(frames[1].status == 0);
  CHECK(res->body.find(body_of(theirs)) == std::string::npos);

  const auto r = b.acknowledge(0, {id}, {});
  CHECK(r[0]["state"] == "not-found");
  CHECK(b.acknowledge(0, {}, {id})[0]["state"] == "not-found");
  auto l = b.relay.store->find_upload(other_mailbox, id);
  REQUIRE(l);
  REQUIRE(l->upload);
  CHECK(l->upload->state == UploadState::kStored);
  auto listed = b.relay.store->list_stored(other_mailbox, std::nullopt, 10,
                                           other.coordinators[0].public_key().ed25519, true);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->at(0).acknowledged_by.empty());
  CHECK(listed->at(0).declined_by.empty());
}

TEST_CASE("fetch and acknowledgements need a coordinator session") {
  Bulk b(1);
  const Hash32 x = b.upload(test_bytes(3000, 30));
  const std::string fetch_body = R"({"ids":[")" + hex_of(x) + R"("]})";
  const std::string ack_body = R"({"acknowledge":[")" + hex_of(x) + R"("]})";
  for (const auto& [path, body] : {std::pair{kFetch, fetch_body}, std::pair{kAcks, ack_body}}) {
    CAPTURE(path);
    auto anonymous = b.c->Post(path, body, "application/json");
    REQUIRE(anonymous);
    CHECK(anonymous->status == 401);
    auto device = b.c->Post(path, bearer(b.token), body, "application/json");
    REQUIRE(device);
    CHECK(device->status == 401);
    auto forged = b.c->Post(path, bearer(std::string(43, 'A')), body, "application/json");
    REQUIRE(forged);
    CHECK(forged->status == 401);
    CHECK(anonymous->body.find(hex_of(x)) == std::string::npos);
  }
  CHECK(b.stored(x));
  // With a session both answer.
  CHECK(b.post(kFetch, 0, fetch_body)->status == 200);
  CHECK(b.post(kAcks, 0, ack_body)->status == 200);
  CHECK_FALSE(b.stored(x));
}

TEST_CASE("a fetch or acknowledgements body over 96 KiB is refused 413 before it is read") {
  Bulk b(1);
  const Hash32 x = b.upload(test_bytes(3000, 40));
  for (const char* path : {kFetch, kAcks}) {
    CAPTURE(path);
    // No body byte follows: a server that read the body would wait for its read timeout (2 s).
    RawTlsConnection raw(b.relay.port(), b.relay.cert_path);
    REQUIRE(raw.connected());
    REQUIRE(raw.send(std::string("POST ") + path +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + b.sessions[0] +
                     "\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(kBatchBody + 1) + "\r\n\r\n"));
    const auto reply = raw.read_until_close(2500);
    CHECK(status_of(reply.bytes) == 413);
    CHECK(reply.bytes.find("payload-too-large") != std::string::npos);
    CHECK(reply.closed);
    CHECK(reply.seconds < 1.0);
  }
  // Exactly 96 KiB is read and answered.
  auto fetched = b.post(kFetch, 0, padded(R"({"ids":[")" + hex_of(x) + R"("]})", kBatchBody));
  REQUIRE(fetched);
  CHECK(fetched->status == 200);
  CHECK(fetched->body.size() == kFrameHeader + 3000);
  auto acked = b.post(kAcks, 0, padded(R"({"acknowledge":[")" + hex_of(x) + R"("]})", kBatchBody));
  REQUIRE(acked);
  CHECK(acked->status == 200);
  CHECK(nlohmann::json::parse(acked->body)["results"][0]["state"] == "delivered");
}

TEST_CASE(
    "acknowledgements answer per id, acknowledge then not_mine, not-found for unknown ids; a "
    "decline lets the held acknowledgements deliver") {
  Bulk b(3);
  const Hash32 x = b.upload(test_bytes(4000, 50)), y = b.upload(test_bytes(4000, 51));
  const Hash32 z = b.upload(test_bytes(4000, 52));
  const Hash32 u = unknown_ids(1)[0];
  // not_mine written first in the body: the results still follow acknowledge, then not_mine.
  auto res = b.post(kAcks, 0,
                    R"({"not_mine":[")" + hex_of(y) + R"("],"acknowledge":[")" + hex_of(x) +
                        R"(",")" + hex_of(u) + R"("]})");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const auto r0 = nlohmann::json::parse(res->body)["results"];
  REQUIRE(r0.size() == 3);
  CHECK(r0[0] ==
        nlohmann::json{
            {"id", hex_of(x)}, {"state", "stored"}, {"acknowledgements", 1}, {"required", 3}});
  CHECK(r0[1]["id"] == hex_of(u));
  CHECK(r0[1]["state"] == "not-found");
  CHECK(r0[2] ==
        nlohmann::json{
            {"id", hex_of(y)}, {"state", "stored"}, {"acknowledgements", 0}, {"required", 2}});

  const auto r1 = b.acknowledge(1, {x, y}, {});
  CHECK(r1[0]["state"] == "stored");
  CHECK(r1[0]["acknowledgements"] == 2);
  CHECK(r1[1]["state"] == "stored");
  CHECK(r1[1]["acknowledgements"] == 1);
  CHECK(r1[1]["required"] == 2);
  // Coordinator 2 holds x (the third of 3) and declines y: y needs 1 of the 3 - 2, which it has.
  const auto r2 = b.acknowledge(2, {x}, {y});
  CHECK(r2[0] ==
        nlohmann::json{
            {"id", hex_of(x)}, {"state", "delivered"}, {"acknowledgements", 3}, {"required", 3}});
  CHECK(r2[1] ==
        nlohmann::json{
            {"id", hex_of(y)}, {"state", "delivered"}, {"acknowledgements", 1}, {"required", 1}});
  CHECK_FALSE(b.stored(x));
  CHECK_FALSE(b.stored(y));
  CHECK(b.stored(z));
  CHECK(tus_head(*b.c, b.token, y)->get_header_value("Upload-State") == "delivered");
  // Again, held or not_mine: delivered; a fetch finds them gone.
  const auto again = b.acknowledge(0, {x}, {y});
  CHECK(again[0]["state"] == "delivered");
  CHECK(again[1]["state"] == "delivered");
  const auto frames = frames_of(b.fetch(0, {x, y, z})->body);
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].status == 1);
  CHECK(frames[1].status == 1);
  CHECK(frames[2].status == 0);
}

TEST_CASE(
    "acknowledgements refuse empty, duplicate, malformed and over 1000 ids, changing nothing") {
  Bulk b(2);
  const Hash32 x = b.upload(test_bytes(4000, 60));
  const std::string hx = hex_of(x);
  auto post = [&](const std::string& body) {
    auto res = b.post(kAcks, 0, body);
    REQUIRE(res);
    return res->status;
  };
  auto ids_json = [](const std::vector<Hash32>& ids) {
    nlohmann::json a = nlohmann::json::array();
    for (const Hash32& id : ids) a.push_back(hex_of(id));
    return a;
  };
  const auto many = unknown_ids(1001);
  const std::vector<Hash32> first600(many.begin(), many.begin() + 600);
  const std::vector<Hash32> last401(many.begin() + 600, many.end());
  const std::vector<Hash32> last400(many.begin() + 600, many.end() - 1);

  const std::vector<std::string> refused{
      "{}",
      R"({"acknowledge":[]})",
      R"({"acknowledge":[],"not_mine":[]})",
      R"({"acknowledge":[")" + hx + R"(",")" + hx + R"("]})",
      R"({"not_mine":[")" + hx + R"(",")" + hx + R"("]})",
      R"({"acknowledge":[")" + hx + R"("],"not_mine":[")" + hx + R"("]})",
      R"({"acknowledge":")" + hx + R"("})",
      R"({"acknowledge":[")" + hx + R"("],"not_mine":")" + hx + R"("})",
      R"({"acknowledge":[")" + hx.substr(2) + R"("]})",
      R"({"acknowledge":[")" + hx + R"(",42]})",
      R"([")" + hx + R"("])",
      "{",
      nlohmann::json{{"acknowledge", ids_json(first600)}, {"not_mine", ids_json(last401)}}.dump(),
      nlohmann::json{{"acknowledge", ids_json(many)}}.dump(),
      nlohmann::json{{"not_mine", ids_json(many)}}.dump(),
      // A valid id beside a refused one: nothing of the batch is recorded.
      nlohmann::json{{"acknowledge", ids_json({x, many[0], many[0]})}}.dump(),
      nlohmann::json{{"not_mine", ids_json({x, many[0]})}, {"acknowledge", ids_json({many[0]})}}
          .dump(),
  };
  for (const std::string& body : refused) {
    CAPTURE(body.substr(0, 200));
    CHECK(post(body) == 400);
  }
  const auto item = b.listing(0).at(hx);
  CHECK(item["acknowledged"] == false);
  CHECK(item["declined"] == false);
  CHECK(item["acknowledgements"] == 0);
  CHECK(item["required"] == 2);

  // 1000 together is the most, split between the lists; unknown ones are not-found.
  auto max = b.post(
      kAcks, 0,
      nlohmann::json{{"acknowledge", ids_json(first600)}, {"not_mine", ids_json(last400)}}.dump());
  REQUIRE(max);
  REQUIRE(max->status == 200);
  const auto results = nlohmann::json::parse(max->body)["results"];
  REQUIRE(results.size() == 1000);
  for (size_t i = 0; i < 1000; i++) {
    CHECK(results[i]["id"] == hex_of(many[i]));
    CHECK(results[i]["state"] == "not-found");
  }
  CHECK(b.stored(x));
}

TEST_CASE(
    "the listing shows declined and per-upload required lowered by declines; pending hides what "
    "this coordinator declined") {
  Bulk b(3, 2);  // k = 2 of 3
  const Hash32 x = b.upload(test_bytes(4000, 70)), y = b.upload(test_bytes(4000, 71));
  const std::string hx = hex_of(x), hy = hex_of(y);
  // Either list may be absent.
  auto declined = b.post(kAcks, 0, R"({"not_mine":[")" + hx + R"("]})");
  REQUIRE(declined);
  REQUIRE(declined->status == 200);
  CHECK(nlohmann::json::parse(declined->body)["results"][0]["state"] == "stored");
  auto l0 = b.listing(0);
  CHECK(l0.at(hx)["declined"] == true);
  CHECK(l0.at(hx)["acknowledged"] == false);
  CHECK(l0.at(hx)["required"] == 2);  // the two others can still both hold it
  CHECK(l0.at(hy)["declined"] == false);
  CHECK(l0.at(hy)["required"] == 2);
  auto p0 = b.listing(0, true);
  CHECK(p0.count(hx) == 0);
  CHECK(p0.count(hy) == 1);
  auto l1 = b.listing(1);
  CHECK(l1.at(hx)["declined"] == false);  // another's decline is not this one's
  CHECK(b.listing(1, true).count(hx) == 1);

  b.acknowledge(1, {}, {x});
  for (size_t who = 0; who < 3; who++) {
    CAPTURE(who);
    const auto item = b.listing(who).at(hx);
    CHECK(item["required"] == 1);
    CHECK(item["acknowledgements"] == 0);
    CHECK(item["declined"] == (who < 2));
  }
  CHECK(b.listing(1, true).count(hx) == 0);
  CHECK(b.listing(2, true).count(hx) == 1);

  // A held acknowledgement replaces the decline: listed acknowledged, no longer declined.
  CHECK(b.acknowledge(1, {}, {y})[0]["required"] == 2);
  CHECK(b.listing(1).at(hy)["declined"] == true);
  const auto r = b.acknowledge(1, {y}, {});
  CHECK(r[0] ==
        nlohmann::json{{"id", hy}, {"state", "stored"}, {"acknowledgements", 1}, {"required", 2}});
  const auto mine = b.listing(1).at(hy);
  CHECK(mine["acknowledged"] == true);
  CHECK(mine["declined"] == false);
  CHECK(mine["acknowledgements"] == 1);
  CHECK(mine["required"] == 2);
  CHECK(b.listing(1, true).count(hy) == 0);
  CHECK(b.listing(0).at(hy)["acknowledged"] == false);  // coordinator 0's view differs
  // A decline after it is ignored; the second held acknowledgement delivers.
  CHECK(b.acknowledge(1, {}, {y})[0]["required"] == 2);
  CHECK(b.listing(1).at(hy)["declined"] == false);
  CHECK(b.acknowledge(2, {y}, {})[0]["state"] == "delivered");
  CHECK_FALSE(b.stored(y));
  CHECK(b.listing(0).count(hy) == 0);
  CHECK(b.stored(x));
}
