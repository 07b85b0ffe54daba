//! Division codes: 6-digit GB/T 2260 codes down to county level and 12-digit NBS statistical
//! codes below (standards/README.md §6.2–6.3). Every code is held as its 12-digit form.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DivisionCode(u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DivisionLevel {
    /// 省级 (自治区)
    Province = 1,
    /// 地级 (盟、市、地区)
    Prefecture = 2,
    /// 县级 (旗、县、区、县级市)
    County = 3,
    /// 乡级 (苏木、乡、镇、街道)
    Township = 4,
    /// 村级 (嘎查、村、社区)
    Village = 5,
}

impl DivisionLevel {
    pub fn label(self) -> &'static str {
        match self {
            DivisionLevel::Province => "省级",
            DivisionLevel::Prefecture => "地级",
            DivisionLevel::County => "县级",
            DivisionLevel::Township => "乡级",
            DivisionLevel::Village => "村级",
        }
    }

    pub fn from_i64(n: i64) -> Option<Self> {
        Some(match n {
            1 => DivisionLevel::Province,
            2 => DivisionLevel::Prefecture,
            3 => DivisionLevel::County,
            4 => DivisionLevel::Township,
            5 => DivisionLevel::Village,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DivisionCodeError {
    #[error("区划代码为空")]
    Empty,
    #[error("区划代码应为6位、9位或12位数字，实际为“{0}”")]
    Format(String),
    #[error("区划代码“{0}”的省级部分为00")]
    NoProvince(String),
    #[error("区划代码“{0}”的地级部分为00，下级部分却不为0")]
    Gap(String),
}

/// Segment widths, most significant first: province 2, prefecture 2, county 2, township 3,
/// village 3.
const SEGMENTS: [(u32, u64); 5] = [
    (2, 10_000_000_000),
    (2, 100_000_000),
    (2, 1_000_000),
    (3, 1_000),
    (3, 1),
];

/// The value of one unit of the segment below `level`: codes within a division of `level` agree
/// with it on everything above that.
fn unit_of(level: DivisionLevel) -> u64 {
    match level {
        DivisionLevel::Province => SEGMENTS[0].1,
        DivisionLevel::Prefecture => SEGMENTS[1].1,
        DivisionLevel::County => SEGMENTS[2].1,
        DivisionLevel::Township => SEGMENTS[3].1,
        DivisionLevel::Village => 1,
    }
}

impl DivisionCode {
    pub fn parse(input: &str) -> Result<Self, DivisionCodeError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DivisionCodeError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) || !matches!(s.len(), 6 | 9 | 12) {
            return Err(DivisionCodeError::Format(s.to_string()));
        }
        // The digits padded with zeros to 12 (at most 12 digits: no overflow).
        let n = s
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(12)
            .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
        let code = DivisionCode(n);
        if code.segment(0) == 0 {
            return Err(DivisionCodeError::NoProvince(s.to_string()));
        }
        // A zero prefecture with anything below it cannot occur; a zero county with a township
        // below it can (东莞 441900003000: towns directly under a prefecture-level city).
        if code.segment(1) == 0 && !n.is_multiple_of(SEGMENTS[1].1) {
            return Err(DivisionCodeError::Gap(s.to_string()));
        }
        Ok(code)
    }

    /// The 12-digit value.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    pub fn from_u64(n: u64) -> Option<Self> {
        DivisionCode::parse(&format!("{n:012}")).ok()
    }

    fn segment(self, i: usize) -> u64 {
        let (width, unit) = SEGMENTS[i];
        (self.0 / unit) % 10u64.pow(width)
    }

    /// The level is that of the lowest non-zero segment.
    pub fn level(self) -> DivisionLevel {
        if self.segment(4) != 0 {
            DivisionLevel::Village
        } else if self.segment(3) != 0 {
            DivisionLevel::Township
        } else if self.segment(2) != 0 {
            DivisionLevel::County
        } else if self.segment(1) != 0 {
            DivisionLevel::Prefecture
        } else {
            DivisionLevel::Province
        }
    }

    /// The structural parent: the code with its lowest non-zero segment cleared. (Where a
    /// division moved, the division catalogue knows the parent by date.)
    pub fn parent(self) -> Option<DivisionCode> {
        let level = self.level();
        if level == DivisionLevel::Province {
            return None;
        }
        let unit = SEGMENTS[level as usize - 2].1;
        Some(DivisionCode(self.0 - self.0 % unit))
    }

    /// Structurally inside `other` (or equal to it).
    pub fn is_within(self, other: DivisionCode) -> bool {
        let unit = unit_of(other.level());
        self.0 - self.0 % unit == other.0
    }

    /// The ancestor at `level`, if this code is at or below it.
    pub fn ancestor(self, level: DivisionLevel) -> Option<DivisionCode> {
        if level > self.level() {
            return None;
        }
        let unit = unit_of(level);
        Some(DivisionCode(self.0 - self.0 % unit))
    }

    /// The 12-digit form.
    pub fn full(self) -> String {
        // By hand: `format!` was a visible part of reading a 户籍 file (two codes a row).
        let mut digits = [b'0'; 12];
        let mut n = self.0;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        digits.iter().map(|&d| char::from(d)).collect()
    }

    /// The prefix shared by every code within this one, for `LIKE 'prefix%'` on 12-digit codes.
    pub fn prefix(self) -> String {
        let full = self.full();
        let len = match self.level() {
            DivisionLevel::Province => 2,
            DivisionLevel::Prefecture => 4,
            DivisionLevel::County => 6,
            DivisionLevel::Township => 9,
            DivisionLevel::Village => 12,
        };
        full[..len].to_string()
    }

    /// 6 digits down to county level, 12 below: how offices write them.
    pub fn short(self) -> String {
        let full = self.full();
        if self.level() <= DivisionLevel::County {
            full[..6].to_string()
        } else {
            full
        }
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

impl fmt::Debug for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DivisionCode({})", self.short())
    }
}

impl TryFrom<String> for DivisionCode {
    type Error = DivisionCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DivisionCode::parse(&s)
    }
}

impl From<DivisionCode> for String {
    fn from(c: DivisionCode) -> String {
        c.full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(s: &str) -> DivisionCode {
        DivisionCode::parse(s).expect("valid code")
    }

    #[test]
    fn levels_and_parents_of_real_codes() {
        assert_eq!(c("150000").level(), DivisionLevel::Province);
        assert_eq!(c("150100").level(), DivisionLevel::Prefecture);
        assert_eq!(c("150102").level(), DivisionLevel::County);
        assert_eq!(c("150102001000").level(), DivisionLevel::Township);
        assert_eq!(c("150102001").level(), DivisionLevel::Township);
        assert_eq!(c("150102001201").level(), DivisionLevel::Village);
        assert_eq!(c("150102001201").parent(), Some(c("150102001000")));
        assert_eq!(c("150102001000").parent(), Some(c("150102")));
        assert_eq!(c("150102").parent(), Some(c("150100")));
        assert_eq!(c("150100").parent(), Some(c("150000")));
        assert_eq!(c("150000").parent(), None);
        // 东莞: towns directly under a prefecture-level city.
        assert_eq!(c("441900003000").parent(), Some(c("441900")));
    }

    #[test]
    fn within() {
        assert!(c("150102001201").is_within(c("150000")));
        assert!(c("150102001201").is_within(c("150102")));
        assert!(!c("150203001201").is_within(c("150102")));
        assert!(c("150102").is_within(c("150102")));
        assert!(!c("150000").is_within(c("150102")));
        assert_eq!(c("653223102000").prefix(), "653223102");
    }

    #[test]
    fn malformed_codes_are_rejected() {
        assert_eq!(DivisionCode::parse("").unwrap_err(), DivisionCodeError::Empty);
        assert!(matches!(DivisionCode::parse("1501"), Err(DivisionCodeError::Format(_))));
        assert!(matches!(
            DivisionCode::parse("15010A"),
            Err(DivisionCodeError::Format(_))
        ));
        assert!(matches!(
            DivisionCode::parse("001020"),
            Err(DivisionCodeError::NoProvince(_))
        ));
        assert!(matches!(DivisionCode::parse("150002"), Err(DivisionCodeError::Gap(_))));
    }

    #[test]
    fn short_and_full_forms() {
        assert_eq!(c("150102").full(), "150102000000");
        assert_eq!(c("150102000000").short(), "150102");
        assert_eq!(c("150102001201").short(), "150102001201");
    }

    proptest! {
        #[test]
        fn parent_contains_child(n in 110000000000u64..660000000000u64) {
            if let Some(code) = DivisionCode::from_u64(n) {
                if let Some(p) = code.parent() {
                    prop_assert!(code.is_within(p));
                    prop_assert!(p.level() < code.level());
                }
            }
        }

        #[test]
        fn digits_read_and_written_as_the_text_says(s in "[1-9][0-9]{5}([0-9]{3}){0,2}") {
            // The 12-digit form is the code padded with zeros, and reads back as itself.
            if let Ok(code) = DivisionCode::parse(&s) {
                prop_assert_eq!(code.full(), format!("{s:0<12}"));
                prop_assert_eq!(code.as_u64(), format!("{s:0<12}").parse::<u64>().expect("digits"));
                prop_assert_eq!(DivisionCode::parse(&code.full()), Ok(code));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = DivisionCode::parse(&s);
        }
    }
}
