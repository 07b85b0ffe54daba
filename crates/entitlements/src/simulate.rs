//! 调整测算: what a draft list version or a parameter change would cost and whom it would reach,
//! against what is in force, on the same snapshot. Items are matched by jurisdiction and code.
//!
//! Yearly cost: a monthly amount counts 12 times, a yearly one once, a one-off once. The split by
//! paying level follows the shares a jurisdiction sets (parameters [`SHARE_PARAMS`], in per cent,
//! most specific division first like any parameter); the lists say "分级承担" without the
//! shares, so until they are set the cost is shown as 未定分担比例 rather than guessed.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;
use yanglao_domain::{Catalogue, DivisionCode, DivisionLevel};
use yanglao_lists::model::Period;

use crate::engine::ItemColumn;
use crate::engine::{cached_scope, evaluate_in_scope, CompiledItem};
use crate::run::{Rules, RunError};
use crate::snapshot::{division_at, Snapshot};

/// Shares of the cost by paying level, in per cent, set by a jurisdiction.
pub const SHARE_PARAMS: [(&str, &str); 3] = [
    ("省级", "省级财政分担比例（%）"),
    ("地市级", "地市级财政分担比例（%）"),
    ("县级", "县级财政分担比例（%）"),
];
pub const UNSPLIT: &str = "未定分担比例";

fn times_per_year(p: Option<Period>) -> i64 {
    match p {
        Some(Period::Month) => 12,
        _ => 1,
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ItemImpact {
    pub code: String,
    pub name: String,
    pub base_people: i64,
    pub new_people: i64,
    pub gained: i64,
    pub lost: i64,
    pub base_cost_fen: i64,
    pub new_cost_fen: i64,
    /// Change in yearly cost by paying level (省级 / 地市级 / 县级 / 未定分担比例).
    pub by_level: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct DivisionImpact {
    pub division: String,
    pub name: String,
    pub gained: i64,
    pub lost: i64,
    pub cost_change_fen: i64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Simulation {
    pub as_of: Option<NaiveDate>,
    pub persons: usize,
    pub items: Vec<ItemImpact>,
    pub divisions: Vec<DivisionImpact>,
    pub gained_total: i64,
    pub lost_total: i64,
    pub cost_change_fen: i64,
    /// Some of the people gained (ids), for a look at who they are.
    pub gained_sample: Vec<i64>,
    pub lost_sample: Vec<i64>,
    /// Items whose rules and parameters are the same in both: not evaluated, no change.
    pub unchanged_items: usize,
    pub evaluate_ms: u128,
}

impl Simulation {
    /// True when the change reaches nobody and costs nothing: say so instead of empty tables.
    pub fn affects_nobody(&self) -> bool {
        self.gained_total == 0
            && self.lost_total == 0
            && self.cost_change_fen == 0
            && self.items.iter().all(|i| i.base_cost_fen == i.new_cost_fen)
    }
}

fn key(item: &CompiledItem) -> (DivisionCode, String) {
    (item.jurisdiction(), item.code().to_string())
}

/// The county (or the closest level above) of a division, for the by-division table.
fn county_of(d: DivisionCode) -> DivisionCode {
    d.ancestor(DivisionLevel::County).unwrap_or(d)
}

/// Items that cannot differ: same rules, basis, period and jurisdiction, and every parameter
/// they read has the same values in both. They are not evaluated at all.
fn unchanged(a: &CompiledItem, b: &CompiledItem, pa: &crate::params::ParamBook, pb: &crate::params::ParamBook) -> bool {
    let (x, y) = (a.item(), b.item());
    if x.eligibility != y.eligibility
        || x.amount != y.amount
        || x.basis != y.basis
        || x.period != y.period
        || a.jurisdiction() != b.jurisdiction()
    {
        return false;
    }
    let mut names = Vec::new();
    for e in [&a.eligibility, &a.amount].into_iter().flatten() {
        crate::explain::params_read(e, &mut names);
    }
    names.iter().all(|n| pa.same_values(pb, n)) && SHARE_PARAMS.iter().all(|(_, n)| pa.same_values(pb, n))
}

type ScopeCache = HashMap<(i64, &'static str), arrow_array::BooleanArray>;

fn eval_item(
    snapshot: &Snapshot,
    catalogue: &Catalogue,
    rules: &Rules,
    i: usize,
    scopes: &mut ScopeCache,
) -> Result<ItemColumn, RunError> {
    let item = &rules.items[i];
    let scope = cached_scope(scopes, snapshot, catalogue, &rules.params, item)?;
    Ok(evaluate_in_scope(snapshot, catalogue, &rules.params, item, scope)?)
}

/// Compares `new` against `base` on one snapshot.
pub fn compare(snapshot: &Snapshot, catalogue: &Catalogue, base: &Rules, new: &Rules) -> Result<Simulation, RunError> {
    let t = Instant::now();
    let n = snapshot.len();
    let base_by_key: HashMap<(DivisionCode, String), usize> =
        base.items.iter().enumerate().map(|(i, it)| (key(it), i)).collect();
    let new_by_key: HashMap<(DivisionCode, String), usize> =
        new.items.iter().enumerate().map(|(i, it)| (key(it), i)).collect();
    let mut keys: Vec<(DivisionCode, String)> = base_by_key.keys().chain(new_by_key.keys()).cloned().collect();
    keys.sort();
    keys.dedup();

    let ids = snapshot.person_ids();
    let mut sim = Simulation {
        as_of: Some(snapshot.as_of),
        persons: n,
        ..Default::default()
    };
    let mut by_division: BTreeMap<DivisionCode, DivisionImpact> = BTreeMap::new();
    let empty = ItemColumn::out_of_scope(n);
    let (mut base_scopes, mut new_scopes) = (ScopeCache::new(), ScopeCache::new());
    // Shares are resolved once per distinct division.
    let mut shares_cache: HashMap<DivisionCode, Option<Vec<(String, i64)>>> = HashMap::new();
    for k in keys {
        let b = base_by_key.get(&k).copied();
        let w = new_by_key.get(&k).copied();
        if let (Some(x), Some(y)) = (b, w) {
            if unchanged(&base.items[x], &new.items[y], &base.params, &new.params) {
                sim.unchanged_items += 1;
                continue;
            }
        }
        let b_owned = b
            .map(|i| eval_item(snapshot, catalogue, base, i, &mut base_scopes))
            .transpose()?;
        let w_owned = w
            .map(|i| eval_item(snapshot, catalogue, new, i, &mut new_scopes))
            .transpose()?;
        let b_col = b_owned.as_ref().unwrap_or(&empty);
        let w_col = w_owned.as_ref().unwrap_or(&empty);
        let b_item = b.map(|i| &base.items[i]);
        let w_item = w.map(|i| &new.items[i]);
        let Some(any) = w_item.or(b_item) else { continue };
        let b_times = b_item.map_or(1, |i| times_per_year(i.period()));
        let w_times = w_item.map_or(1, |i| times_per_year(i.period()));
        let basis = snapshot.column(any.basis_fact());
        let mut imp = ItemImpact {
            code: any.code().to_string(),
            name: any.item().name.clone(),
            ..Default::default()
        };
        // Only rows entitled under either version can cost something or change.
        let either = &b_col.entitled | &w_col.entitled;
        for row in either.set_indices() {
            let was = b_col.entitled.value(row);
            let is = w_col.entitled.value(row);
            let was_cost = if was {
                b_col.amount(row).unwrap_or(0) * b_times
            } else {
                0
            };
            let is_cost = if is {
                w_col.amount(row).unwrap_or(0) * w_times
            } else {
                0
            };
            imp.base_people += i64::from(was);
            imp.new_people += i64::from(is);
            imp.base_cost_fen += was_cost;
            imp.new_cost_fen += is_cost;
            let delta = is_cost - was_cost;
            if was == is && delta == 0 {
                continue;
            }
            let division = basis.and_then(|c| division_at(c, row));
            if is && !was {
                imp.gained += 1;
                if sim.gained_sample.len() < 50 {
                    sim.gained_sample.push(ids.value(row));
                }
            }
            if was && !is {
                imp.lost += 1;
                if sim.lost_sample.len() < 50 {
                    sim.lost_sample.push(ids.value(row));
                }
            }
            if let Some(d) = division {
                let county = county_of(d);
                let e = by_division.entry(county).or_insert_with(|| DivisionImpact {
                    division: county.short(),
                    name: catalogue.path_name(county, snapshot.as_of),
                    ..Default::default()
                });
                e.gained += i64::from(is && !was);
                e.lost += i64::from(was && !is);
                e.cost_change_fen += delta;
                let shares = shares_cache
                    .entry(d)
                    .or_insert_with(|| shares_for(new, catalogue, d, snapshot.as_of))
                    .clone();
                match shares {
                    Some(s) => {
                        let mut rest = delta;
                        for (i, (level, pct)) in s.iter().enumerate() {
                            // Rounding remainder goes to the last level so the parts add up.
                            let part = if i + 1 == s.len() { rest } else { delta * pct / 100 };
                            rest -= part;
                            *imp.by_level.entry(level.clone()).or_default() += part;
                        }
                    }
                    None => *imp.by_level.entry(UNSPLIT.into()).or_default() += delta,
                }
            } else {
                *imp.by_level.entry(UNSPLIT.into()).or_default() += delta;
            }
        }
        sim.gained_total += imp.gained;
        sim.lost_total += imp.lost;
        sim.cost_change_fen += imp.new_cost_fen - imp.base_cost_fen;
        sim.items.push(imp);
    }
    sim.divisions = by_division.into_values().collect();
    sim.evaluate_ms = t.elapsed().as_millis();
    Ok(sim)
}

/// The shares in force for a division, if all three are set and add up to 100.
fn shares_for(rules: &Rules, catalogue: &Catalogue, d: DivisionCode, as_of: NaiveDate) -> Option<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for (level, name) in SHARE_PARAMS {
        let e = rules.params.resolve(catalogue, name, d, as_of)?;
        match e.value {
            yanglao_lists::params::ParamValue::Int(p) => out.push((level.to_string(), p)),
            _ => return None,
        }
    }
    (out.iter().map(|s| s.1).sum::<i64>() == 100).then_some(out)
}
