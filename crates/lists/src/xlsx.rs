//! A list version as an Excel workbook and back: sheet 清单 in the seeds' table layout with the
//! rules in their own columns, sheet 参数 with the parameters, sheet 版本 with the version's
//! particulars. Importing checks every row and names row and column of each problem.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use yanglao_domain::DivisionCode;

use crate::content::{check_version, ListError};
use crate::model::{Basis, Item, ListLevel, ListVersion, ParamDecl, Period, ServiceType, SourceDoc};

const ITEM_HEADERS: [&str; 12] = [
    "序号",
    "代码",
    "服务项目",
    "服务对象",
    "服务内容及标准",
    "服务类型",
    "支出责任",
    "牵头部门",
    "资格规则",
    "金额规则",
    "周期",
    "说明",
];
const PARAM_HEADERS: [&str; 5] = ["参数", "类型", "取值", "由地方设定", "依据原文"];

fn period_word(p: Option<Period>) -> &'static str {
    match p {
        Some(Period::Month) => "月",
        Some(Period::Year) => "年",
        Some(Period::Once) => "一次",
        None => "",
    }
}

pub fn export(v: &ListVersion) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold().set_text_wrap();
    let wrap = rust_xlsxwriter::Format::new().set_text_wrap();
    let sheet = book.add_worksheet();
    sheet.set_name("清单")?;
    sheet.merge_range(0, 0, 0, ITEM_HEADERS.len() as u16 - 1, &v.title, &bold)?;
    for (c, h) in ITEM_HEADERS.iter().enumerate() {
        sheet.write_string_with_format(1, c as u16, *h, &bold)?;
    }
    for (c, w) in [6.0, 14.0, 18.0, 24.0, 50.0, 10.0, 20.0, 16.0, 40.0, 40.0, 6.0, 40.0]
        .iter()
        .enumerate()
    {
        sheet.set_column_width(c as u16, *w)?;
    }
    for (r, i) in v.items.iter().enumerate() {
        let row = r as u32 + 2;
        sheet.write_number(row, 0, f64::from(i.seq))?;
        let cells = [
            i.code.clone(),
            i.name.clone(),
            i.target.clone(),
            i.content.clone(),
            i.service_type.label().to_string(),
            i.funding.clone().unwrap_or_default(),
            i.lead.clone().unwrap_or_default(),
            i.eligibility.clone().unwrap_or_default(),
            i.amount.clone().unwrap_or_default(),
            period_word(i.period).to_string(),
            i.note.clone().unwrap_or_default(),
            match i.basis {
                Basis::Hukou => "户籍",
                Basis::Residence => "常住",
            }
            .to_string(),
        ];
        for (c, text) in cells.iter().enumerate() {
            sheet.write_string_with_format(row, c as u16 + 1, text, &wrap)?;
        }
    }
    let params = book.add_worksheet();
    params.set_name("参数")?;
    for (c, h) in PARAM_HEADERS.iter().enumerate() {
        params.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, p) in v.params.iter().enumerate() {
        let row = r as u32 + 1;
        params.write_string(row, 0, &p.name)?;
        params.write_string(row, 1, &p.ty)?;
        params.write_string(row, 2, p.value.as_deref().unwrap_or(""))?;
        params.write_string(row, 3, if p.local { "是" } else { "否" })?;
        params.write_string(row, 4, &p.basis)?;
    }
    let meta = book.add_worksheet();
    meta.set_name("版本")?;
    let rows = [
        ("标题", v.title.clone()),
        ("辖区代码", v.jurisdiction.short()),
        ("层级", v.level.label().to_string()),
        ("起始施行", v.effective_from.to_string()),
        ("变更说明", v.change_note.clone()),
        ("依据文件", v.source.title.clone()),
        ("文号", v.source.doc_no.clone().unwrap_or_default()),
        ("文件日期", v.source.date.map(|d| d.to_string()).unwrap_or_default()),
        ("种子文件", v.source.seed.clone()),
    ];
    for (r, (k, val)) in rows.iter().enumerate() {
        meta.write_string_with_format(r as u32, 0, *k, &bold)?;
        meta.write_string(r as u32, 1, val)?;
    }
    book.save_to_buffer()
}

fn text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        other => other.to_string().trim().to_string(),
    }
}

fn err(sheet: &str, row: usize, column: &str, message: impl Into<String>) -> ListError {
    ListError::Format(format!("工作表“{sheet}”第{row}行“{column}”列：{}", message.into()))
}

/// Reads a workbook written by `export` (or filled in by an office in that layout) and checks
/// it. Every problem found is returned, each with sheet, row and column.
pub fn import(bytes: &[u8]) -> Result<ListVersion, Vec<ListError>> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e: calamine::XlsxError| vec![ListError::Format(format!("Excel 文件无法读取：{e}"))])?;
    let mut errors = Vec::new();
    let sheet = |book: &mut Xlsx<_>, name: &str| {
        book.worksheet_range(name)
            .map_err(|_| vec![ListError::Format(format!("缺少工作表“{name}”"))])
    };
    let meta = sheet(&mut book, "版本")?;
    let get = |key: &str| -> String {
        meta.rows()
            .find(|r| r.first().map(text).as_deref() == Some(key))
            .and_then(|r| r.get(1))
            .map(text)
            .unwrap_or_default()
    };
    let title = get("标题");
    let jurisdiction = DivisionCode::parse(&get("辖区代码")).map_err(|e| err("版本", 2, "辖区代码", e.to_string()));
    let level_raw = get("层级");
    let level = ListLevel::parse(&level_raw).ok_or_else(|| {
        err(
            "版本",
            3,
            "层级",
            format!("“{level_raw}”应为 国家、省级、地市级 或 县级"),
        )
    });
    let effective_from = NaiveDate::parse_from_str(&get("起始施行"), "%Y-%m-%d")
        .map_err(|_| err("版本", 4, "起始施行", "应为 YYYY-MM-DD"));
    let source_date = match get("文件日期").as_str() {
        "" => Ok(None),
        s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| err("版本", 8, "文件日期", "应为 YYYY-MM-DD")),
    };

    let items_sheet = sheet(&mut book, "清单")?;
    let mut items = Vec::new();
    for (r, row) in items_sheet.rows().enumerate().skip(2) {
        let excel_row = r + 1;
        let cell = |c: usize| row.get(c).map(text).unwrap_or_default();
        if row.iter().all(|d| text(d).is_empty()) {
            continue;
        }
        let seq = match cell(0).parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                errors.push(err("清单", excel_row, "序号", format!("“{}”不是序号", cell(0))));
                continue;
            }
        };
        let service_type = match cell(5).as_str() {
            "物质帮助" => ServiceType::Material,
            "照护服务" => ServiceType::Care,
            "关爱服务" => ServiceType::Concern,
            other => {
                errors.push(err(
                    "清单",
                    excel_row,
                    "服务类型",
                    format!("“{other}”应为 物质帮助、照护服务 或 关爱服务"),
                ));
                continue;
            }
        };
        let period = match cell(10).as_str() {
            "" => None,
            "月" => Some(Period::Month),
            "年" => Some(Period::Year),
            "一次" => Some(Period::Once),
            other => {
                errors.push(err("清单", excel_row, "周期", format!("“{other}”应为 月、年 或 一次")));
                continue;
            }
        };
        let opt = |c: usize| Some(cell(c)).filter(|s| !s.is_empty());
        if cell(1).is_empty() || cell(2).is_empty() {
            errors.push(err("清单", excel_row, "代码", "代码和服务项目不能为空"));
            continue;
        }
        items.push(Item {
            code: cell(1),
            seq,
            name: cell(2),
            target: cell(3),
            content: cell(4),
            service_type,
            coverage: None,
            funding: opt(6),
            lead: opt(7),
            partners: Vec::new(),
            basis: if cell(12) == "常住" {
                Basis::Residence
            } else {
                Basis::Hukou
            },
            eligibility: opt(8),
            amount: opt(9),
            period,
            note: opt(11),
        });
    }
    let params_sheet = sheet(&mut book, "参数")?;
    let mut params = Vec::new();
    for row in params_sheet.rows().skip(1) {
        let cell = |c: usize| row.get(c).map(text).unwrap_or_default();
        if cell(0).is_empty() {
            continue;
        }
        params.push(ParamDecl {
            name: cell(0),
            ty: cell(1),
            value: Some(cell(2)).filter(|s| !s.is_empty()),
            local: cell(3) == "是",
            basis: cell(4),
        });
    }
    let (jurisdiction, level, effective_from, source_date) = match (jurisdiction, level, effective_from, source_date) {
        (Ok(j), Ok(l), Ok(e), Ok(d)) => (j, l, e, d),
        (j, l, e, d) => {
            errors.extend([j.err(), l.err(), e.err(), d.err()].into_iter().flatten());
            return Err(errors);
        }
    };
    let v = ListVersion {
        title,
        jurisdiction,
        level,
        effective_from,
        change_note: get("变更说明"),
        source: SourceDoc {
            title: get("依据文件"),
            doc_no: Some(get("文号")).filter(|s| !s.is_empty()),
            date: source_date,
            seed: get("种子文件"),
        },
        params,
        items,
    };
    // Rule errors name the item (序号); its row in the sheet is 序号 + 2 for an exported list.
    errors.extend(check_version(&v));
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(errors)
    }
}

/// The TOML a version is stored as.
pub fn to_toml(v: &ListVersion) -> Result<String, ListError> {
    toml::to_string(v).map_err(|e| ListError::Format(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{load, BUILTIN};

    #[test]
    fn export_then_import_gives_the_same_list() {
        for (_, text) in BUILTIN {
            let v = load(text).expect("list");
            let bytes = export(&v).expect("export");
            let back = import(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(back.items.len(), v.items.len());
            assert!(
                back.items.iter().zip(&v.items).all(|(a, b)| a.basis == b.basis),
                "户籍/常住 kept"
            );
            assert!(
                crate::diff::diff(&v, &back).is_empty(),
                "{:?}",
                crate::diff::diff(&v, &back)
            );
            // And the stored form round-trips.
            let again = load(&to_toml(&back).expect("toml")).expect("reload");
            assert_eq!(again.items.len(), v.items.len());
        }
    }

    #[test]
    fn import_names_row_and_column_of_each_problem() {
        let v = load(BUILTIN[0].1).expect("list");
        let mut edited = v.clone();
        edited.items[3].eligibility = Some("年龄 >=".into());
        let bytes = export(&edited).expect("export");
        let errors = import(&bytes).expect_err("rule error");
        assert!(
            errors.iter().any(|e| e
                .to_string()
                .starts_with("第4项“老年人能力综合评估”的资格规则：第1行第")),
            "{errors:?}"
        );
    }
}
