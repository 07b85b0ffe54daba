//! One person's registry facts on a date, resolved to the values the rule language reads.
//!
//! The batch snapshot and the one-person explanation both go through [`PersonFacts::apply`] and
//! [`PersonFacts::value`], so the two paths cannot read the registry differently.

use chrono::NaiveDate;
use yanglao_domain::fact::LIVING;
use yanglao_domain::{dates::age_on, DivisionCode, FactKind, Fen, Sex};
use yanglao_rules::eval::Value;

/// Where a resolved value came from, for the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub batch_id: i64,
    pub valid_from: NaiveDate,
}

/// The fact of one kind that counts on the date. When sources disagree on the same date, the
/// most recently started fact counts, then the later import batch, then the larger value (only
/// so that the choice never depends on read order); the registry page shows the disagreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub value: String,
    pub origin: Origin,
}

/// Bit of each 居住状况 member in [`PersonFacts::living_bits`].
pub fn living_bit(member: &str) -> Option<u8> {
    LIVING.iter().position(|m| *m == member).map(|i| 1u8 << i)
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonFacts {
    pub person_id: i64,
    pub birth_date: NaiveDate,
    pub sex: Option<Sex>,
    /// Date of death if recorded on or before the evaluation date.
    pub died: Option<NaiveDate>,
    pub chosen: [Option<Chosen>; FactKind::ALL.len()],
}

fn kind_index(kind: FactKind) -> usize {
    FactKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl PersonFacts {
    pub fn new(person_id: i64, birth_date: NaiveDate, sex: Option<Sex>) -> Self {
        PersonFacts {
            person_id,
            birth_date,
            sex,
            died: None,
            chosen: Default::default(),
        }
    }

    /// Takes one fact valid on the evaluation date into account (any order).
    pub fn apply(&mut self, kind: FactKind, value: &str, origin: Origin) {
        if kind == FactKind::Death {
            self.died = Some(self.died.map_or(origin.valid_from, |d| d.min(origin.valid_from)));
        }
        let slot = &mut self.chosen[kind_index(kind)];
        let better = match slot {
            None => true,
            Some(c) => {
                (origin.valid_from, origin.batch_id, value) > (c.origin.valid_from, c.origin.batch_id, c.value.as_str())
            }
        };
        if better {
            *slot = Some(Chosen {
                value: value.to_string(),
                origin,
            });
        }
    }

    pub fn get(&self, kind: FactKind) -> Option<&Chosen> {
        self.chosen[kind_index(kind)].as_ref()
    }

    fn text(&self, kind: FactKind) -> Option<&str> {
        self.get(kind).map(|c| c.value.as_str())
    }

    pub fn alive(&self) -> bool {
        self.died.is_none()
    }

    pub fn division(&self, kind: FactKind) -> Option<DivisionCode> {
        self.text(kind).and_then(|v| DivisionCode::parse(v).ok())
    }

    /// 常住地: the residence record, or the 户籍 where no residence was recorded (人户一致 is
    /// the presumption of the shared data; the explanation says when it was used).
    pub fn residence(&self) -> Option<DivisionCode> {
        self.division(FactKind::Residence)
            .or_else(|| self.division(FactKind::Hukou))
    }

    pub fn disability(&self) -> Option<(&str, i64)> {
        let (cat, grade) = self.text(FactKind::Disability)?.split_once(':')?;
        Some((cat, grade.parse().ok()?))
    }

    pub fn pension(&self) -> Option<(&str, &str)> {
        self.text(FactKind::Pension)?.split_once(':')
    }

    pub fn capability_level(&self) -> Option<i64> {
        self.text(FactKind::CapabilityLevel).and_then(|v| v.parse().ok())
    }

    pub fn living_bits(&self) -> Option<u8> {
        let v = self.text(FactKind::Living)?;
        Some(v.split('、').filter_map(living_bit).fold(0, |a, b| a | b))
    }

    /// The registry fact a rule fact name reads, if any (年龄 and 性别 come from the person).
    pub fn source_kind(name: &str) -> Option<FactKind> {
        Some(match name {
            "在世" => FactKind::Death,
            "户籍" => FactKind::Hukou,
            "常住地" => FactKind::Residence,
            "城乡" => FactKind::UrbanRural,
            "低保" => FactKind::Dibao,
            "特困" | "特困供养方式" => FactKind::Tekun,
            "低收入" => FactKind::LowIncome,
            "残疾" | "残疾类别" | "残疾等级" => FactKind::Disability,
            "已评估" | "能力等级" => FactKind::CapabilityLevel,
            "居住状况" => FactKind::Living,
            "计生特殊家庭" => FactKind::FamilyPlanningSpecial,
            "优抚对象" | "优抚类别" => FactKind::Youfu,
            "无法定赡养人" => FactKind::LegalSupporter,
            "养老保险" | "养老保险状态" => FactKind::Pension,
            _ => return None,
        })
    }

    /// The value of a rule-language fact on `as_of`. Flags (低保, 特困 …) are 否 when no
    /// department records them; other facts are missing (and then no comparison holds).
    pub fn value(&self, name: &str, as_of: NaiveDate) -> Value {
        let text = |s: Option<&str>| s.map_or(Value::Missing, |s| Value::Text(s.to_string()));
        let has = |k: FactKind| Value::Bool(self.get(k).is_some());
        match name {
            "年龄" => Value::Int(age_on(self.birth_date, as_of).into()),
            "性别" => text(self.sex.map(Sex::label)),
            "在世" => Value::Bool(self.alive()),
            "户籍" => self.division(FactKind::Hukou).map_or(Value::Missing, Value::Division),
            "常住地" => self.residence().map_or(Value::Missing, Value::Division),
            "城乡" => text(self.text(FactKind::UrbanRural)),
            "低保" => has(FactKind::Dibao),
            "特困" => has(FactKind::Tekun),
            "特困供养方式" => text(self.text(FactKind::Tekun)),
            "低收入" => has(FactKind::LowIncome),
            "残疾" => has(FactKind::Disability),
            "残疾类别" => text(self.disability().map(|d| d.0)),
            "残疾等级" => self.disability().map_or(Value::Missing, |d| Value::Int(d.1)),
            "已评估" => Value::Bool(self.capability_level().is_some()),
            "能力等级" => self.capability_level().map_or(Value::Missing, Value::Int),
            "居住状况" => match self.text(FactKind::Living) {
                None => Value::Missing,
                Some(v) => Value::TextSet(
                    v.split('、')
                        .filter(|m| living_bit(m).is_some())
                        .map(str::to_string)
                        .collect(),
                ),
            },
            "计生特殊家庭" => has(FactKind::FamilyPlanningSpecial),
            "优抚对象" => has(FactKind::Youfu),
            "优抚类别" => text(self.text(FactKind::Youfu)),
            "无法定赡养人" => match self.text(FactKind::LegalSupporter) {
                None => Value::Missing,
                Some(v) => Value::Bool(v == "无"),
            },
            "养老保险" => text(self.pension().map(|p| p.0)),
            "养老保险状态" => text(self.pension().map(|p| p.1)),
            _ => Value::Missing,
        }
    }
}

/// A money value of a rule in fen, for storage.
pub fn fen_of(v: &Value) -> Option<Fen> {
    match v {
        Value::Money(f) => Some(*f),
        _ => None,
    }
}
