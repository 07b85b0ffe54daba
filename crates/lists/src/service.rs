//! Saving, reviewing and publishing list versions in the database. Every move goes through
//! `model::Lifecycle` (maker-checker) and is recorded with who and when, in one transaction.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use yanglao_store::lists::{self as store, NewVersion, VersionRow};
use yanglao_store::{Db, StoreError};

use crate::content::{load, ListError, BUILTIN};
use crate::model::{Lifecycle, LifecycleError, ListVersion, Status};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("清单未通过检查：{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("；"))]
    Invalid(Vec<ListError>),
    #[error("{0}")]
    Lifecycle(#[from] LifecycleError),
    #[error("没有这个清单版本")]
    NotFound,
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
    #[error("发布须经与上级清单的对比检查（结构与登记数据测算）：请使用带检查的发布")]
    PublishUnchecked,
}

pub fn status_code(s: Status) -> &'static str {
    match s {
        Status::Draft => "draft",
        Status::UnderReview => "under_review",
        Status::Published => "published",
        Status::Superseded => "superseded",
    }
}

pub fn status_of(code: &str) -> Option<Status> {
    [
        Status::Draft,
        Status::UnderReview,
        Status::Published,
        Status::Superseded,
    ]
    .into_iter()
    .find(|s| status_code(*s) == code)
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `text` and saves it as a new draft. A draft with an error is refused whole, with every
/// error (item, field, position).
pub fn save_draft(db: &Db, text: &str, author: &str, now: DateTime<Utc>) -> Result<i64, ServiceError> {
    let v: ListVersion = load(text).map_err(ServiceError::Invalid)?;
    if v.is_national() {
        // National rows enter only from a named document (文号 and date): see `load_national`.
        crate::content::load_national(text).map_err(ServiceError::Invalid)?;
    }
    let new = NewVersion {
        jurisdiction: v.jurisdiction.short(),
        level: v.level.label().to_string(),
        title: v.title.clone(),
        effective_from: v.effective_from,
        change_note: v.change_note.clone(),
        source_title: v.source.title.clone(),
        author: author.to_string(),
        content: text.to_string(),
        content_sha256: sha256(text),
        now,
    };
    Ok(db.tx(|t| store::insert_draft(t, &new))?)
}

fn lifecycle(row: &VersionRow) -> Result<Lifecycle, ServiceError> {
    let status = status_of(&row.status).ok_or(ServiceError::NotFound)?;
    Ok(Lifecycle {
        author: row.author.clone(),
        status,
        steps: Vec::new(),
    })
}

/// One move of the life cycle other than publishing (submit for review, send back, supersede).
/// Publishing goes through [`publish`], which runs the dominance check first.
pub fn advance(db: &Db, id: i64, to: Status, by: &str, now: DateTime<Utc>) -> Result<(), ServiceError> {
    if to == Status::Published {
        return Err(ServiceError::PublishUnchecked);
    }
    let row = store::version(db, id)?.ok_or(ServiceError::NotFound)?;
    write_move(db, row, to, by, now)
}

/// Publishes version `id` if the life cycle allows it (under review, publisher not the author)
/// and then `gate` accepts it. The gate is the check against the lists above (structural, and
/// by simulation over the registry in `yanglao_entitlements::dominance`, which this crate cannot
/// call); the life cycle is checked first so that a refused move costs no simulation.
/// Publishing supersedes the jurisdiction's version published before.
pub fn publish<E: From<ServiceError>>(
    db: &Db,
    id: i64,
    by: &str,
    now: DateTime<Utc>,
    gate: impl FnOnce(&VersionRow, &ListVersion) -> Result<(), E>,
) -> Result<(), E> {
    let row = store::version(db, id)
        .map_err(ServiceError::from)?
        .ok_or(ServiceError::NotFound)?;
    lifecycle(&row)?
        .advance(Status::Published, by, now)
        .map_err(ServiceError::from)?;
    let v = load(&row.content).map_err(ServiceError::Invalid)?;
    gate(&row, &v)?;
    Ok(write_move(db, row, Status::Published, by, now)?)
}

fn write_move(db: &Db, row: VersionRow, to: Status, by: &str, now: DateTime<Utc>) -> Result<(), ServiceError> {
    let id = row.id;
    let mut l = lifecycle(&row)?;
    let from = l.status;
    l.advance(to, by, now)?;
    let earlier: Vec<VersionRow> = if to == Status::Published {
        store::versions(db)?
            .into_iter()
            .filter(|v| v.jurisdiction == row.jurisdiction && v.status == "published" && v.id != id)
            .filter(|v| v.effective_from <= row.effective_from)
            .collect()
    } else {
        Vec::new()
    };
    db.tx(|t| {
        store::set_status(t, id, status_code(from), status_code(to), by, now)?;
        for e in &earlier {
            store::set_status(t, e.id, "published", "superseded", by, now)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Loads the lists that ship with yanglao as published versions, once (by content hash):
/// entered by one account and published by another, like any list.
pub fn install_builtin(db: &Db, now: DateTime<Utc>) -> Result<usize, ServiceError> {
    let have: Vec<String> = store::versions(db)?.into_iter().map(|v| v.content_sha256).collect();
    let mut n = 0;
    for (_, text) in BUILTIN {
        if have.contains(&sha256(text)) {
            continue;
        }
        let id = save_draft(db, text, "yanglao（据种子文件录入）", now)?;
        advance(db, id, Status::UnderReview, "yanglao（据种子文件录入）", now)?;
        // The shipped lists are a region's and a prefecture's, with no list above them in
        // yanglao (the national rows are unconfirmed): nothing to check against.
        publish(db, id, "yanglao（逐项核对原文）", now, |_, _| {
            Ok::<(), ServiceError>(())
        })?;
        n += 1;
    }
    Ok(n)
}
