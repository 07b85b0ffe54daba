//! `yanglao bench web`: the person detail page under load, audit on. The registry of the
//! engine benchmark is reused (imported once, untimed); a signed-in case worker's session is
//! made directly in the store; the server runs in this process on localhost; the load comes
//! from `wrk` (a separate process) opening random people's pages. Every request is audited:
//! the audit log's growth is checked against wrk's request count, and the chain is verified.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use yanglao_security::{password, random_hex, token_digest};
use yanglao_store::accounts::{self, NewUser};
use yanglao_store::{audit, divisions, Db};

pub struct WebBench<'a> {
    pub people: usize,
    pub target: &'a str,
    pub data: &'a Path,
    pub seconds: u64,
    pub connections: u64,
    pub threads: u64,
}

fn audit_count(db: &Db) -> Result<i64> {
    Ok(db
        .query_one("SELECT seq FROM audit_head WHERE id = 1", &[])?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0))
}

fn session_for(db: &Db) -> Result<String> {
    let user = match accounts::user_by_name(db, "bench")? {
        Some(u) => u,
        None => {
            let hash = password::hash(&format!("Bench-{}", random_hex(8)?))?;
            accounts::create_user(
                db,
                &NewUser {
                    username: "bench",
                    display_name: "基准测试经办",
                    password_hash: &hash,
                    roles: "case",
                    scope: "150000",
                    created_by: "bench",
                },
                Utc::now(),
            )?;
            accounts::user_by_name(db, "bench")?.context("bench user")?
        }
    };
    let secret = random_hex(32)?;
    accounts::create_session(db, &token_digest(&secret), user.id, Utc::now(), "bench")?;
    Ok(secret)
}

fn wrk(args: &[String]) -> Result<String> {
    let out = Command::new("wrk")
        .args(args)
        .output()
        .context("wrk not found: install it (Debian: apt-get install wrk)")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// wrk's latency figures ("1.23ms", "850.00us", "1.02s") in milliseconds.
fn to_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("us") {
        return v.parse::<f64>().ok().map(|v| v / 1000.0);
    }
    if let Some(v) = s.strip_suffix("ms") {
        return v.parse().ok();
    }
    if let Some(v) = s.strip_suffix('s') {
        return v.parse::<f64>().ok().map(|v| v * 1000.0);
    }
    None
}

pub fn run(b: &WebBench, today: NaiveDate) -> Result<()> {
    let db = crate::bench_engine::open_target(b.target, b.people, b.data)?;
    crate::bench_engine::prepare(&db, b.people, b.data, today)?;
    let cookie = session_for(&db)?;
    // Random people, each with a 户籍 fact (everyone generated has one).
    let ids: Vec<i64> = db
        .query("SELECT id FROM person WHERE id % 97 = 3 ORDER BY id LIMIT 20000", &[])?
        .iter()
        .map(|r| r.int(0))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        bail!("no people in the benchmark database");
    }
    let script = b.data.join("bench-web.lua");
    {
        let mut f = std::fs::File::create(&script)?;
        writeln!(
            f,
            "local ids = {{{}}}",
            ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
        )?;
        writeln!(f, "math.randomseed(42)")?;
        writeln!(f, "wrk.headers[\"Cookie\"] = \"yl_session={cookie}\"")?;
        writeln!(
            f,
            "request = function() return wrk.format(\"GET\", \"/persons/\" .. ids[math.random(#ids)]) end"
        )?;
        writeln!(
            f,
            "done = function(summary, latency, requests) io.write(string.format(\"NON2XX %d\\n\", summary.errors.status)) end"
        )?;
    }

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let catalogue = divisions::load_catalogue(&db)?;
    let app = Arc::new(yanglao_web::App::new(db.clone(), catalogue));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.spawn(async move {
        if let Err(e) = yanglao_web::serve(app, addr).await {
            eprintln!("server: {e}");
        }
    });
    let site = format!("http://{addr}");
    // Up and answering as the bench user?
    let start = Instant::now();
    loop {
        let ok = Command::new("wrk")
            .args(["-t1", "-c1", "-d1s", "-s", &script.to_string_lossy(), &site])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("NON2XX 0"))
            .unwrap_or(false);
        if ok {
            break;
        }
        if start.elapsed().as_secs() > 30 {
            bail!("the server did not answer the bench user's requests with 200");
        }
    }
    println!(
        "person detail page, {} people ({}), audit on, wrk -t{} -c{} for {} s:",
        b.people, b.target, b.threads, b.connections, b.seconds
    );
    // Warm the caches the way a working day would.
    wrk(&[
        format!("-t{}", b.threads),
        format!("-c{}", b.connections),
        "-d5s".into(),
        "-s".into(),
        script.to_string_lossy().to_string(),
        site.clone(),
    ])?;
    let before = audit_count(&db)?;
    let out = wrk(&[
        format!("-t{}", b.threads),
        format!("-c{}", b.connections),
        format!("-d{}s", b.seconds),
        "--latency".into(),
        "-s".into(),
        script.to_string_lossy().to_string(),
        site.clone(),
    ])?;
    let after = audit_count(&db)?;
    let rps = out
        .lines()
        .find(|l| l.trim_start().starts_with("Requests/sec:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .context("wrk output without Requests/sec")?;
    let pct = |p: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(to_ms)
    };
    let requests: i64 = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let non2xx = out
        .lines()
        .find(|l| l.starts_with("NON2XX"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(-1);
    println!("{out}");
    println!(
        "  throughput {rps:.0} requests/s (target ≥ 1,500); latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms (target ≤ 50 ms)",
        pct("50%").unwrap_or(f64::NAN),
        pct("90%").unwrap_or(f64::NAN),
        pct("99%").unwrap_or(f64::NAN)
    );
    println!(
        "  audit entries written during the run: {} (wrk counted {requests} responses; non-2xx {non2xx})",
        after - before
    );
    let t = Instant::now();
    let v = audit::verify(&db)?;
    println!(
        "  audit chain: {} entries, {} problems, verified in {:.1} s",
        v.entries,
        v.problems.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
