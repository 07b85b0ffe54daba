//! A checked rule evaluated for every person at once, with Apache Arrow compute kernels over
//! the snapshot's columns. The semantics are those of `yanglao_rules::eval` (the one-person
//! interpreter the explanation uses), case by case:
//! - a missing fact is a null; every comparison, 属于 and 包含 with a null is false, and
//!   且 / 或 / 非 / 如果 read a null as false (so `非 X` holds when X is missing);
//! - arithmetic with a missing value is missing;
//! - a parameter without a value for the person's division (or a table without the key) is an
//!   error for that person, but only where the interpreter would have read it: both sides of
//!   且 / 或 / comparisons, only the taken branch of 如果.

use std::sync::Arc;

use arrow_arith::boolean::{and, not, or};
use arrow_arith::numeric;
use arrow_array::builder::BooleanBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Datum, Int64Array, Scalar, StringArray};
use arrow_ord::cmp;
use arrow_schema::ArrowError;
use arrow_select::take::take;
use arrow_select::zip::zip;
use chrono::NaiveDate;
use yanglao_domain::{Catalogue, DivisionCode};
use yanglao_lists::params::ParamValue;
use yanglao_rules::ast::{ArithOp, CmpOp, Expr, ExprKind};

use crate::params::ParamBook;
use crate::person::living_bit;
use crate::snapshot::{truth, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("事实“{0}”不在快照中")]
    UnknownFact(String),
    #[error("规则未经检查：{0}")]
    Unchecked(&'static str),
    #[error("金额计算溢出或列计算失败：{0}")]
    Arrow(#[from] ArrowError),
}

/// A column of values, or one value for everybody (a literal).
#[derive(Debug, Clone)]
pub struct Col {
    pub array: ArrayRef,
    pub scalar: bool,
}

impl Col {
    fn array(a: ArrayRef) -> Col {
        Col {
            array: a,
            scalar: false,
        }
    }
    fn scalar(a: ArrayRef) -> Col {
        Col { array: a, scalar: true }
    }
    fn datum(&self) -> Box<dyn Datum + '_> {
        if self.scalar {
            Box::new(Scalar::new(self.array.clone()))
        } else {
            Box::new(self.array.clone())
        }
    }
    /// The values as a full column of `n` rows.
    fn expand(&self, n: usize) -> Result<ArrayRef, ArrowError> {
        if !self.scalar {
            return Ok(self.array.clone());
        }
        let idx = arrow_array::UInt32Array::from(vec![0u32; n]);
        take(self.array.as_ref(), &idx, None)
    }
}

/// A value column and where evaluating it hit a missing parameter.
pub struct Evaluated {
    pub col: Col,
    pub missing_param: Option<BooleanArray>,
}

/// What a rule reads besides the snapshot: parameters, placed by the division column the item's
/// basis names, and the division hierarchy on the date.
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub catalogue: &'a Catalogue,
    pub params: &'a ParamBook,
    /// 户籍 or 常住地: the column that places a person for parameters.
    pub basis: &'a str,
    pub as_of: NaiveDate,
}

/// A decision made once per dictionary value, spread over the rows' keys (null keys: false).
/// All-true, all-false and single-value decisions avoid the per-row gather.
fn spread(on_values: &BooleanArray, keys: &arrow_array::Int32Array) -> Result<BooleanArray, VectorError> {
    let t = truth(on_values);
    let hits = t.true_count();
    if hits == 0 {
        return Ok(BooleanArray::new(
            arrow_buffer::BooleanBuffer::new_unset(keys.len()),
            None,
        ));
    }
    if hits == t.len() {
        return Ok(arrow_arith::boolean::is_not_null(keys)?);
    }
    if hits == 1 {
        let k = t
            .values()
            .set_indices()
            .next()
            .and_then(|k| i32::try_from(k).ok())
            .unwrap_or(-1);
        let out = cmp::eq(keys, &Scalar::new(arrow_array::Int32Array::from(vec![k])))?;
        return Ok(truth(&out));
    }
    let out = take(&t, keys, None)?;
    Ok(truth(out.as_boolean()))
}

/// A dictionary-encoded text column as plain text (for the rare operations on two columns).
fn plain_text(c: &Col) -> Result<Col, VectorError> {
    Ok(match c.array.as_dictionary_opt::<Int32Type>() {
        Some(d) if !matches!(d.values().data_type(), arrow_schema::DataType::UInt64) => Col {
            array: take(d.values().as_ref(), d.keys(), None)?,
            scalar: c.scalar,
        },
        _ => c.clone(),
    })
}

fn or_opt(a: Option<BooleanArray>, b: Option<BooleanArray>) -> Result<Option<BooleanArray>, ArrowError> {
    Ok(match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => Some(or(&x, &y)?),
    })
}

fn and_opt(mask: &BooleanArray, b: Option<BooleanArray>) -> Result<Option<BooleanArray>, ArrowError> {
    b.map(|b| and(mask, &b)).transpose()
}

impl Context<'_> {
    fn n(&self) -> usize {
        self.snapshot.len()
    }

    fn bools(&self, col: &Col) -> Result<BooleanArray, VectorError> {
        let a = col.expand(self.n())?;
        let b = a.as_boolean_opt().ok_or(VectorError::Unchecked("条件应为是/否"))?;
        Ok(truth(b))
    }

    fn bool_col(b: BooleanArray) -> Col {
        Col::array(Arc::new(b))
    }

    pub fn eval(&self, e: &Expr) -> Result<Evaluated, VectorError> {
        let plain = |col: Col| Evaluated {
            col,
            missing_param: None,
        };
        Ok(match &e.kind {
            ExprKind::Bool(b) => plain(Col::scalar(Arc::new(BooleanArray::from(vec![*b])))),
            ExprKind::Int(n) => plain(Col::scalar(Arc::new(Int64Array::from(vec![*n])))),
            ExprKind::Money(f) => plain(Col::scalar(Arc::new(Int64Array::from(vec![f.get()])))),
            ExprKind::Text(s) => plain(Col::scalar(Arc::new(StringArray::from(vec![s.as_str()])))),
            ExprKind::Division(d) => plain(Col::scalar(Arc::new(arrow_array::UInt64Array::from(vec![d.as_u64()])))),
            ExprKind::Fact(name) => plain(Col::array(
                self.snapshot
                    .column(name)
                    .cloned()
                    .ok_or_else(|| VectorError::UnknownFact(name.clone()))?,
            )),
            ExprKind::Param { name, key } => self.param(name, key.as_deref())?,
            ExprKind::Not(a) => {
                let x = self.eval(a)?;
                Evaluated {
                    col: Self::bool_col(not(&self.bools(&x.col)?)?),
                    missing_param: x.missing_param,
                }
            }
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                let (p, q) = (self.bools(&x.col)?, self.bools(&y.col)?);
                let r = if matches!(e.kind, ExprKind::And(..)) {
                    and(&p, &q)?
                } else {
                    or(&p, &q)?
                };
                Evaluated {
                    col: Self::bool_col(r),
                    missing_param: or_opt(x.missing_param, y.missing_param)?,
                }
            }
            ExprKind::Cmp(op, a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                let r = self.compare(*op, &x.col, &y.col)?;
                Evaluated {
                    col: Self::bool_col(r),
                    missing_param: or_opt(x.missing_param, y.missing_param)?,
                }
            }
            ExprKind::Arith(op, a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                let (l, r) = (x.col.datum(), y.col.datum());
                let out = match op {
                    ArithOp::Add => numeric::add(l.as_ref(), r.as_ref())?,
                    ArithOp::Sub => numeric::sub(l.as_ref(), r.as_ref())?,
                    ArithOp::Mul => numeric::mul(l.as_ref(), r.as_ref())?,
                };
                Evaluated {
                    col: Col {
                        array: out,
                        scalar: x.col.scalar && y.col.scalar,
                    },
                    missing_param: or_opt(x.missing_param, y.missing_param)?,
                }
            }
            ExprKind::Within(a, b) => {
                let ExprKind::Division(anc) = b.kind else {
                    return Err(VectorError::Unchecked("属于"));
                };
                let x = self.eval(a)?;
                Evaluated {
                    col: Self::bool_col(self.within(&x.col, anc)?),
                    missing_param: x.missing_param,
                }
            }
            ExprKind::Contains(a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                Evaluated {
                    col: Self::bool_col(self.contains(&x.col, &y.col)?),
                    missing_param: or_opt(x.missing_param, y.missing_param)?,
                }
            }
            ExprKind::If(c, t, f) => {
                let (c, t, f) = (self.eval(c)?, self.eval(t)?, self.eval(f)?);
                let mask = self.bools(&c.col)?;
                let col = if c.col.scalar && t.col.scalar && f.col.scalar {
                    let pick = mask.value(0);
                    if pick {
                        t.col.clone()
                    } else {
                        f.col.clone()
                    }
                } else {
                    let (tc, fc) = (plain_text(&t.col)?, plain_text(&f.col)?);
                    let (tv, fv) = (tc.datum(), fc.datum());
                    Col::array(zip(&mask, tv.as_ref(), fv.as_ref())?)
                };
                let taken_t = and_opt(&mask, t.missing_param)?;
                let taken_f = and_opt(&not(&mask)?, f.missing_param)?;
                Evaluated {
                    col,
                    missing_param: or_opt(or_opt(c.missing_param, taken_t)?, taken_f)?,
                }
            }
        })
    }

    fn compare(&self, op: CmpOp, x: &Col, y: &Col) -> Result<BooleanArray, VectorError> {
        // Text facts are dictionary-encoded (few distinct values): a comparison with a literal
        // is decided once per distinct value, then spread over the keys.
        if let (Some(dict), true) = (x.array.as_dictionary_opt::<Int32Type>(), y.scalar) {
            let on_values = self.compare_plain(op, &Col::array(dict.values().clone()), y)?;
            return spread(&on_values, dict.keys());
        }
        if let (Some(dict), true) = (y.array.as_dictionary_opt::<Int32Type>(), x.scalar) {
            let on_values = self.compare_plain(op, x, &Col::array(dict.values().clone()))?;
            return spread(&on_values, dict.keys());
        }
        let (x, y) = (plain_text(x)?, plain_text(y)?);
        self.compare_plain(op, &x, &y)
    }

    fn compare_plain(&self, op: CmpOp, x: &Col, y: &Col) -> Result<BooleanArray, VectorError> {
        use arrow_schema::DataType as D;
        let n = if x.scalar && y.scalar {
            self.n()
        } else if x.scalar {
            y.array.len()
        } else {
            x.array.len()
        };
        let comparable = |t: &D| matches!(t, D::Int64 | D::Utf8 | D::Boolean);
        if !comparable(x.array.data_type()) || x.array.data_type() != y.array.data_type() {
            // The interpreter compares only like values; anything else does not hold.
            return Ok(BooleanArray::from(vec![false; n]));
        }
        let (l, r) = (x.datum(), y.datum());
        let (l, r) = (l.as_ref(), r.as_ref());
        let out = match op {
            CmpOp::Eq => cmp::eq(l, r)?,
            CmpOp::Ne => cmp::neq(l, r)?,
            CmpOp::Lt => cmp::lt(l, r)?,
            CmpOp::Le => cmp::lt_eq(l, r)?,
            CmpOp::Gt => cmp::gt(l, r)?,
            CmpOp::Ge => cmp::gt_eq(l, r)?,
        };
        let out = if x.scalar && y.scalar {
            let idx = arrow_array::UInt32Array::from(vec![0u32; self.n()]);
            take(&out, &idx, None)?.as_boolean().clone()
        } else {
            out
        };
        Ok(truth(&out))
    }

    /// 属于: decided once per distinct division in the dictionary, on the evaluation date.
    fn within(&self, x: &Col, anc: DivisionCode) -> Result<BooleanArray, VectorError> {
        let Some(dict) = x.array.as_dictionary_opt::<Int32Type>() else {
            return Ok(BooleanArray::from(vec![false; self.n()]));
        };
        let values = dict.values().as_primitive::<UInt64Type>();
        let inside: BooleanArray = values
            .iter()
            .map(|v| {
                Some(
                    v.and_then(DivisionCode::from_u64)
                        .is_some_and(|c| self.catalogue.is_within_on(c, anc, self.as_of)),
                )
            })
            .collect();
        spread(&inside, dict.keys())
    }

    /// 包含: 居住状况 is a bit set; a literal member is one bit test over the column.
    fn contains(&self, x: &Col, y: &Col) -> Result<BooleanArray, VectorError> {
        let Some(bits) = x.array.as_primitive_opt::<UInt8Type>() else {
            return Ok(BooleanArray::from(vec![false; self.n()]));
        };
        if y.scalar {
            // A literal member: one bit test over the column.
            let member = y.array.as_string_opt::<i32>().filter(|m| !m.is_null(0));
            let Some(bit) = member.and_then(|m| living_bit(m.value(0))) else {
                return Ok(BooleanArray::from(vec![false; self.n()]));
            };
            let masked = arrow_arith::bitwise::bitwise_and_scalar(bits, bit)?;
            let out = cmp::neq(&masked, &Scalar::new(arrow_array::UInt8Array::from(vec![0u8])))?;
            return Ok(truth(&out));
        }
        let members = y.expand(self.n())?;
        let members = members
            .as_string_opt::<i32>()
            .ok_or(VectorError::Unchecked("包含 的右侧应为文字"))?;
        let mut out = BooleanBuilder::with_capacity(self.n());
        for i in 0..self.n() {
            let m = if members.is_null(i) {
                None
            } else {
                living_bit(members.value(i))
            };
            out.append_value(!bits.is_null(i) && m.is_some_and(|m| bits.value(i) & m != 0));
        }
        Ok(out.finish())
    }

    /// A table parameter looked up row by row (keys spread too widely for a laid-out table).
    fn table_by_rows(
        &self,
        per_division: &[Option<&ParamValue>],
        keys: &arrow_array::Int32Array,
        k: &Int64Array,
        key_col: Option<Evaluated>,
    ) -> Result<Evaluated, VectorError> {
        let n = self.n();
        let mut out = arrow_array::builder::Int64Builder::with_capacity(n);
        let mut missing = BooleanBuilder::with_capacity(n);
        for i in 0..n {
            let table = if keys.is_null(i) {
                None
            } else {
                usize::try_from(keys.value(i))
                    .ok()
                    .and_then(|d| per_division.get(d).copied().flatten())
            };
            let (v, miss) = if k.is_null(i) {
                (None, false)
            } else {
                match table {
                    Some(ParamValue::Table(rows)) => {
                        let found = rows.iter().find(|(l, _)| *l == k.value(i)).map(|(_, f)| f.get());
                        (found, found.is_none())
                    }
                    _ => (None, true),
                }
            };
            out.append_option(v);
            missing.append_value(miss);
        }
        Ok(Evaluated {
            col: Col::array(Arc::new(out.finish())),
            missing_param: or_opt(Some(missing.finish()), key_col.and_then(|k| k.missing_param))?,
        })
    }

    /// 【名称】 or 【名称】[键]: resolved once per distinct division of the basis column, then
    /// spread over the persons.
    fn param(&self, name: &str, key: Option<&Expr>) -> Result<Evaluated, VectorError> {
        let n = self.n();
        let basis = self
            .snapshot
            .column(self.basis)
            .ok_or_else(|| VectorError::UnknownFact(self.basis.to_string()))?;
        let dict = basis
            .as_dictionary_opt::<Int32Type>()
            .ok_or(VectorError::Unchecked("地区列应为字典编码"))?;
        let values = dict.values().as_primitive::<UInt64Type>();
        let per_division: Vec<Option<&ParamValue>> = values
            .iter()
            .map(|v| {
                v.and_then(DivisionCode::from_u64)
                    .and_then(|d| self.params.resolve(self.catalogue, name, d, self.as_of))
                    .map(|e| &e.value)
            })
            .collect();
        let keys = dict.keys();
        let key_col = key.map(|k| self.eval(k)).transpose()?;
        let key_values = match &key_col {
            Some(k) => Some(k.col.expand(n)?),
            None => None,
        };
        let key_ints = key_values.as_ref().and_then(|k| k.as_primitive_opt::<Int64Type>());
        let (out, missing) = match key_ints {
            None => {
                // One value per distinct division, spread with Arrow's `take` over the keys.
                let by_division: Int64Array = per_division
                    .iter()
                    .map(|v| match v {
                        Some(ParamValue::Money(f)) => Some(f.get()),
                        Some(ParamValue::Int(x)) => Some(*x),
                        _ => None,
                    })
                    .collect();
                let out = take(&by_division, keys, None)?;
                let out = out.as_primitive::<Int64Type>().clone();
                // No value (or no division): the interpreter's MissingParam.
                let missing = (out.null_count() > 0)
                    .then(|| arrow_arith::boolean::is_null(&out))
                    .transpose()?;
                (out, missing)
            }
            Some(k) => {
                // A table by key: the keys a column holds are few (levels 0–4, grades 1–4), so
                // the table is laid out per division × key and read with one `take`.
                let (lo, hi) = (arrow_arith::aggregate::min(k), arrow_arith::aggregate::max(k));
                let (lo, hi) = match (lo, hi) {
                    (Some(lo), Some(hi)) if hi.saturating_sub(lo) < 64 => (lo, hi),
                    // All keys missing: nothing to look up.
                    (None, _) | (_, None) => (0, 0),
                    // A key range too wide to lay out: row by row.
                    _ => return self.table_by_rows(&per_division, keys, k, key_col),
                };
                let width = usize::try_from(hi - lo + 1).unwrap_or(1);
                let flat: Int64Array = per_division
                    .iter()
                    .flat_map(|v| {
                        (lo..=hi).map(move |key| match v {
                            Some(ParamValue::Table(rows)) => rows.iter().find(|(l, _)| *l == key).map(|(_, f)| f.get()),
                            _ => None,
                        })
                    })
                    .collect();
                let mut idx = Vec::with_capacity(n);
                for i in 0..n {
                    let d = usize::try_from(keys.values()[i]).unwrap_or(0);
                    let key = usize::try_from(k.values()[i].saturating_sub(lo))
                        .unwrap_or(0)
                        .min(width - 1);
                    idx.push(u32::try_from(d * width + key).unwrap_or(0));
                }
                let nulls = arrow_buffer::NullBuffer::union(keys.nulls(), k.nulls());
                let idx = arrow_array::UInt32Array::new(idx.into(), nulls);
                let out = take(&flat, &idx, None)?;
                let out = out.as_primitive::<Int64Type>().clone();
                // A missing key is Missing, not an error; a key without a value is an error.
                let missing = if out.null_count() > k.null_count() {
                    let present = arrow_arith::boolean::is_not_null(k)?;
                    Some(and(&present, &arrow_arith::boolean::is_null(&out)?)?)
                } else {
                    None
                };
                (out, missing)
            }
        };
        let key_missing = key_col.and_then(|k| k.missing_param);
        Ok(Evaluated {
            col: Col::array(Arc::new(out)),
            missing_param: or_opt(missing, key_missing)?,
        })
    }
}
