// EmbeddedRelayStore uploads: creation, the durable append path, completion, acknowledgement
// and deletion. The order of durable steps is the contract (schema/relay-api.md, "Durability"):
//   append:   pwrite → fsync(file) [→ fsync(dir) for the first bytes] → metadata offset commit
//   complete: verify SHA-256 → rename .part → final → fsync(dir) → metadata "stored" commit
//   delete:   metadata commit (tombstone) → unlink → fsync(dir)
// A creation whose request carries the whole upload (begin_upload) has no row until its
// writer's commit, which inserts it with its offset and state: one metadata commit, not two.
// Until then only the in-memory reservation (begun_) and a file no metadata names exist, and
// recovery removes such a file: nothing about the upload had been answered.
// Upload metadata commits are grouped (commit_grouped): the requests waiting to commit at one
// moment share one transaction and its one WAL sync; each is answered with that commit's result.
// A failed write or fsync fails the call and cuts the file back; it is never retried as if it
// had succeeded (a later request writes the bytes again). A failed metadata commit leaves the
// synced data in place: SQLite may still replay that commit after a crash.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "satchel/crypto/sha256.h"
#include "satchel/relay/embedded_relay_store.h"
#include "store/embedded/metadata_db.h"
#include "store/embedded/pack_log.h"
#include "store/embedded/store_rows.h"

namespace satchel::relay {

namespace {
constexpr size_t kHashBlock = 1 << 20;
}  // namespace

Result<Hash32> hash_file_prefix(int fd, uint64_t length) {
  Sha256 h;
  std::vector<uint8_t> buf(kHashBlock);
  uint64_t at = 0;
  while (at < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - at));
    const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read upload data", errno);
    if (n == 0) return make_error(Errc::kIoError, "upload data shorter than its committed offset");
    h.update(ByteView(buf.data(), static_cast<size_t>(n)));
    at += static_cast<uint64_t>(n);
  }
  return h.finish();
}

namespace {

// A stored upload opened for reading: `size` bytes from `base` of a data file or a pack.
// O_NOATIME keeps reads from stamping the access time.
class StoredFileSource final : public RandomAccessSource {
 public:
  StoredFileSource(FileHandle fd, uint64_t size, uint64_t base = 0)
      : fd_(std::move(fd)), size_(size), base_(base) {}
  uint64_t size() const override { return size_; }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > size_ || size_ - offset < out.size())
      return make_error(Errc::kInvalidArgument, "read past the end of a stored upload");
    size_t got = 0;
    while (got < out.size()) {
      const ssize_t n = ::pread(fd_.get(), out.data() + got, out.size() - got,
                                static_cast<off_t>(base_ + offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error("cannot read stored upload", errno);
      if (n == 0) return make_error(Errc::kIoError, "stored upload shorter than recorded");
      got += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

 private:
  FileHandle fd_;
  uint64_t size_;
  uint64_t base_;
};

// A stored upload copied into memory (a small one, out of its pack).
class StoredBytesSource final : public RandomAccessSource {
 public:
  explicit StoredBytesSource(Bytes data) : data_(std::move(data)) {}
  uint64_t size() const override { return data_.size(); }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > data_.size() || data_.size() - offset < out.size())
      return make_error(Errc::kInvalidArgument, "read past the end of a stored upload");
    std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    return Status::Ok();
  }

 private:
  Bytes data_;
};

int open_for_reading(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  return fd;
}

UploadRecord read_upload_row(Statement& st, std::string_view mailbox, const Hash32& id) {
  UploadRecord u;
  u.mailbox = std::string(mailbox);
  u.id = id;
  u.length = static_cast<uint64_t>(st.int64(0));
  u.committed = static_cast<uint64_t>(st.int64(1));
  u.state = st.int64(2) == 1 ? UploadState::kStored : UploadState::kPartial;
  u.day = st.int64(3);
  return u;
}

// What a creation reports for an upload it has just made: nothing committed yet.
UploadLookup new_upload(std::string_view mailbox, const Hash32& id, uint64_t length, Day today) {
  UploadRecord u;
  u.mailbox = std::string(mailbox);
  u.id = id;
  u.length = length;
  u.day = today;
  return UploadLookup{u, std::nullopt};
}

}  // namespace

class EmbeddedUploadWriter final : public UploadWriter {
 public:
  // `unrecorded`: a begun creation, whose row the commit inserts.
  EmbeddedUploadWriter(EmbeddedRelayStore& store, std::string mailbox, const Hash32& id,
                       uint64_t length, uint64_t committed, FileHandle fd, Day today,
                       bool unrecorded)
      : store_(store),
        mailbox_(std::move(mailbox)),
        id_(id),
        key_(upload_key(mailbox_, id)),
        length_(length),
        committed_(committed),
        fd_(std::move(fd)),
        today_(today),
        unrecorded_(unrecorded) {
    // Hashing as the bytes arrive saves re-reading them when one writer sends the whole bundle.
    if (committed_ == 0) hasher_ = std::make_unique<Sha256>();
    // A writer cuts back only what it appended: bytes already past the committed offset may be
    // the synced data of a commit that failed yet can still be replayed (see commit()).
    struct stat st {};
    if (::fstat(fd_.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) > committed_)
      keep_ = std::min<uint64_t>(static_cast<uint64_t>(st.st_size), length_);
  }

  ~EmbeddedUploadWriter() override {
    if (!spent_ && written_ > 0) cut_back();
    if (unrecorded_) record_empty();
    store_.release_writer(key_);
  }

  Status write(ByteView data) override {
    if (spent_) return make_error(Errc::kInvalidArgument, "upload writer already used");
    if (data.size() > length_ - committed_ - written_)
      return make_error(Errc::kInvalidArgument, "data past the declared upload length");
    Status s =
        write_all_at(*store_.ops_, fd_.get(), data.data(), data.size(), committed_ + written_);
    if (!s) {
      spent_ = true;
      cut_back();
      return s;
    }
    if (hasher_) hasher_->update(data);
    written_ += data.size();
    return Status::Ok();
  }

  uint64_t written() const override { return written_; }

  Result<CommitResult> commit() override {
    if (spent_) return make_error(Errc::kInvalidArgument, "upload writer already used");
    spent_ = true;
    const uint64_t target = committed_ + written_;
    if (target == length_) {
      // Completing: the data is synced, verified and renamed, and one metadata commit records
      // both the offset and "stored". A crash before that commit leaves the old offset, and
      // recovery cuts the renamed file back to it: nothing acknowledged is lost.
      if (written_ > 0) SATCHEL_TRY(make_durable(false));
      std::optional<Hash32> precomputed;
      if (hasher_) precomputed = hasher_->finish();
      hasher_.reset();
      // Durable from here on: a failed completion leaves the data in place (see below).
      auto done = store_.finish_upload(mailbox_, id_, fd_.get(), length_, committed_, precomputed,
                                       today_, unrecorded_);
      // Recorded stored, or discarded for its hash: either way there is nothing to record.
      if (done || done.code() == Errc::kInvalidArgument) unrecorded_ = false;
      return done;
    }
    if (written_ > 0) SATCHEL_TRY(make_durable(committed_ == 0));
    // The data is durable: a metadata failure from here on must leave it in place. A commit
    // whose WAL sync failed can still take effect when the relay restarts after a crash
    // (SQLite recovery replays the frames it wrote), and must then find its bytes.
    if (unrecorded_) {
      // A body cut short: the upload is recorded partial at what arrived (perhaps nothing;
      // recovery recreates a missing empty file), and the client resumes from there.
      SATCHEL_TRY(
          store_.record_begun(mailbox_, id_, length_, target, UploadState::kPartial, today_));
      unrecorded_ = false;
      store_.trace("offset-committed");
    } else if (written_ > 0) {
      EmbeddedRelayStore::GroupedChange change;
      change.apply = [&](MetadataDb& db) -> Status {
        auto st = db.prepare(
            "UPDATE uploads SET committed = ?1, day = ?2 "
            "WHERE mailbox_id = ?3 AND id = ?4 AND state = 0 AND committed = ?5");
        if (!st) return st.error();
        st->bind(1, static_cast<int64_t>(target))
            .bind(2, today_)
            .bind(3, mailbox_)
            .bind_blob(4, id_)
            .bind(5, static_cast<int64_t>(committed_));
        SATCHEL_TRY(st->run());
        if (db.changes() != 1)
          return make_error(Errc::kIoError, "upload metadata changed under its writer");
        return Status::Ok();
      };
      SATCHEL_TRY(store_.commit_grouped(change));
      store_.trace("offset-committed");
    }
    return CommitResult{target, false};
  }

 private:
  // fsync the file (its day-rounded times included); with `sync_entry` (an upload's first
  // bytes), also its directory entry, which must be durable before any offset is recorded.
  Status make_durable(bool sync_entry) {
    if (Status s = set_times_to_day(fd_.get(), today_); !s) return fail(s.error());
    if (store_.ops_->fsync(fd_.get()) != 0) return fail(errno_error("fsync failed", errno));
    store_.trace("file-synced");
    if (sync_entry) {
      const std::string dir = store_.mailbox_dir(mailbox_);
      if (store_.ops_->fsync_directory(dir.c_str()) != 0)
        return fail(errno_error("directory sync failed", errno));
      store_.trace("directory-synced");
    }
    return Status::Ok();
  }

  // A begun creation that ends without a commit recording it is recorded as create_upload
  // would have it, partial at offset 0 (after a failed metadata commit too: a new commit means
  // the failed one can no longer be replayed), so that the client continues it as before.
  void record_empty() noexcept { store_.record_failed_creation(mailbox_, id_, length_, today_); }

  Error fail(Error e) {
    cut_back();
    return e;
  }

  void cut_back() {
    // Best effort: bytes past the committed offset are ignored, and recovery cuts them anyway.
    if (::ftruncate(fd_.get(), static_cast<off_t>(std::max(committed_, keep_))) != 0) return;
  }

  EmbeddedRelayStore& store_;
  std::string mailbox_;
  Hash32 id_;
  std::string key_;
  uint64_t length_;
  uint64_t committed_;
  FileHandle fd_;
  Day today_;
  bool unrecorded_;    // a begun creation that no row records yet
  uint64_t keep_ = 0;  // the file's size when this writer opened it, if past committed_
  uint64_t written_ = 0;
  bool spent_ = false;
  std::unique_ptr<Sha256> hasher_;
};

void EmbeddedRelayStore::release_writer(const std::string& key) {
  std::lock_guard lock(mu_);
  busy_.erase(key);
  begun_.erase(key);
}

EmbeddedRelayStore::RemovalHold::~RemovalHold() {
  if (keys_.empty()) return;
  std::lock_guard lock(store_.mu_);
  for (const std::string& key : keys_) store_.busy_.erase(key);
}

bool EmbeddedRelayStore::RemovalHold::add_locked(std::string key) {
  if (!store_.busy_.insert(key).second) return false;
  keys_.push_back(std::move(key));
  return true;
}

Result<bool> EmbeddedRelayStore::fits_quota_locked(std::string_view mailbox, uint64_t length,
                                                   uint64_t quota) {
  if (quota == 0) return true;
  auto st = db_->prepare("SELECT bytes FROM mailbox_usage WHERE mailbox_id = ?1");
  if (!st) return st.error();
  st->bind(1, mailbox);
  auto row = st->step();
  if (!row) return row.error();
  auto held = *row ? static_cast<uint64_t>(st->int64(0)) : 0;
  for (const auto& [key, begun] : begun_)
    if (begun.mailbox == mailbox) held += begun.length;
  return held <= quota && quota - held >= length;
}

Result<std::optional<CreateResult>> EmbeddedRelayStore::existing_locked(std::string_view mailbox,
                                                                        const Hash32& id,
                                                                        uint64_t length,
                                                                        uint64_t quota) {
  using Found = std::optional<CreateResult>;
  auto now = lookup_locked(mailbox, id);
  if (!now) return now.error();
  if (now->upload) return Found(CreateResult{CreateOutcome::kExisting, std::move(now.value())});
  if (now->tombstone) return Found(CreateResult{CreateOutcome::kDelivered, std::move(now.value())});
  if (auto b = begun_.find(upload_key(mailbox, id)); b != begun_.end()) {
    // Another request is writing it: a partial upload at offset 0 whose writer is taken.
    return Found(CreateResult{CreateOutcome::kExisting,
                              new_upload(mailbox, id, b->second.length, b->second.day)});
  }
  auto fits = fits_quota_locked(mailbox, length, quota);
  if (!fits) return fits.error();
  if (!*fits) return Found(CreateResult{CreateOutcome::kOverQuota, {}});
  return Found();
}

Status EmbeddedRelayStore::commit_grouped(GroupedChange& change) {
  std::unique_lock group(group_mu_);
  group_queue_.push_back(&change);
  trace("commit-queued");
  group_cv_.wait(group, [&] { return change.result.has_value() || !group_leading_; });
  if (change.result) return *change.result;
  // Lead: commit everything queued so far (this change included) in one transaction. Changes
  // queued meanwhile wait for the next leader.
  group_leading_ = true;
  std::vector<GroupedChange*> batch;
  batch.swap(group_queue_);
  group.unlock();
  std::vector<Status> results;
  try {
    results = run_group(batch);
  } catch (...) {
    // (Out of memory.) Whether the transaction committed is unknown: fail every change, as
    // for a failed commit; the data of each stays in place, as after a failed WAL sync.
    results.clear();
  }
  group.lock();
  for (size_t i = 0; i < batch.size(); i++)
    batch[i]->result = i < results.size()
                           ? std::move(results[i])
                           : Status(make_error(Errc::kIoError, "metadata group commit failed"));
  group_leading_ = false;
  group_cv_.notify_all();
  return *change.result;
}

std::vector<Status> EmbeddedRelayStore::run_group(const std::vector<GroupedChange*>& group) {
  // On the group's own connection and without mu_: requests go on reading (authenticating,
  // looking uploads up) while the group is written and its WAL synced.
  MetadataDb& db = *group_db_;
  std::vector<Status> results(group.size(), Status::Ok());
  // The bytes that changes name must be durable before the commit that names them: one sync
  // per pack for the whole group (their writes returned before they were queued).
  std::set<int64_t> packs;
  Day today = 0;
  for (const GroupedChange* c : group) {
    if (!c->pack) continue;
    packs.insert(*c->pack);
    today = std::max(today, c->today);
  }
  if (!packs.empty()) {
    const std::map<int64_t, Status> synced = packs_->sync(packs, today);
    bool all = true;
    for (size_t i = 0; i < group.size(); i++) {
      if (!group[i]->pack) continue;
      results[i] = synced.at(*group[i]->pack);
      all = all && static_cast<bool>(results[i]);
    }
    if (all) trace("pack-synced");
  }
  auto tx = Transaction::begin(db);
  if (!tx) return std::vector<Status>(group.size(), Status(tx.error()));
  for (size_t i = 0; i < group.size(); i++) {
    if (!results[i]) continue;  // its bytes are not durable: not recorded
    Status s = db.exec("SAVEPOINT change");
    if (s) s = group[i]->apply(db);
    if (s) s = db.exec("RELEASE change");
    if (s) {
      group[i]->in_commit = true;
      continue;
    }
    // Undo this change alone; if SQLite already rolled the whole transaction back (some I/O
    // errors do), or undoing fails, nothing in the group can be trusted: fail it all.
    if (!db.in_transaction() || !db.exec("ROLLBACK TO change") || !db.exec("RELEASE change"))
      return std::vector<Status>(group.size(), s);
    results[i] = s;
  }
  // Durable for all at once, or failed for all (the transaction is rolled back).
  Status committed = tx->commit();
  if (committed) trace("metadata-committed");
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < group.size(); i++) {
    if (!results[i]) continue;
    results[i] = committed;
    if (committed && group[i]->on_commit) group[i]->on_commit();
  }
  return results;
}

Status EmbeddedRelayStore::insert_pack_row(MetadataDb& db, std::string_view mailbox, ByteView id,
                                           const PackRegion& region) {
  auto st = db.prepare(
      "INSERT INTO upload_packs (mailbox_id, upload_id, pack, offset) VALUES (?1, ?2, ?3, ?4)");
  if (!st) return st.error();
  st->bind(1, mailbox)
      .bind_blob(2, id)
      .bind(3, region.pack)
      .bind(4, static_cast<int64_t>(region.offset));
  return st->run();
}

Status EmbeddedRelayStore::record_begun(std::string_view mailbox, const Hash32& id, uint64_t length,
                                        uint64_t committed, UploadState state, Day today,
                                        const PackRegion* region, bool* in_doubt) {
  GroupedChange change;
  change.apply = [&](MetadataDb& db) -> Status {
    SATCHEL_TRY(insert_begun_row(db, mailbox, id, length, committed, state, today));
    return region ? insert_pack_row(db, mailbox, id, *region) : Status::Ok();
  };
  change.on_commit = [&] { begun_.erase(upload_key(mailbox, id)); };
  if (region) {
    change.pack = region->pack;
    change.today = today;
  }
  Status s = commit_grouped(change);
  if (in_doubt) *in_doubt = !s && change.in_commit;
  return s;
}

void EmbeddedRelayStore::record_failed_creation(std::string_view mailbox, const Hash32& id,
                                                uint64_t length, Day today) noexcept {
  try {
    Status s = record_begun(mailbox, id, length, 0, UploadState::kPartial, today);
    if (!s) log("cannot record an upload whose body failed: " + s.error().message);
  } catch (...) {
    // Out of memory: nothing is recorded (recovery removes a file no row names), and the
    // client, finding no upload, creates it again.
  }
}

Status EmbeddedRelayStore::insert_begun_row(MetadataDb& db, std::string_view mailbox,
                                            const Hash32& id, uint64_t length, uint64_t committed,
                                            UploadState state, Day today) {
  auto st = db.prepare(
      "INSERT INTO uploads (mailbox_id, id, length, committed, state, day) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!st) return st.error();
  st->bind(1, mailbox)
      .bind_blob(2, id)
      .bind(3, static_cast<int64_t>(length))
      .bind(4, static_cast<int64_t>(committed))
      .bind(5, int64_t{state == UploadState::kStored ? 1 : 0})
      .bind(6, today);
  return st->run();
}

Result<UploadLookup> EmbeddedRelayStore::lookup_locked(std::string_view mailbox, const Hash32& id) {
  UploadLookup out;
  auto st = db_->prepare(
      "SELECT length, committed, state, day FROM uploads WHERE mailbox_id = ?1 AND id = ?2");
  if (!st) return st.error();
  st->bind(1, mailbox).bind_blob(2, id);
  auto row = st->step();
  if (!row) return row.error();
  if (*row) out.upload = read_upload_row(*st, mailbox, id);
  auto ts =
      db_->prepare("SELECT length, until_day FROM tombstones WHERE mailbox_id = ?1 AND id = ?2");
  if (!ts) return ts.error();
  ts->bind(1, mailbox).bind_blob(2, id);
  auto trow = ts->step();
  if (!trow) return trow.error();
  if (*trow)
    out.tombstone =
        Tombstone{std::string(mailbox), id, static_cast<uint64_t>(ts->int64(0)), ts->int64(1)};
  return out;
}

Result<bool> EmbeddedRelayStore::pack_region_locked(std::string_view mailbox, const Hash32& id,
                                                    PackRegion& region) {
  auto st = db_->prepare(
      "SELECT p.pack, p.offset, u.length FROM upload_packs p JOIN uploads u ON "
      "u.mailbox_id = p.mailbox_id AND u.id = p.upload_id "
      "WHERE p.mailbox_id = ?1 AND p.upload_id = ?2");
  if (!st) return st.error();
  st->bind(1, mailbox).bind_blob(2, id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return false;
  region = PackRegion{st->int64(0), static_cast<uint64_t>(st->int64(1)),
                      static_cast<uint64_t>(st->int64(2))};
  return true;
}

Result<std::set<int64_t>> EmbeddedRelayStore::packs_in_use_locked() {
  auto st = db_->prepare("SELECT DISTINCT pack FROM upload_packs");
  if (!st) return st.error();
  std::set<int64_t> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.insert(st->int64(0));
  }
  return out;
}

Status EmbeddedRelayStore::delete_upload_row_locked(std::string_view mailbox, const Hash32& id,
                                                    std::vector<PackRegion>* freed) {
  if (freed) {
    PackRegion region;
    auto in_pack = pack_region_locked(mailbox, id, region);
    if (!in_pack) return in_pack.error();
    if (*in_pack) freed->push_back(region);
  }
  auto st = db_->prepare("DELETE FROM uploads WHERE mailbox_id = ?1 AND id = ?2");
  if (!st) return st.error();
  st->bind(1, mailbox).bind_blob(2, id);
  return st->run();
}

void EmbeddedRelayStore::free_regions(const std::vector<PackRegion>& regions, Day today) {
  for (const PackRegion& r : regions) {
    if (Status s = packs_->release(r, today); !s) {
      log("cannot free a delivered upload's bytes in its pack (freed at the next start): " +
          s.error().message);
      continue;
    }
    trace("region-freed");
  }
}

void EmbeddedRelayStore::remove_data_file(const std::string& path, std::string_view mailbox,
                                          Day today) {
  if (::unlink(path.c_str()) != 0) {
    if (errno != ENOENT) log(errno_error("cannot remove an upload's data file", errno).message);
    return;
  }
  const std::string dir = mailbox_dir(mailbox);
  if (ops_->fsync_directory(dir.c_str()) != 0) {
    log(errno_error("cannot sync an upload directory after a removal", errno).message);
    return;
  }
  (void)set_path_times_to_day(dir, today);
  trace("data-removed");
}

Result<UploadLookup> EmbeddedRelayStore::find_upload(std::string_view mailbox, const Hash32& id) {
  std::lock_guard lock(mu_);
  return lookup_locked(mailbox, id);
}

Result<CreateResult> EmbeddedRelayStore::create_upload(std::string_view mailbox, const Hash32& id,
                                                       uint64_t length, uint64_t mailbox_quota,
                                                       Day today) {
  if (!is_mailbox_id(mailbox)) return make_error(Errc::kInvalidArgument, "bad mailbox id");
  if (length == 0) return make_error(Errc::kInvalidArgument, "an upload has at least one byte");
  std::lock_guard lock(mu_);
  auto existing = existing_locked(mailbox, id, length, mailbox_quota);
  if (!existing) return existing.error();
  if (*existing) return std::move(**existing);
  if (busy_.count(upload_key(mailbox, id)))
    return make_error(Errc::kAlreadyExists, "the upload is being written by another request");
  const std::string dir = mailbox_dir(mailbox);
  SATCHEL_TRY(make_private_directory(*ops_, dir));
  // Not synced yet: the first commit syncs the file and its directory entry before recording
  // any offset, and recovery recreates a missing empty file.
  const std::string path = partial_path(mailbox, id);
  FileHandle fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("cannot create upload file", errno);
  (void)set_times_to_day(fd.get(), today);
  auto st = db_->prepare(
      "INSERT INTO uploads (mailbox_id, id, length, committed, state, day) "
      "VALUES (?1, ?2, ?3, 0, 0, ?4)");
  if (!st) return st.error();
  st->bind(1, mailbox).bind_blob(2, id).bind(3, static_cast<int64_t>(length)).bind(4, today);
  if (Status s = st->run(); !s) {
    ::unlink(path.c_str());
    return s.error();
  }
  // Creating the file (and perhaps the mailbox's directory) stamped both directories.
  (void)set_path_times_to_day(dir, today);
  (void)set_path_times_to_day(dir_ + "/uploads", today);
  trace("created");
  return CreateResult{CreateOutcome::kCreated, new_upload(mailbox, id, length, today)};
}

Result<BegunUpload> EmbeddedRelayStore::begin_upload(std::string_view mailbox, const Hash32& id,
                                                     uint64_t length, uint64_t mailbox_quota,
                                                     Day today) {
  if (!is_mailbox_id(mailbox)) return make_error(Errc::kInvalidArgument, "bad mailbox id");
  if (length == 0) return make_error(Errc::kInvalidArgument, "an upload has at least one byte");
  const std::string key = upload_key(mailbox, id);
  {
    std::lock_guard lock(mu_);
    auto existing = existing_locked(mailbox, id, length, mailbox_quota);
    if (!existing) return existing.error();
    if (*existing) return BegunUpload{std::move(**existing), nullptr};
    // A writer still holds the key (one whose upload was just discarded), or a removal is
    // unlinking its file: a new file of that name must wait until they are done.
    if (busy_.count(key))
      return make_error(Errc::kAlreadyExists, "the upload is being written by another request");
    busy_.insert(key);
    begun_[key] = Begun{std::string(mailbox), length, today};
  }
  CreateResult created{CreateOutcome::kCreated, new_upload(mailbox, id, length, today)};
  // Reserved: no other request creates, writes or removes this upload. A small upload is held
  // in memory until it is whole (or cut short, when it moves to a file).
  if (length <= options_.inline_max_bytes) {
    trace("begun");
    return BegunUpload{std::move(created), inline_writer(mailbox, id, length, today)};
  }
  auto writer = begun_file_writer(mailbox, id, length, today);
  if (!writer) {
    release_writer(key);
    return writer.error();
  }
  trace("begun");
  // The writer owns the reservation from here: destroying it uncommitted releases both.
  return BegunUpload{std::move(created), std::move(writer.value())};
}

Result<std::unique_ptr<UploadWriter>> EmbeddedRelayStore::begun_file_writer(
    std::string_view mailbox, const Hash32& id, uint64_t length, Day today) {
  auto fd = create_partial_file(mailbox, id, today);
  if (!fd) return fd.error();
  return std::unique_ptr<UploadWriter>(std::make_unique<EmbeddedUploadWriter>(
      *this, std::string(mailbox), id, length, 0, std::move(fd.value()), today, true));
}

Result<FileHandle> EmbeddedRelayStore::create_partial_file(std::string_view mailbox,
                                                           const Hash32& id, Day today) {
  const std::string dir = mailbox_dir(mailbox);
  {
    // Under the lock: a second upload must not go on before the first one's new mailbox
    // directory is synced.
    std::lock_guard lock(mu_);
    SATCHEL_TRY(make_private_directory(*ops_, dir));
  }
  // The file is created outside the lock (allocating an inode is the slowest step of a small
  // upload, and other requests need the lock meanwhile). Not truncated: a leftover file may
  // hold synced bytes that a failed (yet replayable) commit names, and a writer never cuts
  // below them; it overwrites them from offset 0.
  FileHandle fd(::open(partial_path(mailbox, id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("cannot create upload file", errno);
  (void)set_times_to_day(fd.get(), today);
  (void)set_path_times_to_day(dir, today);
  (void)set_path_times_to_day(dir_ + "/uploads", today);
  return fd;
}

Result<std::unique_ptr<UploadWriter>> EmbeddedRelayStore::open_writer(std::string_view mailbox,
                                                                      const Hash32& id,
                                                                      uint64_t offset, Day today) {
  const std::string key = upload_key(mailbox, id);
  UploadRecord u;
  {
    std::lock_guard lock(mu_);
    auto now = lookup_locked(mailbox, id);
    if (!now) return now.error();
    if (!now->upload && begun_.count(key))
      return make_error(Errc::kAlreadyExists, "the upload is being written by another request");
    if (!now->upload || now->upload->state != UploadState::kPartial)
      return make_error(Errc::kNotFound, "no partial upload with this id");
    u = *now->upload;
    if (u.committed != offset)
      return make_error(Errc::kInvalidArgument, "offset differs from the committed offset");
    if (!busy_.insert(key).second)
      return make_error(Errc::kAlreadyExists, "the upload is being written by another request");
  }
  const std::string path = partial_path(mailbox, id);
  FileHandle fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) {
    // A completion that failed after its rename leaves the data under the final name: move it
    // back (a fresh rename, synced again by the next completion).
    const std::string stored = stored_path(mailbox, id);
    if (u.committed == 0) {
      // Recorded with nothing committed, perhaps without a file (a small creation that failed).
      auto created = create_partial_file(mailbox, id, today);
      if (!created) {
        release_writer(key);
        return created.error();
      }
      fd = std::move(created.value());
    } else if (ops_->rename(stored.c_str(), path.c_str()) == 0) {
      fd = FileHandle(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    }
  }
  if (!fd.valid()) {
    Error e = errno_error("cannot open upload file", errno);
    release_writer(key);
    return e;
  }
  return std::unique_ptr<UploadWriter>(std::make_unique<EmbeddedUploadWriter>(
      *this, std::string(mailbox), id, u.length, u.committed, std::move(fd), today, false));
}

Result<CommitResult> EmbeddedRelayStore::finish_upload(std::string_view mailbox, const Hash32& id,
                                                       int fd, uint64_t length, uint64_t committed,
                                                       const std::optional<Hash32>& precomputed,
                                                       Day today, bool unrecorded) {
  Hash32 actual{};
  if (precomputed) {
    actual = *precomputed;
  } else {
    auto h = hash_file_prefix(fd, length);
    if (!h) return h.error();
    actual = *h;
    // Reading the file after its times were set stamped its access time with the moment of
    // completion (relatime updates an atime not newer than mtime): set it back to the day.
    (void)set_times_to_day(fd, today);
  }
  const std::string part = partial_path(mailbox, id);
  if (!equal_in_constant_time(actual, id)) {
    if (!unrecorded) {
      std::lock_guard lock(mu_);
      SATCHEL_TRY(delete_upload_row_locked(mailbox, id));
    }
    remove_data_file(part, mailbox, today);
    trace("discarded");
    return make_error(Errc::kInvalidArgument, "upload hash mismatch: the upload was discarded");
  }
  const std::string dir = mailbox_dir(mailbox);
  const std::string stored = stored_path(mailbox, id);
  if (ops_->rename(part.c_str(), stored.c_str()) != 0)
    return errno_error("cannot rename a complete upload", errno);
  trace("renamed");
  if (ops_->fsync_directory(dir.c_str()) != 0) return errno_error("directory sync failed", errno);
  trace("directory-synced");
  (void)set_path_times_to_day(dir, today);
  if (unrecorded) {
    SATCHEL_TRY(record_begun(mailbox, id, length, length, UploadState::kStored, today));
    trace("stored");
    return CommitResult{length, true};
  }
  GroupedChange change;
  change.apply = [&](MetadataDb& db) -> Status {
    auto st = db.prepare(
        "UPDATE uploads SET state = 1, committed = length, day = ?1 "
        "WHERE mailbox_id = ?2 AND id = ?3 AND state = 0 AND committed = ?4");
    if (!st) return st.error();
    st->bind(1, today).bind(2, mailbox).bind_blob(3, id).bind(4, static_cast<int64_t>(committed));
    SATCHEL_TRY(st->run());
    if (db.changes() != 1)
      return make_error(Errc::kIoError, "upload metadata changed while it was being stored");
    return Status::Ok();
  };
  SATCHEL_TRY(commit_grouped(change));
  trace("stored");
  return CommitResult{length, true};
}

Result<std::vector<UploadRecord>> EmbeddedRelayStore::partial_uploads() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT length, committed, state, day, mailbox_id, id FROM uploads WHERE state = 0 "
      "ORDER BY mailbox_id, id");
  if (!st) return st.error();
  std::vector<UploadRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    Hash32 id{};
    if (!copy_key(st->blob(5), id)) continue;
    out.push_back(read_upload_row(*st, st->text(4), id));
  }
  return out;
}

Status EmbeddedRelayStore::terminate_upload(std::string_view mailbox, const Hash32& id, Day today) {
  RemovalHold hold(*this);  // destroyed after the lock below is released
  {
    std::lock_guard lock(mu_);
    auto now = lookup_locked(mailbox, id);
    if (!now) return now.error();
    if (!now->upload && begun_.count(upload_key(mailbox, id)))
      return make_error(Errc::kAlreadyExists, "the upload is being written by another request");
    if (!now->upload) return make_error(Errc::kNotFound, "no upload with this id");
    if (now->upload->state == UploadState::kStored)
      return make_error(Errc::kInvalidArgument, "a stored upload leaves only by acknowledgement");
    if (!hold.add_locked(upload_key(mailbox, id)))
      return make_error(Errc::kAlreadyExists, "the upload is being written by another request");
    SATCHEL_TRY(delete_upload_row_locked(mailbox, id));
  }
  trace("removing");
  remove_data_file(partial_path(mailbox, id), mailbox, today);
  return Status::Ok();
}

Result<std::vector<ListedUpload>> EmbeddedRelayStore::list_stored(
    std::string_view mailbox, const std::optional<Hash32>& after, size_t limit,
    const Key32& coordinator, bool pending_only) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT id, length, day FROM uploads u WHERE mailbox_id = ?1 AND state = 1 AND id > ?2 "
      "AND (?3 = 0 OR (NOT EXISTS (SELECT 1 FROM acknowledgements a WHERE a.mailbox_id = "
      "u.mailbox_id AND a.upload_id = u.id AND a.coordinator_key = ?4) AND NOT EXISTS (SELECT 1 "
      "FROM declines d WHERE d.mailbox_id = u.mailbox_id AND d.upload_id = u.id AND "
      "d.coordinator_key = ?4))) ORDER BY id LIMIT ?5");
  if (!st) return st.error();
  st->bind(1, mailbox)
      .bind_blob(2, after ? ByteView(*after) : ByteView())
      .bind(3, int64_t{pending_only ? 1 : 0})
      .bind_blob(4, coordinator)
      .bind(5, static_cast<int64_t>(limit));
  std::vector<ListedUpload> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    ListedUpload l;
    if (!copy_key(st->blob(0), l.id))
      return make_error(Errc::kIoError, "metadata damaged: upload id");
    l.length = static_cast<uint64_t>(st->int64(1));
    l.arrival = st->int64(2);
    out.push_back(l);
  }
  auto keys_of = [&](const char* sql, std::vector<Key32> ListedUpload::*field) -> Status {
    auto q = db_->prepare(sql);
    if (!q) return q.error();
    for (ListedUpload& l : out) {
      q->bind(1, mailbox).bind_blob(2, l.id);
      for (;;) {
        auto row = q->step();
        if (!row) return row.error();
        if (!*row) break;
        Key32 k{};
        if (copy_key(q->blob(0), k)) (l.*field).push_back(k);
      }
      q->reset();
    }
    return Status::Ok();
  };
  SATCHEL_TRY(keys_of(
      "SELECT coordinator_key FROM acknowledgements WHERE mailbox_id = ?1 AND upload_id = ?2",
      &ListedUpload::acknowledged_by));
  SATCHEL_TRY(
      keys_of("SELECT coordinator_key FROM declines WHERE mailbox_id = ?1 AND upload_id = ?2",
              &ListedUpload::declined_by));
  return out;
}

Result<std::unique_ptr<RandomAccessSource>> EmbeddedRelayStore::open_stored(
    std::string_view mailbox, const Hash32& id) {
  uint64_t length = 0;
  {
    std::lock_guard lock(mu_);
    auto now = lookup_locked(mailbox, id);
    if (!now) return now.error();
    if (!now->upload || now->upload->state != UploadState::kStored)
      return make_error(Errc::kNotFound, "no stored upload with this id");
    length = now->upload->length;
    PackRegion region;
    auto in_pack = pack_region_locked(mailbox, id, region);
    if (!in_pack) return in_pack.error();
    if (*in_pack) {
      // Copied out whole (at most inline_max_bytes) under the lock, so that a delivery
      // committing meanwhile cannot free the region under a download; and checked, since the
      // copy costs little and a pack is shared.
      auto pack = packs_->open_for_reading(region.pack);
      if (!pack) return pack.error();
      Bytes bytes(static_cast<size_t>(region.length));
      StoredFileSource source(std::move(pack.value()), region.length, region.offset);
      SATCHEL_TRY(source.read_at(0, bytes));
      if (!equal_in_constant_time(Sha256::digest(bytes), id))
        return make_error(Errc::kIoError, "a stored upload's bytes in its pack are damaged");
      return std::unique_ptr<RandomAccessSource>(
          std::make_unique<StoredBytesSource>(std::move(bytes)));
    }
  }
  FileHandle fd(open_for_reading(stored_path(mailbox, id)));
  if (!fd.valid()) return errno_error("cannot open a stored upload", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat a stored upload", errno);
  if (static_cast<uint64_t>(st.st_size) < length)
    return make_error(Errc::kIoError, "a stored upload is shorter than recorded");
  return std::unique_ptr<RandomAccessSource>(
      std::make_unique<StoredFileSource>(std::move(fd), length));
}

Result<bool> EmbeddedRelayStore::deliver_if_acknowledged_locked(
    std::string_view mailbox, const Hash32& id, const std::vector<Key32>& coordinators,
    size_t required, Day tombstone_until, AckResult* result, std::vector<PackRegion>& freed) {
  // Counts the registered keys among those that acknowledged (or declined) the upload.
  auto count = [&](const char* sql) -> Result<size_t> {
    auto st = db_->prepare(sql);
    if (!st) return st.error();
    st->bind(1, mailbox).bind_blob(2, id);
    size_t n = 0;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      Key32 k{};
      if (copy_key(st->blob(0), k) &&
          std::find(coordinators.begin(), coordinators.end(), k) != coordinators.end())
        n++;
    }
    return n;
  };
  auto held = count(
      "SELECT coordinator_key FROM acknowledgements WHERE mailbox_id = ?1 AND upload_id = ?2");
  if (!held) return held.error();
  auto declined =
      count("SELECT coordinator_key FROM declines WHERE mailbox_id = ?1 AND upload_id = ?2");
  if (!declined) return declined.error();
  const size_t needed = acknowledgements_required(required, coordinators.size(), *declined);
  if (result) {
    result->acknowledgements = *held;
    result->required = needed;
  }
  if (coordinators.empty() || *declined >= coordinators.size() || *held < needed) return false;
  auto len = db_->prepare("SELECT length FROM uploads WHERE mailbox_id = ?1 AND id = ?2");
  if (!len) return len.error();
  len->bind(1, mailbox).bind_blob(2, id);
  auto row = len->step();
  if (!row) return row.error();
  if (!*row) return false;
  const int64_t length = len->int64(0);
  SATCHEL_TRY(delete_upload_row_locked(mailbox, id, &freed));
  auto ts = db_->prepare(
      "INSERT OR REPLACE INTO tombstones (mailbox_id, id, length, until_day) VALUES (?1, ?2, ?3, "
      "?4)");
  if (!ts) return ts.error();
  ts->bind(1, mailbox).bind_blob(2, id).bind(3, length).bind(4, tombstone_until);
  SATCHEL_TRY(ts->run());
  return true;
}

size_t acknowledgements_required(size_t required, size_t registered, size_t declined) {
  const size_t all = required == 0 || required > registered ? registered : required;
  const size_t possible = declined >= registered ? 0 : registered - declined;
  return std::max<size_t>(1, std::min(all, possible));
}

Result<AckResult> RelayStore::acknowledge(std::string_view mailbox, const Hash32& id,
                                          const Key32& coordinator,
                                          const std::vector<Key32>& coordinators, size_t required,
                                          Day today, Day tombstone_until) {
  const AckItem item{id, AckKind::kHeld};
  auto r = acknowledge_batch(mailbox, std::span<const AckItem>(&item, 1), coordinator, coordinators,
                             required, today, tombstone_until);
  if (!r) return r.error();
  if (r->at(0).state == AckState::kUnknown)
    return make_error(Errc::kNotFound, "no stored upload with this id");
  return r->at(0);
}

Result<std::vector<AckResult>> EmbeddedRelayStore::acknowledge_batch(
    std::string_view mailbox, std::span<const AckItem> items, const Key32& coordinator,
    const std::vector<Key32>& coordinators, size_t required, Day today, Day tombstone_until) {
  std::vector<AckResult> results(items.size());
  std::vector<Hash32> delivered;  // whose data file goes after the commit
  std::vector<PackRegion> freed;
  {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(*db_);
    if (!tx) return tx.error();
    for (size_t i = 0; i < items.size(); i++) {
      const Hash32& id = items[i].id;
      AckResult& result = results[i];
      auto now = lookup_locked(mailbox, id);
      if (!now) return now.error();
      if (now->tombstone && !now->upload) {
        result.state = AckState::kDelivered;
        result.required = acknowledgements_required(required, coordinators.size(), 0);
        result.acknowledgements = result.required;
        continue;
      }
      if (!now->upload || now->upload->state != UploadState::kStored) {
        result.state = AckState::kUnknown;
        continue;
      }
      if (items[i].kind == AckKind::kHeld) {
        auto undecline = db_->prepare(
            "DELETE FROM declines WHERE mailbox_id = ?1 AND upload_id = ?2 AND "
            "coordinator_key = ?3");
        if (!undecline) return undecline.error();
        undecline->bind(1, mailbox).bind_blob(2, id).bind_blob(3, coordinator);
        SATCHEL_TRY(undecline->run());
        auto ins = db_->prepare(
            "INSERT OR IGNORE INTO acknowledgements (mailbox_id, upload_id, coordinator_key) "
            "VALUES (?1, ?2, ?3)");
        if (!ins) return ins.error();
        ins->bind(1, mailbox).bind_blob(2, id).bind_blob(3, coordinator);
        SATCHEL_TRY(ins->run());
      } else {
        auto ins = db_->prepare(
            "INSERT OR IGNORE INTO declines (mailbox_id, upload_id, coordinator_key) SELECT ?1, "
            "?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM acknowledgements WHERE mailbox_id = ?1 AND "
            "upload_id = ?2 AND coordinator_key = ?3)");
        if (!ins) return ins.error();
        ins->bind(1, mailbox).bind_blob(2, id).bind_blob(3, coordinator);
        SATCHEL_TRY(ins->run());
      }
      const size_t regions = freed.size();
      auto gone = deliver_if_acknowledged_locked(mailbox, id, coordinators, required,
                                                 tombstone_until, &result, freed);
      if (!gone) return gone.error();
      if (!*gone) continue;
      result.state = AckState::kDelivered;
      if (freed.size() == regions) delivered.push_back(id);
    }
    SATCHEL_TRY(tx->commit());
    if (!delivered.empty() || !freed.empty()) trace("tombstoned");
  }
  for (const Hash32& id : delivered) remove_data_file(stored_path(mailbox, id), mailbox, today);
  free_regions(freed, today);
  return results;
}

Result<size_t> EmbeddedRelayStore::deliver_acknowledged(std::string_view mailbox,
                                                        const std::vector<Key32>& coordinators,
                                                        size_t required, Day today,
                                                        Day tombstone_until) {
  std::vector<Hash32> delivered;
  std::vector<PackRegion> freed;
  std::vector<bool> in_file;
  {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(*db_);
    if (!tx) return tx.error();
    auto st = db_->prepare("SELECT DISTINCT upload_id FROM acknowledgements WHERE mailbox_id = ?1");
    if (!st) return st.error();
    st->bind(1, mailbox);
    std::vector<Hash32> candidates;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      Hash32 id{};
      if (copy_key(st->blob(0), id)) candidates.push_back(id);
    }
    st = Statement();
    for (const Hash32& id : candidates) {
      const size_t regions = freed.size();
      auto r = deliver_if_acknowledged_locked(mailbox, id, coordinators, required, tombstone_until,
                                              nullptr, freed);
      if (!r) return r.error();
      if (!*r) continue;
      delivered.push_back(id);
      in_file.push_back(freed.size() == regions);
    }
    SATCHEL_TRY(tx->commit());
  }
  for (size_t i = 0; i < delivered.size(); i++)
    if (in_file[i]) remove_data_file(stored_path(mailbox, delivered[i]), mailbox, today);
  free_regions(freed, today);
  return delivered.size();
}

Result<size_t> EmbeddedRelayStore::remove_stored_before(std::string_view mailbox, Day cutoff,
                                                        Day today) {
  std::vector<Hash32> removed;
  std::vector<PackRegion> freed;
  std::vector<bool> in_file;
  RemovalHold hold(*this);  // destroyed after the lock below is released
  {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(*db_);
    if (!tx) return tx.error();
    auto st =
        db_->prepare("SELECT id FROM uploads WHERE mailbox_id = ?1 AND state = 1 AND day < ?2");
    if (!st) return st.error();
    st->bind(1, mailbox).bind(2, cutoff);
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      Hash32 id{};
      if (copy_key(st->blob(0), id) && hold.add_locked(upload_key(mailbox, id)))
        removed.push_back(id);
    }
    st = Statement();
    for (const Hash32& id : removed) {
      const size_t regions = freed.size();
      SATCHEL_TRY(delete_upload_row_locked(mailbox, id, &freed));
      in_file.push_back(freed.size() == regions);
    }
    SATCHEL_TRY(tx->commit());
  }
  if (!removed.empty()) trace("removing");
  for (size_t i = 0; i < removed.size(); i++)
    if (in_file[i]) remove_data_file(stored_path(mailbox, removed[i]), mailbox, today);
  free_regions(freed, today);
  return removed.size();
}

Result<HousekeepingReport> EmbeddedRelayStore::expire(Day partial_cutoff, Day today, int64_t now) {
  HousekeepingReport report;
  std::vector<std::pair<std::string, Hash32>> expired;
  RemovalHold hold(*this);  // destroyed after the lock below is released
  {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(*db_);
    if (!tx) return tx.error();
    auto st = db_->prepare("SELECT mailbox_id, id FROM uploads WHERE state = 0 AND day < ?1");
    if (!st) return st.error();
    st->bind(1, partial_cutoff);
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      Hash32 id{};
      std::string mailbox = st->text(0);
      if (copy_key(st->blob(1), id) && hold.add_locked(upload_key(mailbox, id)))
        expired.emplace_back(std::move(mailbox), id);
    }
    st = Statement();
    for (const auto& [mailbox, id] : expired) SATCHEL_TRY(delete_upload_row_locked(mailbox, id));
    auto ts = db_->prepare("DELETE FROM tombstones WHERE until_day <= ?1");
    if (!ts) return ts.error();
    ts->bind(1, today);
    SATCHEL_TRY(ts->run());
    report.tombstones_purged = static_cast<size_t>(db_->changes());
    auto codes =
        db_->prepare("DELETE FROM credentials.enrollment_codes WHERE expires_hour * 3600 <= ?1");
    if (!codes) return codes.error();
    codes->bind(1, now);
    SATCHEL_TRY(codes->run());
    report.codes_purged = static_cast<size_t>(db_->changes());
    SATCHEL_TRY(tx->commit());
    // Deleted rows must not survive in old WAL frames.
    // A checkpoint running on the WalCheckpointer's thread makes this one busy: the deletions
    // stand and the files are still removed; the next hourly run truncates the WAL.
    if (Status c = db_->checkpoint_truncate(); !c)
      log("WAL not truncated after housekeeping (retried next hour): " + c.error().message);
  }
  if (!expired.empty()) trace("removing");
  for (const auto& [mailbox, id] : expired)
    remove_data_file(partial_path(mailbox, id), mailbox, today);
  report.partial_expired = expired.size();
  // Packs whose every upload was delivered.
  auto removed = packs_->remove_unused(
      [this]() -> Result<std::set<int64_t>> {
        std::lock_guard lock(mu_);
        return packs_in_use_locked();
      },
      today);
  if (!removed)
    log("cannot remove unused pack files (retried next hour): " + removed.error().message);
  return report;
}

}  // namespace satchel::relay
