//! 长期护理失能等级评估表 (医保办发〔2021〕37号 附件1; `standards/README.md` §2.2): items, scores
//! and dimension scores. The dimension cut-offs and the 组合法 table are unconfirmed (§2.3), so the
//! official grade comes only from an [`LtcGradingTable`] that a jurisdiction loads.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{collect_pairs, AnswerError, Indicator, Item, Opt};

const fn o(score: u8, text: &'static str) -> Opt {
    Opt { score, text }
}

// Item codes C1.1 … C3.3 follow README §2.2's dimension labels C1–C3; the printed form's own
// numbering is not confirmed. Options are listed as the README lists them (0 first).
const fn item(code: &'static str, name: &'static str, options: &'static [Opt]) -> Item {
    Item {
        code,
        name,
        definition: None,
        options,
    }
}

/// C1 日常生活活动能力 (0–100). 用厕/上下楼 5 and 10 are inferred from Barthel in the one
/// source that has the numbers (README §2.2).
pub static ADL: [Item; 10] = [
    item(
        "C1.1",
        "进食",
        &[
            o(0, "较大或完全依赖，或有留置营养管"),
            o(5, "需部分帮助（夹菜、盛饭）"),
            o(
                10,
                "自理（在合理时间内能独立使用餐具进食各种食物，可使用辅助工具独立完成进食，但不包括做饭）",
            ),
        ],
    ),
    item(
        "C1.2",
        "穿衣",
        &[
            o(0, "依赖他人"),
            o(
                5,
                "需要部分帮助（能自己穿脱衣服或假肢或矫形器，但需要他人帮助整理衣物、系扣/鞋带、拉拉链等）",
            ),
            o(10, "自理（自己系开纽扣，关开拉链和穿鞋、袜、假肢或矫形器等）"),
        ],
    ),
    item(
        "C1.3",
        "面部与口腔清洁",
        &[
            o(0, "需要帮助"),
            o(
                5,
                "独立洗脸、梳头、刷牙、剃须（不包括准备洗脸水、梳子、牙刷等准备工作）",
            ),
        ],
    ),
    item(
        "C1.4",
        "大便控制",
        &[
            o(0, "失禁（平均每周≥1次或完全不能控制大便排泄，需要完全依赖他人）"),
            o(5, "偶有失禁（每周<1次），或需要他人提示或便秘需要人工帮助取便"),
            o(10, "能控制"),
        ],
    ),
    item(
        "C1.5",
        "小便控制",
        &[
            o(
                0,
                "失禁（平均每天≥1次或经常尿失禁，完全需要他人帮忙完成排尿行为；或留置导尿管，但无法自行管理导尿管）",
            ),
            o(5, "偶有失禁（每24h<1次，但每周>1次），或需要他人提示"),
            o(10, "能控制（或留置导尿管，可自行管理导尿管）"),
        ],
    ),
    item(
        "C1.6",
        "用厕",
        &[
            o(0, "需要极大地帮助或完全依赖他人"),
            o(5, "需部分帮助（需他人帮忙整理衣裤、坐上/蹲上便器等）"),
            o(10, "自理（能够使用厕纸、穿脱裤子等）"),
        ],
    ),
    item(
        "C1.7",
        "平地行走",
        &[
            o(0, "卧床不起、不能步行、移动需要完全帮助"),
            o(
                5,
                "在较大程度上依赖他人搀扶（≥2人）或依赖他人帮助使用轮椅等辅助工具才能移动",
            ),
            o(10, "需少量帮助（需1人搀扶或需他人在旁提示或在他人帮助下使用辅助工具）"),
            o(
                15,
                "独立步行（自行使用辅助工具，在家及附近等日常生活活动范围内独立步行）",
            ),
        ],
    ),
    item(
        "C1.8",
        "床椅转移",
        &[
            o(0, "完全依赖他人，不能坐"),
            o(5, "需大量帮助（至少2人，身体帮助），能坐"),
            o(
                10,
                "需少量帮助（1人搀扶或使用拐杖等辅助工具或扶着墙、周围设施，转移时需他人在旁监护、提示）",
            ),
            o(15, "自理"),
        ],
    ),
    item(
        "C1.9",
        "上下楼",
        &[
            o(0, "不能，或需极大帮助或完全依赖他人"),
            o(5, "需要部分帮助（需扶着楼梯、他人搀扶、使用拐杖或需他人在旁提示）"),
            o(10, "独立上下楼（可借助电梯等，如果使用支具，需可独自完成穿、脱动作）"),
        ],
    ),
    item(
        "C1.10",
        "洗澡",
        &[o(0, "洗澡过程中需他人帮助"), o(5, "准备好洗澡水后，可自己独立完成")],
    ),
];

/// C2 认知能力 (0–16).
pub static COGNITION: [Item; 4] = [
    // Same texts as GB/T 42195 B.3.1 (README §2.2).
    item(
        "C2.1",
        "时间定向",
        &[
            o(0, "无时间观念"),
            o(1, "时间观念很差，年、月、日不清楚，可知上午、下午或白天、夜间"),
            o(2, "时间观念较差，年、月、日不清楚，可知上半年或下半年或季节"),
            o(
                3,
                "时间观念有些下降，年、月、日（或星期几）不能全部分清（相差两天或以上）",
            ),
            o(4, "时间观念（年、月）清楚，日期（或星期几）可相差一天"),
        ],
    ),
    item(
        "C2.2",
        "人物定向",
        &[
            o(0, "不认识任何人（包括自己）"),
            o(1, "只认识自己或极少数日常同住的亲人或照护者等"),
            o(2, "能认识一半日常同住的亲人或照护者等，能称呼或知道关系等"),
            o(3, "能认识大部分共同生活居住的人，能称呼或知道关系"),
            o(4, "认识长期共同一起生活的人，能称呼并知道关系"),
        ],
    ),
    item(
        "C2.3",
        "空间定向",
        &[
            o(0, "不能单独外出，无空间观念"),
            o(1, "不能单独外出，少量知道自己居住或生活所在地的地址"),
            o(2, "不能单独外出，但知道较多有关自己日常生活的地址"),
            o(3, "不能单独外出，但能准确知道自己日常生活所在地的地址"),
            o(4, "能在日常生活范围内单独外出，如在日常居住小区内独自外出购物等"),
        ],
    ),
    item(
        "C2.4",
        "记忆力",
        &[
            o(0, "完全不能回忆即时信息，并且完全不能对既往事物进行正确的回忆"),
            o(1, "对既往事物能有少部分正确的回忆，没有近期记忆"),
            o(2, "能回忆大部分既往事物，记住1个词语"),
            o(3, "能回忆大部分既往事物，记住2个词语"),
            o(4, "能够完整回忆既往事物，记住3个词语"),
        ],
    ),
];

/// C3 感知觉与沟通能力 (0–12).
pub static PERCEPTION: [Item; 3] = [
    item(
        "C3.1",
        "视力",
        &[
            o(0, "完全失明"),
            o(1, "只能看到光、颜色和形状（大致轮廓），眼睛可随物体移动"),
            o(2, "视力有限，看不清报纸大标题，但能辨认较大的物体"),
            o(3, "能看清楚大字体，但看不清书报上的标准字体，辨别小物体有一定困难"),
            o(4, "与日常生活能力相关的视力（如阅读书报、看电视等）基本正常"),
        ],
    ),
    item(
        "C3.2",
        "听力",
        &[
            o(0, "完全失聪"),
            o(1, "讲话者大声说话或说话很慢，才能部分听见"),
            o(2, "正常交流有些困难，需在安静的环境大声说话才能听到"),
            o(3, "在轻声说话或说话距离超过2米时听不清"),
            o(4, "与日常生活习惯相关的听力基本正常（如能听到门铃、电视、电话等声音）"),
        ],
    ),
    item(
        "C3.3",
        "沟通能力",
        &[
            o(0, "完全不能理解他人的言语，也无法表达"),
            o(1, "不能完全理解他人的话，只能以简单的单词或手势表达大概意愿"),
            o(2, "勉强可与他人交流，谈吐内容不清楚，需频繁重复或简化口头表达"),
            o(3, "能够表达自己的需要或理解他人的话，但需要增加时间或给予帮助"),
            o(4, "无困难，能与他人正常沟通和交流"),
        ],
    ),
];

/// The three first-level indicators (3 一级指标, 17 二级指标).
pub static DIMENSIONS: [Indicator; 3] = [
    Indicator {
        code: "C1",
        name: "日常生活活动能力",
        items: &ADL,
    },
    Indicator {
        code: "C2",
        name: "认知能力",
        items: &COGNITION,
    },
    Indicator {
        code: "C3",
        name: "感知觉与沟通能力",
        items: &PERCEPTION,
    },
];

/// The chosen option score of every item, in form order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LtcAnswers {
    /// C1.1–C1.10
    pub adl: [u8; 10],
    /// C2.1–C2.4
    pub cognition: [u8; 4],
    /// C3.1–C3.3
    pub perception: [u8; 3],
}

impl LtcAnswers {
    /// The best option of every item (100 / 16 / 12).
    pub fn best() -> LtcAnswers {
        LtcAnswers {
            adl: ADL.map(|i| i.max()),
            cognition: COGNITION.map(|i| i.max()),
            perception: PERCEPTION.map(|i| i.max()),
        }
    }

    /// From `(item code, score)` pairs such as `("C1.1", 10)`, one per item in any order.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, u8)>) -> Result<LtcAnswers, AnswerError> {
        let rows = collect_pairs(&DIMENSIONS, pairs)?;
        let mut answers = LtcAnswers {
            adl: [0; 10],
            cognition: [0; 4],
            perception: [0; 3],
        };
        let slots: [&mut [u8]; 3] = [&mut answers.adl, &mut answers.cognition, &mut answers.perception];
        for (slot, row) in slots.into_iter().zip(rows) {
            slot.copy_from_slice(&row);
        }
        Ok(answers)
    }
}

/// A dimension's grading (能力完好 / 轻度受损 / 中度受损 / 重度受损). Ordered best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Impairment {
    Intact,
    Mild,
    Moderate,
    Severe,
}

impl Impairment {
    pub const ALL: [Impairment; 4] = [
        Impairment::Intact,
        Impairment::Mild,
        Impairment::Moderate,
        Impairment::Severe,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Impairment::Intact => "能力完好",
            Impairment::Mild => "轻度受损",
            Impairment::Moderate => "中度受损",
            Impairment::Severe => "重度受损",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// 长期护理失能等级 0–5 (names CONFIRMED, README §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LtcGrade {
    /// 0级 基本正常
    Normal,
    /// 1级 轻度失能
    Mild,
    /// 2级 中度失能
    Moderate,
    /// 3级 重度失能Ⅰ级
    SevereI,
    /// 4级 重度失能Ⅱ级
    SevereII,
    /// 5级 重度失能Ⅲ级
    SevereIII,
}

impl LtcGrade {
    pub const ALL: [LtcGrade; 6] = [
        LtcGrade::Normal,
        LtcGrade::Mild,
        LtcGrade::Moderate,
        LtcGrade::SevereI,
        LtcGrade::SevereII,
        LtcGrade::SevereIII,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<LtcGrade> {
        LtcGrade::ALL.get(usize::from(code)).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            LtcGrade::Normal => "基本正常",
            LtcGrade::Mild => "轻度失能",
            LtcGrade::Moderate => "中度失能",
            LtcGrade::SevereI => "重度失能Ⅰ级",
            LtcGrade::SevereII => "重度失能Ⅱ级",
            LtcGrade::SevereIII => "重度失能Ⅲ级",
        }
    }
}

impl fmt::Display for LtcGrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}级（{}）", self.code(), self.name())
    }
}

/// Lowest score of each band of one dimension; below `moderate_min` is 重度受损.
/// E.g. `intact_min = 100, mild_min = 65, moderate_min = 45` reads 100 / 65–99 / 45–64 / 0–44.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cuts {
    pub intact_min: u8,
    pub mild_min: u8,
    pub moderate_min: u8,
}

impl Cuts {
    pub fn degree(&self, score: u8) -> Impairment {
        if score >= self.intact_min {
            Impairment::Intact
        } else if score >= self.mild_min {
            Impairment::Mild
        } else if score >= self.moderate_min {
            Impairment::Moderate
        } else {
            Impairment::Severe
        }
    }
}

/// How the three dimension gradings combine into 0–5 (组合法). Entries are grade codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Combination {
    /// `grades[adl][worse of 认知能力 and 感知觉与沟通能力]`, indexed 完好 / 轻度 / 中度 / 重度.
    AdlByWorseOther { grades: [[u8; 4]; 4] },
    /// `grades[adl][认知能力][感知觉与沟通能力]`, for a method the two-way table cannot express.
    Full { grades: [[[u8; 4]; 4]; 4] },
}

impl Combination {
    fn lookup(&self, adl: Impairment, cognition: Impairment, perception: Impairment) -> u8 {
        match self {
            Combination::AdlByWorseOther { grades } => grades[adl.index()][cognition.max(perception).index()],
            Combination::Full { grades } => grades[adl.index()][cognition.index()][perception.index()],
        }
    }
}

/// A jurisdiction's grading rules as written in its config, before checking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LtcGradingSpec {
    /// The document the numbers come from (e.g. the official 37号 附件 or a local 实施细则);
    /// printed with every grade.
    pub source: String,
    pub adl: Cuts,
    pub cognition: Cuts,
    pub perception: Cuts,
    pub combination: Combination,
}

/// A checked [`LtcGradingSpec`]. Deserialises from the spec's shape, checking, e.g. from TOML:
///
/// ```text
/// source = "某市长期护理保险失能等级评估实施细则"
/// adl = { intact_min = 100, mild_min = 65, moderate_min = 45 }
/// cognition = { intact_min = 16, mild_min = 12, moderate_min = 8 }
/// perception = { intact_min = 12, mild_min = 9, moderate_min = 6 }
///
/// [combination]
/// method = "adl_by_worse_other"   # or "full", with grades[adl][认知][感知觉与沟通]
/// grades = [[0, 0, 1, 1], [1, 1, 1, 2], [2, 2, 2, 3], [3, 3, 4, 5]]
/// ```
///
/// (The numbers above are README §2.3's unconfirmed recollection, shown for the shape only.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LtcGradingSpec", into = "LtcGradingSpec")]
pub struct LtcGradingTable {
    spec: LtcGradingSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("长期护理失能等级分级表缺少来源文件（source）")]
    NoSource,
    #[error(
        "{dimension}的分级线应满足 满分{max} ≥ 能力完好下限 > 轻度受损下限 > 中度受损下限 ≥ 1，实为 {intact} / {mild} / {moderate}"
    )]
    Cuts {
        dimension: &'static str,
        max: u8,
        intact: u8,
        mild: u8,
        moderate: u8,
    },
    #[error("组合表中的等级{0}超出0～5")]
    GradeOutOfRange(u8),
    #[error("组合表不单调：日常生活活动能力{adl}、认知能力{cognition}、感知觉与沟通能力{perception}为{grade}级，其中一项更差时却为{worse_grade}级")]
    NotMonotone {
        adl: &'static str,
        cognition: &'static str,
        perception: &'static str,
        grade: u8,
        worse_grade: u8,
    },
}

impl LtcGradingTable {
    /// Checks that the bands fit each dimension's range and that the combination gives grades
    /// 0–5 that never improve when a dimension gets worse (catches swapped rows or columns).
    pub fn new(spec: LtcGradingSpec) -> Result<LtcGradingTable, TableError> {
        if spec.source.trim().is_empty() {
            return Err(TableError::NoSource);
        }
        for (dimension, cuts) in DIMENSIONS.iter().zip([&spec.adl, &spec.cognition, &spec.perception]) {
            let max = dimension.max();
            let ok = max >= cuts.intact_min
                && cuts.intact_min > cuts.mild_min
                && cuts.mild_min > cuts.moderate_min
                && cuts.moderate_min >= 1;
            if !ok {
                return Err(TableError::Cuts {
                    dimension: dimension.name,
                    max,
                    intact: cuts.intact_min,
                    mild: cuts.mild_min,
                    moderate: cuts.moderate_min,
                });
            }
        }
        let c = &spec.combination;
        for a in Impairment::ALL {
            for g in Impairment::ALL {
                for p in Impairment::ALL {
                    let grade = c.lookup(a, g, p);
                    if LtcGrade::from_code(grade).is_none() {
                        return Err(TableError::GradeOutOfRange(grade));
                    }
                    let worse = [(worse(a), g, p), (a, worse(g), p), (a, g, worse(p))];
                    for (wa, wg, wp) in worse {
                        let worse_grade = c.lookup(wa, wg, wp);
                        if worse_grade < grade {
                            return Err(TableError::NotMonotone {
                                adl: a.label(),
                                cognition: g.label(),
                                perception: p.label(),
                                grade,
                                worse_grade,
                            });
                        }
                    }
                }
            }
        }
        Ok(LtcGradingTable { spec })
    }

    pub fn spec(&self) -> &LtcGradingSpec {
        &self.spec
    }

    /// Grades three dimension scores.
    pub fn grade(&self, adl: u8, cognition: u8, perception: u8) -> LtcGrading {
        let s = &self.spec;
        let (adl, cognition, perception) = (
            s.adl.degree(adl),
            s.cognition.degree(cognition),
            s.perception.degree(perception),
        );
        let code = s.combination.lookup(adl, cognition, perception);
        LtcGrading {
            adl,
            cognition,
            perception,
            // Checked in `new`.
            grade: LtcGrade::from_code(code).unwrap_or(LtcGrade::SevereIII),
            source: s.source.clone(),
        }
    }
}

fn worse(i: Impairment) -> Impairment {
    Impairment::ALL.get(i.index() + 1).copied().unwrap_or(i)
}

impl TryFrom<LtcGradingSpec> for LtcGradingTable {
    type Error = TableError;

    fn try_from(spec: LtcGradingSpec) -> Result<Self, Self::Error> {
        LtcGradingTable::new(spec)
    }
}

impl From<LtcGradingTable> for LtcGradingSpec {
    fn from(table: LtcGradingTable) -> Self {
        table.spec
    }
}

/// The grade under a loaded table, with the dimension gradings it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LtcGrading {
    pub adl: Impairment,
    pub cognition: Impairment,
    pub perception: Impairment,
    pub grade: LtcGrade,
    /// The table's source document.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LtcScored {
    /// 日常生活活动能力, 0–100.
    pub adl: u8,
    /// 认知能力, 0–16.
    pub cognition: u8,
    /// 感知觉与沟通能力, 0–12.
    pub perception: u8,
    /// `None` when no grading table is loaded: the official cut-offs are unconfirmed.
    pub grading: Option<LtcGrading>,
}

impl LtcScored {
    pub fn grade(&self) -> Option<LtcGrade> {
        self.grading.as_ref().map(|g| g.grade)
    }
}

/// Scores the form; grades it only if a jurisdiction's table is given.
pub fn score(answers: &LtcAnswers, table: Option<&LtcGradingTable>) -> Result<LtcScored, AnswerError> {
    let [adl, cognition, perception] = &DIMENSIONS;
    let adl = adl.subtotal(&answers.adl)?;
    let cognition = cognition.subtotal(&answers.cognition)?;
    let perception = perception.subtotal(&answers.perception)?;
    Ok(LtcScored {
        adl,
        cognition,
        perception,
        grading: table.map(|t| t.grade(adl, cognition, perception)),
    })
}
