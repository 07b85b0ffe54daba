//! Money in integer fen (分). Never floating point.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Fen(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("金额“{0}”格式无效（应为元，最多两位小数，如 100.00）")]
    Format(String),
    #[error("金额“{0}”超出范围")]
    Overflow(String),
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn new(fen: i64) -> Self {
        Fen(fen)
    }

    pub fn from_yuan(yuan: i64) -> Option<Self> {
        yuan.checked_mul(100).map(Fen)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Parses a yuan amount written by people: "100", "100.5", "100.50", "-3.20", "1,200.00".
    pub fn parse_yuan(input: &str) -> Result<Self, MoneyError> {
        let s: String = input.trim().chars().filter(|c| *c != ',' && *c != '，').collect();
        let s = s.trim_end_matches('元');
        let err = || MoneyError::Format(input.trim().to_string());
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let int: i64 = int
            .parse()
            .map_err(|_| MoneyError::Overflow(input.trim().to_string()))?;
        let frac_fen: i64 = match frac.len() {
            0 => 0,
            1 => i64::from(frac.as_bytes()[0] - b'0') * 10,
            _ => frac.parse().map_err(|_| err())?,
        };
        let total = int
            .checked_mul(100)
            .and_then(|v| v.checked_add(frac_fen))
            .ok_or_else(|| MoneyError::Overflow(input.trim().to_string()))?;
        Ok(Fen(if neg { -total } else { total }))
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_mul(self, n: i64) -> Option<Fen> {
        self.0.checked_mul(n).map(Fen)
    }
}

impl fmt::Display for Fen {
    /// "100.00" (yuan with two decimals).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fen({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_yuan_exactly() {
        assert_eq!(Fen::parse_yuan("100").expect("ok").get(), 10_000);
        assert_eq!(Fen::parse_yuan("100.5").expect("ok").get(), 10_050);
        assert_eq!(Fen::parse_yuan("0.07").expect("ok").get(), 7);
        assert_eq!(Fen::parse_yuan("1,200.00元").expect("ok").get(), 120_000);
        assert_eq!(Fen::parse_yuan("-3.20").expect("ok").get(), -320);
        assert!(Fen::parse_yuan("1.005").is_err());
        assert!(Fen::parse_yuan("abc").is_err());
        assert!(Fen::parse_yuan(".5").is_err());
        assert!(Fen::parse_yuan("99999999999999999999").is_err());
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Fen::new(10_000).to_string(), "100.00");
        assert_eq!(Fen::new(-5).to_string(), "-0.05");
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(n in -1_000_000_000_000i64..1_000_000_000_000) {
            let f = Fen::new(n);
            prop_assert_eq!(Fen::parse_yuan(&f.to_string()).expect("round trip"), f);
        }
    }
}
