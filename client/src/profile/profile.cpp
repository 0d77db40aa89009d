#include "satchel/client/profile.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include "profile/disk_file.h"
#include "profile/generation_file.h"
#include "profile/legacy_rows.h"
#include "profile/little_endian.h"

namespace satchel::client {
namespace fs = std::filesystem;

std::string keyslots_path(const std::string& home) {
  return home + "/keyslots";
}
std::string keyring_path(const std::string& home) {
  return home + "/keyring";
}
std::string pool_path(const std::string& home) {
  return home + "/pool";
}
std::string database_path(const std::string& home) {
  return home + "/data.db";
}
std::string wipe_key_path(const std::string& home) {
  return home + "/wipe.key";
}

std::string default_profile_home() {
  if (const char* h = std::getenv("SATCHEL_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/fieldnotes";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/fieldnotes";
}

std::string default_coordinator_home() {
  if (const char* h = std::getenv("SATCHEL_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/notebook";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/notebook";
}

std::string default_organisation_home() {
  if (const char* h = std::getenv("SATCHEL_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/ledger";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/ledger";
}

const char* profile_kind_name(ProfileKind kind) {
  switch (kind) {
    case ProfileKind::kCoordinator:
      return "coordinator";
    case ProfileKind::kOrganisation:
      return "organisation";
    case ProfileKind::kField:
      break;
  }
  return "field";
}

Status shred_file(const std::string& path) {
  auto file = DiskFile::open(path);
  if (!file) return file.error().code == Errc::kNotFound ? Status::Ok() : Status(file.error());
  auto size = file->size();
  if (!size) return size.error();
  SATCHEL_TRY(file->randomize(0, *size));
  SATCHEL_TRY(file->sync());
  if (::unlink(path.c_str()) != 0) return errno_error("cannot remove", path);
  return Status::Ok();
}

namespace {

// Whether path names anything (a dangling or looping symlink included), without throwing.
bool present(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

Result<SecretBytes> read_secret_file(const std::string& path, size_t size) {
  auto file = DiskFile::open(path);
  if (!file) return file.error();
  auto actual = file->size();
  if (!actual) return actual.error();
  if (*actual != size)
    return make_error(Errc::kIoError, path + " has the wrong size (damaged or wiped profile)");
  SecretBytes out(size);
  SATCHEL_TRY(file->read_at(0, out.span()));
  return out;
}

// Replaces the old database (shredded, with its journal) by the rekeyed copy. The copy's own
// journal belongs to committed transactions only (its header is zeroed): shredded too. A WAL
// left by a profile from before the persistent journal is shredded as well.
Status finish_swap(const std::string& home) {
  const std::string path = database_path(home), fresh = path + ".new";
  SATCHEL_TRY(shred_file(path + "-journal"));
  SATCHEL_TRY(shred_file(path + "-wal"));
  (void)::unlink((path + "-shm").c_str());
  SATCHEL_TRY(shred_file(path));
  SATCHEL_TRY(shred_file(fresh + "-journal"));
  if (::rename(fresh.c_str(), path.c_str()) != 0)
    return errno_error("cannot finish rekey of", path);
  return sync_directory(home);
}

// Opens `path` with `key` only to prove it opens, and closes it.
Status check_opens(const std::string& path, const SecretBytes& key) {
  auto db = Database::open(path, key, false);
  if (!db) return db.error();
  return Status::Ok();
}

// Unlocks a v1 profile (192-byte keyslots beside wipe.key) and upgrades it in place: a keyring,
// then the v2 generation written over the v1 file, then wipe.key shredded.
Result<ProfileKeys> upgrade_v1(const std::string& home, const SecretBytes& passphrase) {
  auto wipe_key = read_secret_file(wipe_key_path(home), 32);
  if (!wipe_key) return wipe_key.error();
  auto v1 = read_secret_file(keyslots_path(home), kV1KeySlotFileSize);
  if (!v1) return v1.error();
  auto db_key = unlock_v1_keyslots(v1->span(), passphrase, *wipe_key);
  if (!db_key) return db_key.error();
  ProfileKeys keys{std::move(db_key.value()), SecretBytes(32)};
  randombytes_buf(keys.ring_key.data(), 32);
  // A keyring left by an upgrade that crashed before its keyslots were written holds no key.
  SATCHEL_TRY(shred_file(keyring_path(home)));
  SATCHEL_TRY(Keyring::create(keyring_path(home)));
  const Argon2Params params{get_u32(v1->data() + 16), get_u32(v1->data() + 20)};
  auto payload = make_keyslots(passphrase, keys, params);
  if (!payload) return payload.error();
  SATCHEL_TRY(GenerationFile::overwrite_v1(keyslots_path(home), kKeySlotFileDomain, *payload));
  SATCHEL_TRY(shred_file(wipe_key_path(home)));
  SATCHEL_TRY(sync_directory(home));
  return keys;
}

// The pool cells that committed rows name.
Result<std::vector<uint64_t>> used_cells(Database& db) {
  auto st = db.prepare(
      "SELECT cell FROM attachment_chunks WHERE cell IS NOT NULL UNION ALL "
      "SELECT cell FROM outbox_chunks WHERE cell IS NOT NULL UNION ALL "
      "SELECT cell FROM coord_body_chunks");
  if (!st) return st.error();
  std::vector<uint64_t> cells;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    cells.push_back(static_cast<uint64_t>(st->int64(0)));
  }
  return cells;
}

}  // namespace

Profile::Profile(std::string home, std::unique_ptr<DirectoryLock> lock,
                 std::unique_ptr<GenerationFile> keyslots, ProfileKeys keys, Keyring keyring,
                 Database db, ChunkPool pool)
    : home_(std::move(home)),
      lock_(std::move(lock)),
      keyslots_(std::move(keyslots)),
      keys_(std::move(keys)),
      keyring_(std::move(keyring)),
      db_(std::move(db)),
      pool_(std::move(pool)) {}
Profile::Profile(Profile&&) noexcept = default;
Profile& Profile::operator=(Profile&&) noexcept = default;
Profile::~Profile() = default;

Result<ProfileInfo> Profile::create(const std::string& home, const SecretBytes& passphrase,
                                    Argon2Params params, ProfileContents contents) {
  crypto_init();
  if (present(keyslots_path(home)) || present(database_path(home)))
    return make_error(Errc::kAlreadyExists, "a profile already exists in " + home);
  std::error_code ec;
  fs::create_directories(home, ec);
  if (ec) return make_error(Errc::kIoError, "cannot create " + home + ": " + ec.message());
  ::chmod(home.c_str(), 0700);
  auto lock = DirectoryLock::acquire(home);
  if (!lock) return lock.error();
  if (present(keyslots_path(home)))  // made by another process while we waited
    return make_error(Errc::kAlreadyExists, "a profile already exists in " + home);

  ProfileKeys keys = ProfileKeys::generate();
  auto payload = make_keyslots(passphrase, keys, params);
  if (!payload) return payload.error();
  // A keyring without keyslots is what an interrupted create leaves: it holds no key.
  SATCHEL_TRY(shred_file(keyring_path(home)));
  SATCHEL_TRY(Keyring::create(keyring_path(home)));
  auto slots = GenerationFile::create(keyslots_path(home), kKeySlotFileDomain, *payload);
  if (!slots) return slots.error();
  auto ring = Keyring::open(keyring_path(home), keys.ring_key);
  if (!ring) return ring.error();
  SATCHEL_TRY(shred_file(pool_path(home)));
  SATCHEL_TRY(ChunkPool::create(pool_path(home)));
  auto pool = ChunkPool::open(pool_path(home), {});
  if (!pool) return pool.error();
  auto db = Database::open(database_path(home), keys.db_key, true);
  if (!db) return db.error();
  Profile p(home, std::make_unique<DirectoryLock>(std::move(lock.value())),
            std::make_unique<GenerationFile>(std::move(slots.value())), std::move(keys),
            std::move(ring.value()), std::move(db.value()), std::move(pool.value()));
  ProfileInfo info;
  info.params = params;
  info.kind = contents.kind;
  auto tx = Transaction::begin(p.db_);
  if (!tx) return tx.error();
  auto put_secret = [&](const char* name, const SecretBytes& text) -> Status {
    auto st = p.db_.prepare("INSERT INTO settings (name, value) VALUES (?1, ?2)");
    if (!st) return st.error();
    st->bind(1, std::string_view(name)).bind_blob(2, text.span());
    return st->run();
  };
  SATCHEL_TRY(p.set_setting("profile_kind", profile_kind_name(contents.kind)));
  if (contents.kind == ProfileKind::kField) {
    DeviceSecretKey device = DeviceSecretKey::generate();
    SATCHEL_TRY(put_secret("device_secret_key", device.to_text()));
    // The counter starts at a random 32-bit offset so sequence numbers do not reveal how many
    // bundles this device has sent.
    SATCHEL_TRY(p.set_setting("next_sequence", std::to_string(randombytes_random())));
    info.device = device.public_key();
  } else if (contents.kind == ProfileKind::kCoordinator) {
    CoordinatorSecretKey key = contents.coordinator_key ? std::move(*contents.coordinator_key)
                                                        : CoordinatorSecretKey::generate();
    SATCHEL_TRY(put_secret("coordinator_secret_key", key.to_text()));
    info.coordinator = key.public_key();
  } else {
    OrgSecretKey key = contents.organisation_key ? std::move(*contents.organisation_key)
                                                 : OrgSecretKey::generate();
    SATCHEL_TRY(put_secret("org_secret_key", key.to_text()));
    info.organisation = key.public_key();
  }
  if (contents.initialise) SATCHEL_TRY(contents.initialise(p));
  SATCHEL_TRY(tx->commit());
  return info;
}

Result<Profile> Profile::open(const std::string& home, const SecretBytes& passphrase) {
  crypto_init();
  if (!present(keyslots_path(home)))
    return make_error(Errc::kNotFound, "no profile in " + home + " (run satchel init)");
  // Everything below, the v1 upgrade included, runs with the profile locked.
  auto lock = DirectoryLock::acquire(home);
  if (!lock) return lock.error();
  ProfileKeys keys;
  std::unique_ptr<GenerationFile> slots;
  std::error_code ec;
  if (fs::file_size(keyslots_path(home), ec) == kV1KeySlotFileSize && !ec) {
    auto upgraded = upgrade_v1(home, passphrase);
    if (!upgraded) return upgraded.error();
  }
  {
    auto file = GenerationFile::open(keyslots_path(home), kKeySlotFileDomain, kKeySlotPayloadSize);
    if (!file) return file.error();
    auto unlocked = unlock_keyslots(file->payload(), passphrase);
    if (!unlocked) return unlocked.error();
    keys = std::move(unlocked.value());
    slots = std::make_unique<GenerationFile>(std::move(file.value()));
  }
  // The newest generation opened: only now is it safe to erase an older one that an
  // interrupted replace (or v1 upgrade) left behind.
  if (slots->has_stale_spare()) SATCHEL_TRY(slots->erase_spare());
  if (present(wipe_key_path(home))) {
    // A v1 upgrade interrupted after its v2 generation was written: erase the v1 bytes.
    SATCHEL_TRY(slots->erase_spare());
    SATCHEL_TRY(shred_file(wipe_key_path(home)));
  }
  auto ring = Keyring::open(keyring_path(home), keys.ring_key);
  if (!ring) return ring.error();
  // A rekey interrupted after the keyslot was replaced leaves the new file beside the old.
  const std::string path = database_path(home), fresh = path + ".new";
  auto db = Database::open(path, keys.db_key, false);
  if (!db && present(fresh)) {
    if (!check_opens(fresh, keys.db_key).ok()) return db.error();
    SATCHEL_TRY(finish_swap(home));
    db = Database::open(path, keys.db_key, false);
  } else if (db && present(fresh)) {
    // A rekey that never reached its keyslot: discard the copy.
    SATCHEL_TRY(shred_file(fresh + "-journal"));
    SATCHEL_TRY(shred_file(fresh));
  }
  if (!db) return db.error();
  // A profile from before the chunk pool gets an empty one.
  if (!present(pool_path(home))) SATCHEL_TRY(ChunkPool::create(pool_path(home)));
  auto cells = used_cells(*db);
  if (!cells) return cells.error();
  auto pool = ChunkPool::open(pool_path(home), *cells);
  if (!pool) return pool.error();
  Profile p(home, std::make_unique<DirectoryLock>(std::move(lock.value())), std::move(slots),
            std::move(keys), std::move(ring.value()), std::move(db.value()),
            std::move(pool.value()));
  SATCHEL_TRY(p.destroy_unnamed_keys());
  // Drafts and outbox entries of versions 1-2 move under keyring keys; the rekey then leaves the
  // copies SQLite kept of their old rows under a database key that no longer exists.
  auto legacy = seal_legacy_rows(p.db_, p.keyring_, p.pool_);
  if (!legacy) return legacy.error();
  if (*legacy > 0) SATCHEL_TRY(p.rekey(passphrase));
  return p;
}

Status Profile::destroy_unnamed_keys() {
  auto st = db_.prepare(
      "SELECT key_slot FROM records WHERE key_slot IS NOT NULL UNION ALL "
      "SELECT key_slot FROM outbox WHERE key_slot IS NOT NULL");
  if (!st) return st.error();
  std::set<uint32_t> live;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    live.insert(static_cast<uint32_t>(st->int64(0)));
  }
  auto destroyed = keyring_.destroy_unlisted(live);
  if (!destroyed) return destroyed.error();
  return Status::Ok();
}

Result<std::optional<std::string>> Profile::setting(const std::string& name) {
  auto st = db_.prepare("SELECT value FROM settings WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, name);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->text(0));
}

Status Profile::set_setting(const std::string& name, std::string_view value) {
  auto st = db_.prepare("INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)");
  if (!st) return st.error();
  st->bind(1, name).bind(2, value);
  return st->run();
}

Result<DeviceSecretKey> Profile::device_key() {
  auto st = db_.prepare("SELECT value FROM settings WHERE name = 'device_secret_key'");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::kIoError, "the profile has no device key (damaged profile)");
  return DeviceSecretKey::from_text(st->blob(0));
}

Result<CoordinatorSecretKey> Profile::coordinator_key() {
  auto st = db_.prepare("SELECT value FROM settings WHERE name = 'coordinator_secret_key'");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::kInvalidArgument, "this profile holds no coordinator key");
  return CoordinatorSecretKey::from_text(st->blob(0));
}

Result<OrgSecretKey> Profile::organisation_key() {
  auto st = db_.prepare("SELECT value FROM settings WHERE name = 'org_secret_key'");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::kInvalidArgument, "this profile holds no organisation key");
  return OrgSecretKey::from_text(st->blob(0));
}

Result<ProfileKind> Profile::kind() {
  auto v = setting("profile_kind");
  if (!v) return v.error();
  if (!*v || **v == "field") return ProfileKind::kField;
  if (**v == "coordinator") return ProfileKind::kCoordinator;
  if (**v == "organisation") return ProfileKind::kOrganisation;
  return make_error(Errc::kIoError, "unknown profile kind '" + **v + "' (damaged profile?)");
}

Status Profile::require_kind(ProfileKind expected) {
  auto k = kind();
  if (!k) return k.error();
  if (*k == expected) return Status::Ok();
  // The commands of each kind, and how a profile of that kind is made.
  auto commands = [](ProfileKind kind) {
    return kind == ProfileKind::kCoordinator    ? "`satchel coord ...` commands"
           : kind == ProfileKind::kOrganisation ? "`satchel org ...` commands"
                                                : "the field commands";
  };
  auto init = [](ProfileKind kind) {
    return kind == ProfileKind::kCoordinator    ? "satchel coord init"
           : kind == ProfileKind::kOrganisation ? "satchel org init"
                                                : "satchel init";
  };
  return make_error(Errc::kInvalidArgument,
                    "the profile in " + home_ + " is " +
                        (*k == ProfileKind::kOrganisation ? "an " : "a ") + profile_kind_name(*k) +
                        " profile, not " + (expected == ProfileKind::kOrganisation ? "an " : "a ") +
                        profile_kind_name(expected) + " profile: use " + commands(*k) +
                        " with it, or give --home (create one with `" + init(expected) + "`)");
}

Result<uint64_t> Profile::take_sequence() {
  auto v = setting("next_sequence");
  if (!v) return v.error();
  if (!*v)
    return make_error(Errc::kIoError, "the profile has no sequence counter (damaged profile)");
  const uint64_t seq = std::stoull(**v);
  SATCHEL_TRY(set_setting("next_sequence", std::to_string(seq + 1)));
  return seq;
}

Status Profile::change_passphrase(const SecretBytes& new_passphrase) {
  auto params = keyslot_params(keyslots_->payload());
  if (!params) return params.error();
  auto fresh = rewrap_keyslot(keyslots_->payload(), 0, new_passphrase, keys_, *params);
  if (!fresh) return fresh.error();
  return keyslots_->replace(*fresh);
}

Status Profile::rekey(const SecretBytes& passphrase) {
  // The current passphrase must open the keyslot: rekey rewraps it.
  SATCHEL_TRY(unlock_keyslots(keyslots_->payload(), passphrase));
  const std::string path = database_path(home_), fresh = path + ".new";
  ProfileKeys next{SecretBytes(32), keys_.ring_key.clone()};
  randombytes_buf(next.db_key.data(), 32);
  SATCHEL_TRY(shred_file(fresh + "-journal"));
  SATCHEL_TRY(shred_file(fresh));
  SATCHEL_TRY(db_.export_to(fresh, next.db_key));
  SATCHEL_TRY(check_opens(fresh, next.db_key));
  auto params = keyslot_params(keyslots_->payload());
  if (!params) return params.error();
  auto rewrapped = rewrap_keyslot(keyslots_->payload(), 0, passphrase, next, *params);
  if (!rewrapped) return rewrapped.error();
  // From this write on, the new file is authoritative: open() finishes the swap after a crash.
  SATCHEL_TRY(keyslots_->replace(*rewrapped));
  db_.close();
  SATCHEL_TRY(finish_swap(home_));
  auto db = Database::open(path, next.db_key, false);
  if (!db) return db.error();
  db_ = std::move(db.value());
  keys_ = std::move(next);
  return Status::Ok();
}

}  // namespace satchel::client
