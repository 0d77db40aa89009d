// The coordinator's requests to the relay (schema/relay-api.md, "Coordinator endpoints"):
// challenge and session, listing, ranged download, batched fetch and acknowledgements,
// documents, enrollment codes and registrations, over the same pinned TLS connection as the
// device's requests.
#include <nlohmann/json.hpp>

#include <cstring>
#include <utility>

#include "satchel/client/relay_client.h"
#include "satchel/crypto/encoding.h"
#include "satchel/crypto/trust_documents.h"
#include "sync/relay_transport.h"

namespace satchel::client {

using namespace detail;

namespace {

// A fetched upload's frame header: id (32) || status (1) || length (8, little-endian).
constexpr size_t kFetchFrameHeader = 41;

bool is_lower_hex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_base64url(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// The trust-document rules a relay names when it refuses a registration (its "rule" field).
constexpr std::pair<const char*, Errc> kRegistrationRules[] = {
    {"doc-malformed", Errc::kDocMalformed},
    {"doc-wrong-type", Errc::kDocWrongType},
    {"doc-unsupported-version", Errc::kDocUnsupportedVersion},
    {"doc-untrusted-signer", Errc::kDocUntrustedSigner},
    {"doc-bad-signature", Errc::kDocBadSignature},
    {"doc-invalid-field", Errc::kDocInvalidField},
};

httplib::Headers session_headers(const SecretBytes& session) {
  std::string value = "Bearer ";
  value.append(reinterpret_cast<const char*>(session.data()), session.size());
  httplib::Headers h;
  h.emplace("Authorization", std::move(value));
  return h;
}

}  // namespace

Result<SecretBytes> RelayClient::open_session(const CoordinatorSecretKey& key,
                                              const std::string& mailbox, int64_t now) {
  if (!is_lower_hex(mailbox, 32))
    return make_error(Errc::kInvalidArgument, "a mailbox id is 32 lower-case hex digits");
  begin_request();
  auto res = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(0), impl_->deadline_expired);
    return impl_->http.Get(impl_->path("/v1/coordinator/challenge?mailbox=" + mailbox).c_str());
  }();
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != 200) return refusal(*res, retry_after_, unchanged_);
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (!j.is_object() || !j.contains("nonce") || !j["nonce"].is_string())
    return make_error(Errc::kRelayRefused, "the relay's challenge is malformed");
  const std::string nonce = j["nonce"].get<std::string>();
  if (nonce.size() < 16 || nonce.size() > 64 || !is_base64url(nonce))
    return make_error(Errc::kRelayRefused, "the relay's challenge is malformed");
  if (!impl_->seen_pin)
    return make_error(Errc::kRelayPinMismatch, "no pinned certificate was seen for the relay");
  auto message = relay_challenge_message(*impl_->seen_pin, as_bytes(mailbox), as_bytes(nonce), now);
  if (!message) return message.error();
  const auto signature = sign_relay_challenge(key, *message);
  const nlohmann::json body = {{"mailbox", mailbox},
                               {"key", to_hex(key.public_key().ed25519)},
                               {"nonce", nonce},
                               {"issued_at", now},
                               {"signature", to_base64url(signature)}};
  begin_request();
  auto answer = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(0), impl_->deadline_expired);
    return impl_->http.Post(impl_->path("/v1/coordinator/session").c_str(), body.dump(),
                            "application/json");
  }();
  if (!answer) return impl_->transport_error(answer.error());
  if (Status p = impl_->check_proxy(*answer); !p) return p.error();
  if (answer->status != 200) {
    Error e = refusal(*answer, retry_after_, unchanged_);
    if (answer->status == 401)
      e.message =
          "the relay did not open a session: this coordinator key is not registered for the "
          "organisation's mailbox there (or the clock is more than 5 minutes off)";
    return e;
  }
  auto s = nlohmann::json::parse(answer->body, nullptr, false);
  SecretBytes out;
  if (s.is_object() && s.contains("session") && s["session"].is_string()) {
    std::string& token = s["session"].get_ref<std::string&>();
    if (token.size() == 43 && is_base64url(token)) {
      out = SecretBytes(token.size());
      std::memcpy(out.data(), token.data(), token.size());
    }
    sodium_memzero(token.data(), token.size());
  }
  sodium_memzero(answer->body.data(), answer->body.size());
  if (out.empty())
    return make_error(Errc::kRelayRefused, "the relay's session answer is malformed");
  return out;
}

Result<PendingPage> RelayClient::list_pending(const SecretBytes& session, const std::string& after,
                                              int limit) {
  if (!after.empty() && !valid_upload_id(after))
    return make_error(Errc::kInvalidArgument, "bad upload id to list after");
  limit = std::clamp(limit, 1, 1000);
  std::string path = "/v1/coordinator/uploads?pending=1&limit=" + std::to_string(limit);
  if (!after.empty()) path += "&after=" + after;
  begin_request();
  httplib::Headers h = session_headers(session);
  auto res = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(0), impl_->deadline_expired);
    return impl_->http.Get(impl_->path(path).c_str(), h);
  }();
  wipe_headers(h);
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != 200) return refusal(*res, retry_after_, unchanged_);
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (!j.is_object() || !j.contains("uploads") || !j["uploads"].is_array())
    return make_error(Errc::kRelayRefused, "the relay's listing is malformed");
  PendingPage page;
  for (const auto& u : j["uploads"]) {
    if (!u.is_object() || !u.contains("id") || !u["id"].is_string() || !u.contains("size") ||
        !u["size"].is_number_unsigned() || !valid_upload_id(u["id"].get<std::string>()))
      return make_error(Errc::kRelayRefused, "the relay's listing has a malformed entry");
    const uint64_t required = u.contains("required") && u["required"].is_number_unsigned()
                                  ? u["required"].get<uint64_t>()
                                  : 0;
    page.uploads.push_back({u["id"].get<std::string>(), u["size"].get<uint64_t>(), required});
  }
  if (j.contains("next") && j["next"].is_string()) {
    const std::string next = j["next"].get<std::string>();
    if (!valid_upload_id(next) || (!after.empty() && next <= after))
      return make_error(Errc::kRelayRefused, "the relay's listing does not move forward");
    page.next = next;
  }
  return page;
}

Result<uint64_t> RelayClient::download(const SecretBytes& session, const std::string& upload_id,
                                       uint64_t offset, uint64_t size, ByteSink& out) {
  if (!valid_upload_id(upload_id)) return make_error(Errc::kInvalidArgument, "bad upload id");
  if (offset >= size) return uint64_t{0};
  begin_request();
  httplib::Headers h = session_headers(session);
  if (offset > 0) h.emplace("Range", "bytes=" + std::to_string(offset) + "-");
  uint64_t received = 0;
  Status sink_error = Status::Ok();
  std::string framing_error;
  auto res = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(size - offset), impl_->deadline_expired);
    return impl_->http.Get(
        impl_->path("/v1/coordinator/uploads/" + upload_id).c_str(), h,
        [&](const httplib::Response& r) {
          // Only the answer asked for is read: the whole bundle from 0, or exactly the range.
          if (r.status == 200 && offset == 0) return true;
          if (r.status == 206 && offset > 0 &&
              r.get_header_value("Content-Range") == "bytes " + std::to_string(offset) + "-" +
                                                         std::to_string(size - 1) + "/" +
                                                         std::to_string(size))
            return true;
          if (r.status == 200 || r.status == 206)
            framing_error = "the relay answered a different part of the bundle than asked";
          return r.status != 200 && r.status != 206;  // read a refusal's small body
        },
        [&](const char* data, size_t len) {
          if (received + len > size - offset) {
            framing_error = "the relay sent more bytes than the bundle holds";
            return false;
          }
          sink_error = out.write(ByteView(reinterpret_cast<const uint8_t*>(data), len));
          if (!sink_error) return false;
          received += len;
          return true;
        });
  }();
  wipe_headers(h);
  if (!sink_error) return sink_error.error();
  if (!framing_error.empty()) return make_error(Errc::kRelayRefused, framing_error);
  if (!res) {
    if (received > 0)
      return make_error(Errc::kNetwork, "the download was cut after " + std::to_string(received) +
                                            " bytes (resumed)");
    return impl_->transport_error(res.error());
  }
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != 200 && res->status != 206) return refusal(*res, retry_after_, unchanged_);
  if (received != size - offset)
    return make_error(Errc::kNetwork, "the download ended after " + std::to_string(received) +
                                          " of " + std::to_string(size - offset) + " bytes");
  return received;
}

Result<size_t> RelayClient::fetch(const SecretBytes& session,
                                  std::span<const PendingUpload> uploads,
                                  const FetchedUpload& each) {
  if (uploads.empty() || uploads.size() > kMaxBatchUploads)
    return make_error(Errc::kInvalidArgument, "a fetch names 1 to 1000 uploads");
  uint64_t bytes = 0, expected = 0;
  nlohmann::json ids = nlohmann::json::array();
  for (const PendingUpload& u : uploads) {
    if (!valid_upload_id(u.id)) return make_error(Errc::kInvalidArgument, "bad upload id");
    bytes += u.size;
    expected += kFetchFrameHeader + u.size;
    ids.push_back(u.id);
  }
  if (bytes > kMaxFetchBytes)
    return make_error(Errc::kInvalidArgument, "a fetch asks for at most 16 MiB of bundles");
  begin_request();
  httplib::Headers h = session_headers(session);
  // The frame being received: its header, then its bytes.
  size_t index = 0, passed = 0;
  Bytes header, body;
  uint64_t length = 0;
  bool stored = false, in_body = false;
  Status each_error = Status::Ok();
  std::string framing_error, refusal_body;
  int status = 0;
  auto finish_frame = [&]() -> bool {
    const PendingUpload& u = uploads[index];
    each_error = stored ? each(u, ByteView(body)) : each(u, std::nullopt);
    if (!each_error) return false;
    sodium_memzero(body.data(), body.size());
    body.clear();
    header.clear();
    in_body = false;
    index++;
    passed++;
    return true;
  };
  auto receive = [&](const uint8_t* data, size_t len) -> bool {
    while (len > 0) {
      if (index >= uploads.size()) {
        framing_error = "the relay sent more than the uploads asked for";
        return false;
      }
      if (!in_body) {
        const size_t n = std::min(len, kFetchFrameHeader - header.size());
        header.insert(header.end(), data, data + n);
        data += n;
        len -= n;
        if (header.size() < kFetchFrameHeader) return true;
        const PendingUpload& u = uploads[index];
        length = 0;
        for (int i = 7; i >= 0; i--) length = (length << 8) | header[33 + static_cast<size_t>(i)];
        stored = header[32] == 0;
        if (to_hex(ByteView(header.data(), 32)) != u.id || header[32] > 1 ||
            (stored && length != u.size) || (!stored && length != 0)) {
          framing_error = "the relay's fetch answer does not frame the uploads asked for";
          return false;
        }
        in_body = true;
        body.reserve(static_cast<size_t>(length));
        if (length == 0 && !finish_frame()) return false;
        continue;
      }
      const size_t n = static_cast<size_t>(std::min<uint64_t>(len, length - body.size()));
      body.insert(body.end(), data, data + n);
      data += n;
      len -= n;
      if (body.size() == length && !finish_frame()) return false;
    }
    return true;
  };
  const std::string request = nlohmann::json{{"ids", std::move(ids)}}.dump();
  auto res = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(expected), impl_->deadline_expired);
    httplib::Request req;
    req.method = "POST";
    req.path = impl_->path("/v1/coordinator/uploads/fetch");
    req.headers = h;
    req.set_header("Content-Type", "application/json");
    req.body = request;
    req.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      if (status == 200) return receive(reinterpret_cast<const uint8_t*>(data), len);
      refusal_body.append(data, std::min(len, 4096 - std::min<size_t>(4096, refusal_body.size())));
      return true;  // a refusal's small body, for its message
    };
    return impl_->http.send(req);
  }();
  if (res && res->status != 200) res->body = refusal_body;
  wipe_headers(h);
  sodium_memzero(body.data(), body.size());
  if (!each_error) return each_error.error();
  if (!framing_error.empty()) return make_error(Errc::kRelayRefused, framing_error);
  if (!res) {
    if (passed > 0)
      return make_error(Errc::kNetwork, "the fetch was cut after " + std::to_string(passed) +
                                            " of " + std::to_string(uploads.size()) +
                                            " uploads (asked again)");
    return impl_->transport_error(res.error());
  }
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != 200) return refusal(*res, retry_after_, unchanged_);
  if (index != uploads.size())
    return make_error(Errc::kNetwork, "the fetch ended after " + std::to_string(passed) + " of " +
                                          std::to_string(uploads.size()) + " uploads");
  return passed;
}

Status RelayClient::acknowledge_batch(const SecretBytes& session,
                                      const std::vector<std::string>& held,
                                      const std::vector<std::string>& not_mine) {
  const size_t n = held.size() + not_mine.size();
  if (n == 0 || n > kMaxBatchUploads)
    return make_error(Errc::kInvalidArgument, "an acknowledgement batch names 1 to 1000 uploads");
  for (const auto& list : {&held, &not_mine})
    for (const std::string& id : *list)
      if (!valid_upload_id(id)) return make_error(Errc::kInvalidArgument, "bad upload id");
  const std::string body = nlohmann::json{{"acknowledge", held}, {"not_mine", not_mine}}.dump();
  begin_request();
  httplib::Headers h = session_headers(session);
  auto res = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(0), impl_->deadline_expired);
    return impl_->http.Post(impl_->path("/v1/coordinator/uploads/acknowledgements").c_str(), h,
                            body, "application/json");
  }();
  wipe_headers(h);
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != 200) return refusal(*res, retry_after_, unchanged_);
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (!j.is_object() || !j.contains("results") || !j["results"].is_array() ||
      j["results"].size() != n)
    return make_error(Errc::kRelayRefused, "the relay's acknowledgement answer is malformed");
  return Status::Ok();
}

Status RelayClient::publish_document(const SecretBytes& session, const std::string& name,
                                     ByteView bytes) {
  if (name.empty() || name.size() > 64 || name[0] == '.' ||
      !std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      }))
    return make_error(Errc::kInvalidArgument, "bad document name");
  begin_request();
  httplib::Headers h = session_headers(session);
  const std::string body(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto res = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(bytes.size()), impl_->deadline_expired);
    return impl_->http.Put(impl_->path("/v1/coordinator/documents/" + name).c_str(), h, body,
                           "application/octet-stream");
  }();
  wipe_headers(h);
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != 204 && res->status != 200) return refusal(*res, retry_after_, unchanged_);
  return Status::Ok();
}

Result<MintedCode> RelayClient::mint_enrollment_code(const SecretBytes& session, int hours) {
  if (hours < 0 || hours > 72)
    return make_error(Errc::kInvalidArgument, "an enrollment code lasts 1 to 72 hours");
  std::string path = "/v1/coordinator/enrollment-codes";
  if (hours > 0) path += "?hours=" + std::to_string(hours);
  begin_request();
  httplib::Headers h = session_headers(session);
  auto res = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(0), impl_->deadline_expired);
    return impl_->http.Post(impl_->path(path).c_str(), h, std::string(), "application/json");
  }();
  wipe_headers(h);
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  if (res->status != 200) return refusal(*res, retry_after_, unchanged_);
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  sodium_memzero(res->body.data(), res->body.size());
  bool ok = j.is_object() && j.contains("code") && j["code"].is_string() && j.contains("code_id") &&
            j["code_id"].is_string() && j.contains("expires_at") &&
            j["expires_at"].is_number_integer();
  MintedCode out;
  if (ok) {
    std::string& code = j["code"].get_ref<std::string&>();
    out.code = SecretBytes(code.size());
    std::memcpy(out.code.data(), code.data(), code.size());
    sodium_memzero(code.data(), code.size());
    out.code_id = j["code_id"].get<std::string>();
    out.expires_at = j["expires_at"].get<int64_t>();
    ok = out.code.size() == 32 && is_lower_hex(out.code_id, 16);
  }
  if (!ok)
    return make_error(Errc::kRelayRefused, "the relay's enrollment code answer is malformed");
  return out;
}

Result<uint64_t> RelayClient::update_registration(const SecretBytes& session,
                                                  std::string_view registration_text) {
  if (registration_text.empty() || registration_text.size() > 4096)
    return make_error(Errc::kInvalidArgument, "a registration's text is 1 to 4096 bytes");
  begin_request();
  httplib::Headers h = session_headers(session);
  auto res = [&] {
    RequestDeadline deadline(impl_->http, impl_->deadline(registration_text.size()),
                             impl_->deadline_expired);
    return impl_->http.Put(impl_->path("/v1/coordinator/registration").c_str(), h,
                           std::string(registration_text), "text/plain");
  }();
  wipe_headers(h);
  if (!res) return impl_->transport_error(res.error());
  if (Status p = impl_->check_proxy(*res); !p) return p.error();
  const auto j = nlohmann::json::parse(res->body, nullptr, false);
  const std::string code = refusal_code(*res);
  if (res->status == 409 && code == "registration-rollback" && j.contains("version") &&
      j["version"].is_number_unsigned())
    return make_error(Errc::kDocRollback, "the relay holds registration version " +
                                              std::to_string(j["version"].get<uint64_t>()) +
                                              ", not older than this one");
  if (res->status == 400 && code == "bad-registration" && j.contains("rule") &&
      j["rule"].is_string()) {
    for (const auto& [rule, errc] : kRegistrationRules)
      if (j["rule"] == rule)
        return make_error(errc, std::string("the relay refused the registration: ") + rule);
  }
  if (res->status != 200) return refusal(*res, retry_after_, unchanged_);
  if (!j.is_object() || !j.contains("version") || !j["version"].is_number_unsigned())
    return make_error(Errc::kRelayRefused, "the relay's registration answer is malformed");
  return j["version"].get<uint64_t>();
}

}  // namespace satchel::client
