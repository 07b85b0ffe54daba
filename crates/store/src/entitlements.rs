//! Entitlement runs, stored entitlements, benefit receipts and work lists.
//!
//! A run for a date replaces that date's entitlements by difference: rows that did not change
//! are not touched, so rerunning on the same data writes nothing but the run record.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{Backend, ColType, Db, Result, Row, StoreError, Tx, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntitlement {
    pub person_id: i64,
    pub version_id: i64,
    pub item_code: String,
    pub status: String,
    pub amount_fen: Option<i64>,
    pub period: Option<String>,
    pub param_division: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub as_of: Option<NaiveDate>,
    pub kind: String,
    pub persons: i64,
    pub versions: String,
    pub entitled: i64,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
    pub by_user: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Every stored entitlement for `as_of`, streamed.
pub fn scan_entitlements(db: &Db, as_of: NaiveDate, mut f: impl FnMut(StoredEntitlement)) -> Result<u64> {
    db.scan(
        "SELECT person_id, version_id, item_code, status, amount_fen, period, param_division FROM entitlement WHERE as_of = $1",
        &[Value::Date(as_of)],
        |r| {
            f(StoredEntitlement {
                person_id: r.int(0)?,
                version_id: r.int(1)?,
                item_code: r.text(2)?,
                status: r.text(3)?,
                amount_fen: r.opt_int(4)?,
                period: r.opt_text(5)?,
                param_division: r.text(6)?,
            });
            Ok(())
        },
    )
}

/// A parameter value a run used for the people placed in a division.
#[derive(Debug, Clone)]
pub struct UsedParam {
    pub division: String,
    pub name: String,
    pub value: String,
    pub source: String,
}

/// What a run changes, computed by the engine.
pub struct RunWrite<'a> {
    pub as_of: NaiveDate,
    pub kind: &'a str,
    pub persons: i64,
    pub versions: &'a str,
    pub entitled: i64,
    pub by: &'a str,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Rows to remove (person, version, item).
    pub remove: Vec<(i64, i64, String)>,
    /// Rows to add (changed rows are removed and added again), produced one at a time so that
    /// a province-sized first run never holds them all as owned rows; `add_count` of them.
    pub add: std::cell::RefCell<Box<dyn Iterator<Item = StoredEntitlement> + 'a>>,
    pub add_count: usize,
    pub changed: i64,
    pub params: Vec<UsedParam>,
}

const ENT_COLS: [&str; 9] = [
    "as_of",
    "person_id",
    "version_id",
    "item_code",
    "status",
    "amount_fen",
    "period",
    "param_division",
    "run_id",
];
const ENT_TYPES: [ColType; 9] = [
    ColType::Date,
    ColType::Int,
    ColType::Int,
    ColType::Text,
    ColType::Text,
    ColType::Int,
    ColType::Text,
    ColType::Text,
    ColType::Int,
];

/// Records a run and applies its difference in one transaction.
pub fn write_run(db: &Db, w: &RunWrite<'_>) -> Result<i64> {
    db.tx(|t| {
        let run_id = t
            .query_one(
                "INSERT INTO entitlement_run (as_of, kind, started_at, finished_at, persons, versions, entitled, added, removed, changed, by_user)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                &[
                    Value::Date(w.as_of),
                    Value::text(w.kind),
                    Value::Time(w.started_at),
                    Value::Time(w.finished_at),
                    Value::Int(w.persons),
                    Value::text(w.versions),
                    Value::Int(w.entitled),
                    Value::Int(i64::try_from(w.add_count).unwrap_or(i64::MAX) - w.changed),
                    Value::Int(i64::try_from(w.remove.len()).unwrap_or(i64::MAX) - w.changed),
                    Value::Int(w.changed),
                    Value::text(w.by),
                ],
            )?
            .ok_or_else(|| StoreError::Aborted("no run id returned".into()))?
            .int(0)?;
        if !w.remove.is_empty() {
            t.batch(match t.backend() {
                Backend::Sqlite => {
                    "DROP TABLE IF EXISTS temp.ent_remove; CREATE TEMP TABLE ent_remove (person_id BIGINT, version_id BIGINT, item_code TEXT)"
                }
                Backend::Postgres => {
                    "CREATE TEMP TABLE ent_remove (person_id BIGINT, version_id BIGINT, item_code TEXT) ON COMMIT DROP"
                }
            })?;
            {
                let mut b = t.bulk(
                    "ent_remove",
                    &["person_id", "version_id", "item_code"],
                    &[ColType::Int, ColType::Int, ColType::Text],
                )?;
                for (p, v, i) in &w.remove {
                    b.write(&[Value::Int(*p), Value::Int(*v), Value::text(i.as_str())])?;
                }
                b.finish()?;
            }
            t.exec(
                "DELETE FROM entitlement WHERE as_of = $1 AND EXISTS (SELECT 1 FROM ent_remove r
                   WHERE r.person_id = entitlement.person_id AND r.version_id = entitlement.version_id AND r.item_code = entitlement.item_code)",
                &[Value::Date(w.as_of)],
            )?;
            if t.backend() == Backend::Sqlite {
                t.batch("DROP TABLE temp.ent_remove")?;
            }
        }
        if w.add_count > 0 {
            // The date once, in the form each backend stores (formatting it per row showed in
            // the profile of a 3-million-row first run).
            let as_of = match t.backend() {
                Backend::Sqlite => Value::Text(w.as_of.format("%Y-%m-%d").to_string()),
                Backend::Postgres => Value::Date(w.as_of),
            };
            let mut b = t.bulk("entitlement", &ENT_COLS, &ENT_TYPES)?;
            let mut rows = w.add.borrow_mut();
            for e in rows.by_ref() {
                b.write(&[
                    as_of.clone(),
                    Value::Int(e.person_id),
                    Value::Int(e.version_id),
                    Value::text(e.item_code.as_str()),
                    Value::text(e.status.as_str()),
                    e.amount_fen.map_or(Value::Null, Value::Int),
                    Value::opt_text(e.period.clone()),
                    Value::text(e.param_division.as_str()),
                    Value::Int(run_id),
                ])?;
            }
            b.finish()?;
        }
        for p in &w.params {
            t.exec(
                "INSERT INTO entitlement_param (run_id, division, name, value, source) VALUES ($1, $2, $3, $4, $5)",
                &[
                    Value::Int(run_id),
                    Value::text(p.division.as_str()),
                    Value::text(p.name.as_str()),
                    Value::text(p.value.as_str()),
                    Value::text(p.source.as_str()),
                ],
            )?;
        }
        Ok(run_id)
    })
}

fn run_from_row(r: &Row) -> Result<RunSummary> {
    Ok(RunSummary {
        id: r.int(0)?,
        as_of: Some(r.date(1)?),
        kind: r.text(2)?,
        persons: r.int(3)?,
        versions: r.text(4)?,
        entitled: r.int(5)?,
        added: r.int(6)?,
        removed: r.int(7)?,
        changed: r.int(8)?,
        by_user: r.text(9)?,
        started_at: Some(r.time(10)?),
        finished_at: r.opt_time(11)?,
    })
}

const RUN_COLS: &str =
    "id, as_of, kind, persons, versions, entitled, added, removed, changed, by_user, started_at, finished_at";

pub fn runs(db: &Db, limit: i64) -> Result<Vec<RunSummary>> {
    db.query(
        &format!("SELECT {RUN_COLS} FROM entitlement_run ORDER BY id DESC LIMIT $1"),
        &[Value::Int(limit)],
    )?
    .iter()
    .map(run_from_row)
    .collect()
}

/// The latest run's date, if any: the date pages show entitlements for by default.
pub fn latest_run_date(db: &Db) -> Result<Option<NaiveDate>> {
    db.query_one(
        "SELECT as_of FROM entitlement_run WHERE kind = 'run' ORDER BY id DESC LIMIT 1",
        &[],
    )?
    .map(|r| r.date(0))
    .transpose()
}

pub fn person_entitlements(db: &Db, person_id: i64, as_of: NaiveDate) -> Result<Vec<StoredEntitlement>> {
    db.query(
        "SELECT person_id, version_id, item_code, status, amount_fen, period, param_division FROM entitlement
         WHERE as_of = $1 AND person_id = $2 ORDER BY version_id, item_code",
        &[Value::Date(as_of), Value::Int(person_id)],
    )?
    .iter()
    .map(|r| {
        Ok(StoredEntitlement {
            person_id: r.int(0)?,
            version_id: r.int(1)?,
            item_code: r.text(2)?,
            status: r.text(3)?,
            amount_fen: r.opt_int(4)?,
            period: r.opt_text(5)?,
            param_division: r.text(6)?,
        })
    })
    .collect()
}

// ---------------------------------------------------------------- receipts

#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub person_id: i64,
    pub item_code: String,
    pub amount_fen: Option<i64>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub source: String,
}

/// Adds receipts (what people actually receive or are enrolled in) in one transaction.
pub fn insert_receipts(db: &Db, rows: &[Receipt], by: &str, now: DateTime<Utc>) -> Result<u64> {
    db.tx(|t| {
        let mut b = t.bulk(
            "benefit_receipt",
            &[
                "person_id",
                "item_code",
                "amount_fen",
                "valid_from",
                "valid_to",
                "source",
                "recorded_by",
                "recorded_at",
            ],
            &[
                ColType::Int,
                ColType::Text,
                ColType::Int,
                ColType::Date,
                ColType::Date,
                ColType::Text,
                ColType::Text,
                ColType::Time,
            ],
        )?;
        for r in rows {
            b.write(&[
                Value::Int(r.person_id),
                Value::text(r.item_code.as_str()),
                r.amount_fen.map_or(Value::Null, Value::Int),
                Value::Date(r.valid_from),
                Value::opt_date(r.valid_to),
                Value::text(r.source.as_str()),
                Value::text(by),
                Value::Time(now),
            ])?;
        }
        b.finish()
    })
}

/// Receipts running on `as_of`, streamed: (person, item, amount).
pub fn scan_receipts(db: &Db, as_of: NaiveDate, mut f: impl FnMut(i64, String, Option<i64>)) -> Result<u64> {
    db.scan(
        "SELECT person_id, item_code, amount_fen FROM benefit_receipt
         WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)",
        &[Value::Date(as_of)],
        |r| {
            f(r.int(0)?, r.text(1)?, r.opt_int(2)?);
            Ok(())
        },
    )
}

// ---------------------------------------------------------------- work lists

pub const WORK_OPEN: &str = "open";
pub const WORK_IN_PROGRESS: &str = "in_progress";
pub const WORK_CLOSED: &str = "closed";

/// A finding of a run: someone to contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: String,
    pub person_id: i64,
    pub version_id: i64,
    pub item_code: String,
    pub division: String,
    pub reason: String,
    pub amount_fen: Option<i64>,
    pub received_fen: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct SyncCounts {
    pub opened: u64,
    pub refreshed: u64,
    pub closed: u64,
}

/// Brings the open work items in line with a run's findings: new findings open items, findings
/// already open are refreshed (reason and amounts as of the new date), open items of the run's
/// kinds that the run no longer finds are closed with the system's outcome. Closed items are
/// never reopened: a new finding opens a new item.
pub fn sync_work_items(
    db: &Db,
    as_of: NaiveDate,
    kinds: &[&str],
    findings: &[Finding],
    now: DateTime<Utc>,
) -> Result<SyncCounts> {
    db.tx(|t| {
        t.batch(match t.backend() {
            Backend::Sqlite => {
                "DROP TABLE IF EXISTS temp.finding; CREATE TEMP TABLE finding (kind TEXT, person_id BIGINT, version_id BIGINT, item_code TEXT, division TEXT, reason TEXT, amount_fen BIGINT, received_fen BIGINT)"
            }
            Backend::Postgres => {
                "CREATE TEMP TABLE finding (kind TEXT, person_id BIGINT, version_id BIGINT, item_code TEXT, division TEXT, reason TEXT, amount_fen BIGINT, received_fen BIGINT) ON COMMIT DROP"
            }
        })?;
        {
            let mut b = t.bulk(
                "finding",
                &[
                    "kind",
                    "person_id",
                    "version_id",
                    "item_code",
                    "division",
                    "reason",
                    "amount_fen",
                    "received_fen",
                ],
                &[
                    ColType::Text,
                    ColType::Int,
                    ColType::Int,
                    ColType::Text,
                    ColType::Text,
                    ColType::Text,
                    ColType::Int,
                    ColType::Int,
                ],
            )?;
            for f in findings {
                b.write(&[
                    Value::text(f.kind.as_str()),
                    Value::Int(f.person_id),
                    Value::Int(f.version_id),
                    Value::text(f.item_code.as_str()),
                    Value::text(f.division.as_str()),
                    Value::text(f.reason.as_str()),
                    f.amount_fen.map_or(Value::Null, Value::Int),
                    f.received_fen.map_or(Value::Null, Value::Int),
                ])?;
            }
            b.finish()?;
        }
        t.batch("CREATE INDEX finding_key ON finding (kind, person_id, item_code)")?;
        let kind_list = kinds
            .iter()
            .map(|k| format!("'{}'", k.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ");
        let closed = t.exec(
            &format!(
                "UPDATE work_item SET status = '{WORK_CLOSED}', outcome = '系统核对：最新测算已不再发现此问题', closed_at = $1, closed_by = '系统'
                 WHERE status <> '{WORK_CLOSED}' AND kind IN ({kind_list}) AND NOT EXISTS (
                   SELECT 1 FROM finding f WHERE f.kind = work_item.kind AND f.person_id = work_item.person_id AND f.item_code = work_item.item_code)"
            ),
            &[Value::Time(now)],
        )?;
        let refreshed = t.exec(
            &format!(
                "UPDATE work_item SET reason = f.reason, amount_fen = f.amount_fen, received_fen = f.received_fen, division = f.division, last_as_of = $1
                 FROM finding f WHERE work_item.status <> '{WORK_CLOSED}' AND f.kind = work_item.kind AND f.person_id = work_item.person_id AND f.item_code = work_item.item_code
                   AND (work_item.reason <> f.reason OR work_item.division <> f.division OR work_item.last_as_of <> $1
                        OR work_item.amount_fen IS DISTINCT FROM f.amount_fen OR work_item.received_fen IS DISTINCT FROM f.received_fen)"
            ),
            &[Value::Date(as_of)],
        )?;
        let opened = t.exec(
            &format!(
                "INSERT INTO work_item (kind, person_id, version_id, item_code, division, reason, amount_fen, received_fen, first_as_of, last_as_of, status)
                 SELECT f.kind, f.person_id, f.version_id, f.item_code, f.division, f.reason, f.amount_fen, f.received_fen, $1, $1, '{WORK_OPEN}'
                 FROM finding f WHERE NOT EXISTS (
                   SELECT 1 FROM work_item w WHERE w.status <> '{WORK_CLOSED}' AND w.kind = f.kind AND w.person_id = f.person_id AND w.item_code = f.item_code)"
            ),
            &[Value::Date(as_of)],
        )?;
        if t.backend() == Backend::Sqlite {
            t.batch("DROP TABLE temp.finding")?;
        }
        Ok(SyncCounts {
            opened,
            refreshed,
            closed,
        })
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkItem {
    pub id: i64,
    pub kind: String,
    pub person_id: i64,
    pub person_name: String,
    pub id_number: String,
    pub version_id: i64,
    pub item_code: String,
    pub division: String,
    pub reason: String,
    pub amount_fen: Option<i64>,
    pub received_fen: Option<i64>,
    pub first_as_of: NaiveDate,
    pub last_as_of: NaiveDate,
    pub status: String,
    pub assignee: Option<String>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct WorkQuery {
    /// Division code prefix (e.g. "150402001" for a township); empty: everywhere.
    pub division_prefix: String,
    pub kind: Option<String>,
    /// None: open and in progress.
    pub status: Option<String>,
    pub limit: i64,
    pub offset: i64,
    /// The reader's division scope (the item's division must lie in it).
    pub visible: crate::accounts::Scope,
}

fn work_where(q: &WorkQuery) -> (String, Vec<Value>) {
    let mut clauses = vec!["w.division LIKE $1".to_string()];
    let mut params = vec![Value::Text(format!("{}%", q.division_prefix))];
    clauses.push(q.visible.condition("w.division", &mut params));
    if let Some(k) = &q.kind {
        params.push(Value::text(k.as_str()));
        clauses.push(format!("w.kind = ${}", params.len()));
    }
    match &q.status {
        Some(s) => {
            params.push(Value::text(s.as_str()));
            clauses.push(format!("w.status = ${}", params.len()));
        }
        None => clauses.push(format!("w.status <> '{WORK_CLOSED}'")),
    }
    (clauses.join(" AND "), params)
}

pub fn work_items(db: &Db, q: &WorkQuery) -> Result<(Vec<WorkItem>, i64)> {
    let (cond, mut params) = work_where(q);
    let total = db
        .query_one(&format!("SELECT COUNT(*) FROM work_item w WHERE {cond}"), &params)?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0);
    params.push(Value::Int(q.limit));
    params.push(Value::Int(q.offset));
    let n = params.len();
    let rows = db.query(
        &format!(
            "SELECT w.id, w.kind, w.person_id, p.name, p.id_number, w.version_id, w.item_code, w.division, w.reason, w.amount_fen, w.received_fen,
                    w.first_as_of, w.last_as_of, w.status, w.assignee, w.outcome
             FROM work_item w JOIN person p ON p.id = w.person_id WHERE {cond}
             ORDER BY w.division, w.kind, w.id LIMIT ${} OFFSET ${}",
            n - 1,
            n
        ),
        &params,
    )?;
    let items = rows.iter().map(work_from_row).collect::<Result<Vec<_>>>()?;
    Ok((items, total))
}

fn work_from_row(r: &Row) -> Result<WorkItem> {
    Ok(WorkItem {
        id: r.int(0)?,
        kind: r.text(1)?,
        person_id: r.int(2)?,
        person_name: r.text(3)?,
        id_number: r.text(4)?,
        version_id: r.int(5)?,
        item_code: r.text(6)?,
        division: r.text(7)?,
        reason: r.text(8)?,
        amount_fen: r.opt_int(9)?,
        received_fen: r.opt_int(10)?,
        first_as_of: r.date(11)?,
        last_as_of: r.date(12)?,
        status: r.text(13)?,
        assignee: r.opt_text(14)?,
        outcome: r.opt_text(15)?,
    })
}

pub fn work_item(db: &Db, id: i64) -> Result<Option<WorkItem>> {
    db.query_one(
        "SELECT w.id, w.kind, w.person_id, p.name, p.id_number, w.version_id, w.item_code, w.division, w.reason, w.amount_fen, w.received_fen,
                w.first_as_of, w.last_as_of, w.status, w.assignee, w.outcome
         FROM work_item w JOIN person p ON p.id = w.person_id WHERE w.id = $1",
        &[Value::Int(id)],
    )?
    .map(|r| work_from_row(&r))
    .transpose()
}

/// Open work items per child division of `prefix` (the first `child_len` digits) and kind.
pub fn work_counts(
    db: &Db,
    prefix: &str,
    child_len: usize,
    visible: &crate::accounts::Scope,
) -> Result<Vec<(String, String, i64)>> {
    let len = i64::try_from(child_len).unwrap_or(12);
    let mut params = vec![Value::Text(format!("{prefix}%")), Value::Int(len)];
    let scope = visible.condition("division", &mut params);
    db.query(
        &format!(
            "SELECT substr(division, 1, $2) AS d, kind, COUNT(*) FROM work_item
             WHERE division LIKE $1 AND {scope} AND status <> '{WORK_CLOSED}' GROUP BY substr(division, 1, $2), kind ORDER BY d, kind"
        ),
        &params,
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)?)))
    .collect()
}

/// Assigns an open item to a worker (it becomes "in progress").
pub fn assign_work_item(t: &mut dyn Tx, id: i64, assignee: &str) -> Result<u64> {
    t.exec(
        &format!("UPDATE work_item SET assignee = $1, status = '{WORK_IN_PROGRESS}' WHERE id = $2 AND status <> '{WORK_CLOSED}'"),
        &[Value::text(assignee), Value::Int(id)],
    )
}

/// Closes an item with its outcome; a closed item stays closed.
pub fn close_work_item(t: &mut dyn Tx, id: i64, outcome: &str, by: &str, now: DateTime<Utc>) -> Result<u64> {
    t.exec(
        &format!(
            "UPDATE work_item SET status = '{WORK_CLOSED}', outcome = $1, closed_by = $2, closed_at = $3 WHERE id = $4 AND status <> '{WORK_CLOSED}'"
        ),
        &[Value::text(outcome), Value::text(by), Value::Time(now), Value::Int(id)],
    )
}
