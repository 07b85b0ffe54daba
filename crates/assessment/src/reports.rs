//! Population views of the assessments, as of a date: who is overdue for reassessment in a
//! division, and how many are assessed by level and division (with the share of people aged 65
//! and over, to whom 000 list item 4 offers the assessment). Both read the registry's
//! `capability_level` facts, so results from every source count once.

use std::collections::HashMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Serialize;
use yanglao_domain::dates::age_on;
use yanglao_domain::{Catalogue, DivisionCode, DivisionLevel};
use yanglao_lists::params::{self, ParamValue};
use yanglao_rules::Type;
use yanglao_store::assessments::{self as store, PersonLevel, RequestRow};
use yanglao_store::lists::ParamValueRow;
use yanglao_store::Db;

use crate::service::{AssessError, Result};
use crate::workflow::{Reason, Status};

/// The jurisdiction's reassessment period (issue #5 §2). GB/T 42195-2022's own interval could
/// not be confirmed (`standards/README.md` §1.8), so it is a parameter by division and date.
pub const PERIOD_PARAM: &str = "能力评估复评周期（月）";
/// When no level has set the period: 12 months, what many local rules use (§1.8).
pub const DEFAULT_PERIOD_MONTHS: u32 = 12;

/// Age from which 000 list item 4 offers the assessment to everyone.
pub const OFFERED_FROM_AGE: i32 = 65;

/// Sets the period for a division from a date (kept with history, like every parameter).
#[allow(clippy::too_many_arguments)]
pub fn set_period(
    db: &Db,
    division: DivisionCode,
    from: NaiveDate,
    months: u32,
    by: &str,
    now: DateTime<Utc>,
    note: &str,
) -> Result<i64> {
    if !(1..=120).contains(&months) {
        return Err(AssessError::Invalid("复评周期应为1～120个月".into()));
    }
    Ok(params::set(
        db,
        PERIOD_PARAM,
        Type::Int,
        division,
        from,
        &months.to_string(),
        by,
        now,
        note,
    )?)
}

/// The period in force for someone placed at `division` on `date`, and the value row it comes
/// from (`None`: the default).
pub fn period_for(
    db: &Db,
    cat: &Catalogue,
    division: DivisionCode,
    date: NaiveDate,
) -> Result<(u32, Option<ParamValueRow>)> {
    match params::resolve(db, cat, PERIOD_PARAM, division, date)? {
        Some(row) => match params::parse_value(PERIOD_PARAM, Type::Int, &row.value)? {
            ParamValue::Int(n) if (1..=120).contains(&n) => Ok((n as u32, Some(row))),
            _ => Err(AssessError::Invalid(format!(
                "参数【{PERIOD_PARAM}】的值“{}”无效",
                row.value
            ))),
        },
        None => Ok((DEFAULT_PERIOD_MONTHS, None)),
    }
}

/// Why someone is on the overdue list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Due {
    /// The last result is older than the period.
    Period {
        last_on: NaiveDate,
        due_on: NaiveDate,
        months: u32,
    },
    /// An open 即时评估 or 复评 request (due at once, A.1.3).
    Trigger {
        request_id: i64,
        reason: Reason,
        requested_on: NaiveDate,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct OverdueRow {
    pub person_id: i64,
    pub name: String,
    pub id_number: String,
    pub age: i32,
    pub hukou: String,
    /// The current level (0–4), if any.
    pub level: Option<i64>,
    pub due: Due,
    /// Days past due on the date (0 for a trigger requested that day).
    pub days_overdue: i64,
    /// A request already under way (not for triggers: that request is the row).
    pub open_request: Option<(i64, Status)>,
}

/// Persons in `division` on `as_of` due for reassessment: last result older than the period that
/// applies where they live, or an open 即时评估/复评 request. Triggers first, then the longest
/// overdue.
pub fn overdue(db: &Db, cat: &Catalogue, division: DivisionCode, as_of: NaiveDate) -> Result<Vec<OverdueRow>> {
    let scope = cat.scope_on(division, as_of);
    let mut people: HashMap<i64, PersonLevel> = HashMap::new();
    store::people_with_levels(db, &scope.include, &scope.exclude, as_of, &mut |p| {
        people.insert(p.person_id, p);
        Ok(())
    })?;
    let open: Vec<RequestRow> = store::open_requests(db, &["first", "routine", "immediate", "dispute", "other"])?
        .into_iter()
        .filter(|q| q.requested_on <= as_of)
        .collect();
    let mut open_by_person: HashMap<i64, &RequestRow> = HashMap::new();
    for q in &open {
        open_by_person.entry(q.person_id).or_insert(q);
    }
    let mut periods: HashMap<String, u32> = HashMap::new();
    let mut out = Vec::new();
    for q in &open {
        let Some(reason) = Reason::parse(&q.reason).filter(|r| r.is_trigger()) else {
            continue;
        };
        let Some(p) = people.get(&q.person_id) else {
            continue;
        };
        out.push(row(
            p,
            as_of,
            Due::Trigger {
                request_id: q.id,
                reason,
                requested_on: q.requested_on,
            },
            (as_of - q.requested_on).num_days().max(0),
            None,
        ));
    }
    let triggered: std::collections::HashSet<i64> = out.iter().map(|r: &OverdueRow| r.person_id).collect();
    let mut by_period = Vec::new();
    for p in people.values() {
        let Some((_, last_on)) = &p.level else { continue };
        if triggered.contains(&p.person_id) {
            continue;
        }
        let months = match periods.get(&p.hukou) {
            Some(m) => *m,
            None => {
                let m = match DivisionCode::parse(&p.hukou) {
                    Ok(code) => period_for(db, cat, code, as_of)?.0,
                    Err(_) => DEFAULT_PERIOD_MONTHS,
                };
                periods.insert(p.hukou.clone(), m);
                m
            }
        };
        let due_on = last_on
            .checked_add_months(Months::new(months))
            .unwrap_or(NaiveDate::MAX);
        if due_on <= as_of {
            let open = open_by_person
                .get(&p.person_id)
                .and_then(|q| Status::parse(&q.status).map(|s| (q.id, s)));
            by_period.push(row(
                p,
                as_of,
                Due::Period {
                    last_on: *last_on,
                    due_on,
                    months,
                },
                (as_of - due_on).num_days(),
                open,
            ));
        }
    }
    out.sort_by(|a, b| b.days_overdue.cmp(&a.days_overdue).then(a.person_id.cmp(&b.person_id)));
    by_period.sort_by(|a, b| b.days_overdue.cmp(&a.days_overdue).then(a.person_id.cmp(&b.person_id)));
    out.extend(by_period);
    Ok(out)
}

fn row(p: &PersonLevel, as_of: NaiveDate, due: Due, days: i64, open: Option<(i64, Status)>) -> OverdueRow {
    OverdueRow {
        person_id: p.person_id,
        name: p.name.clone(),
        id_number: p.id_number.clone(),
        age: age_on(p.birth_date, as_of),
        hukou: p.hukou.clone(),
        level: p.level.as_ref().and_then(|(v, _)| v.parse().ok()),
        due,
        days_overdue: days,
        open_request: open,
    }
}

/// Counts for one division (or the total).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsRow {
    /// Division code (short), empty for the total.
    pub code: String,
    pub name: String,
    /// Living persons in the registry there.
    pub persons: i64,
    /// With a current capability level, by level 0–4.
    pub by_level: [i64; 5],
    pub assessed: i64,
    pub aged_65: i64,
    pub aged_65_assessed: i64,
}

impl StatsRow {
    /// Share of people aged 65+ assessed, in per mille (integer arithmetic; pages print ‰/100).
    pub fn share_65_permille(&self) -> Option<i64> {
        (self.aged_65 > 0).then(|| self.aged_65_assessed * 1000 / self.aged_65)
    }

    fn add(&mut self, p: &PersonLevel, as_of: NaiveDate) {
        self.persons += 1;
        let level = p
            .level
            .as_ref()
            .and_then(|(v, _)| v.parse::<usize>().ok())
            .filter(|l| *l < 5);
        if let Some(l) = level {
            self.by_level[l] += 1;
            self.assessed += 1;
        }
        if age_on(p.birth_date, as_of) >= OFFERED_FROM_AGE {
            self.aged_65 += 1;
            if level.is_some() {
                self.aged_65_assessed += 1;
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub as_of: NaiveDate,
    pub division: DivisionCode,
    /// One row per division directly below `division` that has anyone (plus one for 户籍 codes
    /// that stop at `division` itself).
    pub rows: Vec<StatsRow>,
    pub total: StatsRow,
}

/// Assessed persons by level and by the divisions directly below `division`, as of a date.
pub fn stats(db: &Db, cat: &Catalogue, division: DivisionCode, as_of: NaiveDate) -> Result<Stats> {
    let scope = cat.scope_on(division, as_of);
    let mut child_of: HashMap<String, Option<DivisionCode>> = HashMap::new();
    let mut rows: HashMap<Option<DivisionCode>, StatsRow> = HashMap::new();
    let mut total = StatsRow {
        name: "合计".into(),
        ..Default::default()
    };
    store::people_with_levels(db, &scope.include, &scope.exclude, as_of, &mut |p| {
        let child = *child_of
            .entry(p.hukou.clone())
            .or_insert_with(|| child_below(cat, &p.hukou, division, as_of));
        rows.entry(child).or_default().add(&p, as_of);
        total.add(&p, as_of);
        Ok(())
    })?;
    let mut rows: Vec<(Option<DivisionCode>, StatsRow)> = rows.into_iter().collect();
    rows.sort_by_key(|(c, _)| c.map(|c| c.as_u64()).unwrap_or(u64::MAX));
    let rows = rows
        .into_iter()
        .map(|(c, mut r)| {
            match c {
                Some(c) => {
                    r.code = c.short();
                    r.name = cat.name(c);
                }
                None => r.name = format!("{}（户籍未细分到下级）", cat.name(division)),
            }
            r
        })
        .collect();
    Ok(Stats {
        as_of,
        division,
        rows,
        total,
    })
}

/// The division directly below `division` that `code` lies in on the date (following moves).
fn child_below(cat: &Catalogue, code: &str, division: DivisionCode, as_of: NaiveDate) -> Option<DivisionCode> {
    let mut cur = DivisionCode::parse(code).ok()?;
    if division.level() == DivisionLevel::Village {
        return None;
    }
    loop {
        let parent = cat.parent_on(cur, as_of)?;
        if parent == division {
            return Some(cur);
        }
        if parent.level() <= division.level() {
            return None;
        }
        cur = parent;
    }
}
