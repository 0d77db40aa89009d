// Response helpers (see http_answers.h).
#include "http/http_answers.h"

#include <iostream>
#include <memory>

#include "satchel/relay/file_ops.h"

namespace satchel::relay {

void answer(const httplib::Request& req, httplib::Response& res, int status, std::string body,
            const char* content_type, bool close) {
  res.status = status;
  if (req.method == "HEAD") body.clear();
  if (close) res.set_header("Connection", "close");
  res.set_header("Content-Length", std::to_string(body.size()));
  if (body.empty() && !close) return;  // nothing to send, nothing for Range handling to cut
  // Not set_content: a body set that way is sliced by cpp-httplib when the request carries a
  // Range header (and an out-of-range slice throws after the exception handler has run). A
  // provider without a length is left alone; the length is the header above.
  auto shared = std::make_shared<std::string>(std::move(body));
  res.set_content_provider(content_type, [shared, close](size_t, httplib::DataSink& sink) {
    if (!shared->empty()) sink.write(shared->data(), shared->size());
    if (close) return false;
    sink.done();
    return true;
  });
}

void answer_json(const httplib::Request& req, httplib::Response& res, int status,
                 const nlohmann::json& body, bool close) {
  answer(req, res, status, body.dump(), kJsonType, close);
}

void refuse(const httplib::Request& req, httplib::Response& res, int status, std::string_view code,
            bool close) {
  answer_json(req, res, status, nlohmann::json{{"error", std::string(code)}}, close);
}

void refuse_retry_after(const httplib::Request& req, httplib::Response& res, int status,
                        std::string_view code, int64_t seconds) {
  res.set_header("Retry-After", std::to_string(seconds < 1 ? 1 : seconds));
  refuse(req, res, status, code, true);
}

void refuse_store_failure(const httplib::Request& req, httplib::Response& res,
                          const satchel::Error& error, bool close) {
  const bool full = is_disk_full(error);
  std::cerr << "satchel-relay: request failed: " << error.message << "\n";
  refuse(req, res, full ? 507 : 500, full ? "insufficient-storage" : "internal", close);
}

}  // namespace satchel::relay
