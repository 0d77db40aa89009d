// Device endpoints: enrollment (a code for an upload token), the tus 1.0 upload protocol
// (core, creation, creation-with-upload, checksum, termination, expiration) and published
// documents. The mailbox always comes from the token.
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

std::optional<Hash32> id_from_path(const Request& req) {
  return req.matches.size() < 2 ? std::nullopt : parse_hex32(req.matches[1].str());
}

void tus_refuse(const Request& req, Response& res, int status, std::string_view code, bool close) {
  res.set_header("Tus-Resumable", kTusVersion);
  refuse(req, res, status, code, close);
}

// The answer for an upload that is complete (stored) or delivered (a tombstone).
void answer_complete(const Relay& relay, const Request& req, Response& res, int status,
                     const Hash32& id, uint64_t length, std::string_view state, bool location,
                     bool close) {
  add_upload_headers(relay, res, length, length, state, 0);
  if (location) res.set_header("Location", "/v1/uploads/" + to_hex(id));
  answer(req, res, status, "", kJsonType, close);
}

// The answer for a creation of an upload already complete: its body, if any, is not read
// (answer_lingering), and no upload slot is taken.
void answer_held(Relay& relay, const Request& req, Response& res, const RequestContext& ctx,
                 int status, const Hash32& id, uint64_t length, std::string_view state,
                 bool location) {
  add_upload_headers(relay, res, length, length, state, 0);
  if (location) res.set_header("Location", "/v1/uploads/" + to_hex(id));
  answer_lingering(relay, req, res, ctx, status, "");
}

enum class Counted { kRefused, kNow, kAlready };

// Counts a creation against the token's unfinished uploads (token_budgets.h) unless the upload
// exists already. kNow: counted by this call (forget it if nothing is created); kRefused: the
// refusal is written into `res`.
Counted count_new_partial(Relay& relay, const Request& req, Response& res,
                          const RequestContext& ctx, const Hash32& id, uint64_t length) {
  const TokenKey key = token_key_of(ctx);
  auto open = relay.token_budgets.try_open(key, id, length, relay.clock.today());
  if (open == TokenBudgets::Open::kTooMany || open == TokenBudgets::Open::kTooLarge) {
    // Forget those that left without this token (hash mismatch, expiry, the operator, another
    // device finishing them), then count again.
    for (const Hash32& held : relay.token_budgets.open_ids(key)) {
      auto found = relay.store.find_upload(ctx.mailbox, held);
      if (found && (!found->upload || found->upload->state == UploadState::kStored))
        relay.token_budgets.forget(ctx.mailbox, held);
    }
    open = relay.token_budgets.try_open(key, id, length, relay.clock.today());
  }
  if (open == TokenBudgets::Open::kReserved) return Counted::kNow;
  if (open == TokenBudgets::Open::kAlreadyOpen) return Counted::kAlready;
  // At its limit the token may still resume, or re-send, an upload the relay already knows.
  auto found = relay.store.find_upload(ctx.mailbox, id);
  if (!found) {
    tus_refuse(req, res, 500, "internal", true);
    return Counted::kRefused;
  }
  if (found->upload || found->tombstone) return Counted::kAlready;
  tus_refuse(
      req, res, 429,
      open == TokenBudgets::Open::kTooMany ? "too-many-partial-uploads" : "partial-bytes-exceeded",
      true);
  return Counted::kRefused;
}

// After a body was written: a stored upload no longer counts against its token; a partial one
// counts from today.
void note_written(Relay& relay, std::string_view mailbox, const Hash32& id, bool stored) {
  if (stored)
    relay.token_budgets.forget(mailbox, id);
  else
    relay.token_budgets.touch(mailbox, id, relay.clock.today());
}

// An enrollment whose code is known and unexpired draws nothing from the anonymous allowance;
// a malformed request or an unknown, used or expired code draws one (429 once it is spent).
void enroll(Relay& relay, const Request& req, Response& res) {
  if (!current_request(Endpoint::kEnroll)) return refuse(req, res, 500, "internal", true);
  const auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("code") ||
      !body["code"].is_string())
    return refuse_unproven(relay, req, res, 400, "bad-request");
  auto token =
      redeem_enrollment_code(relay.store, body["code"].get<std::string>(), relay.clock.now());
  if (!token) {
    if (token.code() == Errc::kNotFound)
      return refuse_unproven(relay, req, res, 403, "invalid-code");
    return refuse(req, res, 500, "internal", false);
  }
  res.set_header("Cache-Control", "no-store");
  answer_json(req, res, 200, {{"token", token->token}, {"token_id", token->token_id}});
}

void tus_options(Relay& relay, const Request& req, Response& res) {
  if (!current_request(Endpoint::kTusOptions)) return refuse(req, res, 500, "internal", true);
  res.set_header("Tus-Resumable", kTusVersion);
  res.set_header("Tus-Version", kTusVersion);
  res.set_header("Tus-Extension", kTusExtensions);
  res.set_header("Tus-Max-Size", std::to_string(relay.config.limits.max_bundle_bytes));
  res.set_header("Tus-Checksum-Algorithm", "sha256");
  answer(req, res, 204, "", kJsonType, false);
}

std::optional<std::optional<Hash32>> checksum_header(const Request& req, Response& res) {
  if (!req.has_header("Upload-Checksum")) return std::optional<Hash32>();
  auto c = parse_upload_checksum(req.get_header_value("Upload-Checksum"));
  if (!c) {
    tus_refuse(req, res, 400, c.code() == Errc::kNotFound ? "unsupported-checksum" : "bad-request",
               true);
    return std::nullopt;
  }
  return std::optional<Hash32>(*c);
}

// Creates the upload of a tus creation. When the body is the whole upload, the store records
// the upload only when that body is committed, in one metadata commit with its outcome.
Result<BegunUpload> create_for_body(Relay& relay, const RequestContext& ctx, const Hash32& id,
                                    uint64_t length) {
  const uint64_t quota = relay.config.limits.mailbox_quota_bytes;
  const Day today = relay.clock.today();
  if (ctx.content_length == length)
    return relay.store.begin_upload(ctx.mailbox, id, length, quota, today);
  auto created = relay.store.create_upload(ctx.mailbox, id, length, quota, today);
  if (!created) return created.error();
  return BegunUpload{std::move(created.value()), nullptr};
}

void tus_create(Relay& relay, const Request& req, Response& res, const ContentReader& reader) {
  const RequestContext* ctx = current_request(Endpoint::kTusCreate);
  if (!ctx) return tus_refuse(req, res, 500, "internal", true);
  if (req.has_header("Upload-Defer-Length"))
    return tus_refuse(req, res, 400, "deferred-length-unsupported", true);
  const auto length = parse_decimal(req.get_header_value("Upload-Length"));
  if (!length || *length == 0) return tus_refuse(req, res, 400, "bad-upload-length", true);
  if (*length > relay.config.limits.max_bundle_bytes)
    return tus_refuse(req, res, 413, "payload-too-large", true);
  auto id = upload_id_from_metadata(req.get_header_value("Upload-Metadata"));
  if (!id) return tus_refuse(req, res, 400, "bad-metadata", true);
  if (ctx->content_length > *length) return tus_refuse(req, res, 400, "past-upload-length", true);
  auto checksum = checksum_header(req, res);
  if (!checksum) return;

  const Counted counted = count_new_partial(relay, req, res, *ctx, *id, *length);
  if (counted == Counted::kRefused) return;
  auto begun = create_for_body(relay, *ctx, *id, *length);
  if (counted == Counted::kNow && (!begun || begun->created.outcome == CreateOutcome::kOverQuota))
    relay.token_budgets.cancel(token_key_of(*ctx), *id);  // nothing was created
  if (!begun) {
    res.set_header("Tus-Resumable", kTusVersion);
    // Held by another request's writer, or by a removal in progress: try again shortly.
    if (begun.code() == Errc::kAlreadyExists) return refuse(req, res, 423, "locked", true);
    return refuse_store_failure(req, res, begun.error(), true);
  }
  const CreateResult* created = &begun->created;
  const bool has_body = ctx->content_length > 0;
  switch (created->outcome) {
    case CreateOutcome::kOverQuota:
      return tus_refuse(req, res, 507, "mailbox-full", true);
    case CreateOutcome::kDelivered:
      relay.token_budgets.forget(ctx->mailbox, *id);
      return answer_held(relay, req, res, *ctx, 200, *id, created->now.tombstone->length,
                         "delivered", true);
    case CreateOutcome::kExisting:
    case CreateOutcome::kCreated:
      break;
  }
  const UploadRecord& u = *created->now.upload;
  if (u.length != *length) return tus_refuse(req, res, 400, "length-mismatch", true);
  if (u.state == UploadState::kStored) {
    relay.token_budgets.forget(ctx->mailbox, *id);
    return answer_held(relay, req, res, *ctx, 200, *id, u.length, "stored", true);
  }
  const int status = created->outcome == CreateOutcome::kCreated ? 201 : 200;
  uint64_t offset = u.committed;
  bool stored = false;
  if (has_body) {
    BodyTarget target{*id, u.length, u.committed, 0, *checksum};
    auto outcome =
        receive_upload_body(relay, req, res, reader, *ctx, target, std::move(begun->writer));
    if (!outcome) return;
    offset = outcome->committed;
    stored = outcome->stored;
    note_written(relay, ctx->mailbox, *id, stored);
  }
  add_upload_headers(relay, res, offset, u.length, stored ? "stored" : "partial",
                     has_body ? relay.clock.today() : u.day);
  res.set_header("Location", "/v1/uploads/" + to_hex(*id));
  answer(req, res, status, "", kJsonType, false);
}

void tus_head(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kTusHead);
  const auto id = id_from_path(req);
  if (!ctx || !id) return tus_refuse(req, res, 500, "internal", true);
  auto found = relay.store.find_upload(ctx->mailbox, *id);
  if (!found) return tus_refuse(req, res, 500, "internal", false);
  if (found->upload) {
    const UploadRecord& u = *found->upload;
    const bool stored = u.state == UploadState::kStored;
    add_upload_headers(relay, res, stored ? u.length : u.committed, u.length,
                       stored ? "stored" : "partial", u.day);
    return answer(req, res, 200, "", kJsonType, false);
  }
  if (found->tombstone) {
    add_upload_headers(relay, res, found->tombstone->length, found->tombstone->length, "delivered",
                       0);
    return answer(req, res, 200, "", kJsonType, false);
  }
  res.set_header("Cache-Control", "no-store");
  tus_refuse(req, res, 404, "not-found", false);
}

void tus_patch(Relay& relay, const Request& req, Response& res, const ContentReader& reader) {
  const RequestContext* ctx = current_request(Endpoint::kTusPatch);
  const auto id = id_from_path(req);
  if (!ctx || !id) return tus_refuse(req, res, 500, "internal", true);
  const auto offset = parse_decimal(req.get_header_value("Upload-Offset"));
  if (!offset) return tus_refuse(req, res, 400, "bad-upload-offset", true);
  auto checksum = checksum_header(req, res);
  if (!checksum) return;
  auto found = relay.store.find_upload(ctx->mailbox, *id);
  if (!found) return tus_refuse(req, res, 500, "internal", true);
  const bool has_body = ctx->content_length > 0;
  if (!found->upload && !found->tombstone) return tus_refuse(req, res, 404, "not-found", true);
  if (!found->upload || found->upload->state == UploadState::kStored) {
    // Complete already: only an empty PATCH at the end is consistent with it.
    const uint64_t length = found->upload ? found->upload->length : found->tombstone->length;
    const char* state = found->upload ? "stored" : "delivered";
    if (*offset == length && !has_body)
      return answer_complete(relay, req, res, 204, *id, length, state, false, false);
    res.set_header("Tus-Resumable", kTusVersion);
    res.set_header("Upload-State", state);
    return answer_lingering(relay, req, res, *ctx, 409,
                            nlohmann::json{{"error", "offset-mismatch"}}.dump());
  }
  const UploadRecord& u = *found->upload;
  if (*offset != u.committed) return tus_refuse(req, res, 409, "offset-mismatch", true);
  if (ctx->content_length > u.length - u.committed)
    return tus_refuse(req, res, 400, "past-upload-length", true);
  BodyTarget target{*id, u.length, u.committed, *offset, *checksum};
  auto outcome = receive_upload_body(relay, req, res, reader, *ctx, target);
  if (!outcome) return;
  note_written(relay, ctx->mailbox, *id, outcome->stored);
  add_upload_headers(relay, res, outcome->committed, u.length,
                     outcome->stored ? "stored" : "partial", relay.clock.today());
  answer(req, res, 204, "", kJsonType, false);
}

void tus_terminate(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kTusTerminate);
  const auto id = id_from_path(req);
  if (!ctx || !id) return tus_refuse(req, res, 500, "internal", true);
  Status s = relay.store.terminate_upload(ctx->mailbox, *id, relay.clock.today());
  if (s) {
    relay.token_budgets.forget(ctx->mailbox, *id);
    res.set_header("Tus-Resumable", kTusVersion);
    return answer(req, res, 204, "", kJsonType, false);
  }
  switch (s.code()) {
    case Errc::kNotFound: {
      auto found = relay.store.find_upload(ctx->mailbox, *id);
      if (found && found->tombstone) return tus_refuse(req, res, 403, "forbidden", false);
      return tus_refuse(req, res, 404, "not-found", false);
    }
    case Errc::kInvalidArgument:
      return tus_refuse(req, res, 403, "forbidden", false);
    case Errc::kAlreadyExists:
      return tus_refuse(req, res, 423, "locked", false);
    default:
      return tus_refuse(req, res, 500, "internal", false);
  }
}

void document_get(Relay& relay, const Request& req, Response& res) {
  const RequestContext* ctx = current_request(Endpoint::kDocumentGet);
  if (!ctx || req.matches.size() < 2) return refuse(req, res, 500, "internal", true);
  const std::string name = req.matches[1].str();
  if (!is_document_name(name)) return refuse(req, res, 404, "not-found", false);
  auto doc = relay.store.document(ctx->mailbox, name);
  if (!doc) return refuse(req, res, 500, "internal", false);
  if (!*doc) return refuse(req, res, 404, "not-found", false);
  res.set_header("Cache-Control", "no-store");
  answer(req, res, 200, std::string((*doc)->begin(), (*doc)->end()), "application/octet-stream",
         false);
}

}  // namespace

void add_device_endpoints(httplib::Server& server, Relay& relay) {
  server.Post(endpoint_pattern(Endpoint::kEnroll),
              [&relay](const Request& req, Response& res) { enroll(relay, req, res); });
  server.Options(endpoint_pattern(Endpoint::kTusOptions),
                 [&relay](const Request& req, Response& res) { tus_options(relay, req, res); });
  server.Post(endpoint_pattern(Endpoint::kTusCreate),
              [&relay](const Request& req, Response& res, const ContentReader& reader) {
                tus_create(relay, req, res, reader);
              });
  // cpp-httplib sends HEAD to the GET handlers; the guard has already checked the method.
  server.Get(endpoint_pattern(Endpoint::kTusHead),
             [&relay](const Request& req, Response& res) { tus_head(relay, req, res); });
  server.Patch(endpoint_pattern(Endpoint::kTusPatch),
               [&relay](const Request& req, Response& res, const ContentReader& reader) {
                 tus_patch(relay, req, res, reader);
               });
  server.Delete(endpoint_pattern(Endpoint::kTusTerminate),
                [&relay](const Request& req, Response& res) { tus_terminate(relay, req, res); });
  server.Get(endpoint_pattern(Endpoint::kDocumentGet),
             [&relay](const Request& req, Response& res) { document_get(relay, req, res); });
}

}  // namespace satchel::relay
