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

namespace satchel::client {
namespace fs = std::filesystem;

std::string keyslots_path(const std::string& home) {
  return home + "/keyslots";
}
std::string wipe_key_path(const std::string& home) {
  return home + "/wipe.key";
}
std::string database_path(const std::string& home) {
  return home + "/data.db";
}

std::string default_profile_home() {
  if (const char* h = std::getenv("SATCHEL_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/fieldnotes";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/fieldnotes";
}

namespace {

Error errno_error(const std::string& what, const std::string& path) {
  return make_error(Errc::kIoError, what + " " + path + ": " + std::strerror(errno));
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_error("cannot sync directory", dir);
  return Status::Ok();
}

Result<SecretBytes> read_small_secret(const std::string& path, size_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open", path);
  SecretBytes out(size);
  ssize_t r = ::read(fd, out.data(), size);
  uint8_t extra;
  ssize_t more = ::read(fd, &extra, 1);
  ::close(fd);
  if (r != static_cast<ssize_t>(size) || more != 0)
    return make_error(Errc::kIoError, path + " has the wrong size (damaged or wiped profile)");
  return out;
}

Result<Bytes> read_file(const std::string& path, size_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open", path);
  Bytes out(max + 1);
  size_t n = 0;
  for (;;) {
    ssize_t r = ::read(fd, out.data() + n, out.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += static_cast<size_t>(r);
    if (n == out.size()) break;
  }
  ::close(fd);
  out.resize(n);
  return out;
}

}  // namespace

// Replaces the old database (shredded, with its WAL) by the rekeyed copy.
static Status finish_swap(const std::string& home) {
  const std::string path = database_path(home), fresh = path + ".new";
  SATCHEL_TRY(shred_file(path + "-wal"));
  (void)::unlink((path + "-shm").c_str());
  SATCHEL_TRY(shred_file(path));
  if (::rename(fresh.c_str(), path.c_str()) != 0)
    return errno_error("cannot finish rekey of", path);
  return fsync_dir(home);
}

Status write_file_atomic(const std::string& path, ByteView data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("cannot create", tmp);
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = saved;
    return errno_error("cannot write", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_error("cannot replace", path);
  return fsync_dir(fs::path(path).parent_path().string());
}

Status shred_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    return errno_error("cannot open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    std::vector<uint8_t> buf(64 * 1024);
    off_t left = st.st_size;
    while (left > 0) {
      size_t n = static_cast<size_t>(std::min<off_t>(left, static_cast<off_t>(buf.size())));
      randombytes_buf(buf.data(), n);
      if (::write(fd, buf.data(), n) != static_cast<ssize_t>(n)) break;
      left -= static_cast<off_t>(n);
    }
    (void)::fsync(fd);
  }
  ::close(fd);
  if (::unlink(path.c_str()) != 0) return errno_error("cannot remove", path);
  return Status::Ok();
}

Result<ProfileInfo> Profile::create(const std::string& home, const SecretBytes& passphrase,
                                    Argon2Params params) {
  crypto_init();
  if (fs::exists(keyslots_path(home)) || fs::exists(database_path(home)))
    return make_error(Errc::kAlreadyExists, "a profile already exists in " + home);
  std::error_code ec;
  fs::create_directories(home, ec);
  if (ec) return make_error(Errc::kIoError, "cannot create " + home + ": " + ec.message());
  ::chmod(home.c_str(), 0700);

  SecretBytes wipe_key(32), db_key(32);
  randombytes_buf(wipe_key.data(), 32);
  randombytes_buf(db_key.data(), 32);
  SATCHEL_TRY(write_file_atomic(wipe_key_path(home), wipe_key.span(), 0600));
  Bytes slots = make_keyslot_file(passphrase, wipe_key, db_key, params);
  SATCHEL_TRY(write_file_atomic(keyslots_path(home), slots, 0600));

  auto db = Database::open(database_path(home), db_key, true);
  if (!db) return db.error();
  Profile p(home, std::move(wipe_key), std::move(db_key), std::move(db.value()));
  DeviceSecretKey device = DeviceSecretKey::generate();
  SecretBytes dev_text = device.to_text();
  Transaction tx(p.db_);
  SATCHEL_TRY(tx.begin());
  {
    auto st = p.db_.prepare("INSERT INTO settings (name, value) VALUES ('device_secret_key', ?1)");
    if (!st) return st.error();
    st->bind_blob(1, dev_text.span());
    SATCHEL_TRY(st->run());
  }
  // The counter starts at a random 32-bit offset so sequence numbers do not reveal how many
  // bundles this device has sent.
  SATCHEL_TRY(p.set_setting("next_sequence", std::to_string(randombytes_random())));
  SATCHEL_TRY(tx.commit());
  SATCHEL_TRY(p.db_.checkpoint_truncate());
  ::chmod(database_path(home).c_str(), 0600);
  return ProfileInfo{params, device.public_key()};
}

Result<Profile> Profile::open(const std::string& home, const SecretBytes& passphrase) {
  crypto_init();
  if (!fs::exists(keyslots_path(home)))
    return make_error(Errc::kNotFound, "no profile in " + home + " (run satchel init)");
  auto wipe_key = read_small_secret(wipe_key_path(home), 32);
  if (!wipe_key) return wipe_key.error();
  auto slots = read_file(keyslots_path(home), kKeySlotFileSize);
  if (!slots) return slots.error();
  auto db_key = unlock_keyslots(*slots, passphrase, *wipe_key);
  if (!db_key) return db_key.error();
  // A rekey interrupted after the keyslot was rewrapped leaves the new file beside the old.
  const std::string path = database_path(home), fresh = path + ".new";
  auto db = Database::open(path, *db_key, false);
  if (!db && fs::exists(fresh)) {
    if (!Database::open(fresh, *db_key, false).ok()) return db.error();
    SATCHEL_TRY(finish_swap(home));
    db = Database::open(path, *db_key, false);
  } else if (db && fs::exists(fresh)) {
    SATCHEL_TRY(shred_file(fresh));  // a rekey that never reached its keyslot: discard
  }
  if (!db) return db.error();
  return Profile(home, std::move(wipe_key.value()), std::move(db_key.value()),
                 std::move(db.value()));
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
  auto slots = read_file(keyslots_path(home_), kKeySlotFileSize);
  if (!slots) return slots.error();
  auto params = keyslot_params(*slots);
  if (!params) return params.error();
  auto fresh = rewrap_keyslot(*slots, 0, new_passphrase, wipe_key_, db_key_, *params);
  if (!fresh) return fresh.error();
  return write_file_atomic(keyslots_path(home_), *fresh, 0600);
}

Status Profile::rekey(const SecretBytes& passphrase) {
  const std::string path = database_path(home_), fresh = path + ".new";
  SecretBytes new_key(32);
  randombytes_buf(new_key.data(), 32);
  SATCHEL_TRY(db_.checkpoint_truncate());
  SATCHEL_TRY(shred_file(fresh));
  SATCHEL_TRY(db_.export_to(fresh, new_key));
  {
    auto check = Database::open(fresh, new_key, false);  // proves the copy opens
    if (!check) return check.error();
    SATCHEL_TRY(check->checkpoint_truncate());
  }
  auto slots = read_file(keyslots_path(home_), kKeySlotFileSize);
  if (!slots) return slots.error();
  auto params = keyslot_params(*slots);
  if (!params) return params.error();
  auto rewrapped = rewrap_keyslot(*slots, 0, passphrase, wipe_key_, new_key, *params);
  if (!rewrapped) return rewrapped.error();
  // From this write on, the new file is authoritative: open() finishes the swap after a crash.
  SATCHEL_TRY(write_file_atomic(keyslots_path(home_), *rewrapped, 0600));
  db_.close();
  SATCHEL_TRY(finish_swap(home_));
  auto db = Database::open(path, new_key, false);
  if (!db) return db.error();
  db_ = std::move(db.value());
  db_key_ = std::move(new_key);
  return Status::Ok();
}

}  // namespace satchel::client
