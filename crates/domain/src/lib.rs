//! yanglao's domain types: parsed once at the edge, trusted inside. No database, no HTTP, no
//! clock: everything that depends on "today" takes the date as an argument.

pub mod catalogue;
pub mod dates;
pub mod division;
pub mod fact;
pub mod id_number;
pub mod money;

pub use catalogue::{Catalogue, CodeScope, Division};
pub use division::{DivisionCode, DivisionLevel};
pub use fact::{Department, FactKind};
pub use id_number::IdNumber;
pub use money::Fen;

use serde::{Deserialize, Serialize};

/// GB/T 2261.1 sex codes: 1 男性, 2 女性.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn code(self) -> i64 {
        match self {
            Sex::Male => 1,
            Sex::Female => 2,
        }
    }
    pub fn from_code(c: i64) -> Option<Sex> {
        match c {
            1 => Some(Sex::Male),
            2 => Some(Sex::Female),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}
