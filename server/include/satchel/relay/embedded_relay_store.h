// EmbeddedRelayStore: the default RelayStore on one machine. One file per upload in a 0700
// directory tree, plus a metadata database (relay.db, SQLite through libsqlcipher, unkeyed):
//
//   DIR/relay.db                       mailboxes, uploads, acks, tombstones, documents, packs
//   DIR/tokens.db                      token and enrollment-code hashes (a WAL of its own)
//   DIR/packs/<n>.pack                 the bytes of small uploads stored whole in one request
//   DIR/uploads/<mailbox>/<id>.part    a partial upload (bytes past the committed offset are junk)
//   DIR/uploads/<mailbox>/<id>         a stored upload (complete, hash verified)
//
// Opening in serving mode takes an exclusive lock on DIR and runs start-up recovery first.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/relay/file_ops.h"
#include "satchel/relay/relay_store.h"

namespace satchel::relay {

class MetadataDb;
class WalCheckpointer;
class EmbeddedUploadWriter;
class InlineUploadWriter;
class PackLog;
struct PackRegion;

struct EmbeddedStoreOptions {
  // The file-system seam; nullptr means the POSIX calls. Must outlive the store.
  FileOps* file_ops = nullptr;
  // Serving mode: lock DIR exclusively and recover. Administration (mailbox commands) only
  // touches the metadata and may run beside a serving relay.
  bool serve = true;
  // Test hook: named steps in the order they happen ("offset-committed", "stored", …).
  std::function<void(std::string_view)> trace;
  // Where recovery and deletion problems are reported; stderr when unset.
  std::function<void(std::string_view)> log;
  // A creation whose whole upload (at most this many bytes) arrives in its request is held in
  // memory, then stored in a pack file shared with other small uploads (storage/packs)
  // instead of a data file of its own; 0 sends every upload to a file. Larger uploads, and
  // bodies cut short, use files. Values above kLargestInlineMaxBytes are lowered to it (each
  // such body is held in memory whole).
  uint64_t inline_max_bytes = kDefaultInlineMaxBytes;
  static constexpr uint64_t kDefaultInlineMaxBytes = 256 * 1024;
  static constexpr uint64_t kLargestInlineMaxBytes = 16 * 1024 * 1024;
  // A pack file takes no new upload once it holds this many bytes (tests lower it).
  uint64_t pack_max_bytes = 64ull << 20;
};

class EmbeddedRelayStore final : public RelayStore {
 public:
  // Opens (creating, mode 0700) the store in `dir`. In serving mode, fails with kAlreadyExists
  // when another process serves it, then makes partial state consistent: data files cut back
  // to their committed offsets, complete uploads verified and stored, orphan files removed.
  static Result<std::unique_ptr<EmbeddedRelayStore>> open(const std::string& dir, Day today,
                                                          EmbeddedStoreOptions options = {});
  ~EmbeddedRelayStore() override;

  Result<std::optional<MailboxRecord>> mailbox(std::string_view id) override;
  Status put_mailbox(const MailboxRecord& record, const std::vector<Key32>& coordinators) override;
  Result<std::vector<MailboxRecord>> mailboxes() override;

  Status add_enrollment_code(const EnrollmentCodeRecord& code) override;
  Result<TokenRecord> redeem_enrollment_code(const Hash32& code_hash, int64_t now,
                                             const Hash32& token_hash) override;
  Result<std::optional<TokenRecord>> token(const Hash32& token_hash) override;
  Result<size_t> revoke_tokens(std::string_view mailbox,
                               std::optional<std::string_view> token_id) override;
  Result<std::vector<std::string>> token_ids(std::string_view mailbox) override;

  Result<UploadLookup> find_upload(std::string_view mailbox, const Hash32& id) override;
  Result<CreateResult> create_upload(std::string_view mailbox, const Hash32& id, uint64_t length,
                                     uint64_t mailbox_quota, Day today) override;
  Result<BegunUpload> begin_upload(std::string_view mailbox, const Hash32& id, uint64_t length,
                                   uint64_t mailbox_quota, Day today) override;
  Result<std::unique_ptr<UploadWriter>> open_writer(std::string_view mailbox, const Hash32& id,
                                                    uint64_t offset, Day today) override;
  Result<std::vector<UploadRecord>> partial_uploads() override;
  Status terminate_upload(std::string_view mailbox, const Hash32& id, Day today) override;
  Result<std::vector<ListedUpload>> list_stored(std::string_view mailbox,
                                                const std::optional<Hash32>& after, size_t limit,
                                                const Key32& coordinator,
                                                bool pending_only) override;
  Result<std::unique_ptr<RandomAccessSource>> open_stored(std::string_view mailbox,
                                                          const Hash32& id) override;
  Result<std::vector<AckResult>> acknowledge_batch(std::string_view mailbox,
                                                   std::span<const AckItem> items,
                                                   const Key32& coordinator,
                                                   const std::vector<Key32>& coordinators,
                                                   size_t required, Day today,
                                                   Day tombstone_until) override;
  Result<size_t> deliver_acknowledged(std::string_view mailbox,
                                      const std::vector<Key32>& coordinators, size_t required,
                                      Day today, Day tombstone_until) override;
  Result<size_t> remove_stored_before(std::string_view mailbox, Day cutoff, Day today) override;

  Result<DocumentPutOutcome> put_document(std::string_view mailbox, std::string_view name,
                                          ByteView content, const DocumentQuota& quota) override;
  Result<bool> delete_document(std::string_view mailbox, std::string_view name) override;
  Result<std::vector<DocumentInfo>> documents(std::string_view mailbox) override;
  Result<std::optional<Bytes>> document(std::string_view mailbox, std::string_view name) override;

  Result<HousekeepingReport> expire(Day partial_cutoff, Day today, int64_t now) override;
  Result<Day> retention_since(uint32_t days, Day today) override;

  // Where the data of an upload lives (tests inspect and damage these files).
  std::string partial_path(std::string_view mailbox, const Hash32& id) const;
  std::string stored_path(std::string_view mailbox, const Hash32& id) const;

 private:
  friend class EmbeddedUploadWriter;
  friend class InlineUploadWriter;
  EmbeddedRelayStore(std::string dir, std::unique_ptr<MetadataDb> db,
                     std::unique_ptr<MetadataDb> group_db, EmbeddedStoreOptions options);

  std::string mailbox_dir(std::string_view mailbox) const;
  // Requires mu_ and an open transaction: deletes the mailbox's unredeemed codes minted by a key
  // not in `coordinators`.
  Status delete_unlisted_codes_locked(std::string_view mailbox,
                                      const std::vector<Key32>& coordinators);
  // At start: deletes every code whose minter the mailbox's stored registration does not list.
  Status delete_codes_of_unregistered_minters();
  void trace(std::string_view step) const;
  void log(std::string_view message) const;
  // Requires mu_: SELECTs the upload row and tombstone.
  Result<UploadLookup> lookup_locked(std::string_view mailbox, const Hash32& id);
  // Requires mu_: what a creation of `length` bytes finds instead of creating (an upload, a
  // begun creation, a tombstone, or no room), or nullopt when it may create.
  Result<std::optional<CreateResult>> existing_locked(std::string_view mailbox, const Hash32& id,
                                                      uint64_t length, uint64_t quota);
  // Requires mu_: whether `length` more bytes fit the mailbox's quota, counting its uploads and
  // the creations begun but not yet recorded.
  Result<bool> fits_quota_locked(std::string_view mailbox, uint64_t length, uint64_t quota);
  // Requires mu_: deletes the upload row in its own transaction. When its bytes are in a pack
  // and `freed` is given, adds their region to it: the caller frees it once that is committed.
  Status delete_upload_row_locked(std::string_view mailbox, const Hash32& id,
                                  std::vector<PackRegion>* freed = nullptr);
  // Frees the pack regions of uploads whose deletion is committed; failures are logged (the
  // bytes are freed at the next start).
  void free_regions(const std::vector<PackRegion>& regions, Day today);
  // Removes a data file and syncs its directory; failures are logged (recovery removes
  // orphans), not returned: the metadata already says the upload is gone.
  void remove_data_file(const std::string& path, std::string_view mailbox, Day today);
  // Verifies the hash of a complete upload whose data is synced in `fd`, renames it to its
  // final name, syncs the directory and records it stored (and its offset, which the metadata
  // still has at `committed`); on a hash mismatch discards it. `precomputed` is the hash of the
  // file's bytes when the caller already has it. With `unrecorded` (a begun creation), no row
  // exists yet and the one commit inserts it stored.
  Result<CommitResult> finish_upload(std::string_view mailbox, const Hash32& id, int fd,
                                     uint64_t length, uint64_t committed,
                                     const std::optional<Hash32>& precomputed, Day today,
                                     bool unrecorded = false);
  // Inserts the row of a begun creation through `db` (a group's connection); the caller ends
  // its reservation (begun_) once that insert is committed.
  Status insert_begun_row(MetadataDb& db, std::string_view mailbox, const Hash32& id,
                          uint64_t length, uint64_t committed, UploadState state, Day today);
  // Inserts the row naming where upload `id`'s bytes are in a pack, through `db`.
  static Status insert_pack_row(MetadataDb& db, std::string_view mailbox, ByteView id,
                                const PackRegion& region);
  // Records a begun creation through a group commit and ends its reservation. With `region`
  // (where a stored upload's whole, verified bytes were written), the group syncs its pack and
  // the same commit records it. On failure, `in_doubt` (if given) tells whether the change was
  // in a commit that failed (which SQLite may replay after a crash) rather than never
  // committed.
  Status record_begun(std::string_view mailbox, const Hash32& id, uint64_t length,
                      uint64_t committed, UploadState state, Day today,
                      const PackRegion* region = nullptr, bool* in_doubt = nullptr);
  // A begun creation that ends without a commit recording it is recorded partial at 0, as a
  // creation without a body would have left it; failures are logged.
  void record_failed_creation(std::string_view mailbox, const Hash32& id, uint64_t length,
                              Day today) noexcept;
  // For a begun creation (reserved in busy_ and begun_): creates its .part file and returns the
  // writer that takes the reservation over. On failure the caller still holds the reservation.
  Result<std::unique_ptr<UploadWriter>> begun_file_writer(std::string_view mailbox,
                                                          const Hash32& id, uint64_t length,
                                                          Day today);
  // Creates (or opens, never truncating) an upload's .part file, and its mailbox directory if
  // needed; neither is synced yet.
  Result<FileHandle> create_partial_file(std::string_view mailbox, const Hash32& id, Day today);
  // For a begun creation of at most inline_max_bytes: the writer that holds its body in memory
  // and stores it in a pack once whole; it takes the reservation over.
  std::unique_ptr<UploadWriter> inline_writer(std::string_view mailbox, const Hash32& id,
                                              uint64_t length, Day today);
  // Requires mu_: whether a stored upload's bytes are in a pack (then sets `region`) rather
  // than in a data file of its own. Its length is the upload's.
  Result<bool> pack_region_locked(std::string_view mailbox, const Hash32& id, PackRegion& region);
  // Requires mu_: the numbers of the packs that hold a stored upload.
  Result<std::set<int64_t>> packs_in_use_locked();
  // Recovery of the packs: frees every byte no upload row names, removes packs nothing names.
  Status recover_packs(Day today);
  // Stores of an earlier version kept small uploads' bytes in relay.db (table upload_content):
  // each moves to a pack (written and synced, then its region recorded and its blob deleted in
  // one commit), and the table is dropped.
  Status migrate_upload_content(Day today);
  void release_writer(const std::string& key);
  // Holds upload keys in busy_ from the commit that deletes their rows until their files are
  // unlinked, so that no creation or writer reuses a file about to be unlinked. Destroy it
  // without mu_ held.
  class RemovalHold {
   public:
    explicit RemovalHold(EmbeddedRelayStore& store) : store_(store) {}
    RemovalHold(const RemovalHold&) = delete;
    RemovalHold& operator=(const RemovalHold&) = delete;
    ~RemovalHold();
    // Requires mu_: holds `key`; false when a writer or another removal holds it already.
    bool add_locked(std::string key);

   private:
    EmbeddedRelayStore& store_;
    std::vector<std::string> keys_;
  };
  // One metadata change waiting for a group commit.
  struct GroupedChange {
    // On the group's connection, inside its transaction; mu_ is not held and must not be taken
    // (the change's upload is reserved in busy_).
    std::function<Status(MetadataDb&)> apply;
    std::function<void()> on_commit;  // under mu_, once that transaction is durable
    // A pack holding bytes this change names: synced before any change is applied, its times
    // set to `today`.
    std::optional<int64_t> pack;
    Day today = 0;
    bool in_commit = false;        // set by the leader: applied, and part of the group's COMMIT
    std::optional<Status> result;  // set by the leader, under group_mu_
  };
  // Applies `change` in one transaction with the changes other requests are waiting to commit
  // at that moment: one durable commit (one WAL sync) for all of them. Returns the change's own
  // failure (undone alone), or the commit's result: a failed commit fails every change in it.
  Status commit_grouped(GroupedChange& change);
  // Runs one group on group_db_ (mu_ only for the changes' on_commit); returns each change's
  // result.
  std::vector<Status> run_group(const std::vector<GroupedChange*>& group);
  // Requires mu_ and an open transaction: applies the acknowledgement rule
  // (acknowledgements_required of the mailbox's `required`) to one stored upload; true when it
  // became a tombstone (the caller removes the file, or frees the pack region added to
  // `freed`, after committing). `result`, when given, gets the counts.
  Result<bool> deliver_if_acknowledged_locked(std::string_view mailbox, const Hash32& id,
                                              const std::vector<Key32>& coordinators,
                                              size_t required, Day tombstone_until,
                                              AckResult* result, std::vector<PackRegion>& freed);
  Status lock_directory();
  Status recover(Day today);

  std::string dir_;
  std::unique_ptr<MetadataDb> db_;  // everything but group commits, under mu_
  // The group commits' own connection (used by one leader at a time): in WAL mode, reads on
  // db_ go on while a group is written and synced, and see it once committed.
  std::unique_ptr<MetadataDb> group_db_;
  // Published documents' own connection, under documents_mu_ instead of mu_: writing a large
  // document (megabytes of WAL and an fsync) does not hold up other requests' metadata reads.
  std::unique_ptr<MetadataDb> documents_db_;
  std::mutex documents_mu_;
  // The pack files of small stored uploads (storage/packs).
  std::unique_ptr<PackLog> packs_;
  // Serving mode: checkpoints the WAL of both connections on its own thread.
  std::unique_ptr<WalCheckpointer> checkpointer_;
  EmbeddedStoreOptions options_;
  FileOps default_ops_;
  FileOps* ops_;
  FileHandle lock_file_;
  std::mutex mu_;               // guards db_, busy_ and begun_
  std::set<std::string> busy_;  // uploads held by a writer ("mailbox/hex")
  // Creations begun (begin_upload) and not yet recorded, by key; each is also in busy_, held
  // by its writer.
  struct Begun {
    std::string mailbox;
    uint64_t length = 0;
    Day day = 0;
  };
  std::map<std::string, Begun> begun_;
  // Group commit: requests queue their changes; one leader at a time commits the queue.
  std::mutex group_mu_;  // guards group_queue_, group_leading_ and the changes' results
  std::condition_variable group_cv_;
  std::vector<GroupedChange*> group_queue_;
  bool group_leading_ = false;
};

}  // namespace satchel::relay
