//! The JSON API of the service lists (issue #3 §7) and the list page's 服务标准 column, over HTTP
//! (Router::oneshot), on SQLite and PostgreSQL: check (errors with item, line, column, what was
//! expected), diff, export, import (xlsx → draft or errors), submit, publish (maker-checker, and a
//! county list that narrows 高龄津贴 refused with the persons named).
//! Seed 000 §二(一)2: "覆盖范围和标准不低于国家和自治区相关要求"; its item 5: "年龄在80周岁(含80周岁)
//! 至99周岁的老年人,均可按规定每人每月领取100元高龄津贴".

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{NaiveDate, Utc};
use serde_json::Value as Json;
use tower::ServiceExt;
use yanglao_domain::DivisionCode;
use yanglao_registry::synth::GenOptions;
use yanglao_store::{divisions, testing, Db};
use yanglao_web::{router, App};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn load(db: &Db, dir: &std::path::Path) {
    yanglao_registry::synth::generate_into(
        db,
        &GenOptions {
            people: 1200,
            seed: 5,
            region: DivisionCode::parse("150400").expect("code"),
            as_of: d(2025, 1, 31),
            dirty: false,
            out: dir.join("in"),
        },
    )
    .expect("generate and import");
    yanglao_lists::service::install_builtin(db, Utc::now()).expect("lists");
}

/// API tokens of two 政策 (policy) officers: list editing and publishing (issue #6). Who acts
/// is the token's holder, so maker-checker needs two of them.
const TOKEN: &str = "lists-api-test-token-0123456789abcdef";
const TOKEN_ZHAO: &str = "lists-api-test-token-zhao-456789abcdef";
const WANG: &str = "token:王科员";

/// The token the next calls carry.
static ACTING: std::sync::Mutex<&'static str> = std::sync::Mutex::new(TOKEN);

fn act_as(name: &str) {
    *ACTING.lock().expect("acting") = if name == "赵处长" { TOKEN_ZHAO } else { TOKEN };
}

async fn call(app: &Arc<App>, method: &str, uri: &str, ctype: Option<&str>, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let (s, b, _) = call_with(app, method, uri, ctype, None, body).await;
    (s, b)
}

async fn call_with(
    app: &Arc<App>,
    method: &str,
    uri: &str,
    ctype: Option<&str>,
    cookie: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {}", *ACTING.lock().expect("acting")));
    if let Some(c) = ctype {
        req = req.header("content-type", c);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = router(app.clone())
        .oneshot(req.body(Body::from(body)).expect("request"))
        .await
        .expect("response");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20).await.expect("body");
    (status, bytes.to_vec(), headers)
}

fn json(bytes: &[u8]) -> Json {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn by_url(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn county(edit: &str, with: &str) -> String {
    let text = yanglao_lists::content::BUILTIN[0]
        .1
        .replace(
            "title = \"内蒙古自治区基本养老服务清单\"",
            "title = \"红山区基本养老服务清单（测试）\"",
        )
        .replace("jurisdiction = \"150000\"", "jurisdiction = \"150402\"")
        .replace("level = \"省级\"", "level = \"县级\"")
        .replace("effective_from = \"2023-03-02\"", "effective_from = \"2024-07-01\"");
    assert!(text.contains(edit), "{edit}");
    text.replace(edit, with)
}

#[test]
fn list_api_on_both_databases() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-web-lists");
        load(&t.db, tmp.path());
        for (token, name) in [(TOKEN, "王科员"), (TOKEN_ZHAO, "赵处长")] {
            yanglao_store::accounts::create_token(
                &t.db,
                &yanglao_security::token_digest(token),
                name,
                "policy",
                "*",
                "测试",
                Utc::now(),
            )
            .expect("token");
        }
        act_as("王科员");
        let cat = divisions::load_catalogue(&t.db).expect("catalogue");
        let mut app = App::new(t.db.clone(), cat);
        app.today = Box::new(|| d(2025, 1, 31));
        let app = Arc::new(app);
        let call =
            |m: &str, uri: &str, ctype: Option<&str>, body: Vec<u8>| rt.block_on(call(&app, m, uri, ctype, body));
        let versions = yanglao_store::lists::versions(&t.db).expect("versions");
        let im = versions.iter().find(|v| v.jurisdiction == "150000").expect("IM").id;
        let hotan = versions.iter().find(|v| v.jurisdiction == "653200").expect("Hotan").id;

        // check: a rule error names item, field, line, column and what was expected.
        let bad = yanglao_lists::content::BUILTIN[0].1.replace(
            "eligibility = \"低保 且 年龄 >= 70 且 年龄 <= 79\"",
            "eligibility = \"低保 且 年龄 >= 70 且\"",
        );
        let (s, body) = call("POST", "/api/lists/check", Some("text/plain"), bad.into_bytes());
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
        let j = json(&body);
        let e = &j["errors"][0];
        assert_eq!(e["seq"], 6);
        assert_eq!(e["item"], "经济困难老年人养老服务补贴");
        assert_eq!(e["field"], "资格规则");
        assert_eq!(e["line"], 1);
        assert_eq!(e["column"], 16, "{e}: the end of “低保 且 年龄 >= 70 且”");
        assert!(e["expected"].as_str().is_some_and(|x| x.starts_with("应为")), "{e}");
        // A TOML error: line and column in the file.
        let (s, body) = call(
            "POST",
            "/api/lists/check",
            None,
            "title = \"x\"\n\nlevel = = \"县级\"\n".as_bytes().to_vec(),
        );
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let j = json(&body);
        assert_eq!(j["errors"][0]["line"], 3, "{j}");
        assert_eq!(j["errors"][0]["column"], 9, "{j}");
        // A good list, and against the registry with ?as_of.
        let (s, body) = call(
            "POST",
            "/api/lists/check",
            None,
            yanglao_lists::content::BUILTIN[1].1.as_bytes().to_vec(),
        );
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(json(&body)["items"], 17);
        let narrowed = county("eligibility = \"年龄 >= 80\"", "eligibility = \"年龄 >= 85\"");
        let (s, body) = call(
            "POST",
            "/api/lists/check?as_of=2025-01-31",
            None,
            narrowed.clone().into_bytes(),
        );
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
        let j = json(&body);
        let short = j["dominance"]["simulation"]["shortfalls"]
            .as_array()
            .expect("shortfalls");
        assert!(!short.is_empty(), "{}: {j}", t.name);
        assert!(short
            .iter()
            .all(|s| s["item_code"] == "gaoling-jintie" && s["lack"] == "NotEntitled"));
        assert!(short
            .iter()
            .all(|s| s["id_number"].as_str().is_some_and(|i| i.starts_with("150402********"))));

        // export, and the same workbook imported as a draft.
        let (s, xlsx) = call("GET", &format!("/api/lists/{im}/export.xlsx"), None, Vec::new());
        assert_eq!(s, StatusCode::OK);
        assert!(xlsx.starts_with(b"PK"), "a zip (xlsx)");
        let (s, _) = call(
            "POST",
            "/api/lists/import?author=王科员",
            Some("text/plain"),
            xlsx.clone(),
        );
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "only an xlsx body");
        let (s, body) = call("POST", "/api/lists/import?author=王科员", Some(XLSX), xlsx);
        assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
        let copy = json(&body)["id"].as_i64().expect("id");
        // A workbook with a rule error: refused with the item and position.
        let mut broken = yanglao_lists::content::load(yanglao_lists::content::BUILTIN[0].1).expect("IM");
        broken.items[4].eligibility = Some("年龄 >=".into());
        let bytes = yanglao_lists::xlsx::export(&broken).expect("export");
        let (s, body) = call("POST", "/api/lists/import?author=王科员", Some(XLSX), bytes);
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let j = json(&body);
        assert_eq!(j["errors"][0]["item"], "高龄津贴", "{j}");
        assert_eq!(j["errors"][0]["line"], 1, "{j}");

        // diff
        let (s, body) = call("GET", &format!("/api/lists/diff?a={im}&b={copy}"), None, Vec::new());
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            json(&body)["changes"].as_array().map(Vec::len),
            Some(0),
            "the same list"
        );

        // submit and publish: maker-checker, and the dominance check.
        // The acting officer is the token's holder; `by` in the body is ignored.
        let by = |name: &str| {
            act_as(name);
            serde_json::to_vec(&serde_json::json!({ "by": name, "as_of": "2025-01-31" })).expect("json")
        };
        let id = yanglao_lists::service::save_draft(&t.db, &narrowed, WANG, Utc::now()).expect("draft");
        let (s, body) = call(
            "POST",
            &format!("/api/lists/{id}/publish"),
            Some("application/json"),
            by("赵处长"),
        );
        assert_eq!(
            s,
            StatusCode::CONFLICT,
            "a draft is not published: {}",
            String::from_utf8_lossy(&body)
        );
        let (s, _) = call(
            "POST",
            &format!("/api/lists/{id}/submit"),
            Some("text/plain"),
            by("王科员"),
        );
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "JSON only");
        let (s, _) = call(
            "POST",
            &format!("/api/lists/{id}/submit"),
            Some("application/json"),
            by("王科员"),
        );
        assert_eq!(s, StatusCode::OK);
        let (s, body) = call(
            "POST",
            &format!("/api/lists/{id}/publish"),
            Some("application/json"),
            by("王科员"),
        );
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("发布人不能是起草人")));
        let (s, body) = call(
            "POST",
            &format!("/api/lists/{id}/publish"),
            Some("application/json"),
            by("赵处长"),
        );
        assert_eq!(s, StatusCode::CONFLICT, "{}", t.name);
        let j = json(&body);
        assert_eq!(j["ok"], false);
        let named = j["dominance"]["simulation"]["shortfalls"].as_array().expect("named");
        assert_eq!(named.len(), short.len(), "{}: the same persons as the check", t.name);
        assert!(named.iter().all(|s| s["name"].as_str().is_some_and(|n| !n.is_empty())));
        assert_eq!(
            yanglao_store::lists::version(&t.db, id)
                .expect("q")
                .expect("row")
                .status,
            "under_review"
        );
        let good = county("value = \"100元\"", "value = \"120元\"");
        let id = yanglao_lists::service::save_draft(&t.db, &good, WANG, Utc::now()).expect("draft");
        let (s, _) = call(
            "POST",
            &format!("/api/lists/{id}/submit"),
            Some("application/json"),
            by("王科员"),
        );
        assert_eq!(s, StatusCode::OK);
        let (s, body) = call(
            "POST",
            &format!("/api/lists/{id}/publish"),
            Some("application/json"),
            by("赵处长"),
        );
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(json(&body)["status"], "published");

        // The same on the version's page: forms with the CSRF token; a refusal names the persons.
        let id = yanglao_lists::service::save_draft(&t.db, &narrowed, WANG, Utc::now()).expect("draft");
        let (s, page, headers) = rt.block_on(call_with(&app, "GET", &format!("/lists/{id}"), None, None, Vec::new()));
        assert_eq!(s, StatusCode::OK);
        let page = String::from_utf8_lossy(&page).to_string();
        assert!(
            page.contains("提交审核") && !page.contains("审核发布"),
            "a draft offers submission"
        );
        let set_cookie = headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("csrf cookie")
            .to_string();
        let pair = set_cookie.split(';').next().expect("pair").to_string();
        let token = pair.split_once('=').expect("=").1.to_string();
        let form = |by: &str, csrf: &str| {
            act_as(by);
            format!("csrf={csrf}&by={}", by_url(by)).into_bytes()
        };
        let post = |uri: String, body: Vec<u8>, cookie: Option<&str>| {
            rt.block_on(call_with(
                &app,
                "POST",
                &uri,
                Some("application/x-www-form-urlencoded"),
                cookie,
                body,
            ))
        };
        let (s, _, _) = post(format!("/lists/{id}/submit"), form("王科员", &token), None);
        assert_eq!(s, StatusCode::FORBIDDEN, "no CSRF cookie, no submission");
        let (s, _, _) = post(format!("/lists/{id}/submit"), form("王科员", &token), Some(&pair));
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, page, _) = post(format!("/lists/{id}/publish"), form("赵处长", &token), Some(&pair));
        assert_eq!(s, StatusCode::CONFLICT, "{}", t.name);
        let page = String::from_utf8_lossy(&page);
        assert!(
            page.contains("不予发布") && page.contains("“高龄津贴”：") && page.contains("150402********"),
            "{page}"
        );
        assert_eq!(
            yanglao_store::lists::version(&t.db, id)
                .expect("q")
                .expect("row")
                .status,
            "under_review"
        );

        // The public page shows Hotan's 服务标准 in its own column, like seed 004's table
        // ("服务类型 服务标准 支出责任"); Inner Mongolia's table has 服务内容及标准 (seed 000).
        let (s, page) = call("GET", &format!("/lists/{hotan}"), None, Vec::new());
        assert_eq!(s, StatusCode::OK);
        let page = String::from_utf8_lossy(&page);
        assert!(
            page.contains("<th scope=\"col\">服务类型</th><th scope=\"col\">服务标准</th>")
                && page.contains("按照《80周岁以上老年人基本生活津贴制度》执行。"),
            "{}",
            t.name
        );
        let (_, page) = call("GET", &format!("/lists/{im}"), None, Vec::new());
        let page = String::from_utf8_lossy(&page);
        assert!(page.contains("服务内容及标准") && !page.contains("<th scope=\"col\">服务标准</th>"));
    }
}
