// The encrypted profile: keyslot generations, passphrase change, rekey, the v1 upgrade, raw
// keying, file layout, and what opening leaves in the directory.
#include <sodium.h>

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <sys/stat.h>

#include "client_fixture.h"
#include "profile/generation_file.h"
#include "satchel/client/keyslots.h"
#include "satchel/client/passphrase.h"

using namespace satchel;
using namespace satchel::client;
using satchel::testing::secret_of;
using satchel::testing::TestProfile;

namespace {
Bytes file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_CASE("a profile opens with its passphrase and refuses a wrong one without changing files",
          "[profile]") {
  TestProfile t("open");
  { auto p = t.open(); }
  const Bytes slots = file_bytes(keyslots_path(t.home));
  const Bytes db = file_bytes(database_path(t.home));
  auto wrong = Profile::open(t.home, secret_of("not the passphrase"));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message == "wrong passphrase");
  CHECK(file_bytes(keyslots_path(t.home)) == slots);
  CHECK(file_bytes(database_path(t.home)) == db);
}

TEST_CASE("the keyslot file is two blocks holding one generation with two slots that look alike",
          "[profile]") {
  TestProfile t("slots");
  const Bytes file = file_bytes(keyslots_path(t.home));
  REQUIRE(file.size() == GenerationFile::kFileSize);
  CHECK_FALSE(std::filesystem::exists(wipe_key_path(t.home)));
  auto g = GenerationFile::open(keyslots_path(t.home), kKeySlotFileDomain, kKeySlotPayloadSize);
  REQUIRE(g.ok());
  const uint8_t* p = g->payload().data();
  // Both slots carry the same Argon2id parameters; the rest of slot 1 is random.
  CHECK(std::equal(p + 16, p + 24, p + kKeySlotSize + 16));
  CHECK_FALSE(std::equal(p, p + 16, p + kKeySlotSize));
}

TEST_CASE(
    "overwriting the keyslot file in place makes the profile unrecoverable even with the "
    "passphrase",
    "[profile]") {
  TestProfile t("wipe");
  {
    std::fstream f(keyslots_path(t.home), std::ios::binary | std::ios::in | std::ios::out);
    Bytes junk(GenerationFile::kFileSize, 0x5a);
    f.write(reinterpret_cast<const char*>(junk.data()), static_cast<std::streamsize>(junk.size()));
  }
  auto p = Profile::open(t.home, t.passphrase);
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().message.find("no valid key generation") != std::string::npos);
}

TEST_CASE("the database file starts with random bytes, not an SQLite header", "[profile]") {
  TestProfile t("header");
  const Bytes db = file_bytes(database_path(t.home));
  REQUIRE(db.size() >= 16);
  CHECK(std::string(db.begin(), db.begin() + 15) != "SQLite format 3");
  TestProfile u("header2");
  CHECK(!std::equal(db.begin(), db.begin() + 16, file_bytes(database_path(u.home)).begin()));
}

TEST_CASE("the database key is used raw: PBKDF2 settings do not matter", "[profile]") {
  TestProfile t("raw");
  const SecretBytes key = satchel::testing::profile_keys(t.home, t.passphrase).db_key.clone();
  // With a passphrase-style key SQLCipher would run PBKDF2 with kdf_iter; a raw key ignores it.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(database_path(t.home).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) ==
          SQLITE_OK);
  SecretBytes k = sqlcipher_raw_key(key);
  REQUIRE(sqlite3_key_v2(db, "main", k.data(), static_cast<int>(k.size() - 1)) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA kdf_iter = 1", nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "SELECT count(*) FROM settings", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  // The same 64 hex digits as a passphrase (no x'' wrapper) do not open it.
  REQUIRE(sqlite3_open_v2(database_path(t.home).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_key_v2(db, "main", k.data() + 2, 64) == SQLITE_OK);
  sqlite3_exec(db, "PRAGMA cipher_log_level = NONE", nullptr, nullptr, nullptr);
  CHECK(sqlite3_exec(db, "SELECT count(*) FROM settings", nullptr, nullptr, nullptr) != SQLITE_OK);
  sqlite3_close(db);
}

namespace {
// Whether `needle` occurs anywhere in `hay`.
bool contains(const Bytes& hay, ByteView needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}
ino_t inode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}
}  // namespace

TEST_CASE("changing the passphrase replaces the keyslot generation in place and no old slot opens",
          "[profile]") {
  TestProfile t("pass");
  const Bytes db_before = file_bytes(database_path(t.home));
  const ino_t inode = inode_of(keyslots_path(t.home));
  auto old = GenerationFile::open(keyslots_path(t.home), kKeySlotFileDomain, kKeySlotPayloadSize);
  REQUIRE(old.ok());
  const SecretBytes old_payload = old->payload().clone();
  {
    auto p = t.open();
    REQUIRE(p.change_passphrase(secret_of("a brand new passphrase")).ok());
  }
  CHECK(file_bytes(database_path(t.home)) == db_before);
  CHECK(inode_of(keyslots_path(t.home)) == inode);  // overwritten in place, never renamed
  CHECK(Profile::open(t.home, t.passphrase).code() == Errc::kInvalidArgument);
  CHECK(Profile::open(t.home, secret_of("a brand new passphrase")).ok());
  // Nothing of the old slot 0 or its secret is left in the file.
  const Bytes now = file_bytes(keyslots_path(t.home));
  CHECK_FALSE(contains(now, ByteView(old_payload.data(), kKeySlotSize)));
  CHECK_FALSE(contains(now, ByteView(old_payload.data() + 2 * kKeySlotSize, 32)));
  // Slot 1 and its secret (a duress passphrase's, unknown here) are kept as they were.
  CHECK(contains(now, ByteView(old_payload.data() + kKeySlotSize, kKeySlotSize)));
  // An old slot 0 that survived somewhere (a backup, flash) no longer opens: its secret is gone.
  auto fresh = GenerationFile::open(keyslots_path(t.home), kKeySlotFileDomain, kKeySlotPayloadSize);
  REQUIRE(fresh.ok());
  SecretBytes mixed = fresh->payload().clone();
  std::copy(old_payload.data(), old_payload.data() + kKeySlotSize, mixed.data());
  CHECK(unlock_keyslots(mixed, t.passphrase).code() == Errc::kInvalidArgument);
  CHECK(unlock_keyslots(old_payload, t.passphrase).ok());  // control: the copy itself opened
}

TEST_CASE("an interrupted keyslot replace opens with the newer generation and erases the older",
          "[profile]") {
  TestProfile t("pass-crash");
  const Bytes before = file_bytes(keyslots_path(t.home));
  {
    auto p = t.open();
    REQUIRE(p.change_passphrase(secret_of("a brand new passphrase")).ok());
  }
  const Bytes after = file_bytes(keyslots_path(t.home));
  // Which block holds each generation: the one that changed holds the new one.
  const bool new_in_1 = !std::equal(before.begin() + 4096, before.end(), after.begin() + 4096);
  // The crash: the new generation written and synced, the old one not yet erased.
  Bytes both = new_in_1 ? before : after;
  const Bytes& src = new_in_1 ? after : before;
  std::copy(src.begin() + 4096, src.end(), both.begin() + 4096);
  {
    std::fstream f(keyslots_path(t.home), std::ios::binary | std::ios::in | std::ios::out);
    f.write(reinterpret_cast<const char*>(both.data()), static_cast<std::streamsize>(both.size()));
  }
  // A wrong passphrase (here the old one) changes nothing, not even the stale generation: the
  // block check is not keyed, so only a generation that opens may erase another.
  CHECK(Profile::open(t.home, t.passphrase).code() == Errc::kInvalidArgument);
  CHECK(file_bytes(keyslots_path(t.home)) == both);
  CHECK(Profile::open(t.home, secret_of("a brand new passphrase")).ok());
  const Bytes erased = file_bytes(keyslots_path(t.home));
  const size_t old_block = new_in_1 ? 0 : 4096;
  CHECK_FALSE(std::equal(before.begin() + old_block, before.begin() + old_block + 4096,
                         erased.begin() + old_block));
}

TEST_CASE("rekey re-encrypts the database under a new key and keeps its contents", "[profile]") {
  TestProfile t("rekey");
  const Bytes db_before = file_bytes(database_path(t.home));
  DevicePublicKey dev_before;
  {
    auto p = t.open();
    t.trust_all(p);
    dev_before = p.device_key().value().public_key();
    REQUIRE(p.rekey(t.passphrase).ok());
    CHECK(p.device_key().value().public_key() == dev_before);
    CHECK_FALSE(std::filesystem::exists(database_path(t.home) + ".new"));
    CHECK_FALSE(std::filesystem::exists(database_path(t.home) + ".new-wal"));
  }
  auto again = Profile::open(t.home, t.passphrase);
  REQUIRE(again.ok());
  CHECK(again->device_key().value().public_key() == dev_before);
  client::TrustStore trust(*again);
  CHECK(trust.form("intake").ok());
  const Bytes db_after = file_bytes(database_path(t.home));
  CHECK(!std::equal(db_before.begin(), db_before.begin() + 16, db_after.begin()));
}

TEST_CASE("a rekey interrupted after the keyslot was replaced completes on the next open",
          "[profile]") {
  TestProfile t("rekey-crash");
  {
    auto p = t.open();
    t.trust_all(p);
    // Simulate: the new file written and the keyslot replaced, then a crash before the swap.
    ProfileKeys next = satchel::testing::profile_keys(t.home, t.passphrase);
    randombytes_buf(next.db_key.data(), 32);
    Status exported = p.db().export_to(database_path(t.home) + ".new", next.db_key);
    INFO(exported.error().message);
    REQUIRE(exported.ok());
    auto file =
        GenerationFile::open(keyslots_path(t.home), kKeySlotFileDomain, kKeySlotPayloadSize);
    REQUIRE(file.ok());
    auto slots = rewrap_keyslot(file->payload(), 0, t.passphrase, next, kArgon2Floor);
    REQUIRE(slots.ok());
    REQUIRE(file->replace(*slots).ok());
  }
  auto p = Profile::open(t.home, t.passphrase);
  REQUIRE(p.ok());
  CHECK_FALSE(std::filesystem::exists(database_path(t.home) + ".new"));
  client::TrustStore trust(*p);
  CHECK(trust.form("intake").ok());
}

TEST_CASE("rekey leaves no keyslot that opens the old database key", "[profile]") {
  TestProfile t("rekey-past");
  const SecretBytes old_db = satchel::testing::profile_keys(t.home, t.passphrase).db_key.clone();
  const Bytes before = file_bytes(keyslots_path(t.home));
  {
    auto p = t.open();
    REQUIRE(p.rekey(t.passphrase).ok());
  }
  ProfileKeys now = satchel::testing::profile_keys(t.home, t.passphrase);
  CHECK_FALSE(now.db_key.equals(old_db.span()));
  const Bytes after = file_bytes(keyslots_path(t.home));
  // The generation that wrapped the old key was overwritten, block and all.
  for (size_t block : {size_t{0}, size_t{4096}})
    CHECK_FALSE((contains(after, ByteView(before.data() + block + 8, kKeySlotSize)) &&
                 contains(after, ByteView(before.data() + block + 8 + 2 * kKeySlotSize, 32))));
}

namespace {
// Writes a version-1 profile (192-byte keyslots, 32-byte wipe.key) around a database key, as
// version 1 of Satchel did: schema/client-database.md, "Upgrade from v1".
void write_v1_profile(const std::string& home, const SecretBytes& passphrase,
                      const SecretBytes& db_key) {
  std::filesystem::create_directories(home);
  SecretBytes wipe(32);
  randombytes_buf(wipe.data(), 32);
  Bytes file(kV1KeySlotFileSize);
  randombytes_buf(file.data(), file.size());
  for (size_t slot : {size_t{0}, size_t{96}}) {
    uint8_t* s = file.data() + slot;
    const uint32_t passes = kArgon2Floor.passes, mem = kArgon2Floor.memory_kib;
    for (int i = 0; i < 4; i++) {
      s[16 + i] = static_cast<uint8_t>(passes >> (8 * i));
      s[20 + i] = static_cast<uint8_t>(mem >> (8 * i));
    }
  }
  uint8_t stretched[32], key[32];
  REQUIRE(crypto_pwhash(stretched, 32, reinterpret_cast<const char*>(passphrase.data()),
                        passphrase.size(), file.data(), kArgon2Floor.passes,
                        size_t{kArgon2Floor.memory_kib} * 1024, crypto_pwhash_ALG_ARGON2ID13) == 0);
  const std::string domain = "satchel keyslot v1";
  crypto_generichash_state st;
  crypto_generichash_init(&st, wipe.data(), 32, 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(domain.data()), domain.size());
  crypto_generichash_update(&st, stretched, 32);
  crypto_generichash_final(&st, key, 32);
  Bytes ad(domain.begin(), domain.end());
  ad.push_back(0);
  ad.insert(ad.end(), file.begin(), file.begin() + 24);
  crypto_aead_xchacha20poly1305_ietf_encrypt(file.data() + 48, nullptr, db_key.data(), 32,
                                             ad.data(), ad.size(), nullptr, file.data() + 24, key);
  std::ofstream(keyslots_path(home), std::ios::binary)
      .write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
  std::ofstream(wipe_key_path(home), std::ios::binary)
      .write(reinterpret_cast<const char*>(wipe.data()), 32);
}
}  // namespace

TEST_CASE("a version-1 profile is upgraded in place on its first unlock and keeps its contents",
          "[profile]") {
  TestProfile t("v1");
  SecretBytes db_key = satchel::testing::profile_keys(t.home, t.passphrase).db_key.clone();
  DevicePublicKey device = t.open().device_key().value().public_key();
  // Turn the profile back into version 1: its database, a v1 keyslot file and wipe.key.
  std::filesystem::remove(keyslots_path(t.home));
  std::filesystem::remove(keyring_path(t.home));
  write_v1_profile(t.home, t.passphrase, db_key);
  const Bytes v1 = file_bytes(keyslots_path(t.home));
  CHECK(Profile::open(t.home, secret_of("not the passphrase")).code() == Errc::kInvalidArgument);
  CHECK(file_bytes(keyslots_path(t.home)) == v1);  // a wrong passphrase upgrades nothing
  {
    auto p = t.open();
    CHECK(p.device_key().value().public_key() == device);
  }
  CHECK_FALSE(std::filesystem::exists(wipe_key_path(t.home)));
  CHECK(std::filesystem::exists(keyring_path(t.home)));
  const Bytes v2 = file_bytes(keyslots_path(t.home));
  CHECK(v2.size() == GenerationFile::kFileSize);
  CHECK_FALSE(contains(v2, ByteView(v1.data(), 96)));
  CHECK_FALSE(contains(v2, ByteView(v1.data() + 96, 96)));
  CHECK(t.open().device_key().value().public_key() == device);
}

TEST_CASE("a second process cannot open a profile that is open", "[profile]") {
  TestProfile t("busy");
  auto p = t.open();
  auto second = Profile::open(t.home, t.passphrase);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message == "the profile is in use by another satchel process");
}

TEST_CASE("opening and reading a profile creates, removes and writes no file", "[profile]") {
  TestProfile t("quiet");
  { auto p = t.open(); }
  // Each entry's name, size and modification time, and the directory's.
  auto snapshot = [&] {
    std::map<std::string, std::pair<uintmax_t, std::pair<time_t, long>>> out;
    for (const auto& e : std::filesystem::directory_iterator(t.home)) {
      struct stat st {};
      REQUIRE(::stat(e.path().c_str(), &st) == 0);
      out[e.path().filename().string()] = {static_cast<uintmax_t>(st.st_size),
                                           {st.st_mtim.tv_sec, st.st_mtim.tv_nsec}};
    }
    struct stat dir {};
    REQUIRE(::stat(t.home.c_str(), &dir) == 0);
    out["."] = {0, {dir.st_mtim.tv_sec, dir.st_mtim.tv_nsec}};
    return out;
  };
  const auto before = snapshot();
  CHECK(before.count("data.db-shm") == 0);
  CHECK(before.count("data.db-wal") == 0);
  for (int i = 0; i < 3; i++) {
    auto p = t.open();
    REQUIRE(p.device_key().ok());
    CHECK(snapshot() == before);
  }
  CHECK(snapshot() == before);
  // Every file of the profile is private, the journal SQLite creates included.
  for (const auto& e : std::filesystem::directory_iterator(t.home)) {
    struct stat st {};
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    INFO(e.path().string());
    CHECK((st.st_mode & 0777) == 0600);
  }
}

TEST_CASE("weak passphrases are refused and generated ones are strong", "[profile][passphrase]") {
  for (const char* weak :
       {"password123", "Summer2026!", "letmein", "qwertyuiop", "correcthorse", "iloveyou2026"}) {
    INFO(weak);
    CHECK_FALSE(check_passphrase_strength(secret_of(weak)).ok());
  }
  for (int i = 0; i < 20; i++) CHECK(check_passphrase_strength(generate_diceware(6)).ok());
  SecretBytes words = generate_diceware(6);
  CHECK(std::count(words.data(), words.data() + words.size(), ' ') == 5);
}

TEST_CASE("sequence numbers start at a random offset and increase", "[profile]") {
  TestProfile t("seq"), u("seq2");
  auto p = t.open();
  auto q = u.open();
  uint64_t a = p.take_sequence().value(), b = p.take_sequence().value();
  CHECK(b == a + 1);
  CHECK(q.take_sequence().value() != a);  // 1 in 2^32 chance of a false failure
}
