//! Evaluating a checked rule for one person on one date, with a trace of every condition for
//! the explanation. Missing facts make comparisons false (and are named in the trace).

use yanglao_domain::{DivisionCode, Fen};

use crate::ast::{ArithOp, CmpOp, Expr, ExprKind};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Money(Fen),
    Text(String),
    Division(DivisionCode),
    TextSet(Vec<String>),
    /// The person has no such fact on the date.
    Missing,
}

/// What a rule reads: the person's facts on the date, the parameters in force, and the
/// division hierarchy on the date.
pub trait Env {
    fn fact(&self, name: &str) -> Value;
    fn param(&self, name: &str, key: Option<i64>) -> Option<Value>;
    fn within(&self, code: DivisionCode, ancestor: DivisionCode) -> bool;
}

/// One condition as it was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub start: usize,
    pub end: usize,
    pub holds: bool,
    /// The values compared, in words: "84 ≥ 80".
    pub detail: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EvalError {
    #[error("参数【{0}】在该地区该日期没有取值")]
    MissingParam(String),
    #[error("金额计算溢出")]
    Overflow,
    #[error("规则未经检查：{0}")]
    Unchecked(&'static str),
}

pub fn eval(e: &Expr, env: &dyn Env, trace: &mut Vec<Step>) -> Result<Value, EvalError> {
    use Value as V;
    Ok(match &e.kind {
        ExprKind::Bool(b) => V::Bool(*b),
        ExprKind::Int(n) => V::Int(*n),
        ExprKind::Money(f) => V::Money(*f),
        ExprKind::Text(s) => V::Text(s.clone()),
        ExprKind::Division(d) => V::Division(*d),
        ExprKind::Fact(name) => {
            let v = env.fact(name);
            if let V::Bool(b) = v {
                trace.push(Step {
                    start: e.span.start,
                    end: e.span.end,
                    holds: b,
                    detail: String::new(),
                });
            }
            v
        }
        ExprKind::Param { name, key } => {
            let k = match key {
                Some(k) => match eval(k, env, trace)? {
                    V::Int(n) => Some(n),
                    V::Missing => return Ok(V::Missing),
                    _ => return Err(EvalError::Unchecked("table key")),
                },
                None => None,
            };
            env.param(name, k)
                .ok_or_else(|| EvalError::MissingParam(name.clone()))?
        }
        ExprKind::Not(a) => V::Bool(!truth(&eval(a, env, trace)?)),
        ExprKind::And(a, b) => {
            // Both sides are evaluated so that the explanation can name every failed condition.
            let x = truth(&eval(a, env, trace)?);
            let y = truth(&eval(b, env, trace)?);
            V::Bool(x && y)
        }
        ExprKind::Or(a, b) => {
            let x = truth(&eval(a, env, trace)?);
            let y = truth(&eval(b, env, trace)?);
            V::Bool(x || y)
        }
        ExprKind::Cmp(op, a, b) => {
            let (x, y) = (eval(a, env, trace)?, eval(b, env, trace)?);
            let ord = match (&x, &y) {
                (V::Int(p), V::Int(q)) => Some(p.cmp(q)),
                (V::Money(p), V::Money(q)) => Some(p.cmp(q)),
                (V::Text(p), V::Text(q)) => Some(p.cmp(q)),
                (V::Bool(p), V::Bool(q)) => Some(p.cmp(q)),
                _ => None,
            };
            let holds = ord.is_some_and(|o| match op {
                CmpOp::Eq => o.is_eq(),
                CmpOp::Ne => o.is_ne(),
                CmpOp::Lt => o.is_lt(),
                CmpOp::Le => o.is_le(),
                CmpOp::Gt => o.is_gt(),
                CmpOp::Ge => o.is_ge(),
            });
            let detail = format!("{} {} {}", words(&x), op.symbol(), words(&y));
            trace.push(Step {
                start: e.span.start,
                end: e.span.end,
                holds,
                detail,
            });
            V::Bool(holds)
        }
        ExprKind::Arith(op, a, b) => {
            let (x, y) = (eval(a, env, trace)?, eval(b, env, trace)?);
            match (x, y, op) {
                (V::Missing, _, _) | (_, V::Missing, _) => V::Missing,
                (V::Int(p), V::Int(q), ArithOp::Add) => V::Int(p.checked_add(q).ok_or(EvalError::Overflow)?),
                (V::Int(p), V::Int(q), ArithOp::Sub) => V::Int(p.checked_sub(q).ok_or(EvalError::Overflow)?),
                (V::Int(p), V::Int(q), ArithOp::Mul) => V::Int(p.checked_mul(q).ok_or(EvalError::Overflow)?),
                (V::Money(p), V::Money(q), ArithOp::Add) => V::Money(p.checked_add(q).ok_or(EvalError::Overflow)?),
                (V::Money(p), V::Money(q), ArithOp::Sub) => {
                    V::Money(p.checked_add(Fen::new(-q.get())).ok_or(EvalError::Overflow)?)
                }
                (V::Money(p), V::Int(q), ArithOp::Mul) | (V::Int(q), V::Money(p), ArithOp::Mul) => {
                    V::Money(p.checked_mul(q).ok_or(EvalError::Overflow)?)
                }
                _ => return Err(EvalError::Unchecked("arithmetic types")),
            }
        }
        ExprKind::Within(a, b) => {
            let x = eval(a, env, trace)?;
            let ExprKind::Division(anc) = b.kind else {
                return Err(EvalError::Unchecked("属于"));
            };
            let holds = matches!(x, V::Division(c) if env.within(c, anc));
            trace.push(Step {
                start: e.span.start,
                end: e.span.end,
                holds,
                detail: format!("{} 属于 {}", words(&x), anc),
            });
            V::Bool(holds)
        }
        ExprKind::Contains(a, b) => {
            let (x, y) = (eval(a, env, trace)?, eval(b, env, trace)?);
            let holds = matches!((&x, &y), (V::TextSet(s), V::Text(t)) if s.contains(t));
            trace.push(Step {
                start: e.span.start,
                end: e.span.end,
                holds,
                detail: format!("{} 包含 {}", words(&x), words(&y)),
            });
            V::Bool(holds)
        }
        ExprKind::If(c, t, f) => {
            if truth(&eval(c, env, trace)?) {
                eval(t, env, trace)?
            } else {
                eval(f, env, trace)?
            }
        }
    })
}

fn truth(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

/// A value in words for traces.
pub fn words(v: &Value) -> String {
    match v {
        Value::Bool(true) => "是".into(),
        Value::Bool(false) => "否".into(),
        Value::Int(n) => n.to_string(),
        Value::Money(f) => format!("{f}元"),
        Value::Text(s) => format!("“{s}”"),
        Value::Division(d) => d.to_string(),
        Value::TextSet(s) if s.is_empty() => "（无）".into(),
        Value::TextSet(s) => s.join("、"),
        Value::Missing => "（无记录）".into(),
    }
}
