//! CSRF protection for forms: a random token in a `SameSite=Strict`, `HttpOnly` cookie, echoed
//! in a hidden form field and compared on POST (double submit). A cross-site page can neither
//! read the cookie nor make the browser send it, so it cannot forge the pair.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use crate::AppError;

pub const COOKIE: &str = "yl_csrf";
pub const FIELD: &str = "csrf";

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn new_token() -> Result<String, AppError> {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(format!("random: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token for a page with forms: the browser's, or a new one to be set on the response.
pub struct Csrf {
    pub token: String,
    fresh: bool,
}

impl Csrf {
    pub fn for_page(headers: &HeaderMap) -> Result<Csrf, AppError> {
        Ok(match cookie_token(headers) {
            Some(token) => Csrf { token, fresh: false },
            None => Csrf {
                token: new_token()?,
                fresh: true,
            },
        })
    }

    /// Sets the cookie on `res` when the token is new.
    pub fn apply(&self, mut res: Response) -> Response {
        if self.fresh {
            let v = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", self.token);
            if let Ok(v) = HeaderValue::from_str(&v) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

/// Refuses a POST whose form token does not match its cookie.
pub fn verify(headers: &HeaderMap, form_token: &str) -> Result<(), AppError> {
    let Some(cookie) = cookie_token(headers) else {
        return Err(AppError::Forbidden(
            "表单已失效（缺少安全令牌），请刷新页面后重试。".into(),
        ));
    };
    // Constant-time comparison: no early exit on the first differing byte.
    let same = cookie.len() == form_token.len()
        && cookie
            .bytes()
            .zip(form_token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(AppError::Forbidden("表单安全令牌不符，请刷新页面后重试。".into()))
    }
}
