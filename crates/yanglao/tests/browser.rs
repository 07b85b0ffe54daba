//! End-to-end in a real headless Chromium (Debian's chromium + chromium-driver) against the real
//! `yanglao` binary, on SQLite and PostgreSQL: a data officer imports a dirty region with the
//! CLI, signs in, searches for a person, opens the detail page (ID masked), reads an import's
//! error report and a work list; a county officer is refused another county's person; repeated
//! wrong passwords lock an account; key pages pass axe-core's WCAG 2.1 AA rules. Screenshots go
//! to `test-artifacts/`.
//!
//! A missing browser is a failure, not a skip: `scripts/test.sh` installs it.

use std::process::{Command, Stdio};

use serde_json::json;
use yanglao_store::testing;

mod common;
use common::*;

#[test]
fn data_officer_imports_searches_and_reads_error_report_in_chromium() {
    let browser = Browser::start(1280, 900);
    for t in [testing::sqlite(), testing::postgres()] {
        let work = testing::TempDir::new("yanglao-e2e");
        let gen_dir = work.path().join("gen");
        let gen_dir_s = gen_dir.to_string_lossy().to_string();
        yanglao(
            &t.url,
            &[
                "gen",
                "--people",
                "3000",
                "--region",
                "653200",
                "--dirty",
                "--as-of",
                "2025-06-30",
                "--out",
                &gen_dir_s,
            ],
        );
        let files = work.path().join("files").to_string_lossy().to_string();
        let out = yanglao(
            &t.url,
            &["--files", &files, "import", &gen_dir_s, "--as-of", "2025-06-30"],
        );
        assert!(
            out.contains("问题报告"),
            "{}: the CLI points at the error reports",
            t.name
        );
        let again = yanglao(
            &t.url,
            &["--files", &files, "import", &gen_dir_s, "--as-of", "2025-06-30"],
        );
        assert!(again.contains("未做任何改动"), "{}: re-import changes nothing", t.name);

        // Accounts: a prefecture data officer who also works the lists, a 墨玉县 case worker,
        // and one who will lock themselves out.
        const PW: &str = "Test-Passw0rd";
        yanglao(
            &t.url,
            &[
                "user",
                "add",
                "data1",
                "--name",
                "数据员",
                "--roles",
                "data,case",
                "--scope",
                "653200",
                "--password",
                PW,
            ],
        );
        yanglao(
            &t.url,
            &[
                "user",
                "add",
                "moyu",
                "--name",
                "墨玉县经办",
                "--roles",
                "case",
                "--scope",
                "653222",
                "--password",
                PW,
            ],
        );
        yanglao(
            &t.url,
            &[
                "user",
                "add",
                "locky",
                "--name",
                "测试锁定",
                "--roles",
                "case",
                "--scope",
                "653222",
                "--password",
                PW,
            ],
        );

        yanglao(
            &t.url,
            &[
                "user",
                "add",
                "policy2",
                "--name",
                "政策审核员",
                "--roles",
                "policy",
                "--scope",
                "653200",
                "--password",
                PW,
            ],
        );

        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let _server = Killed(
            Command::new(BIN)
                .args(["--db", &t.url, "--files", &files, "serve", "--addr", &addr])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("serve"),
        );
        let site = format!("http://{addr}");
        wait_for(&format!("{site}/healthz"));

        // Search by name from the home page's form.
        let name =
            t.db.query_one(
                "SELECT name FROM person WHERE name NOT LIKE '%·%' ORDER BY id LIMIT 1",
                &[],
            )
            .expect("q")
            .expect("a person")
            .text(0)
            .expect("name");
        // Signed out, a page sends the browser to the login form.
        browser.goto(&format!("{site}/persons"));
        browser.wait_url("/login?next=%2Fpersons");
        assert!(
            browser.axe_violations().is_empty(),
            "{}: login page: {:?}",
            t.name,
            browser.axe_violations()
        );
        browser.screenshot(&format!("{}-login", t.name));
        // The check can fail: an image without a text alternative is caught.
        post(
            &browser.url("/execute/sync"),
            &json!({ "script": "document.body.appendChild(document.createElement('img')); return true;", "args": [] }),
        );
        assert!(
            browser.axe_violations().iter().any(|v| v.starts_with("image-alt")),
            "{}: axe-core reports a missing alt text",
            t.name
        );
        browser.login(&site, "data1", PW);
        browser.wait_page(&["数据员（"]);
        browser.goto(&format!("{site}/"));
        let q = browser.find("input[name=q]");
        browser.type_into(&q, &name);
        let submit = browser.find("form.search button[type=submit]");
        browser.click(&submit);
        browser.wait_url("/persons?");
        let v = browser.axe_violations();
        assert!(v.is_empty(), "{}: search page: {v:?}", t.name);
        let text = browser.page_text();
        assert!(
            text.contains("人员查询") && text.contains(&name),
            "{}: results list the person",
            t.name
        );
        browser.screenshot(&format!("{}-search", t.name));

        // Open the first result: the ID is masked, the facts carry their sources.
        let links = browser.find_all("tbody td a[href^='/persons/']");
        assert!(!links.is_empty(), "{}: at least one result", t.name);
        browser.click(&links[0]);
        browser.wait_url("/persons/");
        let id_el = browser.find("#id-number");
        assert!(
            is_masked_id(&browser.text(&id_el)),
            "{}: masked ID on the detail page",
            t.name
        );
        let detail = browser.page_text();
        assert!(
            detail.contains("全部历史记录") && detail.contains("公安部门"),
            "{}",
            t.name
        );
        browser.screenshot(&format!("{}-person", t.name));
        let v = browser.axe_violations();
        assert!(v.is_empty(), "{}: person page: {v:?}", t.name);
        let person_url = browser.current_url();

        // The import list and one batch's error report, row by row.
        browser.goto(&format!("{site}/imports"));
        browser.wait_url("/imports");
        let bad = browser.find_all("td .tag.warn");
        assert!(!bad.is_empty(), "{}: batches with bad rows are flagged", t.name);
        // The batch with the most bad rows (the order of a delivery's files is the importer's):
        // each flagged row has one count and one link.
        let batch_links = browser.find_all("tbody tr:has(.tag.warn) td a[href^='/imports/']");
        let bad_counts: Vec<u64> = browser
            .find_all("tbody tr:has(.tag.warn) .tag.warn")
            .iter()
            .map(|el| browser.text(el).trim().parse().unwrap_or(0))
            .collect();
        assert_eq!(
            batch_links.len(),
            bad_counts.len(),
            "{}: a flagged batch links to its report",
            t.name
        );
        let most = (0..bad_counts.len())
            .max_by_key(|&i| bad_counts[i])
            .expect("a flagged batch");
        assert!(bad_counts[most] > 1, "{}: {bad_counts:?}", t.name);
        browser.click(&batch_links[most]);
        browser.wait_url("/imports/");
        let issues = browser.find("#issues");
        let issues_text = browser.text(&issues);
        assert!(
            issues_text.contains("行号") && issues_text.contains("问题"),
            "{}",
            t.name
        );
        assert!(
            browser.find_all("#issues tbody tr").len() > 1,
            "{}: error rows listed",
            t.name
        );
        browser.screenshot(&format!("{}-import-errors", t.name));

        // An import from the console: a file with one good and one bad row is refused whole,
        // with the bad row's number and reason on the batch page.
        let good = yanglao_domain::IdNumber::from_parts(
            "653222",
            chrono::NaiveDate::from_ymd_opt(1944, 4, 4).expect("date"),
            31,
        )
        .expect("id");
        let mut bad = good.as_str().to_string();
        let last = if bad.ends_with('1') { '2' } else { '1' };
        bad.pop();
        bad.push(last);
        let upload = work.path().join("上传_户籍.csv");
        std::fs::write(
            &upload,
            format!(
                "身份证号,姓名,户籍地区划代码,变动日期\n{},上传甲,653222100001,2020-01-01\n{bad},上传乙,653222100001,2020-01-01\n",
                good.as_str()
            ),
        )
        .expect("write upload");
        browser.goto(&format!("{site}/imports"));
        browser.click(&browser.find("select[name=source] option[value=gongan_hukou]"));
        browser.type_into(&browser.find("input[type=file][name=file]"), &upload.to_string_lossy());
        browser.click(&browser.find("#upload"));
        let text = browser.wait_page(&["问题行（", "导入失败"]);
        assert!(
            text.contains("上传_户籍.csv") && text.contains("校验"),
            "{}: {text}",
            t.name
        );
        assert!(
            !browser.find("#issues-xlsx").is_empty(),
            "{}: the report as .xlsx",
            t.name
        );
        browser.screenshot(&format!("{}-upload-errors", t.name));

        // The published service lists, reachable from the navigation.
        let nav = browser.find("nav.side a[href='/lists']");
        browser.click(&nav);
        browser.wait_url("/lists");
        let list_links = browser.find_all("tbody td a[href^='/lists/']:not([href$='.xlsx'])");
        assert_eq!(list_links.len(), 2, "{}: the two shipped lists", t.name);
        browser.click(&list_links[0]);
        browser.wait_url("/lists/");
        let rows = browser.find_all("#items tbody tr");
        assert!(rows.len() == 19 || rows.len() == 17, "{}: a whole list table", t.name);
        browser.screenshot(&format!("{}-service-list", t.name));
        let v = browser.axe_violations();
        assert!(v.is_empty(), "{}: list page: {v:?}", t.name);

        // Publishing a list version: drafted and submitted by one officer (CLI), published in the
        // console by another (maker-checker).
        let xlsx = work.path().join("hotan.xlsx");
        yanglao(&t.url, &["list", "export", "653200", "--out", &xlsx.to_string_lossy()]);
        let out = yanglao(
            &t.url,
            &["list", "import", &xlsx.to_string_lossy(), "--author", "policy1"],
        );
        let draft: String = out
            .split("草稿 #")
            .nth(1)
            .map(|r| r.chars().take_while(|c| c.is_ascii_digit()).collect())
            .expect("draft id");
        yanglao(&t.url, &["list", "submit", &draft, "--by", "policy1"]);
        browser.logout();
        browser.login(&site, "policy2", PW);
        browser.wait_page(&["政策审核员（"]);
        browser.goto(&format!("{site}/lists/{draft}"));
        browser.click(&browser.find("form[action$='/publish'] button[type=submit]"));
        let text = browser.wait_page(&["已发布", "不予发布", "不能"]);
        assert!(text.contains("已发布"), "{}: {text}", t.name);
        browser.screenshot(&format!("{}-list-published", t.name));
        browser.logout();
        browser.login(&site, "data1", PW);
        browser.wait_page(&["数据员（"]);

        // A work list (服务找人), from the navigation.
        let nav = browser.find("nav.side a[href='/work']");
        browser.click(&nav);
        browser.wait_url("/work");
        assert!(browser.page_text().contains("工作清单"), "{}", t.name);
        let v = browser.axe_violations();
        assert!(v.is_empty(), "{}: work list: {v:?}", t.name);
        browser.screenshot(&format!("{}-work", t.name));

        // 大字模式 (适老化) for this browser, then back.
        browser.goto(&format!("{site}/display?large=1&back=/persons"));
        browser.wait_url("/persons");
        let v = browser.axe_violations();
        assert!(v.is_empty(), "{}: large type: {v:?}", t.name);
        browser.screenshot(&format!("{}-large-type", t.name));
        browser.goto(&format!("{site}/display?large=0"));
        browser.logout();

        // A 墨玉县 officer opens a person of another county by URL: refused, nothing shown.
        let outside: i64 =
            t.db.query_one(
                "SELECT p.id FROM person p WHERE NOT EXISTS (SELECT 1 FROM fact f WHERE f.person_id = p.id \
                 AND f.kind IN ('hukou', 'residence') AND f.value LIKE '653222%') ORDER BY p.id LIMIT 1",
                &[],
            )
            .expect("q")
            .expect("someone outside 墨玉县")
            .int(0)
            .expect("id");
        browser.login(&site, "moyu", PW);
        browser.wait_page(&["墨玉县经办（"]);
        browser.goto(&format!("{site}/persons/{outside}"));
        let text = browser.page_text();
        assert!(text.contains("不在您的管辖范围内"), "{}: {text}", t.name);
        assert!(!person_url.is_empty());
        browser.screenshot(&format!("{}-scope-refused", t.name));
        browser.logout();

        // Five wrong passwords lock the account; the right one is then refused too.
        for i in 1..=5 {
            browser.login(&site, "locky", "Wrong-passw0rd");
            let text = browser.wait_page(&["用户名或密码错误", "已锁定"]);
            assert_eq!(text.contains("已锁定"), i == 5, "{}: attempt {i}", t.name);
        }
        browser.login(&site, "locky", PW);
        let text = browser.wait_page(&["已锁定", "测试锁定（"]);
        assert!(
            text.contains("已锁定"),
            "{}: still locked with the right password: {text}",
            t.name
        );
        browser.screenshot(&format!("{}-locked", t.name));
        let out = yanglao(&t.url, &["audit", "list", "--actor", "locky"]);
        assert!(out.contains("auth.locked"), "{}: the lockout is audited", t.name);
        let out = yanglao(&t.url, &["audit", "verify"]);
        assert!(out.contains("完整"), "{}: {out}", t.name);
    }
}
