// What the device's and the coordinator's requests to the relay share (private to
// client/src/sync/): the TLS client with its pin check and deadlines (RelayClient::Impl), the
// request watchdog, and the parsing of the relay's answers.
#pragma once

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "satchel/client/relay_client.h"
#include "satchel/crypto/sha256.h"

namespace satchel::client {

namespace detail {

// A decimal of at most 19 digits, nothing else.
std::optional<uint64_t> parse_decimal(std::string_view s);
// The relay's refusal code from a {"error":"..."} body; only [a-z-] is ever shown.
std::string refusal_code(const httplib::Response& res);
// 64 lower-case hex digits.
bool valid_upload_id(std::string_view id);
// The Error for a refusal (non-2xx answer), and its Retry-After and "changed nothing" verdicts.
Error refusal(const httplib::Response& res, int64_t& retry_after, bool& unchanged);
// Tus-Resumable and a Bearer Authorization header holding the token (see wipe_headers).
httplib::Headers auth_headers(const SecretBytes& token);
// Overwrites every header value (the token's copy among them).
void wipe_headers(httplib::Headers& h);

// While alive, a watchdog that cancels the client's request in flight once `limit` has passed,
// by shutting its socket down (cpp-httplib's stop() is the one call safe from another thread;
// it waits while the connection is being set up, so a slow handshake is cut only after it).
class RequestDeadline {
 public:
  RequestDeadline(httplib::SSLClient& http, std::chrono::seconds limit, std::atomic<bool>& expired)
      : http_(http), limit_(limit), expired_(expired) {
    try {
      thread_ = std::thread([this] { watch(); });
    } catch (const std::system_error&) {
      // No thread to spare: the request runs with its per-receive timeouts only.
    }
  }
  RequestDeadline(const RequestDeadline&) = delete;
  RequestDeadline& operator=(const RequestDeadline&) = delete;
  ~RequestDeadline() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void watch() {
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, limit_, [this] { return done_; })) return;
    expired_ = true;
    http_.stop();
  }

  httplib::SSLClient& http_;
  std::chrono::seconds limit_;
  std::atomic<bool>& expired_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // started in the constructor, once the members above exist
};

}  // namespace detail

struct RelayClient::Impl {
  RelayUrl url;
  std::vector<Hash32> pins;
  httplib::SSLClient http;
  bool pin_mismatch = false;       // set by the verify callback during the last handshake
  std::optional<Hash32> seen_pin;  // the pin the last accepted certificate matched
  Status body_error = Status::Ok();
  int deadline_base_seconds = 120;
  uint32_t min_rate = 4096;
  std::atomic<bool> deadline_expired{false};  // set by the last request's watchdog

  Impl(RelayUrl u, std::vector<Hash32> p)
      : url(std::move(u)), pins(std::move(p)), http(url.host, url.port) {}

  // The deadline of a request carrying `body` bytes.
  std::chrono::seconds deadline(uint64_t body) const {
    return std::chrono::seconds(deadline_base_seconds + body / std::max<uint32_t>(min_rate, 1));
  }

  std::string path(std::string_view tail) const { return url.base_path + std::string(tail); }

  // Called by OpenSSL instead of its own chain verification: accepts the leaf certificate only
  // if its SubjectPublicKeyInfo hashes to a pin. cpp-httplib reads the verify result after the
  // handshake, so a mismatch must be recorded with X509_STORE_CTX_set_error, not just returned.
  static int verify_pin(X509_STORE_CTX* store, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    X509* cert = X509_STORE_CTX_get0_cert(store);
    bool match = false;
    if (cert) {
      unsigned char* spki = nullptr;
      int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
      if (n > 0) {
        Hash32 got = Sha256::digest({spki, static_cast<size_t>(n)});
        for (const Hash32& pin : self->pins)
          if (sodium_memcmp(got.data(), pin.data(), got.size()) == 0) {
            match = true;
            self->seen_pin = pin;
          }
      }
      OPENSSL_free(spki);
    }
    if (match) {
      X509_STORE_CTX_set_error(store, X509_V_OK);
      return 1;
    }
    self->pin_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }

  // A CONNECT proxy's own refusal (407 and the like) comes back as if it were the relay's
  // answer, on a socket left without TLS: drop that socket so the next request starts afresh.
  Status check_proxy(const httplib::Response& res) {
    if (res.status == 407 || (res.status >= 400 && !res.has_header("Content-Type") &&
                              !res.has_header("Tus-Resumable"))) {
      http.stop();
      return make_error(Errc::kNetwork,
                        "the proxy (or something between) refused the "
                        "connection to the relay (HTTP " +
                            std::to_string(res.status) + ")");
    }
    return Status::Ok();
  }

  Error transport_error(httplib::Error e) {
    if (deadline_expired && !pin_mismatch)
      return make_error(Errc::kNetwork,
                        "the request to the relay outlasted its deadline (a stalled or "
                        "deliberately slowed connection): cancelled");
    if (pin_mismatch)
      return make_error(Errc::kRelayPinMismatch,
                        "the relay's certificate matches neither pin in the roster: something on "
                        "this network is intercepting the connection (a captive portal or a "
                        "proxy), or the relay moved to a key newer than this roster (a "
                        "coordinator can give you the current roster: `roster add`); nothing "
                        "was sent");
    if (e == httplib::Error::SSLServerVerification)
      return make_error(Errc::kRelayPinMismatch,
                        "the relay's certificate does not name " + url.host + "; nothing was sent");
    if (e == httplib::Error::SSLConnection)
      return make_error(Errc::kNetwork, "the TLS 1.3 handshake with the relay failed");
    return make_error(Errc::kNetwork, "no answer from the relay (" + httplib::to_string(e) + ")");
  }
};

}  // namespace satchel::client
