//! The assessment workflow over the database: agencies and assessors, requests, drafts saved field
//! by field, submission by two assessors, review by a third person, the result written to the
//! registry as a `capability_level` fact, and amendments with a reason. Each command is one
//! transaction: the change, its step and the fact it makes commit together.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use yanglao_domain::{DivisionCode, FactKind};
use yanglao_store::assessments::{
    self as store, AgencyRow, AmendmentRow, AssessorRow, NewAgency, NewAssessor, NewRecord, NewRequest, RecordRow,
    RequestRow, Submission,
};
use yanglao_store::registry::{self, BatchSummary, NewBatch, Staged, StagedFact};
use yanglao_store::{Db, StoreError, Tx};

use crate::form::{self, Entries};
use crate::gbt42195::{self, Answers, Conditions, Level, Scored};
use crate::workflow::{Reason, RequestedBy, Status};

#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    /// Something the user can fix; the text says what.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("评估申请状态为“{from}”，不能{action}")]
    Transition { from: &'static str, action: &'static str },
    /// What keeps a draft from being submitted, every problem at once.
    #[error("尚不能提交：{}", .0.join("；"))]
    Incomplete(Vec<String>),
    #[error("数据库错误：{0}")]
    Store(StoreError),
    #[error("{0}")]
    Param(#[from] yanglao_lists::params::ParamError),
}

impl From<StoreError> for AssessError {
    /// A guarded update that found the row changed (someone acted first) is the user's news,
    /// not a system fault.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Aborted(m) => AssessError::Invalid(m),
            e => AssessError::Store(e),
        }
    }
}

pub type Result<T, E = AssessError> = std::result::Result<T, E>;

/// The registry source of capability results: one source for results entered here, imported
/// from other systems and sent by 卫健, so that a newer assessment ends the older one (the
/// registry supersedes within a source) instead of standing beside it as a conflict.
pub fn result_department() -> &'static str {
    FactKind::CapabilityLevel.usual_department().code()
}

/// `import_batch.source` of a result or amendment written from this module.
pub const BATCH_SOURCE: &str = "assessment";

/// One transaction whose body fails with the workflow's own errors: any error rolls it back.
pub(crate) fn tx<T>(db: &Db, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
    let mut failure = None;
    let out = db.tx(|t| {
        f(t).map_err(|e| {
            failure = Some(e);
            StoreError::Aborted("rolled back".into())
        })
    });
    match failure {
        Some(e) => Err(e),
        None => out.map_err(Into::into),
    }
}

fn invalid(s: impl Into<String>) -> AssessError {
    AssessError::Invalid(s.into())
}

fn required(value: &str, what: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(format!("请填写{what}")));
    }
    if v.chars().count() > 100 {
        return Err(invalid(format!("{what}不超过100个字")));
    }
    Ok(v.to_string())
}

fn status_of(q: &RequestRow) -> Result<Status> {
    Status::parse(&q.status).ok_or_else(|| invalid(format!("未知的申请状态“{}”", q.status)))
}

/// Moves a request, refusing what the workflow does not allow.
fn transition(
    t: &mut dyn Tx,
    q: &RequestRow,
    to: Status,
    action: &'static str,
    by: &str,
    now: DateTime<Utc>,
    note: &str,
) -> Result<()> {
    let from = status_of(q)?;
    if !from.can_move_to(to) {
        return Err(AssessError::Transition {
            from: from.label(),
            action,
        });
    }
    store::set_request_status(t, q.id, from.code(), to.code(), by, now, note)?;
    Ok(())
}

fn load_request(t: &mut dyn Tx, id: i64) -> Result<RequestRow> {
    store::request(t, id)?.ok_or_else(|| AssessError::NotFound(format!("没有评估申请 #{id}")))
}

fn load_record(t: &mut dyn Tx, id: i64) -> Result<RecordRow> {
    store::record(t, id)?.ok_or_else(|| AssessError::NotFound(format!("没有评估记录 #{id}")))
}

// ---------------------------------------------------------------------------------------------
// Agencies and assessors

pub struct AgencyInput<'a> {
    pub name: &'a str,
    pub division: &'a str,
    /// 资质: who recognised the agency and how (e.g. 民政局认定文号).
    pub qualification: &'a str,
    pub qualified_from: NaiveDate,
    pub qualified_to: Option<NaiveDate>,
}

pub fn register_agency(db: &Db, a: &AgencyInput<'_>, by: &str, now: DateTime<Utc>) -> Result<i64> {
    let name = required(a.name, "评估机构名称")?;
    let qualification = required(a.qualification, "机构资质（认定部门与文号）")?;
    let division = DivisionCode::parse(a.division.trim()).map_err(|e| invalid(e.to_string()))?;
    if a.qualified_to.is_some_and(|t| t <= a.qualified_from) {
        return Err(invalid("资质有效期的截止日期应晚于起始日期"));
    }
    tx(db, |t| {
        if store::agency_by_name(t, &name)?.is_some() {
            return Err(invalid(format!("评估机构“{name}”已登记")));
        }
        Ok(store::insert_agency(
            t,
            &NewAgency {
                name: name.clone(),
                division: division.short(),
                qualification: qualification.clone(),
                qualified_from: a.qualified_from,
                qualified_to: a.qualified_to,
                created_by: by.to_string(),
                now,
            },
        )?)
    })
}

pub struct AssessorInput<'a> {
    pub agency_id: i64,
    pub name: &'a str,
    /// 证书编号 (unique).
    pub certificate: &'a str,
    /// E.g. 老年人能力评估师（三级）.
    pub qualification: &'a str,
    pub qualified_from: NaiveDate,
    pub qualified_to: Option<NaiveDate>,
}

pub fn register_assessor(db: &Db, a: &AssessorInput<'_>, by: &str, now: DateTime<Utc>) -> Result<i64> {
    let name = required(a.name, "评估员姓名")?;
    let certificate = required(a.certificate, "证书编号")?;
    let qualification = required(a.qualification, "评估员资格")?;
    if a.qualified_to.is_some_and(|t| t <= a.qualified_from) {
        return Err(invalid("资格有效期的截止日期应晚于起始日期"));
    }
    let id = tx(db, |t| {
        if store::agency(t, a.agency_id)?.is_none() {
            return Err(invalid(format!("没有评估机构 #{}", a.agency_id)));
        }
        if store::assessor_by_certificate(t, &certificate)?.is_some() {
            return Err(invalid(format!("证书编号“{certificate}”已登记")));
        }
        Ok(store::insert_assessor(
            t,
            &NewAssessor {
                agency_id: a.agency_id,
                name: name.clone(),
                certificate: certificate.clone(),
                qualification: qualification.clone(),
                qualified_from: a.qualified_from,
                qualified_to: a.qualified_to,
                created_by: by.to_string(),
                now,
            },
        )?)
    })?;
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// Requests

pub struct RequestInput {
    pub person_id: i64,
    pub requested_by: RequestedBy,
    /// Who asked: the family member's or case worker's name (the person's own for 本人).
    pub requester: String,
    pub reason: Reason,
    pub note: String,
    /// 复评: the result in dispute.
    pub disputed_record_id: Option<i64>,
    pub requested_on: NaiveDate,
}

pub fn create_request(db: &Db, r: &RequestInput, by: &str, now: DateTime<Utc>) -> Result<i64> {
    if matches!(r.requested_by, RequestedBy::Auto | RequestedBy::Import) {
        return Err(invalid("自动申请与外部导入由系统创建"));
    }
    let note = r.note.trim().to_string();
    if note.chars().count() > 500 {
        return Err(invalid("说明不超过500个字"));
    }
    if r.reason == Reason::Immediate && note.is_empty() {
        return Err(invalid("即时评估须说明老年人状况发生了什么变化（A.1.3）"));
    }
    if r.reason == Reason::Dispute && r.disputed_record_id.is_none() {
        return Err(invalid("复评须指明有疑问的评估结果（A.1.3）"));
    }
    if r.reason != Reason::Dispute && r.disputed_record_id.is_some() {
        return Err(invalid("只有复评申请需要指明有疑问的评估结果"));
    }
    tx(db, |t| {
        let person = store::person_in(t, r.person_id)?.ok_or_else(|| invalid(format!("没有人员 #{}", r.person_id)))?;
        let requester = match r.requested_by {
            RequestedBy::Person if r.requester.trim().is_empty() => person.name.clone(),
            _ => r.requester.trim().to_string(),
        };
        if requester.is_empty() || requester.chars().count() > 100 {
            return Err(invalid("请填写申请人姓名（不超过100个字）"));
        }
        if let Some(rid) = r.disputed_record_id {
            let rec = store::record(t, rid)?;
            if !rec.is_some_and(|rec| rec.person_id == r.person_id && rec.result_batch_id.is_some()) {
                return Err(invalid(format!("评估记录 #{rid} 不是本人已生效的评估结果")));
            }
        }
        refuse_if_open(t, r.person_id)?;
        Ok(store::insert_request(
            t,
            &NewRequest {
                person_id: r.person_id,
                requested_by: r.requested_by.code().to_string(),
                requester,
                reason: r.reason.code().to_string(),
                reason_note: note.clone(),
                disputed_record_id: r.disputed_record_id,
                status: Status::Requested.code().to_string(),
                requested_on: r.requested_on,
                created_by: by.to_string(),
                now,
            },
        )?)
    })
}

/// One assessment at a time per person: a second open request would be assessed twice.
fn refuse_if_open(t: &mut dyn Tx, person_id: i64) -> yanglao_store::Result<()> {
    let open = store::person_requests(t, person_id)?
        .into_iter()
        .find(|q| Status::parse(&q.status).is_some_and(Status::is_open));
    match open {
        Some(q) => Err(StoreError::Aborted(format!(
            "该老年人已有进行中的评估申请 #{}（{}）",
            q.id,
            Status::parse(&q.status).map(Status::label).unwrap_or("")
        ))),
        None => Ok(()),
    }
}

/// A request made because a list rule needs a level the registry does not hold (e.g. 护理补贴
/// reads 能力等级). Returns `None` when the person already has an open request.
pub fn request_for_rule(db: &Db, person_id: i64, item: &str, on: NaiveDate, now: DateTime<Utc>) -> Result<Option<i64>> {
    tx(db, |t| {
        store::person_in(t, person_id)?.ok_or_else(|| invalid(format!("没有人员 #{person_id}")))?;
        if refuse_if_open(t, person_id).is_err() {
            return Ok(None);
        }
        let reason = if store::person_results(t, person_id)?.is_empty() {
            Reason::First
        } else {
            Reason::Routine
        };
        Ok(store::insert_request(
            t,
            &NewRequest {
                person_id,
                requested_by: RequestedBy::Auto.code().to_string(),
                requester: format!("清单事项：{item}"),
                reason: reason.code().to_string(),
                reason_note: format!("清单事项“{item}”的规则需要能力等级"),
                disputed_record_id: None,
                status: Status::Requested.code().to_string(),
                requested_on: on,
                created_by: "系统".into(),
                now,
            },
        )
        .map(Some)?)
    })
}

/// Fixes the agency and the date (A.1.2 评估基准日期) and opens the draft record; on a request
/// already scheduled whose draft is not submitted, changes them.
pub fn schedule(db: &Db, request_id: i64, agency_id: i64, on: NaiveDate, by: &str, now: DateTime<Utc>) -> Result<i64> {
    tx(db, |t| {
        let q = load_request(t, request_id)?;
        let agency = store::agency(t, agency_id)?.ok_or_else(|| invalid(format!("没有评估机构 #{agency_id}")))?;
        if !agency.qualified_on(on) {
            return Err(invalid(format!("评估机构“{}”在 {on} 不在资质有效期内", agency.name)));
        }
        if on < q.requested_on {
            return Err(invalid(format!("评估日期不能早于申请日期 {}", q.requested_on)));
        }
        let status = status_of(&q)?;
        if status == Status::Scheduled {
            let rec = store::record_for_request(t, request_id)?
                .ok_or_else(|| invalid(format!("评估申请 #{request_id} 没有评估记录")))?;
            // Assessors belong to an agency: a new agency means choosing them again.
            let (a1, a2) = if rec.agency_id == agency_id {
                (rec.assessor1_id, rec.assessor2_id)
            } else {
                (None, None)
            };
            store::set_schedule(t, request_id, agency_id, on)?;
            store::set_record_agency(t, rec.id, agency_id)?;
            store::set_record_assessors(t, rec.id, a1, a2, on)?;
            return Ok(rec.id);
        }
        transition(
            t,
            &q,
            Status::Scheduled,
            "安排评估",
            by,
            now,
            &format!("{} {on}", agency.name),
        )?;
        store::set_schedule(t, request_id, agency_id, on)?;
        let id = store::insert_record(
            t,
            &NewRecord {
                request_id,
                person_id: q.person_id,
                record_no: String::new(),
                agency_id,
                assessor1_id: None,
                assessor2_id: None,
                assessed_on: on,
                origin: "entry".into(),
                now,
            },
        )?;
        Ok(id)
    })
}

pub fn cancel(db: &Db, request_id: i64, by: &str, note: &str, now: DateTime<Utc>) -> Result<()> {
    let note = required(note, "撤销原因")?;
    tx(db, |t| {
        let q = load_request(t, request_id)?;
        transition(t, &q, Status::Cancelled, "撤销", by, now, &note)
    })
}

// ---------------------------------------------------------------------------------------------
// Drafts

/// What a save did: the fields stored and the inputs refused, each with the reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SaveOutcome {
    pub saved: Vec<String>,
    pub errors: Vec<(String, String)>,
}

/// Saves the given fields of a draft (every value sent for a field: several for a multiple
/// choice; none clears it). Valid fields are stored even when others are refused, so nothing
/// typed correctly is lost; the refused ones come back with the reason.
pub fn save(db: &Db, record_id: i64, inputs: &[(String, Vec<String>)], now: DateTime<Utc>) -> Result<SaveOutcome> {
    tx(db, |t| {
        let rec = load_record(t, record_id)?;
        if !store::touch_draft(t, record_id, now)? {
            return Err(invalid(format!("评估记录 {} 已提交，不能修改", rec.record_no)));
        }
        let mut out = SaveOutcome::default();
        let (mut a1, mut a2, mut on) = (rec.assessor1_id, rec.assessor2_id, rec.assessed_on);
        let mut record_changed = false;
        for (code, values) in inputs {
            let one = values.first().map(|s| s.trim()).unwrap_or("");
            match code.as_str() {
                form::ASSESSOR1 | form::ASSESSOR2 => {
                    let id = if one.is_empty() {
                        None
                    } else {
                        match one.parse::<i64>() {
                            Ok(id) => Some(id),
                            Err(_) => {
                                out.errors.push((code.clone(), "评估员选择无效".into()));
                                continue;
                            }
                        }
                    };
                    if let Some(id) = id {
                        match store::assessor(t, id)? {
                            Some(s) if s.agency_id == rec.agency_id => {}
                            _ => {
                                out.errors.push((code.clone(), "该评估员不属于本评估机构".into()));
                                continue;
                            }
                        }
                    }
                    if code == form::ASSESSOR1 {
                        a1 = id;
                    } else {
                        a2 = id;
                    }
                    record_changed = true;
                    out.saved.push(code.clone());
                }
                form::ASSESSED_ON => match yanglao_domain::dates::parse_date(one) {
                    Some(d) => {
                        on = d;
                        record_changed = true;
                        out.saved.push(code.clone());
                    }
                    None => out
                        .errors
                        .push((code.clone(), "评估基准日期无效，应为 YYYY-MM-DD".into())),
                },
                _ => match form::normalise(code, values) {
                    Ok(Some(v)) => {
                        store::upsert_entry(t, record_id, code, &v, now)?;
                        out.saved.push(code.clone());
                    }
                    Ok(None) => {
                        store::delete_entry(t, record_id, code)?;
                        out.saved.push(code.clone());
                    }
                    Err(e) => out.errors.push((code.clone(), e)),
                },
            }
        }
        if record_changed {
            if a1.is_some() && a1 == a2 {
                // Refused at once, not only at submission: the form has two signatures.
                out.saved.retain(|c| c != form::ASSESSOR2);
                out.errors.push((
                    form::ASSESSOR2.into(),
                    "两名评估员不能是同一人（附录C 评估报告由两名评估员签名）".into(),
                ));
                a2 = rec.assessor2_id.filter(|x| Some(*x) != a1);
            }
            store::set_record_assessors(t, record_id, a1, a2, on)?;
        }
        Ok(out)
    })
}

/// A draft (or submitted) record with everything the entry and review pages show.
pub struct Draft {
    pub record: RecordRow,
    pub request: RequestRow,
    pub agency: AgencyRow,
    pub assessors: Vec<AssessorRow>,
    pub entries: Entries,
    pub progress: form::Progress,
}

pub fn draft(db: &Db, record_id: i64) -> Result<Draft> {
    let (record, request, agency, entries) = tx(db, |t| {
        let record = load_record(t, record_id)?;
        let request = load_request(t, record.request_id)?;
        let agency = store::agency(t, record.agency_id)?
            .ok_or_else(|| invalid(format!("没有评估机构 #{}", record.agency_id)))?;
        let entries: Entries = store::entries(t, record_id)?.into_iter().collect();
        Ok::<_, AssessError>((record, request, agency, entries))
    })?;
    let assessors = store::assessors(db, Some(record.agency_id))?;
    let progress = form::progress(&entries);
    Ok(Draft {
        record,
        request,
        agency,
        assessors,
        entries,
        progress,
    })
}

/// The two assessors of a record, checked: both chosen, different people, of the record's
/// agency and qualified on the assessment date.
fn check_assessors(
    t: &mut dyn Tx,
    rec: &RecordRow,
    agency: &AgencyRow,
    problems: &mut Vec<String>,
) -> yanglao_store::Result<Option<(AssessorRow, AssessorRow)>> {
    let on = rec.assessed_on;
    if !agency.qualified_on(on) {
        problems.push(format!("评估机构“{}”在 {on} 不在资质有效期内", agency.name));
    }
    let (Some(id1), Some(id2)) = (rec.assessor1_id, rec.assessor2_id) else {
        problems.push("须由两名评估员共同评估（附录C 评估员签名两处），请选择两名评估员".into());
        return Ok(None);
    };
    if id1 == id2 {
        problems.push("两名评估员不能是同一人".into());
        return Ok(None);
    }
    let mut found = Vec::new();
    for id in [id1, id2] {
        match store::assessor(t, id)? {
            Some(s) => {
                if s.agency_id != rec.agency_id {
                    problems.push(format!("评估员 {} 不属于本评估机构", s.name));
                }
                if !s.qualified_on(on) {
                    problems.push(format!(
                        "评估员 {}（证书 {}）在 {on} 不在资格有效期内",
                        s.name, s.certificate
                    ));
                }
                found.push(s);
            }
            None => problems.push(format!("没有评估员 #{id}")),
        }
    }
    let mut it = found.into_iter();
    Ok(match (it.next(), it.next()) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    })
}

/// The stored form of the scores (the report reads them back as they were frozen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSubtotal {
    pub code: String,
    pub name: String,
    pub report_clause: String,
    pub score: u8,
    pub max: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChange {
    pub clause: String,
    pub detail: String,
}

pub fn submission(
    answers: &Answers,
    conditions: &Conditions,
    basic_info: &serde_json::Map<String, serde_json::Value>,
    scored: &Scored,
    by: &str,
    now: DateTime<Utc>,
) -> Submission {
    let answers_map: BTreeMap<&str, u8> = gbt42195::INDICATORS
        .iter()
        .flat_map(|ind| ind.items.iter())
        .filter_map(|item| answers.get(item.code).map(|s| (item.code, s)))
        .collect();
    let subtotals: Vec<StoredSubtotal> = scored
        .subtotals
        .iter()
        .map(|s| StoredSubtotal {
            code: s.code.into(),
            name: s.name.into(),
            report_clause: s.report_clause.into(),
            score: s.score,
            max: s.max,
        })
        .collect();
    let changes: Vec<StoredChange> = scored
        .changes
        .iter()
        .map(|c| StoredChange {
            clause: c.clause.into(),
            detail: c.detail.clone(),
        })
        .collect();
    let json = |v: serde_json::Result<String>| v.unwrap_or_else(|_| "null".into());
    Submission {
        answers: json(serde_json::to_string(&answers_map)),
        conditions: json(serde_json::to_string(conditions)),
        basic_info: json(serde_json::to_string(basic_info)),
        subtotals: json(serde_json::to_string(&subtotals)),
        total: i64::from(scored.total),
        preliminary_level: i64::from(scored.preliminary.code()),
        final_level: i64::from(scored.final_level.code()),
        changes: json(serde_json::to_string(&changes)),
        by: by.to_string(),
        now,
    }
}

/// Submits a complete draft: every item answered, the C.4 inputs present, two distinct qualified
/// assessors; scores it (C.1–C.5) and moves the request to 已评估.
pub fn submit(db: &Db, record_id: i64, by: &str, today: NaiveDate, now: DateTime<Utc>) -> Result<Scored> {
    tx(db, |t| {
        let rec = load_record(t, record_id)?;
        // Lock the draft before reading it: a save still in flight finishes first and is read,
        // a later one finds the record submitted and is refused.
        if !store::touch_draft(t, record_id, now)? {
            return Err(invalid(format!("评估记录 {} 已提交", rec.record_no)));
        }
        let q = load_request(t, rec.request_id)?;
        let agency =
            store::agency(t, rec.agency_id)?.ok_or_else(|| invalid(format!("没有评估机构 #{}", rec.agency_id)))?;
        let entries: Entries = store::entries(t, record_id)?.into_iter().collect();
        let mut problems = Vec::new();
        if rec.assessed_on > today {
            problems.push(format!("评估基准日期 {} 晚于今天", rec.assessed_on));
        }
        check_assessors(t, &rec, &agency, &mut problems)?;
        let scoring = form::to_scoring(&entries);
        let (answers, conditions) = match scoring {
            Ok(x) if problems.is_empty() => x,
            Ok(_) => return Err(AssessError::Incomplete(problems)),
            Err(mut p) => {
                problems.append(&mut p);
                return Err(AssessError::Incomplete(problems));
            }
        };
        let scored =
            gbt42195::score(&answers, &conditions).map_err(|e| AssessError::Incomplete(vec![e.to_string()]))?;
        let sub = submission(&answers, &conditions, &form::basic_info(&entries), &scored, by, now);
        store::submit_record(t, record_id, &sub)?;
        transition(
            t,
            &q,
            Status::Assessed,
            "提交评估",
            by,
            now,
            &format!("总分 {}，{}", scored.total, scored.final_level),
        )?;
        Ok(scored)
    })
}

/// The reviewer's decision on a submitted assessment: approve (→ 已审核) or return for correction
/// (→ 已安排, the record a draft again). The reviewer is a third person, not one of the assessors.
pub fn review(db: &Db, request_id: i64, reviewer: &str, approve: bool, note: &str, now: DateTime<Utc>) -> Result<()> {
    let reviewer = required(reviewer, "审核人")?;
    let note = note.trim().to_string();
    if !approve && note.is_empty() {
        return Err(invalid("退回修改须写明原因"));
    }
    tx(db, |t| {
        let q = load_request(t, request_id)?;
        let rec = store::record_for_request(t, request_id)?
            .ok_or_else(|| invalid(format!("评估申请 #{request_id} 没有评估记录")))?;
        for id in [rec.assessor1_id, rec.assessor2_id].into_iter().flatten() {
            if store::assessor(t, id)?.is_some_and(|s| s.name == reviewer) {
                return Err(invalid("审核人不能是本次评估的评估员"));
            }
        }
        if approve {
            transition(t, &q, Status::Reviewed, "审核通过", &reviewer, now, &note)?;
            store::set_reviewed(t, rec.id, &reviewer, &note, now)?;
        } else {
            transition(t, &q, Status::Scheduled, "退回修改", &reviewer, now, &note)?;
            store::reopen_record(t, rec.id, now)?;
        }
        Ok(())
    })
}

fn digest(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn staged_level(person: &registry::Person, level: i64, from: NaiveDate, to: Option<NaiveDate>) -> Staged {
    Staged::Fact(StagedFact {
        person_id: None,
        row_no: 1,
        id_number: person.id_number.clone(),
        name: person.name.clone(),
        sex: person.sex,
        birth_date: person.birth_date,
        kind: FactKind::CapabilityLevel.code(),
        value: level.to_string(),
        valid_from: from,
        valid_to: to,
        first_of_person: true,
    })
}

fn batch_meta(file_name: String, key: &str, now: DateTime<Utc>) -> NewBatch {
    NewBatch {
        source: BATCH_SOURCE.into(),
        department: result_department().into(),
        file_name,
        sha256: digest(key),
        size_bytes: 0,
        encoding: "—".into(),
        archive_path: None,
        now,
        fail_at: None,
    }
}

/// The result takes effect: the request becomes 结果已生效 and the final level (C.5) a registry
/// fact from the assessment date, in one transaction with an import batch that names the
/// assessment, so list rules read it like any department's fact.
pub fn publish(db: &Db, request_id: i64, by: &str, now: DateTime<Utc>) -> Result<BatchSummary> {
    tx(db, |t| {
        let q = load_request(t, request_id)?;
        let rec = store::record_for_request(t, request_id)?
            .ok_or_else(|| invalid(format!("评估申请 #{request_id} 没有评估记录")))?;
        transition(t, &q, Status::Result, "使结果生效", by, now, "")?;
        let level = rec
            .final_level
            .ok_or_else(|| invalid(format!("评估记录 {} 没有评分", rec.record_no)))?;
        let person =
            store::person_in(t, rec.person_id)?.ok_or_else(|| invalid(format!("没有人员 #{}", rec.person_id)))?;
        let agency = store::agency(t, rec.agency_id)?.map(|a| a.name).unwrap_or_default();
        let meta = batch_meta(
            format!("老年人能力评估结果 {}（{agency}）", rec.record_no),
            &format!("result:{}", rec.id),
            now,
        );
        let mut items = vec![
            Ok(staged_level(&person, level, rec.assessed_on, None)),
            Ok(Staged::RowDone { ok: true }),
        ]
        .into_iter();
        let batch = registry::apply_batch_in(t, &meta, &mut items, None)?;
        store::set_result_batch(t, rec.id, batch.id, now)?;
        Ok(batch)
    })
}

/// Corrects the level of a result: the old fact is marked as never having held, the new one
/// holds from the same date, and the amendment (who, when, why, old → new) is kept with the
/// batch that made the change.
pub fn amend(db: &Db, record_id: i64, new_level: Level, reason: &str, by: &str, now: DateTime<Utc>) -> Result<i64> {
    let reason = reason.trim().to_string();
    if reason.chars().count() < 4 {
        return Err(invalid("更正须写明理由（至少4个字）"));
    }
    if reason.chars().count() > 500 {
        return Err(invalid("更正理由不超过500个字"));
    }
    let by = required(by, "更正人")?;
    tx(db, |t| {
        let rec = load_record(t, record_id)?;
        if rec.result_batch_id.is_none() {
            return Err(invalid("只有已生效的评估结果可以更正；未生效的请退回修改"));
        }
        let old = rec.level().ok_or_else(|| invalid("该记录没有等级"))?;
        let new = i64::from(new_level.code());
        if old == new {
            return Err(invalid(format!("新等级与现等级相同（{}）", new_level)));
        }
        let person =
            store::person_in(t, rec.person_id)?.ok_or_else(|| invalid(format!("没有人员 #{}", rec.person_id)))?;
        let source = result_department();
        let (old_fact, old_to) = store::fact_by_key(t, rec.person_id, source, rec.assessed_on, &old.to_string())?
            .ok_or_else(|| invalid("老年人信息库中找不到该结果对应的能力等级记录"))?;
        let earlier = store::fact_by_key(t, rec.person_id, source, rec.assessed_on, &new.to_string())?;
        let n = store::amendments(t, record_id)?.len() + 1;
        let meta = batch_meta(
            format!("老年人能力评估结果更正 {}（第{n}次）", rec.record_no),
            &format!("amendment:{}:{n}", rec.id),
            now,
        );
        // The new level ends where the old one ended (a later assessment, a death).
        let mut items: Vec<std::result::Result<Staged, String>> = match earlier {
            None => vec![
                Ok(staged_level(&person, new, rec.assessed_on, old_to)),
                Ok(Staged::RowDone { ok: true }),
            ],
            Some(_) => Vec::new(),
        };
        let batch = registry::apply_batch_in(t, &meta, &mut items.drain(..), None)?;
        if let Some((id, _)) = earlier {
            // Back to a value this result had before: that row holds again.
            store::restore_fact(t, id, old_to)?;
        }
        store::retract_fact(t, old_fact, batch.id)?;
        let id = store::insert_amendment(t, record_id, old, new, &reason, &by, now, batch.id)?;
        Ok(id)
    })
}

pub fn amendments(db: &Db, record_id: i64) -> Result<Vec<AmendmentRow>> {
    tx(db, |t| Ok(store::amendments(t, record_id)?))
}

/// A request with its record, for the detail page.
pub fn request_detail(db: &Db, request_id: i64) -> Result<(RequestRow, Option<RecordRow>)> {
    tx(db, |t| {
        let q = load_request(t, request_id)?;
        let rec = store::record_for_request(t, request_id)?;
        Ok((q, rec))
    })
}

/// A person's results that took effect, newest first (for 复评 requests).
pub fn person_results(db: &Db, person_id: i64) -> Result<Vec<RecordRow>> {
    tx(db, |t| Ok(store::person_results(t, person_id)?))
}
