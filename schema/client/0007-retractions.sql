-- Version 7: retractions (schema/record-package.md, "Retraction"; schema/client-database.md,
-- "Coordinator store"). A record's retraction hash, and retractions that arrived before the
-- record they name (matched when it is imported).
ALTER TABLE coord_records ADD COLUMN retraction_hash BLOB;
CREATE UNIQUE INDEX coord_records_by_retraction ON coord_records (retraction_hash)
  WHERE retraction_hash IS NOT NULL;
CREATE TABLE coord_retractions (
  hash BLOB PRIMARY KEY,          -- SHA-256("satchel retraction v1" || secret)
  received_day INTEGER NOT NULL
) WITHOUT ROWID;
