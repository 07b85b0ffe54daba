//! Which list versions apply on a date, their items compiled, and every item evaluated for every
//! person (batch, over the snapshot) or for one person (interpreter, with a trace).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, BooleanArray};
use arrow_buffer::BooleanBuffer;
use chrono::NaiveDate;
use yanglao_domain::{Catalogue, DivisionCode, Fen};
use yanglao_lists::content;
use yanglao_lists::model::Status as ListStatus;
use yanglao_lists::model::{Basis, Item, ListVersion, Period};
use yanglao_lists::service::status_code;
use yanglao_rules::eval::{eval, Env, EvalError, Step, Value};
use yanglao_rules::{parse, Expr};
use yanglao_store::lists::VersionRow;
use yanglao_store::{Db, StoreError};

use crate::params::ParamBook;
use crate::person::PersonFacts;
use crate::snapshot::{truth, Snapshot};
use crate::vector::{Context, VectorError};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
    #[error("清单版本 {id}（{title}）无法读取：{message}")]
    Version { id: i64, title: String, message: String },
    #[error("清单版本 {version_id} 第{seq}项“{item}”的规则：{message}")]
    Rule {
        version_id: i64,
        seq: u32,
        item: String,
        message: String,
    },
    #[error("批量计算：{0}")]
    Vector(#[from] VectorError),
    #[error("单人计算：{0}")]
    Eval(#[from] EvalError),
}

/// A list version as applied: its stored row and its parsed content.
#[derive(Debug, Clone)]
pub struct AppliedVersion {
    pub row: VersionRow,
    pub list: ListVersion,
}

/// For each (jurisdiction, level), the published (or since superseded) version with the latest
/// effective date on or before `as_of`: a superseded version still governs the dates before its
/// successor took effect.
pub fn versions_in_force(db: &Db, as_of: NaiveDate) -> Result<Vec<AppliedVersion>, EngineError> {
    let published = [status_code(ListStatus::Published), status_code(ListStatus::Superseded)];
    let mut rows: Vec<VersionRow> = yanglao_store::lists::versions(db)?
        .into_iter()
        .filter(|v| published.contains(&v.status.as_str()) && v.effective_from <= as_of)
        .collect();
    rows.sort_by(|a, b| {
        (&a.jurisdiction, &a.level, b.effective_from, b.id).cmp(&(&b.jurisdiction, &b.level, a.effective_from, a.id))
    });
    rows.dedup_by(|later, first| later.jurisdiction == first.jurisdiction && later.level == first.level);
    rows.into_iter().map(parse_version).collect()
}

pub fn parse_version(row: VersionRow) -> Result<AppliedVersion, EngineError> {
    let list = content::load(&row.content).map_err(|errs| EngineError::Version {
        id: row.id,
        title: row.title.clone(),
        message: errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("；"),
    })?;
    Ok(AppliedVersion { row, list })
}

/// One item of a version, with its rules parsed.
#[derive(Debug, Clone)]
pub struct CompiledItem {
    pub version: Arc<AppliedVersion>,
    pub index: usize,
    pub eligibility: Option<Expr>,
    pub amount: Option<Expr>,
}

impl CompiledItem {
    pub fn item(&self) -> &Item {
        &self.version.list.items[self.index]
    }
    pub fn code(&self) -> &str {
        &self.item().code
    }
    pub fn jurisdiction(&self) -> DivisionCode {
        self.version.list.jurisdiction
    }
    /// The snapshot column that places the person for this item.
    pub fn basis_fact(&self) -> &'static str {
        match self.item().basis {
            Basis::Hukou => "户籍",
            Basis::Residence => "常住地",
        }
    }
    pub fn period(&self) -> Option<Period> {
        self.item().period
    }
}

pub fn compile(versions: &[AppliedVersion]) -> Result<Vec<CompiledItem>, EngineError> {
    let mut out = Vec::new();
    for v in versions {
        let v = Arc::new(v.clone());
        for (index, item) in v.list.items.iter().enumerate() {
            let rule = |src: &Option<String>| -> Result<Option<Expr>, EngineError> {
                src.as_deref()
                    .map(|s| {
                        parse(s).map_err(|e| EngineError::Rule {
                            version_id: v.row.id,
                            seq: item.seq,
                            item: item.name.clone(),
                            message: e.to_string(),
                        })
                    })
                    .transpose()
            };
            out.push(CompiledItem {
                version: v.clone(),
                index,
                eligibility: rule(&item.eligibility)?,
                amount: rule(&item.amount)?,
            });
        }
    }
    Ok(out)
}

/// The outcome of one item for one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Not alive, or not placed in the list's jurisdiction (by 户籍 or 常住地, as the item says).
    OutOfScope,
    NotEntitled,
    Entitled,
    /// A parameter the rule needs has no value for the person's division.
    Undetermined,
    /// The item has no rule a machine can apply (临时救助 on an event): a case worker decides.
    Manual,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::OutOfScope => "不在范围",
            Status::NotEntitled => "不符合",
            Status::Entitled => "应享",
            Status::Undetermined => "无法判定（参数未设置）",
            Status::Manual => "需人工认定",
        }
    }
}

/// Every person's outcome for one item, as bitmaps over the snapshot's rows.
#[derive(Debug, Clone)]
pub struct ItemColumn {
    /// Alive and placed in the jurisdiction.
    pub scope: BooleanBuffer,
    pub entitled: BooleanBuffer,
    pub undetermined: BooleanBuffer,
    /// No machine rule: everyone in scope is 需人工认定.
    manual: bool,
    /// The amount rule's values (one value for everybody when `amount_scalar`).
    amounts: Option<arrow_array::Int64Array>,
    amount_scalar: bool,
}

impl ItemColumn {
    /// Nobody in scope.
    pub fn out_of_scope(n: usize) -> ItemColumn {
        ItemColumn {
            scope: BooleanBuffer::new_unset(n),
            entitled: BooleanBuffer::new_unset(n),
            undetermined: BooleanBuffer::new_unset(n),
            manual: false,
            amounts: None,
            amount_scalar: false,
        }
    }

    pub fn status(&self, row: usize) -> Status {
        if row >= self.scope.len() || !self.scope.value(row) {
            Status::OutOfScope
        } else if self.manual {
            Status::Manual
        } else if self.undetermined.value(row) {
            Status::Undetermined
        } else if self.entitled.value(row) {
            Status::Entitled
        } else {
            Status::NotEntitled
        }
    }

    /// Amount in fen where entitled and the item has an amount.
    pub fn amount(&self, row: usize) -> Option<i64> {
        if row >= self.entitled.len() || !self.entitled.value(row) {
            return None;
        }
        let a = self.amounts.as_ref()?;
        let j = if self.amount_scalar { 0 } else { row };
        (j < a.len() && !a.is_null(j)).then(|| a.value(j))
    }
}

/// Evaluates `item` for everyone in the snapshot.
pub fn evaluate_batch(
    snapshot: &Snapshot,
    catalogue: &Catalogue,
    params: &ParamBook,
    item: &CompiledItem,
) -> Result<ItemColumn, EngineError> {
    let ctx = Context {
        snapshot,
        catalogue,
        params,
        basis: item.basis_fact(),
        as_of: snapshot.as_of,
    };
    let scope = in_scope(&ctx, item)?;
    evaluate_in_scope(snapshot, catalogue, params, item, &scope)
}

/// Alive and placed in the item's jurisdiction (by its basis) on the snapshot's date: the same
/// for every item of a version, so callers compute it once per version and basis.
pub fn scope_of(
    snapshot: &Snapshot,
    catalogue: &Catalogue,
    params: &ParamBook,
    item: &CompiledItem,
) -> Result<BooleanArray, EngineError> {
    let ctx = Context {
        snapshot,
        catalogue,
        params,
        basis: item.basis_fact(),
        as_of: snapshot.as_of,
    };
    in_scope(&ctx, item)
}

/// [`evaluate_batch`] with the scope given. Rules are evaluated for the whole column (Arrow
/// kernels), outcomes assembled only for the rows in scope: a prefecture's list costs nothing
/// for the rest of the province.
pub fn evaluate_in_scope(
    snapshot: &Snapshot,
    catalogue: &Catalogue,
    params: &ParamBook,
    item: &CompiledItem,
    scope: &BooleanArray,
) -> Result<ItemColumn, EngineError> {
    let n = snapshot.len();
    let mut out = ItemColumn::out_of_scope(n);
    if scope.true_count() == 0 {
        return Ok(out);
    }
    let s_bits = scope.values().clone();
    let Some(rule) = &item.eligibility else {
        out.scope = s_bits;
        out.manual = true;
        return Ok(out);
    };
    let ctx = Context {
        snapshot,
        catalogue,
        params,
        basis: item.basis_fact(),
        as_of: snapshot.as_of,
    };
    let elig = ctx.eval(rule)?;
    let holds = {
        let a = elig.col.array.clone();
        let b = a.as_boolean_opt().ok_or(VectorError::Unchecked("资格规则应为是/否"))?;
        let t = truth(b);
        if elig.col.scalar {
            if t.value(0) {
                BooleanBuffer::new_set(n)
            } else {
                BooleanBuffer::new_unset(n)
            }
        } else {
            t.values().clone()
        }
    };
    let amount = item.amount.as_ref().map(|a| ctx.eval(a)).transpose()?;
    let bits = |m: &Option<BooleanArray>| match m {
        Some(m) => truth(m).values().clone(),
        None => BooleanBuffer::new_unset(n),
    };
    let m1 = bits(&elig.missing_param);
    let m2 = bits(&amount.as_ref().and_then(|a| a.missing_param.clone()));
    // The interpreter's order: a missing parameter in the eligibility rule is undetermined;
    // then not holding is 不符合; then a missing parameter in the amount is undetermined.
    out.undetermined = &s_bits & &(&m1 | &(&holds & &m2));
    out.entitled = &(&s_bits & &holds) & &!&(&m1 | &m2);
    out.scope = s_bits;
    if let Some(a) = amount {
        out.amount_scalar = a.col.scalar;
        out.amounts = a.col.array.as_primitive_opt::<Int64Type>().cloned();
    }
    Ok(out)
}

/// The scope of `item`, computed once per (version, basis) in `cache`.
pub fn cached_scope<'c>(
    cache: &'c mut std::collections::HashMap<(i64, &'static str), BooleanArray>,
    snapshot: &Snapshot,
    catalogue: &Catalogue,
    params: &ParamBook,
    item: &CompiledItem,
) -> Result<&'c BooleanArray, EngineError> {
    use std::collections::hash_map::Entry;
    Ok(match cache.entry((item.version.row.id, item.basis_fact())) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => e.insert(scope_of(snapshot, catalogue, params, item)?),
    })
}

/// Alive and placed in the jurisdiction on the date.
fn in_scope(ctx: &Context<'_>, item: &CompiledItem) -> Result<BooleanArray, EngineError> {
    placed_in(ctx, item.jurisdiction())
}

/// Alive on the snapshot's date and placed in `jurisdiction` by `basis` (户籍 or 常住地): whom
/// a list of that jurisdiction reaches. The dominance check asks it for a lower jurisdiction
/// with an upper item's basis.
pub fn placed(
    snapshot: &Snapshot,
    catalogue: &Catalogue,
    params: &ParamBook,
    basis: &'static str,
    jurisdiction: DivisionCode,
) -> Result<BooleanArray, EngineError> {
    let ctx = Context {
        snapshot,
        catalogue,
        params,
        basis,
        as_of: snapshot.as_of,
    };
    placed_in(&ctx, jurisdiction)
}

fn placed_in(ctx: &Context<'_>, jurisdiction: DivisionCode) -> Result<BooleanArray, EngineError> {
    let alive = ctx
        .snapshot
        .column("在世")
        .and_then(|c| c.as_boolean_opt().cloned())
        .ok_or_else(|| VectorError::UnknownFact("在世".into()))?;
    if yanglao_lists::model::is_nation(jurisdiction) {
        // A national list reaches everyone whose 户籍 (or 常住地) is known.
        let basis = ctx
            .snapshot
            .column(ctx.basis)
            .ok_or_else(|| VectorError::UnknownFact(ctx.basis.into()))?;
        let known = arrow_arith::boolean::is_not_null(basis.as_ref()).map_err(VectorError::from)?;
        return Ok(arrow_arith::boolean::and(&truth(&alive), &known).map_err(VectorError::from)?);
    }
    let within = ctx.eval(&Expr {
        kind: yanglao_rules::ExprKind::Within(
            Box::new(fact_expr(ctx.basis)),
            Box::new(Expr {
                kind: yanglao_rules::ExprKind::Division(jurisdiction),
                span: Default::default(),
            }),
        ),
        span: Default::default(),
    })?;
    let w = within
        .col
        .array
        .as_boolean_opt()
        .cloned()
        .ok_or(VectorError::Unchecked("属于"))?;
    Ok(arrow_arith::boolean::and(&truth(&alive), &truth(&w)).map_err(VectorError::from)?)
}

fn fact_expr(name: &str) -> Expr {
    Expr {
        kind: yanglao_rules::ExprKind::Fact(name.to_string()),
        span: Default::default(),
    }
}

/// What the interpreter reads for one person.
pub struct PersonEnv<'a> {
    pub person: &'a PersonFacts,
    pub catalogue: &'a Catalogue,
    pub params: &'a ParamBook,
    pub basis: Option<DivisionCode>,
    pub as_of: NaiveDate,
}

impl Env for PersonEnv<'_> {
    fn fact(&self, name: &str) -> Value {
        self.person.value(name, self.as_of)
    }
    fn param(&self, name: &str, key: Option<i64>) -> Option<Value> {
        let entry = self.params.resolve(self.catalogue, name, self.basis?, self.as_of)?;
        entry.value.get(key)
    }
    fn within(&self, code: DivisionCode, ancestor: DivisionCode) -> bool {
        self.catalogue.is_within_on(code, ancestor, self.as_of)
    }
}

/// One item for one person, with the interpreter's traces of both rules.
#[derive(Debug, Clone)]
pub struct OneOutcome {
    pub status: Status,
    pub amount: Option<Fen>,
    pub basis_division: Option<DivisionCode>,
    pub eligibility_trace: Vec<Step>,
    pub amount_trace: Vec<Step>,
    /// The parameter that had no value, when undetermined.
    pub missing_param: Option<String>,
}

pub fn evaluate_one(
    person: &PersonFacts,
    catalogue: &Catalogue,
    params: &ParamBook,
    item: &CompiledItem,
    as_of: NaiveDate,
) -> Result<OneOutcome, EngineError> {
    let basis_division = match item.item().basis {
        Basis::Hukou => person.division(yanglao_domain::FactKind::Hukou),
        Basis::Residence => person.residence(),
    };
    let mut out = OneOutcome {
        status: Status::Manual,
        amount: None,
        basis_division,
        eligibility_trace: Vec::new(),
        amount_trace: Vec::new(),
        missing_param: None,
    };
    let placed = basis_division.is_some_and(|d| {
        yanglao_lists::model::is_nation(item.jurisdiction()) || catalogue.is_within_on(d, item.jurisdiction(), as_of)
    });
    let Some(rule) = &item.eligibility else {
        if !person.alive() || !placed {
            out.status = Status::OutOfScope;
        }
        return Ok(out);
    };
    let env = PersonEnv {
        person,
        catalogue,
        params,
        basis: basis_division,
        as_of,
    };
    // The rule is still traced for people out of scope, so the explanation can show it.
    let elig = eval(rule, &env, &mut out.eligibility_trace);
    if !person.alive() || !placed {
        out.status = Status::OutOfScope;
        return Ok(out);
    }
    match elig {
        Err(EvalError::MissingParam(p)) => {
            out.status = Status::Undetermined;
            out.missing_param = Some(p);
            return Ok(out);
        }
        Err(e) => return Err(e.into()),
        Ok(Value::Bool(true)) => {}
        Ok(_) => {
            out.status = Status::NotEntitled;
            return Ok(out);
        }
    }
    out.status = Status::Entitled;
    if let Some(a) = &item.amount {
        match eval(a, &env, &mut out.amount_trace) {
            Ok(Value::Money(f)) => out.amount = Some(f),
            Ok(_) => {}
            Err(EvalError::MissingParam(p)) => {
                out.status = Status::Undetermined;
                out.missing_param = Some(p);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
