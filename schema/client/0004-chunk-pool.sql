-- Version 4: large bytes outside SQLite. An attachment chunk or outbox chunk of version 4 keeps
-- its sealed bytes in a cell of the chunk pool file (schema/client-database.md, "Chunk pool"):
-- `data` is then X'', `cell` names the cell and `cell_bytes` is the sealed length. Rows of
-- earlier versions keep their bytes in `data` (cell NULL).
ALTER TABLE attachment_chunks ADD COLUMN cell INTEGER;
ALTER TABLE attachment_chunks ADD COLUMN cell_bytes INTEGER;
ALTER TABLE outbox_chunks ADD COLUMN cell INTEGER;
ALTER TABLE outbox_chunks ADD COLUMN cell_bytes INTEGER;
CREATE UNIQUE INDEX attachment_chunks_cell ON attachment_chunks (cell) WHERE cell IS NOT NULL;
CREATE UNIQUE INDEX outbox_chunks_cell ON outbox_chunks (cell) WHERE cell IS NOT NULL;
