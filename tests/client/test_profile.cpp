// The encrypted profile: keyslots, passphrase change, rekey, raw keying, file layout.
#include <sodium.h>

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>

#include "client_fixture.h"
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

TEST_CASE("the keyslot file is fixed-size with two slots that look alike", "[profile]") {
  TestProfile t("slots");
  const Bytes slots = file_bytes(keyslots_path(t.home));
  REQUIRE(slots.size() == kKeySlotFileSize);
  // Both slots carry the same Argon2id parameters; the rest of slot 1 is random.
  CHECK(std::equal(slots.begin() + 16, slots.begin() + 24, slots.begin() + kKeySlotSize + 16));
  CHECK_FALSE(std::equal(slots.begin(), slots.begin() + 16, slots.begin() + kKeySlotSize));
}

TEST_CASE("destroying the wipe key makes the profile unrecoverable even with the passphrase",
          "[profile]") {
  TestProfile t("wipe");
  {
    std::ofstream f(wipe_key_path(t.home), std::ios::binary | std::ios::trunc);
    Bytes junk(32, 0x5a);
    f.write(reinterpret_cast<const char*>(junk.data()), 32);
  }
  CHECK(Profile::open(t.home, t.passphrase).code() == Errc::kInvalidArgument);
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
  auto key = unlock_keyslots(file_bytes(keyslots_path(t.home)), t.passphrase, [&] {
    SecretBytes w(32);
    Bytes b = file_bytes(wipe_key_path(t.home));
    std::copy(b.begin(), b.end(), w.data());
    return w;
  }());
  REQUIRE(key.ok());
  // With a passphrase-style key SQLCipher would run PBKDF2 with kdf_iter; a raw key ignores it.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(database_path(t.home).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) ==
          SQLITE_OK);
  SecretBytes k = sqlcipher_raw_key(*key);
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

TEST_CASE("changing the passphrase rewraps the keyslot only", "[profile]") {
  TestProfile t("pass");
  const Bytes db_before = file_bytes(database_path(t.home));
  {
    auto p = t.open();
    REQUIRE(p.change_passphrase(secret_of("a brand new passphrase")).ok());
  }
  CHECK(file_bytes(database_path(t.home)) == db_before);
  CHECK(Profile::open(t.home, t.passphrase).code() == Errc::kInvalidArgument);
  CHECK(Profile::open(t.home, secret_of("a brand new passphrase")).ok());
}

TEST_CASE("rekey re-encrypts the database under a new key and keeps its contents", "[profile]") {
  TestProfile t("rekey");
  auto p = t.open();
  t.trust_all(p);
  auto dev_before = p.device_key().value().public_key();
  const Bytes db_before = file_bytes(database_path(t.home));
  REQUIRE(p.rekey(t.passphrase).ok());
  CHECK(p.device_key().value().public_key() == dev_before);
  CHECK_FALSE(std::filesystem::exists(database_path(t.home) + ".new"));
  auto again = Profile::open(t.home, t.passphrase);
  REQUIRE(again.ok());
  CHECK(again->device_key().value().public_key() == dev_before);
  client::TrustStore trust(*again);
  CHECK(trust.form("intake").ok());
  const Bytes db_after = file_bytes(database_path(t.home));
  CHECK(!std::equal(db_before.begin(), db_before.begin() + 16, db_after.begin()));
}

TEST_CASE("a rekey interrupted after the keyslot was rewrapped completes on the next open",
          "[profile]") {
  TestProfile t("rekey-crash");
  SecretBytes wipe(32);
  Bytes wb = file_bytes(wipe_key_path(t.home));
  std::copy(wb.begin(), wb.end(), wipe.data());
  {
    auto p = t.open();
    t.trust_all(p);
    // Simulate: the new file written and the keyslot rewrapped, then a crash before the swap.
    SecretBytes new_key(32);
    randombytes_buf(new_key.data(), 32);
    REQUIRE(p.db().checkpoint_truncate().ok());
    Status exported = p.db().export_to(database_path(t.home) + ".new", new_key);
    INFO(exported.error().message);
    REQUIRE(exported.ok());
    auto slots = rewrap_keyslot(file_bytes(keyslots_path(t.home)), 0, t.passphrase, wipe, new_key,
                                kArgon2Floor);
    REQUIRE(slots.ok());
    REQUIRE(write_file_atomic(keyslots_path(t.home), *slots, 0600).ok());
  }
  auto p = Profile::open(t.home, t.passphrase);
  REQUIRE(p.ok());
  CHECK_FALSE(std::filesystem::exists(database_path(t.home) + ".new"));
  client::TrustStore trust(*p);
  CHECK(trust.form("intake").ok());
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
