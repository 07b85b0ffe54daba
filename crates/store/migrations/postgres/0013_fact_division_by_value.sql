-- Who lives where, indexed by the division code alone. With the kind leading the key, every
-- comparison compared the kind's text first (equal for most neighbours); keeping the 户籍 file's
-- 2,000,000 division facts in this index cost 2.7 s on the test cluster, by the code alone
-- 1.3 s (BENCHMARKS.md, registry import, change 30). The partial index's condition is
-- unchanged, so the same searches use it; the kind is checked on the row.
DROP INDEX fact_division;
CREATE INDEX fact_division ON fact (value) WHERE kind IN ('hukou', 'residence');
