//! Accounts, API tokens, the audit log and the field key from the command line: the first
//! administrator is made here, and `audit verify` is what an auditor runs.

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Subcommand;
use yanglao_security::fields::FieldKey;
use yanglao_security::roles::{parse_roles, roles_code};
use yanglao_security::{password, random_hex, token_digest};
use yanglao_store::accounts::{self, NewUser};
use yanglao_store::audit::{self, AuditEntry, AuditFilter};
use yanglao_store::{divisions, Db};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user. The password comes from --password or the YANGLAO_PASSWORD variable.
    Add {
        username: String,
        #[arg(long)]
        name: String,
        /// Role codes or names, comma-separated: admin policy data case assessor visitor institution supervisor finance.
        #[arg(long)]
        roles: String,
        /// Division code of the user's scope, or * for everywhere.
        #[arg(long)]
        scope: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// List users with their roles, scope and state.
    List,
    /// Set a new password (ends the user's sessions and unlocks the account).
    Passwd {
        username: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Unlock an account locked by failed logins.
    Unlock { username: String },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token for another department's system; the token is printed once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        roles: String,
        #[arg(long)]
        scope: String,
    },
    List,
    Revoke {
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the SM3 hash chain; exits with status 1 if any entry was changed or removed.
    Verify,
    /// The latest entries.
    List {
        #[arg(long, default_value_t = 30)]
        limit: i64,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        target: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Print a new random SM4 field key (keep it outside the database: YANGLAO_FIELD_KEY or a key file).
    Generate,
}

fn actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

fn log(db: &Db, action: &str, target: &str, detail: &str) -> Result<()> {
    audit::append(
        db,
        &[AuditEntry {
            at: Utc::now(),
            actor: actor(),
            ip: "local".into(),
            action: action.into(),
            target: target.into(),
            detail: detail.into(),
        }],
    )?;
    Ok(())
}

fn password_from(arg: &Option<String>) -> Result<String> {
    match arg.clone().or_else(|| std::env::var("YANGLAO_PASSWORD").ok()) {
        Some(p) => Ok(p),
        None => bail!("请用 --password 或环境变量 YANGLAO_PASSWORD 给出密码"),
    }
}

fn check_scope(db: &Db, scope: &str) -> Result<()> {
    if scope.trim() == "*" {
        return Ok(());
    }
    let cat = divisions::load_catalogue(db)?;
    let code = yanglao_domain::DivisionCode::parse(scope.trim()).map_err(|e| anyhow::anyhow!("--scope：{e}"))?;
    // Villages are not in the built-in catalogue: a code counts if it or an ancestor is.
    let mut known = Some(code);
    while let Some(k) = known {
        if cat.get(k).is_some() {
            return Ok(());
        }
        known = k.parent();
    }
    bail!("--scope：{scope} 不是已登记的行政区划");
}

/// Creates a user after the same checks as the web form; returns the new id.
pub fn add_user(db: &Db, username: &str, name: &str, roles: &str, scope: &str, pw: &str) -> Result<i64> {
    let roles = parse_roles(roles).map_err(|e| anyhow::anyhow!("--roles：{e}"))?;
    check_scope(db, scope)?;
    password::check_policy(pw, username)?;
    let hash = password::hash(pw)?;
    let id = accounts::create_user(
        db,
        &NewUser {
            username,
            display_name: name,
            password_hash: &hash,
            roles: &roles_code(&roles),
            scope: scope.trim(),
            created_by: &actor(),
        },
        Utc::now(),
    )?;
    log(
        db,
        "user.create",
        &format!("user:{username}"),
        &format!("角色 {}，范围 {scope}", roles_code(&roles)),
    )?;
    Ok(id)
}

pub fn user_command(db: &Db, what: &UserCommand) -> Result<()> {
    match what {
        UserCommand::Add {
            username,
            name,
            roles,
            scope,
            password,
        } => {
            let pw = password_from(password)?;
            add_user(db, username, name, roles, scope, &pw)?;
            println!("已创建用户 {username}。");
        }
        UserCommand::List => {
            let now = Utc::now();
            for u in accounts::users(db)? {
                let state = if !u.active {
                    "停用"
                } else if u.locked_until.is_some_and(|t| t > now) {
                    "锁定"
                } else {
                    "正常"
                };
                println!(
                    "{:<16} {:<10} {:<28} {:<8} {state}",
                    u.username, u.display_name, u.roles, u.scope
                );
            }
        }
        UserCommand::Passwd { username, password } => {
            let u = accounts::user_by_name(db, username)?.with_context(|| format!("没有用户 {username}"))?;
            let pw = password_from(password)?;
            password::check_policy(&pw, username)?;
            let now = Utc::now();
            accounts::set_password(db, u.id, &password::hash(&pw)?, now)?;
            accounts::end_user_sessions(db, u.id, now)?;
            log(db, "user.password", &format!("user:{username}"), "")?;
            println!("已为 {username} 设置新密码。");
        }
        UserCommand::Unlock { username } => {
            let u = accounts::user_by_name(db, username)?.with_context(|| format!("没有用户 {username}"))?;
            accounts::unlock(db, u.id)?;
            log(db, "user.unlock", &format!("user:{username}"), "")?;
            println!("已解锁 {username}。");
        }
    }
    Ok(())
}

pub fn token_command(db: &Db, what: &TokenCommand) -> Result<()> {
    match what {
        TokenCommand::Create { name, roles, scope } => {
            let r = parse_roles(roles).map_err(|e| anyhow::anyhow!("--roles：{e}"))?;
            check_scope(db, scope)?;
            let secret = random_hex(32)?;
            let id = accounts::create_token(
                db,
                &token_digest(&secret),
                name,
                &roles_code(&r),
                scope.trim(),
                &actor(),
                Utc::now(),
            )?;
            log(db, "token.create", &format!("token:{id}"), name)?;
            println!("令牌 #{id}（{name}）：{secret}");
            println!("只显示这一次。调用时加请求头 Authorization: Bearer {secret}");
        }
        TokenCommand::List => {
            for t in accounts::tokens(db)? {
                println!(
                    "#{:<4} {:<16} {:<20} {:<8} {}",
                    t.id,
                    t.name,
                    t.roles,
                    t.scope,
                    if t.revoked { "已吊销" } else { "有效" }
                );
            }
        }
        TokenCommand::Revoke { id } => {
            if !accounts::revoke_token(db, *id, Utc::now())? {
                bail!("没有有效的令牌 #{id}");
            }
            log(db, "token.revoke", &format!("token:{id}"), "")?;
            println!("已吊销令牌 #{id}。");
        }
    }
    Ok(())
}

/// Returns whether the log verified.
pub fn audit_command(db: &Db, what: &AuditCommand) -> Result<bool> {
    match what {
        AuditCommand::Verify => {
            let v = audit::verify(db)?;
            if v.ok() {
                println!("审计日志完整：{} 条记录的 SM3 哈希链逐条校验无误。", v.entries);
                Ok(true)
            } else {
                println!(
                    "审计日志被改动：{} 条记录中发现 {} 处问题：",
                    v.entries,
                    v.problems.len()
                );
                for p in &v.problems {
                    println!("  {p}");
                }
                Ok(false)
            }
        }
        AuditCommand::List { limit, actor, target } => {
            let f = AuditFilter {
                actor: actor.clone(),
                target: target.clone(),
                action_prefix: None,
            };
            let (rows, total) = audit::entries(db, &f, *limit, 0)?;
            println!("共 {total} 条，最新 {} 条：", rows.len());
            for r in rows {
                println!(
                    "{:>8} {} {:<16} {:<12} {:<24} {:<16} {}",
                    r.seq, r.at, r.actor, r.ip, r.action, r.target, r.detail
                );
            }
            Ok(true)
        }
    }
}

pub fn key_command(what: &KeyCommand) -> Result<()> {
    match what {
        KeyCommand::Generate => println!("{}", FieldKey::generate_hex()?),
    }
    Ok(())
}
