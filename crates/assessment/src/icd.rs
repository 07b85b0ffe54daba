//! ICD-10 codes as entered in A.4.1 疾病诊断, only as far as the C.4 rule needs them.

use std::fmt;

use serde::Serialize;

/// Longest input looked at; real codes (also 国家临床版 ones like "F00.000x001") are far shorter.
const MAX_INPUT_CHARS: usize = 32;

/// An ICD-10 code: chapter letter, two-digit category and the subdivision after the dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Icd10 {
    letter: char,
    category: u8,
    /// Upper-case, without the dot; may carry national extensions ("000X001") and the
    /// dagger/asterisk marks ("*", "†", "+").
    subdivision: String,
}

/// The C.4 groups of mental and behavioural disorders (A.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MentalDisorder {
    /// 痴呆 F00～F03
    Dementia,
    /// 其他精神和行为障碍 F04～F99
    Other,
}

impl MentalDisorder {
    pub fn label(self) -> &'static str {
        match self {
            MentalDisorder::Dementia => "痴呆（F00～F03）",
            MentalDisorder::Other => "其他精神和行为障碍（F04～F99）",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{input}”不是有效的ICD-10编码（应为一个字母加两位数字，可带小数点后的细分，如 F03 或 F01.1）")]
pub struct IcdError {
    pub input: String,
}

impl Icd10 {
    /// Parses leniently: ignores case, whitespace (also full-width) and full-width characters,
    /// accepts the code with or without the dot ("F011" = "F01.1"). Rejects ranges ("F00-F03")
    /// and descriptions ("痴呆"): a silently skipped diagnosis could lower the final level.
    pub fn parse(input: &str) -> Result<Icd10, IcdError> {
        let err = || IcdError {
            input: input.chars().take(MAX_INPUT_CHARS).collect(),
        };
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(err());
        }
        let norm: String = input
            .chars()
            .map(halfwidth)
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut chars = norm.chars();
        let letter = chars.next().filter(char::is_ascii_uppercase).ok_or_else(err)?;
        let tens = chars.next().and_then(|c| c.to_digit(10)).ok_or_else(err)?;
        let ones = chars.next().and_then(|c| c.to_digit(10)).ok_or_else(err)?;
        let rest = chars.as_str();
        let rest = rest.strip_prefix('.').unwrap_or(rest);
        if !rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '†' | '+'))
        {
            return Err(err());
        }
        Ok(Icd10 {
            letter,
            // At most 99: two decimal digits.
            category: (tens * 10 + ones) as u8,
            subdivision: rest.to_string(),
        })
    }

    pub fn letter(&self) -> char {
        self.letter
    }

    pub fn category(&self) -> u8 {
        self.category
    }

    /// Which C.4 group the code falls in, if any. Only chapter F counts, as the rule prints
    /// F00～F03 / F04～F99; e.g. G30 阿尔茨海默病 alone does not.
    pub fn mental_disorder(&self) -> Option<MentalDisorder> {
        match (self.letter, self.category) {
            ('F', 0..=3) => Some(MentalDisorder::Dementia),
            ('F', _) => Some(MentalDisorder::Other),
            _ => None,
        }
    }
}

impl fmt::Display for Icd10 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:02}", self.letter, self.category)?;
        if !self.subdivision.is_empty() {
            write!(f, ".{}", self.subdivision)?;
        }
        Ok(())
    }
}

/// Full-width ASCII forms (typed with a Chinese IME) to ASCII.
fn halfwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}
