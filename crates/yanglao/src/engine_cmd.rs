//! `yanglao run | explain | simulate | receipts | work`: the entitlement engine from the shell.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use yanglao_domain::{Catalogue, DivisionCode, Fen, IdNumber};
use yanglao_entitlements::engine::{parse_version, AppliedVersion};
use yanglao_entitlements::run::{explain_person, run, work_kind_label, Rules};
use yanglao_entitlements::simulate::{compare, Simulation};
use yanglao_entitlements::snapshot::Snapshot;
use yanglao_store::{divisions, registry, Db};

#[derive(Subcommand)]
pub enum ReceiptCommand {
    /// Import what people receive (CSV or .xlsx: 身份证号, 项目代码, 金额, 起始日期[, 终止日期]).
    Import {
        file: PathBuf,
        /// Where the data come from (e.g. 民政资金发放系统 2025-01).
        #[arg(long)]
        source: String,
        #[arg(long, default_value = "操作员")]
        by: String,
    },
}

/// Assessment requests for the people a list rule needs a level for (see
/// `assessment_candidates`); one open request per person, existing ones are kept.
pub fn request_assessments(db: &Db, as_of: NaiveDate) -> Result<usize> {
    let cat = divisions::load_catalogue(db)?;
    let rules = Rules::in_force(db, as_of)?;
    let snap = Snapshot::load(db, as_of)?;
    let mut made = 0;
    for (pid, item) in yanglao_entitlements::run::assessment_candidates(&snap, &cat, &rules)? {
        if yanglao_assessment::service::request_for_rule(db, pid, &item, as_of, Utc::now())?.is_some() {
            made += 1;
        }
    }
    Ok(made)
}

pub fn cmd_run(db: &Db, as_of: NaiveDate, by: &str, request: bool) -> Result<()> {
    let cat = divisions::load_catalogue(db)?;
    if request {
        let n = request_assessments(db, as_of)?;
        println!("已为清单规则需要能力等级、尚未评估的 {n} 人自动提出评估申请。");
    }
    let r = run(db, &cat, as_of, by, Utc::now())?;
    println!(
        "测算 #{}（{as_of}）：{} 人 × {} 项，应享 {} 人次，无法判定 {} 人次；新增 {}，取消 {}，变更 {}",
        r.run_id, r.persons, r.items, r.entitled, r.undetermined, r.added, r.removed, r.changed
    );
    println!(
        "工作清单：新开 {}，更新 {}，自动办结 {}",
        r.work_opened, r.work_refreshed, r.work_closed
    );
    let t = &r.timings;
    println!(
        "用时（毫秒）：规则 {} · 快照 {} · 计算 {} · 比对 {} · 写入 {} · 工作清单 {}",
        t.rules_ms, t.snapshot_ms, t.evaluate_ms, t.diff_ms, t.write_ms, t.work_ms
    );
    Ok(())
}

pub fn cmd_explain(db: &Db, id_number: &str, as_of: NaiveDate, all: bool) -> Result<()> {
    let cat = divisions::load_catalogue(db)?;
    let id = IdNumber::parse(id_number)?;
    let Some(p) = registry::person_by_id_number(db, id.as_str())? else {
        bail!("没有身份证号为 {} 的人员", id.masked())
    };
    let rules = Rules::in_force(db, as_of)?;
    let e = explain_person(db, &cat, &rules, p.id, as_of)?;
    println!("{} {}（截至 {as_of}）", p.name, id.masked());
    for item in &e.items {
        if !all && item.status == "不在范围" {
            continue;
        }
        let mark = if item.entitled { "✓" } else { "·" };
        println!("{mark} 【{}】{}", item.status, item.sentence);
    }
    if !all {
        println!("（不在范围的清单项已略去；加 --all 显示全部）");
    }
    Ok(())
}

/// A draft to simulate: a version id in the database or a TOML file.
fn draft(db: &Db, which: &str) -> Result<AppliedVersion> {
    if let Ok(id) = which.parse::<i64>() {
        let row = yanglao_store::lists::version(db, id)?.with_context(|| format!("没有清单版本 #{id}"))?;
        return Ok(parse_version(row)?);
    }
    let text = std::fs::read_to_string(which).with_context(|| format!("读取 {which}"))?;
    let list = yanglao_lists::content::load(&text).map_err(|errs| {
        anyhow::anyhow!(
            "{which} 未通过检查：{}",
            errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("；")
        )
    })?;
    Ok(AppliedVersion {
        row: yanglao_store::lists::VersionRow {
            id: 0,
            jurisdiction: list.jurisdiction.short(),
            level: list.level.label().to_string(),
            title: list.title.clone(),
            effective_from: list.effective_from,
            change_note: list.change_note.clone(),
            source_title: list.source.title.clone(),
            status: "draft".into(),
            author: String::new(),
            content: text,
            content_sha256: String::new(),
            created_at: Utc::now(),
        },
        list,
    })
}

pub fn cmd_simulate(db: &Db, which: &str, as_of: NaiveDate) -> Result<()> {
    let cat = divisions::load_catalogue(db)?;
    let d = draft(db, which)?;
    let title = d.list.title.clone();
    let (base, new) = Rules::in_force_and_with(db, as_of, d)?;
    let t = std::time::Instant::now();
    let snap = Snapshot::load(db, as_of)?;
    let load_ms = t.elapsed().as_millis();
    let sim = compare(&snap, &cat, &base, &new)?;
    print_simulation(&cat, &sim, &title, load_ms);
    Ok(())
}

/// 调整测算 for a parameter change (not saved): the rules in force with one more value set.
pub fn cmd_simulate_param(db: &Db, name: &str, division: &str, value: &str, as_of: NaiveDate) -> Result<()> {
    let cat = divisions::load_catalogue(db)?;
    let div = DivisionCode::parse(division).context("--division")?;
    let base = Rules::in_force(db, as_of)?;
    let ty = base
        .params
        .param_type(name)
        .with_context(|| format!("现行清单中没有参数【{name}】"))?;
    yanglao_lists::params::parse_value(name, ty, value)?;
    let mut rows = yanglao_store::lists::all_param_values(db)?;
    rows.push(yanglao_store::lists::ParamValueRow {
        id: i64::MAX,
        name: name.to_string(),
        division: div.short(),
        valid_from: as_of,
        value: value.to_string(),
        set_by: "测算（未保存）".into(),
        set_at: Utc::now(),
        note: String::new(),
    });
    let new = Rules::with_param_rows(base.versions.clone(), &rows)?;
    let snap = Snapshot::load(db, as_of)?;
    let sim = compare(&snap, &cat, &base, &new)?;
    print_simulation(
        &cat,
        &sim,
        &format!("【{name}】在 {} 设为 {value}", cat.path_name(div, as_of)),
        0,
    );
    Ok(())
}

pub fn print_simulation(cat: &Catalogue, sim: &Simulation, title: &str, load_ms: u128) {
    let _ = cat;
    println!(
        "调整测算：《{title}》对照现行版本，{} 人，截至 {}（读取 {load_ms} ms，计算 {} ms）",
        sim.persons,
        sim.as_of.map(|d| d.to_string()).unwrap_or_default(),
        sim.evaluate_ms
    );
    if sim.affects_nobody() {
        println!("此项调整在范围内不影响任何人，也不改变支出。");
        return;
    }
    println!(
        "新增享受 {} 人次，减少 {} 人次，年度支出变化 {} 元",
        sim.gained_total,
        sim.lost_total,
        Fen::new(sim.cost_change_fen)
    );
    for i in sim
        .items
        .iter()
        .filter(|i| i.gained + i.lost > 0 || i.base_cost_fen != i.new_cost_fen)
    {
        let levels = i
            .by_level
            .iter()
            .map(|(l, f)| format!("{l} {}", Fen::new(*f)))
            .collect::<Vec<_>>()
            .join("，");
        println!(
            "  {}：{} → {} 人（+{} / -{}），年支出 {} → {} 元（{}）",
            i.name,
            i.base_people,
            i.new_people,
            i.gained,
            i.lost,
            Fen::new(i.base_cost_fen),
            Fen::new(i.new_cost_fen),
            levels
        );
    }
    for d in &sim.divisions {
        println!(
            "    {}：+{} / -{}，{} 元",
            d.name,
            d.gained,
            d.lost,
            Fen::new(d.cost_change_fen)
        );
    }
}

pub fn cmd_receipts(db: &Db, what: &ReceiptCommand, today: NaiveDate) -> Result<()> {
    match what {
        ReceiptCommand::Import { file, source, by } => {
            let mut codes: HashSet<String> = HashSet::new();
            for v in yanglao_store::lists::versions(db)? {
                if let Ok(l) = yanglao_lists::content::load(&v.content) {
                    codes.extend(l.items.into_iter().map(|i| i.code));
                }
            }
            let _ = today;
            match yanglao_entitlements::receipts::import_receipts(db, file, source, &codes, by, Utc::now()) {
                Ok(n) => println!("已导入 {n} 条发放/服务记录（来源：{source}）"),
                Err(yanglao_entitlements::receipts::ReceiptError::Rows(errors)) => {
                    for e in errors.iter().take(50) {
                        println!("  {e}");
                    }
                    bail!("{} 有 {} 行问题，整个文件未导入", file.display(), errors.len());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

pub fn cmd_work(db: &Db, division: &str) -> Result<()> {
    let cat = divisions::load_catalogue(db)?;
    let (prefix, child_len) = if division.is_empty() {
        (String::new(), 2)
    } else {
        let d = DivisionCode::parse(division).context("--division")?;
        let p = d.prefix();
        let next = match p.len() {
            2 => 4,
            4 => 6,
            6 => 9,
            _ => 12,
        };
        (p, next)
    };
    let counts = yanglao_store::entitlements::work_counts(
        db,
        &prefix,
        child_len,
        &yanglao_store::accounts::Scope::everywhere(),
    )?;
    if counts.is_empty() {
        println!("没有待办的工作事项。");
    }
    for (d, kind, n) in counts {
        let name = DivisionCode::parse(&d).map(|c| cat.name(c)).unwrap_or(d.clone());
        println!("  {d} {name}  {}  {n}", work_kind_label(&kind));
    }
    Ok(())
}

/// Gives every parameter `list` leaves to localities an invented value at `division` (for the
/// demo and the benchmarks only; `note` says so in the parameter table): 150元, level 3, or a
/// table rising by level.
pub fn set_placeholder_params(
    db: &Db,
    list: &yanglao_lists::model::ListVersion,
    division: DivisionCode,
    from: NaiveDate,
    by: &str,
    note: &str,
) -> Result<()> {
    for p in list.params.iter().filter(|p| p.local) {
        let (ty, value) = match p.ty.as_str() {
            "money" => (yanglao_rules::Type::Money, "150元"),
            "int" => (yanglao_rules::Type::Int, "3"),
            _ => (yanglao_rules::Type::MoneyByInt, "0=0元,1=50元,2=100元,3=200元,4=300元"),
        };
        yanglao_lists::params::set(db, &p.name, ty, division, from, value, by, Utc::now(), note)?;
    }
    Ok(())
}

/// The demo region's engine state: the parameters its lists leave to localities get values
/// marked as demo values (not real standards), the engine runs, part of 高龄津贴 is "paid" (a few
/// wrongly, a few after death) so that the work lists show each kind, and the engine runs again.
pub fn demo_engine(db: &Db, region: DivisionCode, today: NaiveDate) -> Result<()> {
    let cat = divisions::load_catalogue(db)?;
    let rules = Rules::in_force(db, today)?;
    let from = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or(today);
    for v in rules
        .versions
        .iter()
        .filter(|v| region.is_within(v.list.jurisdiction) || v.list.jurisdiction.is_within(region))
    {
        set_placeholder_params(db, &v.list, v.list.jurisdiction, from, "演示", "演示取值，非真实标准")?;
    }
    run(db, &cat, today, "演示", Utc::now())?;
    let requested = request_assessments(db, today)?;
    println!("能力评估：为清单规则需要能力等级、尚未评估的 {requested} 人自动提出评估申请。");
    let now = yanglao_store::Value::Time(Utc::now());
    let paid_from = yanglao_store::Value::Date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or(today));
    // Most recipients paid the right amount, one in 37 paid 20元 short, one in 12 not paid.
    db.exec(
        "INSERT INTO benefit_receipt (person_id, item_code, amount_fen, valid_from, valid_to, source, recorded_by, recorded_at)
         SELECT person_id, item_code, CASE WHEN person_id % 37 = 0 THEN amount_fen - 2000 ELSE amount_fen END,
                $1, NULL, '演示发放数据', '演示', $2
         FROM entitlement WHERE as_of = $3 AND item_code = 'gaoling-jintie' AND status = 'entitled' AND person_id % 12 <> 0",
        &[paid_from.clone(), now.clone(), yanglao_store::Value::Date(today)],
    )?;
    // Some people still paid after their death.
    db.exec(
        "INSERT INTO benefit_receipt (person_id, item_code, amount_fen, valid_from, valid_to, source, recorded_by, recorded_at)
         SELECT person_id, 'gaoling-jintie', 10000, $1, NULL, '演示发放数据', '演示', $2
         FROM fact WHERE kind = 'death' ORDER BY person_id LIMIT 150",
        &[paid_from, now],
    )?;
    let r = run(db, &cat, today, "演示", Utc::now())?;
    println!(
        "服务找人：{} 人次应享，工作清单新开 {} 项（应享未享、不应享而享、金额变化）。",
        r.entitled, r.work_opened
    );
    Ok(())
}
