// The key files and the chunk pool at the level of a crash or a power cut. Every state a disk
// can be left in by an interrupted keyslot replace (a sector written or not, in any order the
// drive chose, before the sync that orders the next step) opens with exactly one passphrase and
// leaves no older generation behind once opened; pool cells a crash left unnamed are reused.
#include <sodium.h>

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>

#include "client_fixture.h"
#include "profile/generation_file.h"

using namespace satchel;
using namespace satchel::client;
using satchel::testing::secret_of;
using satchel::testing::TestProfile;

namespace {

constexpr size_t kSector = 512;

Bytes read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const Bytes& b) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
bool opens(const std::string& home, const SecretBytes& pass) {
  return Profile::open(home, pass).ok();
}

}  // namespace

TEST_CASE(
    "a power cut anywhere in a keyslot replace leaves exactly one passphrase working and "
    "no older generation once opened",
    "[profile][crash]") {
  TestProfile t("powercut");
  const SecretBytes next = secret_of("the next passphrase, after the cut");
  const std::string path = keyslots_path(t.home);
  const Bytes before = read_all(path);
  {
    auto p = t.open();
    REQUIRE(p.change_passphrase(next).ok());
  }
  const Bytes after = read_all(path);
  REQUIRE(before.size() == GenerationFile::kFileSize);
  // A new file holds its generation in block 0; the replace wrote the next one into block 1
  // (step 1, synced) and then overwrote block 0 with random bytes (step 2, synced).
  const size_t old_block = 0, new_block = 4096;

  // Step 1 interrupted: any subset of the new block's sectors reached the disk; the old block is
  // intact. Sector masks over the 8 sectors, plus a write torn inside the first sector.
  std::vector<Bytes> states;
  for (unsigned mask = 0; mask < 256; mask += 17) {
    Bytes s = before;
    for (size_t k = 0; k < 8; k++)
      if (mask & (1u << k))
        std::copy(after.begin() + new_block + k * kSector,
                  after.begin() + new_block + (k + 1) * kSector,
                  s.begin() + new_block + k * kSector);
    states.push_back(s);
  }
  Bytes torn = before;
  std::copy(after.begin() + new_block, after.begin() + new_block + 200, torn.begin() + new_block);
  states.push_back(torn);
  // Step 2 interrupted: the new block complete; any subset of the old block's sectors
  // overwritten.
  for (unsigned mask = 0; mask < 256; mask += 15) {
    Bytes s = before;
    std::copy(after.begin() + new_block, after.begin() + new_block + 4096, s.begin() + new_block);
    for (size_t k = 0; k < 8; k++)
      if (mask & (1u << k))
        std::copy(after.begin() + old_block + k * kSector,
                  after.begin() + old_block + (k + 1) * kSector,
                  s.begin() + old_block + k * kSector);
    states.push_back(s);
  }

  size_t with_old = 0, with_new = 0;
  for (const Bytes& state : states) {
    write_all(path, state);
    // The new passphrase first: a successful open erases a stale older generation.
    const bool new_ok = opens(t.home, next);
    const bool old_ok = opens(t.home, t.passphrase);
    CHECK(old_ok != new_ok);  // exactly one
    with_old += old_ok;
    with_new += new_ok;
    // Once opened, the file holds one generation: the old generation's first sector (its slots
    // and secrets) survives only if the old passphrase is the one that works.
    const Bytes now = read_all(path);
    const bool old_gen_left = std::search(now.begin(), now.end(), before.begin() + old_block,
                                          before.begin() + old_block + kSector) != now.end();
    CHECK(old_gen_left == old_ok);
  }
  CHECK(with_old > 0);
  CHECK(with_new > 0);
}

TEST_CASE("a generation file with no valid generation is refused as damaged or wiped",
          "[profile][crash]") {
  TestProfile t("nogen");
  Bytes noise(GenerationFile::kFileSize);
  randombytes_buf(noise.data(), noise.size());
  write_all(keyslots_path(t.home), noise);
  auto p = Profile::open(t.home, t.passphrase);
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().message.find("damaged or wiped") != std::string::npos);
  // A short file too.
  std::filesystem::resize_file(keyslots_path(t.home), 4096);
  CHECK(Profile::open(t.home, t.passphrase).error().message.find("wrong size") !=
        std::string::npos);
}

TEST_CASE(
    "pool cells no committed row names are reused after the next open, so the pool grows "
    "only with what is held at once",
    "[records][pool]") {
  TestProfile t("pool");
  const Bytes chunk(ChunkPool::kCellSize, 0x5a);
  uint64_t first = 0;
  {
    auto p = t.open();
    // What a crash mid-attach leaves: chunks written, no row committed.
    for (int i = 0; i < 3; i++) {
      auto c = p.pool().put(chunk);
      REQUIRE(c.ok());
      if (i == 0) first = *c;
    }
    CHECK(p.pool().cells() == ChunkPool::kGrowCells);  // grown once, by a whole step
  }
  const auto size = std::filesystem::file_size(pool_path(t.home));
  CHECK(size == ChunkPool::kGrowCells * ChunkPool::kCellSize);
  auto p = t.open();
  auto again = p.pool().put(chunk);
  REQUIRE(again.ok());
  CHECK(*again == first);  // free again: no row named it
  CHECK(std::filesystem::file_size(pool_path(t.home)) == size);
}
