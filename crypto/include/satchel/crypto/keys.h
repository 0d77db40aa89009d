// Key types and their textual form. Each kind has one purpose and a distinct text prefix:
//   orgpub-/orgsec-      organisation Ed25519: signs rosters, registrations, forms, invites
//   coordpub-/coordsec-  coordinator X25519 (decrypts bundles) + Ed25519 (authenticates to relay)
//   devpub-/devsec-      device X25519: authenticates the sender of a bundle
//   backuppub-/backupsec- backup X25519: opens a coordinator's backup; kept offline
// Text = prefix + base32(payload || 5-byte checksum); see schema/trust-documents.md "Key strings".
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel {

using Key32 = std::array<uint8_t, 32>;

enum class KeyKind : uint8_t {
  kOrgPublic = 1,
  kOrgSecret = 2,
  kCoordinatorPublic = 3,
  kCoordinatorSecret = 4,
  kDevicePublic = 5,
  kDeviceSecret = 6,
  kBackupPublic = 7,
  kBackupSecret = 8,
};

// False for X25519 public keys of small order (every shared secret with them is zero).
bool x25519_public_usable(const Key32& k);

// Why k is not the canonical encoding of an X25519 public key, or nullptr if it is. X25519
// ignores bit 255 and reduces u modulo p = 2^255 - 19, so a set bit 255 or a value >= p is a
// second name for another key ("bit 255 is set", "its value is 2^255 - 19 or more").
const char* x25519_noncanonical_reason(const Key32& k);

// Human description of a kind, e.g. "coordinator public key (coordpub-)".
std::string key_kind_description(KeyKind kind);

// Eight groups of five decimal digits (132 bits) over a domain-separated hash of kind and key:
// meant to be read aloud and compared.
std::string fingerprint(KeyKind kind, ByteView public_payload);

struct OrgPublicKey {
  Key32 ed25519{};
  std::string to_text() const;
  std::string fingerprint() const;
  // Refuses other kinds, typos (checksum) and invalid curve points with a message that says which.
  static Result<OrgPublicKey> from_text(std::string_view text);
  bool operator==(const OrgPublicKey&) const = default;
};

struct CoordinatorPublicKey {
  Key32 x25519{};   // bundle recipient key
  Key32 ed25519{};  // relay authentication key
  std::string to_text() const;
  std::string fingerprint() const;
  static Result<CoordinatorPublicKey> from_text(std::string_view text);
  bool operator==(const CoordinatorPublicKey&) const = default;
};

struct DevicePublicKey {
  Key32 x25519{};
  std::string to_text() const;
  std::string fingerprint() const;
  static Result<DevicePublicKey> from_text(std::string_view text);
  bool operator==(const DevicePublicKey&) const = default;
};

// The key a coordinator's backups are sealed to (schema/coordinator-backup.md): its secret half
// is kept offline and opens every backup made for it.
struct BackupPublicKey {
  Key32 x25519{};
  std::string to_text() const;
  std::string fingerprint() const;
  // Refuses other kinds (a coordinator key too), typos, and non-canonical or small-order keys.
  static Result<BackupPublicKey> from_text(std::string_view text);
  bool operator==(const BackupPublicKey&) const = default;
};

class DeviceSecretKey;

class OrgSecretKey {
 public:
  static OrgSecretKey generate();
  // Parses "orgsec-…" held in secret memory.
  static Result<OrgSecretKey> from_text(ByteView text);
  SecretBytes to_text() const;
  const OrgPublicKey& public_key() const { return pub_; }
  // 64-byte libsodium Ed25519 secret key (seed || public key).
  const SecretBytes& signing_key() const { return sk_; }

 private:
  OrgSecretKey() = default;
  SecretBytes seed_, sk_;
  OrgPublicKey pub_;
};

class CoordinatorSecretKey {
 public:
  static CoordinatorSecretKey generate();
  static Result<CoordinatorSecretKey> from_text(ByteView text);
  SecretBytes to_text() const;
  const CoordinatorPublicKey& public_key() const { return pub_; }
  const SecretBytes& x25519() const { return x_sk_; }
  const SecretBytes& signing_key() const { return ed_sk_; }
  // The X25519 half in the role of a bundle's sender: a coordinator seals its backup from it,
  // so the sender a restore verifies is this coordinator's key.
  DeviceSecretKey bundle_sender() const;

 private:
  CoordinatorSecretKey() = default;
  SecretBytes x_sk_, ed_seed_, ed_sk_;
  CoordinatorPublicKey pub_;
};

class DeviceSecretKey {
 public:
  static DeviceSecretKey generate();
  static Result<DeviceSecretKey> from_text(ByteView text);
  SecretBytes to_text() const;
  const DevicePublicKey& public_key() const { return pub_; }
  const SecretBytes& x25519() const { return x_sk_; }

 private:
  friend class CoordinatorSecretKey;
  DeviceSecretKey() = default;
  SecretBytes x_sk_;
  DevicePublicKey pub_;
};

class BackupSecretKey {
 public:
  static BackupSecretKey generate();
  // Parses "backupsec-…" held in secret memory.
  static Result<BackupSecretKey> from_text(ByteView text);
  SecretBytes to_text() const;
  const BackupPublicKey& public_key() const { return pub_; }
  const SecretBytes& x25519() const { return x_sk_; }

 private:
  BackupSecretKey() = default;
  SecretBytes x_sk_;
  BackupPublicKey pub_;
};

// Writes a secret key file (mode 0600, created exclusively, fsynced): a comment line with the
// public key, then the secret key string. Fails if the file exists.
Status write_secret_key_file(const std::string& path, const SecretBytes& secret_text,
                             std::string_view public_text);
// Reads a secret key file into secret memory and returns the key string (comments stripped).
Result<SecretBytes> read_secret_key_file(const std::string& path);

}  // namespace satchel
