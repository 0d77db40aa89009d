// The tus 1.0 upload protocol against the real server over TLS 1.3: creation with and without
// a body, resumption across PATCHes, wrong offsets, checksums, the whole-bundle hash, status
// queries, termination and discovery.
#include <catch2/catch_test_macros.hpp>

#include "relay_harness.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

struct Device {
  TestRelay relay;
  TestOrganisation org{2};
  std::string mailbox;
  std::string token;
  std::unique_ptr<httplib::SSLClient> c;

  explicit Device(const std::function<void(RelayConfig&)>& tweak = {}, FileOps* ops = nullptr)
      : relay(tweak, ops) {
    mailbox = relay.add_mailbox(org);
    token = relay.device_token(mailbox);
    c = relay.client();
  }
};

Bytes stored_bytes(TestRelay& relay, const std::string& mailbox, const Hash32& id) {
  auto src = relay.store->open_stored(mailbox, id);
  REQUIRE(src);
  Bytes b((*src)->size());
  REQUIRE((*src)->read_at(0, b));
  return b;
}

}  // namespace

TEST_CASE("a bundle uploads in one creation-with-upload request and is stored") {
  Device d;
  const Bytes data = test_bytes(100'000, 1);
  const Hash32 id = sha256_of(data);
  auto res = tus_upload_whole(*d.c, d.token, data);
  REQUIRE(res);
  CHECK(res->status == 201);
  CHECK(res->get_header_value("Location") == "/v1/uploads/" + hex_of(id));
  CHECK(res->get_header_value("Upload-Offset") == std::to_string(data.size()));
  CHECK(res->get_header_value("Upload-State") == "stored");
  CHECK(res->get_header_value("Tus-Resumable") == "1.0.0");
  CHECK(stored_bytes(d.relay, d.mailbox, id) == data);

  auto head = tus_head(*d.c, d.token, id);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->get_header_value("Upload-State") == "stored");
  CHECK(head->get_header_value("Upload-Offset") == std::to_string(data.size()));
  CHECK(head->get_header_value("Cache-Control") == "no-store");

  // Sent again: answered as stored, not stored twice.
  auto again = tus_upload_whole(*d.c, d.token, data);
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(again->get_header_value("Upload-State") == "stored");
  auto listed = d.relay.store->list_stored(d.mailbox, std::nullopt, 10, Key32{}, false);
  REQUIRE(listed);
  CHECK(listed->size() == 1);
}

TEST_CASE("an upload resumes across PATCHes; a wrong offset is 409 and changes nothing") {
  Device d;
  const Bytes data = test_bytes(300'000, 2);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_create(*d.c, d.token, id, data.size()) == 201);
  auto head0 = tus_head(*d.c, d.token, id);
  REQUIRE(head0);
  CHECK(head0->get_header_value("Upload-Offset") == "0");
  CHECK(head0->get_header_value("Upload-State") == "partial");
  CHECK_FALSE(head0->get_header_value("Upload-Expires").empty());

  auto p1 = tus_patch(*d.c, d.token, id, 0, body_of(ByteView(data).first(100'000)));
  REQUIRE(p1);
  CHECK(p1->status == 204);
  CHECK(p1->get_header_value("Upload-Offset") == "100000");

  // A PATCH at another offset: refused, nothing written.
  for (uint64_t wrong : {uint64_t{0}, uint64_t{50'000}, uint64_t{150'000}}) {
    auto bad = tus_patch(*d.c, d.token, id, wrong, body_of(ByteView(data).subspan(100'000, 1000)));
    REQUIRE(bad);
    CHECK(bad->status == 409);
  }
  auto head1 = tus_head(*d.c, d.token, id);
  REQUIRE(head1);
  CHECK(head1->get_header_value("Upload-Offset") == "100000");
  CHECK(file_size(d.relay.store->partial_path(d.mailbox, id)) == 100'000);

  auto p2 =
      tus_patch(*d.c, d.token, id, 100'000, body_of(ByteView(data).subspan(100'000, 150'000)));
  REQUIRE(p2);
  CHECK(p2->get_header_value("Upload-Offset") == "250000");
  CHECK(p2->get_header_value("Upload-State") == "partial");
  auto p3 = tus_patch(*d.c, d.token, id, 250'000, body_of(ByteView(data).subspan(250'000)));
  REQUIRE(p3);
  CHECK(p3->status == 204);
  CHECK(p3->get_header_value("Upload-State") == "stored");
  CHECK(stored_bytes(d.relay, d.mailbox, id) == data);
}

TEST_CASE("creation of an existing partial upload continues it from its committed offset") {
  Device d;
  const Bytes data = test_bytes(50'000, 3);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_create(*d.c, d.token, id, data.size()) == 201);
  REQUIRE(tus_patch(*d.c, d.token, id, 0, body_of(ByteView(data).first(20'000)))->status == 204);
  // The whole bundle sent again by creation-with-upload: the known prefix is skipped.
  auto res = tus_upload_whole(*d.c, d.token, data);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Upload-State") == "stored");
  CHECK(stored_bytes(d.relay, d.mailbox, id) == data);
}

TEST_CASE("a PATCH whose Upload-Checksum does not match is refused with 460 and not kept") {
  Device d;
  const Bytes data = test_bytes(40'000, 4);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_create(*d.c, d.token, id, data.size()) == 201);
  const std::string part = body_of(ByteView(data).first(10'000));
  const Hash32 wrong = sha256_of(ByteView(data).subspan(1, 10'000));
  auto bad = tus_patch(*d.c, d.token, id, 0, part, "sha256 " + to_base64(wrong));
  REQUIRE(bad);
  CHECK(bad->status == 460);
  CHECK(tus_head(*d.c, d.token, id)->get_header_value("Upload-Offset") == "0");
  CHECK(file_size(d.relay.store->partial_path(d.mailbox, id)) == 0);
  auto other = tus_patch(*d.c, d.token, id, 0, part, "md5 " + to_base64(wrong));
  REQUIRE(other);
  CHECK(other->status == 400);
  const Hash32 right = sha256_of(as_bytes(part));
  auto good = tus_patch(*d.c, d.token, id, 0, part, "sha256 " + to_base64(right));
  REQUIRE(good);
  CHECK(good->status == 204);
  CHECK(good->get_header_value("Upload-Offset") == "10000");
}

TEST_CASE("a bundle whose bytes do not match its declared hash is refused at completion") {
  Device d;
  const Bytes data = test_bytes(30'000, 5);
  const Hash32 claimed = sha256_of(test_bytes(30'000, 6));
  REQUIRE(tus_create(*d.c, d.token, claimed, data.size()) == 201);
  auto res = tus_patch(*d.c, d.token, claimed, 0, body_of(data));
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(res->body.find("upload-hash-mismatch") != std::string::npos);
  auto head = tus_head(*d.c, d.token, claimed);
  REQUIRE(head);
  CHECK(head->status == 404);
  auto listed = d.relay.store->list_stored(d.mailbox, std::nullopt, 10, Key32{}, false);
  REQUIRE(listed);
  CHECK(listed->empty());
}

TEST_CASE("an interrupted body without checksum keeps the bytes that arrived") {
  Device d;
  const Bytes data = test_bytes(20'000, 7);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_create(*d.c, d.token, id, data.size()) == 201);
  {
    RawTlsConnection raw(d.relay.port(), d.relay.cert_path);
    REQUIRE(raw.connected());
    REQUIRE(raw.send("PATCH /v1/uploads/" + hex_of(id) +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nAuthorization: "
                     "Bearer " +
                     d.token + "\r\nUpload-Offset: 0\r\nContent-Type: " + kOffsetOctets +
                     "\r\nContent-Length: 20000\r\n\r\n" + body_of(ByteView(data).first(8000))));
  }  // the connection drops after 8000 of 20000 bytes
  std::string offset;
  for (int i = 0; i < 100 && offset != "8000"; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    offset = tus_head(*d.c, d.token, id)->get_header_value("Upload-Offset");
  }
  CHECK(offset == "8000");
  auto rest = tus_patch(*d.c, d.token, id, 8000, body_of(ByteView(data).subspan(8000)));
  REQUIRE(rest);
  CHECK(rest->get_header_value("Upload-State") == "stored");
}

TEST_CASE("termination removes a partial upload but never a stored one") {
  Device d;
  const Bytes partial = test_bytes(10'000, 8), whole = test_bytes(10'000, 9);
  REQUIRE(tus_create(*d.c, d.token, sha256_of(partial), partial.size()) == 201);
  REQUIRE(tus_upload_whole(*d.c, d.token, whole)->status == 201);
  auto del = d.c->Delete("/v1/uploads/" + hex_of(sha256_of(partial)), tus_headers(d.token));
  REQUIRE(del);
  CHECK(del->status == 204);
  CHECK(tus_head(*d.c, d.token, sha256_of(partial))->status == 404);
  auto refused = d.c->Delete("/v1/uploads/" + hex_of(sha256_of(whole)), tus_headers(d.token));
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(tus_head(*d.c, d.token, sha256_of(whole))->get_header_value("Upload-State") == "stored");
}

TEST_CASE("OPTIONS advertises tus 1.0.0, its extensions, sha256 and the maximum size") {
  Device d;
  auto res = d.c->Options("/v1/uploads", bearer(d.token));
  REQUIRE(res);
  CHECK(res->status == 204);
  CHECK(res->get_header_value("Tus-Version") == "1.0.0");
  CHECK(res->get_header_value("Tus-Extension") ==
        "creation,creation-with-upload,termination,checksum,expiration");
  CHECK(res->get_header_value("Tus-Checksum-Algorithm") == "sha256");
  CHECK(res->get_header_value("Tus-Max-Size") ==
        std::to_string(d.relay.config.limits.max_bundle_bytes));
}

TEST_CASE("tus requests without Tus-Resumable: 1.0.0 are refused with 412") {
  Device d;
  const Bytes data = test_bytes(1000, 10);
  httplib::Headers h = bearer(d.token);
  h.emplace("Upload-Length", "1000");
  h.emplace("Upload-Metadata", metadata_for(sha256_of(data)));
  auto res = d.c->Post("/v1/uploads", h, std::string(), std::string());
  REQUIRE(res);
  CHECK(res->status == 412);
  CHECK(res->get_header_value("Tus-Version") == "1.0.0");
  h.emplace("Tus-Resumable", "0.2.2");
  auto old = d.relay.client()->Post("/v1/uploads", h, std::string(), std::string());
  REQUIRE(old);
  CHECK(old->status == 412);
}

TEST_CASE("creation refuses a missing or malformed id, a bad length and an oversize bundle") {
  Device d([](RelayConfig& c) { c.limits.max_bundle_bytes = 100'000; });
  const Hash32 id = sha256_of(test_bytes(10, 11));
  auto create = [&](const std::string& length, const std::string& metadata) {
    auto h = tus_headers(d.token);
    if (!length.empty()) h.emplace("Upload-Length", length);
    if (!metadata.empty()) h.emplace("Upload-Metadata", metadata);
    auto res = d.relay.client()->Post("/v1/uploads", h, std::string(), std::string());
    return res ? res->status : -1;
  };
  CHECK(create("1000", "") == 400);
  CHECK(create("1000", "filename " + to_base64(as_bytes(std::string("a.txt")))) == 400);
  CHECK(create("1000", "sha256 " + to_base64(as_bytes(hex_of(id).substr(1)))) == 400);
  CHECK(create("1000", "sha256 " + to_base64(as_bytes("../../" + hex_of(id).substr(6)))) == 400);
  CHECK(create("", metadata_for(id)) == 400);
  CHECK(create("-5", metadata_for(id)) == 400);
  CHECK(create("0", metadata_for(id)) == 400);
  CHECK(create("100001", metadata_for(id)) == 413);
  CHECK(create("99999999999999999999999", metadata_for(id)) == 400);
  CHECK(create("1000", metadata_for(id) + ",filename " + to_base64(as_bytes(std::string("x")))) ==
        201);
}

TEST_CASE("the mailbox quota refuses new uploads with 507") {
  Device d([](RelayConfig& c) { c.limits.mailbox_quota_bytes = 50'000; });
  REQUIRE(tus_upload_whole(*d.c, d.token, test_bytes(40'000, 12))->status == 201);
  const Bytes more = test_bytes(20'000, 13);
  CHECK(tus_create(*d.c, d.token, sha256_of(more), more.size()) == 507);
}

TEST_CASE("a write or fsync error fails the request, a full disk is 507, and nothing is stored") {
  RecordingFileOps ops;
  Device d({}, &ops);
  const Bytes data = test_bytes(60'000, 14);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_create(*d.c, d.token, id, data.size()) == 201);
  REQUIRE(tus_patch(*d.c, d.token, id, 0, body_of(ByteView(data).first(20'000)))->status == 204);

  ops.fail_pwrite_errno = ENOSPC;
  auto full =
      tus_patch(*d.relay.client(), d.token, id, 20'000, body_of(ByteView(data).subspan(20'000)));
  REQUIRE(full);
  CHECK(full->status == 507);
  ops.fail_pwrite_errno = 0;
  ops.fail_fsync_at = ops.fsyncs.load();
  auto eio =
      tus_patch(*d.relay.client(), d.token, id, 20'000, body_of(ByteView(data).subspan(20'000)));
  REQUIRE(eio);
  CHECK(eio->status == 500);
  CHECK(eio->body == R"({"error":"internal"})");
  auto head = tus_head(*d.relay.client(), d.token, id);
  REQUIRE(head);
  CHECK(head->get_header_value("Upload-Offset") == "20000");
  CHECK(head->get_header_value("Upload-State") == "partial");
  // The client sends the bytes again; they are written and synced anew.
  auto retry =
      tus_patch(*d.relay.client(), d.token, id, 20'000, body_of(ByteView(data).subspan(20'000)));
  REQUIRE(retry);
  CHECK(retry->status == 204);
  CHECK(retry->get_header_value("Upload-State") == "stored");
  CHECK(stored_bytes(d.relay, d.mailbox, id) == data);
}
