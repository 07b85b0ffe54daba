//! Care visits over the database, on SQLite and PostgreSQL: who is on the list and why (with the
//! boundaries), tiers and due dates, campaigns, idempotent visit records, follow-ups to closure,
//! visitors leaving, volunteer credit, and the monthly rate per township against a count made
//! here by a plain loop over the fixture.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{Catalogue, DivisionCode, IdNumber};
use yanglao_store::registry::{self, apply_batch, NewBatch, Staged, StagedFact};
use yanglao_store::{testing, Db};
use yanglao_visits::rate::monthly_rate;
use yanglao_visits::roster::{roster, Params};
use yanglao_visits::schedule::{due_list, interval_param};
use yanglao_visits::service::{self, Finding, FollowupInput, Recorded, VisitInput};
use yanglao_visits::{Reason, Tier, VisitError};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn today() -> NaiveDate {
    d(2025, 6, 30)
}

const V1: &str = "150402001201";
const V2: &str = "150402001202";
const V3: &str = "150402002201";
const T1: &str = "150402001";
const T2: &str = "150402002";

/// One fixture person: facts, and — written by hand from the facts — the days they are on the
/// list (from, until exclusive) within 红山区 and the visits made to them.
struct P {
    key: &'static str,
    birth: NaiveDate,
    village: &'static str,
    /// (kind, value, from)
    facts: Vec<(&'static str, &'static str, NaiveDate)>,
    on_from: Option<NaiveDate>,
    on_until: Option<NaiveDate>,
    visits: Vec<(NaiveDate, &'static str)>,
}

fn fixture() -> Vec<P> {
    let long_ago = d(2000, 1, 1);
    vec![
        // 80 on 2025-06-01, 独居: 高风险 ("80岁以上独居、空巢、留守老年人", standards §5).
        P {
            key: "old80",
            birth: d(1945, 6, 1),
            village: V1,
            facts: vec![("living", "独居", long_ago)],
            on_from: Some(long_ago),
            on_until: None,
            visits: vec![(d(2025, 6, 3), "上门")],
        },
        // 79 until 2025-07-15 with nothing else: not on the list in June.
        P {
            key: "age79",
            birth: d(1945, 7, 15),
            village: V1,
            facts: vec![],
            on_from: Some(d(2025, 7, 15)),
            on_until: None,
            visits: vec![],
        },
        // 004 §6 "重残": grade 2 is on, grade 3 is not.
        P {
            key: "grade2",
            birth: d(1950, 1, 1),
            village: V2,
            facts: vec![("disability", "肢体:2", long_ago)],
            on_from: Some(long_ago),
            on_until: None,
            visits: vec![],
        },
        P {
            key: "grade3",
            birth: d(1950, 1, 1),
            village: V2,
            facts: vec![("disability", "肢体:3", long_ago)],
            on_from: None,
            on_until: None,
            visits: vec![(d(2025, 6, 12), "上门")],
        },
        // 空巢, visited on 6-05, died 6-10: a leaver this month (not counted), visited before.
        P {
            key: "died",
            birth: d(1950, 3, 1),
            village: V1,
            facts: vec![("living", "空巢", long_ago), ("death", "死亡", d(2025, 6, 10))],
            on_from: Some(long_ago),
            on_until: Some(d(2025, 6, 10)),
            visits: vec![(d(2025, 6, 5), "上门")],
        },
        // 留守, moved out of 红山区 on 6-15, never visited.
        P {
            key: "moved",
            birth: d(1950, 3, 2),
            village: V3,
            facts: vec![("living", "留守", long_ago), ("hukou", "150102001201", d(2025, 6, 15))],
            on_from: Some(long_ago),
            on_until: Some(d(2025, 6, 15)),
            visits: vec![],
        },
        // A new assessment (level 2) on 6-20 puts them on: a joiner, counted from July.
        P {
            key: "joiner",
            birth: d(1950, 3, 3),
            village: V3,
            facts: vec![("capability_level", "2", d(2025, 6, 20))],
            on_from: Some(d(2025, 6, 20)),
            on_until: None,
            visits: vec![(d(2025, 6, 25), "上门")],
        },
        // 计划生育特殊家庭, only telephoned: on the list, not effectively visited.
        P {
            key: "fps",
            birth: d(1952, 1, 1),
            village: V3,
            facts: vec![("family_planning_special", "独生子女死亡", long_ago)],
            on_from: Some(long_ago),
            on_until: None,
            visits: vec![(d(2025, 6, 8), "电话")],
        },
        P {
            key: "alone2",
            birth: d(1950, 5, 5),
            village: V2,
            facts: vec![("living", "独居", long_ago)],
            on_from: Some(long_ago),
            on_until: None,
            visits: vec![(d(2025, 6, 10), "上门"), (d(2025, 6, 20), "视频")],
        },
        // Visited in May only.
        P {
            key: "alone3",
            birth: d(1955, 5, 5),
            village: V1,
            facts: vec![("living", "独居", long_ago)],
            on_from: Some(long_ago),
            on_until: None,
            visits: vec![(d(2025, 5, 31), "视频")],
        },
    ]
}

fn department_of(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "hukou" | "death" => ("gongan_hukou", "gongan"),
        "living" => ("minzheng_living", "minzheng"),
        "disability" => ("canlian", "canlian"),
        _ => ("weijian", "weijian"),
    }
}

/// Loads the fixture as department batches would: 户籍 first (as 公安), then each department.
fn load(db: &Db, people: &[P]) -> BTreeMap<&'static str, i64> {
    let mut by_source: BTreeMap<(&str, &str), Vec<StagedFact>> = BTreeMap::new();
    for (i, p) in people.iter().enumerate() {
        let id = IdNumber::from_parts("150402", p.birth, 100 + i as u16).expect("id");
        let mut all = vec![("hukou", p.village, d(2000, 1, 1))];
        all.extend(p.facts.iter().copied());
        for (kind, value, from) in all {
            let src = department_of(kind);
            let list = by_source.entry(src).or_default();
            let first = !list.iter().any(|f| f.id_number == id.as_str());
            let value = match kind {
                "hukou" => DivisionCode::parse(value).expect("code").full(),
                _ => value.to_string(),
            };
            list.push(StagedFact {
                person_id: None,
                row_no: list.len() as i64 + 2,
                id_number: id.as_str().to_string(),
                name: format!("测试{}", p.key),
                sex: id.sex().code(),
                birth_date: p.birth,
                kind: yanglao_domain::FactKind::ALL
                    .iter()
                    .find(|k| k.code() == kind)
                    .expect("kind")
                    .code(),
                value,
                valid_from: from,
                valid_to: None,
                first_of_person: first,
            });
        }
    }
    // 公安 first so that everyone exists before the other departments' facts.
    let mut order: Vec<_> = by_source.into_iter().collect();
    order.sort_by_key(|((s, _), _)| *s != "gongan_hukou");
    for (n, ((source, department), facts)) in order.into_iter().enumerate() {
        let mut items = Vec::new();
        for f in facts {
            items.push(Ok(Staged::Fact(f)));
            items.push(Ok(Staged::RowDone { ok: true }));
        }
        let meta = NewBatch {
            source: source.into(),
            department: department.into(),
            file_name: format!("{source}.csv"),
            sha256: format!("sha{n}"),
            size_bytes: 1,
            encoding: "UTF-8".into(),
            archive_path: None,
            now: Utc::now(),
            fail_at: None,
        };
        apply_batch(db, &meta, &mut items.into_iter()).expect("batch");
    }
    people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let id = IdNumber::from_parts("150402", p.birth, 100 + i as u16).expect("id");
            let pid = registry::person_by_id_number(db, id.as_str())
                .expect("q")
                .expect("person")
                .id;
            (p.key, pid)
        })
        .collect()
}

fn visit(person: i64, visitor: i64, on: NaiveDate, mode: &str, key: &str) -> VisitInput {
    VisitInput {
        idem_key: key.to_string(),
        person_id: person,
        visitor_id: visitor,
        visited_on: on,
        mode: mode.to_string(),
        note: String::new(),
        findings: Vec::new(),
        followups: Vec::new(),
        minutes: 0,
        by: "测试".into(),
    }
}

struct World {
    cat: Catalogue,
    ids: BTreeMap<&'static str, i64>,
    /// Visitors by village.
    visitor: BTreeMap<&'static str, i64>,
}

fn world(db: &Db) -> World {
    let cat = builtin::catalogue();
    let people = fixture();
    let ids = load(db, &people);
    let mut visitor = BTreeMap::new();
    for (i, v) in [V1, V2, V3].into_iter().enumerate() {
        let kind = if i == 1 { "志愿者" } else { "网格员" };
        let id = service::register_visitor(
            db,
            &format!("探访员{i}"),
            kind,
            v,
            "",
            d(2025, 1, 1),
            "测试",
            Utc::now(),
        )
        .expect("visitor");
        visitor.insert(v, id);
    }
    for p in &people {
        for (j, (on, mode)) in p.visits.iter().enumerate() {
            let key = format!("fixture-{}-{j}", p.key);
            service::record_visit(
                db,
                &visit(ids[p.key], visitor[p.village], *on, mode, &key),
                today(),
                Utc::now(),
            )
            .expect("visit");
        }
    }
    World { cat, ids, visitor }
}

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).expect("code")
}

#[test]
fn who_is_on_the_list_and_why() {
    for t in testing::all() {
        let db = &t.db;
        let w = world(db);
        let params = Params::load(db).expect("params");
        let on = |date: NaiveDate| {
            roster(db, &w.cat, &params, date, Some(code("150402")))
                .expect("roster")
                .members
                .into_iter()
                .map(|m| (m.person_id, m))
                .collect::<BTreeMap<_, _>>()
        };
        let june1 = on(d(2025, 6, 1));
        let june30 = on(d(2025, 6, 30));
        // 001 §4 "对高龄、独居……等老年人开展居家探访": 80 today, 独居 → both reasons, 高风险.
        let m = &june1[&w.ids["old80"]];
        assert_eq!(m.reasons, vec![Reason::Alone, Reason::Oldest], "{}", t.name);
        assert_eq!(m.tier, Tier::High, "{}", t.name);
        assert_eq!(m.reasons_text(), "独居、高龄");
        // The day before the 80th birthday: 独居 only, and 一般.
        let may31 = on(d(2025, 5, 31));
        assert_eq!(may31[&w.ids["old80"]].reasons, vec![Reason::Alone], "{}", t.name);
        assert_eq!(may31[&w.ids["old80"]].tier, Tier::General, "{}", t.name);
        // 79 with nothing else: off; on from the 80th birthday.
        assert!(!june30.contains_key(&w.ids["age79"]), "{}", t.name);
        assert!(on(d(2025, 7, 15)).contains_key(&w.ids["age79"]), "{}", t.name);
        // 004 §6 "重残": grade 2 on (重点), grade 3 off.
        assert_eq!(
            june30[&w.ids["grade2"]].reasons,
            vec![Reason::SevereDisability],
            "{}",
            t.name
        );
        assert_eq!(june30[&w.ids["grade2"]].tier, Tier::Key, "{}", t.name);
        assert!(!june30.contains_key(&w.ids["grade3"]), "{}", t.name);
        // A death takes a person off from the date of death.
        assert!(on(d(2025, 6, 9)).contains_key(&w.ids["died"]), "{}", t.name);
        assert!(!on(d(2025, 6, 10)).contains_key(&w.ids["died"]), "{}", t.name);
        // A move out of the district takes one off (the list is by 常住地/户籍).
        assert!(on(d(2025, 6, 14)).contains_key(&w.ids["moved"]), "{}", t.name);
        assert!(!on(d(2025, 6, 15)).contains_key(&w.ids["moved"]), "{}", t.name);
        // A new assessment puts one on: 失能 from level 1 (the default threshold).
        assert!(!june1.contains_key(&w.ids["joiner"]), "{}", t.name);
        assert_eq!(june30[&w.ids["joiner"]].reasons, vec![Reason::Disabled], "{}", t.name);
        // A jurisdiction raising the threshold to 3 takes level 2 off again.
        yanglao_lists::params::set(
            db,
            yanglao_visits::roster::DISABLED_PARAM,
            yanglao_rules::Type::Int,
            code("150402"),
            d(2025, 1, 1),
            "3",
            "测试",
            Utc::now(),
            "",
        )
        .expect("param");
        let params = Params::load(db).expect("params");
        let raised = roster(db, &w.cat, &params, today(), Some(code("150402"))).expect("roster");
        assert!(
            raised.members.iter().all(|m| m.person_id != w.ids["joiner"]),
            "{}",
            t.name
        );
        // The list's own visit item (neimenggu-2023 item 13 "特殊困难老年人巡访关爱"), as the
        // latest engine run found it: a reason of its own, even for someone with no other.
        db.exec(
            "INSERT INTO entitlement (as_of, person_id, version_id, item_code, status, amount_fen, period, param_division, run_id)
             VALUES ($1, $2, 1, 'teshu-kunnan-xunfang-guanai', 'entitled', NULL, NULL, '150402', 1)",
            &[yanglao_store::Value::Date(d(2025, 6, 1)), yanglao_store::Value::Int(w.ids["age79"])],
        )
        .expect("entitlement");
        let with_item = roster(db, &w.cat, &params, today(), Some(code("150402"))).expect("roster");
        let m = with_item
            .members
            .iter()
            .find(|m| m.person_id == w.ids["age79"])
            .expect("listed by the item");
        assert_eq!(m.reasons, vec![Reason::ListItem], "{}", t.name);
        // A run dated after the date asked about does not count.
        let before = roster(db, &w.cat, &params, d(2025, 5, 31), Some(code("150402"))).expect("roster");
        assert!(
            before.members.iter().all(|m| m.person_id != w.ids["age79"]),
            "{}",
            t.name
        );
        assert!(june30.contains_key(&w.ids["fps"]), "{}", t.name);
        assert_eq!(
            june30[&w.ids["fps"]].reasons,
            vec![Reason::FamilyPlanning],
            "{}",
            t.name
        );
    }
}

#[test]
fn due_dates_by_tier_parameters_and_campaigns() {
    for t in testing::all() {
        let db = &t.db;
        let w = world(db);
        let due = |visitor: Option<i64>| {
            due_list(db, &w.cat, today(), Some(code("150402")), visitor)
                .expect("due")
                .into_iter()
                .map(|e| (e.member.person_id, e))
                .collect::<BTreeMap<_, _>>()
        };
        let all = due(None);
        // standards §5 "高风险……每周≥1次": last seen 6-03, due 6-10, 20 days overdue on 6-30.
        let e = &all[&w.ids["old80"]];
        assert_eq!(
            (e.interval_days, e.due_on, e.overdue_days),
            (7, d(2025, 6, 10), 20),
            "{}",
            t.name
        );
        // Never (effectively) visited: due today, not yet overdue. A phone call does not count.
        let e = &all[&w.ids["fps"]];
        assert_eq!(
            (e.last_visit, e.due_on, e.overdue_days),
            (None, today(), 0),
            "{}",
            t.name
        );
        // 一般: quarterly, from the last effective visit (视频 on 6-20).
        let e = &all[&w.ids["alone2"]];
        assert_eq!((e.interval_days, e.due_on), (90, d(2025, 9, 18)), "{}", t.name);
        // The jurisdiction sets 重点 to 60 days; 失能 stays monthly ("对失能的特殊困难老年人，
        // 每月探访关爱不少于一次", standards §5), the 重残 person without 失能 gets 60.
        let set = |name: &str, div: &str, v: &str| {
            yanglao_lists::params::set(
                db,
                name,
                yanglao_rules::Type::Int,
                code(div),
                d(2025, 1, 1),
                v,
                "测试",
                Utc::now(),
                "",
            )
            .expect("param");
        };
        set(interval_param(Tier::Key), "150402", "60");
        set(interval_param(Tier::High), T1, "3");
        let all = due(None);
        assert_eq!(all[&w.ids["joiner"]].interval_days, 30, "{}", t.name);
        assert_eq!(all[&w.ids["grade2"]].interval_days, 60, "{}", t.name);
        // The township's own value wins over nothing set above it.
        assert_eq!(all[&w.ids["old80"]].due_on, d(2025, 6, 6), "{}", t.name);
        // A festival campaign in 西屯街道 for 一般 brings alone2's date forward to its end.
        service::declare_campaign(
            db,
            T1,
            "端午节探访",
            "传统节日",
            d(2025, 6, 25),
            d(2025, 7, 2),
            &[Tier::General],
            "测试",
            Utc::now(),
        )
        .expect("campaign");
        let all = due(None);
        let e = &all[&w.ids["alone2"]];
        assert_eq!(e.due_on, d(2025, 7, 2), "{}", t.name);
        assert!(e.campaign.as_deref().unwrap_or("").contains("端午节探访"), "{}", t.name);
        // Not in the campaign's division: unchanged.
        assert!(all[&w.ids["fps"]].campaign.is_none(), "{}", t.name);
        // A visitor's own list: only people assigned to them.
        let v1 = w.visitor[V1];
        assert!(due(Some(v1)).is_empty(), "{}", t.name);
        service::assign(
            db,
            v1,
            &[w.ids["old80"], w.ids["alone3"]],
            d(2025, 6, 1),
            "测试",
            Utc::now(),
        )
        .expect("assign");
        let mine = due(Some(v1));
        assert_eq!(mine.len(), 2, "{}", t.name);
        assert!(mine.contains_key(&w.ids["old80"]), "{}", t.name);
    }
}

#[test]
fn visit_records_are_idempotent_and_follow_ups_close() {
    for t in testing::all() {
        let db = &t.db;
        let w = world(db);
        let v2 = w.visitor[V2];
        let mut input = visit(
            w.ids["grade2"],
            v2,
            d(2025, 6, 28),
            "上门",
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        );
        input.findings = vec![
            Finding {
                heading: "基本生活".into(),
                status: "正常".into(),
                note: String::new(),
            },
            Finding {
                heading: "健康与安全风险".into(),
                status: "异常".into(),
                note: "燃气灶软管老化".into(),
            },
        ];
        input.followups = vec![FollowupInput {
            kind: "转介服务".into(),
            detail: "转介燃气公司上门更换软管".into(),
        }];
        let first = service::record_visit(db, &input, today(), Utc::now()).expect("record");
        assert!(matches!(first, Recorded::New(_)), "{}", t.name);
        // The page resubmits (poor connection): stored once, same id.
        let again = service::record_visit(db, &input, today(), Utc::now()).expect("again");
        assert_eq!(again, Recorded::Duplicate(first.id()), "{}", t.name);
        let visits = yanglao_store::visits::visits_of_person(db, w.ids["grade2"]).expect("visits");
        assert_eq!(visits.len(), 1, "{}", t.name);
        // The same key for another person is refused, not taken for a resubmission.
        let mut other = input.clone();
        other.person_id = w.ids["alone2"];
        assert!(
            matches!(
                service::record_visit(db, &other, today(), Utc::now()),
                Err(VisitError::Invalid(_))
            ),
            "{}",
            t.name
        );
        assert_eq!(
            yanglao_store::visits::findings(db, first.id()).expect("f").len(),
            2,
            "{}",
            t.name
        );
        let open = yanglao_store::visits::followups(db, Some("open"), "").expect("open");
        assert_eq!(open.len(), 1, "{}", t.name);
        assert_eq!(open[0].kind, "转介服务");
        // 异常 without a note is refused.
        let mut bad = input.clone();
        bad.idem_key = "another-key-0001".into();
        bad.findings[1].note = String::new();
        assert!(
            matches!(
                service::record_visit(db, &bad, today(), Utc::now()),
                Err(VisitError::Invalid(_))
            ),
            "{}",
            t.name
        );
        // Close: who, when, outcome; closing twice is refused.
        let f = open[0].id;
        assert!(service::close_followup(db, f, "社工站李", d(2025, 6, 29), "", today(), Utc::now()).is_err());
        service::close_followup(db, f, "社工站李", d(2025, 6, 29), "已更换软管", today(), Utc::now()).expect("close");
        let closed = yanglao_store::visits::followup(db, f).expect("q").expect("row");
        assert_eq!(closed.status, "closed", "{}", t.name);
        assert_eq!(closed.closed_by.as_deref(), Some("社工站李"));
        assert_eq!(closed.closed_on, Some(d(2025, 6, 29)));
        assert_eq!(closed.outcome.as_deref(), Some("已更换软管"));
        assert!(service::close_followup(db, f, "社工站李", d(2025, 6, 29), "再次", today(), Utc::now()).is_err());
        assert!(yanglao_store::visits::followups(db, Some("open"), "")
            .expect("open")
            .is_empty());
        // V2's visitor is a 志愿者: each visit earned credit (fixture visits + this one).
        let credits = yanglao_store::visits::credit_totals(db, "").expect("credits");
        assert_eq!(credits.len(), 1, "{}", t.name);
        assert_eq!(credits[0].visitor.id, v2);
        assert_eq!(credits[0].visits, 4, "{}: alone2 twice, grade3 and grade2 once", t.name);
        assert_eq!(credits[0].minutes, 240, "{}", t.name);
        assert_eq!(credits[0].points, 8, "{}", t.name);
    }
}

#[test]
fn a_leaving_visitor_hands_people_over() {
    for t in testing::all() {
        let db = &t.db;
        let w = world(db);
        let now = Utc::now();
        let a = w.visitor[V1];
        let b = service::register_visitor(db, "接替人", "社工", V1, "", d(2025, 1, 1), "测试", now).expect("b");
        let c = service::register_visitor(db, "临时", "村干部", V1, "", d(2025, 1, 1), "测试", now).expect("c");
        // 一帮多 and 多帮一: a has two people, old80 has a and c.
        service::assign(db, a, &[w.ids["old80"], w.ids["alone3"]], d(2025, 6, 1), "测试", now).expect("a");
        service::assign(db, c, &[w.ids["old80"]], d(2025, 6, 1), "测试", now).expect("c");
        assert_eq!(
            service::leave(db, a, d(2025, 6, 20), Some(b), "测试", now).expect("leave"),
            2,
            "{}",
            t.name
        );
        let on = yanglao_store::visits::assignments_on(db, d(2025, 6, 20)).expect("on");
        assert_eq!(on[&w.ids["old80"]], vec![b, c], "{}", t.name);
        assert_eq!(on[&w.ids["alone3"]], vec![b], "{}", t.name);
        // Before the date the old assignment still stands.
        let before = yanglao_store::visits::assignments_on(db, d(2025, 6, 19)).expect("before");
        assert_eq!(before[&w.ids["alone3"]], vec![a], "{}", t.name);
        // No successor: people go back to unassigned.
        service::leave(db, c, d(2025, 6, 21), None, "测试", now).expect("leave c");
        let on = yanglao_store::visits::assignments_on(db, d(2025, 6, 21)).expect("on");
        assert_eq!(on[&w.ids["old80"]], vec![b], "{}", t.name);
        // A visitor who left cannot record visits after leaving, nor leave twice.
        let late = visit(w.ids["old80"], a, d(2025, 6, 25), "上门", "late-visit-0001");
        assert!(service::record_visit(db, &late, today(), now).is_err(), "{}", t.name);
        assert!(
            service::leave(db, a, d(2025, 6, 25), None, "测试", now).is_err(),
            "{}",
            t.name
        );
    }
}

/// The count by hand: for each township, people on the list on every day of June (on the 1st
/// and on the 30th, from the fixture's own dates) and, of those, people with an effective
/// (上门/视频/邻里) visit in June.
fn count_by_hand(people: &[P]) -> BTreeMap<&'static str, (i64, i64, i64, i64)> {
    let (first, last) = (d(2025, 6, 1), d(2025, 6, 30));
    let on = |p: &P, day: NaiveDate| p.on_from.is_some_and(|f| f <= day) && p.on_until.is_none_or(|u| u > day);
    let mut out: BTreeMap<&'static str, (i64, i64, i64, i64)> = BTreeMap::new();
    for p in people {
        let township = &p.village[..9];
        let township = if township == T1 { T1 } else { T2 };
        let e = out.entry(township).or_default();
        let visited = p
            .visits
            .iter()
            .any(|(day, mode)| *day >= first && *day <= last && ["上门", "视频", "邻里"].contains(mode));
        match (on(p, first), on(p, last)) {
            (true, true) => {
                e.0 += 1;
                if visited {
                    e.1 += 1;
                }
            }
            (false, true) => e.2 += 1,
            (true, false) => e.3 += 1,
            (false, false) => {}
        }
    }
    out
}

#[test]
fn monthly_rate_per_township_matches_a_count_by_hand() {
    for t in testing::all() {
        let db = &t.db;
        let w = world(db);
        // 001 §4 "确保特殊困难老年人月探访率达到100%": the figure per township, 红山区 down.
        let table = monthly_rate(db, &w.cat, code("150402"), 2025, 6, today()).expect("rate");
        let expected = count_by_hand(&fixture());
        let got: BTreeMap<String, (i64, i64, i64, i64)> = table
            .rows
            .iter()
            .map(|r| (r.division.clone(), (r.on_list, r.visited, r.joined, r.left)))
            .collect();
        for (township, e) in &expected {
            assert_eq!(got.get(&code(township).short()), Some(e), "{}: {township}", t.name);
        }
        assert_eq!(got.len(), expected.len(), "{}", t.name);
        // The fixture was built so that these hold: 西屯 2 of 4, 三中街 0 of 1.
        assert_eq!(expected[T1], (4, 2, 0, 1));
        assert_eq!(expected[T2], (1, 0, 1, 1));
        let t1 = table.rows.iter().find(|r| r.division == code(T1).short()).expect("T1");
        assert_eq!(t1.rate_text(), "50.0%", "{}", t.name);
        assert_eq!(
            (t1.died, t1.left_visited),
            (1, 1),
            "{}: the death on 6-10 was visited on 6-05",
            t.name
        );
        let t2 = table.rows.iter().find(|r| r.division == code(T2).short()).expect("T2");
        assert_eq!(
            (t2.died, t2.left_visited),
            (0, 0),
            "{}: the move is not a death",
            t.name
        );
        assert_eq!((table.total.on_list, table.total.visited), (5, 2), "{}", t.name);
        assert_eq!(table.total.rate_text(), "40.0%");
        // Drill-down: the township's villages.
        let down = monthly_rate(db, &w.cat, code(T1), 2025, 6, today()).expect("rate");
        let v: BTreeMap<String, (i64, i64)> = down
            .rows
            .iter()
            .map(|r| (r.division.clone(), (r.on_list, r.visited)))
            .collect();
        assert_eq!(v.get(V1), Some(&(2, 1)), "{}", t.name);
        assert_eq!(v.get(V2), Some(&(2, 1)), "{}", t.name);
        // A month not begun is refused.
        assert!(monthly_rate(db, &w.cat, code("150402"), 2025, 7, today()).is_err());
    }
}

/// The demo generator writes ids in bulk; afterwards ordinary inserts must still get fresh ids
/// (PostgreSQL's sequences are moved past them), and its history gives a rate below 100%.
#[test]
fn demo_history_then_ordinary_records() {
    for t in testing::all() {
        let db = &t.db;
        let w = world(db);
        let s = yanglao_visits::synth::generate(db, &w.cat, code("150402"), today(), 2, 7).expect("synth");
        assert!(s.visitors > 0 && s.visits > 0, "{}: {s:?}", t.name);
        // A volunteer (credit row) recording a visit with a follow-up: every table gets a new id.
        let v = service::register_visitor(db, "新人", "志愿者", V1, "", d(2025, 1, 1), "测试", Utc::now())
            .expect("visitor");
        assert!(v > 0, "{}", t.name);
        let mut input = visit(w.ids["old80"], v, today(), "上门", "after-synth-0001");
        input.followups = vec![FollowupInput {
            kind: "帮扶救助".into(),
            detail: "申请临时救助".into(),
        }];
        let r = service::record_visit(db, &input, today(), Utc::now()).expect("record after synth");
        assert!(matches!(r, Recorded::New(_)), "{}", t.name);
        service::assign(db, v, &[w.ids["old80"]], today(), "测试", Utc::now()).expect("assign after synth");
        let table = monthly_rate(db, &w.cat, code("150402"), 2025, 5, today()).expect("rate");
        assert!(table.total.visited <= table.total.on_list, "{}", t.name);
    }
}
