-- The fact table partitioned by source department (list partitions, one per department).
--
-- A department's first delivery is then a load into an empty table of its own: the importer
-- creates the partition bare, writes it by `COPY` and attaches it, which builds its indexes
-- once by sorting. Kept up row by row, inserting into the indexes of a table that already
-- held the other departments' facts cost 3.7–6 µs a fact (the 人社 and 医保 files after the 公安
-- file; BENCHMARKS.md "Registry import", change 35). A later delivery of the same department
-- touches only its own partition's indexes.
--
-- What changes with it:
--   * The primary key is (id, source): a partitioned table's keys include the partition key.
--     Ids still come from one sequence and are never reused, so an id names one fact.
--   * `fact_conflict` cannot declare a foreign key to (id): its references are checked once
--     per statement instead (as the fact table's own are, migration 11), and facts are never
--     deleted or renumbered (triggers below), which is what the foreign key guaranteed.
--   * There is no default partition: attaching a partition would lock a default one
--     exclusively until the importer's commit, stopping every reader of the registry. A fact
--     of a department without a partition is refused; the importer creates the partition
--     first (`registry::ensure_fact_partition`).

-- Partition names from department names (any text): ASCII, fixed length, one per department.
CREATE FUNCTION fact_partition_name(source text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT 'fact_' || substr(md5(source), 1, 16) $$;

ALTER TABLE fact_conflict DROP CONSTRAINT fact_conflict_fact_id_fkey;
ALTER TABLE fact_conflict DROP CONSTRAINT fact_conflict_other_fact_id_fkey;

ALTER TABLE fact RENAME TO fact_unpartitioned;
ALTER TABLE fact_unpartitioned DROP CONSTRAINT fact_pkey;
ALTER TABLE fact_unpartitioned DROP CONSTRAINT fact_person_id_kind_source_valid_from_value_key;
DROP INDEX fact_division;
DROP INDEX fact_death;

CREATE TABLE fact (
    id             BIGINT NOT NULL DEFAULT nextval('fact_id_seq'),
    person_id      BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    value          TEXT NOT NULL,
    valid_from     DATE NOT NULL,
    valid_to       DATE,
    source         TEXT NOT NULL,
    batch_id       BIGINT NOT NULL,
    ended_by_batch BIGINT,
    recorded_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, source),
    -- Person first (see migration 1); also serves every per-person lookup.
    UNIQUE (person_id, kind, source, valid_from, value)
) PARTITION BY LIST (source);
ALTER SEQUENCE fact_id_seq OWNED BY fact.id;
-- Who lives where (by the division code alone, migration 13).
CREATE INDEX fact_division ON fact (value) WHERE kind IN ('hukou', 'residence');
-- Deaths are few and every batch asks for them.
CREATE INDEX fact_death ON fact (person_id) WHERE kind = 'death';

-- One partition for each department already holding facts, with room on every page for the
-- facts that end there (fillfactor, migration 12).
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN SELECT DISTINCT source FROM fact_unpartitioned LOOP
        EXECUTE format('CREATE TABLE %I (LIKE fact INCLUDING DEFAULTS) WITH (fillfactor = 90)', fact_partition_name(s));
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (source = %L)',
                       fact_partition_name(s), fact_partition_name(s) || '_source', s);
        EXECUTE format('COMMENT ON TABLE %I IS %L', fact_partition_name(s), 'facts from ' || s);
        EXECUTE format('ALTER TABLE fact ATTACH PARTITION %I FOR VALUES IN (%L)', fact_partition_name(s), s);
    END LOOP;
END
$$;
INSERT INTO fact (id, person_id, kind, value, valid_from, valid_to, source, batch_id, ended_by_batch, recorded_at)
SELECT id, person_id, kind, value, valid_from, valid_to, source, batch_id, ended_by_batch, recorded_at
FROM fact_unpartitioned;
DROP TABLE fact_unpartitioned;

-- The fact table's reference checks (migrations 11 and 12) on the new table.
CREATE TRIGGER fact_references AFTER INSERT ON fact
    REFERENCING NEW TABLE AS new_facts
    FOR EACH STATEMENT EXECUTE FUNCTION fact_references_check();
-- A fact's person, batch and id never change (the id: conflicts name facts by it).
CREATE OR REPLACE FUNCTION fact_references_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING MESSAGE = 'update on table "fact" violates foreign key check fact_references_fixed: a fact''s id, person and import batch never change';
END
$$;
CREATE TRIGGER fact_references_fixed BEFORE UPDATE OF id, person_id, batch_id ON fact
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.person_id IS DISTINCT FROM NEW.person_id
                       OR OLD.batch_id IS DISTINCT FROM NEW.batch_id)
    EXECUTE FUNCTION fact_references_fixed();
-- Facts are kept for the registry's history (a death is a fact, a superseded fact is ended,
-- a failed batch is rolled back whole).
CREATE TRIGGER fact_kept BEFORE DELETE OR TRUNCATE ON fact
    FOR EACH STATEMENT EXECUTE FUNCTION registry_history_kept();

-- A conflict names two facts that exist: once per statement, with the foreign key's SQLSTATE.
CREATE FUNCTION fact_conflict_references_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_conflicts n
               WHERE NOT EXISTS (SELECT 1 FROM fact f WHERE f.id = n.fact_id)
                  OR NOT EXISTS (SELECT 1 FROM fact f WHERE f.id = n.other_fact_id)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'insert on table "fact_conflict" violates foreign key check fact_conflict_references: a conflict names a fact that does not exist';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER fact_conflict_references AFTER INSERT ON fact_conflict
    REFERENCING NEW TABLE AS new_conflicts
    FOR EACH STATEMENT EXECUTE FUNCTION fact_conflict_references_check();
CREATE TRIGGER fact_conflict_references_updated AFTER UPDATE ON fact_conflict
    REFERENCING NEW TABLE AS new_conflicts
    FOR EACH STATEMENT EXECUTE FUNCTION fact_conflict_references_check();

ANALYZE fact;
