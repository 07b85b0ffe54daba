//! The capability assessment pages over HTTP (Router::oneshot), on SQLite and PostgreSQL: a whole
//! assessment from request to printed report, the CSRF check, the tablet entry's live saves,
//! amendments, the overdue list and the statistics.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use chrono::{NaiveDate, Utc};
use tower::ServiceExt;
use yanglao_assessment::gbt42195::INDICATORS;
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{DivisionCode, IdNumber};
use yanglao_store::registry::{self, apply_batch, NewBatch, Staged, StagedFact};
use yanglao_store::{divisions, testing, Db};
use yanglao_web::{router, App};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

struct Client {
    app: Arc<App>,
    rt: tokio::runtime::Runtime,
    cookie: String,
    token: String,
}

struct Reply {
    status: StatusCode,
    body: String,
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
            let bytes = axum::body::to_bytes(res.into_body(), 16 << 20).await.expect("body");
            Reply {
                status,
                body: String::from_utf8_lossy(&bytes).to_string(),
                headers,
            }
        })
    }

    fn get(&mut self, uri: &str) -> Reply {
        let mut req = Request::builder().uri(uri);
        if !self.cookie.is_empty() {
            req = req.header(header::COOKIE, self.cookie.clone());
        }
        let r = self.send(req.body(Body::empty()).expect("request"));
        // The first page with forms hands out the CSRF cookie; its value is the form token.
        if let Some(c) = r.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()) {
            if let Some(v) = c.split(';').next().and_then(|kv| kv.strip_prefix("yl_csrf=")) {
                self.token = v.to_string();
                self.cookie = format!("yl_csrf={v}");
            }
        }
        r
    }

    /// Posts a form with the CSRF token (unless `csrf` is false).
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

fn person(db: &Db, id: &IdNumber, name: &str, village: &str, sha: &str) -> i64 {
    let meta = NewBatch {
        source: "gongan_hukou".into(),
        department: "gongan".into(),
        file_name: "户籍.csv".into(),
        sha256: sha.into(),
        size_bytes: 1,
        encoding: "UTF-8".into(),
        archive_path: None,
        now: Utc::now(),
        fail_at: None,
    };
    let mut items = vec![
        Ok(Staged::Fact(StagedFact {
            person_id: None,
            row_no: 2,
            id_number: id.as_str().into(),
            name: name.into(),
            sex: id.sex().code(),
            birth_date: id.birth_date(),
            kind: "hukou",
            value: DivisionCode::parse(village).expect("code").full(),
            valid_from: d(2000, 1, 1),
            valid_to: None,
            first_of_person: true,
        })),
        Ok(Staged::RowDone { ok: true }),
    ]
    .into_iter();
    apply_batch(db, &meta, &mut items).expect("person");
    registry::person_by_id_number(db, id.as_str())
        .expect("q")
        .expect("person")
        .id
}

/// The number after `prefix` in `s` (e.g. a record id in a link).
fn number_after(s: &str, prefix: &str) -> i64 {
    let i = s.find(prefix).unwrap_or_else(|| panic!("no {prefix} in page")) + prefix.len();
    s[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .expect("number")
}

#[test]
fn an_assessment_from_request_to_report_on_both_databases() {
    for t in testing::all() {
        let db = &t.db;
        divisions::save_catalogue(db, &builtin::catalogue()).expect("divisions");
        let cat = divisions::load_catalogue(db).expect("catalogue");
        let id = IdNumber::from_parts("150102", d(1940, 3, 5), 11).expect("id");
        let pid = person(db, &id, "张三", "150102001001", "p1");
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
        let (cookie, token) = c.rt.block_on(yanglao_web::testing::login(
            &c.app,
            "assessor",
            yanglao_web::testing::ALL_WORK_ROLES,
            "*",
        ));
        (c.cookie, c.token) = (cookie, token);

        // Agencies and assessors.
        let r = c.get("/assessments/agencies");
        assert_eq!(r.status, StatusCode::OK, "{}", t.name);
        assert!(!c.token.is_empty(), "{}: the page hands out a CSRF token", t.name);
        let agency_form = [
            ("name", "新城区老年人能力评估中心"),
            ("division", "150102"),
            ("qualification", "新城区民政局认定"),
            ("qualified_from", "2024-01-01"),
            ("qualified_to", ""),
            ("by", "管理员"),
        ];
        let r = c.post("/assessments/agencies", &agency_form, false);
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{}: a form without the CSRF token is refused",
            t.name
        );
        let r = c.post("/assessments/agencies", &agency_form, true);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let agency = yanglao_store::assessments::agencies(db).expect("agencies")[0].id;
        for (name, cert) in [("王评估", "PG-001"), ("李评估", "PG-002")] {
            let r = c.post(
                "/assessments/assessors",
                &[
                    ("agency_id", &agency.to_string()),
                    ("name", name),
                    ("certificate", cert),
                    ("qualification", "老年人能力评估师（三级）"),
                    ("qualified_from", "2023-01-01"),
                    ("by", "管理员"),
                ],
                true,
            );
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        }
        let assessors = yanglao_store::assessments::assessors(db, Some(agency)).expect("assessors");
        let (a1, a2) = (assessors[1].id.to_string(), assessors[0].id.to_string());
        let r = c.get("/assessments/agencies");
        assert!(
            r.body.contains("PG-001") && r.body.contains("新城区民政局认定"),
            "{}",
            t.name
        );

        // Request: the person found by full ID number, which is not echoed back.
        let r = c.get(&format!("/assessments/new?q={}", id.as_str()));
        assert!(r.body.contains(&id.masked()), "{}: ID shown masked", t.name);
        assert!(!r.body.contains(id.as_str()), "{}: full ID never on the page", t.name);
        let r = c.get(&format!("/assessments/new?person={pid}"));
        assert!(r.body.contains("评估原因（A.1.3）"), "{}", t.name);
        let r = c.post(
            "/assessments/requests",
            &[
                ("person_id", &pid.to_string()),
                ("requested_by", "family"),
                ("requester", "张家属"),
                ("reason", "first"),
                ("note", ""),
                ("disputed_record_id", ""),
                ("requested_on", "2025-06-01"),
                ("by", "窗口"),
            ],
            true,
        );
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let q = number_after(&r.location(), "/assessments/requests/");
        let req = format!("/assessments/requests/{q}");
        let r = c.get(&req);
        assert!(r.body.contains("已申请") && r.body.contains("安排评估"), "{}", t.name);
        assert!(!r.body.contains(id.as_str()), "{}: full ID never on the page", t.name);
        // Publishing before anything was assessed is refused (requested → result is no move).
        let r = c.post(&format!("{req}/publish"), &[("by", "刘审核")], true);
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", t.name);

        let r = c.post(
            &format!("{req}/schedule"),
            &[
                ("agency_id", &agency.to_string()),
                ("on", "2025-06-02"),
                ("by", "调度员"),
            ],
            true,
        );
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let r = c.get(&req);
        let rid = number_after(&r.body, "/assessments/records/");
        let entry = format!("/assessments/records/{rid}/entry");

        // The tablet page: one indicator per screen, options with their scores, the script.
        let r = c.get(&format!("{entry}?s=2"));
        assert_eq!(r.status, StatusCode::OK, "{}", t.name);
        assert!(
            r.body.contains("B.1 自理能力") && r.body.contains("B.1.8"),
            "{}",
            t.name
        );
        assert!(
            !r.body.contains("B.2.1 床上体位转移"),
            "{}: one indicator per screen",
            t.name
        );
        assert!(
            r.body.contains("data-score=\"4\"") && r.body.contains("4分"),
            "{}",
            t.name
        );
        assert!(r.body.contains("/static/assessment.js"), "{}", t.name);
        let css = c.get("/static/assessment.css");
        assert!(css.body.contains("min-height: 56px") && css.body.contains("@media print"));
        let js = c.get("/static/assessment.js");
        assert!(
            js.body.contains("localStorage"),
            "drafts kept in the browser until saved"
        );
        // B.3.9's score 0 is offered as 昏睡 and 昏迷 (README §1.3).
        let r = c.get(&format!("{entry}?s=4"));
        assert!(
            r.body.contains("value=\"0c\"") && r.body.contains("data-coma=\"1\""),
            "{}",
            t.name
        );

        // Saves from the page's script: field by field, JSON back, bad values refused at once.
        let save = format!("/assessments/records/{rid}/save");
        let r = c.post(&save, &[("_ajax", "1"), ("B.1.1", "4"), ("B.2.4", "4")], true);
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["saved"], serde_json::json!(["B.1.1"]), "{}", t.name);
        assert_eq!(v["errors"][0][0], "B.2.4", "{}: B.2.4 scores 0–3 (Appendix B)", t.name);
        let r = c.post(&save, &[("_ajax", "1"), ("B.1.1", "4")], false);
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: saves need the token too", t.name);
        // A multiple choice cleared: `_present` with no values.
        let r = c.post(
            &save,
            &[("_ajax", "1"), ("A.2.10", "独居"), ("A.2.10", "与配偶居住")],
            true,
        );
        assert!(r.body.contains("A.2.10"), "{}: {}", t.name, r.body);
        let r = c.post(&save, &[("_ajax", "1"), ("_present", "A.2.10")], true);
        assert!(r.body.contains("\"saved\":[\"A.2.10\"]"), "{}: {}", t.name, r.body);

        // The plain form (no script): a screen saved, on to the next.
        let mut screen: Vec<(String, String)> = INDICATORS[0]
            .items
            .iter()
            .map(|i| (i.code.to_string(), i.max().to_string()))
            .collect();
        screen.push(("_screen".into(), "2".into()));
        screen.push(("_go".into(), "3".into()));
        let pairs: Vec<(&str, &str)> = screen.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = c.post(&save, &pairs, true);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        assert!(r.location().ends_with("entry?s=3"), "{}", t.name);
        // A bad value on the plain form: the same screen again, with the reason beside the item.
        let r = c.post(&save, &[("_screen", "3"), ("_go", "4"), ("B.2.4", "9")], true);
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
        assert!(r.body.contains("不是该项的可选分值"), "{}", t.name);

        // The rest: B.2–B.4, the C.4 inputs, two fall events (C.4 (3)), the assessors.
        let mut rest: Vec<(String, String)> = INDICATORS[1..]
            .iter()
            .flat_map(|ind| ind.items.iter())
            .map(|i| {
                (
                    i.code.to_string(),
                    if i.code.starts_with("B.3") {
                        "0".into()
                    } else {
                        i.max().to_string()
                    },
                )
            })
            .collect();
        for (k, v) in [
            ("A.2.14.1", "2"),
            ("A.2.14.2", "0"),
            ("A.2.14.3", "0"),
            ("A.2.14.4", "0"),
            ("A.2.14.5", "0"),
            ("A.5.11", "无"),
            ("A.2.4", "162"),
            ("assessor1", a1.as_str()),
            ("assessor2", a2.as_str()),
            ("_ajax", "1"),
        ] {
            rest.push((k.into(), v.into()));
        }
        let pairs: Vec<(&str, &str)> = rest.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = c.post(&save, &pairs, true);
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["errors"], serde_json::json!([]), "{}", t.name);

        // Summary: B.3 all 0 → 62 (C.3 2级), two falls → 3级 (C.4 (3)).
        let r = c.get(&format!("{entry}?s=6"));
        assert!(r.body.contains("62 / 90"), "{}", t.name);
        assert!(
            r.body.contains("3级 能力重度受损（重度失能）"),
            "{}: C.4（3）raises one level",
            t.name
        );
        assert!(r.body.contains("C.4（3）"), "{}: the clause is shown", t.name);
        let r = c.post(&format!("/assessments/records/{rid}/submit"), &[("by", "王评估")], true);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let r = c.get(&req);
        assert!(
            r.body.contains("已评估待审核") && r.body.contains("C.1.3"),
            "{}",
            t.name
        );
        assert!(r.body.contains("审核通过"), "{}", t.name);
        // Saving after submission is refused.
        let r = c.post(&save, &[("_ajax", "1"), ("B.1.1", "0")], true);
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", t.name);

        let r = c.post(
            &format!("{req}/review"),
            &[("by", "刘审核"), ("note", ""), ("decision", "approve")],
            true,
        );
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let r = c.post(&format!("{req}/publish"), &[("by", "刘审核")], true);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);

        // One result used everywhere: the person page shows the level as a registry fact.
        let r = c.get(&format!("/persons/{pid}"));
        assert!(r.body.contains("老年人能力等级"), "{}", t.name);
        assert!(r.body.contains("能力重度受损（重度失能）"), "{}", t.name);

        // The report prints in Chinese with scores per indicator, the clauses and both names.
        let r = c.get(&format!("/assessments/records/{rid}/report"));
        assert_eq!(r.status, StatusCode::OK, "{}", t.name);
        for want in [
            "老年人能力评估报告",
            "C.1.1",
            "C.1.4",
            "62 / 90",
            "C.4（3）近30天内发生过2次及以上照护风险事件",
            "3级 能力重度受损（重度失能）",
            "评估员签名",
            "王评估",
            "李评估",
            "信息提供者签名",
            "PG20250602",
        ] {
            assert!(r.body.contains(want), "{}: report lacks {want}", t.name);
        }
        assert!(
            r.body.contains(&id.masked()) && !r.body.contains(id.as_str()),
            "{}: ID masked",
            t.name
        );

        // Amendment: a reason is required, then who/when/why/old→new are shown.
        let amend = format!("/assessments/records/{rid}/amend");
        let r = c.post(&amend, &[("level", "2"), ("reason", ""), ("by", "陈科长")], true);
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", t.name);
        let r = c.post(
            &amend,
            &[("level", "2"), ("reason", "跌倒次数经核实为1次"), ("by", "陈科长")],
            true,
        );
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let r = c.get(&req);
        assert!(
            r.body.contains("跌倒次数经核实为1次") && r.body.contains("陈科长"),
            "{}",
            t.name
        );
        let r = c.get(&format!("/persons/{pid}"));
        assert!(r.body.contains("能力中度受损（中度失能）"), "{}", t.name);

        // Overdue a year later (default period 12 months), and statistics.
        let r = c.get("/assessments/overdue?division=150102&as_of=2026-06-03");
        assert!(r.body.contains("张三") && r.body.contains("已满 12 个月"), "{}", t.name);
        let r = c.get("/assessments/overdue?division=150102&as_of=2026-06-01");
        assert!(!r.body.contains("张三"), "{}: not yet due", t.name);
        let r = c.get("/assessments/stats?division=150102&as_of=2025-06-30");
        assert!(
            r.body.contains("100.0%"),
            "{}: the one person aged 65+ is assessed",
            t.name
        );
        let r = c.get("/assessments");
        assert!(r.body.contains("结果已生效"), "{}", t.name);
    }
}
