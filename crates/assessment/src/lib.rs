//! Scoring of the two capability instruments yanglao uses. Pure logic: no I/O, no clock.
//!
//! - [`gbt42195`]: GB/T 42195-2022《老年人能力评估规范》. Item texts and scores are Appendix B as
//!   transcribed in `standards/README.md` §1.2–§1.3; levels C.3 from §1.4; change rules C.4 and the
//!   final level C.5 from §1.5; the A.2.14 / A.4.1 / A.5.11 inputs those rules read from §1.7.
//! - [`ltc`]: 长期护理失能等级评估表 (医保办发〔2021〕37号 附件1), items and scores from §2.2. The
//!   dimension cut-offs and the 0–5 combination table are unconfirmed (§2.3), so they are not in
//!   the code: a jurisdiction loads an [`ltc::LtcGradingTable`].
//!
//! On top of the scoring, the workflow over the database (issue #5): [`workflow`] (statuses and
//! who may ask, pure), [`form`] (Appendix A fields and the entry screens, pure), [`service`]
//! (requests, drafts, submission by two assessors, review, the result as a registry fact,
//! amendments), [`reports`] (overdue reassessments and statistics as of a date) and [`import`]
//! (assessments done elsewhere, from `.xlsx`).
//!
//! The README's sources are public transcriptions, not the official text (README §0); diff the
//! option texts against the printed standard before go-live.

pub mod form;
pub mod gbt42195;
pub mod icd;
pub mod import;
pub mod ltc;
pub mod ltc_service;
pub mod reports;
pub mod service;
pub mod workflow;

use serde::Serialize;

/// One answer option of an item: the score it gives and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Opt {
    pub score: u8,
    pub text: &'static str,
}

/// One second-level indicator (二级指标), i.e. one question of a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Item {
    /// E.g. "B.1.1".
    pub code: &'static str,
    /// E.g. "进食".
    pub name: &'static str,
    /// The form's definition of the item, with its 注 if any; `None` where the form has none.
    pub definition: Option<&'static str>,
    /// In the order the form prints them.
    pub options: &'static [Opt],
}

impl Item {
    /// The best score the item allows.
    pub fn max(&self) -> u8 {
        self.options.iter().map(|o| o.score).max().unwrap_or(0)
    }

    /// Whether `score` is one of the item's options.
    pub fn allows(&self, score: u8) -> bool {
        self.options.iter().any(|o| o.score == score)
    }

    /// The option with this score.
    pub fn option(&self, score: u8) -> Option<&'static Opt> {
        self.options.iter().find(|o| o.score == score)
    }

    fn check(&'static self, value: u8) -> Result<u8, AnswerError> {
        if self.allows(value) {
            return Ok(value);
        }
        let mut allowed: Vec<u8> = self.options.iter().map(|o| o.score).collect();
        allowed.sort_unstable();
        Err(AnswerError::NotAllowed {
            code: self.code,
            name: self.name,
            value,
            allowed: allowed.iter().map(u8::to_string).collect::<Vec<_>>().join("、"),
        })
    }
}

/// A first-level indicator (一级指标) and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Indicator {
    /// E.g. "B.1".
    pub code: &'static str,
    /// E.g. "自理能力".
    pub name: &'static str,
    pub items: &'static [Item],
}

impl Indicator {
    /// Sum of the items' best scores.
    pub fn max(&self) -> u8 {
        self.items.iter().map(Item::max).sum()
    }

    /// Validates `scores` (one per item, in item order) and returns their sum.
    fn subtotal(&'static self, scores: &[u8]) -> Result<u8, AnswerError> {
        let mut sum = 0u8;
        for (item, &value) in self.items.iter().zip(scores) {
            sum += item.check(value)?;
        }
        Ok(sum)
    }

    fn find(indicators: &'static [Indicator], code: &str) -> Option<(usize, usize)> {
        indicators
            .iter()
            .enumerate()
            .find_map(|(i, ind)| ind.items.iter().position(|item| item.code == code).map(|j| (i, j)))
    }
}

/// A form answer that cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("{code} {name}：{value}分不是该项的可选分值（可选：{allowed}）")]
    NotAllowed {
        code: &'static str,
        name: &'static str,
        value: u8,
        allowed: String,
    },
    #[error("没有评估项目“{0}”")]
    UnknownItem(String),
    #[error("{0} 重复作答")]
    Duplicate(&'static str),
    #[error("{0} 未作答")]
    Missing(&'static str),
    #[error("A.4.1 疾病诊断：{0}")]
    Diagnosis(#[from] icd::IcdError),
}

/// Collects `(item code, score)` pairs into one score per item of `indicators`, in form order.
/// Scores are validated later, by the scoring function.
fn collect_pairs<'a>(
    indicators: &'static [Indicator],
    pairs: impl IntoIterator<Item = (&'a str, u8)>,
) -> Result<Vec<Vec<u8>>, AnswerError> {
    let mut slots: Vec<Vec<Option<u8>>> = indicators.iter().map(|ind| vec![None; ind.items.len()]).collect();
    for (code, score) in pairs {
        let code = code.trim();
        let (i, j) = Indicator::find(indicators, code).ok_or_else(|| AnswerError::UnknownItem(code.to_string()))?;
        let slot = &mut slots[i][j];
        if slot.is_some() {
            return Err(AnswerError::Duplicate(indicators[i].items[j].code));
        }
        *slot = Some(score);
    }
    slots
        .into_iter()
        .zip(indicators)
        .map(|(row, ind)| {
            row.into_iter()
                .zip(ind.items)
                .map(|(slot, item)| slot.ok_or(AnswerError::Missing(item.code)))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests;
