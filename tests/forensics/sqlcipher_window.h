// TEST ONLY. Recognises and decrypts SQLCipher 4 pages at any offset of a raw disk image (in a
// database file, a WAL frame or a rollback-journal record), for an examiner who holds the raw
// database key: SQLCipher 4 defaults (page 4096, reserve 80 = IV 16 + HMAC-SHA512 64; AES-256-CBC;
// HMAC key = PBKDF2-HMAC-SHA512(key, salt XOR 0x3a, 2 iterations, 32 bytes); HMAC over
// ciphertext || IV || page number as 4 bytes little-endian). Page 1's first 16 bytes are the salt,
// neither encrypted nor authenticated. The HMAC is checked before anything is decrypted, so random
// windows are rejected for the price of one hash.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace satchel::forensics {

inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kSaltSize = 16;
inline constexpr size_t kIvOffset = 4016;    // page size - reserve
inline constexpr size_t kHmacOffset = 4032;  // IV offset + 16
inline constexpr size_t kHmacSize = 64;

using Key32 = std::array<uint8_t, 32>;
using Salt16 = std::array<uint8_t, kSaltSize>;

// One database as seen with one key: the raw database key and the salt of its page 1.
class PageKey {
 public:
  PageKey(const Key32& key, const Salt16& salt);

  const Key32& key() const { return key_; }
  const Salt16& salt() const { return salt_; }
  // True if the 4096 bytes at `page` are page `pgno` of this database (HMAC check only).
  bool authentic(const uint8_t* page, uint32_t pgno) const;
  // The page number in [2, max_pgno] whose HMAC matches the 4096 bytes at `page`, or 0: one hash
  // of the page, then two SHA-512 blocks per page number tried.
  uint32_t find_page_number(const uint8_t* page, uint32_t max_pgno) const;
  // Decrypts an authentic page: plaintext in out[0, 4016) (page 1 keeps its salt in out[0, 16)),
  // the reserve zeroed.
  void decrypt(const uint8_t* page, uint32_t pgno, uint8_t* out) const;

 private:
  Key32 key_;
  Salt16 salt_;
  crypto_auth_hmacsha512_state hmac_{};  // keyed, nothing absorbed yet
};

// The big-endian page number of a WAL frame whose page data starts at data[offset], or 0 if the
// 24 bytes before it do not look like a frame header (page number in [1, max_pgno], salts and
// checksums not all zero).
uint32_t wal_frame_pgno(const uint8_t* data, size_t offset, uint32_t max_pgno);

// The big-endian page number of a rollback-journal record whose page data starts at
// data[offset], or 0 if the 4 bytes before it are not a page number in [1, max_pgno]. A record is
// page number (4, big-endian) || page (4096) || checksum (4), and the records follow a header of
// one sector (512 bytes under SQLite's default powersafe-overwrite setting): the pages of
// `data.db-journal` lie at file offsets 512 + 4 + 4104·k, 4 mod 8. The checksum's nonce lives in
// the header, which `journal_mode = PERSIST` zeroes at every commit, so only the page's HMAC (with
// this page number) tells a record from any other 4 bytes.
uint32_t journal_record_pgno(const uint8_t* data, size_t offset, uint32_t max_pgno);

// The database size in pages from a decrypted page 1 (0 if its header is not SQLite's with page
// size 4096 and reserve 80).
uint32_t header_page_count(const uint8_t* page1_plain);

}  // namespace satchel::forensics
