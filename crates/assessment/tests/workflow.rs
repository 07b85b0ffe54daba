//! The assessment workflow over the database, on SQLite and PostgreSQL: transitions, two
//! assessors, the result as a registry fact, amendments, overdue lists, statistics and imports.

use chrono::{NaiveDate, Utc};
use yanglao_assessment::gbt42195::{Level, INDICATORS};
use yanglao_assessment::import::{self, Outcome};
use yanglao_assessment::reports;
use yanglao_assessment::service::{self, AgencyInput, AssessError, AssessorInput, RequestInput};
use yanglao_assessment::workflow::{Reason, RequestedBy};
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{DivisionCode, IdNumber};
use yanglao_store::registry::{self, apply_batch, person_facts, NewBatch, Staged, StagedFact};
use yanglao_store::{testing, Db};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

const TODAY: (i32, u32, u32) = (2025, 6, 30);

fn today() -> NaiveDate {
    d(TODAY.0, TODAY.1, TODAY.2)
}

fn id_number(address: &str, birth: NaiveDate, seq: u16) -> IdNumber {
    IdNumber::from_parts(address, birth, seq).expect("id number")
}

/// Registers people in the registry as a 公安 file would, with 户籍 at `village`.
fn people(db: &Db, sha: &str, list: &[(&IdNumber, &str, &str)]) -> Vec<i64> {
    let mut items = Vec::new();
    for (i, (id, name, village)) in list.iter().enumerate() {
        items.push(Ok(Staged::Fact(StagedFact {
            person_id: None,
            row_no: i as i64 + 2,
            id_number: id.as_str().to_string(),
            name: name.to_string(),
            sex: id.sex().code(),
            birth_date: id.birth_date(),
            kind: "hukou",
            value: DivisionCode::parse(village).expect("code").full(),
            valid_from: d(2000, 1, 1),
            valid_to: None,
            first_of_person: true,
        })));
        items.push(Ok(Staged::RowDone { ok: true }));
    }
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
    apply_batch(db, &meta, &mut items.into_iter()).expect("people");
    list.iter()
        .map(|(id, _, _)| {
            registry::person_by_id_number(db, id.as_str())
                .expect("q")
                .expect("person")
                .id
        })
        .collect()
}

struct Setup {
    agency: i64,
    a1: i64,
    a2: i64,
    /// Qualification ended before 2025.
    expired: i64,
}

fn setup(db: &Db) -> Setup {
    let now = Utc::now();
    let agency = service::register_agency(
        db,
        &AgencyInput {
            name: "新城区老年人能力评估中心",
            division: "150102",
            qualification: "新城区民政局认定（新民发〔2024〕1号）",
            qualified_from: d(2024, 1, 1),
            qualified_to: None,
        },
        "管理员",
        now,
    )
    .expect("agency");
    let assessor = |name: &str, cert: &str, to: Option<NaiveDate>| {
        service::register_assessor(
            db,
            &AssessorInput {
                agency_id: agency,
                name,
                certificate: cert,
                qualification: "老年人能力评估师（三级）",
                qualified_from: d(2023, 1, 1),
                qualified_to: to,
            },
            "管理员",
            now,
        )
        .expect("assessor")
    };
    Setup {
        agency,
        a1: assessor("王评估", "PG-001", None),
        a2: assessor("李评估", "PG-002", None),
        expired: assessor("赵过期", "PG-003", Some(d(2024, 12, 31))),
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, Vec<String>)> {
    list.iter().map(|(k, v)| (k.to_string(), vec![v.to_string()])).collect()
}

/// Every item at `score(code)` plus the C.4 inputs (no events, no coma).
fn complete(score: impl Fn(&str, u8) -> u8) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for item in INDICATORS.iter().flat_map(|i| i.items.iter()) {
        out.push((item.code.to_string(), vec![score(item.code, item.max()).to_string()]));
    }
    for i in 1..=5 {
        out.push((format!("A.2.14.{i}"), vec!["0".into()]));
    }
    out.push(("A.5.11".into(), vec!["无".into()]));
    out
}

fn request(db: &Db, person: i64, reason: Reason, on: NaiveDate) -> i64 {
    service::create_request(
        db,
        &RequestInput {
            person_id: person,
            requested_by: RequestedBy::Family,
            requester: "张家属".into(),
            reason,
            note: "行动能力下降".into(),
            disputed_record_id: None,
            requested_on: on,
        },
        "窗口",
        Utc::now(),
    )
    .expect("request")
}

/// Request → scheduled → every item entered → submitted → reviewed → result. Returns the record.
fn assess(db: &Db, s: &Setup, person: i64, on: NaiveDate, entries: &[(String, Vec<String>)]) -> i64 {
    let now = Utc::now();
    let q = request(db, person, Reason::First, on);
    let rec = service::schedule(db, q, s.agency, on, "调度员", now).expect("schedule");
    let out = service::save(db, rec, entries, now).expect("save");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let out = service::save(
        db,
        rec,
        &pairs(&[("assessor1", &s.a1.to_string()), ("assessor2", &s.a2.to_string())]),
        now,
    )
    .expect("save");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    service::submit(db, rec, "王评估", today(), now).expect("submit");
    service::review(db, q, "刘审核", true, "", now).expect("review");
    service::publish(db, q, "刘审核", now).expect("publish");
    rec
}

fn level_facts(db: &Db, person: i64) -> Vec<registry::FactRecord> {
    person_facts(db, person)
        .expect("facts")
        .into_iter()
        .filter(|f| f.kind == "capability_level")
        .collect()
}

#[test]
fn the_workflow_refuses_illegal_moves_and_needs_two_assessors() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        let id = id_number("150102", d(1940, 3, 5), 11);
        let pid = people(db, "p1", &[(&id, "张三", "150102001001")])[0];
        let now = Utc::now();
        let on = d(2025, 6, 2);
        let q = request(db, pid, Reason::First, d(2025, 6, 1));

        // A second open request for the same person would be assessed twice.
        let again = service::create_request(
            db,
            &RequestInput {
                person_id: pid,
                requested_by: RequestedBy::Person,
                requester: String::new(),
                reason: Reason::Routine,
                note: String::new(),
                disputed_record_id: None,
                requested_on: d(2025, 6, 1),
            },
            "窗口",
            now,
        );
        assert!(matches!(again, Err(AssessError::Invalid(_))), "{}: {again:?}", t.name);

        // Illegal moves from 已申请.
        for (what, r) in [
            ("review", service::review(db, q, "刘审核", true, "", now).err()),
            ("publish", service::publish(db, q, "刘审核", now).err()),
        ] {
            assert!(
                matches!(r, Some(AssessError::Transition { .. }) | Some(AssessError::Invalid(_))),
                "{}: {what} from 已申请 must be refused, got {r:?}",
                t.name
            );
        }
        assert!(registry::batches(db, 10)
            .expect("b")
            .iter()
            .all(|b| b.source != "assessment"));

        let rec = service::schedule(db, q, s.agency, on, "调度员", now).expect("schedule");
        // Nothing entered: every missing item is listed at once.
        match service::submit(db, rec, "王评估", today(), now) {
            Err(AssessError::Incomplete(p)) => {
                assert!(p.iter().any(|x| x.contains("两名评估员")), "{}: {p:?}", t.name);
                assert!(p.iter().any(|x| x.contains("B.4.5")), "{}: {p:?}", t.name);
                assert!(p.iter().any(|x| x.contains("A.5.11")), "{}: {p:?}", t.name);
            }
            other => panic!("{}: incomplete draft submitted: {other:?}", t.name),
        }
        // Invalid values are refused field by field, valid ones kept.
        let out = service::save(db, rec, &pairs(&[("B.2.4", "4"), ("B.1.1", "3")]), now).expect("save");
        assert_eq!(out.saved, vec!["B.1.1".to_string()], "{}", t.name);
        assert!(
            out.errors[0].1.contains("B.2.4"),
            "{}: B.2.4 scores 0–3 (Appendix B)",
            t.name
        );

        service::save(db, rec, &complete(|_, max| max), now).expect("save");
        // The same assessor twice is refused at once.
        let out = service::save(
            db,
            rec,
            &pairs(&[("assessor1", &s.a1.to_string()), ("assessor2", &s.a1.to_string())]),
            now,
        )
        .expect("save");
        assert!(
            out.errors.iter().any(|(f, e)| f == "assessor2" && e.contains("同一人")),
            "{}: two distinct assessors (Appendix C: two assessor signatures): {:?}",
            t.name,
            out.errors
        );
        // An assessor whose qualification ended is refused at submission.
        service::save(db, rec, &pairs(&[("assessor2", &s.expired.to_string())]), now).expect("save");
        match service::submit(db, rec, "王评估", today(), now) {
            Err(AssessError::Incomplete(p)) => {
                assert!(p.iter().any(|x| x.contains("资格有效期")), "{}: {p:?}", t.name)
            }
            other => panic!("{}: expired assessor accepted: {other:?}", t.name),
        }
        service::save(db, rec, &pairs(&[("assessor2", &s.a2.to_string())]), now).expect("save");
        let scored = service::submit(db, rec, "王评估", today(), now).expect("submit");
        assert_eq!(
            (scored.total, scored.final_level),
            (90, Level::Intact),
            "{}: C.3 total 90 → 能力完好",
            t.name
        );
        // A submitted record is frozen.
        assert!(
            service::save(db, rec, &pairs(&[("B.1.1", "0")]), now).is_err(),
            "{}",
            t.name
        );
        assert!(service::submit(db, rec, "王评估", today(), now).is_err(), "{}", t.name);
        // Publishing needs a review first; the reviewer is not one of the assessors.
        assert!(matches!(
            service::publish(db, q, "刘审核", now),
            Err(AssessError::Transition { .. })
        ));
        assert!(
            service::review(db, q, "王评估", true, "", now).is_err(),
            "{}: maker-checker",
            t.name
        );
        assert!(
            service::review(db, q, "刘审核", false, "", now).is_err(),
            "{}: return needs a reason",
            t.name
        );
        service::review(db, q, "刘审核", true, "核对无误", now).expect("review");
        assert!(
            service::cancel(db, q, "窗口", "不需要了", now).is_err(),
            "{}: reviewed is not cancellable",
            t.name
        );
        let batch = service::publish(db, q, "刘审核", now).expect("publish");
        assert!(
            batch.file_name.contains("PG20250602"),
            "{}: the batch names the assessment: {}",
            t.name,
            batch.file_name
        );
        assert!(
            service::publish(db, q, "刘审核", now).is_err(),
            "{}: published once",
            t.name
        );
        assert!(
            service::cancel(db, q, "窗口", "撤销", now).is_err(),
            "{}: a result is not cancelled",
            t.name
        );

        // The result is a registry fact from the assessment date, through that batch.
        let facts = level_facts(db, pid);
        assert_eq!(facts.len(), 1, "{}", t.name);
        assert_eq!((facts[0].value.as_str(), facts[0].valid_from), ("0", on), "{}", t.name);
        assert_eq!(facts[0].batch_id, batch.id);
        assert_eq!(
            facts[0].source, "weijian",
            "{}: one source for capability results",
            t.name
        );
        let steps = yanglao_store::assessments::request_steps(db, q).expect("steps");
        let path: Vec<&str> = steps.iter().map(|s| s.to.as_str()).collect();
        assert_eq!(
            path,
            ["requested", "scheduled", "assessed", "reviewed", "result"],
            "{}",
            t.name
        );
    }
}

#[test]
fn a_returned_record_is_a_draft_again_and_levels_follow_c3_to_c5() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        let id = id_number("150102", d(1938, 1, 1), 21);
        let pid = people(db, "p", &[(&id, "李四", "150102001001")])[0];
        let now = Utc::now();
        let q = request(db, pid, Reason::First, d(2025, 5, 1));
        let rec = service::schedule(db, q, s.agency, d(2025, 5, 2), "调度员", now).expect("schedule");
        // B.1 all 0 (−32) and B.2 all 0 (−15): total 43 → C.3 能力重度受损.
        let mut entries = complete(|code, max| {
            if code.starts_with("B.1") || code.starts_with("B.2") {
                0
            } else {
                max
            }
        });
        entries.extend(pairs(&[
            ("A.2.14.1", "1"),
            ("A.2.14.3", "1"),
            ("assessor1", &s.a1.to_string()),
            ("assessor2", &s.a2.to_string()),
        ]));
        let out = service::save(db, rec, &entries, now).expect("save");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let scored = service::submit(db, rec, "王评估", today(), now).expect("submit");
        assert_eq!(scored.total, 43);
        assert_eq!(scored.preliminary, Level::Severe, "{}: C.3 30–45 → 3", t.name);
        assert_eq!(
            scored.final_level,
            Level::Lost,
            "{}: C.4（3）one fall + one choking = 2 events in 30 days raise one level",
            t.name
        );
        service::review(db, q, "刘审核", false, "A.2.14 跌倒次数核实有误", now).expect("return");
        let (req, r) = service::request_detail(db, q).expect("detail");
        assert_eq!(req.status, "scheduled", "{}", t.name);
        assert_eq!(r.expect("record").status, "draft", "{}", t.name);
        service::save(db, rec, &pairs(&[("A.2.14.1", "0")]), now).expect("save after return");
        let scored = service::submit(db, rec, "王评估", today(), now).expect("resubmit");
        assert_eq!(
            scored.final_level,
            Level::Severe,
            "{}: one event does not raise (C.4（3）)",
            t.name
        );
    }
}

#[test]
fn a_result_supersedes_the_older_and_an_amendment_is_audited() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        let id = id_number("150102", d(1941, 7, 7), 31);
        let pid = people(db, "p", &[(&id, "王五", "150102001001")])[0];
        // 卫健 sent a level before (department file).
        let meta = NewBatch {
            source: "weijian_capability".into(),
            department: "weijian".into(),
            file_name: "能力评估.csv".into(),
            sha256: "w1".into(),
            size_bytes: 1,
            encoding: "UTF-8".into(),
            archive_path: None,
            now: Utc::now(),
            fail_at: None,
        };
        let mut items = vec![Ok(Staged::Fact(StagedFact {
            person_id: None,
            row_no: 2,
            id_number: id.as_str().into(),
            name: "王五".into(),
            sex: id.sex().code(),
            birth_date: id.birth_date(),
            kind: "capability_level",
            value: "1".into(),
            valid_from: d(2023, 3, 1),
            valid_to: None,
            first_of_person: true,
        }))]
        .into_iter();
        apply_batch(db, &meta, &mut items).expect("weijian");

        let on = d(2025, 4, 10);
        // B.3 精神状态 all 0 (−28): 62 → 能力中度受损.
        let rec = assess(
            db,
            &s,
            pid,
            on,
            &complete(|code, max| if code.starts_with("B.3") { 0 } else { max }),
        );
        let facts = level_facts(db, pid);
        assert_eq!(facts.len(), 2, "{}", t.name);
        assert_eq!(
            (facts[0].value.as_str(), facts[0].valid_to),
            ("1", Some(on)),
            "{}: the older level ends when the new assessment starts",
            t.name
        );
        assert_eq!((facts[1].value.as_str(), facts[1].valid_to), ("2", None), "{}", t.name);

        let now = Utc::now();
        assert!(
            service::amend(db, rec, Level::Severe, "", "刘审核", now).is_err(),
            "{}: a reason is required",
            t.name
        );
        assert!(service::amend(db, rec, Level::Moderate, "无变化的更正", "刘审核", now).is_err());
        service::amend(db, rec, Level::Severe, "复核发现B.3.4记忆评分录入错误", "刘审核", now).expect("amend");
        let amendments = service::amendments(db, rec).expect("amendments");
        assert_eq!(amendments.len(), 1);
        let a = &amendments[0];
        assert_eq!(
            (a.old_level, a.new_level, a.by.as_str(), a.reason.as_str()),
            (2, 3, "刘审核", "复核发现B.3.4记忆评分录入错误"),
            "{}: who, why, old → new",
            t.name
        );
        let facts = level_facts(db, pid);
        let old = facts.iter().find(|f| f.value == "2").expect("old");
        assert_eq!(old.valid_to, Some(on), "{}: the amended fact never held", t.name);
        assert_eq!(old.ended_by_batch, Some(a.batch_id), "{}", t.name);
        let current: Vec<&str> = facts
            .iter()
            .filter(|f| f.valid_on(today()))
            .map(|f| f.value.as_str())
            .collect();
        assert_eq!(current, ["3"], "{}", t.name);
        // Back to the original level: that row holds again.
        service::amend(db, rec, Level::Moderate, "复评专家组意见恢复原结论", "陈科长", now).expect("amend back");
        let facts = level_facts(db, pid);
        let holding: Vec<&str> = facts
            .iter()
            .filter(|f| f.valid_on(today()))
            .map(|f| f.value.as_str())
            .collect();
        assert_eq!(holding, ["2"], "{}: exactly one level holds, the restored one", t.name);
        assert_eq!(service::amendments(db, rec).expect("a").len(), 2);

        // 复评 of a disputed result names it; a record of someone else is refused.
        let bad = service::create_request(
            db,
            &RequestInput {
                person_id: pid,
                requested_by: RequestedBy::Person,
                requester: String::new(),
                reason: Reason::Dispute,
                note: "对结果有疑问".into(),
                disputed_record_id: None,
                requested_on: today(),
            },
            "窗口",
            now,
        );
        assert!(bad.is_err(), "{}: 复评 names the result (A.1.3)", t.name);
        service::create_request(
            db,
            &RequestInput {
                person_id: pid,
                requested_by: RequestedBy::Person,
                requester: String::new(),
                reason: Reason::Dispute,
                note: "对结果有疑问".into(),
                disputed_record_id: Some(rec),
                requested_on: today(),
            },
            "窗口",
            now,
        )
        .expect("dispute");
    }
}

#[test]
fn overdue_lists_follow_the_period_parameter_and_triggers() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        let cat = builtin::catalogue();
        let old = id_number("150102", d(1940, 1, 1), 41);
        let fresh = id_number("150102", d(1940, 1, 2), 43);
        let elsewhere = id_number("150203", d(1940, 1, 3), 45);
        let changed = id_number("150102", d(1940, 1, 4), 47);
        let ids = people(
            db,
            "p",
            &[
                (&old, "甲", "150102001001"),
                (&fresh, "乙", "150102002001"),
                (&elsewhere, "丙", "150203001001"),
                (&changed, "丁", "150102001002"),
            ],
        );
        let entries = complete(|_, max| max);
        assess(db, &s, ids[0], d(2024, 5, 1), &entries);
        assess(db, &s, ids[1], d(2025, 1, 15), &entries);
        assess(db, &s, ids[2], d(2024, 2, 1), &entries);
        assess(db, &s, ids[3], d(2025, 2, 1), &entries);
        // 丁's condition changed: 即时评估 due at once.
        let q = request(db, ids[3], Reason::Immediate, d(2025, 6, 20));

        let county = DivisionCode::parse("150102").expect("code");
        let rows = reports::overdue(db, &cat, county, today()).expect("overdue");
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["丁", "甲"],
            "{}: trigger first, then the period (default 12 months)",
            t.name
        );
        assert!(
            matches!(rows[0].due, reports::Due::Trigger { request_id, reason: Reason::Immediate, .. } if request_id == q)
        );
        match rows[1].due {
            reports::Due::Period { due_on, months, .. } => {
                assert_eq!((due_on, months), (d(2025, 5, 1), 12), "{}", t.name);
                assert_eq!(rows[1].days_overdue, 60);
            }
            ref other => panic!("{other:?}"),
        }
        // The jurisdiction sets 24 months for 新城区: 甲 is no longer due.
        reports::set_period(db, county, d(2025, 6, 1), 24, "新城区民政局", Utc::now(), "").expect("set");
        assert_eq!(
            reports::period_for(db, &cat, DivisionCode::parse("150102001001").expect("c"), today())
                .expect("p")
                .0,
            24
        );
        let rows = reports::overdue(db, &cat, county, today()).expect("overdue");
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["丁"], "{}", t.name);
        // Before the parameter took effect, the default applied (and 丁's request was not made).
        let rows = reports::overdue(db, &cat, county, d(2025, 5, 10)).expect("overdue");
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["甲"], "{}: as of 2025-05-10", t.name);
        // 丙 in 昆都仑区 is someone else's list.
        let rows = reports::overdue(db, &cat, DivisionCode::parse("150203").expect("c"), today()).expect("o");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "丙");
        assert!(reports::set_period(db, county, d(2025, 1, 1), 0, "x", Utc::now(), "").is_err());
    }
}

#[test]
fn statistics_count_levels_by_division_and_the_share_of_65_plus() {
    for t in testing::all() {
        let db = &t.db;
        let s = setup(db);
        let cat = builtin::catalogue();
        let a = id_number("150102", d(1940, 1, 1), 51);
        let b = id_number("150102", d(1950, 1, 1), 53);
        let young = id_number("150102", d(1962, 1, 1), 55);
        let c = id_number("150102", d(1945, 1, 1), 57);
        let ids = people(
            db,
            "p",
            &[
                (&a, "甲", "150102001001"),
                (&b, "乙", "150102001002"),
                (&young, "丙", "150102002001"),
                (&c, "丁", "150102002002"),
            ],
        );
        assess(db, &s, ids[0], d(2025, 3, 1), &complete(|_, m| m));
        assess(
            db,
            &s,
            ids[1],
            d(2025, 3, 1),
            &complete(|code, m| if code.starts_with("B.3") { 0 } else { m }),
        );
        assess(db, &s, ids[2], d(2025, 3, 1), &complete(|_, m| m));
        let st = reports::stats(db, &cat, DivisionCode::parse("150102").expect("c"), today()).expect("stats");
        assert_eq!(st.total.persons, 4, "{}", t.name);
        assert_eq!(st.total.by_level, [2, 0, 1, 0, 0], "{}", t.name);
        assert_eq!(st.total.assessed, 3);
        assert_eq!(
            (st.total.aged_65, st.total.aged_65_assessed),
            (3, 2),
            "{}: 丙 is 63; 000 list item 4 offers the assessment from 65",
            t.name
        );
        assert_eq!(st.total.share_65_permille(), Some(666));
        assert_eq!(st.rows.len(), 2, "{}: one row per township", t.name);
        assert_eq!(st.rows[0].code, "150102001000");
        assert_eq!((st.rows[0].persons, st.rows[0].assessed), (2, 2));
        assert_eq!((st.rows[1].persons, st.rows[1].assessed), (2, 1));
    }
}

#[test]
fn a_rule_that_needs_a_level_asks_once() {
    for t in testing::all() {
        let db = &t.db;
        let id = id_number("150102", d(1940, 1, 1), 61);
        let pid = people(db, "p", &[(&id, "甲", "150102001001")])[0];
        let first = service::request_for_rule(db, pid, "经济困难老年人护理补贴", today(), Utc::now()).expect("auto");
        assert!(first.is_some());
        let second = service::request_for_rule(db, pid, "经济困难老年人护理补贴", today(), Utc::now()).expect("auto");
        assert_eq!(second, None, "{}: no second open request", t.name);
        let (q, _) = service::request_detail(db, first.expect("id")).expect("detail");
        assert_eq!((q.requested_by.as_str(), q.reason.as_str()), ("auto", "first"));
    }
}

fn write_xlsx(path: &std::path::Path, rows: &[Vec<String>]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32, c as u16, v).expect("write");
        }
    }
    wb.save(path).expect("save");
}

#[allow(clippy::too_many_arguments)]
fn import_row(
    id: &IdNumber,
    name: &str,
    date: &str,
    a1: &str,
    a2: &str,
    scores: &[u8],
    total: &str,
    level: &str,
) -> Vec<String> {
    let mut row: Vec<String> = vec![
        id.as_str().into(),
        name.into(),
        date.into(),
        String::new(),
        "常规评估".into(),
        "新城区老年人能力评估中心".into(),
        a1.into(),
        a2.into(),
    ];
    row.extend(scores.iter().map(|s| s.to_string()));
    row.extend(["0", "0", "0", "0", "0", "无", "", total, level].map(String::from));
    row
}

#[test]
fn an_xlsx_import_is_checked_row_by_row_and_lands_whole_or_not_at_all() {
    for t in testing::all() {
        let db = &t.db;
        setup(db);
        let dir = testing::TempDir::new("yanglao-assess-import");
        let best: Vec<u8> = INDICATORS
            .iter()
            .flat_map(|i| i.items.iter())
            .map(|i| i.max())
            .collect();
        let mut bad_score = best.clone();
        bad_score[11] = 4; // B.2.4 上下楼梯 scores 0–3
        let a = id_number("150102", d(1940, 1, 1), 71);
        let b = id_number("150102", d(1941, 1, 1), 73);
        let header = import::template_header();
        let rows = vec![
            header.clone(),
            import_row(&a, "甲", "2025-03-01", "王评估", "李评估", &best, "90", "0"),
            import_row(&b, "乙", "2025-03-01", "王评估", "王评估", &best, "", ""),
            import_row(
                &b,
                "乙",
                "2025-13-01",
                "PG-001",
                "李评估",
                &bad_score,
                "88",
                "能力轻度受损",
            ),
            import_row(&a, "甲", "2025-03-02", "王评估", "李评估", &best, "89", "1"),
        ];
        let path = dir.path().join("外部评估.xlsx");
        write_xlsx(&path, &rows);
        let issues = match import::import_file(db, &path, "刘审核", today(), Utc::now()).expect("import") {
            Outcome::Rejected(i) => i,
            other => panic!("{}: a file with bad rows was not refused: {other:?}", t.name),
        };
        let has = |row: i64, col: &str, what: &str| {
            issues
                .iter()
                .any(|i| i.row_no == row && i.column.starts_with(col) && i.reason.contains(what))
        };
        assert!(has(3, "评估员2", "同一人"), "{}: {issues:#?}", t.name);
        assert!(has(4, "评估日期", "无效"), "{}: {issues:#?}", t.name);
        assert!(has(4, "B.2.4", "附录B"), "{}: {issues:#?}", t.name);
        assert!(
            has(5, "总分", "90"),
            "{}: stated total checked against Appendix B: {issues:#?}",
            t.name
        );
        assert!(
            has(5, "能力等级", "0级"),
            "{}: stated level checked against C.3–C.5: {issues:#?}",
            t.name
        );
        assert!(
            !issues.iter().any(|i| i.row_no == 2),
            "{}: row 2 is fine: {issues:#?}",
            t.name
        );
        assert_eq!(
            registry::person_by_id_number(db, a.as_str()).expect("q").map(|p| p.id),
            None,
            "{}: nothing of a refused file is kept",
            t.name
        );

        let rows = vec![
            header.clone(),
            import_row(&a, "甲", "2025-03-01", "王评估", "李评估", &best, "90", "0"),
            import_row(&b, "乙", "2025-03-01", "PG-001", "PG-002", &best, "", ""),
        ];
        let path = dir.path().join("外部评估-改.xlsx");
        write_xlsx(&path, &rows);
        match import::import_file(db, &path, "刘审核", today(), Utc::now()).expect("import") {
            Outcome::Applied { batch, records } => {
                assert_eq!((records, batch.facts_new), (2, 2), "{}", t.name);
            }
            other => panic!("{}: {other:?}", t.name),
        }
        let pa = registry::person_by_id_number(db, a.as_str())
            .expect("q")
            .expect("person");
        let facts = level_facts(db, pa.id);
        assert_eq!((facts[0].value.as_str(), facts[0].valid_from), ("0", d(2025, 3, 1)));
        assert!(matches!(
            import::import_file(db, &path, "刘审核", today(), Utc::now()).expect("again"),
            Outcome::AlreadyImported(_)
        ));
        // Someone already assessed on that date cannot be imported again from another file.
        let path2 = dir.path().join("外部评估-重复.xlsx");
        write_xlsx(
            &path2,
            &[
                header,
                import_row(&a, "甲", "2025-03-01", "王评估", "李评估", &best, "", ""),
            ],
        );
        assert!(matches!(
            import::import_file(db, &path2, "刘审核", today(), Utc::now()).expect("dup"),
            Outcome::Rejected(i) if i[0].reason.contains("已有评估结果")
        ));
    }
}
