//! Loading and checking list versions: every rule parses and type-checks against the facts and
//! the version's declared parameters; every error names the item, the field and the position.

use yanglao_domain::Fen;
use yanglao_rules::vocab::Params;
use yanglao_rules::{check, parse, Type};

use crate::model::ListVersion;

/// The lists that ship with yanglao: (file name, TOML).
pub const BUILTIN: [(&str, &str); 2] = [
    ("neimenggu-2023.toml", include_str!("../content/neimenggu-2023.toml")),
    ("hotan-2024.toml", include_str!("../content/hotan-2024.toml")),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("清单文件格式错误：{0}")]
    Format(String),
    /// The TOML itself does not parse or does not fit the model, at a place in the file.
    #[error("清单文件第{line}行第{column}列：{message}")]
    Toml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("第{seq}项“{item}”的{field}：{message}")]
    Rule {
        seq: u32,
        item: String,
        field: &'static str,
        /// The rule error as shown (place and what was expected).
        message: String,
        /// Line and column within the rule, and what was expected there.
        line: usize,
        column: usize,
        expected: String,
    },
    #[error("参数【{name}】：{message}")]
    Param { name: String, message: String },
    #[error("第{seq}项“{item}”：{message}")]
    Item { seq: u32, item: String, message: String },
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, byte: usize) -> (usize, usize) {
    let before = text.get(..byte).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A list error as data, for the JSON API: which item and field, where, what was expected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorReport {
    pub seq: Option<u32>,
    pub item: Option<String>,
    pub field: Option<String>,
    /// Line and column: within the rule for a rule error, within the file for a TOML error.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub expected: Option<String>,
    pub message: String,
}

impl ListError {
    pub fn report(&self) -> ErrorReport {
        let mut r = ErrorReport {
            seq: None,
            item: None,
            field: None,
            line: None,
            column: None,
            expected: None,
            message: self.to_string(),
        };
        match self {
            ListError::Rule {
                seq,
                item,
                field,
                line,
                column,
                expected,
                ..
            } => {
                r.seq = Some(*seq);
                r.item = Some(item.clone());
                r.field = Some(field.to_string());
                r.line = Some(*line);
                r.column = Some(*column);
                r.expected = Some(expected.clone());
            }
            ListError::Toml { line, column, message } => {
                r.line = Some(*line);
                r.column = Some(*column);
                r.expected = Some(message.clone());
            }
            ListError::Item { seq, item, message } => {
                r.seq = Some(*seq);
                r.item = Some(item.clone());
                r.expected = Some(message.clone());
            }
            ListError::Param { name, message } => {
                r.field = Some(format!("参数【{name}】"));
                r.expected = Some(message.clone());
            }
            ListError::Format(_) => {}
        }
        r
    }
}

pub fn param_type(ty: &str) -> Option<Type> {
    match ty {
        "money" => Some(Type::Money),
        "int" => Some(Type::Int),
        "money_by_level" => Some(Type::MoneyByInt),
        _ => None,
    }
}

/// Parses a version and checks it whole; returns every error found, not just the first.
pub fn load(toml_text: &str) -> Result<ListVersion, Vec<ListError>> {
    let v: ListVersion = toml::from_str(toml_text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_column(toml_text, s.start));
        vec![ListError::Toml {
            line,
            column,
            message: e.message().to_string(),
        }]
    })?;
    let errors = check_version(&v);
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(errors)
    }
}

pub fn declared_params(v: &ListVersion) -> Params {
    let mut p = Params::default();
    for d in &v.params {
        if let Some(t) = param_type(&d.ty) {
            p = p.with(&d.name, t);
        }
    }
    p
}

/// Loads a national list (level 国家, jurisdiction [`crate::model::NATION`]). Its rows are not
/// shipped: `../shared/standards/README.md` §3 could not confirm them. A file is accepted only
/// with the document it transcribes named in full (title, 文号 and date), so that rows enter
/// yanglao only from a confirmed text; it is then saved, reviewed and published like any list.
pub fn load_national(toml_text: &str) -> Result<ListVersion, Vec<ListError>> {
    let v = load(toml_text)?;
    let mut errors = Vec::new();
    let fmt = |m: &str| ListError::Format(m.to_string());
    if !v.is_national() {
        errors.push(fmt("国家清单的层级应为“国家”"));
    }
    if v.source.doc_no.as_deref().is_none_or(|n| n.trim().is_empty()) {
        errors.push(fmt(
            "国家清单须注明所据文件的文号（source.doc_no），条目须逐条据正式文本录入",
        ));
    }
    if v.source.date.is_none() {
        errors.push(fmt("国家清单须注明所据文件的日期（source.date）"));
    }
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(errors)
    }
}

pub fn check_version(v: &ListVersion) -> Vec<ListError> {
    let mut errors = Vec::new();
    let national_code = crate::model::is_nation(v.jurisdiction);
    if v.is_national() && !national_code {
        errors.push(ListError::Format(format!(
            "国家清单的辖区代码应为 {}（全国）",
            crate::model::NATION
        )));
    }
    if national_code && !v.is_national() {
        errors.push(ListError::Format(format!(
            "辖区代码 {} 表示全国，只用于层级为“国家”的清单",
            crate::model::NATION
        )));
    }
    for d in &v.params {
        let perr = |m: &str| ListError::Param {
            name: d.name.clone(),
            message: m.to_string(),
        };
        match (param_type(&d.ty), &d.value, d.local) {
            (None, _, _) => errors.push(perr("类型应为 money、int 或 money_by_level")),
            (Some(_), Some(_), true) => errors.push(perr("由地方设定的参数（local）不应写死取值")),
            (Some(_), None, false) => errors.push(perr("缺少取值；如由地方设定，请标记 local = true")),
            (Some(t), Some(val), false) => {
                let ok = match t {
                    Type::Money => Fen::parse_yuan(val).is_ok(),
                    Type::Int => val.trim().parse::<i64>().is_ok(),
                    Type::MoneyByInt => val.split(',').all(|kv| {
                        kv.split_once('=')
                            .is_some_and(|(k, m)| k.trim().parse::<i64>().is_ok() && Fen::parse_yuan(m).is_ok())
                    }),
                    _ => false,
                };
                if !ok {
                    errors.push(perr(&format!("取值“{val}”与类型 {} 不符", d.ty)));
                }
            }
            (Some(_), None, true) => {}
        }
    }
    let params = declared_params(v);
    let mut seen_codes = std::collections::HashSet::new();
    let mut seen_seq = std::collections::HashSet::new();
    for item in &v.items {
        let ierr = |m: String| ListError::Item {
            seq: item.seq,
            item: item.name.clone(),
            message: m,
        };
        if !seen_codes.insert(item.code.as_str()) {
            errors.push(ierr(format!("代码 {} 重复", item.code)));
        }
        if !seen_seq.insert(item.seq) {
            errors.push(ierr("序号重复".into()));
        }
        if item.amount.is_some() && item.period.is_none() {
            errors.push(ierr("有金额规则时须写明周期（月、年、一次）".into()));
        }
        if item.amount.is_some() && item.eligibility.is_none() {
            errors.push(ierr("有金额规则时须有资格规则".into()));
        }
        for (field, src, want) in [
            ("资格规则", &item.eligibility, Type::Bool),
            ("金额规则", &item.amount, Type::Money),
        ] {
            let Some(src) = src else { continue };
            let result = parse(src).and_then(|e| check(src, &e, &params, want));
            if let Err(e) = result {
                errors.push(ListError::Rule {
                    seq: item.seq,
                    item: item.name.clone(),
                    field,
                    message: e.to_string(),
                    line: e.line,
                    column: e.column,
                    expected: e.message.clone(),
                });
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests;
