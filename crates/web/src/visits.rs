//! Care visits (探访关爱, issue #7): the monthly visit rate by division with drill-down and its
//! definition, the overdue list, a visitor's phone page (due this week → record a visit), the
//! record form (works without JavaScript; `/static/visits.js` keeps a typed visit in the browser
//! until the server has it), follow-ups with a close form, visitors and assignments, volunteer
//! points, `.xlsx` exports and a read-only JSON API.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::Form;
use chrono::{Duration, NaiveDate, Utc};
use serde::Deserialize;
use yanglao_domain::{DivisionCode, DivisionLevel};
use yanglao_security::Permission;
use yanglao_store::visits as store;
use yanglao_visits::rate::{monthly_rate, parse_month, this_month, RateRow, RateTable};
use yanglao_visits::schedule::{due_list, DueEntry};
use yanglao_visits::service::{self, Finding, FollowupInput, Recorded, VisitInput};
use yanglao_visits::{mask, VisitError, FINDING_STATUSES, FOLLOWUP_KINDS, HEADINGS, MODES, VISITOR_KINDS};

use crate::auth::Principal;
use crate::csrf::{self, Csrf};
use crate::{blocking, page, App, AppError};

type Result<T, E = AppError> = std::result::Result<T, E>;

impl From<VisitError> for AppError {
    fn from(e: VisitError) -> Self {
        match e {
            VisitError::Store(s) => AppError::Internal(s.to_string()),
            VisitError::Invalid(m) => AppError::BadRequest(m),
            VisitError::NotFound(m) => AppError::NotFound(m),
        }
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/visits.js"),
    )
}

pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/visits.css"),
    )
}

/// The division asked for, or the user's own scope, or the first province; refused outside the
/// user's scope.
fn division_for(app: &App, user: &Principal, s: Option<&str>) -> Result<DivisionCode> {
    let code = match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => DivisionCode::parse(s).map_err(|e| AppError::BadRequest(e.to_string()))?,
        None => match DivisionCode::parse(&user.scope_code) {
            Ok(c) => c,
            Err(_) => app
                .catalogue
                .all()
                .map(|d| d.code)
                .filter(|c| c.level() == DivisionLevel::Province)
                .min()
                .ok_or_else(|| AppError::NotFound("没有行政区划数据。".into()))?,
        },
    };
    if !user.scope.contains(&code.full()) {
        return Err(AppError::Forbidden("该区划不在您的管辖范围内。".into()));
    }
    Ok(code)
}

fn new_key() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| AppError::Internal(format!("random: {e}")))?;
    // A version-4 UUID.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Visitors record visits; caseworkers who manage visits may record them too.
fn may_record(user: &Principal) -> Result<()> {
    if user.can(Permission::VisitRecord) || user.can(Permission::VisitManage) {
        Ok(())
    } else {
        Err(AppError::Forbidden("您的角色不能记录探访。".into()))
    }
}

// ---------------------------------------------------------------------------------------------
// Rate

#[derive(Deserialize)]
pub struct RateQuery {
    division: Option<String>,
    month: Option<String>,
}

struct RateLine {
    code: String,
    name: String,
    drill: bool,
    row: RateRow,
    met: bool,
}

#[derive(Template)]
#[template(path = "visits_rate.html")]
struct RatePage {
    nav: &'static str,
    table: RateTable,
    month: String,
    lines: Vec<RateLine>,
    parent: Option<String>,
}

fn rate_table(app: &App, user: &Principal, q: &RateQuery) -> Result<RateTable> {
    let today = (app.today)();
    let div = division_for(app, user, q.division.as_deref())?;
    let (y, m) = match q.month.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => parse_month(s).ok_or_else(|| AppError::BadRequest("月份应为 YYYY-MM".into()))?,
        None => this_month(today),
    };
    Ok(monthly_rate(&app.db, &app.catalogue, div, y, m, today)?)
}

pub async fn rate(State(app): State<Arc<App>>, user: Principal, Query(q): Query<RateQuery>) -> Result<Response> {
    blocking(move || {
        let table = rate_table(&app, &user, &q)?;
        let month = format!("{:04}-{:02}", table.year, table.month);
        let lines = table
            .rows
            .iter()
            .map(|r| RateLine {
                code: r.division.clone(),
                name: r.name.clone(),
                drill: DivisionCode::parse(&r.division).is_ok_and(|c| c.level() < DivisionLevel::Village),
                met: r.on_list > 0 && r.visited == r.on_list,
                row: r.clone(),
            })
            .collect();
        let parent = DivisionCode::parse(&table.scope)
            .ok()
            .and_then(|c| app.catalogue.parent_on(c, table.upto))
            .filter(|p| user.scope.contains(&p.full()))
            .map(|p| p.short());
        page(RatePage {
            nav: "visits_rate",
            month,
            lines,
            parent,
            table,
        })
    })
    .await
}

pub async fn api_rate(State(app): State<Arc<App>>, user: Principal, Query(q): Query<RateQuery>) -> Result<Response> {
    blocking(move || Ok(Json(rate_table(&app, &user, &q)?).into_response())).await
}

pub async fn rate_export(State(app): State<Arc<App>>, user: Principal, Query(q): Query<RateQuery>) -> Result<Response> {
    blocking(move || {
        let t = rate_table(&app, &user, &q)?;
        let bytes = rate_xlsx(&t).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((
            [
                (header::CONTENT_TYPE, XLSX.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"visit-rate-{}-{:04}-{:02}.xlsx\"",
                        t.scope, t.year, t.month
                    ),
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

fn rate_xlsx(t: &RateTable) -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let pct = Format::new().set_num_format("0.0%");
    let ws = wb.add_worksheet().set_name("月探访率")?;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "{} {}年{}月 特殊困难老年人月探访率（{} 至 {}），目标 100%",
            t.scope_name, t.year, t.month, t.from, t.upto
        ),
        &bold,
    )?;
    let headers = [
        "区划代码",
        "区划",
        "整月在册",
        "已探访",
        "月探访率",
        "未探访",
        "月内新增",
        "月内离册",
        "其中死亡",
        "离册前已探访",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &bold)?;
    }
    for (i, r) in t.rows.iter().chain(std::iter::once(&t.total)).enumerate() {
        let row = i as u32 + 3;
        ws.write_string(row, 0, &r.division)?;
        ws.write_string(
            row,
            1,
            if i == t.rows.len() {
                format!("合计：{}", r.name)
            } else {
                r.name.clone()
            },
        )?;
        ws.write_number(row, 2, r.on_list as f64)?;
        ws.write_number(row, 3, r.visited as f64)?;
        match r.permille() {
            Some(p) => ws.write_number_with_format(row, 4, p as f64 / 1000.0, &pct)?,
            None => ws.write_string(row, 4, "—")?,
        };
        ws.write_number(row, 5, r.gap() as f64)?;
        ws.write_number(row, 6, r.joined as f64)?;
        ws.write_number(row, 7, r.left as f64)?;
        ws.write_number(row, 8, r.died as f64)?;
        ws.write_number(row, 9, r.left_visited as f64)?;
    }
    let last = t.rows.len() as u32 + 5;
    ws.write_string(last, 0, format!("口径：{}", t.definition))?;
    wb.save_to_buffer()
}

// ---------------------------------------------------------------------------------------------
// Due and overdue

#[derive(Deserialize)]
pub struct DueQuery {
    division: Option<String>,
    visitor: Option<i64>,
    /// "1": only the overdue.
    overdue: Option<String>,
}

struct DueLine {
    person_id: i64,
    name: String,
    id_masked: String,
    age: i32,
    place: String,
    tier: &'static str,
    reasons: String,
    last: String,
    interval: i64,
    due_on: String,
    overdue_days: i64,
    campaign: String,
    visitors: String,
}

fn due_lines(app: &App, user: &Principal, entries: Vec<DueEntry>, today: NaiveDate) -> Result<Vec<DueLine>> {
    let entries: Vec<DueEntry> = entries
        .into_iter()
        .filter(|e| user.scope.contains(&e.member.division.full()))
        .collect();
    let ids: Vec<i64> = entries.iter().map(|e| e.member.person_id).collect();
    let names = store::person_names(&app.db, &ids)?;
    let visitors: std::collections::HashMap<i64, String> = store::visitors(&app.db, "")?
        .into_iter()
        .map(|v| (v.id, v.name))
        .collect();
    Ok(entries
        .into_iter()
        .map(|e| {
            let (name, idn) = names.get(&e.member.person_id).cloned().unwrap_or_default();
            DueLine {
                person_id: e.member.person_id,
                name,
                id_masked: mask(&idn),
                age: e.member.age,
                place: app.catalogue.path_name(e.member.division, today),
                tier: e.member.tier.label(),
                reasons: e.member.reasons_text(),
                last: e.last_visit.map_or("未探访".into(), |d| d.to_string()),
                interval: e.interval_days,
                due_on: e.due_on.to_string(),
                overdue_days: e.overdue_days,
                campaign: e.campaign.clone().unwrap_or_default(),
                visitors: if e.visitors.is_empty() {
                    "未分配".into()
                } else {
                    e.visitors
                        .iter()
                        .map(|v| visitors.get(v).cloned().unwrap_or_else(|| format!("#{v}")))
                        .collect::<Vec<_>>()
                        .join("、")
                },
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "visits_overdue.html")]
struct OverduePage {
    nav: &'static str,
    csrf: String,
    campaigns: Vec<store::CampaignRow>,
    division: String,
    place: String,
    today: String,
    only_overdue: bool,
    rows: Vec<DueLine>,
    total: usize,
}

const MAX_ROWS: usize = 2000;

fn overdue_rows(app: &App, user: &Principal, q: &DueQuery) -> Result<(DivisionCode, Vec<DueLine>)> {
    let today = (app.today)();
    let div = division_for(app, user, q.division.as_deref())?;
    let only = q.overdue.as_deref() != Some("0");
    let entries: Vec<DueEntry> = due_list(&app.db, &app.catalogue, today, Some(div), q.visitor)?
        .into_iter()
        .filter(|e| !only || e.overdue())
        .collect();
    let mut entries = entries;
    // Most overdue first.
    entries.sort_by_key(|e| (std::cmp::Reverse(e.overdue_days), e.due_on, e.member.person_id));
    Ok((div, due_lines(app, user, entries, today)?))
}

pub async fn overdue(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Query(q): Query<DueQuery>,
) -> Result<Response> {
    let token = Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || {
        let (div, rows) = overdue_rows(&app, &user, &q)?;
        let total = rows.len();
        let today = (app.today)();
        app.audit
            .record_blocking(&user, "visits.overdue", &div.short(), &format!("{total} 人"))?;
        // Campaigns running now or declared for the next two months, for this division or above/below it.
        let campaigns = store::campaigns_overlapping(&app.db, today, today + Duration::days(62))?
            .into_iter()
            .filter(|c| DivisionCode::parse(&c.division).is_ok_and(|cd| div.is_within(cd) || cd.is_within(div)))
            .collect();
        page(OverduePage {
            nav: "visits_overdue",
            csrf: csrf_value,
            campaigns,
            division: div.short(),
            place: app.catalogue.path_name(div, today),
            today: today.to_string(),
            only_overdue: q.overdue.as_deref() != Some("0"),
            rows: rows.into_iter().take(MAX_ROWS).collect(),
            total,
        })
    })
    .await?;
    Ok(token.apply(res))
}

#[derive(Deserialize)]
pub struct CampaignForm {
    #[serde(default)]
    csrf: String,
    division: String,
    name: String,
    reason: String,
    from: String,
    to: String,
    tier_high: Option<String>,
    tier_key: Option<String>,
    tier_general: Option<String>,
}

/// A jurisdiction declares a campaign window (extreme weather, a festival).
pub async fn create_campaign(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Form(f): Form<CampaignForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    user.require(Permission::VisitManage)?;
    blocking(move || {
        let div = DivisionCode::parse(f.division.trim()).map_err(|e| AppError::BadRequest(e.to_string()))?;
        if !user.scope.contains(&div.full()) {
            return Err(AppError::Forbidden("该区划不在您的管辖范围内。".into()));
        }
        let tiers: Vec<yanglao_visits::Tier> = [
            (f.tier_high.is_some(), yanglao_visits::Tier::High),
            (f.tier_key.is_some(), yanglao_visits::Tier::Key),
            (f.tier_general.is_some(), yanglao_visits::Tier::General),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, t)| t)
        .collect();
        service::declare_campaign(
            &app.db,
            &div.short(),
            &f.name,
            f.reason.trim(),
            date_field(&f.from, "开始日期")?,
            date_field(&f.to, "结束日期")?,
            &tiers,
            &user.name,
            Utc::now(),
        )?;
        Ok(Redirect::to(&format!("/visits/overdue?division={}&overdue=0", div.short())).into_response())
    })
    .await
}

pub async fn overdue_export(
    State(app): State<Arc<App>>,
    user: Principal,
    Query(q): Query<DueQuery>,
) -> Result<Response> {
    blocking(move || {
        let (div, rows) = overdue_rows(&app, &user, &q)?;
        app.audit.record_blocking(
            &user,
            "visits.overdue.export",
            &div.short(),
            &format!("{} 人", rows.len()),
        )?;
        let bytes = overdue_xlsx(&app.catalogue.path_name(div, (app.today)()), &rows)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((
            [
                (header::CONTENT_TYPE, XLSX.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"visits-overdue-{}.xlsx\"", div.short()),
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

fn overdue_xlsx(place: &str, rows: &[DueLine]) -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet().set_name("逾期未探访")?;
    ws.write_string_with_format(0, 0, format!("{place} 逾期未探访名单（身份证号脱敏）"), &bold)?;
    let headers = [
        "姓名",
        "身份证号",
        "年龄",
        "所在地",
        "风险等级",
        "原因",
        "上次有效探访",
        "间隔（天）",
        "应探访日期",
        "逾期天数",
        "专项",
        "探访人员",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &bold)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 3;
        ws.write_string(row, 0, &r.name)?;
        ws.write_string(row, 1, &r.id_masked)?;
        ws.write_number(row, 2, f64::from(r.age))?;
        ws.write_string(row, 3, &r.place)?;
        ws.write_string(row, 4, r.tier)?;
        ws.write_string(row, 5, &r.reasons)?;
        ws.write_string(row, 6, &r.last)?;
        ws.write_number(row, 7, r.interval as f64)?;
        ws.write_string(row, 8, &r.due_on)?;
        ws.write_number(row, 9, r.overdue_days as f64)?;
        ws.write_string(row, 10, &r.campaign)?;
        ws.write_string(row, 11, &r.visitors)?;
    }
    wb.save_to_buffer()
}

pub async fn api_due(State(app): State<Arc<App>>, user: Principal, Query(q): Query<DueQuery>) -> Result<Response> {
    blocking(move || {
        let today = (app.today)();
        let div = division_for(&app, &user, q.division.as_deref())?;
        let only = q.overdue.as_deref() == Some("1");
        let list: Vec<serde_json::Value> = due_list(&app.db, &app.catalogue, today, Some(div), q.visitor)?
            .into_iter()
            .filter(|e| (!only || e.overdue()) && user.scope.contains(&e.member.division.full()))
            .map(|e| {
                serde_json::json!({
                    "person_id": e.member.person_id,
                    "division": e.member.division.short(),
                    "tier": e.member.tier.label(),
                    "reasons": e.member.reasons.iter().map(|r| r.label()).collect::<Vec<_>>(),
                    "last_visit": e.last_visit,
                    "interval_days": e.interval_days,
                    "due_on": e.due_on,
                    "overdue_days": e.overdue_days,
                    "campaign": e.campaign,
                    "visitors": e.visitors,
                })
            })
            .collect();
        app.audit
            .record_blocking(&user, "visits.due.api", &div.short(), &format!("{} 人", list.len()))?;
        Ok(Json(serde_json::json!({ "as_of": today, "division": div.short(), "due": list })).into_response())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// A visitor's page and the record form

#[derive(Deserialize)]
pub struct MineQuery {
    visitor: Option<i64>,
    saved: Option<String>,
    dup: Option<String>,
}

#[derive(Template)]
#[template(path = "visits_mine.html")]
struct MinePage {
    nav: &'static str,
    visitor: Option<store::VisitorRow>,
    visitors: Vec<store::VisitorRow>,
    week_end: String,
    rows: Vec<DueLine>,
    later: usize,
    saved: String,
    dup: bool,
}

fn visitor_in_scope(app: &App, user: &Principal, id: i64) -> Result<store::VisitorRow> {
    // A visitor whose account is tied to a visitor record acts as that visitor only; those who
    // manage visits (社工站, 经办) act for any visitor in their scope.
    if !user.can(Permission::VisitManage) {
        if let Some(own) = store::visitor_for_account(&app.db, &user.name)? {
            if own.id != id {
                return Err(AppError::Forbidden(format!(
                    "您的账号对应探访人员 {}（#{}），不能以其他探访人员的身份查看或记录。",
                    own.name, own.id
                )));
            }
        }
    }
    store::visitor(&app.db, id)?
        .filter(|v| user.scope.contains(&v.division))
        .ok_or_else(|| AppError::NotFound("没有这位探访人员，或其不在您的管辖范围内。".into()))
}

/// Due this week for one visitor: today's list of people assigned to them, due within 7 days.
pub async fn mine(State(app): State<Arc<App>>, user: Principal, Query(q): Query<MineQuery>) -> Result<Response> {
    blocking(move || {
        let today = (app.today)();
        let week_end = today + Duration::days(6);
        // A visitor's own account opens their own week without choosing.
        let chosen = match q.visitor {
            Some(id) => Some(id),
            None => store::visitor_for_account(&app.db, &user.name)?.map(|v| v.id),
        };
        let (visitor, rows, later, visitors) = match chosen {
            Some(id) => {
                let v = visitor_in_scope(&app, &user, id)?;
                app.audit
                    .record_blocking(&user, "visits.mine", &format!("visitor:{id}"), "")?;
                let all = due_list(&app.db, &app.catalogue, today, None, Some(id))?;
                let (week, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|e| e.due_on <= week_end);
                (Some(v), due_lines(&app, &user, week, today)?, rest.len(), Vec::new())
            }
            None => {
                let vs: Vec<_> = store::visitors(&app.db, "")?
                    .into_iter()
                    .filter(|v| v.left_on.is_none() && user.scope.contains(&v.division))
                    .take(500)
                    .collect();
                (None, Vec::new(), 0, vs)
            }
        };
        page(MinePage {
            nav: "visits_mine",
            visitor,
            visitors,
            week_end: week_end.to_string(),
            rows,
            later,
            saved: q.saved.unwrap_or_default(),
            dup: q.dup.is_some(),
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct RecordQuery {
    visitor: i64,
    person: i64,
}

struct HeadingField {
    index: usize,
    heading: &'static str,
}

#[derive(Template)]
#[template(path = "visits_record.html")]
struct RecordPage {
    nav: &'static str,
    csrf: String,
    key: String,
    visitor: store::VisitorRow,
    person_id: i64,
    name: String,
    id_masked: String,
    today: String,
    modes: &'static [&'static str],
    statuses: &'static [&'static str],
    followup_kinds: &'static [&'static str],
    headings: Vec<HeadingField>,
    history: Vec<store::VisitRow>,
}

fn person_in_scope(app: &App, user: &Principal, person: i64) -> Result<()> {
    if yanglao_store::accounts::person_in_scope(&app.db, person, &user.scope)? {
        Ok(())
    } else {
        Err(AppError::NotFound("没有这位老年人，或其不在您的管辖范围内。".into()))
    }
}

pub async fn record_form(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Query(q): Query<RecordQuery>,
) -> Result<Response> {
    may_record(&user)?;
    let token = Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || {
        let visitor = visitor_in_scope(&app, &user, q.visitor)?;
        person_in_scope(&app, &user, q.person)?;
        app.audit
            .record_blocking(&user, "visits.record_form", &format!("person:{}", q.person), "")?;
        let p = yanglao_store::registry::person(&app.db, q.person)?
            .ok_or_else(|| AppError::NotFound("没有这位老年人。".into()))?;
        let history = store::visits_of_person(&app.db, q.person)?
            .into_iter()
            .take(5)
            .collect();
        page(RecordPage {
            nav: "visits_mine",
            csrf: csrf_value,
            key: new_key()?,
            visitor,
            person_id: q.person,
            name: p.name.clone(),
            id_masked: mask(p.id_number.as_str()),
            today: (app.today)().to_string(),
            modes: &MODES,
            statuses: &FINDING_STATUSES,
            followup_kinds: &FOLLOWUP_KINDS,
            headings: HEADINGS
                .iter()
                .enumerate()
                .map(|(index, heading)| HeadingField { index, heading })
                .collect(),
            history,
        })
    })
    .await?;
    Ok(token.apply(res))
}

#[derive(Deserialize)]
pub struct RecordForm {
    #[serde(default)]
    csrf: String,
    key: String,
    visitor: i64,
    person: i64,
    date: String,
    mode: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    f0_status: String,
    #[serde(default)]
    f0_note: String,
    #[serde(default)]
    f1_status: String,
    #[serde(default)]
    f1_note: String,
    #[serde(default)]
    f2_status: String,
    #[serde(default)]
    f2_note: String,
    #[serde(default)]
    f3_status: String,
    #[serde(default)]
    f3_note: String,
    #[serde(default)]
    followup_kind: String,
    #[serde(default)]
    followup_detail: String,
}

pub async fn record(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Form(f): Form<RecordForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    may_record(&user)?;
    blocking(move || {
        visitor_in_scope(&app, &user, f.visitor)?;
        person_in_scope(&app, &user, f.person)?;
        let date = NaiveDate::parse_from_str(f.date.trim(), "%Y-%m-%d")
            .map_err(|_| AppError::BadRequest("探访日期应为 YYYY-MM-DD".into()))?;
        let minutes = match f.minutes.trim() {
            "" => 0,
            s => s.parse().map_err(|_| AppError::BadRequest("时长应为分钟数".into()))?,
        };
        let pairs = [
            (&f.f0_status, &f.f0_note),
            (&f.f1_status, &f.f1_note),
            (&f.f2_status, &f.f2_note),
            (&f.f3_status, &f.f3_note),
        ];
        let findings = HEADINGS
            .iter()
            .zip(pairs)
            .filter(|(_, (s, _))| !s.trim().is_empty())
            .map(|(h, (s, n))| Finding {
                heading: h.to_string(),
                status: s.trim().to_string(),
                note: n.trim().to_string(),
            })
            .collect();
        let followups = if f.followup_kind.trim().is_empty() {
            Vec::new()
        } else {
            vec![FollowupInput {
                kind: f.followup_kind.trim().to_string(),
                detail: f.followup_detail.trim().to_string(),
            }]
        };
        let input = VisitInput {
            idem_key: f.key.trim().to_string(),
            person_id: f.person,
            visitor_id: f.visitor,
            visited_on: date,
            mode: f.mode.trim().to_string(),
            note: f.note,
            findings,
            followups,
            minutes,
            by: user.name.clone(),
        };
        let r = service::record_visit(&app.db, &input, (app.today)(), Utc::now())?;
        let dup = match r {
            Recorded::New(_) => "",
            Recorded::Duplicate(_) => "&dup=1",
        };
        Ok(Redirect::to(&format!(
            "/visits/mine?visitor={}&saved={}{dup}",
            f.visitor,
            crate::url_encode(&input.idem_key)
        ))
        .into_response())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Follow-ups

#[derive(Deserialize)]
pub struct FollowupQuery {
    division: Option<String>,
    /// open (default) / closed / all
    status: Option<String>,
}

struct FollowupLine {
    f: store::FollowupRow,
    id_masked: String,
    place: String,
    open: bool,
}

#[derive(Template)]
#[template(path = "visits_followups.html")]
struct FollowupsPage {
    nav: &'static str,
    csrf: String,
    division: String,
    status: String,
    today: String,
    rows: Vec<FollowupLine>,
}

fn followup_rows(
    app: &App,
    user: &Principal,
    q: &FollowupQuery,
) -> Result<(DivisionCode, String, Vec<store::FollowupRow>)> {
    let div = division_for(app, user, q.division.as_deref())?;
    let status = q.status.clone().unwrap_or_else(|| "open".into());
    let filter = match status.as_str() {
        "open" => Some("open"),
        "closed" => Some("closed"),
        _ => None,
    };
    let rows = store::followups(&app.db, filter, &div.prefix())?
        .into_iter()
        .filter(|f| user.scope.contains(&f.visitor_division))
        .collect();
    Ok((div, status, rows))
}

pub async fn followups(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Query(q): Query<FollowupQuery>,
) -> Result<Response> {
    let token = Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || {
        let (div, status, rows) = followup_rows(&app, &user, &q)?;
        app.audit
            .record_blocking(&user, "visits.followups", &div.short(), &format!("{} 项", rows.len()))?;
        let today = (app.today)();
        page(FollowupsPage {
            nav: "visits_followups",
            csrf: csrf_value,
            division: div.short(),
            status,
            today: today.to_string(),
            rows: rows
                .into_iter()
                .map(|f| FollowupLine {
                    id_masked: mask(&f.id_number),
                    place: DivisionCode::parse(&f.visitor_division)
                        .map(|c| app.catalogue.path_name(c, today))
                        .unwrap_or_default(),
                    open: f.status == "open",
                    f,
                })
                .collect(),
        })
    })
    .await?;
    Ok(token.apply(res))
}

pub async fn api_followups(
    State(app): State<Arc<App>>,
    user: Principal,
    Query(q): Query<FollowupQuery>,
) -> Result<Response> {
    blocking(move || {
        let (div, status, rows) = followup_rows(&app, &user, &q)?;
        app.audit.record_blocking(
            &user,
            "visits.followups.api",
            &div.short(),
            &format!("{} 项", rows.len()),
        )?;
        let rows: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|f| {
                serde_json::json!({
                    "id": f.id, "visit_id": f.visit_id, "person_id": f.person_id,
                    "id_number": mask(&f.id_number), "kind": f.kind, "detail": f.detail,
                    "status": f.status, "opened_on": f.opened_on, "closed_by": f.closed_by,
                    "closed_on": f.closed_on, "outcome": f.outcome,
                })
            })
            .collect();
        Ok(Json(serde_json::json!({ "division": div.short(), "status": status, "followups": rows })).into_response())
    })
    .await
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
    on: String,
    outcome: String,
    #[serde(default)]
    division: String,
}

pub async fn close_followup(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<CloseForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    user.require(Permission::VisitManage)?;
    blocking(move || {
        let row = store::followup(&app.db, id)?
            .filter(|r| user.scope.contains(&r.visitor_division))
            .ok_or_else(|| AppError::NotFound("没有这项后续措施，或其不在您的管辖范围内。".into()))?;
        let on = NaiveDate::parse_from_str(f.on.trim(), "%Y-%m-%d")
            .map_err(|_| AppError::BadRequest("办结日期应为 YYYY-MM-DD".into()))?;
        // Who closed it is the signed-in user.
        service::close_followup(&app.db, row.id, &user.name, on, &f.outcome, (app.today)(), Utc::now())?;
        let back = match DivisionCode::parse(f.division.trim()) {
            Ok(d) => format!("/visits/followups?division={}", d.short()),
            Err(_) => "/visits/followups".into(),
        };
        Ok(Redirect::to(&back).into_response())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Visitors and assignments

#[derive(Deserialize)]
pub struct VisitorsQuery {
    division: Option<String>,
}

#[derive(Template)]
#[template(path = "visits_visitors.html")]
struct VisitorsPage {
    nav: &'static str,
    csrf: String,
    division: String,
    place: String,
    today: String,
    kinds: &'static [&'static str],
    rows: Vec<(store::VisitorRow, String)>,
}

pub async fn visitors(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Query(q): Query<VisitorsQuery>,
) -> Result<Response> {
    let token = Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || {
        let div = division_for(&app, &user, q.division.as_deref())?;
        let today = (app.today)();
        let rows = store::visitors(&app.db, &div.prefix())?
            .into_iter()
            .filter(|v| user.scope.contains(&v.division))
            .take(2000)
            .map(|v| {
                let place = DivisionCode::parse(&v.division)
                    .map(|c| app.catalogue.path_name(c, today))
                    .unwrap_or_default();
                (v, place)
            })
            .collect();
        page(VisitorsPage {
            nav: "visits_visitors",
            csrf: csrf_value,
            division: div.short(),
            place: app.catalogue.path_name(div, today),
            today: today.to_string(),
            kinds: &VISITOR_KINDS,
            rows,
        })
    })
    .await?;
    Ok(token.apply(res))
}

#[derive(Deserialize)]
pub struct NewVisitorForm {
    #[serde(default)]
    csrf: String,
    name: String,
    kind: String,
    division: String,
    #[serde(default)]
    phone: String,
    from: String,
}

fn date_field(s: &str, what: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| AppError::BadRequest(format!("{what}应为 YYYY-MM-DD")))
}

pub async fn create_visitor(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Form(f): Form<NewVisitorForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    user.require(Permission::VisitManage)?;
    blocking(move || {
        let div = DivisionCode::parse(f.division.trim()).map_err(|e| AppError::BadRequest(e.to_string()))?;
        if !user.scope.contains(&div.full()) {
            return Err(AppError::Forbidden("该区划不在您的管辖范围内。".into()));
        }
        let from = date_field(&f.from, "上岗日期")?;
        service::register_visitor(
            &app.db,
            &f.name,
            f.kind.trim(),
            &div.full(),
            &f.phone,
            from,
            &user.name,
            Utc::now(),
        )?;
        Ok(Redirect::to(&format!("/visits/visitors?division={}", div.short())).into_response())
    })
    .await
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    csrf: String,
    /// ID numbers, one per line (or separated by commas/spaces).
    people: String,
    from: String,
}

pub async fn assign(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<AssignForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    user.require(Permission::VisitManage)?;
    blocking(move || {
        let v = visitor_in_scope(&app, &user, id)?;
        let from = date_field(&f.from, "起始日期")?;
        let mut ids = Vec::new();
        for n in f
            .people
            .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
            .filter(|s| !s.is_empty())
        {
            let pid = service::person_id(&app.db, n)?;
            person_in_scope(&app, &user, pid)?;
            ids.push(pid);
        }
        if ids.is_empty() {
            return Err(AppError::BadRequest("请填写要结对的老年人身份证号。".into()));
        }
        service::assign(&app.db, id, &ids, from, &user.name, Utc::now())?;
        Ok(Redirect::to(&format!("/visits/visitors?division={}", &v.division)).into_response())
    })
    .await
}

#[derive(Deserialize)]
pub struct LeaveForm {
    #[serde(default)]
    csrf: String,
    on: String,
    #[serde(default)]
    successor: String,
}

pub async fn leave(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<LeaveForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    user.require(Permission::VisitManage)?;
    blocking(move || {
        let v = visitor_in_scope(&app, &user, id)?;
        let on = date_field(&f.on, "离岗日期")?;
        let successor = match f.successor.trim() {
            "" => None,
            s => {
                let sid: i64 = s
                    .trim_start_matches('#')
                    .parse()
                    .map_err(|_| AppError::BadRequest("接替人应为探访人员编号".into()))?;
                visitor_in_scope(&app, &user, sid)?;
                Some(sid)
            }
        };
        service::leave(&app.db, id, on, successor, &user.name, Utc::now())?;
        Ok(Redirect::to(&format!("/visits/visitors?division={}", &v.division)).into_response())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Volunteer points

#[derive(Template)]
#[template(path = "visits_points.html")]
struct PointsPage {
    nav: &'static str,
    division: String,
    place: String,
    rows: Vec<(store::CreditTotal, String)>,
}

pub async fn points(State(app): State<Arc<App>>, user: Principal, Query(q): Query<VisitorsQuery>) -> Result<Response> {
    blocking(move || {
        let div = division_for(&app, &user, q.division.as_deref())?;
        let today = (app.today)();
        let rows = store::credit_totals(&app.db, &div.prefix())?
            .into_iter()
            .filter(|c| user.scope.contains(&c.visitor.division))
            .map(|c| {
                let hours = format!("{}.{}", c.minutes / 60, c.minutes % 60 * 10 / 60);
                (c, hours)
            })
            .collect();
        page(PointsPage {
            nav: "visits_points",
            division: div.short(),
            place: app.catalogue.path_name(div, today),
            rows,
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// JSON: recording a visit and closing a follow-up from other systems (an API token with the
// visitor or caseworker role) or a page script. The idempotency key makes a retry harmless.

#[derive(Deserialize)]
pub struct ApiFinding {
    heading: String,
    status: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
pub struct ApiFollowup {
    kind: String,
    detail: String,
}

#[derive(Deserialize)]
pub struct ApiVisit {
    key: String,
    person_id: i64,
    visitor_id: i64,
    date: NaiveDate,
    mode: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    findings: Vec<ApiFinding>,
    #[serde(default)]
    followups: Vec<ApiFollowup>,
    #[serde(default)]
    minutes: i64,
}

/// `POST /api/visits`: 201 with the new id, or 200 with `"duplicate": true` and the stored id.
pub async fn api_record(State(app): State<Arc<App>>, user: Principal, Json(b): Json<ApiVisit>) -> Result<Response> {
    may_record(&user)?;
    blocking(move || {
        visitor_in_scope(&app, &user, b.visitor_id)?;
        person_in_scope(&app, &user, b.person_id)?;
        let input = VisitInput {
            idem_key: b.key.trim().to_string(),
            person_id: b.person_id,
            visitor_id: b.visitor_id,
            visited_on: b.date,
            mode: b.mode.trim().to_string(),
            note: b.note,
            findings: b
                .findings
                .into_iter()
                .map(|f| Finding {
                    heading: f.heading,
                    status: f.status,
                    note: f.note,
                })
                .collect(),
            followups: b
                .followups
                .into_iter()
                .map(|f| FollowupInput {
                    kind: f.kind,
                    detail: f.detail,
                })
                .collect(),
            minutes: b.minutes,
            by: user.name.clone(),
        };
        Ok(
            match service::record_visit(&app.db, &input, (app.today)(), Utc::now())? {
                Recorded::New(id) => (
                    axum::http::StatusCode::CREATED,
                    Json(serde_json::json!({ "id": id, "duplicate": false })),
                )
                    .into_response(),
                Recorded::Duplicate(id) => Json(serde_json::json!({ "id": id, "duplicate": true })).into_response(),
            },
        )
    })
    .await
}

#[derive(Deserialize)]
pub struct ApiClose {
    on: NaiveDate,
    outcome: String,
}

/// `POST /api/visits/followups/{id}/close`: closed by the caller, on a date, with the outcome.
pub async fn api_close_followup(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    Json(b): Json<ApiClose>,
) -> Result<Response> {
    user.require(Permission::VisitManage)?;
    blocking(move || {
        let row = store::followup(&app.db, id)?
            .filter(|r| user.scope.contains(&r.visitor_division))
            .ok_or_else(|| AppError::NotFound("没有这项后续措施，或其不在您的管辖范围内。".into()))?;
        service::close_followup(&app.db, row.id, &user.name, b.on, &b.outcome, (app.today)(), Utc::now())?;
        Ok(Json(serde_json::json!({ "id": id, "status": "closed" })).into_response())
    })
    .await
}
