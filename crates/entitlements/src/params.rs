//! Parameter values for an evaluation date: the value a list version itself states (at its
//! jurisdiction, from its effective date) and the values jurisdictions set later (the
//! `param_value` table). For a person, the most specific division on their path up that has a
//! value in force wins; at one division the latest start, then the latest setting. This is the
//! rule of `yanglao_lists::params::resolve`, applied to every division at once.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use yanglao_domain::{Catalogue, DivisionCode};
use yanglao_lists::content::param_type;
use yanglao_lists::model::ListVersion;
use yanglao_lists::params::{parse_value, ParamValue};
use yanglao_rules::Type;
use yanglao_store::lists::ParamValueRow;

/// Where a value came from, for the explanation.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamSource {
    /// Stated in the list text.
    List { title: String },
    /// Set by a jurisdiction.
    Set {
        division: DivisionCode,
        by: String,
        note: String,
    },
}

#[derive(Debug, Clone)]
pub struct ParamEntry {
    pub division: DivisionCode,
    pub valid_from: NaiveDate,
    order: (Option<DateTime<Utc>>, i64),
    pub value: ParamValue,
    pub raw: String,
    pub source: ParamSource,
}

type Memo = HashMap<String, HashMap<(DivisionCode, NaiveDate), Option<usize>>>;

/// All parameter values that may apply, by name.
#[derive(Debug, Clone, Default)]
pub struct ParamBook {
    types: HashMap<String, Type>,
    entries: HashMap<String, Vec<ParamEntry>>,
    /// Resolutions already made: a batch asks for every parameter once per division per item.
    memo: std::sync::Arc<std::sync::Mutex<Memo>>,
    /// Values in the table that do not parse (kept out, and reported).
    pub rejected: Vec<String>,
}

impl ParamBook {
    /// `versions` declare the parameters and their stated values; `rows` are the values set by
    /// jurisdictions. The first version declaring a name gives its type.
    pub fn new(versions: &[&ListVersion], rows: &[ParamValueRow]) -> ParamBook {
        let mut book = ParamBook::default();
        for v in versions {
            for d in &v.params {
                let Some(ty) = param_type(&d.ty) else { continue };
                book.types.entry(d.name.clone()).or_insert(ty);
                if let Some(raw) = &d.value {
                    match parse_value(&d.name, ty, raw) {
                        Ok(value) => book.entries.entry(d.name.clone()).or_default().push(ParamEntry {
                            division: v.jurisdiction,
                            valid_from: v.effective_from,
                            order: (None, 0),
                            value,
                            raw: raw.clone(),
                            source: ParamSource::List { title: v.title.clone() },
                        }),
                        Err(e) => book.rejected.push(e.to_string()),
                    }
                }
            }
        }
        // Cost shares are the engine's own parameters (the lists say 分级承担 without them).
        for (_, name) in crate::simulate::SHARE_PARAMS {
            book.types.entry(name.to_string()).or_insert(Type::Int);
        }
        book.types
            .entry(yanglao_assessment::reports::PERIOD_PARAM.to_string())
            .or_insert(Type::Int);
        for r in rows {
            let Some(&ty) = book.types.get(&r.name) else { continue };
            let division = match DivisionCode::parse(&r.division) {
                Ok(d) => d,
                Err(e) => {
                    book.rejected
                        .push(format!("参数【{}】地区“{}”：{e}", r.name, r.division));
                    continue;
                }
            };
            match parse_value(&r.name, ty, &r.value) {
                Ok(value) => book.entries.entry(r.name.clone()).or_default().push(ParamEntry {
                    division,
                    valid_from: r.valid_from,
                    order: (Some(r.set_at), r.id),
                    value,
                    raw: r.value.clone(),
                    source: ParamSource::Set {
                        division,
                        by: r.set_by.clone(),
                        note: r.note.clone(),
                    },
                }),
                Err(e) => book.rejected.push(e.to_string()),
            }
        }
        book
    }

    /// Whether `name` has the same values (where, from when, what) in both books.
    pub fn same_values(&self, other: &ParamBook, name: &str) -> bool {
        let key = |b: &ParamBook| {
            let mut v: Vec<(DivisionCode, NaiveDate, String)> = b
                .entries
                .get(name)
                .map(|es| es.iter().map(|e| (e.division, e.valid_from, e.raw.clone())).collect())
                .unwrap_or_default();
            v.sort();
            v
        };
        key(self) == key(other)
    }

    pub fn param_type(&self, name: &str) -> Option<Type> {
        self.types.get(name).copied()
    }

    /// The value in force for someone placed at `division` on `date`.
    pub fn resolve(&self, cat: &Catalogue, name: &str, division: DivisionCode, date: NaiveDate) -> Option<&ParamEntry> {
        let entries = self.entries.get(name)?;
        if let Ok(memo) = self.memo.lock() {
            if let Some(hit) = memo.get(name).and_then(|m| m.get(&(division, date))) {
                return hit.and_then(|i| entries.get(i));
            }
        }
        let found = self.resolve_walk(cat, entries, division, date);
        if let Ok(mut memo) = self.memo.lock() {
            let per_name = match memo.get_mut(name) {
                Some(m) => m,
                None => memo.entry(name.to_string()).or_default(),
            };
            per_name.insert((division, date), found);
        }
        found.and_then(|i| entries.get(i))
    }

    fn resolve_walk(
        &self,
        cat: &Catalogue,
        entries: &[ParamEntry],
        division: DivisionCode,
        date: NaiveDate,
    ) -> Option<usize> {
        let mut cur = Some(division);
        while let Some(c) = cur {
            let best = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.division == c && e.valid_from <= date)
                .max_by_key(|(_, e)| (e.valid_from, e.order));
            if let Some((i, _)) = best {
                return Some(i);
            }
            cur = cat.parent_on(c, date);
        }
        None
    }
}
