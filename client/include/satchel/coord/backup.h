// Backups of a coordinator's store (schema/coordinator-backup.md). A backup is one sealed bundle
// (content type 6) from the coordinator's own X25519 key to one or more backup keys kept
// offline; its body is a versioned stream of records — the coordinator key, trust anchors,
// forms, device registry, bundles seen, records with their bodies, quarantine, retractions and
// the export log. Writing streams the store straight into the sealer, and restoring streams the
// opened body straight into a new profile: neither puts plaintext in a file, and both hold one
// record (at most 16 MiB) and a few 64 KiB buffers in memory whatever the store's size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "satchel/client/keyslots.h"
#include "satchel/client/profile.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/io.h"
#include "satchel/crypto/keys.h"

namespace satchel::coord {

// How many records of each kind a backup holds (the end record carries the same counts).
struct BackupCounts {
  uint64_t settings = 0, forms = 0, devices = 0, bundles = 0, records = 0, quarantine = 0,
           retractions = 0, exports = 0, bodies = 0;
  uint64_t body_bytes = 0;
  bool operator==(const BackupCounts&) const = default;
};

struct BackupSummary {
  CoordinatorPublicKey coordinator;
  BackupCounts counts;
  uint64_t plaintext_bytes = 0;  // the bundle's body
  uint64_t size = 0;             // the bundle's bytes written to the sink
};

// Seals the whole store of a coordinator profile into `out` for the backup keys `to` (1 to 64,
// distinct), from the profile's coordinator key. Reads one snapshot of the store (two passes:
// the exact length first, then the stream) and writes nothing to the profile. `out` receives
// ciphertext only; on failure it holds a partial bundle that the caller discards (as an
// uncommitted StagedFileSink does). kInvalidArgument for a field profile or a bad key list;
// kIoError when the store is damaged (a row a restore would refuse).
Result<BackupSummary> write_backup(client::Profile& profile, const std::vector<BackupPublicKey>& to,
                                   ByteSink& out, int64_t now);

struct RestoreOptions {
  std::string home;  // must not exist, or be an empty directory
  client::Argon2Params params;
  // The coordinator the backup must belong to (refused otherwise); nullopt: any, and the
  // caller shows the fingerprint to be compared.
  std::optional<CoordinatorPublicKey> expect;
};

struct RestoreSummary {
  CoordinatorPublicKey coordinator;
  int64_t created_at = 0;  // when the backup was made (Unix seconds, the backup's word)
  BackupCounts counts;
};

// A backup whose bundle verified for a backup key: every ciphertext byte is the sender's, and
// the sender is known, before anything is decrypted past the first chunk or created on disk.
class VerifiedBackup {
 public:
  // Checks the bundle (bundle-format.md B1-B11) for the backup secret key, and that it carries
  // a backup (content type 6, no form): kBackupNotABackup otherwise. Writes nothing.
  static Result<VerifiedBackup> verify(RandomAccessSource& src, const BackupSecretKey& key);
  // The X25519 key that sealed the backup; restore_to requires the coordinator key inside to
  // be this one.
  const DevicePublicKey& sender() const { return bundle_.sender(); }
  int64_t created_at() const { return bundle_.metadata().created_at; }
  uint64_t plaintext_bytes() const { return bundle_.metadata().body_length; }
  // kBackupUnexpectedCoordinator unless the sender is `expect`'s X25519 key (restore_to then
  // compares both halves with the key inside).
  Status check_sender(const CoordinatorPublicKey& expect) const;

  // Rebuilds the store as a new coordinator profile at options.home, locked by `passphrase`,
  // writing records and bodies through the profile's normal store. The profile is built in a
  // hidden directory beside home and renamed into place only once complete and committed; on
  // any refusal or failure that directory's keyslots are overwritten and it is removed, so
  // nothing is left at home or beside it. kAlreadyExists if home holds anything;
  // kBackupSenderMismatch if the key inside is not the sender; kBackupUnexpectedCoordinator if
  // it is not options.expect; the bundle's or the format's codes for anything else refused.
  Result<RestoreSummary> restore_to(const SecretBytes& passphrase, const RestoreOptions& options);

  VerifiedBackup(VerifiedBackup&&) noexcept = default;

 private:
  explicit VerifiedBackup(VerifiedBundle b) : bundle_(std::move(b)) {}
  VerifiedBundle bundle_;
};

// kAlreadyExists unless `home` is absent or an empty directory: a restore never writes into
// an existing profile or directory (callers check before asking for a passphrase).
Status check_restore_target(const std::string& home);

}  // namespace satchel::coord
