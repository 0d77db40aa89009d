// RelayStore: everything the relay keeps, behind one small interface so that a shared backend
// can replace the embedded one (EmbeddedRelayStore: files plus a SQLite metadata database)
// without touching the protocol. The store keeps days, never precise times; hashes of
// credentials, never the credentials; and no link between a token and the uploads it made.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/encoding.h"
#include "satchel/crypto/io.h"
#include "satchel/crypto/keys.h"
#include "satchel/crypto/status.h"
#include "satchel/relay/clock.h"

namespace satchel::relay {

// A mailbox: one organisation's registration, with the organisation key pinned on first use.
struct MailboxRecord {
  std::string id;  // lower-case hex of the organisation id (32 characters)
  OrgPublicKey org;
  uint64_t version = 0;
  std::string registration;  // the signed registration text ("registration-…")
};

// An upload token, known to the store only by the SHA-256 of its bytes.
struct TokenRecord {
  std::string mailbox;
  std::string token_id;  // public label (16 hex digits) used to revoke it
};

// An enrollment code, known only by its hash; expires at an hour boundary.
struct EnrollmentCodeRecord {
  Hash32 hash{};
  std::string mailbox;
  std::string code_id;     // becomes the token id of the token it is redeemed for
  int64_t expires_at = 0;  // Unix seconds, a multiple of 3600
  // The coordinator key that minted it, kept until the code is redeemed or deleted; nullopt for
  // the operator's codes. A registration that no longer lists it deletes the code.
  std::optional<Key32> minter;
  // With a minter: the registration version that listed it when minting was authorised. The
  // code is stored only while the mailbox still holds that version.
  uint64_t registration_version = 0;
};

enum class UploadState : uint8_t { kPartial = 0, kStored = 1 };

struct UploadRecord {
  std::string mailbox;
  Hash32 id{};             // SHA-256 of the whole bundle
  uint64_t length = 0;     // declared at creation
  uint64_t committed = 0;  // bytes durably stored, from the metadata: never the file size
  UploadState state = UploadState::kPartial;
  Day day = 0;  // partial: day of the last write; stored: arrival day
};

// What remains of a delivered upload, until `until`.
struct Tombstone {
  std::string mailbox;
  Hash32 id{};
  uint64_t length = 0;
  Day until = 0;
};

// What the store holds under one upload id: an upload, a tombstone, or neither.
struct UploadLookup {
  std::optional<UploadRecord> upload;
  std::optional<Tombstone> tombstone;
};

enum class CreateOutcome : uint8_t {
  kCreated,    // a new partial upload
  kExisting,   // already there (partial or stored): creation is idempotent
  kDelivered,  // a tombstone: the bundle was already delivered
  kOverQuota,  // the mailbox's byte quota would be exceeded: nothing created
};

struct CreateResult {
  CreateOutcome outcome = CreateOutcome::kCreated;
  UploadLookup now;  // the state after the call
};

struct CommitResult {
  uint64_t committed = 0;  // the new committed offset
  bool stored = false;     // the upload is complete, its hash verified, and durably stored
};

// Appends to one partial upload; holds that upload exclusively until destroyed. A writer
// destroyed without commit() discards what it wrote (the file is cut back to the committed
// offset).
class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  // Writes after the bytes already written by this writer; not durable until commit().
  // Fails without effect on the committed offset (kInvalidArgument past the declared length).
  virtual Status write(ByteView data) = 0;
  // Bytes written by this writer so far.
  virtual uint64_t written() const = 0;
  // Makes the written bytes durable (fsync) and records the new committed offset (metadata
  // commit). If they complete the upload, instead verifies the whole-bundle SHA-256, renames
  // the file to its final name, fsyncs the directory and records offset and "stored" in one
  // metadata commit. A hash mismatch discards the upload: kInvalidArgument. Any other failure
  // leaves the previous committed offset. The writer is spent either way.
  virtual Result<CommitResult> commit() = 0;
};

// A creation whose request carries the whole upload (RelayStore::begin_upload).
struct BegunUpload {
  CreateResult created;
  std::unique_ptr<UploadWriter> writer;  // at offset 0; set only when created.outcome is kCreated
};

enum class AckState : uint8_t {
  kStored,     // still stored: not enough acknowledgements yet
  kDelivered,  // deleted (now or before) with a tombstone
  kUnknown,    // no stored upload and no tombstone with this id
};

// What a coordinator says about one stored upload (schema/relay-api.md, "When a coordinator
// acknowledges").
enum class AckKind : uint8_t {
  kHeld,     // it holds the bundle (imported, duplicate, cover, kept for good): counts
  kNotMine,  // no slot of the bundle opens for it: lowers the number required instead
};

struct AckItem {
  Hash32 id{};
  AckKind kind = AckKind::kHeld;
};

struct AckResult {
  AckState state = AckState::kStored;
  size_t acknowledgements = 0;  // "held" by currently registered coordinators
  size_t required = 0;          // for this upload (acknowledgements_required)
};

// The "held" acknowledgements that deliver an upload: `required` of the `registered`
// coordinators (0, or more than registered, means all), lowered to the registered coordinators
// that did not declare it not theirs (`declined`), and never below 1. An upload every registered
// coordinator declined is never delivered by acknowledgement (retention or expiry removes it).
size_t acknowledgements_required(size_t required, size_t registered, size_t declined);

// One stored upload in a coordinator's listing.
struct ListedUpload {
  Hash32 id{};
  uint64_t length = 0;
  Day arrival = 0;
  std::vector<Key32> acknowledged_by;  // coordinator keys that acknowledged it as held
  std::vector<Key32> declined_by;      // coordinator keys that declared it not theirs
};

// Per-mailbox limits on published documents; 0 means unlimited.
struct DocumentQuota {
  uint64_t max_count = 0;        // documents held by one mailbox
  uint64_t max_total_bytes = 0;  // their bytes together
};

enum class DocumentPutOutcome : uint8_t {
  kStored,     // stored (or replaced)
  kTooMany,    // a new name past DocumentQuota::max_count: nothing changed
  kOverQuota,  // the mailbox's documents would exceed max_total_bytes: nothing changed
};

// One published document in a listing.
struct DocumentInfo {
  std::string name;
  uint64_t bytes = 0;
};

struct HousekeepingReport {
  size_t partial_expired = 0;
  size_t tombstones_purged = 0;
  size_t codes_purged = 0;
};

class RelayStore {
 public:
  virtual ~RelayStore() = default;

  // --- Mailboxes ---
  // The mailbox with this id, or nullopt.
  virtual Result<std::optional<MailboxRecord>> mailbox(std::string_view id) = 0;
  // Inserts or replaces a mailbox; the caller has verified the registration and its update rule.
  // The organisation key of an existing mailbox is kept (pinned on first use). An existing
  // mailbox is replaced only by a greater version: kDocRollback otherwise, nothing changed (a
  // concurrent writer, e.g. the operator's command, stored a version at least as new). In the
  // same commit, deletes the mailbox's unredeemed codes minted by a key not in `coordinators`
  // (the coordinator keys the registration lists); the operator's codes are kept.
  virtual Status put_mailbox(const MailboxRecord& record,
                             const std::vector<Key32>& coordinators) = 0;
  // All mailboxes, in id order.
  virtual Result<std::vector<MailboxRecord>> mailboxes() = 0;

  // --- Credentials ---
  // Stores an enrollment code's hash. kAlreadyExists if that hash is already stored. A code with
  // a minter is stored only if the mailbox still holds `registration_version`: kDocRollback
  // otherwise, nothing stored (a newer registration, which may not list the minter, came first).
  virtual Status add_enrollment_code(const EnrollmentCodeRecord& code) = 0;
  // Consumes the code with this hash if it has not expired at `now` and stores `token_hash` in
  // one transaction; returns the new token. kNotFound for an unknown, used or expired code.
  virtual Result<TokenRecord> redeem_enrollment_code(const Hash32& code_hash, int64_t now,
                                                     const Hash32& token_hash) = 0;
  // The token with this hash (compared in constant time after the lookup), or nullopt.
  virtual Result<std::optional<TokenRecord>> token(const Hash32& token_hash) = 0;
  // Removes the mailbox's tokens with this token id, or all of them; returns how many.
  virtual Result<size_t> revoke_tokens(std::string_view mailbox,
                                       std::optional<std::string_view> token_id) = 0;
  // Token ids of the mailbox's tokens, sorted.
  virtual Result<std::vector<std::string>> token_ids(std::string_view mailbox) = 0;

  // --- Uploads ---
  // The upload and/or tombstone with this id in the mailbox (both empty if neither).
  virtual Result<UploadLookup> find_upload(std::string_view mailbox, const Hash32& id) = 0;
  // Creates a partial upload of `length` bytes (its metadata durable before returning; the
  // file's directory entry is synced with its first bytes) unless one exists or a tombstone
  // names it; refuses when the mailbox's bytes held (partial
  // and stored) plus `length` would exceed `mailbox_quota` (0 = unlimited).
  virtual Result<CreateResult> create_upload(std::string_view mailbox, const Hash32& id,
                                             uint64_t length, uint64_t mailbox_quota,
                                             Day today) = 0;
  // Like create_upload, for a request whose body is the whole upload: a new upload is not
  // recorded yet but returned as a writer at offset 0 whose commit() records it, with its offset
  // and state, in one metadata commit ("stored" already when the body completes it). Until then
  // it counts against the quota and another creation finds it existing (partial, offset 0) and
  // its writer taken; a writer destroyed without a successful commit records it partial at
  // offset 0, as create_upload would have (unless its hash mismatched: then nothing remains).
  virtual Result<BegunUpload> begin_upload(std::string_view mailbox, const Hash32& id,
                                           uint64_t length, uint64_t mailbox_quota, Day today) = 0;
  // Opens a writer at `offset`, which must equal the committed offset of a partial upload.
  // kNotFound (no partial upload), kInvalidArgument (other offset: nothing changes),
  // kAlreadyExists (another writer holds it).
  virtual Result<std::unique_ptr<UploadWriter>> open_writer(std::string_view mailbox,
                                                            const Hash32& id, uint64_t offset,
                                                            Day today) = 0;
  // Every partial upload of every mailbox, in mailbox and id order (operator listing; the
  // store knows no token that made them).
  virtual Result<std::vector<UploadRecord>> partial_uploads() = 0;
  // Removes a partial upload (termination). kNotFound if none; kAlreadyExists if being written;
  // kInvalidArgument if the upload is stored (only acknowledgement removes those).
  virtual Status terminate_upload(std::string_view mailbox, const Hash32& id, Day today) = 0;
  // Stored uploads in id order after `after`, at most `limit`; with `pending_only`, only those
  // `coordinator` has neither acknowledged nor declined.
  virtual Result<std::vector<ListedUpload>> list_stored(std::string_view mailbox,
                                                        const std::optional<Hash32>& after,
                                                        size_t limit, const Key32& coordinator,
                                                        bool pending_only) = 0;
  // The bytes of a stored upload, for reading at any offset. kNotFound if not stored.
  virtual Result<std::unique_ptr<RandomAccessSource>> open_stored(std::string_view mailbox,
                                                                  const Hash32& id) = 0;
  // Records what `coordinator` says about each upload of `items` (distinct ids), in one
  // transaction: kHeld replaces an earlier kNotMine of the same coordinator; kNotMine after
  // kHeld is ignored. Each upload with at least acknowledgements_required(required,
  // |coordinators|, declines by coordinators) "held" acknowledgements from `coordinators` (the
  // registered keys) has its data deleted and a tombstone kept until `tombstone_until`. One
  // result per item, in order: kDelivered for one delivered now or before, kUnknown for an id
  // neither stored nor tombstoned. An error changes nothing.
  virtual Result<std::vector<AckResult>> acknowledge_batch(
      std::string_view mailbox, std::span<const AckItem> items, const Key32& coordinator,
      const std::vector<Key32>& coordinators, size_t required, Day today, Day tombstone_until) = 0;
  // acknowledge_batch of one kHeld item; kNotFound for an unknown id.
  Result<AckResult> acknowledge(std::string_view mailbox, const Hash32& id,
                                const Key32& coordinator, const std::vector<Key32>& coordinators,
                                size_t required, Day today, Day tombstone_until);
  // Applies the acknowledgement rule again to every stored upload of the mailbox (after its
  // registration changed); returns how many became delivered.
  virtual Result<size_t> deliver_acknowledged(std::string_view mailbox,
                                              const std::vector<Key32>& coordinators,
                                              size_t required, Day today, Day tombstone_until) = 0;
  // Deletes, without a tombstone, stored uploads of the mailbox that arrived before `cutoff`
  // (operator retention); returns how many.
  virtual Result<size_t> remove_stored_before(std::string_view mailbox, Day cutoff, Day today) = 0;

  // --- Published documents (opaque blobs) ---
  // Stores (or replaces) a document durably unless the mailbox's documents, counted with this
  // one in place of any it replaces, would exceed `quota`: then nothing changes.
  virtual Result<DocumentPutOutcome> put_document(std::string_view mailbox, std::string_view name,
                                                  ByteView content, const DocumentQuota& quota) = 0;
  // Deletes a document (its bytes overwritten in the database, secure_delete); false if the
  // mailbox has none of that name.
  virtual Result<bool> delete_document(std::string_view mailbox, std::string_view name) = 0;
  // The mailbox's documents with their sizes, in name order.
  virtual Result<std::vector<DocumentInfo>> documents(std::string_view mailbox) = 0;
  // The document's bytes, or nullopt.
  virtual Result<std::optional<Bytes>> document(std::string_view mailbox,
                                                std::string_view name) = 0;

  // --- Housekeeping ---
  // Removes partial uploads last written before `partial_cutoff`, tombstones whose day has
  // come (`until <= today`), and enrollment codes expired at `now`.
  virtual Result<HousekeepingReport> expire(Day partial_cutoff, Day today, int64_t now) = 0;
  // The day since which the operator's retention of `days` has been in force (recorded on
  // first call with this value; 0 days clears it).
  virtual Result<Day> retention_since(uint32_t days, Day today) = 0;
};

}  // namespace satchel::relay

namespace satchel::relay {

// True for a well-formed mailbox id: 32 lower-case hex digits (the organisation id).
bool is_mailbox_id(std::string_view id);
// 32 bytes from exactly 64 lower-case hex digits (upload ids, coordinator keys); nullopt
// otherwise.
std::optional<Hash32> parse_hex32(std::string_view hex);
// The mailbox id for an organisation: lower-case hex of its organisation id.
std::string mailbox_id_for(const OrgPublicKey& org);

}  // namespace satchel::relay
