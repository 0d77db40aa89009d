// What a seized disk shows (issue 14, findings 8 and 9). "Link" as tested here: one file of the
// storage directory (relay.db, tokens.db, their WALs, packs, data files) that holds both a
// credential (an upload token's hash, an enrollment code's hash, or the token/code id) and an
// upload id. Token rows live in tokens.db with a WAL of its own, so no WAL holds a token's
// insertion in commit order with the uploads that followed it. File times: data files keep only
// the day in their access and modification times, also after a PATCH completes them.
#include <fcntl.h>
#include <sys/stat.h>
#include <catch2/catch_test_macros.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "relay_harness.h"
#include "satchel/relay/credentials.h"
#include "satchel/sqlite/connection.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool holds(const std::string& file, std::string_view probe) {
  return file.find(probe) != std::string::npos;
}

std::string_view bytes_of(const Hash32& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

// What a device's enrollment leaves a reader could recognise: the code's and token's hashes
// and the id they share (known to the coordinator who minted the code).
struct Enrolled {
  std::string token;
  std::string token_id;
  Hash32 code_hash{};
  Hash32 token_hash{};
};

Enrolled enroll(TestRelay& relay, const std::string& mailbox) {
  const std::string code = relay.mint_code(mailbox);
  auto res = relay.redeem(code);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const auto body = nlohmann::json::parse(res->body);
  Enrolled e;
  e.token = body["token"].get<std::string>();
  e.token_id = body["token_id"].get<std::string>();
  e.code_hash = enrollment_code_hash(code).value();
  e.token_hash = bearer_token_hash(e.token).value();
  return e;
}

// Access and modification times of `path` (statx), and whether its birth time is known.
struct FileTimes {
  int64_t atime = 0;
  int64_t mtime = 0;
};

FileTimes times_of(const std::string& path) {
  struct statx sx {};
  REQUIRE(::statx(AT_FDCWD, path.c_str(), 0, STATX_ATIME | STATX_MTIME, &sx) == 0);
  return FileTimes{sx.stx_atime.tv_sec, sx.stx_mtime.tv_sec};
}

}  // namespace

TEST_CASE("no file of a seized relay holds both a token or enrollment and an upload id") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  std::vector<Enrolled> devices;
  std::vector<Hash32> uploads;
  // Enrollments and uploads interleaved, as a coordinator handing out codes would see them:
  // each device uploads a small bundle (pack) and a large one by creation then PATCH (file).
  for (uint32_t i = 0; i < 4; i++) {
    devices.push_back(enroll(relay, mailbox));
    auto c = relay.client();
    const Bytes small = test_bytes(3000 + i, 100 + i);
    REQUIRE(tus_upload_whole(*c, devices.back().token, small)->status == 201);
    uploads.push_back(sha256_of(small));
    const Bytes large = test_bytes(300'000 + i, 200 + i);
    const Hash32 id = sha256_of(large);
    REQUIRE(tus_create(*c, devices.back().token, id, large.size()) == 201);
    REQUIRE(tus_patch(*c, devices.back().token, id, 0, body_of(large))->status == 204);
    uploads.push_back(id);
  }
  // Read while serving: the WALs are as a seizure of the running machine finds them (closing
  // the last connection would checkpoint and delete them).
  bool some_credential = false, some_upload = false;
  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(relay.config.storage)) {
    if (!e.is_regular_file()) continue;
    files++;
    const std::string text = read_all(e.path());
    bool credential = false, upload = false;
    for (const Enrolled& d : devices)
      credential = credential || holds(text, bytes_of(d.token_hash)) ||
                   holds(text, bytes_of(d.code_hash)) || holds(text, d.token_id);
    for (const Hash32& id : uploads) upload = upload || holds(text, bytes_of(id));
    INFO(e.path().string());
    CHECK_FALSE((credential && upload));
    some_credential = some_credential || credential;
    some_upload = some_upload || upload;
    const std::string name = e.path().filename().string();
    if (name == "relay.db" || name == "relay.db-wal") CHECK_FALSE(credential);
    if (name == "tokens.db" || name == "tokens.db-wal") CHECK_FALSE(upload);
  }
  CHECK(files >= 4);
  // The probes find what they look for: the credentials are on disk, only elsewhere.
  CHECK(some_credential);
  CHECK(some_upload);
  // Every device still authenticates.
  for (const Enrolled& d : devices)
    CHECK(tus_head(*relay.client(), d.token, uploads.front())->status == 200);
}

TEST_CASE("tokens and codes of a relay.db made before tokens.db move there and leave relay.db") {
  TempDir dir("migrate");
  std::filesystem::create_directories(dir.path);
  TestOrganisation org(1);
  const std::string mailbox = org.mailbox_id();
  Hash32 token_hash{}, code_hash{};
  for (size_t i = 0; i < token_hash.size(); i++) {
    token_hash[i] = static_cast<uint8_t>(0xA0 + i);
    code_hash[i] = static_cast<uint8_t>(0x30 + i);
  }
  {
    // The credential tables as an earlier version made them (codes without a minter column).
    auto c = sqlite::Connection::open(dir.path + "/relay.db",
                                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "old relay.db");
    REQUIRE(c);
    REQUIRE(
        c->exec("CREATE TABLE tokens (hash BLOB PRIMARY KEY, mailbox_id TEXT NOT NULL, "
                "token_id TEXT NOT NULL) WITHOUT ROWID;"
                "CREATE TABLE enrollment_codes (hash BLOB PRIMARY KEY, mailbox_id TEXT NOT NULL, "
                "code_id TEXT NOT NULL, expires_hour INTEGER NOT NULL) WITHOUT ROWID;"));
    auto t = c->prepare("INSERT INTO tokens VALUES (?1, ?2, 'aaaaaaaaaaaaaaaa')");
    REQUIRE(t);
    t->bind_blob(1, token_hash).bind(2, mailbox);
    REQUIRE(t->run());
    t = sqlite::Statement();
    auto k = c->prepare("INSERT INTO enrollment_codes VALUES (?1, ?2, 'bbbbbbbbbbbbbbbb', ?3)");
    REQUIRE(k);
    k->bind_blob(1, code_hash).bind(2, mailbox).bind(3, int64_t{1'000'000});
    REQUIRE(k->run());
  }
  {
    EmbeddedStoreOptions o;
    o.log = [](std::string_view) {};
    auto store = EmbeddedRelayStore::open(dir.path, 20'400, o);
    REQUIRE(store);
    REQUIRE((*store)->put_mailbox(org.record(), org.keys()));
    auto t = (*store)->token(token_hash);
    REQUIRE(t);
    REQUIRE(t->has_value());
    CHECK((*t)->token_id == "aaaaaaaaaaaaaaaa");
    Hash32 new_token{};
    new_token.fill(0x55);
    auto redeemed = (*store)->redeem_enrollment_code(code_hash, 3600, new_token);
    REQUIRE(redeemed);
    CHECK(redeemed->token_id == "bbbbbbbbbbbbbbbb");
    auto ids = (*store)->token_ids(mailbox);
    REQUIRE(ids);
    CHECK(ids->size() == 2);
  }
  // Opened again (the copy is idempotent), relay.db holds neither table nor their bytes.
  {
    EmbeddedStoreOptions o;
    o.log = [](std::string_view) {};
    auto store = EmbeddedRelayStore::open(dir.path, 20'400, o);
    REQUIRE(store);
    auto ids = (*store)->token_ids(mailbox);
    REQUIRE(ids);
    CHECK(ids->size() == 2);
  }
  const std::string relay_db = read_all(dir.path + "/relay.db");
  CHECK_FALSE(holds(relay_db, bytes_of(token_hash)));
  CHECK_FALSE(holds(relay_db, bytes_of(code_hash)));
  CHECK_FALSE(holds(relay_db, "aaaaaaaaaaaaaaaa"));
  CHECK(holds(read_all(dir.path + "/tokens.db"), bytes_of(token_hash)));
}

TEST_CASE("a relay.db whose tokens.db is missing refuses to open, naming the file") {
  TempDir dir("missing-tokens");
  std::filesystem::create_directories(dir.path);
  EmbeddedStoreOptions o;
  o.log = [](std::string_view) {};
  REQUIRE(EmbeddedRelayStore::open(dir.path, 20'400, o));
  // relay.db restored or moved without tokens.db: an empty one would refuse every device.
  for (const char* f : {"/tokens.db", "/tokens.db-wal", "/tokens.db-shm"})
    std::filesystem::remove(dir.path + f);
  auto again = EmbeddedRelayStore::open(dir.path, 20'400, o);
  REQUIRE_FALSE(again);
  CHECK(again.error().message.find("tokens.db is missing") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path + "/tokens.db"));
}

TEST_CASE("an upload completed by PATCH keeps only the day in its access and modification times") {
  TestRelay relay;
  TestOrganisation org(1);
  const std::string mailbox = relay.add_mailbox(org);
  const std::string token = relay.device_token(mailbox);
  auto c = relay.client();
  const Bytes data = test_bytes(400'000, 9);
  const Hash32 id = sha256_of(data);
  REQUIRE(tus_create(*c, token, id, data.size()) == 201);
  REQUIRE(
      tus_patch(*c, token, id, 0, body_of(Bytes(data.begin(), data.begin() + 100'000)))->status ==
      204);
  REQUIRE(tus_patch(*c, token, id, 100'000, body_of(Bytes(data.begin() + 100'000, data.end())))
              ->status == 204);
  const int64_t midnight = relay.clock.today() * kSecondsPerDay;
  const FileTimes t = times_of(relay.store->stored_path(mailbox, id));
  CHECK(t.atime == midnight);
  CHECK(t.mtime == midnight);
  // A coordinator's download opens it with O_NOATIME: still the day.
  const std::string s = relay.coordinator_session(org.coordinators[0], mailbox);
  auto got = c->Get("/v1/coordinator/uploads/" + to_hex(id), bearer(s));
  REQUIRE(got);
  REQUIRE(got->status == 200);
  CHECK(times_of(relay.store->stored_path(mailbox, id)).atime == midnight);
}

TEST_CASE("a start deletes codes whose minter the stored registration no longer lists") {
  TempDir dir("reconcile");
  TestOrganisation org(2);
  const std::string mailbox = org.mailbox_id();
  const Key32 removed = org.keys()[1];
  Hash32 code_hash{};
  code_hash.fill(0x42);
  EmbeddedStoreOptions o;
  o.log = [](std::string_view) {};
  {
    auto store = EmbeddedRelayStore::open(dir.path, 20'400, o);
    REQUIRE(store);
    REQUIRE((*store)->put_mailbox(org.record(1), org.keys()));
    REQUIRE((*store)->add_enrollment_code(
        EnrollmentCodeRecord{code_hash, mailbox, "cccccccccccccccc", 3600 * 1000, removed, 1}));
    // What a crash between relay.db's commit and tokens.db's leaves: registration 2 (without
    // the second coordinator) stored, the codes it minted not deleted.
    const std::vector<Key32> before = org.keys();
    org.coordinators.pop_back();
    REQUIRE((*store)->put_mailbox(org.record(2), before));
  }
  auto store = EmbeddedRelayStore::open(dir.path, 20'400, o);
  REQUIRE(store);
  Hash32 token{};
  token.fill(0x43);
  auto redeemed = (*store)->redeem_enrollment_code(code_hash, 3600, token);
  REQUIRE_FALSE(redeemed);
  CHECK(redeemed.code() == Errc::kNotFound);
}
