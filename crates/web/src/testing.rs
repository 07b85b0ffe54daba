//! For tests of the console: make a user and sign in through the real login form, returning
//! the cookies a browser would then send.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request};
use tower::ServiceExt;
use yanglao_security::password;
use yanglao_store::accounts::{self, NewUser};

use crate::{router, App};

pub const TEST_PASSWORD: &str = "Test-Passw0rd";

/// Creates `username` (if missing) with `roles` and `scope`, signs in, and returns the
/// `Cookie` header value (`yl_csrf=…; yl_session=…`) and the CSRF token for forms.
pub async fn login(app: &Arc<App>, username: &str, roles: &str, scope: &str) -> (String, String) {
    // The store's PostgreSQL client blocks: off the runtime's threads.
    let (db, u, r, sc) = (
        app.db.clone(),
        username.to_string(),
        roles.to_string(),
        scope.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        if accounts::user_by_name(&db, &u).ok().flatten().is_none() {
            let hash = password::hash(TEST_PASSWORD).unwrap_or_else(|e| panic!("hash: {e}"));
            accounts::create_user(
                &db,
                &NewUser {
                    username: &u,
                    display_name: &u,
                    password_hash: &hash,
                    roles: &r,
                    scope: &sc,
                    created_by: "test",
                },
                chrono::Utc::now(),
            )
            .unwrap_or_else(|e| panic!("create user {u}: {e}"));
        }
    })
    .await
    .unwrap_or_else(|e| panic!("create user: {e}"));
    let csrf = "0123456789abcdef0123456789abcdef";
    let body = format!("csrf={csrf}&username={username}&password={}&next=%2F", TEST_PASSWORD);
    let req = Request::builder()
        .method("POST")
        .uri("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("yl_csrf={csrf}"))
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let res = router(app.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| panic!("login: {e}"));
    let session = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|kv| kv.starts_with("yl_session="))
        .unwrap_or_else(|| panic!("login of {username} failed: status {}", res.status()))
        .to_string();
    (format!("yl_csrf={csrf}; {session}"), csrf.to_string())
}

/// Only the session cookie (`yl_session=…`), for tests that manage the CSRF cookie themselves.
pub async fn login_session(app: &Arc<App>, username: &str, roles: &str, scope: &str) -> String {
    let (cookie, _) = login(app, username, roles, scope).await;
    cookie
        .split("; ")
        .find(|kv| kv.starts_with("yl_session="))
        .unwrap_or_default()
        .to_string()
}

/// Every role that reads or works with people's data, region-wide: for tests of pages that are
/// not about permissions.
pub const ALL_WORK_ROLES: &str = "case,data,policy,supervisor,finance,assessor,visitor";
