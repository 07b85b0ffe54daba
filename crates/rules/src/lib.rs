//! The rule language of the service lists (清单规则): small, typed, always terminating.
//!
//! A rule is an expression over registry facts about one person as of a date (年龄, 户籍, 低保,
//! 残疾等级, 能力等级 …) and named parameters that localities set (【高龄津贴标准】). It reads the
//! way a policy text does:
//!
//! ```text
//! 在世 且 户籍 属于 150000 且 年龄 >= 80 且 年龄 <= 99
//! 如果 年龄 >= 100 则 【百岁老人高龄津贴】 否则 【高龄津贴】
//! ```
//!
//! There are no loops, no recursion and no user functions, so evaluation is linear in the size
//! of the rule; the source length and the nesting depth are bounded, so parsing never exhausts
//! the stack. A rule is checked against the fact vocabulary and the declared parameters when a
//! list version is saved; every error names its position (line and column) and what was expected.
//! The same checked tree serves a one-person evaluation with a trace (for explanations) and,
//! later, compilation to a vectorised plan.

pub mod ast;
pub mod check;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod vocab;

pub use ast::{Expr, ExprKind, Span};
pub use check::{check, Type};
pub use parser::parse;

/// Longest rule source accepted, in characters.
pub const MAX_SOURCE_CHARS: usize = 4000;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 48;

/// An error with its place in the rule source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("第{line}行第{column}列：{message}")]
pub struct RuleError {
    /// Character offset into the source.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl RuleError {
    pub fn at(source: &str, offset: usize, message: impl Into<String>) -> RuleError {
        let mut line = 1;
        let mut column = 1;
        for (i, c) in source.chars().enumerate() {
            if i >= offset {
                break;
            }
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        RuleError {
            offset,
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests;
