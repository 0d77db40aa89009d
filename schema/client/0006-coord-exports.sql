-- Version 6: the coordinator's export log and quarantine keys (schema/client-database.md, "Exports"): one row per
-- export written, so that the profile says which plaintext files were made, when and how.
CREATE TABLE coord_exports (
  export_id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,            -- Unix seconds
  form_id TEXT NOT NULL,
  form_version INTEGER NOT NULL,
  format TEXT NOT NULL,           -- csv | jsonl
  options TEXT NOT NULL,          -- the options that change what is included, space-separated
  records INTEGER NOT NULL        -- records written
);

-- Quarantine rows learn what lets them leave: a bundle that did not open is known by its
-- upload id (SHA-256 of its bytes), so that the same file imported again is a duplicate; a
-- record waiting for its form names the form, and is imported when that form is added.
ALTER TABLE coord_quarantine ADD COLUMN upload_id BLOB;
ALTER TABLE coord_quarantine ADD COLUMN waiting_form_id TEXT;
ALTER TABLE coord_quarantine ADD COLUMN waiting_form_version INTEGER;
ALTER TABLE coord_quarantine ADD COLUMN form_hash BLOB;
CREATE INDEX coord_quarantine_by_upload ON coord_quarantine (upload_id) WHERE upload_id IS NOT NULL;
