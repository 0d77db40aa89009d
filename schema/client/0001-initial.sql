-- Satchel field client database, schema version 1 (see schema/client-database.md).
-- The whole file is encrypted by SQLCipher under the random database key; draft contents are
-- additionally encrypted under a per-record key that finalize destroys.

-- Device identity, counters and trust anchors. Values: device_secret_key (devsec-… text),
-- next_sequence (integer), org_public_key (orgpub-… text), roster (signed roster text),
-- keep_until_delivered (0/1).
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;

-- Verified, organisation-signed forms; every version ever accepted is kept for its records.
CREATE TABLE forms (
  form_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  content TEXT NOT NULL,        -- the form JSON exactly as signed
  package TEXT NOT NULL,        -- the signed form package ("form-…")
  PRIMARY KEY (form_id, version)
);

-- Drafts. answers = nonce(24) || XChaCha20-Poly1305(record_key, answers JSON,
-- AD = "satchel draft v1" || record_id || "answers").
CREATE TABLE records (
  record_id TEXT PRIMARY KEY,   -- 16 random bytes, lower-case hex
  form_id TEXT NOT NULL,
  form_version INTEGER NOT NULL,
  record_key BLOB NOT NULL,     -- 32 random bytes; destroyed by finalize
  answers BLOB NOT NULL,
  created_at INTEGER NOT NULL,  -- Unix seconds
  updated_at INTEGER NOT NULL,
  FOREIGN KEY (form_id, form_version) REFERENCES forms (form_id, version)
);

-- Attachments of a draft: metadata and 64 KiB chunks, each encrypted under the record key.
CREATE TABLE attachments (
  record_id TEXT NOT NULL REFERENCES records (record_id) ON DELETE CASCADE,
  attachment_id TEXT NOT NULL,  -- 8 random bytes, hex
  meta BLOB NOT NULL,           -- encrypted JSON {question, name, media_type}
  size INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  complete INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (record_id, attachment_id)
);
CREATE TABLE attachment_chunks (
  record_id TEXT NOT NULL,
  attachment_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,           -- nonce(24) || ciphertext; AD binds record, attachment and seq
  PRIMARY KEY (record_id, attachment_id, seq),
  FOREIGN KEY (record_id, attachment_id) REFERENCES attachments (record_id, attachment_id)
    ON DELETE CASCADE
);

-- Sealed bundles waiting to leave the device. Only ids, sizes and states: no record content.
CREATE TABLE outbox (
  outbox_id INTEGER PRIMARY KEY,
  upload_id TEXT NOT NULL UNIQUE,   -- SHA-256 of the bundle, lower-case hex
  size INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('sealed', 'uploading', 'stored', 'exported')),
  uploaded_offset INTEGER NOT NULL DEFAULT 0,
  created_day INTEGER NOT NULL      -- Unix day number, not the time
);
CREATE TABLE outbox_chunks (
  outbox_id INTEGER NOT NULL REFERENCES outbox (outbox_id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,               -- 64 KiB of bundle bytes (already ciphertext)
  PRIMARY KEY (outbox_id, seq)
);
