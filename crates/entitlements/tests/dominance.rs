//! Dominance by simulation (issue #3 §4, "Done when": "a county list that lowers an item is
//! rejected with the persons and items named"), on SQLite and PostgreSQL, over a generated
//! region. Seed 000 §二(一)2: "清单应当包含但不限于国家和自治区基本养老服务清单中的服务项目,且覆盖范围
//! 和标准不低于国家和自治区相关要求"; the region's item 5: "年龄在80周岁(含80周岁)至99周岁的老年人,
//! 均可按规定每人每月领取100元高龄津贴".

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use chrono::{NaiveDate, Utc};
use yanglao_domain::{dates, DivisionCode, IdNumber};
use yanglao_entitlements::dominance::{self, Lack, PublishError};
use yanglao_entitlements::engine::AppliedVersion;
use yanglao_lists::content::{load, BUILTIN};
use yanglao_lists::model::Status;
use yanglao_registry::synth::GenOptions;
use yanglao_store::testing::{self, TempDir};
use yanglao_store::{divisions, Db};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn as_of() -> NaiveDate {
    d(2025, 1, 31)
}

const COUNTY: &str = "150402"; // 赤峰市红山区

fn load_region(db: &Db, dir: &Path, people: usize) {
    yanglao_registry::synth::generate_into(
        db,
        &GenOptions {
            people,
            seed: 7,
            region: DivisionCode::parse("150400").expect("region"),
            as_of: as_of(),
            dirty: false,
            out: dir.to_path_buf(),
        },
    )
    .expect("generate and import");
    yanglao_lists::service::install_builtin(db, Utc::now()).expect("lists");
    let chifeng = DivisionCode::parse("150400").expect("code");
    let set = |name: &str, ty, value: &str| {
        yanglao_lists::params::set(db, name, ty, chifeng, d(2023, 1, 1), value, "测试", Utc::now(), "").expect("param");
    };
    set("失能起始能力等级", yanglao_rules::Type::Int, "3");
    set(
        "护理补贴标准",
        yanglao_rules::Type::MoneyByInt,
        "0=0元,1=0元,2=0元,3=100元,4=200元",
    );
}

/// The region's list as a county list of 红山区, with `edit` applied.
fn county_text(edit: impl Fn(String) -> String) -> String {
    let text = BUILTIN[0]
        .1
        .replace(
            "title = \"内蒙古自治区基本养老服务清单\"",
            "title = \"红山区基本养老服务清单（测试）\"",
        )
        .replace("jurisdiction = \"150000\"", &format!("jurisdiction = \"{COUNTY}\""))
        .replace("level = \"省级\"", "level = \"县级\"")
        .replace("effective_from = \"2023-03-02\"", "effective_from = \"2024-07-01\"");
    edit(text)
}

fn applied(text: &str) -> AppliedVersion {
    let list = load(text).expect("county list loads");
    AppliedVersion {
        row: yanglao_store::lists::VersionRow {
            id: 0,
            jurisdiction: list.jurisdiction.short(),
            level: list.level.label().to_string(),
            title: list.title.clone(),
            effective_from: list.effective_from,
            change_note: list.change_note.clone(),
            source_title: list.source.title.clone(),
            status: "draft".into(),
            author: "测试".into(),
            content: text.to_string(),
            content_sha256: String::new(),
            created_at: Utc::now(),
        },
        list,
    }
}

/// Independently of the engine: people alive on the date with a 户籍 fact in the county, by
/// age in completed years (masked ID number → age).
fn masked(id: &str) -> String {
    IdNumber::parse(id).expect("valid id").masked()
}

/// Age on the test date of each living person with 户籍 in the county, by whole ID number.
fn county_people_by_age(db: &Db) -> HashMap<String, i32> {
    let rows = db
        .query(
            "SELECT p.id_number, p.birth_date, f.value, f.valid_from, f.valid_to FROM person p \
             JOIN fact f ON f.person_id = p.id WHERE f.kind = 'hukou' \
             AND NOT EXISTS (SELECT 1 FROM fact x WHERE x.person_id = p.id AND x.kind = 'death')",
            &[],
        )
        .expect("query");
    let mut out = HashMap::new();
    for r in rows {
        let (from, to) = (r.date(3).expect("from"), r.opt_date(4).expect("to"));
        if from > as_of() || to.is_some_and(|t| t <= as_of()) {
            continue;
        }
        if !r.text(2).expect("value").starts_with(COUNTY) {
            continue;
        }
        // Keyed by the whole ID number: two people can share a masked one.
        out.insert(
            r.text(0).expect("id"),
            dates::age_on(r.date(1).expect("birth"), as_of()),
        );
    }
    out
}

#[test]
fn a_county_list_that_narrows_or_lowers_is_refused_with_persons_named() {
    for t in testing::all() {
        let dir = TempDir::new("yanglao-dominance");
        let db = &t.db;
        load_region(db, dir.path(), 3000);
        let cat = divisions::load_catalogue(db).expect("catalogue");

        // A faithful copy of the region's list gives nobody less.
        let copy = applied(&county_text(|t| t));
        let c = dominance::check(db, &cat, &copy, as_of()).expect("check");
        assert_eq!(c.simulation.uppers, ["内蒙古自治区基本养老服务清单"], "{}", t.name);
        assert!(
            c.simulation.persons_in_scope > 100,
            "{}: {}",
            t.name,
            c.simulation.persons_in_scope
        );
        assert!(c.simulation.items_compared >= 15, "{}", t.name);
        assert!(c.passed(), "{}: {:?}", t.name, c.summary(5));

        // Raising the amount is allowed (widen, raise: never lower).
        let raised = county_text(|t| t.replace("value = \"100元\"", "value = \"120元\""));
        assert!(dominance::check(db, &cat, &applied(&raised), as_of())
            .expect("check")
            .passed());

        // 高龄津贴 from 80 to 85, amount kept: the structure is intact (item, rule, 100元), the
        // people aged 80–84 with 户籍 in the county are named, each of them and nobody else.
        let narrowed = county_text(|t| t.replace("eligibility = \"年龄 >= 80\"", "eligibility = \"年龄 >= 85\""));
        assert_ne!(narrowed, county_text(|t| t), "the edit applies");
        let c = dominance::check(db, &cat, &applied(&narrowed), as_of()).expect("check");
        assert!(
            c.structural.is_empty(),
            "{}: the structural check does not see it",
            t.name
        );
        assert!(!c.passed(), "{}", t.name);
        let ages = county_people_by_age(db);
        let expected: BTreeSet<String> = ages
            .iter()
            .filter(|(_, a)| (80..=84).contains(*a))
            .map(|(id, _)| masked(id))
            .collect();
        assert!(
            !expected.is_empty(),
            "{}: the generated county has people aged 80–84",
            t.name
        );
        let named: BTreeSet<String> = c.simulation.shortfalls.iter().map(|s| s.id_number.clone()).collect();
        assert_eq!(named, expected, "{}", t.name);
        for s in &c.simulation.shortfalls {
            assert_eq!(s.item_code, "gaoling-jintie");
            assert_eq!(s.item_name, "高龄津贴");
            assert_eq!(s.lack, Lack::NotEntitled);
            assert_eq!(s.upper_amount_fen, Some(10_000));
            assert!(!s.name.is_empty(), "named");
            assert!(s.id_number.contains("********"), "masked");
        }
        let line = c.summary(3).join("\n");
        assert!(
            line.contains("“高龄津贴”：") && line.contains("下级清单不予享受"),
            "{line}"
        );

        // 高龄津贴 lowered to 80元: structural and by person (every entitled 80–99 in the county).
        let lowered = county_text(|t| t.replace("value = \"100元\"", "value = \"80元\""));
        let c = dominance::check(db, &cat, &applied(&lowered), as_of()).expect("check");
        assert_eq!(c.structural.len(), 1, "{}", t.name);
        let gl: Vec<_> = c
            .simulation
            .shortfalls
            .iter()
            .filter(|s| s.item_code == "gaoling-jintie")
            .collect();
        let aged: BTreeSet<String> = ages
            .iter()
            .filter(|(_, a)| (80..=99).contains(*a))
            .map(|(id, _)| masked(id))
            .collect();
        assert_eq!(
            gl.iter().map(|s| s.id_number.clone()).collect::<BTreeSet<_>>(),
            aged,
            "{}",
            t.name
        );
        assert!(gl
            .iter()
            .all(|s| s.lack == Lack::LowerAmount && s.lower_amount_fen == Some(8_000)));
        assert!(
            gl[0].to_string().contains("下级清单金额较低（80.00元/月）"),
            "{}",
            gl[0]
        );

        // Paid yearly instead of monthly: compared per year. 1,300元 a year is more than 100元 a
        // month (1,200元); 1,100元 a year is less, although the structural check, which compares
        // the parameter's value alone, lets both pass.
        let yearly = |per_year: &str| {
            county_text(|t| {
                t.replace(
                    "amount = \"如果 年龄 >= 100 则 【百岁老人高龄津贴】 否则 【高龄津贴】\"\nperiod = \"月\"",
                    "amount = \"如果 年龄 >= 100 则 【百岁老人高龄津贴】 否则 【高龄津贴】\"\nperiod = \"年\"",
                )
                .replace("value = \"100元\"", &format!("value = \"{per_year}\""))
                .replace("value = \"600元\"", "value = \"7200元\"")
            })
        };
        assert_ne!(yearly("1300元"), county_text(|t| t));
        let c = dominance::check(db, &cat, &applied(&yearly("1300元")), as_of()).expect("check");
        assert!(c.passed(), "{}: {:?}", t.name, c.summary(3));
        let c = dominance::check(db, &cat, &applied(&yearly("1100元")), as_of()).expect("check");
        assert!(c.structural.is_empty(), "{}", t.name);
        assert!(!c.simulation.shortfalls.is_empty(), "{}", t.name);
        assert!(c.simulation.shortfalls.iter().all(|s| s.lack == Lack::LowerAmount
            && s.lower_amount_fen == Some(110_000)
            && s.lower_period == Some("年")
            && s.upper_period == Some("月")));

        // Publication: the narrowed draft is refused at publication with the persons named and
        // stays under review; the faithful copy is published, by someone other than the author.
        let id = yanglao_lists::service::save_draft(db, &narrowed, "王科员", Utc::now()).expect("draft");
        yanglao_lists::service::advance(db, id, Status::UnderReview, "王科员", Utc::now()).expect("submit");
        assert!(
            yanglao_lists::service::advance(db, id, Status::Published, "赵处长", Utc::now()).is_err(),
            "{}: no publication without the check",
            t.name
        );
        let err = dominance::publish(db, &cat, id, "赵处长", Utc::now(), as_of(), Some(as_of())).expect_err("refused");
        let PublishError::Refused(report) = &err else {
            panic!("{}: {err}", t.name)
        };
        assert_eq!(report.simulation.shortfalls.len(), expected.len(), "{}", t.name);
        let msg = err.to_string();
        let first = expected.iter().next().expect("one");
        assert!(msg.contains("高龄津贴") && msg.contains(first.as_str()), "{msg}");
        let row = yanglao_store::lists::version(db, id).expect("q").expect("row");
        assert_eq!(row.status, "under_review", "{}: nothing written", t.name);

        let good = county_text(|t| t.replace("value = \"100元\"", "value = \"120元\""));
        let id = yanglao_lists::service::save_draft(db, &good, "王科员", Utc::now()).expect("draft");
        yanglao_lists::service::advance(db, id, Status::UnderReview, "王科员", Utc::now()).expect("submit");
        let same = dominance::publish(db, &cat, id, "王科员", Utc::now(), as_of(), Some(as_of()));
        assert!(
            same.is_err_and(|e| e.to_string().contains("发布人不能是起草人")),
            "{}",
            t.name
        );
        let ok = dominance::publish(db, &cat, id, "赵处长", Utc::now(), as_of(), Some(as_of())).expect("published");
        assert!(ok.passed());
        let row = yanglao_store::lists::version(db, id).expect("q").expect("row");
        assert_eq!(row.status, "published", "{}", t.name);

        // A national list above both (a FIXTURE invented for this test: the national rows are
        // unconfirmed, standards README §3): it reaches everyone, so the county copy, which lacks
        // its item, is named for every person aged 90+ with 户籍 in the county.
        let national = NATIONAL_FIXTURE;
        let nid = yanglao_lists::service::save_draft(db, national, "测试", Utc::now()).expect("national");
        yanglao_lists::service::advance(db, nid, Status::UnderReview, "测试", Utc::now()).expect("submit");
        dominance::publish(db, &cat, nid, "测试审核", Utc::now(), as_of(), Some(as_of())).expect("no list above");
        let c = dominance::check(db, &cat, &copy, as_of()).expect("check");
        assert_eq!(c.simulation.uppers.len(), 2, "{}: {:?}", t.name, c.simulation.uppers);
        assert_eq!(c.structural.len(), 1, "{}", t.name);
        let nonagenarians: BTreeSet<String> = ages
            .iter()
            .filter(|(_, a)| **a >= 90)
            .map(|(id, _)| masked(id))
            .collect();
        assert!(!nonagenarians.is_empty(), "{}", t.name);
        assert!(c
            .simulation
            .shortfalls
            .iter()
            .all(|s| s.item_code == "ceshi-jiaju-xiangmu" && s.lack == Lack::ItemMissing));
        assert_eq!(
            c.simulation
                .shortfalls
                .iter()
                .map(|s| s.id_number.clone())
                .collect::<BTreeSet<_>>(),
            nonagenarians,
            "{}",
            t.name
        );
    }
}

/// NOT the national list: invented for this test (document, 文号 and item are made up).
const NATIONAL_FIXTURE: &str = r#"
title = "国家基本养老服务清单（测试夹具，虚构）"
jurisdiction = "100000"
level = "国家"
effective_from = "2023-05-21"
change_note = "测试夹具：虚构内容"

[source]
title = "测试夹具（虚构文件）"
doc_no = "测试〔0000〕0号"
date = "2023-05-21"
seed = "none (test fixture)"

[[item]]
code = "ceshi-jiaju-xiangmu"
seq = 1
name = "测试夹具项目（虚构）"
target = "虚构"
content = "虚构"
service_type = "关爱服务"
eligibility = "年龄 >= 90"
"#;
