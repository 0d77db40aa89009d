// `satchel-relay tls rotate`: the relay moves to its backup key. Order of the steps, so that a
// crash anywhere leaves a relay that starts: the new backup key is staged
// (backup-key.pem.new), the new key and certificate are written under new names, all synced;
// then relay.conf is replaced in one rename (the switch); only then is the staged backup key
// renamed into place and the old key overwritten and removed.
#include "satchel/relay/tls_rotation.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "satchel/crypto/encoding.h"
#include "satchel/relay/relay_config.h"
#include "satchel/relay/tls_identity.h"

namespace satchel::relay {

namespace {

namespace fs = std::filesystem;

constexpr const char* kBackupKeyName = "backup-key.pem";
constexpr const char* kStagedSuffix = ".new";

Error refused(const std::string& why) {
  return make_error(Errc::kInvalidArgument, why);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Status remove_if_present(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return errno_error("cannot remove " + path, errno);
  return Status::Ok();
}

// Overwrites the file's bytes with zeros and syncs them (a key file: a few hundred bytes).
Status overwrite(FileOps& ops, const std::string& path) {
  FileHandle fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return errno_error("cannot open " + path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat " + path, errno);
  const std::string zeros(static_cast<size_t>(st.st_size), '\0');
  SATCHEL_TRY(
      write_all_at(ops, fd.get(), reinterpret_cast<const uint8_t*>(zeros.data()), zeros.size(), 0));
  if (ops.fsync(fd.get()) != 0) return errno_error("cannot sync " + path, errno);
  return Status::Ok();
}

Status shred(FileOps& ops, const std::string& path) {
  SATCHEL_TRY(overwrite(ops, path));
  if (::unlink(path.c_str()) != 0) return errno_error("cannot remove " + path, errno);
  return Status::Ok();
}

Status sync_directory(FileOps& ops, const std::string& dir) {
  if (ops.fsync_directory(dir.c_str()) != 0) return errno_error("cannot sync " + dir, errno);
  return Status::Ok();
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kNotFound, "cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// `text` with the line setting `key` replaced by "key = value" (appended when absent); every
// other line, comments included, is kept as the operator wrote it.
std::string with_value(const std::string& text, std::string_view key, const std::string& value) {
  std::istringstream in(text);
  std::ostringstream out;
  bool replaced = false;
  for (std::string line; std::getline(in, line);) {
    const std::string_view t = trimmed(line);
    const size_t eq = t.find('=');
    if (!t.empty() && t.front() != '#' && eq != std::string_view::npos &&
        trimmed(t.substr(0, eq)) == key) {
      out << key << " = " << value << "\n";
      replaced = true;
    } else {
      out << line << "\n";
    }
  }
  if (!replaced) out << key << " = " << value << "\n";
  return out.str();
}

// How relay.conf names `path`: relative to its directory when inside it.
std::string config_name(const std::string& path, const std::string& dir) {
  const fs::path rel = fs::path(path).lexically_relative(dir);
  if (!rel.empty() && *rel.begin() != "..") return rel.string();
  return path;
}

// Replaces the configuration file in one rename, keeping its mode.
Status replace_config(FileOps& ops, const std::string& path, const std::string& dir,
                      const std::string& text) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_error("cannot stat " + path, errno);
  const std::string staged = path + kStagedSuffix;
  SATCHEL_TRY(remove_if_present(staged));  // left by a cut run, never read
  SATCHEL_TRY(write_new_file(ops, staged, text, st.st_mode & 07777));
  if (ops.rename(staged.c_str(), path.c_str()) != 0)
    return errno_error("cannot replace " + path, errno);
  return sync_directory(ops, dir);
}

// The new backup key: the one a cut run staged (so that a second run gives the same pin), or a
// fresh one.
Result<Hash32> stage_backup_key(FileOps& ops, const std::string& staged, const Hash32& served,
                                const Hash32& incoming) {
  if (exists(staged)) {
    auto pin = private_key_pin(staged);
    if (pin && *pin != served && *pin != incoming) return *pin;
    SATCHEL_TRY(remove_if_present(staged));
  }
  auto key = generate_key();
  if (!key) return key.error();
  SATCHEL_TRY(write_new_file(ops, staged, key->private_key_pem, 0600));
  return key->pin;
}

}  // namespace

Result<TlsRotationResult> rotate_tls_identity(const TlsRotationRequest& r, FileOps& ops) {
  const std::string config_path = fs::absolute(r.config_path).lexically_normal().string();
  const std::string dir = fs::path(config_path).parent_path().string();
  auto text = read_text(config_path);
  if (!text) return text.error();
  auto config = parse_relay_config(*text, dir);
  if (!config) return config.error();
  const RelayConfig& c = *config;
  if (!c.tls || c.challenge_pin)
    return refused(
        "TLS ends at a proxy in front of this relay (tls = off or challenge_pin is set): rotate "
        "the proxy's certificate and set challenge_pin to its new pin (server/deploy/README.md)");
  auto served = certificate_pin(c.certificate);
  if (!served) return served.error();
  auto live_pin = private_key_pin(c.private_key);
  if (!live_pin) return live_pin.error();
  if (*live_pin != *served)
    return refused(c.private_key + " does not match " + c.certificate + ": fix relay.conf first");
  auto incoming = private_key_pin(r.backup_key_path);
  if (!incoming) return incoming.error();

  TlsRotationResult out;
  const std::string target = (fs::path(dir) / kBackupKeyName).string();
  const std::string staged = target + kStagedSuffix;
  // The configuration names this key already: a run cut after the switch left the staged
  // backup key, or there is nothing to do.
  if (*incoming == *served && !exists(staged))
    return make_error(Errc::kAlreadyExists,
                      "the relay already serves the key in " + r.backup_key_path + " (pin " +
                          to_hex(*served) +
                          "): it was rotated to it; `satchel-relay tls pins` shows the pins");
  std::error_code ec;
  const bool target_is_incoming = exists(target) && fs::equivalent(target, r.backup_key_path, ec);
  if (exists(target) && !target_is_incoming) {
    auto held = private_key_pin(target);
    if (!held || *held != *incoming)
      return refused(target + " holds another key than " + r.backup_key_path +
                     ": move it away first (it may be the only copy of a backup key)");
  }

  std::string old_key, old_certificate;
  if (*incoming == *served) {
    auto pin = private_key_pin(staged);
    if (!pin) return pin.error();
    out.resumed = true;  // old_pin stays unknown (zero)
    out.backup_pin = *pin;
    out.certificate_path = c.certificate;
    out.private_key_path = c.private_key;
  } else {
    std::vector<std::string> names = r.names;
    if (names.empty()) {
      auto held = certificate_names(c.certificate);
      if (!held) return held.error();
      names = std::move(*held);
    }
    auto cert = self_signed_certificate_for_key(r.backup_key_path, names, r.now);
    if (!cert) return cert.error();
    auto backup_pin = stage_backup_key(ops, staged, *served, *incoming);
    if (!backup_pin) return backup_pin.error();

    const std::string tag = to_hex(*incoming).substr(0, 16);
    const std::string key_dir = fs::path(c.private_key).parent_path().string();
    const std::string cert_dir = fs::path(c.certificate).parent_path().string();
    out.private_key_path = (fs::path(key_dir) / ("key-" + tag + ".pem")).string();
    out.certificate_path = (fs::path(cert_dir) / ("cert-" + tag + ".pem")).string();
    // Files of these names are left by a cut run (the configuration names the served pin's).
    SATCHEL_TRY(remove_if_present(out.private_key_path));
    SATCHEL_TRY(remove_if_present(out.certificate_path));
    SATCHEL_TRY(write_new_file(ops, out.private_key_path, cert->key.private_key_pem, 0600));
    SATCHEL_TRY(write_new_file(ops, out.certificate_path, cert->certificate_pem, 0644));
    SATCHEL_TRY(sync_directory(ops, key_dir));
    if (cert_dir != key_dir) SATCHEL_TRY(sync_directory(ops, cert_dir));
    SATCHEL_TRY(sync_directory(ops, dir));

    std::string next = with_value(*text, "certificate", config_name(out.certificate_path, dir));
    next = with_value(next, "private_key", config_name(out.private_key_path, dir));
    auto check = parse_relay_config(next, dir);
    if (!check) return check.error();
    if (check->private_key != out.private_key_path || check->certificate != out.certificate_path)
      return make_error(Errc::kInternal, "the new configuration does not name the new key");
    SATCHEL_TRY(replace_config(ops, config_path, dir, next));  // the switch

    out.old_pin = *served;
    out.backup_pin = *backup_pin;
    old_key = c.private_key;
    old_certificate = c.certificate;
  }
  out.pin = *incoming;
  out.new_backup_key_path = target;

  // A copy of the key brought back is the relay's key now: overwritten before the new backup
  // key takes its name.
  if (exists(target)) SATCHEL_TRY(overwrite(ops, target));
  if (ops.rename(staged.c_str(), target.c_str()) != 0)
    return errno_error("cannot rename " + staged, errno);
  SATCHEL_TRY(sync_directory(ops, dir));
  if (!target_is_incoming && exists(r.backup_key_path) && !shred(ops, r.backup_key_path))
    out.leftovers.push_back(r.backup_key_path);
  if (!old_key.empty() && !shred(ops, old_key)) out.leftovers.push_back(old_key);
  if (!old_certificate.empty() && !remove_if_present(old_certificate))
    out.leftovers.push_back(old_certificate);
  return out;
}

}  // namespace satchel::relay
