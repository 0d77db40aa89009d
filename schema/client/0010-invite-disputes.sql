-- Version 10: disputed invites (schema/client-database.md, "Invites"). A hello proves only that
-- its sender held a copy of the invite; when two devices present one invite, neither is
-- believed: the device it registered loses that registration (unless registered in person) and
-- both stay UNVERIFIED until a coordinator checks one in person (coord device add).
CREATE TABLE coord_invite_disputes (
  invite_id BLOB NOT NULL REFERENCES coord_device_invites (invite_id),
  device_key BLOB NOT NULL,       -- another device whose hello presented the invite
  received_day INTEGER NOT NULL,
  PRIMARY KEY (invite_id, device_key)
) WITHOUT ROWID;
