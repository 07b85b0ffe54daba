//! 月探访率 (monthly visit rate) by division, rolled up from villages to the region.
//!
//! No official formula exists (standards/README.md §5); the working definition is the seeds'
//! wording made countable. See [`DEFINITION`], shown next to every figure.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use yanglao_domain::{Catalogue, DivisionCode};
use yanglao_store::visits as store;
use yanglao_store::{Db, Value};

use crate::roster::{roster, Params};
use crate::{Result, VisitError, EFFECTIVE_MODES};

/// The definition as shown beside the figure.
pub const DEFINITION: &str =
    "月探访率 = 当月整月在册且当月至少获得1次有效探访的特殊困难老年人数 ÷ 当月整月在册的特殊困难老年人数。\
整月在册：当月1日与月末（本月为截至今日）均在探访名册上；\
月内新增者自下月起计入；月内离册者（死亡、迁出、不再符合条件）当月不计入，另列人数及其中离册前已探访人数。\
有效探访：上门、视频、邻里（登记在册的邻里探访人员当面探访）；电话探访记录在案但不计入。\
人员归属按月末常住地（无常住地记录时按户籍）。目标：100%（001 §4、004 §6）。";

#[derive(Debug, Clone, Default, Serialize)]
pub struct RateRow {
    pub division: String,
    pub name: String,
    /// 整月在册 (denominator).
    pub on_list: i64,
    /// Of those, with at least one effective visit in the month (numerator).
    pub visited: i64,
    /// 月内新增 (counted from next month).
    pub joined: i64,
    /// 月内离册 (not counted this month), of whom died, and of whom visited before leaving.
    pub left: i64,
    pub died: i64,
    pub left_visited: i64,
}

impl RateRow {
    /// Rate in tenths of a percent (integer, so pages and tests agree exactly), rounded down so
    /// that 999 of 1000 never shows as 100.0%.
    pub fn permille(&self) -> Option<i64> {
        (self.on_list > 0).then(|| self.visited * 1000 / self.on_list)
    }
    pub fn rate_text(&self) -> String {
        match self.permille() {
            Some(p) => format!("{}.{}%", p / 10, p % 10),
            None => "—".to_string(),
        }
    }
    pub fn gap(&self) -> i64 {
        self.on_list - self.visited
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RateTable {
    pub year: i32,
    pub month: u32,
    pub from: NaiveDate,
    /// Last day counted: the month's last day, or today for the current month.
    pub upto: NaiveDate,
    pub scope: String,
    pub scope_name: String,
    pub total: RateRow,
    /// One row per division one level below the scope.
    pub rows: Vec<RateRow>,
    pub definition: &'static str,
}

pub fn month_bounds(year: i32, month: u32) -> Result<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)
        .ok_or_else(|| VisitError::Invalid(format!("月份 {year}-{month} 无效")))?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .ok_or_else(|| VisitError::Invalid(format!("月份 {year}-{month} 无效")))?;
    Ok((first, next.pred_opt().unwrap_or(first)))
}

/// Parses `YYYY-MM`.
pub fn parse_month(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.trim().split_once('-')?;
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    NaiveDate::from_ymd_opt(y, m, 1).map(|_| (y, m))
}

/// The child of `scope` that `code` lies in on `date` (following moves), or `None`.
fn child_of(cat: &Catalogue, code: DivisionCode, scope: DivisionCode, date: NaiveDate) -> Option<DivisionCode> {
    let mut cur = code;
    if code == scope {
        return Some(scope);
    }
    loop {
        let parent = cat.parent_on(cur, date)?;
        if parent == scope {
            return Some(cur);
        }
        if parent.level() < scope.level() {
            return None;
        }
        cur = parent;
    }
}

/// The rate for `scope` in a month: two rosters (the 1st and the month's end or today), one
/// grouped read of the month's effective visits, one read of the month's deaths.
pub fn monthly_rate(
    db: &Db,
    cat: &Catalogue,
    scope: DivisionCode,
    year: i32,
    month: u32,
    today: NaiveDate,
) -> Result<RateTable> {
    let (from, last) = month_bounds(year, month)?;
    if from > today {
        return Err(VisitError::Invalid("不能统计尚未开始的月份".into()));
    }
    let upto = last.min(today);
    let params = Params::load(db)?;
    let start = roster(db, cat, &params, from, Some(scope))?;
    let end = roster(db, cat, &params, upto, Some(scope))?;
    let visited = store::visited_between(db, &EFFECTIVE_MODES, from, upto)?;
    let mut died: HashSet<i64> = HashSet::new();
    db.scan(
        "SELECT DISTINCT person_id FROM fact WHERE kind = 'death' AND valid_from >= $1 AND valid_from <= $2",
        &[Value::Date(from), Value::Date(upto)],
        |r| {
            died.insert(r.int(0)?);
            Ok(())
        },
    )?;
    let at_start: HashMap<i64, DivisionCode> = start.members.iter().map(|m| (m.person_id, m.division)).collect();
    let at_end: HashSet<i64> = end.members.iter().map(|m| m.person_id).collect();

    let mut rows: HashMap<Option<DivisionCode>, RateRow> = HashMap::new();
    let mut total = RateRow {
        division: scope.short(),
        name: cat.name(scope),
        ..Default::default()
    };
    let mut memo: HashMap<DivisionCode, Option<DivisionCode>> = HashMap::new();
    let mut place = |d: DivisionCode, date: NaiveDate| *memo.entry(d).or_insert_with(|| child_of(cat, d, scope, date));
    for m in &end.members {
        let row = rows.entry(place(m.division, upto)).or_default();
        if at_start.contains_key(&m.person_id) {
            row.on_list += 1;
            total.on_list += 1;
            if visited.contains_key(&m.person_id) {
                row.visited += 1;
                total.visited += 1;
            }
        } else {
            row.joined += 1;
            total.joined += 1;
        }
    }
    for (pid, division) in &at_start {
        if at_end.contains(pid) {
            continue;
        }
        // Left during the month: placed where they were on the 1st.
        let row = rows.entry(place(*division, from)).or_default();
        row.left += 1;
        total.left += 1;
        if died.contains(pid) {
            row.died += 1;
            total.died += 1;
        }
        if visited.contains_key(pid) {
            row.left_visited += 1;
            total.left_visited += 1;
        }
    }
    let mut out: Vec<RateRow> = rows
        .into_iter()
        .map(|(code, mut r)| {
            match code {
                Some(c) => {
                    r.division = c.short();
                    r.name = cat.name(c);
                }
                None => {
                    r.division = String::new();
                    r.name = "（区划未定）".to_string();
                }
            }
            r
        })
        .collect();
    out.sort_by(|a, b| a.division.cmp(&b.division));
    Ok(RateTable {
        year,
        month,
        from,
        upto,
        scope: scope.short(),
        scope_name: cat.path_name(scope, upto),
        total,
        rows: out,
        definition: DEFINITION,
    })
}

/// The current month of `today`.
pub fn this_month(today: NaiveDate) -> (i32, u32) {
    (today.year(), today.month())
}
