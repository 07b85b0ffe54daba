//! `yanglao assess …`: capability assessments (GB/T 42195-2022) from the shell — import results
//! done in other systems, statistics and overdue lists by division, the reassessment period, and
//! the register of agencies and assessors the imports are checked against.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use yanglao_assessment::import::{self, Outcome};
use yanglao_assessment::ltc_service::{self, TableInput, NO_TABLE};
use yanglao_assessment::reports::{self, Due, PERIOD_PARAM};
use yanglao_assessment::service::{self, AgencyInput, AssessorInput};
use yanglao_domain::{DivisionCode, IdNumber};
use yanglao_store::{assessments as store, divisions, Db};

#[derive(Subcommand)]
pub enum AssessCommand {
    /// Import assessments done elsewhere (.xlsx or CSV, first sheet; header: 身份证号, 姓名,
    /// 评估日期, 评估机构, 评估员1, 评估员2, B.1.1 … B.4.5, A.2.14.1 … A.2.14.5, 昏迷; optional
    /// 评估编号, 评估原因, 疾病诊断编码, 总分, 能力等级). Any bad row refuses the whole file.
    Import {
        file: PathBuf,
        /// Who imports (recorded as the reviewer of these results).
        #[arg(long)]
        by: String,
        /// Assessment dates after this day are refused (default: today).
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Assessed persons by level and division, and the share of people aged 65+ assessed.
    Stats {
        #[arg(long)]
        division: String,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Persons due for reassessment in a division (period passed, or an open 即时评估/复评).
    Overdue {
        #[arg(long)]
        division: String,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Set the reassessment period (months) for a division from a date (default 12 where unset).
    Period {
        #[arg(long)]
        division: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        months: u32,
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Register an assessment agency with its qualification.
    Agency {
        #[arg(long)]
        name: String,
        #[arg(long)]
        division: String,
        /// Who recognised it and how (e.g. 新城区民政局认定 新民发〔2024〕1号).
        #[arg(long)]
        qualification: String,
        #[arg(long)]
        from: NaiveDate,
        /// End of the qualification (exclusive).
        #[arg(long)]
        to: Option<NaiveDate>,
        #[arg(long)]
        by: String,
    },
    /// Register an assessor of an agency with certificate and qualification.
    Assessor {
        /// The agency's registered name.
        #[arg(long)]
        agency: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        certificate: String,
        #[arg(long)]
        qualification: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: Option<NaiveDate>,
        #[arg(long)]
        by: String,
    },
    /// 长期护理失能等级 grading tables (医保办发〔2021〕37号; cut-offs and 组合法 loaded per
    /// jurisdiction because the official numbers are unconfirmed).
    LtcTable {
        #[command(subcommand)]
        what: LtcTableCommand,
    },
}

#[derive(Subcommand)]
pub enum LtcTableCommand {
    /// Load a grading table (TOML: source, adl/cognition/perception cut-offs, [combination]) for
    /// a division from a date; it grades LTC assessments of persons there from that date.
    Load {
        file: PathBuf,
        #[arg(long)]
        division: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        by: String,
        /// The document the jurisdiction loads it under (e.g. 实施细则 and 文号).
        #[arg(long)]
        source: String,
    },
    /// List loaded grading tables.
    List,
}

fn masked(id: &str) -> String {
    IdNumber::parse(id)
        .map(|i| i.masked())
        .unwrap_or_else(|_| "（无效号码）".into())
}

pub fn run(db: &Db, what: &AssessCommand, today: NaiveDate) -> Result<()> {
    match what {
        AssessCommand::Import { file, by, as_of } => {
            match import::import_file(db, file, by, as_of.unwrap_or(today), Utc::now())? {
                Outcome::Applied { batch, records } => println!(
                    "已导入 {records} 份评估（批次 #{}，新增能力等级 {} 条，结束旧等级 {} 条）",
                    batch.id, batch.facts_new, batch.facts_ended
                ),
                Outcome::AlreadyImported(b) => {
                    println!("该文件已于 {} 导入（批次 #{}），未重复导入", b.started_at, b.id)
                }
                Outcome::Rejected(issues) => {
                    for i in &issues {
                        println!("  第{}行 {}：{}（{}）", i.row_no, i.column, i.reason, i.value);
                    }
                    bail!(
                        "{} 有 {} 处问题，整个文件未导入；请修改后重新导入",
                        file.display(),
                        issues.len()
                    );
                }
            }
        }
        AssessCommand::Stats { division, as_of } => {
            let div = DivisionCode::parse(division).context("--division")?;
            let date = as_of.unwrap_or(today);
            let cat = divisions::load_catalogue(db)?;
            let s = reports::stats(db, &cat, div, date)?;
            println!("{} 截至 {date}：", cat.path_name(div, date));
            println!(
                "  {:<24} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8}",
                "区划", "老年人", "0级", "1级", "2级", "3级", "4级", "已评估", "65岁+", "65岁+已评", "覆盖率"
            );
            for r in s.rows.iter().chain(std::iter::once(&s.total)) {
                let share = r
                    .share_65_permille()
                    .map(|p| format!("{}.{}%", p / 10, p % 10))
                    .unwrap_or_else(|| "—".into());
                println!(
                    "  {:<24} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8}",
                    r.name,
                    r.persons,
                    r.by_level[0],
                    r.by_level[1],
                    r.by_level[2],
                    r.by_level[3],
                    r.by_level[4],
                    r.assessed,
                    r.aged_65,
                    r.aged_65_assessed,
                    share
                );
            }
        }
        AssessCommand::Overdue { division, as_of } => {
            let div = DivisionCode::parse(division).context("--division")?;
            let date = as_of.unwrap_or(today);
            let cat = divisions::load_catalogue(db)?;
            let rows = reports::overdue(db, &cat, div, date)?;
            let (months, _) = reports::period_for(db, &cat, div, date)?;
            println!(
                "{} 截至 {date} 待复评 {} 人（【{PERIOD_PARAM}】{months}）：",
                cat.path_name(div, date),
                rows.len()
            );
            for r in rows {
                let why = match r.due {
                    Due::Period { last_on, due_on, .. } => format!("上次评估 {last_on}，{due_on} 到期"),
                    Due::Trigger {
                        request_id,
                        reason,
                        requested_on,
                    } => format!("{}（申请 #{request_id}，{requested_on}）", reason.label()),
                };
                println!(
                    "  {} {} {}周岁  逾期{}天  {}",
                    r.name,
                    masked(&r.id_number),
                    r.age,
                    r.days_overdue,
                    why
                );
            }
        }
        AssessCommand::Period {
            division,
            from,
            months,
            by,
            note,
        } => {
            let div = DivisionCode::parse(division).context("--division")?;
            let id = reports::set_period(db, div, *from, *months, by, Utc::now(), note)?;
            println!("已设定【{PERIOD_PARAM}】：{div} 自 {from} 起为 {months}（记录 #{id}）");
        }
        AssessCommand::Agency {
            name,
            division,
            qualification,
            from,
            to,
            by,
        } => {
            let id = service::register_agency(
                db,
                &AgencyInput {
                    name,
                    division,
                    qualification,
                    qualified_from: *from,
                    qualified_to: *to,
                },
                by,
                Utc::now(),
            )?;
            println!("已登记评估机构 #{id}：{name}");
        }
        AssessCommand::Assessor {
            agency,
            name,
            certificate,
            qualification,
            from,
            to,
            by,
        } => {
            let Some(a) = store::agencies(db)?.into_iter().find(|a| &a.name == agency) else {
                bail!("没有登记名为“{agency}”的评估机构");
            };
            let id = service::register_assessor(
                db,
                &AssessorInput {
                    agency_id: a.id,
                    name,
                    certificate,
                    qualification,
                    qualified_from: *from,
                    qualified_to: *to,
                },
                by,
                Utc::now(),
            )?;
            println!("已登记评估员 #{id}：{name}（{}，证书 {certificate}）", a.name);
        }
        AssessCommand::LtcTable {
            what:
                LtcTableCommand::Load {
                    file,
                    division,
                    from,
                    by,
                    source,
                },
        } => {
            let text = std::fs::read_to_string(file).with_context(|| format!("读取分级表文件 {}", file.display()))?;
            let table = ltc_service::parse_table(&text)?;
            let id = ltc_service::load_table(
                db,
                &table,
                &TableInput {
                    division,
                    valid_from: *from,
                    source_document: source,
                },
                by,
                Utc::now(),
            )?;
            println!(
                "已载入长期护理失能等级分级表 #{id}：{division} 自 {from} 起（{}）",
                table.spec().source
            );
        }
        AssessCommand::LtcTable {
            what: LtcTableCommand::List,
        } => {
            let rows = yanglao_store::ltc::tables(db)?;
            if rows.is_empty() {
                println!("尚未载入长期护理失能等级分级表：{NO_TABLE}");
            }
            for r in rows {
                println!(
                    "  #{} {} 自 {} 起  {}  载入人 {}（{}）",
                    r.id,
                    r.division,
                    r.valid_from,
                    r.source_document,
                    r.loaded_by,
                    yanglao_web::local_time(r.loaded_at)
                );
            }
        }
    }
    Ok(())
}
