//! Visitors, assignments, visit records, follow-ups and volunteer credit over the store.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use yanglao_domain::{DivisionCode, DivisionLevel, IdNumber};
use yanglao_store::visits::{self as store, NewVisit, NewVisitor, VisitorRow};
use yanglao_store::{Db, Tx};

use crate::{earns_credit, Result, VisitError, FINDING_STATUSES, FOLLOWUP_KINDS, HEADINGS, MODES, VISITOR_KINDS};

fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(VisitError::Invalid(msg.into()))
}

/// Registers a visitor in a village or community (002 §(八): the 嘎查村 keeps its own team).
#[allow(clippy::too_many_arguments)]
pub fn register_visitor(
    db: &Db,
    name: &str,
    kind: &str,
    division: &str,
    phone: &str,
    from: NaiveDate,
    by: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return invalid("探访人员姓名应为1～40个字");
    }
    if !VISITOR_KINDS.contains(&kind) {
        return invalid(format!("探访人员类别应为：{}", VISITOR_KINDS.join("、")));
    }
    let div = DivisionCode::parse(division).map_err(|e| VisitError::Invalid(format!("区划代码：{e}")))?;
    if div.level() != DivisionLevel::Village {
        return invalid("探访人员登记到村（社区），区划代码应为12位村级代码");
    }
    Ok(db.tx(|t| {
        store::insert_visitor(
            t,
            &NewVisitor {
                name: name.to_string(),
                kind: kind.to_string(),
                division: div.full(),
                phone: phone.trim().to_string(),
                active_from: from,
                by: by.to_string(),
                at,
            },
        )
    })?)
}

fn active_visitor(t: &mut dyn Tx, id: i64, on: NaiveDate) -> Result<VisitorRow> {
    let v = store::tx_visitor(t, id)?.ok_or_else(|| VisitError::NotFound(format!("探访人员 #{id}")))?;
    if v.active_from > on || v.left_on.is_some_and(|l| l <= on) {
        return invalid(format!("探访人员 {}（#{id}）在 {on} 不在岗", v.name));
    }
    Ok(v)
}

/// The person behind an ID number typed by a user.
pub fn person_id(db: &Db, id_number: &str) -> Result<i64> {
    let id = IdNumber::parse(id_number).map_err(|e| VisitError::Invalid(format!("身份证号：{e}")))?;
    yanglao_store::registry::person_by_id_number(db, id.as_str())?
        .map(|p| p.id)
        .ok_or_else(|| VisitError::NotFound("登记库中没有该身份证号".into()))
}

/// Assigns people to a visitor from a date. One visitor may have many people (一帮多) and one
/// person many visitors (多帮一); assigning an existing pair again changes nothing.
pub fn assign(db: &Db, visitor_id: i64, people: &[i64], from: NaiveDate, by: &str, at: DateTime<Utc>) -> Result<usize> {
    Ok(db.tx(|t| {
        active_visitor(t, visitor_id, from).map_err(|e| yanglao_store::StoreError::Aborted(e.to_string()))?;
        let have = store::people_of_visitor(t, visitor_id, from)?;
        let mut n = 0;
        for p in people {
            if !have.contains(p) {
                store::insert_assignment(t, *p, visitor_id, from, by, at)?;
                n += 1;
            }
        }
        Ok(n)
    })?)
}

/// Ends one assignment (the person stays with their other visitors, or becomes unassigned).
pub fn unassign(db: &Db, visitor_id: i64, person: i64, on: NaiveDate, reason: &str) -> Result<u64> {
    Ok(db.tx(|t| store::end_assignment(t, person, visitor_id, on, reason))?)
}

/// A visitor leaves on `on`: their assignments end that day and pass to `successor` if named,
/// otherwise the people are unassigned (and show as such on the due list). Returns how many moved.
pub fn leave(
    db: &Db,
    visitor_id: i64,
    on: NaiveDate,
    successor: Option<i64>,
    by: &str,
    at: DateTime<Utc>,
) -> Result<usize> {
    if successor == Some(visitor_id) {
        return invalid("接替人不能是离岗人员本人");
    }
    let r = db.tx(|t| {
        let abort = |e: VisitError| yanglao_store::StoreError::Aborted(e.to_string());
        store::tx_visitor(t, visitor_id)?
            .ok_or_else(|| abort(VisitError::NotFound(format!("探访人员 #{visitor_id}"))))?;
        if let Some(s) = successor {
            active_visitor(t, s, on).map_err(abort)?;
        }
        if store::set_visitor_left(t, visitor_id, on, successor)? == 0 {
            return Err(abort(VisitError::Invalid("该探访人员已离岗".into())));
        }
        let people = store::people_of_visitor(t, visitor_id, on)?;
        let reason = match successor {
            Some(s) => format!("离岗，由 #{s} 接替"),
            None => "离岗".to_string(),
        };
        let mut moved = 0;
        let have = match successor {
            Some(s) => store::people_of_visitor(t, s, on)?,
            None => Vec::new(),
        };
        for p in &people {
            store::end_assignment(t, *p, visitor_id, on, &reason)?;
            if let Some(s) = successor {
                if !have.contains(p) {
                    store::insert_assignment(t, *p, s, on, by, at)?;
                }
                moved += 1;
            }
        }
        Ok(moved)
    });
    r.map_err(|e| match e {
        yanglao_store::StoreError::Aborted(m) => VisitError::Invalid(m),
        e => VisitError::Store(e),
    })
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub heading: String,
    pub status: String,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct FollowupInput {
    pub kind: String,
    pub detail: String,
}

/// A visit as typed on the form.
#[derive(Debug, Clone)]
pub struct VisitInput {
    /// Made by the page (a UUID) so that a resubmission is recognised.
    pub idem_key: String,
    pub person_id: i64,
    pub visitor_id: i64,
    pub visited_on: NaiveDate,
    pub mode: String,
    pub note: String,
    pub findings: Vec<Finding>,
    pub followups: Vec<FollowupInput>,
    /// Time spent, for volunteers' time-bank hours (0: the default for the mode).
    pub minutes: i64,
    pub by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Recorded {
    New(i64),
    /// The key was seen before: the stored visit, unchanged.
    Duplicate(i64),
}

impl Recorded {
    pub fn id(self) -> i64 {
        match self {
            Recorded::New(i) | Recorded::Duplicate(i) => i,
        }
    }
}

fn valid_key(k: &str) -> bool {
    (8..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Points per visit for volunteers: one per started half hour, at least one (积分超市 counts
/// visits, the time bank counts time; both are kept).
pub fn points_for(minutes: i64) -> i64 {
    ((minutes + 29) / 30).max(1)
}

fn default_minutes(mode: &str) -> i64 {
    if mode == "电话" {
        15
    } else {
        60
    }
}

/// Records a visit with its findings and follow-ups in one transaction; the same idempotency
/// key again returns the stored visit and writes nothing.
pub fn record_visit(db: &Db, v: &VisitInput, today: NaiveDate, at: DateTime<Utc>) -> Result<Recorded> {
    if !valid_key(&v.idem_key) {
        return invalid("提交编号无效（应为页面生成的 UUID）");
    }
    if !MODES.contains(&v.mode.as_str()) {
        return invalid(format!("探访方式应为：{}", MODES.join("、")));
    }
    if v.visited_on > today {
        return invalid("探访日期不能晚于今天");
    }
    if v.note.chars().count() > 2000 {
        return invalid("备注过长（最多2000字）");
    }
    let mut seen = Vec::new();
    for f in &v.findings {
        if !HEADINGS.contains(&f.heading.as_str()) || seen.contains(&f.heading) {
            return invalid(format!("了解情况的项目应为：{}（各一次）", HEADINGS.join("、")));
        }
        seen.push(f.heading.clone());
        if !FINDING_STATUSES.contains(&f.status.as_str()) {
            return invalid(format!("{}：情况应为 {}", f.heading, FINDING_STATUSES.join("、")));
        }
        if f.status == "异常" && f.note.trim().is_empty() {
            return invalid(format!("{}为异常时须写明情况", f.heading));
        }
    }
    for f in &v.followups {
        if !FOLLOWUP_KINDS.contains(&f.kind.as_str()) {
            return invalid(format!("后续措施应为：{}", FOLLOWUP_KINDS.join("、")));
        }
        if f.detail.trim().is_empty() {
            return invalid(format!("{}须写明内容", f.kind));
        }
    }
    if !(0..=24 * 60).contains(&v.minutes) {
        return invalid("探访时长应为0～1440分钟");
    }
    let res = db.tx(|t| {
        let abort = |e: VisitError| yanglao_store::StoreError::Aborted(e.to_string());
        if let Some((id, person, visitor)) = store::visit_by_key(t, &v.idem_key)? {
            // A key reused for someone else is a fault of the client, not a resubmission.
            if (person, visitor) != (v.person_id, v.visitor_id) {
                return Err(abort(VisitError::Invalid(
                    "提交编号已用于另一条探访记录，请刷新页面后重新填写".into(),
                )));
            }
            return Ok(Recorded::Duplicate(id));
        }
        if t.query_one(
            "SELECT id FROM person WHERE id = $1",
            &[yanglao_store::Value::Int(v.person_id)],
        )?
        .is_none()
        {
            return Err(abort(VisitError::NotFound(format!("人员 #{}", v.person_id))));
        }
        let visitor = active_visitor(t, v.visitor_id, v.visited_on).map_err(abort)?;
        let id = store::insert_visit(
            t,
            &NewVisit {
                idem_key: v.idem_key.clone(),
                person_id: v.person_id,
                visitor_id: v.visitor_id,
                visited_on: v.visited_on,
                mode: v.mode.clone(),
                note: v.note.trim().to_string(),
                by: v.by.clone(),
                at,
            },
        )?;
        for f in &v.findings {
            store::insert_finding(t, id, &f.heading, &f.status, f.note.trim())?;
        }
        for f in &v.followups {
            store::insert_followup(t, id, v.person_id, &f.kind, f.detail.trim(), v.visited_on)?;
        }
        if earns_credit(&visitor.kind) {
            let minutes = if v.minutes > 0 {
                v.minutes
            } else {
                default_minutes(&v.mode)
            };
            store::insert_credit(t, visitor.id, id, minutes, points_for(minutes), v.visited_on)?;
        }
        Ok(Recorded::New(id))
    });
    match res {
        Ok(r) => Ok(r),
        Err(yanglao_store::StoreError::Aborted(m)) => Err(VisitError::Invalid(m)),
        Err(e) => {
            // Two submissions of the same key at once: the loser hits the unique key; the
            // winner's visit is the answer.
            let again = db.tx(|t| store::visit_by_key(t, &v.idem_key))?;
            match again {
                Some((id, person, visitor)) if (person, visitor) == (v.person_id, v.visitor_id) => {
                    Ok(Recorded::Duplicate(id))
                }
                Some(_) => invalid("提交编号已用于另一条探访记录，请刷新页面后重新填写"),
                None => Err(VisitError::Store(e)),
            }
        }
    }
}

/// Closes an open follow-up with who, when and the outcome.
pub fn close_followup(
    db: &Db,
    id: i64,
    by: &str,
    on: NaiveDate,
    outcome: &str,
    today: NaiveDate,
    at: DateTime<Utc>,
) -> Result<()> {
    if by.trim().is_empty() {
        return invalid("请填写办结人");
    }
    if outcome.trim().is_empty() {
        return invalid("请填写办理结果");
    }
    if on > today {
        return invalid("办结日期不能晚于今天");
    }
    let f = store::followup(db, id)?.ok_or_else(|| VisitError::NotFound(format!("后续措施 #{id}")))?;
    if on < f.opened_on {
        return invalid("办结日期不能早于提出日期");
    }
    let n = db.tx(|t| store::close_followup(t, id, by.trim(), on, at, outcome.trim()))?;
    if n == 0 {
        return invalid("该事项已办结");
    }
    Ok(())
}

/// Declares a campaign window: people of the named tiers in `division` need one more effective
/// visit between the dates (青海: "极端天气/传统节日适当增加", standards §5).
#[allow(clippy::too_many_arguments)]
pub fn declare_campaign(
    db: &Db,
    division: &str,
    name: &str,
    reason: &str,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    tiers: &[crate::Tier],
    by: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    let div = DivisionCode::parse(division).map_err(|e| VisitError::Invalid(format!("区划代码：{e}")))?;
    if name.trim().is_empty() {
        return invalid("请填写专项名称");
    }
    if !["极端天气", "传统节日", "重大变故", "其他"].contains(&reason) {
        return invalid("原因应为：极端天气、传统节日、重大变故、其他");
    }
    if ends_on < starts_on || (ends_on - starts_on).num_days() > 62 {
        return invalid("专项时段应在62天以内，且结束不早于开始");
    }
    if tiers.is_empty() {
        return invalid("至少选一个风险等级");
    }
    let tiers = tiers.iter().map(|t| t.label()).collect::<Vec<_>>().join("、");
    Ok(store::insert_campaign(
        db,
        &div.short(),
        name.trim(),
        reason,
        starts_on,
        ends_on,
        &tiers,
        by,
        at,
    )?)
}
