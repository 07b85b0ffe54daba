//! 长期护理失能等级评估 over the database (issue #5 §7), on SQLite and PostgreSQL: only persons
//! whose 户籍 is in a pilot city, no grade without a loaded table, the grade of the table in force
//! on the assessment date (most specific division, then latest start), and refused tables.

use chrono::{NaiveDate, Utc};
use yanglao_assessment::ltc::{LtcAnswers, LtcGrade};
use yanglao_assessment::ltc_service::{self, LtcInput, TableInput, NO_TABLE};
use yanglao_assessment::service::{self, AgencyInput, AssessError, AssessorInput};
use yanglao_domain::{DivisionCode, IdNumber};
use yanglao_store::registry::{self, apply_batch, NewBatch, Staged, StagedFact};
use yanglao_store::{testing, Db};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// TEST FIXTURE ONLY: the numbers are README §2.3's UNCONFIRMED recollection (ADL 100 / 65–95 /
/// 45–60 / 0–40 and its combination table; the 认知 and 感知觉与沟通 cut-offs are not given there
/// at all and are made up for the test). Not official grading rules.
const FIXTURE_TABLE: &str = r#"
source = "测试用：standards/README.md §2.3 未核实的回忆，非官方"
adl = { intact_min = 100, mild_min = 65, moderate_min = 45 }
cognition = { intact_min = 16, mild_min = 12, moderate_min = 8 }
perception = { intact_min = 12, mild_min = 9, moderate_min = 6 }

[combination]
method = "adl_by_worse_other"
grades = [[0, 0, 1, 1], [1, 1, 1, 2], [2, 2, 2, 3], [3, 3, 4, 5]]
"#;

/// TEST FIXTURE ONLY: the same with 中度受损 ADL made 重度失能Ⅰ级, so that a test can tell which
/// table graded an assessment.
const FIXTURE_TABLE_STRICTER: &str = r#"
source = "测试用：更严的组合表，非官方"
adl = { intact_min = 100, mild_min = 65, moderate_min = 45 }
cognition = { intact_min = 16, mild_min = 12, moderate_min = 8 }
perception = { intact_min = 12, mild_min = 9, moderate_min = 6 }

[combination]
method = "adl_by_worse_other"
grades = [[0, 0, 1, 1], [1, 1, 1, 2], [3, 3, 3, 3], [3, 3, 4, 5]]
"#;

/// ADL 50 (中度受损 under the fixture), 认知 and 感知觉与沟通 full marks.
fn adl_50() -> LtcAnswers {
    LtcAnswers {
        adl: [10, 10, 5, 10, 10, 5, 0, 0, 0, 0],
        ..LtcAnswers::best()
    }
}

fn person(db: &Db, sha: &str, id: &IdNumber, name: &str, village: &str) -> i64 {
    let meta = NewBatch {
        source: "gongan_hukou".into(),
        department: "gongan".into(),
        file_name: "户籍.csv".into(),
        sha256: sha.into(),
        size_bytes: 1,
        encoding: "UTF-8".into(),
        archive_path: None,
        now: Utc::now(),
        fail_at: None,
    };
    let mut items = vec![
        Ok(Staged::Fact(StagedFact {
            person_id: None,
            row_no: 2,
            id_number: id.as_str().into(),
            name: name.into(),
            sex: id.sex().code(),
            birth_date: id.birth_date(),
            kind: "hukou",
            value: DivisionCode::parse(village).expect("code").full(),
            valid_from: d(2000, 1, 1),
            valid_to: None,
            first_of_person: true,
        })),
        Ok(Staged::RowDone { ok: true }),
    ]
    .into_iter();
    apply_batch(db, &meta, &mut items).expect("person");
    registry::person_by_id_number(db, id.as_str())
        .expect("q")
        .expect("person")
        .id
}

struct Setup {
    agency: i64,
    a1: i64,
    a2: i64,
}

fn setup(db: &Db) -> Setup {
    let now = Utc::now();
    let agency = service::register_agency(
        db,
        &AgencyInput {
            name: "呼和浩特市长期护理失能评估中心",
            division: "150100",
            qualification: "呼和浩特市医疗保障局认定",
            qualified_from: d(2024, 1, 1),
            qualified_to: None,
        },
        "管理员",
        now,
    )
    .expect("agency");
    let assessor = |name: &str, cert: &str| {
        service::register_assessor(
            db,
            &AssessorInput {
                agency_id: agency,
                name,
                certificate: cert,
                qualification: "长期护理失能等级评估员",
                qualified_from: d(2024, 1, 1),
                qualified_to: None,
            },
            "管理员",
            now,
        )
        .expect("assessor")
    };
    Setup {
        agency,
        a1: assessor("王评估", "LTC-001"),
        a2: assessor("李评估", "LTC-002"),
    }
}

fn input(s: &Setup, person_id: i64, on: NaiveDate, answers: LtcAnswers) -> LtcInput {
    LtcInput {
        person_id,
        assessed_on: on,
        agency_id: s.agency,
        assessor1_id: s.a1,
        assessor2_id: s.a2,
        answers,
    }
}

fn record(db: &Db, s: &Setup, person_id: i64, on: NaiveDate) -> Result<i64, AssessError> {
    ltc_service::record(
        db,
        &input(s, person_id, on, adl_50()),
        &ltc_service::pilot_cities(),
        "经办人",
        Utc::now(),
    )
}

fn load(db: &Db, text: &str, division: &str, from: NaiveDate) -> Result<i64, AssessError> {
    let table = ltc_service::parse_table(text)?;
    ltc_service::load_table(
        db,
        &table,
        &TableInput {
            division,
            valid_from: from,
            source_document: "测试用实施细则",
        },
        "管理员",
        Utc::now(),
    )
}

fn grade_of(db: &Db, id: i64) -> Option<LtcGrade> {
    ltc_service::assessment(db, id).expect("assessment").scored.grade()
}

#[test]
fn only_persons_with_hukou_in_a_pilot_city_are_assessed() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        // 新城区 is in 呼和浩特市, 满洲里市 is a county-level city; 包头 and 海拉尔区 (呼伦贝尔,
        // the prefecture of 满洲里) are not pilot cities.
        let cases = [
            ("150102", true),
            ("150303", true),
            ("150781", true),
            ("150202", false),
            ("150702", false),
        ];
        for (i, (village, pilot)) in cases.iter().enumerate() {
            let id = IdNumber::from_parts(village, d(1940, 1, 1), 11 + 2 * i as u16).expect("id");
            let pid = person(db, &format!("p{i}"), &id, "张三", village);
            let r = record(db, &s, pid, d(2025, 3, 1));
            match (pilot, r) {
                (true, Ok(_)) => {}
                (false, Err(AssessError::Invalid(m))) => {
                    assert!(m.contains("试点城市"), "{}: {village}: {m}", t.name)
                }
                (_, r) => panic!("{}: {village} (pilot {pilot}): {r:?}", t.name),
            }
        }
        assert!(
            ltc_service::pilot_cities().len() == 3,
            "{}: seed 000 §9 names three cities",
            t.name
        );
    }
}

#[test]
fn without_a_table_there_is_no_grade() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        let id = IdNumber::from_parts("150102", d(1940, 1, 1), 11).expect("id");
        let pid = person(db, "p", &id, "张三", "150102001001");
        let rid = record(db, &s, pid, d(2025, 3, 1)).expect("record");
        let stored = ltc_service::assessment(db, rid).expect("stored");
        assert_eq!(
            (stored.scored.adl, stored.scored.cognition, stored.scored.perception),
            (50, 16, 12),
            "{}: dimension scores are kept",
            t.name
        );
        assert_eq!(stored.scored.grade(), None, "{}", t.name);
        assert_eq!(stored.row.grade, None, "{}", t.name);
        assert_eq!(stored.row.grading_table_id, None, "{}", t.name);
        assert_eq!(stored.grade_text(), NO_TABLE, "{}", t.name);
        assert_eq!(NO_TABLE, "未载入分级表，暂不给出失能等级");
    }
}

#[test]
fn the_grade_follows_the_table_in_force_on_the_date() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        let id = IdNumber::from_parts("150102", d(1940, 1, 1), 11).expect("id");
        let pid = person(db, "p", &id, "张三", "150102001001");
        let before = record(db, &s, pid, d(2024, 12, 31)).expect("before");

        let city = load(db, FIXTURE_TABLE, "150100", d(2025, 1, 1)).expect("city table");
        let march = record(db, &s, pid, d(2025, 3, 1)).expect("march");
        assert_eq!(
            grade_of(db, march),
            Some(LtcGrade::Moderate),
            "{}: ADL 中度受损 → 2级",
            t.name
        );
        let row = ltc_service::assessment(db, march).expect("row").row;
        assert_eq!((row.grade, row.grading_table_id), (Some(2), Some(city)), "{}", t.name);
        assert_eq!(
            grade_of(db, before),
            None,
            "{}: a table from a later date does not grade an earlier assessment",
            t.name
        );
        let dec = record(db, &s, pid, d(2024, 12, 31)).expect("dec");
        assert_eq!(grade_of(db, dec), None, "{}: the table starts on 2025-01-01", t.name);

        // A district's own table beats the city's, even when the city loads a newer one.
        let district = load(db, FIXTURE_TABLE_STRICTER, "150102", d(2025, 6, 1)).expect("district");
        load(db, FIXTURE_TABLE, "150100", d(2025, 7, 1)).expect("city again");
        let aug = record(db, &s, pid, d(2025, 8, 1)).expect("aug");
        assert_eq!(grade_of(db, aug), Some(LtcGrade::SevereI), "{}", t.name);
        assert_eq!(
            ltc_service::assessment(db, aug).expect("row").row.grading_table_id,
            Some(district),
            "{}: most specific division first",
            t.name
        );
        assert_eq!(
            grade_of(db, march),
            Some(LtcGrade::Moderate),
            "{}: newer tables do not regrade",
            t.name
        );
        // Another city's person is untouched by 呼和浩特's tables.
        let other = IdNumber::from_parts("150303", d(1941, 1, 1), 13).expect("id");
        let wuhai = person(db, "q", &other, "李四", "150303001001");
        let w = record(db, &s, wuhai, d(2025, 8, 1)).expect("wuhai");
        assert_eq!(grade_of(db, w), None, "{}", t.name);
    }
}

#[test]
fn invalid_tables_and_inputs_are_refused() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        // 轻度 above 完好: swapped cut-offs.
        let swapped = FIXTURE_TABLE.replace("mild_min = 65", "mild_min = 100");
        match ltc_service::parse_table(&swapped) {
            Err(AssessError::Invalid(m)) => assert!(m.contains("不能载入"), "{}: {m}", t.name),
            other => panic!("{}: {:?}", t.name, other.map(|_| ())),
        }
        // Not monotone: a worse ADL with a better grade.
        let backwards = FIXTURE_TABLE.replace("[3, 3, 4, 5]]", "[1, 1, 1, 1]]");
        assert!(ltc_service::parse_table(&backwards).is_err(), "{}", t.name);
        let out_of_range = FIXTURE_TABLE.replace("4, 5]]", "4, 6]]");
        assert!(ltc_service::parse_table(&out_of_range).is_err(), "{}", t.name);
        assert!(ltc_service::parse_table("adl = 3").is_err(), "{}", t.name);
        let no_source = FIXTURE_TABLE.replace("测试用：standards/README.md §2.3 未核实的回忆，非官方", " ");
        assert!(ltc_service::parse_table(&no_source).is_err(), "{}", t.name);
        assert!(yanglao_store::ltc::tables(db).expect("tables").is_empty(), "{}", t.name);

        load(db, FIXTURE_TABLE, "150100", d(2025, 1, 1)).expect("load");
        match load(db, FIXTURE_TABLE, "150100", d(2025, 1, 1)) {
            Err(AssessError::Invalid(m)) => assert!(m.contains("已有分级表"), "{}: {m}", t.name),
            other => panic!("{}: {other:?}", t.name),
        }
        assert!(load(db, FIXTURE_TABLE, "15010", d(2025, 1, 1)).is_err(), "{}", t.name);

        let id = IdNumber::from_parts("150102", d(1940, 1, 1), 11).expect("id");
        let pid = person(db, "p", &id, "张三", "150102001001");
        let mut same = input(&s, pid, d(2025, 3, 1), adl_50());
        same.assessor2_id = s.a1;
        assert!(
            ltc_service::record(db, &same, &ltc_service::pilot_cities(), "经办人", Utc::now()).is_err(),
            "{}: two different assessors",
            t.name
        );
        let mut bad = adl_50();
        bad.adl[0] = 7;
        assert!(
            ltc_service::record(
                db,
                &input(&s, pid, d(2025, 3, 1), bad),
                &ltc_service::pilot_cities(),
                "经办人",
                Utc::now()
            )
            .is_err(),
            "{}: 7 is not an option of C1.1",
            t.name
        );
        assert!(
            record(db, &s, pid, d(2023, 6, 1)).is_err(),
            "{}: agency not yet qualified",
            t.name
        );
        assert!(
            ltc_service::person_assessments(db, pid).expect("list").is_empty(),
            "{}: nothing refused is kept",
            t.name
        );
    }
}
