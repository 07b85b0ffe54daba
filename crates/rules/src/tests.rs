use std::collections::HashMap;

use proptest::prelude::*;
use yanglao_domain::{DivisionCode, Fen};

use crate::eval::{eval, Env, Step, Value};
use crate::vocab::Params;
use crate::{check, parse, Type};

struct Person {
    facts: HashMap<&'static str, Value>,
    params: HashMap<&'static str, Value>,
}

impl Env for Person {
    fn fact(&self, name: &str) -> Value {
        self.facts.get(name).cloned().unwrap_or(Value::Missing)
    }
    fn param(&self, name: &str, key: Option<i64>) -> Option<Value> {
        match key {
            None => self.params.get(name).cloned(),
            Some(k) => self.params.get(name).and_then(|v| match v {
                Value::TextSet(_) => None,
                Value::Money(base) => Some(Value::Money(Fen::new(base.get() * k))),
                other => Some(other.clone()),
            }),
        }
    }
    fn within(&self, code: DivisionCode, ancestor: DivisionCode) -> bool {
        code.is_within(ancestor)
    }
}

fn person(age: i64, hukou: &str) -> Person {
    let mut facts = HashMap::new();
    facts.insert("年龄", Value::Int(age));
    facts.insert("在世", Value::Bool(true));
    facts.insert("户籍", Value::Division(DivisionCode::parse(hukou).expect("code")));
    facts.insert("居住状况", Value::TextSet(vec!["独居".into(), "空巢".into()]));
    let mut params = HashMap::new();
    params.insert("高龄津贴", Value::Money(Fen::new(10_000)));
    params.insert("百岁老人高龄津贴", Value::Money(Fen::new(60_000)));
    Person { facts, params }
}

fn params() -> Params {
    Params::default()
        .with("高龄津贴", Type::Money)
        .with("百岁老人高龄津贴", Type::Money)
        .with("护理补贴标准", Type::MoneyByInt)
}

fn run(src: &str, want: Type, p: &Person) -> (Value, Vec<Step>) {
    let e = parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
    check(src, &e, &params(), want).unwrap_or_else(|err| panic!("{src}: {err}"));
    let mut trace = Vec::new();
    let v = eval(&e, p, &mut trace).expect("eval");
    (v, trace)
}

/// 000 清单第5项 高龄津贴: "凡具有内蒙古自治区户籍、年龄在80周岁(含80周岁)至99周岁的老年人,
/// 均可按规定每人每月领取100元高龄津贴。百岁以上老年人按规定每人每月领取600元高龄津贴。"
/// (Whether 100 counts as 百岁以上 is the list's business; here 100 gets the 百岁 amount.)
const GAOLING_ELIGIBLE: &str = "在世 且 户籍 属于 150000 且 年龄 >= 80";
const GAOLING_AMOUNT: &str = "如果 年龄 >= 100 则 【百岁老人高龄津贴】 否则 【高龄津贴】";

#[test]
fn gaoling_boundaries_79_80_99_100() {
    for (age, eligible, fen) in [
        (79, false, 10_000),
        (80, true, 10_000),
        (99, true, 10_000),
        (100, true, 60_000),
    ] {
        let p = person(age, "150102001201");
        assert_eq!(
            run(GAOLING_ELIGIBLE, Type::Bool, &p).0,
            Value::Bool(eligible),
            "age {age}"
        );
        assert_eq!(
            run(GAOLING_AMOUNT, Type::Money, &p).0,
            Value::Money(Fen::new(fen)),
            "age {age}"
        );
    }
    // Hukou outside Inner Mongolia.
    assert_eq!(
        run(GAOLING_ELIGIBLE, Type::Bool, &person(85, "653223102201")).0,
        Value::Bool(false)
    );
}

#[test]
fn trace_names_the_failed_condition() {
    let (v, trace) = run(GAOLING_ELIGIBLE, Type::Bool, &person(79, "150102001201"));
    assert_eq!(v, Value::Bool(false));
    let failed: Vec<&Step> = trace.iter().filter(|s| !s.holds).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail, "79 ≥ 80");
    assert_eq!(
        &GAOLING_ELIGIBLE.chars().collect::<Vec<_>>()[failed[0].start..failed[0].end]
            .iter()
            .collect::<String>(),
        "年龄 >= 80"
    );
}

#[test]
fn words_split_without_spaces_and_sets() {
    let (v, _) = run("年龄>=80且居住状况包含\"独居\"", Type::Bool, &person(81, "150102"));
    assert_eq!(v, Value::Bool(true));
    let (v, _) = run("非(居住状况 包含 “留守”)", Type::Bool, &person(81, "150102"));
    assert_eq!(v, Value::Bool(true));
}

#[test]
fn missing_facts_make_comparisons_false() {
    let (v, trace) = run("能力等级 >= 3", Type::Bool, &person(81, "150102"));
    assert_eq!(v, Value::Bool(false));
    assert_eq!(trace[0].detail, "（无记录） ≥ 3");
}

#[test]
fn money_arithmetic_is_exact() {
    // 000 清单第3项: 70–79 周岁另增加10元, 80 周岁及以上另增加20元.
    let src = "【高龄津贴】 + (如果 年龄 >= 80 则 20元 否则 如果 年龄 >= 70 则 10元 否则 0元)";
    assert_eq!(
        run(src, Type::Money, &person(75, "150102")).0,
        Value::Money(Fen::new(11_000))
    );
    assert_eq!(
        run(src, Type::Money, &person(80, "150102")).0,
        Value::Money(Fen::new(12_000))
    );
    assert_eq!(
        run("0.5元 * 3", Type::Money, &person(80, "150102")).0,
        Value::Money(Fen::new(150))
    );
}

fn error_of(src: &str, want: Type) -> crate::RuleError {
    match parse(src) {
        Err(e) => e,
        Ok(e) => check(src, &e, &params(), want).expect_err("should not check"),
    }
}

#[test]
fn errors_name_the_position_and_what_was_expected() {
    let e = error_of("年龄 >= 80 且 户籍 属于", Type::Bool);
    assert_eq!((e.line, e.column), (1, 17), "{e}"); // just after “属于”, at the end of the rule
    assert!(e.message.contains("区划代码"), "{e}");
    let e = error_of("年龄 >= \"八十\"", Type::Bool);
    assert!(e.message.contains("不能比较整数与文字"), "{e}");
    assert_eq!(e.column, 7);
    let e = error_of("如果 年龄 >= 80 则 100元", Type::Money);
    assert!(e.message.contains("否则"), "{e}");
    let e = error_of("年纪 >= 80", Type::Bool);
    assert!(e.message.contains("年纪"), "{e}");
    let e = error_of("【不存在】", Type::Money);
    assert!(e.message.contains("未声明"), "{e}");
    let e = error_of("【护理补贴标准】", Type::Money);
    assert!(e.message.contains("[能力等级]"), "{e}");
    let e = error_of("年龄 >= 80", Type::Money);
    assert!(e.message.contains("应为金额"), "{e}");
    let e = error_of("80 <= 年龄 <= 99", Type::Bool);
    assert!(e.message.contains("不能连写"), "{e}");
    let e = error_of("年龄 >= 80\n且 户籍 属于 99", Type::Bool);
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn size_and_depth_are_bounded() {
    let deep = format!("{}是{}", "(".repeat(200), ")".repeat(200));
    assert!(error_of(&deep, Type::Bool).message.contains("嵌套过深"));
    let nots = format!("{}是", "非".repeat(500));
    assert!(error_of(&nots, Type::Bool).message.contains("嵌套过深"));
    let long = "是 且 ".repeat(1000) + "是";
    assert!(error_of(&long, Type::Bool).message.contains("规则过长"));
}

#[test]
fn table_parameters_by_level() {
    let mut p = person(80, "150102");
    p.facts.insert("能力等级", Value::Int(3));
    p.params.insert("护理补贴标准", Value::Money(Fen::new(5_000)));
    assert_eq!(
        run("【护理补贴标准】[能力等级]", Type::Money, &p).0,
        Value::Money(Fen::new(15_000))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]
    /// The parser and checker never panic and never hang on arbitrary input.
    #[test]
    fn parse_and_check_never_panic(src in "\\PC{0,200}") {
        if let Ok(e) = parse(&src) {
            let _ = check(&src, &e, &params(), Type::Bool);
        }
    }

    /// Inputs made of the language's own pieces reach deeper into the parser than random text.
    #[test]
    fn parse_and_check_never_panic_on_rule_like_text(parts in proptest::collection::vec(
        proptest::sample::select(vec![
            "年龄", "户籍", "低保", "能力等级", "居住状况", "且", "或", "非", "属于", "包含", "如果", "则", "否则",
            ">=", "<", "=", "+", "-", "*", "(", ")", "[", "]", "80", "150000", "100元", "\"独居\"", "【高龄津贴】",
            "【护理补贴标准】", "是", "否", " ",
        ]), 0..60)) {
        let src: String = parts.concat();
        if let Ok(e) = parse(&src) {
            for t in [Type::Bool, Type::Money] {
                if check(&src, &e, &params(), t).is_ok() {
                    let mut trace = Vec::new();
                    let _ = eval(&e, &person(80, "150102"), &mut trace);
                }
            }
        }
    }
}
