// The keyslot file: fixed size, two slots, each able to wrap the database key under
// Argon2id(passphrase) combined with the profile's wipe key (schema/client-database.md).
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

inline constexpr size_t kKeySlotSize = 96;
inline constexpr size_t kKeySlotCount = 2;
inline constexpr size_t kKeySlotFileSize = kKeySlotSize * kKeySlotCount;

// A new keyslot file: slot 0 wraps db_key; slot 1 is random bytes carrying the same
// parameters, indistinguishable from a used slot without its passphrase.
Bytes make_keyslot_file(const SecretBytes& passphrase, const SecretBytes& wipe_key,
                        const SecretBytes& db_key, Argon2Params params);

// Rewraps slot `index` of an existing file for a new passphrase; other slots are untouched.
Result<Bytes> rewrap_keyslot(ByteView file, size_t index, const SecretBytes& passphrase,
                             const SecretBytes& wipe_key, const SecretBytes& db_key,
                             Argon2Params params);

// Tries every slot (always all of them, so timing does not tell which one opened) and returns
// the database key; a wrong passphrase or wipe key is kInvalidArgument "wrong passphrase".
Result<SecretBytes> unlock_keyslots(ByteView file, const SecretBytes& passphrase,
                                    const SecretBytes& wipe_key);

// Parameters stored in slot 0 (for reports and rewraps).
Result<Argon2Params> keyslot_params(ByteView file);

}  // namespace satchel::client
