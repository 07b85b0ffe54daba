//! Public pages of the service lists: every version, one version as a table like the seeds'
//! tables, an Excel export in that layout, and a diff of any two versions.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use yanglao_domain::DivisionCode;
use yanglao_entitlements::dominance::{self, PublishError};
use yanglao_entitlements::engine::AppliedVersion;
use yanglao_lists::content::load;
use yanglao_lists::diff::{diff, Change};
use yanglao_lists::model::{ListVersion, Period, Status};
use yanglao_lists::service::{advance, save_draft, status_of, ServiceError};
use yanglao_store::lists as store;

use crate::auth::Principal;
use crate::{blocking, local_time, page, App, AppError, Result};
use yanglao_security::Permission;

fn parsed(row: &store::VersionRow) -> Result<ListVersion> {
    // Stored versions were checked when saved; a failure here is a defect, not user input.
    load(&row.content).map_err(|e| AppError::Internal(format!("stored list {} no longer loads: {e:?}", row.id)))
}

fn status_label(code: &str) -> String {
    status_of(code)
        .map(|s| s.label().to_string())
        .unwrap_or_else(|| code.to_string())
}

fn place(app: &App, code: &str) -> String {
    DivisionCode::parse(code)
        .map(|c| app.catalogue.path_name(c, (app.today)()))
        .unwrap_or_else(|_| code.to_string())
}

struct VersionLine {
    id: i64,
    title: String,
    place: String,
    level: String,
    effective_from: String,
    status: String,
    published: bool,
    items: usize,
}

#[derive(Template)]
#[template(path = "lists.html")]
struct ListsPage {
    nav: &'static str,
    versions: Vec<VersionLine>,
}

pub async fn lists(State(app): State<Arc<App>>, viewer: crate::auth::Viewer) -> Result<Response> {
    blocking(move || {
        let mut versions = Vec::new();
        for r in store::versions(&app.db)?
            .into_iter()
            .filter(|r| viewer.sees_drafts() || public_status(&r.status))
            .collect::<Vec<_>>()
        {
            let v = parsed(&r)?;
            versions.push(VersionLine {
                id: r.id,
                title: r.title.clone(),
                place: place(&app, &r.jurisdiction),
                level: r.level.clone(),
                effective_from: r.effective_from.to_string(),
                status: status_label(&r.status),
                published: r.status == "published",
                items: v.items.len(),
            });
        }
        page(ListsPage { nav: "lists", versions })
    })
    .await
}

struct ItemLine {
    seq: u32,
    name: String,
    target: String,
    content: String,
    /// 服务标准 where the list has its own column (Hotan), by paragraph.
    standard: Vec<String>,
    service_type: &'static str,
    funding: String,
    lead: String,
    eligibility: String,
    amount: String,
    period: &'static str,
    note: String,
}

fn period_label(p: Option<Period>) -> &'static str {
    match p {
        Some(Period::Month) => "每月",
        Some(Period::Year) => "每年",
        Some(Period::Once) => "一次性",
        None => "",
    }
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    nav: &'static str,
    id: i64,
    title: String,
    place: String,
    level: String,
    effective_from: String,
    status: String,
    source: String,
    change_note: String,
    steps: Vec<String>,
    items: Vec<ItemLine>,
    /// The table prints 服务标准 in its own column (Hotan) rather than 服务内容及标准 (Inner Mongolia).
    own_standard: bool,
    params: Vec<(String, String, String)>,
    /// The next move of the life cycle offered on the page: submit (a draft) or publish (under review).
    can_submit: bool,
    can_publish: bool,
    csrf: String,
}

fn item_lines(v: &ListVersion) -> Vec<ItemLine> {
    v.items
        .iter()
        .map(|i| ItemLine {
            seq: i.seq,
            name: i.name.clone(),
            target: i.target.clone(),
            content: i.content.clone(),
            standard: i
                .standard
                .as_deref()
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
            service_type: i.service_type.label(),
            funding: i.funding.clone().unwrap_or_default(),
            lead: i.lead.clone().unwrap_or_default(),
            eligibility: i.eligibility.clone().unwrap_or_default(),
            amount: i.amount.clone().unwrap_or_default(),
            period: period_label(i.period),
            note: i.note.clone().unwrap_or_default(),
        })
        .collect()
}

pub async fn list(
    State(app): State<Arc<App>>,
    viewer: crate::auth::Viewer,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let token = crate::csrf::Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let res = blocking(move || {
        let r = visible_version(&app, &viewer, id)?.ok_or_else(|| AppError::NotFound("没有这个清单版本。".into()))?;
        let v = parsed(&r)?;
        let steps = store::steps(&app.db, id)?
            .into_iter()
            .map(|s| format!("{} {}：{}", local_time(s.at), s.by, status_label(&s.status)))
            .collect();
        let title = if v.source.title.contains('《') {
            v.source.title.clone()
        } else {
            format!("《{}》", v.source.title)
        };
        let source = match (&v.source.doc_no, v.source.date) {
            (Some(no), Some(d)) => format!("{title}（{no}，{d}）"),
            (None, Some(d)) => format!("{title}（{d}）"),
            (Some(no), None) => format!("{title}（{no}）"),
            (None, None) => title,
        };
        let params = v
            .params
            .iter()
            .map(|p| {
                let val = if p.local {
                    "由地方设定".to_string()
                } else {
                    p.value.clone().unwrap_or_default()
                };
                (p.name.clone(), val, p.basis.clone())
            })
            .collect();
        page(ListPage {
            nav: "lists",
            id,
            title: r.title.clone(),
            place: place(&app, &r.jurisdiction),
            level: r.level.clone(),
            effective_from: r.effective_from.to_string(),
            status: status_label(&r.status),
            source,
            change_note: r.change_note.clone(),
            steps,
            items: item_lines(&v),
            own_standard: v.items.iter().any(|i| i.standard.is_some()),
            params,
            can_submit: r.status == "draft",
            can_publish: r.status == "under_review",
            csrf: csrf_value,
        })
    })
    .await?;
    Ok(token.apply(res))
}

#[derive(Deserialize)]
pub struct MoveForm {
    csrf: String,
}

/// Published and superseded versions are public; drafts and versions under review only to those
/// who edit or publish lists.
fn public_status(status: &str) -> bool {
    status == "published" || status == "superseded"
}

fn visible_version(
    app: &App,
    viewer: &crate::auth::Viewer,
    id: i64,
) -> std::result::Result<Option<store::VersionRow>, yanglao_store::StoreError> {
    Ok(store::version(&app.db, id)?.filter(|r| viewer.sees_drafts() || public_status(&r.status)))
}

/// A version of a list whose jurisdiction lies within the user's scope: a county officer moves
/// only the county's own list (a region-wide account any).
fn version_in_scope(app: &App, user: &Principal, id: i64) -> Result<()> {
    let v =
        yanglao_store::lists::version(&app.db, id)?.ok_or_else(|| AppError::NotFound("没有这个清单版本。".into()))?;
    let code = yanglao_domain::DivisionCode::parse(&v.jurisdiction)
        .map(|c| c.full())
        .unwrap_or(v.jurisdiction.clone());
    if user.scope.contains(&code) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "《{}》不属于您的管辖范围（{}）。",
            v.title, user.scope_label
        )))
    }
}

/// `POST /lists/{id}/submit` (form on the version's page): a draft goes to review.
pub async fn submit_form(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    axum::Form(f): axum::Form<MoveForm>,
) -> Result<Response> {
    crate::csrf::verify(&headers, &f.csrf)?;
    user.require(Permission::ListEdit)?;
    blocking(move || {
        version_in_scope(&app, &user, id)?;
        // Who acts is the signed-in user: maker-checker compares accounts, not typed names.
        let by = user.name.as_str();
        advance(&app.db, id, Status::UnderReview, by, chrono::Utc::now())
            .map_err(|e| AppError::BadRequest(e.to_string()))?;
        Ok(axum::response::Redirect::to(&format!("/lists/{id}")).into_response())
    })
    .await
}

#[derive(Template)]
#[template(path = "list_refused.html")]
struct RefusedPage {
    nav: &'static str,
    id: i64,
    title: String,
    as_of: String,
    uppers: Vec<String>,
    structural: Vec<String>,
    /// (item, persons, lines naming persons)
    items: Vec<(String, usize, Vec<String>)>,
}

/// Persons shown per item on the refusal page (all are counted; the JSON API lists all).
const SHOWN_PER_ITEM: usize = 200;

/// `POST /lists/{id}/publish` (form on the version's page): published if the publisher is not
/// the author and nobody would get less than under the lists above; otherwise a page naming the
/// items and persons, and the version stays under review.
pub async fn publish_form(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    axum::Form(f): axum::Form<MoveForm>,
) -> Result<Response> {
    crate::csrf::verify(&headers, &f.csrf)?;
    user.require(Permission::ListPublish)?;
    blocking(move || {
        version_in_scope(&app, &user, id)?;
        let by = user.name.as_str();
        let today = (app.today)();
        match dominance::publish(&app.db, &app.catalogue, id, by, chrono::Utc::now(), today, None) {
            Ok(_) => Ok(axum::response::Redirect::to(&format!("/lists/{id}")).into_response()),
            Err(PublishError::Refused(c)) => {
                let sim = &c.simulation;
                let items = sim
                    .by_item()
                    .into_iter()
                    .map(|(code, name, n)| {
                        let lines = sim
                            .shortfalls
                            .iter()
                            .filter(|s| s.item_code == code)
                            .take(SHOWN_PER_ITEM)
                            .map(|s| s.to_string())
                            .collect();
                        (name, n, lines)
                    })
                    .collect();
                let mut res = page(RefusedPage {
                    nav: "lists",
                    id,
                    title: sim.lower_title.clone(),
                    as_of: sim.as_of.to_string(),
                    uppers: sim.uppers.clone(),
                    structural: c.structural.iter().map(|(u, f)| format!("对照《{u}》：{f}")).collect(),
                    items,
                })?;
                *res.status_mut() = StatusCode::CONFLICT;
                Ok(res)
            }
            Err(PublishError::Run(e)) => Err(AppError::Internal(e.to_string())),
            Err(e) => Err(AppError::BadRequest(e.to_string())),
        }
    })
    .await
}

pub async fn export(State(app): State<Arc<App>>, viewer: crate::auth::Viewer, Path(id): Path<i64>) -> Result<Response> {
    blocking(move || {
        let r = visible_version(&app, &viewer, id)?.ok_or_else(|| AppError::NotFound("没有这个清单版本。".into()))?;
        let v = parsed(&r)?;
        let bytes = yanglao_lists::xlsx::export(&v).map_err(|e| AppError::Internal(e.to_string()))?;
        let name = format!("{}（{}）.xlsx", r.title, r.effective_from);
        let disposition = format!(
            "attachment; filename=\"list-{id}.xlsx\"; filename*=UTF-8''{}",
            crate::url_encode(&name)
        );
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
                ),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

#[derive(Deserialize)]
pub struct DiffQuery {
    a: i64,
    b: i64,
}

#[derive(Template)]
#[template(path = "list_diff.html")]
struct DiffPage {
    nav: &'static str,
    a_id: i64,
    a_title: String,
    a_date: String,
    b_id: i64,
    b_title: String,
    b_date: String,
    changes: Vec<(String, String, String, String)>,
}

pub async fn list_diff(
    State(app): State<Arc<App>>,
    viewer: crate::auth::Viewer,
    Query(q): Query<DiffQuery>,
) -> Result<Response> {
    blocking(move || {
        let ra = visible_version(&app, &viewer, q.a)?.ok_or_else(|| AppError::NotFound("没有版本甲。".into()))?;
        let rb = visible_version(&app, &viewer, q.b)?.ok_or_else(|| AppError::NotFound("没有版本乙。".into()))?;
        let (va, vb) = (parsed(&ra)?, parsed(&rb)?);
        let changes = diff(&va, &vb)
            .into_iter()
            .map(|c| match c {
                Change::Added { name, .. } => (name, "新增项目".to_string(), String::new(), "有".to_string()),
                Change::Removed { name, .. } => (name, "删除项目".to_string(), "有".to_string(), String::new()),
                Change::Changed {
                    name,
                    field,
                    before,
                    after,
                    ..
                } => (name, format!("{field}变化"), before, after),
                Change::Param { name, before, after } => (format!("【{name}】"), "参数变化".to_string(), before, after),
            })
            .collect();
        page(DiffPage {
            nav: "lists",
            a_id: ra.id,
            a_title: ra.title.clone(),
            a_date: ra.effective_from.to_string(),
            b_id: rb.id,
            b_title: rb.title.clone(),
            b_date: rb.effective_from.to_string(),
            changes,
        })
    })
    .await
}

#[derive(serde::Serialize)]
struct ApiVersion {
    id: i64,
    title: String,
    jurisdiction: String,
    level: String,
    effective_from: String,
    status: String,
    content_sha256: String,
}

fn api_version(r: &store::VersionRow) -> ApiVersion {
    ApiVersion {
        id: r.id,
        title: r.title.clone(),
        jurisdiction: r.jurisdiction.clone(),
        level: r.level.clone(),
        effective_from: r.effective_from.to_string(),
        status: r.status.clone(),
        content_sha256: r.content_sha256.clone(),
    }
}

/// `GET /api/lists`: every list version (public data).
pub async fn api_lists(State(app): State<Arc<App>>, viewer: crate::auth::Viewer) -> Result<Response> {
    blocking(move || {
        let v: Vec<ApiVersion> = store::versions(&app.db)?
            .into_iter()
            .filter(|r| viewer.sees_drafts() || public_status(&r.status))
            .collect::<Vec<_>>()
            .iter()
            .map(api_version)
            .collect();
        Ok(axum::Json(v).into_response())
    })
    .await
}

#[derive(serde::Serialize)]
struct ApiVersionFull {
    #[serde(flatten)]
    head: ApiVersion,
    steps: Vec<store::StepRow>,
    list: ListVersion,
}

/// `GET /api/lists/{id}`: one version with its items, rules, parameters and life cycle.
pub async fn api_list(
    State(app): State<Arc<App>>,
    viewer: crate::auth::Viewer,
    Path(id): Path<i64>,
) -> Result<Response> {
    blocking(move || {
        let r = visible_version(&app, &viewer, id)?.ok_or_else(|| AppError::NotFound("没有这个清单版本。".into()))?;
        let list = parsed(&r)?;
        let steps = store::steps(&app.db, id)?;
        Ok(axum::Json(ApiVersionFull {
            head: api_version(&r),
            steps,
            list,
        })
        .into_response())
    })
    .await
}

// ---- JSON API for checking, diffing, importing and the life cycle (issue #3 §7) ----
//
// State-changing calls take JSON (submit, publish) or an .xlsx body with its own content type
// (import): neither is a type a cross-site form or a no-cors request can send, so a browser
// cannot be made to call them from another site. Who acts (`by`) comes from the request body
// until the console has accounts (issue #6).

fn api_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

#[derive(Deserialize)]
pub struct CheckQuery {
    /// Also check against the lists in force in the database on this date (structurally and by
    /// simulation over the registry).
    as_of: Option<NaiveDate>,
}

/// `POST /api/lists/check` (body: a list version as TOML): every error with item, field, line,
/// column and what was expected; with `?as_of=D`, the check against the lists above on D too.
pub async fn api_check(State(app): State<Arc<App>>, Query(q): Query<CheckQuery>, body: String) -> Result<Response> {
    blocking(move || {
        let v = match load(&body) {
            Ok(v) => v,
            Err(errors) => {
                let errors: Vec<_> = errors.iter().map(|e| e.report()).collect();
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(serde_json::json!({ "ok": false, "errors": errors })),
                )
                    .into_response());
            }
        };
        let Some(as_of) = q.as_of else {
            return Ok(Json(serde_json::json!({
                "ok": true,
                "errors": [],
                "title": v.title,
                "items": v.items.len(),
            }))
            .into_response());
        };
        let applied = AppliedVersion {
            row: draft_row(&v, &body),
            list: v,
        };
        let c = dominance::check(&app.db, &app.catalogue, &applied, as_of)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let status = if c.passed() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Ok((
            status,
            Json(serde_json::json!({ "ok": c.passed(), "errors": [], "dominance": c })),
        )
            .into_response())
    })
    .await
}

fn draft_row(v: &ListVersion, text: &str) -> store::VersionRow {
    store::VersionRow {
        id: 0,
        jurisdiction: v.jurisdiction.short(),
        level: v.level.label().to_string(),
        title: v.title.clone(),
        effective_from: v.effective_from,
        change_note: v.change_note.clone(),
        source_title: v.source.title.clone(),
        status: "draft".into(),
        author: String::new(),
        content: text.to_string(),
        content_sha256: String::new(),
        created_at: chrono::Utc::now(),
    }
}

/// `GET /api/lists/diff?a=&b=`: the changes from version a to version b, item by item.
pub async fn api_diff(
    State(app): State<Arc<App>>,
    viewer: crate::auth::Viewer,
    Query(q): Query<DiffQuery>,
) -> Result<Response> {
    blocking(move || {
        let ra = visible_version(&app, &viewer, q.a)?;
        let rb = visible_version(&app, &viewer, q.b)?;
        let (Some(ra), Some(rb)) = (ra, rb) else {
            return Ok(api_error(StatusCode::NOT_FOUND, "没有这个清单版本"));
        };
        let (va, vb) = (parsed(&ra)?, parsed(&rb)?);
        Ok(Json(serde_json::json!({
            "a": api_version(&ra),
            "b": api_version(&rb),
            "changes": diff(&va, &vb),
        }))
        .into_response())
    })
    .await
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `POST /api/lists/import` (body: the .xlsx, Content-Type
/// application/vnd.openxmlformats-officedocument.spreadsheetml.sheet): a draft, or every bad
/// cell with sheet, row and column.
pub async fn api_import(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response> {
    let typed = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim() == XLSX));
    if !typed {
        return Ok(api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("请以 Content-Type: {XLSX} 上传 .xlsx 文件"),
        ));
    }
    user.require(Permission::ListEdit)?;
    // The author is the caller (a signed-in user or an API token), whatever `author=` says.
    let author = user.name.clone();
    blocking(move || {
        let v = match yanglao_lists::xlsx::import(&body) {
            Ok(v) => v,
            Err(errors) => {
                let errors: Vec<_> = errors.iter().map(|e| e.report()).collect();
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(serde_json::json!({ "ok": false, "errors": errors })),
                )
                    .into_response());
            }
        };
        if !user.scope.contains(&v.jurisdiction.full()) {
            return Ok(api_error(
                StatusCode::FORBIDDEN,
                format!("《{}》不属于您的管辖范围（{}）", v.title, user.scope_label),
            ));
        }
        let text = yanglao_lists::xlsx::to_toml(&v).map_err(|e| AppError::Internal(e.to_string()))?;
        match save_draft(&app.db, &text, &author, chrono::Utc::now()) {
            Ok(id) => Ok((
                StatusCode::CREATED,
                Json(serde_json::json!({ "ok": true, "id": id, "title": v.title, "items": v.items.len() })),
            )
                .into_response()),
            Err(e) => Ok(service_error(e)),
        }
    })
    .await
}

fn service_error(e: ServiceError) -> Response {
    match e {
        ServiceError::NotFound => api_error(StatusCode::NOT_FOUND, e.to_string()),
        ServiceError::Store(_) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        ServiceError::Invalid(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({
                "ok": false,
                "errors": errors.iter().map(|e| e.report()).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        ServiceError::Lifecycle(_) | ServiceError::PublishUnchecked => api_error(StatusCode::CONFLICT, e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct LifecycleBody {
    // Who acts is the signed-in user or the API token; a `by` field sent by older clients is
    // ignored like any unknown field.
    /// Publication only: registry date of the dominance check (default: the effective date, or
    /// today if later).
    #[serde(default)]
    as_of: Option<NaiveDate>,
}

/// `POST /api/lists/{id}/submit` (JSON `{"by": …}`): a draft goes to review.
pub async fn api_submit(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    Json(_b): Json<LifecycleBody>,
) -> Result<Response> {
    user.require(Permission::ListEdit)?;
    blocking(move || {
        version_in_scope(&app, &user, id)?;
        Ok(
            match advance(&app.db, id, Status::UnderReview, &user.name, chrono::Utc::now()) {
                Ok(()) => Json(serde_json::json!({ "ok": true, "id": id, "status": "under_review" })).into_response(),
                Err(e) => service_error(e),
            },
        )
    })
    .await
}

/// `POST /api/lists/{id}/publish` (JSON `{"by": …, "as_of": …}`): published if the publisher is
/// not the author and the version gives nobody less than the lists above it; otherwise 409 with
/// the structural findings and every (person, item) named.
pub async fn api_publish(
    State(app): State<Arc<App>>,
    user: Principal,
    Path(id): Path<i64>,
    Json(b): Json<LifecycleBody>,
) -> Result<Response> {
    user.require(Permission::ListPublish)?;
    blocking(move || {
        version_in_scope(&app, &user, id)?;
        let today = (app.today)();
        Ok(
            match dominance::publish(
                &app.db,
                &app.catalogue,
                id,
                &user.name,
                chrono::Utc::now(),
                today,
                b.as_of,
            ) {
                Ok(c) => Json(serde_json::json!({ "ok": true, "id": id, "status": "published", "dominance": c }))
                    .into_response(),
                Err(PublishError::Refused(c)) => (
                    StatusCode::CONFLICT,
                    Json(serde_json::json!({
                        "ok": false,
                        "error": "下级清单低于上级清单，不予发布",
                        "dominance": c,
                    })),
                )
                    .into_response(),
                Err(PublishError::Service(e)) => service_error(e),
                Err(PublishError::Run(e)) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            },
        )
    })
    .await
}
