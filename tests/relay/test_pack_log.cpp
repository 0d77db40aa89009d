// PackLog: regions of small stored uploads in shared pack files
// (server/src/store/embedded/pack_log.h).
#include <catch2/catch_test_macros.hpp>
#include <filesystem>

#include "store/embedded/pack_log.h"
#include "store_fixture.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

constexpr Day kToday = 20'000;

// A pack directory with a recording file-system seam.
struct PackDir {
  TempDir dir{"packs"};
  RecordingFileOps ops;
  std::unique_ptr<PackLog> packs;

  explicit PackDir(uint64_t max_bytes = 64ull << 20) {
    std::filesystem::create_directories(dir.path);
    packs = std::make_unique<PackLog>(dir.path, ops, -1, max_bytes);
  }
  size_t count(std::string_view step) const {
    return static_cast<size_t>(std::count(ops.log.begin(), ops.log.end(), step));
  }
  // The bytes of a pack file at [offset, offset + n).
  Bytes read(int64_t pack, uint64_t offset, size_t n) const {
    std::ifstream in(packs->path(pack), std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    Bytes out(n);
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
    out.resize(static_cast<size_t>(in.gcount()));
    return out;
  }
};

PackRegion written(PackDir& d, ByteView data) {
  auto r = d.packs->write(data, kToday);
  REQUIRE(r);
  return *r;
}

bool ok(const std::map<int64_t, Status>& synced, int64_t pack) {
  return static_cast<bool>(synced.at(pack));
}

}  // namespace

TEST_CASE("regions written before a sync are made durable by one fsync of their pack") {
  PackDir d;
  const Bytes a = test_bytes(5000, 1), b = test_bytes(7000, 2), c = test_bytes(100, 3);
  const PackRegion ra = written(d, a), rb = written(d, b), rc = written(d, c);
  CHECK(ra.pack == rb.pack);
  CHECK(rb.pack == rc.pack);
  // Aligned, in order, not overlapping.
  CHECK(ra.offset == 0);
  CHECK(rb.offset == 8192);
  CHECK(rc.offset == 16384);
  d.ops.log.clear();
  CHECK(ok(d.packs->sync({ra.pack}, kToday), ra.pack));
  CHECK(d.count("fsync") == 1);
  CHECK(d.count("fsync-dir") == 1);  // a new pack's name
  CHECK(d.read(ra.pack, ra.offset, a.size()) == a);
  CHECK(d.read(rb.pack, rb.offset, b.size()) == b);
  CHECK(d.read(rc.pack, rc.offset, c.size()) == c);
  written(d, a);
  d.ops.log.clear();
  CHECK(ok(d.packs->sync({ra.pack}, kToday), ra.pack));
  CHECK(d.count("fsync") == 1);
  CHECK(d.count("fsync-dir") == 0);
}

TEST_CASE("a pack whose sync failed fails every later sync and takes no new region") {
  PackDir d;
  const PackRegion r1 = written(d, test_bytes(3000, 4));
  const PackRegion r2 = written(d, test_bytes(3000, 5));
  REQUIRE(r1.pack == r2.pack);
  d.ops.fail_fsync_at = d.ops.fsyncs.load();
  CHECK_FALSE(ok(d.packs->sync({r1.pack}, kToday), r1.pack));
  // The next fsync of that pack would return 0 (Linux reports a write-back error once): the
  // pack must not be vouched for again.
  CHECK_FALSE(ok(d.packs->sync({r1.pack}, kToday), r1.pack));
  const PackRegion r3 = written(d, test_bytes(3000, 6));
  CHECK(r3.pack != r1.pack);
  CHECK(ok(d.packs->sync({r3.pack}, kToday), r3.pack));
}

TEST_CASE("a pack takes no region past its size limit; the next pack starts") {
  PackDir d(10'000);
  const PackRegion r1 = written(d, test_bytes(6000, 7));
  const PackRegion r2 = written(d, test_bytes(6000, 8));  // 8192 + 6000 > 10 000
  CHECK(r2.pack == r1.pack + 1);
  CHECK(r2.offset == 0);
  const PackRegion r3 = written(d, test_bytes(20'000, 9));  // larger than a pack: one of its own
  CHECK(r3.pack == r2.pack + 1);
}

TEST_CASE("a freed region reads back as zeros and its neighbours are untouched") {
  PackDir d;
  const Bytes a = test_bytes(5000, 10), b = test_bytes(9000, 11), c = test_bytes(4096, 12);
  const PackRegion ra = written(d, a), rb = written(d, b), rc = written(d, c);
  REQUIRE(ok(d.packs->sync({ra.pack}, kToday), ra.pack));
  REQUIRE(d.packs->release(rb, kToday));
  CHECK(d.read(ra.pack, ra.offset, a.size()) == a);
  CHECK(d.read(rb.pack, rb.offset, b.size()) == Bytes(b.size(), 0));
  CHECK(d.read(rc.pack, rc.offset, c.size()) == c);
}

TEST_CASE("a region no commit can name is freed when settled; one in doubt keeps its pack") {
  PackDir d(1);  // one region per pack
  const Bytes a = test_bytes(5000, 13), b = test_bytes(5000, 14);
  const PackRegion ra = written(d, a);
  const PackRegion rb = written(d, b);
  written(d, test_bytes(10, 15));  // the active pack is now a third one
  REQUIRE(ok(d.packs->sync({ra.pack, rb.pack}, kToday), ra.pack));
  d.packs->settle(ra, PackLog::Outcome::kNotCommitted, kToday);
  CHECK(d.read(ra.pack, ra.offset, a.size()) == Bytes(a.size(), 0));
  d.packs->settle(rb, PackLog::Outcome::kInDoubt, kToday);
  CHECK(d.read(rb.pack, rb.offset, b.size()) == b);
  // Neither is named by any row: only the first pack may go.
  auto removed =
      d.packs->remove_unused([] { return Result<std::set<int64_t>>(std::set<int64_t>{}); }, kToday);
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(d.packs->packs_on_disk() == std::set<int64_t>{rb.pack, rb.pack + 1});
}

TEST_CASE("a pack with a region not yet settled, or named by a row, is not removed") {
  PackDir d(1);
  const PackRegion pending = written(d, test_bytes(100, 16));
  const PackRegion named = written(d, test_bytes(100, 17));
  written(d, test_bytes(100, 18));
  d.packs->settle(named, PackLog::Outcome::kCommitted, kToday);
  auto removed = d.packs->remove_unused(
      [&] { return Result<std::set<int64_t>>(std::set<int64_t>{named.pack}); }, kToday);
  REQUIRE(removed);
  CHECK(*removed == 0);
  d.packs->settle(pending, PackLog::Outcome::kCommitted, kToday);
  removed = d.packs->remove_unused(
      [&] { return Result<std::set<int64_t>>(std::set<int64_t>{named.pack}); }, kToday);
  REQUIRE(removed);
  CHECK(*removed == 1);  // the first: settled, and no row names it
  CHECK(d.packs->packs_on_disk().count(named.pack) == 1);
}

TEST_CASE("recovery's keep_only frees what no row names and never extends a short pack") {
  PackDir d;
  const Bytes a = test_bytes(5000, 19), b = test_bytes(5000, 20);
  const PackRegion ra = written(d, a), rb = written(d, b);
  REQUIRE(ok(d.packs->sync({ra.pack}, kToday), ra.pack));
  auto whole = d.packs->keep_only(ra.pack, {{ra.offset, ra.length}}, kToday);
  REQUIRE(whole);
  CHECK(*whole);
  CHECK(file_size(d.packs->path(ra.pack)) == a.size());
  CHECK(d.read(ra.pack, 0, a.size()) == a);
  // A row naming bytes past the end (the disk lost them): reported, and the file not grown.
  whole = d.packs->keep_only(ra.pack, {{ra.offset, ra.length}, {rb.offset, rb.length}}, kToday);
  REQUIRE(whole);
  CHECK_FALSE(*whole);
  CHECK(file_size(d.packs->path(ra.pack)) == a.size());
  CHECK(d.read(ra.pack, 0, a.size()) == a);
}
