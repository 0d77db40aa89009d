// TEST ONLY: SQLCipher 4 page recognition and decryption at any offset (see sqlcipher_window.h).
#include "sqlcipher_window.h"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace satchel::forensics {
namespace {

constexpr uint8_t kHmacSaltMask = 0x3a;
constexpr int kFastKdfIterations = 2;

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void le32(uint32_t v, uint8_t out[4]) {
  for (int i = 0; i < 4; i++) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

}  // namespace

PageKey::PageKey(const Key32& key, const Salt16& salt) : key_(key), salt_(salt) {
  Salt16 hmac_salt = salt;
  for (auto& b : hmac_salt) b ^= kHmacSaltMask;
  uint8_t hmac_key[32];
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(key.data()), static_cast<int>(key.size()),
                        hmac_salt.data(), static_cast<int>(hmac_salt.size()), kFastKdfIterations,
                        EVP_sha512(), sizeof hmac_key, hmac_key) != 1)
    throw std::runtime_error("PBKDF2 failed");
  crypto_auth_hmacsha512_init(&hmac_, hmac_key, sizeof hmac_key);
  sodium_memzero(hmac_key, sizeof hmac_key);
}

bool PageKey::authentic(const uint8_t* page, uint32_t pgno) const {
  const size_t start = pgno == 1 ? kSaltSize : 0;
  crypto_auth_hmacsha512_state st = hmac_;
  uint8_t n[4], mac[kHmacSize];
  le32(pgno, n);
  crypto_auth_hmacsha512_update(&st, page + start, kHmacOffset - start);
  crypto_auth_hmacsha512_update(&st, n, sizeof n);
  crypto_auth_hmacsha512_final(&st, mac);
  return std::memcmp(mac, page + kHmacOffset, kHmacSize) == 0;
}

uint32_t PageKey::find_page_number(const uint8_t* page, uint32_t max_pgno) const {
  crypto_auth_hmacsha512_state mid = hmac_;
  crypto_auth_hmacsha512_update(&mid, page, kHmacOffset);
  uint8_t n[4], mac[kHmacSize];
  for (uint32_t pgno = 2; pgno <= max_pgno; pgno++) {
    crypto_auth_hmacsha512_state st = mid;
    le32(pgno, n);
    crypto_auth_hmacsha512_update(&st, n, sizeof n);
    crypto_auth_hmacsha512_final(&st, mac);
    if (std::memcmp(mac, page + kHmacOffset, kHmacSize) == 0) return pgno;
  }
  return 0;
}

void PageKey::decrypt(const uint8_t* page, uint32_t pgno, uint8_t* out) const {
  const size_t start = pgno == 1 ? kSaltSize : 0;
  std::memcpy(out, page, start);
  std::memset(out + kIvOffset, 0, kPageSize - kIvOffset);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n1 = 0, n2 = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key_.data(), page + kIvOffset) &&
      EVP_CIPHER_CTX_set_padding(ctx, 0) &&
      EVP_DecryptUpdate(ctx, out + start, &n1, page + start, static_cast<int>(kIvOffset - start)) &&
      EVP_DecryptFinal_ex(ctx, out + start + n1, &n2);
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) throw std::runtime_error("AES-256-CBC decryption failed");
}

uint32_t wal_frame_pgno(const uint8_t* data, size_t offset, uint32_t max_pgno) {
  constexpr size_t kFrameHeader = 24;
  if (offset < kFrameHeader) return 0;
  const uint8_t* h = data + offset - kFrameHeader;
  const uint32_t pgno = be32(h);
  if (pgno == 0 || pgno > max_pgno) return 0;
  if (all_zero(h + 8, 8) || all_zero(h + 16, 8)) return 0;  // salts, checksums
  return pgno;
}

uint32_t journal_record_pgno(const uint8_t* data, size_t offset, uint32_t max_pgno) {
  constexpr size_t kRecordHeader = 4;
  if (offset < kRecordHeader) return 0;
  const uint32_t pgno = be32(data + offset - kRecordHeader);
  return pgno >= 1 && pgno <= max_pgno ? pgno : 0;
}

uint32_t header_page_count(const uint8_t* page1_plain) {
  const uint8_t* h = page1_plain;
  const uint32_t page_size = (uint32_t{h[16]} << 8) | h[17];
  if (page_size != kPageSize || h[20] != kPageSize - kIvOffset) return 0;
  return be32(h + 28);
}

}  // namespace satchel::forensics
