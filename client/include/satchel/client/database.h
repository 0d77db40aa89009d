// The field profile's SQLCipher 4 database: keyed with a raw 32-byte key, with the hardening
// pragmas Satchel requires and versioned migrations (schema/client/*.sql), on the shared
// connection (satchel/sqlite: cached statements, transactions).
#pragma once

#include <string>

#include "satchel/crypto/secret.h"
#include "satchel/crypto/status.h"
#include "satchel/sqlite/connection.h"

namespace satchel::client {

using sqlite::Statement;
using sqlite::Transaction;

class Database : public sqlite::Connection {
 public:
  // Opens the database at path with a raw key (never a passphrase: the key string is exactly
  // x'<64 hex>' so SQLCipher skips PBKDF2), applies the pragmas and runs pending migrations.
  // A wrong key is kIoError "cannot unlock"; create=false refuses a missing file.
  static Result<Database> open(const std::string& path, const SecretBytes& key, bool create);
  Database() = default;

  // Copies the whole database into a new file under a new raw key (sqlcipher_export).
  Status export_to(const std::string& path, const SecretBytes& new_key);
  // PRAGMA user_version, or -1 if it cannot be read.
  int schema_version();

 private:
  explicit Database(sqlite::Connection c) : sqlite::Connection(std::move(c)) {}
  Status migrate();
};

// Builds the SQLCipher raw-key string x'<64 hex>' in secret memory (exposed for the test that
// proves the raw path is taken).
SecretBytes sqlcipher_raw_key(const SecretBytes& key);

}  // namespace satchel::client
