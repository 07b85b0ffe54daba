//! A full run for a date: snapshot, every item for everyone, entitlements stored by difference,
//! and the work lists brought up to date against what people actually receive.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use yanglao_domain::{Catalogue, DivisionCode, FactKind, Sex};
use yanglao_store::entitlements::{self as store, Finding, RunWrite, StoredEntitlement, SyncCounts, UsedParam};
use yanglao_store::{Db, StoreError, Value};

use crate::engine::{
    cached_scope, compile, evaluate_in_scope, evaluate_one, versions_in_force, AppliedVersion, CompiledItem,
    EngineError, Status,
};
use crate::explain::{explain_item, BatchLabels, ItemExplanation};
use crate::params::{ParamBook, ParamSource};
use crate::person::{Origin, PersonFacts};
use crate::snapshot::{division_at, Snapshot, SnapshotError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    NotFound(String),
}

pub const KIND_UNCLAIMED: &str = "unclaimed";
pub const KIND_INELIGIBLE: &str = "ineligible";
pub const KIND_AMOUNT: &str = "amount";
pub const KIND_REASSESSMENT: &str = "reassessment";

pub fn work_kind_label(kind: &str) -> &str {
    match kind {
        KIND_UNCLAIMED => "应享未享",
        KIND_INELIGIBLE => "不应享而享",
        KIND_AMOUNT => "金额变化",
        "reassessment" => "复评到期",
        other => other,
    }
}

/// Everything the engine needs besides the registry: lists, compiled items and parameters.
pub struct Rules {
    pub versions: Vec<AppliedVersion>,
    pub items: Vec<CompiledItem>,
    pub params: ParamBook,
}

impl Rules {
    pub fn in_force(db: &Db, as_of: NaiveDate) -> Result<Rules, RunError> {
        Rules::from_versions(db, versions_in_force(db, as_of)?)
    }

    pub fn from_versions(db: &Db, versions: Vec<AppliedVersion>) -> Result<Rules, RunError> {
        let rows = yanglao_store::lists::all_param_values(db)?;
        Rules::with_param_rows(versions, &rows)
    }

    /// The rules in force on `as_of` (first) and the same with `draft` in place of the version
    /// of its jurisdiction and level (second): what a simulation compares.
    pub fn in_force_and_with(db: &Db, as_of: NaiveDate, draft: AppliedVersion) -> Result<(Rules, Rules), RunError> {
        let base = Rules::in_force(db, as_of)?;
        let mut versions: Vec<AppliedVersion> = base
            .versions
            .iter()
            .filter(|v| !(v.list.jurisdiction == draft.list.jurisdiction && v.list.level == draft.list.level))
            .cloned()
            .collect();
        versions.push(draft);
        let new = Rules::from_versions(db, versions)?;
        Ok((base, new))
    }

    /// The versions with the given parameter values (a parameter change under simulation adds
    /// one that is not saved).
    pub fn with_param_rows(
        versions: Vec<AppliedVersion>,
        rows: &[yanglao_store::lists::ParamValueRow],
    ) -> Result<Rules, RunError> {
        let items = compile(&versions)?;
        let params = ParamBook::new(&versions.iter().map(|v| &v.list).collect::<Vec<_>>(), rows);
        Ok(Rules {
            versions,
            items,
            params,
        })
    }
}

/// Timings of a run's phases, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub rules_ms: u128,
    pub snapshot_ms: u128,
    pub evaluate_ms: u128,
    pub diff_ms: u128,
    pub write_ms: u128,
    pub work_ms: u128,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    pub as_of: Option<NaiveDate>,
    pub persons: usize,
    pub items: usize,
    pub entitled: i64,
    pub undetermined: i64,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
    pub work_opened: u64,
    pub work_refreshed: u64,
    pub work_closed: u64,
    pub timings: Timings,
}

/// Every item's outcome for everyone, as evaluated by the batch engine.
pub struct Evaluation {
    pub columns: Vec<crate::engine::ItemColumn>,
}

pub fn evaluate_all(snapshot: &Snapshot, catalogue: &Catalogue, rules: &Rules) -> Result<Evaluation, RunError> {
    let mut scopes: HashMap<(i64, &'static str), arrow_array::BooleanArray> = HashMap::new();
    let mut columns = Vec::with_capacity(rules.items.len());
    for item in &rules.items {
        let scope = cached_scope(&mut scopes, snapshot, catalogue, &rules.params, item)?;
        columns.push(evaluate_in_scope(snapshot, catalogue, &rules.params, item, scope)?);
    }
    Ok(Evaluation { columns })
}

fn period_code(item: &CompiledItem) -> Option<String> {
    item.period().map(|p| {
        match p {
            yanglao_lists::model::Period::Month => "月",
            yanglao_lists::model::Period::Year => "年",
            yanglao_lists::model::Period::Once => "一次",
        }
        .to_string()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct EntKey {
    person: i64,
    version: i64,
    code: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntVal {
    /// 1 entitled, 2 undetermined.
    status: u8,
    amount: Option<i64>,
    division: u64,
}

/// Runs the engine for `as_of` and stores the result.
pub fn run(
    db: &Db,
    catalogue: &Catalogue,
    as_of: NaiveDate,
    by: &str,
    now: DateTime<Utc>,
) -> Result<RunReport, RunError> {
    let mut report = RunReport {
        as_of: Some(as_of),
        ..Default::default()
    };
    let t = Instant::now();
    let rules = Rules::in_force(db, as_of)?;
    report.timings.rules_ms = t.elapsed().as_millis();
    let t = Instant::now();
    let snapshot = Snapshot::load(db, as_of)?;
    report.timings.snapshot_ms = t.elapsed().as_millis();
    let t = Instant::now();
    let eval = evaluate_all(&snapshot, catalogue, &rules)?;
    report.timings.evaluate_ms = t.elapsed().as_millis();
    report.persons = snapshot.len();
    report.items = rules.items.len();

    // New and stored rows as compact keys (item codes interned), sorted and merged: only the
    // difference is written.
    let t = Instant::now();
    let ids = snapshot.person_ids();
    let mut codes: Vec<String> = Vec::new();
    let mut code_ix: HashMap<String, u32> = HashMap::new();
    let mut intern = |c: &str| -> u32 {
        if let Some(i) = code_ix.get(c) {
            return *i;
        }
        let i = u32::try_from(codes.len()).unwrap_or(u32::MAX);
        codes.push(c.to_string());
        code_ix.insert(c.to_string(), i);
        i
    };
    let mut fresh: Vec<(EntKey, EntVal)> = Vec::new();
    let mut periods: HashMap<(i64, u32), Option<String>> = HashMap::new();
    for (item, col) in rules.items.iter().zip(&eval.columns) {
        let basis = snapshot.column(item.basis_fact());
        let code = intern(item.code());
        periods.insert((item.version.row.id, code), period_code(item));
        report.entitled += col.entitled.count_set_bits() as i64;
        report.undetermined += col.undetermined.count_set_bits() as i64;
        let rows = col
            .entitled
            .set_indices()
            .map(|r| (r, 1u8))
            .chain(col.undetermined.set_indices().map(|r| (r, 2u8)));
        for (row, status) in rows {
            fresh.push((
                EntKey {
                    person: ids.value(row),
                    version: item.version.row.id,
                    code,
                },
                EntVal {
                    status,
                    amount: col.amount(row),
                    division: basis.and_then(|b| division_at(b, row)).map(|d| d.as_u64()).unwrap_or(0),
                },
            ));
        }
    }
    fresh.sort_unstable_by_key(|e| e.0);
    let mut old: Vec<(EntKey, EntVal)> = Vec::new();
    db.scan_raw(
        "SELECT person_id, version_id, item_code, status, amount_fen, param_division FROM entitlement WHERE as_of = $1",
        &[Value::Date(as_of)],
        |r| {
            let status = match r.str(3)? {
                Some("entitled") => 1,
                Some("undetermined") => 2,
                _ => 0,
            };
            old.push((
                EntKey {
                    person: r.int(0)?,
                    version: r.int(1)?,
                    code: intern(r.str(2)?.unwrap_or("")),
                },
                EntVal {
                    status,
                    amount: r.opt_int(4)?,
                    division: r.str(5)?.and_then(|d| d.parse().ok()).unwrap_or(0),
                },
            ));
            Ok(())
        },
    )?;
    old.sort_unstable_by_key(|e| e.0);
    let stored = |k: &EntKey, v: &EntVal| StoredEntitlement {
        person_id: k.person,
        version_id: k.version,
        item_code: codes[k.code as usize].clone(),
        status: if v.status == 1 { "entitled" } else { "undetermined" }.to_string(),
        amount_fen: v.amount,
        period: periods.get(&(k.version, k.code)).cloned().flatten(),
        param_division: if v.division == 0 {
            String::new()
        } else {
            format!("{:012}", v.division)
        },
    };
    // Adds are kept as compact rows and turned into stored rows only while writing.
    let mut add: Vec<(EntKey, EntVal)> = Vec::new();
    let mut remove: Vec<(i64, i64, String)> = Vec::new();
    let mut changed = 0i64;
    {
        let (mut i, mut j) = (0, 0);
        while i < fresh.len() || j < old.len() {
            let ord = match (fresh.get(i), old.get(j)) {
                (Some(a), Some(b)) => a.0.cmp(&b.0),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match ord {
                std::cmp::Ordering::Less => {
                    add.push(fresh[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    let k = old[j].0;
                    remove.push((k.person, k.version, codes[k.code as usize].clone()));
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    if fresh[i].1 != old[j].1 {
                        let k = old[j].0;
                        remove.push((k.person, k.version, codes[k.code as usize].clone()));
                        add.push(fresh[i]);
                        changed += 1;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
    }
    drop(fresh);
    drop(old);
    report.timings.diff_ms = t.elapsed().as_millis();
    let add_count = add.len();
    report.added = i64::try_from(add_count).unwrap_or(i64::MAX) - changed;
    report.removed = i64::try_from(remove.len()).unwrap_or(i64::MAX) - changed;
    report.changed = changed;

    let t = Instant::now();
    let versions = rules
        .versions
        .iter()
        .map(|v| format!("{}#{}", v.list.title, v.row.id))
        .collect::<Vec<_>>()
        .join("；");
    let params = used_params(&rules, catalogue, &snapshot);
    report.run_id = store::write_run(
        db,
        &RunWrite {
            as_of,
            kind: "run",
            persons: i64::try_from(snapshot.len()).unwrap_or(i64::MAX),
            versions: &versions,
            entitled: report.entitled,
            by,
            started_at: now,
            finished_at: Utc::now(),
            remove,
            add: std::cell::RefCell::new(Box::new(add.iter().map(|(k, v)| stored(k, v)))),
            add_count,
            changed,
            params,
        },
    )?;
    report.timings.write_ms = t.elapsed().as_millis();

    let t = Instant::now();
    let counts = sync_work(db, catalogue, &rules, &snapshot, &eval, as_of, now)?;
    report.work_opened = counts.opened;
    report.work_refreshed = counts.refreshed;
    report.work_closed = counts.closed;
    report.timings.work_ms = t.elapsed().as_millis();
    Ok(report)
}

/// The parameter values in force for the divisions the run placed people in, by where each
/// value was set (a handful of rows, not one per person).
fn used_params(rules: &Rules, catalogue: &Catalogue, snapshot: &Snapshot) -> Vec<UsedParam> {
    let mut names: Vec<String> = rules
        .versions
        .iter()
        .flat_map(|v| v.list.params.iter().map(|p| p.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    let mut divisions: HashSet<DivisionCode> = HashSet::new();
    for col in ["户籍", "常住地"] {
        if let Some(c) = snapshot.column(col) {
            use arrow_array::cast::AsArray;
            if let Some(dict) = c.as_dictionary_opt::<arrow_array::types::Int32Type>() {
                let values = dict.values().as_primitive::<arrow_array::types::UInt64Type>();
                divisions.extend(values.iter().flatten().filter_map(DivisionCode::from_u64));
            }
        }
    }
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut out = Vec::new();
    for name in &names {
        for d in &divisions {
            let Some(e) = rules.params.resolve(catalogue, name, *d, snapshot.as_of) else {
                continue;
            };
            if !seen.insert((name.clone(), e.division.short())) {
                continue;
            }
            out.push(UsedParam {
                division: e.division.short(),
                name: name.clone(),
                value: e.raw.clone(),
                source: match &e.source {
                    ParamSource::List { title } => format!("《{title}》"),
                    ParamSource::Set { by, .. } => format!("{}自{}设定（{by}）", e.division.short(), e.valid_from),
                },
            });
        }
    }
    out
}

/// Compares entitlements with receipts and updates the work lists.
fn sync_work(
    db: &Db,
    catalogue: &Catalogue,
    rules: &Rules,
    snapshot: &Snapshot,
    eval: &Evaluation,
    as_of: NaiveDate,
    now: DateTime<Utc>,
) -> Result<SyncCounts, RunError> {
    let mut receipts: HashMap<(i64, String), Option<i64>> = HashMap::new();
    store::scan_receipts(db, as_of, |p, item, amount| {
        receipts.insert((p, item), amount);
    })?;
    // An item is tracked once any receipt for it has been imported: without payment data for an
    // item, "not receiving" cannot be told from "no data", so it opens no 应享未享 items.
    let tracked: HashSet<&str> = receipts.keys().map(|(_, code)| code.as_str()).collect();
    let ids = snapshot.person_ids();
    let row_of: HashMap<i64, usize> = if receipts.is_empty() {
        HashMap::new()
    } else {
        (0..ids.len()).map(|r| (ids.value(r), r)).collect()
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut seen: HashSet<(&str, i64, String)> = HashSet::new();
    // Items evaluated by rule, by code: a receipt for an item no rule decides is not judged.
    let mut by_code: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, item) in rules.items.iter().enumerate() {
        if item.eligibility.is_some() {
            by_code.entry(item.code()).or_default().push(k);
        }
    }
    for (k, item) in rules.items.iter().enumerate() {
        if !tracked.contains(item.code()) {
            continue;
        }
        let col = &eval.columns[k];
        let basis = snapshot.column(item.basis_fact());
        for row in col.entitled.set_indices() {
            let pid = ids.value(row);
            let division = basis
                .and_then(|b| division_at(b, row))
                .map(|d| d.full())
                .unwrap_or_default();
            match receipts.get(&(pid, item.code().to_string())) {
                None => {
                    if seen.insert((KIND_UNCLAIMED, pid, item.code().to_string())) {
                        findings.push(Finding {
                            kind: KIND_UNCLAIMED.into(),
                            person_id: pid,
                            version_id: item.version.row.id,
                            item_code: item.code().into(),
                            division,
                            reason: format!(
                                "符合《{}》第{}项，尚无发放或服务记录",
                                item.version.list.title,
                                item.item().seq
                            ),
                            amount_fen: col.amount(row),
                            received_fen: None,
                        });
                    }
                }
                Some(received) => {
                    if let (Some(due), Some(got)) = (col.amount(row), received) {
                        if due != *got && seen.insert((KIND_AMOUNT, pid, item.code().to_string())) {
                            findings.push(Finding {
                                kind: KIND_AMOUNT.into(),
                                person_id: pid,
                                version_id: item.version.row.id,
                                item_code: item.code().into(),
                                division,
                                reason: format!(
                                    "应发 {} 元，实发 {} 元",
                                    yanglao_domain::Fen::new(due),
                                    yanglao_domain::Fen::new(*got)
                                ),
                                amount_fen: Some(due),
                                received_fen: Some(*got),
                            });
                        }
                    }
                }
            }
        }
    }
    // Receiving but not entitled under any version in force: the reason comes from the same
    // explanation a case worker sees, for these few people only (read together, not one by one).
    let mut suspects: Vec<(i64, String, Option<i64>, usize)> = Vec::new();
    for ((pid, code), amount) in &receipts {
        let Some(ks) = by_code.get(code.as_str()) else { continue };
        let row = row_of.get(pid).copied();
        let entitled_anywhere = row.is_some_and(|r| {
            ks.iter()
                .any(|k| matches!(eval.columns[*k].status(r), Status::Entitled | Status::Undetermined))
        });
        if !entitled_anywhere {
            suspects.push((*pid, code.clone(), *amount, ks[0]));
        }
    }
    if !suspects.is_empty() {
        let mut pids: Vec<i64> = suspects.iter().map(|s| s.0).collect();
        pids.sort_unstable();
        pids.dedup();
        let persons = load_persons(db, &pids, as_of)?;
        let last_hukou = last_divisions(db, &pids, as_of)?;
        for (pid, code, amount, k) in suspects {
            let Some(p) = persons.get(&pid) else { continue };
            let item = &rules.items[k];
            let one = evaluate_one(p, catalogue, &rules.params, item, as_of)?;
            let reason = ineligible_reason(p, item, &one, catalogue, as_of);
            let division = one
                .basis_division
                .or_else(|| last_hukou.get(&pid).copied())
                .map(|d| d.full())
                .unwrap_or_default();
            findings.push(Finding {
                kind: KIND_INELIGIBLE.into(),
                person_id: pid,
                version_id: item.version.row.id,
                item_code: code,
                division,
                reason,
                amount_fen: None,
                received_fen: amount,
            });
        }
    }
    findings.extend(reassessments_due(db, catalogue, rules, snapshot, as_of)?);
    Ok(store::sync_work_items(
        db,
        as_of,
        &[KIND_UNCLAIMED, KIND_INELIGIBLE, KIND_AMOUNT, KIND_REASSESSMENT],
        &findings,
        now,
    )?)
}

/// Reassessments due (issue #5 §2): the current capability result started at least one period
/// before the date (the period is the parameter 【能力评估复评周期（月）】 where the person's 户籍
/// is, default 12 — the rule of `yanglao_assessment::reports::overdue`), or an open 即时评估/复评
/// request (A.1.3). One scan of the current results, periods resolved once per division; only
/// people alive and in the jurisdiction of a list in force.
fn reassessments_due(
    db: &Db,
    catalogue: &Catalogue,
    rules: &Rules,
    snapshot: &Snapshot,
    as_of: NaiveDate,
) -> Result<Vec<Finding>, RunError> {
    use yanglao_assessment::reports::{DEFAULT_PERIOD_MONTHS, PERIOD_PARAM};
    let ids = snapshot.person_ids();
    let ids = ids.values();
    let Some(hukou) = snapshot.column("户籍") else {
        return Ok(Vec::new());
    };
    let alive = snapshot
        .column("在世")
        .and_then(|c| arrow_array::cast::AsArray::as_boolean_opt(c.as_ref()).cloned());
    let mut tops: Vec<DivisionCode> = rules.versions.iter().map(|v| v.list.jurisdiction).collect();
    tops.sort();
    tops.dedup();
    let placed = |row: usize| -> Option<DivisionCode> {
        let alive = alive.as_ref().is_some_and(|a| a.value(row));
        let d = division_at(hukou, row)?;
        (alive && tops.iter().any(|t| catalogue.is_within_on(d, *t, as_of))).then_some(d)
    };
    let mut last: HashMap<i64, i32> = HashMap::new();
    db.scan_raw(
        "SELECT person_id, valid_from FROM fact
         WHERE kind = 'capability_level' AND valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)",
        &[Value::Date(as_of)],
        |r| {
            let (p, d) = (r.int(0)?, r.days(1)?.unwrap_or(i32::MIN));
            let e = last.entry(p).or_insert(d);
            *e = (*e).max(d);
            Ok(())
        },
    )?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(as_of);
    let mut months_at: HashMap<DivisionCode, u32> = HashMap::new();
    let mut out = Vec::new();
    let mut people: Vec<(&i64, &i32)> = last.iter().collect();
    people.sort_unstable();
    for (pid, days) in people {
        let Ok(row) = ids.binary_search(pid) else { continue };
        let Some(d) = placed(row) else { continue };
        let months = *months_at.entry(d).or_insert_with(|| {
            match rules
                .params
                .resolve(catalogue, PERIOD_PARAM, d, as_of)
                .map(|e| &e.value)
            {
                Some(yanglao_lists::params::ParamValue::Int(n)) if (1..=120).contains(n) => *n as u32,
                _ => DEFAULT_PERIOD_MONTHS,
            }
        });
        let Some(last_on) = epoch.checked_add_signed(chrono::Duration::days((*days).into())) else {
            continue;
        };
        let Some(due_on) = last_on.checked_add_months(chrono::Months::new(months)) else {
            continue;
        };
        if due_on <= as_of {
            out.push(Finding {
                kind: KIND_REASSESSMENT.into(),
                person_id: *pid,
                version_id: 0,
                item_code: "nengli-zonghe-pinggu".into(),
                division: d.full(),
                reason: format!("上次评估 {last_on}，复评周期 {months} 个月，应于 {due_on} 前复评"),
                amount_fen: None,
                received_fen: None,
            });
        }
    }
    let triggers = yanglao_store::assessments::open_requests(db, &["immediate", "dispute"])?;
    let mut seen: HashSet<i64> = out.iter().map(|f| f.person_id).collect();
    for q in triggers.into_iter().filter(|q| q.requested_on <= as_of) {
        let Ok(row) = ids.binary_search(&q.person_id) else {
            continue;
        };
        let Some(d) = placed(row) else { continue };
        if seen.insert(q.person_id) {
            out.push(Finding {
                kind: KIND_REASSESSMENT.into(),
                person_id: q.person_id,
                version_id: 0,
                item_code: "nengli-zonghe-pinggu".into(),
                division: d.full(),
                reason: format!(
                    "{} 提出{}申请，尚未完成",
                    q.requested_on,
                    if q.reason == "dispute" {
                        "复评"
                    } else {
                        "即时评估"
                    }
                ),
                amount_fen: None,
                received_fen: None,
            });
        }
    }
    Ok(out)
}

/// 死亡, 迁出, or the conditions that no longer hold (不再低保, 年龄 …).
fn ineligible_reason(
    p: &PersonFacts,
    item: &CompiledItem,
    one: &crate::engine::OneOutcome,
    catalogue: &Catalogue,
    as_of: NaiveDate,
) -> String {
    if let Some(d) = p.died {
        return format!("死亡（{d}）");
    }
    match one.status {
        Status::OutOfScope => match one.basis_division {
            Some(d) => format!(
                "迁出：{}现为{}，不在{}",
                item.basis_fact(),
                catalogue.path_name(d, as_of),
                catalogue.name(item.jurisdiction())
            ),
            None => format!("无{}记录", item.basis_fact()),
        },
        _ => {
            let labels = NoLabels;
            let e = explain_item(item, one, p, catalogue, &labels, as_of);
            let failed: Vec<String> = e
                .conditions
                .iter()
                .filter(|c| !c.holds)
                .map(|c| c.text.clone())
                .collect();
            format!("不再符合：{}", failed.join("；"))
        }
    }
}

struct NoLabels;
impl BatchLabels for NoLabels {
    fn label(&self, batch_id: i64) -> (String, String) {
        (String::new(), format!("批次 {batch_id}"))
    }
}

/// Persons with their facts valid on `as_of`, read together (chunks of ids in one query each).
pub fn load_persons(db: &Db, ids: &[i64], as_of: NaiveDate) -> Result<HashMap<i64, PersonFacts>, RunError> {
    let mut out: HashMap<i64, PersonFacts> = HashMap::new();
    for chunk in ids.chunks(500) {
        let list = chunk.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        // One round trip: the person with the facts valid on the date (none: one row of NULLs).
        db.scan(
            &format!(
                "SELECT p.id, p.birth_date, p.sex, f.kind, f.value, f.valid_from, f.batch_id
                 FROM person p LEFT JOIN fact f
                   ON f.person_id = p.id AND f.valid_from <= $1 AND (f.valid_to IS NULL OR f.valid_to > $1)
                 WHERE p.id IN ({list})"
            ),
            &[Value::Date(as_of)],
            |r| {
                let id = r.int(0)?;
                let p = match out.entry(id) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(PersonFacts::new(id, r.date(1)?, Sex::from_code(r.int(2)?)))
                    }
                };
                let kind = r.opt_text(3)?.and_then(|k| FactKind::parse(&k));
                if let Some(kind) = kind {
                    p.apply(
                        kind,
                        &r.text(4)?,
                        Origin {
                            batch_id: r.int(6)?,
                            valid_from: r.date(5)?,
                        },
                    );
                }
                Ok(())
            },
        )?;
    }
    Ok(out)
}

/// The last 户籍 each person had on or before `as_of`, even if it has ended (death, move):
/// where a work item for someone no longer placed belongs.
fn last_divisions(db: &Db, ids: &[i64], as_of: NaiveDate) -> Result<HashMap<i64, DivisionCode>, RunError> {
    let mut out: HashMap<i64, (NaiveDate, DivisionCode)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let list = chunk.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        db.scan(
            &format!("SELECT person_id, value, valid_from FROM fact WHERE kind = 'hukou' AND person_id IN ({list}) AND valid_from <= $1"),
            &[Value::Date(as_of)],
            |r| {
                let (pid, from) = (r.int(0)?, r.date(2)?);
                if let Ok(d) = DivisionCode::parse(&r.text(1)?) {
                    let e = out.entry(pid).or_insert((from, d));
                    if from >= e.0 {
                        *e = (from, d);
                    }
                }
                Ok(())
            },
        )?;
    }
    Ok(out.into_iter().map(|(k, v)| (k, v.1)).collect())
}

/// Labels of import batches for citing sources.
pub struct DbBatchLabels {
    labels: HashMap<i64, (String, String)>,
}

impl DbBatchLabels {
    pub fn load(db: &Db, person: &PersonFacts) -> Result<DbBatchLabels, RunError> {
        let mut labels = HashMap::new();
        let mut ids: Vec<i64> = person.chosen.iter().flatten().map(|c| c.origin.batch_id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(DbBatchLabels { labels });
        }
        let list = ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        db.scan(
            &format!("SELECT id, department, file_name, started_at FROM import_batch WHERE id IN ({list})"),
            &[],
            |r| {
                let department = r.text(1)?;
                let department = yanglao_domain::Department::parse(&department)
                    .map(|d| d.label().to_string())
                    .unwrap_or(department);
                labels.insert(
                    r.int(0)?,
                    (
                        department,
                        format!(" {} 批次（{}）", r.time(3)?.format("%Y-%m"), r.text(2)?),
                    ),
                );
                Ok(())
            },
        )?;
        Ok(DbBatchLabels { labels })
    }
}

impl BatchLabels for DbBatchLabels {
    fn label(&self, batch_id: i64) -> (String, String) {
        self.labels
            .get(&batch_id)
            .cloned()
            .unwrap_or_else(|| ("未知来源".into(), format!("批次 {batch_id}")))
    }
}

/// A person's explanation on a date.
#[derive(Debug, Clone, Serialize)]
pub struct PersonExplanation {
    pub person_id: i64,
    pub as_of: NaiveDate,
    pub alive: bool,
    pub items: Vec<ItemExplanation>,
}

/// Every item in force for one person, entitled or not, with why — facts read from the
/// database now (not from a stored run), so it is right even between runs.
pub fn explain_person(
    db: &Db,
    catalogue: &Catalogue,
    rules: &Rules,
    person_id: i64,
    as_of: NaiveDate,
) -> Result<PersonExplanation, RunError> {
    let persons = load_persons(db, &[person_id], as_of)?;
    let person = persons
        .get(&person_id)
        .ok_or_else(|| RunError::NotFound(format!("登记中没有编号为 {person_id} 的人员")))?;
    let labels = DbBatchLabels::load(db, person)?;
    let mut items = Vec::new();
    for item in &rules.items {
        let one = evaluate_one(person, catalogue, &rules.params, item, as_of)?;
        items.push(explain_item(item, &one, person, catalogue, &labels, as_of));
    }
    Ok(PersonExplanation {
        person_id,
        as_of,
        alive: person.alive(),
        items,
    })
}

/// People a list rule needs a capability level for (issue #5: "automatically when a list rule
/// needs a level"): alive and in scope of an item whose eligibility reads 已评估 or 能力等级, not
/// assessed, not entitled now, and entitled if they were assessed at the most impaired level —
/// so the missing assessment is the only thing between them and the item. Decided over the whole snapshot with
/// the columns 已评估/能力等级 replaced; returns (person, item name), one item per person.
pub fn assessment_candidates(
    snapshot: &Snapshot,
    catalogue: &Catalogue,
    rules: &Rules,
) -> Result<Vec<(i64, String)>, RunError> {
    use arrow_array::cast::AsArray;
    use std::sync::Arc;
    let Some(assessed) = snapshot.column("已评估").and_then(|c| c.as_boolean_opt().cloned()) else {
        return Ok(Vec::new());
    };
    let n = snapshot.len();
    // The "what if assessed at level 4" snapshot: same rows, two columns replaced.
    let schema = snapshot.batch.schema();
    let mut columns: Vec<arrow_array::ArrayRef> = snapshot.batch.columns().to_vec();
    for (i, f) in schema.fields().iter().enumerate() {
        match f.name().as_str() {
            "已评估" => columns[i] = Arc::new(arrow_array::BooleanArray::from(vec![true; n])),
            "能力等级" => {
                let levels = columns[i].as_primitive::<arrow_array::types::Int64Type>();
                let filled: arrow_array::Int64Array = levels.iter().map(|v| Some(v.unwrap_or(4))).collect();
                columns[i] = Arc::new(filled);
            }
            _ => {}
        }
    }
    let batch = arrow_array::RecordBatch::try_new(schema, columns).map_err(|e| RunError::NotFound(e.to_string()))?;
    let what_if = Snapshot {
        as_of: snapshot.as_of,
        batch,
    };
    let ids = snapshot.person_ids();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut out = Vec::new();
    let mut scopes = HashMap::new();
    for item in &rules.items {
        let Some(rule) = &item.eligibility else { continue };
        // Only items that pay an amount (护理补贴, 特困 照料护理): for services such as 巡访关爱 the
        // level is one way in among several, and requesting an assessment for everyone who has
        // none would bury the assessors' queue (measured on the demo: half the population).
        if item.amount.is_none() {
            continue;
        }
        let mut read = Vec::new();
        crate::explain::facts_read(rule, &mut read);
        if !read.iter().any(|f| f == "已评估" || f == "能力等级") {
            continue;
        }
        let scope = cached_scope(&mut scopes, snapshot, catalogue, &rules.params, item)?;
        let now = evaluate_in_scope(snapshot, catalogue, &rules.params, item, scope)?;
        let col = evaluate_in_scope(&what_if, catalogue, &rules.params, item, scope)?;
        // Entitled only if assessed: not already entitled (or undetermined) without it.
        let gained = &col.entitled & &!&(&now.entitled | &now.undetermined);
        for row in gained.set_indices() {
            if assessed.value(row) {
                continue;
            }
            let pid = ids.value(row);
            if seen.insert(pid) {
                out.push((pid, item.item().name.clone()));
            }
        }
    }
    Ok(out)
}
