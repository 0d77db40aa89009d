// TEST ONLY: independent SQLCipher 4 page decryption (see sqlcipher_pages.h).
#include "sqlcipher_pages.h"

#include <openssl/evp.h>

#include <fstream>
#include <stdexcept>

namespace satchel::testing {
namespace {

Bytes read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

Bytes decrypt_page(const uint8_t* page, bool first, const SecretBytes& key) {
  const size_t start = first ? 16 : 0;
  const size_t len = kSqlcipherPageSize - kSqlcipherReserve - start;
  const uint8_t* iv = page + kSqlcipherPageSize - kSqlcipherReserve;
  Bytes out(kSqlcipherPageSize, 0);
  std::copy(page, page + start, out.begin());
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n1 = 0, n2 = 0;
  EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key.data(), iv);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  EVP_DecryptUpdate(ctx, out.data() + start, &n1, page + start, static_cast<int>(len));
  EVP_DecryptFinal_ex(ctx, out.data() + start + n1, &n2);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

}  // namespace

std::vector<Bytes> decrypt_database_pages(const std::string& path, const SecretBytes& key) {
  Bytes file = read_all(path);
  std::vector<Bytes> pages;
  for (size_t off = 0; off + kSqlcipherPageSize <= file.size(); off += kSqlcipherPageSize)
    pages.push_back(decrypt_page(file.data() + off, off == 0, key));
  return pages;
}

std::vector<Bytes> decrypt_wal_frames(const std::string& path, const SecretBytes& key) {
  Bytes file = read_all(path);
  std::vector<Bytes> pages;
  constexpr size_t kWalHeader = 32, kFrameHeader = 24;
  for (size_t off = kWalHeader; off + kFrameHeader + kSqlcipherPageSize <= file.size();
       off += kFrameHeader + kSqlcipherPageSize) {
    const uint8_t* fh = file.data() + off;
    const uint32_t page_no =
        (uint32_t{fh[0]} << 24) | (uint32_t{fh[1]} << 16) | (uint32_t{fh[2]} << 8) | fh[3];
    pages.push_back(decrypt_page(file.data() + off + kFrameHeader, page_no == 1, key));
  }
  return pages;
}

}  // namespace satchel::testing
