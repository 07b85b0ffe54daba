//! The checked tree a rule parses into.

use serde::Serialize;
use yanglao_domain::{DivisionCode, Fen};

/// Character offsets [start, end) into the rule source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "≠",
            CmpOp::Lt => "<",
            CmpOp::Le => "≤",
            CmpOp::Gt => ">",
            CmpOp::Ge => "≥",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ExprKind {
    Bool(bool),
    Int(i64),
    Money(Fen),
    Text(String),
    /// A division code literal: the right side of 属于.
    Division(DivisionCode),
    /// A registry fact about the person (年龄, 户籍 …).
    Fact(String),
    /// A parameter set by a jurisdiction (【名称】), optionally looked up by a key: 【名称】[能力等级].
    Param {
        name: String,
        key: Option<Box<Expr>>,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// 户籍 属于 150000
    Within(Box<Expr>, Box<Expr>),
    /// 居住状况 包含 "独居"
    Contains(Box<Expr>, Box<Expr>),
    /// 如果 … 则 … 否则 …
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Number of nodes, for size limits.
    pub fn size(&self) -> usize {
        1 + match &self.kind {
            ExprKind::Not(a) => a.size(),
            ExprKind::And(a, b)
            | ExprKind::Or(a, b)
            | ExprKind::Cmp(_, a, b)
            | ExprKind::Arith(_, a, b)
            | ExprKind::Within(a, b)
            | ExprKind::Contains(a, b) => a.size() + b.size(),
            ExprKind::If(a, b, c) => a.size() + b.size() + c.size(),
            ExprKind::Param { key: Some(k), .. } => k.size(),
            _ => 0,
        }
    }
}
