#include "satchel/client/relay_client.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/sha256.h"
#include "sync/relay_transport.h"

namespace satchel::client {

namespace detail {

std::optional<uint64_t> parse_decimal(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 19) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// The relay's refusal code from a {"error":"..."} body; only [a-z-] is ever shown.
std::string refusal_code(const httplib::Response& res) {
  auto j = nlohmann::json::parse(res.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_string()) return "unknown";
  std::string code = j["error"].get<std::string>();
  if (code.empty() || code.size() > 40 || !std::all_of(code.begin(), code.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || c == '-';
      }))
    return "unknown";
  return code;
}

bool valid_upload_id(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Error refusal(const httplib::Response& res, int64_t& retry_after, bool& unchanged) {
  retry_after = 0;
  unchanged = res.status == 429 || res.status == 503 || res.status == 423;
  if (res.has_header("Retry-After")) {
    if (auto v = parse_decimal(res.get_header_value("Retry-After")))
      retry_after = static_cast<int64_t>(std::min<uint64_t>(*v, 86400 * 2));
  }
  const std::string code = refusal_code(res);
  const std::string what =
      "the relay refused the request: " + code + " (HTTP " + std::to_string(res.status) + ")";
  switch (res.status) {
    case 401:
    case 403:
      return make_error(Errc::kRelayUnauthorized, what);
    case 423:
    case 429:
    case 503:
    case 409:  // offset mismatch: ask for the offset again
    case 404:  // an upload that expired or was discarded: start it again
    case 408:
    case 460:
    case 500:
      return make_error(Errc::kRelayRetryLater, what);
    case 400:
      // upload-hash-mismatch is not retried: the device's copy hashes to the id, so the relay
      // (or the path to it) is corrupting bytes, and sending them again would not help.
      if (code == "incomplete-body") return make_error(Errc::kRelayRetryLater, what);
      return make_error(Errc::kRelayRefused, what);
    case 507:
      if (code == "insufficient-storage") return make_error(Errc::kRelayRetryLater, what);
      return make_error(Errc::kRelayRefused, what);
    default:
      // 502/504 from a front proxy, and any other server error: come back later.
      if (res.status >= 500) return make_error(Errc::kRelayRetryLater, what);
      return make_error(Errc::kRelayRefused, what);
  }
}

// The Authorization header for a token; the token's bytes are copied into cpp-httplib's
// header map (a std::string) for the request's duration: the library offers no other way.
httplib::Headers auth_headers(const SecretBytes& token) {
  std::string value = "Bearer ";
  value.append(reinterpret_cast<const char*>(token.data()), token.size());
  httplib::Headers h{{"Tus-Resumable", "1.0.0"}};
  h.emplace("Authorization", std::move(value));  // moved, not copied: wipe_headers() reaches it
  return h;
}

void wipe_headers(httplib::Headers& h) {
  for (auto& [k, v] : h) sodium_memzero(v.data(), v.size());
}

}  // namespace detail

using namespace detail;

namespace {

// Every client sends the same User-Agent, so the relay cannot tell versions or platforms apart.
constexpr const char* kUserAgent = "tus-client";
constexpr const char* kOctets = "application/offset+octet-stream";
constexpr size_t kProviderStep = 64 * 1024;

bool has_control_or_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  if (s.empty() || s.size() > 5) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// Splits "host[:port]" (IPv6 literals in brackets).
Result<std::pair<std::string, std::optional<uint16_t>>> split_host_port(std::string_view hp,
                                                                        const char* what) {
  std::string host;
  std::string_view rest;
  if (!hp.empty() && hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string_view::npos)
      return make_error(Errc::kInvalidArgument, std::string(what) + ": unclosed '[' in address");
    host = std::string(hp.substr(1, close - 1));
    rest = hp.substr(close + 1);
  } else {
    auto colon = hp.rfind(':');
    host = std::string(hp.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : hp.substr(colon);
  }
  if (host.empty() || host.size() > 253)
    return make_error(Errc::kInvalidArgument, std::string(what) + ": missing or overlong host");
  std::optional<uint16_t> port;
  if (!rest.empty()) {
    if (rest.front() != ':' || !(port = parse_port(rest.substr(1))))
      return make_error(Errc::kInvalidArgument,
                        std::string(what) + ": the port must be a number from 1 to 65535");
  }
  return std::make_pair(host, port);
}

std::string base64_standard(std::string_view text) {
  std::string out(sodium_base64_encoded_len(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                    text.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

}  // namespace

Result<RelayUrl> parse_relay_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() > 256 || has_control_or_space(url))
    return make_error(Errc::kInvalidArgument, "relay URL: too long or contains spaces or controls");
  if (url.substr(0, kScheme.size()) != kScheme)
    return make_error(Errc::kInvalidArgument, "relay URL: only https:// is accepted");
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#@\\") != std::string_view::npos)
    return make_error(Errc::kInvalidArgument,
                      "relay URL: user names, queries and fragments are not accepted");
  auto slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  auto hp = split_host_port(hostport, "relay URL");
  if (!hp) return hp.error();
  RelayUrl out;
  out.host = hp->first;
  out.port = hp->second.value_or(443);
  out.base_path = std::string(path);
  return out;
}

Result<ProxyAddress> parse_proxy_address(std::string_view text) {
  if (has_control_or_space(text))
    return make_error(Errc::kInvalidArgument, "proxy: expected HOST:PORT without spaces");
  auto hp = split_host_port(text, "proxy");
  if (!hp) return hp.error();
  if (!hp->second) return make_error(Errc::kInvalidArgument, "proxy: expected HOST:PORT");
  return ProxyAddress{hp->first, *hp->second};
}

Result<Hash32> spki_pin_of_der_certificate(ByteView der) {
  const unsigned char* p = der.data();
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!cert) return make_error(Errc::kInvalidArgument, "not a DER certificate");
  unsigned char* spki = nullptr;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
  X509_free(cert);
  if (n <= 0) return make_error(Errc::kInvalidArgument, "certificate has no public key");
  Hash32 pin = Sha256::digest({spki, static_cast<size_t>(n)});
  OPENSSL_free(spki);
  return pin;
}

RelayClient::RelayClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RelayClient::~RelayClient() = default;

Result<std::unique_ptr<RelayClient>> RelayClient::create(const RelayUrl& url,
                                                         std::vector<Hash32> pins,
                                                         const RelayClientOptions& options) {
  if (pins.empty()) return make_error(Errc::kInvalidArgument, "no relay pin to check against");
  auto impl = std::make_unique<Impl>(url, std::move(pins));
  SSL_CTX* ctx = impl->http.ssl_context();
  if (!ctx) return make_error(Errc::kInternal, "TLS context unavailable");
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
    return make_error(Errc::kInternal, "TLS 1.3 unavailable");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_cert_verify_callback(ctx, &Impl::verify_pin, impl.get());
  impl->http.enable_server_certificate_verification(true);
  impl->deadline_base_seconds = options.deadline_base_seconds;
  impl->min_rate = options.min_rate_bytes_per_second;
  impl->http.set_keep_alive(options.keep_alive);
  impl->http.set_connection_timeout(options.connect_timeout_seconds, 0);
  impl->http.set_read_timeout(options.read_timeout_seconds, 0);
  impl->http.set_write_timeout(options.write_timeout_seconds, 0);
  impl->http.set_follow_location(false);
  impl->http.set_decompress(false);  // the relay never compresses: no decompression bombs
  impl->http.set_default_headers({{"User-Agent", kUserAgent}});
  if (options.proxy) impl->http.set_proxy(options.proxy->host, options.proxy->port);
  return std::unique_ptr<RelayClient>(new RelayClient(std::move(impl)));
}

namespace {

Result<UploadStatus> upload_status_of(const httplib::Response& res) {
  UploadStatus s;
  if (res.get_header_value("Tus-Resumable") != "1.0.0")
    return make_error(Errc::kNetwork, "the answer did not come from a tus relay");
  const std::string state = res.get_header_value("Upload-State");
  if (state == "partial")
    s.state = UploadState::kPartial;
  else if (state == "stored")
    s.state = UploadState::kStored;
  else if (state == "delivered")
    s.state = UploadState::kDelivered;
  else
    return make_error(Errc::kRelayRefused, "the relay's answer has no valid Upload-State");
  auto offset = parse_decimal(res.get_header_value("Upload-Offset"));
  auto length = parse_decimal(res.get_header_value("Upload-Length"));
  if (!offset || !length || *offset > *length)
    return make_error(Errc::kRelayRefused, "the relay's answer has an invalid Upload-Offset");
  if (s.state != UploadState::kPartial && *offset != *length)
    return make_error(Errc::kRelayRefused, "the relay's answer says complete but is not");
  s.offset = *offset;
  s.length = *length;
  return s;
}

}  // namespace

Result<Enrollment> RelayClient::enroll(const SecretBytes& code) {
  // The code: 32 base32 characters; spaces and dashes people type are dropped.
  SecretBytes body(code.size() + 12);
  size_t n = 0;
  auto put = [&](std::string_view s) {
    std::memcpy(body.data() + n, s.data(), s.size());
    n += s.size();
  };
  put("{\"code\":\"");
  size_t digits = 0;
  for (uint8_t c : code.span()) {
    if (c == ' ' || c == '-' || c == '\n' || c == '\r') continue;
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
    if (!ok)
      return make_error(Errc::kInvalidArgument,
                        "the enrollment code may hold only letters and the digits 2 to 7");
    body.data()[n++] = c;
    ++digits;
  }
  if (digits != 32)
    return make_error(
        Errc::kInvalidArgument,
        "an enrollment code has 32 characters, this one has " + std::to_string(digits));
  put("\"}");
  begin_request();
  // Streamed from secret memory, so cpp-httplib holds no std::string copy of the code.
  auto provider = [&](size_t offset, size_t want, httplib::DataSink& sink) {
    return sink.write(reinterpret_cast<const char*>(body.data()) + offset,
                      std::min(want, n - offset));
  };
  auto res = [&] {  // the watchdog ends with the request
    RequestDeadline deadline(impl_->http, impl_->deadline(n), impl_->deadline_expired);
    return impl_->http.Post(impl_->path("/v1/enroll").c_str(), httplib::Headers{}, n, provider,
                            "application/json");
  }();
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != 200) {
    Error e = refusal(*res, retry_after_, unchanged_);
    if (res->status == 403)
      e.message = "the relay refused the enrollment code: it is unknown, used or expired";
    return e;
  }
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  Enrollment out;
  if (j.is_object() && j.contains("token") && j["token"].is_string() && j.contains("token_id") &&
      j["token_id"].is_string()) {
    std::string& token = j["token"].get_ref<std::string&>();
    std::string id = j["token_id"].get<std::string>();
    const bool token_ok =
        token.size() == 43 && std::all_of(token.begin(), token.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
        });
    if (token_ok && id.size() == 16 && from_hex(id)) {
      out.token = SecretBytes(token.size());
      std::memcpy(out.token.data(), token.data(), token.size());
      out.token_id = id;
    }
    sodium_memzero(token.data(), token.size());
  }
  sodium_memzero(res->body.data(), res->body.size());
  if (out.token.empty())
    return make_error(Errc::kRelayRefused, "the relay's enrollment answer is malformed");
  return out;
}

void RelayClient::begin_request() {
  impl_->pin_mismatch = false;
  impl_->deadline_expired = false;
  impl_->body_error = Status::Ok();
  unchanged_ = false;
  retry_after_ = 0;
}

// Streams bundle bytes [base, base + content length) from `body` in 64 KiB steps.
std::function<bool(size_t, size_t, httplib::DataSink&)> RelayClient::body_provider(
    const BodyReader& body, uint64_t base) {
  return [this, &body, base](size_t sent, size_t want, httplib::DataSink& sink) {
    Bytes chunk;
    Status st = body(base + sent, std::min(want, kProviderStep), chunk);
    if (!st || chunk.empty()) {
      impl_->body_error =
          st ? make_error(Errc::kIoError, "outbox entry is shorter than its size") : st;
      return false;
    }
    body_bytes_sent_ += chunk.size();
    return sink.write(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  };
}

// The upload's state from a tus answer, or the error the request ended in.
Result<UploadStatus> RelayClient::tus_answer(const httplib::Result& res, int ok_status,
                                             int other_ok_status) {
  if (!impl_->body_error) return impl_->body_error.error();
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != ok_status && res->status != other_ok_status)
    return refusal(*res, retry_after_, unchanged_);
  return upload_status_of(*res);
}

Result<UploadStatus> RelayClient::status(const std::string& upload_id, const SecretBytes& token) {
  if (!valid_upload_id(upload_id)) return make_error(Errc::kInvalidArgument, "bad upload id");
  begin_request();
  httplib::Headers h = auth_headers(token);
  auto res = [&] {  // the watchdog ends with the request
    RequestDeadline deadline(impl_->http, impl_->deadline(0), impl_->deadline_expired);
    return impl_->http.Head(impl_->path("/v1/uploads/" + upload_id).c_str(), h);
  }();
  wipe_headers(h);
  if (res && res->status == 404 && impl_->check_proxy(*res)) return UploadStatus{};
  return tus_answer(res, 200, 200);
}

Result<UploadStatus> RelayClient::create(const std::string& upload_id, uint64_t length,
                                         uint64_t max_body, const SecretBytes& token,
                                         const BodyReader& body) {
  if (!valid_upload_id(upload_id)) return make_error(Errc::kInvalidArgument, "bad upload id");
  begin_request();
  httplib::Headers h = auth_headers(token);
  h.emplace("Upload-Length", std::to_string(length));
  h.emplace("Upload-Metadata", "sha256 " + base64_standard(upload_id));
  const uint64_t n = std::min(length, max_body);
  auto res = [&] {  // the watchdog ends with the request
    RequestDeadline deadline(impl_->http, impl_->deadline(n), impl_->deadline_expired);
    return impl_->http.Post(impl_->path("/v1/uploads").c_str(), h, static_cast<size_t>(n),
                            body_provider(body, 0), kOctets);
  }();
  wipe_headers(h);
  return tus_answer(res, 201, 200);
}

Result<UploadStatus> RelayClient::append(const std::string& upload_id, uint64_t offset,
                                         uint64_t count, const SecretBytes& token,
                                         const BodyReader& body) {
  if (!valid_upload_id(upload_id)) return make_error(Errc::kInvalidArgument, "bad upload id");
  begin_request();
  httplib::Headers h = auth_headers(token);
  h.emplace("Upload-Offset", std::to_string(offset));
  auto res = [&] {  // the watchdog ends with the request
    RequestDeadline deadline(impl_->http, impl_->deadline(count), impl_->deadline_expired);
    return impl_->http.Patch(impl_->path("/v1/uploads/" + upload_id).c_str(), h,
                             static_cast<size_t>(count), body_provider(body, offset), kOctets);
  }();
  wipe_headers(h);
  return tus_answer(res, 204, 204);
}

Result<std::optional<Bytes>> RelayClient::document(const std::string& name,
                                                   const SecretBytes& token) {
  if (name.empty() || name.size() > 64 || name[0] == '.' ||
      !std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      }))
    return make_error(Errc::kInvalidArgument, "bad document name");
  begin_request();
  httplib::Headers h = auth_headers(token);
  auto res = [&] {  // the watchdog ends with the request
    RequestDeadline deadline(impl_->http, impl_->deadline(0), impl_->deadline_expired);
    return impl_->http.Get(impl_->path("/v1/documents/" + name).c_str(), h);
  }();
  wipe_headers(h);
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status == 404) return std::optional<Bytes>{};
  if (res->status != 200) return refusal(*res, retry_after_, unchanged_);
  return std::optional<Bytes>(Bytes(res->body.begin(), res->body.end()));
}

}  // namespace satchel::client
