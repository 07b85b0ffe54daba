//! The registry on one date as an Apache Arrow record batch: one row per person, one column per
//! fact the rule language reads (named as in the rules: 年龄, 户籍 …). Division columns are
//! dictionary-encoded, so that "属于" is decided once per distinct division, not per person.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int64Builder, StringDictionaryBuilder, UInt8Builder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, BooleanArray, DictionaryArray, Int32Array, Int64Array, RecordBatch, UInt64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use chrono::NaiveDate;
use yanglao_domain::{DivisionCode, FactKind, Sex};
use yanglao_rules::eval::Value;
use yanglao_rules::vocab::FACTS;
use yanglao_rules::Type;
use yanglao_store::{Db, StoreError};

use crate::person::{living_bit, Origin, PersonFacts};

pub const PERSON_ID: &str = "person_id";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
    #[error("列式快照：{0}")]
    Arrow(#[from] ArrowError),
}

/// The registry on `as_of`, columnar.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub as_of: NaiveDate,
    pub batch: RecordBatch,
}

impl Snapshot {
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }

    pub fn column(&self, name: &str) -> Option<&ArrayRef> {
        self.batch.column_by_name(name)
    }

    pub fn person_ids(&self) -> &Int64Array {
        self.batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap_or_else(|| unreachable!("column 0 is person_id (Int64) by construction"))
    }

    /// Builds the snapshot from resolved persons (tests, and one-off evaluations).
    pub fn from_persons(persons: &[PersonFacts], as_of: NaiveDate) -> Result<Snapshot, SnapshotError> {
        let mut b = Builder::new(persons.len());
        for p in persons {
            b.push(p, as_of);
        }
        b.finish(as_of)
    }

    /// Reads the registry on `as_of` from the database in two streamed scans (persons, then the
    /// facts valid on the date). Facts are kept per kind as small integers into a table of the
    /// distinct values, with the same choice among facts as [`PersonFacts::apply`]; each distinct
    /// value is then turned into rule values once, by [`PersonFacts::value`] itself.
    pub fn load(db: &Db, as_of: NaiveDate) -> Result<Snapshot, SnapshotError> {
        let mut ids: Vec<i64> = Vec::new();
        let mut births: Vec<NaiveDate> = Vec::new();
        let mut sexes: Vec<Option<Sex>> = Vec::new();
        let mut index: Vec<u32> = Vec::new();
        db.scan_raw("SELECT id, birth_date, sex FROM person ORDER BY id", &[], |r| {
            let id = r.int(0)?;
            let slot = usize::try_from(id).map_err(|_| StoreError::Aborted(format!("person id {id}")))?;
            if index.len() <= slot {
                index.resize(slot + 1, u32::MAX);
            }
            index[slot] = u32::try_from(ids.len()).map_err(|_| StoreError::Aborted("too many persons".into()))?;
            ids.push(id);
            let birth = r
                .days(1)?
                .and_then(|d| EPOCH.checked_add_signed(chrono::Duration::days(d.into())))
                .ok_or_else(|| StoreError::Aborted(format!("person {id}: birth date")))?;
            births.push(birth);
            sexes.push(Sex::from_code(r.int(2)?));
            Ok(())
        })?;
        let n = ids.len();
        let mut kinds: Vec<KindSlots> = FactKind::ALL.iter().map(|_| KindSlots::new(n)).collect();
        let mut died = vec![false; n];
        db.scan_raw(
            "SELECT person_id, kind, value, valid_from, batch_id FROM fact
             WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)",
            &[yanglao_store::Value::Date(as_of)],
            |r| {
                let pid = r.int(0)?;
                let Some(row) = usize::try_from(pid)
                    .ok()
                    .and_then(|s| index.get(s))
                    .copied()
                    .filter(|s| *s != u32::MAX)
                else {
                    return Ok(());
                };
                let Some(k) = r.str(1)?.and_then(FactKind::parse) else {
                    return Ok(());
                };
                let row = row as usize;
                if k == FactKind::Death {
                    died[row] = true;
                }
                let value = r.str(2)?.unwrap_or("");
                let from = r.days(3)?.unwrap_or(i32::MIN);
                let batch = r.int(4)?;
                kinds[kind_slot(k)].offer(row, value, from, batch);
                Ok(())
            },
        )?;
        // Each distinct value of a kind is turned into rule values once, by the same code the
        // one-person path uses; index 0 is "no such fact".
        let origin = Origin {
            batch_id: 0,
            valid_from: as_of,
        };
        let empty = PersonFacts::new(0, as_of, None);
        let mut b = Builder::new(n);
        b.ids.append_slice(&ids);
        for (col, f) in FACTS.iter().enumerate() {
            match f.name {
                "年龄" => {
                    for birth in &births {
                        b.append(col, &Value::Int(yanglao_domain::dates::age_on(*birth, as_of).into()));
                    }
                }
                "性别" => {
                    for sex in &sexes {
                        let v = sex.map_or(Value::Missing, |s| Value::Text(s.label().to_string()));
                        b.append(col, &v);
                    }
                }
                "在世" => {
                    for d in &died {
                        b.append(col, &Value::Bool(!d));
                    }
                }
                name => {
                    let Some(kind) = PersonFacts::source_kind(name) else {
                        for _ in 0..n {
                            b.append(col, &Value::Missing);
                        }
                        continue;
                    };
                    let table = |k: FactKind| -> Vec<Value> {
                        let slots = &kinds[kind_slot(k)];
                        std::iter::once(empty.value(name, as_of))
                            .chain(slots.values.iter().map(|text| {
                                let mut p = PersonFacts::new(0, as_of, None);
                                p.apply(k, text, origin);
                                p.value(name, as_of)
                            }))
                            .collect()
                    };
                    let own = table(kind);
                    let slots = &kinds[kind_slot(kind)];
                    if name == "常住地" {
                        // No residence record: the 户籍 (see `PersonFacts::residence`).
                        let hukou_slots = &kinds[kind_slot(FactKind::Hukou)];
                        let hukou: Vec<Value> = std::iter::once(Value::Missing)
                            .chain(
                                hukou_slots
                                    .values
                                    .iter()
                                    .map(|t| DivisionCode::parse(t).map_or(Value::Missing, Value::Division)),
                            )
                            .collect();
                        for row in 0..n {
                            let v = slots.value[row] as usize;
                            let value = if v != 0 {
                                &own[v]
                            } else {
                                &hukou[hukou_slots.value[row] as usize]
                            };
                            b.append(col, value);
                        }
                    } else {
                        for row in 0..n {
                            b.append(col, &own[slots.value[row] as usize]);
                        }
                    }
                }
            }
        }
        b.finish(as_of)
    }
}

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

fn kind_slot(k: FactKind) -> usize {
    FactKind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

/// One kind of fact for every person: the chosen value as an index into `values` (0: none), and
/// what decided the choice (start date, batch).
struct KindSlots {
    value: Vec<u32>,
    key: Vec<(i32, i32)>,
    values: Vec<String>,
    lookup: HashMap<String, u32>,
}

impl KindSlots {
    fn new(n: usize) -> KindSlots {
        KindSlots {
            value: vec![0; n],
            key: vec![(i32::MIN, i32::MIN); n],
            values: Vec::new(),
            lookup: HashMap::new(),
        }
    }

    /// The rule of [`PersonFacts::apply`]: latest start, then latest batch, then larger value.
    fn offer(&mut self, row: usize, value: &str, from: i32, batch: i64) {
        let batch = i32::try_from(batch).unwrap_or(i32::MAX);
        let current = self.value[row];
        if current != 0 {
            let (f, b) = self.key[row];
            let cur_text = self.values[current as usize - 1].as_str();
            if (from, batch, value) <= (f, b, cur_text) {
                return;
            }
        }
        let id = match self.lookup.get(value) {
            Some(id) => *id,
            None => {
                self.values.push(value.to_string());
                let id = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
                self.lookup.insert(value.to_string(), id);
                id
            }
        };
        self.value[row] = id;
        self.key[row] = (from, batch);
    }
}

/// Column builders in the order of [`FACTS`].
struct Builder {
    ids: Int64Builder,
    cols: Vec<Col>,
    /// Dictionary of division codes shared by the division columns.
    divisions: Vec<u64>,
    division_key: HashMap<u64, i32>,
}

enum Col {
    Int(Int64Builder),
    Bool(BooleanBuilder),
    /// Dictionary-encoded: a text fact has few distinct values.
    Text(StringDictionaryBuilder<Int32Type>),
    Division(Vec<Option<i32>>),
    Set(UInt8Builder),
}

impl Builder {
    fn new(n: usize) -> Builder {
        let cols = FACTS
            .iter()
            .map(|f| match f.ty {
                Type::Int => Col::Int(Int64Builder::with_capacity(n)),
                Type::Bool => Col::Bool(BooleanBuilder::with_capacity(n)),
                Type::Division => Col::Division(Vec::with_capacity(n)),
                Type::TextSet => Col::Set(UInt8Builder::with_capacity(n)),
                _ => Col::Text(StringDictionaryBuilder::new()),
            })
            .collect();
        Builder {
            ids: Int64Builder::with_capacity(n),
            cols,
            divisions: Vec::new(),
            division_key: HashMap::new(),
        }
    }

    fn push(&mut self, p: &PersonFacts, as_of: NaiveDate) {
        self.ids.append_value(p.person_id);
        for (col, f) in FACTS.iter().enumerate() {
            self.append(col, &p.value(f.name, as_of));
        }
    }

    /// Appends one value to column `col` (a fact of [`FACTS`]).
    fn append(&mut self, col: usize, v: &Value) {
        let Some(c) = self.cols.get_mut(col) else { return };
        match c {
            Col::Int(b) => b.append_option(match v {
                Value::Int(n) => Some(*n),
                _ => None,
            }),
            Col::Bool(b) => b.append_option(match v {
                Value::Bool(x) => Some(*x),
                _ => None,
            }),
            Col::Text(b) => match v {
                Value::Text(s) => b.append_value(s),
                _ => b.append_null(),
            },
            Col::Set(b) => b.append_option(match v {
                Value::TextSet(s) => Some(s.iter().filter_map(|m| living_bit(m)).fold(0, |a, x| a | x)),
                _ => None,
            }),
            Col::Division(keys) => keys.push(match v {
                Value::Division(d) => {
                    let next = i32::try_from(self.divisions.len()).unwrap_or(i32::MAX);
                    let k = *self.division_key.entry(d.as_u64()).or_insert(next);
                    if k == next {
                        self.divisions.push(d.as_u64());
                    }
                    Some(k)
                }
                _ => None,
            }),
        }
    }

    fn finish(mut self, as_of: NaiveDate) -> Result<Snapshot, SnapshotError> {
        let values: ArrayRef = Arc::new(UInt64Array::from(std::mem::take(&mut self.divisions)));
        let mut fields = vec![Field::new(PERSON_ID, DataType::Int64, false)];
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.ids.finish())];
        for (f, col) in FACTS.iter().zip(self.cols) {
            let array: ArrayRef = match col {
                Col::Int(mut b) => Arc::new(b.finish()),
                Col::Bool(mut b) => Arc::new(b.finish()),
                Col::Text(mut b) => Arc::new(b.finish()),
                Col::Set(mut b) => Arc::new(b.finish()),
                Col::Division(keys) => Arc::new(DictionaryArray::<Int32Type>::try_new(
                    Int32Array::from(keys),
                    values.clone(),
                )?),
            };
            fields.push(Field::new(f.name, array.data_type().clone(), true));
            arrays.push(array);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
        Ok(Snapshot { as_of, batch })
    }
}

/// A division column's codes, for callers that place persons (work lists, statistics).
pub fn division_at(col: &ArrayRef, row: usize) -> Option<DivisionCode> {
    use arrow_array::Array;
    let dict = col.as_any().downcast_ref::<DictionaryArray<Int32Type>>()?;
    if dict.is_null(row) {
        return None;
    }
    let key = usize::try_from(dict.keys().value(row)).ok()?;
    let values = dict.values().as_any().downcast_ref::<UInt64Array>()?;
    DivisionCode::from_u64(values.value(key))
}

/// Booleans with nulls read as false: how a rule treats a missing fact.
pub fn truth(b: &BooleanArray) -> BooleanArray {
    use arrow_array::Array;
    match b.nulls() {
        None => b.clone(),
        Some(n) => {
            let values = b.values() & n.inner();
            BooleanArray::new(values, None)
        }
    }
}
