-- Version 5: the coordinator's store (schema/client-database.md, "Coordinator store"). Every
-- profile has these tables; only a coordinator profile (setting profile_kind = 'coordinator')
-- fills them.

-- Bytes kept in the chunk pool for the coordinator: the body of an imported bundle, or a
-- bundle kept as received in quarantine. Each chunk is sealed under body_key with
-- AD = "satchel coord body v1|" || body_id || "|" || seq.
CREATE TABLE coord_bodies (
  body_id INTEGER PRIMARY KEY,
  body_key BLOB NOT NULL,         -- 32 random bytes
  size INTEGER NOT NULL
);
CREATE TABLE coord_body_chunks (
  body_id INTEGER NOT NULL REFERENCES coord_bodies (body_id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  cell INTEGER NOT NULL UNIQUE,   -- the pool cell
  cell_bytes INTEGER NOT NULL,    -- sealed length: nonce(24) + chunk + tag(16)
  PRIMARY KEY (body_id, seq)
) WITHOUT ROWID;

-- Devices: every sender seen in a verified bundle. label NULL: not registered (its records
-- are UNVERIFIED); lost_after: bundles with a higher sequence go to quarantine.
CREATE TABLE coord_devices (
  device_key BLOB PRIMARY KEY,    -- the device's X25519 public key, 32 bytes
  label TEXT,
  first_day INTEGER NOT NULL,     -- days since 1970-01-01 (UTC) of the first and last import
  last_day INTEGER NOT NULL,
  lost_after INTEGER
) WITHOUT ROWID;

-- Every verified bundle (any content type): for duplicates and completeness.
CREATE TABLE coord_bundles (
  bundle_id BLOB PRIMARY KEY,     -- the bundle id inside the ciphertext, 16 bytes
  device_key BLOB NOT NULL,
  sequence INTEGER NOT NULL,
  content_type INTEGER NOT NULL,
  received_day INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX coord_bundles_by_device ON coord_bundles (device_key, sequence);

-- Imported records: the record package's manifest, and its body (for attachments).
CREATE TABLE coord_records (
  record_id TEXT PRIMARY KEY,     -- from the manifest: 32 lower-case hex digits
  bundle_id BLOB NOT NULL UNIQUE,
  device_key BLOB NOT NULL,
  form_id TEXT NOT NULL,
  form_version INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  body_id INTEGER NOT NULL REFERENCES coord_bodies (body_id),
  received_day INTEGER NOT NULL,
  retracted INTEGER NOT NULL DEFAULT 0
);

-- What could not be imported, with its reason; never dropped silently. opened = 0: body_id
-- holds the bundle as received (it did not open); 1: it holds the opened body.
CREATE TABLE coord_quarantine (
  quarantine_id INTEGER PRIMARY KEY,
  reason TEXT NOT NULL,
  bundle_id BLOB,
  device_key BLOB,
  opened INTEGER NOT NULL,
  body_id INTEGER REFERENCES coord_bodies (body_id),
  received_day INTEGER NOT NULL
);
