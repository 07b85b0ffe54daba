//! Store basics on SQLite and PostgreSQL.

use chrono::NaiveDate;
use yanglao_domain::catalogue::builtin;
use yanglao_domain::DivisionCode;
use yanglao_store::registry::{apply_batch, person_facts, FailAt, NewBatch, RowIssue, Severity, Staged, StagedFact};
use yanglao_store::{divisions, testing, Value};

/// The one row a query returns.
fn one(db: &yanglao_store::Db, sql: &str, params: &[Value]) -> yanglao_store::Row {
    db.query_one(sql, params).expect("query").expect("a row")
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

#[test]
fn migrations_are_idempotent_and_values_round_trip() {
    for t in testing::all() {
        assert!(t.db.migrate().expect("second migrate").is_empty(), "{}", t.name);
        let r = one(
            &t.db,
            "SELECT $1, $2, $3",
            &[Value::Int(42), Value::text("内蒙古"), Value::Date(d(2024, 12, 27))],
        );
        assert_eq!(r.int(0).expect("int"), 42, "{}", t.name);
        assert_eq!(r.text(1).expect("text"), "内蒙古");
    }
}

#[test]
fn catalogue_round_trips_with_history() {
    for t in testing::all() {
        let cat = builtin::catalogue();
        divisions::save_catalogue(&t.db, &cat).expect("save");
        divisions::save_catalogue(&t.db, &cat).expect("save twice is harmless");
        let back = divisions::load_catalogue(&t.db).expect("load");
        assert_eq!(back.len(), cat.len(), "{}", t.name);
        let village = DivisionCode::parse("653223102201").expect("code");
        let hekang = DivisionCode::parse("653228").expect("code");
        assert!(back.is_within_on(village, hekang, d(2025, 1, 1)), "{}", t.name);
        assert!(!back.is_within_on(village, hekang, d(2024, 12, 1)), "{}", t.name);
    }
}

fn fact(row: i64, id: &str, kind: &'static str, value: &str, from: NaiveDate) -> Staged {
    Staged::Fact(StagedFact {
        person_id: None,
        row_no: row,
        id_number: id.into(),
        name: "张三".into(),
        sex: 1,
        birth_date: d(1940, 1, 1),
        kind,
        value: value.into(),
        valid_from: from,
        valid_to: None,
        first_of_person: true,
    })
}

/// The department of [`meta`]'s batches (a fact's `source`).
const DEPARTMENT: &str = "gongan";

fn meta(sha: &str, fail_at: Option<FailAt>) -> NewBatch {
    NewBatch {
        source: "gongan_huji".into(),
        department: DEPARTMENT.into(),
        file_name: "户籍.csv".into(),
        sha256: sha.into(),
        size_bytes: 10,
        encoding: "UTF-8".into(),
        archive_path: None,
        now: chrono::Utc::now(),
        fail_at,
    }
}

/// A fact as the registry tests compare it: ID number, kind, value, from, to, and whether it was
/// ended (by `ended_by` if given, else by any batch).
type FactRow = (String, String, String, NaiveDate, Option<NaiveDate>, bool);

/// The facts `filter` (a `WHERE` over `fact f`) selects, by person, kind and start.
fn fact_rows(db: &yanglao_store::Db, filter: &str, params: &[Value], ended_by: Option<i64>) -> Vec<FactRow> {
    db.query(
        &format!(
            "SELECT p.id_number, f.kind, f.value, f.valid_from, f.valid_to, f.ended_by_batch FROM fact f
             JOIN person p ON p.id = f.person_id {filter} ORDER BY p.id_number, f.kind, f.valid_from"
        ),
        params,
    )
    .expect("facts")
    .iter()
    .map(|r| {
        let ended = r.opt_int(5)?;
        Ok((
            r.text(0)?,
            r.text(1)?,
            r.text(2)?,
            r.date(3)?,
            r.opt_date(4)?,
            ended.is_some() && (ended_by.is_none() || ended == ended_by),
        ))
    })
    .collect::<yanglao_store::Result<Vec<FactRow>>>()
    .expect("rows")
}

#[test]
fn a_failing_batch_leaves_nothing_and_a_newer_fact_ends_the_older() {
    let id = "11010519491231002X";
    for t in testing::all() {
        // Aborted by the source half-way: nothing kept.
        let mut items = vec![
            Ok(fact(1, id, "hukou", "150102001201", d(2000, 1, 1))),
            Ok(Staged::RowDone { ok: true }),
            Err("read error".to_string()),
        ]
        .into_iter();
        assert!(apply_batch(&t.db, &meta("a", None), &mut items).is_err());
        // Injected failure after facts were written: rolled back too.
        let mut items = vec![Ok(fact(1, id, "hukou", "150102001201", d(2000, 1, 1)))].into_iter();
        assert!(apply_batch(&t.db, &meta("a", Some(FailAt::AfterFacts)), &mut items).is_err());
        let n = one(&t.db, "SELECT COUNT(*) FROM person", &[]).int(0).expect("int");
        assert_eq!(n, 0, "{}: nothing of an aborted batch remains", t.name);

        let mut items = vec![
            Ok(fact(1, id, "hukou", "150102001201", d(2000, 1, 1))),
            Ok(Staged::RowDone { ok: true }),
            Ok(Staged::Issue(RowIssue {
                row_no: 2,
                severity: Severity::Error,
                column: "身份证号".into(),
                value: "x".into(),
                reason: "bad".into(),
            })),
            Ok(Staged::RowDone { ok: false }),
        ]
        .into_iter();
        let b1 = apply_batch(&t.db, &meta("a", None), &mut items).expect("apply");
        assert_eq!(
            (b1.rows_total, b1.rows_ok, b1.rows_bad, b1.persons_new, b1.facts_new),
            (2, 1, 1, 1, 1),
            "{}",
            t.name
        );
        let mut items = vec![Ok(fact(1, id, "hukou", "150203001201", d(2020, 5, 1)))].into_iter();
        let b2 = apply_batch(&t.db, &meta("b", None), &mut items).expect("apply");
        assert_eq!(b2.facts_ended, 1, "{}", t.name);
        let p = yanglao_store::registry::person_by_id_number(&t.db, id)
            .expect("q")
            .expect("person");
        let facts = person_facts(&t.db, p.id).expect("facts");
        assert_eq!(facts.len(), 2);
        assert_eq!(
            facts[0].valid_to,
            Some(d(2020, 5, 1)),
            "{}: old 户籍 ends when the new one starts",
            t.name
        );
        assert_eq!(facts[0].ended_by_batch, Some(b2.id));
        assert!(facts[1].valid_to.is_none());
    }
}

#[test]
fn supersession_holds_whatever_order_facts_arrive_in() {
    let a = "11010519491231002X";
    let b = "440524188001010014";
    for t in testing::all() {
        let mut items = vec![Ok(fact(1, a, "pension", "P2020", d(2020, 1, 1)))].into_iter();
        apply_batch(&t.db, &meta("1", None), &mut items).expect("apply");
        // An older record arriving later ends at the start of the newer one already held.
        let mut items = vec![Ok(fact(1, a, "pension", "P2015", d(2015, 1, 1)))].into_iter();
        let b2 = apply_batch(&t.db, &meta("2", None), &mut items).expect("apply");
        assert_eq!(b2.facts_ended, 1, "{}", t.name);
        // Two records of one person in one batch: the earlier ends when the later starts.
        let mut items = vec![
            Ok(fact(1, b, "pension", "P2018", d(2018, 1, 1))),
            Ok(fact(2, b, "pension", "P2010", d(2010, 1, 1))),
        ]
        .into_iter();
        apply_batch(&t.db, &meta("3", None), &mut items).expect("apply");
        for (id, expect) in [
            (a, vec![("P2015", Some(d(2020, 1, 1))), ("P2020", None)]),
            (b, vec![("P2010", Some(d(2018, 1, 1))), ("P2018", None)]),
        ] {
            let p = yanglao_store::registry::person_by_id_number(&t.db, id)
                .expect("q")
                .expect("person");
            let got: Vec<(String, Option<NaiveDate>)> = person_facts(&t.db, p.id)
                .expect("facts")
                .into_iter()
                .map(|f| (f.value, f.valid_to))
                .collect();
            let expect: Vec<(String, Option<NaiveDate>)> =
                expect.into_iter().map(|(v, to)| (v.to_string(), to)).collect();
            assert_eq!(got, expect, "{}", t.name);
        }
    }
}

/// A source's first facts of a kind take a shorter way (written without a key check on
/// PostgreSQL, the supersession query skipped when no person has two dates of one kind): the
/// registry must come out the same whatever the batch's segments, and the same as through the
/// checked way facts of kinds the source held before take.
#[test]
fn a_fresh_sources_batch_gives_the_same_registry_in_any_segments() {
    let (a, b, c) = ("11010519491231002X", "440524188001010014", "110105194912310029");
    let items = || {
        vec![
            Ok(fact(1, a, "hukou", "150102001201", d(2000, 1, 1))),
            Ok(fact(1, a, "residence", "150102001201", d(2000, 1, 1))),
            Ok(Staged::RowDone { ok: true }),
            Ok(fact(2, b, "hukou", "150203001201", d(2005, 3, 1))),
            Ok(Staged::RowDone { ok: true }),
            Ok(fact(3, a, "hukou", "150203001201", d(2010, 1, 1))),
            Ok(Staged::RowDone { ok: true }),
            Ok(fact(4, c, "pension", "P2015", d(2015, 1, 1))),
            Ok(fact(5, c, "pension", "P2019", d(2019, 7, 1))),
            Ok(Staged::RowDone { ok: true }),
        ]
    };
    let registry_of = |db: &yanglao_store::Db, dept: &str, batch: i64| -> Vec<FactRow> {
        fact_rows(
            db,
            "WHERE f.source = $1 AND f.batch_id = $2",
            &[Value::text(dept), Value::Int(batch)],
            Some(batch),
        )
    };
    for t in testing::all() {
        let mut results: Vec<(String, Vec<FactRow>)> = Vec::new();
        for (k, size) in [1usize, 2, 3, 5, 1 << 22].into_iter().enumerate() {
            yanglao_store::registry::set_segment_facts(size);
            let dept = format!("dept{k}");
            let mut m = meta(&format!("fresh{k}"), None);
            m.department = dept.clone();
            let batch = apply_batch(&t.db, &m, &mut items().into_iter()).expect("fresh batch");
            assert_eq!(
                (batch.facts_new, batch.facts_ended),
                (6, 2),
                "{} segments of {size}",
                t.name
            );
            results.push((
                format!("fresh, segments of {size}"),
                registry_of(&t.db, &dept, batch.id),
            ));
        }
        yanglao_store::registry::set_segment_facts(1 << 22);
        // The same through the checked way: the source has facts of these kinds already.
        let mut m = meta("checked-first", None);
        m.department = "checked".into();
        let z = "440524188001010022";
        let held = ["hukou", "residence", "pension"].map(|k| Ok(fact(1, z, k, "150102001201", d(2001, 1, 1))));
        apply_batch(&t.db, &m, &mut held.into_iter()).expect("first");
        let mut m = meta("checked", None);
        m.department = "checked".into();
        let batch = apply_batch(&t.db, &m, &mut items().into_iter()).expect("checked batch");
        let checked = registry_of(&t.db, "checked", batch.id);
        let ended: Vec<(&str, &str, NaiveDate)> = checked
            .iter()
            .filter(|r| r.5)
            .map(|r| (r.0.as_str(), r.2.as_str(), r.4.expect("ended")))
            .collect();
        assert_eq!(
            ended,
            vec![(c, "P2015", d(2019, 7, 1)), (a, "150102001201", d(2010, 1, 1))],
            "{}: the earlier 户籍 and pension end where the later start",
            t.name
        );
        for (label, got) in results {
            assert_eq!(got, checked, "{}: {label}", t.name);
        }
    }
}

/// Two dates of one kind for one person, in rows that land in different segments and with
/// nothing else in the batch to supersede: only what the segments tell each other finds it.
#[test]
fn a_fresh_kind_supersedes_across_segments() {
    let a = "11010519491231002X";
    for t in testing::all() {
        yanglao_store::registry::set_segment_facts(1);
        let mut m = meta("across", None);
        m.department = "across".into();
        let mut items = vec![
            Ok(fact(1, a, "hukou", "150102001201", d(2000, 1, 1))),
            Ok(Staged::RowDone { ok: true }),
            Ok(fact(2, a, "hukou", "150203001201", d(2010, 1, 1))),
            Ok(Staged::RowDone { ok: true }),
        ]
        .into_iter();
        let batch = apply_batch(&t.db, &m, &mut items);
        yanglao_store::registry::set_segment_facts(1 << 22);
        let batch = batch.expect("apply");
        assert_eq!((batch.facts_new, batch.facts_ended), (2, 1), "{}", t.name);
        let p = yanglao_store::registry::person_by_id_number(&t.db, a)
            .expect("q")
            .expect("person");
        let ends: Vec<Option<NaiveDate>> = person_facts(&t.db, p.id)
            .expect("facts")
            .into_iter()
            .map(|f| f.valid_to)
            .collect();
        assert_eq!(ends, vec![Some(d(2010, 1, 1)), None], "{}", t.name);
    }
}

/// Every fact names a registered person and an existing batch, and neither goes away: declared
/// foreign keys on SQLite, per-statement checks on PostgreSQL (migration 0011), same SQLSTATE.
/// The importer's batch (`apply_batch_known`), which SQLite runs without its per-row checks,
/// leaves them on for everything after it; persons and batches are kept even when no fact
/// names them (migration 12 on SQLite, 11 on PostgreSQL).
#[test]
fn facts_reference_registered_people_and_batches() {
    let id = "11010519491231002X";
    let lone = "110105194912310029";
    for t in testing::all() {
        let mut items = vec![Ok(fact(1, id, "hukou", "150102001201", d(2000, 1, 1)))].into_iter();
        let known = std::sync::RwLock::new(yanglao_store::registry::PersonIds::default());
        let b =
            yanglao_store::registry::apply_batch_known(&t.db, &meta("refs", None), &mut items, &known).expect("apply");
        assert_eq!(
            known.read().expect("lock").get(id).map(|_| ()),
            Some(()),
            "{}: the map learns the new person",
            t.name
        );
        // A person and a batch that no fact names: only the rule that they are kept refuses.
        t.db.exec(
            "INSERT INTO person (id_number, name, sex, birth_date, first_batch) VALUES ($1, '无事实', 2, $2, $3)",
            &[Value::text(lone), Value::Date(d(1949, 12, 31)), Value::Int(b.id)],
        )
        .expect("a person without facts");
        let lone_id = yanglao_store::registry::person_by_id_number(&t.db, lone)
            .expect("q")
            .expect("person")
            .id;
        assert!(
            t.db.exec("DELETE FROM person WHERE id = $1", &[Value::Int(lone_id)])
                .is_err(),
            "{}: a person is kept",
            t.name
        );
        let mut items = vec![Ok(Staged::RowDone { ok: true })].into_iter();
        let b2 = apply_batch(&t.db, &meta("refs-2", None), &mut items).expect("an empty batch");
        assert!(
            t.db.exec("DELETE FROM import_batch WHERE id = $1", &[Value::Int(b2.id)])
                .is_err(),
            "{}: a batch is kept",
            t.name
        );
        assert!(
            t.db.exec(
                "UPDATE import_batch SET id = id + 1000 WHERE id = $1",
                &[Value::Int(b2.id)]
            )
            .is_err(),
            "{}: a batch is never renumbered",
            t.name
        );
        let p = yanglao_store::registry::person_by_id_number(&t.db, id)
            .expect("q")
            .expect("person");
        let insert = "INSERT INTO fact (person_id, kind, value, valid_from, source, batch_id, recorded_at)
                      VALUES ($1, 'hukou', '150102001202', $2, 'gongan', $3, $4)";
        let now = Value::Time(chrono::Utc::now());
        let day = Value::Date(d(2001, 1, 1));
        for (who, batch, why) in [
            (p.id + 1000, b.id, "a person who is not registered"),
            (p.id, b.id + 1000, "a batch that does not exist"),
        ] {
            let err =
                t.db.exec(insert, &[Value::Int(who), day.clone(), Value::Int(batch), now.clone()])
                    .expect_err(why);
            assert!(
                err.to_string().to_lowercase().contains("foreign key"),
                "{}: {why}: {err}",
                t.name
            );
        }
        t.db.exec(insert, &[Value::Int(p.id), day.clone(), Value::Int(b.id), now.clone()])
            .expect("a fact naming both is taken");
        for (sql, why) in [
            ("DELETE FROM person WHERE id = $1", "a registered person is kept"),
            (
                "UPDATE fact SET person_id = person_id + 1000 WHERE person_id = $1",
                "a fact keeps its person",
            ),
        ] {
            assert!(t.db.exec(sql, &[Value::Int(p.id)]).is_err(), "{}: {why}", t.name);
        }
        assert!(
            t.db.exec("DELETE FROM import_batch WHERE id = $1", &[Value::Int(b.id)])
                .is_err(),
            "{}: a batch its facts name is kept",
            t.name
        );
        let n = one(&t.db, "SELECT COUNT(*) FROM fact", &[]).int(0).expect("n");
        assert_eq!(n, 2, "{}", t.name);
    }
}

/// A batch large enough for the importer to switch PostgreSQL's per-statement reference check
/// off for itself (and any importer batch on SQLite, which skips its per-row foreign-key
/// lookups) writes every fact and leaves the checks on for everything after it.
#[test]
fn a_large_import_batch_leaves_the_reference_checks_on() {
    let people = 30_000i64;
    for t in testing::all() {
        let mut items = (0..people).flat_map(|i| {
            let id = format!("1501021950{i:07}X");
            [
                Ok(fact(i + 1, &id, "hukou", "150102001201", d(2000, 1, 1))),
                Ok(fact(i + 1, &id, "residence", "150102001202", d(2000, 1, 1))),
                Ok(Staged::RowDone { ok: true }),
            ]
        });
        let pg = t.db.backend() == yanglao_store::Backend::Postgres;
        if pg {
            // The check counts its runs, so the test sees that the batch did switch it off.
            let body = one(
                &t.db,
                "SELECT prosrc FROM pg_proc WHERE proname = 'fact_references_check'",
                &[],
            )
            .text(0)
            .expect("text");
            t.db.exec("CREATE TABLE check_runs (n BIGINT)", &[]).expect("table");
            let counted = body.replacen("BEGIN", "BEGIN\n    INSERT INTO check_runs VALUES (1);", 1);
            t.db.exec(
                &format!(
                    "CREATE OR REPLACE FUNCTION fact_references_check() RETURNS trigger LANGUAGE plpgsql
                     SET enable_nestloop = off AS $body${counted}$body$"
                ),
                &[],
            )
            .expect("counting check");
        }
        let known = std::sync::RwLock::new(yanglao_store::registry::PersonIds::default());
        let b =
            yanglao_store::registry::apply_batch_known(&t.db, &meta("large", None), &mut items, &known).expect("apply");
        assert_eq!((b.persons_new, b.facts_new), (people, 2 * people), "{}", t.name);
        if pg {
            let runs = one(&t.db, "SELECT COUNT(*) FROM check_runs", &[]).int(0).expect("n");
            assert_eq!(runs, 0, "the batch wrote its facts with the check off");
        }
        let err =
            t.db.exec(
                "INSERT INTO fact (person_id, kind, value, valid_from, source, batch_id, recorded_at)
                 VALUES ($1, 'hukou', '150102001203', $2, 'gongan', $3, $4)",
                &[
                    Value::Int(people * 10),
                    Value::Date(d(2001, 1, 1)),
                    Value::Int(b.id),
                    Value::Time(chrono::Utc::now()),
                ],
            )
            .expect_err("a fact naming nobody is refused after the batch");
        assert!(
            err.to_string().to_lowercase().contains("foreign key"),
            "{}: {err}",
            t.name
        );
        if t.db.backend() == yanglao_store::Backend::Postgres {
            let enabled = one(
                &t.db,
                "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'fact_references'",
                &[],
            )
            .text(0)
            .expect("text");
            assert_eq!(enabled, "O", "the check is enabled again");
        }
    }
}

/// The definitions of the registry tables' indexes and keys, as the database reports them.
fn registry_indexes(t: &testing::TestDb) -> String {
    let sql = match t.db.backend() {
        yanglao_store::Backend::Postgres => {
            "SELECT string_agg(d, E'\n' ORDER BY d) FROM (
               SELECT indexdef AS d FROM pg_indexes WHERE tablename IN ('fact', 'person', 'fact_conflict')
               UNION ALL
               SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid IN ('fact'::regclass, 'person'::regclass, 'fact_conflict'::regclass)) x"
        }
        yanglao_store::Backend::Sqlite => {
            "SELECT group_concat(d, char(10)) FROM (SELECT name || ' ' || COALESCE(sql, '') AS d FROM sqlite_master
             WHERE tbl_name IN ('fact', 'person', 'fact_conflict') ORDER BY name)"
        }
    };
    one(&t.db, sql, &[]).text(0).expect("text")
}

/// PostgreSQL: the department of `meta`'s partition of the fact table, if it exists: how many of
/// its indexes are attached to the fact table's, and how many facts it holds.
fn partition_indexes(t: &testing::TestDb) -> Option<(i64, i64)> {
    let name = one(&t.db, "SELECT fact_partition_name($1)", &[Value::text(DEPARTMENT)])
        .text(0)
        .expect("name");
    let exists = one(
        &t.db,
        "SELECT CASE WHEN to_regclass($1) IS NULL THEN 0 ELSE 1 END",
        &[Value::text(&name)],
    )
    .int(0)
    .expect("n");
    if exists == 0 {
        return None;
    }
    let r = one(
        &t.db,
        &format!(
            "SELECT (SELECT COUNT(*) FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indexrelid
                         WHERE x.indrelid = '{name}'::regclass),
                        (SELECT COUNT(*) FROM {name})"
        ),
        &[],
    );
    Some((r.int(0).expect("attached"), r.int(1).expect("facts")))
}

/// PostgreSQL: the oid of each index of the fact and person tables (a rebuilt index has a new one).
fn index_oids(t: &testing::TestDb) -> String {
    one(
        &t.db,
        "SELECT string_agg(c.relname || '=' || c.oid, ' ' ORDER BY c.relname) FROM pg_index x
         JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid IN ('fact'::regclass, 'person'::regclass)",
        &[],
    )
    .text(0)
    .expect("text")
}

#[test]
fn a_first_load_built_without_indexes_leaves_them_as_they_were() {
    // Enough newcomers and facts in the first segment for PostgreSQL to load both tables
    // without their indexes (50,000 of each).
    let people = 60_000i64;
    let rows = |people: i64| {
        (0..people).flat_map(|i| {
            let id = format!("1501021950{i:07}X");
            [
                Ok(fact(i + 1, &id, "hukou", "150102001201", d(2000, 1, 1))),
                Ok(fact(i + 1, &id, "residence", "150102001202", d(2000, 1, 1))),
                Ok(Staged::RowDone { ok: true }),
            ]
        })
    };
    for t in testing::all() {
        let pg = t.db.backend() == yanglao_store::Backend::Postgres;
        let before = registry_indexes(&t);
        assert!(before.contains("fact_division"), "{}: {before}", t.name);
        let oids = if pg { index_oids(&t) } else { String::new() };

        // Fails after its facts are written: everything is as before, indexes too.
        let known = std::sync::RwLock::new(yanglao_store::registry::PersonIds::default());
        yanglao_store::registry::apply_batch_known(
            &t.db,
            &meta("first-failing", Some(FailAt::AfterFacts)),
            &mut rows(people),
            &known,
        )
        .expect_err("injected failure");
        assert_eq!(
            registry_indexes(&t),
            before,
            "{}: a failed load keeps the indexes",
            t.name
        );
        if pg {
            assert_eq!(
                index_oids(&t),
                oids,
                "{}: a failed load leaves the same indexes",
                t.name
            );
            assert_eq!(partition_indexes(&t), None, "a failed load leaves no partition");
        }

        let known = std::sync::RwLock::new(yanglao_store::registry::PersonIds::default());
        let b = yanglao_store::registry::apply_batch_known(&t.db, &meta("first", None), &mut rows(people), &known)
            .expect("apply");
        assert_eq!((b.persons_new, b.facts_new), (people, 2 * people), "{}", t.name);
        // Its facts have ids of their own in one run (PostgreSQL took them from the sequence at
        // once for its `COPY`).
        let r = one(
            &t.db,
            "SELECT COUNT(DISTINCT id), MAX(id) - MIN(id) + 1 FROM fact WHERE batch_id = $1",
            &[Value::Int(b.id)],
        );
        assert_eq!(
            (r.int(0).expect("n"), r.int(1).expect("n")),
            (2 * people, 2 * people),
            "{}",
            t.name
        );
        assert_eq!(
            registry_indexes(&t),
            before,
            "{}: the same indexes after the load",
            t.name
        );
        let rebuilt = if pg { index_oids(&t) } else { String::new() };
        if pg {
            // The person table's ID-number key was built again; the fact table's indexes are
            // those it had, and the department's new partition has one of each, attached.
            let (old, new): (Vec<&str>, Vec<&str>) = (oids.split(' ').collect(), rebuilt.split(' ').collect());
            assert_eq!(old.len(), new.len());
            for (o, n) in old.iter().zip(&new) {
                assert_eq!(o == n, !o.starts_with("person_id_number_key="), "{}: {o} → {n}", t.name);
            }
            let parent = one(
                &t.db,
                "SELECT COUNT(*) FROM pg_index WHERE indrelid = 'fact'::regclass",
                &[],
            )
            .int(0)
            .expect("n");
            assert_eq!(parent, 4, "pkey, unique key, division, death");
            assert_eq!(partition_indexes(&t), Some((parent, 2 * people)));
            // Loaded with the batch's own columns as the partition's defaults, which are gone
            // once it is attached (only the id's sequence is left).
            let r = one(
                &t.db,
                "SELECT COUNT(*), COUNT(DISTINCT recorded_at),
                            (SELECT COUNT(*) FROM pg_attrdef WHERE adrelid = to_regclass(fact_partition_name($1)))
                     FROM fact WHERE source = $1 AND batch_id = $2 AND recorded_at IS NOT NULL",
                &[Value::text(DEPARTMENT), Value::Int(b.id)],
            );
            assert_eq!(
                (r.int(0).expect("n"), r.int(1).expect("n"), r.int(2).expect("n")),
                (2 * people, 1, 1)
            );
        }
        // The rebuilt keys hold: a second fact with the same key, a second person with the
        // same ID number, a conflict naming no fact.
        let now = Value::Time(chrono::Utc::now());
        let err =
            t.db.exec(
                "INSERT INTO fact (person_id, kind, value, valid_from, source, batch_id, recorded_at)
                 SELECT person_id, kind, value, valid_from, source, batch_id, $1 FROM fact WHERE id = (SELECT MIN(id) FROM fact)",
                std::slice::from_ref(&now),
            )
            .expect_err("the fact key is unique again");
        assert!(err.to_string().to_lowercase().contains("unique"), "{}: {err}", t.name);
        let err =
            t.db.exec(
                "INSERT INTO person (id_number, name, sex, birth_date, first_batch)
                 SELECT id_number, name, sex, birth_date, first_batch FROM person WHERE id = (SELECT MIN(id) FROM person)",
                &[],
            )
            .expect_err("the ID number is unique again");
        assert!(
            err.to_string().to_lowercase().contains("unique") || err.to_string().contains("duplicate"),
            "{}: {err}",
            t.name
        );
        let err =
            t.db.exec(
                "INSERT INTO fact_conflict (fact_id, other_fact_id, batch_id) VALUES (-1, -2, $1)",
                &[Value::Int(b.id)],
            )
            .expect_err("a conflict names facts");
        assert!(
            err.to_string().to_lowercase().contains("foreign key"),
            "{}: {err}",
            t.name
        );
        // The registry reads as loaded: one person's facts by the rebuilt keys.
        let id = known_id(&t, "15010219500000007X");
        let facts = person_facts(&t.db, id).expect("facts");
        assert_eq!(facts.len(), 2, "{}", t.name);

        // A later large batch into the table that now holds facts keeps the indexes it has.
        let mut more = (people..people + 60_000).flat_map(|i| {
            let id = format!("1501021950{i:07}X");
            [
                Ok(fact(i + 1, &id, "hukou", "150102001201", d(2000, 1, 1))),
                Ok(Staged::RowDone { ok: true }),
            ]
        });
        let second =
            yanglao_store::registry::apply_batch_known(&t.db, &meta("second", None), &mut more, &known).expect("apply");
        assert_eq!(registry_indexes(&t), before, "{}", t.name);
        // The sequence went on above the ids the first load took.
        let r = one(
            &t.db,
            "SELECT CASE WHEN (SELECT MIN(id) FROM fact WHERE batch_id = $2) > (SELECT MAX(id) FROM fact WHERE batch_id = $1)
                    THEN 1 ELSE 0 END",
            &[Value::Int(b.id), Value::Int(second.id)],
        );
        assert_eq!(r.int(0).expect("n"), 1, "{}", t.name);
        if pg {
            assert_eq!(
                index_oids(&t),
                rebuilt,
                "{}: nothing rebuilt for a table with facts",
                t.name
            );
        }
    }
}

fn known_id(t: &testing::TestDb, id_number: &str) -> i64 {
    one(
        &t.db,
        "SELECT id FROM person WHERE id_number = $1",
        &[Value::text(id_number)],
    )
    .int(0)
    .expect("id")
}

/// Every fact as text, in id order.
fn all_facts(t: &testing::TestDb) -> String {
    one(
        &t.db,
        "SELECT string_agg(concat_ws('|', id, person_id, kind, value, valid_from, valid_to, source, batch_id,
                                    ended_by_batch, recorded_at), E'\n' ORDER BY id) FROM fact",
        &[],
    )
    .text(0)
    .expect("text")
}

#[test]
fn migration_14_partitions_the_fact_table_by_source_keeping_every_fact_and_its_rules() {
    // PostgreSQL only: SQLite's fact table is not partitioned.
    let t = testing::postgres_unmigrated();
    t.db.migrate_up_to(13).expect("migrations 1–13");
    // Written with the schema before migration 14: two departments' facts, one ended, and a
    // conflict between them.
    t.db.tx(|t| {
        t.batch(
            "INSERT INTO import_batch (id, source, department, file_name, sha256, size_bytes, encoding, started_at)
             VALUES (1, 'gongan_huji', 'gongan', 'a.csv', 'a', 1, 'UTF-8', now()),
                    (2, 'minzheng_living', 'minzheng', 'b.csv', 'b', 1, 'UTF-8', now());
             INSERT INTO person (id, id_number, name, sex, birth_date, first_batch)
             VALUES (1, '11010519491231002X', '张三', 1, '1949-12-31', 1);
             INSERT INTO fact (person_id, kind, value, valid_from, valid_to, source, batch_id, ended_by_batch, recorded_at)
             VALUES (1, 'hukou', '150102001201', '2000-01-01', '2020-05-01', 'gongan', 1, 1, now()),
                    (1, 'hukou', '150203001201', '2020-05-01', NULL, 'gongan', 1, NULL, now()),
                    (1, 'living_alone', 'yes', '2021-01-01', NULL, 'minzheng', 2, NULL, now()),
                    (1, 'living_alone', 'no', '2021-01-01', NULL, 'gongan', 1, NULL, now());
             INSERT INTO fact_conflict (fact_id, other_fact_id, batch_id)
             SELECT a.id, b.id, 2 FROM fact a, fact b WHERE a.source = 'minzheng' AND b.kind = 'living_alone' AND b.source = 'gongan';
             SELECT setval(pg_get_serial_sequence('import_batch', 'id'), 2);
             SELECT setval(pg_get_serial_sequence('person', 'id'), 1)",
        )
    })
    .expect("old schema's rows");
    let facts = all_facts(&t);
    let conflicts = |t: &testing::TestDb| {
        one(
            &t.db,
            "SELECT string_agg(fact_id || '-' || other_fact_id, ' ' ORDER BY fact_id) FROM fact_conflict",
            &[],
        )
        .text(0)
        .expect("text")
    };
    let conflicts_before = conflicts(&t);
    assert_eq!(facts.lines().count(), 4);

    assert_eq!(t.db.migrate().expect("migration 14"), vec![14]);
    assert_eq!(all_facts(&t), facts, "every fact as it was");
    assert_eq!(conflicts(&t), conflicts_before);
    let shape = one(
        &t.db,
        "SELECT (SELECT relkind::text FROM pg_class WHERE oid = 'fact'::regclass),
                (SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i
                 JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'fact'::regclass),
                fact_partition_name('gongan') || ' ' || fact_partition_name('minzheng'),
                (SELECT COUNT(*) FROM ONLY fact), (SELECT COUNT(*) FROM fact WHERE source = 'gongan')",
        &[],
    );
    assert_eq!(shape.text(0).expect("kind"), "p", "partitioned");
    let mut want: Vec<String> = shape.text(2).expect("names").split(' ').map(str::to_string).collect();
    want.sort();
    assert_eq!(shape.text(1).expect("partitions"), want.join(" "));
    assert_eq!((shape.int(3).expect("n"), shape.int(4).expect("n")), (0, 3));

    // The rules the foreign keys and the old table held.
    let refused = |sql: &str| {
        let err = t.db.exec(sql, &[]).expect_err(sql);
        assert!(err.to_string().contains("foreign key"), "{sql}: {err}");
    };
    refused("INSERT INTO fact_conflict (fact_id, other_fact_id, batch_id) VALUES (1, 999, 1)");
    refused("UPDATE fact_conflict SET other_fact_id = 999");
    refused("DELETE FROM fact WHERE id = 1");
    refused("UPDATE fact SET id = 999 WHERE id = 1");
    refused(
        "INSERT INTO fact (person_id, kind, value, valid_from, source, batch_id, recorded_at)
         VALUES (42, 'hukou', 'x', '2000-01-01', 'gongan', 1, now())",
    );
    let err =
        t.db.exec(
            "INSERT INTO fact (person_id, kind, value, valid_from, source, batch_id, recorded_at)
             VALUES (1, 'hukou', '150203001201', '2020-05-01', 'gongan', 1, now())",
            &[],
        )
        .expect_err("the unique key holds across the migration");
    assert!(err.to_string().contains("unique"), "{err}");

    // A new department's batch gets its partition, and ids go on from the sequence.
    let mut items = vec![
        Ok(fact(1, "11010519491231002X", "disability", "肢体 二级", d(2022, 1, 1))),
        Ok(Staged::RowDone { ok: true }),
    ]
    .into_iter();
    let mut m = meta("c", None);
    m.department = "canlian".into();
    m.source = "canlian_disability".into();
    let b = apply_batch(&t.db, &m, &mut items).expect("apply");
    assert_eq!(b.facts_new, 1);
    let r = one(
        &t.db,
        "SELECT f.id, CASE WHEN f.tableoid::regclass::text = fact_partition_name('canlian') THEN 1 ELSE 0 END
             FROM fact f WHERE f.source = 'canlian'",
        &[],
    );
    assert!(r.int(0).expect("id") > 4, "ids go on from the old table's");
    assert_eq!(r.int(1).expect("in its partition"), 1);
}

/// A death ends every fact of the person running on that day, whichever arrived first. Files
/// after the death file write the facts of the dead already ended (those nothing in their
/// batch supersedes), files before it are ended by the death batch: the registry must come out
/// the same in either order, down to the one supersession the death then caps.
#[test]
fn deaths_end_the_same_facts_whether_the_death_file_comes_before_or_after() {
    // a: dies 2024-03-01, with a pension from 2010 (ended on the death), a pension ended before
    //    it (kept) and an allowance starting after it (kept open).
    // b: dies 2023-06-01, with two pensions of one batch: 2015 (ended at the next start,
    //    2024-01-01, capped by the death) and 2024 (starts after the death: open).
    // c: alive. e: dies 2022-01-01, a kind the department held before (checked way).
    let (a, b, c, e) = (
        "11010519491231002X",
        "440524188001010014",
        "110105194912310029",
        "440524188001010022",
    );
    let ended_fact = |row, id, kind, value: &str, from, to| {
        let Staged::Fact(mut f) = fact(row, id, kind, value, from) else {
            unreachable!()
        };
        f.valid_to = Some(to);
        Ok(Staged::Fact(f))
    };
    let hukou = || {
        [a, b, c, e]
            .into_iter()
            .enumerate()
            .map(|(i, id)| Ok(fact(i as i64 + 1, id, "hukou", "150102001201", d(2000, 1, 1))))
            .collect::<Vec<_>>()
    };
    let deaths = || {
        vec![
            Ok(fact(1, a, "death", "死亡", d(2024, 3, 1))),
            Ok(fact(2, b, "death", "死亡", d(2023, 6, 1))),
            Ok(fact(3, e, "death", "死亡", d(2022, 1, 1))),
        ]
    };
    let pensions = || {
        vec![
            Ok(fact(1, a, "pension", "P2010", d(2010, 1, 1))),
            ended_fact(2, a, "disability", "二级", d(2005, 1, 1), d(2008, 1, 1)),
            Ok(fact(3, a, "low_income", "低收入", d(2024, 5, 1))),
            Ok(fact(4, b, "pension", "P2015", d(2015, 1, 1))),
            Ok(fact(5, b, "pension", "P2024", d(2024, 1, 1))),
            Ok(fact(6, c, "pension", "P2012", d(2012, 1, 1))),
            Ok(fact(7, e, "dibao", "低保", d(2019, 1, 1))),
        ]
    };
    // e's 低保 is a kind the department delivered before (another person's).
    let earlier = || vec![Ok(fact(1, "110105194912310037", "dibao", "低保", d(2018, 1, 1)))];
    let registry_of = |db: &yanglao_store::Db| fact_rows(db, "", &[], None);
    let mut by_order: Vec<Vec<(Vec<FactRow>, i64)>> = Vec::new();
    for deaths_first in [false, true] {
        let mut got = Vec::new();
        for t in testing::all() {
            let run = |sha: &str, dept: &str, items: Vec<Result<Staged, String>>| {
                let mut m = meta(sha, None);
                m.department = dept.into();
                apply_batch(&t.db, &m, &mut items.into_iter()).expect("apply")
            };
            let mut ended = 0;
            ended += run("h", "gongan", hukou()).facts_ended;
            ended += run("e", "minzheng", earlier()).facts_ended;
            if deaths_first {
                ended += run("d", "gongan", deaths()).facts_ended;
            }
            let p = run("p", "minzheng", pensions());
            ended += p.facts_ended;
            if !deaths_first {
                ended += run("d", "gongan", deaths()).facts_ended;
            } else {
                assert_eq!(
                    p.facts_ended, 4,
                    "{}: a's pension ended on arrival; b's and e's by the steps",
                    t.name
                );
            }
            got.push((registry_of(&t.db), ended));
        }
        by_order.push(got);
    }
    let row = |id: &str, kind: &str, value: &str, from, to, ended| -> FactRow {
        (id.into(), kind.into(), value.into(), from, to, ended)
    };
    let dead = |id: &str, on| row(id, "death", "死亡", on, None, false);
    let hk = |id: &str, to: Option<NaiveDate>| row(id, "hukou", "150102001201", d(2000, 1, 1), to, to.is_some());
    let expected = vec![
        row(a, "disability", "二级", d(2005, 1, 1), Some(d(2008, 1, 1)), false),
        dead(a, d(2024, 3, 1)),
        hk(a, Some(d(2024, 3, 1))),
        row(a, "low_income", "低收入", d(2024, 5, 1), None, false),
        row(a, "pension", "P2010", d(2010, 1, 1), Some(d(2024, 3, 1)), true),
        row("110105194912310037", "dibao", "低保", d(2018, 1, 1), None, false),
        hk(c, None),
        row(c, "pension", "P2012", d(2012, 1, 1), None, false),
        dead(b, d(2023, 6, 1)),
        hk(b, Some(d(2023, 6, 1))),
        row(b, "pension", "P2015", d(2015, 1, 1), Some(d(2023, 6, 1)), true),
        row(b, "pension", "P2024", d(2024, 1, 1), None, false),
        dead(e, d(2022, 1, 1)),
        row(e, "dibao", "低保", d(2019, 1, 1), Some(d(2022, 1, 1)), true),
        hk(e, Some(d(2022, 1, 1))),
    ];
    let mut expected = expected;
    expected.sort_by(|x, y| (&x.0, &x.1, x.3).cmp(&(&y.0, &y.1, y.3)));
    for got in &by_order {
        for ((rows, ended), name) in got.iter().zip(["sqlite", "postgres"]) {
            assert_eq!(rows, &expected, "{name}");
            assert_eq!(*ended, 7, "{name}: facts ended over the batches");
        }
    }
}
