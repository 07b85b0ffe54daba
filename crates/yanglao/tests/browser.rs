//! End-to-end in a real headless Chromium (Debian's chromium + chromium-driver) against the real
//! `yanglao` binary, on SQLite and PostgreSQL: a data officer imports a dirty region with the
//! CLI, signs in, searches for a person, opens the detail page (ID masked), reads an import's
//! error report and a work list; a county officer is refused another county's person; repeated
//! wrong passwords lock an account; key pages pass axe-core's WCAG 2.1 AA rules. Screenshots go
//! to `test-artifacts/`.
//!
//! A missing browser is a failure, not a skip: `scripts/test.sh` installs it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use yanglao_store::testing;

const BIN: &str = env!("CARGO_BIN_EXE_yanglao");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(url: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if ureq::get(url).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} did not come up within 60 s");
}

fn yanglao(db: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run yanglao");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "yanglao {args:?} failed:\n{text}");
    text
}

/// A minimal W3C WebDriver client: just what these tests use.
struct Browser {
    base: String,
    session: String,
    _driver: Killed,
}

impl Browser {
    fn start() -> Browser {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("chromium not found: install Debian's chromium and chromium-driver (scripts/test.sh does)")
            });
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("chromedriver not found: install Debian's chromium-driver (scripts/test.sh does)")
            });
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Killed(driver);
        let base = format!("http://127.0.0.1:{port}");
        wait_for(&format!("{base}/status"));
        let profile = testing::TempDir::new("yanglao-chrome");
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        });
        std::mem::forget(profile);
        let v = post(&format!("{base}/session"), &caps);
        let session = v["value"]["sessionId"].as_str().expect("session id").to_string();
        Browser {
            base,
            session,
            _driver: driver,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{}", self.base, self.session, path)
    }

    fn goto(&self, url: &str) {
        post(&self.url("/url"), &json!({ "url": url }));
    }

    /// The first element matching `css`, waiting up to 10 s for it (a click may still be
    /// loading the next page).
    fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let found = ureq::post(&self.url("/element"))
                .send_json(json!({ "using": "css selector", "value": css }))
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .and_then(|v| {
                    v["value"]
                        .as_object()
                        .and_then(|o| o.values().next())
                        .and_then(|e| e.as_str())
                        .map(String::from)
                });
            if let Some(id) = found {
                return id;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no element {css} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to 10 s for the page at a URL containing `part`.
    fn wait_url(&self, part: &str) {
        let start = Instant::now();
        while !self.current_url().contains(part) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "URL {} never reached {part}",
                self.current_url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let v = post(
            &self.url("/elements"),
            &json!({ "using": "css selector", "value": css }),
        );
        v["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o.as_object()?.values().next()?.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn text(&self, el: &str) -> String {
        get(&self.url(&format!("/element/{el}/text")))["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    fn click(&self, el: &str) {
        post(&self.url(&format!("/element/{el}/click")), &json!({}));
    }

    fn type_into(&self, el: &str, text: &str) {
        post(&self.url(&format!("/element/{el}/value")), &json!({ "text": text }));
    }

    fn page_text(&self) -> String {
        let body = self.find("body");
        self.text(&body)
    }

    /// Signs in through the login form.
    fn login(&self, site: &str, user: &str, password: &str) {
        self.goto(&format!("{site}/login"));
        let u = self.find("input[name=username]");
        self.type_into(&u, user);
        let p = self.find("input[name=password]");
        self.type_into(&p, password);
        let b = self.find("form button[type=submit]");
        self.click(&b);
    }

    /// Waits up to 10 s for the page to show any of `texts`; returns the page text.
    fn wait_text(&self, texts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            // The page may be replaced while we read it: a stale element is just "not yet".
            let t = ureq::post(&self.url("/element"))
                .send_json(json!({ "using": "css selector", "value": "body" }))
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .and_then(|v| v["value"].as_object().and_then(|o| o.values().next().cloned()))
                .and_then(|id| id.as_str().map(str::to_string))
                .and_then(|id| ureq::get(&self.url(&format!("/element/{id}/text"))).call().ok())
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .and_then(|v| v["value"].as_str().map(str::to_string))
                .unwrap_or_default();
            if texts.iter().any(|x| t.contains(x)) {
                return t;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "none of {texts:?} on the page:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logout(&self) {
        let b = self.find("header .user button[type=submit]");
        self.click(&b);
        self.wait_url("/login");
    }

    /// axe-core's WCAG 2.0/2.1 A and AA rules on the current page: the violations, described.
    fn axe_violations(&self) -> Vec<String> {
        let axe = axe_source();
        post(
            &self.url("/execute/sync"),
            &json!({ "script": format!("{axe}; return true;"), "args": [] }),
        );
        let v = post(
            &self.url("/execute/async"),
            &json!({
                "script": "const done = arguments[arguments.length - 1]; \
                    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }) \
                    .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ') + ')'))) \
                    .catch(e => done(['axe failed: ' + e]));",
                "args": []
            }),
        );
        v["value"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_else(|| vec![format!("unexpected answer: {v}")])
    }

    fn current_url(&self) -> String {
        get(&self.url("/url"))["value"].as_str().unwrap_or("").to_string()
    }

    fn screenshot(&self, name: &str) {
        let v = get(&self.url("/screenshot"));
        let b64 = v["value"].as_str().unwrap_or("");
        let dir = artifacts();
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        std::fs::write(dir.join(format!("{name}.png")), base64_decode(b64)).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
    }
}

/// axe-core, installed from npm by `scripts/test.sh` (or named by `AXE_JS`); missing is a failure.
fn axe_source() -> String {
    let path = std::env::var("AXE_JS").map(PathBuf::from).unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/axe/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core not found at {} ({e}): scripts/test.sh installs it with npm",
            path.display()
        )
    })
}

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts")
}

fn post(url: &str, body: &Value) -> Value {
    match ureq::post(url).send_json(body) {
        Ok(mut r) => r.body_mut().read_json().expect("json"),
        Err(e) => panic!("WebDriver POST {url}: {e}"),
    }
}

fn get(url: &str) -> Value {
    match ureq::get(url).call() {
        Ok(mut r) => r.body_mut().read_json().expect("json"),
        Err(e) => panic!("WebDriver GET {url}: {e}"),
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

fn is_masked_id(s: &str) -> bool {
    let c: Vec<char> = s.trim().chars().collect();
    c.len() == 18
        && c[..6].iter().all(|x| x.is_ascii_digit())
        && c[6..14].iter().all(|x| *x == '*')
        && c[14..17].iter().all(|x| x.is_ascii_digit())
}

#[test]
fn data_officer_imports_searches_and_reads_error_report_in_chromium() {
    let browser = Browser::start();
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
                .args(["--db", &t.url, "serve", "--addr", &addr])
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
        browser.wait_text(&["数据员（"]);
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
        let batch_links = browser.find_all("tbody td a[href^='/imports/']");
        browser.click(&batch_links[batch_links.len() - 1]);
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
        let text = browser.wait_text(&["问题行（", "导入失败"]);
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
        browser.wait_text(&["政策审核员（"]);
        browser.goto(&format!("{site}/lists/{draft}"));
        browser.click(&browser.find("form[action$='/publish'] button[type=submit]"));
        let text = browser.wait_text(&["已发布", "不予发布", "不能"]);
        assert!(text.contains("已发布"), "{}: {text}", t.name);
        browser.screenshot(&format!("{}-list-published", t.name));
        browser.logout();
        browser.login(&site, "data1", PW);
        browser.wait_text(&["数据员（"]);

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
        browser.wait_text(&["墨玉县经办（"]);
        browser.goto(&format!("{site}/persons/{outside}"));
        let text = browser.page_text();
        assert!(text.contains("不在您的管辖范围内"), "{}: {text}", t.name);
        assert!(!person_url.is_empty());
        browser.screenshot(&format!("{}-scope-refused", t.name));
        browser.logout();

        // Five wrong passwords lock the account; the right one is then refused too.
        for i in 1..=5 {
            browser.login(&site, "locky", "Wrong-passw0rd");
            let text = browser.wait_text(&["用户名或密码错误", "已锁定"]);
            assert_eq!(text.contains("已锁定"), i == 5, "{}: attempt {i}", t.name);
        }
        browser.login(&site, "locky", PW);
        let text = browser.wait_text(&["已锁定", "测试锁定（"]);
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
