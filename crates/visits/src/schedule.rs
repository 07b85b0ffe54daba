//! How often, and who is due: a visit interval per risk tier set by the jurisdiction (001 §4
//! "根据老年人状况合理确定服务频次"), defaults from standards/README.md §5 (高风险 weekly, 重点 monthly,
//! 一般 quarterly), the national floor for 失能 ("每月探访关爱不少于一次"), and campaign windows
//! (extreme weather, festivals) during which the tiers a jurisdiction names need one more visit.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use yanglao_domain::{Catalogue, DivisionCode};
use yanglao_store::visits::{self as store, CampaignRow};
use yanglao_store::Db;

use crate::roster::{roster, roster_of, Member, Params, Who};
use crate::{Result, Tier, EFFECTIVE_MODES};

/// The interval parameter of a tier (days between effective visits).
pub fn interval_param(tier: Tier) -> &'static str {
    match tier {
        Tier::High => "探访间隔（天）·高风险",
        Tier::Key => "探访间隔（天）·重点",
        Tier::General => "探访间隔（天）·一般",
    }
}

/// Every parameter this module reads, for `yanglao param set` (all integers).
pub const PARAMS: [&str; 5] = [
    "探访间隔（天）·高风险",
    "探访间隔（天）·重点",
    "探访间隔（天）·一般",
    crate::roster::AGE_PARAM,
    crate::roster::DISABLED_PARAM,
];

pub fn default_interval(tier: Tier) -> i64 {
    match tier {
        Tier::High => 7,
        Tier::Key => 30,
        Tier::General => 90,
    }
}

/// "每月不少于一次" for 失能 as a 30-day interval at most, whatever the tier's parameter says.
pub const DISABLED_MAX_INTERVAL: i64 = 30;

/// The interval for a member where they live on `date`.
pub fn interval_for(params: &Params, cat: &Catalogue, m: &Member, date: NaiveDate) -> i64 {
    let days = params
        .int(cat, interval_param(m.tier), m.division, date)
        .filter(|d| (1..=366).contains(d))
        .unwrap_or_else(|| default_interval(m.tier));
    if m.disabled() {
        days.min(DISABLED_MAX_INTERVAL)
    } else {
        days
    }
}

/// One person on the list with their next visit.
#[derive(Debug, Clone, Serialize)]
pub struct DueEntry {
    pub member: Member,
    pub last_visit: Option<NaiveDate>,
    pub interval_days: i64,
    pub due_on: NaiveDate,
    pub overdue_days: i64,
    /// The campaign that brings the date forward, if any.
    pub campaign: Option<String>,
    pub visitors: Vec<i64>,
}

impl DueEntry {
    pub fn overdue(&self) -> bool {
        self.overdue_days > 0
    }
}

fn campaign_applies(c: &CampaignRow, cat: &Catalogue, m: &Member, on: NaiveDate) -> bool {
    let in_tiers = c.tiers.split('、').any(|t| Tier::parse(t) == Some(m.tier));
    in_tiers
        && DivisionCode::parse(&c.division)
            .map(|d| cat.is_within_on(m.division, d, on))
            .unwrap_or(false)
}

/// Everyone on the list on `today` (within `scope`, assigned to `visitor` if given) with the
/// date their next effective visit is due, soonest first. Three set-based reads: the roster, each
/// person's last effective visit, the running assignments.
pub fn due_list(
    db: &Db,
    cat: &Catalogue,
    today: NaiveDate,
    scope: Option<DivisionCode>,
    visitor: Option<i64>,
) -> Result<Vec<DueEntry>> {
    let params = Params::load(db)?;
    let assigned = store::assignments_on(db, today)?;
    // A visitor's list reads only the people assigned to them.
    let theirs: Vec<i64> = match visitor {
        Some(v) => assigned
            .iter()
            .filter(|(_, vs)| vs.contains(&v))
            .map(|(p, _)| *p)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let list = match (visitor, scope) {
        (Some(_), _) => {
            let mut l = roster_of(db, cat, &params, today, Who::People(&theirs))?;
            if let Some(s) = scope {
                l.members.retain(|m| cat.is_within_on(m.division, s, today));
            }
            l
        }
        (None, s) => roster(db, cat, &params, today, s)?,
    };
    let last = store::last_visits(db, &EFFECTIVE_MODES, today)?;
    let campaigns = store::campaigns_overlapping(db, today, today)?;
    // Effective visits since each running campaign began, to tell who still needs the extra one.
    let mut since: HashMap<i64, HashMap<i64, i64>> = HashMap::new();
    for c in &campaigns {
        since.insert(c.id, store::visited_between(db, &EFFECTIVE_MODES, c.starts_on, today)?);
    }
    let mut out = Vec::new();
    for m in list.members {
        let visitors = assigned.get(&m.person_id).cloned().unwrap_or_default();
        if let Some(v) = visitor {
            if !visitors.contains(&v) {
                continue;
            }
        }
        let interval = interval_for(&params, cat, &m, today);
        let last_visit = last.get(&m.person_id).copied();
        // Never visited: due now (the first visit is the 摸底 the guidance asks for).
        let mut due_on = last_visit.map_or(today, |d| d + Duration::days(interval));
        let mut campaign = None;
        for c in &campaigns {
            let done = since.get(&c.id).is_some_and(|s| s.contains_key(&m.person_id));
            if !done && campaign_applies(c, cat, &m, today) && c.ends_on < due_on {
                due_on = c.ends_on;
                campaign = Some(format!("{}（{}，{} 至 {}）", c.name, c.reason, c.starts_on, c.ends_on));
            }
        }
        out.push(DueEntry {
            overdue_days: (today - due_on).num_days().max(0),
            member: m,
            last_visit,
            interval_days: interval,
            due_on,
            campaign,
            visitors,
        });
    }
    out.sort_by_key(|e| (e.due_on, e.member.person_id));
    Ok(out)
}
