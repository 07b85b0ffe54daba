//! Type checking: every fact and parameter is known, every operator meets the types it takes,
//! and the rule as a whole has the type its place needs (eligibility: 是/否; amount: 金额).

use serde::Serialize;

use crate::ast::{ArithOp, CmpOp, Expr, ExprKind};
use crate::vocab::{fact_type, Params};
use crate::RuleError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Type {
    Bool,
    Int,
    Money,
    Text,
    Division,
    TextSet,
    /// A parameter table looked up by an integer key, giving money (护理补贴标准 by 能力等级).
    MoneyByInt,
}

impl Type {
    pub fn label(self) -> &'static str {
        match self {
            Type::Bool => "是/否",
            Type::Int => "整数",
            Type::Money => "金额",
            Type::Text => "文字",
            Type::Division => "区划",
            Type::TextSet => "文字集合",
            Type::MoneyByInt => "按等级的金额表",
        }
    }
}

/// Checks `expr` and that its type is `want`.
pub fn check(source: &str, expr: &Expr, params: &Params, want: Type) -> Result<(), RuleError> {
    if expr.size() > 2000 {
        return Err(RuleError::at(source, 0, "规则过于复杂（超过 2000 个节点）"));
    }
    let got = type_of(source, expr, params)?;
    if got != want {
        return Err(RuleError::at(
            source,
            expr.span.start,
            format!("整条规则应为{}，实际为{}", want.label(), got.label()),
        ));
    }
    Ok(())
}

pub fn type_of(source: &str, e: &Expr, params: &Params) -> Result<Type, RuleError> {
    let err = |at: &Expr, msg: String| RuleError::at(source, at.span.start, msg);
    let ty = |x: &Expr| type_of(source, x, params);
    Ok(match &e.kind {
        ExprKind::Bool(_) => Type::Bool,
        ExprKind::Int(_) => Type::Int,
        ExprKind::Money(_) => Type::Money,
        ExprKind::Text(_) => Type::Text,
        ExprKind::Division(_) => Type::Division,
        ExprKind::Fact(name) => fact_type(name).ok_or_else(|| err(e, format!("没有名为“{name}”的信息项")))?,
        ExprKind::Param { name, key } => {
            let t = *params
                .types
                .get(name)
                .ok_or_else(|| err(e, format!("参数【{name}】未声明")))?;
            match (t, key) {
                (Type::MoneyByInt, Some(k)) => {
                    let kt = ty(k)?;
                    if kt != Type::Int {
                        return Err(err(
                            k,
                            format!("参数【{name}】按整数（等级）查表，这里是{}", kt.label()),
                        ));
                    }
                    Type::Money
                }
                (Type::MoneyByInt, None) => {
                    return Err(err(
                        e,
                        format!("参数【{name}】是按等级的金额表，应写作【{name}】[能力等级]"),
                    ))
                }
                (_, Some(_)) => return Err(err(e, format!("参数【{name}】不是表，不能用 [ ] 查找"))),
                (t, None) => t,
            }
        }
        ExprKind::Not(a) => {
            let t = ty(a)?;
            if t != Type::Bool {
                return Err(err(a, format!("“非”之后应为是/否，实际为{}", t.label())));
            }
            Type::Bool
        }
        ExprKind::And(a, b) | ExprKind::Or(a, b) => {
            for x in [a, b] {
                let t = ty(x)?;
                if t != Type::Bool {
                    return Err(err(x, format!("“且”“或”连接的应为条件（是/否），这里是{}", t.label())));
                }
            }
            Type::Bool
        }
        ExprKind::Cmp(op, a, b) => {
            let (ta, tb) = (ty(a)?, ty(b)?);
            if ta != tb {
                return Err(err(b, format!("不能比较{}与{}", ta.label(), tb.label())));
            }
            let ordered = matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge);
            match ta {
                Type::Int | Type::Money => {}
                Type::Text | Type::Bool if !ordered => {}
                t => return Err(err(e, format!("{}不能用“{}”比较", t.label(), op.symbol()))),
            }
            Type::Bool
        }
        ExprKind::Arith(op, a, b) => match (ty(a)?, ty(b)?, op) {
            (Type::Int, Type::Int, _) => Type::Int,
            (Type::Money, Type::Money, ArithOp::Add | ArithOp::Sub) => Type::Money,
            (Type::Money, Type::Int, ArithOp::Mul) | (Type::Int, Type::Money, ArithOp::Mul) => Type::Money,
            (x, y, _) => return Err(err(e, format!("{}与{}不能这样计算", x.label(), y.label()))),
        },
        ExprKind::Within(a, b) => {
            let t = ty(a)?;
            if t != Type::Division || !matches!(b.kind, ExprKind::Division(_)) {
                return Err(err(
                    a,
                    format!("“属于”的左边应为区划（户籍、常住地），实际为{}", t.label()),
                ));
            }
            Type::Bool
        }
        ExprKind::Contains(a, b) => {
            let (ta, tb) = (ty(a)?, ty(b)?);
            if ta != Type::TextSet || tb != Type::Text {
                return Err(err(e, "“包含”的写法是 居住状况 包含 \"独居\"".to_string()));
            }
            Type::Bool
        }
        ExprKind::If(c, t, f) => {
            let tc = ty(c)?;
            if tc != Type::Bool {
                return Err(err(c, format!("“如果”之后应为条件，实际为{}", tc.label())));
            }
            let (tt, tf) = (ty(t)?, ty(f)?);
            if tt != tf {
                return Err(err(
                    f,
                    format!("“则”与“否则”两边应为同一类型：{} 与 {}", tt.label(), tf.label()),
                ));
            }
            tt
        }
    })
}
