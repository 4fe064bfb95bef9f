-- gridmap 0005: who changed a grid and why (the edit history).
--
-- Every version of a grid already lives in `grids` (migration 0002: valid_from/valid_to per
-- version, the code registry keeps retired codes). An edit (src/store/postgis/edit.rs) ends the
-- current versions it replaces (UPDATE valid_to), inserts the new versions, registers new codes
-- and retires old ones, all in one transaction under the write lock, and appends an 'edit' row
-- to change_log so that other instances reload.
--
-- What history also needs is the "who" and "why" of each version: two nullable columns, NULL for
-- versions that were imported rather than edited (an import has no editor and no reason).
-- `changed_by` is the name of the caller's token (crate::auth::Caller::name), never a person's
-- phone number or other personal data.
ALTER TABLE grids
    ADD COLUMN changed_by text,
    ADD COLUMN reason     text,
    -- The API refuses longer reasons; the database says the same, so a bad writer cannot slip one in.
    ADD CONSTRAINT grids_reason_length CHECK (reason IS NULL OR char_length(reason) BETWEEN 1 AND 500);

-- As-of reads ("which grid held this point on 2026-01-01") filter versions by their validity:
--     WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
-- and gridmap loads every ended version once at start-up to answer them from memory. A partial
-- index on the ended versions keeps that load a scan of the (small) history, not of every grid.
CREATE INDEX grids_ended ON grids (code, version) WHERE valid_to IS NOT NULL;
