//! Differences between two versions of a list, item by item (by stable code) and parameter by
//! parameter.

use serde::Serialize;

use crate::model::{Basis, Coverage, Item, ListVersion};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Change {
    Added {
        code: String,
        name: String,
    },
    Removed {
        code: String,
        name: String,
    },
    Changed {
        code: String,
        name: String,
        field: &'static str,
        before: String,
        after: String,
    },
    Param {
        name: String,
        before: String,
        after: String,
    },
}

fn fields(i: &Item) -> Vec<(&'static str, String)> {
    vec![
        ("序号", i.seq.to_string()),
        ("服务项目", i.name.clone()),
        ("服务对象", i.target.clone()),
        ("服务内容", i.content.clone()),
        ("服务标准", i.standard.clone().unwrap_or_default()),
        (
            "普惠/保障",
            match i.coverage {
                Some(Coverage::Universal) => "普惠",
                Some(Coverage::Targeted) => "保障",
                None => "",
            }
            .to_string(),
        ),
        ("服务类型", i.service_type.label().to_string()),
        ("支出责任", i.funding.clone().unwrap_or_default()),
        ("牵头部门", i.lead.clone().unwrap_or_default()),
        ("配合单位", i.partners.join("、")),
        (
            "认定依据",
            match i.basis {
                Basis::Hukou => "户籍",
                Basis::Residence => "常住",
            }
            .to_string(),
        ),
        ("资格规则", i.eligibility.clone().unwrap_or_default()),
        ("金额规则", i.amount.clone().unwrap_or_default()),
        ("周期", format!("{:?}", i.period)),
    ]
}

pub fn diff(a: &ListVersion, b: &ListVersion) -> Vec<Change> {
    let mut out = Vec::new();
    for old in &a.items {
        match b.items.iter().find(|n| n.code == old.code) {
            None => out.push(Change::Removed {
                code: old.code.clone(),
                name: old.name.clone(),
            }),
            Some(new) => {
                for ((field, x), (_, y)) in fields(old).into_iter().zip(fields(new)) {
                    if x != y {
                        out.push(Change::Changed {
                            code: old.code.clone(),
                            name: new.name.clone(),
                            field,
                            before: x,
                            after: y,
                        });
                    }
                }
            }
        }
    }
    for new in &b.items {
        if !a.items.iter().any(|o| o.code == new.code) {
            out.push(Change::Added {
                code: new.code.clone(),
                name: new.name.clone(),
            });
        }
    }
    let show = |v: &ListVersion, name: &str| {
        v.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| {
                if p.local {
                    "由地方设定".to_string()
                } else {
                    p.value.clone().unwrap_or_default()
                }
            })
            .unwrap_or_else(|| "（无）".to_string())
    };
    let mut names: Vec<&str> = a
        .params
        .iter()
        .chain(b.params.iter())
        .map(|p| p.name.as_str())
        .collect();
    names.sort();
    names.dedup();
    for n in names {
        let (x, y) = (show(a, n), show(b, n));
        if x != y {
            out.push(Change::Param {
                name: n.to_string(),
                before: x,
                after: y,
            });
        }
    }
    out
}
