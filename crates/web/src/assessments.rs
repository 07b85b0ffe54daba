//! Capability assessment pages (issue #5): requests, the tablet entry form (one indicator per
//! screen, scores and level as items are answered, saved field by field), review and the result,
//! amendments, the printable report, overdue reassessments and statistics by division, and the
//! register of agencies and assessors.
//!
//! Every form carries the console's CSRF token (`crate::csrf`, double submit); the entry page's
//! script sends it with each save. Until accounts arrive (issue #6) the names of who acted are
//! typed into the forms and recorded as given.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use yanglao_assessment::form::{self, Entries, Field, Kind, Screen, SCREENS};
use yanglao_assessment::gbt42195::{self, Level, INDICATORS};
use yanglao_assessment::reports::{self, Due};
use yanglao_assessment::service::{
    self, AgencyInput, AssessError, AssessorInput, RequestInput, StoredChange, StoredSubtotal,
};
use yanglao_assessment::workflow::{Reason, RequestedBy, Status};
use yanglao_domain::dates::age_on;
use yanglao_domain::{DivisionCode, IdNumber, Sex};
use yanglao_store::assessments::{self as store, RecordRow, RequestRow};
use yanglao_store::registry::{self, PersonQuery};

use crate::auth::Principal;
use crate::csrf;
use crate::{
    blocking, division_options, local_time, page, parse_as_of, place, with_csrf, App, AppError, DivisionOption, Result,
};

impl From<AssessError> for AppError {
    fn from(e: AssessError) -> Self {
        match e {
            AssessError::NotFound(m) => AppError::NotFound(m),
            AssessError::Store(e) => AppError::Internal(e.to_string()),
            e => AppError::BadRequest(e.to_string()),
        }
    }
}

/// A request whose person the user's scope reaches (else "not found", as for people).
fn request_in_scope(app: &App, user: &Principal, id: i64) -> Result<()> {
    let (q, _) = service::request_detail(&app.db, id)?;
    if yanglao_store::accounts::person_in_scope(&app.db, q.person_id, &user.scope)? {
        Ok(())
    } else {
        Err(AppError::NotFound("没有这个申请，或其不在您的管辖范围内。".into()))
    }
}

/// A record whose person the user's scope reaches.
fn record_in_scope(app: &App, user: &Principal, id: i64) -> Result<()> {
    let d = service::draft(&app.db, id)?;
    if yanglao_store::accounts::person_in_scope(&app.db, d.record.person_id, &user.scope)? {
        Ok(())
    } else {
        Err(AppError::NotFound("没有这条评估记录，或其不在您的管辖范围内。".into()))
    }
}

fn masked(id: &str) -> String {
    IdNumber::parse(id)
        .map(|i| i.masked())
        .unwrap_or_else(|_| "（无效号码）".into())
}

fn status_label(code: &str) -> &'static str {
    Status::parse(code).map(Status::label).unwrap_or("未知")
}

fn reason_label(code: &str) -> &'static str {
    Reason::parse(code).map(Reason::label).unwrap_or("其他")
}

fn by_label(code: &str) -> &'static str {
    RequestedBy::parse(code).map(RequestedBy::label).unwrap_or("其他")
}

fn level_label(level: Option<i64>) -> String {
    level
        .and_then(|l| u8::try_from(l).ok())
        .and_then(Level::from_code)
        .map(|l| l.to_string())
        .unwrap_or_else(|| "—".into())
}

fn opt_date(s: &str) -> Result<Option<NaiveDate>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    yanglao_domain::dates::parse_date(s).map(Some).ok_or_else(|| {
        AppError::BadRequest(format!(
            "日期“{}”无效，应为 YYYY-MM-DD。",
            s.chars().take(20).collect::<String>()
        ))
    })
}

fn date(s: &str, what: &str) -> Result<NaiveDate> {
    opt_date(s)?.ok_or_else(|| AppError::BadRequest(format!("请填写{what}。")))
}

fn see_other(to: String) -> Response {
    Redirect::to(&to).into_response()
}

// ---------------------------------------------------------------------------------------------
// Static files

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/assessment.js"),
    )
}

pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/assessment.css"),
    )
}

// ---------------------------------------------------------------------------------------------
// Requests

struct RequestLine {
    id: i64,
    person_name: String,
    id_masked: String,
    requested_by: &'static str,
    reason: &'static str,
    status: &'static str,
    requested_on: String,
    agency: String,
    scheduled_on: String,
}

fn request_line(q: &RequestRow) -> RequestLine {
    RequestLine {
        id: q.id,
        person_name: q.person_name.clone(),
        id_masked: masked(&q.id_number),
        requested_by: by_label(&q.requested_by),
        reason: reason_label(&q.reason),
        status: status_label(&q.status),
        requested_on: q.requested_on.to_string(),
        agency: q.agency_name.clone().unwrap_or_default(),
        scheduled_on: q.scheduled_on.map(|d| d.to_string()).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "assessment_requests.html")]
struct RequestsPage {
    nav: &'static str,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<RequestLine>,
}

#[derive(Deserialize, Default)]
pub struct StatusQuery {
    status: Option<String>,
}

pub async fn requests(State(app): State<Arc<App>>, user: Principal, Query(q): Query<StatusQuery>) -> Result<Response> {
    blocking(move || {
        let status = q
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| Status::parse(s).ok_or_else(|| AppError::BadRequest("状态无效。".into())))
            .transpose()?;
        let rows = store::requests(&app.db, status.map(Status::code), 500, &user.scope)?;
        page(RequestsPage {
            nav: "assessments",
            status: status.map(|s| s.code().to_string()).unwrap_or_default(),
            statuses: Status::ALL.iter().map(|s| (s.code(), s.label())).collect(),
            rows: rows.iter().map(request_line).collect(),
        })
    })
    .await
}

struct PersonHit {
    id: i64,
    name: String,
    id_masked: String,
    age: i32,
    hukou: String,
}

struct Chosen {
    id: i64,
    name: String,
    id_masked: String,
    age: i32,
    hukou: String,
    results: Vec<(i64, String, String)>,
}

#[derive(Template)]
#[template(path = "assessment_new.html")]
struct NewPage {
    csrf: String,
    nav: &'static str,
    q: String,
    hits: Vec<PersonHit>,
    chosen: Option<Chosen>,
    today: String,
    requested_by: Vec<(&'static str, &'static str)>,
    reasons: Vec<(&'static str, &'static str)>,
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    q: Option<String>,
    person: Option<i64>,
}

pub async fn new_request(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Query(q): Query<NewQuery>,
) -> Result<Response> {
    with_csrf(&headers, move |csrf| {
        let today = (app.today)();
        let text = q.q.clone().unwrap_or_default();
        if text.chars().count() > 64 {
            return Err(AppError::BadRequest("查询内容过长。".into()));
        }
        let mut hits = Vec::new();
        if !text.trim().is_empty() {
            let (list, _) = registry::search_persons(
                &app.db,
                &PersonQuery {
                    text: Some(text.clone()),
                    as_of: Some(today),
                    limit: 20,
                    visible: user.scope.clone(),
                    ..Default::default()
                },
            )?;
            hits = list
                .into_iter()
                .filter(|p| p.died.is_none_or(|d| d > today))
                .map(|p| PersonHit {
                    id: p.id,
                    name: p.name,
                    id_masked: masked(&p.id_number),
                    age: age_on(p.birth_date, today),
                    hukou: place(&app.catalogue, p.hukou.as_deref(), today),
                })
                .collect();
        }
        let chosen = match q.person {
            Some(pid) => {
                let p = crate::read_person(&app, &user, pid, "person.assessment.read")?;
                let facts = registry::person_facts(&app.db, pid)?;
                let state = yanglao_registry::state::state_on(&facts, today);
                let results = service::person_results(&app.db, pid)?
                    .iter()
                    .map(|r| {
                        (
                            r.id,
                            r.record_no.clone(),
                            format!("{} {}", r.assessed_on, level_label(r.level())),
                        )
                    })
                    .collect();
                Some(Chosen {
                    id: p.id,
                    name: p.name,
                    id_masked: masked(&p.id_number),
                    age: age_on(p.birth_date, today),
                    hukou: place(&app.catalogue, state.value(yanglao_domain::FactKind::Hukou), today),
                    results,
                })
            }
            None => None,
        };
        // A full ID number typed into the search box is not echoed back into the page.
        let shown = match IdNumber::parse(&text) {
            Ok(id) => id.masked(),
            Err(_) => text,
        };
        page(NewPage {
            csrf,
            nav: "assessments",
            q: shown,
            hits,
            chosen,
            today: today.to_string(),
            requested_by: RequestedBy::MANUAL.iter().map(|r| (r.code(), r.label())).collect(),
            reasons: Reason::ALL.iter().map(|r| (r.code(), r.label())).collect(),
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct CreateForm {
    /// Missing means refused by the check (403), not a malformed form.
    #[serde(default)]
    csrf: String,
    person_id: i64,
    requested_by: String,
    #[serde(default)]
    requester: String,
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    disputed_record_id: String,
    requested_on: String,
    by: String,
}

pub async fn create_request(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Form(f): Form<CreateForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        crate::read_person(&app, &user, f.person_id, "person.assessment.request")?;
        let requested_by =
            RequestedBy::parse(&f.requested_by).ok_or_else(|| AppError::BadRequest("申请人类别无效。".into()))?;
        let reason = Reason::parse(&f.reason).ok_or_else(|| AppError::BadRequest("评估原因无效。".into()))?;
        let disputed = match f.disputed_record_id.trim() {
            "" => None,
            s => Some(
                s.parse()
                    .map_err(|_| AppError::BadRequest("有疑问的评估结果无效。".into()))?,
            ),
        };
        let requested_on = date(&f.requested_on, "申请日期")?;
        if requested_on > (app.today)() {
            return Err(AppError::BadRequest("申请日期不能晚于今天。".into()));
        }
        let by = required_name(&f.by, "经办人")?;
        let id = service::create_request(
            &app.db,
            &RequestInput {
                person_id: f.person_id,
                requested_by,
                requester: f.requester.clone(),
                reason,
                note: f.note.clone(),
                disputed_record_id: disputed,
                requested_on,
            },
            &by,
            Utc::now(),
        )?;
        Ok(see_other(format!("/assessments/requests/{id}")))
    })
    .await
}

fn required_name(s: &str, what: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 50 {
        return Err(AppError::BadRequest(format!("请填写{what}（不超过50个字）。")));
    }
    Ok(s.to_string())
}

struct AnswerLine {
    code: &'static str,
    name: &'static str,
    score: String,
    text: String,
}

struct IndicatorView {
    code: String,
    name: String,
    clause: String,
    score: u8,
    max: u8,
    answers: Vec<AnswerLine>,
}

/// A scored record as the review page and the report show it.
struct ScoredView {
    indicators: Vec<IndicatorView>,
    total: i64,
    preliminary: String,
    final_level: String,
    level_now: String,
    amended: bool,
    changes: Vec<StoredChange>,
    coma: bool,
    diagnoses: String,
    risk: String,
}

fn scored_view(rec: &RecordRow) -> Result<Option<ScoredView>> {
    let (Some(answers), Some(subtotals)) = (&rec.answers, &rec.subtotals) else {
        return Ok(None);
    };
    let bad = |e: serde_json::Error| AppError::Internal(format!("record {} scores unreadable: {e}", rec.id));
    let answers: HashMap<String, u8> = serde_json::from_str(answers).map_err(bad)?;
    let subtotals: Vec<StoredSubtotal> = serde_json::from_str(subtotals).map_err(bad)?;
    let changes: Vec<StoredChange> = match &rec.changes {
        Some(c) => serde_json::from_str(c).map_err(bad)?,
        None => Vec::new(),
    };
    let conditions: gbt42195::Conditions = match &rec.conditions {
        Some(c) => serde_json::from_str(c).map_err(bad)?,
        None => Default::default(),
    };
    let indicators = subtotals
        .into_iter()
        .zip(INDICATORS.iter())
        .map(|(s, ind)| IndicatorView {
            code: s.code,
            name: s.name,
            clause: s.report_clause,
            score: s.score,
            max: s.max,
            answers: ind
                .items
                .iter()
                .map(|item| {
                    let score = answers.get(item.code).copied();
                    AnswerLine {
                        code: item.code,
                        name: item.name,
                        score: score.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
                        text: score
                            .and_then(|s| item.option(s))
                            .map(|o| o.text.to_string())
                            .unwrap_or_default(),
                    }
                })
                .collect(),
        })
        .collect();
    let risk = conditions
        .risk_events
        .categories()
        .iter()
        .map(|(code, name, c)| format!("{code} {name}：{}", c.label()))
        .collect::<Vec<_>>()
        .join("；");
    Ok(Some(ScoredView {
        indicators,
        total: rec.total.unwrap_or(0),
        preliminary: level_label(rec.preliminary_level),
        final_level: level_label(rec.final_level),
        level_now: level_label(rec.level()),
        amended: rec.amended_level.is_some(),
        changes,
        coma: conditions.coma,
        diagnoses: if conditions.diagnoses.is_empty() {
            "无".into()
        } else {
            conditions.diagnoses.join("、")
        },
        risk,
    }))
}

struct StepLine {
    to: &'static str,
    by: String,
    at: String,
    note: String,
}

struct AmendLine {
    at: String,
    by: String,
    old: String,
    new: String,
    reason: String,
    batch_id: i64,
}

struct RecordInfo {
    id: i64,
    record_no: String,
    status: String,
    draft: bool,
    assessed_on: String,
    assessors: String,
    reviewer: String,
    result_batch_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "assessment_request.html")]
struct RequestPage {
    csrf: String,
    nav: &'static str,
    q: RequestLine,
    person_id: i64,
    age: i32,
    sex: &'static str,
    hukou: String,
    requester: String,
    note: String,
    disputed: String,
    status_code: String,
    steps: Vec<StepLine>,
    record: Option<RecordInfo>,
    scored: Option<ScoredView>,
    amendments: Vec<AmendLine>,
    agencies: Vec<(i64, String)>,
    today: String,
    levels: Vec<(u8, String)>,
}

fn assessor_names(db: &yanglao_store::Db, rec: &RecordRow) -> Result<Vec<String>> {
    let all = store::assessors(db, Some(rec.agency_id))?;
    Ok([rec.assessor1_id, rec.assessor2_id]
        .iter()
        .flatten()
        .filter_map(|id| all.iter().find(|a| a.id == *id))
        .map(|a| format!("{}（证书 {}）", a.name, a.certificate))
        .collect())
}

pub async fn request_page(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response> {
    with_csrf(&headers, move |csrf| {
        let today = (app.today)();
        let (q, rec) = service::request_detail(&app.db, id)?;
        crate::read_person(&app, &user, q.person_id, "person.assessment.read")?;
        let facts = registry::person_facts(&app.db, q.person_id)?;
        let state = yanglao_registry::state::state_on(&facts, today);
        let steps = store::request_steps(&app.db, id)?
            .into_iter()
            .map(|s| StepLine {
                to: status_label(&s.to),
                by: s.by,
                at: local_time(s.at),
                note: s.note,
            })
            .collect();
        let (record, scored, amendments) = match &rec {
            Some(r) => {
                let amendments = service::amendments(&app.db, r.id)?
                    .into_iter()
                    .map(|a| AmendLine {
                        at: local_time(a.at),
                        by: a.by,
                        old: level_label(Some(a.old_level)),
                        new: level_label(Some(a.new_level)),
                        reason: a.reason,
                        batch_id: a.batch_id,
                    })
                    .collect();
                let info = RecordInfo {
                    id: r.id,
                    record_no: r.record_no.clone(),
                    status: if r.status == "draft" {
                        "草稿（录入中）".into()
                    } else {
                        "已提交".into()
                    },
                    draft: r.status == "draft",
                    assessed_on: r.assessed_on.to_string(),
                    assessors: assessor_names(&app.db, r)?.join("、"),
                    reviewer: r.reviewer.clone().unwrap_or_default(),
                    result_batch_id: r.result_batch_id,
                };
                (Some(info), scored_view(r)?, amendments)
            }
            None => (None, None, Vec::new()),
        };
        let agencies = store::agencies(&app.db)?
            .into_iter()
            .filter(|a| a.qualified_on(today))
            .map(|a| (a.id, a.name))
            .collect();
        page(RequestPage {
            csrf,
            nav: "assessments",
            person_id: q.person_id,
            age: age_on(q.birth_date, today),
            sex: Sex::from_code(q.sex).map(|s| s.label()).unwrap_or("未知"),
            hukou: place(&app.catalogue, state.value(yanglao_domain::FactKind::Hukou), today),
            requester: q.requester.clone(),
            note: q.reason_note.clone(),
            disputed: q
                .disputed_record_id
                .map(|r| format!("评估记录 #{r}"))
                .unwrap_or_default(),
            status_code: q.status.clone(),
            q: request_line(&q),
            steps,
            record,
            scored,
            amendments,
            agencies,
            today: today.to_string(),
            levels: Level::ALL.iter().map(|l| (l.code(), l.to_string())).collect(),
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    /// Missing means refused by the check (403), not a malformed form.
    #[serde(default)]
    csrf: String,
    agency_id: i64,
    on: String,
    by: String,
}

pub async fn schedule(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<ScheduleForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        request_in_scope(&app, &user, id)?;
        let by = required_name(&f.by, "经办人")?;
        let on = date(&f.on, "评估日期")?;
        service::schedule(&app.db, id, f.agency_id, on, &by, Utc::now())?;
        Ok(see_other(format!("/assessments/requests/{id}")))
    })
    .await
}

#[derive(Deserialize)]
pub struct NoteForm {
    /// Missing means refused by the check (403), not a malformed form.
    #[serde(default)]
    csrf: String,
    by: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    decision: String,
}

pub async fn cancel(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<NoteForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        request_in_scope(&app, &user, id)?;
        let by = required_name(&f.by, "经办人")?;
        service::cancel(&app.db, id, &by, &f.note, Utc::now())?;
        Ok(see_other(format!("/assessments/requests/{id}")))
    })
    .await
}

pub async fn review(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<NoteForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        request_in_scope(&app, &user, id)?;
        let approve = match f.decision.as_str() {
            "approve" => true,
            "return" => false,
            _ => return Err(AppError::BadRequest("请选择审核通过或退回修改。".into())),
        };
        service::review(&app.db, id, &f.by, approve, &f.note, Utc::now())?;
        Ok(see_other(format!("/assessments/requests/{id}")))
    })
    .await
}

pub async fn publish(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<NoteForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        request_in_scope(&app, &user, id)?;
        let by = required_name(&f.by, "经办人")?;
        service::publish(&app.db, id, &by, Utc::now())?;
        Ok(see_other(format!("/assessments/requests/{id}")))
    })
    .await
}

#[derive(Deserialize)]
pub struct AmendForm {
    /// Missing means refused by the check (403), not a malformed form.
    #[serde(default)]
    csrf: String,
    level: u8,
    reason: String,
    by: String,
}

pub async fn amend(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<AmendForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        record_in_scope(&app, &user, id)?;
        let level = Level::from_code(f.level).ok_or_else(|| AppError::BadRequest("等级无效。".into()))?;
        service::amend(&app.db, id, level, &f.reason, &f.by, Utc::now())?;
        let rec = service::draft(&app.db, id)?;
        Ok(see_other(format!("/assessments/requests/{}", rec.record.request_id)))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The entry form

struct OptionView {
    value: String,
    score: String,
    label: String,
    checked: bool,
    /// B.3.9 昏迷: C.4 (1) applies.
    coma: bool,
}

struct ItemView {
    code: &'static str,
    name: &'static str,
    definition: &'static str,
    max: u8,
    options: Vec<OptionView>,
    error: String,
}

struct FieldView {
    code: &'static str,
    label: &'static str,
    hint: &'static str,
    required: bool,
    /// text, number, tel, textarea, single, multi, risk, icd
    kind: &'static str,
    value: String,
    min: u32,
    max: u32,
    maxlen: usize,
    options: Vec<(String, String, bool)>,
    error: String,
}

struct TabView {
    index: usize,
    title: &'static str,
    done: String,
    current: bool,
}

struct Live {
    /// As of the last save, for pages without script.
    saved_total: u8,
    saved_answered: usize,
    saved_prelim: String,
    saved_final: String,
    /// Saved scores of the items not on this screen.
    others_total: u8,
    others_answered: usize,
    /// Saved C.4 inputs not on this screen.
    risk_others: u8,
    coma_others: bool,
    mental_others: bool,
}

struct SummaryView {
    missing: Vec<String>,
    scored: Option<gbt42195::Scored>,
    assessors: Vec<(i64, String, bool, bool)>,
    assessed_on: String,
}

#[derive(Template)]
#[template(path = "assessment_entry.html")]
struct EntryPage {
    csrf: String,
    record_id: i64,
    request_id: i64,
    record_no: String,
    person_name: String,
    id_masked: String,
    age: i32,
    agency: String,
    screen: usize,
    last: usize,
    title: &'static str,
    tabs: Vec<TabView>,
    items: Vec<ItemView>,
    fields: Vec<FieldView>,
    section_max: u8,
    live: Live,
    summary: Option<SummaryView>,
    problems: Vec<String>,
    readonly: bool,
    errors_top: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct EntryQuery {
    s: Option<usize>,
}

fn mental_in(codes: &str) -> bool {
    codes
        .split(',')
        .filter_map(|c| yanglao_assessment::icd::Icd10::parse(c).ok())
        .any(|c| c.mental_disorder().is_some())
}

fn b39_options(item: &yanglao_assessment::Item, stored: Option<&str>) -> Vec<OptionView> {
    let mut out = Vec::new();
    for o in item.options {
        if item.code == "B.3.9" && o.score == 0 {
            // README §1.3 implementation tip: 昏睡 and 昏迷 are one option scoring 0 in the form;
            // split so that 昏迷 can trigger C.4 (1).
            let (sopor, coma) = o.text.split_once("；或者").unwrap_or((o.text, "昏迷"));
            out.push(OptionView {
                value: "0".into(),
                score: "0".into(),
                label: sopor.to_string(),
                checked: stored == Some("0"),
                coma: false,
            });
            out.push(OptionView {
                value: form::B39_COMA.into(),
                score: "0".into(),
                label: coma.to_string(),
                checked: stored == Some(form::B39_COMA),
                coma: true,
            });
            continue;
        }
        let v = o.score.to_string();
        out.push(OptionView {
            checked: stored == Some(v.as_str()),
            score: v.clone(),
            value: v,
            label: o.text.to_string(),
            coma: false,
        });
    }
    out
}

fn field_view(f: &'static Field, entries: &Entries, errors: &HashMap<String, String>) -> FieldView {
    let stored = entries.get(f.code).cloned().unwrap_or_default();
    let mut v = FieldView {
        code: f.code,
        label: f.label,
        hint: f.hint,
        required: f.required,
        kind: "text",
        value: stored.clone(),
        min: 0,
        max: 0,
        maxlen: 0,
        options: Vec::new(),
        error: errors.get(f.code).cloned().unwrap_or_default(),
    };
    match f.kind {
        Kind::Text(n) => {
            v.kind = if n > 200 { "textarea" } else { "text" };
            v.maxlen = n;
        }
        Kind::Number { min, max } => {
            v.kind = "number";
            v.min = min;
            v.max = max;
        }
        Kind::Phone => v.kind = "tel",
        Kind::Icd => v.kind = "icd",
        Kind::Single(opts) => {
            v.kind = "single";
            v.options = opts
                .iter()
                .map(|o| (o.to_string(), o.to_string(), stored == *o))
                .collect();
        }
        Kind::Multi(opts) => {
            v.kind = "multi";
            let picked = form::multi(entries, f.code);
            v.options = opts
                .iter()
                .map(|o| (o.to_string(), o.to_string(), picked.iter().any(|p| p == o)))
                .collect();
        }
        Kind::RiskCount => {
            v.kind = "risk";
            v.options = ["无", "发生过1次", "发生过2次", "发生过3次及以上"]
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), l.to_string(), stored == i.to_string()))
                .collect();
        }
    }
    v
}

fn render_entry(
    app: &App,
    csrf: String,
    record_id: i64,
    screen: usize,
    errors: &HashMap<String, String>,
    problems: Vec<String>,
) -> Result<Response> {
    let today = (app.today)();
    let d = service::draft(&app.db, record_id)?;
    let screen = screen.min(SCREENS.len() - 1);
    let sc = SCREENS[screen];
    let e = &d.entries;
    let items: Vec<ItemView> = sc
        .indicator()
        .map(|ind| {
            ind.items
                .iter()
                .map(|item| ItemView {
                    code: item.code,
                    name: item.name,
                    definition: item.definition.unwrap_or(""),
                    max: item.max(),
                    options: b39_options(item, e.get(item.code).map(String::as_str)),
                    error: errors.get(item.code).cloned().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let fields: Vec<FieldView> = sc.fields().iter().map(|f| field_view(f, e, errors)).collect();
    let on_screen = |code: &str| items.iter().any(|i| i.code == code) || fields.iter().any(|f| f.code == code);
    let preview = form::to_scoring(e).ok().and_then(|(a, c)| gbt42195::score(&a, &c).ok());
    let mut live = Live {
        saved_total: d.progress.total,
        saved_answered: d.progress.answered,
        saved_prelim: preview
            .as_ref()
            .map(|s| s.preliminary.to_string())
            .unwrap_or_else(|| "—".into()),
        saved_final: preview
            .as_ref()
            .map(|s| s.final_level.to_string())
            .unwrap_or_else(|| "—".into()),
        others_total: 0,
        others_answered: 0,
        risk_others: 0,
        coma_others: false,
        mental_others: false,
    };
    for item in INDICATORS.iter().flat_map(|i| i.items.iter()) {
        if !on_screen(item.code) {
            if let Some(s) = form::item_score(e, item.code) {
                live.others_total += s;
                live.others_answered += 1;
            }
        }
    }
    for i in 1..=5 {
        let code = format!("A.2.14.{i}");
        if !on_screen(&code) {
            live.risk_others += e.get(&code).and_then(|v| v.parse::<u8>().ok()).unwrap_or(0);
        }
    }
    live.coma_others = (!on_screen("A.5.11") && e.get("A.5.11").is_some_and(|v| v == "有"))
        || (!on_screen("B.3.9") && e.get("B.3.9").is_some_and(|v| v == form::B39_COMA));
    live.mental_others = !on_screen("A.4.1.codes") && e.get("A.4.1.codes").is_some_and(|v| mental_in(v));
    let tabs = SCREENS
        .iter()
        .enumerate()
        .map(|(i, s)| TabView {
            index: i,
            title: s.title(),
            done: match s {
                Screen::Indicator(k) => {
                    let p = d.progress.indicators[*k];
                    format!("{}/{}", p.2, p.3)
                }
                Screen::Basic | Screen::Health => {
                    let req: Vec<&Field> = s.fields().iter().filter(|f| f.required).collect();
                    let done = req.iter().filter(|f| e.contains_key(f.code)).count();
                    format!("{done}/{}", req.len())
                }
                Screen::Summary => String::new(),
            },
            current: i == screen,
        })
        .collect();
    let summary = if sc == Screen::Summary {
        Some(SummaryView {
            missing: form::missing(e),
            scored: preview,
            assessors: d
                .assessors
                .iter()
                .filter(|a| a.qualified_on(d.record.assessed_on))
                .map(|a| {
                    (
                        a.id,
                        format!("{}（{}，证书 {}）", a.name, a.qualification, a.certificate),
                        d.record.assessor1_id == Some(a.id),
                        d.record.assessor2_id == Some(a.id),
                    )
                })
                .collect(),
            assessed_on: d.record.assessed_on.to_string(),
        })
    } else {
        None
    };
    let mut errors_top: Vec<String> = errors
        .iter()
        .filter(|(k, _)| !on_screen(k))
        .map(|(_, v)| v.clone())
        .collect();
    errors_top.sort();
    let p =
        registry::person(&app.db, d.record.person_id)?.ok_or_else(|| AppError::NotFound("没有这个人员。".into()))?;
    page(EntryPage {
        csrf,
        record_id,
        request_id: d.record.request_id,
        record_no: d.record.record_no.clone(),
        person_name: p.name,
        id_masked: masked(&p.id_number),
        age: age_on(p.birth_date, today),
        agency: d.agency.name.clone(),
        screen,
        last: SCREENS.len() - 1,
        title: sc.title(),
        tabs,
        section_max: sc.indicator().map(|i| i.max()).unwrap_or(0),
        items,
        fields,
        live,
        summary,
        problems,
        readonly: d.record.status != "draft",
        errors_top,
    })
}

pub async fn entry(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<EntryQuery>,
) -> Result<Response> {
    with_csrf(&headers, move |csrf| {
        let d = service::draft(&app.db, id)?;
        crate::read_person(&app, &user, d.record.person_id, "person.assessment.entry")?;
        render_entry(&app, csrf, id, q.s.unwrap_or(0), &HashMap::new(), Vec::new())
    })
    .await
}

#[derive(Serialize)]
struct SaveReply {
    saved: Vec<String>,
    errors: Vec<(String, String)>,
}

/// Groups posted pairs by field. `_present=CODE` marks a multiple choice that was sent, so an
/// empty one clears the field; other names starting with "_" are controls.
fn group(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut order: Vec<String> = Vec::new();
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        let key = if k == "_present" { v.clone() } else { k.clone() };
        if key.starts_with('_') || key == csrf::FIELD || key.len() > 40 {
            continue;
        }
        let slot = map.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Vec::new()
        });
        if k != "_present" {
            slot.push(v.clone());
        }
    }
    order
        .into_iter()
        .filter_map(|k| map.remove(&k).map(|v| (k, v)))
        .collect()
}

/// Saves fields of a draft. From the page's script (`_ajax=1`): a JSON reply with what was
/// saved and what was refused. From the plain form (a screen submitted): on to the next screen,
/// or the same screen again with the reasons.
pub async fn save(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let token = pairs
        .iter()
        .find(|(k, _)| k == csrf::FIELD)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    csrf::verify(&headers, &token)?;
    if pairs.len() > 400 {
        return Err(AppError::BadRequest("提交的字段过多。".into()));
    }
    blocking(move || {
        record_in_scope(&app, &user, id)?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let ajax = get("_ajax") == Some("1");
        let screen: usize = get("_screen").and_then(|s| s.parse().ok()).unwrap_or(0);
        let go: Option<usize> = get("_go").and_then(|s| s.parse().ok());
        let inputs = group(&pairs);
        let out = service::save(&app.db, id, &inputs, Utc::now());
        if ajax {
            return match out {
                Ok(o) => Ok(Json(SaveReply {
                    saved: o.saved,
                    errors: o.errors,
                })
                .into_response()),
                Err(AssessError::Store(e)) => Err(AppError::Internal(e.to_string())),
                Err(e) => Ok((
                    StatusCode::CONFLICT,
                    Json(SaveReply {
                        saved: Vec::new(),
                        errors: vec![("_".into(), e.to_string())],
                    }),
                )
                    .into_response()),
            };
        }
        let out = out?;
        if out.errors.is_empty() {
            let to = go.unwrap_or(screen).min(SCREENS.len() - 1);
            return Ok(see_other(format!("/assessments/records/{id}/entry?s={to}")));
        }
        let errors: HashMap<String, String> = out.errors.into_iter().collect();
        let mut resp = render_entry(&app, token, id, screen, &errors, Vec::new())?;
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        Ok(resp)
    })
    .await
}

#[derive(Deserialize)]
pub struct SubmitForm {
    /// Missing means refused by the check (403), not a malformed form.
    #[serde(default)]
    csrf: String,
    by: String,
}

pub async fn submit(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<SubmitForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        record_in_scope(&app, &user, id)?;
        let last = SCREENS.len() - 1;
        let by = match required_name(&f.by, "提交人") {
            Ok(b) => b,
            Err(_) => return render_entry(&app, f.csrf, id, last, &HashMap::new(), vec!["请填写提交人。".into()]),
        };
        match service::submit(&app.db, id, &by, (app.today)(), Utc::now()) {
            Ok(_) => {
                let d = service::draft(&app.db, id)?;
                Ok(see_other(format!("/assessments/requests/{}", d.record.request_id)))
            }
            Err(AssessError::Incomplete(p)) => {
                let mut resp = render_entry(&app, f.csrf, id, last, &HashMap::new(), p)?;
                *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                Ok(resp)
            }
            Err(e) => Err(e.into()),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The report

struct InfoLine {
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "assessment_report.html")]
struct ReportPage {
    request_id: i64,
    record_no: String,
    assessed_on: String,
    reason: &'static str,
    agency: String,
    agency_qualification: String,
    name: String,
    sex: &'static str,
    birth: String,
    id_masked: String,
    age: i32,
    hukou: String,
    scored: ScoredView,
    info: Vec<InfoLine>,
    assessor1: String,
    assessor2: String,
    reviewer: String,
    effective: bool,
    amendments: Vec<AmendLine>,
    printed: String,
}

pub async fn report(State(app): State<Arc<App>>, user: Principal, Path(id): Path<i64>) -> Result<Response> {
    blocking(move || {
        let today = (app.today)();
        let d = service::draft(&app.db, id)?;
        let rec = &d.record;
        let scored = scored_view(rec)?.ok_or_else(|| AppError::NotFound("该评估尚未提交，没有报告。".into()))?;
        let p = crate::read_person(&app, &user, rec.person_id, "person.assessment.report")?;
        let facts = registry::person_facts(&app.db, rec.person_id)?;
        let state = yanglao_registry::state::state_on(&facts, rec.assessed_on);
        let names: Vec<String> = [rec.assessor1_id, rec.assessor2_id]
            .iter()
            .map(|id| {
                id.and_then(|id| d.assessors.iter().find(|a| a.id == id))
                    .map(|a| format!("{}（证书 {}）", a.name, a.certificate))
                    .unwrap_or_default()
            })
            .collect();
        let info: Vec<InfoLine> = match &rec.basic_info {
            Some(b) => {
                let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(b)
                    .map_err(|e| AppError::Internal(format!("record {id} basic info unreadable: {e}")))?;
                form::BASIC
                    .iter()
                    .chain(form::HEALTH.iter())
                    .filter_map(|f| {
                        let v = map.get(f.code)?;
                        let stored = match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        Some(InfoLine {
                            label: format!(
                                "{} {}",
                                f.code.trim_end_matches(".codes").trim_end_matches(".other"),
                                f.label
                            ),
                            value: form::display(f, &stored),
                        })
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        let amendments = service::amendments(&app.db, id)?
            .into_iter()
            .map(|a| AmendLine {
                at: local_time(a.at),
                by: a.by,
                old: level_label(Some(a.old_level)),
                new: level_label(Some(a.new_level)),
                reason: a.reason,
                batch_id: a.batch_id,
            })
            .collect();
        let mut names = names.into_iter();
        page(ReportPage {
            request_id: rec.request_id,
            record_no: rec.record_no.clone(),
            assessed_on: rec.assessed_on.to_string(),
            reason: reason_label(&d.request.reason),
            agency: d.agency.name.clone(),
            agency_qualification: d.agency.qualification.clone(),
            name: p.name,
            sex: Sex::from_code(p.sex).map(|s| s.label()).unwrap_or("未知"),
            birth: p.birth_date.to_string(),
            id_masked: masked(&p.id_number),
            age: age_on(p.birth_date, rec.assessed_on),
            hukou: place(
                &app.catalogue,
                state.value(yanglao_domain::FactKind::Hukou),
                rec.assessed_on,
            ),
            scored,
            info,
            assessor1: names.next().unwrap_or_default(),
            assessor2: names.next().unwrap_or_default(),
            reviewer: rec.reviewer.clone().unwrap_or_default(),
            effective: rec.result_batch_id.is_some(),
            amendments,
            printed: today.to_string(),
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Overdue and statistics

#[derive(Deserialize, Default)]
pub struct DivisionQuery {
    division: Option<String>,
    as_of: Option<String>,
}

fn division_of(app: &App, s: Option<&str>) -> Result<Option<DivisionCode>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Ok(Some(
            DivisionCode::parse(s).map_err(|e| AppError::BadRequest(e.to_string()))?,
        )),
        None => Ok(app
            .catalogue
            .all()
            .map(|d| d.code)
            .filter(|c| c.level() == yanglao_domain::DivisionLevel::Province)
            .min()),
    }
}

struct OverdueLine {
    person_id: i64,
    name: String,
    id_masked: String,
    age: i32,
    hukou: String,
    level: String,
    why: String,
    due: String,
    days: i64,
    request: Option<(i64, &'static str)>,
}

#[derive(Template)]
#[template(path = "assessment_overdue.html")]
struct OverduePage {
    nav: &'static str,
    as_of: String,
    division_options: Vec<DivisionOption>,
    place: String,
    period: String,
    rows: Vec<OverdueLine>,
}

pub async fn overdue(State(app): State<Arc<App>>, user: Principal, Query(q): Query<DivisionQuery>) -> Result<Response> {
    blocking(move || {
        let as_of = parse_as_of(&app, q.as_of.as_deref())?;
        let division = division_of(&app, q.division.as_deref())?;
        // A list of people: only a division within the reader's scope.
        if let Some(div) = division {
            if !user.scope.contains(&div.full()) {
                return Err(AppError::Forbidden(format!(
                    "{} 不在您的管辖范围（{}）内。",
                    app.catalogue.path_name(div, as_of),
                    user.scope_label
                )));
            }
        }
        let (rows, place_name, period) = match division {
            Some(div) => {
                let rows = reports::overdue(&app.db, &app.catalogue, div, as_of)?;
                let (months, from) = reports::period_for(&app.db, &app.catalogue, div, as_of)?;
                let period = match from {
                    Some(r) => format!("{months} 个月（{} 自 {} 起设定）", r.set_by, r.valid_from),
                    None => format!("{months} 个月（未设定，按默认值）"),
                };
                (rows, app.catalogue.path_name(div, as_of), period)
            }
            None => (Vec::new(), "—".into(), String::new()),
        };
        let rows = rows
            .into_iter()
            .map(|r| {
                let (why, due) = match &r.due {
                    Due::Period {
                        last_on,
                        due_on,
                        months,
                    } => (format!("上次评估 {last_on}，已满 {months} 个月"), due_on.to_string()),
                    Due::Trigger {
                        reason, requested_on, ..
                    } => (format!("{}（{requested_on} 申请）", reason.label()), "立即".to_string()),
                };
                let request = match &r.due {
                    Due::Trigger { request_id, .. } => Some((*request_id, "待评估")),
                    Due::Period { .. } => r.open_request.map(|(id, s)| (id, s.label())),
                };
                OverdueLine {
                    person_id: r.person_id,
                    name: r.name,
                    id_masked: masked(&r.id_number),
                    age: r.age,
                    hukou: place(&app.catalogue, Some(&r.hukou), as_of),
                    level: level_label(r.level),
                    why,
                    due,
                    days: r.days_overdue,
                    request,
                }
            })
            .collect();
        page(OverduePage {
            nav: "assessment_overdue",
            as_of: as_of.to_string(),
            division_options: division_options(&app.catalogue, division, as_of),
            place: place_name,
            period,
            rows,
        })
    })
    .await
}

struct StatsLine {
    code: String,
    name: String,
    persons: i64,
    by_level: [i64; 5],
    assessed: i64,
    aged_65: i64,
    aged_65_assessed: i64,
    share: String,
}

fn stats_line(r: &reports::StatsRow) -> StatsLine {
    StatsLine {
        code: r.code.clone(),
        name: r.name.clone(),
        persons: r.persons,
        by_level: r.by_level,
        assessed: r.assessed,
        aged_65: r.aged_65,
        aged_65_assessed: r.aged_65_assessed,
        share: r
            .share_65_permille()
            .map(|p| format!("{}.{}%", p / 10, p % 10))
            .unwrap_or_else(|| "—".into()),
    }
}

#[derive(Template)]
#[template(path = "assessment_stats.html")]
struct StatsPage {
    nav: &'static str,
    as_of: String,
    division_options: Vec<DivisionOption>,
    place: String,
    levels: Vec<String>,
    rows: Vec<StatsLine>,
    total: Option<StatsLine>,
}

pub async fn stats(State(app): State<Arc<App>>, Query(q): Query<DivisionQuery>) -> Result<Response> {
    blocking(move || {
        let as_of = parse_as_of(&app, q.as_of.as_deref())?;
        let division = division_of(&app, q.division.as_deref())?;
        let (rows, total, place_name) = match division {
            Some(div) => {
                let s = reports::stats(&app.db, &app.catalogue, div, as_of)?;
                (
                    s.rows.iter().map(stats_line).collect(),
                    Some(stats_line(&s.total)),
                    app.catalogue.path_name(div, as_of),
                )
            }
            None => (Vec::new(), None, "—".into()),
        };
        page(StatsPage {
            nav: "assessment_stats",
            as_of: as_of.to_string(),
            division_options: division_options(&app.catalogue, division, as_of),
            place: place_name,
            levels: Level::ALL.iter().map(|l| format!("{}级", l.code())).collect(),
            rows,
            total,
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Agencies and assessors

struct AgencyLine {
    id: i64,
    name: String,
    place: String,
    qualification: String,
    period: String,
    assessors: Vec<String>,
}

#[derive(Template)]
#[template(path = "assessment_agencies.html")]
struct AgenciesPage {
    csrf: String,
    nav: &'static str,
    agencies: Vec<AgencyLine>,
    today: String,
}

fn period_text(from: NaiveDate, to: Option<NaiveDate>) -> String {
    match to {
        Some(t) => format!("{from} 至 {t}"),
        None => format!("{from} 起"),
    }
}

pub async fn agencies(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response> {
    with_csrf(&headers, move |csrf| {
        let today = (app.today)();
        let all = store::assessors(&app.db, None)?;
        let agencies = store::agencies(&app.db)?
            .into_iter()
            .map(|a| AgencyLine {
                id: a.id,
                place: DivisionCode::parse(&a.division)
                    .map(|c| app.catalogue.path_name(c, today))
                    .unwrap_or_else(|_| a.division.clone()),
                qualification: a.qualification.clone(),
                period: period_text(a.qualified_from, a.qualified_to),
                assessors: all
                    .iter()
                    .filter(|s| s.agency_id == a.id)
                    .map(|s| {
                        format!(
                            "{}（{}，证书 {}，{}）",
                            s.name,
                            s.qualification,
                            s.certificate,
                            period_text(s.qualified_from, s.qualified_to)
                        )
                    })
                    .collect(),
                name: a.name,
            })
            .collect();
        page(AgenciesPage {
            csrf,
            nav: "assessment_agencies",
            agencies,
            today: today.to_string(),
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct AgencyForm {
    /// Missing means refused by the check (403), not a malformed form.
    #[serde(default)]
    csrf: String,
    name: String,
    division: String,
    qualification: String,
    qualified_from: String,
    #[serde(default)]
    qualified_to: String,
    by: String,
}

pub async fn create_agency(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<AgencyForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        let by = required_name(&f.by, "经办人")?;
        service::register_agency(
            &app.db,
            &AgencyInput {
                name: &f.name,
                division: &f.division,
                qualification: &f.qualification,
                qualified_from: date(&f.qualified_from, "资质起始日期")?,
                qualified_to: opt_date(&f.qualified_to)?,
            },
            &by,
            Utc::now(),
        )?;
        Ok(see_other("/assessments/agencies".into()))
    })
    .await
}

#[derive(Deserialize)]
pub struct AssessorForm {
    /// Missing means refused by the check (403), not a malformed form.
    #[serde(default)]
    csrf: String,
    agency_id: i64,
    name: String,
    certificate: String,
    qualification: String,
    qualified_from: String,
    #[serde(default)]
    qualified_to: String,
    by: String,
}

pub async fn create_assessor(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<AssessorForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || {
        let by = required_name(&f.by, "经办人")?;
        service::register_assessor(
            &app.db,
            &AssessorInput {
                agency_id: f.agency_id,
                name: &f.name,
                certificate: &f.certificate,
                qualification: &f.qualification,
                qualified_from: date(&f.qualified_from, "资格起始日期")?,
                qualified_to: opt_date(&f.qualified_to)?,
            },
            &by,
            Utc::now(),
        )?;
        Ok(see_other("/assessments/agencies".into()))
    })
    .await
}
