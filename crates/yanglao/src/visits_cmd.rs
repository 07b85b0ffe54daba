//! `yanglao visits …`: care visits for special-difficulty older people (issue #7) from the shell —
//! the list with reasons, who is due, visitors and assignments, recording a visit, follow-ups,
//! campaign windows, volunteer points, the monthly visit rate, and demo history.

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use yanglao_domain::DivisionCode;
use yanglao_store::visits as store;
use yanglao_store::{divisions, Db};
use yanglao_visits::rate::{monthly_rate, parse_month, this_month};
use yanglao_visits::roster::{roster, Params};
use yanglao_visits::schedule::due_list;
use yanglao_visits::service::{self, Finding, FollowupInput, Recorded, VisitInput};
use yanglao_visits::{mask, Tier};

#[derive(Subcommand)]
pub enum VisitsCommand {
    /// Who is on the visit list in a division on a date, with reasons and risk tier.
    List {
        #[arg(long)]
        division: String,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Who is due (or overdue) for a visit, soonest first.
    Due {
        #[arg(long)]
        division: String,
        /// Only the people assigned to this visitor.
        #[arg(long)]
        visitor: Option<i64>,
        /// Only the overdue.
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// The monthly visit rate (月探访率) by division one level down, with its definition.
    Rate {
        #[arg(long)]
        division: String,
        /// YYYY-MM (default: this month, so far).
        #[arg(long)]
        month: Option<String>,
    },
    /// Visitors registered in a division.
    Visitors {
        #[arg(long, default_value = "")]
        division: String,
    },
    /// Register a visitor in a village or community (网格员, 社工, 村干部, 志愿者, 低龄健康老年人).
    Visitor {
        #[arg(long)]
        name: String,
        #[arg(long)]
        kind: String,
        /// 12-digit village code.
        #[arg(long)]
        division: String,
        #[arg(long, default_value = "")]
        phone: String,
        #[arg(long)]
        from: Option<NaiveDate>,
        #[arg(long)]
        by: String,
    },
    /// Tie a visitor record to a console account (the visitor then opens their own week), or
    /// untie it with --unlink.
    Link {
        #[arg(long)]
        visitor: i64,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        unlink: bool,
    },
    /// A visitor leaves: their people pass to a successor, or become unassigned.
    Leave {
        #[arg(long)]
        visitor: i64,
        #[arg(long)]
        on: Option<NaiveDate>,
        #[arg(long)]
        successor: Option<i64>,
        #[arg(long)]
        by: String,
    },
    /// Assign people (ID numbers) to a visitor from a date.
    Assign {
        #[arg(long)]
        visitor: i64,
        #[arg(long = "person", required = true)]
        people: Vec<String>,
        #[arg(long)]
        from: Option<NaiveDate>,
        #[arg(long)]
        by: String,
    },
    /// Record a visit. --finding 健康与安全风险:异常:燃气灶软管老化 (repeatable);
    /// --followup 转介服务:内容 (repeatable).
    Record {
        #[arg(long)]
        person: String,
        #[arg(long)]
        visitor: i64,
        #[arg(long)]
        date: Option<NaiveDate>,
        #[arg(long, default_value = "上门")]
        mode: String,
        #[arg(long = "finding")]
        findings: Vec<String>,
        #[arg(long = "followup")]
        followups: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, default_value_t = 0)]
        minutes: i64,
        /// Idempotency key: the same key again stores nothing new (default: made up).
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        by: String,
    },
    /// Follow-ups (转介服务, 帮扶救助, 紧急处置): open ones, or all.
    Followups {
        #[arg(long, default_value = "")]
        division: String,
        #[arg(long)]
        all: bool,
    },
    /// Close a follow-up with who, when and the outcome.
    Close {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        on: Option<NaiveDate>,
        #[arg(long)]
        outcome: String,
    },
    /// Declare a campaign window (极端天气, 传统节日, 重大变故, 其他): one more visit due for the tiers named.
    Campaign {
        #[arg(long)]
        division: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        /// Comma-separated: 高风险,重点,一般
        #[arg(long, default_value = "高风险,重点")]
        tiers: String,
        #[arg(long)]
        by: String,
    },
    /// Volunteer hours and points (时间银行, 积分超市) per visitor.
    Points {
        #[arg(long, default_value = "")]
        division: String,
    },
    /// Demo data: visitors per village and visit history for the months before this one.
    Gen {
        #[arg(long)]
        region: String,
        #[arg(long, default_value_t = 3)]
        months: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn division(s: &str) -> Result<DivisionCode> {
    DivisionCode::parse(s).with_context(|| format!("区划代码 {s}"))
}

fn prefix(s: &str) -> Result<String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    Ok(division(s)?.prefix())
}

pub fn run(db: &Db, what: &VisitsCommand, today: NaiveDate) -> Result<()> {
    let cat = divisions::load_catalogue(db)?;
    let now = Utc::now();
    match what {
        VisitsCommand::List { division: d, as_of } => {
            let d = division(d)?;
            let as_of = as_of.unwrap_or(today);
            let params = Params::load(db)?;
            let list = roster(db, &cat, &params, as_of, Some(d))?;
            let ids: Vec<i64> = list.members.iter().map(|m| m.person_id).collect();
            let names = store::person_names(db, &ids)?;
            println!(
                "{} 探访名册（{as_of}）：{} 人",
                cat.path_name(d, as_of),
                list.members.len()
            );
            for m in &list.members {
                let (name, idn) = names.get(&m.person_id).cloned().unwrap_or_default();
                println!(
                    "  {:<6} {} {:>3}岁 {:<4} {}  {}",
                    name,
                    mask(&idn),
                    m.age,
                    m.tier.label(),
                    m.reasons_text(),
                    cat.name(m.division)
                );
            }
        }
        VisitsCommand::Due {
            division: d,
            visitor,
            overdue,
            as_of,
        } => {
            let d = division(d)?;
            let as_of = as_of.unwrap_or(today);
            let list = due_list(db, &cat, as_of, Some(d), *visitor)?;
            let list: Vec<_> = list.into_iter().filter(|e| !*overdue || e.overdue()).collect();
            let ids: Vec<i64> = list.iter().map(|e| e.member.person_id).collect();
            let names = store::person_names(db, &ids)?;
            println!("{} 应探访（{as_of}）：{} 人", cat.path_name(d, as_of), list.len());
            for e in &list {
                let (name, idn) = names.get(&e.member.person_id).cloned().unwrap_or_default();
                println!(
                    "  {} {:<6} {} {:<4} 上次 {} 每{}天{}{}",
                    e.due_on,
                    name,
                    mask(&idn),
                    e.member.tier.label(),
                    e.last_visit.map_or("未探访".to_string(), |d| d.to_string()),
                    e.interval_days,
                    if e.overdue() {
                        format!("  逾期{}天", e.overdue_days)
                    } else {
                        String::new()
                    },
                    e.campaign.as_ref().map(|c| format!("  专项：{c}")).unwrap_or_default()
                );
            }
        }
        VisitsCommand::Rate { division: d, month } => {
            let d = division(d)?;
            let (y, m) = match month {
                Some(s) => parse_month(s).context("--month 应为 YYYY-MM")?,
                None => this_month(today),
            };
            let t = monthly_rate(db, &cat, d, y, m, today)?;
            println!(
                "{} {y}年{m}月 月探访率（{} 至 {}），目标 100%",
                t.scope_name, t.from, t.upto
            );
            println!(
                "  {:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
                "区划", "整月在册", "已探访", "探访率", "未探访", "月内新增", "月内离册"
            );
            for r in t.rows.iter().chain(std::iter::once(&t.total)) {
                println!(
                    "  {:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
                    r.name,
                    r.on_list,
                    r.visited,
                    r.rate_text(),
                    r.gap(),
                    r.joined,
                    r.left
                );
            }
            println!("口径：{}", t.definition);
        }
        VisitsCommand::Visitors { division: d } => {
            for v in store::visitors(db, &prefix(d)?)? {
                let place = DivisionCode::parse(&v.division)
                    .map(|c| cat.name(c))
                    .unwrap_or_default();
                println!(
                    "  #{:<5} {:<6} {:<8} {} {}{}",
                    v.id,
                    v.name,
                    v.kind,
                    place,
                    v.active_from,
                    v.left_on.map(|d| format!(" 至 {d} 离岗")).unwrap_or_default()
                );
            }
        }
        VisitsCommand::Visitor {
            name,
            kind,
            division,
            phone,
            from,
            by,
        } => {
            let id = service::register_visitor(db, name, kind, division, phone, from.unwrap_or(today), by, now)?;
            println!("已登记探访人员 #{id} {name}（{kind}）");
        }
        VisitsCommand::Link {
            visitor,
            account,
            unlink,
        } => {
            let account = match (account, unlink) {
                (Some(a), false) => {
                    if yanglao_store::accounts::user_by_name(db, a)?.is_none() {
                        anyhow::bail!("没有用户 {a}（先用 yanglao user add 建立）");
                    }
                    Some(a.as_str())
                }
                (None, true) => None,
                _ => anyhow::bail!("请给出 --account 用户名，或 --unlink"),
            };
            if yanglao_store::visits::link_account(db, *visitor, account)? == 0 {
                anyhow::bail!("没有探访人员 #{visitor}");
            }
            match account {
                Some(a) => println!("探访人员 #{visitor} 对应账号 {a}"),
                None => println!("探访人员 #{visitor} 不再对应任何账号"),
            }
        }
        VisitsCommand::Leave {
            visitor,
            on,
            successor,
            by,
        } => {
            let moved = service::leave(db, *visitor, on.unwrap_or(today), *successor, by, now)?;
            match successor {
                Some(s) => println!("探访人员 #{visitor} 离岗，{moved} 人转由 #{s} 探访"),
                None => println!("探访人员 #{visitor} 离岗，所联系的老年人改为未分配"),
            }
        }
        VisitsCommand::Assign {
            visitor,
            people,
            from,
            by,
        } => {
            let mut ids = Vec::new();
            for p in people {
                ids.push(service::person_id(db, p)?);
            }
            let n = service::assign(db, *visitor, &ids, from.unwrap_or(today), by, now)?;
            println!("已分配 {n} 人给探访人员 #{visitor}");
        }
        VisitsCommand::Record {
            person,
            visitor,
            date,
            mode,
            findings,
            followups,
            note,
            minutes,
            key,
            by,
        } => {
            let mut fs = Vec::new();
            for f in findings {
                let mut parts = f.splitn(3, [':', '：']);
                let (Some(h), Some(s)) = (parts.next(), parts.next()) else {
                    bail!("--finding 应为 项目:情况[:说明]，如 健康与安全风险:异常:燃气灶软管老化");
                };
                fs.push(Finding {
                    heading: h.to_string(),
                    status: s.to_string(),
                    note: parts.next().unwrap_or("").to_string(),
                });
            }
            let mut us = Vec::new();
            for f in followups {
                let Some((k, detail)) = f.split_once([':', '：']) else {
                    bail!("--followup 应为 类别:内容，如 转介服务:联系燃气公司");
                };
                us.push(FollowupInput {
                    kind: k.to_string(),
                    detail: detail.to_string(),
                });
            }
            let key = key
                .clone()
                .unwrap_or_else(|| format!("cli-{}-{}", now.timestamp_nanos_opt().unwrap_or(0), std::process::id()));
            let input = VisitInput {
                idem_key: key,
                person_id: service::person_id(db, person)?,
                visitor_id: *visitor,
                visited_on: date.unwrap_or(today),
                mode: mode.clone(),
                note: note.clone(),
                findings: fs,
                followups: us,
                minutes: *minutes,
                by: by.clone(),
            };
            match service::record_visit(db, &input, today, now)? {
                Recorded::New(id) => println!("已记录探访 #{id}"),
                Recorded::Duplicate(id) => println!("该探访已记录（#{id}），未重复保存"),
            }
        }
        VisitsCommand::Followups { division: d, all } => {
            let rows = store::followups(db, if *all { None } else { Some("open") }, &prefix(d)?)?;
            println!("后续措施：{} 项", rows.len());
            for f in rows {
                println!(
                    "  #{:<5} {} {:<6} {} {} {}：{}{}",
                    f.id,
                    f.opened_on,
                    f.person_name,
                    mask(&f.id_number),
                    if f.status == "open" { "办理中" } else { "已办结" },
                    f.kind,
                    f.detail,
                    match (&f.closed_by, f.closed_on, &f.outcome) {
                        (Some(b), Some(o), Some(r)) => format!("（{o} {b}：{r}）"),
                        _ => String::new(),
                    }
                );
            }
        }
        VisitsCommand::Close { id, by, on, outcome } => {
            service::close_followup(db, *id, by, on.unwrap_or(today), outcome, today, now)?;
            println!("后续措施 #{id} 已办结");
        }
        VisitsCommand::Campaign {
            division,
            name,
            reason,
            from,
            to,
            tiers,
            by,
        } => {
            let mut ts = Vec::new();
            for t in tiers.split([',', '，', '、']).filter(|s| !s.trim().is_empty()) {
                ts.push(Tier::parse(t).with_context(|| format!("风险等级“{t}”应为 高风险、重点、一般"))?);
            }
            let id = service::declare_campaign(db, division, name, reason, *from, *to, &ts, by, now)?;
            println!("已设专项探访 #{id}：{name}（{from} 至 {to}）");
        }
        VisitsCommand::Points { division: d } => {
            for c in store::credit_totals(db, &prefix(d)?)? {
                println!(
                    "  #{:<5} {:<6} {:<8} 探访 {:>4} 次  服务 {:>4}.{} 小时  积分 {:>5}",
                    c.visitor.id,
                    c.visitor.name,
                    c.visitor.kind,
                    c.visits,
                    c.minutes / 60,
                    c.minutes % 60 * 10 / 60,
                    c.points
                );
            }
        }
        VisitsCommand::Gen { region, months, seed } => {
            let s = yanglao_visits::synth::generate(db, &cat, division(region)?, today, *months, *seed)?;
            println!(
                "已生成探访演示数据：探访人员 {} 名，结对 {} 条，探访 {} 次，后续措施 {} 项",
                s.visitors, s.assignments, s.visits, s.followups
            );
        }
    }
    Ok(())
}
