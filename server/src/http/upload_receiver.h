// Streams a tus request body into an upload: skips bytes the relay already holds, hashes the
// whole body when the client sent Upload-Checksum, and commits only what may be committed —
// with a checksum, all of the body or nothing; without one, the received prefix of an
// interrupted body is kept (the whole-bundle hash is verified at completion).
#pragma once

#include <httplib.h>

#include <optional>

#include "http/request_guard.h"
#include "satchel/relay/relay.h"

namespace satchel::relay {

struct BodyTarget {
  Hash32 id{};
  uint64_t length = 0;             // the upload's declared length
  uint64_t committed = 0;          // its committed offset when the request started
  uint64_t body_offset = 0;        // where this body starts in the upload (0 for creation)
  std::optional<Hash32> checksum;  // Upload-Checksum (sha256 of this whole body)
};

struct BodyOutcome {
  uint64_t committed = 0;  // the upload's committed offset now
  bool stored = false;     // complete, verified and durable
};

// Receives the body of `ctx` into the upload, through `begun` when the request began the upload
// (RelayStore::begin_upload), else through a writer it opens. On failure writes the refusal
// into `res` and returns nullopt; on success the caller answers.
std::optional<BodyOutcome> receive_upload_body(Relay& relay, const httplib::Request& req,
                                               httplib::Response& res,
                                               const httplib::ContentReader& reader,
                                               const RequestContext& ctx, const BodyTarget& target,
                                               std::unique_ptr<UploadWriter> begun = nullptr);

// Reads and discards the body of a request for an upload the relay already holds completely,
// so that the client reads the answer (closing unread would reset the connection under it).
// Counts against the token's daily bytes; on refusal writes it into `res` and returns false.
bool discard_upload_body(Relay& relay, const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& reader, const RequestContext& ctx);

// Adds Tus-Resumable, Upload-Offset, Upload-Length, Upload-State and, for a partial upload,
// Upload-Expires (midnight UTC after partial_expiry_days without writes).
void add_upload_headers(const Relay& relay, httplib::Response& res, uint64_t offset,
                        uint64_t length, std::string_view state, Day last_write);

}  // namespace satchel::relay
