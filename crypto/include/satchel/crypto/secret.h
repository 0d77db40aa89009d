// Secret memory: key material lives only in SecretBytes, which owns sodium_malloc'd memory
// (guard pages, mlock'd where the system allows) and wipes it on destruction. Not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace satchel {

// Initialises libsodium once; aborts the process if it cannot (no safe way to continue).
void crypto_init();

// For programs holding secrets: no core dumps and no ptrace attach by other processes, so a
// crash or a debugger cannot copy keys or tokens to disk. Call first thing in main().
void harden_process();

class SecretBytes {
 public:
  SecretBytes() = default;
  // Allocates n zeroed bytes of secret memory; aborts on allocation failure.
  explicit SecretBytes(size_t n);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  // Returns a new SecretBytes holding the same bytes (an explicit, visible copy).
  SecretBytes clone() const;
  // Constant-time equality of contents (sizes must match to be equal).
  bool equals(std::span<const uint8_t> other) const;

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Wipes a buffer that held secret bytes outside SecretBytes (e.g. a stack scratch array).
void wipe(void* p, size_t n);

}  // namespace satchel
