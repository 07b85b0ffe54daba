//! Importing assessments done in other systems (`.xlsx`, or CSV) to GB/T 42195-2022: one row per
//! assessment with the 26 item scores, the C.4 inputs and the two assessors. Every row is scored
//! here and checked against what the file states; any problem refuses the whole file with every
//! row's problems listed (row as a spreadsheet shows it, column, reason), and a clean file lands
//! in one transaction: requests, records and `capability_level` facts together or not at all.
//! A result has legal effect (benefits follow from it), so a half-imported file is worse than a
//! refused one.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use yanglao_domain::{FactKind, IdNumber};
use yanglao_registry::import::sha256_file;
use yanglao_registry::reader::{self, ReadError};
use yanglao_registry::sources::mask_raw;
use yanglao_store::assessments::{self as store, AgencyRow, AssessorRow, NewRecord, NewRequest};
use yanglao_store::registry::{self, BatchSummary, NewBatch, RowIssue, Severity, Staged, StagedFact};
use yanglao_store::{Db, StoreError, Tx};

use crate::gbt42195::{self, Answers, Conditions, Level, RiskEventCount, RiskEvents, INDICATORS};
use crate::service::{result_department, submission};
use crate::workflow::{Reason, RequestedBy, Status};

/// `import_batch.source` of these files: the same file is refused the second time.
pub const SOURCE: &str = "assessment_xlsx";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("表头缺少必需的列：{0}")]
    Header(String),
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
}

#[derive(Debug)]
pub enum Outcome {
    Applied {
        batch: BatchSummary,
        records: usize,
    },
    /// Nothing was imported; every problem found.
    Rejected(Vec<RowIssue>),
    /// The same file was imported before (same SHA-256).
    AlreadyImported(BatchSummary),
}

/// Column meanings: (key, header, aliases, required).
const COLUMNS: [(&str, &str, &[&str], bool); 12] = [
    ("id", "身份证号", &["公民身份号码", "A.2.8"], true),
    ("name", "姓名", &["A.2.1"], true),
    ("date", "评估日期", &["评估基准日期", "A.1.2"], true),
    ("no", "评估编号", &["A.1.1"], false),
    ("reason", "评估原因", &["A.1.3"], false),
    ("agency", "评估机构", &[], true),
    ("a1", "评估员1", &["评估员一"], true),
    ("a2", "评估员2", &["评估员二"], true),
    ("coma", "昏迷", &["A.5.11"], true),
    ("icd", "疾病诊断编码", &["诊断编码", "A.4.1"], false),
    ("total", "总分", &["老年人能力总得分", "C.2"], false),
    ("level", "能力等级", &["最终等级", "老年人能力最终等级", "C.5"], false),
];

const RISK: [(&str, &str); 5] = [
    ("A.2.14.1", "跌倒"),
    ("A.2.14.2", "走失"),
    ("A.2.14.3", "噎食"),
    ("A.2.14.4", "自杀、自伤"),
    ("A.2.14.5", "其他"),
];

/// Whether a header names `code` ("B.1.1", "B.1.1 进食", "B.1.1进食"), not a longer code.
fn header_is_code(header: &str, code: &str) -> bool {
    header
        .trim()
        .strip_prefix(code)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
}

struct Layout {
    header: Vec<String>,
    cols: HashMap<&'static str, usize>,
    items: Vec<(&'static str, usize)>,
    risk: Vec<(&'static str, &'static str, usize)>,
}

fn layout(header: &[String]) -> Result<Layout, ImportError> {
    let header: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let find = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h == n || header_is_code(h, n)))
    };
    let mut cols = HashMap::new();
    let mut missing = Vec::new();
    for (key, title, aliases, req) in COLUMNS {
        let mut names = vec![title];
        names.extend_from_slice(aliases);
        match find(&names) {
            Some(i) => {
                cols.insert(key, i);
            }
            None if req => missing.push(title.to_string()),
            None => {}
        }
    }
    let mut items = Vec::new();
    for item in INDICATORS.iter().flat_map(|i| i.items.iter()) {
        match header.iter().position(|h| header_is_code(h, item.code)) {
            Some(i) => items.push((item.code, i)),
            None => missing.push(format!("{} {}", item.code, item.name)),
        }
    }
    let mut risk = Vec::new();
    for (code, name) in RISK {
        let pos = header
            .iter()
            .position(|h| header_is_code(h, code) || h == name || *h == format!("{name}次数"));
        match pos {
            Some(i) => risk.push((code, name, i)),
            None => missing.push(format!("{code} {name}")),
        }
    }
    if !missing.is_empty() {
        return Err(ImportError::Header(missing.join("、")));
    }
    Ok(Layout {
        header,
        cols,
        items,
        risk,
    })
}

/// One row that passed every check.
struct Good {
    row_no: i64,
    id: IdNumber,
    name: String,
    date: NaiveDate,
    record_no: String,
    reason: Reason,
    agency: AgencyRow,
    a1: AssessorRow,
    a2: AssessorRow,
    answers: Answers,
    conditions: Conditions,
    scored: gbt42195::Scored,
}

struct RowCheck<'a> {
    layout: &'a Layout,
    row_no: i64,
    cells: &'a [String],
    issues: Vec<RowIssue>,
}

impl RowCheck<'_> {
    fn cell(&self, i: usize) -> &str {
        self.cells.get(i).map(|s| s.trim()).unwrap_or("")
    }
    fn get(&self, key: &str) -> Option<(usize, &str)> {
        self.layout.cols.get(key).map(|&i| (i, self.cell(i)))
    }
    fn issue(&mut self, col: usize, value: &str, reason: impl Into<String>) {
        let column = self.layout.header.get(col).cloned().unwrap_or_default();
        let value = if column == "身份证号" || column == "公民身份号码" {
            mask_raw(value)
        } else {
            value.chars().take(60).collect()
        };
        self.issues.push(RowIssue {
            row_no: self.row_no,
            severity: Severity::Error,
            column,
            value,
            reason: reason.into(),
        });
    }
}

struct Lookups<'a> {
    t: &'a mut dyn Tx,
    agencies: HashMap<String, Option<AgencyRow>>,
}

impl Lookups<'_> {
    fn agency(&mut self, name: &str) -> Result<Option<AgencyRow>, StoreError> {
        if let Some(a) = self.agencies.get(name) {
            return Ok(a.clone());
        }
        let a = store::agency_by_name(self.t, name)?;
        self.agencies.insert(name.to_string(), a.clone());
        Ok(a)
    }
}

fn risk_count(s: &str) -> Option<RiskEventCount> {
    match s.trim() {
        "" | "0" | "无" => Some(RiskEventCount::None),
        "1" | "发生过1次" => Some(RiskEventCount::Once),
        "2" | "发生过2次" => Some(RiskEventCount::Twice),
        "3" | "发生过3次及以上" | "3次及以上" => Some(RiskEventCount::ThreeOrMore),
        s => s.parse::<u32>().ok().filter(|n| *n > 3).map(RiskEventCount::from_count),
    }
}

fn check_row(c: &mut RowCheck<'_>, look: &mut Lookups<'_>, today: NaiveDate) -> Result<Option<Good>, StoreError> {
    let (ci, raw) = c.get("id").unwrap_or((0, ""));
    let raw = raw.to_string();
    let id = match IdNumber::parse(&raw) {
        Ok(id) => Some(id),
        Err(e) => {
            c.issue(ci, &raw, e.to_string());
            None
        }
    };
    let (ni, name) = c.get("name").unwrap_or((0, ""));
    let name = name.to_string();
    if name.is_empty() || name.chars().count() > 50 {
        c.issue(ni, &name, "姓名为空或过长");
    }
    let (di, draw) = c.get("date").unwrap_or((0, ""));
    let draw = draw.to_string();
    let date = match yanglao_domain::dates::parse_date(&draw) {
        Some(d) if d > today => {
            c.issue(di, &draw, format!("评估日期晚于今天（{today}）"));
            None
        }
        Some(d) => Some(d),
        None => {
            c.issue(di, &draw, "评估日期无效，应为 YYYY-MM-DD");
            None
        }
    };
    let reason = match c.get("reason") {
        Some((i, r)) if !r.is_empty() => {
            let r = r.to_string();
            match Reason::parse_any(&r) {
                Some(x) => x,
                None => {
                    c.issue(
                        i,
                        &r,
                        "评估原因应为 A.1.3 的选项：首次评估、常规评估、即时评估、因对评估结果有疑问进行的复评、其他",
                    );
                    Reason::Other
                }
            }
        }
        _ => Reason::Other,
    };
    let record_no = c.get("no").map(|(_, s)| s.to_string()).unwrap_or_default();
    if record_no.chars().count() > 50 {
        let i = c.layout.cols.get("no").copied().unwrap_or(0);
        c.issue(i, &record_no, "评估编号过长");
    }

    // Agency and assessors: registered, qualified on the date, two different people.
    let (ai, aname) = c.get("agency").unwrap_or((0, ""));
    let aname = aname.to_string();
    let agency = match look.agency(&aname)? {
        Some(a) if date.is_some_and(|d| !a.qualified_on(d)) => {
            c.issue(ai, &aname, "评估机构在评估日期不在资质有效期内");
            None
        }
        Some(a) => Some(a),
        None => {
            c.issue(ai, &aname, "评估机构未登记（须先登记机构及其资质）");
            None
        }
    };
    let mut pair = Vec::new();
    for key in ["a1", "a2"] {
        let (i, v) = c.get(key).unwrap_or((0, ""));
        let v = v.to_string();
        let Some(a) = &agency else { continue };
        let found = store::assessors_matching(look.t, a.id, &v)?;
        match found.as_slice() {
            [one] if date.is_some_and(|d| !one.qualified_on(d)) => c.issue(i, &v, "评估员在评估日期不在资格有效期内"),
            [one] => pair.push(one.clone()),
            [] => c.issue(i, &v, "不是该评估机构登记的评估员（姓名或证书编号）"),
            _ => c.issue(i, &v, "该机构有多名同名评估员，请填写证书编号"),
        }
    }
    if pair.len() == 2 && pair[0].id == pair[1].id {
        let i = c.layout.cols.get("a2").copied().unwrap_or(0);
        let v = c.get("a2").map(|(_, s)| s.to_string()).unwrap_or_default();
        c.issue(i, &v, "两名评估员不能是同一人（附录C 评估员签名两处）");
    }

    // Items (Appendix B) and the C.4 inputs.
    let mut pairs = Vec::new();
    for &(code, i) in &c.layout.items {
        let v = c.cell(i).to_string();
        match v.parse::<u8>() {
            Ok(s)
                if gbt42195::INDICATORS
                    .iter()
                    .flat_map(|ind| ind.items.iter())
                    .any(|it| it.code == code && it.allows(s)) =>
            {
                pairs.push((code, s))
            }
            _ => c.issue(i, &v, format!("{code} 的得分不是该项的可选分值（附录B）")),
        }
    }
    let (mi, coma) = c.get("coma").unwrap_or((0, ""));
    let coma = coma.to_string();
    let coma = match coma.as_str() {
        "有" | "是" | "1" => true,
        "无" | "否" | "0" => false,
        _ => {
            c.issue(mi, &coma, "昏迷（A.5.11）应为 有 或 无");
            false
        }
    };
    let mut diagnoses = Vec::new();
    if let Some((i, v)) = c.get("icd") {
        let v = v.to_string();
        for code in v
            .split([',', '，', ';', '；', '、', ' '])
            .filter(|s| !s.trim().is_empty())
        {
            match crate::icd::Icd10::parse(code) {
                Ok(x) => diagnoses.push(x.to_string()),
                Err(e) => c.issue(i, code, e.to_string()),
            }
        }
    }
    let mut counts = [RiskEventCount::None; 5];
    for (slot, &(code, _, i)) in counts.iter_mut().zip(&c.layout.risk) {
        let v = c.cell(i).to_string();
        match risk_count(&v) {
            Some(n) => *slot = n,
            None => c.issue(
                i,
                &v,
                format!("{code} 应为 0、1、2、3（3 表示3次及以上）或 A.2.14 的选项"),
            ),
        }
    }
    let conditions = Conditions {
        coma,
        diagnoses,
        risk_events: RiskEvents {
            falls: counts[0],
            wandering: counts[1],
            choking: counts[2],
            self_harm: counts[3],
            other: counts[4],
        },
    };
    if !c.issues.is_empty() {
        return Ok(None);
    }
    let Ok(answers) = Answers::from_pairs(pairs) else {
        return Ok(None);
    };
    let scored = match gbt42195::score(&answers, &conditions) {
        Ok(s) => s,
        Err(e) => {
            c.issue(0, "", e.to_string());
            return Ok(None);
        }
    };
    // What the file states must be what the standard gives.
    if let Some((i, v)) = c.get("total") {
        let v = v.to_string();
        if !v.is_empty() && v.parse::<u8>().ok() != Some(scored.total) {
            c.issue(
                i,
                &v,
                format!("与各项得分之和不符：按附录B计算总分为 {}（C.2）", scored.total),
            );
        }
    }
    if let Some((i, v)) = c.get("level") {
        let v = v.to_string();
        if !v.is_empty() {
            let stated = FactKind::CapabilityLevel
                .canonical_value(&v)
                .ok()
                .and_then(|s| s.parse::<u8>().ok())
                .and_then(Level::from_code);
            if stated != Some(scored.final_level) {
                c.issue(i, &v, format!("与标准判定不符：按 C.3–C.5 应为 {}", scored.final_level));
            }
        }
    }
    match (id, date, agency, pair.len()) {
        (Some(id), Some(date), Some(agency), 2) if c.issues.is_empty() => {
            let a2 = pair.pop();
            let a1 = pair.pop();
            match (a1, a2) {
                (Some(a1), Some(a2)) => Ok(Some(Good {
                    row_no: c.row_no,
                    id,
                    name,
                    date,
                    record_no,
                    reason,
                    agency,
                    a1,
                    a2,
                    answers,
                    conditions,
                    scored,
                })),
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

/// Imports a file of assessments made elsewhere. `by` is who imports (recorded as the reviewer:
/// the import is the check that makes them results here).
pub fn import_file(
    db: &Db,
    path: &Path,
    by: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Outcome, ImportError> {
    let (sha, size) = sha256_file(path).map_err(ReadError::Io)?;
    if let Some(b) = registry::find_batch(db, SOURCE, &sha)? {
        return Ok(Outcome::AlreadyImported(b));
    }
    let mut opened = reader::open(path)?;
    let layout = layout(&opened.header)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut rows = Vec::new();
    while let Some((row_no, cells)) = opened.table.next_row()? {
        rows.push((row_no as i64, cells));
    }
    let encoding = opened.encoding.clone();
    let outcome = db.tx(|t| {
        let mut issues = Vec::new();
        let mut good: Vec<Good> = Vec::new();
        let mut seen: HashMap<(String, NaiveDate), i64> = HashMap::new();
        {
            let mut look = Lookups {
                t: &mut *t,
                agencies: HashMap::new(),
            };
            for (row_no, cells) in &rows {
                let mut c = RowCheck {
                    layout: &layout,
                    row_no: *row_no,
                    cells,
                    issues: Vec::new(),
                };
                let g = check_row(&mut c, &mut look, today)?;
                if let Some(g) = g {
                    let key = (g.id.as_str().to_string(), g.date);
                    let di = layout.cols.get("date").copied().unwrap_or(0);
                    if let Some(first) = seen.get(&key) {
                        c.issue(di, &g.date.to_string(), format!("与第{first}行是同一人同一评估日期"));
                    } else if let Some(pid) = store::person_id_by_number(look.t, g.id.as_str())? {
                        if let Some(r) = store::person_results(look.t, pid)?
                            .into_iter()
                            .find(|r| r.assessed_on == g.date)
                        {
                            c.issue(
                                di,
                                &g.date.to_string(),
                                format!("该老年人在该日期已有评估结果（{}）", r.record_no),
                            );
                        }
                    }
                    if c.issues.is_empty() {
                        seen.insert(key, *row_no);
                        good.push(g);
                    }
                }
                issues.append(&mut c.issues);
            }
        }
        if !issues.is_empty() || good.is_empty() {
            if good.is_empty() && issues.is_empty() {
                issues.push(RowIssue {
                    row_no: 2,
                    severity: Severity::Error,
                    column: String::new(),
                    value: String::new(),
                    reason: "文件没有数据行".into(),
                });
            }
            return Ok(Outcome::Rejected(issues));
        }
        let meta = NewBatch {
            source: SOURCE.into(),
            department: result_department().into(),
            file_name: file_name.clone(),
            sha256: sha.clone(),
            size_bytes: size as i64,
            encoding: encoding.clone(),
            archive_path: None,
            now,
            fail_at: None,
        };
        let mut firsts = std::collections::HashSet::new();
        let mut items: Vec<Result<Staged, String>> = Vec::new();
        for g in &good {
            items.push(Ok(Staged::Fact(StagedFact {
                person_id: None,
                row_no: g.row_no,
                id_number: g.id.as_str().to_string(),
                name: g.name.clone(),
                sex: g.id.sex().code(),
                birth_date: g.id.birth_date(),
                kind: FactKind::CapabilityLevel.code(),
                value: g.scored.final_level.code().to_string(),
                valid_from: g.date,
                valid_to: None,
                first_of_person: firsts.insert(g.id.as_str().to_string()),
            })));
            items.push(Ok(Staged::RowDone { ok: true }));
        }
        let batch = registry::apply_batch_in(t, &meta, &mut items.into_iter(), None)?;
        for g in &good {
            let pid = store::person_id_by_number(t, g.id.as_str())?
                .ok_or_else(|| StoreError::Aborted(format!("第{}行的人员未写入", g.row_no)))?;
            let qid = store::insert_request(
                t,
                &NewRequest {
                    person_id: pid,
                    requested_by: RequestedBy::Import.code().into(),
                    requester: g.agency.name.clone(),
                    reason: g.reason.code().into(),
                    reason_note: format!("{file_name} 第{}行", g.row_no),
                    disputed_record_id: None,
                    status: Status::Result.code().into(),
                    requested_on: g.date,
                    created_by: by.to_string(),
                    now,
                },
            )?;
            store::set_schedule(t, qid, g.agency.id, g.date)?;
            let basic = serde_json::Map::new();
            let sub = submission(&g.answers, &g.conditions, &basic, &g.scored, by, now);
            store::insert_imported_record(
                t,
                &NewRecord {
                    request_id: qid,
                    person_id: pid,
                    record_no: g.record_no.clone(),
                    agency_id: g.agency.id,
                    assessor1_id: Some(g.a1.id),
                    assessor2_id: Some(g.a2.id),
                    assessed_on: g.date,
                    origin: "import".into(),
                    now,
                },
                &sub,
                by,
                batch.id,
            )?;
        }
        Ok(Outcome::Applied {
            batch,
            records: good.len(),
        })
    })?;
    Ok(outcome)
}

/// The header row of an import file, in order: for a template and the CLI's help.
pub fn template_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "身份证号",
        "姓名",
        "评估日期",
        "评估编号",
        "评估原因",
        "评估机构",
        "评估员1",
        "评估员2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for item in INDICATORS.iter().flat_map(|i| i.items.iter()) {
        h.push(format!("{} {}", item.code, item.name));
    }
    for (code, name) in RISK {
        h.push(format!("{code} {name}"));
    }
    h.extend(["昏迷", "疾病诊断编码", "总分", "能力等级"].map(String::from));
    h
}
