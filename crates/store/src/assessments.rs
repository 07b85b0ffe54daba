//! Capability assessments in the database (issue #5): agencies, assessors, requests with their
//! steps, records and amendments. The workflow rules (which moves are allowed, two assessors,
//! scoring) live in `yanglao-assessment`; here a status only changes from the status the caller
//! saw, so two people cannot both act on one request, and a draft's entries only change while the
//! record is a draft.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{Db, Result, Row, StoreError, Tx, Value};

fn returned_id(row: Option<Row>) -> Result<i64> {
    row.ok_or_else(|| StoreError::Aborted("no id returned".into()))?.int(0)
}

fn opt_int(v: Option<i64>) -> Value {
    v.map(Value::Int).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Agencies and assessors

#[derive(Debug, Clone)]
pub struct NewAgency {
    pub name: String,
    pub division: String,
    pub qualification: String,
    pub qualified_from: NaiveDate,
    pub qualified_to: Option<NaiveDate>,
    pub created_by: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgencyRow {
    pub id: i64,
    pub name: String,
    pub division: String,
    pub qualification: String,
    pub qualified_from: NaiveDate,
    pub qualified_to: Option<NaiveDate>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl AgencyRow {
    /// Qualified on `date` (`qualified_to` is exclusive).
    pub fn qualified_on(&self, date: NaiveDate) -> bool {
        self.qualified_from <= date && self.qualified_to.is_none_or(|t| t > date)
    }
}

const AGENCY_COLS: &str = "id, name, division, qualification, qualified_from, qualified_to, created_by, created_at";

fn agency_from(r: &Row) -> Result<AgencyRow> {
    Ok(AgencyRow {
        id: r.int(0)?,
        name: r.text(1)?,
        division: r.text(2)?,
        qualification: r.text(3)?,
        qualified_from: r.date(4)?,
        qualified_to: r.opt_date(5)?,
        created_by: r.text(6)?,
        created_at: r.time(7)?,
    })
}

pub fn insert_agency(t: &mut dyn Tx, a: &NewAgency) -> Result<i64> {
    returned_id(t.query_one(
        "INSERT INTO assessment_agency (name, division, qualification, qualified_from, qualified_to, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            Value::text(&a.name),
            Value::text(&a.division),
            Value::text(&a.qualification),
            Value::Date(a.qualified_from),
            Value::opt_date(a.qualified_to),
            Value::text(&a.created_by),
            Value::Time(a.now),
        ],
    )?)
}

pub fn agencies(db: &Db) -> Result<Vec<AgencyRow>> {
    db.query(
        &format!("SELECT {AGENCY_COLS} FROM assessment_agency ORDER BY name"),
        &[],
    )?
    .iter()
    .map(agency_from)
    .collect()
}

pub fn agency(t: &mut dyn Tx, id: i64) -> Result<Option<AgencyRow>> {
    t.query_one(
        &format!("SELECT {AGENCY_COLS} FROM assessment_agency WHERE id = $1"),
        &[Value::Int(id)],
    )?
    .map(|r| agency_from(&r))
    .transpose()
}

pub fn agency_by_name(t: &mut dyn Tx, name: &str) -> Result<Option<AgencyRow>> {
    t.query_one(
        &format!("SELECT {AGENCY_COLS} FROM assessment_agency WHERE name = $1"),
        &[Value::text(name)],
    )?
    .map(|r| agency_from(&r))
    .transpose()
}

#[derive(Debug, Clone)]
pub struct NewAssessor {
    pub agency_id: i64,
    pub name: String,
    pub certificate: String,
    pub qualification: String,
    pub qualified_from: NaiveDate,
    pub qualified_to: Option<NaiveDate>,
    pub created_by: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssessorRow {
    pub id: i64,
    pub agency_id: i64,
    pub agency_name: String,
    pub name: String,
    pub certificate: String,
    pub qualification: String,
    pub qualified_from: NaiveDate,
    pub qualified_to: Option<NaiveDate>,
}

impl AssessorRow {
    pub fn qualified_on(&self, date: NaiveDate) -> bool {
        self.qualified_from <= date && self.qualified_to.is_none_or(|t| t > date)
    }
}

const ASSESSOR_SELECT: &str =
    "SELECT s.id, s.agency_id, a.name, s.name, s.certificate, s.qualification, s.qualified_from, s.qualified_to
     FROM assessor s JOIN assessment_agency a ON a.id = s.agency_id";

fn assessor_from(r: &Row) -> Result<AssessorRow> {
    Ok(AssessorRow {
        id: r.int(0)?,
        agency_id: r.int(1)?,
        agency_name: r.text(2)?,
        name: r.text(3)?,
        certificate: r.text(4)?,
        qualification: r.text(5)?,
        qualified_from: r.date(6)?,
        qualified_to: r.opt_date(7)?,
    })
}

pub fn insert_assessor(t: &mut dyn Tx, a: &NewAssessor) -> Result<i64> {
    returned_id(t.query_one(
        "INSERT INTO assessor (agency_id, name, certificate, qualification, qualified_from, qualified_to, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            Value::Int(a.agency_id),
            Value::text(&a.name),
            Value::text(&a.certificate),
            Value::text(&a.qualification),
            Value::Date(a.qualified_from),
            Value::opt_date(a.qualified_to),
            Value::text(&a.created_by),
            Value::Time(a.now),
        ],
    )?)
}

/// Every assessor, or those of one agency, by agency and name.
pub fn assessors(db: &Db, agency_id: Option<i64>) -> Result<Vec<AssessorRow>> {
    let rows = match agency_id {
        Some(a) => db.query(
            &format!("{ASSESSOR_SELECT} WHERE s.agency_id = $1 ORDER BY s.name, s.id"),
            &[Value::Int(a)],
        )?,
        None => db.query(&format!("{ASSESSOR_SELECT} ORDER BY a.name, s.name, s.id"), &[])?,
    };
    rows.iter().map(assessor_from).collect()
}

pub fn assessor(t: &mut dyn Tx, id: i64) -> Result<Option<AssessorRow>> {
    t.query_one(&format!("{ASSESSOR_SELECT} WHERE s.id = $1"), &[Value::Int(id)])?
        .map(|r| assessor_from(&r))
        .transpose()
}

pub fn assessor_by_certificate(t: &mut dyn Tx, certificate: &str) -> Result<Option<AssessorRow>> {
    t.query_one(
        &format!("{ASSESSOR_SELECT} WHERE s.certificate = $1"),
        &[Value::text(certificate)],
    )?
    .map(|r| assessor_from(&r))
    .transpose()
}

/// The agency's assessors whose name or certificate number is `key`.
pub fn assessors_matching(t: &mut dyn Tx, agency_id: i64, key: &str) -> Result<Vec<AssessorRow>> {
    t.query(
        &format!("{ASSESSOR_SELECT} WHERE s.agency_id = $1 AND (s.name = $2 OR s.certificate = $2) ORDER BY s.id"),
        &[Value::Int(agency_id), Value::text(key)],
    )?
    .iter()
    .map(assessor_from)
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Clone)]
pub struct NewRequest {
    pub person_id: i64,
    pub requested_by: String,
    pub requester: String,
    pub reason: String,
    pub reason_note: String,
    pub disputed_record_id: Option<i64>,
    pub status: String,
    pub requested_on: NaiveDate,
    pub created_by: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestRow {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub id_number: String,
    pub birth_date: NaiveDate,
    pub sex: i64,
    pub requested_by: String,
    pub requester: String,
    pub reason: String,
    pub reason_note: String,
    pub disputed_record_id: Option<i64>,
    pub status: String,
    pub requested_on: NaiveDate,
    pub agency_id: Option<i64>,
    pub agency_name: Option<String>,
    pub scheduled_on: Option<NaiveDate>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub record_id: Option<i64>,
}

const REQUEST_SELECT: &str =
    "SELECT q.id, q.person_id, p.name, p.id_number, p.birth_date, p.sex, q.requested_by, q.requester,
       q.reason, q.reason_note, q.disputed_record_id, q.status, q.requested_on, q.agency_id, a.name, q.scheduled_on,
       q.created_by, q.created_at, r.id
     FROM assessment_request q
     JOIN person p ON p.id = q.person_id
     LEFT JOIN assessment_agency a ON a.id = q.agency_id
     LEFT JOIN assessment_record r ON r.request_id = q.id";

fn request_from(r: &Row) -> Result<RequestRow> {
    Ok(RequestRow {
        id: r.int(0)?,
        person_id: r.int(1)?,
        person_name: r.text(2)?,
        id_number: r.text(3)?,
        birth_date: r.date(4)?,
        sex: r.int(5)?,
        requested_by: r.text(6)?,
        requester: r.text(7)?,
        reason: r.text(8)?,
        reason_note: r.text(9)?,
        disputed_record_id: r.opt_int(10)?,
        status: r.text(11)?,
        requested_on: r.date(12)?,
        agency_id: r.opt_int(13)?,
        agency_name: r.opt_text(14)?,
        scheduled_on: r.opt_date(15)?,
        created_by: r.text(16)?,
        created_at: r.time(17)?,
        record_id: r.opt_int(18)?,
    })
}

/// Inserts a request and its first step.
pub fn insert_request(t: &mut dyn Tx, q: &NewRequest) -> Result<i64> {
    let id = returned_id(t.query_one(
        "INSERT INTO assessment_request (person_id, requested_by, requester, reason, reason_note, disputed_record_id, status, requested_on, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[
            Value::Int(q.person_id),
            Value::text(&q.requested_by),
            Value::text(&q.requester),
            Value::text(&q.reason),
            Value::text(&q.reason_note),
            opt_int(q.disputed_record_id),
            Value::text(&q.status),
            Value::Date(q.requested_on),
            Value::text(&q.created_by),
            Value::Time(q.now),
        ],
    )?)?;
    insert_step(t, id, None, &q.status, &q.created_by, q.now, &q.reason_note)?;
    Ok(id)
}

fn insert_step(
    t: &mut dyn Tx,
    request_id: i64,
    from: Option<&str>,
    to: &str,
    by: &str,
    at: DateTime<Utc>,
    note: &str,
) -> Result<()> {
    t.exec(
        "INSERT INTO assessment_request_step (request_id, from_status, to_status, by_user, at, note) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            Value::Int(request_id),
            Value::opt_text(from.map(str::to_string)),
            Value::text(to),
            Value::text(by),
            Value::Time(at),
            Value::text(note),
        ],
    )?;
    Ok(())
}

/// Moves a request from `from` to `to` and records the step. Fails if the request is no longer
/// in `from` (someone else acted first).
pub fn set_request_status(
    t: &mut dyn Tx,
    id: i64,
    from: &str,
    to: &str,
    by: &str,
    at: DateTime<Utc>,
    note: &str,
) -> Result<()> {
    let n = t.exec(
        "UPDATE assessment_request SET status = $1 WHERE id = $2 AND status = $3",
        &[Value::text(to), Value::Int(id), Value::text(from)],
    )?;
    if n != 1 {
        return Err(StoreError::Aborted(format!("评估申请 {id} 的状态已不是 {from}")));
    }
    insert_step(t, id, Some(from), to, by, at, note)
}

pub fn set_schedule(t: &mut dyn Tx, id: i64, agency_id: i64, on: NaiveDate) -> Result<()> {
    t.exec(
        "UPDATE assessment_request SET agency_id = $1, scheduled_on = $2 WHERE id = $3",
        &[Value::Int(agency_id), Value::Date(on), Value::Int(id)],
    )?;
    Ok(())
}

pub fn request(t: &mut dyn Tx, id: i64) -> Result<Option<RequestRow>> {
    t.query_one(&format!("{REQUEST_SELECT} WHERE q.id = $1"), &[Value::Int(id)])?
        .map(|r| request_from(&r))
        .transpose()
}

/// Requests, newest first; by status when given.
/// Requests, newest first, of people within `visible` (any 户籍/常住 fact in it, as for reading
/// a person: `accounts::person_in_scope`).
pub fn requests(
    db: &Db,
    status: Option<&str>,
    limit: i64,
    visible: &crate::accounts::Scope,
) -> Result<Vec<RequestRow>> {
    let mut params = vec![Value::Int(limit)];
    let mut wheres = Vec::new();
    if let Some(s) = status {
        params.push(Value::text(s));
        wheres.push(format!("q.status = ${}", params.len()));
    }
    if !visible.is_everywhere() {
        let cond = visible.condition("(v.value || '')", &mut params);
        wheres.push(format!(
            "EXISTS (SELECT 1 FROM fact v WHERE v.person_id = q.person_id AND v.kind IN ('hukou', 'residence') AND {cond})"
        ));
    }
    let w = if wheres.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wheres.join(" AND "))
    };
    db.query(&format!("{REQUEST_SELECT} {w} ORDER BY q.id DESC LIMIT $1"), &params)?
        .iter()
        .map(request_from)
        .collect()
}

/// A person's requests, newest first.
pub fn person_requests(t: &mut dyn Tx, person_id: i64) -> Result<Vec<RequestRow>> {
    t.query(
        &format!("{REQUEST_SELECT} WHERE q.person_id = $1 ORDER BY q.id DESC"),
        &[Value::Int(person_id)],
    )?
    .iter()
    .map(request_from)
    .collect()
}

/// Open requests (not yet a result, not cancelled) of the given reasons, oldest first.
pub fn open_requests(db: &Db, reasons: &[&str]) -> Result<Vec<RequestRow>> {
    let mut out = Vec::new();
    for reason in reasons {
        let rows = db.query(
            &format!("{REQUEST_SELECT} WHERE q.reason = $1 AND q.status NOT IN ('result', 'cancelled') ORDER BY q.id"),
            &[Value::text(*reason)],
        )?;
        for r in &rows {
            out.push(request_from(r)?);
        }
    }
    out.sort_by_key(|r| r.id);
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestStep {
    pub from: Option<String>,
    pub to: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: String,
}

pub fn request_steps(db: &Db, id: i64) -> Result<Vec<RequestStep>> {
    db.query(
        "SELECT from_status, to_status, by_user, at, note FROM assessment_request_step WHERE request_id = $1 ORDER BY id",
        &[Value::Int(id)],
    )?
    .iter()
    .map(|r| {
        Ok(RequestStep {
            from: r.opt_text(0)?,
            to: r.text(1)?,
            by: r.text(2)?,
            at: r.time(3)?,
            note: r.text(4)?,
        })
    })
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Records

#[derive(Debug, Clone)]
pub struct NewRecord {
    pub request_id: i64,
    pub person_id: i64,
    /// Empty: numbered from the record id (see [`insert_record`]).
    pub record_no: String,
    pub agency_id: i64,
    pub assessor1_id: Option<i64>,
    pub assessor2_id: Option<i64>,
    pub assessed_on: NaiveDate,
    pub origin: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordRow {
    pub id: i64,
    pub request_id: i64,
    pub person_id: i64,
    pub record_no: String,
    pub agency_id: i64,
    pub assessor1_id: Option<i64>,
    pub assessor2_id: Option<i64>,
    pub assessed_on: NaiveDate,
    pub status: String,
    pub origin: String,
    pub answers: Option<String>,
    pub conditions: Option<String>,
    pub basic_info: Option<String>,
    pub subtotals: Option<String>,
    pub total: Option<i64>,
    pub preliminary_level: Option<i64>,
    pub final_level: Option<i64>,
    pub changes: Option<String>,
    pub amended_level: Option<i64>,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_note: Option<String>,
    pub result_batch_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordRow {
    /// The level in force: the last amendment's, else the scored final level (C.5).
    pub fn level(&self) -> Option<i64> {
        self.amended_level.or(self.final_level)
    }
}

const RECORD_COLS: &str =
    "id, request_id, person_id, record_no, agency_id, assessor1_id, assessor2_id, assessed_on, status, origin,
       answers, conditions, basic_info, subtotals, total, preliminary_level, final_level, changes, amended_level,
       submitted_by, submitted_at, reviewer, reviewed_at, review_note, result_batch_id, created_at, updated_at";

fn record_from(r: &Row) -> Result<RecordRow> {
    Ok(RecordRow {
        id: r.int(0)?,
        request_id: r.int(1)?,
        person_id: r.int(2)?,
        record_no: r.text(3)?,
        agency_id: r.int(4)?,
        assessor1_id: r.opt_int(5)?,
        assessor2_id: r.opt_int(6)?,
        assessed_on: r.date(7)?,
        status: r.text(8)?,
        origin: r.text(9)?,
        answers: r.opt_text(10)?,
        conditions: r.opt_text(11)?,
        basic_info: r.opt_text(12)?,
        subtotals: r.opt_text(13)?,
        total: r.opt_int(14)?,
        preliminary_level: r.opt_int(15)?,
        final_level: r.opt_int(16)?,
        changes: r.opt_text(17)?,
        amended_level: r.opt_int(18)?,
        submitted_by: r.opt_text(19)?,
        submitted_at: r.opt_time(20)?,
        reviewer: r.opt_text(21)?,
        reviewed_at: r.opt_time(22)?,
        review_note: r.opt_text(23)?,
        result_batch_id: r.opt_int(24)?,
        created_at: r.time(25)?,
        updated_at: r.time(26)?,
    })
}

/// Inserts a draft record. Without a number of its own it is numbered `PG` + assessment date +
/// record id (A.1.1 评估编号), which is unique because the id is.
pub fn insert_record(t: &mut dyn Tx, r: &NewRecord) -> Result<i64> {
    let id = returned_id(t.query_one(
        "INSERT INTO assessment_record (request_id, person_id, record_no, agency_id, assessor1_id, assessor2_id, assessed_on, status, origin, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, $9) RETURNING id",
        &[
            Value::Int(r.request_id),
            Value::Int(r.person_id),
            Value::text(&r.record_no),
            Value::Int(r.agency_id),
            opt_int(r.assessor1_id),
            opt_int(r.assessor2_id),
            Value::Date(r.assessed_on),
            Value::text(&r.origin),
            Value::Time(r.now),
        ],
    )?)?;
    if r.record_no.is_empty() {
        t.exec(
            "UPDATE assessment_record SET record_no = $1 WHERE id = $2",
            &[
                Value::Text(format!("PG{}{:06}", r.assessed_on.format("%Y%m%d"), id)),
                Value::Int(id),
            ],
        )?;
    }
    Ok(id)
}

pub fn record(t: &mut dyn Tx, id: i64) -> Result<Option<RecordRow>> {
    t.query_one(
        &format!("SELECT {RECORD_COLS} FROM assessment_record WHERE id = $1"),
        &[Value::Int(id)],
    )?
    .map(|r| record_from(&r))
    .transpose()
}

pub fn record_for_request(t: &mut dyn Tx, request_id: i64) -> Result<Option<RecordRow>> {
    t.query_one(
        &format!("SELECT {RECORD_COLS} FROM assessment_record WHERE request_id = $1"),
        &[Value::Int(request_id)],
    )?
    .map(|r| record_from(&r))
    .transpose()
}

/// A person's records that became results, newest assessment first.
pub fn person_results(t: &mut dyn Tx, person_id: i64) -> Result<Vec<RecordRow>> {
    t.query(
        &format!(
            "SELECT {RECORD_COLS} FROM assessment_record WHERE person_id = $1 AND result_batch_id IS NOT NULL
             ORDER BY assessed_on DESC, id DESC"
        ),
        &[Value::Int(person_id)],
    )?
    .iter()
    .map(record_from)
    .collect()
}

/// Locks a draft for a change: bumps `updated_at` if the record is still a draft. The update
/// takes the row lock first, so a submission running at the same time either waits for this
/// change or makes it fail; it can never miss it. Returns false when the record is not a draft.
pub fn touch_draft(t: &mut dyn Tx, id: i64, now: DateTime<Utc>) -> Result<bool> {
    Ok(t.exec(
        "UPDATE assessment_record SET updated_at = $1 WHERE id = $2 AND status = 'draft'",
        &[Value::Time(now), Value::Int(id)],
    )? == 1)
}

pub fn upsert_entry(t: &mut dyn Tx, record_id: i64, field: &str, value: &str, now: DateTime<Utc>) -> Result<()> {
    t.exec(
        "INSERT INTO assessment_entry (record_id, field, value, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (record_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        &[
            Value::Int(record_id),
            Value::text(field),
            Value::text(value),
            Value::Time(now),
        ],
    )?;
    Ok(())
}

pub fn delete_entry(t: &mut dyn Tx, record_id: i64, field: &str) -> Result<()> {
    t.exec(
        "DELETE FROM assessment_entry WHERE record_id = $1 AND field = $2",
        &[Value::Int(record_id), Value::text(field)],
    )?;
    Ok(())
}

/// The draft's entries as (field, value), by field.
pub fn entries(t: &mut dyn Tx, record_id: i64) -> Result<Vec<(String, String)>> {
    t.query(
        "SELECT field, value FROM assessment_entry WHERE record_id = $1 ORDER BY field",
        &[Value::Int(record_id)],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?)))
    .collect()
}

pub fn set_record_assessors(
    t: &mut dyn Tx,
    id: i64,
    assessor1: Option<i64>,
    assessor2: Option<i64>,
    assessed_on: NaiveDate,
) -> Result<()> {
    let n = t.exec(
        "UPDATE assessment_record SET assessor1_id = $1, assessor2_id = $2, assessed_on = $3 WHERE id = $4 AND status = 'draft'",
        &[opt_int(assessor1), opt_int(assessor2), Value::Date(assessed_on), Value::Int(id)],
    )?;
    if n != 1 {
        return Err(StoreError::Aborted(format!("评估记录 {id} 已提交，不能修改")));
    }
    Ok(())
}

pub fn set_record_agency(t: &mut dyn Tx, id: i64, agency_id: i64) -> Result<()> {
    let n = t.exec(
        "UPDATE assessment_record SET agency_id = $1 WHERE id = $2 AND status = 'draft'",
        &[Value::Int(agency_id), Value::Int(id)],
    )?;
    if n != 1 {
        return Err(StoreError::Aborted(format!("评估记录 {id} 已提交，不能修改")));
    }
    Ok(())
}

/// What a submission freezes: the answers and the scores computed from them.
#[derive(Debug, Clone)]
pub struct Submission {
    pub answers: String,
    pub conditions: String,
    pub basic_info: String,
    pub subtotals: String,
    pub total: i64,
    pub preliminary_level: i64,
    pub final_level: i64,
    pub changes: String,
    pub by: String,
    pub now: DateTime<Utc>,
}

/// Draft → submitted, freezing the answers and scores.
pub fn submit_record(t: &mut dyn Tx, id: i64, s: &Submission) -> Result<()> {
    let n = t.exec(
        "UPDATE assessment_record SET status = 'submitted', answers = $1, conditions = $2, basic_info = $3, subtotals = $4,
           total = $5, preliminary_level = $6, final_level = $7, changes = $8, submitted_by = $9, submitted_at = $10, updated_at = $10
         WHERE id = $11 AND status = 'draft'",
        &[
            Value::text(&s.answers),
            Value::text(&s.conditions),
            Value::text(&s.basic_info),
            Value::text(&s.subtotals),
            Value::Int(s.total),
            Value::Int(s.preliminary_level),
            Value::Int(s.final_level),
            Value::text(&s.changes),
            Value::text(&s.by),
            Value::Time(s.now),
            Value::Int(id),
        ],
    )?;
    if n != 1 {
        return Err(StoreError::Aborted(format!("评估记录 {id} 已不是草稿")));
    }
    Ok(())
}

/// Submitted → draft again (returned by the reviewer); the entries are still there.
pub fn reopen_record(t: &mut dyn Tx, id: i64, now: DateTime<Utc>) -> Result<()> {
    let n = t.exec(
        "UPDATE assessment_record SET status = 'draft', updated_at = $1 WHERE id = $2 AND status = 'submitted'",
        &[Value::Time(now), Value::Int(id)],
    )?;
    if n != 1 {
        return Err(StoreError::Aborted(format!("评估记录 {id} 不是已提交状态")));
    }
    Ok(())
}

pub fn set_reviewed(t: &mut dyn Tx, id: i64, reviewer: &str, note: &str, at: DateTime<Utc>) -> Result<()> {
    t.exec(
        "UPDATE assessment_record SET reviewer = $1, review_note = $2, reviewed_at = $3, updated_at = $3 WHERE id = $4",
        &[
            Value::text(reviewer),
            Value::text(note),
            Value::Time(at),
            Value::Int(id),
        ],
    )?;
    Ok(())
}

pub fn set_result_batch(t: &mut dyn Tx, id: i64, batch_id: i64, at: DateTime<Utc>) -> Result<()> {
    let n = t.exec(
        "UPDATE assessment_record SET result_batch_id = $1, updated_at = $2 WHERE id = $3 AND result_batch_id IS NULL",
        &[Value::Int(batch_id), Value::Time(at), Value::Int(id)],
    )?;
    if n != 1 {
        return Err(StoreError::Aborted(format!("评估记录 {id} 的结果已写入")));
    }
    Ok(())
}

/// Writes a record that was assessed elsewhere (imported) in one go: submitted, reviewed, scored.
pub fn insert_imported_record(
    t: &mut dyn Tx,
    r: &NewRecord,
    s: &Submission,
    reviewer: &str,
    batch_id: i64,
) -> Result<i64> {
    let id = insert_record(t, r)?;
    submit_record(t, id, s)?;
    set_reviewed(t, id, reviewer, "外部系统评估结果导入", s.now)?;
    set_result_batch(t, id, batch_id, s.now)?;
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// Amendments

#[derive(Debug, Clone, Serialize)]
pub struct AmendmentRow {
    pub id: i64,
    pub record_id: i64,
    pub old_level: i64,
    pub new_level: i64,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub batch_id: i64,
}

#[allow(clippy::too_many_arguments)]
pub fn insert_amendment(
    t: &mut dyn Tx,
    record_id: i64,
    old_level: i64,
    new_level: i64,
    reason: &str,
    by: &str,
    at: DateTime<Utc>,
    batch_id: i64,
) -> Result<i64> {
    let id = returned_id(t.query_one(
        "INSERT INTO assessment_amendment (record_id, old_level, new_level, reason, by_user, at, batch_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            Value::Int(record_id),
            Value::Int(old_level),
            Value::Int(new_level),
            Value::text(reason),
            Value::text(by),
            Value::Time(at),
            Value::Int(batch_id),
        ],
    )?)?;
    t.exec(
        "UPDATE assessment_record SET amended_level = $1, updated_at = $2 WHERE id = $3",
        &[Value::Int(new_level), Value::Time(at), Value::Int(record_id)],
    )?;
    Ok(id)
}

pub fn amendments(t: &mut dyn Tx, record_id: i64) -> Result<Vec<AmendmentRow>> {
    t.query(
        "SELECT id, record_id, old_level, new_level, reason, by_user, at, batch_id FROM assessment_amendment WHERE record_id = $1 ORDER BY id",
        &[Value::Int(record_id)],
    )?
    .iter()
    .map(|r| {
        Ok(AmendmentRow {
            id: r.int(0)?,
            record_id: r.int(1)?,
            old_level: r.int(2)?,
            new_level: r.int(3)?,
            reason: r.text(4)?,
            by: r.text(5)?,
            at: r.time(6)?,
            batch_id: r.int(7)?,
        })
    })
    .collect()
}

/// The registry's `capability_level` fact a result batch wrote for a person (the one with that
/// value and start date).
pub fn result_fact(t: &mut dyn Tx, batch_id: i64, person_id: i64) -> Result<Option<(i64, String, NaiveDate)>> {
    t.query_one(
        "SELECT id, value, valid_from FROM fact WHERE batch_id = $1 AND person_id = $2 AND kind = 'capability_level' ORDER BY id DESC LIMIT 1",
        &[Value::Int(batch_id), Value::Int(person_id)],
    )?
    .map(|r| Ok((r.int(0)?, r.text(1)?, r.date(2)?)))
    .transpose()
}

/// Marks a fact as never having held (an amended result): it ends on the day it starts, by the
/// amendment's batch. History keeps the row; no date sees it as current.
pub fn retract_fact(t: &mut dyn Tx, fact_id: i64, batch_id: i64) -> Result<()> {
    t.exec(
        "UPDATE fact SET valid_to = valid_from, ended_by_batch = $1 WHERE id = $2",
        &[Value::Int(batch_id), Value::Int(fact_id)],
    )?;
    t.exec(
        "UPDATE import_batch SET facts_ended = facts_ended + 1 WHERE id = $1",
        &[Value::Int(batch_id)],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Population queries (overdue lists, statistics)

/// A person in a division on a date, with the latest capability result the registry holds.
#[derive(Debug, Clone, Serialize)]
pub struct PersonLevel {
    pub person_id: i64,
    pub name: String,
    pub id_number: String,
    pub birth_date: NaiveDate,
    /// 户籍 code (12 digits) on the date.
    pub hukou: String,
    /// The latest `capability_level` fact current on the date, its value and start.
    pub level: Option<(String, NaiveDate)>,
}

/// Every living person whose 户籍 on `as_of` falls in the scope (`include` prefixes minus
/// `exclude`), with their current capability level. Streams the rows; where sources disagree
/// the fact that started last counts (as the entitlement engine reads it).
pub fn people_with_levels(
    db: &Db,
    include: &[String],
    exclude: &[String],
    as_of: NaiveDate,
    f: &mut dyn FnMut(PersonLevel) -> Result<()>,
) -> Result<()> {
    let mut params = vec![Value::Date(as_of)];
    let mut ors = Vec::new();
    for p in include {
        params.push(Value::text(p));
        params.push(Value::Text(format!("{p}:")));
        ors.push(format!(
            "(h.value >= ${} AND h.value < ${})",
            params.len() - 1,
            params.len()
        ));
    }
    let mut cond = if ors.is_empty() {
        "true".to_string()
    } else {
        format!("({})", ors.join(" OR "))
    };
    for p in exclude {
        params.push(Value::text(p));
        params.push(Value::Text(format!("{p}:")));
        cond.push_str(&format!(
            " AND NOT (h.value >= ${} AND h.value < ${})",
            params.len() - 1,
            params.len()
        ));
    }
    // One row per (person, 户籍 fact, level fact); ordered so that a person's rows are adjacent
    // and the chosen facts come first.
    let sql = format!(
        "SELECT p.id, p.name, p.id_number, p.birth_date, h.value, c.value, c.valid_from
         FROM fact h
         JOIN person p ON p.id = h.person_id
         LEFT JOIN fact c ON c.person_id = p.id AND c.kind = 'capability_level' AND c.valid_from <= $1
              AND (c.valid_to IS NULL OR c.valid_to > $1)
         WHERE h.kind = 'hukou' AND h.valid_from <= $1 AND (h.valid_to IS NULL OR h.valid_to > $1) AND {cond}
           AND p.birth_date <= $1
           AND NOT EXISTS (SELECT 1 FROM fact d WHERE d.person_id = p.id AND d.kind = 'death' AND d.valid_from <= $1)
         ORDER BY p.id, h.valid_from DESC, h.batch_id DESC, c.valid_from DESC, c.batch_id DESC"
    );
    let mut current: Option<PersonLevel> = None;
    db.scan(&sql, &params, |r| {
        let id = r.int(0)?;
        if current.as_ref().is_some_and(|c| c.person_id == id) {
            return Ok(());
        }
        if let Some(done) = current.take() {
            f(done)?;
        }
        let level = match (r.opt_text(5)?, r.opt_date(6)?) {
            (Some(v), Some(d)) => Some((v, d)),
            _ => None,
        };
        current = Some(PersonLevel {
            person_id: id,
            name: r.text(1)?,
            id_number: r.text(2)?,
            birth_date: r.date(3)?,
            hukou: r.text(4)?,
            level,
        });
        Ok(())
    })?;
    if let Some(done) = current.take() {
        f(done)?;
    }
    Ok(())
}

/// A registry person read inside a transaction.
pub fn person_in(t: &mut dyn Tx, id: i64) -> Result<Option<crate::registry::Person>> {
    t.query_one(
        "SELECT id, id_number, name, sex, birth_date FROM person WHERE id = $1",
        &[Value::Int(id)],
    )?
    .map(|r| {
        Ok(crate::registry::Person {
            id: r.int(0)?,
            id_number: r.text(1)?,
            name: r.text(2)?,
            sex: r.int(3)?,
            birth_date: r.date(4)?,
        })
    })
    .transpose()
}

pub fn person_id_by_number(t: &mut dyn Tx, id_number: &str) -> Result<Option<i64>> {
    t.query_one("SELECT id FROM person WHERE id_number = $1", &[Value::text(id_number)])?
        .map(|r| r.int(0))
        .transpose()
}

/// Restores a retracted result fact (an amendment back to an earlier value): it holds again
/// until `valid_to`, the end the replaced fact had.
pub fn restore_fact(t: &mut dyn Tx, fact_id: i64, valid_to: Option<NaiveDate>) -> Result<()> {
    t.exec(
        "UPDATE fact SET valid_to = $1, ended_by_batch = NULL WHERE id = $2",
        &[Value::opt_date(valid_to), Value::Int(fact_id)],
    )?;
    Ok(())
}

/// The fact with this key (what the registry's unique key says), with its end.
pub fn fact_by_key(
    t: &mut dyn Tx,
    person_id: i64,
    source: &str,
    valid_from: NaiveDate,
    value: &str,
) -> Result<Option<(i64, Option<NaiveDate>)>> {
    t.query_one(
        "SELECT id, valid_to FROM fact WHERE kind = 'capability_level' AND source = $1 AND person_id = $2 AND valid_from = $3 AND value = $4",
        &[
            Value::text(source),
            Value::Int(person_id),
            Value::Date(valid_from),
            Value::text(value),
        ],
    )?
    .map(|r| Ok((r.int(0)?, r.opt_date(1)?)))
    .transpose()
}
