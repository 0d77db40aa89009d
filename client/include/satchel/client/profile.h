// The encrypted profile: a directory holding the keyslot file, the wipe key and the SQLCipher
// database (schema/client-database.md). Opening it unlocks the database key; closing wipes it.
#pragma once

#include <optional>
#include <string>

#include "satchel/client/database.h"
#include "satchel/client/keyslots.h"
#include "satchel/crypto/keys.h"

namespace satchel::client {

// $SATCHEL_HOME, else $XDG_DATA_HOME/fieldnotes, else ~/.local/share/fieldnotes. The directory
// name does not name the tool.
std::string default_profile_home();

struct ProfileInfo {
  Argon2Params params;
  DevicePublicKey device;
};

class Profile {
 public:
  // Creates a new profile in `home` (which must not hold one): wipe key, keyslots, database,
  // a device key and a sequence counter starting at a random offset.
  static Result<ProfileInfo> create(const std::string& home, const SecretBytes& passphrase,
                                    Argon2Params params);
  // Unlocks the profile; a wrong passphrase changes nothing on disk.
  static Result<Profile> open(const std::string& home, const SecretBytes& passphrase);

  Database& db() { return db_; }
  const std::string& home() const { return home_; }

  // Rewraps the keyslot for a new passphrase: O(1), the database is untouched.
  Status change_passphrase(const SecretBytes& new_passphrase);
  // Rotates the database key: exports into a fresh file under a new random key, rewraps the
  // keyslot, and shreds the old file. Needs the current passphrase.
  Status rekey(const SecretBytes& passphrase);

  // Settings stored inside the encrypted database.
  Result<std::optional<std::string>> setting(const std::string& name);
  Status set_setting(const std::string& name, std::string_view value);
  Result<DeviceSecretKey> device_key();
  // Returns the next bundle sequence number and advances the counter (inside the caller's
  // transaction if one is open).
  Result<uint64_t> take_sequence();

  Profile(Profile&&) noexcept = default;

 private:
  Profile(std::string home, SecretBytes wipe_key, SecretBytes db_key, Database db)
      : home_(std::move(home)),
        wipe_key_(std::move(wipe_key)),
        db_key_(std::move(db_key)),
        db_(std::move(db)) {}
  std::string home_;
  SecretBytes wipe_key_;
  SecretBytes db_key_;
  Database db_;
};

// Files of a profile directory.
std::string keyslots_path(const std::string& home);
std::string wipe_key_path(const std::string& home);
std::string database_path(const std::string& home);

// Overwrites a file with random bytes, syncs, and unlinks it. What the file system or flash
// keeps elsewhere is out of reach (SECURITY.md).
Status shred_file(const std::string& path);

// Writes data to path atomically: temp file, fsync, rename, fsync of the directory.
Status write_file_atomic(const std::string& path, ByteView data, mode_t mode);

}  // namespace satchel::client
