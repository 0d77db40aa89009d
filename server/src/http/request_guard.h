// The pre-routing guard: runs after cpp-httplib has read the request line and headers and
// before any body byte is read. It matches the request against the relay's endpoint table and
// refuses — closing the connection — unknown routes and methods, chunked or content-encoded
// bodies, missing or oversize Content-Length, Range where no range is served, a wrong tus
// version, bad credentials, excess request rates and wrong content types. What it establishes
// (endpoint, caller, mailbox) is handed to the endpoint through current_request().
#pragma once

#include <httplib.h>

#include <optional>
#include <string>

#include "satchel/relay/relay.h"
#include "satchel/relay/relay_store.h"

namespace satchel::relay {

enum class Endpoint {
  kEnroll,
  kTusOptions,
  kTusCreate,
  kTusHead,
  kTusPatch,
  kTusTerminate,
  kDocumentGet,
  kChallenge,
  kSession,
  kUploadList,
  kUploadDownload,
  kUploadAck,
  kUploadFetch,
  kUploadAckBatch,
  kDocumentPut,
  kDocumentDelete,
  kCodeMint,
  kTokenRevoke,
  kRegistration,
};

// The request being handled, as the guard checked it.
struct RequestContext {
  Endpoint endpoint = Endpoint::kEnroll;
  std::string mailbox;  // from the credential, never from the URL (empty when anonymous)
  Hash32 credential{};  // SHA-256 of the caller's bearer credential (zero when anonymous)
  std::optional<TokenRecord> device;
  std::optional<CoordinatorSession> coordinator;
  uint64_t content_length = 0;  // 0 when absent
};

// The pre-routing handler: Handled (with a refusal written) or Unhandled (checked, context set).
httplib::Server::HandlerResponse guard_request(Relay& relay, const httplib::Request& req,
                                               httplib::Response& res);

// The context the guard set for the request this thread is handling: cpp-httplib runs the
// pre-routing handler and the endpoint on the same thread, one request at a time. nullptr if
// the guard did not pass this request (a bug: endpoints then answer 500).
const RequestContext* current_request(Endpoint expected);

// Path patterns, shared by the guard and the route registration so both match the same way.
const char* endpoint_pattern(Endpoint e);

// tus protocol constants.
inline constexpr const char* kTusVersion = "1.0.0";
inline constexpr const char* kTusExtensions =
    "creation,creation-with-upload,termination,checksum,expiration";
inline constexpr const char* kOffsetOctetStream = "application/offset+octet-stream";

}  // namespace satchel::relay
