//! 服务找人 pages over HTTP on SQLite and PostgreSQL: work lists rolled up by division with
//! reasons, assign and close behind the CSRF check, a person's explained entitlements, and a
//! simulation with progress, result tables and a real Excel export.

use std::io::Cursor;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use calamine::Reader;
use chrono::{NaiveDate, Utc};
use tower::ServiceExt;
use yanglao_domain::DivisionCode;
use yanglao_registry::synth::GenOptions;
use yanglao_store::{divisions, testing, Db};
use yanglao_web::{router, App};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn as_of() -> NaiveDate {
    d(2025, 1, 31)
}

fn load(db: &Db, dir: &std::path::Path) {
    yanglao_registry::synth::generate_into(
        db,
        &GenOptions {
            people: 1200,
            seed: 12,
            region: DivisionCode::parse("150400").expect("code"),
            as_of: as_of(),
            dirty: false,
            out: dir.join("in"),
        },
    )
    .expect("generate and import");
    yanglao_lists::service::install_builtin(db, Utc::now()).expect("lists");
}

struct Res {
    status: StatusCode,
    body: String,
    bytes: Vec<u8>,
    headers: axum::http::HeaderMap,
}

async fn send(app: &Arc<App>, req: Request<Body>) -> Res {
    let res = router(app.clone()).oneshot(req).await.expect("response");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 32 << 20)
        .await
        .expect("body")
        .to_vec();
    Res {
        status,
        body: String::from_utf8_lossy(&bytes).to_string(),
        bytes,
        headers,
    }
}

/// The signed-in session every request carries (set once the app exists).
static SESSION: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn with_session(cookie: Option<&str>) -> String {
    let session = SESSION.lock().map(|s| s.clone()).unwrap_or_default();
    match cookie {
        Some(c) => format!("{c}; {session}"),
        None => session,
    }
}

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::COOKIE, with_session(cookie))
        .body(Body::empty())
        .expect("request")
}

fn post(uri: &str, cookie: Option<&str>, form: &str) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, with_session(cookie))
        .body(Body::from(form.to_string()))
        .expect("request")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn work_lists_explanations_and_simulation_pages_on_both_databases() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-web-ent");
        let db = &t.db;
        load(db, tmp.path());
        let cat = divisions::load_catalogue(db).expect("catalogue");
        yanglao_entitlements::run::run(db, &cat, as_of(), "测试", Utc::now()).expect("run");
        // Pay one 高龄津贴 recipient the wrong amount, so the item is tracked.
        let (pid, id_number): (i64, String) = {
            let r = db
                .query_one(
                    "SELECT e.person_id, p.id_number FROM entitlement e JOIN person p ON p.id = e.person_id
                     WHERE e.item_code = 'gaoling-jintie' AND e.status = 'entitled' ORDER BY e.person_id LIMIT 1",
                    &[],
                )
                .expect("query")
                .expect("someone 80+");
            (r.int(0).expect("id"), r.text(1).expect("text"))
        };
        let csv = tmp.path().join("r.csv");
        std::fs::write(
            &csv,
            format!("身份证号,项目代码,金额,起始日期\n{id_number},gaoling-jintie,90元,2024-01-01\n"),
        )
        .expect("write");
        let codes = ["gaoling-jintie".to_string()].into_iter().collect();
        yanglao_entitlements::receipts::import_receipts(db, &csv, "测试发放", &codes, "测试", Utc::now())
            .expect("receipts");
        yanglao_entitlements::run::run(db, &cat, as_of(), "测试", Utc::now()).expect("run");

        let mut app = App::new(db.clone(), cat);
        app.today = Box::new(as_of);
        let app = Arc::new(app);
        let session = rt.block_on(yanglao_web::testing::login_session(
            &app,
            "caseworker",
            yanglao_web::testing::ALL_WORK_ROLES,
            "*",
        ));
        *SESSION.lock().expect("session") = session;

        // The work list: rolled up by division, masked IDs, reasons; a fresh CSRF cookie.
        let r = rt.block_on(send(&app, get("/work?division=150400&kind=amount", None)));
        assert_eq!(r.status, StatusCode::OK, "{}", t.name);
        assert!(r.body.contains("工作清单"));
        assert!(
            r.body.contains("红山区") || r.body.contains("松山区"),
            "rolled up by county"
        );
        assert!(r.body.contains("应发 100.00 元，实发 90.00 元"), "{}", t.name);
        assert!(
            r.body.contains("<svg class=\"chart\""),
            "{}: the roll-up as a chart",
            t.name
        );
        assert!(!r.body.contains(&id_number), "ID numbers are masked");
        let x = rt.block_on(send(&app, get("/work/export.xlsx?division=150400&kind=amount", None)));
        assert_eq!(x.status, StatusCode::OK, "{}", t.name);
        {
            let mut book: calamine::Xlsx<_> =
                calamine::open_workbook_from_rs(std::io::Cursor::new(x.bytes.clone())).expect("xlsx");
            let sheet = book.worksheet_range("工作清单").expect("sheet");
            assert!(sheet.height() >= 2, "{}: header and items", t.name);
            let id_cell = sheet.get_value((1, 2)).map(|c| c.to_string()).unwrap_or_default();
            assert!(
                id_cell.contains("********"),
                "{}: masked in the export: {id_cell}",
                t.name
            );
        }
        let set_cookie = r
            .headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("csrf cookie")
            .to_string();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
        let token = set_cookie
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_string())
            .expect("token");
        let cookie = format!("yl_csrf={token}");

        let item_id = db
            .query_one("SELECT id FROM work_item WHERE kind = 'amount'", &[])
            .expect("q")
            .expect("amount item")
            .int(0)
            .expect("id");
        // Without the cookie, or with a wrong token: refused, nothing changes.
        let r = rt.block_on(send(
            &app,
            post(
                &format!("/work/{item_id}/assign"),
                None,
                &format!("csrf={token}&assignee={}", enc("王社工")),
            ),
        ));
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", t.name);
        let r = rt.block_on(send(
            &app,
            post(
                &format!("/work/{item_id}/assign"),
                Some(&cookie),
                &format!("csrf={}&assignee={}", "0".repeat(32), enc("王社工")),
            ),
        ));
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = rt.block_on(send(
            &app,
            post(
                &format!("/work/{item_id}/assign"),
                Some(&cookie),
                &format!("csrf={token}&assignee={}&back=/work", enc("王社工")),
            ),
        ));
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let r = rt.block_on(send(&app, get("/work?division=150400&kind=amount", Some(&cookie))));
        assert!(r.body.contains("处理中（王社工）"), "{}", t.name);
        let r = rt.block_on(send(
            &app,
            post(
                &format!("/work/{item_id}/close"),
                Some(&cookie),
                &format!(
                    "csrf={token}&outcome={}&by={}",
                    enc("已核实，下月起按100元发放"),
                    enc("王社工")
                ),
            ),
        ));
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let status = db
            .query_one(
                "SELECT status, outcome FROM work_item WHERE id = $1",
                &[yanglao_store::Value::Int(item_id)],
            )
            .expect("q")
            .expect("row");
        assert_eq!(status.text(0).expect("s"), "closed");
        assert_eq!(status.text(1).expect("o"), "已核实，下月起按100元发放");

        // Closing an 应享未享 item with "已纳入享受" records what the person now receives.
        let (unclaimed_id, unclaimed_person) = {
            let r = db
                .query_one(
                    "SELECT id, person_id FROM work_item WHERE kind = 'unclaimed' ORDER BY id LIMIT 1",
                    &[],
                )
                .expect("q")
                .expect("an unclaimed item");
            (r.int(0).expect("id"), r.int(1).expect("person"))
        };
        let r = rt.block_on(send(
            &app,
            post(
                &format!("/work/{unclaimed_id}/close"),
                Some(&cookie),
                &format!(
                    "csrf={token}&outcome={}&by={}&enrol=1",
                    enc("已上门核实并纳入发放"),
                    enc("李社工")
                ),
            ),
        ));
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let source = db
            .query_one(
                "SELECT source FROM benefit_receipt WHERE person_id = $1 AND item_code = 'gaoling-jintie'",
                &[yanglao_store::Value::Int(unclaimed_person)],
            )
            .expect("q")
            .expect("a receipt recorded by the worker")
            .text(0)
            .expect("text");
        // Who closed it is the signed-in user, not the name a form carries.
        assert_eq!(source, "个案工作者确认（caseworker）");

        // A person's entitlements, explained.
        let r = rt.block_on(send(&app, get(&format!("/persons/{pid}/entitlements"), None)));
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("享受高龄津贴 100.00 元/月"), "{}", t.name);
        assert!(r.body.contains("依据《内蒙古自治区基本养老服务清单》第5项"));
        assert!(
            r.body.contains("不符合"),
            "the items not granted say which condition failed"
        );
        let r = rt.block_on(send(&app, get(&format!("/api/persons/{pid}/entitlements"), None)));
        let json: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert!(json["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["item_code"] == "gaoling-jintie" && i["entitled"] == true));

        // Simulation of a draft raising 高龄津贴: progress, then the result and an Excel file.
        let text = yanglao_lists::content::BUILTIN[0].1.replacen(
            "name = \"高龄津贴\"\ntype = \"money\"\nvalue = \"100元\"",
            "name = \"高龄津贴\"\ntype = \"money\"\nvalue = \"150元\"",
            1,
        );
        let draft = yanglao_lists::service::save_draft(db, &text, "起草人", Utc::now()).expect("draft");
        let r = rt.block_on(send(
            &app,
            post(
                "/simulate",
                Some(&cookie),
                &format!("csrf={token}&draft={draft}&as_of=2025-01-31"),
            ),
        ));
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let location = r
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("location")
            .to_string();
        let job: u64 = location
            .rsplit('=')
            .next()
            .and_then(|j| j.parse().ok())
            .expect("job id");
        let mut body = String::new();
        for _ in 0..600 {
            let r = rt.block_on(send(&app, get(&location, Some(&cookie))));
            body = r.body;
            if !body.contains("正在测算") {
                break;
            }
            assert!(
                r.headers.get(header::REFRESH).is_some(),
                "the running page refreshes itself"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(body.contains("年度支出变化"), "{}: {body}", t.name);
        assert!(body.contains("高龄津贴"));
        let r = rt.block_on(send(&app, get(&format!("/simulate/{job}/export.xlsx"), None)));
        assert_eq!(r.status, StatusCode::OK);
        let mut wb = calamine::Xlsx::new(Cursor::new(r.bytes)).expect("a real xlsx");
        let sheet = wb.worksheet_range("按项目").expect("sheet");
        let gaoling_row = sheet
            .rows()
            .find(|row| row.first().is_some_and(|c| *c == "高龄津贴"))
            .expect("高龄津贴 row");
        let change: f64 = gaoling_row[7].to_string().parse().expect("number");
        let recipients_under_100 = db
            .query_one(
                "SELECT COUNT(*) FROM entitlement WHERE item_code = 'gaoling-jintie' AND amount_fen = 10000",
                &[],
            )
            .expect("q")
            .expect("row")
            .int(0)
            .expect("n");
        assert_eq!(change, (recipients_under_100 * 50 * 12) as f64, "{}", t.name);

        // A draft that changes nothing says so.
        let same =
            yanglao_lists::content::BUILTIN[0]
                .1
                .replacen("change_note = ", "change_note = \"仅文字调整\"\n# ", 1);
        let draft = yanglao_lists::service::save_draft(db, &same, "起草人", Utc::now()).expect("draft");
        let r = rt.block_on(send(
            &app,
            post("/simulate", Some(&cookie), &format!("csrf={token}&draft={draft}")),
        ));
        let location = r
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("location")
            .to_string();
        for _ in 0..600 {
            body = rt.block_on(send(&app, get(&location, Some(&cookie)))).body;
            if !body.contains("正在测算") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(body.contains("不影响任何人"), "{}: {body}", t.name);
    }
}
