//! The engine on a generated region, on SQLite and PostgreSQL: a run stores entitlements, a rerun
//! changes nothing, stored entitlements equal the one-person explanation, receipts turn into work
//! lists with reasons, a bad receipts file changes nothing, and simulations cost what they should.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate, Utc};
use yanglao_domain::{DivisionCode, Fen};
use yanglao_entitlements::engine::AppliedVersion;
use yanglao_entitlements::receipts::{import_receipts, ReceiptError};
use yanglao_entitlements::run::{explain_person, run, Rules, KIND_AMOUNT, KIND_INELIGIBLE, KIND_UNCLAIMED};
use yanglao_entitlements::simulate::compare;
use yanglao_entitlements::snapshot::Snapshot;
use yanglao_registry::synth::GenOptions;
use yanglao_store::entitlements::{person_entitlements, scan_entitlements, work_items, WorkQuery};
use yanglao_store::testing::{self, TempDir};
use yanglao_store::{divisions, Db, Value};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn as_of() -> NaiveDate {
    d(2025, 1, 31)
}

fn load_region(db: &Db, dir: &Path, people: usize) {
    yanglao_registry::synth::generate_into(
        db,
        &GenOptions {
            people,
            seed: 4,
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

fn id_number_of(db: &Db, person_id: i64) -> String {
    db.query_one(
        "SELECT id_number FROM person WHERE id = $1",
        &[yanglao_store::Value::Int(person_id)],
    )
    .expect("query")
    .expect("person")
    .text(0)
    .expect("text")
}

#[test]
fn run_rerun_explain_receipts_and_simulation_on_both_databases() {
    for t in testing::all() {
        let dir = TempDir::new("yanglao-ent");
        let db = &t.db;
        load_region(db, dir.path(), 1500);
        let cat = divisions::load_catalogue(db).expect("catalogue");

        let first = run(db, &cat, as_of(), "测试", Utc::now()).expect("run");
        assert_eq!(first.persons, 1500, "{}", t.name);
        assert!(
            first.entitled > 1500,
            "{}: everyone 60+ gets 意外伤害保险 at least",
            t.name
        );
        assert_eq!(first.added, first.entitled + first.undetermined, "{}", t.name);

        // Issue #4 §1: "Rerunning for the same D and data changes nothing."
        let second = run(db, &cat, as_of(), "测试", Utc::now()).expect("rerun");
        assert_eq!(
            (second.added, second.removed, second.changed),
            (0, 0, 0),
            "{}: a rerun changes nothing",
            t.name
        );
        assert_eq!(second.work_opened, 0, "{}", t.name);
        assert_eq!(second.work_refreshed, 0, "{}", t.name);

        // People a rule needs a level for (护理补贴: 低保/特困/低收入, not assessed) get an
        // automatic request; assessed people and people outside such rules do not.
        let snap0 = Snapshot::load(db, as_of()).expect("snapshot");
        let rules0 = Rules::in_force(db, as_of()).expect("rules");
        let candidates = yanglao_entitlements::run::assessment_candidates(&snap0, &cat, &rules0).expect("candidates");
        assert!(!candidates.is_empty(), "{}", t.name);
        for (pid, item_name) in candidates.iter().take(20) {
            let e = explain_person(db, &cat, &rules0, *pid, as_of()).expect("explain");
            let it = e.items.iter().find(|i| &i.item_name == item_name).expect("item");
            assert!(!it.entitled, "not yet entitled: no level");
            assert!(
                it.conditions.iter().any(|c| !c.holds && c.text == "尚无能力评估结果"),
                "{}",
                it.sentence
            );
        }
        let (pid, item) = &candidates[0];
        let req = yanglao_assessment::service::request_for_rule(db, *pid, item, as_of(), Utc::now()).expect("request");
        assert!(req.is_some());
        let again =
            yanglao_assessment::service::request_for_rule(db, *pid, item, as_of(), Utc::now()).expect("request");
        assert!(again.is_none(), "one open request per person");

        // Stored (batch) entitlements equal the explanation (interpreter, facts read anew).
        let rules = Rules::in_force(db, as_of()).expect("rules");
        let mut stored: HashMap<i64, BTreeSet<String>> = HashMap::new();
        scan_entitlements(db, as_of(), |e| {
            if e.status == "entitled" {
                stored.entry(e.person_id).or_default().insert(e.item_code);
            }
        })
        .expect("scan");
        for pid in 1..=120i64 {
            let e = explain_person(db, &cat, &rules, pid, as_of()).expect("explain");
            let explained: BTreeSet<String> = e
                .items
                .iter()
                .filter(|i| i.entitled)
                .map(|i| i.item_code.clone())
                .collect();
            assert_eq!(
                stored.get(&pid).cloned().unwrap_or_default(),
                explained,
                "{}: person {pid}",
                t.name
            );
        }

        // A person of 80–99: 高龄津贴 with the amount and the reason in words (a centenarian's
        // is 600 元, so the person is chosen by age, not by whoever the map yields first).
        let born_after = as_of().with_year(as_of().year() - 100).expect("date");
        let mut recipients: Vec<i64> = stored
            .iter()
            .filter(|(_, items)| items.contains("gaoling-jintie"))
            .map(|(pid, _)| *pid)
            .collect();
        recipients.sort_unstable();
        let old_pid = recipients
            .iter()
            .find(|pid| {
                let born = db
                    .query_one("SELECT birth_date FROM person WHERE id = $1", &[Value::Int(**pid)])
                    .expect("q")
                    .expect("person")
                    .date(0)
                    .expect("date");
                born > born_after
            })
            .expect("someone of 80–99 gets 高龄津贴");
        let e = explain_person(db, &cat, &rules, *old_pid, as_of()).expect("explain");
        let gaoling = e.items.iter().find(|i| i.item_code == "gaoling-jintie").expect("item");
        assert!(gaoling.sentence.contains("年满80周岁"), "{}", gaoling.sentence);
        assert!(
            gaoling.sentence.contains("享受高龄津贴 100.00 元/月"),
            "{}",
            gaoling.sentence
        );
        assert!(
            gaoling.sentence.contains("依据《内蒙古自治区基本养老服务清单》第5项"),
            "{}",
            gaoling.sentence
        );
        assert!(gaoling.sentence.contains("来自公安部门"), "{}", gaoling.sentence);
        let rows = person_entitlements(db, *old_pid, as_of()).expect("rows");
        let amount = rows
            .iter()
            .find(|r| r.item_code == "gaoling-jintie")
            .and_then(|r| r.amount_fen);
        assert!(matches!(amount, Some(10000) | Some(60000)), "{}: {amount:?}", t.name);

        // Receipts: the 80+ person paid the wrong amount, a 60-something receiving 高龄津贴.
        // (Someone with 户籍 in the region: people are numbered by 户籍 code, and those from
        // outside it come first.)
        let in_region = |p: i64| {
            db.query_one(
                "SELECT 1 FROM fact WHERE person_id = $1 AND kind = 'hukou' AND valid_to IS NULL AND value >= '1504' AND value < '1505'",
                &[yanglao_store::Value::Int(p)],
            )
            .expect("hukou")
            .is_some()
        };
        let young = (1..=1500i64)
            .find(|p| !stored.get(p).is_some_and(|s| s.contains("gaoling-jintie")) && in_region(*p))
            .expect("someone without 高龄津贴");
        let csv = dir.path().join("receipts.csv");
        std::fs::write(
            &csv,
            format!(
                "身份证号,项目代码,金额,起始日期,终止日期\n{},gaoling-jintie,80元,2024-01-01,\n{},gaoling-jintie,100元,2024-01-01,\n",
                id_number_of(db, *old_pid),
                id_number_of(db, young)
            ),
        )
        .expect("write");
        let codes: HashSet<String> = rules.items.iter().map(|i| i.code().to_string()).collect();
        let n = import_receipts(db, &csv, "民政发放 2025-01", &codes, "测试", Utc::now()).expect("receipts");
        assert_eq!(n, 2);

        // A bad file: every bad row reported with its row number; nothing stored.
        let bad = dir.path().join("bad.csv");
        std::fs::write(
            &bad,
            format!(
                "身份证号,项目代码,金额,起始日期\n{},gaoling-jintie,100元,2024-01-01\n110101190001011234,gaoling-jintie,100元,2024-01-01\n{},no-such-item,abc,2024-13-01\n",
                id_number_of(db, young),
                id_number_of(db, young)
            ),
        )
        .expect("write");
        match import_receipts(db, &bad, "x", &codes, "测试", Utc::now()) {
            Err(ReceiptError::Rows(errors)) => {
                let places: Vec<(u64, &str)> = errors.iter().map(|e| (e.row, e.column.as_str())).collect();
                assert!(places.contains(&(3, "身份证号")), "{places:?}");
                assert!(places.contains(&(4, "项目代码")), "{places:?}");
                assert!(places.contains(&(4, "金额")), "{places:?}");
                assert!(places.contains(&(4, "起始日期")), "{places:?}");
                assert!(!places.iter().any(|p| p.0 == 2), "row 2 is good: {places:?}");
            }
            other => panic!("{}: expected row errors, got {other:?}", t.name),
        }
        let count = db
            .query_one("SELECT COUNT(*) FROM benefit_receipt", &[])
            .expect("count")
            .expect("row")
            .int(0)
            .expect("int");
        assert_eq!(count, 2, "{}: the bad file added nothing", t.name);

        run(db, &cat, as_of(), "测试", Utc::now()).expect("run");
        let items = |kind: &str| {
            work_items(
                db,
                &WorkQuery {
                    kind: Some(kind.into()),
                    limit: 10_000,
                    ..Default::default()
                },
            )
            .expect("work")
            .0
        };
        // Before any receipt, no item was tracked: the first run opened only reassessments due
        // (the generated 卫健 levels older than the default 12 months).
        let due = items(yanglao_entitlements::run::KIND_REASSESSMENT);
        assert_eq!(
            first.work_opened as usize,
            due.len(),
            "{}: untracked items open no work",
            t.name
        );
        assert!(!due.is_empty(), "{}", t.name);
        assert!(due[0].reason.contains("复评周期 12 个月"), "{}", due[0].reason);
        let amount_items = items(KIND_AMOUNT);
        assert_eq!(amount_items.len(), 1, "{}", t.name);
        assert_eq!(amount_items[0].person_id, *old_pid);
        assert!(
            amount_items[0].reason.contains("实发 80.00 元"),
            "{}",
            amount_items[0].reason
        );
        let inel = items(KIND_INELIGIBLE);
        assert_eq!(inel.len(), 1, "{}", t.name);
        assert_eq!(inel[0].person_id, young);
        assert!(
            inel[0].reason.contains("未满80周岁") || inel[0].reason.contains("死亡") || inel[0].reason.contains("迁出"),
            "{}: {}",
            t.name,
            inel[0].reason
        );
        assert!(inel[0].division.starts_with("1504"), "{}", inel[0].division);
        // 高龄津贴 is now tracked: every other recipient is 应享未享, and only for that item.
        let unclaimed = items(KIND_UNCLAIMED);
        let gaoling_people = stored.values().filter(|s| s.contains("gaoling-jintie")).count();
        assert_eq!(unclaimed.len(), gaoling_people - 1, "{}", t.name);
        assert!(unclaimed.iter().all(|w| w.item_code == "gaoling-jintie"));
        assert!(!unclaimed.iter().any(|w| w.person_id == *old_pid));
        // Paying the rest closes their items on the next run.
        let csv2 = dir.path().join("receipts2.csv");
        let mut text = String::from("身份证号,项目代码,金额,起始日期\n");
        for w in &unclaimed {
            text.push_str(&format!(
                "{},gaoling-jintie,,2024-01-01\n",
                id_number_of(db, w.person_id)
            ));
        }
        std::fs::write(&csv2, text).expect("write");
        import_receipts(db, &csv2, "民政发放 2025-01", &codes, "测试", Utc::now()).expect("receipts");
        let fourth = run(db, &cat, as_of(), "测试", Utc::now()).expect("run");
        assert_eq!(fourth.work_closed as usize, unclaimed.len(), "{}", t.name);
        assert!(items(KIND_UNCLAIMED).is_empty());

        // Simulation: 高龄津贴 100元 → 200元 costs 100元 × 12 per recipient under 100.
        let snap = Snapshot::load(db, as_of()).expect("snapshot");
        let text = yanglao_lists::content::BUILTIN[0].1;
        let raised = text.replacen(
            "name = \"高龄津贴\"\ntype = \"money\"\nvalue = \"100元\"",
            "name = \"高龄津贴\"\ntype = \"money\"\nvalue = \"200元\"",
            1,
        );
        assert_ne!(raised, text, "the draft changes the parameter");
        let draft = |content: &str| {
            let list = yanglao_lists::content::load(content).expect("draft");
            let mut row = rules
                .versions
                .iter()
                .find(|v| v.list.jurisdiction == list.jurisdiction)
                .expect("in force")
                .row
                .clone();
            row.id = 0;
            row.content = content.to_string();
            AppliedVersion { row, list }
        };
        let with = |v: AppliedVersion| {
            let mut versions: Vec<AppliedVersion> = rules
                .versions
                .iter()
                .filter(|x| x.list.jurisdiction != v.list.jurisdiction)
                .cloned()
                .collect();
            versions.push(v);
            Rules::from_versions(db, versions).expect("rules")
        };
        let sim = compare(&snap, &cat, &rules, &with(draft(&raised))).expect("simulate");
        let g = sim.items.iter().find(|i| i.code == "gaoling-jintie").expect("item");
        let under_100 = stored
            .iter()
            .filter(|(p, s)| {
                s.contains("gaoling-jintie")
                    && person_entitlements(db, **p, as_of())
                        .expect("rows")
                        .iter()
                        .any(|r| r.item_code == "gaoling-jintie" && r.amount_fen == Some(10000))
            })
            .count() as i64;
        assert!(under_100 > 0);
        assert_eq!(g.new_cost_fen - g.base_cost_fen, under_100 * 10000 * 12, "{}", t.name);
        assert_eq!((g.gained, g.lost), (0, 0));
        assert_eq!(sim.cost_change_fen, under_100 * 10000 * 12);
        assert!(!sim.affects_nobody());
        let by_level: i64 = g.by_level.values().sum();
        assert_eq!(by_level, g.new_cost_fen - g.base_cost_fen, "the split adds up");

        // A parameter change (not saved): 高龄津贴 set to 130元 for 赤峰市 from the date.
        let mut rows = yanglao_store::lists::all_param_values(db).expect("rows");
        rows.push(yanglao_store::lists::ParamValueRow {
            id: i64::MAX,
            name: "高龄津贴".into(),
            division: "150400".into(),
            valid_from: as_of(),
            value: "130元".into(),
            set_by: "测算".into(),
            set_at: Utc::now(),
            note: String::new(),
        });
        let changed = Rules::with_param_rows(rules.versions.clone(), &rows).expect("rules");
        let sim = compare(&snap, &cat, &rules, &changed).expect("simulate");
        assert_eq!(sim.cost_change_fen, under_100 * 3000 * 12, "{}", t.name);
        assert_eq!(sim.items.len(), 1, "only 高龄津贴 reads the parameter: {:?}", sim.items);

        // Age 80 → 75 gains people; an unchanged draft affects nobody and says so.
        let younger = text.replacen("eligibility = \"年龄 >= 80\"", "eligibility = \"年龄 >= 75\"", 1);
        let sim = compare(&snap, &cat, &rules, &with(draft(&younger))).expect("simulate");
        assert!(sim.gained_total > 0, "{}", t.name);
        assert!(!sim.gained_sample.is_empty());
        let same = compare(&snap, &cat, &rules, &with(draft(text))).expect("simulate");
        assert!(same.affects_nobody(), "{}", t.name);
        let _ = Fen::new(0);
    }
}
