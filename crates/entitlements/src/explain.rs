//! Explanations in plain Chinese, generated from the rule itself and the interpreter's trace:
//! each condition is phrased from its form (年龄 ≥ 80 → "年满80周岁（84岁）", 户籍 属于 X →
//! "户籍在X"), with the person's value, and marked held or failed. No sentence is written by
//! hand per item: a new rule is explained the day it is published.

use chrono::NaiveDate;
use serde::Serialize;
use yanglao_domain::{Catalogue, DivisionCode, FactKind, Fen};
use yanglao_lists::model::Period;
use yanglao_rules::ast::{CmpOp, Expr, ExprKind};
use yanglao_rules::eval::Step;

use crate::engine::{CompiledItem, OneOutcome, Status};
use crate::person::PersonFacts;

/// A condition as decided for the person.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Condition {
    pub text: String,
    pub holds: bool,
}

fn step_at<'a>(trace: &'a [Step], e: &Expr) -> Option<&'a Step> {
    trace.iter().find(|s| s.start == e.span.start && s.end == e.span.end)
}

/// (held, not held, no record) phrases of the yes/no facts.
fn flag_phrases(name: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match name {
        "在世" => ("健在", "已死亡", "已死亡"),
        "低保" => ("为最低生活保障对象", "不是最低生活保障对象", "不是最低生活保障对象"),
        "特困" => ("为特困人员", "不是特困人员", "不是特困人员"),
        "低收入" => ("为低收入人口", "不是低收入人口", "不是低收入人口"),
        "残疾" => ("持有残疾人证", "未持残疾人证", "未持残疾人证"),
        "已评估" => ("已有能力评估结果", "尚无能力评估结果", "尚无能力评估结果"),
        "计生特殊家庭" => ("属计划生育特殊家庭", "不属计划生育特殊家庭", "不属计划生育特殊家庭"),
        "优抚对象" => ("为优抚对象", "不是优抚对象", "不是优抚对象"),
        "无法定赡养人" => ("无法定赡养人", "有法定赡养人", "无法定赡养人的记录缺失"),
        _ => return None,
    })
}

fn op_words(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "为",
        CmpOp::Ne => "不为",
        CmpOp::Lt => "低于",
        CmpOp::Le => "不高于",
        CmpOp::Gt => "高于",
        CmpOp::Ge => "不低于",
    }
}

/// Phrases of one rule for one person.
pub struct Phraser<'a> {
    pub src: &'a str,
    pub trace: &'a [Step],
    pub person: &'a PersonFacts,
    pub catalogue: &'a Catalogue,
    pub as_of: NaiveDate,
}

impl Phraser<'_> {
    fn text_of(&self, e: &Expr) -> String {
        self.src
            .chars()
            .skip(e.span.start)
            .take(e.span.end.saturating_sub(e.span.start))
            .collect::<String>()
            .trim()
            .to_string()
    }

    fn division_words(&self, d: DivisionCode) -> String {
        self.catalogue.path_name(d, self.as_of)
    }

    /// The atomic conditions of `e` with their outcomes, in reading order, each once.
    pub fn conditions(&self, e: &Expr) -> Vec<Condition> {
        let mut out: Vec<Condition> = Vec::new();
        self.walk(e, &mut out);
        // A fact named twice in a rule is one condition to the reader.
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| seen.insert(c.text.clone()));
        out
    }

    fn walk(&self, e: &Expr, out: &mut Vec<Condition>) {
        match &e.kind {
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.walk(a, out);
                self.walk(b, out);
            }
            ExprKind::Not(a) => self.walk(a, out),
            ExprKind::If(c, t, f) => {
                self.walk(c, out);
                self.walk(t, out);
                self.walk(f, out);
            }
            _ => {
                if let Some(c) = self.atom(e) {
                    out.push(c);
                }
            }
        }
    }

    fn atom(&self, e: &Expr) -> Option<Condition> {
        if let ExprKind::Fact(name) = &e.kind {
            // A missing yes/no fact leaves no step in the trace: it reads as not held.
            let holds = step_at(self.trace, e).is_some_and(|s| s.holds);
            let (yes, no, missing) = flag_phrases(name).unwrap_or(("是", "否", "无记录"));
            let recorded = !matches!(self.person.value(name, self.as_of), yanglao_rules::eval::Value::Missing);
            let text = match (holds, recorded) {
                (true, _) => yes.to_string(),
                (false, true) => no.to_string(),
                (false, false) => missing.to_string(),
            };
            return Some(Condition { text, holds });
        }
        let step = step_at(self.trace, e)?;
        let holds = step.holds;
        let text = match &e.kind {
            ExprKind::Cmp(op, a, b) => match (&a.kind, &b.kind) {
                (ExprKind::Fact(f), ExprKind::Int(n)) if f == "年龄" => {
                    let age = step.detail.split(' ').next().unwrap_or("");
                    let reached = if matches!(op, CmpOp::Ge) { holds } else { !holds };
                    match op {
                        CmpOp::Ge | CmpOp::Lt => {
                            if reached {
                                format!("年满{n}周岁（{age}岁）")
                            } else {
                                format!("未满{n}周岁（{age}岁）")
                            }
                        }
                        _ => format!("年龄{}{n}周岁（{age}岁）", op_words(*op)),
                    }
                }
                (ExprKind::Fact(f), ExprKind::Text(lit)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                    let actual = match self.person.value(f, self.as_of) {
                        yanglao_rules::eval::Value::Text(t) => Some(t),
                        _ => None,
                    };
                    let is = matches!(op, CmpOp::Eq) == holds;
                    match (is, actual) {
                        (true, _) => format!("{f}为“{lit}”"),
                        (false, Some(x)) => format!("{f}不是“{lit}”（现为“{x}”）"),
                        (false, None) => format!("无{f}记录"),
                    }
                }
                _ => {
                    let verdict = if holds { "" } else { "，不成立" };
                    format!(
                        "{}{}{}（{}{verdict}）",
                        self.text_of(a),
                        op_words(*op),
                        self.text_of(b),
                        step.detail
                    )
                }
            },
            ExprKind::Within(a, b) => {
                let fact = self.text_of(a);
                let anc = match b.kind {
                    ExprKind::Division(d) => self.catalogue.name(d),
                    _ => self.text_of(b),
                };
                let actual = match &a.kind {
                    ExprKind::Fact(f) => match self.person.value(f, self.as_of) {
                        yanglao_rules::eval::Value::Division(d) => Some(self.division_words(d)),
                        _ => None,
                    },
                    _ => None,
                };
                match (holds, actual) {
                    (true, Some(x)) => format!("{fact}在{anc}（{x}）"),
                    (true, None) => format!("{fact}在{anc}"),
                    (false, Some(x)) => format!("{fact}不在{anc}（现为{x}）"),
                    (false, None) => format!("无{fact}记录"),
                }
            }
            ExprKind::Contains(a, b) => {
                let member = self.text_of(b);
                let actual = step.detail.split(" 包含 ").next().unwrap_or("").to_string();
                if holds {
                    format!("{}为{member}", self.text_of(a))
                } else {
                    format!("{}不含{member}（{actual}）", self.text_of(a))
                }
            }
            _ => format!("{}（{}）", self.text_of(e), step.detail),
        };
        Some(Condition { text, holds })
    }
}

pub fn period_words(p: Option<Period>) -> &'static str {
    match p {
        Some(Period::Month) => "元/月",
        Some(Period::Year) => "元/年",
        Some(Period::Once) => "元（一次性）",
        None => "元",
    }
}

/// Where one fact the rule read came from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FactSource {
    pub fact: String,
    pub department: String,
    pub batch_id: i64,
    pub batch_label: String,
    pub valid_from: NaiveDate,
}

/// One item explained for one person.
#[derive(Debug, Clone, Serialize)]
pub struct ItemExplanation {
    pub version_id: i64,
    pub list_title: String,
    pub seq: u32,
    pub item_code: String,
    pub item_name: String,
    pub status: &'static str,
    pub entitled: bool,
    pub amount: Option<String>,
    pub sentence: String,
    pub conditions: Vec<Condition>,
    pub sources: Vec<FactSource>,
    pub note: Option<String>,
}

/// Facts a rule names, in order, without repeats.
pub fn facts_read(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Fact(n) if !out.contains(n) => out.push(n.clone()),
        ExprKind::Param { key: Some(k), .. } => facts_read(k, out),
        ExprKind::Not(a) => facts_read(a, out),
        ExprKind::And(a, b)
        | ExprKind::Or(a, b)
        | ExprKind::Cmp(_, a, b)
        | ExprKind::Arith(_, a, b)
        | ExprKind::Within(a, b)
        | ExprKind::Contains(a, b) => {
            facts_read(a, out);
            facts_read(b, out);
        }
        ExprKind::If(a, b, c) => {
            facts_read(a, out);
            facts_read(b, out);
            facts_read(c, out);
        }
        _ => {}
    }
}

/// Parameters a rule names, without repeats.
pub fn params_read(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Param { name, key } => {
            if !out.contains(name) {
                out.push(name.clone());
            }
            if let Some(k) = key {
                params_read(k, out);
            }
        }
        ExprKind::Not(a) => params_read(a, out),
        ExprKind::And(a, b)
        | ExprKind::Or(a, b)
        | ExprKind::Cmp(_, a, b)
        | ExprKind::Arith(_, a, b)
        | ExprKind::Within(a, b)
        | ExprKind::Contains(a, b) => {
            params_read(a, out);
            params_read(b, out);
        }
        ExprKind::If(a, b, c) => {
            params_read(a, out);
            params_read(b, out);
            params_read(c, out);
        }
        _ => {}
    }
}

/// Batch facts for citing: (department label, "2025-01 批次（文件名）").
pub trait BatchLabels {
    fn label(&self, batch_id: i64) -> (String, String);
}

pub fn explain_item(
    item: &CompiledItem,
    outcome: &OneOutcome,
    person: &PersonFacts,
    catalogue: &Catalogue,
    batches: &dyn BatchLabels,
    as_of: NaiveDate,
) -> ItemExplanation {
    let it = item.item();
    let title = &item.version.list.title;
    let basis_word = item.basis_fact();
    let citation = format!("依据《{title}》第{}项", it.seq);
    let jurisdiction = catalogue.name(item.jurisdiction());

    let mut read = vec![basis_word.to_string()];
    if let Some(e) = &item.eligibility {
        facts_read(e, &mut read);
    }
    if let Some(e) = &item.amount {
        facts_read(e, &mut read);
    }
    let mut sources = Vec::new();
    for name in &read {
        let Some(kind) = PersonFacts::source_kind(name) else {
            continue;
        };
        let kind = if name == "常住地" && person.get(FactKind::Residence).is_none() {
            FactKind::Hukou
        } else {
            kind
        };
        if let Some(c) = person.get(kind) {
            let (department, batch_label) = batches.label(c.origin.batch_id);
            sources.push(FactSource {
                fact: kind.label().to_string(),
                department,
                batch_id: c.origin.batch_id,
                batch_label,
                valid_from: c.origin.valid_from,
            });
        }
    }
    sources.dedup_by(|a, b| a.fact == b.fact);
    let source_words = sources
        .iter()
        .map(|s| format!("{}信息来自{}{}", s.fact, s.department, s.batch_label))
        .collect::<Vec<_>>()
        .join("，");

    let conditions = match &item.eligibility {
        Some(e) => Phraser {
            src: it.eligibility.as_deref().unwrap_or(""),
            trace: &outcome.eligibility_trace,
            person,
            catalogue,
            as_of,
        }
        .conditions(e),
        None => Vec::new(),
    };
    let amount = outcome
        .amount
        .map(|f: Fen| format!("{} {}", f, period_words(item.period())));
    let place = match outcome.basis_division {
        Some(_) => format!("{basis_word}在{jurisdiction}"),
        None => format!("无{basis_word}记录"),
    };
    let held: Vec<&str> = conditions.iter().filter(|c| c.holds).map(|c| c.text.as_str()).collect();
    let failed: Vec<&str> = conditions
        .iter()
        .filter(|c| !c.holds)
        .map(|c| c.text.as_str())
        .collect();
    let cite = if source_words.is_empty() {
        format!("（{citation}）")
    } else {
        format!("（{citation}；{source_words}）")
    };
    let sentence = match outcome.status {
        Status::Entitled => {
            let mut cond = held.join("且");
            if !cond.is_empty() {
                cond.push('且');
            }
            match &amount {
                Some(a) => format!("{cond}{place}，享受{} {a}{cite}", it.name),
                None => format!("{cond}{place}，享受{}{cite}", it.name),
            }
        }
        Status::NotEntitled => {
            format!("不符合{}：{}{cite}", it.name, failed.join("；"))
        }
        Status::OutOfScope => {
            if !person.alive() {
                let when = person.died.map(|d| d.to_string()).unwrap_or_default();
                format!("已于{when}死亡，不再享受{}{cite}", it.name)
            } else {
                let actual = outcome
                    .basis_division
                    .map(|d| format!("（现为{}）", catalogue.path_name(d, as_of)))
                    .unwrap_or_default();
                match outcome.basis_division {
                    Some(_) => format!("{basis_word}不在{jurisdiction}{actual}，不适用{}{cite}", it.name),
                    None => format!("无{basis_word}记录，不适用{}{cite}", it.name),
                }
            }
        }
        Status::Undetermined => format!(
            "无法判定{}：参数【{}】在本地区尚未设置，请由有权限的地区设定后重新测算{cite}",
            it.name,
            outcome.missing_param.as_deref().unwrap_or("")
        ),
        Status::Manual => format!("{}没有可由系统判定的规则，需人工认定{cite}", it.name),
    };
    ItemExplanation {
        version_id: item.version.row.id,
        list_title: title.clone(),
        seq: it.seq,
        item_code: it.code.clone(),
        item_name: it.name.clone(),
        status: outcome.status.label(),
        entitled: outcome.status == Status::Entitled,
        amount,
        sentence,
        conditions,
        sources,
        note: it.note.clone(),
    }
}
