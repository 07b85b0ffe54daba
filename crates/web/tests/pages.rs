//! The console's pages over HTTP (Router::oneshot), on SQLite and PostgreSQL.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{NaiveDate, Utc};
use tower::ServiceExt;
use yanglao_domain::DivisionCode;
use yanglao_registry::synth::GenOptions;
use yanglao_store::{divisions, registry, testing, Db};
use yanglao_web::{router, App};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn load(db: &Db, dir: &std::path::Path) {
    yanglao_registry::synth::generate_into(
        db,
        &GenOptions {
            people: 1500,
            seed: 9,
            region: DivisionCode::parse("653200").expect("code"),
            as_of: d(2025, 6, 30),
            dirty: true,
            out: dir.join("in"),
        },
    )
    .expect("generate and import");
    yanglao_lists::service::install_builtin(db, Utc::now()).expect("lists");
}

async fn get(app: &Arc<App>, uri: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    let session = yanglao_web::testing::login_session(app, "tester", yanglao_web::testing::ALL_WORK_ROLES, "*").await;
    let res = router(app.clone())
        .oneshot(
            Request::builder()
                .uri(uri)
                .header(axum::http::header::COOKIE, session)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20).await.expect("body");
    (status, String::from_utf8_lossy(&bytes).to_string(), headers)
}

/// The blocking PostgreSQL client must not run on the runtime's threads: the test body is
/// synchronous and only the HTTP calls are driven by the runtime.
#[test]
fn pages_search_detail_imports_on_both_databases() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let get = |app: &Arc<App>, uri: &str| rt.block_on(get(app, uri));
    for t in testing::all() {
        let tmp = testing::TempDir::new("yanglao-web");
        load(&t.db, tmp.path());
        let cat = divisions::load_catalogue(&t.db).expect("catalogue");
        let mut app = App::new(t.db.clone(), cat);
        app.today = Box::new(|| d(2025, 6, 30));
        let app = Arc::new(app);

        let (s, home, headers) = get(&app, "/");
        assert_eq!(s, StatusCode::OK);
        assert!(home.contains("老年人信息库概况"), "{}", t.name);
        assert!(home.contains("lang=\"zh-CN\""));
        assert_eq!(
            headers.get("x-frame-options").map(|v| v.to_str().unwrap_or("")),
            Some("DENY")
        );

        // Someone to look for: a living person with a 户籍 fact.
        let row = t
            .db
            .query_one(
                "SELECT p.id, p.id_number, p.name FROM person p JOIN fact f ON f.person_id = p.id AND f.kind = 'hukou'
                 WHERE NOT EXISTS (SELECT 1 FROM fact x WHERE x.person_id = p.id AND x.kind = 'death') ORDER BY p.id LIMIT 1",
                &[],
            )
            .expect("q")
            .expect("a person");
        let (pid, idn, name) = (
            row.int(0).expect("id"),
            row.text(1).expect("id"),
            row.text(2).expect("name"),
        );
        let masked = format!("{}********{}", &idn[..6], &idn[14..]);

        let (s, page) = {
            let (s, b, _) = get(&app, &format!("/persons?q={idn}"));
            (s, b)
        };
        assert_eq!(s, StatusCode::OK);
        assert!(
            page.contains("共 1 人"),
            "{}: search by full ID finds exactly one",
            t.name
        );
        assert!(page.contains(&masked), "{}: ID shown masked", t.name);
        assert!(
            !page.contains(&idn),
            "{}: the full ID number never appears on the page",
            t.name
        );
        assert!(page.contains(&format!("/persons/{pid}")));

        let (s, detail, _) = get(&app, &format!("/persons/{pid}"));
        assert_eq!(s, StatusCode::OK);
        assert!(detail.contains(&name));
        assert!(
            detail.contains(&masked) && !detail.contains(&idn),
            "{}: detail masks the ID",
            t.name
        );
        assert!(
            detail.contains("户籍所在地") && detail.contains("公安部门"),
            "{}: facts with their source",
            t.name
        );
        assert!(detail.contains("全部历史记录"));

        // Before the person's facts began, the page says so.
        let (_, early, _) = get(&app, &format!("/persons/{pid}?as_of=1900-01-01"));
        assert!(early.contains("该日期无有效信息"), "{}", t.name);

        // Division filter, as of a date after the Hotan split.
        let (_, hekang, _) = get(&app, "/persons?division=653228&as_of=2025-06-30");
        let n = registry::search_persons(
            &t.db,
            &registry::PersonQuery {
                include: vec!["653228".into(), "653223102".into()],
                as_of: Some(d(2025, 6, 30)),
                limit: 1,
                ..Default::default()
            },
        )
        .expect("search")
        .1;
        assert!(n > 0);
        assert!(
            hekang.contains(&format!("共 {n} 人")),
            "{}: 和康县 includes 赛图拉镇 after the split",
            t.name
        );

        // An import batch with its row issues.
        let b = registry::batches(&t.db, 100)
            .expect("batches")
            .into_iter()
            .find(|b| b.rows_bad > 0)
            .expect("a batch with errors");
        let (s, imp, _) = get(&app, &format!("/imports/{}", b.id));
        assert_eq!(s, StatusCode::OK);
        let first = registry::batch_issues(&t.db, b.id, 1, 0).expect("issues").remove(0);
        assert!(
            imp.contains(&format!("<td>{}</td>", first.row_no)),
            "{}: row numbers listed",
            t.name
        );
        assert!(imp.contains(&first.reason));

        let (s, _, _) = get(&app, "/persons/999999999");
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, bad, _) = get(&app, "/persons?as_of=2025-02-30");
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(bad.contains("日期"));
        let (s, div, _) = get(&app, "/divisions?code=653200&as_of=2025-01-01");
        assert_eq!(s, StatusCode::OK);
        assert!(div.contains("和康县") && div.contains("析置"), "{}", t.name);
        let (s, _, _) = get(&app, "/sources");
        assert_eq!(s, StatusCode::OK);

        // The service lists: the published table, its Excel export, and a diff with a draft.
        let (s, lists, _) = get(&app, "/lists");
        assert_eq!(s, StatusCode::OK);
        assert!(
            lists.contains("内蒙古自治区基本养老服务清单") && lists.contains("和田地区基本养老服务清单"),
            "{}",
            t.name
        );
        let im = yanglao_store::lists::versions(&t.db)
            .expect("versions")
            .into_iter()
            .find(|v| v.jurisdiction == "150000")
            .expect("IM list");
        let (s, table, _) = get(&app, &format!("/lists/{}", im.id));
        assert_eq!(s, StatusCode::OK);
        assert!(
            table.contains("凡具有内蒙古自治区户籍、年龄在80周岁(含80周岁)至99周岁的老年人"),
            "{}",
            t.name
        );
        assert_eq!(table.matches("<tr>\n  <td>").count(), 19, "{}: 19 rows", t.name);
        let bytes = rt.block_on(async {
            let res = router(app.clone())
                .oneshot(
                    Request::builder()
                        .uri(format!("/lists/{}/export.xlsx", im.id))
                        .body(Body::empty())
                        .expect("req"),
                )
                .await
                .expect("response");
            assert_eq!(res.status(), StatusCode::OK);
            axum::body::to_bytes(res.into_body(), 16 << 20).await.expect("body")
        });
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
        use calamine::Reader;
        let range = book.worksheet_range("清单").expect("sheet");
        assert_eq!(range.height(), 21, "title, header and 19 items");
        assert_eq!(
            range.get_value((6, 2)).map(|c| c.to_string()),
            Some("高龄津贴".to_string())
        );
        let text = yanglao_lists::content::BUILTIN[0]
            .1
            .replace("value = \"100元\"", "value = \"120元\"");
        let draft = yanglao_lists::service::save_draft(&t.db, &text, "王科员", Utc::now()).expect("draft");
        let (s, d, _) = get(&app, &format!("/lists/diff?a={}&b={draft}", im.id));
        assert_eq!(s, StatusCode::OK);
        assert!(
            d.contains("【高龄津贴】") && d.contains("100元") && d.contains("120元"),
            "{}",
            t.name
        );
        let (s, api, _) = get(&app, &format!("/api/lists/{}", im.id));
        assert_eq!(s, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&api).expect("json");
        assert_eq!(json["list"]["item"].as_array().map(|a| a.len()), Some(19), "{}", t.name);
        assert_eq!(json["status"], "published");
        assert_eq!(json["steps"].as_array().map(|a| a.len()), Some(3));
        let (_, same, _) = get(&app, &format!("/lists/diff?a={}&b={}", im.id, im.id));
        assert!(same.contains("完全相同"));
    }
}
