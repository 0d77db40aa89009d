#include "satchel/crypto/secret.h"

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace satchel {

void harden_process() {
  struct rlimit none {
    0, 0
  };
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void crypto_init() {
  if (sodium_init() < 0) {
    std::fputs("fatal: libsodium failed to initialise\n", stderr);
    std::abort();
  }
}

SecretBytes::SecretBytes(size_t n) {
  crypto_init();
  // sodium_malloc(0) is valid but we keep a real allocation to keep data() non-null.
  data_ = static_cast<uint8_t*>(sodium_malloc(n == 0 ? 1 : n));
  if (data_ == nullptr) {
    std::fputs("fatal: out of secure memory\n", stderr);
    std::abort();
  }
  size_ = n;
  sodium_memzero(data_, n == 0 ? 1 : n);
}

SecretBytes::~SecretBytes() {
  release();
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretBytes::release() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before unmapping
  data_ = nullptr;
  size_ = 0;
}

SecretBytes SecretBytes::clone() const {
  SecretBytes out(size_);
  if (size_ > 0) std::memcpy(out.data_, data_, size_);
  return out;
}

bool SecretBytes::equals(std::span<const uint8_t> other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void wipe(void* p, size_t n) {
  sodium_memzero(p, n);
}

}  // namespace satchel
