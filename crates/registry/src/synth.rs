//! A synthetic region for demos, tests and benchmarks: `yanglao gen` writes the files each
//! department would send (公安, 民政, 村/社区, 残联, 卫健, 退役军人, 人社, 医保) for N older people
//! living in the real townships of a region, on villages made up under them (well-formed
//! 12-digit codes). With `dirty`, it also writes the faults real files have, and records each
//! one in `manifest.json` so a test can check that the import reports every one of them.
//!
//! Deterministic: the same seed, size, region and date give the same files.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use yanglao_domain::catalogue::ChangeKind;
use yanglao_domain::{Catalogue, DivisionCode, DivisionLevel, IdNumber};

use crate::sources::{source_of, SourceKind};

/// SplitMix64: small, fast, and stable across releases (a generator crate may change its
/// streams between versions, which would change every generated region).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// Index into `weights` with probability proportional to the weight.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub people: usize,
    pub seed: u64,
    pub region: DivisionCode,
    pub as_of: NaiveDate,
    pub dirty: bool,
    pub out: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub seed: u64,
    pub people: usize,
    pub region: String,
    pub as_of: NaiveDate,
    pub dirty: bool,
    pub villages_file: String,
    pub villages: usize,
    /// In the order they should be imported.
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub source: String,
    pub encoding: String,
    pub rows: u64,
    /// Rows that must be imported (duplicates included: they are imported once).
    pub good_rows: u64,
    /// Distinct facts the good rows carry.
    pub facts: u64,
    /// Row numbers (header = row 1) that must be reported as errors, with what was done to them.
    pub errors: Vec<(u64, String)>,
    /// Row numbers that repeat an earlier row exactly.
    pub duplicates: Vec<u64>,
}

/// Ages 59–105 in completed years; shares follow the shape of China's older population (60–64
/// the largest cohort, falling off with age), with one cohort about to turn 60.
const AGE_BANDS: [(i32, i32, f64); 10] = [
    (59, 59, 0.04),
    (60, 64, 0.27),
    (65, 69, 0.24),
    (70, 74, 0.18),
    (75, 79, 0.11),
    (80, 84, 0.08),
    (85, 89, 0.05),
    (90, 94, 0.022),
    (95, 99, 0.007),
    (100, 105, 0.001),
];

const SURNAMES: [&str; 40] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马",
    "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾",
    "彭", "吕",
];
const GIVEN: [&str; 48] = [
    "桂兰", "秀英", "玉兰", "凤英", "淑珍", "秀珍", "桂英", "玉珍", "凤兰", "秀兰", "建国", "国强", "志明", "德明",
    "文华", "振华", "玉梅", "桂芝", "淑兰", "金花", "长林", "福山", "永祥", "宝山", "树林", "海青", "春花", "丽华",
    "德胜", "玉林", "秀云", "桂荣", "建华", "国华", "明", "华", "军", "平", "英", "芳", "兰", "刚", "勇", "敏", "静",
    "杰", "涛", "霞",
];
const MONGOLIAN: [&str; 24] = [
    "巴特尔",
    "其其格",
    "乌云",
    "斯琴",
    "额尔敦",
    "孟和",
    "苏和",
    "娜仁",
    "图雅",
    "宝音",
    "朝鲁",
    "哈斯",
    "巴雅尔",
    "萨仁",
    "格日勒",
    "乌兰",
    "阿拉坦",
    "布和",
    "呼和",
    "吉日嘎拉",
    "满都拉",
    "道尔吉",
    "乌日娜",
    "包金花",
];
const UYGHUR_GIVEN: [&str; 20] = [
    "买买提",
    "阿不都",
    "艾力",
    "吐尔逊",
    "阿依古丽",
    "古丽",
    "热依汗",
    "帕塔姆",
    "努尔",
    "肉孜",
    "斯迪克",
    "阿布拉",
    "依明",
    "艾合买提",
    "托合提",
    "玛依拉",
    "再乃甫",
    "阿米娜",
    "吾斯曼",
    "卡德尔",
];
const VILLAGE_WORDS: [&str; 20] = [
    "东升", "红旗", "新民", "前进", "团结", "胜利", "光明", "富裕", "太平", "永丰", "和平", "兴隆", "复兴", "友谊",
    "建设", "幸福", "丰收", "向阳", "长青", "新华",
];
/// Real county codes of other provinces for people whose 户籍 is outside the region.
const OUTSIDE: [&str; 8] = [
    "130102", "140105", "210102", "230102", "370102", "410102", "620102", "610102",
];

struct Village {
    code: DivisionCode,
    county: DivisionCode,
    urban: bool,
}

enum Out {
    Csv {
        w: BufWriter<File>,
        gbk: bool,
    },
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        path: PathBuf,
        row: u32,
    },
}

struct Writer {
    out: Out,
    entry: FileEntry,
    /// Rows written so far, header included.
    row: u64,
}

impl Writer {
    fn create(dir: &Path, file: &str, kind: SourceKind, gbk: bool, header: &[&str]) -> std::io::Result<Self> {
        let path = dir.join(file);
        let out = if file.ends_with(".xlsx") {
            let mut book = rust_xlsxwriter::Workbook::new();
            book.add_worksheet_with_constant_memory()
                .map_err(std::io::Error::other)?
                .set_name("数据")
                .map_err(std::io::Error::other)?;
            Out::Xlsx {
                book: Box::new(book),
                path,
                row: 0,
            }
        } else {
            Out::Csv {
                w: BufWriter::with_capacity(1 << 20, File::create(&path)?),
                gbk,
            }
        };
        let mut w = Writer {
            out,
            entry: FileEntry {
                file: file.to_string(),
                source: source_of(kind).code.to_string(),
                encoding: if file.ends_with(".xlsx") {
                    "xlsx".into()
                } else if gbk {
                    "GBK".into()
                } else {
                    "UTF-8".into()
                },
                rows: 0,
                good_rows: 0,
                facts: 0,
                errors: Vec::new(),
                duplicates: Vec::new(),
            },
            row: 0,
        };
        w.write_raw(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        Ok(w)
    }

    fn write_raw(&mut self, cells: &[String]) -> std::io::Result<()> {
        self.row += 1;
        match &mut self.out {
            Out::Csv { w, gbk } => {
                let line = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",") + "\r\n";
                if *gbk {
                    let (bytes, _, _) = encoding_rs::GBK.encode(&line);
                    w.write_all(&bytes)
                } else {
                    w.write_all(line.as_bytes())
                }
            }
            Out::Xlsx { book, row, .. } => {
                let sheet = book.worksheet_from_index(0).map_err(std::io::Error::other)?;
                for (c, v) in cells.iter().enumerate() {
                    sheet.write_string(*row, c as u16, v).map_err(std::io::Error::other)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    fn good(&mut self, cells: &[String], facts: u64) -> std::io::Result<()> {
        self.write_raw(cells)?;
        self.entry.good_rows += 1;
        self.entry.facts += facts;
        Ok(())
    }

    fn bad(&mut self, cells: &[String], what: &str) -> std::io::Result<()> {
        self.write_raw(cells)?;
        self.entry.errors.push((self.row, what.to_string()));
        Ok(())
    }

    fn duplicate(&mut self, cells: &[String]) -> std::io::Result<()> {
        self.write_raw(cells)?;
        self.entry.good_rows += 1;
        self.entry.duplicates.push(self.row);
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<FileEntry> {
        self.entry.rows = self.row.saturating_sub(1);
        match self.out {
            Out::Csv { mut w, .. } => w.flush()?,
            Out::Xlsx { mut book, path, .. } => book.save(&path).map_err(std::io::Error::other)?,
        }
        Ok(self.entry)
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn header(kind: SourceKind) -> Vec<&'static str> {
    source_of(kind).fields.iter().map(|f| f.header).collect()
}

/// The villages of the region: made up under every real township, with codes in the ranges of
/// standards/README.md §6.3 (001–199 居委会/社区, 200–399 村委会/嘎查).
fn villages(cat: &Catalogue, region: DivisionCode, as_of: NaiveDate, rng: &mut Rng) -> Vec<(Village, String, f64)> {
    let mut townships: Vec<_> = cat
        .all()
        .filter(|d| d.level == DivisionLevel::Township && cat.is_within_on(d.code, region, as_of))
        .filter(|d| !d.name.contains("监狱"))
        .collect();
    townships.sort_by_key(|d| d.code);
    let mut out = Vec::new();
    for t in townships {
        let Some(county) = county_of(cat, t.code, as_of) else {
            continue;
        };
        let street = t.name.ends_with("街道");
        let town = t.name.ends_with('镇');
        let sumu = t.name.contains("苏木");
        let n = 3 + rng.below(8);
        let weight = if street { 1.6 } else { 1.0 } * (0.5 + rng.unit());
        let communities = if street {
            n
        } else if town {
            2
        } else {
            0
        };
        for i in 0..n {
            let (num, urban) = if i < communities {
                (1 + i, true)
            } else {
                (201 + i - communities, false)
            };
            let Some(code) = DivisionCode::from_u64(t.code.as_u64() + num) else {
                continue;
            };
            let word = VILLAGE_WORDS[((t.code.as_u64() / 1000 + i) % VILLAGE_WORDS.len() as u64) as usize];
            let name = if urban {
                format!("{word}社区居委会")
            } else if sumu {
                format!("{word}嘎查")
            } else {
                format!("{word}村")
            };
            out.push((Village { code, county, urban }, name, weight / n as f64));
        }
    }
    out
}

fn county_of(cat: &Catalogue, code: DivisionCode, as_of: NaiveDate) -> Option<DivisionCode> {
    let mut cur = Some(code);
    while let Some(c) = cur {
        if c.level() == DivisionLevel::County {
            return Some(c);
        }
        cur = cat.parent_on(c, as_of);
    }
    None
}

/// The address code of an ID issued at birth: a county set up after the birth did not exist
/// then, so the number carries the county it was split from (和康县 residents born before
/// 2024-12-27 have 653223 皮山县 numbers).
fn address_at_birth(cat: &Catalogue, county: DivisionCode, birth: NaiveDate) -> DivisionCode {
    match cat.get(county).and_then(|d| d.valid_from) {
        Some(from) if from > birth => cat
            .changes()
            .iter()
            .find(|c| c.kind == ChangeKind::SplitFrom && c.to == county)
            .map(|c| c.from)
            .unwrap_or(county),
        _ => county,
    }
}

fn date_between(rng: &mut Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let days = (to - from).num_days().max(1);
    from + Duration::days(rng.below(days as u64) as i64)
}

fn years_before(d: NaiveDate, years: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year() - years, d.month(), d.day().min(28)).unwrap_or(d)
}

/// Corrupts one cell of a good row the way real files go wrong; returns what was done.
fn corrupt(rng: &mut Rng, kind: SourceKind, cells: &mut [String], today: NaiveDate) -> &'static str {
    match rng.below(4) {
        0 => {
            // Wrong check digit.
            let id = &mut cells[0];
            let last = id.pop().unwrap_or('0');
            id.push(if last == '1' { '2' } else { '1' });
            "校验码错误"
        }
        1 => {
            cells[1].clear();
            "姓名为空"
        }
        2 => {
            let date_col = cells.len()
                - 1
                - usize::from(matches!(
                    kind,
                    SourceKind::MinzhengAssistance
                        | SourceKind::MinzhengLiving
                        | SourceKind::CommunityLiving
                        | SourceKind::CanlianDisability
                ));
            cells[date_col] = if rng.chance(0.5) {
                "2099-13-45".into()
            } else {
                (today + Duration::days(30)).to_string()
            };
            "日期无效或晚于导入日期"
        }
        _ => {
            match kind {
                SourceKind::GonganHukou => cells[2] = "15019900120".into(),
                SourceKind::GonganDeath => cells[2].clear(),
                SourceKind::MinzhengAssistance => cells[2] = "五保".into(),
                SourceKind::MinzhengLiving | SourceKind::CommunityLiving => cells[2] = "群居".into(),
                SourceKind::CanlianDisability => cells[3] = "五级".into(),
                SourceKind::WeijianFamilyPlanning => cells[2] = "独生子女".into(),
                SourceKind::WeijianCapability => cells[2] = "7".into(),
                SourceKind::TuiyiYoufu => cells[2] = "其他".into(),
                SourceKind::RenshePension => cells[3] = "冻结".into(),
                SourceKind::YibaoMedical => cells[2] = "商业保险".into(),
            }
            "取值超出范围"
        }
    }
}

struct Files {
    w: Vec<(SourceKind, Writer)>,
    dirty: bool,
    today: NaiveDate,
}

impl Files {
    fn get(&mut self, kind: SourceKind) -> &mut Writer {
        let i = self.w.iter().position(|(k, _)| *k == kind).unwrap_or(0);
        &mut self.w[i].1
    }
}

/// Writes one row of `kind`; in a dirty region some rows are corrupted, repeated or contradicted.
fn emit(
    files: &mut Files,
    rng: &mut Rng,
    kind: SourceKind,
    cells: Vec<String>,
    facts: u64,
    contradict: Option<(usize, &str)>,
) -> std::io::Result<()> {
    let (dirty, today) = (files.dirty, files.today);
    let w = files.get(kind);
    if dirty {
        let r = rng.unit();
        if r < 0.008 {
            let mut bad = cells;
            let what = corrupt(rng, kind, &mut bad, today);
            return w.bad(&bad, what);
        }
        if r < 0.012 {
            w.good(&cells, facts)?;
            return w.duplicate(&cells);
        }
        if r < 0.015 {
            if let Some((col, other)) = contradict {
                w.good(&cells, facts)?;
                if cells[col] == other {
                    return Ok(());
                }
                let mut c = cells;
                c[col] = other.to_string();
                return w.bad(&c, "同一人同一日期记录矛盾");
            }
        }
    }
    w.good(&cells, facts)
}

pub fn generate(cat: &Catalogue, opts: &GenOptions) -> std::io::Result<Manifest> {
    std::fs::create_dir_all(&opts.out)?;
    let mut rng = Rng::new(opts.seed);
    let as_of = opts.as_of;
    let vill = villages(cat, opts.region, as_of, &mut rng);
    if vill.is_empty() {
        return Err(std::io::Error::other(format!(
            "区划 {} 下没有乡级区划，无法生成",
            opts.region
        )));
    }
    let villages_file = "00_区划_村级.csv".to_string();
    {
        let mut w = BufWriter::new(File::create(opts.out.join(&villages_file))?);
        writeln!(w, "区划代码,名称")?;
        for (v, name, _) in &vill {
            writeln!(w, "{},{}", v.code.full(), name)?;
        }
        w.flush()?;
    }
    let weights: Vec<f64> = vill.iter().map(|v| v.2).collect();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect();
    let total_weight = cumulative.last().copied().unwrap_or(1.0);
    let gbk = opts.dirty;
    let specs: [(SourceKind, &str, bool); 11] = [
        (SourceKind::GonganHukou, "01_公安_户籍.csv", false),
        (SourceKind::MinzhengAssistance, "02_民政_社会救助.csv", gbk),
        (SourceKind::MinzhengLiving, "03_民政_居住状况.csv", false),
        // One worksheet holds 1,048,576 rows: a province-sized region's community file is CSV
        // (real offices send one workbook per community; the import reads the first sheet).
        (
            SourceKind::CommunityLiving,
            if opts.people > 1_000_000 {
                "04_村社区_居住状况.csv"
            } else {
                "04_村社区_居住状况.xlsx"
            },
            false,
        ),
        (SourceKind::CanlianDisability, "05_残联_残疾人证.csv", gbk),
        (SourceKind::WeijianFamilyPlanning, "06_卫健_计生特殊家庭.csv", false),
        (SourceKind::WeijianCapability, "07_卫健_能力评估.csv", false),
        (SourceKind::TuiyiYoufu, "08_退役军人_优抚对象.csv", false),
        (SourceKind::RenshePension, "09_人社_养老保险.csv", false),
        (SourceKind::YibaoMedical, "10_医保_参保.csv", false),
        (SourceKind::GonganDeath, "11_公安_死亡.csv", false),
    ];
    let mut files = Files {
        w: Vec::new(),
        dirty: opts.dirty,
        today: as_of,
    };
    for (kind, file, enc_gbk) in specs {
        files
            .w
            .push((kind, Writer::create(&opts.out, file, kind, enc_gbk, &header(kind))?));
    }
    let band_weights: Vec<f64> = AGE_BANDS.iter().map(|b| b.2).collect();
    let mut ids: HashSet<u64> = HashSet::with_capacity(opts.people);
    let region_province = opts.region.prefix()[..2].to_string();
    let d = |s: NaiveDate| s.to_string();

    for _ in 0..opts.people {
        let band = AGE_BANDS[rng.weighted(&band_weights)];
        let age = band.0 + rng.below((band.1 - band.0 + 1) as u64) as i32;
        // Born between (age+1) years and age years before as_of, exclusive: age completed.
        let latest = years_before(as_of, age);
        let birth = latest - Duration::days(rng.below(364) as i64);
        let female = rng.chance((0.5 + f64::from(age - 60) * 0.006).clamp(0.4, 0.8));
        let x = rng.unit() * total_weight;
        let vi = cumulative.partition_point(|c| *c <= x).min(vill.len() - 1);
        let village = &vill[vi].0;
        let outside = rng.chance(0.02);
        let county_for_id = if outside {
            DivisionCode::parse(OUTSIDE[rng.below(OUTSIDE.len() as u64) as usize]).unwrap_or(village.county)
        } else {
            address_at_birth(cat, village.county, birth)
        };
        let id = loop {
            let seq = (rng.below(500) * 2 + u64::from(!female)) as u16;
            let Ok(id) = IdNumber::from_parts(&county_for_id.short(), birth, seq) else {
                continue;
            };
            let key: u64 = id.as_str()[..17].parse().unwrap_or(0);
            if ids.insert(key) {
                break id;
            }
        };
        let name = person_name(&mut rng, &region_province, female);
        let idn = id.as_str().to_string();
        let adult = years_before(birth, -18).max(birth);
        let recent = years_before(as_of, 1);

        // 公安 户籍
        let hukou = if outside { county_for_id } else { village.code };
        let since = date_between(&mut rng, adult, recent);
        let residence = if outside || rng.chance(0.05) {
            vill[rng.below(vill.len() as u64) as usize].0.code
        } else {
            village.code
        };
        let urban = if village.urban { "城镇" } else { "农村" };
        let row = vec![
            idn.clone(),
            name.clone(),
            hukou.full(),
            residence.full(),
            urban.into(),
            d(since),
        ];
        emit(
            &mut files,
            &mut rng,
            SourceKind::GonganHukou,
            row,
            3,
            Some((3, &vill[0].0.code.full())),
        )?;

        // 民政 社会救助
        let rural_factor = if village.urban { 0.7 } else { 1.3 };
        if rng.chance(0.01) {
            let mode = if rng.chance(0.8) {
                "分散供养"
            } else {
                "集中供养"
            };
            let from = date_between(&mut rng, years_before(as_of, 12).max(adult), recent);
            let row = vec![
                idn.clone(),
                name.clone(),
                "特困".into(),
                mode.into(),
                d(from),
                String::new(),
            ];
            let other = if mode == "分散供养" {
                "集中供养"
            } else {
                "分散供养"
            };
            emit(
                &mut files,
                &mut rng,
                SourceKind::MinzhengAssistance,
                row,
                1,
                Some((3, other)),
            )?;
        } else if rng.chance(0.05 * rural_factor) {
            let from = date_between(&mut rng, years_before(as_of, 10).max(adult), recent);
            // About one in ten left 低保 within the last year: the "no longer entitled" cases.
            let to = if rng.chance(0.1) {
                d(date_between(&mut rng, from + Duration::days(1), as_of))
            } else {
                String::new()
            };
            let row = vec![idn.clone(), name.clone(), "低保".into(), String::new(), d(from), to];
            emit(&mut files, &mut rng, SourceKind::MinzhengAssistance, row, 1, None)?;
        } else if rng.chance(0.03) {
            let from = date_between(&mut rng, years_before(as_of, 5).max(adult), recent);
            let row = vec![
                idn.clone(),
                name.clone(),
                "低收入".into(),
                String::new(),
                d(from),
                String::new(),
            ];
            emit(&mut files, &mut rng, SourceKind::MinzhengAssistance, row, 1, None)?;
        }

        // 居住状况: 村（社区） records everyone flagged; 民政 holds a subset (in a dirty
        // region some of its records contradict the village's).
        let living = if rng.chance(0.10) {
            Some("独居、空巢")
        } else if rng.chance(0.17) {
            Some("空巢")
        } else if !village.urban && rng.chance(0.06) {
            Some("留守")
        } else {
            None
        };
        if let Some(l) = living {
            let from = date_between(&mut rng, years_before(as_of, 3), recent);
            let row = vec![idn.clone(), name.clone(), l.to_string(), d(from), String::new()];
            emit(
                &mut files,
                &mut rng,
                SourceKind::CommunityLiving,
                row,
                1,
                Some((2, "与家人同住")),
            )?;
            if rng.chance(0.5) {
                let said = if opts.dirty && rng.chance(0.04) {
                    "与家人同住"
                } else {
                    l
                };
                let row = vec![
                    idn.clone(),
                    name.clone(),
                    said.to_string(),
                    d(from + Duration::days(15).min(as_of - from)),
                    String::new(),
                ];
                emit(&mut files, &mut rng, SourceKind::MinzhengLiving, row, 1, None)?;
            }
        }

        // 残联
        if rng.chance(0.06) {
            let cat_i = rng.weighted(&[0.15, 0.20, 0.02, 0.40, 0.05, 0.08, 0.10]);
            let grade = ["一级", "二级", "三级", "四级"][rng.weighted(&[0.1, 0.2, 0.3, 0.4])];
            let from = date_between(&mut rng, years_before(as_of, 15).max(adult), recent);
            let category = format!("{}残疾", yanglao_domain::fact::DISABILITY_CATEGORIES[cat_i]);
            let row = vec![
                idn.clone(),
                name.clone(),
                category,
                grade.into(),
                d(from),
                String::new(),
            ];
            let other = if grade == "一级" { "二级" } else { "一级" };
            emit(
                &mut files,
                &mut rng,
                SourceKind::CanlianDisability,
                row,
                1,
                Some((3, other)),
            )?;
        }

        // 卫健 计生特殊家庭
        if rng.chance(0.005) {
            let c = if rng.chance(0.6) {
                "独生子女死亡"
            } else {
                "独生子女伤残"
            };
            let from = date_between(&mut rng, years_before(as_of, 10).max(adult), recent);
            let row = vec![idn.clone(), name.clone(), c.into(), d(from)];
            emit(&mut files, &mut rng, SourceKind::WeijianFamilyPlanning, row, 1, None)?;
        }

        // 卫健 能力评估: more assessed and more impaired with age.
        if rng.chance(0.2 + f64::from(age - 59) * 0.006) {
            let older = f64::from((age - 60).max(0)) / 40.0;
            let level = rng.weighted(&[
                0.62 - 0.4 * older,
                0.2,
                0.09 + 0.15 * older,
                0.05 + 0.15 * older,
                0.04 + 0.1 * older,
            ]);
            let date = date_between(&mut rng, years_before(as_of, 2), as_of);
            let row = vec![idn.clone(), name.clone(), level.to_string(), d(date)];
            let other = if level == 0 { "1" } else { "0" };
            emit(
                &mut files,
                &mut rng,
                SourceKind::WeijianCapability,
                row,
                1,
                Some((2, other)),
            )?;
        }

        // 退役军人 优抚
        if rng.chance(0.01) {
            let c = *rng.pick(&yanglao_domain::fact::YOUFU_CATEGORIES);
            let sup = if rng.chance(0.3) { "无" } else { "有" };
            let from = date_between(&mut rng, years_before(as_of, 20).max(adult), recent);
            let row = vec![idn.clone(), name.clone(), c.into(), sup.into(), d(from)];
            emit(&mut files, &mut rng, SourceKind::TuiyiYoufu, row, 2, None)?;
        }

        // 人社 养老保险
        if rng.chance(0.97) {
            let t = if rng.chance(0.05) {
                "机关事业单位养老保险"
            } else if village.urban && rng.chance(0.75) || rng.chance(0.15) {
                "城镇职工基本养老保险"
            } else {
                "城乡居民基本养老保险"
            };
            let status = if age >= 60 { "待遇领取" } else { "参保缴费" };
            let from = if age >= 60 {
                date_between(&mut rng, years_before(birth, -60).max(adult), as_of)
            } else {
                date_between(&mut rng, adult, recent)
            };
            let row = vec![idn.clone(), name.clone(), t.into(), status.into(), d(from.min(as_of))];
            emit(
                &mut files,
                &mut rng,
                SourceKind::RenshePension,
                row,
                1,
                Some((3, "暂停")),
            )?;
        }

        // 医保
        if rng.chance(0.96) {
            let t = if village.urban && rng.chance(0.7) {
                "职工基本医疗保险"
            } else {
                "城乡居民基本医疗保险"
            };
            let from = date_between(&mut rng, years_before(as_of, 10).max(adult), recent);
            let row = vec![idn.clone(), name.clone(), t.into(), "参保".into(), d(from)];
            emit(
                &mut files,
                &mut rng,
                SourceKind::YibaoMedical,
                row,
                1,
                Some((3, "停保")),
            )?;
        }

        // 公安 死亡: about 1.5% died within the last year; older people more often.
        if rng.chance(0.005 + f64::from(age - 59) * 0.0006) {
            let date = date_between(&mut rng, years_before(as_of, 1), as_of);
            let row = vec![idn.clone(), name.clone(), d(date)];
            emit(&mut files, &mut rng, SourceKind::GonganDeath, row, 1, None)?;
        }
    }
    let mut entries = Vec::new();
    for (_, w) in files.w {
        entries.push(w.finish()?);
    }
    let manifest = Manifest {
        seed: opts.seed,
        people: opts.people,
        region: opts.region.short(),
        as_of,
        dirty: opts.dirty,
        villages_file,
        villages: vill.len(),
        files: entries,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
    std::fs::write(opts.out.join("manifest.json"), json)?;
    Ok(manifest)
}

fn person_name(rng: &mut Rng, province: &str, female: bool) -> String {
    match province {
        "65" if rng.chance(0.9) => {
            let first = UYGHUR_GIVEN[(rng.below(10) + if female { 10 } else { 0 }) as usize % UYGHUR_GIVEN.len()];
            format!("{first}·{}", rng.pick(&UYGHUR_GIVEN[..10]))
        }
        "15" if rng.chance(0.15) => rng.pick(&MONGOLIAN).to_string(),
        _ => {
            let given = if female { &GIVEN[..10] } else { &GIVEN[10..] };
            format!("{}{}", rng.pick(&SURNAMES), rng.pick(given))
        }
    }
}

pub fn read_manifest(dir: &Path) -> std::io::Result<Manifest> {
    let text = std::fs::read_to_string(dir.join("manifest.json"))?;
    serde_json::from_str(&text).map_err(std::io::Error::other)
}

/// Generates a region into `opts.out` and imports it into `db` the way `yanglao gen` followed by
/// `yanglao import` would: the built-in divisions, the generated villages, then every department
/// file as of `opts.as_of` (no archive, no reports). For tests that need a realistic registry.
pub fn generate_into(db: &yanglao_store::Db, opts: &GenOptions) -> Result<Manifest, crate::import::ImportError> {
    use crate::import::{import_file, import_villages, ImportOptions};
    let cat = yanglao_domain::catalogue::builtin::catalogue();
    let m = generate(&cat, opts).map_err(crate::reader::ReadError::Io)?;
    yanglao_store::divisions::save_catalogue(db, &cat)?;
    let cat = yanglao_store::divisions::load_catalogue(db)?;
    import_villages(db, &cat, &opts.out.join(&m.villages_file))?;
    let cat = yanglao_store::divisions::load_catalogue(db)?;
    let known = std::sync::RwLock::new(yanglao_store::registry::PersonIds::default());
    for f in &m.files {
        let src = crate::sources::source(&f.source)
            .ok_or_else(|| crate::import::ImportError::Header(format!("unknown source {}", f.source)))?;
        let o = ImportOptions {
            source: src,
            today: opts.as_of,
            now: chrono::Utc::now(),
            archive_dir: None,
            report_dir: None,
            header_overrides: Default::default(),
            fail_at: None,
            known: Some(&known),
        };
        import_file(db, &cat, &opts.out.join(&f.file), &o, &mut |_, _| {})?;
    }
    Ok(m)
}
