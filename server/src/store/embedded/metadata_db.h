// The relay's metadata database: SQLite through libsqlcipher (never libsqlite3 beside it),
// deliberately unkeyed — it holds no secrets, only hashes, sizes and days. Commits are durable
// (WAL, synchronous=FULL) before a call returns; deleted rows are overwritten (secure_delete).
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
  static Result<MetadataDb> open(const std::string& path);
  MetadataDb() = default;

  // Copies the WAL into the database and truncates it, so deleted rows leave no old frames.
  Status checkpoint_truncate();
  // Copies what it can of the WAL into the database without waiting for readers or writers.
  Status checkpoint_passive();

 private:
  explicit MetadataDb(sqlite::Connection c) : sqlite::Connection(std::move(c)) {}
};

}  // namespace satchel::relay
