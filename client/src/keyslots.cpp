// Keyslot layout (96 bytes): salt[16] | passes u32 | memory_kib u32 | nonce[24] | ct[48].
// slot key = BLAKE2b-256(key = wipe key, msg = "satchel keyslot v1" || Argon2id(passphrase))
// ct = XChaCha20-Poly1305(slot key, nonce, db key, AD = "satchel keyslot v1" || index || salt ||
//      passes || memory_kib)
#include "satchel/client/keyslots.h"

#include <sodium.h>

#include <chrono>
#include <cstring>
#include <string_view>

namespace satchel::client {
namespace {

constexpr std::string_view kDomain = "satchel keyslot v1";
constexpr size_t kSalt = 16, kParams = 8, kNonce = 24, kCt = 48;

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0] | (p[1] << 8) | (p[2] << 16)) |
         (static_cast<uint32_t>(p[3]) << 24);
}

Status derive_slot_key(const SecretBytes& passphrase, const SecretBytes& wipe_key,
                       const uint8_t* salt, Argon2Params p, uint8_t out[32]) {
  SecretBytes stretched(32);
  if (crypto_pwhash(stretched.data(), 32, reinterpret_cast<const char*>(passphrase.data()),
                    passphrase.size(), salt, p.passes, size_t{p.memory_kib} * 1024,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    return make_error(Errc::kInternal, "Argon2id failed (out of memory?)");
  crypto_generichash_state st;
  crypto_generichash_init(&st, wipe_key.data(), wipe_key.size(), 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kDomain.data()), kDomain.size());
  crypto_generichash_update(&st, stretched.data(), 32);
  crypto_generichash_final(&st, out, 32);
  sodium_memzero(&st, sizeof st);
  return Status::Ok();
}

void slot_ad(size_t index, const uint8_t* slot, uint8_t ad[64]) {
  std::memcpy(ad, kDomain.data(), kDomain.size());
  ad[kDomain.size()] = static_cast<uint8_t>(index);
  std::memcpy(ad + kDomain.size() + 1, slot, kSalt + kParams);
}
constexpr size_t kAdLen = kDomain.size() + 1 + kSalt + kParams;

Status seal_slot(uint8_t* slot, size_t index, const SecretBytes& passphrase,
                 const SecretBytes& wipe_key, const SecretBytes& db_key, Argon2Params p) {
  randombytes_buf(slot, kSalt);
  put_u32(slot + kSalt, p.passes);
  put_u32(slot + kSalt + 4, p.memory_kib);
  uint8_t* nonce = slot + kSalt + kParams;
  randombytes_buf(nonce, kNonce);
  SecretBytes key(32);
  SATCHEL_TRY(derive_slot_key(passphrase, wipe_key, slot, p, key.data()));
  uint8_t ad[64];
  slot_ad(index, slot, ad);
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonce, nullptr, db_key.data(), 32, ad, kAdLen,
                                             nullptr, nonce, key.data());
  return Status::Ok();
}

bool params_sane(Argon2Params p) {
  return p.passes >= kArgon2Floor.passes && p.passes <= 64 &&
         p.memory_kib >= kArgon2Floor.memory_kib && p.memory_kib <= kArgon2MaxMemoryKib;
}

}  // namespace

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

Bytes make_keyslot_file(const SecretBytes& passphrase, const SecretBytes& wipe_key,
                        const SecretBytes& db_key, Argon2Params params) {
  crypto_init();
  Bytes file(kKeySlotFileSize);
  randombytes_buf(file.data(), file.size());
  // Slot 1 keeps its random salt, nonce and ciphertext but shows the same parameters.
  put_u32(file.data() + kKeySlotSize + kSalt, params.passes);
  put_u32(file.data() + kKeySlotSize + kSalt + 4, params.memory_kib);
  Status s = seal_slot(file.data(), 0, passphrase, wipe_key, db_key, params);
  if (!s) std::abort();  // only on Argon2 allocation failure with sane parameters
  return file;
}

Result<Bytes> rewrap_keyslot(ByteView file, size_t index, const SecretBytes& passphrase,
                             const SecretBytes& wipe_key, const SecretBytes& db_key,
                             Argon2Params params) {
  if (file.size() != kKeySlotFileSize || index >= kKeySlotCount)
    return make_error(Errc::kInvalidArgument, "keyslot file has the wrong size");
  if (!params_sane(params))
    return make_error(Errc::kInvalidArgument, "Argon2id parameters out of range");
  Bytes out(file.begin(), file.end());
  SATCHEL_TRY(
      seal_slot(out.data() + kKeySlotSize * index, index, passphrase, wipe_key, db_key, params));
  return out;
}

Result<SecretBytes> unlock_keyslots(ByteView file, const SecretBytes& passphrase,
                                    const SecretBytes& wipe_key) {
  if (file.size() != kKeySlotFileSize)
    return make_error(Errc::kIoError, "keyslot file has the wrong size (damaged profile)");
  SecretBytes db_key(32), candidate(32), key(32);
  bool found = false;
  for (size_t i = 0; i < kKeySlotCount; i++) {
    const uint8_t* slot = file.data() + kKeySlotSize * i;
    Argon2Params p{get_u32(slot + kSalt), get_u32(slot + kSalt + 4)};
    if (!params_sane(p)) continue;
    SATCHEL_TRY(derive_slot_key(passphrase, wipe_key, slot, p, key.data()));
    uint8_t ad[64];
    slot_ad(i, slot, ad);
    const uint8_t* nonce = slot + kSalt + kParams;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(candidate.data(), nullptr, nullptr,
                                                   nonce + kNonce, kCt, ad, kAdLen, nonce,
                                                   key.data()) == 0 &&
        !found) {
      std::memcpy(db_key.data(), candidate.data(), 32);
      found = true;
    }
  }
  if (!found) return make_error(Errc::kInvalidArgument, "wrong passphrase");
  return db_key;
}

Result<Argon2Params> keyslot_params(ByteView file) {
  if (file.size() != kKeySlotFileSize)
    return make_error(Errc::kIoError, "keyslot file has the wrong size");
  return Argon2Params{get_u32(file.data() + kSalt), get_u32(file.data() + kSalt + 4)};
}

}  // namespace satchel::client
