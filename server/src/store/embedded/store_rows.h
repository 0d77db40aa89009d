// Small conversions shared by the embedded store's files: keys out of blobs, constant-time
// comparison of hashes, the in-memory name of an upload, and the hash of a data file.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/encoding.h"

namespace satchel::relay {

// Copies a 32-byte blob; false if the blob has another size.
inline bool copy_key(ByteView blob, std::array<uint8_t, 32>& out) {
  if (blob.size() != out.size()) return false;
  std::memcpy(out.data(), blob.data(), out.size());
  return true;
}

// Equal sizes and equal bytes, without a data-dependent early exit.
inline bool equal_in_constant_time(ByteView a, ByteView b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

inline std::string upload_key(std::string_view mailbox, ByteView id) {
  return std::string(mailbox) + "/" + to_hex(id);
}

// SHA-256 of the first `length` bytes of the open file `fd` (embedded_uploads.cpp).
Result<Hash32> hash_file_prefix(int fd, uint64_t length);

}  // namespace satchel::relay
