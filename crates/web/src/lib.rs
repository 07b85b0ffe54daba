//! The web console: server-rendered pages in Simplified Chinese that work without JavaScript.
//! Handlers read through the store on blocking threads; personal data is masked on screen.

mod admin;
mod assessments;
pub mod auth;
pub mod csrf;
mod entitlements;
mod lists;
mod ltc;
pub mod openapi;
pub mod testing;
mod visits;

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{FixedOffset, NaiveDate, Utc};
use serde::Deserialize;
use yanglao_domain::dates::age_on;
use yanglao_domain::{Catalogue, DivisionCode, DivisionLevel, FactKind, IdNumber, Sex};
use yanglao_registry::sources::{source, SOURCES};
use yanglao_registry::state::{source_label, state_on};
use yanglao_store::registry::{self, BatchSummary, PersonQuery};
use yanglao_store::Db;

/// What every handler shares.
pub struct App {
    pub db: Db,
    pub catalogue: Catalogue,
    /// "Today" in China Standard Time unless a test fixes it.
    pub today: Box<dyn Fn() -> NaiveDate + Send + Sync>,
    /// Appends every audited read and change (batched, hash-chained).
    pub audit: auth::AuditSink,
    /// The SM4 key for contact details, from the environment; without it they are not shown.
    pub field_key: Option<yanglao_security::fields::FieldKey>,
    /// Where uploaded department files are kept (by SHA-256), as `yanglao --files` does.
    pub files_dir: Option<std::path::PathBuf>,
}

impl App {
    pub fn new(db: Db, catalogue: Catalogue) -> App {
        App {
            audit: auth::AuditSink::start(db.clone()),
            db,
            catalogue,
            today: Box::new(china_today),
            field_key: None,
            files_dir: None,
        }
    }
}

pub fn china_today() -> NaiveDate {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("valid offset"));
    Utc::now().with_timezone(&cst).date_naive()
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(admin::login_form).post(admin::login))
        .route("/logout", axum::routing::post(admin::logout))
        .route("/account", get(admin::account))
        .route("/account/password", axum::routing::post(admin::change_password))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}", axum::routing::post(admin::edit_user))
        .route("/admin/tokens", get(admin::tokens).post(admin::create_token))
        .route("/admin/tokens/{id}/revoke", axum::routing::post(admin::revoke_token))
        .route("/audit", get(admin::audit_log))
        .route("/audit/verify", get(admin::audit_verify))
        .route("/display", get(display_mode))
        .route("/static/display.css", get(display_css))
        .route("/persons", get(persons))
        .route("/persons/{id}", get(person))
        .route("/persons/{id}/reveal", axum::routing::post(person_reveal))
        .route("/persons/{id}/contact", axum::routing::post(person_contact_save))
        .route("/persons/export.xlsx", get(persons_export))
        .route("/imports", get(imports).post(import_upload))
        .route("/imports/{id}/issues.xlsx", get(import_issues_xlsx))
        .route("/imports/{id}", get(import_batch))
        .route("/sources", get(sources))
        .route("/divisions", get(divisions))
        .route("/lists", get(lists::lists))
        .route("/lists/diff", get(lists::list_diff))
        .route("/lists/{id}", get(lists::list))
        .route("/lists/{id}/export.xlsx", get(lists::export))
        .route("/lists/{id}/submit", axum::routing::post(lists::submit_form))
        .route("/lists/{id}/publish", axum::routing::post(lists::publish_form))
        .route("/api/openapi.json", get(openapi::openapi))
        .route("/api/lists", get(lists::api_lists))
        .route("/api/lists/{id}", get(lists::api_list))
        .route("/api/lists/check", axum::routing::post(lists::api_check))
        .route("/api/lists/diff", get(lists::api_diff))
        .route("/api/lists/import", axum::routing::post(lists::api_import))
        .route("/api/lists/{id}/export.xlsx", get(lists::export))
        .route("/api/lists/{id}/submit", axum::routing::post(lists::api_submit))
        .route("/api/lists/{id}/publish", axum::routing::post(lists::api_publish))
        .route("/work", get(entitlements::work))
        .route("/work/export.xlsx", get(entitlements::work_export))
        .route("/work/{id}/assign", axum::routing::post(entitlements::assign))
        .route("/work/{id}/close", axum::routing::post(entitlements::close))
        .route("/persons/{id}/entitlements", get(entitlements::person))
        .route("/runs", get(entitlements::runs))
        .route(
            "/simulate",
            get(entitlements::simulate_page).post(entitlements::simulate_start),
        )
        .route("/simulate/{id}/export.xlsx", get(entitlements::simulate_export))
        .route("/api/simulate/{id}", get(entitlements::simulate_api))
        .route("/api/work", get(entitlements::api_work))
        .route("/api/persons", get(api_persons))
        .route("/api/persons/{id}", get(api_person))
        .route("/api/persons/{id}/entitlements", get(entitlements::api_person))
        .route("/assessments", get(assessments::requests))
        .route("/assessments/new", get(assessments::new_request))
        .route(
            "/assessments/requests",
            axum::routing::post(assessments::create_request),
        )
        .route("/assessments/requests/{id}", get(assessments::request_page))
        .route(
            "/assessments/requests/{id}/schedule",
            axum::routing::post(assessments::schedule),
        )
        .route(
            "/assessments/requests/{id}/cancel",
            axum::routing::post(assessments::cancel),
        )
        .route(
            "/assessments/requests/{id}/review",
            axum::routing::post(assessments::review),
        )
        .route(
            "/assessments/requests/{id}/publish",
            axum::routing::post(assessments::publish),
        )
        .route("/assessments/records/{id}/entry", get(assessments::entry))
        .route("/assessments/records/{id}/save", axum::routing::post(assessments::save))
        .route(
            "/assessments/records/{id}/submit",
            axum::routing::post(assessments::submit),
        )
        .route(
            "/assessments/records/{id}/amend",
            axum::routing::post(assessments::amend),
        )
        .route("/assessments/records/{id}/report", get(assessments::report))
        .route("/assessments/overdue", get(assessments::overdue))
        .route("/assessments/stats", get(assessments::stats))
        .route(
            "/assessments/agencies",
            get(assessments::agencies).post(assessments::create_agency),
        )
        .route(
            "/assessments/assessors",
            axum::routing::post(assessments::create_assessor),
        )
        .route("/assessments/ltc/tables", get(ltc::tables))
        .route("/assessments/ltc/person/{id}", get(ltc::person))
        .route("/assessments/ltc/person/{id}/new", get(ltc::entry).post(ltc::create))
        .route("/static/assessment.js", get(assessments::script))
        .route("/static/assessment.css", get(assessments::style))
        .route("/visits", get(visits::rate))
        .route("/visits/rate.xlsx", get(visits::rate_export))
        .route("/visits/overdue", get(visits::overdue))
        .route("/visits/overdue.xlsx", get(visits::overdue_export))
        .route("/visits/campaigns", axum::routing::post(visits::create_campaign))
        .route("/visits/mine", get(visits::mine))
        .route("/visits/record", get(visits::record_form).post(visits::record))
        .route("/visits/followups", get(visits::followups))
        .route(
            "/visits/followups/{id}/close",
            axum::routing::post(visits::close_followup),
        )
        .route("/visits/visitors", get(visits::visitors).post(visits::create_visitor))
        .route("/visits/visitors/{id}/assign", axum::routing::post(visits::assign))
        .route("/visits/visitors/{id}/leave", axum::routing::post(visits::leave))
        .route("/visits/points", get(visits::points))
        .route("/api/visits/rate", get(visits::api_rate))
        .route("/api/visits/due", get(visits::api_due))
        .route("/api/visits", axum::routing::post(visits::api_record))
        .route("/api/visits/followups", get(visits::api_followups))
        .route(
            "/api/visits/followups/{id}/close",
            axum::routing::post(visits::api_close_followup),
        )
        .route("/static/visits.js", get(visits::script))
        .route("/static/visits.css", get(visits::style))
        .route("/static/style.css", get(style))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::gate))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// The largest request body accepted (an uploaded department file is imported by the CLI).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

pub async fn serve(app: Arc<App>, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

#[derive(Deserialize)]
struct DisplayQuery {
    large: Option<String>,
    back: Option<String>,
}

/// 适老化: a large-type, high-contrast mode chosen per browser (a cookie read by the style
/// sheet route, so every page follows without JavaScript).
async fn display_mode(Query(q): Query<DisplayQuery>) -> Response {
    let on = q.large.as_deref() == Some("1");
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    let mut res = axum::response::Redirect::to(&back).into_response();
    let v = if on {
        "yl_large=1; Path=/; SameSite=Strict; Max-Age=31536000"
    } else {
        "yl_large=; Path=/; SameSite=Strict; Max-Age=0"
    };
    res.headers_mut()
        .append(header::SET_COOKIE, HeaderValue::from_static(v));
    res
}

async fn display_css(headers: axum::http::HeaderMap) -> Response {
    let large = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(';').any(|kv| kv.trim() == "yl_large=1"));
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        if large { include_str!("../static/large.css") } else { "" },
    )
        .into_response()
}

async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
    res
}

/// One error type at the edge: a status and a message in Chinese; internals go to the log.
pub enum AppError {
    NotFound(String),
    BadRequest(String),
    Forbidden(String),
    Internal(String),
}

impl From<yanglao_store::StoreError> for AppError {
    fn from(e: yanglao_store::StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: &'static str,
    title: String,
    message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, "未找到".to_string(), m),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, "请求有误".to_string(), m),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, "不允许的操作".to_string(), m),
            AppError::Internal(m) => {
                eprintln!("internal error: {m}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "系统错误".to_string(),
                    "系统内部错误，请稍后再试或联系管理员。".to_string(),
                )
            }
        };
        let body = ErrorPage {
            nav: "",
            title,
            message,
        }
        .render()
        .unwrap_or_else(|_| "系统错误".into());
        (status, Html(body)).into_response()
    }
}

pub(crate) type Result<T> = std::result::Result<T, AppError>;

pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// A page with forms: rendered on a blocking thread with the CSRF token, which is set as a
/// cookie on the response when the browser had none.
pub(crate) async fn with_csrf(
    headers: &axum::http::HeaderMap,
    f: impl FnOnce(String) -> Result<Response> + Send + 'static,
) -> Result<Response> {
    let token = csrf::Csrf::for_page(headers)?;
    let value = token.token.clone();
    let res = blocking(move || f(value)).await?;
    Ok(token.apply(res))
}

pub(crate) fn page<T: Template>(t: T) -> Result<Response> {
    Ok(Html(t.render()?).into_response())
}

async fn not_found() -> AppError {
    AppError::NotFound("页面不存在。".into())
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/style.css"),
    )
}

struct BatchRow {
    id: i64,
    source_title: String,
    file_name: String,
    rows_total: i64,
    rows_ok: i64,
    rows_bad: i64,
    rows_duplicate: i64,
    facts_new: i64,
    started: String,
}

fn source_title(code: &str) -> String {
    source(code)
        .map(|s| s.title.to_string())
        .unwrap_or_else(|| code.to_string())
}

/// A time as China Standard Time, to the minute.
pub fn local_time(t: chrono::DateTime<Utc>) -> String {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("valid offset"));
    t.with_timezone(&cst).format("%Y-%m-%d %H:%M").to_string()
}

fn batch_row(b: &BatchSummary) -> BatchRow {
    BatchRow {
        id: b.id,
        source_title: source_title(&b.source),
        file_name: b.file_name.clone(),
        rows_total: b.rows_total,
        rows_ok: b.rows_ok,
        rows_bad: b.rows_bad,
        rows_duplicate: b.rows_duplicate,
        facts_new: b.facts_new,
        started: local_time(b.started_at),
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: &'static str,
    persons: i64,
    facts: i64,
    batches: i64,
    conflicts: i64,
    batch_rows: Vec<BatchRow>,
}

async fn home(State(app): State<Arc<App>>) -> Result<Response> {
    blocking(move || {
        let c = registry::counts(&app.db)?;
        let b = registry::batches(&app.db, 12)?;
        page(HomePage {
            nav: "home",
            persons: c.persons,
            facts: c.facts,
            batches: c.batches,
            conflicts: c.conflicts,
            batch_rows: b.iter().map(batch_row).collect(),
        })
    })
    .await
}

#[derive(Deserialize, Default)]
struct PersonsQuery {
    q: Option<String>,
    division: Option<String>,
    as_of: Option<String>,
    page: Option<i64>,
    sort: Option<String>,
}

struct DivisionOption {
    code: String,
    label: String,
    selected: bool,
}

struct PersonRow {
    id: i64,
    name: String,
    id_masked: String,
    sex: &'static str,
    age: i32,
    hukou: String,
    dead: bool,
}

#[derive(Template)]
#[template(path = "persons.html")]
struct PersonsPage {
    nav: &'static str,
    q: String,
    as_of: String,
    division_options: Vec<DivisionOption>,
    rows: Vec<PersonRow>,
    total: i64,
    page: i64,
    pages: i64,
    prev_url: String,
    next_url: String,
    /// The same search as a workbook, and the column headers' sort links.
    export_url: String,
    sort_urls: [(String, &'static str, bool); 4],
}

const PAGE_SIZE: i64 = 50;

fn parse_as_of(app: &App, s: Option<&str>) -> Result<NaiveDate> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok((app.today)()),
        Some(s) => yanglao_domain::dates::parse_date(s)
            .ok_or_else(|| AppError::BadRequest(format!("日期“{s}”无效，应为 YYYY-MM-DD。"))),
    }
}

fn division_options(cat: &Catalogue, selected: Option<DivisionCode>, as_of: NaiveDate) -> Vec<DivisionOption> {
    let mut all: Vec<_> = cat
        .all()
        .filter(|d| d.level <= DivisionLevel::County)
        .filter(|d| d.valid_from.is_none_or(|f| f <= as_of) && d.valid_to.is_none_or(|t| t > as_of))
        .collect();
    all.sort_by_key(|d| d.code);
    let mut out: Vec<DivisionOption> = all
        .into_iter()
        .map(|d| {
            let indent = "　".repeat(d.level as usize - 1);
            DivisionOption {
                code: d.code.short(),
                label: format!("{indent}{}", d.name),
                selected: Some(d.code) == selected,
            }
        })
        .collect();
    // A township chosen by URL is shown too.
    if let Some(s) = selected {
        if s.level() > DivisionLevel::County {
            out.push(DivisionOption {
                code: s.short(),
                label: cat.path_name(s, as_of),
                selected: true,
            });
        }
    }
    out
}

fn place(cat: &Catalogue, code: Option<&str>, as_of: NaiveDate) -> String {
    match code.and_then(|c| DivisionCode::parse(c).ok()) {
        Some(c) => cat.path_name(c, as_of),
        None => "—".into(),
    }
}

pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

async fn persons(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    Query(q): Query<PersonsQuery>,
) -> Result<Response> {
    blocking(move || {
        let page_no = q.page.unwrap_or(1).max(1);
        let s = person_search(&app, &user, &q, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)?;
        let (as_of, division, text, sort) = (s.as_of, s.division, s.text, s.sort);
        let (list, total) = registry::search_persons(&app.db, &s.query)?;
        app.audit.record_blocking(
            &user,
            "person.search",
            "",
            &format!("查询“{}”，{} 人", shown_query(&text), total),
        )?;
        let rows = list
            .into_iter()
            .map(|p| PersonRow {
                id: p.id,
                id_masked: IdNumber::parse(&p.id_number)
                    .map(|i| i.masked())
                    .unwrap_or_else(|_| "（无效号码）".into()),
                name: p.name,
                sex: Sex::from_code(p.sex).map(|s| s.label()).unwrap_or("未知"),
                age: age_on(p.birth_date, as_of),
                hukou: place(&app.catalogue, p.hukou.as_deref(), as_of),
                dead: p.died.is_some_and(|d| d <= as_of),
            })
            .collect();
        let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        let filters = format!(
            "q={}&division={}&as_of={as_of}",
            url_encode(if IdNumber::parse(&text).is_ok() { "" } else { &text }),
            division.map(|d| d.short()).unwrap_or_default()
        );
        let base = format!("/persons?{filters}&sort={}", sort.code());
        let sort_link = |s: registry::PersonSort, label: &'static str| {
            (format!("/persons?{filters}&sort={}", s.code()), label, s == sort)
        };
        let sort_urls = [
            sort_link(registry::PersonSort::Registered, "登记顺序"),
            sort_link(registry::PersonSort::Name, "姓名"),
            sort_link(registry::PersonSort::Oldest, "年龄从大到小"),
            sort_link(registry::PersonSort::Youngest, "年龄从小到大"),
        ];
        // A full ID number typed into the search box is not echoed back into the page.
        let shown = match IdNumber::parse(&text) {
            Ok(id) => id.masked(),
            Err(_) => text,
        };
        page(PersonsPage {
            nav: "persons",
            q: shown,
            as_of: as_of.to_string(),
            division_options: division_options(&app.catalogue, division, as_of),
            rows,
            total,
            page: page_no,
            pages,
            prev_url: format!("{base}&page={}", page_no - 1),
            next_url: format!("{base}&page={}", page_no + 1),
            export_url: format!("/persons/export.xlsx?{filters}&sort={}", sort.code()),
            sort_urls,
        })
    })
    .await
}

struct CurrentRow {
    kind: &'static str,
    value: String,
    source: String,
    period: String,
    batch_id: i64,
    batch_file: String,
    contested: bool,
}

struct HistoryRow {
    kind: String,
    value: String,
    from: String,
    to: String,
    source: String,
    batch_id: i64,
    ended_by: String,
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    nav: &'static str,
    id: i64,
    name: String,
    id_masked: String,
    sex: &'static str,
    birth: String,
    age: i32,
    as_of: String,
    dead: bool,
    died: String,
    hukou: String,
    residence: String,
    contested: bool,
    current: Vec<CurrentRow>,
    history: Vec<HistoryRow>,
    csrf: String,
    can_reveal: bool,
    can_edit_contact: bool,
    contact: ContactView,
    /// The full ID number, only on the audited "reveal" response.
    revealed_id: String,
}

#[derive(Default)]
struct ContactView {
    /// Whether contact details can be shown at all (a field key is configured).
    available: bool,
    phone: String,
    address: String,
    guardian: String,
}

/// Contact details, masked unless `full` (then the caller has audited the view).
fn person_contact(app: &App, id: i64, full: bool) -> Result<ContactView> {
    let Some(key) = &app.field_key else {
        return Ok(ContactView::default());
    };
    let c = yanglao_store::contacts::contact(&app.db, key, id)?.unwrap_or_default();
    let mask_text = |s: Option<String>| -> String {
        match s {
            None => String::new(),
            Some(s) if full => s,
            Some(s) => {
                let first: String = s.chars().take(3).collect();
                format!("{first}……")
            }
        }
    };
    Ok(ContactView {
        available: true,
        phone: match c.phone {
            Some(p) if full => p,
            Some(p) => yanglao_security::fields::mask_phone(&p),
            None => String::new(),
        },
        address: mask_text(c.address),
        guardian: mask_text(c.guardian),
    })
}

#[derive(Deserialize)]
struct AsOfQuery {
    as_of: Option<String>,
}

fn fact_value_label(cat: &Catalogue, kind: FactKind, value: &str, as_of: NaiveDate) -> String {
    match kind {
        FactKind::Hukou | FactKind::Residence => place(cat, Some(value), as_of),
        _ => kind.display_value(value),
    }
}

/// A search text as it may be written down: a full ID number masked.
pub(crate) fn shown_query(text: &str) -> String {
    match IdNumber::parse(text) {
        Ok(id) => id.masked(),
        Err(_) => text.to_string(),
    }
}

/// The person if the reader's scope reaches them, and the read recorded in the audit log.
/// Out of scope reads the same as "no such person", so ids cannot be probed.
pub(crate) fn read_person(app: &App, user: &auth::Principal, id: i64, what: &str) -> Result<registry::Person> {
    match registry::person_in(&app.db, id, &user.scope)? {
        Some(p) => {
            app.audit.record_blocking(user, what, &format!("person:{id}"), "")?;
            Ok(p)
        }
        None => {
            app.audit
                .record_blocking(user, "person.denied", &format!("person:{id}"), "不存在或不在管辖范围内")?;
            Err(AppError::NotFound("没有这个人员，或其不在您的管辖范围内。".into()))
        }
    }
}

async fn person(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response> {
    let token = csrf::Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || render_person(&app, &user, id, q.as_of.as_deref(), csrf_value, false)).await?;
    Ok(token.apply(res))
}

#[derive(Deserialize)]
struct RevealForm {
    csrf: String,
    as_of: Option<String>,
}

/// The full ID number and contact details: a deliberate, audited act (POST, own permission).
async fn person_reveal(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<RevealForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    user.require(yanglao_security::Permission::PersonFullId)?;
    blocking(move || render_person(&app, &user, id, f.as_of.as_deref(), f.csrf.clone(), true)).await
}

#[derive(Deserialize)]
struct ContactForm {
    csrf: String,
    phone: String,
    address: String,
    guardian: String,
}

async fn person_contact_save(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ContactForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    user.require(yanglao_security::Permission::ContactEdit)?;
    blocking(move || {
        let key = app.field_key.clone().ok_or_else(|| {
            AppError::BadRequest("未配置字段加密密钥（YANGLAO_FIELD_KEY），不能保存联系方式。".into())
        })?;
        read_person(&app, &user, id, "person.contact.update")?;
        let clip = |s: &str, n: usize, what: &str| -> Result<Option<String>> {
            let t = s.trim();
            if t.chars().count() > n {
                return Err(AppError::BadRequest(format!("{what}不能超过 {n} 个字。")));
            }
            Ok((!t.is_empty()).then(|| t.to_string()))
        };
        let phone = clip(&f.phone, 20, "电话")?;
        if let Some(p) = &phone {
            if !p
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == ' ' || c == '+')
            {
                return Err(AppError::BadRequest("电话只能包含数字、空格、+ 和 -。".into()));
            }
        }
        let c = yanglao_store::contacts::Contact {
            phone,
            address: clip(&f.address, 200, "地址")?,
            guardian: clip(&f.guardian, 100, "监护人")?,
        };
        yanglao_store::contacts::set_contact(&app.db, &key, id, &c, &user.name, chrono::Utc::now())?;
        Ok(axum::response::Redirect::to(&format!("/persons/{id}")).into_response())
    })
    .await
}

fn render_person(
    app: &App,
    user: &auth::Principal,
    id: i64,
    as_of: Option<&str>,
    csrf_value: String,
    reveal: bool,
) -> Result<Response> {
    {
        let as_of = parse_as_of(app, as_of)?;
        let p = read_person(app, user, id, if reveal { "person.reveal" } else { "person.read" })?;
        let contact = person_contact(app, id, reveal)?;
        let facts = registry::person_facts(&app.db, id)?;
        let state = state_on(&facts, as_of);
        let cat = &app.catalogue;
        let current: Vec<CurrentRow> = state
            .facts
            .iter()
            .map(|f| CurrentRow {
                kind: f.kind_label,
                value: fact_value_label(cat, f.kind, &f.value, as_of),
                source: f.source_label.clone(),
                period: match f.valid_to {
                    Some(t) => format!("{} 至 {}", f.valid_from, t),
                    None => format!("{} 起", f.valid_from),
                },
                batch_id: f.batch_id,
                batch_file: f.batch_file.clone(),
                contested: f.contested,
            })
            .collect();
        let history = facts
            .iter()
            .map(|f| {
                let kind = FactKind::parse(&f.kind);
                HistoryRow {
                    kind: kind.map(|k| k.label().to_string()).unwrap_or_else(|| f.kind.clone()),
                    value: kind
                        .map(|k| fact_value_label(cat, k, &f.value, as_of))
                        .unwrap_or_else(|| f.value.clone()),
                    from: f.valid_from.to_string(),
                    to: f.valid_to.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
                    source: source_label(&f.source),
                    batch_id: f.batch_id,
                    ended_by: f.ended_by_batch.map(|b| format!("批次 #{b}")).unwrap_or_default(),
                }
            })
            .collect();
        let id_masked = IdNumber::parse(&p.id_number)
            .map(|i| i.masked())
            .unwrap_or_else(|_| "（无效号码）".into());
        page(PersonPage {
            nav: "persons",
            id,
            name: p.name,
            id_masked,
            sex: Sex::from_code(p.sex).map(|s| s.label()).unwrap_or("未知"),
            birth: p.birth_date.to_string(),
            age: age_on(p.birth_date, as_of),
            as_of: as_of.to_string(),
            dead: state.died.is_some(),
            died: state.died.map(|d| d.to_string()).unwrap_or_default(),
            hukou: place(cat, state.value(FactKind::Hukou), as_of),
            residence: place(cat, state.value(FactKind::Residence), as_of),
            contested: state.facts.iter().any(|f| f.contested),
            current,
            history,
            csrf: csrf_value,
            can_reveal: user.can(yanglao_security::Permission::PersonFullId),
            can_edit_contact: user.can(yanglao_security::Permission::ContactEdit) && app.field_key.is_some(),
            contact,
            revealed_id: if reveal { p.id_number.clone() } else { String::new() },
        })
    }
}

#[derive(Template)]
#[template(path = "imports.html")]
struct ImportsPage {
    nav: &'static str,
    batch_rows: Vec<BatchRow>,
    can_upload: bool,
    csrf: String,
    sources: Vec<(&'static str, String)>,
}

async fn imports(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let token = csrf::Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || {
        let b = registry::batches(&app.db, 500)?;
        page(ImportsPage {
            nav: "imports",
            batch_rows: b.iter().map(batch_row).collect(),
            can_upload: user.can(yanglao_security::Permission::ImportData),
            csrf: csrf_value,
            sources: SOURCES
                .iter()
                .map(|s| (s.code, format!("{}（{}）", s.title, s.department.label())))
                .collect(),
        })
    })
    .await?;
    Ok(token.apply(res))
}

#[derive(Deserialize)]
struct UploadQuery {
    csrf: String,
}

/// A department file uploaded from the console: imported exactly like `yanglao import FILE
/// --source …` (whole file or nothing), then the batch's page with its row-by-row report.
async fn import_upload(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    headers: axum::http::HeaderMap,
    Query(q): Query<UploadQuery>,
    mut form: axum::extract::Multipart,
) -> Result<Response> {
    // The token rides in the URL: a multipart body is read only after the check.
    csrf::verify(&headers, &q.csrf)?;
    let mut source_code = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| AppError::BadRequest(format!("上传内容无法读取：{e}")))?
    {
        match field.name() {
            Some("source") => source_code = Some(field.text().await.map_err(|e| AppError::BadRequest(e.to_string()))?),
            Some("file") => {
                let name = field.file_name().unwrap_or("upload.csv").to_string();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| AppError::BadRequest(format!("文件过大或上传中断：{e}")))?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    let src = source_code
        .as_deref()
        .and_then(source)
        .ok_or_else(|| AppError::BadRequest("请选择数据来源。".into()))?;
    let (name, bytes) = file.ok_or_else(|| AppError::BadRequest("请选择要导入的文件。".into()))?;
    if bytes.is_empty() {
        return Err(AppError::BadRequest("文件是空的。".into()));
    }
    // Only the base name, and only characters that are safe in a path.
    let safe: String = std::path::Path::new(&name)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .filter(|c| !matches!(c, '/' | '\\' | '\0'))
        .take(120)
        .collect();
    let safe = if safe.is_empty() {
        "upload.csv".to_string()
    } else {
        safe
    };
    let detail = format!("{}：{}（{} 字节）", src.title, safe, bytes.len());
    blocking(move || {
        // The import reads a file (and archives it by hash): a private directory per upload,
        // removed when the upload is done.
        let dir = std::env::temp_dir().join(format!(
            "yanglao-upload-{}",
            yanglao_security::random_hex(8).map_err(|e| AppError::Internal(e.to_string()))?
        ));
        std::fs::create_dir_all(&dir).map_err(|e| AppError::Internal(e.to_string()))?;
        let path = dir.join(&safe);
        let result = std::fs::write(&path, &bytes)
            .map_err(|e| AppError::Internal(e.to_string()))
            .and_then(|()| import_uploaded(&app, &path, src));
        let _ = std::fs::remove_dir_all(&dir);
        let batch = result?;
        app.audit
            .record_blocking(&user, "import.upload", &format!("batch:{}", batch.id), &detail)?;
        Ok(axum::response::Redirect::to(&format!("/imports/{}", batch.id)).into_response())
    })
    .await
}

/// `yanglao import FILE --source …` for a file the console received.
fn import_uploaded(
    app: &App,
    path: &std::path::Path,
    src: &'static yanglao_registry::sources::Source,
) -> Result<BatchSummary> {
    let opts = yanglao_registry::import::ImportOptions {
        source: src,
        today: (app.today)(),
        now: chrono::Utc::now(),
        archive_dir: app.files_dir.clone(),
        report_dir: None,
        header_overrides: Default::default(),
        fail_at: None,
        known: None,
    };
    let outcome = yanglao_registry::import::import_file(&app.db, &app.catalogue, path, &opts, &mut |_, _| {})
        .map_err(|e| AppError::BadRequest(format!("导入失败，未做任何改动：{e}")))?;
    Ok(match outcome {
        yanglao_registry::import::ImportOutcome::Applied { batch, .. } => batch,
        yanglao_registry::import::ImportOutcome::AlreadyImported(b) => b,
    })
}

/// A batch's problem rows as a workbook: row number, column, value and reason.
async fn import_issues_xlsx(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Result<Response> {
    blocking(move || {
        let b = registry::batch(&app.db, id)?.ok_or_else(|| AppError::NotFound("没有这个批次。".into()))?;
        let issues = registry::batch_issues(&app.db, id, 1_048_000, 0)?;
        let bytes = (|| -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
            use rust_xlsxwriter::{Format, Workbook};
            let mut wb = Workbook::new();
            let bold = Format::new().set_bold();
            let ws = wb.add_worksheet().set_name("问题行")?;
            ws.write_string_with_format(0, 0, format!("批次 #{} {} 的问题行", b.id, b.file_name), &bold)?;
            for (c, h) in ["行号", "级别", "列", "内容", "原因"].iter().enumerate() {
                ws.write_string_with_format(1, c as u16, *h, &bold)?;
            }
            for (r, i) in issues.iter().enumerate() {
                let r = r as u32 + 2;
                ws.write_number(r, 0, i.row_no as f64)?;
                ws.write_string(r, 1, i.severity.label())?;
                ws.write_string(r, 2, &i.column)?;
                ws.write_string(r, 3, &i.value)?;
                ws.write_string(r, 4, &i.reason)?;
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
                    format!("attachment; filename=\"batch-{id}-issues.xlsx\""),
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

struct IssueRow {
    row_no: i64,
    severity: &'static str,
    error: bool,
    column: String,
    value: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    nav: &'static str,
    b: BatchSummary,
    source_title: String,
    started: String,
    issue_total: i64,
    issues: Vec<IssueRow>,
    page: i64,
    more: bool,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<i64>,
}

async fn import_batch(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    blocking(move || {
        let b = registry::batch(&app.db, id)?.ok_or_else(|| AppError::NotFound("没有这个批次。".into()))?;
        let page_no = q.page.unwrap_or(1).max(1);
        let per = 200;
        let list = registry::batch_issues(&app.db, id, per + 1, (page_no - 1) * per)?;
        let more = list.len() as i64 > per;
        let issues = list
            .into_iter()
            .take(per as usize)
            .map(|i| IssueRow {
                row_no: i.row_no,
                severity: i.severity.label(),
                error: i.severity == registry::Severity::Error,
                column: i.column,
                value: i.value,
                reason: i.reason,
            })
            .collect();
        page(ImportPage {
            nav: "imports",
            source_title: source_title(&b.source),
            started: local_time(b.started_at),
            issue_total: b.rows_bad + b.rows_duplicate,
            b,
            issues,
            page: page_no,
            more,
        })
    })
    .await
}

struct SourceView {
    code: &'static str,
    title: &'static str,
    department: &'static str,
    fields: Vec<(&'static str, String, bool)>,
}

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    nav: &'static str,
    sources: Vec<SourceView>,
}

async fn sources() -> Result<Response> {
    page(SourcesPage {
        nav: "sources",
        sources: SOURCES
            .iter()
            .map(|s| SourceView {
                code: s.code,
                title: s.title,
                department: s.department.label(),
                fields: s
                    .fields
                    .iter()
                    .map(|f| (f.header, f.aliases.join("、"), f.required))
                    .collect(),
            })
            .collect(),
    })
}

struct ChildRow {
    code: String,
    name: String,
    level: &'static str,
    note: String,
}

#[derive(Template)]
#[template(path = "divisions.html")]
struct DivisionsPage {
    nav: &'static str,
    code: String,
    path: String,
    as_of: String,
    parent_link: String,
    children: Vec<ChildRow>,
    changes: Vec<(String, String, String)>,
}

#[derive(Deserialize)]
struct DivisionQuery {
    code: Option<String>,
    as_of: Option<String>,
}

async fn divisions(State(app): State<Arc<App>>, Query(q): Query<DivisionQuery>) -> Result<Response> {
    let as_of = parse_as_of(&app, q.as_of.as_deref())?;
    let cat = &app.catalogue;
    let (children, path, code, parent_link): (Vec<ChildRow>, String, String, String) =
        match q.code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => {
                let mut top: Vec<_> = cat.all().filter(|d| d.level == DivisionLevel::Province).collect();
                top.sort_by_key(|d| d.code);
                let rows = top.iter().map(|d| child_row(cat, d, as_of)).collect();
                (rows, "全部".into(), String::new(), String::new())
            }
            Some(s) => {
                let c = DivisionCode::parse(s).map_err(|e| AppError::BadRequest(e.to_string()))?;
                let rows = cat
                    .children_on(c, as_of)
                    .into_iter()
                    .map(|d| child_row(cat, d, as_of))
                    .collect();
                let parent = cat
                    .parent_on(c, as_of)
                    .map(|p| format!("/divisions?code={}&as_of={as_of}", p.short()))
                    .unwrap_or_else(|| format!("/divisions?as_of={as_of}"));
                (rows, cat.path_name(c, as_of), c.short(), parent)
            }
        };
    let selected = DivisionCode::parse(&code).ok();
    let mut changes: Vec<(String, String, String)> = cat
        .changes()
        .iter()
        .filter(|c| {
            selected
                .is_none_or(|s| c.from.is_within(s) || c.to.is_within(s) || s.is_within(c.from) || s.is_within(c.to))
        })
        .map(|c| {
            (
                c.effective.to_string(),
                format!("{}：{} → {}", c.kind.label(), cat.name(c.from), cat.name(c.to)),
                c.note.clone(),
            )
        })
        .collect();
    changes.extend(
        cat.moves()
            .iter()
            .filter(|m| {
                selected.is_none_or(|s| m.code.is_within(s) || m.to_parent.is_within(s) || s.is_within(m.to_parent))
            })
            .map(|m| {
                (
                    m.effective.to_string(),
                    format!(
                        "划转：{} 由 {} 划归 {}",
                        cat.name(m.code),
                        cat.name(m.from_parent),
                        cat.name(m.to_parent)
                    ),
                    m.note.clone(),
                )
            }),
    );
    page(DivisionsPage {
        nav: "divisions",
        code,
        path,
        as_of: as_of.to_string(),
        parent_link,
        children,
        changes,
    })
}

fn child_row(cat: &Catalogue, d: &yanglao_domain::Division, as_of: NaiveDate) -> ChildRow {
    let mut note = Vec::new();
    if let Some(f) = d.valid_from {
        note.push(format!("{f} 设立"));
    }
    if let Some(m) = cat.moves().iter().find(|m| m.code == d.code && m.effective <= as_of) {
        note.push(format!("{} 由{}划入", m.effective, cat.name(m.from_parent)));
    }
    ChildRow {
        code: d.code.short(),
        name: d.name.clone(),
        level: d.level.label(),
        note: note.join("；"),
    }
}

/// A person search as the list page and its export both read it: the filters checked, the
/// reader's scope applied.
struct PersonSearch {
    query: PersonQuery,
    as_of: NaiveDate,
    division: Option<DivisionCode>,
    text: String,
    sort: registry::PersonSort,
}

fn person_search(app: &App, user: &auth::Principal, q: &PersonsQuery, limit: i64, offset: i64) -> Result<PersonSearch> {
    let as_of = parse_as_of(app, q.as_of.as_deref())?;
    let division = match q.division.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(DivisionCode::parse(s).map_err(|e| AppError::BadRequest(e.to_string()))?),
        None => None,
    };
    let text = q.q.clone().unwrap_or_default();
    if text.chars().count() > 64 {
        return Err(AppError::BadRequest("查询内容过长。".into()));
    }
    let sort = registry::PersonSort::parse(q.sort.as_deref().unwrap_or(""));
    let scope = division.map(|d| app.catalogue.scope_on(d, as_of)).unwrap_or_default();
    Ok(PersonSearch {
        query: PersonQuery {
            text: Some(text.clone()),
            include: scope.include,
            exclude: scope.exclude,
            as_of: Some(as_of),
            limit,
            offset,
            visible: user.scope.clone(),
            sort,
        },
        as_of,
        division,
        text,
        sort,
    })
}

/// The most rows a person-list export holds; a larger selection is narrowed first.
const EXPORT_MAX: i64 = 10_000;

/// The search result as a workbook (masked ID numbers), within the reader's scope and audited.
async fn persons_export(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    Query(q): Query<PersonsQuery>,
) -> Result<Response> {
    blocking(move || {
        let s = person_search(&app, &user, &q, EXPORT_MAX, 0)?;
        let (as_of, text) = (s.as_of, s.text);
        let (list, total) = registry::search_persons(&app.db, &s.query)?;
        if total > EXPORT_MAX {
            return Err(AppError::BadRequest(format!(
                "符合条件的有 {total} 人，超过单次导出上限 {EXPORT_MAX} 人，请缩小范围。"
            )));
        }
        app.audit.record_blocking(
            &user,
            "person.export",
            "",
            &format!("导出人员名单 {} 人（查询“{}”）", list.len(), shown_query(&text)),
        )?;
        let bytes = persons_xlsx(&app, &list, as_of).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"persons.xlsx\"".to_string(),
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

fn persons_xlsx(
    app: &App,
    list: &[registry::PersonListRow],
    as_of: NaiveDate,
) -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet().set_name("人员名单")?;
    for (c, h) in ["姓名", "身份证号（脱敏）", "性别", "年龄", "户籍所在地", "状态"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, p) in list.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, &p.name)?;
        ws.write_string(
            r,
            1,
            IdNumber::parse(&p.id_number)
                .map(|i| i.masked())
                .unwrap_or_else(|_| "（无效号码）".into()),
        )?;
        ws.write_string(r, 2, Sex::from_code(p.sex).map(|s| s.label()).unwrap_or("未知"))?;
        ws.write_number(r, 3, f64::from(age_on(p.birth_date, as_of)))?;
        ws.write_string(r, 4, place(&app.catalogue, p.hukou.as_deref(), as_of))?;
        ws.write_string(
            r,
            5,
            if p.died.is_some_and(|d| d <= as_of) {
                "已故"
            } else {
                "在册"
            },
        )?;
    }
    wb.save_to_buffer()
}

/// A horizontal bar chart as inline SVG (no script, scales with the page), for figures people
/// would rather compare by eye than read: one bar per label, the value printed at its end.
pub(crate) fn svg_bars(title: &str, rows: &[(String, i64)]) -> String {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    if rows.is_empty() {
        return String::new();
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (160.0, 420.0, 26.0);
    let height = row_h * rows.len() as f64 + 8.0;
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        esc(title),
        label_w + bar_w + 80.0,
        esc(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = (*v as f64 / max as f64 * bar_w).max(if *v > 0 { 2.0 } else { 0.0 });
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"13\" fill=\"#1f2933\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"#0b4f8a\"></rect>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#1f2933\">{v}</text>",
            label_w - 8.0,
            y + row_h * 0.62,
            esc(label),
            row_h - 8.0,
            label_w + w + 6.0,
            y + row_h * 0.62,
        ));
    }
    out.push_str("</svg>");
    out
}

/// `GET /api/persons?q=&division=&as_of=&page=&sort=`: the search of the person list, as JSON
/// (masked ID numbers, the reader's scope, audited like the page).
async fn api_persons(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    Query(q): Query<PersonsQuery>,
) -> Result<Response> {
    blocking(move || {
        let page_no = q.page.unwrap_or(1).max(1);
        let s = person_search(&app, &user, &q, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)?;
        let (list, total) = registry::search_persons(&app.db, &s.query)?;
        app.audit.record_blocking(
            &user,
            "person.search",
            "",
            &format!("接口查询“{}”，{} 人", shown_query(&s.text), total),
        )?;
        let people: Vec<serde_json::Value> = list
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.id,
                    "name": p.name,
                    "id_number_masked": IdNumber::parse(&p.id_number).map(|i| i.masked()).unwrap_or_default(),
                    "sex": Sex::from_code(p.sex).map(|s| s.label()).unwrap_or("未知"),
                    "age": age_on(p.birth_date, s.as_of),
                    "hukou": p.hukou,
                    "hukou_name": place(&app.catalogue, p.hukou.as_deref(), s.as_of),
                    "died": p.died.filter(|d| *d <= s.as_of),
                })
            })
            .collect();
        Ok(axum::Json(serde_json::json!({
            "as_of": s.as_of,
            "total": total,
            "page": page_no,
            "page_size": PAGE_SIZE,
            "people": people,
        }))
        .into_response())
    })
    .await
}

/// `GET /api/persons/{id}?as_of=`: one person's facts on a date with their sources, and the
/// whole dated history (masked ID number; scope and audit as for the page).
async fn api_person(
    State(app): State<Arc<App>>,
    user: auth::Principal,
    Path(id): Path<i64>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response> {
    blocking(move || {
        let as_of = parse_as_of(&app, q.as_of.as_deref())?;
        let p = read_person(&app, &user, id, "person.read")?;
        let facts = registry::person_facts(&app.db, id)?;
        let state = state_on(&facts, as_of);
        Ok(axum::Json(serde_json::json!({
            "id": p.id,
            "name": p.name,
            "id_number_masked": IdNumber::parse(&p.id_number).map(|i| i.masked()).unwrap_or_default(),
            "birth_date": p.birth_date,
            "as_of": as_of,
            "died": state.died,
            "current": state.facts,
            "history": facts.iter().map(|f| serde_json::json!({
                "kind": f.kind,
                "value": f.value,
                "valid_from": f.valid_from,
                "valid_to": f.valid_to,
                "source": source_label(&f.source),
                "batch_id": f.batch_id,
                "ended_by_batch": f.ended_by_batch,
            })).collect::<Vec<_>>(),
        }))
        .into_response())
    })
    .await
}
