//! `yanglao list versions|submit|send-back|publish|diff` and the check against the registry
//! (`list check FILE --as-of D`): the list life cycle from the shell, maker-checker enforced by
//! `yanglao_lists::service`, publication gated by `yanglao_entitlements::dominance`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use yanglao_domain::DivisionCode;
use yanglao_entitlements::dominance::{self, DominanceCheck, PublishError};
use yanglao_entitlements::engine::{parse_version, AppliedVersion};
use yanglao_lists::content::load;
use yanglao_lists::diff::{diff, Change};
use yanglao_lists::model::{ListVersion, Status};
use yanglao_lists::service::{advance, status_of};
use yanglao_store::{divisions, lists as store, Db};

/// Persons shown per item in a refusal (all are counted).
const SHOWN_PER_ITEM: usize = 50;

#[derive(Subcommand)]
pub enum ListDbCommand {
    /// Every list version in the database: id, jurisdiction, level, status, author.
    Versions,
    /// Submit a draft for review (草稿 → 审核中).
    Submit {
        id: i64,
        #[arg(long)]
        by: String,
    },
    /// Send a version under review back to its author (审核中 → 草稿).
    SendBack {
        id: i64,
        #[arg(long)]
        by: String,
    },
    /// Publish a version under review. The publisher is not the author; a version below a list
    /// in force is checked against it first (every item kept, nobody in the registry given
    /// less) and refused with the items and persons named.
    Publish {
        id: i64,
        #[arg(long)]
        by: String,
        /// Registry date of the check (default: the effective date, or today if later).
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Differences between two versions, item by item: each a version id, a shipped list's
    /// jurisdiction code (150000, 653200) or a TOML file.
    Diff { a: String, b: String },
}

pub fn run(db: &Db, what: &ListDbCommand, today: NaiveDate) -> Result<()> {
    match what {
        ListDbCommand::Versions => {
            println!("编号\t区划\t层级\t施行日期\t状态\t起草人\t标题");
            for v in store::versions(db)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    v.id,
                    v.jurisdiction,
                    v.level,
                    v.effective_from,
                    status_of(&v.status).map_or(v.status.as_str(), |s| s.label()),
                    v.author,
                    v.title
                );
            }
        }
        ListDbCommand::Submit { id, by } => {
            advance(db, *id, Status::UnderReview, by, Utc::now())?;
            println!("清单版本 #{id} 已提交审核（{by}）；须由起草人以外的人员发布。");
        }
        ListDbCommand::SendBack { id, by } => {
            advance(db, *id, Status::Draft, by, Utc::now())?;
            println!("清单版本 #{id} 已退回起草人修改（{by}）。");
        }
        ListDbCommand::Publish { id, by, as_of } => {
            let cat = divisions::load_catalogue(db)?;
            match dominance::publish(db, &cat, *id, by, Utc::now(), today, *as_of) {
                Ok(c) => {
                    println!("清单版本 #{id} 已发布（{by}）。");
                    print_check(&c, SHOWN_PER_ITEM);
                }
                Err(PublishError::Refused(c)) => {
                    print_check(&c, SHOWN_PER_ITEM);
                    bail!("清单版本 #{id} 不予发布：低于上级清单（见上），仍在审核中");
                }
                Err(e) => return Err(e.into()),
            }
        }
        ListDbCommand::Diff { a, b } => {
            let (ta, va) = version_of(db, a)?;
            let (tb, vb) = version_of(db, b)?;
            println!("《{}》（{ta}）→《{}》（{tb}）", va.title, vb.title);
            let changes = diff(&va, &vb);
            if changes.is_empty() {
                println!("没有差异。");
            }
            for c in changes {
                println!("  {}", change_line(&c));
            }
        }
    }
    Ok(())
}

pub fn change_line(c: &Change) -> String {
    match c {
        Change::Added { code, name } => format!("新增 “{name}”（{code}）"),
        Change::Removed { code, name } => format!("删除 “{name}”（{code}）"),
        Change::Changed {
            name,
            field,
            before,
            after,
            ..
        } => format!("修改 “{name}” 的{field}：{before} → {after}"),
        Change::Param { name, before, after } => format!("参数【{name}】：{before} → {after}"),
    }
}

/// A version named by a file, a shipped list's jurisdiction code or a version id.
fn version_of(db: &Db, which: &str) -> Result<(String, ListVersion)> {
    if Path::new(which).exists() {
        let text = std::fs::read_to_string(which).with_context(|| format!("读取 {which}"))?;
        return Ok((which.to_string(), checked(&text, which)?));
    }
    if matches!(which.len(), 6 | 9 | 12) {
        let code = DivisionCode::parse(which).context("应为版本编号、区划代码或清单文件")?;
        let text = yanglao_lists::content::BUILTIN
            .iter()
            .map(|(_, t)| *t)
            .find(|t| load(t).is_ok_and(|v| v.jurisdiction == code))
            .with_context(|| format!("没有 {code} 的内置清单"))?;
        return Ok((format!("内置 {which}"), checked(text, which)?));
    }
    let id: i64 = which.parse().context("应为版本编号、区划代码或清单文件")?;
    let row = store::version(db, id)?.with_context(|| format!("没有清单版本 #{id}"))?;
    let label = format!(
        "#{id} {}",
        status_of(&row.status).map_or(row.status.as_str(), |s| s.label())
    );
    Ok((label, checked(&row.content, which)?))
}

/// `list import FILE.toml --author`: a list version file saved as a draft.
pub fn import_toml(db: &Db, file: &Path, author: &str) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("读取 {}", file.display()))?;
    let v = checked(&text, &file.display().to_string())?;
    let id = yanglao_lists::service::save_draft(db, &text, author, Utc::now())?;
    println!(
        "已保存为草稿 #{id}：《{}》{} 项，起草人 {author}（须由他人审核发布）",
        v.title,
        v.items.len()
    );
    Ok(())
}

fn checked(text: &str, name: &str) -> Result<ListVersion> {
    load(text).map_err(|errs| {
        anyhow::anyhow!(
            "{name} 未通过检查：{}",
            errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("；")
        )
    })
}

/// `list check FILE --as-of D`: the file (or version id) against the lists in force in the
/// database on D, structurally and by simulation over the registry. Returns whether it passed.
pub fn check_against_db(db: &Db, which: &str, as_of: NaiveDate) -> Result<bool> {
    let cat = divisions::load_catalogue(db)?;
    let applied = if Path::new(which).exists() {
        let text = std::fs::read_to_string(which).with_context(|| format!("读取 {which}"))?;
        let list = checked(&text, which)?;
        file_version(list, text)
    } else {
        let id: i64 = which.parse().context("应为清单文件或版本编号")?;
        let row = store::version(db, id)?.with_context(|| format!("没有清单版本 #{id}"))?;
        parse_version(row)?
    };
    let c = dominance::check(db, &cat, &applied, as_of)?;
    println!(
        "《{}》对照 {as_of} 施行的上级清单：{}",
        applied.list.title,
        if c.simulation.uppers.is_empty() {
            "没有上级清单".to_string()
        } else {
            c.simulation
                .uppers
                .iter()
                .map(|u| format!("《{u}》"))
                .collect::<Vec<_>>()
                .join("、")
        }
    );
    print_check(&c, SHOWN_PER_ITEM);
    Ok(c.passed())
}

fn file_version(list: ListVersion, text: String) -> AppliedVersion {
    AppliedVersion {
        row: store::VersionRow {
            id: 0,
            jurisdiction: list.jurisdiction.short(),
            level: list.level.label().to_string(),
            title: list.title.clone(),
            effective_from: list.effective_from,
            change_note: list.change_note.clone(),
            source_title: list.source.title.clone(),
            status: "draft".into(),
            author: String::new(),
            content: text,
            content_sha256: String::new(),
            created_at: Utc::now(),
        },
        list,
    }
}

fn print_check(c: &DominanceCheck, per_item: usize) {
    let sim = &c.simulation;
    if sim.uppers.is_empty() {
        return;
    }
    println!(
        "  登记数据测算（{}）：辖区内 {} 人，对照 {} 个有规则的上级服务项目",
        sim.as_of, sim.persons_in_scope, sim.items_compared
    );
    if c.passed() {
        println!("  不低于上级：每个服务项目都在，没有人在下级清单中所得更少。");
        return;
    }
    for line in c.summary(per_item) {
        println!("  {line}");
    }
}
