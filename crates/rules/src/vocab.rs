//! The registry facts a rule may name, with their types, and the parameter declarations a rule
//! is checked against.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::Type;

/// A fact a rule can read about a person on the evaluation date.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FactName {
    pub name: &'static str,
    pub ty: Type,
    /// What it means, for rule authors and explanations.
    pub meaning: &'static str,
}

const fn fact(name: &'static str, ty: Type, meaning: &'static str) -> FactName {
    FactName { name, ty, meaning }
}

/// Every fact a rule may use. Missing facts of a person (no 能力评估 yet, no 残疾证) make any
/// comparison with them false; the explanation says which fact was missing.
pub const FACTS: [FactName; 22] = [
    fact("年龄", Type::Int, "评估日的周岁年龄"),
    fact("性别", Type::Text, "男 或 女"),
    fact("在世", Type::Bool, "评估日尚无死亡记录"),
    fact("户籍", Type::Division, "户籍所在地区划"),
    fact("常住地", Type::Division, "常住地区划"),
    fact("城乡", Type::Text, "城镇 或 农村"),
    fact("低保", Type::Bool, "最低生活保障对象"),
    fact("特困", Type::Bool, "特困人员"),
    fact("特困供养方式", Type::Text, "分散供养 或 集中供养"),
    fact("低收入", Type::Bool, "低收入人口"),
    fact("残疾", Type::Bool, "持有残疾人证"),
    fact("残疾类别", Type::Text, "视力、听力、言语、肢体、智力、精神、多重"),
    fact("残疾等级", Type::Int, "1–4 级（一级最重）"),
    fact("已评估", Type::Bool, "有老年人能力评估结果"),
    fact("能力等级", Type::Int, "0 能力完好 … 4 能力完全丧失（GB/T 42195-2022）"),
    fact("居住状况", Type::TextSet, "独居、空巢、留守"),
    fact("计生特殊家庭", Type::Bool, "计划生育特殊家庭"),
    fact("优抚对象", Type::Bool, "优抚对象"),
    fact("优抚类别", Type::Text, "优抚对象类别"),
    fact("无法定赡养人", Type::Bool, "退役军人事务部门记录无法定赡养人"),
    fact("养老保险", Type::Text, "险种，如 城乡居民基本养老保险"),
    fact("养老保险状态", Type::Text, "参保缴费、待遇领取、暂停、终止"),
];

pub fn fact_type(name: &str) -> Option<Type> {
    FACTS.iter().find(|f| f.name == name).map(|f| f.ty)
}

/// The words of the language (keywords) and the fact names, longest first: a run of Chinese
/// characters is split into these so that `年龄>=80且低保` reads as written.
pub fn words() -> Vec<&'static str> {
    let mut w: Vec<&'static str> = crate::lexer::KEYWORDS.iter().map(|(k, _)| *k).collect();
    w.extend(FACTS.iter().map(|f| f.name));
    w.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
    w
}

/// Declared parameters: name → type. A table parameter is looked up by an integer key
/// (能力等级, 残疾等级): 【护理补贴标准】[能力等级].
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub types: BTreeMap<String, Type>,
}

impl Params {
    pub fn with(mut self, name: &str, ty: Type) -> Self {
        self.types.insert(name.to_string(), ty);
        self
    }
}
