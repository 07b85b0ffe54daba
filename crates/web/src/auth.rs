//! Who is asking: sessions for people, bearer tokens for other departments' systems, the
//! permission each route needs, and the audit trail of reads and changes.
//!
//! Roles decide what a principal may do (checked here, per route, before any handler runs);
//! the division scope decides whose data they reach and is applied by the store in the queries
//! themselves (`registry::person_in`, `PersonQuery::visible`, `WorkQuery::visible`), so a page,
//! an API call, a search and an export all see the same people.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use yanglao_domain::{Catalogue, DivisionCode};
use yanglao_security::roles::{allows, parse_roles};
use yanglao_security::{token_digest, Permission, Role};
use yanglao_store::accounts::{self, Scope};
use yanglao_store::audit::{self, AuditEntry};
use yanglao_store::Db;

use crate::{App, AppError};

pub const SESSION_COOKIE: &str = "yl_session";
/// A session unused this long ends (idle timeout).
pub const IDLE: Duration = Duration::minutes(30);
/// A session ends this long after login whatever happens.
pub const ABSOLUTE: Duration = Duration::hours(12);
/// Failed logins in a row before the account locks, and for how long.
pub const MAX_FAILURES: i64 = 5;
pub const LOCK_FOR: Duration = Duration::minutes(15);

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The user name, or `token:<name>` for an API token.
    pub name: String,
    pub display: String,
    pub roles: Vec<Role>,
    /// The scope's division code as configured ("*" for everywhere).
    pub scope_code: String,
    pub scope_label: String,
    pub scope: Scope,
    pub ip: String,
    pub session: Option<String>,
}

impl Principal {
    pub fn can(&self, p: Permission) -> bool {
        allows(&self.roles, p)
    }

    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden("您的角色没有这项权限。".into()))
        }
    }

    pub fn role_labels(&self) -> String {
        self.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join("、")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| AppError::Forbidden("请先登录。".into()))
    }
}

/// A scope code as stored with a user or token: "*" or a division code, resolved on `today`
/// into code prefixes (following moves such as the Hotan townships of 2024-12-27).
pub fn resolve_scope(cat: &Catalogue, code: &str, today: chrono::NaiveDate) -> Result<(Scope, String), String> {
    if code.trim() == "*" {
        return Ok((Scope::everywhere(), "全部地区".into()));
    }
    let c = DivisionCode::parse(code.trim()).map_err(|e| format!("管辖范围“{code}”无效：{e}"))?;
    // Villages are not in the built-in catalogue: a code counts if it or an ancestor is.
    let mut known = Some(c);
    while let Some(k) = known {
        if cat.get(k).is_some() {
            break;
        }
        known = k.parent();
    }
    if known.is_none() {
        return Err(format!("管辖范围“{code}”不是已登记的行政区划"));
    }
    let s = cat.scope_on(c, today);
    Ok((
        Scope {
            include: s.include,
            exclude: s.exclude,
        },
        cat.path_name(c, today),
    ))
}

/// Which permissions (any of) a request needs; `None`: any signed-in principal.
fn required(method: &Method, path: &str) -> Option<&'static [Permission]> {
    use Permission as P;
    let post = method != Method::GET && method != Method::HEAD;
    let starts = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    if starts("/admin") {
        return Some(&[P::UserAdmin]);
    }
    if starts("/audit") {
        return Some(&[P::AuditRead]);
    }
    if starts("/persons") || starts("/api/persons") {
        if path.ends_with("/contact") && post {
            return Some(&[P::ContactEdit]);
        }
        if path.ends_with("/reveal") {
            return Some(&[P::PersonFullId]);
        }
        return Some(&[P::PersonRead]);
    }
    if starts("/imports") {
        return Some(&[P::ImportData]);
    }
    if starts("/work") || starts("/api/work") {
        return Some(if post { &[P::WorkHandle] } else { &[P::WorkRead] });
    }
    if starts("/simulate") || starts("/api/simulate") {
        return Some(&[P::Simulate]);
    }
    if starts("/runs") {
        return Some(&[P::Simulate, P::FinanceRead]);
    }
    if starts("/assessments/records") || starts("/assessments/ltc/person") {
        return Some(&[P::AssessmentEnter, P::AssessmentManage]);
    }
    // Aggregates and registers without older people's data: statistics readers too.
    if !post && (starts("/assessments/stats") || starts("/assessments/agencies") || starts("/assessments/ltc/tables")) {
        return Some(&[P::AssessmentManage, P::AssessmentEnter, P::StatsRead]);
    }
    if starts("/assessments") {
        return Some(if post {
            &[P::AssessmentManage]
        } else {
            &[P::AssessmentManage, P::AssessmentEnter]
        });
    }
    if !post
        && (path == "/visits"
            || starts("/visits/rate.xlsx")
            || starts("/api/visits/rate")
            || starts("/visits/visitors")
            || starts("/visits/points"))
    {
        return Some(&[P::VisitRecord, P::VisitManage, P::StatsRead]);
    }
    // Lists and records of older people: those who visit, manage visits, or read people.
    if starts("/visits") || starts("/api/visits") {
        return Some(if post {
            &[P::VisitRecord, P::VisitManage]
        } else {
            &[P::VisitRecord, P::VisitManage, P::PersonRead]
        });
    }
    if (starts("/lists") || starts("/api/lists")) && post {
        return Some(&[P::ListEdit, P::ListPublish]);
    }
    None
}

/// Pages anyone may read without signing in: the published lists (they are public by nature),
/// the login page, static files, the API description and the health check.
fn public(method: &Method, path: &str) -> bool {
    let get = method == Method::GET || method == Method::HEAD;
    path == "/login"
        || path == "/healthz"
        || path.starts_with("/static/")
        || path == "/display"
        || (get
            && (path == "/lists"
                || path.starts_with("/lists/")
                || path == "/api/lists"
                || path.starts_with("/api/lists/")
                || path == "/api/openapi.json"))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn client_ip(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".into())
}

fn principal_from_user(
    app: &App,
    u: &accounts::User,
    ip: &str,
    session: Option<String>,
) -> Result<Principal, AppError> {
    let roles = parse_roles(&u.roles).map_err(AppError::Internal)?;
    let (scope, scope_label) = resolve_scope(&app.catalogue, &u.scope, (app.today)()).map_err(AppError::Internal)?;
    Ok(Principal {
        name: u.username.clone(),
        display: u.display_name.clone(),
        roles,
        scope_code: u.scope.clone(),
        scope_label,
        scope,
        ip: ip.to_string(),
        session,
    })
}

enum Auth {
    Ok(Box<Principal>),
    None,
    Expired,
}

fn authenticate_blocking(app: &App, headers: &HeaderMap, ip: &str, now: DateTime<Utc>) -> Result<Auth, AppError> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let Some(t) = accounts::token_by_hash(&app.db, &token_digest(bearer.trim()))? else {
            return Ok(Auth::None);
        };
        if t.revoked {
            return Ok(Auth::None);
        }
        let roles = parse_roles(&t.roles).map_err(AppError::Internal)?;
        let (scope, scope_label) =
            resolve_scope(&app.catalogue, &t.scope, (app.today)()).map_err(AppError::Internal)?;
        return Ok(Auth::Ok(Box::new(Principal {
            name: format!("token:{}", t.name),
            display: t.name,
            roles,
            scope_code: t.scope,
            scope_label,
            scope,
            ip: ip.to_string(),
            session: None,
        })));
    }
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| t.len() == 64) else {
        return Ok(Auth::None);
    };
    let hash = token_digest(&token);
    let Some(s) = accounts::session(&app.db, &hash)? else {
        return Ok(Auth::None);
    };
    if s.ended || !s.user.active {
        return Ok(Auth::None);
    }
    if now - s.last_seen > IDLE || now - s.created_at > ABSOLUTE {
        accounts::end_session(&app.db, &hash, now)?;
        return Ok(Auth::Expired);
    }
    // Coarse "last seen": a write per minute per session, not per request.
    if now - s.last_seen > Duration::seconds(60) {
        accounts::touch_session(&app.db, &hash, now)?;
    }
    principal_from_user(app, &s.user, ip, Some(hash)).map(|p| Auth::Ok(Box::new(p)))
}

/// Signs the request's principal in (or refuses), checks the route's permission, and audits
/// every change (any method but GET/HEAD) after it ran.
pub async fn gate(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let ip = client_ip(&req);
    let headers = req.headers().clone();
    let app2 = app.clone();
    let ip2 = ip.clone();
    let auth = crate::blocking(move || authenticate_blocking(&app2, &headers, &ip2, Utc::now())).await;
    let principal = match auth {
        Ok(Auth::Ok(p)) => Some(*p),
        Ok(Auth::None) => None,
        Ok(Auth::Expired) => {
            if !public(&method, &path) {
                return login_redirect(&path, true);
            }
            None
        }
        Err(e) => return e.into_response(),
    };
    let api = path.starts_with("/api/");
    let Some(p) = principal else {
        if public(&method, &path) {
            return next.run(req).await;
        }
        if api {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(serde_json::json!({"error": "需要登录或 API 令牌"})),
            )
                .into_response();
        }
        return login_redirect(&path, false);
    };
    if let Some(any) = required(&method, &path) {
        if !any.iter().any(|perm| p.can(*perm)) {
            let detail = format!("{method} {path}");
            let _ = app.audit.record(&p, "access.denied", &path, &detail).await;
            return AppError::Forbidden("您的角色没有访问此页面的权限。".into()).into_response();
        }
    }
    req.extensions_mut().insert(p.clone());
    let req_headers = req.headers().clone();
    let res = next.run(req).await;
    let res = with_user_bar(res, &p, &req_headers).await;
    if method != Method::GET && method != Method::HEAD && path != "/login" {
        let detail = format!("{method} {path} → {}", res.status().as_u16());
        if let Err(e) = app.audit.record(&p, "change", &path, &detail).await {
            return e.into_response();
        }
    }
    res
}

fn login_redirect(path: &str, expired: bool) -> Response {
    let next = crate::url_encode(path);
    let flag = if expired { "&expired=1" } else { "" };
    Redirect::to(&format!("/login?next={next}{flag}")).into_response()
}

/// The audit log writer: entries from all requests are appended in batches by one thread (one
/// transaction per batch), and each request waits until its entry is committed.
/// An entry and where to say it was committed (or why not).
type AuditJob = (AuditEntry, tokio::sync::oneshot::Sender<Result<(), String>>);

pub struct AuditSink {
    tx: std::sync::Mutex<mpsc::Sender<AuditJob>>,
}

impl AuditSink {
    pub fn start(db: Db) -> AuditSink {
        let (tx, rx) = mpsc::channel::<AuditJob>();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < 1024 {
                        match rx.try_recv() {
                            Ok(x) => batch.push(x),
                            Err(_) => break,
                        }
                    }
                    let entries: Vec<AuditEntry> = batch.iter().map(|(e, _)| e.clone()).collect();
                    let r = audit::append(&db, &entries).map(|_| ()).map_err(|e| e.to_string());
                    for (_, done) in batch {
                        let _ = done.send(r.clone());
                    }
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the audit writer thread: {e}"));
        AuditSink {
            tx: std::sync::Mutex::new(tx),
        }
    }

    fn send(&self, e: AuditEntry) -> Result<tokio::sync::oneshot::Receiver<Result<(), String>>, AppError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.tx
            .lock()
            .map_err(|_| AppError::Internal("audit sink poisoned".into()))?
            .send((e, done))
            .map_err(|_| AppError::Internal("audit writer stopped".into()))?;
        Ok(wait)
    }

    fn entry(p: &Principal, action: &str, target: &str, detail: &str) -> AuditEntry {
        AuditEntry {
            at: Utc::now(),
            actor: p.name.clone(),
            ip: p.ip.clone(),
            action: action.to_string(),
            target: target.to_string(),
            detail: detail.to_string(),
        }
    }

    /// Records and waits for the commit (from async code).
    pub async fn record(&self, p: &Principal, action: &str, target: &str, detail: &str) -> Result<(), AppError> {
        self.record_raw(Self::entry(p, action, target, detail)).await
    }

    pub async fn record_raw(&self, e: AuditEntry) -> Result<(), AppError> {
        let wait = self.send(e)?;
        wait.await
            .map_err(|_| AppError::Internal("audit writer stopped".into()))?
            .map_err(AppError::Internal)
    }

    /// Records and waits for the commit (from a blocking thread). A read that cannot be
    /// audited is not served.
    pub fn record_blocking(&self, p: &Principal, action: &str, target: &str, detail: &str) -> Result<(), AppError> {
        let wait = self.send(Self::entry(p, action, target, detail))?;
        wait.blocking_recv()
            .map_err(|_| AppError::Internal("audit writer stopped".into()))?
            .map_err(AppError::Internal)
    }
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str) -> Result<HeaderValue, AppError> {
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"))
        .map_err(|e| AppError::Internal(e.to_string()))
}

pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("yl_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The side navigation with only the modules the principal's roles open (the server refuses
/// the others anyway; this spares people links that end in "没有权限"). A heading left with no
/// links goes too.
fn nav_for(html: &str, p: &Principal) -> String {
    let (Some(start), Some(len)) = (
        html.find("<nav class=\"side\""),
        html.find("<nav class=\"side\"").and_then(|i| html[i..].find("</nav>")),
    ) else {
        return html.to_string();
    };
    let end = start + len;
    let mut kept: Vec<&str> = Vec::new();
    for line in html[start..end].lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("<a href=\"") {
            let path = rest.split('"').next().unwrap_or("");
            let allowed = required(&Method::GET, path).is_none_or(|any| any.iter().any(|perm| p.can(*perm)));
            if !allowed {
                continue;
            }
        }
        if t.starts_with("<h2>") && kept.last().is_some_and(|l| l.trim_start().starts_with("<h2>")) {
            kept.pop();
        }
        kept.push(line);
    }
    if kept.last().is_some_and(|l| l.trim_start().starts_with("<h2>")) {
        kept.pop();
    }
    format!("{}{}\n{}", &html[..start], kept.join("\n"), &html[end..])
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn set_cookie_value(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Fills the header's user bar (who is signed in, their roles and scope, logout) into an HTML
/// page, so that templates need not carry the user.
pub async fn with_user_bar(res: Response, p: &Principal, req_headers: &HeaderMap) -> Response {
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return res;
    }
    let mut fresh = None;
    let csrf = match set_cookie_value(&res, crate::csrf::COOKIE).or_else(|| cookie(req_headers, crate::csrf::COOKIE)) {
        Some(t) => t,
        None => match crate::csrf::Csrf::for_page(&HeaderMap::new()) {
            Ok(c) => {
                let t = c.token.clone();
                fresh = Some(c);
                t
            }
            Err(_) => return res,
        },
    };
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 32 * 1024 * 1024).await else {
        return AppError::Internal("response body".into()).into_response();
    };
    let bar = format!(
        "<span>{}（{}·{}）</span><a href=\"/account\">账户</a><form method=\"post\" action=\"/logout\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">退出</button></form>",
        escape(&p.display),
        escape(&p.role_labels()),
        escape(&p.scope_label),
        escape(&csrf)
    );
    let text = nav_for(&String::from_utf8_lossy(&bytes).replacen("<!--yl-user-->", &bar, 1), p);
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    let res = Response::from_parts(parts, axum::body::Body::from(text));
    match fresh {
        Some(c) => c.apply(res),
        None => res,
    }
}

/// Whoever is asking, signed in or not: for pages that are public but show more to officers
/// (the service lists: drafts and versions under review only to those who edit or publish).
pub struct Viewer(pub Option<Principal>);

impl Viewer {
    pub fn sees_drafts(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|p| p.can(Permission::ListEdit) || p.can(Permission::ListPublish))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Viewer(parts.extensions.get::<Principal>().cloned()))
    }
}
