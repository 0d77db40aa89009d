// Keyslot layout (128 bytes): salt[16] | passes u32 | memory_kib u32 | nonce[24] | ct[80].
// slot key = BLAKE2b-256(key = slot secret, msg = "satchel keyslot v2" || Argon2id(passphrase))
// ct = XChaCha20-Poly1305(slot key, nonce, db key || ring key, AD = "satchel keyslot v2" ||
//      index || salt || passes || memory_kib)
// Version 1 (96-byte slots, ct[48] of the db key alone, keyed with the wipe key) is only read.
#include "satchel/client/keyslots.h"

#include "profile/little_endian.h"

#include <sodium.h>

#include <chrono>
#include <cstring>
#include <string_view>

namespace satchel::client {
namespace {

constexpr std::string_view kDomainV1 = "satchel keyslot v1";
constexpr std::string_view kDomainV2 = "satchel keyslot v2";
constexpr size_t kSalt = 16, kParams = 8, kNonce = 24, kTag = 16;
constexpr size_t kKeys = 64;  // db key || ring key
constexpr size_t kV1Slot = 96;

Argon2Params slot_params(const uint8_t* slot) {
  return {get_u32(slot + kSalt), get_u32(slot + kSalt + 4)};
}

bool params_sane(Argon2Params p) {
  return p.passes >= kArgon2Floor.passes && p.passes <= 64 &&
         p.memory_kib >= kArgon2Floor.memory_kib && p.memory_kib <= kArgon2MaxMemoryKib;
}

Status derive_slot_key(std::string_view domain, const SecretBytes& passphrase,
                       const uint8_t* secret, const uint8_t* salt, Argon2Params p,
                       uint8_t out[32]) {
  SecretBytes stretched(32);
  if (crypto_pwhash(stretched.data(), 32, reinterpret_cast<const char*>(passphrase.data()),
                    passphrase.size(), salt, p.passes, size_t{p.memory_kib} * 1024,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    return make_error(Errc::kInternal, "Argon2id failed (out of memory?)");
  crypto_generichash_state st;
  crypto_generichash_init(&st, secret, 32, 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(domain.data()), domain.size());
  crypto_generichash_update(&st, stretched.data(), 32);
  crypto_generichash_final(&st, out, 32);
  sodium_memzero(&st, sizeof st);
  return Status::Ok();
}

// AD = domain || index || salt || passes || memory_kib.
size_t slot_ad(std::string_view domain, size_t index, const uint8_t* slot, uint8_t ad[64]) {
  std::memcpy(ad, domain.data(), domain.size());
  ad[domain.size()] = static_cast<uint8_t>(index);
  std::memcpy(ad + domain.size() + 1, slot, kSalt + kParams);
  return domain.size() + 1 + kSalt + kParams;
}

uint8_t* slot_at(SecretBytes& payload, size_t i) {
  return payload.data() + kKeySlotSize * i;
}
const uint8_t* slot_at(const SecretBytes& payload, size_t i) {
  return payload.data() + kKeySlotSize * i;
}
uint8_t* secret_at(SecretBytes& payload, size_t i) {
  return payload.data() + kKeySlotSize * kKeySlotCount + kKeySlotSecretSize * i;
}
const uint8_t* secret_at(const SecretBytes& payload, size_t i) {
  return payload.data() + kKeySlotSize * kKeySlotCount + kKeySlotSecretSize * i;
}

// Fills slot `index` and its secret afresh, wrapping keys under the passphrase.
Status seal_slot(SecretBytes& payload, size_t index, const SecretBytes& passphrase,
                 const ProfileKeys& keys, Argon2Params p) {
  uint8_t* slot = slot_at(payload, index);
  uint8_t* secret = secret_at(payload, index);
  randombytes_buf(secret, kKeySlotSecretSize);
  randombytes_buf(slot, kSalt);
  put_u32(slot + kSalt, p.passes);
  put_u32(slot + kSalt + 4, p.memory_kib);
  uint8_t* nonce = slot + kSalt + kParams;
  randombytes_buf(nonce, kNonce);
  SecretBytes key(32), plain(kKeys);
  SATCHEL_TRY(derive_slot_key(kDomainV2, passphrase, secret, slot, p, key.data()));
  std::memcpy(plain.data(), keys.db_key.data(), 32);
  std::memcpy(plain.data() + 32, keys.ring_key.data(), 32);
  uint8_t ad[64];
  const size_t ad_len = slot_ad(kDomainV2, index, slot, ad);
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonce, nullptr, plain.data(), kKeys, ad,
                                             ad_len, nullptr, nonce, key.data());
  return Status::Ok();
}

}  // namespace

ProfileKeys ProfileKeys::generate() {
  ProfileKeys k{SecretBytes(32), SecretBytes(32)};
  randombytes_buf(k.db_key.data(), 32);
  randombytes_buf(k.ring_key.data(), 32);
  return k;
}

Argon2Params calibrate_argon2(double target) {
  crypto_init();
  auto time_once = [](Argon2Params p) {
    SecretBytes out(32), pass(16);
    uint8_t salt[kSalt] = {};
    auto t0 = std::chrono::steady_clock::now();
    if (crypto_pwhash(out.data(), 32, reinterpret_cast<const char*>(pass.data()), pass.size(), salt,
                      p.passes, size_t{p.memory_kib} * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0)
      return 1e9;  // cannot allocate: treat as "too slow" so memory stops growing

    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  Argon2Params p = kArgon2Floor;
  double t = time_once(p);
  // Grow memory first (it is what makes GPUs and ASICs pay), up to 1 GiB, then passes.
  while (t * 2 <= target && p.memory_kib * 2 <= kArgon2MaxMemoryKib / 2) {
    p.memory_kib *= 2;
    t *= 2;
  }
  t = time_once(p);
  if (t < target) {
    p.passes = std::max<uint32_t>(p.passes, static_cast<uint32_t>(p.passes * target / t));
    p.passes = std::min<uint32_t>(p.passes, 64);
  }
  return p;
}

Result<SecretBytes> make_keyslots(const SecretBytes& passphrase, const ProfileKeys& keys,
                                  Argon2Params params) {
  crypto_init();
  if (!params_sane(params))
    return make_error(Errc::kInvalidArgument, "Argon2id parameters out of range");
  SecretBytes payload(kKeySlotPayloadSize);
  randombytes_buf(payload.data(), payload.size());
  // Slot 1 keeps its random salt, nonce, ciphertext and secret but shows the same parameters.
  put_u32(slot_at(payload, 1) + kSalt, params.passes);
  put_u32(slot_at(payload, 1) + kSalt + 4, params.memory_kib);
  SATCHEL_TRY(seal_slot(payload, 0, passphrase, keys, params));
  return payload;
}

Result<SecretBytes> rewrap_keyslot(const SecretBytes& payload, size_t index,
                                   const SecretBytes& passphrase, const ProfileKeys& keys,
                                   Argon2Params params) {
  if (payload.size() != kKeySlotPayloadSize || index >= kKeySlotCount)
    return make_error(Errc::kInvalidArgument, "keyslot payload has the wrong size");
  if (!params_sane(params))
    return make_error(Errc::kInvalidArgument, "Argon2id parameters out of range");
  SecretBytes out = payload.clone();
  SATCHEL_TRY(seal_slot(out, index, passphrase, keys, params));
  return out;
}

Result<ProfileKeys> unlock_keyslots(const SecretBytes& payload, const SecretBytes& passphrase) {
  if (payload.size() != kKeySlotPayloadSize)
    return make_error(Errc::kIoError, "keyslot payload has the wrong size (damaged profile)");
  SecretBytes plain(kKeys), candidate(kKeys), key(32);
  bool found = false;
  for (size_t i = 0; i < kKeySlotCount; i++) {
    const uint8_t* slot = slot_at(payload, i);
    const Argon2Params p = slot_params(slot);
    if (!params_sane(p)) continue;
    SATCHEL_TRY(derive_slot_key(kDomainV2, passphrase, secret_at(payload, i), slot, p, key.data()));
    uint8_t ad[64];
    const size_t ad_len = slot_ad(kDomainV2, i, slot, ad);
    const uint8_t* nonce = slot + kSalt + kParams;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(candidate.data(), nullptr, nullptr,
                                                   nonce + kNonce, kKeys + kTag, ad, ad_len, nonce,
                                                   key.data()) == 0 &&
        !found) {
      std::memcpy(plain.data(), candidate.data(), kKeys);
      found = true;
    }
  }
  if (!found) return make_error(Errc::kInvalidArgument, "wrong passphrase");
  ProfileKeys keys{SecretBytes(32), SecretBytes(32)};
  std::memcpy(keys.db_key.data(), plain.data(), 32);
  std::memcpy(keys.ring_key.data(), plain.data() + 32, 32);
  return keys;
}

Result<Argon2Params> keyslot_params(const SecretBytes& payload) {
  if (payload.size() != kKeySlotPayloadSize)
    return make_error(Errc::kIoError, "keyslot payload has the wrong size");
  return slot_params(payload.data());
}

Result<SecretBytes> unlock_v1_keyslots(ByteView file, const SecretBytes& passphrase,
                                       const SecretBytes& wipe_key) {
  if (file.size() != kV1KeySlotFileSize || wipe_key.size() != 32)
    return make_error(Errc::kIoError, "v1 keyslot file has the wrong size (damaged profile)");
  SecretBytes db_key(32), candidate(32), key(32);
  bool found = false;
  for (size_t i = 0; i < kKeySlotCount; i++) {
    const uint8_t* slot = file.data() + kV1Slot * i;
    const Argon2Params p = slot_params(slot);
    if (!params_sane(p)) continue;
    SATCHEL_TRY(derive_slot_key(kDomainV1, passphrase, wipe_key.data(), slot, p, key.data()));
    uint8_t ad[64];
    const size_t ad_len = slot_ad(kDomainV1, i, slot, ad);
    const uint8_t* nonce = slot + kSalt + kParams;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(candidate.data(), nullptr, nullptr,
                                                   nonce + kNonce, 32 + kTag, ad, ad_len, nonce,
                                                   key.data()) == 0 &&
        !found) {
      std::memcpy(db_key.data(), candidate.data(), 32);
      found = true;
    }
  }
  if (!found) return make_error(Errc::kInvalidArgument, "wrong passphrase");
  return db_key;
}

}  // namespace satchel::client
