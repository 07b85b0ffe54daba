//! "服务找人" pages: work lists per division, a person's entitlements explained, runs, and
//! 调整测算 (simulation) with progress, tables, bars and an Excel export; JSON under /api.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use yanglao_domain::{DivisionCode, Fen, IdNumber};
use yanglao_entitlements::engine::parse_version;
use yanglao_entitlements::run::{explain_person, work_kind_label, PersonExplanation, Rules};
use yanglao_entitlements::simulate::{compare, Simulation};
use yanglao_entitlements::snapshot::Snapshot;
use yanglao_store::entitlements::{self as store, WorkItem, WorkQuery, WORK_CLOSED, WORK_IN_PROGRESS, WORK_OPEN};
use yanglao_store::registry;

use crate::auth::Principal;
use crate::csrf::{self, Csrf};
use crate::{blocking, page, App, AppError, Result};

fn parse_date_param(app: &App, s: Option<&str>) -> Result<NaiveDate> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok((app.today)()),
        Some(s) => yanglao_domain::dates::parse_date(s).ok_or_else(|| AppError::BadRequest(format!("日期“{s}”无效"))),
    }
}

fn engine_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

fn masked(id: &str) -> String {
    IdNumber::parse(id)
        .map(|i| i.masked())
        .unwrap_or_else(|_| "（无效号码）".into())
}

fn status_label(s: &str) -> &'static str {
    match s {
        WORK_OPEN => "待处理",
        WORK_IN_PROGRESS => "处理中",
        WORK_CLOSED => "已办结",
        _ => "未知",
    }
}

fn yuan(f: Option<i64>) -> String {
    f.map(|f| format!("{} 元", Fen::new(f))).unwrap_or_default()
}

// ------------------------------------------------------------------ work lists

#[derive(Deserialize, Default)]
pub struct WorkParams {
    division: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    page: Option<i64>,
}

struct Crumb {
    code: String,
    name: String,
}

struct CountRow {
    code: String,
    name: String,
    counts: Vec<i64>,
    total: i64,
}

struct WorkRow {
    id: i64,
    kind: String,
    unclaimed: bool,
    person_id: i64,
    name: String,
    id_masked: String,
    item: String,
    division: String,
    reason: String,
    amount: String,
    received: String,
    since: String,
    status: &'static str,
    open: bool,
    assignee: String,
    outcome: String,
}

#[derive(Template)]
#[template(path = "ent_work.html")]
struct WorkPage {
    nav: &'static str,
    division: String,
    division_name: String,
    crumbs: Vec<Crumb>,
    kinds: Vec<(String, String)>,
    kind: String,
    status: String,
    count_rows: Vec<CountRow>,
    /// The roll-up as an SVG bar chart (generated markup, escaped inside).
    chart: String,
    rows: Vec<WorkRow>,
    total: i64,
    page: i64,
    pages: i64,
    csrf: String,
    latest_run: String,
}

const KINDS: [&str; 4] = [
    yanglao_entitlements::run::KIND_UNCLAIMED,
    yanglao_entitlements::run::KIND_INELIGIBLE,
    yanglao_entitlements::run::KIND_AMOUNT,
    yanglao_entitlements::run::KIND_REASSESSMENT,
];

fn item_names(app: &App) -> Result<HashMap<String, String>> {
    let mut names = HashMap::new();
    for v in yanglao_store::lists::versions(&app.db)? {
        if let Ok(l) = yanglao_lists::content::load(&v.content) {
            for i in l.items {
                names.entry(i.code).or_insert(i.name);
            }
        }
    }
    Ok(names)
}

fn division_prefix(division: &str) -> Result<(String, Option<DivisionCode>)> {
    if division.is_empty() {
        return Ok((String::new(), None));
    }
    let d = DivisionCode::parse(division).map_err(|e| AppError::BadRequest(format!("区划代码：{e}")))?;
    Ok((d.prefix(), Some(d)))
}

fn work_row(w: &WorkItem, names: &HashMap<String, String>, app: &App) -> WorkRow {
    let division = DivisionCode::parse(&w.division)
        .map(|d| app.catalogue.path_name(d, w.last_as_of))
        .unwrap_or_else(|_| w.division.clone());
    WorkRow {
        id: w.id,
        kind: work_kind_label(&w.kind).to_string(),
        unclaimed: w.kind == yanglao_entitlements::run::KIND_UNCLAIMED,
        person_id: w.person_id,
        name: w.person_name.clone(),
        id_masked: masked(&w.id_number),
        item: names.get(&w.item_code).cloned().unwrap_or_else(|| w.item_code.clone()),
        division,
        reason: w.reason.clone(),
        amount: yuan(w.amount_fen),
        received: yuan(w.received_fen),
        since: w.first_as_of.to_string(),
        status: status_label(&w.status),
        open: w.status != WORK_CLOSED,
        assignee: w.assignee.clone().unwrap_or_default(),
        outcome: w.outcome.clone().unwrap_or_default(),
    }
}

pub async fn work(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Query(q): Query<WorkParams>,
) -> Result<Response> {
    let token = Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || {
        let division = q.division.clone().unwrap_or_default();
        let (prefix, code) = division_prefix(&division)?;
        let today = (app.today)();
        let child_len = match prefix.len() {
            0 => 2,
            2 => 4,
            4 => 6,
            6 => 9,
            _ => 12,
        };
        let counts = store::work_counts(&app.db, &prefix, child_len, &user.scope)?;
        let mut grouped: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (d, kind, n) in counts {
            let e = grouped.entry(d).or_insert_with(|| vec![0; KINDS.len()]);
            if let Some(k) = KINDS.iter().position(|k| *k == kind) {
                e[k] += n;
            }
        }
        let count_rows: Vec<CountRow> = grouped
            .into_iter()
            .map(|(d, counts)| {
                let name = DivisionCode::parse(&d)
                    .map(|c| app.catalogue.name(c))
                    .unwrap_or_else(|_| d.clone());
                let code = DivisionCode::parse(&d).map(|c| c.short()).unwrap_or(d);
                CountRow {
                    code,
                    name,
                    total: counts.iter().sum(),
                    counts,
                }
            })
            .collect();
        let mut crumbs = Vec::new();
        let mut cur = code;
        while let Some(c) = cur {
            crumbs.push(Crumb {
                code: c.short(),
                name: app.catalogue.name(c),
            });
            cur = app.catalogue.parent_on(c, today);
        }
        crumbs.reverse();
        let kind = q.kind.clone().filter(|k| KINDS.contains(&k.as_str()));
        let status = q
            .status
            .clone()
            .filter(|s| [WORK_OPEN, WORK_IN_PROGRESS, WORK_CLOSED].contains(&s.as_str()));
        let page_no = q.page.unwrap_or(1).max(1);
        let per = 50;
        let (items, total) = store::work_items(
            &app.db,
            &WorkQuery {
                division_prefix: prefix,
                kind: kind.clone(),
                status: status.clone(),
                limit: per,
                offset: (page_no - 1) * per,
                visible: user.scope.clone(),
            },
        )?;
        let names = item_names(&app)?;
        let latest_run = store::latest_run_date(&app.db)?
            .map(|d| d.to_string())
            .unwrap_or_default();
        page(WorkPage {
            nav: "work",
            division_name: code.map(|c| app.catalogue.name(c)).unwrap_or_else(|| "全部地区".into()),
            division,
            crumbs,
            kinds: KINDS
                .iter()
                .map(|k| (k.to_string(), work_kind_label(k).to_string()))
                .collect(),
            kind: kind.unwrap_or_default(),
            status: status.unwrap_or_default(),
            chart: crate::svg_bars(
                "各下级地区待办事项数",
                &count_rows.iter().map(|r| (r.name.clone(), r.total)).collect::<Vec<_>>(),
            ),
            count_rows,
            rows: items.iter().map(|w| work_row(w, &names, &app)).collect(),
            total,
            page: page_no,
            pages: (total + per - 1) / per,
            csrf: csrf_value,
            latest_run,
        })
    })
    .await?;
    Ok(token.apply(res))
}

/// The most work items one export holds.
const WORK_EXPORT_MAX: i64 = 50_000;

/// `GET /work/export.xlsx`: the work list with the page's filters, within the reader's scope,
/// ID numbers masked; audited as an export of personal data.
pub async fn work_export(
    State(app): State<Arc<App>>,
    user: Principal,
    Query(q): Query<WorkParams>,
) -> Result<Response> {
    blocking(move || {
        let (prefix, _) = division_prefix(q.division.as_deref().unwrap_or(""))?;
        let kind = q.kind.clone().filter(|k| KINDS.contains(&k.as_str()));
        let status = q
            .status
            .clone()
            .filter(|s| [WORK_OPEN, WORK_IN_PROGRESS, WORK_CLOSED].contains(&s.as_str()));
        let (items, total) = store::work_items(
            &app.db,
            &WorkQuery {
                division_prefix: prefix.clone(),
                kind,
                status,
                limit: WORK_EXPORT_MAX,
                offset: 0,
                visible: user.scope.clone(),
            },
        )?;
        if total > WORK_EXPORT_MAX {
            return Err(AppError::BadRequest(format!(
                "符合条件的事项有 {total} 项，超过单次导出上限 {WORK_EXPORT_MAX} 项，请缩小地区或类型。"
            )));
        }
        app.audit.record_blocking(
            &user,
            "work.export",
            "",
            &format!(
                "导出工作清单 {} 项（地区 {}）",
                items.len(),
                if prefix.is_empty() { "全部" } else { &prefix }
            ),
        )?;
        let names = item_names(&app)?;
        let rows: Vec<WorkRow> = items.iter().map(|w| work_row(w, &names, &app)).collect();
        let bytes = (|| -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
            use rust_xlsxwriter::{Format, Workbook};
            let mut wb = Workbook::new();
            let bold = Format::new().set_bold();
            let ws = wb.add_worksheet().set_name("工作清单")?;
            let headers = [
                "类型",
                "姓名",
                "身份证号（脱敏）",
                "服务项目",
                "地区",
                "原因",
                "应发（元）",
                "实发（元）",
                "发现日期",
                "状态",
                "经办人",
                "办理结果",
            ];
            for (c, h) in headers.iter().enumerate() {
                ws.write_string_with_format(0, c as u16, *h, &bold)?;
            }
            for (r, w) in rows.iter().enumerate() {
                let r = r as u32 + 1;
                for (c, v) in [
                    &w.kind,
                    &w.name,
                    &w.id_masked,
                    &w.item,
                    &w.division,
                    &w.reason,
                    &w.amount,
                    &w.received,
                    &w.since,
                ]
                .iter()
                .enumerate()
                {
                    ws.write_string(r, c as u16, v.as_str())?;
                }
                ws.write_string(r, 9, w.status)?;
                ws.write_string(r, 10, &w.assignee)?;
                ws.write_string(r, 11, &w.outcome)?;
            }
            wb.save_to_buffer()
        })()
        .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"work.xlsx\"".to_string(),
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

#[derive(Deserialize)]
pub struct AssignForm {
    csrf: String,
    assignee: String,
    back: Option<String>,
}

#[derive(Deserialize)]
pub struct CloseForm {
    csrf: String,
    outcome: String,
    back: Option<String>,
    /// For 应享未享: the worker confirms the person now receives the item (recorded as a
    /// receipt from the date, source "个案工作者确认").
    enrol: Option<String>,
}

/// Only a local path may be redirected to (no open redirect).
fn back_to(back: Option<String>) -> String {
    back.filter(|b| b.starts_with("/work") && !b.starts_with("//"))
        .unwrap_or_else(|| "/work".into())
}

fn required(field: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(AppError::BadRequest(format!("请填写{field}。")));
    }
    if v.chars().count() > max {
        return Err(AppError::BadRequest(format!("{field}不能超过 {max} 字。")));
    }
    Ok(v.to_string())
}

pub async fn assign(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<AssignForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    let who = required("经办人", &f.assignee, 40)?;
    blocking(move || {
        item_in_scope(&app, &user, id)?;
        let n = app.db.tx(|t| store::assign_work_item(t, id, &who))?;
        if n == 0 {
            return Err(AppError::BadRequest("该事项不存在或已办结。".into()));
        }
        Ok(Redirect::to(&back_to(f.back)).into_response())
    })
    .await
}

pub async fn close(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<CloseForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    let outcome = required("办理结果", &f.outcome, 500)?;
    // Who closed it is the signed-in user, whatever a form says.
    let by = user.name.clone();
    blocking(move || {
        let item = item_in_scope(&app, &user, id)?;
        let n = app
            .db
            .tx(|t| store::close_work_item(t, id, &outcome, &by, Utc::now()))?;
        if n == 0 {
            return Err(AppError::BadRequest("该事项不存在或已办结。".into()));
        }
        if f.enrol.is_some() && item.kind == yanglao_entitlements::run::KIND_UNCLAIMED {
            store::insert_receipts(
                &app.db,
                &[store::Receipt {
                    person_id: item.person_id,
                    item_code: item.item_code.clone(),
                    amount_fen: item.amount_fen,
                    valid_from: (app.today)(),
                    valid_to: None,
                    source: format!("个案工作者确认（{by}）"),
                }],
                &by,
                Utc::now(),
            )?;
        }
        Ok(Redirect::to(&back_to(f.back)).into_response())
    })
    .await
}

#[derive(Serialize)]
pub struct ApiWorkItem {
    id: i64,
    kind: String,
    kind_label: String,
    person_id: i64,
    id_number_masked: String,
    item_code: String,
    division: String,
    reason: String,
    amount_fen: Option<i64>,
    received_fen: Option<i64>,
    status: String,
    assignee: Option<String>,
}

/// A work item the user's scope reaches (else "not found", as for people).
fn item_in_scope(app: &App, user: &Principal, id: i64) -> Result<store::WorkItem> {
    store::work_item(&app.db, id)?
        .filter(|w| user.scope.contains(&w.division))
        .ok_or_else(|| AppError::NotFound("没有这个事项，或其不在您的管辖范围内。".into()))
}

pub async fn api_work(State(app): State<Arc<App>>, user: Principal, Query(q): Query<WorkParams>) -> Result<Response> {
    blocking(move || {
        let (prefix, _) = division_prefix(q.division.as_deref().unwrap_or(""))?;
        let page_no = q.page.unwrap_or(1).max(1);
        let (items, total) = store::work_items(
            &app.db,
            &WorkQuery {
                division_prefix: prefix,
                kind: q.kind.clone(),
                status: q.status.clone(),
                limit: 200,
                offset: (page_no - 1) * 200,
                visible: user.scope.clone(),
            },
        )?;
        let items: Vec<ApiWorkItem> = items
            .into_iter()
            .map(|w| ApiWorkItem {
                kind_label: work_kind_label(&w.kind).to_string(),
                id: w.id,
                kind: w.kind,
                person_id: w.person_id,
                id_number_masked: masked(&w.id_number),
                item_code: w.item_code,
                division: w.division,
                reason: w.reason,
                amount_fen: w.amount_fen,
                received_fen: w.received_fen,
                status: w.status,
                assignee: w.assignee,
            })
            .collect();
        Ok(Json(serde_json::json!({ "total": total, "page": page_no, "items": items })).into_response())
    })
    .await
}

// ------------------------------------------------------------------ a person's entitlements

#[derive(Deserialize, Default)]
pub struct AsOf {
    as_of: Option<String>,
}

#[derive(Template)]
#[template(path = "ent_person.html")]
struct PersonEntPage {
    nav: &'static str,
    person_id: i64,
    name: String,
    id_masked: String,
    as_of: String,
    alive: bool,
    entitled: Vec<yanglao_entitlements::explain::ItemExplanation>,
    others: Vec<yanglao_entitlements::explain::ItemExplanation>,
    monthly_total: String,
}

fn explain(app: &App, user: &Principal, id: i64, as_of: NaiveDate) -> Result<(registry::Person, PersonExplanation)> {
    let p = crate::read_person(app, user, id, "person.entitlements.read")?;
    let rules = Rules::in_force(&app.db, as_of).map_err(engine_error)?;
    let e = explain_person(&app.db, &app.catalogue, &rules, id, as_of).map_err(engine_error)?;
    Ok((p, e))
}

pub async fn person(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    Query(q): Query<AsOf>,
) -> Result<Response> {
    blocking(move || {
        let as_of = parse_date_param(&app, q.as_of.as_deref())?;
        let (p, e) = explain(&app, &user, id, as_of)?;
        let (entitled, rest): (Vec<_>, Vec<_>) = e.items.into_iter().partition(|i| i.entitled);
        let others = rest.into_iter().filter(|i| i.status != "不在范围").collect();
        let monthly: i64 = entitled
            .iter()
            .filter(|i| i.amount.as_deref().is_some_and(|a| a.ends_with("元/月")))
            .filter_map(|i| {
                i.amount
                    .as_deref()
                    .and_then(|a| a.split(' ').next())
                    .and_then(|a| Fen::parse_yuan(a).ok())
            })
            .map(|f| f.get())
            .sum();
        page(PersonEntPage {
            nav: "persons",
            person_id: id,
            name: p.name,
            id_masked: masked(&p.id_number),
            as_of: as_of.to_string(),
            alive: e.alive,
            entitled,
            others,
            monthly_total: Fen::new(monthly).to_string(),
        })
    })
    .await
}

pub async fn api_person(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    Query(q): Query<AsOf>,
) -> Result<Response> {
    blocking(move || {
        let as_of = parse_date_param(&app, q.as_of.as_deref())?;
        let (p, e) = explain(&app, &user, id, as_of)?;
        Ok(Json(serde_json::json!({
            "person_id": id,
            "id_number_masked": masked(&p.id_number),
            "as_of": as_of,
            "items": e.items,
        }))
        .into_response())
    })
    .await
}

// ------------------------------------------------------------------ runs

struct RunRow {
    id: i64,
    as_of: String,
    persons: i64,
    entitled: i64,
    added: i64,
    removed: i64,
    changed: i64,
    by: String,
    at: String,
    versions: String,
}

#[derive(Template)]
#[template(path = "ent_runs.html")]
struct RunsPage {
    nav: &'static str,
    rows: Vec<RunRow>,
}

pub async fn runs(State(app): State<Arc<App>>) -> Result<Response> {
    blocking(move || {
        let rows = store::runs(&app.db, 50)?
            .into_iter()
            .map(|r| RunRow {
                id: r.id,
                as_of: r.as_of.map(|d| d.to_string()).unwrap_or_default(),
                persons: r.persons,
                entitled: r.entitled,
                added: r.added,
                removed: r.removed,
                changed: r.changed,
                by: r.by_user,
                at: r.started_at.map(crate::local_time).unwrap_or_default(),
                versions: r.versions,
            })
            .collect();
        page(RunsPage { nav: "runs", rows })
    })
    .await
}

// ------------------------------------------------------------------ simulation

#[derive(Clone)]
enum JobState {
    Running { phase: &'static str, step: u8 },
    Done(Arc<Simulation>),
    Failed(String),
}

struct Job {
    title: String,
    draft_id: i64,
    as_of: NaiveDate,
    state: JobState,
}

fn jobs() -> &'static Mutex<HashMap<u64, Job>> {
    static JOBS: OnceLock<Mutex<HashMap<u64, Job>>> = OnceLock::new();
    JOBS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn set_state(id: u64, state: JobState) {
    if let Ok(mut j) = jobs().lock() {
        if let Some(job) = j.get_mut(&id) {
            job.state = state;
        }
    }
}

struct DraftOption {
    id: i64,
    label: String,
}

#[derive(Template)]
#[template(path = "ent_simulate.html")]
struct SimulatePage {
    nav: &'static str,
    csrf: String,
    drafts: Vec<DraftOption>,
    today: String,
    job: Option<JobView>,
}

struct ItemView {
    name: String,
    base_people: i64,
    new_people: i64,
    gained: i64,
    lost: i64,
    base_cost: String,
    new_cost: String,
    change: String,
    levels: String,
    /// Bar width in per cent of the largest change.
    bar: i64,
    up: bool,
}

struct DivisionView {
    name: String,
    gained: i64,
    lost: i64,
    change: String,
}

struct JobView {
    id: u64,
    title: String,
    as_of: String,
    running: bool,
    phase: String,
    step: u8,
    failed: String,
    nobody: bool,
    persons: usize,
    gained: i64,
    lost: i64,
    change: String,
    items: Vec<ItemView>,
    divisions: Vec<DivisionView>,
    evaluate_ms: u128,
}

fn job_view(id: u64, job: &Job) -> JobView {
    let mut v = JobView {
        id,
        title: job.title.clone(),
        as_of: job.as_of.to_string(),
        running: false,
        phase: String::new(),
        step: 0,
        failed: String::new(),
        nobody: false,
        persons: 0,
        gained: 0,
        lost: 0,
        change: String::new(),
        items: Vec::new(),
        divisions: Vec::new(),
        evaluate_ms: 0,
    };
    match &job.state {
        JobState::Running { phase, step } => {
            v.running = true;
            v.phase = phase.to_string();
            v.step = *step;
        }
        JobState::Failed(m) => v.failed = m.clone(),
        JobState::Done(sim) => {
            v.nobody = sim.affects_nobody();
            v.persons = sim.persons;
            v.gained = sim.gained_total;
            v.lost = sim.lost_total;
            v.change = Fen::new(sim.cost_change_fen).to_string();
            v.evaluate_ms = sim.evaluate_ms;
            let changed: Vec<_> = sim
                .items
                .iter()
                .filter(|i| i.gained + i.lost > 0 || i.base_cost_fen != i.new_cost_fen)
                .collect();
            let max = changed
                .iter()
                .map(|i| (i.new_cost_fen - i.base_cost_fen).abs())
                .max()
                .unwrap_or(1)
                .max(1);
            v.items = changed
                .iter()
                .map(|i| {
                    let delta = i.new_cost_fen - i.base_cost_fen;
                    ItemView {
                        name: i.name.clone(),
                        base_people: i.base_people,
                        new_people: i.new_people,
                        gained: i.gained,
                        lost: i.lost,
                        base_cost: Fen::new(i.base_cost_fen).to_string(),
                        new_cost: Fen::new(i.new_cost_fen).to_string(),
                        change: Fen::new(delta).to_string(),
                        levels: i
                            .by_level
                            .iter()
                            .map(|(l, f)| format!("{l} {}", Fen::new(*f)))
                            .collect::<Vec<_>>()
                            .join("；"),
                        bar: (delta.abs() * 100 / max).max(1),
                        up: delta >= 0,
                    }
                })
                .collect();
            v.divisions = sim
                .divisions
                .iter()
                .map(|d| DivisionView {
                    name: d.name.clone(),
                    gained: d.gained,
                    lost: d.lost,
                    change: Fen::new(d.cost_change_fen).to_string(),
                })
                .collect();
        }
    }
    v
}

fn draft_options(app: &App) -> Result<Vec<DraftOption>> {
    Ok(yanglao_store::lists::versions(&app.db)?
        .into_iter()
        .filter(|v| v.status == "draft" || v.status == "under_review")
        .map(|v| DraftOption {
            id: v.id,
            label: format!(
                "#{} {}（{}，{} 起）",
                v.id,
                v.title,
                yanglao_lists::service::status_of(&v.status).map_or("", |s| s.label()),
                v.effective_from
            ),
        })
        .collect())
}

#[derive(Deserialize, Default)]
pub struct SimQuery {
    job: Option<u64>,
}

pub async fn simulate_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<SimQuery>,
) -> Result<Response> {
    let token = Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || {
        let job = match q.job {
            Some(id) => {
                let j = jobs().lock().map_err(|_| AppError::Internal("jobs lock".into()))?;
                let job = j
                    .get(&id)
                    .ok_or_else(|| AppError::NotFound("没有这次测算（服务重启后结果不保留）。".into()))?;
                Some(job_view(id, job))
            }
            None => None,
        };
        let running = job.as_ref().is_some_and(|j| j.running);
        let mut res = page(SimulatePage {
            nav: "simulate",
            csrf: csrf_value,
            drafts: draft_options(&app)?,
            today: (app.today)().to_string(),
            job,
        })?;
        if running {
            // Progress without JavaScript: the page reloads itself until the run is done.
            res.headers_mut()
                .insert(header::REFRESH, axum::http::HeaderValue::from_static("1"));
        }
        Ok(res)
    })
    .await?;
    Ok(token.apply(res))
}

#[derive(Deserialize)]
pub struct SimForm {
    csrf: String,
    draft: i64,
    as_of: Option<String>,
}

pub async fn simulate_start(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<SimForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    let as_of = parse_date_param(&app, f.as_of.as_deref())?;
    // The blocking database client must not run on the runtime's threads.
    let lookup = app.clone();
    let draft_id = f.draft;
    let row = blocking(move || {
        yanglao_store::lists::version(&lookup.db, draft_id)?
            .ok_or_else(|| AppError::NotFound("没有这个清单版本。".into()))
    })
    .await?;
    let title = row.title.clone();
    let id = {
        let mut j = jobs().lock().map_err(|_| AppError::Internal("jobs lock".into()))?;
        let id = j.keys().max().copied().unwrap_or(0) + 1;
        j.insert(
            id,
            Job {
                title,
                draft_id: f.draft,
                as_of,
                state: JobState::Running {
                    phase: "读取清单与参数",
                    step: 1,
                },
            },
        );
        id
    };
    tokio::task::spawn_blocking(move || {
        let result = (|| -> Result<Simulation> {
            let draft = parse_version(row).map_err(engine_error)?;
            let (base, new) = Rules::in_force_and_with(&app.db, as_of, draft).map_err(engine_error)?;
            set_state(
                id,
                JobState::Running {
                    phase: "读取登记数据（列式快照）",
                    step: 2,
                },
            );
            let snap = Snapshot::load(&app.db, as_of).map_err(engine_error)?;
            set_state(
                id,
                JobState::Running {
                    phase: "计算现行与调整后两种方案",
                    step: 3,
                },
            );
            compare(&snap, &app.catalogue, &base, &new).map_err(engine_error)
        })();
        set_state(
            id,
            match result {
                Ok(sim) => JobState::Done(Arc::new(sim)),
                Err(
                    AppError::Internal(m) | AppError::BadRequest(m) | AppError::NotFound(m) | AppError::Forbidden(m),
                ) => JobState::Failed(m),
            },
        );
    });
    Ok(Redirect::to(&format!("/simulate?job={id}")).into_response())
}

fn finished(id: u64) -> Result<(String, i64, NaiveDate, Arc<Simulation>)> {
    let j = jobs().lock().map_err(|_| AppError::Internal("jobs lock".into()))?;
    let job = j.get(&id).ok_or_else(|| AppError::NotFound("没有这次测算。".into()))?;
    match &job.state {
        JobState::Done(sim) => Ok((job.title.clone(), job.draft_id, job.as_of, sim.clone())),
        _ => Err(AppError::BadRequest("测算尚未完成。".into())),
    }
}

pub async fn simulate_api(Path(id): Path<u64>) -> Result<Response> {
    let (title, draft_id, as_of, sim) = finished(id)?;
    Ok(Json(serde_json::json!({
        "title": title, "draft_id": draft_id, "as_of": as_of,
        "affects_nobody": sim.affects_nobody(), "result": &*sim,
    }))
    .into_response())
}

pub async fn simulate_export(Path(id): Path<u64>) -> Result<Response> {
    let (title, _, as_of, sim) = finished(id)?;
    let bytes = simulation_xlsx(&title, as_of, &sim).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"simulation-{id}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The simulation as a real workbook: items (yearly cost in yuan, by paying level) and divisions.
pub fn simulation_xlsx(
    title: &str,
    as_of: NaiveDate,
    sim: &Simulation,
) -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let yuan = |f: i64| f as f64 / 100.0;
    let levels: Vec<String> = {
        let mut l: Vec<String> = sim.items.iter().flat_map(|i| i.by_level.keys().cloned()).collect();
        l.sort();
        l.dedup();
        l
    };
    let ws = wb.add_worksheet().set_name("按项目")?;
    ws.write_string_with_format(
        0,
        0,
        format!("调整测算：{title}（截至 {as_of}，{} 人）", sim.persons),
        &bold,
    )?;
    let mut headers = vec![
        "项目".to_string(),
        "现行人数".into(),
        "调整后人数".into(),
        "新增".into(),
        "减少".into(),
        "现行年支出（元）".into(),
        "调整后年支出（元）".into(),
        "变化（元）".into(),
    ];
    headers.extend(levels.iter().map(|l| format!("其中{l}（元）")));
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, h, &bold)?;
    }
    for (r, i) in sim.items.iter().enumerate() {
        let r = r as u32 + 3;
        ws.write_string(r, 0, &i.name)?;
        ws.write_number(r, 1, i.base_people as f64)?;
        ws.write_number(r, 2, i.new_people as f64)?;
        ws.write_number(r, 3, i.gained as f64)?;
        ws.write_number(r, 4, i.lost as f64)?;
        ws.write_number_with_format(r, 5, yuan(i.base_cost_fen), &money)?;
        ws.write_number_with_format(r, 6, yuan(i.new_cost_fen), &money)?;
        ws.write_number_with_format(r, 7, yuan(i.new_cost_fen - i.base_cost_fen), &money)?;
        for (k, l) in levels.iter().enumerate() {
            ws.write_number_with_format(r, 8 + k as u16, yuan(*i.by_level.get(l).unwrap_or(&0)), &money)?;
        }
    }
    let ws = wb.add_worksheet().set_name("按地区")?;
    for (c, h) in ["旗县（市、区）", "新增人次", "减少人次", "年支出变化（元）"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, d) in sim.divisions.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, &d.name)?;
        ws.write_number(r, 1, d.gained as f64)?;
        ws.write_number(r, 2, d.lost as f64)?;
        ws.write_number_with_format(r, 3, yuan(d.cost_change_fen), &money)?;
    }
    wb.save_to_buffer()
}
