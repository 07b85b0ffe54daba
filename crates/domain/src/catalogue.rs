//! The division hierarchy with its history: which division a code belongs to on a date.
//!
//! Codes never change meaning; what changes is where a division sits. When Hotan prefecture was
//! re-divided on 2024-12-27 (standards/README.md §6.5), 和康县 653228 was set up from 皮山县 and
//! 和安县 653229 from 和田县, and townships moved to them keep their old 12-digit codes in the
//! data older people carry. A move is recorded with its date, so "within 和康县 on 2025-03-01"
//! includes 赛图拉镇 653223102 and "within 皮山县" on that date excludes it.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::division::{DivisionCode, DivisionLevel};

#[derive(Debug, Clone, Serialize)]
pub struct Division {
    pub code: DivisionCode,
    pub name: String,
    pub level: DivisionLevel,
    /// The parent when the division was set up (structural for most codes).
    pub parent: Option<DivisionCode>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// Where the row came from (data set and edition).
    pub source: String,
}

/// A division moved under another parent on `effective`.
#[derive(Debug, Clone, Serialize)]
pub struct DivisionMove {
    pub code: DivisionCode,
    pub from_parent: DivisionCode,
    pub to_parent: DivisionCode,
    pub effective: NaiveDate,
    pub note: String,
}

/// A change of the map: a division set up from (part of) another, merged or renamed.
#[derive(Debug, Clone, Serialize)]
pub struct DivisionChange {
    pub kind: ChangeKind,
    pub from: DivisionCode,
    pub to: DivisionCode,
    pub effective: NaiveDate,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChangeKind {
    /// 析置: `to` set up from part of `from`, which continues.
    SplitFrom,
    /// 合并: `from` ended and became part of `to`.
    MergedInto,
    /// 更名/改设: `from` ended and continues as `to`.
    Renamed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::SplitFrom => "split_from",
            ChangeKind::MergedInto => "merged_into",
            ChangeKind::Renamed => "renamed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "split_from" => ChangeKind::SplitFrom,
            "merged_into" => ChangeKind::MergedInto,
            "renamed" => ChangeKind::Renamed,
            _ => return None,
        })
    }
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::SplitFrom => "析置",
            ChangeKind::MergedInto => "合并",
            ChangeKind::Renamed => "更名",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    divisions: HashMap<DivisionCode, Division>,
    moves: Vec<DivisionMove>,
    changes: Vec<DivisionChange>,
}

/// Which 12-digit codes lie within a division on a date: those starting with one of `include`
/// and with none of `exclude`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CodeScope {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl CodeScope {
    pub fn contains(&self, code: DivisionCode) -> bool {
        let full = code.full();
        self.include.iter().any(|p| full.starts_with(p.as_str()))
            && !self.exclude.iter().any(|p| full.starts_with(p.as_str()))
    }
}

impl Catalogue {
    pub fn new(divisions: Vec<Division>, moves: Vec<DivisionMove>, changes: Vec<DivisionChange>) -> Self {
        let divisions = divisions.into_iter().map(|d| (d.code, d)).collect();
        Catalogue {
            divisions,
            moves,
            changes,
        }
    }

    pub fn get(&self, code: DivisionCode) -> Option<&Division> {
        self.divisions.get(&code)
    }

    pub fn len(&self) -> usize {
        self.divisions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.divisions.is_empty()
    }

    pub fn all(&self) -> impl Iterator<Item = &Division> {
        self.divisions.values()
    }

    pub fn moves(&self) -> &[DivisionMove] {
        &self.moves
    }

    pub fn changes(&self) -> &[DivisionChange] {
        &self.changes
    }

    /// The parent of `code` on `date`, following recorded moves.
    pub fn parent_on(&self, code: DivisionCode, date: NaiveDate) -> Option<DivisionCode> {
        let moved = self
            .moves
            .iter()
            .filter(|m| m.code == code && m.effective <= date)
            .max_by_key(|m| m.effective);
        match moved {
            Some(m) => Some(m.to_parent),
            None => self.get(code).and_then(|d| d.parent).or_else(|| code.parent()),
        }
    }

    /// Is `code` within `ancestor` on `date`? A code not in the catalogue (a synthetic or new
    /// village) is placed by its nearest catalogued ancestor.
    pub fn is_within_on(&self, code: DivisionCode, ancestor: DivisionCode, date: NaiveDate) -> bool {
        let mut cur = Some(code);
        while let Some(c) = cur {
            if c == ancestor {
                return true;
            }
            if c.level() <= ancestor.level() {
                return false;
            }
            cur = self.parent_on(c, date);
        }
        false
    }

    /// The code prefixes making up `ancestor` on `date`, for set-based queries.
    pub fn scope_on(&self, ancestor: DivisionCode, date: NaiveDate) -> CodeScope {
        let mut scope = CodeScope {
            include: vec![ancestor.prefix()],
            exclude: vec![],
        };
        for m in &self.moves {
            let moved_in = self.is_within_on(m.code, ancestor, date);
            let structurally_in = m.code.is_within(ancestor);
            if moved_in && !structurally_in {
                scope.include.push(m.code.prefix());
            } else if !moved_in && structurally_in {
                scope.exclude.push(m.code.prefix());
            }
        }
        scope.include.sort();
        scope.include.dedup();
        scope.exclude.sort();
        scope.exclude.dedup();
        scope
    }

    /// "内蒙古自治区 呼和浩特市 新城区" style path, as of `date`.
    pub fn path_name(&self, code: DivisionCode, date: NaiveDate) -> String {
        let mut names = Vec::new();
        let mut cur = Some(code);
        while let Some(c) = cur {
            match self.get(c) {
                Some(d) => names.push(d.name.clone()),
                None if c == code => names.push(format!("{}（未登记）", c.short())),
                None => {}
            }
            cur = self.parent_on(c, date);
        }
        names.reverse();
        names.join(" ")
    }

    pub fn name(&self, code: DivisionCode) -> String {
        self.get(code).map(|d| d.name.clone()).unwrap_or_else(|| code.short())
    }

    /// Children on `date`, sorted by code.
    pub fn children_on(&self, code: DivisionCode, date: NaiveDate) -> Vec<&Division> {
        let mut v: Vec<&Division> = self
            .divisions
            .values()
            .filter(|d| d.valid_from.is_none_or(|f| f <= date))
            .filter(|d| d.valid_to.is_none_or(|t| t > date))
            .filter(|d| self.parent_on(d.code, date) == Some(code))
            .collect();
        v.sort_by_key(|d| d.code);
        v
    }
}

/// The real divisions shipped with yanglao: Inner Mongolia, Hotan prefecture and Baoshan city
/// (county level from the MCA 2024 list, townships from NBS 2023; see data/divisions/SOURCES.md).
pub mod builtin {
    use super::*;

    const COUNTY_FILES: [(&str, &str); 3] = [
        (
            "mca2024_county_level_15_neimenggu.csv",
            include_str!("../data/divisions/mca2024_county_level_15_neimenggu.csv"),
        ),
        (
            "mca2024_county_level_6532_hotan.csv",
            include_str!("../data/divisions/mca2024_county_level_6532_hotan.csv"),
        ),
        (
            "mca2024_county_level_5305_baoshan.csv",
            include_str!("../data/divisions/mca2024_county_level_5305_baoshan.csv"),
        ),
    ];
    const TOWNSHIP_FILES: [(&str, &str); 3] = [
        (
            "nbs2023_township_15_neimenggu.csv",
            include_str!("../data/divisions/nbs2023_township_15_neimenggu.csv"),
        ),
        (
            "nbs2023_township_6532_hotan.csv",
            include_str!("../data/divisions/nbs2023_township_6532_hotan.csv"),
        ),
        (
            "nbs2023_township_5305_baoshan.csv",
            include_str!("../data/divisions/nbs2023_township_5305_baoshan.csv"),
        ),
    ];

    /// Source label of county-level units that exist only in the NBS statistical codes.
    pub const STATISTICAL_SOURCE: &str = "国家统计局统计用区划代码 2023，非行政区划";

    /// 新疆维吾尔自治区人民政府 2024-12-27 公告 (standards/README.md §6.5).
    pub fn hotan_split_date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 12, 27).unwrap_or(NaiveDate::MIN)
    }

    fn code(s: &str) -> Option<DivisionCode> {
        DivisionCode::parse(s).ok()
    }

    /// Parses the embedded files. The files are part of the build, so a malformed line is a
    /// build-time defect caught by the tests below; it is skipped rather than panicking here.
    pub fn catalogue() -> Catalogue {
        let mut divisions = Vec::new();
        let split = hotan_split_date();
        for (file, text) in COUNTY_FILES {
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split(',').collect();
                if f.len() < 4 {
                    continue;
                }
                let Some(c) = code(f[0]) else { continue };
                let valid_from = matches!(f[0], "653228" | "653229").then_some(split);
                divisions.push(Division {
                    code: c,
                    name: f[1].to_string(),
                    level: c.level(),
                    parent: code(f[3]),
                    valid_from,
                    valid_to: None,
                    source: format!("民政部县级以上行政区划代码 2024（{file}）"),
                });
            }
        }
        for (file, text) in TOWNSHIP_FILES {
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split(',').collect();
                if f.len() < 4 {
                    continue;
                }
                let Some(c) = code(f[1]) else { continue };
                divisions.push(Division {
                    code: c,
                    name: f[2].to_string(),
                    level: DivisionLevel::Township,
                    parent: code(f[3]),
                    valid_from: None,
                    valid_to: None,
                    source: format!("国家统计局统计用区划代码 2023（{file}）"),
                });
            }
        }
        // NBS statistical codes for development zones (150172 etc.) have townships but are not
        // administrative divisions and are absent from the MCA list (standards/README.md §6.2):
        // they are kept as county-level statistical units so that people living there are
        // placed, and marked as such.
        let mut statistical: Vec<Division> = Vec::new();
        for (file, text) in TOWNSHIP_FILES {
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split(',').collect();
                if f.len() < 5 {
                    continue;
                }
                let Some(county) = code(f[3]) else { continue };
                let known = divisions.iter().chain(statistical.iter()).any(|d| d.code == county);
                if !known {
                    statistical.push(Division {
                        code: county,
                        name: f[4].to_string(),
                        level: DivisionLevel::County,
                        parent: county.parent(),
                        valid_from: None,
                        valid_to: None,
                        source: format!("{STATISTICAL_SOURCE}（{file}）"),
                    });
                }
            }
        }
        divisions.extend(statistical);
        let mut moves = Vec::new();
        let mut changes = Vec::new();
        for (new_county, old_county, seat, seat_name, new_name, old_name) in [
            ("653228", "653223", "653223102000", "赛图拉镇", "和康县", "皮山县"),
            ("653229", "653221", "653221103000", "红柳镇", "和安县", "和田县"),
        ] {
            let (Some(n), Some(o), Some(s)) = (code(new_county), code(old_county), code(seat)) else {
                continue;
            };
            changes.push(DivisionChange {
                kind: ChangeKind::SplitFrom,
                from: o,
                to: n,
                effective: split,
                note: format!(
                    "新疆维吾尔自治区人民政府2024年12月27日公告：设立{new_name}，由{old_name}析置，县人民政府驻{seat_name}"
                ),
            });
            moves.push(DivisionMove {
                code: s,
                from_parent: o,
                to_parent: n,
                effective: split,
                note: format!("{seat_name}由{old_name}划归{new_name}（县人民政府驻地）；其余乡镇的划转未公布，待核实"),
            });
        }
        Catalogue::new(divisions, moves, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> DivisionCode {
        DivisionCode::parse(s).expect("valid")
    }
    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn inner_mongolia_counts_match_the_standard() {
        // standards/README.md §6.4: "12 盟市, 103 county-level units" and "1,225 township-level units".
        let cat = builtin::catalogue();
        let im = c("150000");
        let count = |level| {
            cat.all()
                .filter(|x| x.level == level && x.code.is_within(im))
                .filter(|x| !x.source.starts_with(builtin::STATISTICAL_SOURCE))
                .count()
        };
        assert_eq!(count(DivisionLevel::Prefecture), 12);
        assert_eq!(count(DivisionLevel::County), 103);
        // §6.4: "NBS 2023 (S21) has the same 103 plus five 7x development-zone codes".
        let statistical: Vec<String> = {
            let mut v: Vec<String> = cat
                .all()
                .filter(|x| x.source.starts_with(builtin::STATISTICAL_SOURCE) && x.code.is_within(im))
                .map(|x| x.code.short())
                .collect();
            v.sort();
            v
        };
        assert_eq!(statistical, ["150172", "150271", "150571", "152571", "152971"]);
        assert_eq!(count(DivisionLevel::Township), 1225);
        assert_eq!(cat.name(c("150102")), "新城区");
        assert_eq!(cat.name(c("152900")), "阿拉善盟");
    }

    #[test]
    fn hotan_has_ten_counties_and_baoshan_five() {
        let cat = builtin::catalogue();
        let counties = |p: &str| cat.children_on(c(p), d(2025, 6, 1)).len();
        assert_eq!(counties("653200"), 10);
        assert_eq!(counties("530500"), 5);
        // Before the split the two new counties did not exist.
        assert_eq!(counties_before(&cat), 8);
        assert_eq!(cat.name(c("653228")), "和康县");
        assert_eq!(cat.name(c("653229")), "和安县");
    }

    fn counties_before(cat: &Catalogue) -> usize {
        cat.children_on(c("653200"), d(2024, 12, 26)).len()
    }

    #[test]
    fn hotan_split_moves_seat_townships_by_date() {
        let cat = builtin::catalogue();
        let village = c("653223102201"); // a village of 赛图拉镇, coded to 皮山县
        assert!(cat.is_within_on(village, c("653223"), d(2024, 12, 26)));
        assert!(!cat.is_within_on(village, c("653228"), d(2024, 12, 26)));
        assert!(cat.is_within_on(village, c("653228"), d(2024, 12, 27)));
        assert!(!cat.is_within_on(village, c("653223"), d(2024, 12, 27)));
        assert!(cat.is_within_on(village, c("653200"), d(2025, 1, 1)));
        let after = cat.scope_on(c("653223"), d(2025, 1, 1));
        assert_eq!(after.include, vec!["653223".to_string()]);
        assert_eq!(after.exclude, vec!["653223102".to_string()]);
        assert!(!after.contains(village));
        let new = cat.scope_on(c("653228"), d(2025, 1, 1));
        assert!(new.contains(village));
        assert!(new.contains(c("653228101201")));
        let before = cat.scope_on(c("653228"), d(2024, 1, 1));
        assert!(!before.contains(village));
        assert!(cat.path_name(village, d(2025, 1, 1)).contains("和康县 赛图拉镇"));
    }
}
