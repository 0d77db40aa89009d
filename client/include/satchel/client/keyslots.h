// Keyslots: two slots, each able to wrap the profile keys (database key and keyring key) under
// Argon2id(passphrase) mixed with a secret of its own, stored beside it in the `keyslots`
// generation file (schema/client-database.md, "Keyslots").
#pragma once

#include <cstdint>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"

namespace satchel::client {

struct Argon2Params {
  uint32_t passes = 2;
  uint32_t memory_kib = 64 * 1024;
};
inline constexpr Argon2Params kArgon2Floor{2, 64 * 1024};
inline constexpr uint32_t kArgon2MaxMemoryKib = 1024 * 1024;

// Measures Argon2id on this machine and returns parameters taking about target_seconds per
// derivation, never below kArgon2Floor.
Argon2Params calibrate_argon2(double target_seconds);

// What slot 0 wraps: the SQLCipher database key and the keyring key, 32 bytes each.
struct ProfileKeys {
  SecretBytes db_key;
  SecretBytes ring_key;
  // Two fresh random keys.
  static ProfileKeys generate();
};

inline constexpr size_t kKeySlotSize = 128;
inline constexpr size_t kKeySlotCount = 2;
inline constexpr size_t kKeySlotSecretSize = 32;
// The generation payload: slot 0, slot 1, secret 0, secret 1.
inline constexpr size_t kKeySlotPayloadSize = kKeySlotCount * (kKeySlotSize + kKeySlotSecretSize);
inline constexpr const char* kKeySlotFileDomain = "satchel keyslots v2";

// A new payload: slot 0 wraps `keys` under the passphrase with a fresh secret; slot 1 and its
// secret are random bytes, slot 1 showing the same parameters (indistinguishable from a used
// slot without its passphrase).
Result<SecretBytes> make_keyslots(const SecretBytes& passphrase, const ProfileKeys& keys,
                                  Argon2Params params);

// A copy of `payload` in which slot `index` wraps `keys` under the passphrase with a fresh salt,
// nonce and secret, so no earlier copy of that slot opens any more; the other slot and its secret
// are kept as they are.
Result<SecretBytes> rewrap_keyslot(const SecretBytes& payload, size_t index,
                                   const SecretBytes& passphrase, const ProfileKeys& keys,
                                   Argon2Params params);

// Tries every slot (always all of them, so timing does not tell which one opened) and returns
// the profile keys; a wrong passphrase is kInvalidArgument "wrong passphrase".
Result<ProfileKeys> unlock_keyslots(const SecretBytes& payload, const SecretBytes& passphrase);

// Parameters stored in slot 0 (for reports and rewraps).
Result<Argon2Params> keyslot_params(const SecretBytes& payload);

// Version 1 (192-byte file of two 96-byte slots, keyed with a separate 32-byte wipe key): only
// read, to upgrade a v1 profile. Returns the database key.
inline constexpr size_t kV1KeySlotFileSize = 192;
Result<SecretBytes> unlock_v1_keyslots(ByteView file, const SecretBytes& passphrase,
                                       const SecretBytes& wipe_key);

}  // namespace satchel::client
