//! The care-visit pages over HTTP (Router::oneshot), on SQLite and PostgreSQL: a village
//! visitor sees who is due this week, records a visit with a finding and a referral (the CSRF
//! check, a resubmission stored once), the referral is closed, and the rate table, its export
//! and the API agree (issue #7 "Done when").

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use chrono::{NaiveDate, Utc};
use tower::ServiceExt;
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{DivisionCode, IdNumber};
use yanglao_store::registry::{self, apply_batch, NewBatch, Staged, StagedFact};
use yanglao_store::{divisions, testing, Db};
use yanglao_web::{router, App};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

struct Reply {
    status: StatusCode,
    body: String,
    bytes: Vec<u8>,
    headers: HeaderMap,
}

impl Reply {
    fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
}

struct Client {
    app: Arc<App>,
    rt: tokio::runtime::Runtime,
    cookie: String,
    token: String,
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Client {
    fn send(&self, req: Request<Body>) -> Reply {
        self.rt.block_on(async {
            let res = router(self.app.clone()).oneshot(req).await.expect("response");
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

    fn get(&self, uri: &str) -> Reply {
        let req = Request::builder()
            .uri(uri)
            .header(header::COOKIE, self.cookie.clone())
            .body(Body::empty())
            .expect("request");
        self.send(req)
    }

    fn post_json(&self, uri: &str, body: &serde_json::Value) -> Reply {
        let req = Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, self.cookie.clone())
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(req)
    }

    fn post(&self, uri: &str, pairs: &[(&str, &str)], csrf: bool) -> Reply {
        let mut body: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        if csrf {
            body.push(format!("csrf={}", self.token));
        }
        let req = Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, self.cookie.clone())
            .body(Body::from(body.join("&")))
            .expect("request");
        self.send(req)
    }
}

/// People as the departments' files would bring them: 户籍 (公安) and 居住状况 (民政).
fn people(db: &Db, list: &[(&IdNumber, &str, &str, &str)]) -> Vec<i64> {
    for (n, (source, department)) in [("gongan_hukou", "gongan"), ("minzheng_living", "minzheng")]
        .into_iter()
        .enumerate()
    {
        let mut items = Vec::new();
        for (i, (id, name, village, living)) in list.iter().enumerate() {
            let (kind, value) = if n == 0 {
                ("hukou", DivisionCode::parse(village).expect("code").full())
            } else {
                ("living", living.to_string())
            };
            items.push(Ok(Staged::Fact(StagedFact {
                person_id: None,
                row_no: i as i64 + 2,
                id_number: id.as_str().into(),
                name: name.to_string(),
                sex: id.sex().code(),
                birth_date: id.birth_date(),
                kind,
                value,
                valid_from: d(2000, 1, 1),
                valid_to: None,
                first_of_person: true,
            })));
            items.push(Ok(Staged::RowDone { ok: true }));
        }
        let meta = NewBatch {
            source: source.into(),
            department: department.into(),
            file_name: format!("{source}.csv"),
            sha256: format!("sha-{source}"),
            size_bytes: 1,
            encoding: "UTF-8".into(),
            archive_path: None,
            now: Utc::now(),
            fail_at: None,
        };
        apply_batch(db, &meta, &mut items.into_iter()).expect("batch");
    }
    list.iter()
        .map(|(id, ..)| {
            registry::person_by_id_number(db, id.as_str())
                .expect("q")
                .expect("person")
                .id
        })
        .collect()
}

/// The text between `start` and the next `"` after it.
fn attr(s: &str, start: &str) -> String {
    let i = s.find(start).unwrap_or_else(|| panic!("no {start} in page")) + start.len();
    s[i..].chars().take_while(|c| *c != '"').collect()
}

#[test]
fn a_village_visitor_records_a_visit_and_the_referral_is_closed() {
    for t in testing::all() {
        let db = &t.db;
        divisions::save_catalogue(db, &builtin::catalogue()).expect("divisions");
        let cat = divisions::load_catalogue(db).expect("catalogue");
        let zhang = IdNumber::from_parts("150402", d(1940, 3, 5), 11).expect("id");
        let li = IdNumber::from_parts("150402", d(1950, 4, 6), 12).expect("id");
        let ids = people(
            db,
            &[
                (&zhang, "张秀兰", "150402001201", "独居"),
                (&li, "李桂英", "150402001201", "空巢"),
            ],
        );
        let now = Utc::now();
        let visitor = yanglao_visits::service::register_visitor(
            db,
            "王网格",
            "网格员",
            "150402001201",
            "",
            d(2025, 1, 1),
            "测试",
            now,
        )
        .expect("visitor");
        yanglao_visits::service::assign(db, visitor, &ids, d(2025, 6, 1), "测试", now).expect("assign");
        let mut app = App::new(db.clone(), cat);
        app.today = Box::new(|| d(2025, 6, 30));
        let mut c = Client {
            app: Arc::new(app),
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime"),
            cookie: String::new(),
            token: String::new(),
        };
        let (cookie, token) =
            c.rt.block_on(yanglao_web::testing::login(&c.app, "caseworker", "case", "150402"));
        (c.cookie, c.token) = (cookie, token);

        // 001 §4 "确保特殊困难老年人月探访率达到100%": the visitor's week — both are due (never visited).
        let r = c.get(&format!("/visits/mine?visitor={visitor}"));
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        assert!(r.body.contains("张秀兰") && r.body.contains("李桂英"), "{}", t.name);
        assert!(
            r.body.contains("/static/visits.js"),
            "{}: the offline helper is loaded",
            t.name
        );
        let form = c.get(&format!("/visits/record?visitor={visitor}&person={}", ids[0]));
        assert_eq!(form.status, StatusCode::OK, "{}: {}", t.name, form.body);
        let key = attr(&form.body, "name=\"key\" value=\"");
        assert_eq!(key.len(), 36, "{}: a UUID made for the page", t.name);
        // 000 §7 "及时了解老年人基本生活、安全风险、家庭赡养、关爱保护等情况并提供有针对性的帮扶和救助措施".
        let visit = [
            ("key", key.as_str()),
            ("visitor", &visitor.to_string()),
            ("person", &ids[0].to_string()),
            ("date", "2025-06-28"),
            ("mode", "上门"),
            ("f0_status", "正常"),
            ("f0_note", ""),
            ("f1_status", "异常"),
            ("f1_note", "燃气灶软管老化"),
            ("f2_status", "正常"),
            ("f3_status", "关注"),
            ("f3_note", "子女长期在外"),
            ("followup_kind", "转介服务"),
            ("followup_detail", "转介燃气公司上门更换软管"),
            ("note", "老人精神尚好"),
        ];
        let r = c.post("/visits/record", &visit, false);
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: no CSRF token, refused", t.name);
        let r = c.post("/visits/record", &visit, true);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        assert!(
            r.location().contains(&format!("saved={key}")),
            "{}: {}",
            t.name,
            r.location()
        );
        // The page (or its script) sends it again after a dropped connection: stored once.
        let r = c.post("/visits/record", &visit, true);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", t.name);
        assert!(r.location().contains("dup=1"), "{}", t.name);
        let visits = yanglao_store::visits::visits_of_person(db, ids[0]).expect("visits");
        assert_eq!(visits.len(), 1, "{}", t.name);
        let findings = yanglao_store::visits::findings(db, visits[0].id).expect("findings");
        assert_eq!(findings.len(), 4, "{}", t.name);
        assert!(
            findings.contains(&("健康与安全风险".into(), "异常".into(), "燃气灶软管老化".into())),
            "{}: {findings:?}",
            t.name
        );
        // 张秀兰 (85, 独居: 高风险, weekly) is due again on 07-05, still within this week; the
        // page shows the visit just made.
        let r = c.get(&format!("/visits/mine?visitor={visitor}"));
        assert!(
            r.body.contains("上次 2025-06-28") && r.body.contains("应于 2025-07-05"),
            "{}: {}",
            t.name,
            r.body
        );

        // The referral, followed to closure.
        let r = c.get("/visits/followups?division=150402");
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        assert!(r.body.contains("转介燃气公司上门更换软管"), "{}", t.name);
        let action = attr(&r.body, "action=\"/visits/followups/");
        let fid: i64 = action.trim_end_matches("/close").parse().expect("follow-up id");
        let r = c.post(
            &format!("/visits/followups/{fid}/close"),
            &[
                ("on", "2025-06-29"),
                ("outcome", "燃气公司已更换软管"),
                ("division", "150402"),
            ],
            true,
        );
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let f = yanglao_store::visits::followup(db, fid).expect("q").expect("row");
        assert_eq!(f.status, "closed", "{}", t.name);
        assert_eq!(
            f.closed_by.as_deref(),
            Some("caseworker"),
            "{}: the signed-in user",
            t.name
        );
        assert_eq!(f.outcome.as_deref(), Some("燃气公司已更换软管"));
        let r = c.get("/visits/followups?division=150402&status=closed");
        assert!(r.body.contains("燃气公司已更换软管"), "{}", t.name);

        // The rate: 1 of 2 visited in June, with the definition beside it.
        let r = c.get("/visits?division=150402001&month=2025-06");
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        assert!(r.body.contains("50.0%"), "{}", t.name);
        assert!(r.body.contains("整月在册"), "{}: the definition is shown", t.name);
        let api: serde_json::Value =
            serde_json::from_str(&c.get("/api/visits/rate?division=150402001&month=2025-06").body).expect("json");
        assert_eq!(api["total"]["on_list"], 2, "{}", t.name);
        assert_eq!(api["total"]["visited"], 1, "{}", t.name);
        let x = c.get("/visits/rate.xlsx?division=150402&month=2025-06");
        assert_eq!(x.status, StatusCode::OK, "{}", t.name);
        assert!(x.bytes.starts_with(b"PK"), "{}: a workbook", t.name);
        let x = c.get("/visits/overdue.xlsx?division=150402&overdue=0");
        assert_eq!(x.status, StatusCode::OK, "{}", t.name);
        let js = c.get("/static/visits.js");
        assert!(js.body.contains("localStorage"), "{}", t.name);

        // A festival campaign declared on the overdue page: 张秀兰 (高风险, visited 06-28, before
        // the window) needs one more visit by its end, earlier than her weekly date 07-05.
        let r = c.post(
            "/visits/campaigns",
            &[
                ("division", "150402001"),
                ("name", "端午节探访"),
                ("reason", "传统节日"),
                ("from", "2025-06-29"),
                ("to", "2025-07-02"),
                ("tier_high", "1"),
            ],
            true,
        );
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let r = c.get("/visits/overdue?division=150402&overdue=0");
        assert!(
            r.body.contains("端午节探访（传统节日，2025-06-29 至 2025-07-02）"),
            "{}: {}",
            t.name,
            r.body
        );

        // The JSON API: another system records a 视频 visit to 李桂英 with an emergency, twice.
        let body = serde_json::json!({
            "key": "3f1c2a9e-5b7d-4e21-9a0b-1c2d3e4f5a6b",
            "person_id": ids[1], "visitor_id": visitor, "date": "2025-06-29", "mode": "视频",
            "findings": [{"heading": "健康与安全风险", "status": "异常", "note": "跌倒后行动不便"}],
            "followups": [{"kind": "紧急处置", "detail": "联系120并通知子女"}]
        });
        let r = c.post_json("/api/visits", &body);
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.name, r.body);
        let first: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        let r = c.post_json("/api/visits", &body);
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        let again: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(
            (again["id"].clone(), again["duplicate"].clone()),
            (first["id"].clone(), serde_json::json!(true))
        );
        let open: serde_json::Value =
            serde_json::from_str(&c.get("/api/visits/followups?division=150402").body).expect("json");
        let list = open["followups"].as_array().expect("list");
        assert_eq!(list.len(), 1, "{}: {open}", t.name);
        assert_eq!(list[0]["kind"], "紧急处置");
        let fid = list[0]["id"].as_i64().expect("id");
        let r = c.post_json(
            &format!("/api/visits/followups/{fid}/close"),
            &serde_json::json!({"on": "2025-06-29", "outcome": "已送医，子女到场"}),
        );
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        // With both visited in June, 西屯街道's village is at 100%.
        let api: serde_json::Value =
            serde_json::from_str(&c.get("/api/visits/rate?division=150402001&month=2025-06").body).expect("json");
        assert_eq!(
            (api["total"]["on_list"].clone(), api["total"]["visited"].clone()),
            (serde_json::json!(2), serde_json::json!(2))
        );

        // Outside the user's scope: refused.
        let r = c.get("/visits?division=150102");
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", t.name);

        // A visitor's own account: their week opens without choosing, and they cannot act as
        // another visitor.
        let other = yanglao_visits::service::register_visitor(
            db,
            "赵志愿",
            "志愿者",
            "150402001201",
            "",
            d(2025, 1, 1),
            "测试",
            now,
        )
        .expect("visitor");
        let (own_cookie, _) =
            c.rt.block_on(yanglao_web::testing::login(&c.app, "wangwg", "visitor", "150402001201"));
        yanglao_store::visits::link_account(db, visitor, Some("wangwg")).expect("link");
        c.cookie = own_cookie;
        let r = c.get("/visits/mine");
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        assert!(
            r.body.contains("王网格") && r.body.contains("张秀兰"),
            "{}: their own week",
            t.name
        );
        let r = c.get(&format!("/visits/mine?visitor={other}"));
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: not as another visitor", t.name);
        let r = c.get(&format!("/visits/record?visitor={other}&person={}", ids[0]));
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", t.name);
    }
}
