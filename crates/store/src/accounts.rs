//! Users, sessions, API tokens, and the division scope that limits what a user reads.
//! Secrets (session and API tokens) are stored as their SM3 digest only.

use chrono::{DateTime, Duration, Utc};

use crate::{Db, Result, Row, StoreError, Value};

/// Where a user may read people's data: code prefixes on a date (from `Catalogue::scope_on`).
/// An empty `include` means everywhere (a region-wide account).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Scope {
    pub fn everywhere() -> Scope {
        Scope::default()
    }

    pub fn is_everywhere(&self) -> bool {
        self.include.is_empty()
    }

    /// Whether a full division code (as stored in facts) lies in the scope.
    pub fn contains(&self, code: &str) -> bool {
        self.is_everywhere()
            || (self.include.iter().any(|p| code.starts_with(p.as_str()))
                && !self.exclude.iter().any(|p| code.starts_with(p.as_str())))
    }

    /// An SQL condition on the text column `col` (full division codes), pushing its parameters.
    /// Range bounds rather than `LIKE` so that indexes are used on both databases.
    pub fn condition(&self, col: &str, params: &mut Vec<Value>) -> String {
        if self.is_everywhere() {
            return "1 = 1".into();
        }
        let mut ors = Vec::new();
        for p in &self.include {
            params.push(Value::text(p.clone()));
            params.push(Value::text(format!("{p}:")));
            ors.push(format!(
                "({col} >= ${} AND {col} < ${})",
                params.len() - 1,
                params.len()
            ));
        }
        let mut cond = format!("({})", ors.join(" OR "));
        for p in &self.exclude {
            params.push(Value::text(p.clone()));
            params.push(Value::text(format!("{p}:")));
            cond.push_str(&format!(
                " AND NOT ({col} >= ${} AND {col} < ${})",
                params.len() - 1,
                params.len()
            ));
        }
        cond
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    /// Comma-separated role codes.
    pub roles: String,
    /// The division code of the user's scope (6 or 12 digits; "" for nowhere is not allowed).
    pub scope: String,
    pub active: bool,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

const USER_COLS: &str =
    "id, username, display_name, password_hash, roles, scope, active, failed_logins, locked_until, \
     created_by, created_at, password_changed_at";

fn user_from(r: &Row) -> Result<User> {
    Ok(User {
        id: r.int(0)?,
        username: r.text(1)?,
        display_name: r.text(2)?,
        password_hash: r.text(3)?,
        roles: r.text(4)?,
        scope: r.text(5)?,
        active: r.int(6)? != 0,
        failed_logins: r.int(7)?,
        locked_until: r.opt_time(8)?,
        created_by: r.text(9)?,
        created_at: r.time(10)?,
        password_changed_at: r.time(11)?,
    })
}

fn ts(t: DateTime<Utc>) -> Value {
    Value::Text(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub roles: &'a str,
    pub scope: &'a str,
    pub created_by: &'a str,
}

pub fn create_user(db: &Db, u: &NewUser, now: DateTime<Utc>) -> Result<i64> {
    db.tx(|t| {
        if t.query_one(
            "SELECT id FROM app_user WHERE username = $1",
            &[Value::text(u.username)],
        )?
        .is_some()
        {
            return Err(StoreError::Aborted(format!("用户名“{}”已存在", u.username)));
        }
        let row = t
            .query_one(
                "INSERT INTO app_user (username, display_name, password_hash, roles, scope, created_by, created_at, \
                 password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
                &[
                    Value::text(u.username),
                    Value::text(u.display_name),
                    Value::text(u.password_hash),
                    Value::text(u.roles),
                    Value::text(u.scope),
                    Value::text(u.created_by),
                    ts(now),
                ],
            )?
            .ok_or_else(|| StoreError::Aborted("insert returned no id".into()))?;
        row.int(0)
    })
}

pub fn user_by_name(db: &Db, username: &str) -> Result<Option<User>> {
    db.query_one(
        &format!("SELECT {USER_COLS} FROM app_user WHERE username = $1"),
        &[Value::text(username)],
    )?
    .map(|r| user_from(&r))
    .transpose()
}

pub fn user(db: &Db, id: i64) -> Result<Option<User>> {
    db.query_one(
        &format!("SELECT {USER_COLS} FROM app_user WHERE id = $1"),
        &[Value::Int(id)],
    )?
    .map(|r| user_from(&r))
    .transpose()
}

pub fn users(db: &Db) -> Result<Vec<User>> {
    db.query(&format!("SELECT {USER_COLS} FROM app_user ORDER BY username"), &[])?
        .iter()
        .map(user_from)
        .collect()
}

/// Counts a failed login; after `max` failures in a row the account is locked for `lock_for`.
/// Returns the failure count and the lock's end if now locked.
pub fn record_failure(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
    max: i64,
    lock_for: Duration,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    db.tx(|t| {
        t.exec(
            "UPDATE app_user SET failed_logins = failed_logins + 1 WHERE id = $1",
            &[Value::Int(id)],
        )?;
        let n = t
            .query_one("SELECT failed_logins FROM app_user WHERE id = $1", &[Value::Int(id)])?
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0);
        if n >= max {
            let until = now + lock_for;
            t.exec(
                "UPDATE app_user SET locked_until = $2, failed_logins = 0 WHERE id = $1",
                &[Value::Int(id), ts(until)],
            )?;
            return Ok((n, Some(until)));
        }
        Ok((n, None))
    })
}

pub fn record_success(db: &Db, id: i64) -> Result<()> {
    db.exec(
        "UPDATE app_user SET failed_logins = 0, locked_until = NULL WHERE id = $1",
        &[Value::Int(id)],
    )?;
    Ok(())
}

pub fn set_password(db: &Db, id: i64, hash: &str, now: DateTime<Utc>) -> Result<()> {
    db.exec(
        "UPDATE app_user SET password_hash = $2, password_changed_at = $3, failed_logins = 0, locked_until = NULL \
         WHERE id = $1",
        &[Value::Int(id), Value::text(hash), ts(now)],
    )?;
    Ok(())
}

pub fn update_user(db: &Db, id: i64, display_name: &str, roles: &str, scope: &str, active: bool) -> Result<()> {
    db.exec(
        "UPDATE app_user SET display_name = $2, roles = $3, scope = $4, active = $5 WHERE id = $1",
        &[
            Value::Int(id),
            Value::text(display_name),
            Value::text(roles),
            Value::text(scope),
            Value::Int(i64::from(active)),
        ],
    )?;
    Ok(())
}

pub fn unlock(db: &Db, id: i64) -> Result<()> {
    record_success(db, id)
}

// ---- sessions ----

pub struct Session {
    pub user: User,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub ended: bool,
}

pub fn create_session(db: &Db, token_hash: &str, user_id: i64, now: DateTime<Utc>, ip: &str) -> Result<()> {
    db.exec(
        "INSERT INTO app_session (token_hash, user_id, created_at, last_seen, ip) VALUES ($1, $2, $3, $3, $4)",
        &[Value::text(token_hash), Value::Int(user_id), ts(now), Value::text(ip)],
    )?;
    Ok(())
}

pub fn session(db: &Db, token_hash: &str) -> Result<Option<Session>> {
    let cols = USER_COLS
        .split(", ")
        .map(|c| format!("u.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(r) = db.query_one(
        &format!(
            "SELECT {cols}, s.last_seen, s.ended_at, s.created_at FROM app_session s JOIN app_user u ON u.id = s.user_id \
             WHERE s.token_hash = $1"
        ),
        &[Value::text(token_hash)],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(Session {
        user: user_from(&r)?,
        last_seen: r.time(12)?,
        ended: r.opt_text(13)?.is_some(),
        created_at: r.time(14)?,
    }))
}

pub fn touch_session(db: &Db, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
    db.exec(
        "UPDATE app_session SET last_seen = $2 WHERE token_hash = $1",
        &[Value::text(token_hash), ts(now)],
    )?;
    Ok(())
}

pub fn end_session(db: &Db, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
    db.exec(
        "UPDATE app_session SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
        &[Value::text(token_hash), ts(now)],
    )?;
    Ok(())
}

/// Ends every open session of a user (password reset, account disabled).
pub fn end_user_sessions(db: &Db, user_id: i64, now: DateTime<Utc>) -> Result<u64> {
    db.exec(
        "UPDATE app_session SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL",
        &[Value::Int(user_id), ts(now)],
    )
}

// ---- API tokens ----

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub roles: String,
    pub scope: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked: bool,
}

fn token_from(r: &Row) -> Result<ApiToken> {
    Ok(ApiToken {
        id: r.int(0)?,
        name: r.text(1)?,
        roles: r.text(2)?,
        scope: r.text(3)?,
        created_by: r.text(4)?,
        created_at: r.time(5)?,
        revoked: r.opt_text(6)?.is_some(),
    })
}

pub fn create_token(
    db: &Db,
    token_hash: &str,
    name: &str,
    roles: &str,
    scope: &str,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    db.query_one(
        "INSERT INTO api_token (token_hash, name, roles, scope, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id",
        &[
            Value::text(token_hash),
            Value::text(name),
            Value::text(roles),
            Value::text(scope),
            Value::text(created_by),
            ts(now),
        ],
    )?
    .ok_or_else(|| StoreError::Aborted("insert returned no id".into()))?
    .int(0)
}

pub fn token_by_hash(db: &Db, token_hash: &str) -> Result<Option<ApiToken>> {
    db.query_one(
        "SELECT id, name, roles, scope, created_by, created_at, revoked_at FROM api_token WHERE token_hash = $1",
        &[Value::text(token_hash)],
    )?
    .map(|r| token_from(&r))
    .transpose()
}

pub fn tokens(db: &Db) -> Result<Vec<ApiToken>> {
    db.query(
        "SELECT id, name, roles, scope, created_by, created_at, revoked_at FROM api_token ORDER BY id",
        &[],
    )?
    .iter()
    .map(token_from)
    .collect()
}

pub fn revoke_token(db: &Db, id: i64, now: DateTime<Utc>) -> Result<bool> {
    Ok(db.exec(
        "UPDATE api_token SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[Value::Int(id), ts(now)],
    )? > 0)
}

/// Whether the person has ever had a 户籍 or 常住 fact within `scope`. Past facts count so
/// that the county a person left can still work its 不应享而享 item (迁出) for them.
pub fn person_in_scope(db: &Db, person_id: i64, scope: &Scope) -> Result<bool> {
    if scope.is_everywhere() {
        return Ok(true);
    }
    let mut params = vec![Value::Int(person_id)];
    // `|| ''`: use the person's own facts, not a scan of the division index (see registry::person_in).
    let cond = scope.condition("(value || '')", &mut params);
    Ok(db
        .query_one(
            &format!("SELECT 1 FROM fact WHERE person_id = $1 AND kind IN ('hukou', 'residence') AND {cond} LIMIT 1"),
            &params,
        )?
        .is_some())
}
