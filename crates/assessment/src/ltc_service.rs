//! 长期护理失能等级评估 over the database (issue #5 §7): jurisdictions load grading tables from a
//! date; an assessment is recorded only for a person whose 户籍 is in a pilot city on the date, and
//! gets an official 0–5 grade only if a table is in force there then. Without one the dimension
//! scores stand alone and pages say [`NO_TABLE`].

use chrono::{DateTime, NaiveDate, Utc};
use yanglao_domain::DivisionCode;
use yanglao_store::ltc::{self as store, AssessmentRow, NewAssessment, NewTable, TableRow};
use yanglao_store::{assessments, Db, Tx};

use crate::ltc::{self, LtcAnswers, LtcGradingSpec, LtcGradingTable, LtcScored};
use crate::service::{tx, AssessError, Result};

/// The LTC pilot cities of the region. Seed 000 §9: "呼和浩特市、乌海市、满洲里市要严格执行
/// 《长期护理失能等级评估标准(试行)》" — 呼和浩特市 150100, 乌海市 150300, 满洲里市 150781.
pub const PILOT_CITIES: [&str; 3] = ["150100", "150300", "150781"];

/// Shown wherever a grade would be when no table was in force.
pub const NO_TABLE: &str = "未载入分级表，暂不给出失能等级";

fn invalid(s: impl Into<String>) -> AssessError {
    AssessError::Invalid(s.into())
}

/// [`PILOT_CITIES`] parsed.
pub fn pilot_cities() -> Vec<DivisionCode> {
    PILOT_CITIES
        .iter()
        .filter_map(|c| DivisionCode::parse(c).ok())
        .collect()
}

/// Reads a grading table written in TOML (shape in [`ltc::LtcGradingTable`]), checking it.
pub fn parse_table(text: &str) -> Result<LtcGradingTable> {
    let spec: LtcGradingSpec =
        toml::from_str(text).map_err(|e| invalid(format!("长期护理失能等级分级表无法读取：{e}")))?;
    LtcGradingTable::new(spec).map_err(|e| invalid(format!("长期护理失能等级分级表不能载入：{e}")))
}

pub struct TableInput<'a> {
    pub division: &'a str,
    pub valid_from: NaiveDate,
    /// The document the jurisdiction loads it under (e.g. 实施细则 and 文号).
    pub source_document: &'a str,
}

/// Loads a checked table for a division from a date. One table per division and date: a
/// correction is a new table from a later date, so assessments already graded keep theirs.
pub fn load_table(
    db: &Db,
    table: &LtcGradingTable,
    input: &TableInput<'_>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let division = DivisionCode::parse(input.division.trim()).map_err(|e| invalid(e.to_string()))?;
    let source = input.source_document.trim();
    if source.is_empty() || source.chars().count() > 200 {
        return Err(invalid("请填写载入依据（文件名称与文号，不超过200个字）"));
    }
    let by = by.trim();
    if by.is_empty() || by.chars().count() > 100 {
        return Err(invalid("请填写载入人（不超过100个字）"));
    }
    // Re-checked on read: JSON of the checked spec, not the file, so comments and layout of the
    // file do not matter and the stored form is the one the code reads.
    let spec = serde_json::to_string(table.spec()).map_err(|e| invalid(format!("分级表无法保存：{e}")))?;
    tx(db, |t| {
        if let Some(old) = store::table_at(t, &division.short(), input.valid_from)? {
            return Err(invalid(format!(
                "{} 自 {} 起已有分级表 #{}；更正请从之后的日期载入新表",
                division, input.valid_from, old.id
            )));
        }
        Ok(store::insert_table(
            t,
            &NewTable {
                division: division.short(),
                valid_from: input.valid_from,
                spec: spec.clone(),
                source_document: source.to_string(),
                loaded_by: by.to_string(),
                now,
            },
        )?)
    })
}

/// A stored table read back and checked again.
pub fn table_of(row: &TableRow) -> Result<LtcGradingTable> {
    serde_json::from_str(&row.spec).map_err(|e| invalid(format!("分级表 #{} 无法读取：{e}", row.id)))
}

/// The table in force for 户籍 `hukou` on `on`: the most specific division containing it, then
/// the latest start.
fn table_in_force(t: &mut dyn Tx, hukou: DivisionCode, on: NaiveDate) -> Result<Option<(i64, LtcGradingTable)>> {
    let best = store::tables_started(t, on)?
        .into_iter()
        .filter_map(|r| DivisionCode::parse(&r.division).ok().map(|d| (d, r)))
        .filter(|(d, _)| hukou.is_within(*d))
        .max_by_key(|(d, r)| (d.level(), r.valid_from, r.id));
    match best {
        Some((_, row)) => Ok(Some((row.id, table_of(&row)?))),
        None => Ok(None),
    }
}

pub struct LtcInput {
    pub person_id: i64,
    pub assessed_on: NaiveDate,
    pub agency_id: i64,
    pub assessor1_id: i64,
    pub assessor2_id: i64,
    pub answers: LtcAnswers,
}

/// Records an assessment, graded if a table is in force. `pilots` is normally [`pilot_cities`].
pub fn record(db: &Db, input: &LtcInput, pilots: &[DivisionCode], by: &str, now: DateTime<Utc>) -> Result<i64> {
    let by = by.trim();
    if by.is_empty() || by.chars().count() > 100 {
        return Err(invalid("请填写经办人（不超过100个字）"));
    }
    if input.assessor1_id == input.assessor2_id {
        return Err(invalid("须由两名不同的评估员共同评估"));
    }
    let answers = serde_json::to_string(&input.answers).map_err(|e| invalid(e.to_string()))?;
    let on = input.assessed_on;
    tx(db, |t| {
        let person = assessments::person_in(t, input.person_id)?
            .ok_or_else(|| AssessError::NotFound(format!("没有人员 #{}", input.person_id)))?;
        let hukou = store::hukou_on(t, person.id, on)?.ok_or_else(|| {
            invalid(format!(
                "{} 在 {on} 没有户籍记录，不能进行长期护理失能等级评估",
                person.name
            ))
        })?;
        let code = DivisionCode::parse(&hukou).map_err(|e| invalid(format!("户籍代码无效：{e}")))?;
        if !pilots.iter().any(|p| code.is_within(*p)) {
            return Err(invalid(format!(
                "{} 在 {on} 的户籍不在长期护理保险试点城市（呼和浩特市、乌海市、满洲里市），不适用长期护理失能等级评估",
                person.name
            )));
        }
        let agency = assessments::agency(t, input.agency_id)?
            .ok_or_else(|| invalid(format!("没有评估机构 #{}", input.agency_id)))?;
        if !agency.qualified_on(on) {
            return Err(invalid(format!("评估机构“{}”在 {on} 不在资质有效期内", agency.name)));
        }
        for id in [input.assessor1_id, input.assessor2_id] {
            let a = assessments::assessor(t, id)?.ok_or_else(|| invalid(format!("没有评估员 #{id}")))?;
            if a.agency_id != agency.id {
                return Err(invalid(format!("评估员{}不属于“{}”", a.name, agency.name)));
            }
            if !a.qualified_on(on) {
                return Err(invalid(format!("评估员{}在 {on} 不在资格有效期内", a.name)));
            }
        }
        let table = table_in_force(t, code, on)?;
        let scored = ltc::score(&input.answers, table.as_ref().map(|(_, t)| t)).map_err(|e| invalid(e.to_string()))?;
        Ok(store::insert_assessment(
            t,
            &NewAssessment {
                person_id: person.id,
                assessed_on: on,
                hukou: code.full(),
                agency_id: agency.id,
                assessor1_id: input.assessor1_id,
                assessor2_id: input.assessor2_id,
                answers: answers.clone(),
                adl: i64::from(scored.adl),
                cognition: i64::from(scored.cognition),
                perception: i64::from(scored.perception),
                grade: scored.grade().map(|g| i64::from(g.code())),
                grading_table_id: table.as_ref().map(|(id, _)| *id),
                created_by: by.to_string(),
                now,
            },
        )?)
    })
}

/// A stored assessment with its answers and, if it was graded, the grading as the table it was
/// graded by gives it (the dimension degrees are not stored, only the table id).
pub struct StoredLtc {
    pub row: AssessmentRow,
    pub answers: LtcAnswers,
    pub scored: LtcScored,
}

impl StoredLtc {
    /// The grade as printed, or [`NO_TABLE`].
    pub fn grade_text(&self) -> String {
        match self.scored.grade() {
            Some(g) => g.to_string(),
            None => NO_TABLE.to_string(),
        }
    }
}

fn stored(db: &Db, row: AssessmentRow) -> Result<StoredLtc> {
    let answers: LtcAnswers = serde_json::from_str(&row.answers)
        .map_err(|e| invalid(format!("长期护理评估 #{} 的答案无法读取：{e}", row.id)))?;
    let table = match row.grading_table_id {
        Some(id) => {
            let t = store::tables(db)?
                .into_iter()
                .find(|t| t.id == id)
                .ok_or_else(|| invalid(format!("分级表 #{id} 不存在")))?;
            Some(table_of(&t)?)
        }
        None => None,
    };
    let scored = ltc::score(&answers, table.as_ref()).map_err(|e| invalid(e.to_string()))?;
    Ok(StoredLtc { row, answers, scored })
}

/// A person's LTC assessments, latest first.
pub fn person_assessments(db: &Db, person_id: i64) -> Result<Vec<StoredLtc>> {
    store::person_assessments(db, person_id)?
        .into_iter()
        .map(|r| stored(db, r))
        .collect()
}

pub fn assessment(db: &Db, id: i64) -> Result<StoredLtc> {
    let row = store::assessment(db, id)?.ok_or_else(|| AssessError::NotFound(format!("没有长期护理评估 #{id}")))?;
    stored(db, row)
}
