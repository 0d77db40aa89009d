// The relay's metadata database: SQLite through libsqlcipher (never libsqlite3 beside it),
// deliberately unkeyed — it holds no secrets, only hashes, sizes and days. Commits are durable
// (WAL, synchronous=FULL) before a call returns; deleted rows are overwritten (secure_delete).
// Token and enrollment-code hashes live in a second file beside it, tokens.db, attached to every
// connection as schema `credentials` (tables credentials.tokens, credentials.enrollment_codes):
// each file has its own WAL, so no WAL records a token's insertion in order with uploads.
#pragma once

#include <string>

#include "satchel/crypto/status.h"
#include "satchel/sqlite/connection.h"

namespace satchel::relay {

using sqlite::Statement;
using sqlite::Transaction;

class MetadataDb : public sqlite::Connection {
 public:
  // Opens (creating if needed) the database at `path`, applies the durability pragmas and
  // creates the schema. kIoError if the file cannot be opened or is not a relay database.
  // Attaches tokens.db (credentials_path) beside it, moving the credential tables of a relay.db
  // made by an earlier version into it.
  static Result<MetadataDb> open(const std::string& path);
  // The credentials database beside the metadata database at `path` (DIR/tokens.db).
  static std::string credentials_path(const std::string& path);
  MetadataDb() = default;

  // Copies the WALs (of both files) into the databases and truncates them, so deleted rows leave
  // no old frames in the files.
  Status checkpoint_truncate();
  // Copies what it can of both WALs into the databases without waiting for readers or writers.
  Status checkpoint_passive();

 private:
  explicit MetadataDb(sqlite::Connection c) : sqlite::Connection(std::move(c)) {}
};

}  // namespace satchel::relay
