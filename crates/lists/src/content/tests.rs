use std::collections::HashMap;

use chrono::Utc;
use yanglao_domain::{DivisionCode, Fen};
use yanglao_rules::eval::{eval, Env, Value};
use yanglao_rules::{check, parse, Type};

use super::*;
use crate::model::{Lifecycle, LifecycleError, ListVersion, Period, ServiceType, Status};

fn im() -> ListVersion {
    load(BUILTIN[0].1).unwrap_or_else(|e| panic!("{e:?}"))
}

/// A person on the evaluation date, and the parameter values in force: the list's own values
/// plus, for parameters the list leaves to localities, values a test locality has set.
struct World {
    facts: HashMap<&'static str, Value>,
    params: HashMap<String, Value>,
    tables: HashMap<String, Vec<(i64, Fen)>>,
}

impl World {
    fn new(v: &ListVersion, age: i64) -> World {
        let mut params = HashMap::new();
        for d in &v.params {
            if let (Some(val), "money") = (&d.value, d.ty.as_str()) {
                params.insert(d.name.clone(), Value::Money(Fen::parse_yuan(val).expect("money")));
            }
        }
        // Values a locality would set (test values, not policy).
        params.insert("城乡居民基础养老金".into(), Value::Money(Fen::new(15_300)));
        params.insert("失能起始能力等级".into(), Value::Int(3));
        params.insert("特困人员基本生活标准".into(), Value::Money(Fen::new(120_000)));
        let levels: Vec<(i64, Fen)> = (0..=4).map(|l| (l, Fen::new(l * 10_000))).collect();
        let mut tables = HashMap::new();
        tables.insert("护理补贴标准".to_string(), levels.clone());
        tables.insert("特困人员照料护理标准".to_string(), levels);
        let mut facts = HashMap::new();
        facts.insert("年龄", Value::Int(age));
        facts.insert(
            "户籍",
            Value::Division(DivisionCode::parse("150102001201").expect("code")),
        );
        for b in [
            "低保",
            "特困",
            "低收入",
            "残疾",
            "已评估",
            "计生特殊家庭",
            "优抚对象",
            "无法定赡养人",
        ] {
            facts.insert(b, Value::Bool(false));
        }
        facts.insert("居住状况", Value::TextSet(vec![]));
        World { facts, params, tables }
    }
    fn set(mut self, k: &'static str, v: Value) -> Self {
        self.facts.insert(k, v);
        self
    }
    fn yes(self, k: &'static str) -> Self {
        self.set(k, Value::Bool(true))
    }
}

impl Env for World {
    fn fact(&self, name: &str) -> Value {
        self.facts.get(name).cloned().unwrap_or(Value::Missing)
    }
    fn param(&self, name: &str, key: Option<i64>) -> Option<Value> {
        match key {
            None => self.params.get(name).cloned(),
            Some(k) => self
                .tables
                .get(name)?
                .iter()
                .find(|(l, _)| *l == k)
                .map(|(_, f)| Value::Money(*f)),
        }
    }
    fn within(&self, code: DivisionCode, ancestor: DivisionCode) -> bool {
        code.is_within(ancestor)
    }
}

fn item(v: &ListVersion, seq: u32) -> &crate::model::Item {
    v.items.iter().find(|i| i.seq == seq).expect("item")
}

fn eligible(v: &ListVersion, seq: u32, w: &World) -> bool {
    let src = item(v, seq).eligibility.as_deref().expect("rule");
    let e = parse(src).expect("parse");
    check(src, &e, &declared_params(v), Type::Bool).expect("check");
    eval(&e, w, &mut Vec::new()).expect("eval") == Value::Bool(true)
}

fn amount(v: &ListVersion, seq: u32, w: &World) -> Fen {
    let src = item(v, seq).amount.as_deref().expect("rule");
    let e = parse(src).expect("parse");
    match eval(&e, w, &mut Vec::new()).expect("eval") {
        Value::Money(f) => f,
        other => panic!("amount {other:?}"),
    }
}

#[test]
fn inner_mongolia_list_has_its_19_items_as_printed() {
    let v = im();
    assert_eq!(v.items.len(), 19, "000: 内蒙古自治区基本养老服务清单 has 19 rows");
    assert_eq!(
        v.items.iter().map(|i| i.seq).collect::<Vec<_>>(),
        (1..=19).collect::<Vec<_>>()
    );
    assert_eq!(v.jurisdiction.short(), "150000");
    let five = item(&v, 5);
    assert_eq!(five.name, "高龄津贴");
    assert_eq!(five.service_type, ServiceType::Material);
    assert_eq!(five.period, Some(Period::Month));
    assert!(five
        .content
        .starts_with("凡具有内蒙古自治区户籍、年龄在80周岁(含80周岁)至99周岁的老年人"));
    assert_eq!(item(&v, 13).service_type, ServiceType::Concern);
    assert_eq!(item(&v, 19).service_type, ServiceType::Care);
    // What the text leaves to localities is a parameter marked local, never a constant.
    for local in [
        "城乡居民基础养老金",
        "护理补贴标准",
        "特困人员基本生活标准",
        "特困人员照料护理标准",
        "失能起始能力等级",
    ] {
        let p = v.params.iter().find(|p| p.name == local).expect("declared");
        assert!(p.local && p.value.is_none(), "{local}");
    }
}

#[test]
fn gaoling_jintie_boundaries() {
    // 000 清单第5项: "年龄在80周岁(含80周岁)至99周岁……每人每月领取100元高龄津贴。百岁以上……600元"
    let v = im();
    for (age, ok, yuan) in [(79, false, 0), (80, true, 100), (99, true, 100), (100, true, 600)] {
        let w = World::new(&v, age);
        assert_eq!(eligible(&v, 5, &w), ok, "age {age}");
        if ok {
            assert_eq!(amount(&v, 5, &w), Fen::from_yuan(yuan).expect("fen"), "age {age}");
        }
    }
}

#[test]
fn chengxiang_jumin_base_pension_increments() {
    // 000 清单第3项: "对年满70周岁至79周岁的另增加10元,年满80周岁及以上的另增加20元"
    let v = im();
    let enrolled = |age| {
        World::new(&v, age)
            .set("养老保险", Value::Text("城乡居民基本养老保险".into()))
            .set("养老保险状态", Value::Text("待遇领取".into()))
    };
    for (age, fen) in [(69, 15_300), (70, 16_300), (79, 16_300), (80, 17_300)] {
        assert!(eligible(&v, 3, &enrolled(age)));
        assert_eq!(amount(&v, 3, &enrolled(age)).get(), fen, "age {age}");
    }
    let paying = World::new(&v, 65)
        .set("养老保险", Value::Text("城乡居民基本养老保险".into()))
        .set("养老保险状态", Value::Text("参保缴费".into()));
    assert!(!eligible(&v, 3, &paying), "not yet drawing");
    assert!(!eligible(&v, 1, &enrolled(70)), "item 1 is for 企业职工");
}

#[test]
fn service_subsidy_for_70_to_79_on_dibao() {
    // 000 清单第6项: "经济困难老年人(目前为70—79周岁城乡低保老年人)" "每人每月50元"
    let v = im();
    for (age, ok) in [(69, false), (70, true), (79, true), (80, false)] {
        assert_eq!(eligible(&v, 6, &World::new(&v, age).yes("低保")), ok, "age {age}");
    }
    assert!(!eligible(&v, 6, &World::new(&v, 75)), "not on 低保");
    assert_eq!(
        amount(&v, 6, &World::new(&v, 75).yes("低保")),
        Fen::from_yuan(50).expect("fen")
    );
}

#[test]
fn age_thresholds_of_assessment_and_insurance() {
    // 第4项 "65周岁及以上老年人"; 第19项 "60周岁以上老年人", "保险费为15元/人/年"
    let v = im();
    assert!(!eligible(&v, 4, &World::new(&v, 64)));
    assert!(eligible(&v, 4, &World::new(&v, 65)));
    assert!(!eligible(&v, 19, &World::new(&v, 59)));
    assert!(eligible(&v, 19, &World::new(&v, 60)));
    assert_eq!(amount(&v, 19, &World::new(&v, 60)), Fen::from_yuan(15).expect("fen"));
    assert_eq!(item(&v, 19).period, Some(Period::Year));
}

#[test]
fn disability_grade_boundaries() {
    // 第17项 "残疾等级被评定为一级、二级的重度残疾老年人"; 第13项 重残
    let v = im();
    let disabled = |grade| World::new(&v, 70).yes("残疾").set("残疾等级", Value::Int(grade));
    assert!(eligible(&v, 17, &disabled(2)));
    assert!(!eligible(&v, 17, &disabled(3)), "grade 3, not on 低保");
    assert!(eligible(&v, 17, &disabled(3).yes("低保")), "低保家庭中的残疾老年人");
    assert!(eligible(&v, 13, &disabled(2)));
    assert!(!eligible(&v, 13, &disabled(3)));
    assert!(eligible(
        &v,
        13,
        &World::new(&v, 70).set("居住状况", Value::TextSet(vec!["独居".into()]))
    ));
    assert!(!eligible(&v, 13, &World::new(&v, 70)));
}

#[test]
fn care_subsidy_follows_the_assessed_level() {
    // 第8项 "根据老年人能力综合评估结果确定补贴标准"; the locality here sets 失能 from level 3.
    let v = im();
    let w = |level| {
        World::new(&v, 75)
            .yes("低保")
            .yes("已评估")
            .set("能力等级", Value::Int(level))
    };
    assert!(!eligible(&v, 8, &w(2)));
    assert!(eligible(&v, 8, &w(3)));
    assert_eq!(amount(&v, 8, &w(4)).get(), 40_000);
    assert!(!eligible(&v, 8, &World::new(&v, 75).yes("低保")), "not assessed");
    // 特困: 基本生活标准 plus 照料护理 by level, where assessed.
    assert_eq!(amount(&v, 12, &World::new(&v, 75).yes("特困")).get(), 120_000);
    assert_eq!(amount(&v, 12, &w(2).yes("特困")).get(), 140_000);
}

#[test]
fn home_adaptation_reads_article_19() {
    // 实施方案第19条: "对纳入分散特困供养以及城乡低保对象中的失能、高龄、残疾老年人家庭实施居家适老化改造"
    let v = im();
    let dispersed = World::new(&v, 80)
        .yes("特困")
        .set("特困供养方式", Value::Text("分散供养".into()));
    assert!(eligible(&v, 7, &dispersed));
    let concentrated = World::new(&v, 80)
        .yes("特困")
        .set("特困供养方式", Value::Text("集中供养".into()));
    assert!(!eligible(&v, 7, &concentrated));
    assert!(eligible(&v, 7, &World::new(&v, 70).yes("低保").yes("残疾")));
    assert!(!eligible(&v, 7, &World::new(&v, 79).yes("低保")));
}

#[test]
fn a_draft_with_a_rule_error_is_refused_with_item_and_position() {
    let bad = BUILTIN[0].1.replace(
        "eligibility = \"年龄 >= 65\"",
        "eligibility = \"年龄 >= \\\"六十五\\\"\"",
    );
    let errors = load(&bad).expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let msg = errors[0].to_string();
    assert!(msg.starts_with("第4项“老年人能力综合评估”的资格规则：第1行第"), "{msg}");
    assert!(msg.contains("不能比较整数与文字"), "{msg}");
    let bad = BUILTIN[0].1.replace("value = \"600元\"\n", "");
    assert!(load(&bad)
        .expect_err("refused")
        .iter()
        .any(|e| e.to_string().contains("百岁老人高龄津贴")));
}

#[test]
fn lifecycle_is_maker_checker() {
    let now = Utc::now();
    let mut l = Lifecycle::new("张科员", now);
    assert!(l.editable());
    assert!(matches!(
        l.advance(Status::Published, "李处长", now),
        Err(LifecycleError::Transition { .. })
    ));
    l.advance(Status::UnderReview, "张科员", now).expect("submit");
    assert_eq!(
        l.advance(Status::Published, "张科员", now),
        Err(LifecycleError::SameAuthor)
    );
    l.advance(Status::Published, "李处长", now).expect("publish");
    assert!(!l.editable(), "a published version never changes");
    assert!(matches!(
        l.advance(Status::Draft, "李处长", now),
        Err(LifecycleError::Transition { .. })
    ));
    l.advance(Status::Superseded, "李处长", now).expect("supersede");
    assert_eq!(l.steps.len(), 4);
    assert_eq!(l.steps[2].by, "李处长");
}

fn hotan() -> ListVersion {
    load(BUILTIN[1].1).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn hotan_list_has_its_17_items_with_funding_and_lead() {
    let v = hotan();
    assert_eq!(v.items.len(), 17, "004: 和田地区基本养老服务清单 has 17 rows");
    assert_eq!(
        v.items.iter().map(|i| i.seq).collect::<Vec<_>>(),
        (1..=17).collect::<Vec<_>>()
    );
    assert_eq!(v.jurisdiction.short(), "653200");
    assert_eq!(v.level, crate::model::ListLevel::Prefecture);
    let six = item(&v, 6);
    assert_eq!(six.name, "高龄津贴");
    assert_eq!(
        six.funding.as_deref(),
        Some("各县（市）人民政府负责，自治区财政适当补助")
    );
    assert_eq!(six.lead.as_deref(), Some("地区民政局"));
    assert_eq!(item(&v, 14).service_type, ServiceType::Concern);
    assert_eq!(
        item(&v, 5).basis,
        crate::model::Basis::Residence,
        "“65周岁及以上常住居民”"
    );
}

#[test]
fn hotan_boundaries() {
    let v = hotan();
    // 第3项 "60周岁及以上老年人"; 第4项 "为65周岁及以上老年人提供能力综合评估"
    assert!(!eligible(&v, 3, &World::new(&v, 59)));
    assert!(eligible(&v, 3, &World::new(&v, 60)));
    assert!(!eligible(&v, 4, &World::new(&v, 64)));
    assert!(eligible(&v, 4, &World::new(&v, 65)));
    // 第6项 "为80周岁及以上老年人发放高龄津贴"
    assert!(!eligible(&v, 6, &World::new(&v, 79)));
    assert!(eligible(&v, 6, &World::new(&v, 80)));
    // 第16项 "分别按照不低于110元/人/月标准发放困难残疾人生活补贴、重度残疾人护理补贴"
    let disabled = |grade| World::new(&v, 70).yes("残疾").set("残疾等级", Value::Int(grade));
    assert!(!eligible(&v, 16, &disabled(3)));
    assert_eq!(amount(&v, 16, &disabled(2)).get(), 11_000);
    assert_eq!(amount(&v, 16, &disabled(2).yes("低保")).get(), 22_000, "both subsidies");
    assert_eq!(amount(&v, 16, &disabled(3).yes("低保")).get(), 11_000);
    // 第12、13项 分散/集中供养
    let tekun = |mode: &str| {
        World::new(&v, 70)
            .yes("特困")
            .set("特困供养方式", Value::Text(mode.into()))
    };
    assert!(eligible(&v, 12, &tekun("分散供养")) && !eligible(&v, 12, &tekun("集中供养")));
    assert!(eligible(&v, 13, &tekun("集中供养")) && !eligible(&v, 13, &tekun("分散供养")));
}
