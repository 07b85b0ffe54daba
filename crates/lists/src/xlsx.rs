//! A list version as an Excel workbook and back: sheet 清单 in the seeds' table layout with the
//! rules in their own columns, sheet 参数 with the parameters, sheet 版本 with the version's
//! particulars. Importing checks every row and names row and column of each problem.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use yanglao_domain::DivisionCode;

use crate::content::{check_version, ListError};
use crate::model::{Basis, Coverage, Item, ListLevel, ListVersion, ParamDecl, Period, ServiceType, SourceDoc};

/// The columns of sheet 清单 after 序号, 代码, 服务项目, 服务对象 and 服务内容: 服务标准 only where
/// the list prints it in its own column (Hotan), as in the seeds' tables.
const ITEM_TAIL: [&str; 10] = [
    "服务类型",
    "普惠/保障",
    "支出责任",
    "牵头部门",
    "配合单位",
    "认定依据",
    "资格规则",
    "金额规则",
    "周期",
    "说明",
];
const PARAM_HEADERS: [&str; 5] = ["参数", "类型", "取值", "由地方设定", "依据原文"];

/// The header row of sheet 清单 for `v`.
fn item_headers(v: &ListVersion) -> Vec<&'static str> {
    let own_standard = v.items.iter().any(|i| i.standard.is_some());
    let mut h = vec!["序号", "代码", "服务项目", "服务对象"];
    if own_standard {
        // Hotan's order (seed 004): 服务内容, 服务类型, 服务标准.
        h.extend(["服务内容", ITEM_TAIL[0], "服务标准"]);
        h.extend(&ITEM_TAIL[1..]);
    } else {
        h.push("服务内容及标准");
        h.extend(ITEM_TAIL);
    }
    h
}

fn coverage_word(c: Option<Coverage>) -> &'static str {
    match c {
        Some(Coverage::Universal) => "普惠",
        Some(Coverage::Targeted) => "保障",
        None => "",
    }
}

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
    let headers = item_headers(v);
    sheet.merge_range(0, 0, 0, headers.len() as u16 - 1, &v.title, &bold)?;
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(1, c as u16, *h, &bold)?;
        let width = match *h {
            "序号" | "周期" => 6.0,
            "服务内容及标准" | "服务内容" | "服务标准" => 50.0,
            "资格规则" | "金额规则" | "说明" => 40.0,
            "服务类型" | "普惠/保障" | "认定依据" => 10.0,
            _ => 18.0,
        };
        sheet.set_column_width(c as u16, width)?;
    }
    for (r, i) in v.items.iter().enumerate() {
        let row = r as u32 + 2;
        for (c, h) in headers.iter().enumerate() {
            let text = match *h {
                "序号" => {
                    sheet.write_number(row, c as u16, f64::from(i.seq))?;
                    continue;
                }
                "代码" => i.code.clone(),
                "服务项目" => i.name.clone(),
                "服务对象" => i.target.clone(),
                "服务内容及标准" | "服务内容" => i.content.clone(),
                "服务标准" => i.standard.clone().unwrap_or_default(),
                "服务类型" => i.service_type.label().to_string(),
                "普惠/保障" => coverage_word(i.coverage).to_string(),
                "支出责任" => i.funding.clone().unwrap_or_default(),
                "牵头部门" => i.lead.clone().unwrap_or_default(),
                "配合单位" => i.partners.join("、"),
                "认定依据" => match i.basis {
                    Basis::Hukou => "户籍",
                    Basis::Residence => "常住",
                }
                .to_string(),
                "资格规则" => i.eligibility.clone().unwrap_or_default(),
                "金额规则" => i.amount.clone().unwrap_or_default(),
                "周期" => period_word(i.period).to_string(),
                "说明" => i.note.clone().unwrap_or_default(),
                _ => String::new(),
            };
            sheet.write_string_with_format(row, c as u16, &text, &wrap)?;
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
    let header: Vec<String> = items_sheet
        .rows()
        .nth(1)
        .map(|r| r.iter().map(text).collect())
        .unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| h == name);
    let content_col = col("服务内容及标准").or_else(|| col("服务内容"));
    for (name, c) in [
        ("序号", col("序号")),
        ("代码", col("代码")),
        ("服务项目", col("服务项目")),
        ("服务内容", content_col),
        ("服务类型", col("服务类型")),
    ] {
        if c.is_none() {
            errors.push(err("清单", 2, name, "表头缺少此列"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut items = Vec::new();
    let mut codes: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut seqs: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for (r, row) in items_sheet.rows().enumerate().skip(2) {
        let excel_row = r + 1;
        if row.iter().all(|d| text(d).is_empty()) {
            continue;
        }
        let cell = |name: &str| -> String {
            let c = if name == "服务内容" { content_col } else { col(name) };
            c.and_then(|c| row.get(c)).map(text).unwrap_or_default()
        };
        let opt = |name: &str| Some(cell(name)).filter(|s| !s.is_empty());
        let before = errors.len();
        let mut bad = |column: &str, message: String| errors.push(err("清单", excel_row, column, message));
        let seq = cell("序号").parse::<u32>().ok().filter(|n| *n > 0);
        match seq {
            None => bad("序号", format!("“{}”不是序号（正整数）", cell("序号"))),
            Some(n) => {
                if let Some(first) = seqs.insert(n, excel_row) {
                    bad("序号", format!("序号 {n} 与第{first}行重复"));
                }
            }
        }
        let code = cell("代码");
        if code.is_empty() {
            bad("代码", "代码不能为空（跨版本、跨层级不变的项目代码）".into());
        } else if let Some(first) = codes.insert(code.clone(), excel_row) {
            bad("代码", format!("代码 {code} 与第{first}行重复"));
        }
        if cell("服务项目").is_empty() {
            bad("服务项目", "服务项目不能为空".into());
        }
        let service_type = match cell("服务类型").as_str() {
            "物质帮助" => Some(ServiceType::Material),
            "照护服务" => Some(ServiceType::Care),
            "关爱服务" => Some(ServiceType::Concern),
            other => {
                bad("服务类型", format!("“{other}”应为 物质帮助、照护服务 或 关爱服务"));
                None
            }
        };
        let coverage = match cell("普惠/保障").as_str() {
            "" => None,
            "普惠" => Some(Coverage::Universal),
            "保障" => Some(Coverage::Targeted),
            other => {
                bad("普惠/保障", format!("“{other}”应为 普惠 或 保障（或留空）"));
                None
            }
        };
        let basis = match cell("认定依据").as_str() {
            "" | "户籍" => Basis::Hukou,
            "常住" => Basis::Residence,
            other => {
                bad("认定依据", format!("“{other}”应为 户籍 或 常住"));
                Basis::Hukou
            }
        };
        let period = match cell("周期").as_str() {
            "" => None,
            "月" => Some(Period::Month),
            "年" => Some(Period::Year),
            "一次" => Some(Period::Once),
            other => {
                bad("周期", format!("“{other}”应为 月、年 或 一次"));
                None
            }
        };
        if errors.len() > before {
            continue;
        }
        let (Some(seq), Some(service_type)) = (seq, service_type) else {
            continue;
        };
        items.push(Item {
            code,
            seq,
            name: cell("服务项目"),
            target: cell("服务对象"),
            content: cell("服务内容"),
            standard: opt("服务标准"),
            service_type,
            coverage,
            funding: opt("支出责任"),
            lead: opt("牵头部门"),
            partners: opt("配合单位")
                .map(|p| p.split('、').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default(),
            basis,
            eligibility: opt("资格规则"),
            amount: opt("金额规则"),
            period,
            note: opt("说明"),
        });
    }
    let params_sheet = sheet(&mut book, "参数")?;
    let mut params = Vec::new();
    for (r, row) in params_sheet.rows().enumerate().skip(1) {
        let excel_row = r + 1;
        let cell = |c: usize| row.get(c).map(text).unwrap_or_default();
        if row.iter().all(|d| text(d).is_empty()) {
            continue;
        }
        let before = errors.len();
        if cell(0).is_empty() {
            errors.push(err("参数", excel_row, "参数", "参数名不能为空"));
        }
        if crate::content::param_type(&cell(1)).is_none() {
            errors.push(err(
                "参数",
                excel_row,
                "类型",
                format!("“{}”应为 money、int 或 money_by_level", cell(1)),
            ));
        }
        let local = match cell(3).as_str() {
            "是" => true,
            "否" | "" => false,
            other => {
                errors.push(err("参数", excel_row, "由地方设定", format!("“{other}”应为 是 或 否")));
                false
            }
        };
        if errors.len() > before {
            continue;
        }
        params.push(ParamDecl {
            name: cell(0),
            ty: cell(1),
            value: Some(cell(2)).filter(|s| !s.is_empty()),
            local,
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

    type Grid = Vec<Vec<String>>;

    /// The workbook `export` writes for `v`, as grids of text per sheet, edited, written back.
    fn edited_workbook(v: &ListVersion, edit: impl Fn(&str, &mut Grid)) -> Vec<u8> {
        let bytes = export(v).expect("export");
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("open");
        let mut out = rust_xlsxwriter::Workbook::new();
        for name in ["清单", "参数", "版本"] {
            let range = book.worksheet_range(name).expect("sheet");
            let mut grid: Grid = range.rows().map(|r| r.iter().map(text).collect()).collect();
            edit(name, &mut grid);
            let sheet = out.add_worksheet();
            sheet.set_name(name).expect("name");
            for (r, row) in grid.iter().enumerate() {
                for (c, t) in row.iter().enumerate() {
                    sheet.write_string(r as u32, c as u16, t).expect("write");
                }
            }
        }
        out.save_to_buffer().expect("save")
    }

    fn column(grid: &Grid, name: &str) -> usize {
        grid[1]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    fn errors_of(bytes: &[u8]) -> Vec<String> {
        import(bytes)
            .expect_err("refused")
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn each_bad_cell_is_named_by_sheet_row_and_column() {
        // Item 5 of the region's list (高龄津贴) is on row 7 (title, header, items from row 3).
        let v = load(BUILTIN[0].1).expect("list");
        let bytes = edited_workbook(&v, |sheet, g| {
            if sheet == "清单" {
                let set = |g: &mut Grid, row: usize, col: &str, val: &str| {
                    let c = column(g, col);
                    g[row - 1][c] = val.to_string();
                };
                set(g, 7, "服务类型", "现金补贴");
                set(g, 8, "普惠/保障", "全民");
                set(g, 9, "服务项目", "");
                set(g, 10, "周期", "季");
                let first_code = g[2][column(g, "代码")].clone();
                set(g, 11, "代码", &first_code);
                set(g, 12, "序号", "十");
                set(g, 13, "认定依据", "户口");
                set(g, 14, "代码", "");
            }
        });
        let errors = errors_of(&bytes);
        for expected in [
            "工作表“清单”第7行“服务类型”列：“现金补贴”应为 物质帮助、照护服务 或 关爱服务",
            "工作表“清单”第8行“普惠/保障”列：“全民”应为 普惠 或 保障（或留空）",
            "工作表“清单”第9行“服务项目”列：服务项目不能为空",
            "工作表“清单”第10行“周期”列：“季”应为 月、年 或 一次",
            "工作表“清单”第11行“代码”列：代码 qiye-zhigong-yanglaobaoxian 与第3行重复",
            "工作表“清单”第12行“序号”列：“十”不是序号（正整数）",
            "工作表“清单”第13行“认定依据”列：“户口”应为 户籍 或 常住",
            "工作表“清单”第14行“代码”列：代码不能为空（跨版本、跨层级不变的项目代码）",
        ] {
            assert!(errors.iter().any(|e| e.contains(expected)), "{expected}\n{errors:#?}");
        }
    }

    #[test]
    fn several_bad_cells_in_one_row_are_all_reported() {
        let v = load(BUILTIN[0].1).expect("list");
        let bytes = edited_workbook(&v, |sheet, g| {
            if sheet == "清单" {
                for (col, val) in [("服务类型", "x"), ("周期", "y"), ("普惠/保障", "z")] {
                    let c = column(g, col);
                    g[4][c] = val.to_string();
                }
                let c = column(g, "序号");
                g[5][c] = "1".into(); // row 6 repeats 序号 1 of row 3
            }
        });
        let errors = errors_of(&bytes);
        let row5: Vec<_> = errors.iter().filter(|e| e.contains("第5行")).collect();
        assert_eq!(row5.len(), 3, "{errors:#?}");
        assert!(
            errors.iter().any(|e| e.contains("第6行“序号”列：序号 1 与第3行重复")),
            "{errors:#?}"
        );
    }

    #[test]
    fn bad_parameter_cells_and_missing_columns_are_named() {
        let v = load(BUILTIN[0].1).expect("list");
        let bytes = edited_workbook(&v, |sheet, g| {
            if sheet == "参数" {
                g[1][1] = "元".into();
                g[2][3] = "也许".into();
                g[3][0] = String::new();
            }
        });
        let errors = errors_of(&bytes);
        for expected in [
            "工作表“参数”第2行“类型”列：“元”应为 money、int 或 money_by_level",
            "工作表“参数”第3行“由地方设定”列：“也许”应为 是 或 否",
            "工作表“参数”第4行“参数”列：参数名不能为空",
        ] {
            assert!(errors.iter().any(|e| e.contains(expected)), "{expected}\n{errors:#?}");
        }

        let bytes = edited_workbook(&v, |sheet, g| {
            if sheet == "清单" {
                let c = column(g, "服务类型");
                g[1][c] = "类型".into();
            }
        });
        let errors = errors_of(&bytes);
        assert_eq!(
            errors,
            ["清单文件格式错误：工作表“清单”第2行“服务类型”列：表头缺少此列"]
        );

        let bytes = edited_workbook(&v, |sheet, g| {
            if sheet == "版本" {
                g[2][1] = "市级".into();
                g[3][1] = "2023/3/2".into();
            }
        });
        let errors = errors_of(&bytes);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("工作表“版本”第3行“层级”列：“市级”应为 国家、省级、地市级 或 县级")),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("工作表“版本”第4行“起始施行”列：应为 YYYY-MM-DD")),
            "{errors:#?}"
        );
    }

    #[test]
    fn hotan_keeps_its_own_standard_column() {
        // Seed 004, the Hotan table's columns: "对象 服务项目 服务内容 服务类型 服务标准 支出责任 牵头部门".
        let v = load(BUILTIN[1].1).expect("Hotan");
        let bytes = export(&v).expect("export");
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.clone())).expect("open");
        let range = book.worksheet_range("清单").expect("sheet");
        let header: Vec<String> = range.rows().nth(1).expect("header").iter().map(text).collect();
        assert!(header.contains(&"服务内容".to_string()) && header.contains(&"服务标准".to_string()));
        let std_col = header.iter().position(|h| h == "服务标准").expect("col");
        let row6: Vec<String> = range.rows().nth(7).expect("item 6").iter().map(text).collect();
        assert!(
            row6[std_col].starts_with("按照《80周岁以上老年人基本生活津贴制度》执行。"),
            "{row6:?}"
        );
        let back = import(&bytes).expect("import");
        assert_eq!(back.items[5].standard, v.items[5].standard);
        // The region's table has one column 服务内容及标准 (seed 000), and no 服务标准 column.
        let im = load(BUILTIN[0].1).expect("IM");
        let bytes = export(&im).expect("export");
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("open");
        let range = book.worksheet_range("清单").expect("sheet");
        let header: Vec<String> = range.rows().nth(1).expect("header").iter().map(text).collect();
        assert!(header.contains(&"服务内容及标准".to_string()) && !header.contains(&"服务标准".to_string()));
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
