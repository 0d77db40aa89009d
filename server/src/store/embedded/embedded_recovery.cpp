// Start-up recovery of the embedded store: after a crash, a power loss or a failed request,
// makes files and metadata agree again before the relay serves anything.
//   - a partial upload's file is cut back to the committed offset (the metadata is the truth);
//     a missing file is recreated when nothing was committed;
//   - a partial upload whose committed offset reaches its length is verified and stored (the
//     crash came between its last commit and "stored");
//   - a stored upload whose whole, verified data is under its .part name gets its final name
//     back (a failed "stored" commit that SQLite replayed after the crash);
//   - an upload whose bytes are in a pack needs nothing (they were synced before its row was
//     committed); bytes in packs that no row names are freed, and packs that hold nothing
//     are removed (a crash between a pack write and its commit, or between a deletion's
//     commit and the freeing of its bytes);
//   - files that no metadata row names are removed (a crash between creating a file and
//     recording it, or between a deletion's commit and its unlink).
// Data that the metadata says was committed but is missing cannot come back: such an upload is
// dropped loudly (partial) or reported (stored) — that happens only if the disk lied about fsync.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>
#include <vector>

#include "satchel/relay/embedded_relay_store.h"
#include "store/embedded/metadata_db.h"
#include "store/embedded/pack_log.h"
#include "store/embedded/store_rows.h"

namespace satchel::relay {

namespace {

struct RowState {
  UploadState state;
  uint64_t length;
  uint64_t committed;
  bool in_pack;  // a stored upload whose bytes are in a pack: it has no file
};

std::vector<std::string> directory_entries(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  return out;
}

// "<upload id>.part" (partial) or "<upload id>" (stored).
bool parse_data_file_name(const std::string& name, Hash32& id, bool& partial) {
  partial = name.size() == 69 && name.compare(64, 5, ".part") == 0;
  auto parsed = parse_hex32(std::string_view(name).substr(0, partial ? 64 : name.size()));
  if (!parsed) return false;
  id = *parsed;
  return true;
}

}  // namespace

Status EmbeddedRelayStore::lock_directory() {
  const std::string path = dir_ + "/lock";
  FileHandle fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("cannot open " + path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return make_error(Errc::kAlreadyExists, "another relay is serving the storage in " + dir_);
    return errno_error("cannot lock " + path, errno);
  }
  lock_file_ = std::move(fd);
  return Status::Ok();
}

Status EmbeddedRelayStore::migrate_upload_content(Day today) {
  std::lock_guard lock(mu_);
  auto table =
      db_->prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'upload_content'");
  if (!table) return table.error();
  auto found = table->step();
  if (!found) return found.error();
  table = Statement();
  if (!*found) return Status::Ok();
  size_t moved = 0;
  for (;;) {
    // One at a time: each is committed before the next is read.
    auto st = db_->prepare("SELECT mailbox_id, upload_id, content FROM upload_content LIMIT 1");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::string mailbox = st->text(0);
    const Bytes id_blob(st->blob(1).begin(), st->blob(1).end());
    const Bytes content(st->blob(2).begin(), st->blob(2).end());
    st = Statement();
    if (content.empty())
      return make_error(Errc::kIoError, "metadata damaged: empty upload content");
    auto region = packs_->write(content, today);
    if (!region) return region.error();
    // Synced first; then the region recorded and the blob deleted in one commit.
    auto record = [&]() -> Status {
      const Status synced = packs_->sync({region->pack}, today).at(region->pack);
      SATCHEL_TRY(synced);
      auto tx = Transaction::begin(*db_);
      if (!tx) return tx.error();
      SATCHEL_TRY(insert_pack_row(*db_, mailbox, id_blob, *region));
      auto del =
          db_->prepare("DELETE FROM upload_content WHERE mailbox_id = ?1 AND upload_id = ?2");
      if (!del) return del.error();
      del->bind(1, mailbox).bind_blob(2, id_blob);
      SATCHEL_TRY(del->run());
      return tx->commit();
    };
    const Status s = record();
    packs_->settle(*region, s ? PackLog::Outcome::kCommitted : PackLog::Outcome::kInDoubt, today);
    if (!s) return s.error();
    moved++;
  }
  SATCHEL_TRY(db_->exec("DROP TABLE upload_content"));
  log("moved " + std::to_string(moved) + " small upload(s) from relay.db into pack files");
  return Status::Ok();
}

Status EmbeddedRelayStore::recover(Day today) {
  SATCHEL_TRY(migrate_upload_content(today));
  std::map<std::pair<std::string, Hash32>, RowState> rows;
  {
    std::lock_guard lock(mu_);
    auto st = db_->prepare(
        "SELECT mailbox_id, id, state, length, committed, EXISTS (SELECT 1 FROM upload_packs p "
        "WHERE p.mailbox_id = u.mailbox_id AND p.upload_id = u.id) FROM uploads u");
    if (!st) return st.error();
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      Hash32 id{};
      if (!copy_key(st->blob(1), id))
        return make_error(Errc::kIoError, "metadata damaged: upload id");
      rows[{st->text(0), id}] =
          RowState{st->int64(2) == 1 ? UploadState::kStored : UploadState::kPartial,
                   static_cast<uint64_t>(st->int64(3)), static_cast<uint64_t>(st->int64(4)),
                   st->int64(5) != 0};
    }
  }

  size_t dropped = 0, completed = 0, cut = 0;
  for (auto it = rows.begin(); it != rows.end();) {
    const auto& [mailbox, id] = it->first;
    RowState& row = it->second;
    const std::string part = partial_path(mailbox, id);
    const std::string stored = stored_path(mailbox, id);
    struct stat st {};
    if (row.in_pack) {
      ++it;  // synced before its row was committed: recover_packs checks the pack
      continue;
    }
    if (row.state == UploadState::kStored) {
      if (::stat(stored.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != row.length) {
        // A "stored" commit that failed (its WAL sync) can still be replayed by SQLite after a
        // crash, when a retry had already moved the verified data back to its .part name: a
        // whole .part file is this upload's data.
        FileHandle fd(::open(part.c_str(), O_RDWR | O_CLOEXEC));
        bool whole = fd.valid() && ::fstat(fd.get(), &st) == 0 &&
                     static_cast<uint64_t>(st.st_size) == row.length;
        if (whole) {
          auto h = hash_file_prefix(fd.get(), row.length);
          whole = h && equal_in_constant_time(*h, id);
        }
        if (whole) {
          if (ops_->fsync(fd.get()) != 0 || ops_->rename(part.c_str(), stored.c_str()) != 0 ||
              ops_->fsync_directory(mailbox_dir(mailbox).c_str()) != 0)
            return errno_error("recovery cannot restore a stored upload's data file", errno);
          completed++;
        } else {
          log("a stored upload's data is missing or has the wrong size (the disk lost "
              "synced data); it stays listed so the operator notices");
        }
      }
      ++it;
      continue;
    }
    // A partial upload: its file must hold at least the committed bytes.
    if (::stat(part.c_str(), &st) != 0 && ::stat(stored.c_str(), &st) == 0) {
      if (ops_->rename(stored.c_str(), part.c_str()) != 0)
        return errno_error("recovery cannot rename an unfinished upload back", errno);
    }
    FileHandle fd(::open(part.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid() && errno == ENOENT && row.committed == 0) {
      auto created = create_partial_file(mailbox, id, today);
      if (created) fd = std::move(created.value());
    }
    if (fd.valid() && ::fstat(fd.get(), &st) != 0)
      return errno_error("recovery cannot stat", errno);
    if (!fd.valid() || static_cast<uint64_t>(st.st_size) < row.committed) {
      log("a partial upload lost committed bytes (the disk lost synced data); it is dropped and "
          "its sender will upload it again");
      {
        std::lock_guard lock(mu_);
        SATCHEL_TRY(delete_upload_row_locked(mailbox, id));
      }
      ::unlink(part.c_str());
      dropped++;
      it = rows.erase(it);
      continue;
    }
    if (static_cast<uint64_t>(st.st_size) > row.committed) {
      if (::ftruncate(fd.get(), static_cast<off_t>(row.committed)) != 0 ||
          ops_->fsync(fd.get()) != 0)
        return errno_error("recovery cannot cut an upload back to its committed offset", errno);
      cut++;
    }
    if (row.committed == row.length) {
      auto done =
          finish_upload(mailbox, id, fd.get(), row.length, row.committed, std::nullopt, today);
      if (!done && done.code() != Errc::kInvalidArgument) return done.error();
      if (done) {
        row.state = UploadState::kStored;
        completed++;
      } else {
        dropped++;
        it = rows.erase(it);
        continue;
      }
    }
    ++it;
  }

  // Orphans: files (and mailbox directories' contents) that no row names.
  size_t orphans = 0;
  const std::string uploads = dir_ + "/uploads";
  for (const std::string& mailbox : directory_entries(uploads)) {
    if (!is_mailbox_id(mailbox)) continue;
    const std::string mdir = uploads + "/" + mailbox;
    bool changed = false;
    for (const std::string& name : directory_entries(mdir)) {
      Hash32 id{};
      bool partial = false;
      if (!parse_data_file_name(name, id, partial)) continue;
      auto row = rows.find({mailbox, id});
      const bool wanted = row != rows.end() && !row->second.in_pack &&
                          (row->second.state == UploadState::kPartial) == partial;
      if (wanted) continue;
      if (::unlink((mdir + "/" + name).c_str()) == 0) {
        orphans++;
        changed = true;
      }
    }
    if (changed && ops_->fsync_directory(mdir.c_str()) != 0)
      return errno_error("recovery cannot sync " + mdir, errno);
  }
  SATCHEL_TRY(recover_packs(today));
  if (dropped + completed + cut + orphans > 0)
    log("recovery: " + std::to_string(cut) +
        " partial upload(s) cut back to their committed "
        "offset, " +
        std::to_string(completed) + " completed, " + std::to_string(dropped) + " dropped, " +
        std::to_string(orphans) + " orphan file(s) removed");
  trace("recovered");
  return Status::Ok();
}

Status EmbeddedRelayStore::recover_packs(Day today) {
  std::map<int64_t, std::map<uint64_t, uint64_t>> live;  // pack → offset → length
  {
    std::lock_guard lock(mu_);
    auto st = db_->prepare(
        "SELECT p.pack, p.offset, u.length FROM upload_packs p JOIN uploads u ON "
        "u.mailbox_id = p.mailbox_id AND u.id = p.upload_id");
    if (!st) return st.error();
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      live[st->int64(0)][static_cast<uint64_t>(st->int64(1))] = static_cast<uint64_t>(st->int64(2));
    }
  }
  const std::set<int64_t> on_disk = packs_->packs_on_disk();
  std::set<int64_t> short_packs;
  size_t removed = 0;
  for (int64_t pack : on_disk) {
    auto it = live.find(pack);
    if (it == live.end()) {
      if (::unlink(packs_->path(pack).c_str()) != 0 && errno != ENOENT)
        return errno_error("recovery cannot remove an unused pack file", errno);
      removed++;
      continue;
    }
    auto whole = packs_->keep_only(pack, it->second, today);
    if (!whole) return whole.error();
    if (!*whole) short_packs.insert(pack);
  }
  if (removed > 0 && ops_->fsync_directory((dir_ + "/packs").c_str()) != 0)
    return errno_error("recovery cannot sync the pack directory", errno);
  if (removed > 0) (void)set_path_times_to_day(dir_ + "/packs", today);
  for (const auto& [pack, regions] : live)
    if (!on_disk.count(pack) || short_packs.count(pack))
      log("a pack of stored uploads is missing or shorter than recorded (the disk lost synced "
          "data); its uploads stay listed so the operator notices, and a download of one "
          "fails");
  return Status::Ok();
}

}  // namespace satchel::relay
