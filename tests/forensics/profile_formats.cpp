// TEST ONLY: the field client's key formats, from schema/client-database.md (see
// profile_formats.h).
#include "profile_formats.h"

#include <cstring>
#include <vector>

namespace satchel::forensics {
namespace {

constexpr std::string_view kSlotDomainPrefix = "satchel keyslot v";  // then "1" or "2"
constexpr std::string_view kKeyringAd = "satchel keyring v1";
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;

uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// SQLite varint at p (at most 9 bytes, not beyond end); 0 bytes read if malformed.
size_t read_varint(const uint8_t* p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (size_t i = 0; i < 9 && p + i < end; i++) {
    if (i == 8) {
      v = (v << 8) | p[i];
      return 9;
    }
    v = (v << 7) | (p[i] & 0x7f);
    if (!(p[i] & 0x80)) return i + 1;
  }
  return 0;
}

// Size in bytes of a value of SQLite serial type t; -1 for the reserved types 10 and 11.
int64_t serial_size(uint64_t t) {
  static constexpr int64_t kSmall[12] = {0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1};
  if (t < 12) return kSmall[t];
  return static_cast<int64_t>((t - 12) / 2);
}
bool is_text(uint64_t t) {
  return t >= 13 && t % 2 == 1;
}
bool is_blob(uint64_t t) {
  return t >= 12 && t % 2 == 0;
}
bool is_integer(uint64_t t) {
  return (t >= 1 && t <= 6) || t == 8 || t == 9;
}

// The XChaCha20-Poly1305 (IETF) one-time key for `nonce` under `key`: HChaCha20 subkey, then
// the first 32 bytes of ChaCha20 block 0 with nonce 0^4 || nonce[16, 24).
void poly1305_key(const uint8_t* nonce, const uint8_t* key, uint8_t out[32]) {
  uint8_t subkey[32], n12[12] = {};
  crypto_core_hchacha20(subkey, nonce, key, nullptr);
  std::memcpy(n12 + 4, nonce + 16, 8);
  crypto_stream_chacha20_ietf(out, 32, n12, subkey);
  sodium_memzero(subkey, sizeof subkey);
}

// True if `tag` is the IETF AEAD tag of (ad, ct) under the one-time key: Poly1305 over
// ad || pad16 || ct || pad16 || u64 LE len(ad) || u64 LE len(ct).
bool tag_matches(const uint8_t poly_key[32], const uint8_t* ad, size_t ad_len, const uint8_t* ct,
                 size_t ct_len, const uint8_t* tag) {
  static const uint8_t kZeros[16] = {};
  uint8_t lengths[16], mac[16];
  for (size_t i = 0; i < 8; i++) {
    lengths[i] = static_cast<uint8_t>(uint64_t{ad_len} >> (8 * i));
    lengths[8 + i] = static_cast<uint8_t>(uint64_t{ct_len} >> (8 * i));
  }
  crypto_onetimeauth_poly1305_state st;
  crypto_onetimeauth_poly1305_init(&st, poly_key);
  crypto_onetimeauth_poly1305_update(&st, ad, ad_len);
  crypto_onetimeauth_poly1305_update(&st, kZeros, (16 - ad_len % 16) % 16);
  crypto_onetimeauth_poly1305_update(&st, ct, ct_len);
  crypto_onetimeauth_poly1305_update(&st, kZeros, (16 - ct_len % 16) % 16);
  crypto_onetimeauth_poly1305_update(&st, lengths, sizeof lengths);
  crypto_onetimeauth_poly1305_final(&st, mac);
  return crypto_verify_16(mac, tag) == 0;
}

}  // namespace

Argon2Params slot_params(const uint8_t* slot) {
  return {le32(slot + kSlotParamsOffset), le32(slot + kSlotParamsOffset + 4)};
}

bool params_sane(Argon2Params p) {
  return p.passes >= 2 && p.passes <= 64 && p.memory_kib >= 64 * 1024 &&
         p.memory_kib <= 1024 * 1024;
}

bool stretch_passphrase(std::string_view passphrase, const uint8_t* salt, Argon2Params p,
                        Key32& stretched) {
  return crypto_pwhash(stretched.data(), stretched.size(), passphrase.data(), passphrase.size(),
                       salt, p.passes, size_t{p.memory_kib} * 1024,
                       crypto_pwhash_ALG_ARGON2ID13) == 0;
}

SlotTrial::SlotTrial(const uint8_t* slot, size_t room, const Key32& stretched)
    : slot_(slot), room_(room), stretched_(stretched) {}

void SlotTrial::begin(const uint8_t* secret, SecretState& out) {
  crypto_generichash_init(&out.st, secret, 32, 32);
  crypto_generichash_update(&out.st, reinterpret_cast<const uint8_t*>(kSlotDomainPrefix.data()),
                            kSlotDomainPrefix.size());
}

std::optional<OpenedSlot> SlotTrial::try_secret(const SecretState& secret) const {
  if (auto v2 = try_version(secret, 2)) return v2;
  return try_version(secret, 1);
}

std::optional<OpenedSlot> SlotTrial::try_version(const SecretState& secret, int version) const {
  const size_t size = version == 2 ? kSlotSizeV2 : kSlotSizeV1;
  if (room_ < size) return std::nullopt;
  const uint8_t digit = version == 2 ? '2' : '1';
  // slot_key = BLAKE2b-256(key = secret, msg = "satchel keyslot vN" || stretched)
  crypto_generichash_state st = secret.st;
  uint8_t slot_key[32];
  crypto_generichash_update(&st, &digit, 1);
  crypto_generichash_update(&st, stretched_.data(), stretched_.size());
  crypto_generichash_final(&st, slot_key, sizeof slot_key);
  // AD = "satchel keyslot vN" || u8 slot index || salt || passes || memory
  uint8_t ad[64];
  const size_t dlen = kSlotDomainPrefix.size();
  std::memcpy(ad, kSlotDomainPrefix.data(), dlen);
  ad[dlen] = digit;
  std::memcpy(ad + dlen + 2, slot_, kSlotNonceOffset);
  const size_t ad_len = dlen + 2 + kSlotNonceOffset;
  const size_t ct_len = size - kSlotCtOffset;
  // Both slot indexes share the one-time key: one ChaCha20 block, then Poly1305 per index; the
  // real AEAD decryption runs only where a tag matches.
  uint8_t poly_key[32];
  poly1305_key(slot_ + kSlotNonceOffset, slot_key, poly_key);
  uint8_t keys[64];
  for (int index = 0; index < 2; index++) {
    ad[dlen + 1] = static_cast<uint8_t>(index);
    if (!tag_matches(poly_key, ad, ad_len, slot_ + kSlotCtOffset, ct_len - kTag,
                     slot_ + size - kTag))
      continue;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(keys, nullptr, nullptr, slot_ + kSlotCtOffset,
                                                   ct_len, ad, ad_len, slot_ + kSlotNonceOffset,
                                                   slot_key) != 0)
      continue;
    OpenedSlot o;
    o.version = version;
    o.index = index;
    std::memcpy(o.db_key.data(), keys, 32);
    if (version == 2) {
      Key32 k;
      std::memcpy(k.data(), keys + 32, 32);
      o.keyring_key = k;
    }
    sodium_memzero(keys, sizeof keys);
    sodium_memzero(slot_key, sizeof slot_key);
    return o;
  }
  return std::nullopt;
}

std::optional<uint64_t> keyslots_generation(const uint8_t* block, size_t room) {
  constexpr std::string_view kDomain = "satchel keyslots v2";
  constexpr size_t kCounter = 8;
  if (room < kCounter + kKeyslotsPayload + 32) return std::nullopt;
  uint8_t check[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof check);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kDomain.data()), kDomain.size());
  crypto_generichash_update(&st, block, kCounter + kKeyslotsPayload);
  crypto_generichash_final(&st, check, sizeof check);
  if (std::memcmp(check, block + kCounter + kKeyslotsPayload, sizeof check) != 0)
    return std::nullopt;
  uint64_t counter = 0;
  for (size_t i = 0; i < kCounter; i++) counter |= uint64_t{block[i]} << (8 * i);
  return counter;
}

std::optional<Key32> open_keyring_slot(const uint8_t* p, const Key32& keyring_key) {
  Key32 k;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          k.data(), nullptr, nullptr, p + kBlobNonce, 32 + kTag,
          reinterpret_cast<const uint8_t*>(kKeyringAd.data()), kKeyringAd.size(), p,
          keyring_key.data()) != 0)
    return std::nullopt;
  return k;
}

void blob_keystream_xor(const uint8_t* nonce, const uint8_t* ct, size_t n, const Key32& key,
                        uint8_t* out) {
  crypto_stream_xchacha20_xor_ic(out, ct, n, nonce, 1, key.data());
}

bool open_blob(const uint8_t* blob, size_t len, std::string_view ad, const Key32& key) {
  if (len < kBlobNonce + kTag) return false;
  std::vector<uint8_t> plain(len - kBlobNonce - kTag);
  const bool ok =
      crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.data(), nullptr, nullptr, blob + kBlobNonce, len - kBlobNonce,
          reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), blob, key.data()) == 0;
  sodium_memzero(plain.data(), plain.size());
  return ok;
}

std::optional<RecordsRow> parse_records_row(const uint8_t* page, size_t page_end, size_t id_pos) {
  constexpr uint64_t kRecordIdType = 13 + 2 * 32;  // TEXT of 32 characters
  constexpr uint64_t kKeyType = 12 + 2 * 32;       // BLOB of 32 bytes
  for (size_t h = 2; h <= 64 && h <= id_pos; h++) {
    const uint8_t* start = page + id_pos - h;
    if (start[0] != h || start[1] != kRecordIdType) continue;  // header size < 128: one byte
    std::vector<uint64_t> types;
    const uint8_t* p = start + 1;
    const uint8_t* end = page + id_pos;
    while (p < end && types.size() < 16) {
      uint64_t t = 0;
      const size_t n = read_varint(p, end, t);
      if (n == 0) break;
      types.push_back(t);
      p += n;
    }
    if (p != end || types.size() < 5) continue;
    if (!is_text(types[1]) || !is_integer(types[2]) || types[3] != kKeyType || !is_blob(types[4]))
      continue;
    RecordsRow row;
    row.key_pos = id_pos + 32 + static_cast<size_t>(serial_size(types[1])) +
                  static_cast<size_t>(serial_size(types[2]));
    row.answers_pos = row.key_pos + 32;
    row.answers_len = static_cast<size_t>(serial_size(types[4]));
    if (row.answers_pos > page_end) continue;
    return row;
  }
  return std::nullopt;
}

std::string answers_ad(std::string_view record_id) {
  return "satchel draft v1|" + std::string(record_id) + "|answers";
}

}  // namespace satchel::forensics
