// Streams a tus request body into an upload: skips bytes the relay already holds, hashes the
// whole body when the client sent Upload-Checksum, and commits only what may be committed —
// with a checksum, all of the body or nothing; without one, the received prefix of an
// interrupted body is kept (the whole-bundle hash is verified at completion).
#pragma once

#include <httplib.h>

#include <chrono>
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
// (RelayStore::begin_upload), else through a writer it opens. Holds one of the relay's upload
// slots and one unit of the token's thread and slot shares while it reads (503 busy without). On
// failure writes the refusal into `res` and returns nullopt; on success the caller answers.
std::optional<BodyOutcome> receive_upload_body(Relay& relay, const httplib::Request& req,
                                               httplib::Response& res,
                                               const httplib::ContentReader& reader,
                                               const RequestContext& ctx, const BodyTarget& target,
                                               std::unique_ptr<UploadWriter> begun = nullptr);

// The device token a request of a tus endpoint came with, as the per-token budgets key it.
TokenKey token_key_of(const RequestContext& ctx);

// Body bytes gathered before each write to the store (one buffer per upload being received).
inline constexpr size_t kWriteBatchBytes = 256 * 1024;

// At most this much of an unread body is drained after answering, for at most kLingerTime.
// Clients such as cpp-httplib's write the whole body before reading the answer: a re-sent body
// within this bound gets a clean close instead of a reset.
inline constexpr uint64_t kLingerBytes = 1024 * 1024;
inline constexpr std::chrono::milliseconds kLingerTime{1000};

// Answers `status` with `body` WITHOUT reading the request body (a re-sent upload the relay
// holds completely) and closes the connection, letting its close drain (BoundedStream::
// allow_drain) at most kLingerBytes / kLingerTime of the body so that the client reads the
// answer rather than a reset. Holds no upload slot; drains more than the connection's default
// only within the token's thread share and daily bytes, and the bytes drained count against
// the daily bytes.
void answer_lingering(Relay& relay, const httplib::Request& req, httplib::Response& res,
                      const RequestContext& ctx, int status, std::string body);

// After the mailbox's token `token_id` (every token when nullopt) was revoked: removes the
// unfinished uploads it created since the relay started (the in-memory budgets know them).
// Returns how many were removed; one being written, or finished since, is left.
size_t remove_partials_of_revoked(Relay& relay, std::string_view mailbox,
                                  std::optional<std::string_view> token_id);

// Adds Tus-Resumable, Upload-Offset, Upload-Length, Upload-State and, for a partial upload,
// Upload-Expires (midnight UTC after partial_expiry_days without writes).
void add_upload_headers(const Relay& relay, httplib::Response& res, uint64_t offset,
                        uint64_t length, std::string_view state, Day last_write);

}  // namespace satchel::relay
