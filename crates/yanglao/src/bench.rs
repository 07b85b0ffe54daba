//! `yanglao bench import`: generates a region (not timed), then times the import of all its
//! department files into a fresh database, and reports rows per second and peak memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use yanglao_domain::catalogue::builtin;
use yanglao_domain::DivisionCode;
use yanglao_registry::import::{read_only, ImportOptions, ImportOutcome};
use yanglao_registry::sources::source;
use yanglao_registry::synth::{generate, read_manifest, GenOptions};
use yanglao_store::{registry, testing, Db};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Import N older people from all department files.
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        people: usize,
        #[arg(long, default_value = "150000")]
        region: String,
        /// sqlite (a fresh file), postgres (a fresh database on the test cluster, started if
        /// needed), or a database URL that must be empty.
        #[arg(long, default_value = "sqlite")]
        target: String,
        /// Keep generated files here and reuse them on the next run.
        #[arg(long, default_value = "target/bench-data")]
        data: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Read and validate every department file of N people as the importer's reading thread
    /// does, without a database: the reading path's cost per file.
    Read {
        #[arg(long, default_value_t = 1_000_000)]
        people: usize,
        #[arg(long, default_value = "150000")]
        region: String,
        #[arg(long, default_value = "target/bench-data")]
        data: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The entitlement engine on N people under the Inner Mongolia list plus one county list:
    /// full run from the database, warm evaluation, a draft simulation, explanation latency.
    Engine {
        #[arg(long, default_value_t = 1_000_000)]
        people: usize,
        /// sqlite or postgres (the registry is imported once, untimed, and kept for reruns).
        #[arg(long, default_value = "sqlite")]
        target: String,
        #[arg(long, default_value = "target/bench-data")]
        data: PathBuf,
        /// How many explanations to time.
        #[arg(long, default_value_t = 1000)]
        explanations: usize,
    },
    /// The person detail page under load with audit on (wrk against this process on localhost).
    Web {
        #[arg(long, default_value_t = 1_000_000)]
        people: usize,
        /// sqlite or postgres (the engine benchmark's registry, imported once and kept).
        #[arg(long, default_value = "sqlite")]
        target: String,
        #[arg(long, default_value = "target/bench-data")]
        data: PathBuf,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        connections: u64,
        #[arg(long, default_value_t = 2)]
        threads: u64,
    },
}

/// Peak resident memory of this process since the last reset, in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak so that generation does not count against the import.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn run(cmd: &BenchCommand, today: NaiveDate) -> Result<()> {
    match cmd {
        BenchCommand::Web {
            people,
            target,
            data,
            seconds,
            connections,
            threads,
        } => crate::bench_web::run(
            &crate::bench_web::WebBench {
                people: *people,
                target,
                data,
                seconds: *seconds,
                connections: *connections,
                threads: *threads,
            },
            today,
        ),
        BenchCommand::Engine {
            people,
            target,
            data,
            explanations,
        } => crate::bench_engine::run(*people, target, data, *explanations, today),
        BenchCommand::Read {
            people,
            region,
            data,
            seed,
        } => read(*people, region, data, *seed, today),
        BenchCommand::Import {
            people,
            region,
            target,
            data,
            seed,
        } => {
            let (dir, as_of) = region_files(*people, region, data, *seed, today)?;
            let tmp = testing::TempDir::new("yanglao-bench");
            let mut drop_after: Option<(String, String)> = None;
            let url = match target.as_str() {
                "sqlite" => tmp.path().join("bench.db").to_string_lossy().to_string(),
                "postgres" => {
                    let base = testing::pg_base_url();
                    let name = format!("bench_{}", std::process::id());
                    drop_after = Some((base.clone(), name.clone()));
                    let mut c = postgres::Client::connect(&format!("{base} dbname=postgres"), postgres::NoTls)?;
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
                    c.batch_execute(&format!("CREATE DATABASE {name}"))?;
                    format!("{base} dbname={name}")
                }
                other => other.to_string(),
            };
            let db = Db::open(&url)?;
            crate::init(&db)?;
            if registry::counts(&db)?.persons > 0 {
                bail!("the target database is not empty");
            }
            reset_peak_rss();
            let t = Instant::now();
            let outcomes = crate::import_path(
                &db,
                &dir,
                None,
                &HashMap::new(),
                as_of,
                &tmp.path().join("files"),
                false,
            )?;
            let secs = t.elapsed().as_secs_f64();
            let rows: i64 = outcomes
                .iter()
                .map(|o| match o {
                    ImportOutcome::Applied { batch, .. } => batch.rows_total,
                    ImportOutcome::AlreadyImported(_) => 0,
                })
                .sum();
            let c = registry::counts(&db)?;
            let peak = peak_rss()
                .map(|b| format!("{:.0} MiB", b as f64 / 1048576.0))
                .unwrap_or_else(|| "n/a".into());
            println!(
                "RESULT backend={} people={people} persons={} rows={rows} facts={} seconds={secs:.2} rows_per_s={:.0} peak_rss={peak}",
                db.backend().name(),
                c.persons,
                c.facts,
                rows as f64 / secs
            );
            drop(db);
            if let Some((base, name)) = drop_after {
                let mut c = postgres::Client::connect(&format!("{base} dbname=postgres"), postgres::NoTls)?;
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
            }
            Ok(())
        }
    }
}

/// The generated region's files (made once, not timed, and kept for reruns) and the date they
/// are imported as of.
fn region_files(people: usize, region: &str, data: &Path, seed: u64, today: NaiveDate) -> Result<(PathBuf, NaiveDate)> {
    let region = DivisionCode::parse(region).context("--region")?;
    let dir = data.join(format!("{}-{people}-{seed}", region.short()));
    let as_of = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or(today);
    if read_manifest(&dir).map(|m| m.people != people).unwrap_or(true) {
        let t = Instant::now();
        generate(
            &builtin::catalogue(),
            &GenOptions {
                people,
                seed,
                region,
                as_of,
                dirty: false,
                out: dir.clone(),
            },
        )?;
        println!(
            "generated {people} people in {:.1}s (not timed below)",
            t.elapsed().as_secs_f64()
        );
    }
    Ok((dir, as_of))
}

/// `yanglao bench read`: each file read and validated on one thread, one after the other.
fn read(people: usize, region: &str, data: &Path, seed: u64, today: NaiveDate) -> Result<()> {
    let (dir, as_of) = region_files(people, region, data, seed, today)?;
    let manifest = read_manifest(&dir)?;
    // Villages are not checked against the catalogue (county and township are), so the
    // built-in one reads as the imported one does.
    let catalogue = builtin::catalogue();
    let (mut rows, mut facts, mut total) = (0u64, 0u64, 0f64);
    for f in &manifest.files {
        let source = source(&f.source).with_context(|| format!("未知数据源 {}", f.source))?;
        let opts = ImportOptions {
            source,
            today: as_of,
            now: chrono::Utc::now(),
            archive_dir: None,
            report_dir: None,
            header_overrides: HashMap::new(),
            fail_at: None,
            known: None,
        };
        let t = Instant::now();
        let c = read_only(&catalogue, &dir.join(&f.file), &opts)?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{:<28} rows={:>9} facts={:>9} issues={} seconds={secs:.2} rows_per_s={:.0} ns_per_row={:.0}",
            f.file,
            c.rows,
            c.facts,
            c.issues,
            c.rows as f64 / secs,
            secs * 1e9 / c.rows.max(1) as f64
        );
        rows += c.rows;
        facts += c.facts;
        total += secs;
    }
    println!(
        "RESULT read people={people} rows={rows} facts={facts} seconds={total:.2} rows_per_s={:.0} peak_rss={:.0} MiB",
        rows as f64 / total,
        peak_rss().unwrap_or(0) as f64 / 1048576.0
    );
    Ok(())
}
