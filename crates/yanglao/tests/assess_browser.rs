//! The tablet entry page in a real headless Chromium against the real `yanglao` binary, on SQLite
//! and PostgreSQL: the score and level follow the answers as they are tapped, each answer is
//! saved at once, and an answer given while the server is unreachable is kept in the browser and
//! saved when it is back (issue #5 §4: "a dropped connection loses nothing").
//!
//! The small WebDriver client repeats the one in `browser.rs` (each test file is its own crate).
//! A missing browser is a failure, not a skip: `scripts/test.sh` installs it.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use yanglao_domain::IdNumber;
use yanglao_store::{testing, Db, Value as SqlValue};

mod common;
use common::*;

fn entry_value(db: &Db, field: &str) -> Option<String> {
    db.query_one(
        "SELECT value FROM assessment_entry WHERE field = $1",
        &[SqlValue::text(field)],
    )
    .expect("q")
    .map(|r| r.text(0).expect("text"))
}

fn wait_entry(db: &Db, field: &str, want: &str, secs: u64) {
    let start = Instant::now();
    while entry_value(db, field).as_deref() != Some(want) {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{field} not saved as {want} within {secs} s (have {:?})",
            entry_value(db, field)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_assessor_answers_on_a_tablet_and_a_dropped_connection_loses_nothing() {
    let browser = Browser::start(1024, 768);
    for t in [testing::sqlite(), testing::postgres()] {
        let work = testing::TempDir::new("yanglao-assess-e2e");
        for args in [
            &[
                "assess",
                "agency",
                "--name",
                "新城区评估中心",
                "--division",
                "150102",
                "--qualification",
                "新城区民政局认定",
                "--from",
                "2024-01-01",
                "--by",
                "管理员",
            ][..],
            &[
                "assess",
                "assessor",
                "--agency",
                "新城区评估中心",
                "--name",
                "王评估",
                "--certificate",
                "PG-1",
                "--qualification",
                "评估师三级",
                "--from",
                "2023-01-01",
                "--by",
                "管理员",
            ],
        ] {
            yanglao(&t.url, args);
        }
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
        // Originals and reports go to the test's own directory, not the working directory.
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
        let pid =
            t.db.query_one("SELECT id FROM person", &[])
                .expect("q")
                .expect("person")
                .int(0)
                .expect("id");

        yanglao(
            &t.url,
            &[
                "user",
                "add",
                "pinggu",
                "--name",
                "评估调度员",
                "--roles",
                "case,assessor",
                "--scope",
                "150102",
                "--password",
                "Test-Passw0rd",
            ],
        );
        let addr = format!("127.0.0.1:{}", free_port());
        let site = format!("http://{addr}");
        let server = serve(&t.url, &addr);

        // Sign in, then request and schedule through the console's forms.
        browser.goto(&format!("{site}/login"));
        browser.type_into(&browser.find("input[name=username]"), "pinggu");
        browser.type_into(&browser.find("input[name=password]"), "Test-Passw0rd");
        browser.click(&browser.find("form button[type=submit]"));
        browser.wait_text("header .user", "评估调度员", 10);
        browser.goto(&format!("{site}/assessments/new?person={pid}"));
        let by = browser.find("form.stack input[name=by]");
        browser.type_into(&by, "窗口");
        let requester = browser.find("form.stack input[name=requester]");
        browser.type_into(&requester, "张家属");
        browser.click(&browser.find("form.stack button[type=submit]"));
        browser.wait_url("/assessments/requests/");
        let by = browser.find("form[action$='/schedule'] input[name=by]");
        browser.type_into(&by, "调度员");
        browser.click(&browser.find("form[action$='/schedule'] button[type=submit]"));
        browser.click(&browser.find("#enter"));
        browser.wait_url("/entry");

        // B.1 自理能力: tap answers; subtotal and total follow at once.
        browser.click(&browser.find(".tabs a[data-screen='2']"));
        browser.wait_url("entry?s=2");
        browser.click(&browser.find("input[name='B.1.1'][value='4']"));
        browser.click(&browser.find("input[name='B.1.2'][value='2']"));
        assert_eq!(browser.text(&browser.find("#live-section")), "6", "{}", t.name);
        assert_eq!(browser.text(&browser.find("#live-total")), "6", "{}", t.name);
        browser.wait_text("#save-state", "已保存", 10);
        wait_entry(&t.db, "B.1.1", "4", 10);
        wait_entry(&t.db, "B.1.2", "2", 10);
        browser.screenshot(&format!("{}-assessment-entry", t.name));

        // The connection drops: the answer stays in the browser and is saved when it is back.
        drop(server);
        browser.click(&browser.find("input[name='B.1.3'][value='1']"));
        assert_eq!(browser.text(&browser.find("#live-section")), "7", "{}", t.name);
        browser.wait_text("#save-state", "网络中断", 10);
        browser.screenshot(&format!("{}-assessment-offline", t.name));
        assert_eq!(entry_value(&t.db, "B.1.3"), None, "{}", t.name);
        let _server = serve(&t.url, &addr);
        wait_entry(&t.db, "B.1.3", "1", 20);
        browser.wait_text("#save-state", "已保存", 10);

        // Back on the page later: what was saved is there, and the level is shown once all
        // 26 items are answered (the rest on the other screens).
        browser.goto(&browser.current_url());
        let checked = browser.find("input[name='B.1.3'][value='1']:checked");
        assert!(!checked.is_empty(), "{}", t.name);
        assert!(
            browser.text(&browser.find("#live-prelim")).contains("尚有 23 项未答"),
            "{}",
            t.name
        );
    }
}
