//! `yanglao bench engine`: the issue #4 targets, measured on a kept registry of N people
//! (imported once, untimed). Every figure printed is a measurement of this run.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use yanglao_domain::catalogue::builtin;
use yanglao_domain::DivisionCode;
use yanglao_entitlements::engine::AppliedVersion;
use yanglao_entitlements::run::{evaluate_all, explain_person, run as run_engine, Rules};
use yanglao_entitlements::simulate::compare;
use yanglao_entitlements::snapshot::Snapshot;
use yanglao_lists::model::Status;
use yanglao_registry::synth::{generate, read_manifest, GenOptions};
use yanglao_store::{divisions, registry, testing, Db};

use crate::bench::{peak_rss, reset_peak_rss};

/// A county list for the benchmark only (invented items, marked as such): the issue asks for
/// "the Inner Mongolia list plus one county list" and no county list is among the seeds.
const BENCH_COUNTY_LIST: &str = r#"title = "红山区基本养老服务清单（基准测试用，虚构）"
jurisdiction = "150402"
level = "县级"
effective_from = "2024-01-01"
change_note = "基准测试用，非真实清单"

[source]
title = "基准测试用（虚构）"
seed = "none"

[[param]]
name = "红山区高龄补贴（基准测试）"
type = "money"
value = "50元"
basis = "虚构"

[[item]]
code = "hongshan-gaoling-buchong"
seq = 1
name = "高龄补贴（区级，基准测试）"
target = "90周岁及以上"
content = "虚构"
service_type = "物质帮助"
eligibility = "年龄 >= 90"
amount = "【红山区高龄补贴（基准测试）】"
period = "月"

[[item]]
code = "hongshan-dujv-guanai"
seq = 2
name = "独居老人关爱（区级，基准测试）"
target = "70周岁及以上独居、空巢老年人"
content = "虚构"
service_type = "关爱服务"
eligibility = "年龄 >= 70 且 (居住状况 包含 \"独居\" 或 居住状况 包含 \"空巢\") 且 非 特困"
"#;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

pub(crate) fn open_target(target: &str, people: usize, data: &Path) -> Result<Db> {
    let url = match target {
        "sqlite" => data.join(format!("engine-{people}.db")).to_string_lossy().to_string(),
        "postgres" => {
            let base = testing::pg_base_url();
            let name = format!("bench_engine_{people}");
            let mut c = postgres::Client::connect(&format!("{base} dbname=postgres"), postgres::NoTls)?;
            let exists = c
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
                .is_some();
            if !exists {
                c.batch_execute(&format!("CREATE DATABASE {name}"))?;
            }
            format!("{base} dbname={name}")
        }
        other => other.to_string(),
    };
    std::fs::create_dir_all(data)?;
    let db = Db::open(&url)?;
    crate::init(&db)?;
    Ok(db)
}

pub(crate) fn prepare(db: &Db, people: usize, data: &Path, as_of: NaiveDate) -> Result<()> {
    if registry::counts(db)?.persons as usize == people {
        return Ok(());
    }
    let region = DivisionCode::parse("150000")?;
    let dir = data.join(format!("150000-{people}-1"));
    if read_manifest(&dir).map(|m| m.people != people).unwrap_or(true) {
        generate(
            &builtin::catalogue(),
            &GenOptions {
                people,
                seed: 1,
                region,
                as_of: NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or(as_of),
                dirty: false,
                out: dir.clone(),
            },
        )?;
    }
    let t = Instant::now();
    crate::import_path(
        db,
        &dir,
        None,
        &HashMap::new(),
        NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or(as_of),
        &data.join("files"),
        false,
    )?;
    println!(
        "imported {people} people in {:.0}s (untimed setup)",
        t.elapsed().as_secs_f64()
    );
    // Values for the parameters the list leaves to localities, region-wide: invented for the
    // benchmark so that every item is decided (marked in the note).
    let im =
        yanglao_lists::content::load(yanglao_lists::content::BUILTIN[0].1).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    crate::engine_cmd::set_placeholder_params(
        db,
        &im,
        region,
        NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or(as_of),
        "基准测试",
        "基准测试取值，非真实标准",
    )?;
    let id = yanglao_lists::service::save_draft(db, BENCH_COUNTY_LIST, "基准测试（起草）", Utc::now())?;
    yanglao_lists::service::advance(db, id, Status::UnderReview, "基准测试（起草）", Utc::now())?;
    // A fixture that only adds items to the region's list: it would fail the dominance check
    // (which wants every upper item repeated, 000 §二(一)2 "应当包含"), so it is published
    // without it, on purpose and only here.
    yanglao_lists::service::publish(db, id, "基准测试（审核）", Utc::now(), |_, _| {
        Ok::<(), yanglao_lists::service::ServiceError>(())
    })?;
    Ok(())
}

/// Payment data for 高龄津贴, so the work lists have realistic content: 90% of the entitled
/// paid, plus 1,000 people paid after their death (untimed setup, once).
fn seed_receipts(db: &Db, cat: &yanglao_domain::Catalogue, as_of: NaiveDate) -> Result<()> {
    let have = db
        .query_one("SELECT COUNT(*) FROM benefit_receipt", &[])?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0);
    if have > 0 {
        return Ok(());
    }
    run_engine(db, cat, as_of, "基准测试（准备）", Utc::now())?;
    let now = yanglao_store::Value::Time(Utc::now());
    db.exec(
        "INSERT INTO benefit_receipt (person_id, item_code, amount_fen, valid_from, valid_to, source, recorded_by, recorded_at)
         SELECT person_id, item_code, amount_fen, $1, NULL, '基准测试', '基准测试', $2 FROM entitlement
         WHERE as_of = $3 AND item_code = 'gaoling-jintie' AND status = 'entitled' AND person_id % 10 <> 0",
        &[
            yanglao_store::Value::Date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or(as_of)),
            now.clone(),
            yanglao_store::Value::Date(as_of),
        ],
    )?;
    db.exec(
        "INSERT INTO benefit_receipt (person_id, item_code, amount_fen, valid_from, valid_to, source, recorded_by, recorded_at)
         SELECT person_id, 'gaoling-jintie', 10000, $1, NULL, '基准测试', '基准测试', $2 FROM fact
         WHERE kind = 'death' ORDER BY person_id LIMIT 1000",
        &[
            yanglao_store::Value::Date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or(as_of)),
            now,
        ],
    )?;
    Ok(())
}

pub fn run(people: usize, target: &str, data: &Path, explanations: usize, today: NaiveDate) -> Result<()> {
    let as_of = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or(today);
    let db = open_target(target, people, data)?;
    prepare(&db, people, data, as_of).context("setup")?;
    let cat = divisions::load_catalogue(&db)?;
    let backend = db.backend().name();
    seed_receipts(&db, &cat, as_of).context("receipts")?;

    // Full run from the database, writing entitlements and work lists, from empty.
    db.exec("DELETE FROM entitlement", &[])?;
    db.exec("DELETE FROM work_item", &[])?;
    reset_peak_rss();
    let t = Instant::now();
    let r = run_engine(&db, &cat, as_of, "基准测试", Utc::now())?;
    let full_ms = ms(t);
    let peak = peak_rss().map(|b| b as f64 / 1048576.0).unwrap_or(0.0);
    println!(
        "RESULT backend={backend} people={} items={} entitled={} work_opened={} full_run_ms={full_ms:.0} peak_rss_mib={peak:.0}",
        r.persons, r.items, r.entitled, r.work_opened
    );
    println!("  phases_ms {:?}", r.timings);
    let t = Instant::now();
    let r2 = run_engine(&db, &cat, as_of, "基准测试", Utc::now())?;
    println!(
        "RESULT backend={backend} rerun_ms={:.0} added={} removed={} changed={}",
        ms(t),
        r2.added,
        r2.removed,
        r2.changed
    );
    println!("  phases_ms {:?}", r2.timings);

    // Warm snapshot: evaluation of every item for everyone.
    let rules = Rules::in_force(&db, as_of)?;
    let t = Instant::now();
    let snap = Snapshot::load(&db, as_of)?;
    let load_ms = ms(t);
    let mut evals = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let e = evaluate_all(&snap, &cat, &rules)?;
        evals.push(ms(t));
        drop(e);
    }
    evals.sort_by(f64::total_cmp);
    println!(
        "RESULT backend={backend} snapshot_load_ms={load_ms:.0} warm_eval_ms_median={:.1} warm_eval_ms_min={:.1} items={}",
        evals[evals.len() / 2],
        evals[0],
        rules.items.len()
    );

    // Where the evaluation time goes, item by item (each with its own scope computation).
    let mut per_item: Vec<(f64, String)> = Vec::new();
    for item in &rules.items {
        let t = Instant::now();
        yanglao_entitlements::engine::evaluate_batch(&snap, &cat, &rules.params, item)?;
        per_item.push((ms(t), item.item().name.clone()));
    }
    per_item.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "  slowest_items_ms {:?}",
        per_item
            .iter()
            .take(8)
            .map(|(t, n)| format!("{n} {t:.1}"))
            .collect::<Vec<_>>()
    );

    // A draft raising 高龄津贴 against the version in force.
    let im_row = rules
        .versions
        .iter()
        .find(|v| v.list.jurisdiction.short() == "150000")
        .context("Inner Mongolia list in force")?;
    let raised = im_row.row.content.replacen(
        "name = \"高龄津贴\"\ntype = \"money\"\nvalue = \"100元\"",
        "name = \"高龄津贴\"\ntype = \"money\"\nvalue = \"120元\"",
        1,
    );
    let list = yanglao_lists::content::load(&raised).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut row = im_row.row.clone();
    row.id = 0;
    row.content = raised;
    let mut versions: Vec<AppliedVersion> = rules
        .versions
        .iter()
        .filter(|v| v.list.jurisdiction.short() != "150000")
        .cloned()
        .collect();
    versions.push(AppliedVersion { row, list });
    let draft = Rules::from_versions(&db, versions)?;
    let mut sims = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        last = Some(compare(&snap, &cat, &rules, &draft)?);
        sims.push(ms(t));
    }
    sims.sort_by(f64::total_cmp);
    if let Some(sim) = last {
        println!(
            "RESULT backend={backend} simulation_ms_median={:.1} cost_change_fen={} gained={}",
            sims[sims.len() / 2],
            sim.cost_change_fen,
            sim.gained_total
        );
    }

    // One explanation, facts read from the database.
    let n = i64::try_from(snap.len()).unwrap_or(1).max(1);
    let mut lat = Vec::with_capacity(explanations);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..explanations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let pid = 1 + (x % n as u64) as i64;
        let t = Instant::now();
        explain_person(&db, &cat, &rules, pid, as_of)?;
        lat.push(ms(t));
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "RESULT backend={backend} explain_ms_p50={:.2} explain_ms_p99={:.2} n={}",
        pct(0.5),
        pct(0.99),
        lat.len()
    );
    Ok(())
}
