//! A person's registry state on a date: which facts held, from which source, and where sources
//! disagree.

use chrono::NaiveDate;
use serde::Serialize;
use yanglao_domain::{Department, FactKind};
use yanglao_store::registry::FactRecord;

#[derive(Debug, Clone, Serialize)]
pub struct CurrentFact {
    pub kind: FactKind,
    pub kind_label: &'static str,
    pub value: String,
    pub value_label: String,
    pub source_label: String,
    pub batch_id: i64,
    pub batch_file: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    /// Another source says something different about this kind on the same date.
    pub contested: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonState {
    pub as_of: NaiveDate,
    pub died: Option<NaiveDate>,
    pub facts: Vec<CurrentFact>,
}

impl PersonState {
    pub fn value(&self, kind: FactKind) -> Option<&str> {
        self.facts.iter().find(|f| f.kind == kind).map(|f| f.value.as_str())
    }
}

pub fn source_label(code: &str) -> String {
    Department::parse(code)
        .map(|d| d.label().to_string())
        .unwrap_or_else(|| code.to_string())
}

/// The facts valid on `as_of` (valid_from ≤ as_of < valid_to), in the order of `FactKind::ALL`.
pub fn state_on(facts: &[FactRecord], as_of: NaiveDate) -> PersonState {
    let died = facts
        .iter()
        .filter(|f| f.kind == "death" && f.valid_from <= as_of)
        .map(|f| f.valid_from)
        .min();
    let mut out = Vec::new();
    for kind in FactKind::ALL {
        let current: Vec<&FactRecord> = facts
            .iter()
            .filter(|f| f.kind == kind.code() && f.valid_on(as_of))
            .collect();
        let mut values: Vec<&str> = current.iter().map(|f| f.value.as_str()).collect();
        values.sort();
        values.dedup();
        let contested = values.len() > 1;
        for f in current {
            out.push(CurrentFact {
                kind,
                kind_label: kind.label(),
                value: f.value.clone(),
                value_label: kind.display_value(&f.value),
                source_label: source_label(&f.source),
                batch_id: f.batch_id,
                batch_file: f.batch_file.clone(),
                valid_from: f.valid_from,
                valid_to: f.valid_to,
                contested,
            });
        }
    }
    PersonState {
        as_of,
        died,
        facts: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn fact(kind: &str, value: &str, source: &str, from: NaiveDate, to: Option<NaiveDate>) -> FactRecord {
        FactRecord {
            id: 1,
            kind: kind.into(),
            value: value.into(),
            valid_from: from,
            valid_to: to,
            source: source.into(),
            batch_id: 1,
            batch_file: "f.csv".into(),
            batch_started: Utc::now(),
            ended_by_batch: None,
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn boundaries_are_half_open() {
        let facts = vec![fact("dibao", "是", "minzheng", d(2024, 1, 1), Some(d(2024, 7, 1)))];
        assert!(state_on(&facts, d(2023, 12, 31)).value(FactKind::Dibao).is_none());
        assert_eq!(state_on(&facts, d(2024, 1, 1)).value(FactKind::Dibao), Some("是"));
        assert_eq!(state_on(&facts, d(2024, 6, 30)).value(FactKind::Dibao), Some("是"));
        assert!(state_on(&facts, d(2024, 7, 1)).value(FactKind::Dibao).is_none());
    }

    #[test]
    fn disagreeing_sources_are_both_shown_and_marked() {
        let facts = vec![
            fact("living", "独居", "community", d(2024, 1, 1), None),
            fact("living", "与家人同住", "minzheng", d(2024, 3, 1), None),
        ];
        let before = state_on(&facts, d(2024, 2, 1));
        assert_eq!(before.facts.len(), 1);
        assert!(!before.facts[0].contested);
        let after = state_on(&facts, d(2024, 3, 1));
        assert_eq!(after.facts.len(), 2);
        assert!(after.facts.iter().all(|f| f.contested));
    }
}
