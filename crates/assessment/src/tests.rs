use proptest::prelude::*;

use crate::gbt42195::{
    self, score, Answers, ChangeRule, Conditions, Level, RiskEventCount, RiskEvents, Scored, INDICATORS, MAX_TOTAL,
};
use crate::icd::{Icd10, MentalDisorder};
use crate::ltc::{
    self, Combination, Cuts, Impairment, LtcAnswers, LtcGrade, LtcGradingSpec, LtcGradingTable, TableError,
};
use crate::{AnswerError, Item};

fn all_items() -> impl Iterator<Item = &'static Item> {
    INDICATORS.iter().flat_map(|ind| ind.items.iter())
}

/// Answers whose total is `total`: the best answers, lowered item by item in form order. Relies
/// on every item allowing each score from 0 to its max (checked in `options_are_contiguous`).
fn answers_with_total(total: u8) -> Answers {
    let mut answers = Answers::best();
    let mut excess = MAX_TOTAL - total;
    let slots: [&mut [u8]; 4] = [
        &mut answers.self_care,
        &mut answers.mobility,
        &mut answers.mental,
        &mut answers.perception,
    ];
    for slot in slots {
        for s in slot.iter_mut() {
            let cut = excess.min(*s);
            *s -= cut;
            excess -= cut;
        }
    }
    answers
}

/// Sets the `which`-th answer in form order (0 = B.1.1, 25 = B.4.5).
fn set_flat(a: &mut Answers, which: usize, value: u8) {
    let slots: [&mut [u8]; 4] = [&mut a.self_care, &mut a.mobility, &mut a.mental, &mut a.perception];
    if let Some(s) = slots.into_iter().flat_map(|s| s.iter_mut()).nth(which) {
        *s = value;
    }
}

fn scored(answers: &Answers, conditions: &Conditions) -> Scored {
    score(answers, conditions).expect("valid answers")
}

fn rules(s: &Scored) -> Vec<ChangeRule> {
    s.changes.iter().map(|c| c.rule).collect()
}

fn with_diagnoses(codes: &[&str]) -> Conditions {
    Conditions {
        diagnoses: codes.iter().map(|c| c.to_string()).collect(),
        ..Conditions::default()
    }
}

// ---------- data: README §1.2 / §1.3 ----------

#[test]
fn item_counts_and_codes() {
    // standards/README.md §1.2: 4 一级指标, 26 二级指标 (8 + 4 + 9 + 5).
    let counts: Vec<usize> = INDICATORS.iter().map(|i| i.items.len()).collect();
    assert_eq!(counts, [8, 4, 9, 5], "README §1.2 item counts");
    assert_eq!(all_items().count(), 26, "README §1.2: 26 二级指标");
    let names: Vec<&str> = INDICATORS.iter().map(|i| i.name).collect();
    assert_eq!(names, ["自理能力", "基础运动能力", "精神状态", "感知觉与社会参与"]);
    for (i, ind) in INDICATORS.iter().enumerate() {
        assert_eq!(ind.code, format!("B.{}", i + 1));
        for (j, item) in ind.items.iter().enumerate() {
            assert_eq!(item.code, format!("B.{}.{}", i + 1, j + 1));
        }
    }
    let b1: Vec<&str> = gbt42195::SELF_CARE.iter().map(|i| i.name).collect();
    assert_eq!(
        b1,
        [
            "进食",
            "修饰",
            "洗澡",
            "穿/脱上衣",
            "穿/脱裤子和鞋袜",
            "小便控制",
            "大便控制",
            "如厕"
        ]
    );
    let b3: Vec<&str> = gbt42195::MENTAL.iter().map(|i| i.name).collect();
    assert_eq!(
        b3,
        [
            "时间定向",
            "空间定向",
            "人物定向",
            "记忆",
            "理解能力",
            "表达能力",
            "攻击行为",
            "抑郁症状",
            "意识水平"
        ]
    );
}

#[test]
fn per_item_maxima() {
    // standards/README.md §1.2: B.2 = 4+4+4+3, B.3 = 6×4+1+1+2, B.4 = 2+2+4+3+4, B.1 = 8×4.
    let maxima: Vec<Vec<u8>> = INDICATORS
        .iter()
        .map(|i| i.items.iter().map(Item::max).collect())
        .collect();
    assert_eq!(maxima[0], [4; 8]);
    assert_eq!(maxima[1], [4, 4, 4, 3]);
    assert_eq!(maxima[2], [4, 4, 4, 4, 4, 4, 1, 1, 2]);
    assert_eq!(maxima[3], [2, 2, 4, 3, 4]);
}

#[test]
fn indicator_maxima() {
    // standards/README.md §1.2: 自理能力 32, 基础运动能力 15, 精神状态 28 (not 29), 感知觉与社会参与 15, 总分 90.
    let maxima: Vec<u8> = INDICATORS.iter().map(|i| i.max()).collect();
    assert_eq!(maxima, [32, 15, 28, 15]);
    assert_eq!(maxima.iter().sum::<u8>(), MAX_TOTAL);
    assert_eq!(MAX_TOTAL, 90);
}

#[test]
fn options_are_contiguous() {
    // README §1.3: every item is single-choice with one option per score from its max down to 0.
    for item in all_items() {
        let scores: Vec<u8> = item.options.iter().map(|o| o.score).collect();
        let expected: Vec<u8> = (0..=item.max()).rev().collect();
        assert_eq!(scores, expected, "{} options", item.code);
        assert!(item.options.iter().all(|o| !o.text.is_empty()), "{}", item.code);
    }
}

#[test]
fn option_texts_spot_checks() {
    // standards/README.md §1.3 CONFLICT on B.1.7 score 3: use "每周<1次" (S1/S4).
    let b17 = &gbt42195::SELF_CARE[6];
    assert_eq!(b17.code, "B.1.7");
    let text = b17.option(3).map(|o| o.text).unwrap_or_default();
    assert!(
        text.contains("每周<1次") && !text.contains("每天<1次"),
        "B.1.7 score 3: {text}"
    );
    // README §1.3: S1 words score 4 "不需要他人协助" for 如厕, 床上体位转移, 床椅转移 only.
    for item in all_items() {
        let four = item.option(4).map(|o| o.text);
        let other_wording = ["B.1.8", "B.2.1", "B.2.2"].contains(&item.code);
        if ["B.1.2", "B.1.3", "B.1.4", "B.1.5"].contains(&item.code) {
            assert_eq!(four, Some("独立完成，不需要协助"), "{}", item.code);
        }
        if other_wording {
            assert_eq!(four, Some("独立完成，不需要他人协助"), "{}", item.code);
        }
    }
    // README §1.3 B.2.4: the top score is 3, and 0 merges the scale's two lowest options.
    let b24 = &gbt42195::MOBILITY[3];
    assert!(b24.option(3).is_some_and(|o| o.text.starts_with("可独立上下楼梯")));
    assert!(b24.option(0).is_some_and(|o| o.text.contains("；或者完全依赖他人协助")));
    // README §1.3 B.3.9: score 0 is 昏睡 or 昏迷.
    let b39 = &gbt42195::MENTAL[8];
    assert!(b39
        .option(0)
        .is_some_and(|o| o.text.starts_with("昏睡") && o.text.contains("昏迷")));
}

// ---------- scoring and C.3: README §1.2 / §1.4 ----------

#[test]
fn best_answers_give_each_maximum() {
    // standards/README.md §1.2 maxima; §1.4 "能力完好 … 90".
    let s = scored(&Answers::best(), &Conditions::default());
    let subtotals: Vec<u8> = s.subtotals.iter().map(|t| t.score).collect();
    assert_eq!(subtotals, [32, 15, 28, 15], "C.1 subtotals at the best answers");
    let max: Vec<u8> = s.subtotals.iter().map(|t| t.max).collect();
    assert_eq!(max, [32, 15, 28, 15]);
    let clauses: Vec<&str> = s.subtotals.iter().map(|t| t.report_clause).collect();
    assert_eq!(clauses, ["C.1.1", "C.1.2", "C.1.3", "C.1.4"]);
    assert_eq!(s.total, 90);
    assert_eq!(s.preliminary, Level::Intact);
    assert_eq!(s.final_level, Level::Intact);
    assert!(s.changes.is_empty());
}

#[test]
fn worst_answers_give_zero() {
    let s = scored(&Answers::worst(), &Conditions::default());
    assert_eq!(s.subtotals.map(|t| t.score), [0; 4]);
    assert_eq!(s.total, 0);
    assert_eq!(s.preliminary, Level::Lost, "README §1.4: 0–29 → 能力完全丧失");
}

#[test]
fn subtotals_are_per_indicator() {
    let mut a = Answers::best();
    a.self_care[0] = 2; // B.1.1 −2
    a.mobility[3] = 0; // B.2.4 −3
    a.mental[8] = 1; // B.3.9 −1
    a.perception[4] = 0; // B.4.5 −4
    let s = scored(&a, &Conditions::default());
    assert_eq!(s.subtotals.map(|t| t.score), [30, 12, 27, 11]);
    assert_eq!(s.total, 80);
    assert_eq!(s.preliminary, Level::Mild);
}

#[test]
fn level_boundaries() {
    // standards/README.md §1.4 (C.3 初步等级): 90 能力完好 / 66–89 轻度 / 46–65 中度 / 30–45 重度 / 0–29 完全丧失.
    let table = [
        (90, Level::Intact, "C.3 能力完好：总分90"),
        (89, Level::Mild, "C.3 能力轻度受损：66～89"),
        (66, Level::Mild, "C.3 能力轻度受损：66～89"),
        (65, Level::Moderate, "C.3 能力中度受损：46～65"),
        (46, Level::Moderate, "C.3 能力中度受损：46～65"),
        (45, Level::Severe, "C.3 能力重度受损：30～45"),
        (30, Level::Severe, "C.3 能力重度受损：30～45"),
        (29, Level::Lost, "C.3 能力完全丧失：0～29"),
        (1, Level::Lost, "C.3 能力完全丧失：0～29"),
        (0, Level::Lost, "C.3 能力完全丧失：0～29"),
    ];
    for (total, level, clause) in table {
        assert_eq!(
            Level::from_total(total),
            Some(level),
            "standards/README.md §1.4 {clause} (total {total})"
        );
        let s = scored(&answers_with_total(total), &Conditions::default());
        assert_eq!(s.total, total, "answers_with_total({total})");
        assert_eq!(
            s.preliminary, level,
            "standards/README.md §1.4 {clause} (scored total {total})"
        );
        assert_eq!(s.final_level, level, "C.5: no C.4 rule, final = preliminary");
    }
    assert_eq!(Level::from_total(91), None);
    assert_eq!(Level::from_total(u8::MAX), None);
}

#[test]
fn level_codes_and_names() {
    // standards/README.md §1.4 names; codes 0–4 as stored in the CapabilityLevel fact.
    let names: Vec<&str> = Level::ALL.iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        [
            "能力完好",
            "能力轻度受损（轻度失能）",
            "能力中度受损（中度失能）",
            "能力重度受损（重度失能）",
            "能力完全丧失（完全失能）"
        ]
    );
    for (code, level) in Level::ALL.iter().enumerate() {
        assert_eq!(usize::from(level.code()), code);
        assert_eq!(Level::from_code(level.code()), Some(*level));
    }
    assert_eq!(Level::from_code(5), None);
    assert_eq!(Level::Mild.raised(), Level::Moderate);
    assert_eq!(Level::Lost.raised(), Level::Lost);
    assert_eq!(Level::Severe.to_string(), "3级 能力重度受损（重度失能）");
}

// ---------- invalid answers ----------

#[test]
fn invalid_scores_name_item_and_value() {
    // (position in form order, code, value)
    let cases = [
        (0, "B.1.1", 5),
        (11, "B.2.4", 4),
        (18, "B.3.7", 2),
        (20, "B.3.9", 3),
        (21, "B.4.1", 4),
        (24, "B.4.4", 255),
    ];
    for (which, code, value) in cases {
        let mut a = Answers::best();
        set_flat(&mut a, which, value);
        let err = score(&a, &Conditions::default()).expect_err(code);
        match &err {
            AnswerError::NotAllowed { code: c, value: v, .. } => {
                assert_eq!((*c, *v), (code, value));
            }
            other => panic!("{code}: unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(code) && msg.contains(&value.to_string()), "{msg}");
    }
    let mut a = Answers::best();
    a.mobility[3] = 4;
    assert_eq!(
        score(&a, &Conditions::default()).map_err(|e| e.to_string()),
        Err("B.2.4 上下楼梯：4分不是该项的可选分值（可选：0、1、2、3）".to_string())
    );
}

#[test]
fn answers_from_pairs() {
    let pairs: Vec<(&str, u8)> = all_items().map(|i| (i.code, i.max())).collect();
    assert_eq!(Answers::from_pairs(pairs.iter().rev().copied()), Ok(Answers::best()));
    let a = answers_with_total(50);
    let pairs: Vec<(&str, u8)> = all_items().map(|i| (i.code, a.get(i.code).unwrap_or(99))).collect();
    assert_eq!(Answers::from_pairs(pairs.clone()), Ok(a));
    assert_eq!(a.get("B.2.4"), Some(a.mobility[3]));
    assert_eq!(a.get("B.5.1"), None);

    let mut unknown = pairs.clone();
    unknown.push(("B.5.1", 1));
    assert_eq!(
        Answers::from_pairs(unknown),
        Err(AnswerError::UnknownItem("B.5.1".into()))
    );
    let mut dup = pairs.clone();
    dup.push(("B.3.2", 1));
    assert_eq!(Answers::from_pairs(dup), Err(AnswerError::Duplicate("B.3.2")));
    let missing: Vec<_> = pairs.iter().copied().filter(|(c, _)| *c != "B.4.2").collect();
    assert_eq!(Answers::from_pairs(missing), Err(AnswerError::Missing("B.4.2")));
    // Out-of-range scores pass collection and fail in scoring, naming the item.
    let mut bad = pairs;
    bad[0].1 = 9;
    let a = Answers::from_pairs(bad).expect("collected");
    assert!(matches!(
        score(&a, &Conditions::default()),
        Err(AnswerError::NotAllowed {
            code: "B.1.1",
            value: 9,
            ..
        })
    ));
}

// ---------- C.4 / C.5: README §1.5 ----------

#[test]
fn coma_gives_complete_loss() {
    // standards/README.md §1.5 C.4 (1)：处于昏迷状态者，直接评定为能力完全丧失（完全失能）。
    let coma = Conditions {
        coma: true,
        ..Conditions::default()
    };
    for total in [90, 70, 50, 35, 10] {
        let s = scored(&answers_with_total(total), &coma);
        assert_eq!(s.final_level, Level::Lost, "C.4（1）昏迷 → 能力完全丧失, total {total}");
        assert_eq!(
            s.preliminary,
            Level::from_total(total).expect("≤ 90"),
            "C.3 unchanged by C.4"
        );
        assert_eq!(rules(&s), [ChangeRule::Coma]);
        assert!(s.changes[0].clause.starts_with("C.4") && s.changes[0].clause.contains("处于昏迷状态者"));
        assert!(s.changes[0].detail.contains("A.5.11"));
    }
}

#[test]
fn coma_overrides_other_rules() {
    // README §1.5 decision: coma first; the +1 rules do not add to it (as S4).
    let c = Conditions {
        coma: true,
        diagnoses: vec!["F01.1".into()],
        risk_events: RiskEvents {
            falls: RiskEventCount::Twice,
            ..RiskEvents::default()
        },
    };
    let s = scored(&Answers::best(), &c);
    assert_eq!(s.final_level, Level::Lost, "C.4（1）overrides (2) and (3)");
    assert_eq!(
        rules(&s),
        [ChangeRule::Coma, ChangeRule::MentalDisorder, ChangeRule::RiskEvents]
    );
}

#[test]
fn dementia_raises_one_level() {
    // standards/README.md §1.5 C.4 (2)：确诊为痴呆（F00～F03）…在原有能力级别上应提高一个级别。
    let s = scored(&answers_with_total(70), &with_diagnoses(&["F01.1"]));
    assert_eq!(s.preliminary, Level::Mild);
    assert_eq!(s.final_level, Level::Moderate, "C.4（2）痴呆 F01.1: 轻度 → 中度");
    assert_eq!(rules(&s), [ChangeRule::MentalDisorder]);
    assert!(s.changes[0].clause.contains("痴呆（F00～F03）"));
    assert!(
        s.changes[0].detail.contains("F01.1") && s.changes[0].detail.contains("痴呆"),
        "{}",
        s.changes[0].detail
    );
    assert_eq!(
        s.changes[0].to_string(),
        format!("{}。依据：A.4.1 疾病诊断：痴呆（F00～F03）F01.1", s.changes[0].clause)
    );
}

#[test]
fn other_mental_disorder_raises_one_level() {
    // standards/README.md §1.5 C.4 (2)：精神科专科医生诊断的其他精神和行为障碍疾病（F04～F99）…提高一个级别。
    for code in ["F04", "F20.0", "F32", "F99"] {
        let s = scored(&answers_with_total(90), &with_diagnoses(&[code]));
        assert_eq!(s.final_level, Level::Mild, "C.4（2）{code}: 能力完好 → 轻度");
        assert!(s.changes[0].detail.contains("其他精神和行为障碍"), "{code}");
    }
}

#[test]
fn other_diagnoses_change_nothing() {
    // README §1.7 A.4.1: only 痴呆 F00～F03 and F04～F99 feed C.4 (2).
    let s = scored(
        &answers_with_total(70),
        &with_diagnoses(&["I10", "E11.9", "G30.1", "G20"]),
    );
    assert_eq!(s.final_level, Level::Mild);
    assert!(s.changes.is_empty());
}

#[test]
fn risk_events_summed_across_categories() {
    // standards/README.md §1.5 C.4 (3)：近30天内发生过2次及以上照护风险事件…提高一个等级;
    // decision: counted over all A.2.14 categories.
    let one_fall = RiskEvents {
        falls: RiskEventCount::Once,
        ..RiskEvents::default()
    };
    let c = |events: RiskEvents| Conditions {
        risk_events: events,
        ..Conditions::default()
    };
    let s = scored(&answers_with_total(50), &c(one_fall));
    assert_eq!(s.final_level, Level::Moderate, "C.4（3）one event is not 2次及以上");
    assert!(s.changes.is_empty());

    let fall_and_wandering = RiskEvents {
        wandering: RiskEventCount::Once,
        ..one_fall
    };
    let s = scored(&answers_with_total(50), &c(fall_and_wandering));
    assert_eq!(s.final_level, Level::Severe, "C.4（3）跌倒1次 + 走失1次 = 2次 → +1");
    assert_eq!(rules(&s), [ChangeRule::RiskEvents]);
    assert!(s.changes[0].clause.contains("2次及以上照护风险事件"));
    assert_eq!(
        s.changes[0].detail,
        "A.2.14 近30天内照护风险事件共2次（A.2.14.1 跌倒发生过1次、A.2.14.2 走失发生过1次）"
    );

    let twice = RiskEvents {
        other: RiskEventCount::Twice,
        ..RiskEvents::default()
    };
    assert_eq!(
        scored(&answers_with_total(50), &c(twice)).final_level,
        Level::Severe,
        "C.4（3）其他 2次"
    );

    // "发生过3次及以上" counts 3 (README §1.5).
    let three = RiskEvents {
        choking: RiskEventCount::ThreeOrMore,
        ..RiskEvents::default()
    };
    assert_eq!(three.total(), 3);
    let s = scored(&answers_with_total(50), &c(three));
    assert_eq!(s.final_level, Level::Severe, "C.4（3）噎食 3次及以上");
    assert!(s.changes[0].detail.contains("共至少3次"), "{}", s.changes[0].detail);

    let all = RiskEvents {
        falls: RiskEventCount::ThreeOrMore,
        wandering: RiskEventCount::ThreeOrMore,
        choking: RiskEventCount::ThreeOrMore,
        self_harm: RiskEventCount::ThreeOrMore,
        other: RiskEventCount::ThreeOrMore,
    };
    assert_eq!(all.total(), 15);
}

#[test]
fn risk_event_counts() {
    let counts: Vec<RiskEventCount> = [0, 1, 2, 3, 4, u32::MAX].map(RiskEventCount::from_count).to_vec();
    assert_eq!(
        counts,
        [
            RiskEventCount::None,
            RiskEventCount::Once,
            RiskEventCount::Twice,
            RiskEventCount::ThreeOrMore,
            RiskEventCount::ThreeOrMore,
            RiskEventCount::ThreeOrMore
        ]
    );
    assert_eq!(counts.iter().map(|c| c.count()).collect::<Vec<_>>(), [0, 1, 2, 3, 3, 3]);
    assert_eq!(RiskEventCount::ThreeOrMore.label(), "发生过3次及以上");
}

#[test]
fn both_raising_rules_raise_once() {
    // README §1.5 decision: (2) and (3) together still raise one level ("有以下情况之一…提高一个级别").
    let c = Conditions {
        diagnoses: vec!["F03".into()],
        risk_events: RiskEvents {
            falls: RiskEventCount::Twice,
            ..RiskEvents::default()
        },
        ..Conditions::default()
    };
    let s = scored(&answers_with_total(90), &c);
    assert_eq!(s.final_level, Level::Mild, "C.4（2）+（3）: 能力完好 → 轻度, not 中度");
    assert_eq!(rules(&s), [ChangeRule::MentalDisorder, ChangeRule::RiskEvents]);
}

#[test]
fn raise_is_capped_at_complete_loss() {
    // README §1.5 decision: cap at 能力完全丧失.
    let s = scored(&answers_with_total(20), &with_diagnoses(&["F00.1"]));
    assert_eq!((s.preliminary, s.final_level), (Level::Lost, Level::Lost));
    assert_eq!(
        rules(&s),
        [ChangeRule::MentalDisorder],
        "C.4 lists the rule even when capped"
    );
    let s = scored(&answers_with_total(30), &with_diagnoses(&["F00.1"]));
    assert_eq!((s.preliminary, s.final_level), (Level::Severe, Level::Lost));
}

#[test]
fn every_level_raises_by_one() {
    // C.5 combines C.3 and C.4: each preliminary level moves up exactly one with rule (2).
    for (total, expected) in [
        (90, Level::Mild),
        (66, Level::Moderate),
        (46, Level::Severe),
        (30, Level::Lost),
        (0, Level::Lost),
    ] {
        let s = scored(&answers_with_total(total), &with_diagnoses(&["F02.0"]));
        assert_eq!(s.final_level, expected, "total {total}");
    }
}

// ---------- ICD-10 ----------

#[test]
fn icd_codes_parse_leniently() {
    let dementia = [
        "F01.1",
        "f01.1",
        "F011",
        " F01.1 ",
        "F 01.1",
        "Ｆ０１．１",
        "F00.0*",
        "F00.0†",
        "F03.X00X001",
        "f03.",
        "F02",
    ];
    for input in dementia {
        let code = Icd10::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(code.mental_disorder(), Some(MentalDisorder::Dementia), "{input}");
    }
    assert_eq!(Icd10::parse("f011").map(|c| c.to_string()), Ok("F01.1".to_string()));
    assert_eq!(Icd10::parse("F03.").map(|c| c.to_string()), Ok("F03".to_string()));
    for input in ["F04", "F05.9", "f99", "F10.2"] {
        assert_eq!(
            Icd10::parse(input).map(|c| c.mental_disorder()),
            Ok(Some(MentalDisorder::Other)),
            "{input}"
        );
    }
    for input in ["G30", "E03", "I10.x01", "A00"] {
        assert_eq!(Icd10::parse(input).map(|c| c.mental_disorder()), Ok(None), "{input}");
    }
}

#[test]
fn bad_icd_codes_are_errors() {
    let long = "F".repeat(1000);
    for input in [
        "",
        "   ",
        "痴呆",
        "F",
        "F1",
        "FO1",
        "F00-F03",
        "F01..1",
        "01.1",
        "F01.1痴呆",
        "F0１-",
        long.as_str(),
    ] {
        assert!(Icd10::parse(input).is_err(), "{input:?} should be rejected");
        let err = score(&Answers::best(), &with_diagnoses(&["I10", input])).expect_err(input);
        assert!(matches!(err, AnswerError::Diagnosis(_)), "{input:?}: {err:?}");
        assert!(err.to_string().starts_with("A.4.1 疾病诊断"), "{err}");
    }
}

// ---------- proptest ----------

fn arb_answers() -> impl Strategy<Value = Answers> {
    proptest::collection::vec(any::<prop::sample::Index>(), 26).prop_map(|picks| {
        let mut scores = all_items()
            .zip(picks)
            .map(|(item, pick)| item.options[pick.index(item.options.len())].score);
        let mut a = Answers::worst();
        let slots: [&mut [u8]; 4] = [&mut a.self_care, &mut a.mobility, &mut a.mental, &mut a.perception];
        for slot in slots {
            for s in slot.iter_mut() {
                *s = scores.next().unwrap_or(0);
            }
        }
        a
    })
}

fn arb_count() -> impl Strategy<Value = RiskEventCount> {
    (0u32..4).prop_map(RiskEventCount::from_count)
}

fn arb_conditions() -> impl Strategy<Value = Conditions> {
    let codes = prop::sample::select(vec!["F01.1", "f32", "I10", "G30", "E11.9", "F99"]);
    (
        any::<bool>(),
        proptest::collection::vec(codes, 0..3),
        (arb_count(), arb_count(), arb_count(), arb_count(), arb_count()),
    )
        .prop_map(
            |(coma, diagnoses, (falls, wandering, choking, self_harm, other))| Conditions {
                coma,
                diagnoses: diagnoses.into_iter().map(String::from).collect(),
                risk_events: RiskEvents {
                    falls,
                    wandering,
                    choking,
                    self_harm,
                    other,
                },
            },
        )
}

proptest! {
    #[test]
    fn total_is_sum_of_subtotals(a in arb_answers(), c in arb_conditions()) {
        let s = score(&a, &c).expect("valid by construction");
        prop_assert_eq!(s.total, s.subtotals.iter().map(|t| t.score).sum::<u8>());
        let flat: u8 = a.slices().iter().flat_map(|x| x.iter()).sum();
        prop_assert_eq!(s.total, flat);
        prop_assert!(s.total <= MAX_TOTAL);
        for (t, ind) in s.subtotals.iter().zip(&INDICATORS) {
            prop_assert!(t.score <= ind.max());
        }
        prop_assert_eq!(Some(s.preliminary), Level::from_total(s.total));
        // C.5: never better than C.3; coma → 完全丧失; otherwise at most one level up.
        prop_assert!(s.final_level >= s.preliminary);
        if c.coma {
            prop_assert_eq!(s.final_level, Level::Lost);
        } else {
            prop_assert!(s.final_level <= s.preliminary.raised());
            prop_assert_eq!(s.final_level != s.preliminary, !s.changes.is_empty() && s.preliminary != Level::Lost);
        }
    }

    #[test]
    fn level_is_monotone_in_total(x in 0u8..=90, y in 0u8..=90) {
        let (lo, hi) = (x.min(y), x.max(y));
        let (l_lo, l_hi) = (Level::from_total(lo), Level::from_total(hi));
        prop_assert!(l_lo.is_some() && l_hi.is_some());
        prop_assert!(l_hi <= l_lo, "total {} → {:?} but {} → {:?}", hi, l_hi, lo, l_lo);
    }

    #[test]
    fn scored_level_is_monotone(a in arb_answers(), b in arb_answers(), c in arb_conditions()) {
        let (sa, sb) = (score(&a, &c).expect("valid"), score(&b, &c).expect("valid"));
        if sa.total <= sb.total {
            prop_assert!(sb.preliminary <= sa.preliminary);
            prop_assert!(sb.final_level <= sa.final_level);
        }
    }

    #[test]
    fn any_invalid_score_is_named(a in arb_answers(), which in 0usize..26, bad in any::<u8>()) {
        let item = all_items().nth(which).expect("26 items");
        prop_assume!(!item.allows(bad));
        let mut a = a;
        set_flat(&mut a, which, bad);
        let err = score(&a, &Conditions::default());
        prop_assert!(
            matches!(err, Err(AnswerError::NotAllowed { code, value, .. }) if code == item.code && value == bad),
            "{:?}", err
        );
    }

    #[test]
    fn icd_parse_never_panics(s in "\\PC{0,40}") {
        let _ = Icd10::parse(&s);
    }
}

// ---------- LTC: README §2.2 / §2.3 ----------

/// README §2.3's *recollection* (UNCONFIRMED): a fixture for the mechanics only, not real cut-offs.
fn fixture_spec() -> LtcGradingSpec {
    LtcGradingSpec {
        source: "测试用（standards/README.md §2.3 回忆值，未核实）".into(),
        adl: Cuts {
            intact_min: 100,
            mild_min: 65,
            moderate_min: 45,
        },
        cognition: Cuts {
            intact_min: 16,
            mild_min: 12,
            moderate_min: 8,
        },
        perception: Cuts {
            intact_min: 12,
            mild_min: 9,
            moderate_min: 6,
        },
        combination: Combination::AdlByWorseOther {
            grades: [[0, 0, 1, 1], [1, 1, 1, 2], [2, 2, 2, 3], [3, 3, 4, 5]],
        },
    }
}

#[test]
fn ltc_items_and_maxima() {
    // standards/README.md §2.1/§2.2: 3 一级指标, 17 二级指标 (10 + 4 + 3); ADL 0–100, 认知 0–16, 感知觉与沟通 0–12.
    let counts: Vec<usize> = ltc::DIMENSIONS.iter().map(|d| d.items.len()).collect();
    assert_eq!(counts, [10, 4, 3]);
    let maxima: Vec<u8> = ltc::DIMENSIONS.iter().map(|d| d.max()).collect();
    assert_eq!(maxima, [100, 16, 12]);
    let adl_max: Vec<u8> = ltc::ADL.iter().map(Item::max).collect();
    assert_eq!(
        adl_max,
        [10, 10, 5, 10, 10, 10, 15, 15, 10, 5],
        "README §2.2 Barthel-type maxima"
    );
    for d in &ltc::DIMENSIONS {
        for item in d.items {
            let step = if d.code == "C1" { 5 } else { 1 };
            let scores: Vec<u8> = item.options.iter().map(|o| o.score).collect();
            let expected: Vec<u8> = (0..=item.max()).step_by(step).collect();
            assert_eq!(scores, expected, "{} {}", item.code, item.name);
        }
    }
    // README §2.2: 人物定向 2 reads "能认识一半" (differs from GB/T 42195 B.3.3).
    assert!(ltc::COGNITION[1]
        .option(2)
        .is_some_and(|o| o.text.starts_with("能认识一半")));
}

#[test]
fn ltc_scores_without_table_have_no_grade() {
    // standards/README.md §2.3: cut-offs and 组合法 table UNCONFIRMED → no official grade without a table.
    let s = ltc::score(&LtcAnswers::best(), None).expect("valid");
    assert_eq!((s.adl, s.cognition, s.perception), (100, 16, 12));
    assert_eq!(s.grading, None);
    assert_eq!(s.grade(), None);

    let a = LtcAnswers {
        adl: [5, 5, 0, 10, 5, 5, 10, 5, 0, 0],
        cognition: [2, 3, 1, 0],
        perception: [4, 2, 3],
    };
    let s = ltc::score(&a, None).expect("valid");
    assert_eq!((s.adl, s.cognition, s.perception), (45, 6, 9));
}

#[test]
fn ltc_invalid_scores() {
    let mut a = LtcAnswers::best();
    a.adl[2] = 10; // 面部与口腔清洁 has only 0 / 5
    let err = ltc::score(&a, None).expect_err("10 not allowed");
    assert_eq!(
        err.to_string(),
        "C1.3 面部与口腔清洁：10分不是该项的可选分值（可选：0、5）"
    );
    let mut a = LtcAnswers::best();
    a.adl[0] = 7;
    assert!(matches!(
        ltc::score(&a, None),
        Err(AnswerError::NotAllowed {
            code: "C1.1",
            value: 7,
            ..
        })
    ));
    let mut a = LtcAnswers::best();
    a.perception[2] = 5;
    assert!(matches!(
        ltc::score(&a, None),
        Err(AnswerError::NotAllowed {
            code: "C3.3",
            value: 5,
            ..
        })
    ));
}

#[test]
fn ltc_from_pairs() {
    let pairs: Vec<(&str, u8)> = ltc::DIMENSIONS
        .iter()
        .flat_map(|d| d.items.iter())
        .map(|i| (i.code, i.max()))
        .collect();
    assert_eq!(LtcAnswers::from_pairs(pairs.clone()), Ok(LtcAnswers::best()));
    assert_eq!(
        LtcAnswers::from_pairs(pairs[1..].iter().copied()),
        Err(AnswerError::Missing("C1.1"))
    );
    assert!(matches!(
        LtcAnswers::from_pairs([("B.1.1", 4)]),
        Err(AnswerError::UnknownItem(_))
    ));
}

#[test]
fn ltc_grades_with_a_loaded_table() {
    let table = LtcGradingTable::new(fixture_spec()).expect("fixture is consistent");
    let s = ltc::score(&LtcAnswers::best(), Some(&table)).expect("valid");
    let g = s.grading.as_ref().expect("table loaded");
    assert_eq!(
        (g.adl, g.cognition, g.perception),
        (Impairment::Intact, Impairment::Intact, Impairment::Intact)
    );
    assert_eq!(g.grade, LtcGrade::Normal);
    assert!(g.source.contains("未核实"));

    // ADL 45 → 中度; 认知 6 → 重度; 感知 9 → 轻度; worse of the two = 重度 → grades[2][3] = 3.
    let a = LtcAnswers {
        adl: [5, 5, 0, 10, 5, 5, 10, 5, 0, 0],
        cognition: [2, 3, 1, 0],
        perception: [4, 2, 3],
    };
    let s = ltc::score(&a, Some(&table)).expect("valid");
    let g = s.grading.expect("table loaded");
    assert_eq!(
        (g.adl, g.cognition, g.perception),
        (Impairment::Moderate, Impairment::Severe, Impairment::Mild)
    );
    assert_eq!(g.grade, LtcGrade::SevereI);
    assert_eq!(g.grade.to_string(), "3级（重度失能Ⅰ级）");

    // Band edges.
    let cuts = fixture_spec().adl;
    let degrees: Vec<Impairment> = [100, 99, 65, 64, 45, 44, 0].map(|s| cuts.degree(s)).to_vec();
    assert_eq!(
        degrees,
        [
            Impairment::Intact,
            Impairment::Mild,
            Impairment::Mild,
            Impairment::Moderate,
            Impairment::Moderate,
            Impairment::Severe,
            Impairment::Severe
        ]
    );
    assert_eq!(table.grade(0, 0, 0).grade, LtcGrade::SevereIII);
    assert_eq!(table.grade(100, 0, 12).grade, LtcGrade::Mild);
}

#[test]
fn ltc_full_combination() {
    // A three-way table: grade = worst degree index + 1 if 认知 is 重度, as an arbitrary but monotone rule.
    let mut grades = [[[0u8; 4]; 4]; 4];
    for (a, plane) in grades.iter_mut().enumerate() {
        for (g, row) in plane.iter_mut().enumerate() {
            for (p, cell) in row.iter_mut().enumerate() {
                *cell = (a.max(g).max(p) + usize::from(g == 3)) as u8;
            }
        }
    }
    let spec = LtcGradingSpec {
        combination: Combination::Full { grades },
        ..fixture_spec()
    };
    let table = LtcGradingTable::try_from(spec.clone()).expect("monotone");
    assert_eq!(table.spec(), &spec);
    assert_eq!(table.grade(100, 16, 12).grade, LtcGrade::Normal);
    assert_eq!(table.grade(100, 0, 12).grade, LtcGrade::SevereII);
    assert_eq!(table.grade(100, 16, 0).grade, LtcGrade::SevereI);
    assert_eq!(LtcGradingSpec::from(table), spec);
}

#[test]
fn ltc_table_is_checked() {
    let empty_source = LtcGradingSpec {
        source: " ".into(),
        ..fixture_spec()
    };
    assert_eq!(LtcGradingTable::new(empty_source), Err(TableError::NoSource));

    let mut spec = fixture_spec();
    spec.cognition.intact_min = 17; // above the 16 maximum
    assert!(matches!(
        LtcGradingTable::new(spec),
        Err(TableError::Cuts {
            dimension: "认知能力",
            max: 16,
            ..
        })
    ));
    let mut spec = fixture_spec();
    spec.adl.mild_min = 40; // below moderate_min
    assert!(matches!(
        LtcGradingTable::new(spec),
        Err(TableError::Cuts {
            dimension: "日常生活活动能力",
            ..
        })
    ));
    let mut spec = fixture_spec();
    spec.perception.moderate_min = 0; // 重度受损 would be empty
    assert!(matches!(
        LtcGradingTable::new(spec),
        Err(TableError::Cuts {
            dimension: "感知觉与沟通能力",
            ..
        })
    ));

    let out_of_range = LtcGradingSpec {
        combination: Combination::AdlByWorseOther {
            grades: [[0, 0, 1, 1], [1, 1, 1, 2], [2, 2, 2, 3], [3, 3, 4, 6]],
        },
        ..fixture_spec()
    };
    assert_eq!(LtcGradingTable::new(out_of_range), Err(TableError::GradeOutOfRange(6)));

    let swapped_rows = LtcGradingSpec {
        combination: Combination::AdlByWorseOther {
            grades: [[0, 0, 1, 1], [2, 2, 2, 3], [1, 1, 1, 2], [3, 3, 4, 5]],
        },
        ..fixture_spec()
    };
    assert!(matches!(
        LtcGradingTable::new(swapped_rows),
        Err(TableError::NotMonotone { .. })
    ));
}
