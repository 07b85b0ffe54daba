//! What the browser tests share: the `yanglao` binary and its server, and a minimal W3C
//! WebDriver client for Debian's chromium + chromium-driver (a missing browser is a failure,
//! never a skip: `scripts/test.sh` installs it), with axe-core for the WCAG checks.
//! Each test file uses part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use yanglao_store::testing;

pub const BIN: &str = env!("CARGO_BIN_EXE_yanglao");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process killed when dropped (a server, the driver).
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn wait_for(url: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if ureq::get(url).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} did not come up within 60 s");
}

/// Runs `yanglao --db DB ARGS…`, asserting success; returns stdout and stderr.
pub fn yanglao(db: &str, args: &[&str]) -> String {
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

/// `yanglao serve` on `addr`, answering once this returns.
pub fn serve(db: &str, addr: &str) -> Killed {
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

pub fn post(url: &str, body: &Value) -> Value {
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

pub fn get(url: &str) -> Value {
    match ureq::get(url).call() {
        Ok(mut r) => r.body_mut().read_json().expect("json"),
        Err(e) => panic!("WebDriver GET {url}: {e}"),
    }
}

pub struct Browser {
    base: String,
    session: String,
    _driver: Killed,
    _profile: testing::TempDir,
}

impl Browser {
    /// A headless Chromium with a window of `width`×`height` (a desktop, a tablet, a phone).
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| panic!("chromium not found: install Debian's chromium (scripts/test.sh does)"));
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("chromedriver not found: install Debian's chromium-driver (scripts/test.sh does)")
            });
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
        let profile = testing::TempDir::new("yanglao-chrome");
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        format!("--window-size={width},{height}"),
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

    pub fn url(&self, path: &str) -> String {
        format!("{}/session/{}{}", self.base, self.session, path)
    }

    pub fn goto(&self, url: &str) {
        post(&self.url("/url"), &json!({ "url": url }));
    }

    /// The first element matching `css`, waiting up to 10 s for it (a click may still be
    /// loading the next page).
    pub fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(id) = self.try_find(css) {
                return id;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no element {css} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn try_find(&self, css: &str) -> Option<String> {
        ureq::post(&self.url("/element"))
            .send_json(json!({ "using": "css selector", "value": css }))
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
            .and_then(|v| {
                v["value"]
                    .as_object()
                    .and_then(|o| o.values().next())
                    .and_then(|e| e.as_str())
                    .map(String::from)
            })
    }

    pub fn find_all(&self, css: &str) -> Vec<String> {
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

    pub fn text(&self, el: &str) -> String {
        get(&self.url(&format!("/element/{el}/text")))["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// The text of the first element matching `css`, or "" while the page is being replaced
    /// (a stale element is "not yet", not a failure).
    fn try_text(&self, css: &str) -> String {
        self.try_find(css)
            .and_then(|id| ureq::get(&self.url(&format!("/element/{id}/text"))).call().ok())
            .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
            .and_then(|v| v["value"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Scrolls the element to the middle of the screen (clear of fixed bars, as a person would)
    /// and clicks it.
    pub fn click(&self, el: &str) {
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

    pub fn type_into(&self, el: &str, text: &str) {
        post(&self.url(&format!("/element/{el}/value")), &json!({ "text": text }));
    }

    pub fn page_text(&self) -> String {
        let body = self.find("body");
        self.text(&body)
    }

    pub fn current_url(&self) -> String {
        get(&self.url("/url"))["value"].as_str().unwrap_or("").to_string()
    }

    pub fn wait_url(&self, part: &str) {
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

    /// Waits up to `secs` for the element `css` to show `part`; returns its text.
    pub fn wait_text(&self, css: &str, part: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let t = self.try_text(css);
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

    /// Waits up to 10 s for the page to show any of `texts`; returns the page text.
    pub fn wait_page(&self, texts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let t = self.try_text("body");
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

    /// Signs in through the login form.
    pub fn login(&self, site: &str, user: &str, password: &str) {
        self.goto(&format!("{site}/login"));
        let u = self.find("input[name=username]");
        self.type_into(&u, user);
        let p = self.find("input[name=password]");
        self.type_into(&p, password);
        let b = self.find("form button[type=submit]");
        self.click(&b);
    }

    pub fn logout(&self) {
        let b = self.find("header .user button[type=submit]");
        self.click(&b);
        self.wait_url("/login");
    }

    /// axe-core's WCAG 2.0/2.1 A and AA rules on the current page: the violations, described.
    pub fn axe_violations(&self) -> Vec<String> {
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

    /// A PNG of the window into `test-artifacts/`.
    pub fn screenshot(&self, name: &str) {
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
pub fn axe_source() -> String {
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

pub fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts")
}

pub fn base64_decode(s: &str) -> Vec<u8> {
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

/// `150102********123X`: six digits, eight stars, three digits and a check character.
pub fn is_masked_id(s: &str) -> bool {
    let c: Vec<char> = s.trim().chars().collect();
    c.len() == 18
        && c[..6].iter().all(|x| x.is_ascii_digit())
        && c[6..14].iter().all(|x| *x == '*')
        && c[14..17].iter().all(|x| x.is_ascii_digit())
}
