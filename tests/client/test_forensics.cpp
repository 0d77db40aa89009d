// Forensic test: after finalize, no byte of the profile or of $TMPDIR holds the testimony or the
// destroyed per-record key — raw, or in any page (live or free) of the database decrypted with
// the real key, or in any WAL frame.
#include <sodium.h>
#include <stdlib.h>

#include <catch2/catch_test_macros.hpp>
#include <filesystem>
#include <fstream>

#include "client_fixture.h"
#include "satchel/client/finalize.h"
#include "satchel/client/record_store.h"
#include "sqlcipher_pages.h"

using namespace satchel;
using namespace satchel::client;
using satchel::testing::TestProfile;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kCanary = "CANARY-7f3a9c1e-TESTIMONY";

Bytes file_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The canary as stored raw, as UTF-16LE, and as base64 at each of the three alignments.
std::vector<Bytes> needles(ByteView key) {
  std::vector<Bytes> out;
  out.emplace_back(kCanary.begin(), kCanary.end());
  Bytes u16;
  for (char c : kCanary) {
    u16.push_back(static_cast<uint8_t>(c));
    u16.push_back(0);
  }
  out.push_back(u16);
  for (int shift = 0; shift < 3; shift++) {
    std::string padded = std::string(static_cast<size_t>(shift), 'x') + std::string(kCanary);
    Bytes raw(padded.begin(), padded.end());
    std::string b64(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), raw.data(), raw.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    // Skip the characters that depend on the prefix; keep a long stable middle part.
    std::string middle = b64.substr(static_cast<size_t>(shift + 1) * 4 / 3 + 4, 16);
    out.emplace_back(middle.begin(), middle.end());
  }
  out.emplace_back(key.begin(), key.end());
  return out;
}

size_t hits(ByteView hay, const std::vector<Bytes>& needles) {
  size_t n = 0;
  for (const auto& needle : needles)
    if (std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end()) n++;
  return n;
}

SecretBytes database_key(const TestProfile& t) {
  return satchel::testing::profile_keys(t.home, t.passphrase).db_key.clone();
}

}  // namespace

TEST_CASE("after finalize no trace of the testimony or its key remains on disk",
          "[records][forensics]") {
  const fs::path tmp =
      fs::temp_directory_path() / ("satchel-forensic-tmp-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  const char* old_tmp = std::getenv("TMPDIR");
  ::setenv("TMPDIR", tmp.c_str(), 1);

  TestProfile t("forensic");
  Bytes record_key;
  {
    auto p = t.open();
    t.trust_all(p);
    RecordStore records(p);
    std::string narrative =
        "I was held for two days. " + std::string(kCanary) + " They took my phone.";
    auto id = records.create("intake", 1, {{"consent", true}, {"narrative", narrative}}).value();
    Bytes doc;
    for (int i = 0; i < 5000; i++) doc.insert(doc.end(), kCanary.begin(), kCanary.end());
    MemorySource src(doc);
    auto att = records.attach(id, src, doc.size(), "files", "statement.pdf", "document").value();
    auto answers = records.answers(id).value();
    answers["files"] = {att};
    REQUIRE(records.save_answers(id, answers).ok());
    uint32_t slot = 0;
    {
      auto st = p.db().prepare("SELECT key_slot FROM records WHERE record_id = ?1");
      st->bind(1, id);
      REQUIRE(st->step().value());
      slot = static_cast<uint32_t>(st->int64(0));
    }
    // Positive control: before finalize the key is readable (through the keyring), so the scan
    // below can see what it looks for; it is in no database page, decrypted or not.
    auto key = p.keyring().key(slot);
    REQUIRE(key.ok());
    record_key.assign(key->data(), key->data() + 32);
    size_t before = 0;
    for (const auto& page : testing::decrypt_database_pages(database_path(t.home), database_key(t)))
      before += hits(page, {record_key});
    CHECK(before == 0);
    REQUIRE(finalize_record(p, id, t.now).ok());
    CHECK(p.keyring().key(slot).code() == Errc::kNotFound);
  }
  const auto look_for = needles(record_key);

  // (a) Every byte of every file in the profile and in $TMPDIR, raw.
  size_t raw_hits = 0, files = 0;
  for (const fs::path& dir : {fs::path(t.home), tmp})
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) {
        files++;
        raw_hits += hits(file_bytes(e.path()), look_for);
      }
  CHECK(files >= 3);
  CHECK(raw_hits == 0);

  // (b) Every page of the database, live and free, decrypted with the real key; every WAL frame.
  const SecretBytes key = database_key(t);
  auto pages = testing::decrypt_database_pages(database_path(t.home), key);
  REQUIRE(pages.size() > 2);
  // Positive control: the decryption is right if the schema is legible (sqlite_master starts in
  // page 1 and, with enough tables, continues in others).
  bool schema_legible = false;
  for (const auto& page : pages)
    if (std::string_view(reinterpret_cast<const char*>(page.data()), page.size())
            .find("CREATE TABLE attachment_chunks") != std::string_view::npos)
      schema_legible = true;
  REQUIRE(schema_legible);
  size_t page_hits = 0;
  for (const auto& page : pages) page_hits += hits(page, look_for);
  CHECK(page_hits == 0);
  auto frames = testing::decrypt_wal_frames(database_path(t.home) + "-wal", key);
  size_t wal_hits = 0;
  for (const auto& frame : frames) wal_hits += hits(frame, look_for);
  CHECK(wal_hits == 0);

  if (old_tmp)
    ::setenv("TMPDIR", old_tmp, 1);
  else
    ::unsetenv("TMPDIR");
  fs::remove_all(tmp);
}
