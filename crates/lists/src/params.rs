//! Parameter values by division and date: what a text leaves to localities ("根据…确定",
//! "由各盟市…确定") is set by each jurisdiction from a date; the most specific division's value in
//! force on the date applies; every value ever set is kept.

use chrono::{DateTime, NaiveDate, Utc};
use yanglao_domain::{Catalogue, DivisionCode, Fen};
use yanglao_rules::eval::Value;
use yanglao_rules::Type;
use yanglao_store::lists::{self as store, ParamValueRow};
use yanglao_store::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("“{value}”不是参数【{name}】的有效取值（{what}）")]
    Invalid {
        name: String,
        value: String,
        what: &'static str,
    },
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
}

/// Parses a stored or typed value: money "153元", an integer, or a table "0=0元,1=100元".
pub fn parse_value(name: &str, ty: Type, raw: &str) -> Result<ParamValue, ParamError> {
    let invalid = |what| ParamError::Invalid {
        name: name.to_string(),
        value: raw.to_string(),
        what,
    };
    match ty {
        Type::Money => Fen::parse_yuan(raw)
            .map(ParamValue::Money)
            .map_err(|_| invalid("应为金额，如 153元")),
        Type::Int => raw.trim().parse().map(ParamValue::Int).map_err(|_| invalid("应为整数")),
        Type::MoneyByInt => {
            let mut rows = Vec::new();
            for kv in raw.split([',', '，']) {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| invalid("应为 等级=金额，以逗号分隔"))?;
                let k: i64 = k.trim().parse().map_err(|_| invalid("等级应为整数"))?;
                let v = Fen::parse_yuan(v).map_err(|_| invalid("金额无效"))?;
                rows.push((k, v));
            }
            Ok(ParamValue::Table(rows))
        }
        _ => Err(invalid("不支持的参数类型")),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Money(Fen),
    Int(i64),
    Table(Vec<(i64, Fen)>),
}

impl ParamValue {
    /// The rule-language value, looking up a table by `key`.
    pub fn get(&self, key: Option<i64>) -> Option<Value> {
        match (self, key) {
            (ParamValue::Money(f), None) => Some(Value::Money(*f)),
            (ParamValue::Int(n), None) => Some(Value::Int(*n)),
            (ParamValue::Table(rows), Some(k)) => rows.iter().find(|(l, _)| *l == k).map(|(_, f)| Value::Money(*f)),
            _ => None,
        }
    }
}

/// Sets `name` for `division` from `valid_from`; the value is checked against the type first.
#[allow(clippy::too_many_arguments)]
pub fn set(
    db: &Db,
    name: &str,
    ty: Type,
    division: DivisionCode,
    valid_from: NaiveDate,
    raw: &str,
    by: &str,
    now: DateTime<Utc>,
    note: &str,
) -> Result<i64, ParamError> {
    parse_value(name, ty, raw)?;
    Ok(store::insert_param_value(
        db,
        name,
        &division.short(),
        valid_from,
        raw.trim(),
        by,
        now,
        note,
    )?)
}

/// The value in force for a person placed at `division` on `date`: the most specific division
/// on the path up that has a value from a date not after `date`; among those, the latest start,
/// then the latest correction. `None` when no level has set it.
pub fn resolve(
    db: &Db,
    cat: &Catalogue,
    name: &str,
    division: DivisionCode,
    date: NaiveDate,
) -> Result<Option<ParamValueRow>, ParamError> {
    let mut path = Vec::new();
    let mut cur = Some(division);
    while let Some(c) = cur {
        path.push(c.short());
        cur = cat.parent_on(c, date);
    }
    let rows = store::param_values(db, name, &path)?;
    for level in &path {
        let best = rows
            .iter()
            .filter(|r| &r.division == level && r.valid_from <= date)
            .max_by_key(|r| (r.valid_from, r.set_at, r.id));
        if let Some(r) = best {
            return Ok(Some(r.clone()));
        }
    }
    Ok(None)
}
