// Rows written before version 3 keep their keys in the database (a draft's record_key) or no
// key at all (an outbox entry's id and bytes in the clear). seal_legacy_rows moves them under
// keyring keys, so that finalize and delivery can forget them like any other (the caller then
// rekeys, so the copies SQLite kept of the old rows go with the old database key).
#pragma once

#include "satchel/client/chunk_pool.h"
#include "satchel/client/database.h"
#include "satchel/client/keyring.h"

namespace satchel::client {

// Re-seals every version-1/2 draft and outbox entry under a fresh keyring key, with its chunks
// moved into the pool, in one transaction. Returns how many rows it converted (0: nothing to do).
Result<size_t> seal_legacy_rows(Database& db, Keyring& keyring, ChunkPool& pool);

}  // namespace satchel::client
