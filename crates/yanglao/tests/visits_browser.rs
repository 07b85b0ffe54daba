//! The visitor's phone page in a real headless Chromium against the real `yanglao` binary, on
//! SQLite and PostgreSQL: the week's list, the record form, and a visit submitted while the
//! server is unreachable — kept in the browser, sent when the server is back, stored once
//! (issue #7 §4: "a visit typed with a poor connection is not lost").
//!
//! The small WebDriver client repeats the one in `assess_browser.rs` (each test file is its own
//! crate). A missing browser is a failure, not a skip: `scripts/test.sh` installs it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{json, Value};
use yanglao_domain::IdNumber;
use yanglao_store::{testing, Db};

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

fn serve(db: &str, addr: &str) -> Killed {
    let k = Killed(
        Command::new(BIN)
            .args(["--db", db, "serve", "--addr", addr])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    wait_for(&format!("http://{addr}/healthz"));
    k
}

struct Browser {
    base: String,
    session: String,
    _driver: Killed,
    _profile: testing::TempDir,
}

fn post(url: &str, body: &Value) -> Value {
    let res = ureq::post(url)
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(body);
    match res {
        Ok(mut r) => {
            let status = r.status();
            let v: Value = r.body_mut().read_json().expect("json");
            assert!(status.is_success(), "WebDriver POST {url}: {status} {v}");
            v
        }
        Err(e) => panic!("WebDriver POST {url}: {e}"),
    }
}

fn get(url: &str) -> Value {
    match ureq::get(url).call() {
        Ok(mut r) => r.body_mut().read_json().expect("json"),
        Err(e) => panic!("WebDriver GET {url}: {e}"),
    }
}

impl Browser {
    fn start() -> Browser {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| panic!("chromium not found: install Debian's chromium (scripts/test.sh does)"));
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| panic!("chromedriver not found: install Debian's chromium-driver"));
        let port = free_port();
        let driver = Killed(
            Command::new(driver_bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let base = format!("http://127.0.0.1:{port}");
        wait_for(&format!("{base}/status"));
        let profile = testing::TempDir::new("yanglao-chrome-visits");
        // A phone in portrait.
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--no-first-run", "--disable-background-networking", "--disable-sync",
                        "--window-size=412,915",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        });
        let v = post(&format!("{base}/session"), &caps);
        let session = v["value"]["sessionId"].as_str().expect("session id").to_string();
        Browser {
            base,
            session,
            _driver: driver,
            _profile: profile,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{}", self.base, self.session, path)
    }

    fn goto(&self, url: &str) {
        post(&self.url("/url"), &json!({ "url": url }));
    }

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

    fn text(&self, el: &str) -> String {
        get(&self.url(&format!("/element/{el}/text")))["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Scrolls the element to the middle of the screen (clear of the fixed score bar, as a
    /// person would) and clicks it.
    fn click(&self, el: &str) {
        // The W3C web element identifier.
        post(
            &self.url("/execute/sync"),
            &json!({
                "script": "arguments[0].scrollIntoView({block: 'center'});",
                "args": [{ "element-6066-11e4-a52e-4f735466cecf": el }]
            }),
        );
        post(&self.url(&format!("/element/{el}/click")), &json!({}));
    }

    fn type_into(&self, el: &str, text: &str) {
        post(&self.url(&format!("/element/{el}/value")), &json!({ "text": text }));
    }

    fn current_url(&self) -> String {
        get(&self.url("/url"))["value"].as_str().unwrap_or("").to_string()
    }

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

    /// Waits up to `secs` for the element's text to contain `part`.
    fn wait_text(&self, css: &str, part: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            // The element may belong to the page being left (stale): then read again.
            let el = self.find(css);
            let t = ureq::get(&self.url(&format!("/element/{el}/text")))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .and_then(|v| v["value"].as_str().map(String::from))
                .unwrap_or_default();
            if t.contains(part) {
                return t;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{css} never showed {part}: {t}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
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
                    .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ') + ' ' + (n.any.length ? n.any[0].message : '')).slice(0, 3).join(', ') + ')'))) \
                    .catch(e => done(['axe failed: ' + e]));",
                "args": []
            }),
        );
        v["value"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_else(|| vec![format!("unexpected answer: {v}")])
    }

    fn screenshot(&self, name: &str) {
        let v = get(&self.url("/screenshot"));
        let b64 = v["value"].as_str().unwrap_or("");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        std::fs::write(dir.join(format!("{name}.png")), base64_decode(b64)).expect("write screenshot");
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

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
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
    let browser = Browser::start();
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
