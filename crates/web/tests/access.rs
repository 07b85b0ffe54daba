//! Accounts, roles, division scope and audit over HTTP, on SQLite and PostgreSQL (issue #6):
//! a county user cannot reach another county's person by page, API, search or export; every
//! read is in the hash-chained audit log; lockout, idle timeout, CSRF and the password policy.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{NaiveDate, Utc};
use tower::ServiceExt;
use yanglao_domain::catalogue::builtin;
use yanglao_domain::IdNumber;
use yanglao_security::token_digest;
use yanglao_store::accounts;
use yanglao_store::audit::{self, AuditFilter};
use yanglao_store::registry::{apply_batch, person_by_id_number, NewBatch, Staged, StagedFact};
use yanglao_store::{divisions, testing, Db, Value};
use yanglao_web::testing::{login, login_session, TEST_PASSWORD};
use yanglao_web::{router, App};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn add_person(db: &Db, id: &IdNumber, name: &str, hukou: &str, sha: &str) -> i64 {
    let mut items = vec![Ok(Staged::Fact(StagedFact {
        person_id: None,
        row_no: 1,
        id_number: id.as_str().to_string(),
        name: name.into(),
        sex: 1,
        birth_date: id.birth_date(),
        kind: "hukou",
        value: hukou.into(),
        valid_from: d(2000, 1, 1),
        valid_to: None,
        first_of_person: true,
    }))]
    .into_iter();
    let meta = NewBatch {
        source: "gongan_huji".into(),
        department: "gongan".into(),
        file_name: "户籍.csv".into(),
        sha256: sha.into(),
        size_bytes: 1,
        encoding: "UTF-8".into(),
        archive_path: None,
        now: Utc::now(),
        fail_at: None,
    };
    apply_batch(db, &meta, &mut items).expect("apply");
    person_by_id_number(db, id.as_str()).expect("q").expect("person").id
}

struct Reply {
    status: StatusCode,
    body: String,
    bytes: Vec<u8>,
    headers: axum::http::HeaderMap,
}

fn send(rt: &tokio::runtime::Runtime, app: &Arc<App>, req: Request<Body>) -> Reply {
    rt.block_on(async {
        let res = router(app.clone()).oneshot(req).await.expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
            .await
            .expect("body")
            .to_vec();
        Reply {
            status,
            body: String::from_utf8_lossy(&bytes).to_string(),
            bytes,
            headers,
        }
    })
}

fn get(uri: &str, cookie: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request")
}

fn bearer(uri: &str, token: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

fn post(uri: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(form.to_string()))
        .expect("request")
}

fn xlsx_rows(bytes: &[u8]) -> usize {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    book.worksheet_range("人员名单").expect("sheet").height()
}

#[test]
fn scope_roles_and_audit_on_both_databases() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for t in testing::all() {
        let db = &t.db;
        divisions::save_catalogue(db, &builtin::catalogue()).expect("divisions");
        yanglao_lists::service::install_builtin(db, Utc::now()).expect("lists");
        let cat = divisions::load_catalogue(db).expect("catalogue");
        // 红山区 (150402) and 松山区 (150404), both in 赤峰市.
        let id_a = IdNumber::from_parts("150402", d(1940, 3, 5), 11).expect("id");
        let id_b = IdNumber::from_parts("150404", d(1941, 4, 6), 21).expect("id");
        let a = add_person(db, &id_a, "红山甲", "150402001001", "a");
        let b = add_person(db, &id_b, "松山乙", "150404001001", "b");
        let mut app = App::new(db.clone(), cat);
        app.today = Box::new(|| d(2025, 6, 30));
        let app = Arc::new(app);

        // Not signed in: pages go to the login page, the API answers 401; public pages stay public.
        let r = send(&rt, &app, get("/persons", ""));
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", t.name);
        assert!(r
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.starts_with("/login")));
        assert_eq!(
            send(&rt, &app, get(&format!("/api/persons/{b}/entitlements"), "")).status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(&rt, &app, get("/lists", "")).status,
            StatusCode::OK,
            "the published lists are public"
        );
        let doc = send(&rt, &app, get("/api/openapi.json", ""));
        assert_eq!(doc.status, StatusCode::OK);
        let doc: serde_json::Value = serde_json::from_str(&doc.body).expect("json");
        assert!(doc["paths"]["/api/persons/{id}/entitlements"]["get"].is_object());

        // A 红山区 case worker.
        let (cookie, csrf) = rt.block_on(login(&app, "case_a", "case", "150402"));
        let r = send(&rt, &app, get(&format!("/persons/{a}"), &cookie));
        assert_eq!(r.status, StatusCode::OK, "{}: own county", t.name);
        assert!(r.body.contains("红山甲") && r.body.contains(&id_a.masked()));
        assert!(!r.body.contains(id_a.as_str()), "{}: the ID number is masked", t.name);
        assert!(
            r.body.contains("case_a（经办·"),
            "{}: the user bar names the user",
            t.name
        );
        // … cannot read 松山区's person by page URL, API call, search or export.
        let r = send(&rt, &app, get(&format!("/persons/{b}"), &cookie));
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: by URL", t.name);
        assert!(!r.body.contains("松山乙"));
        for uri in [
            format!("/persons/{b}/entitlements"),
            format!("/api/persons/{b}/entitlements"),
            format!("/api/persons/{b}"),
        ] {
            let r = send(&rt, &app, get(&uri, &cookie));
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: {uri}", t.name);
            assert!(!r.body.contains("松山乙"), "{uri}");
        }
        assert_eq!(
            send(&rt, &app, get(&format!("/api/persons/{a}/entitlements"), &cookie)).status,
            StatusCode::OK
        );
        let r = send(&rt, &app, get(&format!("/api/persons/{a}"), &cookie));
        assert_eq!(r.status, StatusCode::OK);
        let j: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(j["id_number_masked"], id_a.masked(), "{}", t.name);
        assert!(!r.body.contains(id_a.as_str()), "{}: masked in the API too", t.name);
        // The API search: only the reader's county.
        let j: serde_json::Value =
            serde_json::from_str(&send(&rt, &app, get("/api/persons", &cookie)).body).expect("json");
        assert_eq!(j["total"], 1, "{}: {j}", t.name);
        assert_eq!(j["people"][0]["name"], "红山甲");
        let r = send(&rt, &app, get(&format!("/persons?q={}", id_b.as_str()), &cookie));
        assert!(
            r.body.contains("共 0 人") && !r.body.contains("松山乙"),
            "{}: by search",
            t.name
        );
        let r = send(&rt, &app, get("/persons?q=%E4%B9%99", &cookie));
        assert!(!r.body.contains("松山乙"), "{}: by name search", t.name);
        let r = send(&rt, &app, get(&format!("/persons?q={}", id_a.as_str()), &cookie));
        assert!(r.body.contains("共 1 人") && r.body.contains("红山甲"), "{}", t.name);
        let r = send(&rt, &app, get("/persons/export.xlsx", &cookie));
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            xlsx_rows(&r.bytes),
            2,
            "{}: by export — header and the one person in scope",
            t.name
        );
        let r = send(
            &rt,
            &app,
            get(&format!("/persons/export.xlsx?q={}", id_b.as_str()), &cookie),
        );
        assert_eq!(
            xlsx_rows(&r.bytes),
            1,
            "{}: the other county's person is not exported",
            t.name
        );

        // Sorting: a region-wide reader sees both, in the order asked for.
        let all = rt.block_on(login_session(&app, "region", "case", "150000"));
        let body = send(&rt, &app, get("/persons?sort=oldest", &all)).body;
        let (pa, pb) = (body.find("红山甲").expect("a"), body.find("松山乙").expect("b"));
        assert!(pa < pb, "{}: 1940 before 1941", t.name);
        let body = send(&rt, &app, get("/persons?sort=youngest", &all)).body;
        assert!(body.find("松山乙") < body.find("红山甲"), "{}", t.name);

        // A change to another county's person by a guessed id: refused like a read.
        let req_b = yanglao_assessment::service::create_request(
            db,
            &yanglao_assessment::service::RequestInput {
                person_id: b,
                requested_by: yanglao_assessment::workflow::RequestedBy::Family,
                requester: "家属".into(),
                reason: yanglao_assessment::workflow::Reason::First,
                note: String::new(),
                disputed_record_id: None,
                requested_on: d(2025, 6, 1),
            },
            "松山区窗口",
            Utc::now(),
        )
        .expect("request");
        let r = send(
            &rt,
            &app,
            post(
                &format!("/assessments/requests/{req_b}/cancel"),
                &cookie,
                &format!("csrf={csrf}&by=x&note=x"),
            ),
        );
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: {}", t.name, r.body);
        let r = send(&rt, &app, get("/assessments", &cookie));
        assert!(!r.body.contains("松山乙"), "{}: not in the request list either", t.name);

        // A county policy officer cannot move the region's list.
        let text = yanglao_lists::content::BUILTIN[0]
            .1
            .replace("effective_from = \"2023-03-02\"", "effective_from = \"2026-01-01\"");
        let draft = yanglao_lists::service::save_draft(db, &text, "region_author", Utc::now()).expect("draft");
        let (county_policy, pcsrf) = rt.block_on(login(&app, "policy_402", "policy", "150402"));
        let r = send(
            &rt,
            &app,
            post(
                &format!("/lists/{draft}/submit"),
                &county_policy,
                &format!("csrf={pcsrf}"),
            ),
        );
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", t.name, r.body);
        assert!(r.body.contains("不属于您的管辖范围"), "{}", t.name);
        // A draft is not public: anonymous readers get "not found", officers who edit see it.
        assert_eq!(
            send(&rt, &app, get(&format!("/lists/{draft}"), "")).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(&rt, &app, get(&format!("/api/lists/{draft}"), "")).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(&rt, &app, get(&format!("/lists/{draft}"), &county_policy)).status,
            StatusCode::OK
        );
        let index: serde_json::Value =
            serde_json::from_str(&send(&rt, &app, get("/api/lists", "")).body).expect("json");
        assert!(
            index.as_array().is_some_and(|a| a.iter().all(|v| v["id"] != draft)),
            "{}: {index}",
            t.name
        );

        // Lists of people by division: only within the scope.
        let case_a = rt.block_on(login_session(&app, "case_a2", "case", "150402"));
        assert_eq!(
            send(&rt, &app, get("/assessments/overdue?division=150404", &case_a)).status,
            StatusCode::FORBIDDEN,
            "{}",
            t.name
        );
        assert_eq!(
            send(&rt, &app, get("/assessments/overdue?division=150402", &case_a)).status,
            StatusCode::OK,
            "{}",
            t.name
        );

        // Each user sees their own reads in the audit log, on their account page.
        let r = send(&rt, &app, get("/account", &cookie));
        assert!(
            r.body.contains("person.read")
                && r.body.contains(&format!("person:{a}"))
                && r.body.contains("person.denied"),
            "{}: own entries",
            t.name
        );

        // The full ID number: a POST with the CSRF token, audited.
        let r = send(
            &rt,
            &app,
            post(&format!("/persons/{a}/reveal"), &cookie, &format!("csrf={csrf}")),
        );
        assert_eq!(r.status, StatusCode::OK, "{}", t.name);
        assert!(r.body.contains(id_a.as_str()));
        let r = send(
            &rt,
            &app,
            post(
                &format!("/persons/{a}/reveal"),
                &cookie,
                "csrf=00000000000000000000000000000000",
            ),
        );
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: a forged form is refused", t.name);

        // Roles: an administrator reads no person; a visitor cannot work the lists.
        let (admin, _) = rt.block_on(login(&app, "admin", "admin", "*"));
        assert_eq!(
            send(&rt, &app, get(&format!("/persons/{a}"), &admin)).status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&rt, &app, get("/audit", &admin)).status,
            StatusCode::FORBIDDEN,
            "三员分立"
        );
        assert_eq!(send(&rt, &app, get("/admin/users", &admin)).status, StatusCode::OK);
        for uri in [
            "/assessments",
            "/assessments/overdue",
            "/visits/overdue",
            "/visits/followups",
            "/api/visits/due",
        ] {
            assert_eq!(
                send(&rt, &app, get(uri, &admin)).status,
                StatusCode::FORBIDDEN,
                "{}: admin reads no people via {uri}",
                t.name
            );
        }
        assert_eq!(
            send(&rt, &app, get("/assessments/stats", &admin)).status,
            StatusCode::OK,
            "{}: aggregates are fine",
            t.name
        );
        let visitor = rt.block_on(login_session(&app, "visitor1", "visitor", "150402001001"));
        assert_eq!(
            send(&rt, &app, get("/work", &visitor)).status,
            StatusCode::FORBIDDEN,
            "{}",
            t.name
        );
        // The navigation offers only what the roles open (the server refuses the rest anyway).
        let home = send(&rt, &app, get("/", &visitor)).body;
        assert!(
            home.contains("href=\"/persons\"") && !home.contains("href=\"/work\""),
            "{}",
            t.name
        );
        assert!(
            !home.contains("<h2>服务找人</h2>"),
            "{}: an emptied heading goes too",
            t.name
        );
        assert!(
            send(&rt, &app, get("/", &cookie)).body.contains("href=\"/work\""),
            "{}",
            t.name
        );

        // An API token for another department's system, scoped to 松山区.
        let secret = "f".repeat(64);
        accounts::create_token(
            db,
            &token_digest(&secret),
            "卫健委",
            "case",
            "150404",
            "admin",
            Utc::now(),
        )
        .expect("token");
        assert_eq!(
            send(&rt, &app, bearer(&format!("/api/persons/{b}/entitlements"), &secret)).status,
            StatusCode::OK
        );
        assert_eq!(
            send(&rt, &app, bearer(&format!("/api/persons/{a}/entitlements"), &secret)).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(&rt, &app, bearer("/api/work", &"0".repeat(64))).status,
            StatusCode::UNAUTHORIZED
        );

        // The audit log: the reads, the refusal, by whom; the chain verifies; an auditor sees it.
        let (rows, _) = audit::entries(
            db,
            &AuditFilter {
                actor: Some("case_a".into()),
                ..Default::default()
            },
            500,
            0,
        )
        .expect("audit");
        let has = |action: &str, target: &str| rows.iter().any(|r| r.action == action && r.target == target);
        assert!(has("person.read", &format!("person:{a}")), "{}", t.name);
        assert!(has("person.reveal", &format!("person:{a}")), "{}", t.name);
        assert!(has("person.denied", &format!("person:{b}")), "{}", t.name);
        assert!(rows.iter().any(|r| r.action == "person.export"), "{}", t.name);
        assert!(audit::verify(db).expect("verify").ok(), "{}", t.name);
        let sup = rt.block_on(login_session(&app, "auditor", "supervisor", "150400"));
        let r = send(&rt, &app, get("/audit?actor=case_a", &sup));
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("person.reveal"), "{}", t.name);
        let r = send(&rt, &app, get("/audit/verify", &sup));
        assert!(r.body.contains("哈希链完整"), "{}", t.name);

        // Lockout after five failures: even the right password is then refused.
        let bad = |pw: &str| {
            send(
                &rt,
                &app,
                post(
                    "/login",
                    "yl_csrf=0123456789abcdef0123456789abcdef",
                    &format!("csrf=0123456789abcdef0123456789abcdef&username=case_a&password={pw}"),
                ),
            )
        };
        for i in 1..=4 {
            let r = bad("wrong");
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}: failure {i}", t.name);
            assert!(r.body.contains("用户名或密码错误"));
        }
        assert!(
            bad("wrong").body.contains("已锁定"),
            "{}: the fifth failure locks",
            t.name
        );
        let r = bad(TEST_PASSWORD);
        assert!(
            r.body.contains("已锁定")
                && r.headers
                    .get(header::SET_COOKIE)
                    .is_none_or(|c| !c.to_str().unwrap_or("").contains("yl_session")),
            "{}",
            t.name
        );
        let (rows, _) = audit::entries(
            db,
            &AuditFilter {
                actor: Some("case_a".into()),
                action_prefix: Some("auth.".into()),
                ..Default::default()
            },
            50,
            0,
        )
        .expect("audit");
        assert!(rows.iter().any(|r| r.action == "auth.locked"), "{}", t.name);

        // Idle timeout: a session unused for 31 minutes is over.
        let session = cookie
            .split("; ")
            .find(|c| c.starts_with("yl_session="))
            .expect("session");
        let hash = token_digest(session.trim_start_matches("yl_session="));
        db.exec(
            "UPDATE app_session SET last_seen = $2 WHERE token_hash = $1",
            &[
                Value::text(hash),
                Value::text((Utc::now() - chrono::Duration::minutes(31)).to_rfc3339()),
            ],
        )
        .expect("age the session");
        let r = send(&rt, &app, get(&format!("/persons/{a}"), &cookie));
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", t.name);
        assert!(r
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.contains("expired=1")));

        // The password policy holds for users an administrator creates.
        let (admin, admin_csrf) = rt.block_on(login(&app, "admin", "admin", "*"));
        let r = send(
            &rt,
            &app,
            post(
                "/admin/users",
                &admin,
                &format!("csrf={admin_csrf}&username=weak&display=W&password=short&roles=case&scope=150402"),
            ),
        );
        assert!(r.body.contains("密码至少 10 个字符"), "{}", t.name);
        assert!(accounts::user_by_name(db, "weak").expect("q").is_none(), "{}", t.name);

        // 适老化: the large-type style sheet follows the browser's choice.
        let r = send(&rt, &app, get("/static/display.css", "yl_large=1"));
        assert!(r.body.contains("font-size: 22px"), "{}", t.name);
        assert!(send(&rt, &app, get("/static/display.css", "")).body.is_empty());
    }
}

#[test]
fn every_api_route_is_described() {
    let src = include_str!("../src/lib.rs");
    let described: Vec<&str> = yanglao_web::openapi::PATHS.iter().map(|p| p.0).collect();
    for line in src.lines() {
        if let Some(rest) = line.trim().strip_prefix(".route(\"/api/") {
            let path = format!("/api/{}", rest.split('"').next().unwrap_or(""));
            assert!(described.contains(&path.as_str()), "{path} is not in /api/openapi.json");
        }
    }
}
