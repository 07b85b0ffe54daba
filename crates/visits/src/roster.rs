//! Who is on the visit list on a date (特殊困难老年人名册), with reasons and a risk tier.
//!
//! Read in one streamed, person-ordered pass over the facts valid on the date; each person's
//! facts are resolved by the entitlement engine's [`PersonFacts`] (same choice among disagreeing
//! sources as the engine and the explanation) and classified at once, so memory stays per person.
//!
//! Tier rule (standards/README.md §5, the Inner Mongolia example, reduced to what the registry
//! records — diagnoses such as 阿尔茨海默症 are not shared data):
//! - 高风险: 高龄 (age ≥ 【探访高龄起始年龄】, default 80) and 独居, 空巢 or 留守
//!   ("80岁以上独居、空巢、留守老年人");
//! - 重点: 失能 (capability level ≥ 【探访失能起始能力等级】, default 1), 重残 (disability grade
//!   1–2), 计划生育特殊家庭, or 分散供养特困 ("失能失智老年人、分散供养特困人员、计划生育特殊家庭老人");
//! - 一般: everyone else on the list.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;
use yanglao_domain::dates::age_on;
use yanglao_domain::{Catalogue, DivisionCode, FactKind, Sex};
use yanglao_entitlements::person::{living_bit, Origin, PersonFacts};
use yanglao_store::lists::ParamValueRow;
use yanglao_store::{Db, Value};

use crate::{Reason, Result, Tier};

pub const AGE_PARAM: &str = "探访高龄起始年龄";
pub const DEFAULT_AGE: i64 = 80;
pub const DISABLED_PARAM: &str = "探访失能起始能力等级";
/// GB/T 42195-2022 level 1 is "能力轻度受损（轻度失能）": the standard itself calls it 失能.
pub const DEFAULT_DISABLED_LEVEL: i64 = 1;
/// 重残 = disability grade 1 or 2 (the lists' own reading, hotan-2024 item 14 note).
pub const SEVERE_GRADE_MAX: i64 = 2;

/// Visit-module parameters by division, read once and resolved in memory (the most specific
/// division on the path with a value in force wins, as `lists::params::resolve`).
pub struct Params {
    rows: HashMap<String, Vec<ParamValueRow>>,
    memo: std::cell::RefCell<HashMap<(String, DivisionCode), Option<i64>>>,
}

impl Params {
    pub fn load(db: &Db) -> Result<Params> {
        let mut rows: HashMap<String, Vec<ParamValueRow>> = HashMap::new();
        for r in yanglao_store::lists::all_param_values(db)? {
            rows.entry(r.name.clone()).or_default().push(r);
        }
        Ok(Params {
            rows,
            memo: Default::default(),
        })
    }

    /// The integer value of `name` for `division` on `date`, if any level set one.
    pub fn int(&self, cat: &Catalogue, name: &str, division: DivisionCode, date: NaiveDate) -> Option<i64> {
        let key = (name.to_string(), division);
        if let Some(v) = self.memo.borrow().get(&key) {
            return *v;
        }
        let rows = self.rows.get(name);
        let mut found = None;
        let mut cur = Some(division);
        while let (Some(c), Some(rows)) = (cur, rows) {
            let short = c.short();
            let best = rows
                .iter()
                .filter(|r| r.division == short && r.valid_from <= date)
                .max_by_key(|r| (r.valid_from, r.set_at, r.id));
            if let Some(r) = best {
                found = r.value.trim().parse::<i64>().ok();
                break;
            }
            cur = cat.parent_on(c, date);
        }
        self.memo.borrow_mut().insert(key, found);
        found
    }
}

/// One person on the list.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub person_id: i64,
    /// 常住地 (户籍 where no residence is recorded), 12-digit where known.
    pub division: DivisionCode,
    pub age: i32,
    pub reasons: Vec<Reason>,
    pub tier: Tier,
}

impl Member {
    pub fn reasons_text(&self) -> String {
        self.reasons.iter().map(|r| r.label()).collect::<Vec<_>>().join("、")
    }
    pub fn disabled(&self) -> bool {
        self.reasons.contains(&Reason::Disabled)
    }
}

/// The classification of one person's resolved facts, given the thresholds in force where they
/// live. Pure, so the boundaries are unit-tested without a database.
pub fn classify(
    p: &PersonFacts,
    as_of: NaiveDate,
    old_age: i64,
    disabled_from: i64,
    list_item: bool,
) -> Option<(Vec<Reason>, Tier)> {
    if !p.alive() {
        return None;
    }
    let age = i64::from(age_on(p.birth_date, as_of));
    let mut reasons = Vec::new();
    let living = p.living_bits().unwrap_or(0);
    let alone = living_bit("独居").is_some_and(|b| living & b != 0);
    let empty = living_bit("空巢").is_some_and(|b| living & b != 0);
    let left = living_bit("留守").is_some_and(|b| living & b != 0);
    if alone {
        reasons.push(Reason::Alone);
    }
    if empty {
        reasons.push(Reason::EmptyNest);
    }
    if left {
        reasons.push(Reason::LeftBehind);
    }
    let disabled = p.capability_level().is_some_and(|l| l >= disabled_from);
    if disabled {
        reasons.push(Reason::Disabled);
    }
    let severe = p.disability().is_some_and(|(_, g)| g <= SEVERE_GRADE_MAX);
    if severe {
        reasons.push(Reason::SevereDisability);
    }
    let fps = p.get(FactKind::FamilyPlanningSpecial).is_some();
    if fps {
        reasons.push(Reason::FamilyPlanning);
    }
    let oldest = age >= old_age;
    if oldest {
        reasons.push(Reason::Oldest);
    }
    if list_item {
        reasons.push(Reason::ListItem);
    }
    if reasons.is_empty() {
        return None;
    }
    let scattered_tekun = p.get(FactKind::Tekun).is_some_and(|c| c.value == "分散供养");
    let tier = if oldest && (alone || empty || left) {
        Tier::High
    } else if disabled || severe || fps || scattered_tekun {
        Tier::Key
    } else {
        Tier::General
    };
    Some((reasons, tier))
}

/// The list on a date.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    pub as_of: NaiveDate,
    pub members: Vec<Member>,
}

impl Roster {
    pub fn by_person(&self) -> HashMap<i64, &Member> {
        self.members.iter().map(|m| (m.person_id, m)).collect()
    }
}

/// People entitled to the list's own visit item (探访服务 / 巡访关爱) in the latest engine run on
/// or before `as_of`. Without a run the reason is simply absent: the registry reasons still hold.
pub fn list_item_people(db: &Db, as_of: NaiveDate) -> Result<HashSet<i64>> {
    let mut out = HashSet::new();
    db.scan(
        "SELECT person_id FROM entitlement
         WHERE as_of = (SELECT MAX(as_of) FROM entitlement WHERE as_of <= $1)
           AND status = 'entitled' AND (item_code LIKE '%tanfang%' OR item_code LIKE '%xunfang%')",
        &[Value::Date(as_of)],
        |r| {
            out.insert(r.int(0)?);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Kinds the classification reads; the others are not fetched.
const KINDS: &str =
    "'hukou', 'residence', 'death', 'living', 'disability', 'family_planning_special', 'capability_level', 'tekun'";

/// Whom to read.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    /// Everyone placed in this division on the date (following recorded moves).
    Within(DivisionCode),
    /// These people only (a visitor's list).
    People(&'a [i64]),
    Everyone,
}

/// The visit list on `as_of`, within `scope` if given.
pub fn roster(
    db: &Db,
    cat: &Catalogue,
    params: &Params,
    as_of: NaiveDate,
    scope: Option<DivisionCode>,
) -> Result<Roster> {
    roster_of(db, cat, params, as_of, scope.map_or(Who::Everyone, Who::Within))
}

/// The visit list on `as_of` for `who`: one person-ordered scan of the facts valid on the date
/// (per chunk of 500 ids for a list of people). For a division, only people whose 户籍 or 常住地
/// on the date lies in the division's code prefixes are read (the `(kind, value)` index); the
/// exact placement (常住地 before 户籍, moves) is then checked per person.
pub fn roster_of(db: &Db, cat: &Catalogue, params: &Params, as_of: NaiveDate, who: Who) -> Result<Roster> {
    let listed = list_item_people(db, as_of)?;
    let mut members = Vec::new();
    let scope = match who {
        Who::Within(d) => Some(d),
        _ => None,
    };
    let finish = |p: PersonFacts, members: &mut Vec<Member>| {
        let Some(division) = p.residence() else {
            return;
        };
        if let Some(s) = scope {
            if !cat.is_within_on(division, s, as_of) {
                return;
            }
        }
        let old_age = params.int(cat, AGE_PARAM, division, as_of).unwrap_or(DEFAULT_AGE);
        let disabled_from = params
            .int(cat, DISABLED_PARAM, division, as_of)
            .unwrap_or(DEFAULT_DISABLED_LEVEL);
        if let Some((reasons, tier)) = classify(&p, as_of, old_age, disabled_from, listed.contains(&p.person_id)) {
            members.push(Member {
                person_id: p.person_id,
                division,
                age: age_on(p.birth_date, as_of),
                reasons,
                tier,
            });
        }
    };
    let base = format!(
        "SELECT p.id, p.birth_date, p.sex, f.kind, f.value, f.valid_from, f.batch_id
         FROM person p JOIN fact f ON f.person_id = p.id
         WHERE f.valid_from <= $1 AND (f.valid_to IS NULL OR f.valid_to > $1) AND f.kind IN ({KINDS})"
    );
    let mut queries: Vec<(String, Vec<Value>)> = Vec::new();
    match who {
        Who::Everyone => queries.push((format!("{base} ORDER BY p.id"), vec![Value::Date(as_of)])),
        Who::People(ids) => {
            for chunk in ids.chunks(500) {
                let list = chunk.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
                queries.push((
                    format!("{base} AND p.id IN ({list}) ORDER BY p.id"),
                    vec![Value::Date(as_of)],
                ));
            }
        }
        Who::Within(d) => {
            let cs = cat.scope_on(d, as_of);
            let mut params = vec![Value::Date(as_of)];
            let mut ors = Vec::new();
            for prefix in &cs.include {
                params.push(Value::text(prefix.clone()));
                params.push(Value::text(format!("{prefix}:")));
                ors.push(format!(
                    "(g.value >= ${} AND g.value < ${})",
                    params.len() - 1,
                    params.len()
                ));
            }
            queries.push((
                format!(
                    "{base} AND p.id IN (SELECT g.person_id FROM fact g WHERE g.kind IN ('hukou', 'residence')
                       AND g.valid_from <= $1 AND (g.valid_to IS NULL OR g.valid_to > $1) AND ({}))
                     ORDER BY p.id",
                    ors.join(" OR ")
                ),
                params,
            ));
        }
    }
    for (sql, params) in queries {
        let mut current: Option<PersonFacts> = None;
        db.scan(&sql, &params, |r| {
            let id = r.int(0)?;
            if current.as_ref().map(|p| p.person_id) != Some(id) {
                if let Some(p) = current.take() {
                    finish(p, &mut members);
                }
                current = Some(PersonFacts::new(id, r.date(1)?, Sex::from_code(r.int(2)?)));
            }
            if let (Some(p), Some(kind)) = (current.as_mut(), FactKind::parse(&r.text(3)?)) {
                p.apply(
                    kind,
                    &r.text(4)?,
                    Origin {
                        batch_id: r.int(6)?,
                        valid_from: r.date(5)?,
                    },
                );
            }
            Ok(())
        })?;
        if let Some(p) = current.take() {
            finish(p, &mut members);
        }
    }
    Ok(Roster { as_of, members })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(birth: &str) -> PersonFacts {
        PersonFacts::new(1, NaiveDate::parse_from_str(birth, "%Y-%m-%d").expect("date"), None)
    }
    fn fact(p: &mut PersonFacts, kind: FactKind, v: &str) {
        let origin = Origin {
            batch_id: 1,
            valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).expect("date"),
        };
        p.apply(kind, v, origin);
    }
    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    // 001 §4 "对高龄……等老年人开展居家探访": 高龄 from the age parameter, the birthday counts.
    #[test]
    fn age_boundary() {
        let p = person("1945-03-01");
        assert!(classify(&p, d("2025-02-28"), 80, 1, false).is_none(), "79 is not 高龄");
        let (r, t) = classify(&p, d("2025-03-01"), 80, 1, false).expect("80 is 高龄");
        assert_eq!(r, vec![Reason::Oldest]);
        assert_eq!(t, Tier::General);
    }

    // 004 §6 "向独居、失能、重残等老年人": 重残 is grade 1–2; grade 3 alone does not list.
    #[test]
    fn disability_grade_boundary() {
        let mut p = person("1955-01-01");
        fact(&mut p, FactKind::Disability, "肢体:3");
        assert!(classify(&p, d("2025-01-01"), 80, 1, false).is_none());
        let mut p = person("1955-01-01");
        fact(&mut p, FactKind::Disability, "肢体:2");
        let (r, t) = classify(&p, d("2025-01-01"), 80, 1, false).expect("grade 2 is 重残");
        assert_eq!(r, vec![Reason::SevereDisability]);
        assert_eq!(t, Tier::Key);
    }

    // standards §5: "80岁以上独居、空巢、留守老年人" are 高风险.
    #[test]
    fn tiers() {
        let mut p = person("1940-01-01");
        fact(&mut p, FactKind::Living, "独居");
        assert_eq!(
            classify(&p, d("2025-01-01"), 80, 1, false).map(|x| x.1),
            Some(Tier::High)
        );
        let mut p = person("1950-01-01");
        fact(&mut p, FactKind::Living, "空巢");
        assert_eq!(
            classify(&p, d("2025-01-01"), 80, 1, false).map(|x| x.1),
            Some(Tier::General)
        );
        fact(&mut p, FactKind::CapabilityLevel, "2");
        assert_eq!(
            classify(&p, d("2025-01-01"), 80, 1, false).map(|x| x.1),
            Some(Tier::Key)
        );
        // A raised threshold takes level 2 off the 失能 reason.
        let (r, _) = classify(&p, d("2025-01-01"), 80, 3, false).expect("still 空巢");
        assert!(!r.contains(&Reason::Disabled));
        let mut dead = person("1940-01-01");
        fact(&mut dead, FactKind::Living, "独居");
        fact(&mut dead, FactKind::Death, "死亡");
        assert!(classify(&dead, d("2025-01-01"), 80, 1, false).is_none());
    }
}
