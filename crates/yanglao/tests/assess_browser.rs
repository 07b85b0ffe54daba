//! The tablet entry page in a real headless Chromium against the real `yanglao` binary, on SQLite
//! and PostgreSQL: the score and level follow the answers as they are tapped, each answer is
//! saved at once, and an answer given while the server is unreachable is kept in the browser and
//! saved when it is back (issue #5 §4: "a dropped connection loses nothing").
//!
//! The small WebDriver client repeats the one in `browser.rs` (each test file is its own crate).
//! A missing browser is a failure, not a skip: `scripts/test.sh` installs it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{json, Value};
use yanglao_domain::IdNumber;
use yanglao_store::{testing, Db, Value as SqlValue};

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
        let profile = testing::TempDir::new("yanglao-chrome-assess");
        // A tablet in landscape.
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--no-first-run", "--disable-background-networking", "--disable-sync",
                        "--window-size=1024,768",
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
            // The page may be replaced while we read it: a stale element is just "not yet".
            let t = ureq::post(&self.url("/element"))
                .send_json(json!({ "using": "css selector", "value": css }))
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .and_then(|v| v["value"].as_object().and_then(|o| o.values().next().cloned()))
                .and_then(|id| id.as_str().map(str::to_string))
                .and_then(|id| ureq::get(&self.url(&format!("/element/{id}/text"))).call().ok())
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .and_then(|v| v["value"].as_str().map(str::to_string))
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

    fn screenshot(&self, name: &str) {
        let v = get(&self.url("/screenshot"));
        let b64 = v["value"].as_str().unwrap_or("");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        std::fs::write(dir.join(format!("{name}.png")), base64_decode(b64)).expect("write screenshot");
    }
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
    let browser = Browser::start();
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
