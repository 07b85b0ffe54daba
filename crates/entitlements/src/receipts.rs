//! What people actually receive or are enrolled in, from agency and payment files (CSV or
//! `.xlsx`): 身份证号, 项目代码, 金额, 起始日期, 终止日期 (optional). A file goes in whole or not at
//! all; every bad row is reported with its row number and column.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use yanglao_domain::dates::parse_date;
use yanglao_domain::{Fen, IdNumber};
use yanglao_registry::reader;
use yanglao_store::entitlements::{insert_receipts, Receipt};
use yanglao_store::{Db, StoreError};

pub const COLUMNS: [&str; 5] = ["身份证号", "项目代码", "金额", "起始日期", "终止日期"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "第{}行【{}】“{}”：{}",
            self.row, self.column, self.value, self.reason
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("读取文件：{0}")]
    Read(#[from] reader::ReadError),
    #[error("缺少列：{0}")]
    MissingColumns(String),
    #[error("{} 行有问题，整个文件未导入", .0.len())]
    Rows(Vec<RowError>),
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
}

/// Reads, checks and stores a receipts file. `known_items` are the item codes of the lists.
pub fn import_receipts(
    db: &Db,
    path: &Path,
    source: &str,
    known_items: &HashSet<String>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, ReceiptError> {
    let mut opened = reader::open(path)?;
    let col = |name: &str| opened.header.iter().position(|h| h.trim() == name);
    let missing: Vec<&str> = COLUMNS[..4].iter().filter(|c| col(c).is_none()).copied().collect();
    if !missing.is_empty() {
        return Err(ReceiptError::MissingColumns(missing.join("、")));
    }
    let idx: Vec<Option<usize>> = COLUMNS.iter().map(|c| col(c)).collect();
    let mut errors = Vec::new();
    // (row, ID number, item, amount, from, to) of rows that passed the checks.
    type Parsed = (u64, String, String, Option<i64>, NaiveDate, Option<NaiveDate>);
    let mut parsed: Vec<Parsed> = Vec::new();
    while let Some((row, cells)) = opened.table.next_row()? {
        let cell = |i: usize| idx[i].and_then(|k| cells.get(k)).map(|s| s.trim()).unwrap_or("");
        let mut err = |column: &str, value: &str, reason: &str| {
            errors.push(RowError {
                row,
                column: column.into(),
                value: value.into(),
                reason: reason.into(),
            })
        };
        let id = match IdNumber::parse(cell(0)) {
            Ok(id) => Some(id.as_str().to_string()),
            Err(e) => {
                err(COLUMNS[0], cell(0), &e.to_string());
                None
            }
        };
        let item = cell(1).to_string();
        if !known_items.contains(&item) {
            err(COLUMNS[1], &item, "不是清单中的项目代码");
        }
        let amount = if cell(2).is_empty() {
            Some(None)
        } else {
            match Fen::parse_yuan(cell(2)) {
                Ok(f) => Some(Some(f.get())),
                Err(e) => {
                    err(COLUMNS[2], cell(2), &e.to_string());
                    None
                }
            }
        };
        let from = parse_date(cell(3));
        if from.is_none() {
            err(COLUMNS[3], cell(3), "日期无效（应为 2025-01-31）");
        }
        let to = if cell(4).is_empty() {
            Some(None)
        } else {
            match parse_date(cell(4)) {
                Some(d) if from.is_some_and(|f| d <= f) => {
                    err(COLUMNS[4], cell(4), "终止日期应晚于起始日期");
                    None
                }
                Some(d) => Some(Some(d)),
                None => {
                    err(COLUMNS[4], cell(4), "日期无效（应为 2025-01-31）");
                    None
                }
            }
        };
        if let (Some(id), Some(amount), Some(from), Some(to)) = (id, amount, from, to) {
            parsed.push((row, id, item, amount, from, to));
        }
    }
    // Persons by ID number, read together.
    let mut ids: Vec<&str> = parsed.iter().map(|p| p.1.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut person_of: HashMap<String, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let params: Vec<yanglao_store::Value> = chunk.iter().map(|s| yanglao_store::Value::text(*s)).collect();
        let marks = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
        db.scan(
            &format!("SELECT id_number, id FROM person WHERE id_number IN ({marks})"),
            &params,
            |r| {
                person_of.insert(r.text(0)?, r.int(1)?);
                Ok(())
            },
        )?;
    }
    let mut receipts = Vec::with_capacity(parsed.len());
    for (row, id, item, amount_fen, valid_from, valid_to) in parsed {
        match person_of.get(&id) {
            Some(pid) => receipts.push(Receipt {
                person_id: *pid,
                item_code: item,
                amount_fen,
                valid_from,
                valid_to,
                source: source.to_string(),
            }),
            None => errors.push(RowError {
                row,
                column: COLUMNS[0].into(),
                value: IdNumber::parse(&id).map(|i| i.masked()).unwrap_or_default(),
                reason: "登记中没有此人".into(),
            }),
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(ReceiptError::Rows(errors));
    }
    insert_receipts(db, &receipts, by, now)?;
    Ok(receipts.len())
}
