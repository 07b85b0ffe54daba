//! The audit log: append-only and hash-chained with SM3. Appends come in batches (one
//! transaction for many entries) so that auditing every page read stays cheap; the head row is
//! updated in the same transaction, which serialises appenders across processes.

use chrono::{DateTime, Utc};
use yanglao_security::chain::{entry_hash, GENESIS};

use crate::{Db, Result, Row, StoreError, Value};

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// The user name, `token:<name>` for an API token, or `cli:<os user>`.
    pub actor: String,
    pub ip: String,
    /// What happened, e.g. `person.read`, `person.export`, `user.create`, `POST /work/7/close`.
    pub action: String,
    /// What it happened to, e.g. `person:123`.
    pub target: String,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

fn row_from(r: &Row) -> Result<AuditRow> {
    Ok(AuditRow {
        seq: r.int(0)?,
        at: r.text(1)?,
        actor: r.text(2)?,
        ip: r.text(3)?,
        action: r.text(4)?,
        target: r.text(5)?,
        detail: r.text(6)?,
        prev_hash: r.text(7)?,
        hash: r.text(8)?,
    })
}

const COLS: &str = "seq, at, actor, ip, action, target, detail, prev_hash, hash";

fn hash_of(prev: &str, seq: i64, at: &str, e: (&str, &str, &str, &str, &str)) -> String {
    entry_hash(prev, seq, &[at, e.0, e.1, e.2, e.3, e.4])
}

/// Appends `entries` in order in one transaction; returns the last sequence number.
pub fn append(db: &Db, entries: &[AuditEntry]) -> Result<i64> {
    if entries.is_empty() {
        return Ok(0);
    }
    db.tx(|t| {
        // Take the head's row lock before reading it (PostgreSQL); SQLite's writer lock does
        // the same for the whole transaction.
        t.exec("UPDATE audit_head SET seq = seq WHERE id = 1", &[])?;
        let head = t
            .query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?
            .ok_or_else(|| StoreError::Aborted("audit_head missing".into()))?;
        let (mut seq, mut prev) = (head.int(0)?, head.text(1)?);
        for e in entries {
            seq += 1;
            let at = e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let hash = hash_of(&prev, seq, &at, (&e.actor, &e.ip, &e.action, &e.target, &e.detail));
            t.exec(
                &format!("INSERT INTO audit_log ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                &[
                    Value::Int(seq),
                    Value::Text(at),
                    Value::text(e.actor.clone()),
                    Value::text(e.ip.clone()),
                    Value::text(e.action.clone()),
                    Value::text(e.target.clone()),
                    Value::text(e.detail.clone()),
                    Value::Text(prev),
                    Value::Text(hash.clone()),
                ],
            )?;
            prev = hash;
        }
        t.exec(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
            &[Value::Int(seq), Value::Text(prev)],
        )?;
        Ok(seq)
    })
}

#[derive(Debug, Default)]
pub struct Verification {
    pub entries: i64,
    /// Each break in the chain, in Chinese, with the sequence number where it shows.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Recomputes the whole chain: an edited entry fails its own hash, a deleted or inserted one
/// breaks the link or the numbering, a truncated tail disagrees with the head. The head is read
/// first and the chain checked up to it, so entries appended meanwhile (a running server) are
/// left for the next verification instead of looking like a broken tail.
pub fn verify(db: &Db) -> Result<Verification> {
    let head = db
        .query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?
        .ok_or_else(|| StoreError::Aborted("audit_head missing".into()))?;
    let (head_seq, head_hash) = (head.int(0)?, head.text(1)?);
    let mut v = Verification::default();
    let mut prev = GENESIS.to_string();
    let mut expect = 1i64;
    db.scan(
        &format!("SELECT {COLS} FROM audit_log WHERE seq <= $1 ORDER BY seq"),
        &[Value::Int(head_seq)],
        |r| {
            let a = row_from(r)?;
            v.entries += 1;
            if a.seq != expect {
                v.problems.push(format!(
                    "第 {} 条之前缺少第 {expect}–{} 条（记录被删除）",
                    a.seq,
                    a.seq - 1
                ));
            }
            if a.prev_hash != prev {
                v.problems
                    .push(format!("第 {} 条的前序哈希与上一条不符（链被改动）", a.seq));
            }
            let h = hash_of(
                &a.prev_hash,
                a.seq,
                &a.at,
                (&a.actor, &a.ip, &a.action, &a.target, &a.detail),
            );
            if h != a.hash {
                v.problems
                    .push(format!("第 {} 条的内容与其哈希不符（记录被修改）", a.seq));
            }
            prev = a.hash;
            expect = a.seq + 1;
            Ok(())
        },
    )?;
    if head_seq != expect - 1 || head_hash != prev {
        v.problems.push(format!(
            "链尾为第 {} 条，但链头记录为第 {head_seq} 条（末尾记录被删除或链头被改动）",
            expect - 1
        ));
    }
    Ok(v)
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action_prefix: Option<String>,
}

pub fn entries(db: &Db, f: &AuditFilter, limit: i64, offset: i64) -> Result<(Vec<AuditRow>, i64)> {
    let mut params = Vec::new();
    let mut wheres = vec!["1 = 1".to_string()];
    if let Some(a) = f.actor.as_deref().filter(|s| !s.is_empty()) {
        params.push(Value::text(a));
        wheres.push(format!("actor = ${}", params.len()));
    }
    if let Some(a) = f.target.as_deref().filter(|s| !s.is_empty()) {
        params.push(Value::text(a));
        wheres.push(format!("target = ${}", params.len()));
    }
    if let Some(a) = f.action_prefix.as_deref().filter(|s| !s.is_empty()) {
        params.push(Value::text(a));
        params.push(Value::text(format!("{a}\u{10FFFF}")));
        wheres.push(format!(
            "action >= ${} AND action < ${}",
            params.len() - 1,
            params.len()
        ));
    }
    let w = wheres.join(" AND ");
    let total = db
        .query_one(&format!("SELECT COUNT(*) FROM audit_log WHERE {w}"), &params)?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0);
    params.push(Value::Int(limit));
    params.push(Value::Int(offset));
    let rows = db
        .query(
            &format!(
                "SELECT {COLS} FROM audit_log WHERE {w} ORDER BY seq DESC LIMIT ${} OFFSET ${}",
                params.len() - 1,
                params.len()
            ),
            &params,
        )?
        .iter()
        .map(row_from)
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, total))
}
