//! Signing in and out, one's own password, user and API-token administration, and the audit
//! log page with chain verification.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use serde::Deserialize;
use yanglao_security::roles::{parse_roles, roles_code};
use yanglao_security::{password, random_hex, token_digest, Role};
use yanglao_store::accounts::{self, NewUser};
use yanglao_store::audit::{self, AuditEntry, AuditFilter};

use crate::auth::{self, Principal, IDLE, LOCK_FOR, MAX_FAILURES};
use crate::csrf::{self, Csrf};
use crate::{blocking, local_time, page, url_encode, with_csrf, App, AppError, Result};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: &'static str,
    csrf: String,
    next: String,
    username: String,
    message: String,
    max_failures: i64,
    lock_minutes: i64,
    idle_minutes: i64,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

fn login_page(csrf: String, next: String, username: String, message: String) -> Result<Response> {
    page(LoginPage {
        nav: "",
        csrf,
        next,
        username,
        message,
        max_failures: MAX_FAILURES,
        lock_minutes: LOCK_FOR.num_minutes(),
        idle_minutes: IDLE.num_minutes(),
    })
}

/// Only a path on this site may be a target after login (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() < 512 => n.to_string(),
        _ => "/".into(),
    }
}

pub async fn login_form(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Result<Response> {
    let token = Csrf::for_page(&headers)?;
    let message = if q.expired.is_some() {
        "长时间未操作，已自动退出，请重新登录。".to_string()
    } else {
        String::new()
    };
    let res = login_page(
        token.token.clone(),
        safe_next(q.next.as_deref()),
        String::new(),
        message,
    )?;
    Ok(token.apply(res))
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(State(app): State<Arc<App>>, req: Request) -> Result<Response> {
    let ip = auth::client_ip(&req);
    let headers = req.headers().clone();
    let Form(f): Form<LoginForm> = Form::from_request(req, &())
        .await
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    csrf::verify(&headers, &f.csrf)?;
    let username: String = f.username.trim().chars().take(64).collect();
    let next = safe_next(f.next.as_deref());
    let token = Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let app2 = app.clone();
    let ip2 = ip.clone();
    let user_name = username.clone();
    let outcome = blocking(move || {
        let now = Utc::now();
        let user = accounts::user_by_name(&app2.db, &user_name)?;
        let Some(u) = user.filter(|u| u.active) else {
            // Same work and answer whether or not the name exists.
            let _ = password::verify(&f.password, dummy_hash());
            return Ok(Err(("auth.login_failed", "用户名或密码错误。".to_string())));
        };
        if let Some(until) = u.locked_until.filter(|t| *t > now) {
            return Ok(Err((
                "auth.locked",
                format!(
                    "账户因多次密码错误已锁定，请于 {} 后再试，或联系管理员解锁。",
                    local_time(until)
                ),
            )));
        }
        if !password::verify(&f.password, &u.password_hash) {
            let (_, locked) = accounts::record_failure(&app2.db, u.id, now, MAX_FAILURES, LOCK_FOR)?;
            return Ok(Err(match locked {
                Some(until) => (
                    "auth.locked",
                    format!("密码连续错误 {MAX_FAILURES} 次，账户已锁定至 {}。", local_time(until)),
                ),
                None => ("auth.login_failed", "用户名或密码错误。".to_string()),
            }));
        }
        accounts::record_success(&app2.db, u.id)?;
        let secret = random_hex(32).map_err(|e| AppError::Internal(e.to_string()))?;
        accounts::create_session(&app2.db, &token_digest(&secret), u.id, now, &ip2)?;
        Ok(Ok(secret))
    })
    .await?;
    match outcome {
        Ok(secret) => {
            app.audit
                .record_raw(AuditEntry {
                    at: Utc::now(),
                    actor: username,
                    ip,
                    action: "auth.login".into(),
                    target: String::new(),
                    detail: String::new(),
                })
                .await?;
            let mut res = Redirect::to(&next).into_response();
            res.headers_mut()
                .append(header::SET_COOKIE, auth::session_cookie(&secret)?);
            Ok(res)
        }
        Err((action, message)) => {
            app.audit
                .record_raw(AuditEntry {
                    at: Utc::now(),
                    actor: username.clone(),
                    ip,
                    action: action.into(),
                    target: String::new(),
                    detail: message.clone(),
                })
                .await?;
            let mut res = login_page(csrf_value, next, username, message)?;
            *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(token.apply(res))
        }
    }
}

use axum::extract::FromRequest;

/// An Argon2id hash of a random string, verified against when the user does not exist so
/// that the answer takes as long as for a real user.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| password::hash(&random_hex(16).unwrap_or_default()).unwrap_or_default())
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn logout(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    if let Some(hash) = user.session.clone() {
        blocking(move || Ok(accounts::end_session(&app.db, &hash, Utc::now())?)).await?;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, auth::clear_session_cookie());
    Ok(res)
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: &'static str,
    csrf: String,
    username: String,
    display: String,
    roles: String,
    scope: String,
    message: String,
    /// The user's own latest entries in the audit log (what they read and changed).
    own: Vec<AuditView>,
}

fn account_page(app: &App, user: &Principal, csrf: String, message: String) -> Result<Response> {
    let (rows, _) = audit::entries(
        &app.db,
        &AuditFilter {
            actor: Some(user.name.clone()),
            ..Default::default()
        },
        50,
        0,
    )?;
    page(AccountPage {
        nav: "account",
        csrf,
        username: user.name.clone(),
        display: user.display.clone(),
        roles: user.role_labels(),
        scope: user.scope_label.clone(),
        message,
        own: rows.into_iter().map(audit_view).collect(),
    })
}

pub async fn account(State(app): State<Arc<App>>, user: Principal, headers: HeaderMap) -> Result<Response> {
    with_csrf(&headers, move |v| account_page(&app, &user, v, String::new())).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    old: String,
    new: String,
}

pub async fn change_password(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    let token = Csrf::for_page(&headers)?;
    let csrf_value = token.token.clone();
    let u2 = user.clone();
    let app2 = app.clone();
    let message = blocking(move || {
        let u = accounts::user_by_name(&app.db, &u2.name)?
            .ok_or_else(|| AppError::Forbidden("API 令牌没有密码。".into()))?;
        if !password::verify(&f.old, &u.password_hash) {
            return Ok("当前密码不正确。".to_string());
        }
        if let Err(e) = password::check_policy(&f.new, &u.username) {
            return Ok(e.to_string());
        }
        let h = password::hash(&f.new).map_err(|e| AppError::Internal(e.to_string()))?;
        accounts::set_password(&app.db, u.id, &h, Utc::now())?;
        Ok("密码已修改。".to_string())
    })
    .await?;
    let res = blocking(move || account_page(&app2, &user, csrf_value, message)).await?;
    Ok(token.apply(res))
}

struct UserRow {
    id: i64,
    username: String,
    display: String,
    roles: String,
    role_codes: String,
    scope: String,
    scope_code: String,
    active: bool,
    locked: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    nav: &'static str,
    csrf: String,
    users: Vec<UserRow>,
    message: String,
    role_help: Vec<String>,
}

fn users_page(app: &App, csrf: String, message: String) -> Result<Response> {
    let now = Utc::now();
    let today = (app.today)();
    let users = accounts::users(&app.db)?
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            roles: parse_roles(&u.roles)
                .map(|r| r.iter().map(|r| r.label()).collect::<Vec<_>>().join("、"))
                .unwrap_or_else(|e| e),
            role_codes: u.roles.clone(),
            scope: auth::resolve_scope(&app.catalogue, &u.scope, today)
                .map(|s| s.1)
                .unwrap_or_else(|e| e),
            scope_code: u.scope.clone(),
            active: u.active,
            locked: u.locked_until.is_some_and(|t| t > now),
            username: u.username,
            display: u.display_name,
        })
        .collect();
    page(UsersPage {
        nav: "admin",
        csrf,
        users,
        message,
        role_help: Role::ALL
            .iter()
            .map(|r| format!("{} {}", r.code(), r.label()))
            .collect(),
    })
}

pub async fn users(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response> {
    with_csrf(&headers, move |v| users_page(&app, v, String::new())).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf: String,
    username: String,
    display: String,
    password: String,
    roles: String,
    scope: String,
}

fn valid_username(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

pub async fn create_user(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Form(f): Form<NewUserForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    with_csrf(&headers, move |v| {
        let msg = match create_user_checked(&app, &user, &f) {
            Ok(()) => format!("已创建用户 {}。", f.username.trim()),
            Err(m) => m,
        };
        users_page(&app, v, msg)
    })
    .await
}

fn create_user_checked(app: &App, by: &Principal, f: &NewUserForm) -> std::result::Result<(), String> {
    let username = f.username.trim();
    if !valid_username(username) {
        return Err("用户名只能用字母、数字和 _ . -，最长 64 位。".into());
    }
    let roles = parse_roles(&f.roles)?;
    auth::resolve_scope(&app.catalogue, &f.scope, (app.today)())?;
    password::check_policy(&f.password, username).map_err(|e| e.to_string())?;
    let hash = password::hash(&f.password).map_err(|e| e.to_string())?;
    accounts::create_user(
        &app.db,
        &NewUser {
            username,
            display_name: f.display.trim(),
            password_hash: &hash,
            roles: &roles_code(&roles),
            scope: f.scope.trim(),
            created_by: &by.name,
        },
        Utc::now(),
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

#[derive(Deserialize)]
pub struct EditUserForm {
    csrf: String,
    roles: String,
    scope: String,
    active: Option<String>,
    password: Option<String>,
}

pub async fn edit_user(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<EditUserForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    with_csrf(&headers, move |v| {
        let u = accounts::user(&app.db, id)?.ok_or_else(|| AppError::NotFound("没有这个用户。".into()))?;
        let msg = (|| -> std::result::Result<String, String> {
            let roles = parse_roles(&f.roles)?;
            auth::resolve_scope(&app.catalogue, &f.scope, (app.today)())?;
            let active = f.active.is_some();
            let now = Utc::now();
            accounts::update_user(
                &app.db,
                id,
                &u.display_name,
                &roles_code(&roles),
                f.scope.trim(),
                active,
            )
            .map_err(|e| e.to_string())?;
            let mut msg = format!("已保存 {}", u.username);
            if let Some(p) = f.password.as_deref().filter(|p| !p.is_empty()) {
                password::check_policy(p, &u.username).map_err(|e| e.to_string())?;
                let h = password::hash(p).map_err(|e| e.to_string())?;
                accounts::set_password(&app.db, id, &h, now).map_err(|e| e.to_string())?;
                msg.push_str("，密码已重置并解锁");
            }
            // Changed rights or a disabled account take effect now, not at the next login.
            accounts::end_user_sessions(&app.db, id, now).map_err(|e| e.to_string())?;
            msg.push('。');
            Ok(msg)
        })()
        .unwrap_or_else(|e| e);
        users_page(&app, v, msg)
    })
    .await
}

struct TokenRow {
    id: i64,
    name: String,
    roles: String,
    scope: String,
    created: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    nav: &'static str,
    csrf: String,
    tokens: Vec<TokenRow>,
    new_token: String,
    message: String,
}

fn tokens_page(app: &App, csrf: String, new_token: String, message: String) -> Result<Response> {
    let tokens = accounts::tokens(&app.db)?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            roles: t.roles,
            scope: t.scope,
            created: format!("{} {}", local_time(t.created_at), t.created_by),
            revoked: t.revoked,
        })
        .collect();
    page(TokensPage {
        nav: "admin",
        csrf,
        tokens,
        new_token,
        message,
    })
}

pub async fn tokens(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response> {
    with_csrf(&headers, move |v| tokens_page(&app, v, String::new(), String::new())).await
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    csrf: String,
    name: String,
    roles: String,
    scope: String,
}

pub async fn create_token(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Form(f): Form<NewTokenForm>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    with_csrf(&headers, move |v| {
        let made = (|| -> std::result::Result<String, String> {
            let name = f.name.trim();
            if name.is_empty() || name.chars().count() > 64 {
                return Err("名称不能为空，最长 64 字。".into());
            }
            let roles = parse_roles(&f.roles)?;
            if roles.contains(&Role::Admin) {
                return Err("API 令牌不能有系统管理员角色。".into());
            }
            auth::resolve_scope(&app.catalogue, &f.scope, (app.today)())?;
            let secret = random_hex(32).map_err(|e| e.to_string())?;
            accounts::create_token(
                &app.db,
                &token_digest(&secret),
                name,
                &roles_code(&roles),
                f.scope.trim(),
                &user.name,
                Utc::now(),
            )
            .map_err(|e| e.to_string())?;
            Ok(secret)
        })();
        match made {
            Ok(secret) => tokens_page(&app, v, secret, String::new()),
            Err(m) => tokens_page(&app, v, String::new(), m),
        }
    })
    .await
}

pub async fn revoke_token(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response> {
    csrf::verify(&headers, &f.csrf)?;
    blocking(move || Ok(accounts::revoke_token(&app.db, id, Utc::now())?)).await?;
    Ok(Redirect::to("/admin/tokens").into_response())
}

fn audit_view(r: audit::AuditRow) -> AuditView {
    AuditView {
        seq: r.seq,
        at: chrono::DateTime::parse_from_rfc3339(&r.at)
            .map(|t| local_time(t.with_timezone(&Utc)))
            .unwrap_or(r.at),
        actor: r.actor,
        ip: r.ip,
        action: r.action,
        target: r.target,
        detail: r.detail,
    }
}

struct AuditView {
    seq: i64,
    at: String,
    actor: String,
    ip: String,
    action: String,
    target: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: &'static str,
    actor: String,
    target: String,
    action: String,
    rows: Vec<AuditView>,
    total: i64,
    page: i64,
    more: bool,
    prev_url: String,
    next_url: String,
    verified: bool,
    checked: i64,
    problems: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    actor: Option<String>,
    target: Option<String>,
    action: Option<String>,
    page: Option<i64>,
}

fn audit_page(app: &App, q: AuditQuery, verification: Option<audit::Verification>) -> Result<Response> {
    let per = 100;
    let page_no = q.page.unwrap_or(1).max(1);
    let clip = |s: Option<String>| {
        s.map(|s| s.trim().chars().take(80).collect::<String>())
            .unwrap_or_default()
    };
    let (actor, target, action) = (clip(q.actor), clip(q.target), clip(q.action));
    let filter = AuditFilter {
        actor: Some(actor.clone()),
        target: Some(target.clone()),
        action_prefix: Some(action.clone()),
    };
    let (rows, total) = audit::entries(&app.db, &filter, per, (page_no - 1) * per)?;
    let base = format!(
        "/audit?actor={}&target={}&action={}",
        url_encode(&actor),
        url_encode(&target),
        url_encode(&action)
    );
    let (verified, checked, problems) = match verification {
        Some(v) => (true, v.entries, v.problems),
        None => (false, 0, vec![]),
    };
    page(AuditPage {
        nav: "audit",
        rows: rows.into_iter().map(audit_view).collect(),
        more: page_no * per < total,
        total,
        page: page_no,
        prev_url: format!("{base}&page={}", page_no - 1),
        next_url: format!("{base}&page={}", page_no + 1),
        actor,
        target,
        action,
        verified,
        checked,
        problems,
    })
}

pub async fn audit_log(State(app): State<Arc<App>>, Query(q): Query<AuditQuery>) -> Result<Response> {
    blocking(move || audit_page(&app, q, None)).await
}

pub async fn audit_verify(State(app): State<Arc<App>>) -> Result<Response> {
    blocking(move || {
        let v = audit::verify(&app.db)?;
        audit_page(&app, AuditQuery::default(), Some(v))
    })
    .await
}
