// The encrypted profile: a directory holding the keyslot file, the keyring and the SQLCipher
// database (schema/client-database.md). Opening it unlocks the profile keys and locks the
// profile against other processes; closing wipes the keys.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "satchel/client/chunk_pool.h"
#include "satchel/client/database.h"
#include "satchel/client/keyring.h"
#include "satchel/client/keyslots.h"
#include "satchel/crypto/keys.h"

namespace satchel::client {

class DirectoryLock;
class GenerationFile;
class Profile;

// What a profile is for, recorded inside its encrypted database (setting `profile_kind`; a
// profile without it is a field profile). Commands of one kind refuse a profile of another.
enum class ProfileKind { kField, kCoordinator, kOrganisation };
// "field", "coordinator" or "organisation": the setting's value and the word in messages.
const char* profile_kind_name(ProfileKind kind);

// $SATCHEL_HOME, else $XDG_DATA_HOME/fieldnotes, else ~/.local/share/fieldnotes. The directory
// name does not name the tool.
std::string default_profile_home();
// The coordinator profile's default: $SATCHEL_HOME, else $XDG_DATA_HOME/notebook, else
// ~/.local/share/notebook (neutral too, and apart from a field profile on the same machine).
std::string default_coordinator_home();
// The organisation profile's default: $SATCHEL_HOME, else $XDG_DATA_HOME/ledger, else
// ~/.local/share/ledger.
std::string default_organisation_home();

struct ProfileInfo {
  Argon2Params params;
  ProfileKind kind = ProfileKind::kField;
  std::optional<DevicePublicKey> device;            // field profiles
  std::optional<CoordinatorPublicKey> coordinator;  // coordinator profiles
  std::optional<OrgPublicKey> organisation;         // organisation profiles
};

// What a new profile holds besides its keys.
struct ProfileContents {
  ProfileKind kind = ProfileKind::kField;
  // Coordinator profiles: this key instead of a generated one (`coord init --import-key`).
  std::optional<CoordinatorSecretKey> coordinator_key;
  // Organisation profiles: this signing key instead of a generated one (`org init --import-key`).
  std::optional<OrgSecretKey> organisation_key;
  // Run inside the transaction that creates the profile, after its key is stored: what the
  // kind keeps besides its key (an organisation's name and secrets). A failure rolls the
  // database back but leaves the profile's files, so check the inputs before create.
  std::function<Status(Profile&)> initialise;
};

class Profile {
 public:
  // Creates a new profile in `home` (which must not hold one): keyslots, keyring, database, and
  // for a field profile a device key and a sequence counter starting at a random offset, for a
  // coordinator profile its coordinator key, for an organisation profile its signing key
  // (generated or given).
  static Result<ProfileInfo> create(const std::string& home, const SecretBytes& passphrase,
                                    Argon2Params params, ProfileContents contents = {});
  // Unlocks the profile; a wrong passphrase changes nothing on disk. Finishes what a crash
  // interrupted (a keyslot replace, a rekey, a v1 upgrade) and destroys keyring slots that no
  // row names.
  static Result<Profile> open(const std::string& home, const SecretBytes& passphrase);

  Database& db() { return db_; }
  Keyring& keyring() { return keyring_; }
  ChunkPool& pool() { return pool_; }
  const std::string& home() const { return home_; }

  // Rewraps slot 0 for a new passphrase under a new slot secret, replacing the keyslot
  // generation in place: O(1), the database is untouched, and no earlier keyslot opens again.
  Status change_passphrase(const SecretBytes& new_passphrase);
  // Rotates the database key: exports into a fresh file under a new random key, replaces the
  // keyslot generation (new secret), and shreds the old file. Needs the current passphrase.
  Status rekey(const SecretBytes& passphrase);

  // Settings stored inside the encrypted database.
  Result<std::optional<std::string>> setting(const std::string& name);
  Status set_setting(const std::string& name, std::string_view value);
  Result<DeviceSecretKey> device_key();
  // The coordinator key of a coordinator profile.
  Result<CoordinatorSecretKey> coordinator_key();
  // The Ed25519 signing key of an organisation profile.
  Result<OrgSecretKey> organisation_key();
  // The profile's kind (field when the database does not say).
  Result<ProfileKind> kind();
  // kInvalidArgument naming both kinds unless this profile is of kind `expected`.
  Status require_kind(ProfileKind expected);
  // Returns the next bundle sequence number and advances the counter (inside the caller's
  // transaction if one is open).
  Result<uint64_t> take_sequence();

  Profile(Profile&&) noexcept;
  Profile& operator=(Profile&&) noexcept;
  ~Profile();

 private:
  Profile(std::string home, std::unique_ptr<DirectoryLock> lock,
          std::unique_ptr<GenerationFile> keyslots, ProfileKeys keys, Keyring keyring, Database db,
          ChunkPool pool);
  // Destroys every keyring slot that holds a key no committed row names.
  Status destroy_unnamed_keys();
  std::string home_;
  std::unique_ptr<DirectoryLock> lock_;  // first member: released last
  std::unique_ptr<GenerationFile> keyslots_;
  ProfileKeys keys_;
  Keyring keyring_;
  Database db_;
  ChunkPool pool_;
};

// Files of a profile directory.
std::string keyslots_path(const std::string& home);
std::string keyring_path(const std::string& home);
std::string pool_path(const std::string& home);
std::string database_path(const std::string& home);
// The v1 profile's wipe key (upgraded away on first open).
std::string wipe_key_path(const std::string& home);

// Overwrites a file with random bytes, syncs, and unlinks it. What the file system or flash
// keeps elsewhere is out of reach (SECURITY.md).
Status shred_file(const std::string& path);

}  // namespace satchel::client
