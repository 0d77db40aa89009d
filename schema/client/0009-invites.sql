-- Version 9: invites (schema/trust-documents.md, "Invite (type 4)", "Device hello";
-- schema/client-database.md, "Invites"). The invite base itself is the setting invite_base.

-- Invites this coordinator minted (satchel coord invite): ids only, never the invite's secrets.
CREATE TABLE coord_minted_invites (
  invite_id BLOB PRIMARY KEY,     -- 16 bytes: invite_id_for(invite key)
  token_id BLOB NOT NULL,         -- 8 bytes: the relay's code id
  minted_day INTEGER NOT NULL,    -- days since 1970-01-01 (UTC) of minted_at
  relay_index INTEGER NOT NULL    -- the roster's relay that minted the code
) WITHOUT ROWID;

-- Invites used by a verified device hello (content type 3): one row per invite, so that a
-- second hello for one invite from another device is recognised.
CREATE TABLE coord_device_invites (
  invite_id BLOB PRIMARY KEY,     -- 16 bytes
  device_key BLOB NOT NULL,       -- the device the hello introduced (its bundle's sender)
  token_id BLOB NOT NULL,         -- 8 bytes
  label TEXT NOT NULL,            -- the label the hello carried
  minter_key BLOB NOT NULL,       -- the minting coordinator's Ed25519 relay key
  minter_name TEXT NOT NULL,      -- its name in the roster held when the hello was imported
  minted_day INTEGER NOT NULL,    -- days since 1970-01-01 (UTC) of minted_at
  received_day INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX coord_device_invites_by_device ON coord_device_invites (device_key);

-- How each registered device (coord_devices.label set) was registered: in person (coord device
-- add) or by the hello of invite_id. A registered device without a row: not recorded.
CREATE TABLE coord_registrations (
  device_key BLOB PRIMARY KEY,
  how TEXT NOT NULL CHECK (how IN ('in person', 'invite')),
  invite_id BLOB REFERENCES coord_device_invites (invite_id),
  CHECK ((how = 'invite') = (invite_id IS NOT NULL))
) WITHOUT ROWID;
-- Before version 9 the only registration was in person.
INSERT INTO coord_registrations (device_key, how)
  SELECT device_key, 'in person' FROM coord_devices WHERE label IS NOT NULL;
