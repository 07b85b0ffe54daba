//! Public pages of the service lists: every version, one version as a table like the seeds'
//! tables, an Excel export in that layout, and a diff of any two versions.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yanglao_domain::DivisionCode;
use yanglao_lists::content::load;
use yanglao_lists::diff::{diff, Change};
use yanglao_lists::model::{ListVersion, Period};
use yanglao_lists::service::status_of;
use yanglao_store::lists as store;

use crate::{blocking, local_time, page, App, AppError, Result};

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

pub async fn lists(State(app): State<Arc<App>>) -> Result<Response> {
    blocking(move || {
        let mut versions = Vec::new();
        for r in store::versions(&app.db)? {
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
    params: Vec<(String, String, String)>,
}

fn item_lines(v: &ListVersion) -> Vec<ItemLine> {
    v.items
        .iter()
        .map(|i| ItemLine {
            seq: i.seq,
            name: i.name.clone(),
            target: i.target.clone(),
            content: i.content.clone(),
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

pub async fn list(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Result<Response> {
    blocking(move || {
        let r = store::version(&app.db, id)?.ok_or_else(|| AppError::NotFound("没有这个清单版本。".into()))?;
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
            params,
        })
    })
    .await
}

pub async fn export(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Result<Response> {
    blocking(move || {
        let r = store::version(&app.db, id)?.ok_or_else(|| AppError::NotFound("没有这个清单版本。".into()))?;
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

pub async fn list_diff(State(app): State<Arc<App>>, Query(q): Query<DiffQuery>) -> Result<Response> {
    blocking(move || {
        let ra = store::version(&app.db, q.a)?.ok_or_else(|| AppError::NotFound("没有版本甲。".into()))?;
        let rb = store::version(&app.db, q.b)?.ok_or_else(|| AppError::NotFound("没有版本乙。".into()))?;
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
pub async fn api_lists(State(app): State<Arc<App>>) -> Result<Response> {
    blocking(move || {
        let v: Vec<ApiVersion> = store::versions(&app.db)?.iter().map(api_version).collect();
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
pub async fn api_list(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Result<Response> {
    blocking(move || {
        let r = store::version(&app.db, id)?.ok_or_else(|| AppError::NotFound("没有这个清单版本。".into()))?;
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
