//! Recursive-descent parser with a depth bound: `且` binds tighter than `或`, comparisons tighter
//! than both, `*` tighter than `+ -`; `如果 … 则 … 否则 …` may stand wherever a value may.

use yanglao_domain::{DivisionCode, Fen};

use crate::ast::{ArithOp, CmpOp, Expr, ExprKind, Span};
use crate::lexer::{lex, Kw, Tok};
use crate::{RuleError, MAX_DEPTH, MAX_SOURCE_CHARS};

pub fn parse(source: &str) -> Result<Expr, RuleError> {
    let n = source.chars().count();
    if n > MAX_SOURCE_CHARS {
        return Err(RuleError::at(
            source,
            MAX_SOURCE_CHARS,
            format!("规则过长：{n} 字，上限 {MAX_SOURCE_CHARS} 字"),
        ));
    }
    if source.trim().is_empty() {
        return Err(RuleError::at(source, 0, "规则为空"));
    }
    let toks = lex(source)?;
    let mut p = Parser {
        source,
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    match p.peek() {
        Tok::End => Ok(e),
        t => Err(p.error(format!("规则在此处应结束，却遇到{}", t.describe()))),
    }
}

struct Parser<'s> {
    source: &'s str,
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
    depth: usize,
}

fn bx(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|t| &t.0).unwrap_or(&Tok::End)
    }
    fn start(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.1).unwrap_or(0)
    }
    fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map(|t| t.2)
            .unwrap_or(0)
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn error(&self, msg: String) -> RuleError {
        RuleError::at(self.source, self.start(), msg)
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<(), RuleError> {
        if *self.peek() == want {
            self.bump();
            Ok(())
        } else {
            Err(self.error(format!("应为{what}，却遇到{}", self.peek().describe())))
        }
    }
    fn deeper(&mut self) -> Result<(), RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("规则嵌套过深（上限 {MAX_DEPTH} 层）")));
        }
        Ok(())
    }
    fn node(&self, kind: ExprKind, start: usize) -> Expr {
        Expr {
            kind,
            span: Span {
                start,
                end: self.prev_end(),
            },
        }
    }

    fn expr(&mut self) -> Result<Expr, RuleError> {
        self.deeper()?;
        let e = if *self.peek() == Tok::Kw(Kw::If) {
            self.if_expr()
        } else {
            self.or()
        };
        self.depth -= 1;
        e
    }

    fn if_expr(&mut self) -> Result<Expr, RuleError> {
        let start = self.start();
        self.bump();
        let cond = self.expr()?;
        self.expect(Tok::Kw(Kw::Then), "“则”")?;
        let then = self.expr()?;
        self.expect(Tok::Kw(Kw::Else), "“否则”（每个“如果”都要写明否则的情形）")?;
        let other = self.expr()?;
        Ok(self.node(ExprKind::If(bx(cond), bx(then), bx(other)), start))
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        let start = self.start();
        let mut left = self.and()?;
        while *self.peek() == Tok::Kw(Kw::Or) {
            self.bump();
            let right = self.and()?;
            left = self.node(ExprKind::Or(bx(left), bx(right)), start);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let start = self.start();
        let mut left = self.not()?;
        while *self.peek() == Tok::Kw(Kw::And) {
            self.bump();
            let right = self.not()?;
            left = self.node(ExprKind::And(bx(left), bx(right)), start);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, RuleError> {
        if *self.peek() == Tok::Kw(Kw::Not) {
            let start = self.start();
            self.bump();
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(self.node(ExprKind::Not(bx(inner)), start));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, RuleError> {
        let start = self.start();
        let left = self.arith()?;
        let op = match self.peek() {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Kw(Kw::Within) => {
                self.bump();
                let dstart = self.start();
                let raw = match self.bump() {
                    Tok::Int(n) => n.to_string(),
                    Tok::Text(s) => s,
                    t => {
                        self.pos -= 1;
                        return Err(self.error(format!("“属于”之后应为区划代码（如 150000），却遇到{}", t.describe())));
                    }
                };
                let code = DivisionCode::parse(&raw)
                    .map_err(|e| RuleError::at(self.source, dstart, format!("“属于”之后的区划代码无效：{e}")))?;
                let right = self.node(ExprKind::Division(code), dstart);
                return Ok(self.node(ExprKind::Within(bx(left), bx(right)), start));
            }
            Tok::Kw(Kw::Contains) => {
                self.bump();
                let right = self.arith()?;
                return Ok(self.node(ExprKind::Contains(bx(left), bx(right)), start));
            }
            _ => return Ok(left),
        };
        self.bump();
        let right = self.arith()?;
        if matches!(self.peek(), Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge) {
            return Err(self.error("比较不能连写（如 80 <= 年龄 <= 99），请用“且”连接两个比较".into()));
        }
        Ok(self.node(ExprKind::Cmp(op, bx(left), bx(right)), start))
    }

    fn arith(&mut self) -> Result<Expr, RuleError> {
        let start = self.start();
        let mut left = self.term()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => ArithOp::Add,
                Tok::Minus => ArithOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.term()?;
            left = self.node(ExprKind::Arith(op, bx(left), bx(right)), start);
        }
    }

    fn term(&mut self) -> Result<Expr, RuleError> {
        let start = self.start();
        let mut left = self.unary()?;
        while *self.peek() == Tok::Star {
            self.bump();
            let right = self.unary()?;
            left = self.node(ExprKind::Arith(ArithOp::Mul, bx(left), bx(right)), start);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, RuleError> {
        if *self.peek() == Tok::Minus {
            let start = self.start();
            self.bump();
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            let zero = Expr {
                kind: ExprKind::Int(0),
                span: Span { start, end: start },
            };
            return Ok(self.node(ExprKind::Arith(ArithOp::Sub, bx(zero), bx(inner)), start));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, RuleError> {
        let start = self.start();
        let kind = match self.bump() {
            Tok::Int(n) => ExprKind::Int(n),
            Tok::Money(f) => ExprKind::Money(Fen::new(f)),
            Tok::Text(s) => ExprKind::Text(s),
            Tok::Kw(Kw::True) => ExprKind::Bool(true),
            Tok::Kw(Kw::False) => ExprKind::Bool(false),
            Tok::Word(w) => ExprKind::Fact(w),
            Tok::Param(name) => {
                let key = if *self.peek() == Tok::LBracket {
                    self.bump();
                    let k = self.expr()?;
                    self.expect(Tok::RBracket, "“]”")?;
                    Some(bx(k))
                } else {
                    None
                };
                ExprKind::Param { name, key }
            }
            Tok::LParen => {
                let inner = self.expr()?;
                self.expect(Tok::RParen, "“)”")?;
                return Ok(Expr {
                    kind: inner.kind,
                    span: Span {
                        start,
                        end: self.prev_end(),
                    },
                });
            }
            Tok::Kw(Kw::If) => {
                self.pos -= 1;
                return self.expr();
            }
            t => {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.error(format!(
                    "应为信息项、数字、金额、文字、参数或“(”，却遇到{}",
                    t.describe()
                )));
            }
        };
        Ok(self.node(kind, start))
    }
}
