//! Registry facts: what other departments say about an older person, dated and with provenance.
//! Values are stored as canonical text; `FactKind::canonical_value` is the one place that parses
//! and normalises what a department wrote.

use serde::{Deserialize, Serialize};

use crate::division::DivisionCode;

/// The department a fact comes from (数据来源部门).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Department {
    Gongan,
    Minzheng,
    Canlian,
    Weijian,
    Renshe,
    Yibao,
    Tuiyi,
    Community,
}

impl Department {
    pub const ALL: [Department; 8] = [
        Department::Gongan,
        Department::Minzheng,
        Department::Canlian,
        Department::Weijian,
        Department::Renshe,
        Department::Yibao,
        Department::Tuiyi,
        Department::Community,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Department::Gongan => "gongan",
            Department::Minzheng => "minzheng",
            Department::Canlian => "canlian",
            Department::Weijian => "weijian",
            Department::Renshe => "renshe",
            Department::Yibao => "yibao",
            Department::Tuiyi => "tuiyi",
            Department::Community => "community",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Department::Gongan => "公安部门",
            Department::Minzheng => "民政部门",
            Department::Canlian => "残联",
            Department::Weijian => "卫生健康部门",
            Department::Renshe => "人力资源社会保障部门",
            Department::Yibao => "医疗保障部门",
            Department::Tuiyi => "退役军人事务部门",
            Department::Community => "村（社区）",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Department::ALL.into_iter().find(|d| d.code() == code)
    }
}

/// What a fact is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FactKind {
    /// 户籍所在地 (12-digit village code, or a coarser code)
    Hukou,
    /// 常住地
    Residence,
    /// 城镇/农村
    UrbanRural,
    /// 死亡 (value: 死亡)
    Death,
    /// 最低生活保障对象
    Dibao,
    /// 特困人员 (value: 分散供养 / 集中供养)
    Tekun,
    /// 低收入人口
    LowIncome,
    /// 残疾 (value: 类别:等级, e.g. 肢体:2)
    Disability,
    /// 居住状况 (value: 独居 / 空巢 / 留守 joined by 、, or 与家人同住)
    Living,
    /// 计划生育特殊家庭 (value: 独生子女死亡 / 独生子女伤残)
    FamilyPlanningSpecial,
    /// 优抚对象类别
    Youfu,
    /// 有无法定赡养人 (value: 有 / 无)
    LegalSupporter,
    /// 养老保险 (value: 险种:状态)
    Pension,
    /// 医疗保险 (value: 险种:状态)
    Medical,
    /// 老年人能力等级 (value: 0–4, GB/T 42195-2022)
    CapabilityLevel,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactValueError {
    #[error("“{value}”不是有效的{what}（可选：{allowed}）")]
    NotAllowed {
        value: String,
        what: &'static str,
        allowed: String,
    },
    #[error("{what}为空")]
    Empty { what: &'static str },
    #[error("{0}")]
    Division(#[from] crate::division::DivisionCodeError),
}

pub const DISABILITY_CATEGORIES: [&str; 7] = ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"];
pub const PENSION_TYPES: [&str; 3] = ["城镇职工基本养老保险", "城乡居民基本养老保险", "机关事业单位养老保险"];
pub const PENSION_STATUSES: [&str; 4] = ["参保缴费", "待遇领取", "暂停", "终止"];
pub const MEDICAL_TYPES: [&str; 2] = ["职工基本医疗保险", "城乡居民基本医疗保险"];
pub const MEDICAL_STATUSES: [&str; 2] = ["参保", "停保"];
pub const YOUFU_CATEGORIES: [&str; 6] = [
    "残疾军人",
    "烈士遗属",
    "因公牺牲军人遗属",
    "病故军人遗属",
    "在乡复员军人",
    "带病回乡退伍军人",
];
pub const FAMILY_PLANNING: [&str; 2] = ["独生子女死亡", "独生子女伤残"];
pub const LIVING: [&str; 3] = ["独居", "空巢", "留守"];
pub const LIVING_WITH_FAMILY: &str = "与家人同住";
/// GB/T 42195-2022 level names (standards/README.md §1.4), index = level code.
pub const CAPABILITY_LEVELS: [&str; 5] = [
    "能力完好",
    "能力轻度受损（轻度失能）",
    "能力中度受损（中度失能）",
    "能力重度受损（重度失能）",
    "能力完全丧失（完全失能）",
];

impl FactKind {
    pub const ALL: [FactKind; 15] = [
        FactKind::Hukou,
        FactKind::Residence,
        FactKind::UrbanRural,
        FactKind::Death,
        FactKind::Dibao,
        FactKind::Tekun,
        FactKind::LowIncome,
        FactKind::Disability,
        FactKind::Living,
        FactKind::FamilyPlanningSpecial,
        FactKind::Youfu,
        FactKind::LegalSupporter,
        FactKind::Pension,
        FactKind::Medical,
        FactKind::CapabilityLevel,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FactKind::Hukou => "hukou",
            FactKind::Residence => "residence",
            FactKind::UrbanRural => "urban_rural",
            FactKind::Death => "death",
            FactKind::Dibao => "dibao",
            FactKind::Tekun => "tekun",
            FactKind::LowIncome => "low_income",
            FactKind::Disability => "disability",
            FactKind::Living => "living",
            FactKind::FamilyPlanningSpecial => "family_planning_special",
            FactKind::Youfu => "youfu",
            FactKind::LegalSupporter => "legal_supporter",
            FactKind::Pension => "pension",
            FactKind::Medical => "medical",
            FactKind::CapabilityLevel => "capability_level",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FactKind::Hukou => "户籍所在地",
            FactKind::Residence => "常住地",
            FactKind::UrbanRural => "城乡属性",
            FactKind::Death => "死亡",
            FactKind::Dibao => "最低生活保障",
            FactKind::Tekun => "特困人员",
            FactKind::LowIncome => "低收入人口",
            FactKind::Disability => "残疾",
            FactKind::Living => "居住状况",
            FactKind::FamilyPlanningSpecial => "计划生育特殊家庭",
            FactKind::Youfu => "优抚对象",
            FactKind::LegalSupporter => "法定赡养人",
            FactKind::Pension => "养老保险",
            FactKind::Medical => "医疗保险",
            FactKind::CapabilityLevel => "老年人能力等级",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        FactKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Checks and normalises a value as a department wrote it into the stored form.
    pub fn canonical_value(self, raw: &str) -> Result<String, FactValueError> {
        let v = raw.trim();
        let what = self.label();
        if v.is_empty() && !matches!(self, FactKind::Death | FactKind::Dibao | FactKind::LowIncome) {
            return Err(FactValueError::Empty { what });
        }
        let one_of = |allowed: &[&str], value: &str| -> Result<String, FactValueError> {
            if allowed.contains(&value) {
                Ok(value.to_string())
            } else {
                Err(FactValueError::NotAllowed {
                    value: value.to_string(),
                    what,
                    allowed: allowed.join("、"),
                })
            }
        };
        match self {
            FactKind::Hukou | FactKind::Residence => Ok(DivisionCode::parse(v)?.full()),
            FactKind::UrbanRural => one_of(&["城镇", "农村"], v),
            FactKind::Death => Ok("死亡".to_string()),
            FactKind::Dibao | FactKind::LowIncome => Ok("是".to_string()),
            FactKind::Tekun => one_of(&["分散供养", "集中供养"], v),
            FactKind::Disability => {
                let (cat, grade) = v.split_once(':').unwrap_or((v, ""));
                let cat = one_of(&DISABILITY_CATEGORIES, cat)?;
                let g = parse_grade(grade).ok_or_else(|| FactValueError::NotAllowed {
                    value: grade.to_string(),
                    what: "残疾等级",
                    allowed: "一级、二级、三级、四级（或1–4）".to_string(),
                })?;
                Ok(format!("{cat}:{g}"))
            }
            FactKind::Living => {
                if v == LIVING_WITH_FAMILY {
                    return Ok(v.to_string());
                }
                let mut parts: Vec<&str> = v
                    .split(['、', ',', '，', ';', '；', ' '])
                    .filter(|p| !p.is_empty())
                    .collect();
                for p in &parts {
                    one_of(&[LIVING[0], LIVING[1], LIVING[2], LIVING_WITH_FAMILY], p)?;
                }
                if parts.contains(&LIVING_WITH_FAMILY) {
                    return Err(FactValueError::NotAllowed {
                        value: v.to_string(),
                        what,
                        allowed: "“与家人同住”不能与独居、空巢、留守同时出现".to_string(),
                    });
                }
                parts.sort_by_key(|p| LIVING.iter().position(|x| x == p));
                parts.dedup();
                Ok(parts.join("、"))
            }
            FactKind::FamilyPlanningSpecial => one_of(&FAMILY_PLANNING, v),
            FactKind::Youfu => one_of(&YOUFU_CATEGORIES, v),
            FactKind::LegalSupporter => one_of(&["有", "无"], v),
            FactKind::Pension => {
                let (t, s) = v.split_once(':').unwrap_or((v, ""));
                Ok(format!(
                    "{}:{}",
                    one_of(&PENSION_TYPES, t)?,
                    one_of(&PENSION_STATUSES, s)?
                ))
            }
            FactKind::Medical => {
                let (t, s) = v.split_once(':').unwrap_or((v, ""));
                Ok(format!(
                    "{}:{}",
                    one_of(&MEDICAL_TYPES, t)?,
                    one_of(&MEDICAL_STATUSES, s)?
                ))
            }
            FactKind::CapabilityLevel => {
                let level = match v {
                    "0" | "1" | "2" | "3" | "4" => v.parse::<usize>().ok(),
                    _ => CAPABILITY_LEVELS.iter().position(|n| *n == v || n.starts_with(v)),
                };
                match level {
                    Some(l) => Ok(l.to_string()),
                    None => Err(FactValueError::NotAllowed {
                        value: v.to_string(),
                        what,
                        allowed: "0–4 或 能力完好、能力轻度受损、能力中度受损、能力重度受损、能力完全丧失".to_string(),
                    }),
                }
            }
        }
    }

    /// Stored value in words for pages and explanations.
    pub fn display_value(self, stored: &str) -> String {
        match self {
            FactKind::Disability => match stored.split_once(':') {
                Some((c, g)) => format!("{c}残疾{}级", grade_word(g)),
                None => stored.to_string(),
            },
            FactKind::Pension | FactKind::Medical => stored.replace(':', "，"),
            FactKind::CapabilityLevel => stored
                .parse::<usize>()
                .ok()
                .and_then(|l| CAPABILITY_LEVELS.get(l))
                .map(|s| s.to_string())
                .unwrap_or_else(|| stored.to_string()),
            _ => stored.to_string(),
        }
    }

    /// The departments whose data normally carry this fact.
    pub fn usual_department(self) -> Department {
        match self {
            FactKind::Hukou | FactKind::Residence | FactKind::UrbanRural | FactKind::Death => Department::Gongan,
            FactKind::Dibao | FactKind::Tekun | FactKind::LowIncome | FactKind::Living => Department::Minzheng,
            FactKind::Disability => Department::Canlian,
            FactKind::FamilyPlanningSpecial | FactKind::CapabilityLevel => Department::Weijian,
            FactKind::Youfu | FactKind::LegalSupporter => Department::Tuiyi,
            FactKind::Pension => Department::Renshe,
            FactKind::Medical => Department::Yibao,
        }
    }
}

fn parse_grade(s: &str) -> Option<u8> {
    match s.trim().trim_end_matches('级') {
        "1" | "一" => Some(1),
        "2" | "二" => Some(2),
        "3" | "三" => Some(3),
        "4" | "四" => Some(4),
        _ => None,
    }
}

fn grade_word(g: &str) -> &str {
    match g {
        "1" => "一",
        "2" => "二",
        "3" => "三",
        "4" => "四",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for k in FactKind::ALL {
            assert_eq!(FactKind::parse(k.code()), Some(k));
        }
        for d in Department::ALL {
            assert_eq!(Department::parse(d.code()), Some(d));
        }
    }

    #[test]
    fn values_are_normalised() {
        assert_eq!(FactKind::Disability.canonical_value("肢体:二级").expect("ok"), "肢体:2");
        assert_eq!(FactKind::Disability.display_value("肢体:2"), "肢体残疾二级");
        assert!(FactKind::Disability.canonical_value("肢体:5").is_err());
        assert_eq!(
            FactKind::Living.canonical_value("留守、独居").expect("ok"),
            "独居、留守"
        );
        assert!(FactKind::Living.canonical_value("独居、与家人同住").is_err());
        assert_eq!(
            FactKind::CapabilityLevel.canonical_value("能力中度受损").expect("ok"),
            "2"
        );
        assert!(FactKind::CapabilityLevel.canonical_value("7").is_err());
        assert_eq!(FactKind::Hukou.canonical_value("150102").expect("ok"), "150102000000");
        let e = FactKind::Tekun.canonical_value("全托").unwrap_err();
        assert!(e.to_string().contains("分散供养"));
    }
}
