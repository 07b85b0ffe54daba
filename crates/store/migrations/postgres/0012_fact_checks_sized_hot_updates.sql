-- 1. The per-statement reference check of migration 0011, sized to the statement. Hashing the
--    whole person table cost about 0.3 s at 1,000,000 people for every statement that inserts
--    facts, however few (an assessment's one capability_level fact, a death file's 11,683
--    facts); a statement of fewer than 50,000 facts now probes the person index once per fact
--    instead (a correlated subquery: the planner cannot turn it into the hash join that the
--    function's setting forces for large statements). Same rule, same SQLSTATE and message.
CREATE OR REPLACE FUNCTION fact_references_check() RETURNS trigger
LANGUAGE plpgsql
-- The statement's new rows carry no statistics; for a large statement a nested loop would
-- probe the person index once per fact (measured 2× the cost of one hash join).
SET enable_nestloop = off
AS $$
DECLARE
    inserted bigint;
BEGIN
    SELECT count(*) INTO inserted FROM new_facts;
    IF inserted < 50000 THEN
        IF EXISTS (SELECT 1 FROM new_facts n WHERE (SELECT p.id FROM person p WHERE p.id = n.person_id) IS NULL) THEN
            RAISE foreign_key_violation USING MESSAGE = 'insert on table "fact" violates foreign key check fact_references: a fact names a person who is not registered';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM new_facts n WHERE NOT EXISTS (SELECT 1 FROM person p WHERE p.id = n.person_id)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'insert on table "fact" violates foreign key check fact_references: a fact names a person who is not registered';
    END IF;
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT batch_id FROM new_facts) n
               WHERE NOT EXISTS (SELECT 1 FROM import_batch b WHERE b.id = n.batch_id)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'insert on table "fact" violates foreign key check fact_references: a fact names an import batch that does not exist';
    END IF;
    RETURN NULL;
END
$$;

-- 2. Room on every page of the fact table for the facts that end there. A fact is ended in
--    place (valid_to, ended_by_batch: a death, a later delivery superseding it); with full
--    pages each such update wrote a new row version elsewhere and an entry in every index of
--    the table. With a tenth of each page free the new version stays on its page and no index
--    changes (a heap-only update): ending 200,000 facts took 0.8 s instead of 3.4 s on the
--    test cluster (BENCHMARKS.md, registry import, change 19). Applies to pages written from
--    now on; `VACUUM FULL fact` rewrites older ones.
ALTER TABLE fact SET (fillfactor = 90);
