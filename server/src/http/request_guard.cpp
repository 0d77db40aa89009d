// The pre-routing guard (see request_guard.h). Every refusal here closes the connection: the
// request body, if any, is never read.
#include "http/request_guard.h"

#include <array>
#include <regex>

#include "http/http_answers.h"
#include "satchel/relay/credentials.h"
#include "satchel/relay/request_headers.h"

namespace satchel::relay {

namespace {

enum class Caller { kAnyone, kDevice, kCoordinator, kDeviceOrCoordinator };
enum class Body { kNone, kOptional, kRequired };
enum class BodyLimit { kSmall, kBatch, kBundle, kDocument };
enum class BodyType { kNone, kJson, kOffsetOctets, kOctets, kText };

struct EndpointSpec {
  Endpoint endpoint;
  const char* methods[2];
  const char* pattern;
  Caller caller;
  Body body;
  BodyLimit limit;
  BodyType type;
  bool tus;
  bool range;
};

constexpr uint64_t kSmallBody = 4096;
// A batch request: 1,000 upload ids as JSON (about 67 bytes each) with room to spare.
constexpr uint64_t kBatchBody = 96 * 1024;

constexpr const char* kEnrollPattern = "/v1/enroll";
constexpr const char* kUploadsPattern = R"(/v1/uploads/?)";
constexpr const char* kUploadPattern = R"(/v1/uploads/([0-9a-f]{64}))";
constexpr const char* kDocumentPattern = R"(/v1/documents/([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}))";
constexpr const char* kCoordUploadsPattern = R"(/v1/coordinator/uploads)";
constexpr const char* kCoordUploadPattern = R"(/v1/coordinator/uploads/([0-9a-f]{64}))";
constexpr const char* kCoordAckPattern = R"(/v1/coordinator/uploads/([0-9a-f]{64})/ack)";
constexpr const char* kCoordFetchPattern = "/v1/coordinator/uploads/fetch";
constexpr const char* kCoordAckBatchPattern = "/v1/coordinator/uploads/acknowledgements";
constexpr const char* kCoordDocumentPattern =
    R"(/v1/coordinator/documents/([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}))";
constexpr const char* kChallengePattern = "/v1/coordinator/challenge";
constexpr const char* kSessionPattern = "/v1/coordinator/session";
constexpr const char* kCodesPattern = "/v1/coordinator/enrollment-codes";
constexpr const char* kRevokePattern = R"(/v1/coordinator/tokens/([0-9a-f]{16})/revoke)";
constexpr const char* kRegistrationPattern = "/v1/coordinator/registration";

// The endpoint table (schema/relay-api.md, "Endpoint table").
// clang-format off
const std::array<EndpointSpec, 19> kEndpoints = {{
  // endpoint                  methods          path pattern          caller                        body             limit                 content type            tus    range
  {Endpoint::kEnroll,         {"POST"},         kEnrollPattern,       Caller::kAnyone,              Body::kRequired, BodyLimit::kSmall,    BodyType::kJson,         false, false},
  {Endpoint::kTusOptions,     {"OPTIONS"},      kUploadsPattern,      Caller::kDevice,              Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         true,  false},
  {Endpoint::kTusCreate,      {"POST"},         kUploadsPattern,      Caller::kDevice,              Body::kOptional, BodyLimit::kBundle,   BodyType::kOffsetOctets, true,  false},
  {Endpoint::kTusHead,        {"HEAD"},         kUploadPattern,       Caller::kDevice,              Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         true,  false},
  {Endpoint::kTusPatch,       {"PATCH"},        kUploadPattern,       Caller::kDevice,              Body::kRequired, BodyLimit::kBundle,   BodyType::kOffsetOctets, true,  false},
  {Endpoint::kTusTerminate,   {"DELETE"},       kUploadPattern,       Caller::kDevice,              Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         true,  false},
  {Endpoint::kDocumentGet,    {"GET", "HEAD"},  kDocumentPattern,     Caller::kDeviceOrCoordinator, Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         false, false},
  {Endpoint::kChallenge,      {"GET"},          kChallengePattern,    Caller::kAnyone,              Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         false, false},
  {Endpoint::kSession,        {"POST"},         kSessionPattern,      Caller::kAnyone,              Body::kRequired, BodyLimit::kSmall,    BodyType::kJson,         false, false},
  {Endpoint::kUploadList,     {"GET"},          kCoordUploadsPattern, Caller::kCoordinator,         Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         false, false},
  {Endpoint::kUploadDownload, {"GET", "HEAD"},  kCoordUploadPattern,  Caller::kCoordinator,         Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         false, true},
  {Endpoint::kUploadAck,      {"POST"},         kCoordAckPattern,     Caller::kCoordinator,         Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         false, false},
  {Endpoint::kUploadFetch,    {"POST"},         kCoordFetchPattern,   Caller::kCoordinator,         Body::kRequired, BodyLimit::kBatch,    BodyType::kJson,         false, false},
  {Endpoint::kUploadAckBatch, {"POST"},         kCoordAckBatchPattern, Caller::kCoordinator,        Body::kRequired, BodyLimit::kBatch,    BodyType::kJson,         false, false},
  {Endpoint::kDocumentPut,    {"PUT"},          kCoordDocumentPattern, Caller::kCoordinator,        Body::kRequired, BodyLimit::kDocument, BodyType::kOctets,       false, false},
  {Endpoint::kDocumentDelete, {"DELETE"},       kCoordDocumentPattern, Caller::kCoordinator,        Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         false, false},
  {Endpoint::kCodeMint,       {"POST"},         kCodesPattern,        Caller::kCoordinator,         Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         false, false},
  {Endpoint::kTokenRevoke,    {"POST"},         kRevokePattern,       Caller::kCoordinator,         Body::kNone,     BodyLimit::kSmall,    BodyType::kNone,         false, false},
  {Endpoint::kRegistration,   {"PUT"},          kRegistrationPattern, Caller::kCoordinator,         Body::kRequired, BodyLimit::kSmall,    BodyType::kText,         false, false},
}};
// clang-format on

const std::vector<std::regex>& compiled_patterns() {
  static const std::vector<std::regex> patterns = [] {
    std::vector<std::regex> v;
    for (const auto& e : kEndpoints) v.emplace_back(e.pattern);
    return v;
  }();
  return patterns;
}

thread_local std::optional<RequestContext> t_context;

bool method_allowed(const EndpointSpec& e, const std::string& method) {
  for (const char* m : e.methods)
    if (m && method == m) return true;
  return false;
}

bool content_type_ok(BodyType type, const std::string& value) {
  switch (type) {
    case BodyType::kNone:
      return true;
    case BodyType::kOffsetOctets:
      return value == kOffsetOctetStream;
    case BodyType::kOctets:
      return value == "application/octet-stream";
    case BodyType::kJson:
      return value == "application/json" || value.rfind("application/json;", 0) == 0;
    case BodyType::kText:
      return value == "text/plain" || value.rfind("text/plain;", 0) == 0;
  }
  return false;
}

}  // namespace

const char* endpoint_pattern(Endpoint e) {
  for (const auto& spec : kEndpoints)
    if (spec.endpoint == e) return spec.pattern;
  return "";
}

const RequestContext* current_request(Endpoint expected) {
  if (!t_context || t_context->endpoint != expected) return nullptr;
  return &*t_context;
}

httplib::Server::HandlerResponse guard_request(Relay& relay, const httplib::Request& req,
                                               httplib::Response& res) {
  using HR = httplib::Server::HandlerResponse;
  t_context.reset();
  const auto& patterns = compiled_patterns();
  const EndpointSpec* spec = nullptr;
  bool path_known = false;
  for (size_t i = 0; i < kEndpoints.size(); i++) {
    if (!std::regex_match(req.path, patterns[i])) continue;
    path_known = true;
    if (method_allowed(kEndpoints[i], req.method)) {
      spec = &kEndpoints[i];
      break;
    }
  }
  auto no = [&](int status, std::string_view code) {
    if (spec && spec->tus) res.set_header("Tus-Resumable", kTusVersion);
    refuse(req, res, status, code, true);
    return HR::Handled;
  };
  if (!spec) return no(path_known ? 405 : 404, path_known ? "method-not-allowed" : "not-found");

  // Bodies: only an exact Content-Length, within the endpoint's limit. cpp-httplib would read
  // chunked bodies and bodies without a length with no limit, and inflate compressed ones.
  if (req.has_header("Transfer-Encoding")) return no(411, "length-required");
  if (req.has_header("Content-Encoding")) return no(415, "unsupported-encoding");
  uint64_t length = 0;
  if (req.has_header("Content-Length")) {
    if (req.get_header_value_count("Content-Length") != 1) return no(400, "bad-request");
    auto n = parse_decimal(req.get_header_value("Content-Length"));
    if (!n) return no(400, "bad-request");
    length = *n;
  } else if (spec->body == Body::kRequired) {
    return no(411, "length-required");
  }
  const uint64_t limit = spec->limit == BodyLimit::kBundle ? relay.config.limits.max_bundle_bytes
                         : spec->limit == BodyLimit::kDocument
                             ? relay.config.limits.max_document_bytes
                         : spec->limit == BodyLimit::kBatch ? kBatchBody
                                                            : kSmallBody;
  if (spec->body == Body::kNone && length > 0) return no(413, "payload-too-large");
  if (length > limit) return no(413, "payload-too-large");
  if (length > 0 && !content_type_ok(spec->type, req.get_header_value("Content-Type")))
    return no(415, "unsupported-media-type");

  // Ranges: one range, on the download endpoint only (cpp-httplib would serve several).
  if (req.has_header("Range")) {
    if (!spec->range || req.get_header_value_count("Range") != 1 ||
        req.get_header_value("Range").find(',') != std::string::npos)
      return no(416, "range-not-satisfiable");
  }

  if (spec->tus && spec->endpoint != Endpoint::kTusOptions &&
      req.get_header_value("Tus-Resumable") != kTusVersion) {
    res.set_header("Tus-Version", kTusVersion);
    return no(412, "unsupported-tus-version");
  }

  RequestContext ctx;
  ctx.endpoint = spec->endpoint;
  ctx.content_length = length;
  if (spec->caller != Caller::kAnyone) {
    const std::string authorization = req.get_header_value("Authorization");
    const auto credential = bearer_credential(authorization);
    const auto hash = credential ? bearer_token_hash(*credential) : std::nullopt;
    if (hash && (spec->caller == Caller::kDevice || spec->caller == Caller::kDeviceOrCoordinator)) {
      auto token = relay.store.token(*hash);
      if (!token) return no(500, "internal");
      ctx.device = *token;
    }
    if (hash && !ctx.device &&
        (spec->caller == Caller::kCoordinator || spec->caller == Caller::kDeviceOrCoordinator))
      ctx.coordinator = relay.sessions.authenticate(*credential);
    if (!ctx.device && !ctx.coordinator) {
      // Failed attempts share the anonymous budget, so guessing is rate-limited too.
      if (const int64_t wait = relay.anonymous_rate.acquire(Hash32{}); wait > 0) {
        res.set_header("Retry-After", std::to_string(wait));
        return no(429, "rate-limited");
      }
      res.set_header("WWW-Authenticate", "Bearer");
      return no(401, "unauthorized");
    }
    ctx.credential = *hash;
    ctx.mailbox = ctx.device ? ctx.device->mailbox : ctx.coordinator->mailbox;
    if (const int64_t wait = relay.credential_rate.acquire(ctx.credential); wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      return no(429, "rate-limited");
    }
  }
  // Anonymous endpoints (enroll, challenge, session) draw on the anonymous allowance in the
  // endpoint, and only when the request proves nothing (http/anonymous_refusal.h).
  t_context = std::move(ctx);
  return HR::Unhandled;
}

}  // namespace satchel::relay
