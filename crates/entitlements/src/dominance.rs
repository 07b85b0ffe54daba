//! Dominance by simulation over the registry (issue #3 §4): a lower list "覆盖范围和标准不低于国家
//! 和自治区相关要求" (000 §二(一)2). The upper lists in force and the lower list are evaluated over
//! the same snapshot with the batch engine; every (person, item) where the lower list gives less is
//! named: the upper list entitles and the lower one does not (or lacks the item, or cannot decide),
//! or the lower amount is smaller. Only people the lower list is responsible for are compared:
//! alive and placed in the lower jurisdiction by the upper item's basis (户籍 or 常住地). Where the
//! upper list itself cannot decide (a local parameter not set) or leaves an item to a case worker,
//! there is nothing to compare against and the person is not named.
//!
//! The structural check (`yanglao_lists::dominance::structural`) runs beside it: it catches a
//! missing item even where no person in the registry is affected yet, and the simulation catches
//! what no structure shows (an age limit raised from 80 to 85 with the same amount).
//!
//! Publishing a version runs both ([`publish`]); see ARCHITECTURE.md for why at publication.

use std::collections::{BTreeMap, HashMap};

use arrow_array::BooleanArray;
use arrow_buffer::BooleanBuffer;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use yanglao_domain::{Catalogue, IdNumber};
use yanglao_lists::dominance::{structural, Finding};
use yanglao_lists::model::{ListVersion, Period};
use yanglao_lists::service::ServiceError;
use yanglao_store::lists::VersionRow;
use yanglao_store::{Db, Value};

use crate::engine::{cached_scope, evaluate_in_scope, placed, versions_in_force, AppliedVersion, ItemColumn, Status};
use crate::run::{Rules, RunError};
use crate::snapshot::Snapshot;

/// Why a person gets less under the lower list for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lack {
    /// The lower list has no item with this code.
    ItemMissing,
    /// The lower list's rule does not entitle the person (or does not reach them).
    NotEntitled,
    /// The lower list cannot decide (a parameter it needs is not set for the person's division).
    Undetermined,
    /// The lower list leaves the item to a case worker (no rule) where the upper one decides.
    Manual,
    /// Entitled under both, with a smaller amount under the lower list.
    LowerAmount,
}

impl Lack {
    pub fn label(self) -> &'static str {
        match self {
            Lack::ItemMissing => "下级清单没有此项",
            Lack::NotEntitled => "下级清单不予享受",
            Lack::Undetermined => "下级清单无法判定（参数未设置）",
            Lack::Manual => "下级清单改为人工认定",
            Lack::LowerAmount => "下级清单金额较低",
        }
    }
}

/// One person and one item where the lower list gives less.
#[derive(Debug, Clone, Serialize)]
pub struct Shortfall {
    pub person_id: i64,
    /// Masked (`150102********123X`).
    pub id_number: String,
    pub name: String,
    pub item_code: String,
    pub item_name: String,
    /// The upper list that entitles the person.
    pub upper_title: String,
    pub lack: Lack,
    /// Per period of the upper item, in fen.
    pub upper_amount_fen: Option<i64>,
    pub upper_period: Option<&'static str>,
    pub lower_amount_fen: Option<i64>,
    pub lower_period: Option<&'static str>,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let money = |a: Option<i64>, p: Option<&str>| match a {
            Some(a) => format!(
                "{}元{}",
                yanglao_domain::Fen::new(a),
                p.map(|p| format!("/{p}")).unwrap_or_default()
            ),
            None => "—".to_string(),
        };
        write!(
            f,
            "{} {}：“{}”在《{}》应享",
            self.name, self.id_number, self.item_name, self.upper_title
        )?;
        if self.upper_amount_fen.is_some() {
            write!(f, "（{}）", money(self.upper_amount_fen, self.upper_period))?;
        }
        write!(f, "，{}", self.lack.label())?;
        if self.lack == Lack::LowerAmount {
            write!(f, "（{}）", money(self.lower_amount_fen, self.lower_period))?;
        }
        Ok(())
    }
}

/// The simulation's result.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationCheck {
    pub as_of: NaiveDate,
    pub lower_title: String,
    pub lower_jurisdiction: String,
    /// The upper lists in force compared against, by title.
    pub uppers: Vec<String>,
    /// People alive on the date whose 户籍 or 常住地 lies in the lower jurisdiction.
    pub persons_in_scope: usize,
    /// Upper items with a rule a machine can apply, compared person by person.
    pub items_compared: usize,
    pub shortfalls: Vec<Shortfall>,
}

impl SimulationCheck {
    pub fn passed(&self) -> bool {
        self.shortfalls.is_empty()
    }

    /// (item code, item name, persons) for the items with a shortfall, in list order.
    pub fn by_item(&self) -> Vec<(String, String, usize)> {
        let mut out: Vec<(String, String, usize)> = Vec::new();
        for s in &self.shortfalls {
            match out.iter_mut().find(|(c, _, _)| *c == s.item_code) {
                Some(e) => e.2 += 1,
                None => out.push((s.item_code.clone(), s.item_name.clone(), 1)),
            }
        }
        out
    }
}

/// Both checks against the lists above.
#[derive(Debug, Clone, Serialize)]
pub struct DominanceCheck {
    /// (upper list title, finding).
    pub structural: Vec<(String, Finding)>,
    pub simulation: SimulationCheck,
}

impl DominanceCheck {
    pub fn passed(&self) -> bool {
        self.structural.is_empty() && self.simulation.passed()
    }

    /// A few lines in Chinese naming items and persons (at most `per_item` persons per item).
    pub fn summary(&self, per_item: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (upper, f) in &self.structural {
            out.push(format!("对照《{upper}》：{f}"));
        }
        let sim = &self.simulation;
        for (code, name, n) in sim.by_item() {
            out.push(format!(
                "“{name}”：{n} 人在下级清单中所得低于上级（截至 {}）",
                sim.as_of
            ));
            for s in sim.shortfalls.iter().filter(|s| s.item_code == code).take(per_item) {
                out.push(format!("  {s}"));
            }
            if n > per_item {
                out.push(format!("  ……另有 {} 人", n - per_item));
            }
        }
        out
    }
}

fn period_label(p: Option<Period>) -> Option<&'static str> {
    p.map(|p| match p {
        Period::Month => "月",
        Period::Year => "年",
        Period::Once => "一次",
    })
}

fn per_year(p: Option<Period>) -> i64 {
    match p {
        Some(Period::Month) => 12,
        _ => 1,
    }
}

/// The versions in force on `as_of` above `lower`: a higher level whose jurisdiction contains
/// the lower one's.
pub fn uppers_in_force(
    db: &Db,
    catalogue: &Catalogue,
    lower: &ListVersion,
    as_of: NaiveDate,
) -> Result<Vec<AppliedVersion>, RunError> {
    Ok(versions_in_force(db, as_of)?
        .into_iter()
        .filter(|v| is_above(catalogue, &v.list, lower, as_of))
        .collect())
}

fn is_above(catalogue: &Catalogue, upper: &ListVersion, lower: &ListVersion, as_of: NaiveDate) -> bool {
    upper.level < lower.level
        && upper.jurisdiction != lower.jurisdiction
        && (upper.is_national()
            || lower.jurisdiction.is_within(upper.jurisdiction)
            || catalogue.is_within_on(lower.jurisdiction, upper.jurisdiction, as_of))
}

/// Evaluates the upper lists and `lower` over `snapshot` and names every (person, item) where
/// `lower` gives less. Each upper item is evaluated once for everyone (Arrow kernels), the
/// comparison walks only the rows the upper item entitles inside the lower jurisdiction.
pub fn simulate(
    db: &Db,
    catalogue: &Catalogue,
    snapshot: &Snapshot,
    uppers: &[AppliedVersion],
    lower: &AppliedVersion,
) -> Result<SimulationCheck, RunError> {
    let lower_j = lower.list.jurisdiction;
    let mut check = SimulationCheck {
        as_of: snapshot.as_of,
        lower_title: lower.list.title.clone(),
        lower_jurisdiction: lower_j.short(),
        uppers: uppers.iter().map(|u| u.list.title.clone()).collect(),
        persons_in_scope: 0,
        items_compared: 0,
        shortfalls: Vec::new(),
    };
    let upper_rules = Rules::from_versions(db, uppers.to_vec())?;
    let lower_rules = Rules::from_versions(db, vec![lower.clone()])?;

    // Whom the lower list answers for, by basis.
    let mut placed_by: HashMap<&'static str, BooleanArray> = HashMap::new();
    for basis in ["户籍", "常住地"] {
        placed_by.insert(basis, placed(snapshot, catalogue, &lower_rules.params, basis, lower_j)?);
    }
    check.persons_in_scope = match (placed_by.get("户籍"), placed_by.get("常住地")) {
        (Some(a), Some(b)) => (a.values() | b.values()).count_set_bits(),
        _ => 0,
    };

    let (mut upper_scopes, mut lower_scopes) = (HashMap::new(), HashMap::new());
    let mut lower_cols: HashMap<usize, ItemColumn> = HashMap::new();
    // Shortfalls without the person's name yet (one query for all of them at the end).
    let mut found: Vec<Shortfall> = Vec::new();
    for u in &upper_rules.items {
        if u.eligibility.is_none() {
            continue; // a case worker decides under the upper list too
        }
        check.items_compared += 1;
        let Some(in_lower) = placed_by.get(u.basis_fact()) else {
            continue;
        };
        let scope = cached_scope(&mut upper_scopes, snapshot, catalogue, &upper_rules.params, u)?;
        let ucol = evaluate_in_scope(snapshot, catalogue, &upper_rules.params, u, scope)?;
        let rows: BooleanBuffer = &ucol.entitled & in_lower.values();
        if rows.count_set_bits() == 0 {
            continue;
        }
        let l_index = lower_rules.items.iter().position(|l| l.code() == u.code());
        let lcol = match l_index {
            Some(i) => {
                if let std::collections::hash_map::Entry::Vacant(e) = lower_cols.entry(i) {
                    let li = &lower_rules.items[i];
                    let s = cached_scope(&mut lower_scopes, snapshot, catalogue, &lower_rules.params, li)?;
                    e.insert(evaluate_in_scope(snapshot, catalogue, &lower_rules.params, li, s)?);
                }
                lower_cols.get(&i)
            }
            None => None,
        };
        let l_item = l_index.map(|i| &lower_rules.items[i]);
        let (u_period, l_period) = (u.period(), l_item.and_then(|l| l.period()));
        for row in rows.set_indices() {
            let upper_amount = ucol.amount(row);
            let (lack, lower_amount) = match lcol {
                None => (Some(Lack::ItemMissing), None),
                Some(lc) => match lc.status(row) {
                    Status::Entitled => {
                        let la = lc.amount(row);
                        let less = match (upper_amount, la) {
                            (Some(ua), la) => {
                                let la = la.unwrap_or(0);
                                if u_period == l_period {
                                    la < ua
                                } else {
                                    la * per_year(l_period) < ua * per_year(u_period)
                                }
                            }
                            (None, _) => false,
                        };
                        (less.then_some(Lack::LowerAmount), la)
                    }
                    Status::Undetermined => (Some(Lack::Undetermined), None),
                    Status::Manual => (Some(Lack::Manual), None),
                    Status::NotEntitled | Status::OutOfScope => (Some(Lack::NotEntitled), None),
                },
            };
            let Some(lack) = lack else { continue };
            found.push(Shortfall {
                person_id: snapshot.person_ids().value(row),
                id_number: String::new(),
                name: String::new(),
                item_code: u.code().to_string(),
                item_name: u.item().name.clone(),
                upper_title: u.version.list.title.clone(),
                lack,
                upper_amount_fen: upper_amount,
                upper_period: period_label(u_period),
                lower_amount_fen: lower_amount,
                lower_period: period_label(l_period),
            });
        }
    }
    let names = names_of(db, found.iter().map(|s| s.person_id))?;
    check.shortfalls = found
        .into_iter()
        .map(|mut s| {
            if let Some((id, name)) = names.get(&s.person_id) {
                s.id_number = id.clone();
                s.name = name.clone();
            }
            s
        })
        .collect();
    Ok(check)
}

/// Masked ID numbers and names of the given persons, in chunks of one query each.
fn names_of(db: &Db, ids: impl Iterator<Item = i64>) -> Result<BTreeMap<i64, (String, String)>, RunError> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, id_number, name FROM person WHERE id IN ({})",
            marks.join(",")
        );
        let params: Vec<Value> = chunk.iter().map(|i| Value::Int(*i)).collect();
        for r in db.query(&sql, &params)? {
            let raw = r.text(1)?;
            let masked = IdNumber::parse(&raw)
                .map(|i| i.masked())
                .unwrap_or_else(|_| yanglao_registry::sources::mask_raw(&raw));
            out.insert(r.int(0)?, (masked, r.text(2)?));
        }
    }
    Ok(out)
}

/// Structural check against every upper list in force, and the simulation over the registry
/// on `as_of`. Without a list above, nothing is read from the registry.
pub fn check(
    db: &Db,
    catalogue: &Catalogue,
    lower: &AppliedVersion,
    as_of: NaiveDate,
) -> Result<DominanceCheck, RunError> {
    let uppers = uppers_in_force(db, catalogue, &lower.list, as_of)?;
    let structural_findings = uppers
        .iter()
        .flat_map(|u| {
            structural(&u.list, &lower.list)
                .into_iter()
                .map(|f| (u.list.title.clone(), f))
        })
        .collect();
    let simulation = if uppers.is_empty() {
        SimulationCheck {
            as_of,
            lower_title: lower.list.title.clone(),
            lower_jurisdiction: lower.list.jurisdiction.short(),
            uppers: Vec::new(),
            persons_in_scope: 0,
            items_compared: 0,
            shortfalls: Vec::new(),
        }
    } else {
        let snapshot = Snapshot::load(db, as_of)?;
        simulate(db, catalogue, &snapshot, &uppers, lower)?
    };
    Ok(DominanceCheck {
        structural: structural_findings,
        simulation,
    })
}

/// The date a version is checked on at publication: its effective date, or today when that has
/// passed (the registry as it is known now; a later upper list in force today counts).
pub fn check_date(effective_from: NaiveDate, today: NaiveDate) -> NaiveDate {
    effective_from.max(today)
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("不予发布：下级清单低于上级清单。{}", .0.summary(20).join("\n"))]
    Refused(Box<DominanceCheck>),
}

/// Publishes version `id` (maker-checker as in `yanglao_lists::service::publish`) after the
/// dominance check on `as_of` (default [`check_date`]); a version that gives anyone less than a
/// list above is refused with the items and persons named, and nothing is written.
pub fn publish(
    db: &Db,
    catalogue: &Catalogue,
    id: i64,
    by: &str,
    now: DateTime<Utc>,
    today: NaiveDate,
    as_of: Option<NaiveDate>,
) -> Result<DominanceCheck, PublishError> {
    let mut report = None;
    yanglao_lists::service::publish(db, id, by, now, |row: &VersionRow, v: &ListVersion| {
        let applied = AppliedVersion {
            row: row.clone(),
            list: v.clone(),
        };
        let date = as_of.unwrap_or_else(|| check_date(v.effective_from, today));
        let c = check(db, catalogue, &applied, date)?;
        if !c.passed() {
            return Err(PublishError::Refused(Box::new(c)));
        }
        report = Some(c);
        Ok(())
    })?;
    report.ok_or(PublishError::Service(ServiceError::NotFound))
}
