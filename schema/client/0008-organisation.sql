-- Version 8: the organisation profile (schema/client-database.md, "Organisation profile").
-- Every profile has these tables; only an organisation profile (setting profile_kind =
-- 'organisation') fills them. Its name, roster settings and secrets are settings (org_*).

-- The roster's coordinators, in the order they were added (the roster lists them so).
CREATE TABLE org_coordinators (
  coordinator_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,      -- 1..64 bytes, the roster's text rule
  x25519 BLOB NOT NULL UNIQUE,    -- the coordpub- key's halves, 32 bytes each
  ed25519 BLOB NOT NULL UNIQUE
);

-- The roster's relays, in the order they were added.
CREATE TABLE org_relays (
  relay_id INTEGER PRIMARY KEY,
  url TEXT NOT NULL UNIQUE,       -- https://…
  spki_pin BLOB NOT NULL,         -- SHA-256 of the relay certificate's SubjectPublicKeyInfo
  backup_pin BLOB NOT NULL        -- the pin of the operator's backup key
);

-- Every form package version added, signed when added. number is the organisation's form
-- publication sequence (schema/trust-documents.md, "Published documents"): 1, 2, 3, … in the
-- order they were added, whatever the form id; never reused.
CREATE TABLE org_forms (
  number INTEGER PRIMARY KEY,
  form_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  content_hash BLOB NOT NULL,     -- SHA-256 of the form JSON
  package TEXT NOT NULL,          -- the signed form package ("form-…")
  UNIQUE (form_id, version)
);

-- The last roster and relay registration signed, with a digest of what they say: `org publish`
-- signs a new version only when the state says something else.
CREATE TABLE org_documents (
  kind TEXT PRIMARY KEY CHECK (kind IN ('roster', 'registration')),
  version INTEGER NOT NULL,
  digest BLOB NOT NULL,           -- SHA-256 over the fields the document carries, times excluded
  text TEXT NOT NULL,             -- the signed text ("roster-…", "registration-…")
  expires_at INTEGER              -- a roster's expiry (Unix seconds); NULL for a registration
) WITHOUT ROWID;
