//! The visitor's phone page in a real headless Chromium against the real `yanglao` binary, on
//! SQLite and PostgreSQL: the week's list, the record form, and a visit submitted while the
//! server is unreachable — kept in the browser, sent when the server is back, stored once
//! (issue #7 §4: "a visit typed with a poor connection is not lost").
//!
//! The small WebDriver client repeats the one in `assess_browser.rs` (each test file is its own
//! crate). A missing browser is a failure, not a skip: `scripts/test.sh` installs it.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use yanglao_domain::IdNumber;
use yanglao_store::{testing, Db};

mod common;
use common::*;

fn count(db: &Db, sql: &str) -> i64 {
    db.query_one(sql, &[]).expect("q").expect("row").int(0).expect("n")
}

fn wait_count(db: &Db, sql: &str, want: i64, secs: u64) {
    let start = Instant::now();
    while count(db, sql) != want {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{sql}: not {want} within {secs} s (have {})",
            count(db, sql)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_visit_typed_while_the_server_is_unreachable_is_sent_when_it_is_back() {
    let browser = Browser::start(412, 915);
    for t in [testing::sqlite(), testing::postgres()] {
        let work = testing::TempDir::new("yanglao-visits-e2e");
        // 85 years old: on the visit list as 高龄 (001 §4 "对高龄……等老年人开展居家探访").
        let id = IdNumber::from_parts("150102", NaiveDate::from_ymd_opt(1940, 3, 5).expect("d"), 11).expect("id");
        let hukou = work.path().join("户籍.csv");
        std::fs::write(
            &hukou,
            format!(
                "身份证号,姓名,户籍地区划代码,变动日期\n{},张三,150102001001,2000-01-01\n",
                id.as_str()
            ),
        )
        .expect("write");
        let files = work.path().join("files").to_string_lossy().to_string();
        yanglao(
            &t.url,
            &[
                "--files",
                &files,
                "import",
                hukou.to_str().expect("path"),
                "--source",
                "gongan_hukou",
            ],
        );
        yanglao(
            &t.url,
            &[
                "visits",
                "visitor",
                "--name",
                "王网格",
                "--kind",
                "网格员",
                "--division",
                "150102001001",
                "--from",
                "2024-01-01",
                "--by",
                "测试",
            ],
        );
        yanglao(
            &t.url,
            &[
                "visits",
                "assign",
                "--visitor",
                "1",
                "--person",
                id.as_str(),
                "--from",
                "2024-01-01",
                "--by",
                "测试",
            ],
        );
        yanglao(
            &t.url,
            &[
                "user",
                "add",
                "tanfang",
                "--name",
                "村探访员",
                "--roles",
                "visitor",
                "--scope",
                "150102",
                "--password",
                "Test-Passw0rd",
            ],
        );
        let addr = format!("127.0.0.1:{}", free_port());
        let site = format!("http://{addr}");
        let server = serve(&t.url, &addr);

        browser.goto(&format!("{site}/login"));
        browser.type_into(&browser.find("input[name=username]"), "tanfang");
        browser.type_into(&browser.find("input[name=password]"), "Test-Passw0rd");
        browser.click(&browser.find("form button[type=submit]"));
        browser.wait_text("header .user", "村探访员", 10);

        // Due this week: never visited, so due today.
        browser.goto(&format!("{site}/visits/mine?visitor=1"));
        browser.wait_text("h1", "本周应探访", 10);
        assert!(browser.text(&browser.find(".due-list")).contains("张三"), "{}", t.name);
        let v = browser.axe_violations();
        assert!(v.is_empty(), "{}: the visitor's page: {v:?}", t.name);
        browser.click(&browser.find(".due-list a.button.big"));
        browser.wait_url("/visits/record");
        browser.screenshot(&format!("{}-visit-form", t.name));
        let v = browser.axe_violations();
        assert!(v.is_empty(), "{}: the record form: {v:?}", t.name);

        // The connection drops before the visit is sent.
        drop(server);
        browser.click(&browser.find("input[name='f1_status'][value='异常']"));
        browser.type_into(&browser.find("input[name='f1_note']"), "燃气灶软管老化");
        browser.click(&browser.find("input[name='followup_kind'][value='转介服务']"));
        browser.type_into(&browser.find("input[name='followup_detail']"), "联系燃气公司更换软管");
        browser.click(&browser.find("#visit-form button[type=submit]"));
        browser.wait_text("#offline-note", "已保存在本机", 10);
        browser.screenshot(&format!("{}-visit-offline", t.name));
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM visit"), 0, "{}", t.name);

        // Back: the page sends it by itself, once, and moves on to the visitor's list.
        let _server = serve(&t.url, &addr);
        wait_count(&t.db, "SELECT COUNT(*) FROM visit", 1, 30);
        browser.wait_url("/visits/mine");
        browser.wait_text("#saved", "已保存", 10);
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM visit_followup WHERE status = 'open'"),
            1,
            "{}",
            t.name
        );
        assert_eq!(
            count(
                &t.db,
                "SELECT COUNT(*) FROM visit_finding WHERE status = '异常' AND note = '燃气灶软管老化'"
            ),
            1,
            "{}",
            t.name
        );
        // Nothing left to send: a while later, still one visit.
        std::thread::sleep(Duration::from_secs(6));
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM visit"), 1, "{}", t.name);
        browser.screenshot(&format!("{}-visit-sent", t.name));
        // The rate table (with its definition) and the follow-ups list pass the same checks.
        for page in [
            "/visits?division=150102",
            "/visits/followups?division=150102",
            "/visits/overdue?division=150102&overdue=0",
        ] {
            browser.goto(&format!("{site}{page}"));
            browser.find("main h1");
            let v = browser.axe_violations();
            assert!(v.is_empty(), "{}: {page}: {v:?}", t.name);
        }
        browser.goto(&format!("{site}/visits?division=150102"));
        assert!(
            browser.text(&browser.find(".definition")).contains("整月在册"),
            "{}",
            t.name
        );
    }
}
