#include "satchel/crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace satchel {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

namespace {
[[noreturn]] void fail() {
  std::fputs("fatal: OpenSSL SHA-256 failed\n", stderr);
  std::abort();
}
}  // namespace

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) fail();
}

Sha256::~Sha256() {
  if (ctx_ && ctx_->md) EVP_MD_CTX_free(ctx_->md);
}

void Sha256::update(ByteView data) {
  if (EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) fail();
}

std::array<uint8_t, 32> Sha256::finish() {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, out.data(), &len) != 1 || len != 32) fail();
  return out;
}

std::array<uint8_t, 32> Sha256::digest(ByteView data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

}  // namespace satchel
