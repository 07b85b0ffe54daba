-- Persons and import batches are kept for the registry's history: never deleted, never
-- renumbered (as on PostgreSQL, migration 11; a death is a fact, a failed batch is rolled back
-- whole). Declared foreign keys already refuse this while a fact names the row; the triggers
-- make it hold for every row, so that the importer's own transaction, which names only people
-- and batches it has just read or created, can skip the per-row foreign-key lookups
-- (`SqliteDb::tx_known_references`). The update triggers watch every update, not `UPDATE OF id`:
-- SQLite matches that by column name, and `SET rowid = …` would pass it.
CREATE TRIGGER person_kept BEFORE DELETE ON person
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY check: persons are kept for the registry''s history, never deleted');
END;
CREATE TRIGGER person_id_kept BEFORE UPDATE ON person WHEN OLD.id IS NOT NEW.id
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY check: a person is never renumbered');
END;
CREATE TRIGGER import_batch_kept BEFORE DELETE ON import_batch
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY check: import batches are kept for the registry''s history, never deleted');
END;
CREATE TRIGGER import_batch_id_kept BEFORE UPDATE ON import_batch WHEN OLD.id IS NOT NEW.id
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY check: an import batch is never renumbered');
END;
