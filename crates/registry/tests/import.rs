//! Importing a generated region on SQLite and PostgreSQL: every bad row is reported with its row
//! number, every good row is in, a re-import changes nothing, a failed batch leaves nothing.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use chrono::{NaiveDate, Utc};
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{Catalogue, DivisionCode};
use yanglao_registry::import::{import_file, import_villages, ImportOptions, ImportOutcome};
use yanglao_registry::sources::source;
use yanglao_registry::state::state_on;
use yanglao_registry::synth::{generate, GenOptions, Manifest};
use yanglao_store::registry::{self, FailAt, PersonQuery, Severity};
use yanglao_store::{divisions, testing, Db};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

const AS_OF: (i32, u32, u32) = (2025, 6, 30);

fn as_of() -> NaiveDate {
    d(AS_OF.0, AS_OF.1, AS_OF.2)
}

fn gen(dir: &Path, region: &str, people: usize, dirty: bool) -> Manifest {
    let cat = builtin::catalogue();
    generate(
        &cat,
        &GenOptions {
            people,
            seed: 20251124,
            region: DivisionCode::parse(region).expect("region"),
            as_of: as_of(),
            dirty,
            out: dir.to_path_buf(),
        },
    )
    .expect("generate")
}

fn opts<'a>(src: &'a yanglao_registry::sources::Source, dir: &Path) -> ImportOptions<'a> {
    ImportOptions {
        source: src,
        today: as_of(),
        now: Utc::now(),
        archive_dir: Some(dir.join("originals")),
        report_dir: Some(dir.join("reports")),
        header_overrides: HashMap::new(),
        fail_at: None,
        known: None,
    }
}

fn setup(db: &Db, dir: &Path, m: &Manifest) -> Catalogue {
    divisions::save_catalogue(db, &builtin::catalogue()).expect("divisions");
    let cat = divisions::load_catalogue(db).expect("load");
    let (n, issues) = import_villages(db, &cat, &dir.join(&m.villages_file)).expect("villages");
    assert_eq!(n, m.villages);
    assert!(issues.is_empty());
    divisions::load_catalogue(db).expect("reload")
}

/// A generated UTF-8 CSV file's header line and its rows split into cells (the generator
/// writes no quoted commas).
fn csv_rows(path: &Path) -> (String, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("read");
    let mut lines = text.lines();
    let header = lines.next().expect("header").trim_start_matches('\u{feff}').to_string();
    let rows = lines.map(|l| l.split(',').map(str::to_string).collect()).collect();
    (header, rows)
}

fn import_all(db: &Db, cat: &Catalogue, dir: &Path, m: &Manifest, work: &Path) -> Vec<ImportOutcome> {
    m.files
        .iter()
        .map(|f| {
            let src = source(&f.source).expect("known source");
            import_file(db, cat, &dir.join(&f.file), &opts(src, work), &mut |_, _| {}).expect("import")
        })
        .collect()
}

#[test]
fn dirty_region_every_bad_row_reported_every_good_row_in_reimport_changes_nothing() {
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-gen");
        let dir = tmp.path().join("in");
        let m = gen(&dir, "150400", 3000, true);
        assert!(
            m.files.iter().map(|f| f.errors.len()).sum::<usize>() > 50,
            "the generator injected faults"
        );
        let cat = setup(&t.db, &dir, &m);
        let outcomes = import_all(&t.db, &cat, &dir, &m, tmp.path());
        for (f, out) in m.files.iter().zip(&outcomes) {
            let ImportOutcome::Applied { batch, reports } = out else {
                panic!("{} should be new", f.file)
            };
            let ctx = format!("{} on {}", f.file, t.name);
            assert_eq!(batch.rows_total as u64, f.rows, "{ctx}: rows");
            assert_eq!(batch.rows_bad as usize, f.errors.len(), "{ctx}: bad rows");
            assert_eq!(batch.rows_ok as u64, f.good_rows, "{ctx}: good rows");
            assert_eq!(batch.rows_duplicate as usize, f.duplicates.len(), "{ctx}: duplicates");
            assert_eq!(batch.facts_new as u64, f.facts, "{ctx}: every good row's facts are in");
            let issues = registry::batch_issues(&t.db, batch.id, 100_000, 0).expect("issues");
            let reported: BTreeSet<u64> = issues
                .iter()
                .filter(|i| i.severity == Severity::Error)
                .map(|i| i.row_no as u64)
                .collect();
            let expected: BTreeSet<u64> = f.errors.iter().map(|e| e.0).collect();
            assert_eq!(reported, expected, "{ctx}: exactly the injected rows are reported");
            let dups: BTreeSet<u64> = issues
                .iter()
                .filter(|i| i.severity == Severity::Duplicate)
                .map(|i| i.row_no as u64)
                .collect();
            assert_eq!(dups, f.duplicates.iter().copied().collect(), "{ctx}: duplicates");
            assert!(
                issues.iter().all(|i| !i.reason.is_empty()),
                "{ctx}: every issue has a reason"
            );
            if !f.errors.is_empty() {
                assert_eq!(reports.len(), 2, "{ctx}: CSV and xlsx error reports");
                assert!(reports.iter().all(|p| p.exists()));
            }
            if f.encoding == "GBK" {
                assert_eq!(batch.encoding, "GB18030", "{ctx}: GBK detected");
            }
            assert!(
                batch.archive_path.as_ref().is_some_and(|p| Path::new(p).exists()),
                "{ctx}: original kept"
            );
        }
        // A contradiction between 村（社区） and 民政 is recorded, not overwritten.
        let counts = registry::counts(&t.db).expect("counts");
        assert!(counts.conflicts > 0, "{}: source conflicts recorded", t.name);

        // The same files again: nothing changes.
        let again = import_all(&t.db, &cat, &dir, &m, tmp.path());
        assert!(again.iter().all(|o| matches!(o, ImportOutcome::AlreadyImported(_))));
        assert_eq!(registry::counts(&t.db).expect("counts").facts, counts.facts);

        // The same content under another name (a different file): no new facts either.
        let f = &m.files[0];
        let copy = tmp.path().join("copy.csv");
        let mut bytes = std::fs::read(dir.join(&f.file)).expect("read");
        bytes.extend_from_slice(b"\r\n");
        std::fs::write(&copy, bytes).expect("write");
        let src = source(&f.source).expect("source");
        match import_file(&t.db, &cat, &copy, &opts(src, tmp.path()), &mut |_, _| {}).expect("import") {
            ImportOutcome::Applied { batch, .. } => {
                assert_eq!(batch.facts_new, 0, "{}", t.name);
                assert_eq!(batch.persons_new, 0);
            }
            ImportOutcome::AlreadyImported(_) => panic!("different bytes are a new file"),
        }

        // A 公安 death ends every running fact on its date, whichever file came first.
        let open_after_death = t
            .db
            .query_one(
                "SELECT COUNT(*) FROM fact f JOIN fact d ON d.person_id = f.person_id AND d.kind = 'death'
                 WHERE f.kind <> 'death' AND f.valid_from <= d.valid_from AND (f.valid_to IS NULL OR f.valid_to > d.valid_from)",
                &[],
            )
            .expect("q")
            .expect("row")
            .int(0)
            .expect("int");
        assert_eq!(open_after_death, 0, "{}", t.name);
        let deaths = registry::count_current(&t.db, "death", as_of()).expect("count");
        assert!(deaths > 0);
    }
}

#[test]
fn a_batch_failing_half_way_leaves_nothing() {
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-gen");
        let dir = tmp.path().join("in");
        let m = gen(&dir, "150400", 500, false);
        let cat = setup(&t.db, &dir, &m);
        let f = &m.files[0];
        let src = source(&f.source).expect("source");
        let mut o = opts(src, tmp.path());
        o.fail_at = Some(FailAt::AfterFacts);
        assert!(import_file(&t.db, &cat, &dir.join(&f.file), &o, &mut |_, _| {}).is_err());
        let c = registry::counts(&t.db).expect("counts");
        assert_eq!(
            (c.persons, c.facts, c.batches),
            (0, 0, 0),
            "{}: nothing of a failed batch remains",
            t.name
        );
        // And the file can then be imported for real.
        o.fail_at = None;
        assert!(matches!(
            import_file(&t.db, &cat, &dir.join(&f.file), &o, &mut |_, _| {}).expect("import"),
            ImportOutcome::Applied { .. }
        ));
        assert_eq!(registry::counts(&t.db).expect("counts").persons as u64, f.good_rows);
    }
}

#[test]
fn hotan_split_as_of_queries_and_fact_boundaries() {
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-gen");
        let dir = tmp.path().join("in");
        let m = gen(&dir, "653200", 4000, false);
        let cat = setup(&t.db, &dir, &m);
        import_all(&t.db, &cat, &dir, &m, tmp.path());
        let hekang = DivisionCode::parse("653228").expect("code");
        let pishan = DivisionCode::parse("653223").expect("code");
        let after = d(2025, 1, 1);
        let before = d(2024, 12, 1);
        // Membership of the divisions on `on`, facts as they stood `after` the split, so that
        // deaths in between do not blur the comparison.
        let search = |div: DivisionCode, on: NaiveDate| {
            let scope = cat.scope_on(div, on);
            let q = PersonQuery {
                include: scope.include,
                exclude: scope.exclude,
                as_of: Some(after),
                limit: 500,
                ..Default::default()
            };
            registry::search_persons(&t.db, &q).expect("search")
        };
        let (in_hekang, n_hekang) = search(hekang, after);
        assert!(n_hekang > 0, "{}: people live in 和康县 after the split", t.name);
        // Their ID numbers still carry the old county (born long before 2024-12-27) ...
        assert!(in_hekang
            .iter()
            .all(|p| p.id_number.starts_with("653223") || !p.id_number.starts_with("6532")));
        // ... and their records are coded to 赛图拉镇 of 皮山县, found under 和康县 by date.
        assert!(in_hekang
            .iter()
            .all(|p| p.hukou.as_deref().is_some_and(|h| h.starts_with("653223102"))));
        let (_, n_pishan_after) = search(pishan, after);
        let (_, n_pishan_before) = search(pishan, before);
        let (_, n_hekang_before) = search(hekang, before);
        assert_eq!(n_hekang_before, 0, "{}", t.name);
        assert_eq!(
            n_pishan_before,
            n_pishan_after + n_hekang,
            "{}: nobody lost in the split",
            t.name
        );

        // A fact's end date is exclusive: 低保 ended on D is not held on D.
        let row =
            t.db.query_one(
                "SELECT p.id, f.valid_to FROM fact f JOIN person p ON p.id = f.person_id
                 WHERE f.kind = 'dibao' AND f.valid_to IS NOT NULL AND f.ended_by_batch IS NULL ORDER BY p.id LIMIT 1",
                &[],
            )
            .expect("q")
            .expect("a 低保 that ended");
        let (pid, end) = (row.int(0).expect("id"), row.date(1).expect("date"));
        let facts = registry::person_facts(&t.db, pid).expect("facts");
        assert_eq!(
            state_on(&facts, end.pred_opt().expect("day")).value(yanglao_domain::FactKind::Dibao),
            Some("是")
        );
        assert_eq!(state_on(&facts, end).value(yanglao_domain::FactKind::Dibao), None);
    }
}

/// Everything a registry holds, as text independent of row ids: people, facts with their
/// provenance and end, and conflicts between sources.
fn registry_dump(db: &Db) -> Vec<String> {
    let q = |sql: &str| -> Vec<String> {
        db.query(sql, &[])
            .expect("dump")
            .iter()
            .map(|r| r.text(0).expect("text"))
            .collect()
    };
    // Batches by their source: a failed batch uses up an id on PostgreSQL.
    let mut out = q(
        "SELECT p.id_number || '|' || p.name || '|' || CAST(p.sex AS TEXT) || '|' || CAST(p.birth_date AS TEXT) || '|' || b.source
         FROM person p JOIN import_batch b ON b.id = p.first_batch ORDER BY 1",
    );
    out.extend(q(
        "SELECT p.id_number || '|' || f.kind || '|' || f.value || '|' || CAST(f.valid_from AS TEXT) || '|' || COALESCE(CAST(f.valid_to AS TEXT), '-')
           || '|' || f.source || '|' || b.source || '|' || COALESCE(e.source, '-')
         FROM fact f JOIN person p ON p.id = f.person_id JOIN import_batch b ON b.id = f.batch_id
         LEFT JOIN import_batch e ON e.id = f.ended_by_batch ORDER BY 1",
    ));
    out.extend(q(
        "SELECT p.id_number || '|' || a.kind || '|' || a.source || ':' || a.value || '|' || o.source || ':' || o.value || '|' || b.source
         FROM fact_conflict c JOIN fact a ON a.id = c.fact_id JOIN fact o ON o.id = c.other_fact_id JOIN person p ON p.id = a.person_id
         JOIN import_batch b ON b.id = c.batch_id ORDER BY 1",
    ));
    out
}

/// The importer's map of people already registered (`ImportOptions::known`) is a shortcut, not a
/// second rule: a dirty region imported with it, in many small segments — including a batch
/// that fails after writing, whose people the map must then not keep — gives exactly the
/// registry the database alone gives, and new people are numbered in the order of their 户籍
/// village.
#[test]
fn known_people_map_gives_the_same_registry_as_the_database_alone() {
    for (plain, mapped) in testing::all().into_iter().zip(testing::all()) {
        let tmp = testing::TempDir::new("yanglao-gen");
        let dir = tmp.path().join("in");
        let m = gen(&dir, "150400", 2000, true);
        let cat = setup(&plain.db, &dir, &m);
        import_all(&plain.db, &cat, &dir, &m, &tmp.path().join("plain"));

        let cat = setup(&mapped.db, &dir, &m);
        let known = std::sync::RwLock::new(registry::PersonIds::default());
        // In many small segments: people met again in a later segment of their batch, and
        // newcomers numbered across segments before they have ids.
        registry::set_segment_facts(97);
        for (i, f) in m.files.iter().enumerate() {
            let src = source(&f.source).expect("known source");
            let mut o = opts(src, &tmp.path().join("mapped"));
            o.known = Some(&known);
            if i == 0 {
                // The 户籍 file fails once after writing its people and facts.
                o.fail_at = Some(FailAt::AfterFacts);
                assert!(import_file(&mapped.db, &cat, &dir.join(&f.file), &o, &mut |_, _| {}).is_err());
                assert!(
                    known.read().expect("lock").is_empty(),
                    "{}: a failed batch adds nobody",
                    mapped.name
                );
                o.fail_at = None;
            }
            import_file(&mapped.db, &cat, &dir.join(&f.file), &o, &mut |_, _| {}).expect("import");
        }
        registry::set_segment_facts(1 << 22);
        assert_eq!(
            known.read().expect("lock").len() as i64,
            registry::counts(&mapped.db).expect("counts").persons,
            "{}",
            mapped.name
        );
        let (a, b) = (registry_dump(&plain.db), registry_dump(&mapped.db));
        assert!(a.len() > 4000, "{}: the dump holds the registry", plain.name);
        assert_eq!(a.len(), b.len(), "{}", plain.name);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{}: with and without the map", plain.name);
        }

        // New people numbered by 户籍 village: among those with one 户籍 fact in the file that
        // registered them, ids ascend with its code (where the file was one segment; the
        // mapped import's segments are numbered one after the other).
        let rows = plain
            .db
            .query(
                "SELECT p.id, MIN(f.value) FROM person p JOIN fact f ON f.person_id = p.id AND f.kind = 'hukou' AND f.batch_id = p.first_batch
                 WHERE p.first_batch = (SELECT id FROM import_batch WHERE source = 'gongan_hukou')
                 GROUP BY p.id HAVING COUNT(*) = 1 ORDER BY p.id",
                &[],
            )
            .expect("ids");
        let codes: Vec<String> = rows.iter().map(|r| r.text(1).expect("code")).collect();
        assert!(codes.len() > 1000, "{}", plain.name);
        assert!(
            codes.windows(2).all(|w| w[0] <= w[1]),
            "{}: person ids follow the 户籍 code",
            plain.name
        );
    }
}

/// The encoding is judged from a file's first 64 KiB. A row further on whose bytes that
/// encoding cannot decode (two exports joined, a GBK name in a UTF-8 file) is refused with its
/// column, not stored with U+FFFD in place of the name; an ID number whose birth date lies
/// after the import date is refused too. Every other row is in.
#[test]
fn undecodable_bytes_and_future_births_are_refused_row_by_row() {
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-gen");
        let dir = tmp.path().join("in");
        let m = gen(&dir, "150400", 3000, false);
        let cat = setup(&t.db, &dir, &m);
        let f = m.files.iter().find(|f| f.source == "gongan_hukou").expect("户籍 file");
        let path = dir.join(&f.file);
        let bytes = std::fs::read(&path).expect("read");
        let mut lines: Vec<Vec<u8>> = bytes
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let header: Vec<String> = String::from_utf8(lines[0].clone())
            .expect("UTF-8 header")
            .split(',')
            .map(|s| s.trim_start_matches('\u{feff}').to_string())
            .collect();
        let col = |name: &str| header.iter().position(|h| h == name).expect(name);
        let (id_col, name_col) = (col("身份证号"), col("姓名"));
        // The first line starting past 64 KiB.
        let mut offset = 0;
        let far = lines
            .iter()
            .position(|l| {
                offset += l.len() + 1;
                offset > 70 * 1024
            })
            .expect("a file over 64 KiB")
            + 1;
        assert!(far + 10 < lines.len());
        let set = |line: &[u8], i: usize, value: &[u8]| -> Vec<u8> {
            let mut cells: Vec<Vec<u8>> = line.split(|&b| b == b',').map(|c| c.to_vec()).collect();
            cells[i] = value.to_vec();
            cells.join(&b","[..])
        };
        // 张三 in GBK.
        lines[far] = set(&lines[far], name_col, &[0xD5, 0xC5, 0xC8, 0xFD]);
        let future = yanglao_domain::IdNumber::from_parts("150402", d(2090, 1, 1), 17).expect("id");
        lines[far + 5] = set(&lines[far + 5], id_col, future.as_str().as_bytes());
        std::fs::write(&path, lines.join(&b"\n"[..])).expect("write");

        let src = source("gongan_hukou").expect("source");
        let ImportOutcome::Applied { batch, .. } =
            import_file(&t.db, &cat, &path, &opts(src, tmp.path()), &mut |_, _| {}).expect("import")
        else {
            panic!("a new file")
        };
        assert_eq!(batch.encoding, "UTF-8", "{}", t.name);
        let rows = (lines.len() - 1) as i64;
        assert_eq!(
            (batch.rows_total, batch.rows_bad, batch.rows_ok),
            (rows, 2, rows - 2),
            "{}",
            t.name
        );
        let issues = registry::batch_issues(&t.db, batch.id, 100, 0).expect("issues");
        let got: Vec<(i64, &str, bool)> = issues
            .iter()
            .map(|i| {
                (
                    i.row_no,
                    i.column.as_str(),
                    i.reason.contains("无法解码") || i.reason.contains("晚于导入日期"),
                )
            })
            .collect();
        // Row numbers as a spreadsheet shows them: the header is row 1.
        assert_eq!(
            got,
            vec![(far as i64 + 1, "姓名", true), (far as i64 + 6, "身份证号", true)],
            "{}: {issues:?}",
            t.name
        );
        assert_eq!(registry::counts(&t.db).expect("counts").persons, rows - 2, "{}", t.name);
    }
}

/// A department that still keys people by the old 15-digit number (GB 11643's predecessor)
/// reaches the same person as the 18-digit one: the number is upgraded at the edge ("19"
/// inserted, check digit computed), and the row's facts join that person's history.
#[test]
fn a_fifteen_digit_number_reaches_the_person_of_its_eighteen_digit_form() {
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-gen");
        let dir = tmp.path().join("in");
        let m = gen(&dir, "150400", 300, false);
        let cat = setup(&t.db, &dir, &m);
        let f = m.files.iter().find(|f| f.source == "gongan_hukou").expect("户籍 file");
        let src = source("gongan_hukou").expect("source");
        import_file(&t.db, &cat, &dir.join(&f.file), &opts(src, tmp.path()), &mut |_, _| {}).expect("import");
        let before = registry::counts(&t.db).expect("counts");

        let (header, rows) = csv_rows(&dir.join(&f.file));
        let person = &rows[0];
        let eighteen = person[0].as_str();
        assert!(&eighteen[6..8] == "19", "an older person born in the 1900s");
        let other = rows.iter().find(|r| r[2] != person[2]).expect("another village");
        let hukou_of = |id: i64| -> Vec<(String, NaiveDate, Option<NaiveDate>)> {
            let mut h: Vec<_> = registry::person_facts(&t.db, id)
                .expect("facts")
                .into_iter()
                .filter(|f| f.kind == "hukou")
                .map(|f| (f.value, f.valid_from, f.valid_to))
                .collect();
            h.sort_by_key(|x| x.1);
            h
        };
        let p = registry::person_by_id_number(&t.db, eighteen)
            .expect("q")
            .expect("the 18-digit person");
        let held = hukou_of(p.id);
        // The same person moved to the other row's village on the import date (after every
        // date the file holds), keyed the old way.
        let fifteen = format!("{}{}{}", &eighteen[..6], &eighteen[8..14], &eighteen[14..17]);
        let moved_on = as_of();
        assert!(held.iter().all(|h| h.1 < moved_on));
        let row = format!(
            "{header}\n{fifteen},{},{},{},{},{moved_on}\n",
            person[1], other[2], other[3], other[4]
        );
        let path = tmp.path().join("户籍_旧号码.csv");
        std::fs::write(&path, row).expect("write");
        let ImportOutcome::Applied { batch, .. } =
            import_file(&t.db, &cat, &path, &opts(src, tmp.path()), &mut |_, _| {}).expect("import")
        else {
            panic!("a new file")
        };
        assert_eq!((batch.rows_ok, batch.persons_new), (1, 0), "{}", t.name);
        assert_eq!(
            registry::counts(&t.db).expect("counts").persons,
            before.persons,
            "{}",
            t.name
        );
        let now = hukou_of(p.id);
        assert_eq!(now.len(), held.len() + 1, "{}: {now:?}", t.name);
        let (last, earlier) = now.split_last().expect("facts");
        assert_eq!(
            (last.0.as_str(), last.1, last.2),
            (other[2].as_str(), moved_on, None),
            "{}",
            t.name
        );
        assert!(
            earlier.iter().all(|h| h.2.is_some_and(|to| to <= moved_on)),
            "{}: the old place ends on the move: {earlier:?}",
            t.name
        );
    }
}

#[test]
fn a_refused_row_leaves_nothing_a_later_row_is_compared_with() {
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-gen");
        let dir = tmp.path().join("in");
        let m = gen(&dir, "150400", 300, false);
        let cat = setup(&t.db, &dir, &m);
        let f = m.files.iter().find(|f| f.source == "gongan_hukou").expect("户籍 file");
        let (header, rows) = csv_rows(&dir.join(&f.file));
        let p = &rows[0];
        let other = rows
            .iter()
            .find(|r| r[2] != p[2] && !r[3].is_empty() && !r[4].is_empty())
            .expect("a row of another village with residence and 城乡");
        let (id, name, date) = (p[0].as_str(), &p[1], &p[5]);
        let (x, y, residence, urban) = (p[2].as_str(), &other[2], other[3].as_str(), other[4].as_str());
        // Row 2 says 户籍 X alone; row 3 contradicts it (户籍 Y) and is refused with its
        // 常住地 and 城乡; row 4 repeats row 2's 户籍 and adds row 3's other two. Row 4 is
        // no duplicate: what a refused row said was never said.
        let file = format!(
            "{header}\n{id},{name},{x},,,{date}\n{id},{name},{y},{residence},{urban},{date}\n{id},{name},{x},{residence},{urban},{date}\n"
        );
        let path = tmp.path().join("户籍_矛盾.csv");
        std::fs::write(&path, file).expect("write");
        let src = source("gongan_hukou").expect("source");
        let ImportOutcome::Applied { batch, .. } =
            import_file(&t.db, &cat, &path, &opts(src, tmp.path()), &mut |_, _| {}).expect("import")
        else {
            panic!("a new file")
        };
        assert_eq!(
            (batch.rows_ok, batch.rows_bad, batch.rows_duplicate),
            (2, 1, 0),
            "{}",
            t.name
        );
        let issues = registry::batch_issues(&t.db, batch.id, 10, 0).expect("issues");
        assert_eq!(issues.len(), 1, "{}: {issues:?}", t.name);
        assert_eq!(issues[0].row_no, 3, "{}", t.name);
        assert!(
            issues[0].reason.contains("与第2行矛盾"),
            "{}: {}",
            t.name,
            issues[0].reason
        );
        let person = registry::person_by_id_number(&t.db, id)
            .expect("q")
            .expect("the person");
        let mut facts: Vec<(String, String)> = registry::person_facts(&t.db, person.id)
            .expect("facts")
            .into_iter()
            .map(|f| (f.kind, f.value))
            .collect();
        facts.sort();
        let full = |c: &str| DivisionCode::parse(c).expect("code").full();
        assert_eq!(
            facts,
            vec![
                ("hukou".to_string(), full(x)),
                ("residence".to_string(), full(residence)),
                ("urban_rural".to_string(), urban.to_string()),
            ],
            "{}",
            t.name
        );
    }
}
