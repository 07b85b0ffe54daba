//! End-to-end in a real headless Chromium (Debian's chromium + chromium-driver) against the real
//! `yanglao` binary, on SQLite and PostgreSQL: a data officer imports a dirty region with the
//! CLI, then searches for a person, opens the detail page (ID masked), and reads an import's
//! error report. Screenshots go to `test-artifacts/`.
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
        browser.goto(&format!("{site}/"));
        let q = browser.find("input[name=q]");
        browser.type_into(&q, &name);
        let submit = browser.find("form.search button[type=submit]");
        browser.click(&submit);
        browser.wait_url("/persons?");
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
    }
}
