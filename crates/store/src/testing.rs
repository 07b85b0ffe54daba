//! Throwaway databases for tests, on both backends.
//!
//! PostgreSQL: `YANGLAO_TEST_PG` names a server to use (a libpq URL or `host=… user=…`);
//! otherwise a cluster is created once with the machine's `initdb`/`pg_ctl` under the system
//! temp dir, listening on a Unix socket only, and shared by every test process (guarded by a
//! file lock). Each test gets a fresh database. A missing PostgreSQL is a failure, never a skip:
//! the test command installs it where it can.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Db;

/// A fresh database; the SQLite file lives as long as the value.
pub struct TestDb {
    pub db: Db,
    pub name: &'static str,
    /// What `yanglao --db` takes to open the same database.
    pub url: String,
    _dir: Option<TempDir>,
}

pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        if let Err(e) = fs::create_dir_all(&p) {
            panic!("cannot create {}: {e}", p.display());
        }
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn sqlite() -> TestDb {
    let dir = TempDir::new("yanglao-test");
    let url = dir.path().join("test.db").to_string_lossy().to_string();
    let db = Db::open(&url).unwrap_or_else(|e| panic!("open sqlite: {e}"));
    db.migrate().unwrap_or_else(|e| panic!("migrate sqlite: {e}"));
    TestDb {
        db,
        name: "sqlite",
        url,
        _dir: Some(dir),
    }
}

pub fn postgres() -> TestDb {
    let t = postgres_unmigrated();
    t.db.migrate().unwrap_or_else(|e| panic!("migrate postgres: {e}"));
    t
}

/// A fresh PostgreSQL database without any migration applied.
pub fn postgres_unmigrated() -> TestDb {
    let base = pg_base_url();
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!("t_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let mut admin = postgres::Client::connect(&format!("{base} dbname=postgres"), postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect to test PostgreSQL ({base}): {e}"));
    // Separate statements: DROP/CREATE DATABASE cannot share an implicit transaction.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    let url = format!("{base} dbname={name}");
    let db = Db::open(&url).unwrap_or_else(|e| panic!("open postgres: {e}"));
    TestDb {
        db,
        name: "postgres",
        url,
        _dir: None,
    }
}

/// Both backends, SQLite first.
pub fn all() -> Vec<TestDb> {
    vec![sqlite(), postgres()]
}

/// `host=… user=…` for the test server, starting the shared cluster when needed.
pub fn pg_base_url() -> String {
    if let Ok(url) = std::env::var("YANGLAO_TEST_PG") {
        return url;
    }
    let uid = fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0);
    let root = std::env::temp_dir().join(format!("yanglao-test-pg-{uid}"));
    let _ = fs::create_dir_all(&root);
    let lock = File::create(root.join("lock")).unwrap_or_else(|e| panic!("create lock: {e}"));
    lock.lock().unwrap_or_else(|e| panic!("lock: {e}"));
    let data = root.join("data");
    let sock = root.join("sock");
    let bin = pg_bin_dir();
    let as_root = uid == 0;
    // PostgreSQL refuses to run as root: run it as the `postgres` user the package creates.
    let run = |args: &[&str]| -> std::process::Output {
        let mut cmd = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            c.arg(bin.join(args[0]));
            c
        } else {
            Command::new(bin.join(args[0]))
        };
        cmd.args(&args[1..]);
        cmd.output().unwrap_or_else(|e| panic!("run {}: {e}", args[0]))
    };
    if as_root {
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&root)
            .status();
        let _ = Command::new("chmod").args(["755"]).arg(&root).status();
    }
    let data_s = data.to_string_lossy().to_string();
    let sock_s = sock.to_string_lossy().to_string();
    if !data.join("PG_VERSION").exists() {
        let _ = fs::create_dir_all(&sock);
        if as_root {
            let _ = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .status();
        }
        let out = run(&[
            "initdb",
            "-D",
            &data_s,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = run(&["pg_ctl", "-D", &data_s, "status"]);
    if !status.status.success() {
        let opts = format!(
            "-c listen_addresses='' -k {sock_s} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB"
        );
        let log = root.join("log").to_string_lossy().to_string();
        let out = run(&["pg_ctl", "-D", &data_s, "-l", &log, "-w", "-o", &opts, "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(lock);
    format!("host={sock_s} user=postgres")
}

fn pg_bin_dir() -> PathBuf {
    if let Ok(p) = std::env::var("PG_BIN") {
        return PathBuf::from(p);
    }
    let mut candidates: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    match candidates.into_iter().rev().find(|p| p.join("initdb").exists()) {
        Some(p) => p,
        None => panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin: \
             install them with `apt-get install postgresql` (scripts/test does this) or set YANGLAO_TEST_PG"
        ),
    }
}
