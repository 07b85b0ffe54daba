//! 长期护理失能等级评估 in the database (issue #5 §7): the grading tables jurisdictions load and
//! the assessments. Which table applies and whether a person may be assessed is decided in
//! `yanglao-assessment`; here are only the rows.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{Db, Result, Row, StoreError, Tx, Value};

fn returned_id(row: Option<Row>) -> Result<i64> {
    row.ok_or_else(|| StoreError::Aborted("no id returned".into()))?.int(0)
}

#[derive(Debug, Clone)]
pub struct NewTable {
    /// Short division code (6 or 12 digits).
    pub division: String,
    pub valid_from: NaiveDate,
    /// The checked spec as JSON.
    pub spec: String,
    pub source_document: String,
    pub loaded_by: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRow {
    pub id: i64,
    pub division: String,
    pub valid_from: NaiveDate,
    pub spec: String,
    pub source_document: String,
    pub loaded_by: String,
    pub loaded_at: DateTime<Utc>,
}

const TABLE_COLS: &str = "id, division, valid_from, spec, source_document, loaded_by, loaded_at";

fn table_from(r: &Row) -> Result<TableRow> {
    Ok(TableRow {
        id: r.int(0)?,
        division: r.text(1)?,
        valid_from: r.date(2)?,
        spec: r.text(3)?,
        source_document: r.text(4)?,
        loaded_by: r.text(5)?,
        loaded_at: r.time(6)?,
    })
}

pub fn insert_table(t: &mut dyn Tx, n: &NewTable) -> Result<i64> {
    returned_id(t.query_one(
        "INSERT INTO ltc_grading_table (division, valid_from, spec, source_document, loaded_by, loaded_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            Value::text(&n.division),
            Value::Date(n.valid_from),
            Value::text(&n.spec),
            Value::text(&n.source_document),
            Value::text(&n.loaded_by),
            Value::Time(n.now),
        ],
    )?)
}

/// Every loaded table, by division and date.
pub fn tables(db: &Db) -> Result<Vec<TableRow>> {
    db.query(
        &format!("SELECT {TABLE_COLS} FROM ltc_grading_table ORDER BY division, valid_from, id"),
        &[],
    )?
    .iter()
    .map(table_from)
    .collect()
}

/// Tables that have started by `on` (any division; the caller picks the one that applies).
pub fn tables_started(t: &mut dyn Tx, on: NaiveDate) -> Result<Vec<TableRow>> {
    t.query(
        &format!("SELECT {TABLE_COLS} FROM ltc_grading_table WHERE valid_from <= $1 ORDER BY id"),
        &[Value::Date(on)],
    )?
    .iter()
    .map(table_from)
    .collect()
}

pub fn table_at(t: &mut dyn Tx, division: &str, valid_from: NaiveDate) -> Result<Option<TableRow>> {
    t.query_one(
        &format!("SELECT {TABLE_COLS} FROM ltc_grading_table WHERE division = $1 AND valid_from = $2"),
        &[Value::text(division), Value::Date(valid_from)],
    )?
    .map(|r| table_from(&r))
    .transpose()
}

#[derive(Debug, Clone)]
pub struct NewAssessment {
    pub person_id: i64,
    pub assessed_on: NaiveDate,
    /// 户籍 code (12 digits) on the date.
    pub hukou: String,
    pub agency_id: i64,
    pub assessor1_id: i64,
    pub assessor2_id: i64,
    /// The answers as JSON.
    pub answers: String,
    pub adl: i64,
    pub cognition: i64,
    pub perception: i64,
    pub grade: Option<i64>,
    pub grading_table_id: Option<i64>,
    pub created_by: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssessmentRow {
    pub id: i64,
    pub person_id: i64,
    pub assessed_on: NaiveDate,
    pub hukou: String,
    pub agency_id: i64,
    pub assessor1_id: i64,
    pub assessor2_id: i64,
    pub answers: String,
    pub adl: i64,
    pub cognition: i64,
    pub perception: i64,
    pub grade: Option<i64>,
    pub grading_table_id: Option<i64>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

const ASSESSMENT_COLS: &str = "id, person_id, assessed_on, hukou, agency_id, assessor1_id, assessor2_id, answers, \
     adl, cognition, perception, grade, grading_table_id, created_by, created_at";

fn assessment_from(r: &Row) -> Result<AssessmentRow> {
    Ok(AssessmentRow {
        id: r.int(0)?,
        person_id: r.int(1)?,
        assessed_on: r.date(2)?,
        hukou: r.text(3)?,
        agency_id: r.int(4)?,
        assessor1_id: r.int(5)?,
        assessor2_id: r.int(6)?,
        answers: r.text(7)?,
        adl: r.int(8)?,
        cognition: r.int(9)?,
        perception: r.int(10)?,
        grade: r.opt_int(11)?,
        grading_table_id: r.opt_int(12)?,
        created_by: r.text(13)?,
        created_at: r.time(14)?,
    })
}

pub fn insert_assessment(t: &mut dyn Tx, a: &NewAssessment) -> Result<i64> {
    returned_id(t.query_one(
        "INSERT INTO ltc_assessment (person_id, assessed_on, hukou, agency_id, assessor1_id, assessor2_id, answers,
             adl, cognition, perception, grade, grading_table_id, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        &[
            Value::Int(a.person_id),
            Value::Date(a.assessed_on),
            Value::text(&a.hukou),
            Value::Int(a.agency_id),
            Value::Int(a.assessor1_id),
            Value::Int(a.assessor2_id),
            Value::text(&a.answers),
            Value::Int(a.adl),
            Value::Int(a.cognition),
            Value::Int(a.perception),
            a.grade.map(Value::Int).unwrap_or(Value::Null),
            a.grading_table_id.map(Value::Int).unwrap_or(Value::Null),
            Value::text(&a.created_by),
            Value::Time(a.now),
        ],
    )?)
}

pub fn assessment(db: &Db, id: i64) -> Result<Option<AssessmentRow>> {
    db.query_one(
        &format!("SELECT {ASSESSMENT_COLS} FROM ltc_assessment WHERE id = $1"),
        &[Value::Int(id)],
    )?
    .map(|r| assessment_from(&r))
    .transpose()
}

/// A person's LTC assessments, latest first.
pub fn person_assessments(db: &Db, person_id: i64) -> Result<Vec<AssessmentRow>> {
    db.query(
        &format!(
            "SELECT {ASSESSMENT_COLS} FROM ltc_assessment WHERE person_id = $1 ORDER BY assessed_on DESC, id DESC"
        ),
        &[Value::Int(person_id)],
    )?
    .iter()
    .map(assessment_from)
    .collect()
}

/// The person's 户籍 code on `on`; where sources disagree the fact that started last counts (as
/// the population queries read it).
pub fn hukou_on(t: &mut dyn Tx, person_id: i64, on: NaiveDate) -> Result<Option<String>> {
    t.query_one(
        "SELECT value FROM fact WHERE person_id = $1 AND kind = 'hukou' AND valid_from <= $2
           AND (valid_to IS NULL OR valid_to > $2)
         ORDER BY valid_from DESC, batch_id DESC LIMIT 1",
        &[Value::Int(person_id), Value::Date(on)],
    )?
    .map(|r| r.text(0))
    .transpose()
}
