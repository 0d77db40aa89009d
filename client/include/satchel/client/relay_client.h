// The device's side of the relay API (schema/relay-api.md): enrollment and tus uploads over
// TLS 1.3, with the relay's certificate pinned by SPKI SHA-256 (primary or backup pin from the
// roster), optionally through an HTTP CONNECT proxy (Tor's HTTPTunnelPort). Never plain HTTP.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/io.h"
#include "satchel/crypto/keys.h"
#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace httplib {
class DataSink;
class Result;
}  // namespace httplib

namespace satchel::client {

// An https:// relay URL split into its parts. Refuses any other scheme, user info, queries,
// fragments and control characters.
struct RelayUrl {
  std::string host;  // a name, an onion name or an IPv4 address (IPv6 literals in [..] too)
  uint16_t port = 443;
  std::string base_path;  // "" or "/prefix" without a trailing slash
};
Result<RelayUrl> parse_relay_url(std::string_view url);

// "HOST:PORT" of an HTTP CONNECT proxy.
struct ProxyAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ProxyAddress> parse_proxy_address(std::string_view text);

struct RelayClientOptions {
  std::optional<ProxyAddress> proxy;
  // Generous defaults for slow links: each is per connect / per receive / per send.
  int connect_timeout_seconds = 30;
  int read_timeout_seconds = 60;
  int write_timeout_seconds = 60;
  // A request (body and answer) that outlasts deadline_base_seconds plus its body at
  // min_rate_bytes_per_second is cancelled as a network failure: a relay or network trickling
  // bytes (each within the receive timeout) cannot hold sync open. The relay keeps the body
  // bytes that arrived, so a resumed upload loses little. Connection setup (connect, a CONNECT
  // tunnel, the TLS handshake) cannot be cut: cpp-httplib holds the lock stop() needs meanwhile.
  int deadline_base_seconds = 120;
  uint32_t min_rate_bytes_per_second = 4096;
  // Reuse one connection across requests (off: one connection per request, as tests use to
  // put every request through the fault proxy's dice).
  bool keep_alive = true;
};

enum class UploadState { kAbsent, kPartial, kStored, kDelivered };

// What the relay reports about one upload (tus Upload-Offset / Upload-Length / Upload-State).
struct UploadStatus {
  UploadState state = UploadState::kAbsent;
  uint64_t offset = 0;  // committed bytes
  uint64_t length = 0;
};

struct Enrollment {
  SecretBytes token;     // the upload token as text (43 base64url characters)
  std::string token_id;  // 16 hex digits: public label, for revocation
};

// An enrollment code a coordinator had the relay mint (schema/relay-api.md).
struct MintedCode {
  SecretBytes code;        // 32 base32 characters
  std::string code_id;     // 16 hex digits: the id the redeemed token keeps
  int64_t expires_at = 0;  // Unix seconds, an hour boundary
};

// One stored upload the coordinator has not acknowledged (schema/relay-api.md, "List").
struct PendingUpload {
  std::string id;  // the upload id: SHA-256 of the bundle, 64 hex digits
  uint64_t size = 0;
  uint64_t required = 0;  // acknowledgements that delete it (0 if the relay did not say)
};

struct PendingPage {
  std::vector<PendingUpload> uploads;
  std::optional<std::string> next;  // pass as `after` for the next page; nullopt on the last
};

// The most uploads one fetch or acknowledgement batch names, and the most bundle bytes one
// fetch may ask for (schema/relay-api.md, "Bulk pulls").
inline constexpr size_t kMaxBatchUploads = 1000;
inline constexpr uint64_t kMaxFetchBytes = 16ull << 20;

// Receives each upload of a fetch as it arrives: its bytes, or nullopt when the relay no longer
// stores it. An error stops the fetch.
using FetchedUpload = std::function<Status(const PendingUpload& upload, std::optional<ByteView>)>;

// Supplies bundle bytes: appends up to `max` bytes starting at `offset` to `out`.
using BodyReader = std::function<Status(uint64_t offset, size_t max, Bytes& out)>;

class RelayClient {
 public:
  // Prepares a client (no connection yet). `pins` are the accepted SPKI SHA-256 hashes.
  static Result<std::unique_ptr<RelayClient>> create(const RelayUrl& url, std::vector<Hash32> pins,
                                                     const RelayClientOptions& options);
  ~RelayClient();
  RelayClient(const RelayClient&) = delete;
  RelayClient& operator=(const RelayClient&) = delete;

  // Redeems a single-use enrollment code for an upload token.
  Result<Enrollment> enroll(const SecretBytes& code);
  // HEAD: whether the relay holds an upload, and its committed offset. kAbsent for 404.
  Result<UploadStatus> status(const std::string& upload_id, const SecretBytes& token);
  // POST creation-with-upload: creates (or continues, creation being idempotent) the upload of
  // `length` bytes and sends bytes [0, min(length, max_body)). Bytes the relay already held are
  // skipped by the relay, not re-stored.
  Result<UploadStatus> create(const std::string& upload_id, uint64_t length, uint64_t max_body,
                              const SecretBytes& token, const BodyReader& body);
  // PATCH: sends bytes [offset, offset + count) of the bundle.
  Result<UploadStatus> append(const std::string& upload_id, uint64_t offset, uint64_t count,
                              const SecretBytes& token, const BodyReader& body);

  // GET a published document (schema/trust-documents.md, "Published documents") with the
  // device's token: its bytes, or nullopt when the relay has no document of that name (404).
  Result<std::optional<Bytes>> document(const std::string& name, const SecretBytes& token);

  // The coordinator's side (client/src/sync/coordinator_requests.cpp).
  // Opens a session for `mailbox` (32 hex digits, the organisation id): fetches a challenge and
  // signs it with the coordinator's Ed25519 key, bound to the pin of the certificate this
  // connection verified. Returns the session token (43 characters) in secret memory.
  Result<SecretBytes> open_session(const CoordinatorSecretKey& key, const std::string& mailbox,
                                   int64_t now);
  // One page (at most `limit`, 1..1000) of stored uploads this coordinator has not acknowledged,
  // in upload-id order after `after` (empty: from the start).
  Result<PendingPage> list_pending(const SecretBytes& session, const std::string& after, int limit);
  // Downloads bytes [offset, size) of an upload into `out` (a Range request when offset > 0),
  // in constant memory. Returns the bytes written; on a cut connection the bytes that arrived
  // are in `out` and the error is kNetwork, so the caller resumes from offset + what arrived.
  Result<uint64_t> download(const SecretBytes& session, const std::string& upload_id,
                            uint64_t offset, uint64_t size, ByteSink& out);
  // Fetches several uploads (1..kMaxBatchUploads, distinct, at most kMaxFetchBytes together)
  // in one request, passing each to `each` in order once all its bytes arrived (one upload in
  // memory at a time). Returns how many were passed; on a cut connection the error is
  // kNetwork and those passed before it are done: the caller asks again for the rest.
  Result<size_t> fetch(const SecretBytes& session, std::span<const PendingUpload> uploads,
                       const FetchedUpload& each);
  // Acknowledges `held` uploads and declares `not_mine` ones (no slot opens for this
  // coordinator) in one request (1..kMaxBatchUploads ids together, distinct). Idempotent; an
  // id the relay no longer knows is not an error.
  Status acknowledge_batch(const SecretBytes& session, const std::vector<std::string>& held,
                           const std::vector<std::string>& not_mine);

  // PUT a document under `name` (1..64 of [A-Za-z0-9._-], not starting with '.').
  Status publish_document(const SecretBytes& session, const std::string& name, ByteView bytes);
  // Has the relay mint a single-use enrollment code for the session's mailbox, valid `hours`
  // (1..72; 0: the relay's default). The code is returned in secret memory.
  Result<MintedCode> mint_enrollment_code(const SecretBytes& session, int hours);
  // PUTs a newer registration of the session's mailbox (the text `satchel org registration`
  // writes); returns the version the relay now holds. Sessions of coordinators it no longer
  // lists end at once, this one's too if it removes itself. kDocRollback if the relay holds
  // this version or a newer one, kDocUntrustedSigner if signed by another organisation key,
  // another kDoc* code for a document the relay cannot verify.
  Result<uint64_t> update_registration(const SecretBytes& session,
                                       std::string_view registration_text);

  // Seconds the last refusal asked to wait (Retry-After), 0 when none.
  int64_t retry_after_seconds() const { return retry_after_; }
  // True if the last request was refused before its body was read (429, 503, 423): the
  // relay's state is as it was, and the same request may simply be repeated.
  bool last_refusal_changed_nothing() const { return unchanged_; }
  // Bytes of request bodies handed to the connection so far (a dropped request counts too).
  uint64_t body_bytes_sent() const { return body_bytes_sent_; }

 private:
  struct Impl;
  explicit RelayClient(std::unique_ptr<Impl> impl);
  void begin_request();  // clears the previous request's verdicts
  std::function<bool(size_t, size_t, httplib::DataSink&)> body_provider(const BodyReader& body,
                                                                        uint64_t base);
  Result<UploadStatus> tus_answer(const httplib::Result& res, int ok_status, int other_ok_status);
  std::unique_ptr<Impl> impl_;
  int64_t retry_after_ = 0;
  bool unchanged_ = false;
  uint64_t body_bytes_sent_ = 0;
};

// The SPKI SHA-256 pin of a DER certificate's public key (exposed for tests).
Result<Hash32> spki_pin_of_der_certificate(ByteView der);

}  // namespace satchel::client
