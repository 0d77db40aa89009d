// TEST ONLY. Decrypts SQLCipher 4 pages independently of SQLCipher (AES-256-CBC with the raw
// key and each page's stored IV; default page size 4096, reserve 80), so a forensic test can read
// every page of a database file — live and free — and every frame of its WAL.
#pragma once

#include <string>
#include <vector>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/secret.h"

namespace satchel::testing {

inline constexpr size_t kSqlcipherPageSize = 4096;
inline constexpr size_t kSqlcipherReserve = 80;

// Every page of a database file, decrypted (page 1's first 16 bytes are the salt, kept as is).
std::vector<Bytes> decrypt_database_pages(const std::string& path, const SecretBytes& key);
// Every frame's page in a WAL file, decrypted; empty if the file is missing or empty.
std::vector<Bytes> decrypt_wal_frames(const std::string& path, const SecretBytes& key);

}  // namespace satchel::testing
