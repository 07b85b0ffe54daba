-- The fact table's references checked once per statement instead of once per row.
--
-- A foreign key is a trigger per inserted row and reference; on the import's bulk writes the
-- fact table's two foreign keys were about 8 µs of every fact, 70–80 % of inserting it
-- (measured on the test cluster, BENCHMARKS.md "Registry import", change 12; the same with a
-- compact integer key, so a narrower row does not make them cheaper). The same rules hold,
-- checked per statement, with the same SQLSTATE (23503):
--   * every inserted fact names an existing person and import batch (one anti-join of the
--     statement's new rows with each table, hashed);
--   * a fact's person and batch never change;
--   * persons and import batches are never deleted (the registry keeps its history: a death
--     is a fact, a failed batch is rolled back whole). This is stricter than the foreign keys
--     were, and it closes the window a per-statement check would otherwise leave (a person
--     deleted by a concurrent transaction between the check and the commit).
-- SQLite keeps its declared foreign keys: there each check is one integer-key lookup.
ALTER TABLE fact DROP CONSTRAINT fact_person_id_fkey;
ALTER TABLE fact DROP CONSTRAINT fact_batch_id_fkey;

CREATE FUNCTION fact_references_check() RETURNS trigger
LANGUAGE plpgsql
-- The statement's new rows carry no statistics; a nested loop would probe the person index
-- once per fact (measured 2× the cost of one hash join).
SET enable_nestloop = off
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_facts n WHERE NOT EXISTS (SELECT 1 FROM person p WHERE p.id = n.person_id)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'insert on table "fact" violates foreign key check fact_references: a fact names a person who is not registered';
    END IF;
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT batch_id FROM new_facts) n
               WHERE NOT EXISTS (SELECT 1 FROM import_batch b WHERE b.id = n.batch_id)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'insert on table "fact" violates foreign key check fact_references: a fact names an import batch that does not exist';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER fact_references AFTER INSERT ON fact
    REFERENCING NEW TABLE AS new_facts
    FOR EACH STATEMENT EXECUTE FUNCTION fact_references_check();

CREATE FUNCTION fact_references_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING MESSAGE = 'update on table "fact" violates foreign key check fact_references_fixed: a fact''s person and import batch never change';
END
$$;
CREATE TRIGGER fact_references_fixed BEFORE UPDATE OF person_id, batch_id ON fact
    FOR EACH ROW WHEN (OLD.person_id IS DISTINCT FROM NEW.person_id OR OLD.batch_id IS DISTINCT FROM NEW.batch_id)
    EXECUTE FUNCTION fact_references_fixed();

CREATE FUNCTION registry_history_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING MESSAGE = TG_OP || ' on table "' || TG_TABLE_NAME || '" violates foreign key check: its rows are kept for the registry''s history, never deleted or renumbered';
END
$$;
CREATE TRIGGER person_kept BEFORE DELETE OR TRUNCATE ON person
    FOR EACH STATEMENT EXECUTE FUNCTION registry_history_kept();
CREATE TRIGGER person_id_kept BEFORE UPDATE OF id ON person
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION registry_history_kept();
CREATE TRIGGER import_batch_kept BEFORE DELETE OR TRUNCATE ON import_batch
    FOR EACH STATEMENT EXECUTE FUNCTION registry_history_kept();
CREATE TRIGGER import_batch_id_kept BEFORE UPDATE OF id ON import_batch
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION registry_history_kept();
