//! 公民身份号码 (GB 11643-1999): parsed once at the edge, trusted inside.
//!
//! Structure (standards/README.md §6.1): 6-digit address code + 8-digit birth date + 3-digit
//! sequence (odd = male) + check character (ISO 7064 MOD 11-2, `X` for 10).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::Sex;

/// Weights 2^(18-i) mod 11 for positions 1..17 (standards/README.md §6.1).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for remainder r: "10X98765432"[r].
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Province-level codes in use (GB/T 2260). An ID whose first two digits are not one of these
/// cannot have been issued; abolished county codes below them remain valid (people keep their
/// number when divisions change), so nothing finer is checked.
const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82,
];

/// Earliest birth year accepted: nobody alive was born before it.
const MIN_BIRTH_YEAR: i32 = 1880;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("身份证号为空")]
    Empty,
    #[error("身份证号应为18位（或15位旧号），实际为{0}位")]
    Length(usize),
    #[error("身份证号第{position}位“{found}”不是数字")]
    NotDigit { position: usize, found: char },
    #[error("身份证号地址码的省级代码“{0}”不存在")]
    Province(String),
    #[error("身份证号出生日期“{0}”不是有效日期")]
    BirthDate(String),
    #[error("身份证号校验码错误：应为“{expected}”，实际为“{found}”")]
    CheckDigit { expected: char, found: char },
}

impl IdNumber {
    /// Parses an 18-digit number (lower-case `x` normalised) or upgrades a 15-digit legacy
    /// number by inserting "19" before the birth date and computing the check character.
    pub fn parse(input: &str) -> Result<Self, IdNumberError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(IdNumberError::Empty);
        }
        // The usual case, a well-formed 18-digit number, on bytes with one allocation (every
        // row of every department file has one).
        let b = s.as_bytes();
        if b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && matches!(b[17], b'0'..=b'9' | b'X' | b'x') {
            let body = &s[..17];
            validate_body(body)?;
            let last = char::from(b[17].to_ascii_uppercase());
            let expected = check_char(body.as_bytes());
            if expected != last {
                return Err(IdNumberError::CheckDigit { expected, found: last });
            }
            let mut number = String::with_capacity(18);
            number.push_str(body);
            number.push(last);
            return Ok(IdNumber(number));
        }
        let chars: Vec<char> = s.chars().collect();
        match chars.len() {
            18 => {
                for (i, c) in chars[..17].iter().enumerate() {
                    if !c.is_ascii_digit() {
                        return Err(IdNumberError::NotDigit {
                            position: i + 1,
                            found: *c,
                        });
                    }
                }
                let last = chars[17].to_ascii_uppercase();
                if !(last.is_ascii_digit() || last == 'X') {
                    return Err(IdNumberError::NotDigit {
                        position: 18,
                        found: chars[17],
                    });
                }
                let body: String = chars[..17].iter().collect();
                validate_body(&body)?;
                let expected = check_char(body.as_bytes());
                if expected != last {
                    return Err(IdNumberError::CheckDigit { expected, found: last });
                }
                Ok(IdNumber(format!("{body}{last}")))
            }
            15 => {
                for (i, c) in chars.iter().enumerate() {
                    if !c.is_ascii_digit() {
                        return Err(IdNumberError::NotDigit {
                            position: i + 1,
                            found: *c,
                        });
                    }
                }
                let body = format!("{}19{}", &s[..6], &s[6..15]);
                validate_body(&body)?;
                let check = check_char(body.as_bytes());
                Ok(IdNumber(format!("{body}{check}")))
            }
            n => Err(IdNumberError::Length(n)),
        }
    }

    /// Builds a valid number from its parts; used by the synthetic-data generator.
    pub fn from_parts(address: &str, birth: NaiveDate, sequence: u16) -> Result<Self, IdNumberError> {
        let body = format!("{address:0>6.6}{}{:03}", birth.format("%Y%m%d"), sequence % 1000);
        validate_body(&body)?;
        let check = check_char(body.as_bytes());
        Ok(IdNumber(format!("{body}{check}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit address code: where the number was issued, not where the person lives now.
    pub fn address_code(&self) -> &str {
        &self.0[..6]
    }

    pub fn birth_date(&self) -> NaiveDate {
        // Validated at construction.
        parse_birth(&self.0[6..14]).unwrap_or(NaiveDate::MIN)
    }

    /// Odd sequence digit (position 17) = male.
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// `150102********123X`: address code and the last four shown, birth date hidden.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

fn validate_body(body: &str) -> Result<(), IdNumberError> {
    let province: u8 = body[..2].parse().unwrap_or(0);
    if !PROVINCES.contains(&province) {
        return Err(IdNumberError::Province(body[..2].to_string()));
    }
    parse_birth(&body[6..14]).ok_or_else(|| IdNumberError::BirthDate(body[6..14].to_string()))?;
    Ok(())
}

fn parse_birth(s: &str) -> Option<NaiveDate> {
    let d = crate::dates::compact_date(s)?;
    (d.year() >= MIN_BIRTH_YEAR).then_some(d)
}

/// ISO 7064 MOD 11-2 over the first 17 digits.
fn check_char(body: &[u8]) -> char {
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    char::from(CHECK_CHARS[(sum % 11) as usize])
}

impl fmt::Display for IdNumber {
    /// Masked: a full number is shown only where a caller asks for `as_str` on purpose.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl TryFrom<String> for IdNumber {
    type Error = IdNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IdNumber::parse(&s)
    }
}

impl From<IdNumber> for String {
    fn from(id: IdNumber) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_examples_check_digit() {
        // standards/README.md §6.1: "11010519491231002X → X ✓, 440524188001010014 → 4 ✓"
        let a = IdNumber::parse("11010519491231002X").expect("valid");
        assert_eq!(a.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).expect("date"));
        assert_eq!(a.sex(), Sex::Female);
        let b = IdNumber::parse("440524188001010014").expect("valid");
        assert_eq!(b.sex(), Sex::Male);
        assert_eq!(b.address_code(), "440524");
    }

    #[test]
    fn lower_case_x_is_normalised() {
        let a = IdNumber::parse("11010519491231002x").expect("valid");
        assert_eq!(a.as_str(), "11010519491231002X");
    }

    #[test]
    fn wrong_check_digit_names_expected() {
        let e = IdNumber::parse("110105194912310021").unwrap_err();
        assert_eq!(
            e,
            IdNumberError::CheckDigit {
                expected: 'X',
                found: '1'
            }
        );
        assert!(e.to_string().contains("应为“X”"));
    }

    #[test]
    fn invalid_forms_are_rejected_with_reasons() {
        assert_eq!(IdNumber::parse(" ").unwrap_err(), IdNumberError::Empty);
        assert_eq!(IdNumber::parse("1234").unwrap_err(), IdNumberError::Length(4));
        assert_eq!(
            IdNumber::parse("11010519A91231002X").unwrap_err(),
            IdNumberError::NotDigit {
                position: 9,
                found: 'A'
            }
        );
        assert_eq!(
            IdNumber::parse("11010519491231002Y").unwrap_err(),
            IdNumberError::NotDigit {
                position: 18,
                found: 'Y'
            }
        );
        // 2023-02-29 does not exist.
        assert!(matches!(
            IdNumber::parse(&with_check("15010220230229001")).unwrap_err(),
            IdNumberError::BirthDate(_)
        ));
        // Province 99 does not exist.
        assert!(matches!(
            IdNumber::parse(&with_check("99010219500101001")).unwrap_err(),
            IdNumberError::Province(_)
        ));
        // Month 13.
        assert!(matches!(
            IdNumber::parse(&with_check("15010219501301001")).unwrap_err(),
            IdNumberError::BirthDate(_)
        ));
    }

    #[test]
    fn leap_day_birth_is_valid() {
        let id = IdNumber::parse(&with_check("15010219400229002")).expect("1940 is a leap year");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1940, 2, 29).expect("date"));
    }

    #[test]
    fn fifteen_digit_legacy_number_is_upgraded() {
        // 15-digit: address 6 + YYMMDD + 3-digit sequence; upgraded by inserting "19".
        let id = IdNumber::parse("150102500101123").expect("valid legacy");
        assert_eq!(&id.as_str()[..17], "15010219500101123");
        assert_eq!(id.as_str().len(), 18);
        assert_eq!(id.sex(), Sex::Male);
        assert!(
            IdNumber::parse(id.as_str()).is_ok(),
            "upgraded number has a valid check digit"
        );
    }

    #[test]
    fn abolished_address_codes_are_kept() {
        // 110103 崇文区 was abolished in 2010; people keep their numbers (§6.1).
        assert!(IdNumber::parse(&with_check("11010319500101001")).is_ok());
    }

    #[test]
    fn masking_hides_birth_date() {
        let id = IdNumber::parse("11010519491231002X").expect("valid");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id}"), "110105********002X");
        assert!(!format!("{id:?}").contains("19491231"));
    }

    fn with_check(body: &str) -> String {
        format!("{body}{}", check_char(body.as_bytes()))
    }

    proptest! {
        #[test]
        fn any_single_digit_change_is_detected(
            body in "1[1-5]0[1-9]0[1-9]19[2-6][0-9]0[1-9]1[0-9][0-9]{3}",
            pos in 0usize..17,
            delta in 1u8..10,
        ) {
            let good = with_check(&body);
            prop_assert!(IdNumber::parse(&good).is_ok());
            let mut bytes = good.clone().into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let bad = String::from_utf8(bytes).expect("ascii");
            // MOD 11-2 detects every single-digit substitution; the change may also break the
            // date or province first, which is an error too.
            prop_assert!(IdNumber::parse(&bad).is_err());
        }

        #[test]
        fn from_parts_round_trips(y in 1900i32..2020, m in 1u32..13, d in 1u32..29, seq in 0u16..1000) {
            let birth = NaiveDate::from_ymd_opt(y, m, d).expect("date");
            let id = IdNumber::from_parts("150102", birth, seq).expect("valid");
            let again = IdNumber::parse(id.as_str()).expect("parses");
            prop_assert_eq!(again.birth_date(), birth);
            prop_assert_eq!(again.sex() == Sex::Male, seq % 2 == 1);
        }

        #[test]
        fn accepted_exactly_when_the_check_character_is_right(
            body in "1[1-5]0[1-9]0[1-9]19[2-6][0-9]0[1-9]1[0-9][0-9]{3}",
            last in "[0-9Xx]",
        ) {
            let expected = with_check(&body);
            let typed = format!("{body}{last}");
            match IdNumber::parse(&typed) {
                Ok(id) => prop_assert_eq!(id.as_str(), expected.as_str()),
                Err(e) => {
                    prop_assert_ne!(typed.to_ascii_uppercase(), expected.clone());
                    let is_check_error = matches!(e, IdNumberError::CheckDigit { .. });
                    prop_assert!(is_check_error);
                }
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = IdNumber::parse(&s);
        }
    }
}
