// TEST ONLY. A real relay server in this process on 127.0.0.1, over TLS 1.3 with a certificate
// generated for the test, a manual clock, and clients: cpp-httplib's SSLClient for ordinary
// requests and a raw TLS connection for requests no well-behaved client would send.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "satchel/relay/credentials.h"
#include "satchel/relay/relay_server.h"
#include "satchel/relay/request_headers.h"
#include "satchel/relay/tls_identity.h"
#include "store_fixture.h"

namespace satchel::relay::testing {

inline constexpr const char* kOffsetOctets = "application/offset+octet-stream";

inline std::string hex_of(const Hash32& h) {
  return to_hex(h);
}

// tus Upload-Metadata carrying the upload id.
inline std::string metadata_for(const Hash32& id) {
  const std::string hex = to_hex(id);
  return "sha256 " + to_base64(as_bytes(hex));
}

inline std::string body_of(ByteView b) {
  return std::string(b.begin(), b.end());
}

struct TestRelay {
  TempDir dir{"server"};
  ManualClock clock{static_cast<int64_t>(std::time(nullptr))};
  RelayConfig config;
  std::string cert_path;
  std::unique_ptr<EmbeddedRelayStore> store;
  std::unique_ptr<RelayServer> server;

  FileOps* file_ops = nullptr;  // the store's file-system seam (fault injection)

  explicit TestRelay(const std::function<void(RelayConfig&)>& tweak = {}, FileOps* ops = nullptr)
      : file_ops(ops) {
    std::filesystem::create_directories(dir.path);
    auto cert = generate_self_signed_certificate({"127.0.0.1", "localhost"}, clock.now());
    if (!cert) throw std::runtime_error(cert.error().message);
    cert_path = dir.path + "/cert.pem";
    std::ofstream(cert_path) << cert->certificate_pem;
    std::ofstream(dir.path + "/key.pem") << cert->key.private_key_pem;
    config.listen_host = "127.0.0.1";
    config.listen_port = 0;
    config.certificate = cert_path;
    config.private_key = dir.path + "/key.pem";
    config.storage = dir.path + "/storage";
    config.health = true;
    config.health_port = 0;
    config.limits.threads = 8;
    config.limits.read_timeout_seconds = 2;
    config.limits.write_timeout_seconds = 2;
    config.limits.keep_alive_seconds = 2;
    if (tweak) tweak(config);
    start();
  }
  ~TestRelay() { stop(); }

  void start() {
    EmbeddedStoreOptions o;
    o.log = [](std::string_view) {};
    o.file_ops = file_ops;
    auto s = EmbeddedRelayStore::open(config.storage, clock.today(), o);
    if (!s) throw std::runtime_error(s.error().message);
    store = std::move(s.value());
    auto srv = RelayServer::create(config, *store, clock);
    if (!srv) throw std::runtime_error(srv.error().message);
    server = std::move(srv.value());
    if (Status st = server->start(); !st) throw std::runtime_error(st.error().message);
  }
  void stop() {
    if (server) server->stop();
    server.reset();
    store.reset();
  }

  uint16_t port() const { return server->port(); }

  std::unique_ptr<httplib::SSLClient> client() const {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port());
    c->set_ca_cert_path(cert_path.c_str());
    c->enable_server_certificate_verification(true);
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(5, 0);
    c->set_write_timeout(5, 0);
    return c;
  }

  // Registers the organisation's mailbox; returns its id.
  std::string add_mailbox(const TestOrganisation& org, uint16_t required_acks = 0,
                          uint64_t version = 1) {
    auto r = server->relay().mailboxes.register_mailbox(org.registration(version, required_acks),
                                                        clock.today());
    if (!r) throw std::runtime_error(r.error().message);
    return r->mailbox;
  }

  std::string mint_code(const std::string& mailbox, int64_t hours = 1) {
    auto c = mint_enrollment_code(*store, mailbox, clock.now(), hours);
    if (!c) throw std::runtime_error(c.error().message);
    return c->code;
  }

  // Redeems `code` over HTTPS; returns the response.
  httplib::Result redeem(const std::string& code) {
    return client()->Post("/v1/enroll", nlohmann::json{{"code", code}}.dump(), "application/json");
  }

  // A fresh upload token for the mailbox, through the enrollment endpoint.
  std::string device_token(const std::string& mailbox) {
    auto res = redeem(mint_code(mailbox));
    if (!res || res->status != 200) throw std::runtime_error("enrollment failed");
    return nlohmann::json::parse(res->body)["token"].get<std::string>();
  }

  // Signs a challenge for `mailbox` with coordinator `key` and posts it as if for `post_to`.
  httplib::Result session_attempt(const CoordinatorSecretKey& key, const std::string& mailbox,
                                  const std::string& post_to, const std::string& nonce) {
    auto pin = certificate_pin(cert_path);
    if (!pin) throw std::runtime_error(pin.error().message);
    const int64_t issued_at = clock.now();
    auto msg = relay_challenge_message(*pin, as_bytes(mailbox), as_bytes(nonce), issued_at);
    if (!msg) throw std::runtime_error(msg.error().message);
    const auto sig = sign_relay_challenge(key, *msg);
    nlohmann::json body = {{"mailbox", post_to},
                           {"key", to_hex(key.public_key().ed25519)},
                           {"nonce", nonce},
                           {"issued_at", issued_at},
                           {"signature", to_base64url(sig)}};
    return client()->Post("/v1/coordinator/session", body.dump(), "application/json");
  }

  std::string challenge(const std::string& mailbox) {
    auto res = client()->Get("/v1/coordinator/challenge?mailbox=" + mailbox);
    if (!res || res->status != 200) throw std::runtime_error("challenge failed");
    return nlohmann::json::parse(res->body)["nonce"].get<std::string>();
  }

  // A coordinator session token, through the challenge flow.
  std::string coordinator_session(const CoordinatorSecretKey& key, const std::string& mailbox) {
    auto res = session_attempt(key, mailbox, mailbox, challenge(mailbox));
    if (!res || res->status != 200) throw std::runtime_error("session failed");
    return nlohmann::json::parse(res->body)["session"].get<std::string>();
  }
};

inline httplib::Headers tus_headers(const std::string& token) {
  return {{"Tus-Resumable", "1.0.0"}, {"Authorization", "Bearer " + token}};
}

inline httplib::Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

// Creates an upload (no body); returns the status.
inline int tus_create(httplib::SSLClient& c, const std::string& token, const Hash32& id,
                      uint64_t length) {
  auto h = tus_headers(token);
  h.emplace("Upload-Length", std::to_string(length));
  h.emplace("Upload-Metadata", metadata_for(id));
  auto res = c.Post("/v1/uploads", h, std::string(), std::string());
  return res ? res->status : -1;
}

inline httplib::Result tus_patch(httplib::SSLClient& c, const std::string& token, const Hash32& id,
                                 uint64_t offset, const std::string& body,
                                 const std::string& checksum = "") {
  auto h = tus_headers(token);
  h.emplace("Upload-Offset", std::to_string(offset));
  if (!checksum.empty()) h.emplace("Upload-Checksum", checksum);
  return c.Patch("/v1/uploads/" + to_hex(id), h, body, kOffsetOctets);
}

inline httplib::Result tus_head(httplib::SSLClient& c, const std::string& token, const Hash32& id) {
  return c.Head("/v1/uploads/" + to_hex(id), tus_headers(token));
}

// A whole bundle in one creation-with-upload request.
inline httplib::Result tus_upload_whole(httplib::SSLClient& c, const std::string& token,
                                        ByteView data) {
  auto h = tus_headers(token);
  h.emplace("Upload-Length", std::to_string(data.size()));
  h.emplace("Upload-Metadata", metadata_for(Sha256::digest(data)));
  return c.Post("/v1/uploads", h, body_of(data), kOffsetOctets);
}

// A TLS connection driven by hand, for requests ordinary clients never send.
class RawTlsConnection {
 public:
  RawTlsConnection(uint16_t port, const std::string& ca_path, int max_version = 0) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca_path.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (max_version) SSL_CTX_set_max_proto_version(ctx_, max_version);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~RawTlsConnection() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  RawTlsConnection(const RawTlsConnection&) = delete;
  RawTlsConnection& operator=(const RawTlsConnection&) = delete;

  bool connected() const { return connected_; }
  std::string protocol() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

  bool send(std::string_view data) {
    return connected_ && SSL_write(ssl_, data.data(), static_cast<int>(data.size())) ==
                             static_cast<int>(data.size());
  }

  struct Reply {
    std::string bytes;
    bool closed = false;        // the server closed the connection
    bool close_notify = false;  // ... with a TLS close_notify, not a bare FIN or a reset
    double seconds = 0;
  };
  // Reads until the server closes the connection or `timeout_ms` passes.
  Reply read_until_close(int timeout_ms) {
    Reply r;
    const auto start = std::chrono::steady_clock::now();
    char buf[4096];
    for (;;) {
      const auto elapsed = std::chrono::steady_clock::now() - start;
      const int left =
          timeout_ms -
          static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
      if (left <= 0) break;
      if (SSL_pending(ssl_) == 0) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, left) <= 0) break;
      }
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        r.closed = true;
        r.close_notify = SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN;
        break;
      }
      r.bytes.append(buf, static_cast<size_t>(n));
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
};

// The status code of a raw HTTP response ("HTTP/1.1 411 …"), or 0.
inline int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 9, "HTTP/1.1 ") != 0) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

}  // namespace satchel::relay::testing
