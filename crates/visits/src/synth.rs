//! Visitors and a few months of visit history for the demo region, written straight into the
//! database in bulk (the registry must already be imported: the list comes from it).
//!
//! Villages differ in diligence (most visit nearly everyone every month, some fall behind), so
//! the demo's rate is realistic — below 100%, with people overdue.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use yanglao_domain::{Catalogue, DivisionCode};
use yanglao_registry::synth::Rng;
use yanglao_store::{Backend, ColType, Db, Tx, Value};

use crate::rate::month_bounds;
use crate::roster::{roster, Params};
use crate::{earns_credit, service::points_for, Result, Tier, FINDING_STATUSES, HEADINGS};

const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: [&str; 16] = [
    "丽", "敏", "静", "伟", "强", "军", "芳", "娜", "磊", "洋", "艳", "勇", "杰", "娟", "涛", "明",
];
/// Kinds in the order a village fills its team: the grid worker first (002 §(八)).
const KINDS: [&str; 5] = ["网格员", "志愿者", "村干部", "低龄健康老年人", "社工"];
/// People per visitor in a village (一帮多).
const PEOPLE_PER_VISITOR: usize = 12;

#[derive(Debug, Clone, Default)]
pub struct SynthSummary {
    pub visitors: usize,
    pub assignments: usize,
    pub visits: usize,
    pub followups: usize,
}

fn max_id(t: &mut dyn Tx, table: &str) -> yanglao_store::Result<i64> {
    Ok(t.query_one(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"), &[])?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0))
}

/// After writing explicit ids, PostgreSQL's sequence must move past them.
fn fix_sequence(t: &mut dyn Tx, table: &str) -> yanglao_store::Result<()> {
    if t.backend() == Backend::Postgres {
        t.query(
            &format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT GREATEST(COALESCE(MAX(id), 0), 1) FROM {table}))"),
            &[],
        )?;
    }
    Ok(())
}

/// Generates visitors for every village with people on the list within `region`, assigns
/// everyone, and writes visits from `months` months before `today`'s month up to `today`.
pub fn generate(
    db: &Db,
    cat: &Catalogue,
    region: DivisionCode,
    today: NaiveDate,
    months: u32,
    seed: u64,
) -> Result<SynthSummary> {
    let params = Params::load(db)?;
    let list = roster(db, cat, &params, today, Some(region))?;
    let mut by_village: BTreeMap<DivisionCode, Vec<(i64, Tier)>> = BTreeMap::new();
    for m in &list.members {
        by_village.entry(m.division).or_default().push((m.person_id, m.tier));
    }
    let mut rng = Rng::new(seed ^ 0x7669_7369_7473);
    let now: DateTime<Utc> = Utc::now();
    let start_month = {
        let mut y = today.year();
        let mut m = today.month() as i32 - months as i32;
        while m < 1 {
            m += 12;
            y -= 1;
        }
        (y, m as u32)
    };
    let (history_from, _) = month_bounds(start_month.0, start_month.1)?;
    let mut month_spans = Vec::new();
    let mut ym = start_month;
    loop {
        let (first, last) = month_bounds(ym.0, ym.1)?;
        if first > today {
            break;
        }
        month_spans.push((first, last.min(today)));
        ym = if ym.1 == 12 { (ym.0 + 1, 1) } else { (ym.0, ym.1 + 1) };
    }
    let mut summary = SynthSummary::default();
    db.tx(|t| {
        let mut visitor_id = max_id(t, "visitor")?;
        let mut assignment_id = max_id(t, "visit_assignment")?;
        let mut visit_id = max_id(t, "visit")?;
        let mut followup_id = max_id(t, "visit_followup")?;
        let mut credit_id = max_id(t, "volunteer_credit")?;
        let mut visitors: Vec<Vec<Value>> = Vec::new();
        let mut assignments: Vec<Vec<Value>> = Vec::new();
        let mut visits: Vec<Vec<Value>> = Vec::new();
        let mut findings: Vec<Vec<Value>> = Vec::new();
        let mut followups: Vec<Vec<Value>> = Vec::new();
        let mut credits: Vec<Vec<Value>> = Vec::new();
        for (village, people) in &by_village {
            // Diligence: share of people visited in a month. Most villages do well, a few lag.
            let diligence = match rng.below(10) {
                0 => 0.55 + rng.unit() * 0.2,
                1 | 2 => 0.85 + rng.unit() * 0.1,
                _ => 0.96 + rng.unit() * 0.04,
            };
            // A grid worker and at least one volunteer wherever two or more people are listed.
            let team = people.len().div_ceil(PEOPLE_PER_VISITOR).max(people.len().min(2));
            let mut team_ids = Vec::new();
            for k in 0..team {
                visitor_id += 1;
                let kind = KINDS[k % KINDS.len()];
                let name = format!("{}{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN), rng.pick(&GIVEN));
                visitors.push(vec![
                    Value::Int(visitor_id),
                    Value::text(name),
                    Value::text(kind),
                    Value::text(village.full()),
                    Value::text(format!("139{:08}", rng.below(100_000_000))),
                    Value::Date(history_from),
                    Value::text("演示数据"),
                    Value::Time(now),
                ]);
                team_ids.push((visitor_id, kind));
            }
            for (i, (person, tier)) in people.iter().enumerate() {
                let mut mine = vec![team_ids[i % team]];
                // 多帮一: some people have a second visitor.
                if team > 1 && rng.chance(0.1) {
                    mine.push(team_ids[(i + 1) % team]);
                }
                for (v, _) in &mine {
                    assignment_id += 1;
                    assignments.push(vec![
                        Value::Int(assignment_id),
                        Value::Int(*person),
                        Value::Int(*v),
                        Value::Date(history_from),
                        Value::text("演示数据"),
                        Value::Time(now),
                    ]);
                }
                // Upper bound of visits in a month: 高风险 weekly-ish, others once or twice.
                let per_month = match tier {
                    Tier::High => 4,
                    _ => 2,
                };
                for &(first, last) in &month_spans {
                    let span = (last - first).num_days() + 1;
                    // The current month is partly over: fewer visits made so far.
                    let share = if last == today { span as f64 / 30.0 } else { 1.0 };
                    if rng.chance(diligence * share.min(1.0)) {
                        let n = 1 + rng.below(per_month);
                        for _ in 0..n {
                            let (v, kind) = mine[rng.below(mine.len() as u64) as usize];
                            let day = first + Duration::days(rng.below(span as u64) as i64);
                            let mode = [
                                "上门", "上门", "上门", "上门", "上门", "上门", "上门", "电话", "视频", "邻里",
                            ][rng.below(10) as usize];
                            visit_id += 1;
                            visits.push(vec![
                                Value::Int(visit_id),
                                Value::text(format!("demo-{seed}-{visit_id}")),
                                Value::Int(*person),
                                Value::Int(v),
                                Value::Date(day),
                                Value::text(mode),
                                Value::text(""),
                                Value::text("演示数据"),
                                Value::Time(now),
                            ]);
                            for h in HEADINGS {
                                let s = match rng.below(100) {
                                    0 => 2,
                                    1..=4 => 1,
                                    _ => 0,
                                };
                                let note = match s {
                                    2 => "需进一步核实并协调帮扶",
                                    1 => "近期需关注",
                                    _ => "",
                                };
                                findings.push(vec![
                                    Value::Int(visit_id),
                                    Value::text(h),
                                    Value::text(FINDING_STATUSES[s]),
                                    Value::text(note),
                                ]);
                                if s == 2 {
                                    followup_id += 1;
                                    let closed = day + Duration::days(3) < today && rng.chance(0.7);
                                    let kind_f = if h == "健康与安全风险" {
                                        "转介服务"
                                    } else {
                                        "帮扶救助"
                                    };
                                    followups.push(vec![
                                        Value::Int(followup_id),
                                        Value::Int(visit_id),
                                        Value::Int(*person),
                                        Value::text(kind_f),
                                        Value::text(format!("{h}：需进一步核实并协调帮扶")),
                                        Value::text(if closed { "closed" } else { "open" }),
                                        Value::Date(day),
                                        if closed {
                                            Value::text("乡镇社工站")
                                        } else {
                                            Value::Null
                                        },
                                        if closed {
                                            Value::Date(day + Duration::days(3))
                                        } else {
                                            Value::Null
                                        },
                                        if closed { Value::Time(now) } else { Value::Null },
                                        if closed {
                                            Value::text("已协调村委会与家属落实")
                                        } else {
                                            Value::Null
                                        },
                                    ]);
                                }
                            }
                            if earns_credit(kind) {
                                credit_id += 1;
                                let minutes = if mode == "电话" { 15 } else { 60 };
                                credits.push(vec![
                                    Value::Int(credit_id),
                                    Value::Int(v),
                                    Value::Int(visit_id),
                                    Value::Int(minutes),
                                    Value::Int(points_for(minutes)),
                                    Value::Date(day),
                                ]);
                            }
                        }
                    }
                }
            }
        }
        use ColType::{Date as D, Int as I, Text as T, Time as Ti};
        type Table<'a> = (&'a str, &'a [&'a str], &'a [ColType], &'a Vec<Vec<Value>>);
        let tables: [Table; 6] = [
            (
                "visitor",
                &[
                    "id",
                    "name",
                    "kind",
                    "division",
                    "phone",
                    "active_from",
                    "created_by",
                    "created_at",
                ],
                &[I, T, T, T, T, D, T, Ti],
                &visitors,
            ),
            (
                "visit_assignment",
                &[
                    "id",
                    "person_id",
                    "visitor_id",
                    "valid_from",
                    "assigned_by",
                    "assigned_at",
                ],
                &[I, I, I, D, T, Ti],
                &assignments,
            ),
            (
                "visit",
                &[
                    "id",
                    "idem_key",
                    "person_id",
                    "visitor_id",
                    "visited_on",
                    "mode",
                    "note",
                    "recorded_by",
                    "recorded_at",
                ],
                &[I, T, I, I, D, T, T, T, Ti],
                &visits,
            ),
            (
                "visit_finding",
                &["visit_id", "heading", "status", "note"],
                &[I, T, T, T],
                &findings,
            ),
            (
                "visit_followup",
                &[
                    "id",
                    "visit_id",
                    "person_id",
                    "kind",
                    "detail",
                    "status",
                    "opened_on",
                    "closed_by",
                    "closed_on",
                    "closed_at",
                    "outcome",
                ],
                &[I, I, I, T, T, T, D, T, D, Ti, T],
                &followups,
            ),
            (
                "volunteer_credit",
                &["id", "visitor_id", "visit_id", "minutes", "points", "earned_on"],
                &[I, I, I, I, I, D],
                &credits,
            ),
        ];
        for (table, cols, types, rows) in tables {
            let mut w = t.bulk(table, cols, types)?;
            for r in rows {
                w.write(r)?;
            }
            w.finish()?;
        }
        for table in [
            "visitor",
            "visit_assignment",
            "visit",
            "visit_followup",
            "volunteer_credit",
        ] {
            fix_sequence(t, table)?;
        }
        summary = SynthSummary {
            visitors: visitors.len(),
            assignments: assignments.len(),
            visits: visits.len(),
            followups: followups.len(),
        };
        Ok(())
    })?;
    Ok(summary)
}
