// How the relay answers over HTTP: fixed JSON bodies ({"error": "<code>"} for refusals, from a
// closed list of codes, never echoing anything from the request), responses that cannot be
// cut by cpp-httplib's automatic Range handling, and refusals that close the connection so an
// unread request body is never parsed as a next request.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "satchel/crypto/status.h"

namespace satchel::relay {

// JSON without compression: cpp-httplib gzips "application/json" responses for any client that
// asks, and nothing here needs that (tokens travel in these bodies).
inline constexpr const char* kJsonType = "application/json; charset=utf-8";

// Answers `status` with `body` (empty for HEAD; an empty body has no Content-Type). With `close`,
// the connection is closed after the response: cpp-httplib 0.11.4 ignores "Connection: close" set
// by a handler, but closes when a content provider reports failure, so the body is written and then
// failure is reported.
void answer(const httplib::Request& req, httplib::Response& res, int status, std::string body,
            const char* content_type, bool close);
// `answer` with a JSON value.
void answer_json(const httplib::Request& req, httplib::Response& res, int status,
                 const nlohmann::json& body, bool close = false);
// A refusal: {"error": code}. `code` comes from the relay's fixed list (schema/relay-api.md).
void refuse(const httplib::Request& req, httplib::Response& res, int status, std::string_view code,
            bool close);
// A refusal that also tells the client when to retry (429, 503).
void refuse_retry_after(const httplib::Request& req, httplib::Response& res, int status,
                        std::string_view code, int64_t seconds);

// A failure of the store: 507 insufficient-storage for a full disk, else 500 internal. Either
// way the failure is logged (its message names no client) and nothing was acknowledged.
void refuse_store_failure(const httplib::Request& req, httplib::Response& res,
                          const satchel::Error& error, bool close);

}  // namespace satchel::relay
