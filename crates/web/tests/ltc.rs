//! The 长期护理失能等级评估 pages over HTTP (Router::oneshot), on SQLite and PostgreSQL: the LTC
//! result beside the GB/T 42195 result with masked ID numbers, the CSRF check on the entry form,
//! no grade until a table is loaded, persons outside the pilot cities refused, and the list of
//! loaded tables.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use chrono::{NaiveDate, Utc};
use tower::ServiceExt;
use yanglao_assessment::gbt42195::INDICATORS;
use yanglao_assessment::import::{self, Outcome};
use yanglao_assessment::ltc::DIMENSIONS;
use yanglao_assessment::ltc_service::{self, TableInput};
use yanglao_assessment::service::{self, AgencyInput, AssessorInput};
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{DivisionCode, IdNumber};
use yanglao_store::registry::{self, apply_batch, NewBatch, Staged, StagedFact};
use yanglao_store::{divisions, testing, Db};
use yanglao_web::{router, App};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// TEST FIXTURE ONLY: README §2.3's UNCONFIRMED recollection (认知 / 感知觉与沟通 cut-offs made
/// up); not official grading rules.
const FIXTURE_TABLE: &str = r#"
source = "测试用：standards/README.md §2.3 未核实的回忆，非官方"
adl = { intact_min = 100, mild_min = 65, moderate_min = 45 }
cognition = { intact_min = 16, mild_min = 12, moderate_min = 8 }
perception = { intact_min = 12, mild_min = 9, moderate_min = 6 }

[combination]
method = "adl_by_worse_other"
grades = [[0, 0, 1, 1], [1, 1, 1, 2], [2, 2, 2, 3], [3, 3, 4, 5]]
"#;

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
        if let Some(c) = r.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()) {
            if let Some(v) = c.split(';').next().and_then(|kv| kv.strip_prefix("yl_csrf=")) {
                self.token = v.to_string();
                self.cookie = format!("yl_csrf={v}");
            }
        }
        r
    }

    fn post(&self, uri: &str, pairs: &[(String, String)], csrf: bool) -> Reply {
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

/// A GB/T 42195 result for `id` (every item at its best: 能力完好), imported as a CSV.
fn gbt_result(db: &Db, id: &IdNumber, name: &str) {
    let dir = testing::TempDir::new("yanglao-ltc-web");
    let mut row: Vec<String> = [
        id.as_str(),
        name,
        "2025-02-01",
        "",
        "常规评估",
        "新城区评估中心",
        "王评估",
        "李评估",
    ]
    .map(String::from)
    .to_vec();
    row.extend(
        INDICATORS
            .iter()
            .flat_map(|i| i.items.iter())
            .map(|i| i.max().to_string()),
    );
    row.extend(["0", "0", "0", "0", "0", "无", "", "", ""].map(String::from));
    let csv = format!("{}\n{}\n", import::template_header().join(","), row.join(","));
    let path = dir.path().join("外部评估.csv");
    std::fs::write(&path, csv).expect("write");
    match import::import_file(db, &path, "刘审核", d(2025, 6, 30), Utc::now()).expect("import") {
        Outcome::Applied { .. } => {}
        other => panic!("GB/T import: {other:?}"),
    }
}

/// The LTC form: ADL 50, 认知 and 感知觉与沟通 full marks.
fn ltc_form(agency: i64, a1: i64, a2: i64, on: &str) -> Vec<(String, String)> {
    let adl = [10u8, 10, 5, 10, 10, 5, 0, 0, 0, 0];
    let mut out = Vec::new();
    for (di, dim) in DIMENSIONS.iter().enumerate() {
        for (ii, item) in dim.items.iter().enumerate() {
            let score = if di == 0 { adl[ii] } else { item.max() };
            out.push((item.code.to_string(), score.to_string()));
        }
    }
    for (k, v) in [
        ("assessed_on", on.to_string()),
        ("agency_id", agency.to_string()),
        ("assessor1", a1.to_string()),
        ("assessor2", a2.to_string()),
        ("by", "经办人".to_string()),
    ] {
        out.push((k.to_string(), v));
    }
    out
}

#[test]
fn ltc_pages_side_by_side_on_both_databases() {
    for t in testing::all() {
        let db = &t.db;
        divisions::save_catalogue(db, &builtin::catalogue()).expect("divisions");
        let cat = divisions::load_catalogue(db).expect("catalogue");
        let now = Utc::now();
        let agency = service::register_agency(
            db,
            &AgencyInput {
                name: "新城区评估中心",
                division: "150102",
                qualification: "新城区民政局认定",
                qualified_from: d(2024, 1, 1),
                qualified_to: None,
            },
            "管理员",
            now,
        )
        .expect("agency");
        let assessor = |name: &str, cert: &str| {
            service::register_assessor(
                db,
                &AssessorInput {
                    agency_id: agency,
                    name,
                    certificate: cert,
                    qualification: "评估师",
                    qualified_from: d(2024, 1, 1),
                    qualified_to: None,
                },
                "管理员",
                now,
            )
            .expect("assessor")
        };
        let (a1, a2) = (assessor("王评估", "PG-001"), assessor("李评估", "PG-002"));
        let id = IdNumber::from_parts("150102", d(1940, 3, 5), 11).expect("id");
        let pid = person(db, &id, "张三", "150102001001", "p1");
        gbt_result(db, &id, "张三");
        let outsider = IdNumber::from_parts("150202", d(1941, 3, 5), 13).expect("id");
        let oid = person(db, &outsider, "李四", "150202001001", "p2");

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

        let r = c.get(&format!("/assessments/ltc/person/{pid}/new"));
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        assert!(!c.token.is_empty(), "{}: the entry page hands out a CSRF token", t.name);
        for dim in &DIMENSIONS {
            assert!(r.body.contains(dim.name), "{}: section {}", t.name, dim.name);
        }
        assert!(r.body.contains("C1.10"), "{}", t.name);
        assert!(
            !r.body.contains(id.as_str()),
            "{}: full ID number on the entry page",
            t.name
        );

        let uri = format!("/assessments/ltc/person/{pid}/new");
        let form = ltc_form(agency, a1, a2, "2025-03-01");
        let r = c.post(&uri, &form, false);
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: POST without CSRF", t.name);
        assert!(
            ltc_service::person_assessments(db, pid).expect("list").is_empty(),
            "{}: nothing saved without CSRF",
            t.name
        );
        let r = c.post(&uri, &form, true);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);

        let r = c.get(&format!("/assessments/ltc/person/{pid}"));
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.name, r.body);
        assert!(r.body.contains(&id.masked()), "{}: masked ID number shown", t.name);
        assert!(!r.body.contains(id.as_str()), "{}: full ID number leaked", t.name);
        let gbt = r.body.find("id=\"gbt\"").expect("GB/T column");
        let ltc = r.body.find("id=\"ltc\"").expect("LTC column");
        assert!(
            r.body[gbt..ltc].contains("能力完好"),
            "{}: the GB/T 42195 level beside the LTC result: {}",
            t.name,
            &r.body[gbt..ltc]
        );
        let ltc_part = &r.body[ltc..];
        assert!(ltc_part.contains("50 / 100"), "{}", t.name);
        assert!(
            ltc_part.contains("未载入分级表，暂不给出失能等级"),
            "{}: no grade without a table",
            t.name
        );
        assert!(!ltc_part.contains("中度失能"), "{}", t.name);

        let r = c.get("/assessments/ltc/tables");
        assert_eq!(r.status, StatusCode::OK, "{}", t.name);
        assert!(r.body.contains("尚未载入分级表"), "{}", t.name);

        let table = ltc_service::parse_table(FIXTURE_TABLE).expect("fixture");
        ltc_service::load_table(
            db,
            &table,
            &TableInput {
                division: "150100",
                valid_from: d(2025, 4, 1),
                source_document: "测试用实施细则",
            },
            "管理员",
            now,
        )
        .expect("load");
        let r = c.post(&uri, &ltc_form(agency, a1, a2, "2025-05-01"), true);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.name, r.body);
        let r = c.get(&format!("/assessments/ltc/person/{pid}"));
        let ltc_part = &r.body[r.body.find("id=\"ltc\"").expect("LTC column")..];
        assert!(ltc_part.contains("2级（中度失能）"), "{}: {ltc_part}", t.name);
        assert!(
            ltc_part.contains("未载入分级表，暂不给出失能等级"),
            "{}: the March assessment stays ungraded",
            t.name
        );
        let r = c.get("/assessments/ltc/tables");
        assert!(
            r.body.contains("测试用实施细则") && r.body.contains("100/65/45"),
            "{}",
            t.name
        );
        assert!(
            r.body.contains("日常生活活动能力重度受损：3、3、4、5"),
            "{}: the combination table is shown",
            t.name
        );

        let r = c.post(
            &format!("/assessments/ltc/person/{oid}/new"),
            &ltc_form(agency, a1, a2, "2025-05-01"),
            true,
        );
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", t.name);
        assert!(r.body.contains("试点城市"), "{}: {}", t.name, r.body);
        let r = c.post(&uri, &ltc_form(agency, a1, a1, "2025-05-01"), true);
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}: the same assessor twice", t.name);
    }
}
