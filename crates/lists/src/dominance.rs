//! A lower-level list may add items, raise standards and widen eligibility, never drop or lower
//! them (000 §二(一)2: "清单应当包含但不限于国家和自治区基本养老服务清单中的服务项目，且覆盖范围和标准
//! 不低于国家和自治区相关要求"). This is the structural check: every upper item is present (by its
//! stable code) and no parameter value of the upper list is set lower (on the same period). Whether
//! any person would get less is the simulation over the registry, in
//! `yanglao_entitlements::dominance`, which also gates publication.

use serde::Serialize;
use yanglao_domain::Fen;

use crate::model::ListVersion;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Finding {
    /// An item of the upper list is missing from the lower one.
    Missing { code: String, name: String },
    /// The lower list has the item but no eligibility rule where the upper one has one.
    RuleDropped { code: String, name: String },
    /// A parameter the upper list fixes is lower in the lower list.
    Lower {
        param: String,
        upper: String,
        lower: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Missing { name, .. } => write!(f, "缺少上级清单的服务项目“{name}”"),
            Finding::RuleDropped { name, .. } => write!(f, "服务项目“{name}”没有上级清单已有的资格规则"),
            Finding::Lower { param, upper, lower } => write!(f, "参数【{param}】为 {lower}，低于上级的 {upper}"),
        }
    }
}

pub fn structural(upper: &ListVersion, lower: &ListVersion) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in &upper.items {
        match lower.items.iter().find(|l| l.code == u.code) {
            None => out.push(Finding::Missing {
                code: u.code.clone(),
                name: u.name.clone(),
            }),
            Some(l) if u.eligibility.is_some() && l.eligibility.is_none() => out.push(Finding::RuleDropped {
                code: u.code.clone(),
                name: u.name.clone(),
            }),
            Some(_) => {}
        }
    }
    for up in upper.params.iter().filter(|p| !p.local && p.ty == "money") {
        let Some(lp) = lower.params.iter().find(|p| p.name == up.name) else {
            continue;
        };
        // A value is comparable only per the same period: 1,300元 a year is not "lower" than
        // 100元 a month. Where an item reading the parameter changed its period, the simulation
        // compares yearly amounts person by person.
        let mark = format!("【{}】", up.name);
        let period_changed = upper.items.iter().any(|u| {
            u.amount.as_deref().is_some_and(|a| a.contains(&mark))
                && lower
                    .items
                    .iter()
                    .find(|l| l.code == u.code)
                    .is_some_and(|l| l.period != u.period)
        });
        if period_changed {
            continue;
        }
        let (Some(uv), Some(lv)) = (up.value.as_deref(), lp.value.as_deref()) else {
            continue;
        };
        if let (Ok(u), Ok(l)) = (Fen::parse_yuan(uv), Fen::parse_yuan(lv)) {
            if l < u {
                out.push(Finding::Lower {
                    param: up.name.clone(),
                    upper: uv.to_string(),
                    lower: lv.to_string(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{load, BUILTIN};

    fn county_from_im(edit: impl Fn(String) -> String) -> ListVersion {
        let text = BUILTIN[0]
            .1
            .replace("jurisdiction = \"150000\"", "jurisdiction = \"150102\"")
            .replace("level = \"省级\"", "level = \"县级\"");
        load(&edit(text)).expect("county list")
    }

    #[test]
    fn a_copy_of_the_upper_list_dominates() {
        let im = load(BUILTIN[0].1).expect("IM");
        assert!(structural(&im, &county_from_im(|t| t)).is_empty());
        // Raising a standard is allowed.
        assert!(structural(
            &im,
            &county_from_im(|t| t.replace("value = \"100元\"", "value = \"120元\""))
        )
        .is_empty());
    }

    #[test]
    fn a_county_list_that_drops_or_lowers_is_named() {
        let im = load(BUILTIN[0].1).expect("IM");
        let lowered = county_from_im(|t| t.replace("value = \"100元\"", "value = \"80元\""));
        let f = structural(&im, &lowered);
        assert_eq!(
            f,
            vec![Finding::Lower {
                param: "高龄津贴".into(),
                upper: "100元".into(),
                lower: "80元".into()
            }]
        );
        assert_eq!(f[0].to_string(), "参数【高龄津贴】为 80元，低于上级的 100元");
        // Dropping item 19 (意外伤害保险): cut its block out of the file.
        let dropped = county_from_im(|t| {
            let start = t.find("[[item]]\ncode = \"yiwai-shanghai-baoxian\"").expect("item 19");
            t[..start].to_string()
        });
        let f = structural(&im, &dropped);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].to_string(), "缺少上级清单的服务项目“老年人意外伤害保险”");
    }

    #[test]
    fn a_value_paid_over_another_period_is_left_to_the_simulation() {
        // Item 19 "保险费为15元/人/年": 2元 a month (24元 a year) is not lower than 15元 a year.
        let im = load(BUILTIN[0].1).expect("IM");
        let monthly = county_from_im(|t| {
            t.replace(
                "amount = \"【老年人意外伤害保险保费】\"\nperiod = \"年\"",
                "amount = \"【老年人意外伤害保险保费】\"\nperiod = \"月\"",
            )
            .replace("value = \"15元\"", "value = \"2元\"")
        });
        assert_eq!(
            monthly
                .items
                .iter()
                .find(|i| i.code == "yiwai-shanghai-baoxian")
                .and_then(|i| i.period),
            Some(crate::model::Period::Month)
        );
        assert!(structural(&im, &monthly).is_empty());
        // The same value on the same period is lower.
        let lowered = county_from_im(|t| t.replace("value = \"15元\"", "value = \"2元\""));
        assert_eq!(structural(&im, &lowered).len(), 1);
    }
}
