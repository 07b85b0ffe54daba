//! Service list versions in the database. The life-cycle rules (maker-checker, which moves are
//! allowed) live in `yanglao-lists`; here a status only changes from the status the caller saw,
//! so two reviewers cannot both act on one version, and only a draft's content can change.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{Db, Result, Row, StoreError, Tx, Value};

#[derive(Debug, Clone)]
pub struct NewVersion {
    pub jurisdiction: String,
    pub level: String,
    pub title: String,
    pub effective_from: NaiveDate,
    pub change_note: String,
    pub source_title: String,
    pub author: String,
    pub content: String,
    pub content_sha256: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub id: i64,
    pub jurisdiction: String,
    pub level: String,
    pub title: String,
    pub effective_from: NaiveDate,
    pub change_note: String,
    pub source_title: String,
    pub status: String,
    pub author: String,
    pub content: String,
    pub content_sha256: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub status: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

const COLS: &str =
    "id, jurisdiction, level, title, effective_from, change_note, source_title, status, author, content, content_sha256, created_at";

fn from_row(r: &Row) -> Result<VersionRow> {
    Ok(VersionRow {
        id: r.int(0)?,
        jurisdiction: r.text(1)?,
        level: r.text(2)?,
        title: r.text(3)?,
        effective_from: r.date(4)?,
        change_note: r.text(5)?,
        source_title: r.text(6)?,
        status: r.text(7)?,
        author: r.text(8)?,
        content: r.text(9)?,
        content_sha256: r.text(10)?,
        created_at: r.time(11)?,
    })
}

/// Saves a new draft and its first step.
pub fn insert_draft(t: &mut dyn Tx, v: &NewVersion) -> Result<i64> {
    let id = t
        .query_one(
            "INSERT INTO service_list_version (jurisdiction, level, title, effective_from, change_note, source_title, status, author, content, content_sha256, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10) RETURNING id",
            &[
                Value::text(&v.jurisdiction),
                Value::text(&v.level),
                Value::text(&v.title),
                Value::Date(v.effective_from),
                Value::text(&v.change_note),
                Value::text(&v.source_title),
                Value::text(&v.author),
                Value::text(&v.content),
                Value::text(&v.content_sha256),
                Value::Time(v.now),
            ],
        )?
        .ok_or_else(|| StoreError::Aborted("no id returned".into()))?
        .int(0)?;
    insert_step(t, id, "draft", &v.author, v.now)?;
    Ok(id)
}

fn insert_step(t: &mut dyn Tx, id: i64, status: &str, by: &str, at: DateTime<Utc>) -> Result<()> {
    t.exec(
        "INSERT INTO service_list_step (version_id, status, by_user, at) VALUES ($1, $2, $3, $4)",
        &[Value::Int(id), Value::text(status), Value::text(by), Value::Time(at)],
    )?;
    Ok(())
}

/// Moves a version from `from` to `to`, recording who and when. Fails if the version is no
/// longer in `from` (someone else acted first).
pub fn set_status(t: &mut dyn Tx, id: i64, from: &str, to: &str, by: &str, at: DateTime<Utc>) -> Result<()> {
    let n = t.exec(
        "UPDATE service_list_version SET status = $1 WHERE id = $2 AND status = $3",
        &[Value::text(to), Value::Int(id), Value::text(from)],
    )?;
    if n != 1 {
        return Err(StoreError::Aborted(format!("清单版本 {id} 的状态已不是 {from}")));
    }
    insert_step(t, id, to, by, at)
}

/// Replaces a draft's content; a version under review or published cannot change.
pub fn update_draft(t: &mut dyn Tx, id: i64, title: &str, content: &str, sha256: &str) -> Result<()> {
    let n = t.exec(
        "UPDATE service_list_version SET title = $1, content = $2, content_sha256 = $3 WHERE id = $4 AND status = 'draft'",
        &[Value::text(title), Value::text(content), Value::text(sha256), Value::Int(id)],
    )?;
    if n != 1 {
        return Err(StoreError::Aborted(format!("清单版本 {id} 不是草稿，不能修改")));
    }
    Ok(())
}

pub fn version(db: &Db, id: i64) -> Result<Option<VersionRow>> {
    db.query_one(
        &format!("SELECT {COLS} FROM service_list_version WHERE id = $1"),
        &[Value::Int(id)],
    )?
    .map(|r| from_row(&r))
    .transpose()
}

/// Every version, newest first within each jurisdiction.
pub fn versions(db: &Db) -> Result<Vec<VersionRow>> {
    db.query(
        &format!("SELECT {COLS} FROM service_list_version ORDER BY jurisdiction, effective_from DESC, id DESC"),
        &[],
    )?
    .iter()
    .map(from_row)
    .collect()
}

pub fn steps(db: &Db, id: i64) -> Result<Vec<StepRow>> {
    db.query(
        "SELECT status, by_user, at FROM service_list_step WHERE version_id = $1 ORDER BY id",
        &[Value::Int(id)],
    )?
    .iter()
    .map(|r| {
        Ok(StepRow {
            status: r.text(0)?,
            by: r.text(1)?,
            at: r.time(2)?,
        })
    })
    .collect()
}

/// One value of a parameter as set by a jurisdiction.
#[derive(Debug, Clone, Serialize)]
pub struct ParamValueRow {
    pub id: i64,
    pub name: String,
    pub division: String,
    pub valid_from: NaiveDate,
    pub value: String,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
    pub note: String,
}

#[allow(clippy::too_many_arguments)]
pub fn insert_param_value(
    db: &Db,
    name: &str,
    division: &str,
    valid_from: NaiveDate,
    value: &str,
    set_by: &str,
    set_at: DateTime<Utc>,
    note: &str,
) -> Result<i64> {
    db.tx(|t| {
        t.query_one(
            "INSERT INTO param_value (name, division, valid_from, value, set_by, set_at, note) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                Value::text(name),
                Value::text(division),
                Value::Date(valid_from),
                Value::text(value),
                Value::text(set_by),
                Value::Time(set_at),
                Value::text(note),
            ],
        )?
        .ok_or_else(|| StoreError::Aborted("no id returned".into()))?
        .int(0)
    })
}

/// Every value ever set for `name` at the given divisions (the whole history), newest first.
pub fn param_values(db: &Db, name: &str, divisions: &[String]) -> Result<Vec<ParamValueRow>> {
    let mut out = Vec::new();
    for d in divisions {
        let rows = db.query(
            "SELECT id, name, division, valid_from, value, set_by, set_at, note FROM param_value
             WHERE name = $1 AND division = $2 ORDER BY valid_from DESC, set_at DESC, id DESC",
            &[Value::text(name), Value::text(d)],
        )?;
        for r in rows {
            out.push(ParamValueRow {
                id: r.int(0)?,
                name: r.text(1)?,
                division: r.text(2)?,
                valid_from: r.date(3)?,
                value: r.text(4)?,
                set_by: r.text(5)?,
                set_at: r.time(6)?,
                note: r.text(7)?,
            });
        }
    }
    Ok(out)
}

/// Every parameter value ever set, for the entitlement engine (a small table: one row per
/// parameter, jurisdiction and change).
pub fn all_param_values(db: &Db) -> Result<Vec<ParamValueRow>> {
    db.query(
        "SELECT id, name, division, valid_from, value, set_by, set_at, note FROM param_value ORDER BY id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(ParamValueRow {
            id: r.int(0)?,
            name: r.text(1)?,
            division: r.text(2)?,
            valid_from: r.date(3)?,
            value: r.text(4)?,
            set_by: r.text(5)?,
            set_at: r.time(6)?,
            note: r.text(7)?,
        })
    })
    .collect()
}
