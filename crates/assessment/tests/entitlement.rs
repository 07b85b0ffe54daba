//! "One result, used everywhere" (issue #5 §3): a reviewed assessment becomes the registry's
//! 能力等级, and the 经济困难老年人护理补贴 rule of the Inner Mongolia list reads it with nobody
//! entering it again; an amendment changes what the rule sees.

use chrono::{NaiveDate, Utc};
use yanglao_assessment::gbt42195::{Level, INDICATORS};
use yanglao_assessment::service::{self, AgencyInput, AssessorInput, RequestInput};
use yanglao_assessment::workflow::{Reason, RequestedBy};
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{DivisionCode, IdNumber};
use yanglao_entitlements::run::{explain_person, Rules};
use yanglao_rules::Type;
use yanglao_store::registry::{self, apply_batch, NewBatch, Staged, StagedFact};
use yanglao_store::{divisions, testing, Db};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn fact(id: &IdNumber, kind: &'static str, value: &str, first: bool) -> Staged {
    Staged::Fact(StagedFact {
        person_id: None,
        row_no: 2,
        id_number: id.as_str().into(),
        name: "张三".into(),
        sex: id.sex().code(),
        birth_date: id.birth_date(),
        kind,
        value: value.into(),
        valid_from: d(2020, 1, 1),
        valid_to: None,
        first_of_person: first,
    })
}

fn batch(db: &Db, source: &str, department: &str, items: Vec<Staged>) {
    let meta = NewBatch {
        source: source.into(),
        department: department.into(),
        file_name: format!("{source}.csv"),
        sha256: source.into(),
        size_bytes: 1,
        encoding: "UTF-8".into(),
        archive_path: None,
        now: Utc::now(),
        fail_at: None,
    };
    apply_batch(db, &meta, &mut items.into_iter().map(Ok)).expect("batch");
}

/// (status, amount) of the 护理补贴 item for the person on the date.
fn nursing_subsidy(db: &Db, person: i64, on: NaiveDate) -> (String, Option<String>) {
    let cat = divisions::load_catalogue(db).expect("catalogue");
    let rules = Rules::in_force(db, on).expect("rules");
    let e = explain_person(db, &cat, &rules, person, on).expect("explain");
    let item = e
        .items
        .iter()
        .find(|i| i.item_name == "经济困难老年人护理补贴" && i.list_title.contains("内蒙古"))
        .expect("item 8 of the Inner Mongolia list");
    (item.status.to_string(), item.amount.clone())
}

#[test]
fn the_nursing_subsidy_follows_the_new_level_without_re_entry() {
    for t in testing::all() {
        let db = &t.db;
        divisions::save_catalogue(db, &builtin::catalogue()).expect("divisions");
        yanglao_lists::service::install_builtin(db, Utc::now()).expect("lists");
        let county = DivisionCode::parse("150102").expect("code");
        let now = Utc::now();
        // The local parameters the rule needs (清单 leaves them to localities).
        yanglao_lists::params::set(
            db,
            "失能起始能力等级",
            Type::Int,
            county,
            d(2024, 1, 1),
            "3",
            "新城区民政局",
            now,
            "",
        )
        .expect("param");
        yanglao_lists::params::set(
            db,
            "护理补贴标准",
            Type::MoneyByInt,
            county,
            d(2024, 1, 1),
            "3=300元,4=500元",
            "新城区民政局",
            now,
            "",
        )
        .expect("param");
        let id = IdNumber::from_parts("150102", d(1940, 3, 5), 11).expect("id");
        batch(
            db,
            "gongan_hukou",
            "gongan",
            vec![fact(&id, "hukou", "150102001001", true)],
        );
        batch(
            db,
            "minzheng_assistance",
            "minzheng",
            vec![fact(&id, "dibao", "是", true)],
        );
        let pid = registry::person_by_id_number(db, id.as_str())
            .expect("q")
            .expect("person")
            .id;
        let on = d(2025, 6, 30);
        let (status, _) = nursing_subsidy(db, pid, on);
        assert_ne!(status, "应享", "{}: no level yet, no subsidy", t.name);

        let agency = service::register_agency(
            db,
            &AgencyInput {
                name: "新城区老年人能力评估中心",
                division: "150102",
                qualification: "新城区民政局认定",
                qualified_from: d(2024, 1, 1),
                qualified_to: None,
            },
            "管理员",
            now,
        )
        .expect("agency");
        let mut assessors = Vec::new();
        for (name, cert) in [("王评估", "PG-1"), ("李评估", "PG-2")] {
            assessors.push(
                service::register_assessor(
                    db,
                    &AssessorInput {
                        agency_id: agency,
                        name,
                        certificate: cert,
                        qualification: "老年人能力评估师（三级）",
                        qualified_from: d(2023, 1, 1),
                        qualified_to: None,
                    },
                    "管理员",
                    now,
                )
                .expect("assessor"),
            );
        }
        let q = service::create_request(
            db,
            &RequestInput {
                person_id: pid,
                requested_by: RequestedBy::CaseWorker,
                requester: "社工小李".into(),
                reason: Reason::First,
                note: String::new(),
                disputed_record_id: None,
                requested_on: d(2025, 5, 1),
            },
            "窗口",
            now,
        )
        .expect("request");
        let rec = service::schedule(db, q, agency, d(2025, 5, 6), "调度员", now).expect("schedule");
        // B.1 and B.2 all 0: 43 → 3级 能力重度受损 (C.3 30–45).
        let mut entries: Vec<(String, Vec<String>)> = INDICATORS
            .iter()
            .flat_map(|i| i.items.iter())
            .map(|i| {
                let s = if i.code.starts_with("B.1") || i.code.starts_with("B.2") {
                    0
                } else {
                    i.max()
                };
                (i.code.to_string(), vec![s.to_string()])
            })
            .collect();
        for k in ["A.2.14.1", "A.2.14.2", "A.2.14.3", "A.2.14.4", "A.2.14.5"] {
            entries.push((k.into(), vec!["0".into()]));
        }
        entries.push(("A.5.11".into(), vec!["无".into()]));
        entries.push(("assessor1".into(), vec![assessors[0].to_string()]));
        entries.push(("assessor2".into(), vec![assessors[1].to_string()]));
        service::save(db, rec, &entries, now).expect("save");
        let scored = service::submit(db, rec, "王评估", on, now).expect("submit");
        assert_eq!(scored.final_level, Level::Severe);
        service::review(db, q, "刘审核", true, "", now).expect("review");
        // Reviewed but not yet in effect: the rule does not see it.
        assert_ne!(nursing_subsidy(db, pid, on).0, "应享", "{}", t.name);
        service::publish(db, q, "刘审核", now).expect("publish");

        let (status, amount) = nursing_subsidy(db, pid, on);
        assert_eq!(
            status, "应享",
            "{}: 低保 and 能力等级 3 >= 【失能起始能力等级】",
            t.name
        );
        assert!(
            amount.as_deref().is_some_and(|a| a.contains("300")),
            "{}: {amount:?}",
            t.name
        );
        assert_ne!(
            nursing_subsidy(db, pid, d(2025, 5, 5)).0,
            "应享",
            "{}: the level holds from the assessment date, not before",
            t.name
        );

        service::amend(
            db,
            rec,
            Level::Lost,
            "复核：B.2.3 平地行走应为完全不能步行，且长期卧床",
            "陈科长",
            now,
        )
        .expect("amend");
        let (status, amount) = nursing_subsidy(db, pid, on);
        assert_eq!(status, "应享", "{}", t.name);
        assert!(
            amount.as_deref().is_some_and(|a| a.contains("500")),
            "{}: amended level 4: {amount:?}",
            t.name
        );
    }
}
