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
    #[error("第{seq}项“{item}”的{field}：{message}")]
    Rule {
        seq: u32,
        item: String,
        field: &'static str,
        message: String,
    },
    #[error("参数【{name}】：{message}")]
    Param { name: String, message: String },
    #[error("第{seq}项“{item}”：{message}")]
    Item { seq: u32, item: String, message: String },
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
    let v: ListVersion = toml::from_str(toml_text).map_err(|e| vec![ListError::Format(e.to_string())])?;
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

pub fn check_version(v: &ListVersion) -> Vec<ListError> {
    let mut errors = Vec::new();
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
                });
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests;
