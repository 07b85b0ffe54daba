//! The entry form: Appendix A (老年人能力评估基本信息表, `standards/README.md` §1.7) field by
//! field, and the screens an assessor goes through (one first-level indicator per screen). Pure:
//! checks and normalises one field's input; the draft is stored as these normalised values.

use serde::Serialize;

use crate::gbt42195::{Answers, Conditions, RiskEventCount, RiskEvents, INDICATORS};
use crate::icd::{Icd10, MentalDisorder};
use crate::{AnswerError, Indicator};

/// What a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// Free text up to a length (characters).
    Text(usize),
    /// A whole or decimal number in a range (e.g. 身高 cm).
    Number { min: u32, max: u32 },
    /// Phone number: digits, "-", "+", spaces.
    Phone,
    /// One of the options.
    Single(&'static [&'static str]),
    /// Any of the options (stored as a JSON array, in the options' order).
    Multi(&'static [&'static str]),
    /// A.2.14 one category: 无 / 发生过1次 / 发生过2次 / 发生过3次及以上 (stored 0–3).
    RiskCount,
    /// ICD-10 codes separated by commas or spaces (A.4.1; drives C.4 rule 2).
    Icd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    /// E.g. "A.2.4"; sub-fields the form has no number for carry a suffix ("A.4.1.codes").
    pub code: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// Needed before the record can be submitted (what the C.4 rules read).
    pub required: bool,
    pub hint: &'static str,
}

const fn f(code: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        code,
        label,
        kind,
        required: false,
        hint: "",
    }
}

const fn req(code: &'static str, label: &'static str, kind: Kind, hint: &'static str) -> Field {
    Field {
        code,
        label,
        kind,
        required: true,
        hint,
    }
}

pub const NO_YES: &[&str] = &["无", "有"];

/// A.4.1 疾病诊断 as printed in the form (README §1.7), with the ICD-10 ranges.
pub const DIAGNOSES: &[&str] = &[
    "高血压病 I10～I15",
    "冠心病 I25",
    "糖尿病 E10～E14",
    "肺炎 J12～J18",
    "慢性阻塞性肺疾病 J44",
    "脑出血 I60～I62",
    "脑梗塞 I63",
    "尿路感染（30天内）",
    "帕金森综合征 G20～G22",
    "慢性肾衰竭 N18～N19",
    "肝硬化 K74",
    "消化性溃疡 K20～K31",
    "肿瘤 C00～D48",
    "截肢（6个月内）",
    "骨折（3个月内）M84",
    "癫痫 G40",
    "甲状腺功能减退症 E01～E03",
    "白内障 H25～H26",
    "青光眼 H40～H42",
    "骨质疏松症 M80～M82",
    "痴呆 F00～F03",
    "其他精神和行为障碍 F04～F99",
    "其他",
];
pub const DEMENTIA: &str = "痴呆 F00～F03";
pub const OTHER_MENTAL: &str = "其他精神和行为障碍 F04～F99";

/// A.1–A.3 (A.1.1/A.1.2/A.1.3 and the person's name, sex, birth date and ID number come from the
/// record and the registry, not typed again).
pub static BASIC: [Field; 18] = [
    f("A.2.4", "身高（cm）", Kind::Number { min: 50, max: 250 }),
    f("A.2.5", "体重（kg）", Kind::Number { min: 15, max: 300 }),
    f("A.2.6", "民族", Kind::Single(&["汉族", "少数民族"])),
    f("A.2.7", "宗教信仰", Kind::Single(NO_YES)),
    f(
        "A.2.9",
        "文化程度",
        Kind::Single(&["文盲", "小学", "初中", "高中/技校/中专", "大学专科及以上", "不详"]),
    ),
    f(
        "A.2.10",
        "居住情况（多选）",
        Kind::Multi(&[
            "独居",
            "与配偶居住",
            "与子女居住",
            "与父母居住",
            "与兄弟姐妹居住",
            "与其他亲属居住",
            "与非亲属关系的人居住",
            "养老机构",
        ]),
    ),
    f(
        "A.2.11",
        "婚姻状况",
        Kind::Single(&["未婚", "已婚", "丧偶", "离婚", "未说明"]),
    ),
    f(
        "A.2.12",
        "医疗费用支付方式（多选）",
        Kind::Multi(&[
            "城镇职工基本医疗保险",
            "城乡居民基本医疗保险",
            "自费",
            "公务员补助",
            "企业补充保险",
            "公费医疗及医疗照顾对象",
            "医疗救助",
            "大病保险",
        ]),
    ),
    f(
        "A.2.13",
        "经济来源（多选）",
        Kind::Multi(&[
            "退休金/养老金",
            "子女补贴",
            "亲友资助",
            "国家普惠型补贴",
            "个人储蓄",
            "其他补贴",
        ]),
    ),
    req("A.2.14.1", "近30天内照护风险事件：跌倒", Kind::RiskCount, "C.4（3）"),
    req("A.2.14.2", "近30天内照护风险事件：走失", Kind::RiskCount, "C.4（3）"),
    req("A.2.14.3", "近30天内照护风险事件：噎食", Kind::RiskCount, "C.4（3）"),
    req(
        "A.2.14.4",
        "近30天内照护风险事件：自杀、自伤",
        Kind::RiskCount,
        "C.4（3）",
    ),
    req("A.2.14.5", "近30天内照护风险事件：其他", Kind::RiskCount, "C.4（3）"),
    f("A.3.1", "信息提供者的姓名", Kind::Text(40)),
    f(
        "A.3.2",
        "信息提供者与老年人的关系",
        Kind::Single(&[
            "本人",
            "配偶",
            "子女",
            "其他亲属",
            "雇佣照顾者",
            "村（居）民委员会工作人员",
            "其他",
        ]),
    ),
    f("A.3.3", "联系人姓名", Kind::Text(40)),
    f("A.3.4", "联系人电话", Kind::Phone),
];

/// A.4 疾病诊断和用药情况 and A.5 健康相关问题.
pub static HEALTH: [Field; 17] = [
    f("A.4.1", "疾病诊断（可多选）", Kind::Multi(DIAGNOSES)),
    Field {
        code: "A.4.1.codes",
        label: "诊断编码（ICD-10）",
        kind: Kind::Icd,
        required: false,
        hint: "勾选痴呆或其他精神和行为障碍时须填写确诊的编码，如 F03、F01.1；多个以逗号分隔。C.4（2）据此判定",
    },
    f("A.4.1.other", "其他疾病（请补充）", Kind::Text(200)),
    f(
        "A.4.2",
        "用药情况（药物名称、服药方法、用药剂量、用药频率）",
        Kind::Text(1000),
    ),
    f(
        "A.5.1",
        "压力性损伤",
        Kind::Single(&[
            "无",
            "Ⅰ期：皮肤完好，出现指压不会变白的红印",
            "Ⅱ期：皮肤真皮层损失、暴露，出现水疱",
            "Ⅲ期：全层皮肤缺失，可见脂肪、肉芽组织以及边缘内卷",
            "Ⅳ期：全层皮肤、组织缺失，可见肌腱、肌肉、腱膜，以及边缘内卷，伴随隧道、潜行",
            "不可分期：全身皮肤、组织被腐肉、焦痂掩盖，无法确认组织缺失程度，去除腐肉、焦痂才可判断损伤程度",
        ]),
    ),
    f(
        "A.5.2",
        "关节活动度",
        Kind::Single(&["无，没有影响日常生活功能", "是，影响日常生活功能", "无法判断"]),
    ),
    f("A.5.2.part", "关节活动度受影响的部位", Kind::Text(100)),
    f(
        "A.5.3",
        "伤口情况（可多选）",
        Kind::Multi(&[
            "无",
            "擦伤",
            "烧烫伤",
            "术后伤口",
            "糖尿病足溃疡",
            "血管性溃疡",
            "其他伤口",
        ]),
    ),
    f(
        "A.5.4",
        "特殊护理情况（可多选）",
        Kind::Multi(&[
            "无",
            "胃管",
            "尿管",
            "气管切开",
            "胃/肠/膀胱造瘘",
            "无创呼吸机",
            "透析",
            "其他",
        ]),
    ),
    f(
        "A.5.5",
        "疼痛感（通过表情反应和询问来判断）",
        Kind::Single(&[
            "无疼痛",
            "轻度疼痛",
            "中度疼痛（尚可忍受的程度）",
            "重度疼痛（无法忍受的程度）",
            "不知道或无法判断",
        ]),
    ),
    f(
        "A.5.6",
        "牙齿缺失情况（可多选）",
        Kind::Multi(&[
            "无缺损",
            "牙体缺损（如龋齿、楔状缺损）",
            "牙列缺损：非对位牙缺失",
            "牙列缺损：单侧对位牙缺失",
            "牙列缺损：双侧对位牙缺失",
            "牙列缺失：上颌牙缺失",
            "牙列缺失：下颌牙缺失",
            "牙列缺失：全口牙缺失",
        ]),
    ),
    f(
        "A.5.7",
        "义齿佩戴情况（可多选）",
        Kind::Multi(&["无义齿", "固定义齿", "可摘局部义齿", "可摘全/半口义齿"]),
    ),
    f(
        "A.5.8",
        "吞咽困难的情形和症状（可多选）",
        Kind::Multi(&[
            "无",
            "抱怨吞咽困难或吞咽时会疼痛",
            "吃东西或喝水时出现咳嗽或呛咳",
            "用餐后嘴中仍含着食物或留有残余食物",
            "当喝或吃流质或固体的食物时，食物会从嘴角边流失",
            "有流口水的情况",
        ]),
    ),
    f("A.5.9", "营养不良：体质指数（BMI）低于正常值", Kind::Single(NO_YES)),
    f("A.5.10", "清理呼吸道无效", Kind::Single(NO_YES)),
    req("A.5.11", "昏迷", Kind::Single(NO_YES), "C.4（1）"),
    f("A.5.12", "其他（请补充）", Kind::Text(200)),
];

/// B.3.9 score 0 split into 昏睡 and 昏迷 (README §1.3 implementation tip): both score 0, 昏迷
/// also triggers C.4 rule 1. Stored as "0" and this value.
pub const B39_COMA: &str = "0c";

/// One screen of the entry page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Screen {
    Basic,
    Health,
    Indicator(usize),
    Summary,
}

pub const SCREENS: [Screen; 7] = [
    Screen::Basic,
    Screen::Health,
    Screen::Indicator(0),
    Screen::Indicator(1),
    Screen::Indicator(2),
    Screen::Indicator(3),
    Screen::Summary,
];

impl Screen {
    pub fn title(self) -> &'static str {
        match self {
            Screen::Basic => "A.1–A.3 基本信息",
            Screen::Health => "A.4–A.5 疾病诊断与健康问题",
            Screen::Indicator(0) => "B.1 自理能力",
            Screen::Indicator(1) => "B.2 基础运动能力",
            Screen::Indicator(2) => "B.3 精神状态",
            Screen::Indicator(3) => "B.4 感知觉与社会参与",
            Screen::Indicator(_) => "",
            Screen::Summary => "评估员与提交",
        }
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            Screen::Basic => &BASIC,
            Screen::Health => &HEALTH,
            _ => &[],
        }
    }

    pub fn indicator(self) -> Option<&'static Indicator> {
        match self {
            Screen::Indicator(i) => INDICATORS.get(i),
            _ => None,
        }
    }
}

/// Record columns edited on the summary screen through the same save path as the fields.
pub const ASSESSOR1: &str = "assessor1";
pub const ASSESSOR2: &str = "assessor2";
pub const ASSESSED_ON: &str = "assessed_on";

pub fn field(code: &str) -> Option<&'static Field> {
    BASIC.iter().chain(HEALTH.iter()).find(|f| f.code == code)
}

/// Checks one input (all values sent for the field: several for a multiple choice) and returns
/// what is stored, `None` to clear the field. The error is shown beside the field at once.
pub fn normalise(code: &str, values: &[String]) -> Result<Option<String>, String> {
    if let Some((i, j)) = item_position(code) {
        let item = &INDICATORS[i].items[j];
        let v = values.first().map(|s| s.trim()).unwrap_or("");
        if v.is_empty() {
            return Ok(None);
        }
        if item.code == "B.3.9" && v == B39_COMA {
            return Ok(Some(v.to_string()));
        }
        return match v.parse::<u8>() {
            Ok(s) if item.allows(s) => Ok(Some(s.to_string())),
            _ => Err(format!("{} {}：“{}”不是该项的可选分值", item.code, item.name, short(v))),
        };
    }
    let fld = field(code).ok_or_else(|| format!("没有字段“{}”", short(code)))?;
    let one = values.first().map(|s| s.trim()).unwrap_or("");
    let err = |what: &str| Err(format!("{}：{what}", fld.label));
    match fld.kind {
        Kind::Multi(options) => {
            let mut picked: Vec<&str> = Vec::new();
            for v in values.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                match options.iter().find(|o| **o == v) {
                    Some(o) => picked.push(o),
                    None => return err(&format!("“{}”不是可选项", short(v))),
                }
            }
            if picked.is_empty() {
                return Ok(None);
            }
            picked.sort_by_key(|p| options.iter().position(|o| o == p));
            picked.dedup();
            // "无" excludes the rest where a list has it (e.g. A.5.3 伤口情况).
            if picked.len() > 1 && picked.iter().any(|p| *p == "无" || *p == "无缺损" || *p == "无义齿") {
                return err("选择“无”时不能同时选择其他项");
            }
            serde_json::to_string(&picked)
                .map(Some)
                .map_err(|e| format!("{}：{e}", fld.label))
        }
        _ if one.is_empty() => Ok(None),
        Kind::Text(max) => {
            if one.chars().count() > max {
                err(&format!("不超过{max}个字"))
            } else {
                Ok(Some(one.to_string()))
            }
        }
        Kind::Number { min, max } => match one.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= f64::from(min) && n <= f64::from(max) => Ok(Some(one.to_string())),
            _ => err(&format!("应为{min}～{max}之间的数")),
        },
        Kind::Phone => {
            if one.len() <= 20 && one.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | ' ')) {
                Ok(Some(one.to_string()))
            } else {
                err("应为电话号码（数字，可含“-”）")
            }
        }
        Kind::Single(options) => match options.iter().find(|o| **o == one) {
            Some(o) => Ok(Some(o.to_string())),
            None => err(&format!("“{}”不是可选项", short(one))),
        },
        Kind::RiskCount => match one {
            "0" | "1" | "2" | "3" => Ok(Some(one.to_string())),
            _ => err("应为 无、发生过1次、发生过2次、发生过3次及以上 之一"),
        },
        Kind::Icd => {
            let codes = split_codes(one);
            let mut out = Vec::new();
            for c in codes {
                let code = Icd10::parse(c).map_err(|e| format!("{}：{e}", fld.label))?;
                out.push(code.to_string());
            }
            if out.is_empty() {
                Ok(None)
            } else {
                Ok(Some(out.join(",")))
            }
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

fn split_codes(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', '，', ';', '；', '、', ' ', '\u{3000}'])
        .filter(|c| !c.trim().is_empty())
}

/// (indicator, item) of a B item code.
pub fn item_position(code: &str) -> Option<(usize, usize)> {
    INDICATORS
        .iter()
        .enumerate()
        .find_map(|(i, ind)| ind.items.iter().position(|it| it.code == code).map(|j| (i, j)))
}

/// The entered values of a draft, by field code.
pub type Entries = std::collections::BTreeMap<String, String>;

/// The score stored for a B item (B.3.9 昏迷 scores 0).
pub fn item_score(entries: &Entries, code: &str) -> Option<u8> {
    let v = entries.get(code)?;
    if code == "B.3.9" && v == B39_COMA {
        return Some(0);
    }
    v.parse().ok()
}

/// A multiple-choice field's stored options.
pub fn multi(entries: &Entries, code: &str) -> Vec<String> {
    entries
        .get(code)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

/// What a partly answered draft adds up to so far, for the entry page.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// Per indicator: (sum of answered items, maximum, answered, items).
    pub indicators: [(u8, u8, usize, usize); 4],
    pub total: u8,
    pub answered: usize,
    pub items: usize,
}

pub fn progress(entries: &Entries) -> Progress {
    let mut indicators = [(0u8, 0u8, 0usize, 0usize); 4];
    for (slot, ind) in indicators.iter_mut().zip(&INDICATORS) {
        slot.1 = ind.max();
        slot.3 = ind.items.len();
        for item in ind.items {
            if let Some(s) = item_score(entries, item.code) {
                slot.0 += s;
                slot.2 += 1;
            }
        }
    }
    Progress {
        total: indicators.iter().map(|i| i.0).sum(),
        answered: indicators.iter().map(|i| i.2).sum(),
        items: indicators.iter().map(|i| i.3).sum(),
        indicators,
    }
}

/// Everything that keeps a draft from being scored, in form order.
pub fn missing(entries: &Entries) -> Vec<String> {
    let mut out = Vec::new();
    for fld in BASIC.iter().chain(HEALTH.iter()).filter(|f| f.required) {
        if !entries.contains_key(fld.code) {
            out.push(format!("{} {} 未填写", fld.code, fld.label));
        }
    }
    for ind in &INDICATORS {
        for item in ind.items {
            if item_score(entries, item.code).is_none() {
                out.push(format!("{} {} 未作答", item.code, item.name));
            }
        }
    }
    out
}

/// A draft turned into what the scorer reads, or every problem at once.
pub fn to_scoring(entries: &Entries) -> Result<(Answers, Conditions), Vec<String>> {
    let mut problems = missing(entries);
    // A.4.1: the ticked mental-disorder categories and the codes must agree, so that C.4 (2)
    // neither misses a diagnosis nor applies to one nobody recorded.
    let ticked = multi(entries, "A.4.1");
    let codes: Vec<String> = entries
        .get("A.4.1.codes")
        .map(|v| split_codes(v).map(str::to_string).collect())
        .unwrap_or_default();
    let mut groups = Vec::new();
    for c in &codes {
        match Icd10::parse(c) {
            Ok(code) => groups.extend(code.mental_disorder()),
            Err(e) => problems.push(format!("A.4.1 诊断编码：{e}")),
        }
    }
    for (label, group) in [
        (DEMENTIA, MentalDisorder::Dementia),
        (OTHER_MENTAL, MentalDisorder::Other),
    ] {
        let is_ticked = ticked.iter().any(|t| t == label);
        let has_code = groups.contains(&group);
        if is_ticked && !has_code {
            problems.push(format!(
                "A.4.1 勾选了“{label}”，须在诊断编码中填写该范围内的确诊编码（C.4（2））"
            ));
        }
        if has_code && !is_ticked {
            problems.push(format!("A.4.1 诊断编码含{}，须同时勾选“{label}”", group.label()));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let pairs: Vec<(&str, u8)> = INDICATORS
        .iter()
        .flat_map(|ind| ind.items.iter())
        .filter_map(|item| item_score(entries, item.code).map(|s| (item.code, s)))
        .collect();
    let answers = Answers::from_pairs(pairs).map_err(|e: AnswerError| vec![e.to_string()])?;
    let risk = |code: &str| RiskEventCount::from_count(entries.get(code).and_then(|v| v.parse().ok()).unwrap_or(0));
    let conditions = Conditions {
        coma: entries.get("A.5.11").is_some_and(|v| v == "有") || entries.get("B.3.9").is_some_and(|v| v == B39_COMA),
        diagnoses: codes,
        risk_events: RiskEvents {
            falls: risk("A.2.14.1"),
            wandering: risk("A.2.14.2"),
            choking: risk("A.2.14.3"),
            self_harm: risk("A.2.14.4"),
            other: risk("A.2.14.5"),
        },
    };
    Ok((answers, conditions))
}

/// The Appendix A fields of a draft, for the frozen record (`basic_info`), keyed by code.
pub fn basic_info(entries: &Entries) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for fld in BASIC.iter().chain(HEALTH.iter()) {
        if let Some(v) = entries.get(fld.code) {
            let value = match fld.kind {
                Kind::Multi(_) => serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.clone())),
                _ => serde_json::Value::String(v.clone()),
            };
            out.insert(fld.code.to_string(), value);
        }
    }
    out
}

/// A stored value as the report prints it.
pub fn display(fld: &Field, stored: &str) -> String {
    match fld.kind {
        Kind::Multi(_) => serde_json::from_str::<Vec<String>>(stored)
            .map(|v| v.join("、"))
            .unwrap_or_else(|_| stored.to_string()),
        Kind::RiskCount => RiskEventCount::from_count(stored.parse().unwrap_or(0))
            .label()
            .to_string(),
        _ => stored.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(&str, &str)]) -> Entries {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn complete() -> Entries {
        let mut e = Entries::new();
        for ind in &INDICATORS {
            for item in ind.items {
                e.insert(item.code.to_string(), item.max().to_string());
            }
        }
        for i in 1..=5 {
            e.insert(format!("A.2.14.{i}"), "0".into());
        }
        e.insert("A.5.11".into(), "无".into());
        e
    }

    #[test]
    fn fields_are_checked_one_by_one() {
        let v = |s: &str| vec![s.to_string()];
        assert_eq!(normalise("B.1.1", &v("4")), Ok(Some("4".into())));
        assert!(
            normalise("B.2.4", &v("4")).is_err(),
            "B.2.4 上下楼梯 scores 0–3 (Appendix B)"
        );
        assert_eq!(normalise("B.3.9", &v(B39_COMA)), Ok(Some(B39_COMA.into())));
        assert!(normalise("B.1.1", &v(B39_COMA)).is_err());
        assert!(normalise("A.2.4", &v("400")).is_err());
        assert_eq!(normalise("A.2.4", &v("165.5")), Ok(Some("165.5".into())));
        assert_eq!(normalise("A.2.4", &v("")), Ok(None));
        assert!(normalise("A.4.1.codes", &v("痴呆")).is_err());
        assert_eq!(normalise("A.4.1.codes", &v("f01.1，I10")), Ok(Some("F01.1,I10".into())));
        assert_eq!(
            normalise("A.2.10", &["与子女居住".into(), "独居".into()]),
            Ok(Some("[\"独居\",\"与子女居住\"]".into()))
        );
        assert!(normalise("A.5.3", &["无".into(), "擦伤".into()]).is_err());
        assert!(normalise("A.2.14.1", &v("4")).is_err());
        assert!(normalise("X.9", &v("1")).is_err());
    }

    #[test]
    fn a_complete_draft_scores_and_coma_comes_from_b39_or_a511() {
        let (a, c) = to_scoring(&complete()).expect("complete");
        assert_eq!(a, Answers::best());
        assert!(!c.coma);
        let mut e = complete();
        e.insert("B.3.9".into(), B39_COMA.into());
        let (a, c) = to_scoring(&e).expect("complete");
        assert_eq!(a.get("B.3.9"), Some(0));
        assert!(c.coma, "B.3.9 昏迷 triggers C.4（1）");
        let mut e = complete();
        e.insert("A.5.11".into(), "有".into());
        assert!(to_scoring(&e).expect("ok").1.coma, "A.5.11 昏迷=有 triggers C.4（1）");
    }

    #[test]
    fn missing_items_and_disagreeing_diagnoses_are_listed() {
        let mut e = complete();
        e.remove("B.4.5");
        e.remove("A.2.14.3");
        let problems = to_scoring(&e).expect_err("incomplete");
        assert!(problems.iter().any(|p| p.contains("B.4.5")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("A.2.14.3")), "{problems:?}");

        let mut e = complete();
        e.insert("A.4.1".into(), format!("[\"{DEMENTIA}\"]"));
        let problems = to_scoring(&e).expect_err("ticked without code");
        assert!(problems[0].contains("C.4（2）"), "{problems:?}");
        e.insert("A.4.1.codes".into(), "F03".into());
        let (_, c) = to_scoring(&e).expect("agree");
        assert_eq!(c.diagnoses, vec!["F03".to_string()]);
        let e = entries(&[("A.4.1.codes", "F20")]);
        assert!(to_scoring(&e)
            .expect_err("code without tick")
            .iter()
            .any(|p| p.contains(OTHER_MENTAL)));
    }
}
