// The writer of a small begun creation (EmbeddedStoreOptions::inline_max_bytes): the body is
// held in memory and hashed as it arrives; once whole and verified, it is written into a region
// of a pack file (PackLog); the group commit it joins syncs the pack once for the whole group,
// then inserts the upload already "stored" with that region (schema/relay-api.md,
// "Durability"). No file of its own; a crash before the commit leaves bytes that no row names,
// which recovery frees (the relay had answered nothing). A body cut short moves to a .part file and
// continues as any partial upload.
#include "satchel/crypto/sha256.h"
#include "satchel/relay/embedded_relay_store.h"
#include "store/embedded/pack_log.h"
#include "store/embedded/store_rows.h"

namespace satchel::relay {

class InlineUploadWriter final : public UploadWriter {
 public:
  // Takes over the reservation (busy_ and begun_) that begin_upload made for this upload.
  InlineUploadWriter(EmbeddedRelayStore& store, std::string mailbox, const Hash32& id,
                     uint64_t length, Day today)
      : store_(store),
        mailbox_(std::move(mailbox)),
        id_(id),
        key_(upload_key(mailbox_, id)),
        length_(length),
        today_(today) {
    data_.reserve(static_cast<size_t>(length_));
  }

  ~InlineUploadWriter() override {
    if (!reserved_) return;  // handed to a file writer
    // Ended without a commit recording it: recorded partial at 0, as a separate creation would
    // have been, so that the client continues it (with a file, created when bytes arrive).
    if (unrecorded_) store_.record_failed_creation(mailbox_, id_, length_, today_);
    store_.release_writer(key_);
  }

  Status write(ByteView data) override {
    if (spent_) return make_error(Errc::kInvalidArgument, "upload writer already used");
    if (data.size() > length_ - data_.size())
      return make_error(Errc::kInvalidArgument, "data past the declared upload length");
    data_.insert(data_.end(), data.begin(), data.end());
    hasher_.update(data);
    return Status::Ok();
  }

  uint64_t written() const override { return data_.size(); }

  Result<CommitResult> commit() override {
    if (spent_) return make_error(Errc::kInvalidArgument, "upload writer already used");
    spent_ = true;
    if (data_.size() < length_) return continue_in_file();
    if (!equal_in_constant_time(hasher_.finish(), id_)) {
      unrecorded_ = false;  // discarded: nothing was kept and nothing is recorded
      store_.trace("discarded");
      return make_error(Errc::kInvalidArgument, "upload hash mismatch: the upload was discarded");
    }
    // Written into a pack, then synced (with the others of its group) and recorded in one group
    // commit. A failed commit leaves the upload unrecorded (the destructor records it partial
    // at 0) but its bytes in place: SQLite may replay the commit after a crash, and the row it
    // inserts then names them.
    auto region = store_.packs_->write(ByteView(data_), today_);
    if (!region) return region.error();
    // Settled however the commit ends (an exception included: then kept as if in doubt).
    struct Settle {
      PackLog& packs;
      const PackRegion& region;
      Day today;
      PackLog::Outcome outcome = PackLog::Outcome::kInDoubt;
      ~Settle() { packs.settle(region, outcome, today); }
    } settle{*store_.packs_, *region, today_};
    bool in_doubt = false;
    Status recorded = store_.record_begun(mailbox_, id_, length_, length_, UploadState::kStored,
                                          today_, &region.value(), &in_doubt);
    settle.outcome = recorded   ? PackLog::Outcome::kCommitted
                     : in_doubt ? PackLog::Outcome::kInDoubt
                                : PackLog::Outcome::kNotCommitted;
    SATCHEL_TRY(recorded);
    unrecorded_ = false;
    store_.trace("stored");
    return CommitResult{length_, true};
  }

 private:
  // A body cut short: what arrived goes to a .part file through the file writer, which takes
  // the reservation over and records the upload partial at that offset.
  Result<CommitResult> continue_in_file() {
    auto file = store_.begun_file_writer(mailbox_, id_, length_, today_);
    if (!file) return file.error();
    reserved_ = false;
    std::unique_ptr<UploadWriter> writer = std::move(file.value());
    if (!data_.empty()) SATCHEL_TRY(writer->write(ByteView(data_)));
    return writer->commit();
  }

  EmbeddedRelayStore& store_;
  std::string mailbox_;
  Hash32 id_;
  std::string key_;
  uint64_t length_;
  Day today_;
  Bytes data_;
  Sha256 hasher_;
  bool spent_ = false;
  bool reserved_ = true;    // this writer still holds the reservation
  bool unrecorded_ = true;  // no commit has recorded the upload yet
};

std::unique_ptr<UploadWriter> EmbeddedRelayStore::inline_writer(std::string_view mailbox,
                                                                const Hash32& id, uint64_t length,
                                                                Day today) {
  return std::make_unique<InlineUploadWriter>(*this, std::string(mailbox), id, length, today);
}

}  // namespace satchel::relay
