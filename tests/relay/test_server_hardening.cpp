// The server against requests no honest client sends: chunked and compressed bodies refused
// before any body byte is read, missing and absurd lengths, ranges, unknown routes, CRLF smuggled
// through cpp-httplib's percent-decoding of header values, TLS 1.2, and the concurrency limits.
#include <catch2/catch_test_macros.hpp>

#include "relay_harness.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

struct Hostile {
  TestRelay relay{[](RelayConfig& c) {
    c.limits.max_bundle_bytes = 1'000'000;
    c.limits.read_timeout_seconds = 3;
  }};
  TestOrganisation org{1};
  std::string mailbox = relay.add_mailbox(org);
  std::string token = relay.device_token(mailbox);

  std::string auth() const { return "Authorization: Bearer " + token + "\r\n"; }

  // Sends `head` (request line and headers, without the final blank line) and nothing else.
  RawTlsConnection::Reply send_head_only(const std::string& head, int timeout_ms = 2500) {
    RawTlsConnection raw(relay.port(), relay.cert_path);
    REQUIRE(raw.connected());
    REQUIRE(raw.send(head + "\r\n"));
    return raw.read_until_close(timeout_ms);
  }
};

std::string patch_head(const std::string& path, const std::string& extra) {
  return "PATCH " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n" +
         "Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n" + extra;
}

}  // namespace

TEST_CASE("chunked and compressed bodies are refused before the body is read") {
  Hostile h;
  const Hash32 id = sha256_of(test_bytes(1000, 1));
  REQUIRE(tus_create(*h.relay.client(), h.token, id, 1000) == 201);
  const std::string path = "/v1/uploads/" + hex_of(id);
  // No body byte follows these headers: a server that tried to read the body would wait for
  // its read timeout (3 s) instead of answering at once.
  auto chunked = h.send_head_only(patch_head(path, h.auth() + "Transfer-Encoding: chunked\r\n"));
  CHECK(status_of(chunked.bytes) == 411);
  CHECK(chunked.closed);
  CHECK(chunked.seconds < 1.0);
  auto both = h.send_head_only(
      patch_head(path, h.auth() + "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n"));
  CHECK(status_of(both.bytes) == 411);
  CHECK(both.seconds < 1.0);
  auto gzip = h.send_head_only(
      patch_head(path, h.auth() + "Content-Length: 1000\r\nContent-Encoding: gzip\r\n"));
  CHECK(status_of(gzip.bytes) == 415);
  CHECK(gzip.closed);
  CHECK(gzip.seconds < 1.0);
  auto enroll_gzip = h.send_head_only(
      "POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 50\r\nContent-Encoding: br\r\n");
  CHECK(status_of(enroll_gzip.bytes) == 415);
  CHECK(enroll_gzip.seconds < 1.0);
  CHECK(tus_head(*h.relay.client(), h.token, id)->get_header_value("Upload-Offset") == "0");
}

TEST_CASE("missing, oversize and unexpected Content-Length are refused before the body") {
  Hostile h;
  const Hash32 id = sha256_of(test_bytes(1000, 2));
  REQUIRE(tus_create(*h.relay.client(), h.token, id, 1000) == 201);
  const std::string path = "/v1/uploads/" + hex_of(id);
  auto missing = h.send_head_only(patch_head(path, h.auth()));
  CHECK(status_of(missing.bytes) == 411);
  CHECK(missing.seconds < 1.0);
  auto huge = h.send_head_only(patch_head(path, h.auth() + "Content-Length: 1000001\r\n"));
  CHECK(status_of(huge.bytes) == 413);
  CHECK(huge.seconds < 1.0);
  auto absurd = h.send_head_only(
      patch_head(path, h.auth() + "Content-Length: 99999999999999999999999999\r\n"));
  CHECK(status_of(absurd.bytes) == 400);
  auto negative = h.send_head_only(patch_head(path, h.auth() + "Content-Length: -1\r\n"));
  CHECK(status_of(negative.bytes) == 400);
  auto twice =
      h.send_head_only(patch_head(path, h.auth() + "Content-Length: 10\r\nContent-Length: 20\r\n"));
  CHECK(status_of(twice.bytes) == 400);
  // A body where the endpoint takes none.
  auto get_body = h.send_head_only("GET /v1/coordinator/challenge?mailbox=" + h.mailbox +
                                   " HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n");
  CHECK(status_of(get_body.bytes) == 413);
  CHECK(get_body.seconds < 1.0);
  // An unauthenticated body is refused before it is read too.
  auto anonymous =
      h.send_head_only("PATCH " + path +
                       " HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                       "Content-Type: application/offset+octet-stream\r\nContent-Length: 1000\r\n");
  CHECK(status_of(anonymous.bytes) == 401);
  CHECK(anonymous.seconds < 1.0);
}

TEST_CASE("unknown routes and methods are refused and the connection closed") {
  Hostile h;
  for (const std::string& target :
       {std::string("/"), std::string("/v1/uploads/../../etc/passwd"),
        std::string("/v1/uploads/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        std::string("/v1/uploads/") + std::string(64, 'G'), std::string("/v1/documents/.hidden"),
        std::string("/v2/uploads")}) {
    auto r = h.send_head_only("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + h.auth());
    CHECK(status_of(r.bytes) == 404);
    CHECK(r.closed);
  }
  auto wrong =
      h.send_head_only("PUT /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n" + h.auth());
  CHECK(status_of(wrong.bytes) == 405);
  auto trace = h.send_head_only("TRACE /v1/uploads HTTP/1.1\r\nHost: x\r\n" + h.auth());
  CHECK(status_of(trace.bytes) == 405);
}

TEST_CASE("CR and LF smuggled as %0D%0A in header values are never echoed") {
  Hostile h;
  const Hash32 id = sha256_of(test_bytes(100, 3));
  const std::string b64 = to_base64(as_bytes(hex_of(id)));
  auto meta = h.send_head_only("POST /v1/uploads HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n" +
                               h.auth() + "Upload-Length: 100\r\nUpload-Metadata: sha256 " + b64 +
                               "%0D%0AX-Injected: yes%0D%0A\r\n");
  CHECK(status_of(meta.bytes) == 400);
  CHECK(meta.bytes.find("Injected") == std::string::npos);
  auto bearer_crlf =
      h.send_head_only("OPTIONS /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                       h.token + "%0D%0ASet-Cookie: a=b\r\n");
  CHECK(status_of(bearer_crlf.bytes) == 401);
  CHECK(bearer_crlf.bytes.find("Set-Cookie") == std::string::npos);
  auto offset =
      h.send_head_only(patch_head("/v1/uploads/" + hex_of(id), h.auth() + "Content-Length: 0\r\n")
                           .replace(0, 0, "") +
                       "X-Test: 1%0D%0A%0D%0AHTTP/1.1 200 OK\r\n");
  CHECK(offset.bytes.find("X-Test") == std::string::npos);
  // Error bodies are fixed: nothing from the request comes back.
  auto res = h.relay.client()->Post("/v1/enroll", R"({"code":"<script>marker</script>"})",
                                    "application/json");
  REQUIRE(res);
  CHECK(res->body.find("marker") == std::string::npos);
}

TEST_CASE("ranges: one satisfiable range on downloads only") {
  Hostile h;
  const Bytes data = test_bytes(10'000, 4);
  REQUIRE(tus_upload_whole(*h.relay.client(), h.token, data)->status == 201);
  const std::string s = h.relay.coordinator_session(h.org.coordinators[0], h.mailbox);
  const std::string path = "/v1/coordinator/uploads/" + hex_of(sha256_of(data));
  auto get_range = [&](const std::string& range) {
    auto headers = bearer(s);
    headers.emplace("Range", range);
    return h.relay.client()->Get(path, headers);
  };
  auto multi = get_range("bytes=0-1,5-6");
  REQUIRE(multi);
  CHECK(multi->status == 416);
  auto past = get_range("bytes=10000-");
  REQUIRE(past);
  CHECK(past->status == 416);
  CHECK(past->get_header_value("Content-Range") == "bytes */10000");
  auto beyond = get_range("bytes=5-20000");
  REQUIRE(beyond);
  CHECK(beyond->status == 416);
  auto suffix = get_range("bytes=-100");
  REQUIRE(suffix);
  CHECK(suffix->status == 206);
  CHECK(suffix->body == body_of(ByteView(data).subspan(9900)));
  // A Range header on any other endpoint, e.g. the listing, is refused.
  auto headers = bearer(s);
  headers.emplace("Range", "bytes=1000000-");
  auto listing = h.relay.client()->Get("/v1/coordinator/uploads", headers);
  REQUIRE(listing);
  CHECK(listing->status == 416);
}

TEST_CASE("a TLS 1.2 client is refused; TLS 1.3 is spoken") {
  Hostile h;
  RawTlsConnection old(h.relay.port(), h.relay.cert_path, TLS1_2_VERSION);
  CHECK_FALSE(old.connected());
  RawTlsConnection modern(h.relay.port(), h.relay.cert_path);
  REQUIRE(modern.connected());
  CHECK(modern.protocol() == "TLSv1.3");
}

TEST_CASE("an accepted request keeps the connection open for the next one") {
  Hostile h;
  RawTlsConnection raw(h.relay.port(), h.relay.cert_path);
  REQUIRE(raw.connected());
  const std::string req = "OPTIONS /v1/uploads HTTP/1.1\r\nHost: x\r\n" + h.auth() + "\r\n";
  REQUIRE(raw.send(req));
  auto first = raw.read_until_close(300);
  CHECK(status_of(first.bytes) == 204);
  CHECK_FALSE(first.closed);
  REQUIRE(raw.send(req));
  auto second = raw.read_until_close(300);
  CHECK(status_of(second.bytes) == 204);
}

TEST_CASE("concurrent writes to one upload get 423; the concurrent upload cap gets 503") {
  TestRelay relay([](RelayConfig& c) {
    c.limits.max_concurrent_uploads = 1;
    c.limits.read_timeout_seconds = 3;
  });
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  const Bytes data = test_bytes(10'000, 5);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_create(*relay.client(), token, id, data.size()) == 201);
  RawTlsConnection slow(relay.port(), relay.cert_path);
  REQUIRE(slow.connected());
  REQUIRE(slow.send(patch_head("/v1/uploads/" + hex_of(id),
                               "Authorization: Bearer " + token + "\r\nContent-Length: 10000\r\n") +
                    "\r\n" + body_of(ByteView(data).first(100))));
  // Empty PATCHes change nothing; once the slow request holds the upload they get 423.
  int status = 0;
  for (int i = 0; i < 50 && status != 423; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto res = tus_patch(*relay.client(), token, id, 0, "");
    status = res ? res->status : -1;
  }
  CHECK(status == 423);
  const Bytes other = test_bytes(5000, 6);
  auto busy = tus_upload_whole(*relay.client(), token, other);
  REQUIRE(busy);
  CHECK(busy->status == 503);
  CHECK(busy->get_header_value("Retry-After") == "5");
  REQUIRE(slow.send(body_of(ByteView(data).subspan(100))));
  auto done = slow.read_until_close(2000);
  CHECK(status_of(done.bytes) == 204);
  CHECK(tus_upload_whole(*relay.client(), token, other)->status == 200);
}

TEST_CASE("the health check answers on its own loopback listener only") {
  Hostile h;
  httplib::Client health("127.0.0.1", h.relay.server->health_port());
  auto ok = health.Get("/health");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body == "ok\n");
  CHECK(health.Get("/v1/uploads")->status == 404);
  CHECK(health.Post("/health", "x", "text/plain")->status == 404);
  CHECK(h.relay.client()->Get("/health")->status == 404);
}
