-- Version 11: the coordinators of every roster a coordinator profile accepted (schema/
-- client-database.md, "Invites"), so that a device's hello minted by a coordinator removed since
-- is still recognised by coordinators who knew it. Only a coordinator profile fills it.
CREATE TABLE coord_known_coordinators (
  relay_key BLOB PRIMARY KEY,     -- 32 bytes: the coordinator's Ed25519 relay key
  name TEXT NOT NULL,             -- its name in the newest roster that listed it
  last_version INTEGER NOT NULL   -- that roster's version
) WITHOUT ROWID;
