//! The department files yanglao reads and what each column means (数据源映射).
//!
//! Each source names its columns by a logical key; the header each key is found under comes from
//! the source's default mapping (the header text and its usual aliases), which an office can
//! override per source with its own header names.

use std::collections::HashMap;

use csv::StringRecord;

use chrono::NaiveDate;
use yanglao_domain::dates::parse_date;
use yanglao_domain::fact::FactValueError;
use yanglao_domain::{Catalogue, Department, DivisionCode, DivisionLevel, FactKind};

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    /// The header yanglao writes and looks for first.
    pub header: &'static str,
    /// Other headers departments use for the same column.
    pub aliases: &'static [&'static str],
    pub required: bool,
}

const fn f(key: &'static str, header: &'static str, aliases: &'static [&'static str], required: bool) -> Field {
    Field {
        key,
        header,
        aliases,
        required,
    }
}

const ID: Field = f(
    "id_number",
    "身份证号",
    &["公民身份号码", "身份证号码", "证件号码"],
    true,
);
const NAME: Field = f("name", "姓名", &["老年人姓名"], true);

/// 居住状况 as 民政 and 村（社区） both record it.
const LIVING_FIELDS: &[Field] = &[
    ID,
    NAME,
    f("living", "居住状况", &["居住情况"], true),
    f("from", "登记日期", &["摸底日期", "核实日期"], true),
    f("to", "结束日期", &[], false),
];

/// 养老保险 (人社) and 医疗保险 (医保) files share a layout.
const INSURANCE_FIELDS: &[Field] = &[
    ID,
    NAME,
    f("type", "险种", &["险种类型"], true),
    f("status", "参保状态", &["状态"], true),
    f("from", "变更日期", &["开始日期"], true),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    GonganHukou,
    GonganDeath,
    MinzhengAssistance,
    MinzhengLiving,
    CommunityLiving,
    CanlianDisability,
    WeijianFamilyPlanning,
    WeijianCapability,
    TuiyiYoufu,
    RenshePension,
    YibaoMedical,
}

pub struct Source {
    pub kind: SourceKind,
    pub code: &'static str,
    pub department: Department,
    pub title: &'static str,
    pub fields: &'static [Field],
}

pub const SOURCES: [Source; 11] = [
    Source {
        kind: SourceKind::GonganHukou,
        code: "gongan_hukou",
        department: Department::Gongan,
        title: "公安 户籍信息",
        fields: &[
            ID,
            NAME,
            f("hukou", "户籍地区划代码", &["户籍地代码", "户籍所在地区划代码"], true),
            f("residence", "常住地区划代码", &["居住地区划代码", "常住地代码"], false),
            f("urban_rural", "城乡属性", &["户口性质", "城乡"], false),
            f("since", "变动日期", &["登记日期", "迁入日期"], true),
        ],
    },
    Source {
        kind: SourceKind::GonganDeath,
        code: "gongan_death",
        department: Department::Gongan,
        title: "公安 死亡注销信息",
        fields: &[ID, NAME, f("date", "死亡日期", &["注销日期"], true)],
    },
    Source {
        kind: SourceKind::MinzhengAssistance,
        code: "minzheng_assistance",
        department: Department::Minzheng,
        title: "民政 社会救助对象（低保、特困、低收入）",
        fields: &[
            ID,
            NAME,
            f("category", "救助类别", &["对象类别"], true),
            f("mode", "供养方式", &["特困供养方式"], false),
            f("from", "开始日期", &["认定日期", "纳入日期"], true),
            f("to", "结束日期", &["退出日期"], false),
        ],
    },
    Source {
        kind: SourceKind::MinzhengLiving,
        code: "minzheng_living",
        department: Department::Minzheng,
        title: "民政 老年人居住状况",
        fields: LIVING_FIELDS,
    },
    Source {
        kind: SourceKind::CommunityLiving,
        code: "community_living",
        department: Department::Community,
        title: "村（社区） 老年人居住状况摸底",
        fields: LIVING_FIELDS,
    },
    Source {
        kind: SourceKind::CanlianDisability,
        code: "canlian_disability",
        department: Department::Canlian,
        title: "残联 残疾人证信息",
        fields: &[
            ID,
            NAME,
            f("category", "残疾类别", &[], true),
            f("grade", "残疾等级", &[], true),
            f("from", "发证日期", &["办证日期"], true),
            f("to", "有效期至", &["注销日期"], false),
        ],
    },
    Source {
        kind: SourceKind::WeijianFamilyPlanning,
        code: "weijian_family_planning",
        department: Department::Weijian,
        title: "卫健 计划生育特殊家庭",
        fields: &[
            ID,
            NAME,
            f("category", "特殊家庭类别", &["类别"], true),
            f("from", "认定日期", &[], true),
        ],
    },
    Source {
        kind: SourceKind::WeijianCapability,
        code: "weijian_capability",
        department: Department::Weijian,
        title: "卫健 老年人能力评估结果",
        fields: &[
            ID,
            NAME,
            f("level", "能力等级", &["评估等级"], true),
            f("date", "评估日期", &[], true),
        ],
    },
    Source {
        kind: SourceKind::TuiyiYoufu,
        code: "tuiyi_youfu",
        department: Department::Tuiyi,
        title: "退役军人事务 优抚对象",
        fields: &[
            ID,
            NAME,
            f("category", "优抚类别", &["对象类别"], true),
            f("supporter", "有无法定赡养人", &["法定赡养人"], false),
            f("from", "认定日期", &[], true),
        ],
    },
    Source {
        kind: SourceKind::RenshePension,
        code: "renshe_pension",
        department: Department::Renshe,
        title: "人社 养老保险参保与待遇",
        fields: INSURANCE_FIELDS,
    },
    Source {
        kind: SourceKind::YibaoMedical,
        code: "yibao_medical",
        department: Department::Yibao,
        title: "医保 基本医疗保险参保",
        fields: INSURANCE_FIELDS,
    },
];

impl Source {
    /// The most facts one row of this source yields ([`RowReader::parse`]; kept by hand
    /// beside it, and only a hint: the reader's maps are sized by it).
    pub fn max_facts_per_row(&self) -> usize {
        match self.kind {
            SourceKind::GonganHukou => 3,
            SourceKind::TuiyiYoufu => 2,
            _ => 1,
        }
    }
}

pub fn source(code: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.code == code)
}

pub fn source_of(kind: SourceKind) -> &'static Source {
    SOURCES.iter().find(|s| s.kind == kind).unwrap_or(&SOURCES[0])
}

/// A problem with one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// One fact a row yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFact {
    pub kind: FactKind,
    pub value: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// Which column index each field is in, resolved from a file's header row: (field key, column,
/// header found), in the source's field order. A handful of fields: found by a scan, which is
/// cheaper than hashing the key for every cell of every row.
#[derive(Debug, Clone)]
pub struct Columns {
    pub fields: Vec<(&'static str, usize, String)>,
}

impl Columns {
    fn field(&self, key: &str) -> Option<&(&'static str, usize, String)> {
        self.fields.iter().find(|(k, _, _)| *k == key)
    }

    pub fn index(&self, key: &str) -> Option<usize> {
        self.field(key).map(|&(_, i, _)| i)
    }

    pub fn header(&self, key: &str) -> Option<&str> {
        self.field(key).map(|(_, _, h)| h.as_str())
    }
}

impl Source {
    /// Resolves the header row. `overrides` maps a field key to the header an office uses.
    pub fn resolve(&self, header_row: &[String], overrides: &HashMap<String, String>) -> Result<Columns, String> {
        let clean: Vec<String> = header_row
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let mut fields = Vec::new();
        let mut missing = Vec::new();
        for field in self.fields {
            let mut names: Vec<&str> = Vec::new();
            if let Some(o) = overrides.get(field.key) {
                names.push(o.as_str());
            }
            names.push(field.header);
            names.extend(field.aliases.iter().copied());
            match names
                .iter()
                .find_map(|n| clean.iter().position(|h| h == n).map(|i| (i, *n)))
            {
                Some((i, n)) => fields.push((field.key, i, n.to_string())),
                None if field.required => missing.push(field.header),
                None => {}
            }
        }
        if missing.is_empty() {
            Ok(Columns { fields })
        } else {
            Err(format!(
                "文件缺少必填列：{}（{}的表头应包含：{}）",
                missing.join("、"),
                self.title,
                self.fields
                    .iter()
                    .filter(|f| f.required)
                    .map(|f| f.header)
                    .collect::<Vec<_>>()
                    .join("、")
            ))
        }
    }
}

/// Masks anything that looks like an ID number: first 6 and last 4 characters kept.
pub fn mask_raw(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 11 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

/// Reads one data row of a source: the person's ID and name, and the facts the row states.
pub struct RowReader<'a> {
    pub source: &'a Source,
    pub columns: &'a Columns,
    pub catalogue: &'a Catalogue,
    /// Import date: a fact dated after it is an error.
    pub today: NaiveDate,
}

pub struct ParsedRow {
    pub id_number: yanglao_domain::IdNumber,
    pub name: String,
    pub facts: Vec<RowFact>,
}

impl RowReader<'_> {
    fn cell<'r>(&self, row: &'r StringRecord, key: &str) -> &'r str {
        self.columns
            .index(key)
            .and_then(|i| row.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    }

    fn header(&self, key: &str) -> String {
        self.columns
            .header(key)
            .map(str::to_string)
            .or_else(|| {
                self.source
                    .fields
                    .iter()
                    .find(|f| f.key == key)
                    .map(|f| f.header.to_string())
            })
            .unwrap_or_else(|| key.to_string())
    }

    fn err(&self, key: &str, value: &str, reason: impl Into<String>) -> CellError {
        // An ID number is personal data even when it is wrong: reports show it masked; the row
        // number finds it in the original.
        let value = if key == "id_number" {
            mask_raw(value)
        } else {
            value.to_string()
        };
        CellError {
            column: self.header(key),
            value,
            reason: reason.into(),
        }
    }

    /// Parses a row; every problem in the row is reported, not just the first.
    pub fn parse(&self, row: &StringRecord) -> Result<ParsedRow, Vec<CellError>> {
        let mut errors = Vec::new();
        // Bytes the file's encoding cannot decode come out as U+FFFD: a name or code read so
        // would be stored wrong without a word. The encoding is judged from the file's start,
        // so a file that changes encoding later (two exports joined) is caught here, per row.
        // Reported in the order of the file's columns.
        let mut undecodable: Vec<(&str, usize)> = self
            .columns
            .fields
            .iter()
            .filter(|&&(_, i, _)| row.get(i).is_some_and(|c| c.contains('\u{FFFD}')))
            .map(|&(k, i, _)| (k, i))
            .collect();
        undecodable.sort_by_key(|&(_, i)| i);
        for (key, _) in undecodable {
            errors.push(self.err(
                key,
                self.cell(row, key),
                "含无法解码的字节（文件编码前后不一致或文件已损坏），请核对原文件",
            ));
        }
        let id_raw = self.cell(row, "id_number");
        let id = match yanglao_domain::IdNumber::parse(id_raw) {
            Ok(id) if id.birth_date() > self.today => {
                errors.push(self.err(
                    "id_number",
                    id_raw,
                    format!("身份证号中的出生日期 {} 晚于导入日期 {}", id.birth_date(), self.today),
                ));
                None
            }
            Ok(id) => Some(id),
            Err(e) => {
                errors.push(self.err("id_number", id_raw, e.to_string()));
                None
            }
        };
        let name = self.cell(row, "name").to_string();
        if name.is_empty() {
            errors.push(self.err("name", "", "姓名为空"));
        } else if name.chars().count() > 50 {
            errors.push(self.err("name", &name, "姓名超过50个字"));
        }
        let birth = id.as_ref().map(|i| i.birth_date());
        let date = |key: &str, required: bool, errors: &mut Vec<CellError>| -> Option<NaiveDate> {
            let raw = self.cell(row, key);
            if raw.is_empty() {
                if required {
                    errors.push(self.err(key, raw, "日期为空"));
                }
                return None;
            }
            match parse_date(raw) {
                None => {
                    errors.push(self.err(key, raw, "不是有效日期（应为 YYYY-MM-DD）"));
                    None
                }
                Some(d) if d > self.today && key != "to" => {
                    errors.push(self.err(key, raw, format!("日期晚于导入日期 {}", self.today)));
                    None
                }
                Some(d) if birth.is_some_and(|b| d < b) => {
                    errors.push(self.err(key, raw, "日期早于出生日期"));
                    None
                }
                Some(d) => Some(d),
            }
        };
        // What each source yields here bounds `Source::max_facts_per_row`.
        let mut facts = Vec::new();
        let value = |kind: FactKind, key: &str, raw: &str, errors: &mut Vec<CellError>| -> Option<String> {
            match kind.canonical_value(raw) {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(self.err(key, raw, e.to_string()));
                    None
                }
            }
        };
        match self.source.kind {
            SourceKind::GonganHukou => {
                let since = date("since", true, &mut errors);
                let hukou_raw = self.cell(row, "hukou");
                let hukou = self.division(hukou_raw, "hukou", &mut errors);
                let res_raw = self.cell(row, "residence");
                let residence = if res_raw.is_empty() {
                    None
                } else {
                    self.division(res_raw, "residence", &mut errors)
                };
                let ur_raw = self.cell(row, "urban_rural");
                let ur = if ur_raw.is_empty() {
                    None
                } else {
                    value(FactKind::UrbanRural, "urban_rural", ur_raw, &mut errors)
                };
                if let Some(from) = since {
                    if let Some(h) = hukou {
                        facts.push(RowFact {
                            kind: FactKind::Hukou,
                            value: h.full(),
                            from,
                            to: None,
                        });
                    }
                    if let Some(r) = residence {
                        facts.push(RowFact {
                            kind: FactKind::Residence,
                            value: r.full(),
                            from,
                            to: None,
                        });
                    }
                    if let Some(u) = ur {
                        facts.push(RowFact {
                            kind: FactKind::UrbanRural,
                            value: u,
                            from,
                            to: None,
                        });
                    }
                }
            }
            SourceKind::GonganDeath => {
                if let Some(d) = date("date", true, &mut errors) {
                    facts.push(RowFact {
                        kind: FactKind::Death,
                        value: "死亡".into(),
                        from: d,
                        to: None,
                    });
                }
            }
            SourceKind::MinzhengAssistance => {
                let cat = self.cell(row, "category");
                let mode = self.cell(row, "mode");
                let from = date("from", true, &mut errors);
                let to = date("to", false, &mut errors);
                let kv = match cat {
                    "低保" | "最低生活保障" | "低保对象" => Some((FactKind::Dibao, "是".to_string())),
                    "低收入" | "低收入人口" | "低边" => Some((FactKind::LowIncome, "是".to_string())),
                    "特困" | "特困人员" | "特困供养" => {
                        value(FactKind::Tekun, "mode", mode, &mut errors).map(|v| (FactKind::Tekun, v))
                    }
                    other => {
                        errors.push(self.err("category", other, "救助类别应为 低保、特困 或 低收入"));
                        None
                    }
                };
                if let (Some((k, v)), Some(from)) = (kv, from) {
                    facts.push(RowFact {
                        kind: k,
                        value: v,
                        from,
                        to,
                    });
                }
            }
            SourceKind::MinzhengLiving | SourceKind::CommunityLiving => {
                let v = value(FactKind::Living, "living", self.cell(row, "living"), &mut errors);
                let from = date("from", true, &mut errors);
                let to = date("to", false, &mut errors);
                if let (Some(v), Some(from)) = (v, from) {
                    facts.push(RowFact {
                        kind: FactKind::Living,
                        value: v,
                        from,
                        to,
                    });
                }
            }
            SourceKind::CanlianDisability => {
                let raw = format!(
                    "{}:{}",
                    self.cell(row, "category").trim_end_matches("残疾"),
                    self.cell(row, "grade")
                );
                let v = match FactKind::Disability.canonical_value(&raw) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let key = if matches!(
                            &e,
                            FactValueError::NotAllowed {
                                what: "残疾等级", ..
                            }
                        ) {
                            "grade"
                        } else {
                            "category"
                        };
                        errors.push(self.err(key, self.cell(row, key), e.to_string()));
                        None
                    }
                };
                let from = date("from", true, &mut errors);
                let to = date("to", false, &mut errors);
                if let (Some(v), Some(from)) = (v, from) {
                    facts.push(RowFact {
                        kind: FactKind::Disability,
                        value: v,
                        from,
                        to,
                    });
                }
            }
            SourceKind::WeijianFamilyPlanning => {
                let v = value(
                    FactKind::FamilyPlanningSpecial,
                    "category",
                    self.cell(row, "category"),
                    &mut errors,
                );
                let from = date("from", true, &mut errors);
                if let (Some(v), Some(from)) = (v, from) {
                    facts.push(RowFact {
                        kind: FactKind::FamilyPlanningSpecial,
                        value: v,
                        from,
                        to: None,
                    });
                }
            }
            SourceKind::WeijianCapability => {
                let v = value(FactKind::CapabilityLevel, "level", self.cell(row, "level"), &mut errors);
                let from = date("date", true, &mut errors);
                if let (Some(v), Some(from)) = (v, from) {
                    facts.push(RowFact {
                        kind: FactKind::CapabilityLevel,
                        value: v,
                        from,
                        to: None,
                    });
                }
            }
            SourceKind::TuiyiYoufu => {
                let v = value(FactKind::Youfu, "category", self.cell(row, "category"), &mut errors);
                let sup_raw = self.cell(row, "supporter");
                let sup = if sup_raw.is_empty() {
                    None
                } else {
                    value(FactKind::LegalSupporter, "supporter", sup_raw, &mut errors)
                };
                let from = date("from", true, &mut errors);
                if let Some(from) = from {
                    if let Some(v) = v {
                        facts.push(RowFact {
                            kind: FactKind::Youfu,
                            value: v,
                            from,
                            to: None,
                        });
                    }
                    if let Some(s) = sup {
                        facts.push(RowFact {
                            kind: FactKind::LegalSupporter,
                            value: s,
                            from,
                            to: None,
                        });
                    }
                }
            }
            SourceKind::RenshePension | SourceKind::YibaoMedical => {
                let kind = if self.source.kind == SourceKind::RenshePension {
                    FactKind::Pension
                } else {
                    FactKind::Medical
                };
                let raw = format!("{}:{}", self.cell(row, "type"), self.cell(row, "status"));
                let v = match kind.canonical_value(&raw) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        errors.push(self.err("type", &raw.replace(':', " / "), e.to_string()));
                        None
                    }
                };
                let from = date("from", true, &mut errors);
                if let (Some(v), Some(from)) = (v, from) {
                    facts.push(RowFact {
                        kind,
                        value: v,
                        from,
                        to: None,
                    });
                }
            }
        }
        for fact in &facts {
            if let Some(to) = fact.to {
                if to <= fact.from {
                    errors.push(self.err("to", &to.to_string(), "结束日期不晚于开始日期"));
                }
            }
        }
        match (id, errors.is_empty()) {
            (Some(id_number), true) => Ok(ParsedRow { id_number, name, facts }),
            _ => Err(errors),
        }
    }

    /// A division code must be well formed; inside a province yanglao holds, its county (and
    /// township, for finer codes) must be known on some date. Codes of other provinces are
    /// accepted as they are (户籍在区外).
    fn division(&self, raw: &str, key: &str, errors: &mut Vec<CellError>) -> Option<DivisionCode> {
        let code = match DivisionCode::parse(raw) {
            Ok(c) => c,
            Err(e) => {
                errors.push(self.err(key, raw, e.to_string()));
                return None;
            }
        };
        let province = code.ancestor(DivisionLevel::Province);
        let held = province.is_some_and(|p| self.catalogue.get(p).is_some());
        if held {
            for level in [DivisionLevel::County, DivisionLevel::Township] {
                if let Some(a) = code.ancestor(level) {
                    if a.level() == level && self.catalogue.get(a).is_none() {
                        errors.push(self.err(key, raw, format!("区划库中没有{}代码 {}", level.label(), a.short())));
                        return None;
                    }
                }
            }
        }
        Some(code)
    }
}
