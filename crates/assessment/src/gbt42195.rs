//! GB/T 42195-2022《老年人能力评估规范》: Appendix B items, C.3 preliminary level, C.4 change
//! rules and C.5 final level (`standards/README.md` §1.2–§1.5, §1.7).

use std::fmt;

use serde::{Deserialize, Serialize};
use yanglao_domain::fact::CAPABILITY_LEVELS;

use crate::icd::Icd10;
use crate::{collect_pairs, AnswerError, Indicator, Item, Opt};

/// Highest total score (README §1.2).
pub const MAX_TOTAL: u8 = 90;

const fn o(score: u8, text: &'static str) -> Opt {
    Opt { score, text }
}

/// The common 5-point assistance scale (README §1.3).
const ASSIST: [Opt; 5] = [
    o(4, "独立完成，不需要协助"),
    o(3, "在他人指导或提示下完成"),
    o(2, "需要他人协助，但以自身完成为主"),
    o(1, "主要依靠他人协助，自身能给予配合"),
    o(0, "完全依赖他人协助，且不能给予配合"),
];

/// The same scale with S1's wording for 如厕, 床上体位转移 and 床椅转移 (README §1.3).
const ASSIST_OTHERS: [Opt; 5] = [
    o(4, "独立完成，不需要他人协助"),
    ASSIST[1],
    ASSIST[2],
    ASSIST[3],
    ASSIST[4],
];

const fn item(code: &'static str, name: &'static str, definition: &'static str, options: &'static [Opt]) -> Item {
    Item {
        code,
        name,
        definition: Some(definition),
        options,
    }
}

/// B.1 自理能力评估表.
pub static SELF_CARE: [Item; 8] = [
    item(
        "B.1.1",
        "进食",
        "使用适当的器具将食物送入口中并咽下",
        &[
            o(4, "独立使用器具将食物送进口中并咽下，没有呛咳"),
            o(3, "在他人指导或提示下完成，或独立使用辅具，没有呛咳"),
            o(2, "进食中需要少量接触式协助，偶尔（每月一次及以上）呛咳"),
            o(1, "在进食中需要大量接触式协助，经常（每周一次及以上）呛咳"),
            o(0, "完全依赖他人协助进食，或吞咽困难，或留置营养管"),
        ],
    ),
    item("B.1.2", "修饰", "指洗脸、刷牙、梳头、刮脸、剪指（趾）甲等", &ASSIST),
    item("B.1.3", "洗澡", "清洗和擦干身体", &ASSIST),
    item("B.1.4", "穿/脱上衣", "指穿/脱上身衣服、系扣、拉拉链等", &ASSIST),
    item("B.1.5", "穿/脱裤子和鞋袜", "指穿/脱裤子、鞋袜等", &ASSIST),
    item(
        "B.1.6",
        "小便控制",
        "控制和排出尿液的能力",
        &[
            o(4, "可自行控制排尿，排尿次数、排尿控制均正常"),
            o(
                3,
                "白天可自行控制排尿次数，夜间出现排尿次数增多、排尿控制较差，或自行使用尿布、尿垫等辅助用物",
            ),
            o(
                2,
                "白天大部分时间可自行控制排尿，偶出现（每天<1次，但每周>1次）尿失禁，夜间控制排尿较差，或他人少量协助使用尿布、尿垫等辅助用物",
            ),
            o(
                1,
                "白天大部分时间不能控制排尿（每天≥1次，但尚非完全失控），夜间出现尿失禁，或他人大量协助使用尿布、尿垫等辅助用物",
            ),
            o(0, "小便失禁，完全不能控制排尿，或留置导尿管"),
        ],
    ),
    item(
        "B.1.7",
        "大便控制",
        "控制和排出粪便的能力",
        &[
            o(4, "可正常自行控制大便排出"),
            // README §1.3 CONFLICT: S2 reads "每天<1次"; S1/S4's "每周<1次" is the one consistent
            // with score 2 ("每天<1次，但每周>1次"), so that is used.
            o(3, "有时出现（每周<1次）便秘或大便失禁，或自行使用开塞露、尿垫等辅助用物"),
            o(
                2,
                "经常出现（每天<1次，但每周>1次）便秘或大便失禁，或他人少量协助使用开塞露、尿垫等辅助用物",
            ),
            o(
                1,
                "大部分时间均出现（每天≥1次）便秘或大便失禁，但尚非完全失控，或他人大量协助使用开塞露、尿垫等辅助用物",
            ),
            o(0, "严重便秘或者完全大便失禁，需要依赖他人协助排便或清洁皮肤"),
        ],
    ),
    item(
        "B.1.8",
        "如厕",
        "上厕所排泄大小便，并清洁身体（注：评估中强调排泄前解开裤子、完成排泄后清洁身体、穿上裤子）",
        &ASSIST_OTHERS,
    ),
];

/// B.2 基础运动能力评估表.
pub static MOBILITY: [Item; 4] = [
    item("B.2.1", "床上体位转移", "卧床翻身及坐起躺下", &ASSIST_OTHERS),
    item(
        "B.2.2",
        "床椅转移",
        "从坐位到站位，再从站位到坐位的转换过程",
        &ASSIST_OTHERS,
    ),
    item(
        "B.2.3",
        "平地行走",
        "双脚交互的方式在地面行动，总是一只脚在前（注：包括他人辅助和使用辅具的步行）",
        &[
            o(4, "独立平地步行50m左右，不需要协助，无摔倒风险"),
            o(
                3,
                "能平地步行50m左右，存在摔倒风险，需要他人监护或指导，或使用拐杖、助行器等辅助工具",
            ),
            o(2, "在步行时需要他人少量扶持协助"),
            o(1, "在步行时需要他人大量扶持协助"),
            o(0, "完全不能步行"),
        ],
    ),
    item(
        "B.2.4",
        "上下楼梯",
        "双脚交替完成楼梯台阶连续的上下移动",
        &[
            o(3, "可独立上下楼梯（连续上下10个～15个台阶），不需要协助"),
            o(2, "在他人指导或提示下完成"),
            o(1, "需要他人协助，但以自身完成为主"),
            o(
                0,
                "主要依靠他人协助，自身能给予配合；或者完全依赖他人协助，且不能给予配合",
            ),
        ],
    ),
];

/// B.3 精神状态评估表.
pub static MENTAL: [Item; 9] = [
    item(
        "B.3.1",
        "时间定向",
        "知道并确认时间的能力",
        &[
            o(4, "时间观念（年、月）清楚，日期（或星期几）可相差一天"),
            o(3, "时间观念有些下降，年、月、日（或星期几）不能全部分清（相差两天或以上）"),
            o(2, "时间观念较差，年、月、日不清楚，可知上半年或下半年或季节"),
            o(1, "时间观念很差，年、月、日不清楚，可知上午、下午或白天、夜间"),
            o(0, "无时间观念"),
        ],
    ),
    item(
        "B.3.2",
        "空间定向",
        "知道并确认空间的能力",
        &[
            o(4, "能在日常生活范围内单独外出，如在日常居住小区内独自外出购物等"),
            o(3, "不能单独外出，但能准确知道自己日常生活所在地的地址信息"),
            o(2, "不能单独外出，但知道较多有关自己日常生活的地址信息"),
            o(1, "不能单独外出，但知道较少自己居住或生活所在地的地址信息"),
            o(0, "不能单独外出，无空间观念"),
        ],
    ),
    item(
        "B.3.3",
        "人物定向",
        "知道并确认人物的能力",
        &[
            o(4, "认识长期共同一起生活的人，能称呼并知道关系"),
            o(3, "能认识大部分共同生活居住的人，能称呼或知道关系"),
            o(2, "能认识部分日常同住的亲人或照护者等，能称呼或知道关系等"),
            o(1, "只认识自己或极少数日常同住的亲人或照护者等"),
            o(0, "不认识任何人（包括自己）"),
        ],
    ),
    item(
        "B.3.4",
        "记忆",
        "短时、近期和远期记忆能力",
        &[
            o(4, "总是能保持与社会、年龄所适应的记忆能力，能完整的回忆"),
            o(
                3,
                "出现轻度的记忆紊乱或回忆不能（不能回忆即时信息，3个词语经过5分钟后仅能回忆0个～1个）",
            ),
            o(2, "出现中度的记忆紊乱或回忆不能（不能回忆近期记忆，不记得上一顿饭吃了什么）"),
            o(1, "出现重度的记忆紊乱或回忆不能（不能回忆远期记忆，不记得自己的老朋友）"),
            o(0, "记忆完全紊乱或者完全不能对既往事物进行正确的回忆"),
        ],
    ),
    item(
        "B.3.5",
        "理解能力",
        "理解语言信息和非语言信息的能力（可借助平时使用助听设备等），即理解别人的话",
        &[
            o(4, "能正常理解他人的话"),
            o(3, "能理解他人的话，但需要增加时间"),
            o(2, "理解有困难，需频繁重复或简化口头表达"),
            o(1, "理解有严重困难，需要大量他人帮助"),
            o(0, "完全不能理解他人的话"),
        ],
    ),
    item(
        "B.3.6",
        "表达能力",
        "表达信息能力，包括口头的和非口头的，即表达自己的想法",
        &[
            o(4, "能正常表达自己的想法"),
            o(3, "能表达自己的需要，但需要增加时间"),
            o(2, "表达需要有困难，需频繁重复或简化口头表达"),
            o(1, "表达有严重困难，需要大量他人帮助"),
            o(0, "完全不能表达需要"),
        ],
    ),
    item(
        "B.3.7",
        "攻击行为",
        "身体攻击行为（如打/踢/推/咬/抓/摔东西）和语言攻击行为（如骂人、语言威胁、尖叫）",
        &[o(1, "未出现"), o(0, "近一个月内出现过攻击行为")],
    ),
    item(
        "B.3.8",
        "抑郁症状",
        "存在情绪低落、兴趣减退、活力减退等症状，甚至出现妄想、幻觉、自杀念头或自杀行为（注：长期的负性情绪）",
        &[o(1, "未出现"), o(0, "近一个月内出现过负性情绪")],
    ),
    item(
        "B.3.9",
        "意识水平",
        "机体对自身和周围环境的刺激做出应答反应的能力程度，包括清醒和持续的觉醒状态",
        // Score 0 covers both 昏睡 and 昏迷; answers carry only the score, so 昏迷 reaches the
        // C.4 coma rule through `Conditions::coma` (README §1.3 implementation tip).
        &[
            o(2, "神志清醒，对周围环境能做出正确反应"),
            o(
                1,
                "嗜睡，表现为睡眠状态过度延长。当呼唤或推动老年人的肢体时可唤醒，并能进行正确的交谈或执行指令，停止刺激后又继续入睡；意识模糊，注意力涣散，对外界刺激不能清晰的认识，空间和时间定向力障碍，理解力迟钝，记忆力模糊和不连贯",
            ),
            o(
                0,
                "昏睡，一般的外界刺激不能使其觉醒，给予较强烈的刺激时可有短时的意识清醒，醒后可简短回答提问，当刺激减弱后又很快进入睡眠状态；或者昏迷：意识丧失，随意运动丧失，对一般刺激全无反应",
            ),
        ],
    ),
];

/// B.4 感知觉与社会参与评估表.
pub static PERCEPTION: [Item; 5] = [
    item(
        "B.4.1",
        "视力",
        "感受存在的光线，并感受物体的大小、形状的能力。在个体的最好矫正视力下进行评估",
        &[
            o(2, "视力正常"),
            o(
                1,
                "能看清楚大字体，但看不清书报上的标准字体；视力有限，看不清报纸大标题，但能辨认物体",
            ),
            o(0, "只能看到光、颜色和形状；完全失明"),
        ],
    ),
    item(
        "B.4.2",
        "听力",
        "能辨别声音的方位、音调、音量和音质的有关能力（可借助平时使用助听设备等）",
        &[
            o(2, "听力正常"),
            o(
                1,
                "在轻声说话或说话距离超过2米时听不清；正常交流有些困难，需在安静的环境或大声说话才能听到",
            ),
            o(0, "讲话者大声说话或说话很慢，才能部分听见；完全失聪"),
        ],
    ),
    item(
        "B.4.3",
        "执行日常事务",
        "计划、安排并完成日常事务，包括但不限于洗衣服、小金额购物、服药管理",
        &[
            o(4, "能完全独立计划、安排和完成日常事务，无需协助"),
            o(3, "在计划、安排和完成日常事务时需要他人监护或指导"),
            o(2, "在计划、安排和完成日常事务时需要少量协助"),
            o(1, "在计划、安排和完成日常事务时需要大量协助"),
            o(0, "完全依赖他人进行日常事务"),
        ],
    ),
    Item {
        code: "B.4.4",
        name: "使用交通工具外出",
        definition: None,
        options: &[
            o(3, "能自己骑车或搭乘公共交通工具外出"),
            o(2, "能自己搭乘出租车，但不会搭乘其他公共交通工具外出"),
            o(1, "当有人协助或陪伴，可搭乘公共交通工具外出"),
            o(
                0,
                "只能在他人协助下搭乘出租车或私家车外出；完全不能出门，或者外出完全需要协助",
            ),
        ],
    },
    Item {
        code: "B.4.5",
        name: "社会交往能力",
        definition: None,
        options: &[
            o(4, "参与社会，在社会环境有一定的适应能力，待人接物恰当"),
            o(
                3,
                "能适应单纯环境，主动接触他人，初见面时难让人发现智力问题，不能理解隐喻语",
            ),
            o(
                2,
                "脱离社会，可被动接触，不会主动待人，谈话中很多不适词句，容易上当受骗",
            ),
            o(1, "勉强可与他人接触，谈吐内容不清楚，表情不恰当"),
            o(0, "不能与人交往"),
        ],
    },
];

/// The four first-level indicators, in form order (Appendix B).
pub static INDICATORS: [Indicator; 4] = [
    Indicator {
        code: "B.1",
        name: "自理能力",
        items: &SELF_CARE,
    },
    Indicator {
        code: "B.2",
        name: "基础运动能力",
        items: &MOBILITY,
    },
    Indicator {
        code: "B.3",
        name: "精神状态",
        items: &MENTAL,
    },
    Indicator {
        code: "B.4",
        name: "感知觉与社会参与",
        items: &PERCEPTION,
    },
];

/// Where each indicator's score goes in the report (Appendix C, C.1.1–C.1.4), same order.
pub const REPORT_CLAUSES: [&str; 4] = ["C.1.1", "C.1.2", "C.1.3", "C.1.4"];

/// The chosen option score of every item, in form order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Answers {
    /// B.1.1–B.1.8
    pub self_care: [u8; 8],
    /// B.2.1–B.2.4
    pub mobility: [u8; 4],
    /// B.3.1–B.3.9
    pub mental: [u8; 9],
    /// B.4.1–B.4.5
    pub perception: [u8; 5],
}

impl Answers {
    /// The best option of every item (total 90).
    pub fn best() -> Answers {
        Answers {
            self_care: SELF_CARE.map(|i| i.max()),
            mobility: MOBILITY.map(|i| i.max()),
            mental: MENTAL.map(|i| i.max()),
            perception: PERCEPTION.map(|i| i.max()),
        }
    }

    /// The worst option of every item (total 0).
    pub fn worst() -> Answers {
        Answers {
            self_care: [0; 8],
            mobility: [0; 4],
            mental: [0; 9],
            perception: [0; 5],
        }
    }

    /// From `(item code, score)` pairs such as `("B.1.1", 4)`, one per item in any order.
    /// Unknown, repeated and missing codes are errors; scores are checked by [`score`].
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, u8)>) -> Result<Answers, AnswerError> {
        let rows = collect_pairs(&INDICATORS, pairs)?;
        let mut answers = Answers::worst();
        for (slot, row) in answers.slices_mut().into_iter().zip(rows) {
            slot.copy_from_slice(&row);
        }
        Ok(answers)
    }

    /// The scores per indicator, in the order of [`INDICATORS`].
    pub fn slices(&self) -> [&[u8]; 4] {
        [&self.self_care, &self.mobility, &self.mental, &self.perception]
    }

    fn slices_mut(&mut self) -> [&mut [u8]; 4] {
        [
            &mut self.self_care,
            &mut self.mobility,
            &mut self.mental,
            &mut self.perception,
        ]
    }

    /// The score given for an item code, e.g. `"B.3.9"`.
    pub fn get(&self, code: &str) -> Option<u8> {
        let (i, j) = Indicator::find(&INDICATORS, code.trim())?;
        Some(self.slices()[i][j])
    }
}

/// 老年人能力等级 (C.3 / C.5). Ordered from best to worst; the code is the index into
/// `yanglao_domain::fact::CAPABILITY_LEVELS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// 0 能力完好
    Intact,
    /// 1 能力轻度受损（轻度失能）
    Mild,
    /// 2 能力中度受损（中度失能）
    Moderate,
    /// 3 能力重度受损（重度失能）
    Severe,
    /// 4 能力完全丧失（完全失能）
    Lost,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::Intact, Level::Mild, Level::Moderate, Level::Severe, Level::Lost];

    /// C.3 初步等级 from the total score (README §1.4): 90 → 0, 66–89 → 1, 46–65 → 2, 30–45 → 3,
    /// 0–29 → 4. `None` above 90.
    pub fn from_total(total: u8) -> Option<Level> {
        Some(match total {
            90 => Level::Intact,
            66..=89 => Level::Mild,
            46..=65 => Level::Moderate,
            30..=45 => Level::Severe,
            0..=29 => Level::Lost,
            _ => return None,
        })
    }

    /// 0–4, as stored in the `CapabilityLevel` fact.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Level> {
        Level::ALL.get(usize::from(code)).copied()
    }

    /// The standard's name, e.g. "能力轻度受损（轻度失能）".
    pub fn name(self) -> &'static str {
        CAPABILITY_LEVELS[usize::from(self.code())]
    }

    /// One level worse, capped at 能力完全丧失.
    pub fn raised(self) -> Level {
        Level::from_code(self.code() + 1).unwrap_or(Level::Lost)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}级 {}", self.code(), self.name())
    }
}

/// A.2.14 近30天内照护风险事件, one category's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RiskEventCount {
    /// 无
    #[default]
    None,
    /// 发生过1次
    Once,
    /// 发生过2次
    Twice,
    /// 发生过3次及以上
    ThreeOrMore,
}

impl RiskEventCount {
    /// From a count of events; 3 and more is one answer.
    pub fn from_count(n: u32) -> RiskEventCount {
        match n {
            0 => RiskEventCount::None,
            1 => RiskEventCount::Once,
            2 => RiskEventCount::Twice,
            _ => RiskEventCount::ThreeOrMore,
        }
    }

    /// The count this answer stands for; "3次及以上" counts 3 (README §1.5, as S4).
    pub fn count(self) -> u8 {
        self as u8
    }

    pub fn label(self) -> &'static str {
        match self {
            RiskEventCount::None => "无",
            RiskEventCount::Once => "发生过1次",
            RiskEventCount::Twice => "发生过2次",
            RiskEventCount::ThreeOrMore => "发生过3次及以上",
        }
    }
}

/// A.2.14 近30天内照护风险事件, all five categories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskEvents {
    /// A.2.14.1 跌倒
    pub falls: RiskEventCount,
    /// A.2.14.2 走失
    pub wandering: RiskEventCount,
    /// A.2.14.3 噎食
    pub choking: RiskEventCount,
    /// A.2.14.4 自杀、自伤
    pub self_harm: RiskEventCount,
    /// A.2.14.5 其他
    pub other: RiskEventCount,
}

impl RiskEvents {
    /// `(code, category, answer)` for each category, in form order.
    pub fn categories(&self) -> [(&'static str, &'static str, RiskEventCount); 5] {
        [
            ("A.2.14.1", "跌倒", self.falls),
            ("A.2.14.2", "走失", self.wandering),
            ("A.2.14.3", "噎食", self.choking),
            ("A.2.14.4", "自杀、自伤", self.self_harm),
            ("A.2.14.5", "其他", self.other),
        ]
    }

    /// Events counted over all categories (README §1.5 decision: summed, not per category).
    pub fn total(&self) -> u8 {
        self.categories().iter().map(|(_, _, c)| c.count()).sum()
    }
}

/// What the C.4 rules read besides the B scores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conditions {
    /// A.5.11 昏迷 = 有, or B.3.9 意识水平 recorded as 昏迷 (not 昏睡).
    pub coma: bool,
    /// A.4.1 疾病诊断 as ICD-10 codes, e.g. "F01.1". The caller vouches that F04–F99 codes were
    /// diagnosed by a psychiatrist (精神科专科医生), as C.4 requires.
    pub diagnoses: Vec<String>,
    /// A.2.14 近30天内照护风险事件.
    pub risk_events: RiskEvents,
}

/// The C.4 rules (README §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeRule {
    Coma,
    MentalDisorder,
    RiskEvents,
}

impl ChangeRule {
    /// The clause, as the standard words it.
    pub fn clause(self) -> &'static str {
        match self {
            ChangeRule::Coma => "C.4（1）处于昏迷状态者，直接评定为能力完全丧失（完全失能）",
            ChangeRule::MentalDisorder => {
                "C.4（2）确诊为痴呆（F00～F03）、精神科专科医生诊断的其他精神和行为障碍疾病（F04～F99），在原有能力级别上应提高一个级别"
            }
            ChangeRule::RiskEvents => {
                "C.4（3）近30天内发生过2次及以上照护风险事件（如跌倒、噎食、自杀、自伤、走失等），在原有能力级别上提高一个等级"
            }
        }
    }
}

/// A C.4 rule that applies, and the answers that made it apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub rule: ChangeRule,
    pub clause: &'static str,
    /// E.g. "A.4.1 疾病诊断：痴呆（F00～F03）F01.1".
    pub detail: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}。依据：{}", self.clause, self.detail)
    }
}

/// One indicator's score (C.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Subtotal {
    /// "B.1" … "B.4"
    pub code: &'static str,
    pub name: &'static str,
    /// "C.1.1" … "C.1.4"
    pub report_clause: &'static str,
    pub score: u8,
    pub max: u8,
}

/// The result for the report (Appendix C).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scored {
    /// C.1, in the order of [`INDICATORS`].
    pub subtotals: [Subtotal; 4],
    /// C.2 老年人能力总得分, 0–90.
    pub total: u8,
    /// C.3 老年人能力初步等级.
    pub preliminary: Level,
    /// C.5 老年人能力最终等级.
    pub final_level: Level,
    /// C.4 能力等级变更依据: every rule whose condition is present, in clause order.
    pub changes: Vec<Change>,
}

/// Scores a completed Appendix B form and applies C.3–C.5.
pub fn score(answers: &Answers, conditions: &Conditions) -> Result<Scored, AnswerError> {
    let mut subtotals = [Subtotal {
        code: "",
        name: "",
        report_clause: "",
        score: 0,
        max: 0,
    }; 4];
    for (((slot, indicator), scores), clause) in subtotals
        .iter_mut()
        .zip(&INDICATORS)
        .zip(answers.slices())
        .zip(REPORT_CLAUSES)
    {
        *slot = Subtotal {
            code: indicator.code,
            name: indicator.name,
            report_clause: clause,
            score: indicator.subtotal(scores)?,
            max: indicator.max(),
        };
    }
    let total: u8 = subtotals.iter().map(|s| s.score).sum();
    // Validated options never exceed their item's maximum, and the maxima sum to 90.
    debug_assert!(total <= MAX_TOTAL);
    let preliminary = Level::from_total(total).unwrap_or(Level::Intact);

    let changes = changes(conditions)?;
    let applies = |rule| changes.iter().any(|c: &Change| c.rule == rule);
    // README §1.5 decisions (sources do not settle them):
    // - coma gives 能力完全丧失 and overrides the other rules (as S4);
    // - rules (2) and (3) together still raise by one level only ("有以下情况之一…提高一个级别");
    // - the raise is capped at 能力完全丧失.
    let final_level = if applies(ChangeRule::Coma) {
        Level::Lost
    } else if applies(ChangeRule::MentalDisorder) || applies(ChangeRule::RiskEvents) {
        preliminary.raised()
    } else {
        preliminary
    };
    Ok(Scored {
        subtotals,
        total,
        preliminary,
        final_level,
        changes,
    })
}

/// The C.4 rules whose conditions are present.
fn changes(conditions: &Conditions) -> Result<Vec<Change>, AnswerError> {
    let mut changes = Vec::new();
    let mut push = |rule: ChangeRule, detail: String| {
        changes.push(Change {
            rule,
            clause: rule.clause(),
            detail,
        })
    };
    if conditions.coma {
        push(
            ChangeRule::Coma,
            "A.5.11 昏迷：有（或 B.3.9 意识水平：昏迷）".to_string(),
        );
    }

    // All codes are parsed, so a typo is an error rather than a silently lower level.
    let mut mental = Vec::new();
    for input in &conditions.diagnoses {
        let code = Icd10::parse(input)?;
        if let Some(group) = code.mental_disorder() {
            mental.push(format!("{}{}", group.label(), code));
        }
    }
    if !mental.is_empty() {
        push(
            ChangeRule::MentalDisorder,
            format!("A.4.1 疾病诊断：{}", mental.join("、")),
        );
    }

    // README §1.5 decision: "2次及以上" counts events over all A.2.14 categories together,
    // "3次及以上" counting 3 (as S4).
    let events = &conditions.risk_events;
    let total = events.total();
    if total >= 2 {
        let parts: Vec<String> = events
            .categories()
            .iter()
            .filter(|(_, _, c)| *c != RiskEventCount::None)
            .map(|(code, name, c)| format!("{code} {name}{}", c.label()))
            .collect();
        let at_least = if events
            .categories()
            .iter()
            .any(|(_, _, c)| *c == RiskEventCount::ThreeOrMore)
        {
            "至少"
        } else {
            ""
        };
        push(
            ChangeRule::RiskEvents,
            format!(
                "A.2.14 近30天内照护风险事件共{at_least}{total}次（{}）",
                parts.join("、")
            ),
        );
    }
    Ok(changes)
}
