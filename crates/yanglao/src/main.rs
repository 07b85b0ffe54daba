//! `yanglao`: the one binary. Subcommands for operators: init, gen, import, serve, demo, and
//! the import benchmark.

mod admin_cmd;
mod assess_cmd;
mod bench;
mod bench_engine;
mod bench_web;
mod engine_cmd;
mod list_cmd;
mod visits_cmd;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{Catalogue, DivisionCode};
use yanglao_registry::import::{import_files, import_villages, ImportOptions, ImportOutcome};
use yanglao_registry::reader::Progress;
use yanglao_registry::sources::{source, SOURCES};
use yanglao_registry::synth::{generate, read_manifest, GenOptions};
use yanglao_store::{divisions, registry, Db};

#[derive(Parser)]
#[command(
    name = "yanglao",
    version,
    about = "基本养老服务体系信息平台 (basic elderly care service platform)"
)]
pub struct Cli {
    /// Database: a SQLite file path (default yanglao.db), sqlite:PATH, or postgres://…
    #[arg(long, global = true, env = "YANGLAO_DB", default_value = "yanglao.db")]
    db: String,
    /// Where original import files and error reports are kept (default: beside a SQLite file,
    /// ./yanglao-files for PostgreSQL).
    #[arg(long, global = true, env = "YANGLAO_FILES")]
    files: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or upgrade the database and load the built-in divisions (Inner Mongolia, Hotan, Baoshan).
    Init,
    /// Write the department files of a synthetic region.
    Gen {
        #[arg(long, default_value_t = 10_000)]
        people: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Division code of the region (e.g. 150000 Inner Mongolia, 150400 Chifeng, 653200 Hotan).
        #[arg(long, default_value = "150000")]
        region: String,
        /// Reference date of the data (default: today).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Add the faults real files have: bad check digits, duplicates, GBK files, missing and
        /// out-of-range fields, conflicting sources.
        #[arg(long)]
        dirty: bool,
        #[arg(long, default_value = "yanglao-gen")]
        out: PathBuf,
    },
    /// Import a department file, or a directory written by `gen` (all its files: 公安 户籍 and 死亡 first, then the larger before the smaller).
    Import {
        path: PathBuf,
        /// Source of a single file (see `yanglao sources`).
        #[arg(long)]
        source: Option<String>,
        /// Header overrides for this office's files: key=表头, repeatable (keys in `yanglao sources`).
        #[arg(long = "column", value_parser = parse_kv)]
        columns: Vec<(String, String)>,
        /// Import date: later-dated facts are refused (default: today).
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// List the department sources and the columns each must have.
    Sources,
    /// Show one person's registry state on a date.
    Person {
        id_number: String,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Serve the web console.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// Fresh embedded database, a generated league-sized region imported, console served.
    Demo {
        #[arg(long, default_value_t = 200_000)]
        people: usize,
        #[arg(long, default_value = "150400")]
        region: String,
        #[arg(long, default_value = "yanglao-demo")]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[arg(long, default_value_t = 2025)]
        seed: u64,
    },
    /// Service lists (基本养老服务清单): check, show, export and import; submit, publish (checked against the lists above) and diff versions.
    List {
        #[command(subcommand)]
        what: ListCommand,
    },
    /// Parameter values set by a jurisdiction (参数): set one from a date, or show what applies.
    Param {
        #[command(subcommand)]
        what: ParamCommand,
    },
    /// Apply the lists in force to the registry for a date: entitlements and work lists (服务找人).
    Run {
        #[arg(long)]
        as_of: Option<NaiveDate>,
        #[arg(long, default_value = "操作员")]
        by: String,
        /// First request assessments for people a list rule needs a capability level for.
        #[arg(long)]
        request_assessments: bool,
    },
    /// Every list item for one person on a date, entitled or not, and why.
    Explain {
        id_number: String,
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Also the items of lists whose jurisdiction the person is not in.
        #[arg(long)]
        all: bool,
    },
    /// 调整测算: a draft list version (id or TOML file) against the version in force.
    Simulate {
        /// A draft version id or TOML file; omit it to simulate a parameter change (--param).
        draft: Option<String>,
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// A parameter change instead of a draft: the parameter's name …
        #[arg(long)]
        param: Option<String>,
        /// … the division setting it …
        #[arg(long)]
        division: Option<String>,
        /// … and the value (153元, an integer, or 0=0元,3=300元), from --as-of, not saved.
        #[arg(long)]
        value: Option<String>,
    },
    /// What people actually receive (发放/服务记录), compared with entitlements by `run`.
    Receipts {
        #[command(subcommand)]
        what: engine_cmd::ReceiptCommand,
    },
    /// Open work items (应享未享, 不应享而享, 金额变化) by division.
    Work {
        #[arg(long, default_value = "")]
        division: String,
    },
    /// Capability assessments (GB/T 42195-2022): import, statistics, overdue lists, period, agencies.
    Assess {
        #[command(subcommand)]
        what: assess_cmd::AssessCommand,
    },
    /// Care visits (探访关爱): the list, who is due, visitors, visit records, follow-ups, the monthly rate.
    Visits {
        #[command(subcommand)]
        what: visits_cmd::VisitsCommand,
    },
    /// Console users (账号): add, list, set a password, unlock.
    User {
        #[command(subcommand)]
        what: admin_cmd::UserCommand,
    },
    /// API tokens for other departments' systems.
    Token {
        #[command(subcommand)]
        what: admin_cmd::TokenCommand,
    },
    /// The audit log: verify its hash chain, list entries.
    Audit {
        #[command(subcommand)]
        what: admin_cmd::AuditCommand,
    },
    /// The SM4 key for contact details at rest.
    Key {
        #[command(subcommand)]
        what: admin_cmd::KeyCommand,
    },
    /// Benchmarks (results go to BENCHMARKS.md by hand, with the command).
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum ParamCommand {
    /// Set a parameter of the shipped lists for a division from a date (kept with history).
    Set {
        name: String,
        #[arg(long)]
        division: String,
        #[arg(long)]
        from: NaiveDate,
        /// 153元, an integer, or a table by level: 0=0元,3=300元
        #[arg(long)]
        value: String,
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The value in force for a division on a date, and where it comes from.
    Show {
        name: String,
        #[arg(long)]
        division: String,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
enum ListCommand {
    /// Check a list version file (TOML): every rule parsed and type-checked; errors name the item
    /// and the position. Without a file, checks the lists that ship with yanglao. With --as-of,
    /// also against the lists in force in the database on that date, structurally and by
    /// simulation over the registry (the file may then also be a version id).
    Check {
        file: Option<PathBuf>,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Write a list version as Excel in the seeds' layout (with rules, parameters and particulars).
    Export {
        /// Jurisdiction code of a shipped list (150000, 653200) or a TOML file.
        which: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Read a list from Excel (the export's layout) or a TOML file, check it, and save it as a draft.
    Import {
        file: PathBuf,
        /// Who drafted it (the reviewer who publishes must be someone else).
        #[arg(long)]
        author: String,
    },
    /// Print a list version as a table like the seeds' tables.
    Show {
        /// Jurisdiction code of a shipped list (150000, 653200) or a TOML file.
        which: String,
    },
    #[command(flatten)]
    Db(list_cmd::ListDbCommand),
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("应为 key=表头：{s}"))
}

/// mimalloc: the import's reading threads allocate every row's strings and the writing thread
/// frees them; glibc's allocator spent about a seventh of an import in malloc/free (arena
/// locking and consolidation on cross-thread frees). BENCHMARKS.md, registry import.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let cli = Cli::parse();
    let today = yanglao_web::china_today();
    match &cli.command {
        Command::User { what } => admin_cmd::user_command(&open_ready(&cli.db)?, what)?,
        Command::Token { what } => admin_cmd::token_command(&open_ready(&cli.db)?, what)?,
        Command::Audit { what } => {
            if !admin_cmd::audit_command(&open_ready(&cli.db)?, what)? {
                std::process::exit(1);
            }
        }
        Command::Key { what } => admin_cmd::key_command(what)?,
        Command::Init => {
            let db = open(&cli.db)?;
            let n = init(&db)?;
            println!("数据库已就绪（{}），已载入 {n} 个行政区划。", db.backend().name());
        }
        Command::Gen {
            people,
            seed,
            region,
            as_of,
            dirty,
            out,
        } => {
            let region = DivisionCode::parse(region).context("--region")?;
            let cat = builtin::catalogue();
            if cat.get(region).is_none() {
                bail!("内置区划中没有 {region}");
            }
            let t = Instant::now();
            let m = generate(
                &cat,
                &GenOptions {
                    people: *people,
                    seed: *seed,
                    region,
                    as_of: as_of.unwrap_or(today),
                    dirty: *dirty,
                    out: out.clone(),
                },
            )?;
            println!(
                "已生成 {} 的 {} 位老年人（{} 个村级区划），用时 {:.1}s，写入 {}：",
                cat.name(region),
                people,
                m.villages,
                t.elapsed().as_secs_f64(),
                out.display()
            );
            for f in &m.files {
                println!(
                    "  {:<28} {:>9} 行  {:<6} 问题行 {:>5}  重复 {:>4}",
                    f.file,
                    f.rows,
                    f.encoding,
                    f.errors.len(),
                    f.duplicates.len()
                );
            }
        }
        Command::Import {
            path,
            source: src,
            columns,
            as_of,
        } => {
            let db = open(&cli.db)?;
            init(&db)?;
            let overrides: HashMap<String, String> = columns.iter().cloned().collect();
            let files = files_dir(&cli);
            import_path(
                &db,
                path,
                src.as_deref(),
                &overrides,
                as_of.unwrap_or(today),
                &files,
                true,
            )?;
        }
        Command::Sources => {
            for s in SOURCES.iter() {
                println!("{}  {}（{}）", s.code, s.title, s.department.label());
                for f in s.fields {
                    let alias = if f.aliases.is_empty() {
                        String::new()
                    } else {
                        format!("，也可写作 {}", f.aliases.join("、"))
                    };
                    println!(
                        "    {:<12} {}{}{}",
                        f.key,
                        f.header,
                        if f.required { "（必填）" } else { "" },
                        alias
                    );
                }
            }
        }
        Command::Person { id_number, as_of } => {
            let db = open(&cli.db)?;
            let id = yanglao_domain::IdNumber::parse(id_number)?;
            let Some(p) = registry::person_by_id_number(&db, id.as_str())? else {
                bail!("没有身份证号为 {} 的人员", id.masked())
            };
            let as_of = as_of.unwrap_or(today);
            let facts = registry::person_facts(&db, p.id)?;
            let state = yanglao_registry::state::state_on(&facts, as_of);
            println!(
                "{} {} {} 周岁（截至 {as_of}）",
                p.name,
                id.masked(),
                yanglao_domain::dates::age_on(p.birth_date, as_of)
            );
            if let Some(d) = state.died {
                println!("  已于 {d} 死亡");
            }
            for f in &state.facts {
                println!(
                    "  {:<10} {:<24} {}  {} 起{}",
                    f.kind_label,
                    f.value_label,
                    f.source_label,
                    f.valid_from,
                    if f.contested { "  ⚠ 部门间不一致" } else { "" }
                );
            }
        }
        Command::Serve { addr } => {
            let db = open(&cli.db)?;
            init(&db)?;
            serve(db, *addr, Some(files_dir(&cli)))?;
        }
        Command::Demo {
            people,
            region,
            dir,
            addr,
            seed,
        } => demo(*people, region, dir, *addr, *seed, today)?,
        Command::Bench { what } => bench::run(what, today)?,
        Command::List {
            what: ListCommand::Import { file, author },
        } => {
            let db = open(&cli.db)?;
            init(&db)?;
            list_import(&db, file, author)?
        }
        Command::List {
            what: ListCommand::Db(what),
        } => list_cmd::run(&open_ready(&cli.db)?, what, today)?,
        Command::List {
            what:
                ListCommand::Check {
                    file: Some(file),
                    as_of: Some(as_of),
                },
        } => {
            // The file on its own and against the shipped lists, then against the database.
            let which = file.to_string_lossy();
            let file_ok = !file.exists()
                || list_command(&ListCommand::Check {
                    file: Some(file.clone()),
                    as_of: None,
                })
                .is_ok();
            if !list_cmd::check_against_db(&open_ready(&cli.db)?, &which, *as_of)? || !file_ok {
                bail!("{which} 未通过检查（见上）");
            }
        }
        Command::List { what } => list_command(what)?,
        Command::Param { what } => {
            let db = open(&cli.db)?;
            init(&db)?;
            param_command(&db, what, today)?
        }
        Command::Run {
            as_of,
            by,
            request_assessments,
        } => engine_cmd::cmd_run(&open_ready(&cli.db)?, as_of.unwrap_or(today), by, *request_assessments)?,
        Command::Explain { id_number, as_of, all } => {
            engine_cmd::cmd_explain(&open_ready(&cli.db)?, id_number, as_of.unwrap_or(today), *all)?
        }
        Command::Simulate {
            draft,
            as_of,
            param,
            division,
            value,
        } => {
            let db = open_ready(&cli.db)?;
            let as_of = as_of.unwrap_or(today);
            match (draft, param, division, value) {
                (Some(d), None, None, None) => engine_cmd::cmd_simulate(&db, d, as_of)?,
                (None, Some(p), Some(d), Some(v)) => engine_cmd::cmd_simulate_param(&db, p, d, v, as_of)?,
                _ => bail!("给出草稿版本（编号或文件），或 --param、--division、--value 三项"),
            }
        }
        Command::Receipts { what } => engine_cmd::cmd_receipts(&open_ready(&cli.db)?, what, today)?,
        Command::Work { division } => engine_cmd::cmd_work(&open_ready(&cli.db)?, division)?,
        Command::Assess { what } => assess_cmd::run(&open_ready(&cli.db)?, what, today)?,
        Command::Visits { what } => visits_cmd::run(&open_ready(&cli.db)?, what, today)?,
    }
    Ok(())
}

/// The database, created or upgraded.
fn open_ready(url: &str) -> Result<Db> {
    let db = open(url)?;
    init(&db)?;
    Ok(db)
}

/// The declared type of a parameter in the shipped lists (or of the engine's cost shares).
fn param_type(name: &str) -> Result<yanglao_rules::Type> {
    if yanglao_entitlements::simulate::SHARE_PARAMS
        .iter()
        .any(|(_, n)| *n == name)
    {
        return Ok(yanglao_rules::Type::Int);
    }
    if yanglao_visits::schedule::PARAMS.contains(&name) {
        return Ok(yanglao_rules::Type::Int);
    }
    for (_, text) in yanglao_lists::content::BUILTIN {
        let Ok(v) = yanglao_lists::content::load(text) else {
            continue;
        };
        if let Some(t) = v
            .params
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| yanglao_lists::content::param_type(&p.ty))
        {
            return Ok(t);
        }
    }
    bail!("清单中没有名为【{name}】的参数")
}

fn param_command(db: &Db, what: &ParamCommand, today: NaiveDate) -> Result<()> {
    match what {
        ParamCommand::Set {
            name,
            division,
            from,
            value,
            by,
            note,
        } => {
            let ty = param_type(name)?;
            let div = DivisionCode::parse(division).context("--division")?;
            let id = yanglao_lists::params::set(db, name, ty, div, *from, value, by, Utc::now(), note)?;
            println!("已设定【{name}】：{} 自 {from} 起为 {value}（记录 #{id}）", div);
        }
        ParamCommand::Show { name, division, as_of } => {
            param_type(name)?;
            let div = DivisionCode::parse(division).context("--division")?;
            let date = as_of.unwrap_or(today);
            let cat = divisions::load_catalogue(db)?;
            match yanglao_lists::params::resolve(db, &cat, name, div, date)? {
                Some(r) => println!(
                    "【{name}】在 {} 于 {date} 为 {}（{} 自 {} 起设定，设定人 {}）",
                    cat.path_name(div, date),
                    r.value,
                    cat.name(DivisionCode::parse(&r.division)?),
                    r.valid_from,
                    r.set_by
                ),
                None => println!("【{name}】在 {} 于 {date} 尚未设定", cat.path_name(div, date)),
            }
        }
    }
    Ok(())
}

fn list_text(which: &str) -> Result<String> {
    if Path::new(which).exists() {
        return Ok(std::fs::read_to_string(which)?);
    }
    let code = DivisionCode::parse(which).context("应为区划代码或清单文件")?;
    yanglao_lists::content::BUILTIN
        .iter()
        .map(|(_, t)| *t)
        .find(|t| yanglao_lists::content::load(t).is_ok_and(|v| v.jurisdiction == code))
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("没有 {code} 的内置清单"))
}

fn list_import(db: &Db, file: &Path, author: &str) -> Result<()> {
    if file.extension().is_some_and(|e| e == "toml") {
        return list_cmd::import_toml(db, file, author);
    }
    let bytes = std::fs::read(file).with_context(|| format!("读取 {}", file.display()))?;
    let v = match yanglao_lists::xlsx::import(&bytes) {
        Ok(v) => v,
        Err(errors) => {
            for e in &errors {
                println!("  {e}");
            }
            bail!("{} 未通过检查（{} 处问题），未保存", file.display(), errors.len());
        }
    };
    let text = yanglao_lists::xlsx::to_toml(&v)?;
    let id = yanglao_lists::service::save_draft(db, &text, author, Utc::now())?;
    println!(
        "已保存为草稿 #{id}：《{}》{} 项，起草人 {author}（须由他人审核发布）",
        v.title,
        v.items.len()
    );
    Ok(())
}

fn list_sources(file: Option<&Path>) -> Result<Vec<(String, String)>> {
    match file {
        Some(f) => Ok(vec![(
            f.display().to_string(),
            std::fs::read_to_string(f).with_context(|| format!("读取 {}", f.display()))?,
        )]),
        None => Ok(yanglao_lists::content::BUILTIN
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()),
    }
}

fn list_command(what: &ListCommand) -> Result<()> {
    match what {
        ListCommand::Check { file, .. } => {
            let mut failed = 0;
            for (name, text) in list_sources(file.as_deref())? {
                match yanglao_lists::content::load(&text) {
                    Ok(v) => {
                        let rules = v.items.iter().filter(|i| i.eligibility.is_some()).count();
                        let local = v.params.iter().filter(|p| p.local).count();
                        println!(
                            "{name}：{}，{} 项，{rules} 项有资格规则，{} 个参数（{local} 个由地方设定），检查通过。",
                            v.title,
                            v.items.len(),
                            v.params.len()
                        );
                        // A lower list must keep every item of the lists above it and not lower them.
                        for (_, upper_text) in yanglao_lists::content::BUILTIN {
                            let Ok(upper) = yanglao_lists::content::load(upper_text) else {
                                continue;
                            };
                            if upper.jurisdiction == v.jurisdiction || !v.jurisdiction.is_within(upper.jurisdiction) {
                                continue;
                            }
                            let findings = yanglao_lists::dominance::structural(&upper, &v);
                            if findings.is_empty() {
                                println!("  不低于上级《{}》：每个服务项目都在，标准不低。", upper.title);
                            } else {
                                failed += 1;
                                println!("  低于上级《{}》：", upper.title);
                                for f in findings {
                                    println!("    {f}");
                                }
                            }
                        }
                    }
                    Err(errors) => {
                        failed += 1;
                        println!("{name}：{} 处错误", errors.len());
                        for e in errors {
                            println!("  {e}");
                        }
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} 个清单未通过检查");
            }
        }
        ListCommand::Export { which, out } => {
            let v = yanglao_lists::content::load(&list_text(which)?).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            std::fs::write(out, yanglao_lists::xlsx::export(&v)?)?;
            println!("已导出《{}》{} 项至 {}", v.title, v.items.len(), out.display());
        }
        ListCommand::Import { .. } | ListCommand::Db(_) => unreachable!("handled with a database"),
        ListCommand::Show { which } => {
            let text = if Path::new(which).exists() {
                std::fs::read_to_string(which)?
            } else {
                let code = DivisionCode::parse(which).context("应为区划代码或清单文件")?;
                let found = yanglao_lists::content::BUILTIN
                    .iter()
                    .map(|(_, t)| *t)
                    .find(|t| yanglao_lists::content::load(t).is_ok_and(|v| v.jurisdiction == code));
                match found {
                    Some(t) => t.to_string(),
                    None => bail!("没有 {code} 的内置清单"),
                }
            };
            let v = yanglao_lists::content::load(&text).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("{}（{}起施行）", v.title, v.effective_from);
            println!("序号\t服务项目\t服务对象\t服务类型\t资格规则\t金额规则");
            for i in &v.items {
                let ty = i.service_type.label();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    i.seq,
                    i.name,
                    i.target,
                    ty,
                    i.eligibility.as_deref().unwrap_or("—"),
                    i.amount.as_deref().unwrap_or("—")
                );
            }
        }
    }
    Ok(())
}

fn open(url: &str) -> Result<Db> {
    let db = Db::open(url).with_context(|| format!("打开数据库 {url}"))?;
    Ok(db)
}

/// Migrations and the built-in divisions; safe to repeat.
pub fn init(db: &Db) -> Result<usize> {
    db.migrate().context("数据库迁移")?;
    let n = divisions::save_catalogue(db, &builtin::catalogue())?;
    yanglao_lists::service::install_builtin(db, Utc::now()).context("载入内置清单")?;
    Ok(n)
}

fn files_dir(cli: &Cli) -> PathBuf {
    if let Some(f) = &cli.files {
        return f.clone();
    }
    if cli.db.contains("://") || cli.db.starts_with("host=") {
        return PathBuf::from("yanglao-files");
    }
    let file = Path::new(cli.db.strip_prefix("sqlite:").unwrap_or(&cli.db));
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.join("yanglao-files"),
        _ => PathBuf::from("yanglao-files"),
    }
}

/// A progress bar fed from the importer's counter by a small polling thread.
struct Bar {
    pb: ProgressBar,
    done: Arc<std::sync::atomic::AtomicBool>,
    poller: std::thread::JoinHandle<()>,
}

impl Bar {
    fn start(progress: Progress, total: Option<u64>) -> Bar {
        let pb = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template("  {bar:40} {bytes}/{total_bytes} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("  {spinner} {pos} 行 {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (pb2, done2) = (pb.clone(), done.clone());
        let poller = std::thread::spawn(move || {
            while !done2.load(std::sync::atomic::Ordering::Relaxed) {
                pb2.set_position(progress.get());
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Bar { pb, done, poller }
    }

    fn finish(self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.poller.join();
        self.pb.finish_and_clear();
    }
}

/// Imports one file or a generated directory; prints a summary per file.
pub fn import_path(
    db: &Db,
    path: &Path,
    src: Option<&str>,
    overrides: &HashMap<String, String>,
    today: NaiveDate,
    files: &Path,
    show_progress: bool,
) -> Result<Vec<ImportOutcome>> {
    let catalogue = divisions::load_catalogue(db)?;
    let mut jobs: Vec<(PathBuf, String)> = Vec::new();
    let mut catalogue = catalogue;
    if path.is_dir() {
        let m = read_manifest(path).with_context(|| {
            format!(
                "{} 中没有 manifest.json：请逐个文件导入并用 --source 指明数据源",
                path.display()
            )
        })?;
        let (n, issues) = import_villages(db, &catalogue, &path.join(&m.villages_file))?;
        println!("村级区划：导入 {n} 个，问题 {} 个", issues.len());
        for i in issues.iter().take(10) {
            println!("  第{}行 {}：{}", i.row_no, i.column, i.reason);
        }
        catalogue = divisions::load_catalogue(db)?;
        for f in m.files {
            jobs.push((path.join(&f.file), f.source));
        }
        // The 公安 files first: the 户籍 file registers people with their authoritative names
        // and numbers newcomers by village; the files after the death file write the facts of
        // the dead already ended, where the death batch would otherwise end them in place all
        // over the table (ARCHITECTURE decision 33). On SQLite the deaths come first of all, so
        // that nothing is ended in place; on PostgreSQL second, because the 户籍 file must be
        // the first delivery into the 公安 partition to load it bare (decision 31). Then the
        // larger files before the smaller: the next file is read while the current one is
        // written, and a large file behind a small batch was read in the open (养老保险 after
        // 优抚: 1.9 s of 1M). The registry does not depend on the order (supersession, deaths
        // and conflicts are order-free).
        let deaths_first = db.backend() == yanglao_store::Backend::Sqlite;
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        jobs.sort_by_cached_key(|(file, code)| {
            let rank = match (code.as_str(), deaths_first) {
                ("gongan_death", true) | ("gongan_hukou", false) => 0,
                ("gongan_hukou", true) | ("gongan_death", false) => 1,
                _ => 2,
            };
            (rank, std::cmp::Reverse(size(file)))
        });
    } else {
        let Some(code) = src else {
            bail!(
                "请用 --source 指明数据源，可选：{}",
                SOURCES.iter().map(|s| s.code).collect::<Vec<_>>().join("、")
            );
        };
        jobs.push((path.to_path_buf(), code.to_string()));
    }
    let known = std::sync::RwLock::new(yanglao_store::registry::PersonIds::default());
    let mut sources = Vec::with_capacity(jobs.len());
    for (_, code) in &jobs {
        let Some(s) = source(code) else {
            bail!("未知数据源 {code}")
        };
        sources.push(s);
    }
    let options: Vec<ImportOptions> = sources
        .iter()
        .map(|s| ImportOptions {
            source: s,
            today,
            now: Utc::now(),
            archive_dir: Some(files.join("originals")),
            report_dir: Some(files.join("reports")),
            header_overrides: overrides.clone(),
            fail_at: None,
            known: Some(&known),
        })
        .collect();
    let work: Vec<(&Path, &ImportOptions)> = jobs.iter().map(|(f, _)| f.as_path()).zip(options.iter()).collect();
    // Each file's line is printed when its batch begins; the next file is already being read.
    // Both callbacks share the bar and the clock.
    let bar: std::cell::RefCell<Option<Bar>> = std::cell::RefCell::new(None);
    let started: std::cell::Cell<Option<(usize, Instant)>> = std::cell::Cell::new(None);
    let announce = |i: usize| {
        if started.get().is_none_or(|(j, _)| j != i) {
            println!("{}（{}）", jobs[i].0.display(), sources[i].title);
            started.set(Some((i, Instant::now())));
        }
    };
    let mut report: Result<()> = Ok(());
    let results = import_files(
        db,
        &catalogue,
        &work,
        &mut |i, p, total| {
            announce(i);
            if show_progress {
                *bar.borrow_mut() = Some(Bar::start(p, total));
            }
        },
        &mut |i, result| {
            announce(i);
            if let Some(b) = bar.borrow_mut().take() {
                b.finish();
            }
            let secs = started.get().map(|(_, t)| t.elapsed().as_secs_f64()).unwrap_or(0.0);
            if report.is_ok() {
                report = print_outcome(db, result, secs);
            }
        },
    );
    report?;
    let mut out = Vec::with_capacity(results.len());
    for (result, (file, _)) in results.into_iter().zip(&jobs) {
        out.push(result.with_context(|| format!("导入 {}", file.display()))?);
    }
    Ok(out)
}

fn print_outcome(
    db: &Db,
    result: &Result<ImportOutcome, yanglao_registry::import::ImportError>,
    secs: f64,
) -> Result<()> {
    match result {
        Err(e) => println!("  导入失败，该文件未做任何改动：{e}"),
        Ok(ImportOutcome::AlreadyImported(b)) => {
            println!("  该文件已于批次 #{} 导入（SHA-256 相同），未做任何改动。", b.id)
        }
        Ok(ImportOutcome::Applied { batch: b, reports }) => {
            println!(
                "  批次 #{}：{} 行，成功 {}，问题行 {}，重复 {}；新增人员 {}，新增信息 {}，终止信息 {}，部门间不一致 {}；{:.1}s（{:.0} 行/秒，编码 {}）",
                b.id, b.rows_total, b.rows_ok, b.rows_bad, b.rows_duplicate, b.persons_new, b.facts_new, b.facts_ended, b.conflicts, secs,
                b.rows_total as f64 / secs.max(1e-9), b.encoding
            );
            if b.rows_bad > 0 {
                for i in registry::batch_issues(db, b.id, 5, 0)?
                    .iter()
                    .filter(|i| i.severity == registry::Severity::Error)
                {
                    println!("    第{}行 {}「{}」：{}", i.row_no, i.column, i.value, i.reason);
                }
                for r in reports {
                    println!("  问题报告：{}", r.display());
                }
            }
        }
    }
    Ok(())
}

fn serve(db: Db, addr: SocketAddr, files: Option<PathBuf>) -> Result<()> {
    let catalogue = divisions::load_catalogue(&db)?;
    if yanglao_store::accounts::users(&db)?.is_empty() {
        println!(
            "尚无任何账号，控制台无法登录。先建立系统管理员：yanglao user add admin --name 系统管理员 --roles admin --scope '*' --password '…'"
        );
    }
    let mut app = yanglao_web::App::new(db, catalogue);
    app.files_dir = files;
    app.field_key = yanglao_security::fields::FieldKey::from_env()?;
    if app.field_key.is_none() {
        println!("未配置字段加密密钥（YANGLAO_FIELD_KEY 或 YANGLAO_FIELD_KEY_FILE）：联系方式不显示、不能登记。");
    }
    let app = Arc::new(app);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!("养老服务信息平台已启动：http://{addr}/");
    rt.block_on(yanglao_web::serve(app, addr))
        .with_context(|| format!("监听 {addr}"))?;
    Ok(())
}

fn demo(people: usize, region: &str, dir: &Path, addr: SocketAddr, seed: u64, today: NaiveDate) -> Result<()> {
    let region = DivisionCode::parse(region).context("--region")?;
    let cat: Catalogue = builtin::catalogue();
    if cat.get(region).is_none() {
        bail!("内置区划中没有 {region}");
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("清理 {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    let db_path = dir.join("yanglao.db");
    let db = open(&db_path.to_string_lossy())?;
    init(&db)?;
    let gen_dir = dir.join("部门数据");
    let t = Instant::now();
    println!("生成演示地区：{}，{} 位老年人……", cat.path_name(region, today), people);
    generate(
        &cat,
        &GenOptions {
            people,
            seed,
            region,
            as_of: today,
            dirty: true,
            out: gen_dir.clone(),
        },
    )?;
    println!("已生成（{:.1}s），开始导入：", t.elapsed().as_secs_f64());
    import_path(
        &db,
        &gen_dir,
        None,
        &HashMap::new(),
        today,
        &dir.join("yanglao-files"),
        true,
    )?;
    let c = registry::counts(&db)?;
    println!(
        "演示数据就绪：{} 人，{} 条部门信息，用时 {:.1}s。",
        c.persons,
        c.facts,
        t.elapsed().as_secs_f64()
    );
    engine_cmd::demo_engine(&db, region, today).context("演示测算")?;
    let s = yanglao_visits::synth::generate(&db, &divisions::load_catalogue(&db)?, region, today, 3, seed)
        .context("探访演示数据")?;
    println!(
        "探访关爱：{} 名探访人员，{} 次探访记录（近三个月）。",
        s.visitors, s.visits
    );
    demo_accounts(&db, dir, region)?;
    serve(db, addr, Some(dir.join("yanglao-files")))
}

/// Demo accounts, one per role, with fresh random passwords printed once; a field key in the
/// demo directory (outside the database) and contact details for a few hundred people.
fn demo_accounts(db: &Db, dir: &Path, region: DivisionCode) -> Result<()> {
    let key_hex = yanglao_security::fields::FieldKey::generate_hex()?;
    let key_path = dir.join("field.key");
    std::fs::write(&key_path, &key_hex)?;
    // Set before the server's threads start; `serve` reads the key from here like in production.
    std::env::set_var("YANGLAO_FIELD_KEY_FILE", &key_path);
    let key = yanglao_security::fields::FieldKey::from_hex(&key_hex)?;
    let cat = divisions::load_catalogue(db)?;
    let today = yanglao_web::china_today();
    let counties: Vec<DivisionCode> = cat.children_on(region, today).iter().map(|d| d.code).collect();
    let county_a = counties.first().copied().unwrap_or(region);
    let county_b = counties.get(1).copied().unwrap_or(region);
    let village = {
        let mut c = county_a;
        while let Some(ch) = cat.children_on(c, today).first() {
            c = ch.code;
        }
        c
    };
    let accounts = [
        ("admin", "系统管理员".to_string(), "admin", "*".to_string()),
        ("policy", "盟市政策科".into(), "policy", region.short()),
        ("data", "数据管理员".into(), "data", region.short()),
        (
            "case_a",
            format!("{}经办", cat.name(county_a)),
            "case",
            county_a.short(),
        ),
        (
            "case_b",
            format!("{}经办", cat.name(county_b)),
            "case",
            county_b.short(),
        ),
        ("assessor", "评估员".into(), "assessor,case", county_a.short()),
        ("visitor", "村探访员".into(), "visitor", village.short()),
        ("supervisor", "监管（审计）".into(), "supervisor", region.short()),
        ("finance", "财务".into(), "finance", region.short()),
    ];
    println!("演示账号（密码为本次随机生成，只显示这一次）：");
    for (user, name, roles, scope) in accounts {
        let pw = format!("Yl-{}", random_demo_suffix()?);
        admin_cmd::add_user(db, user, &name, roles, &scope, &pw)?;
        println!(
            "  {user:<11} {pw}  {name}（{roles}，范围 {}）",
            if scope == "*" {
                "全部".to_string()
            } else {
                cat.path_name(DivisionCode::parse(&scope)?, today)
            }
        );
    }
    // The demo visitor account is one of the village's visitors: it opens their own week.
    if let Some(r) = db.query_one(
        "SELECT id, name FROM visitor WHERE division = $1 AND left_on IS NULL ORDER BY id LIMIT 1",
        &[yanglao_store::Value::text(village.full())],
    )? {
        yanglao_store::visits::link_account(db, r.int(0)?, Some("visitor"))?;
        println!("  （visitor 账号即探访人员 {}，#{}）", r.text(1)?, r.int(0)?);
    }
    // Contact details for the first few hundred people, encrypted with the demo key.
    let rows = db.query("SELECT id FROM person ORDER BY id LIMIT 300", &[])?;
    for (i, r) in rows.iter().enumerate() {
        let id = r.int(0)?;
        let c = yanglao_store::contacts::Contact {
            phone: Some(format!("13{:09}", (id as u64 * 7919 + i as u64) % 1_000_000_000)),
            address: None,
            guardian: None,
        };
        yanglao_store::contacts::set_contact(db, &key, id, &c, "demo", chrono::Utc::now())?;
    }
    println!("字段加密密钥（SM4）：{}（库外保存）", key_path.display());
    Ok(())
}

fn random_demo_suffix() -> Result<String> {
    Ok(yanglao_security::random_hex(6)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
