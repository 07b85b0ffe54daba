//! Care visits (issue #7): visitors, assignments, visit records with findings, follow-ups,
//! campaign windows and volunteer credits (migration 0008). Who is on the visit list is computed
//! from the registry by `yanglao-visits`, not stored here.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{Db, Result, Row, Tx, Value};

#[derive(Debug, Clone)]
pub struct NewVisitor {
    pub name: String,
    pub kind: String,
    /// 12-digit village/community code.
    pub division: String,
    pub phone: String,
    pub active_from: NaiveDate,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VisitorRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub division: String,
    pub phone: String,
    pub active_from: NaiveDate,
    pub left_on: Option<NaiveDate>,
    pub successor_id: Option<i64>,
}

const VISITOR_COLS: &str = "id, name, kind, division, phone, active_from, left_on, successor_id";

fn visitor_row(r: &Row) -> Result<VisitorRow> {
    Ok(VisitorRow {
        id: r.int(0)?,
        name: r.text(1)?,
        kind: r.text(2)?,
        division: r.text(3)?,
        phone: r.text(4)?,
        active_from: r.date(5)?,
        left_on: r.opt_date(6)?,
        successor_id: r.opt_int(7)?,
    })
}

pub fn insert_visitor(t: &mut dyn Tx, v: &NewVisitor) -> Result<i64> {
    let r = t.query_one(
        "INSERT INTO visitor (name, kind, division, phone, active_from, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            Value::text(&v.name),
            Value::text(&v.kind),
            Value::text(&v.division),
            Value::text(&v.phone),
            Value::Date(v.active_from),
            Value::text(&v.by),
            Value::Time(v.at),
        ],
    )?;
    r.map(|r| r.int(0)).unwrap_or(Ok(0))
}

/// Visitors whose village is within `prefix` (a short division code; "" for all).
pub fn visitors(db: &Db, prefix: &str) -> Result<Vec<VisitorRow>> {
    db.query(
        &format!("SELECT {VISITOR_COLS} FROM visitor WHERE division >= $1 AND division < $2 ORDER BY division, id"),
        &[Value::text(prefix), Value::text(format!("{prefix}:"))],
    )?
    .iter()
    .map(visitor_row)
    .collect()
}

pub fn visitor(db: &Db, id: i64) -> Result<Option<VisitorRow>> {
    db.query_one(
        &format!("SELECT {VISITOR_COLS} FROM visitor WHERE id = $1"),
        &[Value::Int(id)],
    )?
    .map(|r| visitor_row(&r))
    .transpose()
}

/// Ties a visitor record to a console account (or unties it with `None`); one account, one
/// visitor record.
pub fn link_account(db: &Db, visitor_id: i64, account: Option<&str>) -> Result<u64> {
    db.tx(|t| {
        if let Some(a) = account {
            t.exec(
                "UPDATE visitor SET account = NULL WHERE account = $1 AND id <> $2",
                &[Value::text(a), Value::Int(visitor_id)],
            )?;
        }
        t.exec(
            "UPDATE visitor SET account = $2 WHERE id = $1",
            &[Value::Int(visitor_id), Value::opt_text(account.map(str::to_string))],
        )
    })
}

/// The visitor record a console account belongs to, if any (and still active).
pub fn visitor_for_account(db: &Db, account: &str) -> Result<Option<VisitorRow>> {
    db.query_one(
        &format!("SELECT {VISITOR_COLS} FROM visitor WHERE account = $1 AND left_on IS NULL"),
        &[Value::text(account)],
    )?
    .map(|r| visitor_row(&r))
    .transpose()
}

pub fn tx_visitor(t: &mut dyn Tx, id: i64) -> Result<Option<VisitorRow>> {
    t.query_one(
        &format!("SELECT {VISITOR_COLS} FROM visitor WHERE id = $1"),
        &[Value::Int(id)],
    )?
    .map(|r| visitor_row(&r))
    .transpose()
}

pub fn set_visitor_left(t: &mut dyn Tx, id: i64, on: NaiveDate, successor: Option<i64>) -> Result<u64> {
    t.exec(
        "UPDATE visitor SET left_on = $2, successor_id = $3 WHERE id = $1 AND left_on IS NULL",
        &[
            Value::Int(id),
            Value::Date(on),
            successor.map(Value::Int).unwrap_or(Value::Null),
        ],
    )
}

pub fn insert_assignment(
    t: &mut dyn Tx,
    person_id: i64,
    visitor_id: i64,
    from: NaiveDate,
    by: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    let r = t.query_one(
        "INSERT INTO visit_assignment (person_id, visitor_id, valid_from, assigned_by, assigned_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[
            Value::Int(person_id),
            Value::Int(visitor_id),
            Value::Date(from),
            Value::text(by),
            Value::Time(at),
        ],
    )?;
    r.map(|r| r.int(0)).unwrap_or(Ok(0))
}

/// Ends the running assignment of a person to a visitor (if any) on `on`.
pub fn end_assignment(t: &mut dyn Tx, person_id: i64, visitor_id: i64, on: NaiveDate, reason: &str) -> Result<u64> {
    t.exec(
        "UPDATE visit_assignment SET valid_to = $3, end_reason = $4
         WHERE person_id = $1 AND visitor_id = $2 AND valid_to IS NULL",
        &[
            Value::Int(person_id),
            Value::Int(visitor_id),
            Value::Date(on),
            Value::text(reason),
        ],
    )
}

/// The people a visitor is assigned on `on`.
pub fn people_of_visitor(t: &mut dyn Tx, visitor_id: i64, on: NaiveDate) -> Result<Vec<i64>> {
    t.query(
        "SELECT DISTINCT person_id FROM visit_assignment
         WHERE visitor_id = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2) ORDER BY person_id",
        &[Value::Int(visitor_id), Value::Date(on)],
    )?
    .iter()
    .map(|r| r.int(0))
    .collect()
}

/// Every running assignment on `on`: person → visitors (many-to-one and one-to-many both hold).
pub fn assignments_on(db: &Db, on: NaiveDate) -> Result<HashMap<i64, Vec<i64>>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    db.scan(
        "SELECT person_id, visitor_id FROM visit_assignment
         WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) ORDER BY person_id, visitor_id",
        &[Value::Date(on)],
        |r| {
            out.entry(r.int(0)?).or_default().push(r.int(1)?);
            Ok(())
        },
    )?;
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct NewVisit {
    pub idem_key: String,
    pub person_id: i64,
    pub visitor_id: i64,
    pub visited_on: NaiveDate,
    pub mode: String,
    pub note: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The visit stored under an idempotency key: `(id, person_id, visitor_id)`.
pub fn visit_by_key(t: &mut dyn Tx, key: &str) -> Result<Option<(i64, i64, i64)>> {
    t.query_one(
        "SELECT id, person_id, visitor_id FROM visit WHERE idem_key = $1",
        &[Value::text(key)],
    )?
    .map(|r| Ok((r.int(0)?, r.int(1)?, r.int(2)?)))
    .transpose()
}

pub fn insert_visit(t: &mut dyn Tx, v: &NewVisit) -> Result<i64> {
    let r = t.query_one(
        "INSERT INTO visit (idem_key, person_id, visitor_id, visited_on, mode, note, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            Value::text(&v.idem_key),
            Value::Int(v.person_id),
            Value::Int(v.visitor_id),
            Value::Date(v.visited_on),
            Value::text(&v.mode),
            Value::text(&v.note),
            Value::text(&v.by),
            Value::Time(v.at),
        ],
    )?;
    r.map(|r| r.int(0)).unwrap_or(Ok(0))
}

pub fn insert_finding(t: &mut dyn Tx, visit_id: i64, heading: &str, status: &str, note: &str) -> Result<u64> {
    t.exec(
        "INSERT INTO visit_finding (visit_id, heading, status, note) VALUES ($1, $2, $3, $4)",
        &[
            Value::Int(visit_id),
            Value::text(heading),
            Value::text(status),
            Value::text(note),
        ],
    )
}

pub fn insert_followup(
    t: &mut dyn Tx,
    visit_id: i64,
    person_id: i64,
    kind: &str,
    detail: &str,
    opened_on: NaiveDate,
) -> Result<i64> {
    let r = t.query_one(
        "INSERT INTO visit_followup (visit_id, person_id, kind, detail, status, opened_on)
         VALUES ($1, $2, $3, $4, 'open', $5) RETURNING id",
        &[
            Value::Int(visit_id),
            Value::Int(person_id),
            Value::text(kind),
            Value::text(detail),
            Value::Date(opened_on),
        ],
    )?;
    r.map(|r| r.int(0)).unwrap_or(Ok(0))
}

pub fn insert_credit(
    t: &mut dyn Tx,
    visitor_id: i64,
    visit_id: i64,
    minutes: i64,
    points: i64,
    on: NaiveDate,
) -> Result<u64> {
    t.exec(
        "INSERT INTO volunteer_credit (visitor_id, visit_id, minutes, points, earned_on) VALUES ($1, $2, $3, $4, $5)",
        &[
            Value::Int(visitor_id),
            Value::Int(visit_id),
            Value::Int(minutes),
            Value::Int(points),
            Value::Date(on),
        ],
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct VisitRow {
    pub id: i64,
    pub person_id: i64,
    pub visitor_id: i64,
    pub visitor_name: String,
    pub visited_on: NaiveDate,
    pub mode: String,
    pub note: String,
    pub recorded_by: String,
}

const VISIT_SELECT: &str = "SELECT v.id, v.person_id, v.visitor_id, s.name, v.visited_on, v.mode, v.note, v.recorded_by
     FROM visit v JOIN visitor s ON s.id = v.visitor_id";

fn visit_row(r: &Row) -> Result<VisitRow> {
    Ok(VisitRow {
        id: r.int(0)?,
        person_id: r.int(1)?,
        visitor_id: r.int(2)?,
        visitor_name: r.text(3)?,
        visited_on: r.date(4)?,
        mode: r.text(5)?,
        note: r.text(6)?,
        recorded_by: r.text(7)?,
    })
}

pub fn visit(db: &Db, id: i64) -> Result<Option<VisitRow>> {
    db.query_one(&format!("{VISIT_SELECT} WHERE v.id = $1"), &[Value::Int(id)])?
        .map(|r| visit_row(&r))
        .transpose()
}

pub fn visits_of_person(db: &Db, person_id: i64) -> Result<Vec<VisitRow>> {
    db.query(
        &format!("{VISIT_SELECT} WHERE v.person_id = $1 ORDER BY v.visited_on DESC, v.id DESC"),
        &[Value::Int(person_id)],
    )?
    .iter()
    .map(visit_row)
    .collect()
}

pub fn visits_between(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<Vec<VisitRow>> {
    db.query(
        &format!("{VISIT_SELECT} WHERE v.visited_on >= $1 AND v.visited_on <= $2 ORDER BY v.visited_on, v.id"),
        &[Value::Date(from), Value::Date(to)],
    )?
    .iter()
    .map(visit_row)
    .collect()
}

/// `(heading, status, note)` of a visit.
pub fn findings(db: &Db, visit_id: i64) -> Result<Vec<(String, String, String)>> {
    db.query(
        "SELECT heading, status, note FROM visit_finding WHERE visit_id = $1 ORDER BY heading",
        &[Value::Int(visit_id)],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)))
    .collect()
}

fn in_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each person's latest visit in one of `modes` on or before `upto` (one grouped query).
pub fn last_visits(db: &Db, modes: &[&str], upto: NaiveDate) -> Result<HashMap<i64, NaiveDate>> {
    let mut params = vec![Value::Date(upto)];
    params.extend(modes.iter().map(|m| Value::text(*m)));
    let mut out = HashMap::new();
    db.scan(
        &format!(
            "SELECT person_id, MAX(visited_on) FROM visit WHERE visited_on <= $1 AND mode IN ({}) GROUP BY person_id",
            in_list(2, modes.len())
        ),
        &params,
        |r| {
            out.insert(r.int(0)?, r.date(1)?);
            Ok(())
        },
    )?;
    Ok(out)
}

/// People with at least one visit in one of `modes` between `from` and `to` (inclusive).
pub fn visited_between(db: &Db, modes: &[&str], from: NaiveDate, to: NaiveDate) -> Result<HashMap<i64, i64>> {
    let mut params = vec![Value::Date(from), Value::Date(to)];
    params.extend(modes.iter().map(|m| Value::text(*m)));
    let mut out = HashMap::new();
    db.scan(
        &format!(
            "SELECT person_id, COUNT(*) FROM visit WHERE visited_on >= $1 AND visited_on <= $2 AND mode IN ({})
             GROUP BY person_id",
            in_list(3, modes.len())
        ),
        &params,
        |r| {
            out.insert(r.int(0)?, r.int(1)?);
            Ok(())
        },
    )?;
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct FollowupRow {
    pub id: i64,
    pub visit_id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub id_number: String,
    pub kind: String,
    pub detail: String,
    pub status: String,
    pub opened_on: NaiveDate,
    pub visitor_name: String,
    pub visitor_division: String,
    pub closed_by: Option<String>,
    pub closed_on: Option<NaiveDate>,
    pub outcome: Option<String>,
}

const FOLLOWUP_SELECT: &str = "SELECT f.id, f.visit_id, f.person_id, p.name, p.id_number, f.kind, f.detail, f.status,
            f.opened_on, s.name, s.division, f.closed_by, f.closed_on, f.outcome
     FROM visit_followup f JOIN person p ON p.id = f.person_id JOIN visit v ON v.id = f.visit_id
     JOIN visitor s ON s.id = v.visitor_id";

fn followup_row(r: &Row) -> Result<FollowupRow> {
    Ok(FollowupRow {
        id: r.int(0)?,
        visit_id: r.int(1)?,
        person_id: r.int(2)?,
        person_name: r.text(3)?,
        id_number: r.text(4)?,
        kind: r.text(5)?,
        detail: r.text(6)?,
        status: r.text(7)?,
        opened_on: r.date(8)?,
        visitor_name: r.text(9)?,
        visitor_division: r.text(10)?,
        closed_by: r.opt_text(11)?,
        closed_on: r.opt_date(12)?,
        outcome: r.opt_text(13)?,
    })
}

/// Follow-ups, open ones first; `status` filters (`open` / `closed`), `prefix` the visitor's village.
pub fn followups(db: &Db, status: Option<&str>, prefix: &str) -> Result<Vec<FollowupRow>> {
    let mut sql = format!("{FOLLOWUP_SELECT} WHERE s.division >= $1 AND s.division < $2");
    let mut params = vec![Value::text(prefix), Value::text(format!("{prefix}:"))];
    if let Some(s) = status {
        sql.push_str(" AND f.status = $3");
        params.push(Value::text(s));
    }
    sql.push_str(" ORDER BY f.status DESC, f.opened_on, f.id");
    db.query(&sql, &params)?.iter().map(followup_row).collect()
}

pub fn followup(db: &Db, id: i64) -> Result<Option<FollowupRow>> {
    db.query_one(&format!("{FOLLOWUP_SELECT} WHERE f.id = $1"), &[Value::Int(id)])?
        .map(|r| followup_row(&r))
        .transpose()
}

pub fn followups_of_visit(db: &Db, visit_id: i64) -> Result<Vec<FollowupRow>> {
    db.query(
        &format!("{FOLLOWUP_SELECT} WHERE f.visit_id = $1 ORDER BY f.id"),
        &[Value::Int(visit_id)],
    )?
    .iter()
    .map(followup_row)
    .collect()
}

/// Closes an open follow-up; 0 when it was not open (already closed, or no such id).
pub fn close_followup(
    t: &mut dyn Tx,
    id: i64,
    by: &str,
    on: NaiveDate,
    at: DateTime<Utc>,
    outcome: &str,
) -> Result<u64> {
    t.exec(
        "UPDATE visit_followup SET status = 'closed', closed_by = $2, closed_on = $3, closed_at = $4, outcome = $5
         WHERE id = $1 AND status = 'open'",
        &[
            Value::Int(id),
            Value::text(by),
            Value::Date(on),
            Value::Time(at),
            Value::text(outcome),
        ],
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignRow {
    pub id: i64,
    pub division: String,
    pub name: String,
    pub reason: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Tier labels joined by 、.
    pub tiers: String,
}

#[allow(clippy::too_many_arguments)]
pub fn insert_campaign(
    db: &Db,
    division: &str,
    name: &str,
    reason: &str,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    tiers: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    db.tx(|t| {
        let r = t.query_one(
            "INSERT INTO visit_campaign (division, name, reason, starts_on, ends_on, tiers, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                Value::text(division),
                Value::text(name),
                Value::text(reason),
                Value::Date(starts_on),
                Value::Date(ends_on),
                Value::text(tiers),
                Value::text(by),
                Value::Time(at),
            ],
        )?;
        r.map(|r| r.int(0)).unwrap_or(Ok(0))
    })
}

/// Campaigns whose window overlaps `[from, to]`.
pub fn campaigns_overlapping(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<Vec<CampaignRow>> {
    db.query(
        "SELECT id, division, name, reason, starts_on, ends_on, tiers FROM visit_campaign
         WHERE starts_on <= $2 AND ends_on >= $1 ORDER BY starts_on, id",
        &[Value::Date(from), Value::Date(to)],
    )?
    .iter()
    .map(|r| {
        Ok(CampaignRow {
            id: r.int(0)?,
            division: r.text(1)?,
            name: r.text(2)?,
            reason: r.text(3)?,
            starts_on: r.date(4)?,
            ends_on: r.date(5)?,
            tiers: r.text(6)?,
        })
    })
    .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct CreditTotal {
    pub visitor: VisitorRow,
    pub visits: i64,
    pub minutes: i64,
    pub points: i64,
}

/// Volunteer credits per visitor within `prefix`, most points first.
pub fn credit_totals(db: &Db, prefix: &str) -> Result<Vec<CreditTotal>> {
    db.query(
        "SELECT s.id, s.name, s.kind, s.division, s.phone, s.active_from, s.left_on, s.successor_id,
                COUNT(c.id), CAST(COALESCE(SUM(c.minutes), 0) AS BIGINT), CAST(COALESCE(SUM(c.points), 0) AS BIGINT)
         FROM visitor s JOIN volunteer_credit c ON c.visitor_id = s.id
         WHERE s.division >= $1 AND s.division < $2
         GROUP BY s.id, s.name, s.kind, s.division, s.phone, s.active_from, s.left_on, s.successor_id
         ORDER BY 11 DESC, s.id",
        &[Value::text(prefix), Value::text(format!("{prefix}:"))],
    )?
    .iter()
    .map(|r| {
        Ok(CreditTotal {
            visitor: visitor_row(r)?,
            visits: r.int(8)?,
            minutes: r.int(9)?,
            points: r.int(10)?,
        })
    })
    .collect()
}

/// Name and ID number of the given people (chunked `IN` lists, one query per 500).
pub fn person_names(db: &Db, ids: &[i64]) -> Result<HashMap<i64, (String, String)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let list = chunk.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        db.scan(
            &format!("SELECT id, name, id_number FROM person WHERE id IN ({list})"),
            &[],
            |r| {
                out.insert(r.int(0)?, (r.text(1)?, r.text(2)?));
                Ok(())
            },
        )?;
    }
    Ok(out)
}
