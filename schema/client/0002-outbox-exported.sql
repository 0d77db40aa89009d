-- Version 2: "exported" becomes a mark beside the upload state. A bundle written to a folder
-- (`satchel outbox export`) keeps the mark once sync has begun to upload it, so that
-- `satchel sync --skip-exported` still leaves it. The state CHECK of version 1 still admits
-- 'exported' (SQLite cannot change a CHECK in place); no version-2 code writes it.
ALTER TABLE outbox ADD COLUMN exported INTEGER NOT NULL DEFAULT 0 CHECK (exported IN (0, 1));
UPDATE outbox SET exported = 1, state = 'sealed' WHERE state = 'exported';
