// Incremental SHA-256 (OpenSSL, with CPU extensions where present): the bundle content hash and
// the relay's upload id.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "satchel/crypto/encoding.h"

namespace satchel {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(ByteView data);
  // Finishes and returns the digest; the object must not be used afterwards.
  std::array<uint8_t, 32> finish();
  static std::array<uint8_t, 32> digest(ByteView data);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace satchel
