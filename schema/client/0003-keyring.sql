-- Version 3: keys that can be destroyed. A draft's key and an outbox entry's key live in the
-- keyring file (schema/client-database.md, "Keyring"), named here by slot, never in a row: rows
-- pass through the WAL, whose old frames SQLite cannot erase. Rows of version 1 and 2 keep
-- key_slot NULL and are read as before.
ALTER TABLE records ADD COLUMN key_slot INTEGER;          -- NULL: record_key holds the key (v1)
ALTER TABLE outbox ADD COLUMN key_slot INTEGER;           -- NULL: plaintext id and bytes (v1)
ALTER TABLE outbox ADD COLUMN sealed_meta BLOB;           -- entry id, size, sequence, encrypted
CREATE UNIQUE INDEX records_key_slot ON records (key_slot) WHERE key_slot IS NOT NULL;
CREATE UNIQUE INDEX outbox_key_slot ON outbox (key_slot) WHERE key_slot IS NOT NULL;
