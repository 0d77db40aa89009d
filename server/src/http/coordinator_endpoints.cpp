// Coordinator endpoints: the challenge-response session, then (with the session token) the
// listing of stored uploads, their download (one range at a time, resumable), acknowledgement,
// published documents, enrollment codes, token revocation and newer registrations. The mailbox
// comes from the session, which the signed challenge bound to it.
#include <functional>
#include <nlohmann/json.hpp>

#include "http/anonymous_refusal.h"
#include "http/http_answers.h"
#include "http/http_endpoints.h"
#include "http/request_guard.h"
#include "http/upload_receiver.h"
#include "satchel/relay/credentials.h"
#include "satchel/relay/request_headers.h"

namespace satchel::relay {

namespace {

using httplib::ContentReader;
using httplib::Request;
using httplib::Response;

constexpr size_t kDefaultPage = 100;
constexpr size_t kMaxPage = 1000;
// A batch (fetch or acknowledgements) names at most this many uploads, and a fetch answers
// at most kMaxFetchBytes of bundles (schema/relay-api.md, "Bulk pulls").
constexpr size_t kMaxBatch = 1000;
constexpr uint64_t kMaxFetchBytes = 16ull << 20;
// Each fetched upload is framed: id (32) || status (1) || length (8, little-endian) || bytes.
constexpr size_t kFrameHeader = 41;
constexpr int64_t kRetentionWarningDays = 7;

std::optional<Hash32> id_from_path(const Request& req) {
  return req.matches.size() < 2 ? std::nullopt : parse_hex32(req.matches[1].str());
}

// The coordinator's mailbox, verified; refuses (and returns nullopt) if it is gone or a newer
// registration no longer lists the coordinator.
std::optional<ActiveMailbox> session_mailbox(Relay& relay, const RequestContext& ctx,
                                             const Request& req, Response& res) {
  auto m = relay.mailboxes.find(ctx.mailbox);
  if (!m) {
    refuse(req, res, 500, "internal", false);
    return std::nullopt;
  }
  const auto& keys = *m ? (*m)->registration.coordinator_auth_keys : std::vector<Key32>();
  if (std::find(keys.begin(), keys.end(), ctx.coordinator->coordinator) == keys.end()) {
    refuse(req, res, 401, "unauthorized", false);
    return std::nullopt;
  }
  return std::move(m->value());
}

// True once a newer registration has ended the request's session: an answer still being sent
// for it stops there (the connection is cut).
std::function<bool()> session_ended(Relay& relay, const RequestContext& ctx) {
  return [&relay, credential = ctx.credential, expires_at = ctx.coordinator->expires_at] {
    return relay.sessions.ended_early(credential, expires_at);
  };
}

// A challenge proves nothing, but costs the relay one MAC and stores nothing (the nonce carries
// its own proof), like a refusal: it does not draw on the anonymous allowance, so a flood of
// challenges can neither fill a table nor spend the allowance a coordinator needs.
void challenge(Relay& relay, const Request& req, Response& res) {
  if (!current_request(Endpoint::kChallenge)) return refuse(req, res, 500, "internal", true);
  const std::string mailbox = req.get_param_value("mailbox");
  if (req.get_param_value_count("mailbox") != 1 || !is_mailbox_id(mailbox))
    return refuse(req, res, 400, "bad-request", false);
  auto c = relay.sessions.issue_challenge(mailbox);
  if (!c) return refuse(req, res, 400, "bad-request", false);
  res.set_header("Cache-Control", "no-store");
  answer_json(req, res, 200, {{"nonce", c->nonce}, {"expires_in", c->expires_in}});
}

// A session that opens draws nothing from the anonymous allowance; a malformed or failed
// attempt draws one request (429 once the allowance is spent).
void open_session(Relay& relay, const Request& req, Response& res) {
  if (!current_request(Endpoint::kSession)) return refuse(req, res, 500, "internal", true);
  const auto body = nlohmann::json::parse(req.body, nullptr, false);
  auto field = [&](const char* name) -> std::optional<std::string> {
    if (!body.is_object() || !body.contains(name) || !body[name].is_string()) return std::nullopt;
    return body[name].get<std::string>();
  };
  const auto mailbox = field("mailbox");
  const auto key_hex = field("key");
  const auto nonce = field("nonce");
  const auto signature_text = field("signature");
  if (body.is_discarded() || !mailbox || !key_hex || !nonce || !signature_text ||
      !body.contains("issued_at") || !body["issued_at"].is_number_integer())
    return refuse_unproven(relay, req, res, 400, "bad-request");
  const auto key = parse_hex32(*key_hex);
  const auto signature = from_base64url(*signature_text);
  if (!key || !signature || signature->size() != 64 || !is_mailbox_id(*mailbox))
    return refuse_unproven(relay, req, res, 400, "bad-request");
  std::array<uint8_t, 64> sig{};
  std::copy(signature->begin(), signature->end(), sig.begin());
  auto grant = relay.sessions.open_session(
      *mailbox, [&relay](std::string_view id) { return relay.mailboxes.find(id); }, *key, *nonce,
      body["issued_at"].get<int64_t>(), sig);
  if (!grant) {
    if (grant.code() == Errc::kAlreadyExists) return refuse_retry_after(req, res, 503, "busy", 10);
    if (grant.code() == Errc::kInternal) return refuse(req, res, 500, "internal", false);
    res.set_header("WWW-Authenticate", "Bearer");
    return refuse_unproven(relay, req, res, 401, "unauthorized");
  }
  res.set_header("Cache-Control", "no-store");
  answer_json(req, res, 200, {{"session", grant->token}, {"expires_in", grant->expires_in}});
}

void list_uploads(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kUploadList);
  if (!ctx) return refuse(req, res, 500, "internal", true);
  auto mailbox = session_mailbox(relay, *ctx, req, res);
  if (!mailbox) return;
  std::optional<Hash32> after;
  if (req.has_param("after")) {
    after = parse_hex32(req.get_param_value("after"));
    if (!after) return refuse(req, res, 400, "bad-request", false);
  }
  size_t limit = kDefaultPage;
  if (req.has_param("limit")) {
    auto n = parse_decimal(req.get_param_value("limit"));
    if (!n || *n == 0 || *n > kMaxPage) return refuse(req, res, 400, "bad-request", false);
    limit = static_cast<size_t>(*n);
  }
  const std::string pending = req.get_param_value("pending");
  if (!pending.empty() && pending != "0" && pending != "1")
    return refuse(req, res, 400, "bad-request", false);
  // One more than the page, to know whether another page follows.
  auto rows = relay.store.list_stored(ctx->mailbox, after, limit + 1, ctx->coordinator->coordinator,
                                      pending == "1");
  if (!rows) return refuse(req, res, 500, "internal", false);
  const Day today = relay.clock.today();
  const uint32_t retention = relay.config.retention_days;
  Day since = 0;
  if (retention > 0) {
    auto s = relay.store.retention_since(retention, today);
    if (!s) return refuse(req, res, 500, "internal", false);
    since = *s;
  }
  const auto& keys = mailbox->registration.coordinator_auth_keys;
  nlohmann::json uploads = nlohmann::json::array();
  for (size_t i = 0; i < rows->size() && i < limit; i++) {
    const ListedUpload& u = (*rows)[i];
    size_t acks = 0, declines = 0;
    bool mine = false, declined = false;
    for (const Key32& k : u.acknowledged_by) {
      if (std::find(keys.begin(), keys.end(), k) != keys.end()) acks++;
      if (k == ctx->coordinator->coordinator) mine = true;
    }
    for (const Key32& k : u.declined_by) {
      if (std::find(keys.begin(), keys.end(), k) != keys.end()) declines++;
      if (k == ctx->coordinator->coordinator) declined = true;
    }
    const size_t required =
        acknowledgements_required(mailbox->registration.required_acks, keys.size(), declines);
    nlohmann::json item = {
        {"id", to_hex(u.id)},   {"size", u.length},     {"arrival", day_text(u.arrival)},
        {"acknowledged", mine}, {"declined", declined}, {"acknowledgements", acks},
        {"required", required}};
    if (retention > 0) {
      const Day deletion = std::max<Day>(u.arrival + retention, since + kRetentionWarningDays);
      if (deletion - today <= kRetentionWarningDays) {
        item["deletion"] = day_text(deletion);
        item["warning"] = "retention: deleted on " + day_text(deletion) + " unless acknowledged";
      }
    }
    uploads.push_back(std::move(item));
  }
  nlohmann::json next = nullptr;
  if (rows->size() > limit) next = to_hex((*rows)[limit - 1].id);
  res.set_header("Cache-Control", "no-store");
  answer_json(req, res, 200, {{"uploads", std::move(uploads)}, {"next", next}});
}

void download(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kUploadDownload);
  const auto id = id_from_path(req);
  if (!ctx || !id) return refuse(req, res, 500, "internal", true);
  if (!session_mailbox(relay, *ctx, req, res)) return;
  auto source = relay.store.open_stored(ctx->mailbox, *id);
  if (!source) {
    const bool missing = source.code() == Errc::kNotFound;
    return refuse(req, res, missing ? 404 : 500, missing ? "not-found" : "internal",
                  req.has_header("Range"));
  }
  const uint64_t size = (*source)->size();
  if (req.has_header("Range")) {
    // cpp-httplib serves the range itself from req.ranges; it is checked here first because
    // the library does not bound a range by the size.
    if (!parse_single_range(req.get_header_value("Range"), size) || req.ranges.size() != 1) {
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      return refuse(req, res, 416, "range-not-satisfiable", true);
    }
  }
  std::shared_ptr<RandomAccessSource> shared(std::move(source.value()));
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("Cache-Control", "no-store");
  res.set_content_provider(static_cast<size_t>(size), "application/octet-stream",
                           [shared, ended = session_ended(relay, *ctx)](
                               size_t offset, size_t length, httplib::DataSink& sink) {
                             std::vector<uint8_t> buf(std::min<size_t>(length, 256 * 1024));
                             if (buf.empty()) return true;
                             if (ended()) return false;
                             if (!shared->read_at(offset, buf)) return false;
                             return sink.write(reinterpret_cast<const char*>(buf.data()),
                                               buf.size());
                           });
}

void acknowledge(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kUploadAck);
  const auto id = id_from_path(req);
  if (!ctx || !id) return refuse(req, res, 500, "internal", true);
  auto mailbox = session_mailbox(relay, *ctx, req, res);
  if (!mailbox) return;
  const Day today = relay.clock.today();
  auto r = relay.store.acknowledge(
      ctx->mailbox, *id, ctx->coordinator->coordinator, mailbox->registration.coordinator_auth_keys,
      mailbox->registration.required_acks, today, today + relay.config.tombstone_days);
  if (!r) {
    const bool missing = r.code() == Errc::kNotFound;
    return refuse(req, res, missing ? 404 : 500, missing ? "not-found" : "internal", false);
  }
  answer_json(req, res, 200,
              {{"state", r->state == AckState::kDelivered ? "delivered" : "stored"},
               {"acknowledgements", r->acknowledgements},
               {"required", r->required}});
}

// The ids of a batch request's JSON array field `name` (absent: none); nullopt if malformed.
std::optional<std::vector<Hash32>> id_array(const nlohmann::json& body, const char* name) {
  std::vector<Hash32> ids;
  if (!body.contains(name)) return ids;
  if (!body[name].is_array()) return std::nullopt;
  for (const auto& v : body[name]) {
    if (!v.is_string()) return std::nullopt;
    auto id = parse_hex32(v.get<std::string>());
    if (!id) return std::nullopt;
    ids.push_back(*id);
  }
  return ids;
}

bool distinct(std::vector<Hash32> ids) {
  std::sort(ids.begin(), ids.end());
  return std::adjacent_find(ids.begin(), ids.end()) == ids.end();
}

// Several stored uploads in one answer: each framed with its id, a status (0: the bytes follow;
// 1: not stored, nothing follows) and its length. The lengths are read first, so the answer has
// a Content-Length; an upload delivered while the answer is sent cuts the connection (the
// client asks again and finds it gone).
void fetch(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kUploadFetch);
  if (!ctx) return refuse(req, res, 500, "internal", true);
  if (!session_mailbox(relay, *ctx, req, res)) return;
  const auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return refuse(req, res, 400, "bad-request", false);
  auto ids = id_array(body, "ids");
  if (!ids || ids->empty() || ids->size() > kMaxBatch || !distinct(*ids))
    return refuse(req, res, 400, "bad-request", false);
  struct Part {
    Hash32 id;
    uint64_t length;  // 0 with stored false
    bool stored;
  };
  auto parts = std::make_shared<std::vector<Part>>();
  uint64_t total = 0, bundles = 0;
  for (const Hash32& id : *ids) {
    auto found = relay.store.find_upload(ctx->mailbox, id);
    if (!found) return refuse(req, res, 500, "internal", false);
    const bool stored = found->upload && found->upload->state == UploadState::kStored;
    const uint64_t length = stored ? found->upload->length : 0;
    bundles += length;
    parts->push_back({id, length, stored});
    total += kFrameHeader + length;
  }
  if (bundles > kMaxFetchBytes) return refuse(req, res, 413, "batch-too-large", false);
  // The frame being sent: its header, then its upload's bytes.
  struct Cursor {
    size_t part = 0;
    uint64_t at = 0;  // within the part, header included
    std::unique_ptr<RandomAccessSource> source;
  };
  auto cursor = std::make_shared<Cursor>();
  auto mailbox = ctx->mailbox;
  res.set_header("Cache-Control", "no-store");
  res.set_content_provider(
      static_cast<size_t>(total), "application/octet-stream",
      [&relay, parts, cursor, mailbox, ended = session_ended(relay, *ctx)](
          size_t, size_t, httplib::DataSink& sink) {
        if (cursor->part >= parts->size()) return true;
        const Part& p = (*parts)[cursor->part];
        if (cursor->at == 0) {
          if (ended()) return false;
          std::array<uint8_t, kFrameHeader> header{};
          std::copy(p.id.begin(), p.id.end(), header.begin());
          header[32] = p.stored ? 0 : 1;
          for (int i = 0; i < 8; i++) header[33 + i] = static_cast<uint8_t>(p.length >> (8 * i));
          if (!sink.write(reinterpret_cast<const char*>(header.data()), header.size()))
            return false;
          cursor->at = kFrameHeader;
          if (p.stored) {
            auto opened = relay.store.open_stored(mailbox, p.id);
            if (!opened || (*opened)->size() != p.length) return false;
            cursor->source = std::move(opened.value());
          }
        }
        const uint64_t done = cursor->at - kFrameHeader;
        if (done < p.length) {
          Bytes buf(static_cast<size_t>(std::min<uint64_t>(p.length - done, 256 * 1024)));
          if (!cursor->source->read_at(done, buf)) return false;
          if (!sink.write(reinterpret_cast<const char*>(buf.data()), buf.size())) return false;
          cursor->at += buf.size();
        }
        if (cursor->at - kFrameHeader == p.length) {
          cursor->source.reset();
          cursor->part++;
          cursor->at = 0;
        }
        return true;
      });
}

// Acknowledgements of many uploads in one request and one metadata commit: "acknowledge" (held)
// and "not_mine" (no slot opens for this coordinator), distinct ids across both.
void acknowledge_batch(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kUploadAckBatch);
  if (!ctx) return refuse(req, res, 500, "internal", true);
  auto mailbox = session_mailbox(relay, *ctx, req, res);
  if (!mailbox) return;
  const auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return refuse(req, res, 400, "bad-request", false);
  auto held = id_array(body, "acknowledge");
  auto not_mine = id_array(body, "not_mine");
  if (!held || !not_mine) return refuse(req, res, 400, "bad-request", false);
  std::vector<AckItem> items;
  for (const Hash32& id : *held) items.push_back({id, AckKind::kHeld});
  for (const Hash32& id : *not_mine) items.push_back({id, AckKind::kNotMine});
  std::vector<Hash32> all;
  for (const AckItem& i : items) all.push_back(i.id);
  if (items.empty() || items.size() > kMaxBatch || !distinct(all))
    return refuse(req, res, 400, "bad-request", false);
  const Day today = relay.clock.today();
  auto r = relay.store.acknowledge_batch(ctx->mailbox, items, ctx->coordinator->coordinator,
                                         mailbox->registration.coordinator_auth_keys,
                                         mailbox->registration.required_acks, today,
                                         today + relay.config.tombstone_days);
  if (!r) return refuse(req, res, 500, "internal", false);
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < items.size(); i++) {
    const AckResult& a = (*r)[i];
    const char* state = a.state == AckState::kDelivered ? "delivered"
                        : a.state == AckState::kStored  ? "stored"
                                                        : "not-found";
    results.push_back({{"id", to_hex(items[i].id)},
                       {"state", state},
                       {"acknowledgements", a.acknowledgements},
                       {"required", a.required}});
  }
  answer_json(req, res, 200, {{"results", std::move(results)}});
}

void put_document(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kDocumentPut);
  if (!ctx || req.matches.size() < 2) return refuse(req, res, 500, "internal", true);
  if (!session_mailbox(relay, *ctx, req, res)) return;
  const std::string name = req.matches[1].str();
  if (!is_document_name(name)) return refuse(req, res, 404, "not-found", false);
  if (req.body.size() != ctx->content_length) return refuse(req, res, 400, "bad-request", true);
  const DocumentQuota quota{relay.config.limits.max_documents_per_mailbox,
                            relay.config.limits.mailbox_document_bytes};
  auto put = relay.store.put_document(ctx->mailbox, name, as_bytes(req.body), quota);
  if (!put) return refuse_store_failure(req, res, put.error(), false);
  if (*put == DocumentPutOutcome::kTooMany)
    return answer_json(req, res, 507,
                       {{"error", "too-many-documents"}, {"limit", quota.max_count}});
  if (*put == DocumentPutOutcome::kOverQuota)
    return answer_json(req, res, 507,
                       {{"error", "documents-full"}, {"limit", quota.max_total_bytes}});
  answer(req, res, 204, "", kJsonType, false);
}

// Deletes a published document of the session's mailbox: 204, or 404 when it has none.
void delete_document(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kDocumentDelete);
  if (!ctx || req.matches.size() < 2) return refuse(req, res, 500, "internal", true);
  if (!session_mailbox(relay, *ctx, req, res)) return;
  const std::string name = req.matches[1].str();
  if (!is_document_name(name)) return refuse(req, res, 404, "not-found", false);
  auto deleted = relay.store.delete_document(ctx->mailbox, name);
  if (!deleted) return refuse_store_failure(req, res, deleted.error(), false);
  if (!*deleted) return refuse(req, res, 404, "not-found", false);
  answer(req, res, 204, "", kJsonType, false);
}

void mint_code(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kCodeMint);
  if (!ctx) return refuse(req, res, 500, "internal", true);
  auto mailbox = session_mailbox(relay, *ctx, req, res);
  if (!mailbox) return;
  int64_t hours = relay.config.enrollment_code_hours;
  if (req.has_param("hours")) {
    auto n = parse_decimal(req.get_param_value("hours"));
    if (!n || *n < 1 || *n > static_cast<uint64_t>(kMaxEnrollmentHours))
      return refuse(req, res, 400, "bad-request", false);
    hours = static_cast<int64_t>(*n);
  }
  // The code records its minter, stored only under the registration just checked: if a newer one
  // came in between, the check runs again against it (which may now refuse the session).
  auto mint = [&](const ActiveMailbox& m) {
    return mint_enrollment_code(relay.store, ctx->mailbox, relay.clock.now(), hours,
                                CodeMinter{ctx->coordinator->coordinator, m.registration.version});
  };
  auto code = mint(*mailbox);
  if (!code && code.code() == Errc::kDocRollback) {
    mailbox = session_mailbox(relay, *ctx, req, res);
    if (!mailbox) return;
    code = mint(*mailbox);
  }
  if (!code) return refuse(req, res, 500, "internal", false);
  res.set_header("Cache-Control", "no-store");
  answer_json(req, res, 200,
              {{"code", code->code}, {"code_id", code->code_id}, {"expires_at", code->expires_at}});
}

void revoke_token(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kTokenRevoke);
  if (!ctx || req.matches.size() < 2) return refuse(req, res, 500, "internal", true);
  if (!session_mailbox(relay, *ctx, req, res)) return;
  auto n = relay.store.revoke_tokens(ctx->mailbox, req.matches[1].str());
  if (!n) return refuse(req, res, 500, "internal", false);
  if (*n == 0) return refuse(req, res, 404, "not-found", false);
  // Its unfinished uploads go with it (known to this process's memory only).
  remove_partials_of_revoked(relay, ctx->mailbox, req.matches[1].str());
  answer_json(req, res, 200, {{"revoked", *n}});
}

// Trust-document failures of an uploaded registration (schema/trust-documents.md, "Errors"),
// answered 400 bad-registration with the rule's name.
bool is_document_rule(Errc code) {
  return code == Errc::kDocMalformed || code == Errc::kDocWrongType ||
         code == Errc::kDocUnsupportedVersion || code == Errc::kDocBadSignature ||
         code == Errc::kDocUntrustedSigner || code == Errc::kDocInvalidField;
}

// A newer registration of the session's mailbox, signed by its pinned organisation key: it
// replaces the held one, and the sessions of coordinators it no longer lists end at once (the
// caller's own too, once answered).
void put_registration(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kRegistration);
  if (!ctx) return refuse(req, res, 500, "internal", true);
  if (!session_mailbox(relay, *ctx, req, res)) return;
  if (req.body.size() != ctx->content_length) return refuse(req, res, 400, "bad-request", true);
  auto updated = relay.mailboxes.replace_registration(ctx->mailbox, req.body, relay.clock.today());
  if (!updated) {
    if (is_document_rule(updated.code()))
      return answer_json(req, res, 400,
                         {{"error", "bad-registration"}, {"rule", errc_name(updated.code())}});
    if (updated.code() == Errc::kDocRollback) {
      auto held = relay.store.mailbox(ctx->mailbox);
      if (!held || !*held) return refuse(req, res, 500, "internal", false);
      return answer_json(req, res, 409,
                         {{"error", "registration-rollback"}, {"version", (*held)->version}});
    }
    // The registration may have been stored before the failure: end the sessions of whatever
    // registration is held now.
    if (auto held = relay.mailboxes.find(ctx->mailbox); held && *held)
      relay.sessions.end_unregistered(ctx->mailbox, (*held)->registration.coordinator_auth_keys);
    return refuse_store_failure(req, res, updated.error(), false);
  }
  const auto& keys = updated->registration.coordinator_auth_keys;
  relay.sessions.end_unregistered(ctx->mailbox, keys);
  answer_json(req, res, 200,
              {{"version", updated->registration.version}, {"coordinators", keys.size()}});
}

}  // namespace

void add_coordinator_endpoints(httplib::Server& server, Relay& relay) {
  server.Get(endpoint_pattern(Endpoint::kChallenge),
             [&relay](const Request& req, Response& res) { challenge(relay, req, res); });
  server.Post(endpoint_pattern(Endpoint::kSession),
              [&relay](const Request& req, Response& res) { open_session(relay, req, res); });
  server.Get(endpoint_pattern(Endpoint::kUploadList),
             [&relay](const Request& req, Response& res) { list_uploads(relay, req, res); });
  server.Get(endpoint_pattern(Endpoint::kUploadDownload),
             [&relay](const Request& req, Response& res) { download(relay, req, res); });
  server.Post(endpoint_pattern(Endpoint::kUploadAck),
              [&relay](const Request& req, Response& res) { acknowledge(relay, req, res); });
  server.Post(endpoint_pattern(Endpoint::kUploadFetch),
              [&relay](const Request& req, Response& res) { fetch(relay, req, res); });
  server.Post(endpoint_pattern(Endpoint::kUploadAckBatch),
              [&relay](const Request& req, Response& res) { acknowledge_batch(relay, req, res); });
  server.Put(endpoint_pattern(Endpoint::kDocumentPut),
             [&relay](const Request& req, Response& res) { put_document(relay, req, res); });
  server.Delete(endpoint_pattern(Endpoint::kDocumentDelete),
                [&relay](const Request& req, Response& res) { delete_document(relay, req, res); });
  server.Post(endpoint_pattern(Endpoint::kCodeMint),
              [&relay](const Request& req, Response& res) { mint_code(relay, req, res); });
  server.Post(endpoint_pattern(Endpoint::kTokenRevoke),
              [&relay](const Request& req, Response& res) { revoke_token(relay, req, res); });
  server.Put(endpoint_pattern(Endpoint::kRegistration),
             [&relay](const Request& req, Response& res) { put_registration(relay, req, res); });
}

}  // namespace satchel::relay
