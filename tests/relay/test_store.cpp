// The embedded store: durability order, committed offset versus file size, crash recovery,
// idempotent creation, acknowledgements (all and k of n), tombstones, expiry and credentials.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "store/embedded/metadata_db.h"
#include "store_fixture.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

constexpr Day kToday = 20'400;

std::unique_ptr<EmbeddedRelayStore> open_store(const std::string& dir, Day today = kToday,
                                               EmbeddedStoreOptions options = {}) {
  if (!options.log) options.log = [](std::string_view) {};
  auto s = EmbeddedRelayStore::open(dir, today, std::move(options));
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(s.value());
}

UploadRecord upload_of(RelayStore& store, const std::string& mailbox, const Hash32& id) {
  auto l = store.find_upload(mailbox, id);
  REQUIRE(l);
  REQUIRE(l->upload);
  return *l->upload;
}

// Appends `data` at `offset` in one writer and commits.
Result<CommitResult> append(RelayStore& store, const std::string& mailbox, const Hash32& id,
                            uint64_t offset, ByteView data, Day today = kToday) {
  auto w = store.open_writer(mailbox, id, offset, today);
  if (!w) return w.error();
  SATCHEL_TRY((*w)->write(data));
  return (*w)->commit();
}

// Runs `body` in a child process that dies (like a crash: no destructors, no cleanup) when the
// store reports `crash_at` for the `occurrence`-th time; returns once the child is gone.
template <class Body>
void crash_child_at(const std::string& dir, std::string_view crash_at, Body body,
                    int occurrence = 1, EmbeddedStoreOptions o = {}) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    o.log = [](std::string_view) {};
    int seen = 0;
    o.trace = [crash_at, occurrence, &seen](std::string_view step) {
      if (step == crash_at && ++seen == occurrence) ::_exit(0);
    };
    auto s = EmbeddedRelayStore::open(dir, kToday, std::move(o));
    if (!s) ::_exit(2);
    body(**s);
    ::_exit(3);  // the crash point was never reached
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

struct StoreWithMailbox {
  TempDir dir{"store"};
  TestOrganisation org{3};
  std::string mailbox = org.mailbox_id();
  std::unique_ptr<EmbeddedRelayStore> store;

  explicit StoreWithMailbox(EmbeddedStoreOptions options = {}) {
    store = open_store(dir.path, kToday, std::move(options));
    REQUIRE(store->put_mailbox(org.record(), org.keys()));
  }
  void reopen(EmbeddedStoreOptions options = {}) {
    store.reset();
    store = open_store(dir.path, kToday, std::move(options));
  }
};

// Upload `id` has no data file, partial or stored.
void check_no_data_file(StoreWithMailbox& f, const Hash32& id) {
  CHECK_FALSE(file_exists(f.store->partial_path(f.mailbox, id)));
  CHECK_FALSE(file_exists(f.store->stored_path(f.mailbox, id)));
}

// No row and no file remain of upload `id`.
void check_nothing_left(StoreWithMailbox& f, const Hash32& id) {
  auto l = f.store->find_upload(f.mailbox, id);
  REQUIRE(l);
  CHECK_FALSE(l->upload);
  check_no_data_file(f, id);
}

// A store directory with one organisation's mailbox, closed again: crash tests open it in a
// child that dies, then reopen it (recovery) in the test.
struct CrashDir {
  TempDir dir;
  TestOrganisation org{1};
  std::string mailbox = org.mailbox_id();

  explicit CrashDir(const std::string& tag) : dir(tag) {
    auto s = open_store(dir.path);
    REQUIRE(s->put_mailbox(org.record(), org.keys()));
  }
};

}  // namespace

TEST_CASE("an upload is stored only after write, fsync, rename and directory sync, in that order") {
  RecordingFileOps ops;
  EmbeddedStoreOptions o;
  o.file_ops = &ops;
  o.trace = [&ops](std::string_view step) { ops.record(step); };
  StoreWithMailbox f(o);
  const Bytes data = test_bytes(200'000, 1);
  const Hash32 id = sha256_of(data);
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));

  // A first part: the data and the new file's directory entry are synced before the offset.
  ops.log.clear();
  auto part = append(*f.store, f.mailbox, id, 0, ByteView(data).first(50'000));
  REQUIRE(part);
  CHECK_FALSE(part->stored);
  CHECK(ops.log == std::vector<std::string>{"pwrite", "fsync", "file-synced", "fsync-dir",
                                            "directory-synced", "commit-queued",
                                            "metadata-committed", "offset-committed"});

  // The last part: data synced, renamed, directory synced, then one commit says "stored".
  ops.log.clear();
  auto rest = append(*f.store, f.mailbox, id, 50'000, ByteView(data).subspan(50'000));
  REQUIRE(rest);
  CHECK(rest->stored);
  CHECK(rest->committed == data.size());
  const size_t write = ops.find("pwrite");
  const size_t sync = ops.find("fsync");
  const size_t rename = ops.find("rename");
  const size_t dir_sync = ops.find("fsync-dir");
  const size_t stored = ops.find("stored");
  REQUIRE(stored != std::string::npos);
  CHECK(write < sync);
  CHECK(sync < rename);
  CHECK(rename < dir_sync);
  CHECK(dir_sync < stored);
  CHECK(ops.find("offset-committed") == std::string::npos);
  const UploadRecord u = upload_of(*f.store, f.mailbox, id);
  CHECK(u.state == UploadState::kStored);
  CHECK(u.committed == data.size());
  CHECK(file_size(f.store->stored_path(f.mailbox, id)) == data.size());
  CHECK_FALSE(file_exists(f.store->partial_path(f.mailbox, id)));
}

TEST_CASE("the committed offset comes from the metadata, never from the file size") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(10'000, 2);
  const Hash32 id = sha256_of(data);
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  REQUIRE(append(*f.store, f.mailbox, id, 0, ByteView(data).first(4000)));
  CHECK(upload_of(*f.store, f.mailbox, id).committed == 4000);

  // Bytes past the committed offset (a crash after write, before commit) do not count.
  {
    std::ofstream junk(f.store->partial_path(f.mailbox, id), std::ios::app | std::ios::binary);
    junk << std::string(3000, 'x');
  }
  CHECK(file_size(f.store->partial_path(f.mailbox, id)) == 7000);
  CHECK(upload_of(*f.store, f.mailbox, id).committed == 4000);
  // A writer at the file size is refused; at the committed offset it is accepted.
  CHECK(f.store->open_writer(f.mailbox, id, 7000, kToday).code() == Errc::kInvalidArgument);
  REQUIRE(append(*f.store, f.mailbox, id, 4000, ByteView(data).subspan(4000, 2000)));
  CHECK(upload_of(*f.store, f.mailbox, id).committed == 6000);
}

TEST_CASE("a writer dropped without commit leaves the committed offset and cuts the file back") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(10'000, 3);
  const Hash32 id = sha256_of(data);
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  {
    auto w = f.store->open_writer(f.mailbox, id, 0, kToday);
    REQUIRE(w);
    REQUIRE((*w)->write(ByteView(data).first(5000)));
    // A second writer for the same upload is refused while this one lives.
    CHECK(f.store->open_writer(f.mailbox, id, 0, kToday).code() == Errc::kAlreadyExists);
  }
  CHECK(upload_of(*f.store, f.mailbox, id).committed == 0);
  CHECK(file_size(f.store->partial_path(f.mailbox, id)) == 0);
  CHECK(f.store->open_writer(f.mailbox, id, 0, kToday));
}

TEST_CASE("an fsync error fails the commit, keeps the old offset and is never taken as success") {
  RecordingFileOps ops;
  EmbeddedStoreOptions o;
  o.file_ops = &ops;
  StoreWithMailbox f(o);
  const Bytes data = test_bytes(10'000, 4);
  const Hash32 id = sha256_of(data);
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  REQUIRE(append(*f.store, f.mailbox, id, 0, ByteView(data).first(3000)));
  ops.fail_fsync_at = ops.fsyncs.load();  // the next fsync fails
  auto r = append(*f.store, f.mailbox, id, 3000, ByteView(data).subspan(3000, 3000));
  REQUIRE_FALSE(r);
  CHECK(r.code() == Errc::kIoError);
  CHECK_FALSE(is_disk_full(r.error()));
  CHECK(upload_of(*f.store, f.mailbox, id).committed == 3000);
  CHECK(file_size(f.store->partial_path(f.mailbox, id)) == 3000);
  // The retry writes the bytes again and syncs them again: a new fsync, not the failed one.
  const int before = ops.fsyncs;
  auto again = append(*f.store, f.mailbox, id, 3000, ByteView(data).subspan(3000));
  REQUIRE(again);
  CHECK(again->stored);
  CHECK(ops.fsyncs > before);
}

TEST_CASE("a full disk on write is reported as disk full and changes nothing") {
  RecordingFileOps ops;
  EmbeddedStoreOptions o;
  o.file_ops = &ops;
  StoreWithMailbox f(o);
  const Bytes data = test_bytes(5000, 5);
  const Hash32 id = sha256_of(data);
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  ops.fail_pwrite_errno = ENOSPC;
  auto w = f.store->open_writer(f.mailbox, id, 0, kToday);
  REQUIRE(w);
  Status s = (*w)->write(data);
  REQUIRE_FALSE(s);
  CHECK(is_disk_full(s.error()));
  CHECK_FALSE((*w)->commit());
  w->reset();
  CHECK(upload_of(*f.store, f.mailbox, id).committed == 0);
}

TEST_CASE("recovery after a crash mid-write keeps exactly the committed bytes") {
  TempDir dir("crash");
  TestOrganisation org(2);
  const std::string mailbox = org.mailbox_id();
  const Bytes data = test_bytes(300'000, 6);
  const Hash32 id = sha256_of(data);
  {
    auto s = open_store(dir.path);
    REQUIRE(s->put_mailbox(org.record(), org.keys()));
  }
  // The child commits 100 000 bytes, then writes 50 000 more and dies before committing them.
  crash_child_at(dir.path, "crash-now", [&](EmbeddedRelayStore& s) {
    if (!s.create_upload(mailbox, id, data.size(), 0, kToday)) ::_exit(4);
    if (!append(s, mailbox, id, 0, ByteView(data).first(100'000))) ::_exit(5);
    auto w = s.open_writer(mailbox, id, 100'000, kToday);
    if (!w || !(*w)->write(ByteView(data).subspan(100'000, 50'000))) ::_exit(6);
    ::_exit(0);  // crash with the uncommitted bytes on disk
  });
  auto s = open_store(dir.path);
  CHECK(upload_of(*s, mailbox, id).committed == 100'000);
  CHECK(file_size(s->partial_path(mailbox, id)) == 100'000);
  auto r = append(*s, mailbox, id, 100'000, ByteView(data).subspan(100'000));
  REQUIRE(r);
  CHECK(r->stored);
  auto src = s->open_stored(mailbox, id);
  REQUIRE(src);
  Bytes back(data.size());
  REQUIRE((*src)->read_at(0, back));
  CHECK(back == data);
}

TEST_CASE("a crash while storing a complete upload loses nothing that was acknowledged") {
  CrashDir crash("crash-complete");
  const std::string& mailbox = crash.mailbox;
  const TempDir& dir = crash.dir;
  // The child stores 30 000 bytes, then sends the rest and dies after the data is synced and
  // renamed (before and after the directory sync) but before the metadata says "stored": the
  // relay never answered "stored", and after recovery the upload is back at 30 000 bytes.
  uint32_t seed = 30;
  // (The first part's commit also syncs the file and its directory: hence the occurrences.)
  for (const auto& [point, occurrence] :
       {std::pair{"file-synced", 2}, std::pair{"renamed", 1}, std::pair{"directory-synced", 2}}) {
    const Bytes data = test_bytes(70'000, seed++);
    const Hash32 id = sha256_of(data);
    crash_child_at(
        dir.path, point,
        [&](EmbeddedRelayStore& s) {
          if (!s.create_upload(mailbox, id, data.size(), 0, kToday)) ::_exit(4);
          if (!append(s, mailbox, id, 0, ByteView(data).first(30'000))) ::_exit(5);
          (void)append(s, mailbox, id, 30'000, ByteView(data).subspan(30'000));
        },
        occurrence);
    auto s = open_store(dir.path);
    const UploadRecord u = upload_of(*s, mailbox, id);
    CHECK(u.state == UploadState::kPartial);
    CHECK(u.committed == 30'000);
    CHECK(file_size(s->partial_path(mailbox, id)) == 30'000);
    CHECK_FALSE(file_exists(s->stored_path(mailbox, id)));
    auto r = append(*s, mailbox, id, 30'000, ByteView(data).subspan(30'000));
    REQUIRE(r);
    CHECK(r->stored);
  }
}

// Begins a creation whose request carries all of `data` and commits it in one writer.
Result<CommitResult> create_whole(RelayStore& store, const std::string& mailbox, ByteView data,
                                  const Hash32& id) {
  auto begun = store.begin_upload(mailbox, id, data.size(), 0, kToday);
  if (!begun) return begun.error();
  if (begun->created.outcome != CreateOutcome::kCreated || !begun->writer)
    return make_error(Errc::kAlreadyExists, "the creation found an upload");
  SATCHEL_TRY(begun->writer->write(data));
  return begun->writer->commit();
}

// Options that keep every upload in a data file of its own (none in a pack).
EmbeddedStoreOptions files_only() {
  EmbeddedStoreOptions o;
  o.inline_max_bytes = 0;
  return o;
}

TEST_CASE(
    "a creation carrying the whole upload makes one metadata commit, after its data is durable") {
  RecordingFileOps ops;
  EmbeddedStoreOptions o = files_only();
  o.file_ops = &ops;
  o.trace = [&ops](std::string_view step) { ops.record(step); };
  StoreWithMailbox f(o);
  const Bytes data = test_bytes(64 << 10, 40);
  const Hash32 id = sha256_of(data);
  ops.log.clear();
  auto r = create_whole(*f.store, f.mailbox, data, id);
  REQUIRE(r);
  CHECK(r->stored);
  // (The mailbox's first upload also creates and syncs its directory, before "begun".)
  const size_t begun = ops.find("begun");
  REQUIRE(begun != std::string::npos);
  CHECK(std::vector<std::string>(ops.log.begin() + static_cast<long>(begun), ops.log.end()) ==
        std::vector<std::string>{"begun", "pwrite", "fsync", "file-synced", "rename", "renamed",
                                 "fsync-dir", "directory-synced", "commit-queued",
                                 "metadata-committed", "stored"});
  const UploadRecord u = upload_of(*f.store, f.mailbox, id);
  CHECK(u.state == UploadState::kStored);
  CHECK(u.committed == data.size());
  auto again = f.store->begin_upload(f.mailbox, id, data.size(), 0, kToday);
  REQUIRE(again);
  CHECK(again->created.outcome == CreateOutcome::kExisting);
  CHECK_FALSE(again->writer);
}

// Reads a whole stored upload back through the store.
Bytes read_stored(RelayStore& store, const std::string& mailbox, const Hash32& id) {
  auto src = store.open_stored(mailbox, id);
  REQUIRE(src);
  Bytes back((*src)->size());
  REQUIRE((*src)->read_at(0, back));
  return back;
}

TEST_CASE(
    "a small creation carrying the whole upload is written into a pack, synced with its group "
    "and recorded stored in one metadata commit, with no file of its own") {
  RecordingFileOps ops;
  EmbeddedStoreOptions o;
  o.file_ops = &ops;
  o.trace = [&ops](std::string_view step) { ops.record(step); };
  StoreWithMailbox f(o);
  const Bytes data = test_bytes(EmbeddedStoreOptions::kDefaultInlineMaxBytes, 42);
  const Hash32 id = sha256_of(data);
  ops.log.clear();
  auto r = create_whole(*f.store, f.mailbox, data, id);
  REQUIRE(r);
  CHECK(r->stored);
  // One write into the pack; in the group commit, one fsync of the pack (and of its directory,
  // for a new pack) before the metadata commit; no rename.
  CHECK(ops.log == std::vector<std::string>{"begun", "pwrite", "commit-queued", "fsync",
                                            "fsync-dir", "pack-synced", "metadata-committed",
                                            "stored"});
  check_no_data_file(f, id);
  const Bytes second = test_bytes(1000, 49);
  ops.log.clear();
  REQUIRE(create_whole(*f.store, f.mailbox, second, sha256_of(second)));
  CHECK(ops.log == std::vector<std::string>{"begun", "pwrite", "commit-queued", "fsync",
                                            "pack-synced", "metadata-committed", "stored"});
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(second)) == second);
  f.reopen();  // recovery keeps both regions of the pack
  CHECK(read_stored(*f.store, f.mailbox, id) == data);
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(second)) == second);
  CHECK(upload_of(*f.store, f.mailbox, id).state == UploadState::kStored);
  CHECK(read_stored(*f.store, f.mailbox, id) == data);
  f.reopen();  // recovery has nothing to do for it
  CHECK(upload_of(*f.store, f.mailbox, id).state == UploadState::kStored);
  CHECK(read_stored(*f.store, f.mailbox, id) == data);
  // One byte over the limit goes to a file.
  const Bytes larger = test_bytes(EmbeddedStoreOptions::kDefaultInlineMaxBytes + 1, 43);
  REQUIRE(create_whole(*f.store, f.mailbox, larger, sha256_of(larger)));
  CHECK(file_size(f.store->stored_path(f.mailbox, sha256_of(larger))) == larger.size());
}

TEST_CASE("an inline limit above the largest allowed is lowered to it") {
  EmbeddedStoreOptions o;
  o.inline_max_bytes = UINT64_MAX;  // would hold any body in memory and hand SQLite any blob
  StoreWithMailbox f(o);
  const Bytes at_limit = test_bytes(EmbeddedStoreOptions::kLargestInlineMaxBytes, 47);
  REQUIRE(create_whole(*f.store, f.mailbox, at_limit, sha256_of(at_limit)));
  check_no_data_file(f, sha256_of(at_limit));
  const Bytes over = test_bytes(EmbeddedStoreOptions::kLargestInlineMaxBytes + 1, 48);
  REQUIRE(create_whole(*f.store, f.mailbox, over, sha256_of(over)));
  CHECK(file_size(f.store->stored_path(f.mailbox, sha256_of(over))) == over.size());
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(over)) == over);
}

// The pack files in a store directory.
size_t pack_count(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/packs"))
    n += e.path().extension() == ".pack";
  return n;
}

TEST_CASE("a failed pack sync fails the small uploads synced with it; that pack takes no more") {
  RecordingFileOps ops;
  EmbeddedStoreOptions o;
  o.file_ops = &ops;
  StoreWithMailbox f(o);
  const Bytes a = test_bytes(20'000, 60);
  ops.fail_fsync_at = ops.fsyncs.load();  // the next fsync: the pack's, in a's group commit
  auto failed = create_whole(*f.store, f.mailbox, a, sha256_of(a));
  REQUIRE_FALSE(failed);
  CHECK(failed.code() == Errc::kIoError);
  // Never "stored": recorded partial at 0, for the client to send again.
  UploadRecord u = upload_of(*f.store, f.mailbox, sha256_of(a));
  CHECK(u.state == UploadState::kPartial);
  CHECK(u.committed == 0);
  // The next small upload goes to a new pack, which syncs.
  const Bytes b = test_bytes(20'000, 61);
  REQUIRE(create_whole(*f.store, f.mailbox, b, sha256_of(b)));
  CHECK(pack_count(f.dir.path) == 2);
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(b)) == b);
  // At the next start the failed pack holds nothing any row names: it is removed.
  f.reopen();
  CHECK(pack_count(f.dir.path) == 1);
  CHECK_FALSE(storage_files_contain(f.dir.path, ByteView(a).subspan(10'000, 64)));
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(b)) == b);
}

TEST_CASE("delivering a small upload frees its region and leaves the others in its pack") {
  StoreWithMailbox f;
  const Bytes a = test_bytes(30'000, 66), b = test_bytes(30'000, 67), c = test_bytes(30'000, 68);
  for (const Bytes* x : {&a, &b, &c}) REQUIRE(create_whole(*f.store, f.mailbox, *x, sha256_of(*x)));
  REQUIRE(pack_count(f.dir.path) == 1);
  auto ack = f.store->acknowledge(f.mailbox, sha256_of(b), f.org.keys()[0], f.org.keys(), 1, kToday,
                                  kToday + 30);
  REQUIRE(ack);
  REQUIRE(ack->state == AckState::kDelivered);
  CHECK_FALSE(storage_files_contain(f.dir.path, ByteView(b).subspan(10'000, 64)));
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(a)) == a);
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(c)) == c);
  // The pack's times still show the day only after the hole was punched, and after a restart.
  struct stat st {};
  for (int round = 0; round < 2; round++) {
    for (const auto& e : std::filesystem::directory_iterator(f.dir.path + "/packs")) {
      REQUIRE(::stat(e.path().c_str(), &st) == 0);
      CHECK(st.st_mtim.tv_sec == kToday * kSecondsPerDay);
      CHECK(st.st_mtim.tv_nsec == 0);
    }
    f.reopen();
  }
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(a)) == a);
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(c)) == c);
}

TEST_CASE("a download begun before its upload is delivered reads the whole upload") {
  StoreWithMailbox f;
  const Bytes a = test_bytes(40'000, 69);
  REQUIRE(create_whole(*f.store, f.mailbox, a, sha256_of(a)));
  auto src = f.store->open_stored(f.mailbox, sha256_of(a));
  REQUIRE(src);
  auto ack = f.store->acknowledge(f.mailbox, sha256_of(a), f.org.keys()[0], f.org.keys(), 1, kToday,
                                  kToday + 30);
  REQUIRE(ack);
  REQUIRE(ack->state == AckState::kDelivered);
  Bytes back(a.size());
  REQUIRE((*src)->read_at(0, back));
  CHECK(back == a);
}

TEST_CASE("a small upload whose bytes in its pack are damaged is not served") {
  StoreWithMailbox f;
  const Bytes a = test_bytes(12'000, 70);
  REQUIRE(create_whole(*f.store, f.mailbox, a, sha256_of(a)));
  const auto pack = std::filesystem::directory_iterator(f.dir.path + "/packs")->path();
  {
    std::fstream io(pack, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(6000);
    io.put('\x5a');
  }
  CHECK(f.store->open_stored(f.mailbox, sha256_of(a)).code() == Errc::kIoError);
}

TEST_CASE("small uploads kept in relay.db by an earlier version move into a pack at start") {
  CrashDir store_dir("migrate");  // a store with a mailbox, closed
  const TempDir& dir = store_dir.dir;
  const std::string& mailbox = store_dir.mailbox;
  const Bytes a = test_bytes(20'000, 71);
  const Hash32 id = sha256_of(a);
  {
    // As the earlier version left it: the row stored, its bytes in upload_content.
    auto db = MetadataDb::open(dir.path + "/relay.db");
    REQUIRE(db);
    REQUIRE(
        db->exec("CREATE TABLE upload_content (mailbox_id TEXT NOT NULL, upload_id BLOB NOT NULL, "
                 "content BLOB NOT NULL, PRIMARY KEY (mailbox_id, upload_id))"));
    auto up = db->prepare(
        "INSERT INTO uploads (mailbox_id, id, length, committed, state, day) "
        "VALUES (?1, ?2, ?3, ?3, 1, ?4)");
    REQUIRE(up);
    up->bind(1, mailbox).bind_blob(2, id).bind(3, static_cast<int64_t>(a.size())).bind(4, kToday);
    REQUIRE(up->run());
    auto content = db->prepare(
        "INSERT INTO upload_content (mailbox_id, upload_id, content) VALUES (?1, ?2, ?3)");
    REQUIRE(content);
    content->bind(1, mailbox).bind_blob(2, id).bind_blob(3, a);
    REQUIRE(content->run());
  }
  auto s = open_store(dir.path);
  CHECK(read_stored(*s, mailbox, id) == a);
  CHECK(pack_count(dir.path) == 1);
  s.reset();
  auto db = MetadataDb::open(dir.path + "/relay.db");
  REQUIRE(db);
  auto gone = db->prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'upload_content'");
  REQUIRE(gone);
  REQUIRE(gone->step());
  CHECK(gone->int64(0) == 0);
}

TEST_CASE("a delivered small upload's region is freed at once, and its pack once it holds none") {
  EmbeddedStoreOptions o;
  o.pack_max_bytes = 1;  // one upload per pack
  StoreWithMailbox f(o);
  const Bytes a = test_bytes(30'000, 62);
  const Bytes b = test_bytes(30'000, 63);
  REQUIRE(create_whole(*f.store, f.mailbox, a, sha256_of(a)));
  REQUIRE(create_whole(*f.store, f.mailbox, b, sha256_of(b)));
  CHECK(pack_count(f.dir.path) == 2);
  auto ack = f.store->acknowledge(f.mailbox, sha256_of(a), f.org.keys()[0], f.org.keys(), 1, kToday,
                                  kToday + 30);
  REQUIRE(ack);
  REQUIRE(ack->state == AckState::kDelivered);
  CHECK_FALSE(storage_files_contain(f.dir.path, ByteView(a).subspan(10'000, 64)));
  CHECK(pack_count(f.dir.path) == 2);  // until housekeeping
  REQUIRE(f.store->expire(kToday - 7, kToday, 0));
  CHECK(pack_count(f.dir.path) == 1);
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(b)) == b);
  f.reopen(o);
  CHECK(pack_count(f.dir.path) == 1);
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(b)) == b);
}

TEST_CASE("a small upload whose change is undone in its group commit has its bytes freed at once") {
  StoreWithMailbox f;
  // An upload to a mailbox with no row fails inside the group commit (a foreign key) and its
  // savepoint is rolled back: no commit can ever name its region, so nothing keeps it.
  const std::string unregistered(32, 'e');
  const Bytes lost = test_bytes(10'000, 64);
  REQUIRE_FALSE(create_whole(*f.store, unregistered, lost, sha256_of(lost)));
  CHECK_FALSE(storage_files_contain(f.dir.path, ByteView(lost).subspan(5'000, 64)));
  const Bytes kept = test_bytes(10'000, 65);
  REQUIRE(create_whole(*f.store, f.mailbox, kept, sha256_of(kept)));
  CHECK(read_stored(*f.store, f.mailbox, sha256_of(kept)) == kept);
}

TEST_CASE("recovery removes a data file named like an upload whose bytes are in a pack") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(3000, 44);
  const Hash32 id = sha256_of(data);
  REQUIRE(create_whole(*f.store, f.mailbox, data, id));
  // Stray files of that name (left by an earlier attempt that crashed) are not its data.
  write_file(f.store->partial_path(f.mailbox, id), test_bytes(1000, 45));
  write_file(f.store->stored_path(f.mailbox, id), test_bytes(3000, 46));
  f.reopen();
  check_no_data_file(f, id);
  CHECK(read_stored(*f.store, f.mailbox, id) == data);
}

TEST_CASE("a delivered small upload's bytes do not remain in the relay's storage files") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(100'000, 56);
  const Hash32 id = sha256_of(data);
  REQUIRE(create_whole(*f.store, f.mailbox, data, id));
  const Bytes probe(data.begin() + 50'000, data.begin() + 50'064);
  CHECK(storage_files_contain(f.dir.path, probe));  // the probe finds the stored bytes
  auto ack =
      f.store->acknowledge(f.mailbox, id, f.org.keys()[0], f.org.keys(), 1, kToday, kToday + 30);
  REQUIRE(ack);
  REQUIRE(ack->state == AckState::kDelivered);
  CHECK(f.store->open_stored(f.mailbox, id).code() == Errc::kNotFound);
  // The region is freed at once (a hole); housekeeping truncates the WAL.
  REQUIRE(f.store->expire(kToday - 7, kToday, 0));
  CHECK_FALSE(storage_files_contain(f.dir.path, probe));
}

TEST_CASE(
    "a crash during a creation carrying the whole upload leaves nothing or the stored bundle") {
  CrashDir crash("crash-whole");
  const std::string& mailbox = crash.mailbox;
  const TempDir& dir = crash.dir;
  uint32_t seed = 41;
  // Before the one commit nothing was answered and nothing remains; after it, the bundle is
  // stored and byte-identical. Small uploads (kept in a pack) have fewer steps; bytes synced
  // into a pack that no commit recorded are freed, and the pack with them.
  struct Case {
    const char* point;
    bool in_file;
  };
  for (const Case c :
       {Case{"begun", true}, Case{"file-synced", true}, Case{"renamed", true},
        Case{"directory-synced", true}, Case{"stored", true}, Case{"begun", false},
        Case{"pack-synced", false}, Case{"metadata-committed", false}, Case{"stored", false}}) {
    const std::string_view point = c.point;
    CAPTURE(point, c.in_file);
    const Bytes data = test_bytes(70'000, seed++);
    const Hash32 id = sha256_of(data);
    crash_child_at(
        dir.path, point, [&](EmbeddedRelayStore& s) { (void)create_whole(s, mailbox, data, id); },
        1, c.in_file ? files_only() : EmbeddedStoreOptions{});
    auto s = open_store(dir.path);
    auto l = s->find_upload(mailbox, id);
    REQUIRE(l);
    if (point == "stored" || point == "metadata-committed") {
      REQUIRE(l->upload);
      CHECK(l->upload->state == UploadState::kStored);
      auto src = s->open_stored(mailbox, id);
      REQUIRE(src);
      Bytes back(data.size());
      REQUIRE((*src)->read_at(0, back));
      CHECK(back == data);
      continue;
    }
    CHECK_FALSE(l->upload);
    CHECK_FALSE(file_exists(s->partial_path(mailbox, id)));
    CHECK_FALSE(file_exists(s->stored_path(mailbox, id)));
    CHECK_FALSE(storage_files_contain(dir.path, ByteView(data).subspan(30'000, 64)));
    auto r = create_whole(*s, mailbox, data, id);  // the client sends it again
    REQUIRE(r);
    CHECK(r->stored);
  }
}

TEST_CASE("a creation whose body is cut short is recorded partial at what arrived, or at 0") {
  // Kept in memory until whole (small) or written as it arrives (files only): the same result.
  const bool in_memory = GENERATE(true, false);
  CAPTURE(in_memory);
  StoreWithMailbox f(in_memory ? EmbeddedStoreOptions{} : files_only());
  const Bytes data = test_bytes(50'000, 47);
  const Hash32 id = sha256_of(data);
  {
    // Half arrives, then the connection drops: the client resumes from 20 000.
    auto begun = f.store->begin_upload(f.mailbox, id, data.size(), 0, kToday);
    REQUIRE(begun);
    REQUIRE(begun->writer);
    REQUIRE(begun->writer->write(ByteView(data).first(20'000)));
    auto c = begun->writer->commit();
    REQUIRE(c);
    CHECK_FALSE(c->stored);
    CHECK(c->committed == 20'000);
  }
  UploadRecord u = upload_of(*f.store, f.mailbox, id);
  CHECK(u.state == UploadState::kPartial);
  CHECK(u.committed == 20'000);
  REQUIRE(append(*f.store, f.mailbox, id, 20'000, ByteView(data).subspan(20'000)));
  CHECK(upload_of(*f.store, f.mailbox, id).state == UploadState::kStored);

  // A writer dropped without a commit (the request was refused or failed): partial at 0, as a
  // creation without a body would have left it.
  const Bytes other = test_bytes(9000, 48);
  const Hash32 other_id = sha256_of(other);
  {
    auto begun = f.store->begin_upload(f.mailbox, other_id, other.size(), 0, kToday);
    REQUIRE(begun);
    REQUIRE(begun->writer);
    REQUIRE(begun->writer->write(ByteView(other).first(4000)));
  }
  u = upload_of(*f.store, f.mailbox, other_id);
  CHECK(u.state == UploadState::kPartial);
  CHECK(u.committed == 0);
  REQUIRE(append(*f.store, f.mailbox, other_id, 0, other));
  CHECK(upload_of(*f.store, f.mailbox, other_id).state == UploadState::kStored);
}

TEST_CASE(
    "a creation in flight is found by another creation, counts against the quota, and holds its "
    "writer") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(6000, 49);
  const Hash32 id = sha256_of(data);
  auto begun = f.store->begin_upload(f.mailbox, id, data.size(), 10'000, kToday);
  REQUIRE(begun);
  REQUIRE(begun->writer);
  auto twin = f.store->begin_upload(f.mailbox, id, data.size(), 10'000, kToday);
  REQUIRE(twin);
  CHECK(twin->created.outcome == CreateOutcome::kExisting);
  CHECK_FALSE(twin->writer);
  CHECK(f.store->open_writer(f.mailbox, id, 0, kToday).code() == Errc::kAlreadyExists);
  CHECK(f.store->terminate_upload(f.mailbox, id, kToday).code() == Errc::kAlreadyExists);
  const Bytes b = test_bytes(5000, 50);
  auto over = f.store->create_upload(f.mailbox, sha256_of(b), b.size(), 10'000, kToday);
  REQUIRE(over);
  CHECK(over->outcome == CreateOutcome::kOverQuota);
  REQUIRE(begun->writer->write(data));
  auto c = begun->writer->commit();
  REQUIRE(c);
  CHECK(c->stored);
}

TEST_CASE("no creation reuses an upload's file while a discarded writer still holds it") {
  StoreWithMailbox f(files_only());
  const Bytes data = test_bytes(5000, 53);
  const Hash32 id = sha256_of(test_bytes(5000, 54));  // the id of other bytes
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  auto w = f.store->open_writer(f.mailbox, id, 0, kToday);
  REQUIRE(w);
  REQUIRE((*w)->write(data));
  REQUIRE((*w)->commit().code() == Errc::kInvalidArgument);  // discarded; the writer lives on
  CHECK(f.store->begin_upload(f.mailbox, id, data.size(), 0, kToday).code() ==
        Errc::kAlreadyExists);
  CHECK(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday).code() ==
        Errc::kAlreadyExists);
  w->reset();
  auto again = f.store->begin_upload(f.mailbox, id, data.size(), 0, kToday);
  REQUIRE(again);
  CHECK(again->created.outcome == CreateOutcome::kCreated);
}

TEST_CASE("no creation reuses an upload's file while an expiry is unlinking it") {
  EmbeddedRelayStore* store = nullptr;
  std::string mailbox;
  const Bytes data = test_bytes(7000, 55);
  const Hash32 id = sha256_of(data);
  std::optional<Errc> during;
  EmbeddedStoreOptions o = files_only();
  o.trace = [&](std::string_view step) {
    if (step == "removing" && store && !during) {
      auto b = store->begin_upload(mailbox, id, data.size(), 0, kToday);
      during = b ? Errc::kOk : b.code();
    }
  };
  StoreWithMailbox f(o);
  store = f.store.get();
  mailbox = f.mailbox;
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday - 10));
  REQUIRE(f.store->expire(kToday - 7, kToday, 0));
  REQUIRE(during);
  CHECK(*during == Errc::kAlreadyExists);
  // Once the file is gone, the client's creation makes a new one and it is stored.
  auto r = create_whole(*f.store, f.mailbox, data, id);
  REQUIRE(r);
  CHECK(r->stored);
  CHECK(file_size(f.store->stored_path(f.mailbox, id)) == data.size());
}

TEST_CASE("a whole-body creation whose bytes do not hash to its id leaves nothing") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(5000, 51);
  const Hash32 id = sha256_of(test_bytes(5000, 52));
  auto r = create_whole(*f.store, f.mailbox, data, id);
  REQUIRE_FALSE(r);
  CHECK(r.code() == Errc::kInvalidArgument);
  check_nothing_left(f, id);
}

TEST_CASE(
    "concurrent creations, committed in groups, are each stored and still there after reopening") {
  StoreWithMailbox f;
  constexpr int kThreads = 16, kEach = 8;
  std::vector<std::thread> threads;
  std::atomic<int> stored{0};
  for (int t = 0; t < kThreads; t++)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; i++) {
        const Bytes data = test_bytes(3000, static_cast<uint32_t>(1000 + t * kEach + i));
        auto r = create_whole(*f.store, f.mailbox, data, sha256_of(data));
        if (r && r->stored) stored++;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(stored == kThreads * kEach);
  f.reopen();
  for (int n = 0; n < kThreads * kEach; n++) {
    const Bytes data = test_bytes(3000, static_cast<uint32_t>(1000 + n));
    const UploadRecord u = upload_of(*f.store, f.mailbox, sha256_of(data));
    CHECK(u.state == UploadState::kStored);
  }
}

TEST_CASE(
    "a change that fails inside a group commit is undone alone and the others in the group are "
    "stored") {
  // The first creation's leader is held right after its commit, so the next three creations
  // queue behind it and are committed as one group. One of them names a mailbox no
  // registration created: its insert breaks a foreign key and must fail on its own.
  std::mutex mu;
  std::condition_variable cv;
  int queued = 0, commits = 0;
  bool release = false;
  EmbeddedStoreOptions o;
  o.trace = [&](std::string_view step) {
    std::unique_lock lock(mu);
    if (step == "commit-queued") {
      queued++;
      cv.notify_all();
    } else if (step == "metadata-committed" && ++commits == 1) {
      cv.wait(lock, [&] { return release; });
    }
  };
  StoreWithMailbox f(o);
  const std::string unregistered(32, 'e');
  const Bytes first = test_bytes(2000, 70), good1 = test_bytes(2000, 71),
              good2 = test_bytes(2000, 72), orphan = test_bytes(2000, 73);
  {
    std::lock_guard lock(mu);
    commits = 0;
    queued = 0;
  }
  std::thread leader([&] { CHECK(create_whole(*f.store, f.mailbox, first, sha256_of(first))); });
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return queued == 1; }));
  }
  std::vector<std::thread> group;
  std::atomic<int> stored{0};
  std::optional<Errc> orphan_result;
  for (const Bytes* b : {&good1, &good2})
    group.emplace_back([&, b] {
      auto r = create_whole(*f.store, f.mailbox, *b, sha256_of(*b));
      if (r && r->stored) stored++;
    });
  group.emplace_back([&] {
    auto r = create_whole(*f.store, unregistered, orphan, sha256_of(orphan));
    orphan_result = r ? Errc::kOk : r.code();
  });
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return queued == 4; }));
    release = true;
    cv.notify_all();
  }
  leader.join();
  for (auto& t : group) t.join();
  CHECK(stored == 2);
  REQUIRE(orphan_result);
  CHECK(*orphan_result != Errc::kOk);
  // All three were queued before the held leader let go, so the next leader took them as one
  // group (the failed creation's "partial at 0" record then failed alone, in a later one).
  CHECK(commits >= 2);
  for (const Bytes* b : {&first, &good1, &good2}) {
    CHECK(upload_of(*f.store, f.mailbox, sha256_of(*b)).state == UploadState::kStored);
    CHECK(read_stored(*f.store, f.mailbox, sha256_of(*b)) == *b);
  }
  auto gone = f.store->find_upload(unregistered, sha256_of(orphan));
  REQUIRE(gone);
  CHECK_FALSE(gone->upload);
}

TEST_CASE("a serving store's WAL stays bounded and its pages reach relay.db") {
  StoreWithMailbox f;
  constexpr int kUploads = 600;  // documents of 64 KiB, one commit each: over 12,000 WAL frames
  for (int i = 0; i < kUploads; i++) {
    const Bytes data = test_bytes(64 << 10, static_cast<uint32_t>(5000 + i));
    REQUIRE(f.store->put_document(f.mailbox, "doc-" + std::to_string(i), data, {}));
  }
  // Checkpoints run (on the store's thread, or inline past the limit): the pages reach the
  // database file (bounded wait), and the WAL starts over instead of growing with the data.
  const std::string db = f.dir.path + "/relay.db";
  for (int i = 0; i < 200 && file_size(db) < uint64_t{kUploads} * (64 << 10) / 2; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(file_size(db) >= uint64_t{kUploads} * (64 << 10) / 2);
  // The inline checkpoint starts at 4,000 frames; while the store's thread holds the checkpoint
  // lock it gets SQLITE_BUSY and commits go on, so on a loaded machine the WAL overshoots by
  // what is committed during one background checkpoint (185 frames seen in CI). Half the
  // frames written is still far from what an unbounded WAL would reach.
  CHECK(file_size(db + "-wal") < uint64_t{4000 + 2000} * (4096 + 24));
}

TEST_CASE("recovery removes data files that no metadata names") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(5000, 8);
  const Hash32 id = sha256_of(data);
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  REQUIRE(append(*f.store, f.mailbox, id, 0, data));
  const Hash32 stray = sha256_of(test_bytes(10, 9));
  const std::string stray_part = f.store->partial_path(f.mailbox, stray);
  const std::string stray_stored = f.store->stored_path(f.mailbox, stray);
  std::ofstream(stray_part) << "left by a crash before its metadata row";
  std::ofstream(stray_stored) << "left by a crash before its unlink";
  f.reopen();
  CHECK_FALSE(file_exists(stray_part));
  CHECK_FALSE(file_exists(stray_stored));
  CHECK(file_exists(f.store->stored_path(f.mailbox, id)));
}

TEST_CASE("a crash between a deletion's commit and its unlink leaves a tombstone and no data") {
  TempDir dir("crash-ack");
  TestOrganisation org(1);
  const std::string mailbox = org.mailbox_id();
  const Bytes data = test_bytes(5000, 10);
  const Hash32 id = sha256_of(data);
  {
    auto s = open_store(dir.path);
    REQUIRE(s->put_mailbox(org.record(), org.keys()));
    REQUIRE(s->create_upload(mailbox, id, data.size(), 0, kToday));
    REQUIRE(append(*s, mailbox, id, 0, data));
  }
  crash_child_at(dir.path, "tombstoned", [&](EmbeddedRelayStore& s) {
    (void)s.acknowledge(mailbox, id, org.keys()[0], org.keys(), 0, kToday, kToday + 30);
  });
  auto s = open_store(dir.path);
  auto l = s->find_upload(mailbox, id);
  REQUIRE(l);
  CHECK_FALSE(l->upload);
  REQUIRE(l->tombstone);
  CHECK_FALSE(file_exists(s->stored_path(mailbox, id)));
}

TEST_CASE("creation is idempotent: a re-sent bundle is never stored twice") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(5000, 11);
  const Hash32 id = sha256_of(data);
  auto first = f.store->create_upload(f.mailbox, id, data.size(), 0, kToday);
  REQUIRE(first);
  CHECK(first->outcome == CreateOutcome::kCreated);
  REQUIRE(append(*f.store, f.mailbox, id, 0, ByteView(data).first(1000)));
  auto again = f.store->create_upload(f.mailbox, id, data.size(), 0, kToday);
  REQUIRE(again);
  CHECK(again->outcome == CreateOutcome::kExisting);
  REQUIRE(again->now.upload);
  CHECK(again->now.upload->committed == 1000);  // the existing upload, untouched
  REQUIRE(append(*f.store, f.mailbox, id, 1000, ByteView(data).subspan(1000)));
  auto stored = f.store->create_upload(f.mailbox, id, data.size(), 0, kToday);
  REQUIRE(stored);
  CHECK(stored->outcome == CreateOutcome::kExisting);
  CHECK(stored->now.upload->state == UploadState::kStored);
}

TEST_CASE("a bundle whose bytes do not hash to its id is discarded at completion") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(5000, 12);
  const Hash32 id = sha256_of(test_bytes(5000, 13));  // the id of other bytes
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  auto r = append(*f.store, f.mailbox, id, 0, data);
  REQUIRE_FALSE(r);
  CHECK(r.code() == Errc::kInvalidArgument);
  check_nothing_left(f, id);
}

TEST_CASE("deletion waits for every registered coordinator, then leaves a tombstone") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(5000, 14);
  const Hash32 id = sha256_of(data);
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  REQUIRE(append(*f.store, f.mailbox, id, 0, data));
  const auto keys = f.org.keys();
  for (size_t i = 0; i < 2; i++) {
    auto a = f.store->acknowledge(f.mailbox, id, keys[i], keys, 0, kToday, kToday + 30);
    REQUIRE(a);
    CHECK(a->state == AckState::kStored);
    CHECK(a->acknowledgements == i + 1);
    CHECK(a->required == 3);
  }
  // The same coordinator acknowledging twice counts once.
  auto dup = f.store->acknowledge(f.mailbox, id, keys[1], keys, 0, kToday, kToday + 30);
  REQUIRE(dup);
  CHECK(dup->acknowledgements == 2);
  // A key that is not registered does not count.
  Key32 stranger{};
  stranger.fill(7);
  auto odd = f.store->acknowledge(f.mailbox, id, stranger, keys, 0, kToday, kToday + 30);
  REQUIRE(odd);
  CHECK(odd->state == AckState::kStored);
  auto last = f.store->acknowledge(f.mailbox, id, keys[2], keys, 0, kToday, kToday + 30);
  REQUIRE(last);
  CHECK(last->state == AckState::kDelivered);
  CHECK_FALSE(file_exists(f.store->stored_path(f.mailbox, id)));
  auto l = f.store->find_upload(f.mailbox, id);
  REQUIRE(l);
  CHECK_FALSE(l->upload);
  REQUIRE(l->tombstone);
  CHECK(l->tombstone->length == data.size());
  CHECK(l->tombstone->until == kToday + 30);
  // A late re-upload is answered "delivered", and an acknowledgement again is harmless.
  auto again = f.store->create_upload(f.mailbox, id, data.size(), 0, kToday + 1);
  REQUIRE(again);
  CHECK(again->outcome == CreateOutcome::kDelivered);
  auto ack_again = f.store->acknowledge(f.mailbox, id, keys[0], keys, 0, kToday, kToday + 30);
  REQUIRE(ack_again);
  CHECK(ack_again->state == AckState::kDelivered);
  // Once the tombstone's time is over, nothing is left: the id is new again.
  auto report = f.store->expire(kToday + 23, kToday + 30, (kToday + 30) * kSecondsPerDay);
  REQUIRE(report);
  CHECK(report->tombstones_purged == 1);
  auto fresh = f.store->create_upload(f.mailbox, id, data.size(), 0, kToday + 30);
  REQUIRE(fresh);
  CHECK(fresh->outcome == CreateOutcome::kCreated);
}

TEST_CASE("k of n acknowledgements delete a bundle; lowering k applies to acknowledged ones") {
  StoreWithMailbox f;
  const auto keys = f.org.keys();
  const Bytes a = test_bytes(5000, 15), b = test_bytes(5000, 16);
  const Hash32 ia = sha256_of(a), ib = sha256_of(b);
  for (const auto& [id, data] : {std::pair{ia, a}, std::pair{ib, b}}) {
    REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
    REQUIRE(append(*f.store, f.mailbox, id, 0, data));
  }
  auto first = f.store->acknowledge(f.mailbox, ia, keys[0], keys, 2, kToday, kToday + 30);
  REQUIRE(first);
  CHECK(first->state == AckState::kStored);
  auto second = f.store->acknowledge(f.mailbox, ia, keys[2], keys, 2, kToday, kToday + 30);
  REQUIRE(second);
  CHECK(second->state == AckState::kDelivered);
  CHECK(second->required == 2);

  REQUIRE(f.store->acknowledge(f.mailbox, ib, keys[1], keys, 3, kToday, kToday + 30));
  auto swept = f.store->deliver_acknowledged(f.mailbox, keys, 1, kToday, kToday + 30);
  REQUIRE(swept);
  CHECK(*swept == 1);
  auto l = f.store->find_upload(f.mailbox, ib);
  REQUIRE(l);
  CHECK(l->tombstone);
}

TEST_CASE("the listing shows only stored uploads, in pages, with their acknowledgements") {
  StoreWithMailbox f;
  const auto keys = f.org.keys();
  std::vector<Hash32> ids;
  for (uint32_t i = 0; i < 5; i++) {
    const Bytes data = test_bytes(4000 + i, 100 + i);
    const Hash32 id = sha256_of(data);
    REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
    REQUIRE(append(*f.store, f.mailbox, id, 0, data));
    ids.push_back(id);
  }
  const Bytes partial = test_bytes(9000, 200);
  REQUIRE(f.store->create_upload(f.mailbox, sha256_of(partial), partial.size(), 0, kToday));
  std::sort(ids.begin(), ids.end());
  REQUIRE(f.store->acknowledge(f.mailbox, ids[1], keys[0], keys, 0, kToday, kToday + 30));

  auto page1 = f.store->list_stored(f.mailbox, std::nullopt, 3, keys[0], false);
  REQUIRE(page1);
  REQUIRE(page1->size() == 3);
  CHECK((*page1)[0].id == ids[0]);
  CHECK((*page1)[1].acknowledged_by == std::vector<Key32>{keys[0]});
  CHECK((*page1)[0].arrival == kToday);
  auto page2 = f.store->list_stored(f.mailbox, page1->back().id, 3, keys[0], false);
  REQUIRE(page2);
  REQUIRE(page2->size() == 2);
  CHECK((*page2)[1].id == ids[4]);
  auto pending = f.store->list_stored(f.mailbox, std::nullopt, 10, keys[0], true);
  REQUIRE(pending);
  CHECK(pending->size() == 4);
}

TEST_CASE("partial uploads expire; stored uploads and fresh partial uploads do not") {
  StoreWithMailbox f;
  const Bytes old_data = test_bytes(5000, 17), new_data = test_bytes(5000, 18),
              done = test_bytes(5000, 19);
  const Hash32 old_id = sha256_of(old_data), new_id = sha256_of(new_data),
               done_id = sha256_of(done);
  REQUIRE(f.store->create_upload(f.mailbox, old_id, old_data.size(), 0, kToday - 10));
  REQUIRE(f.store->create_upload(f.mailbox, new_id, new_data.size(), 0, kToday));
  REQUIRE(f.store->create_upload(f.mailbox, done_id, done.size(), 0, kToday - 10));
  REQUIRE(append(*f.store, f.mailbox, done_id, 0, done, kToday - 10));
  auto r = f.store->expire(kToday - 7, kToday, kToday * kSecondsPerDay);
  REQUIRE(r);
  CHECK(r->partial_expired == 1);
  CHECK_FALSE(f.store->find_upload(f.mailbox, old_id)->upload);
  CHECK_FALSE(file_exists(f.store->partial_path(f.mailbox, old_id)));
  CHECK(f.store->find_upload(f.mailbox, new_id)->upload);
  CHECK(f.store->find_upload(f.mailbox, done_id)->upload);
}

TEST_CASE("termination removes partial uploads only") {
  StoreWithMailbox f;
  const Bytes p = test_bytes(5000, 20), s = test_bytes(5000, 21);
  REQUIRE(f.store->create_upload(f.mailbox, sha256_of(p), p.size(), 0, kToday));
  REQUIRE(f.store->create_upload(f.mailbox, sha256_of(s), s.size(), 0, kToday));
  REQUIRE(append(*f.store, f.mailbox, sha256_of(s), 0, s));
  CHECK(f.store->terminate_upload(f.mailbox, sha256_of(p), kToday));
  CHECK_FALSE(file_exists(f.store->partial_path(f.mailbox, sha256_of(p))));
  CHECK(f.store->terminate_upload(f.mailbox, sha256_of(s), kToday).code() ==
        Errc::kInvalidArgument);
  CHECK(file_exists(f.store->stored_path(f.mailbox, sha256_of(s))));
  CHECK(f.store->terminate_upload(f.mailbox, sha256_of(p), kToday).code() == Errc::kNotFound);
}

TEST_CASE("the mailbox quota counts partial and stored bytes") {
  StoreWithMailbox f;
  const Bytes a = test_bytes(6000, 22), b = test_bytes(5000, 23);
  REQUIRE(f.store->create_upload(f.mailbox, sha256_of(a), a.size(), 10'000, kToday));
  auto over = f.store->create_upload(f.mailbox, sha256_of(b), b.size(), 10'000, kToday);
  REQUIRE(over);
  CHECK(over->outcome == CreateOutcome::kOverQuota);
  CHECK_FALSE(f.store->find_upload(f.mailbox, sha256_of(b))->upload);
  auto fits = f.store->create_upload(f.mailbox, sha256_of(b), b.size(), 11'000, kToday);
  REQUIRE(fits);
  CHECK(fits->outcome == CreateOutcome::kCreated);
  // The count survives reopening, and a removed upload gives its bytes back.
  f.reopen();
  const Bytes c = test_bytes(4000, 24);
  auto full = f.store->create_upload(f.mailbox, sha256_of(c), c.size(), 11'000, kToday);
  REQUIRE(full);
  CHECK(full->outcome == CreateOutcome::kOverQuota);
  REQUIRE(f.store->terminate_upload(f.mailbox, sha256_of(a), kToday));
  auto room = f.store->create_upload(f.mailbox, sha256_of(c), c.size(), 11'000, kToday);
  REQUIRE(room);
  CHECK(room->outcome == CreateOutcome::kCreated);
}

TEST_CASE("upload files, packs and their directories carry only the arrival day in their times") {
  StoreWithMailbox f;
  const Bytes data = test_bytes(5000, 24);
  const Hash32 id = sha256_of(data);
  REQUIRE(f.store->create_upload(f.mailbox, id, data.size(), 0, kToday));
  REQUIRE(append(*f.store, f.mailbox, id, 0, data));
  struct stat st {};
  REQUIRE(::stat(f.store->stored_path(f.mailbox, id).c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == kToday * kSecondsPerDay);
  CHECK(st.st_atim.tv_sec == kToday * kSecondsPerDay);
  CHECK(st.st_mtim.tv_nsec == 0);
  // Reading it (a coordinator's download) does not stamp the access time.
  auto src = f.store->open_stored(f.mailbox, id);
  REQUIRE(src);
  Bytes back(data.size());
  REQUIRE((*src)->read_at(0, back));
  REQUIRE(::stat(f.store->stored_path(f.mailbox, id).c_str(), &st) == 0);
  CHECK(st.st_atim.tv_sec == kToday * kSecondsPerDay);
  REQUIRE(::stat((f.dir.path + "/uploads/" + f.mailbox).c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == kToday * kSecondsPerDay);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat(f.dir.path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  // A small upload sent whole: its pack and the packs directory show the day too.
  const Bytes small = test_bytes(3000, 25);
  auto r = create_whole(*f.store, f.mailbox, small, sha256_of(small));
  REQUIRE(r);
  REQUIRE(r->stored);
  REQUIRE(pack_count(f.dir.path) == 1);
  for (const auto& e : std::filesystem::directory_iterator(f.dir.path + "/packs")) {
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    CHECK(st.st_mtim.tv_sec == kToday * kSecondsPerDay);
    CHECK(st.st_atim.tv_sec == kToday * kSecondsPerDay);
    CHECK((st.st_mode & 0777) == 0600);
  }
  REQUIRE(read_stored(*f.store, f.mailbox, sha256_of(small)) == small);
  for (const auto& e : std::filesystem::directory_iterator(f.dir.path + "/packs")) {
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    CHECK(st.st_atim.tv_sec == kToday * kSecondsPerDay);
  }
  REQUIRE(::stat((f.dir.path + "/packs").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec == kToday * kSecondsPerDay);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE(
    "codes stored before minters were recorded are kept as the operator's after a migration") {
  TempDir dir("codes-migrate");
  TestOrganisation org(1);
  const std::string mailbox = org.mailbox_id();
  Hash32 code{}, token{};
  code.fill(5);
  token.fill(6);
  const int64_t now = kToday * kSecondsPerDay;
  {
    // As an earlier version left it: enrollment_codes without a minter column.
    std::filesystem::create_directories(dir.path);
    auto old = sqlite::Connection::open(dir.path + "/relay.db",
                                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "old database");
    REQUIRE(old);
    REQUIRE(
        old->exec("CREATE TABLE enrollment_codes (hash BLOB PRIMARY KEY, mailbox_id TEXT NOT NULL, "
                  "code_id TEXT NOT NULL, expires_hour INTEGER NOT NULL) WITHOUT ROWID"));
    auto ins = old->prepare(
        "INSERT INTO enrollment_codes (hash, mailbox_id, code_id, expires_hour) "
        "VALUES (?1, ?2, '0011223344556677', ?3)");
    REQUIRE(ins);
    ins->bind_blob(1, code).bind(2, mailbox).bind(3, now / 3600 + 2);
    REQUIRE(ins->run());
  }
  auto s = open_store(dir.path);
  REQUIRE(s->put_mailbox(org.record(1), org.keys()));
  REQUIRE(s->put_mailbox(org.record(2), {}));  // no coordinator listed any more
  auto t = s->redeem_enrollment_code(code, now, token);
  REQUIRE(t);
  CHECK(t->token_id == "0011223344556677");
}

TEST_CASE("an enrollment code is single-use and expires") {
  StoreWithMailbox f;
  Hash32 code{}, token{}, other_token{};
  code.fill(1);
  token.fill(2);
  other_token.fill(3);
  const int64_t now = kToday * kSecondsPerDay;
  REQUIRE(f.store->add_enrollment_code(
      {code, f.mailbox, "00112233aabbccdd", now + 3600, std::nullopt, 0}));
  auto t = f.store->redeem_enrollment_code(code, now, token);
  REQUIRE(t);
  CHECK(t->mailbox == f.mailbox);
  CHECK(t->token_id == "00112233aabbccdd");
  CHECK(f.store->redeem_enrollment_code(code, now, other_token).code() == Errc::kNotFound);
  auto found = f.store->token(token);
  REQUIRE(found);
  REQUIRE(*found);
  CHECK((*found)->mailbox == f.mailbox);
  CHECK_FALSE(f.store->token(other_token).value().has_value());

  Hash32 late{};
  late.fill(4);
  REQUIRE(f.store->add_enrollment_code(
      {late, f.mailbox, "ffeeddccbbaa9988", now + 3600, std::nullopt, 0}));
  CHECK(f.store->redeem_enrollment_code(late, now + 3600, other_token).code() == Errc::kNotFound);
  CHECK_FALSE(f.store->token(other_token).value().has_value());

  auto revoked = f.store->revoke_tokens(f.mailbox, std::string_view("00112233aabbccdd"));
  REQUIRE(revoked);
  CHECK(*revoked == 1);
  CHECK_FALSE(f.store->token(token).value().has_value());
}

TEST_CASE("a second serving process is refused the same storage") {
  StoreWithMailbox f;
  auto second = EmbeddedRelayStore::open(f.dir.path, kToday);
  CHECK(second.code() == Errc::kAlreadyExists);
  EmbeddedStoreOptions admin;
  admin.serve = false;
  auto admin_store = EmbeddedRelayStore::open(f.dir.path, kToday, admin);
  REQUIRE(admin_store);
  CHECK((*admin_store)->mailbox(f.mailbox).value());
}
