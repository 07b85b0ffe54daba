//! Importing one department file: hash and archive the original, stream and validate every row,
//! apply the good rows as one batch, and report every bad row with its row number, column and
//! reason (on screen, as CSV and as `.xlsx`).

use std::collections::HashMap;
use std::fs::File;
use std::hash::Hash;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::RwLock;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use yanglao_domain::{Catalogue, Division, DivisionCode, DivisionLevel};
use yanglao_store::registry::{
    self, BatchSummary, FailAt, NewBatch, PersonIds, RowIssue, Severity, Staged, StagedFact,
};
use yanglao_store::{Db, StoreError};

use crate::reader::{self, Progress, ReadError};
use crate::sources::{RowReader, Source};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("{0}")]
    Header(String),
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
    #[error("写出问题报告失败：{0}")]
    Report(String),
}

pub struct ImportOptions<'a> {
    pub source: &'a Source,
    /// Facts dated after this day are refused.
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
    /// Where the original file is kept, named by its SHA-256.
    pub archive_dir: Option<PathBuf>,
    /// Where error reports are written.
    pub report_dir: Option<PathBuf>,
    /// Field key → header used by this office, where it differs from the default mapping.
    pub header_overrides: HashMap<String, String>,
    pub fail_at: Option<FailAt>,
    /// People already registered, kept across the files of one run (see [`PersonIds`]);
    /// `None` lets the database resolve every row.
    pub known: Option<&'a RwLock<PersonIds>>,
}

#[derive(Debug)]
pub enum ImportOutcome {
    Applied {
        batch: BatchSummary,
        reports: Vec<PathBuf>,
    },
    /// The same file (same SHA-256) was imported before for this source: nothing changes.
    AlreadyImported(BatchSummary),
}

pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    let digest = h.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), size))
}

/// Imports `path` as `opts.source`. `on_start` receives the progress counter and its total
/// before rows are read, so a caller can draw a progress bar from another thread.
pub fn import_file(
    db: &Db,
    catalogue: &Catalogue,
    path: &Path,
    opts: &ImportOptions<'_>,
    on_start: &mut dyn FnMut(Progress, Option<u64>),
) -> Result<ImportOutcome, ImportError> {
    let mut out = import_files(
        db,
        catalogue,
        &[(path, opts)],
        &mut |_, p, total| on_start(p, total),
        &mut |_, _| {},
    );
    // One job in, one result out.
    out.pop()
        .unwrap_or_else(|| Err(ReadError::Io(std::io::Error::other("没有要导入的文件")).into()))
}

/// A file hashed, checked against earlier batches, archived and opened on the reading thread.
enum Prepared {
    Already(BatchSummary),
    Ready {
        meta: NewBatch,
        progress: Progress,
        total: Option<u64>,
    },
}

/// One file being read on a thread of its own: first what it is, then its rows in chunks.
struct Reading {
    prepared: Receiver<Result<Prepared, ImportError>>,
    rows: Receiver<Vec<Result<Staged, String>>>,
}

/// Imports several files in order, each as its own batch. While one file's batch is applied
/// (the database's work, on one core), the next file is hashed, read and validated on the
/// other core, up to [`READ_AHEAD`] chunks ahead — so reading costs time only where the
/// database would otherwise wait for it. `on_start(i, …)` is called when file `i`'s batch
/// begins, `on_done(i, …)` when it has ended.
#[allow(clippy::type_complexity)]
pub fn import_files(
    db: &Db,
    catalogue: &Catalogue,
    jobs: &[(&Path, &ImportOptions<'_>)],
    on_start: &mut dyn FnMut(usize, Progress, Option<u64>),
    on_done: &mut dyn FnMut(usize, &Result<ImportOutcome, ImportError>),
) -> Vec<Result<ImportOutcome, ImportError>> {
    std::thread::scope(|scope| {
        let start = |i: usize| -> Reading {
            let (path, opts) = jobs[i];
            let (ptx, prx) = std::sync::mpsc::sync_channel(1);
            let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD);
            scope.spawn(move || read_file(db, catalogue, path, opts, ptx, tx));
            Reading {
                prepared: prx,
                rows: rx,
            }
        };
        // Files started: the current one first, then those read ahead of it.
        let mut started: std::collections::VecDeque<Reading> = std::collections::VecDeque::new();
        let mut next_to_start = 0;
        // The next file starts being read once the current one's rows are all read; a small
        // file (a death file) does not hold back the one after it, which starts with it: a
        // large file behind a short batch was otherwise read in the open (10M: the 养老保险
        // file behind the 死亡 batch, about 20 s).
        let start_next = |started: &mut std::collections::VecDeque<Reading>, next_to_start: &mut usize| {
            while *next_to_start < jobs.len() {
                let i = *next_to_start;
                started.push_back(start(i));
                *next_to_start += 1;
                let small = std::fs::metadata(jobs[i].0).is_ok_and(|m| m.len() <= SMALL_FILE_BYTES);
                if !small {
                    break;
                }
            }
        };
        let mut results = Vec::with_capacity(jobs.len());
        for (i, &(_, opts)) in jobs.iter().enumerate() {
            if started.is_empty() {
                start_next(&mut started, &mut next_to_start);
            }
            let Some(reading) = started.pop_front() else { break };
            let result = apply_file(
                db,
                opts,
                reading,
                &mut || {
                    if started.is_empty() {
                        start_next(&mut started, &mut next_to_start);
                    }
                },
                &mut |p, total| on_start(i, p, total),
            );
            on_done(i, &result);
            results.push(result);
        }
        results
    })
}

/// The reading thread: hash, look for an earlier batch of the same file, archive, open, then
/// stream validated rows. Stops early when the receiving side is gone.
fn read_file(
    db: &Db,
    catalogue: &Catalogue,
    path: &Path,
    opts: &ImportOptions<'_>,
    prepared: SyncSender<Result<Prepared, ImportError>>,
    rows: SyncSender<Vec<Result<Staged, String>>>,
) {
    let (mut opened, columns) = match prepare(db, path, opts) {
        Ok((p, Some(file))) => {
            if prepared.send(Ok(p)).is_err() {
                return;
            }
            file
        }
        Ok((p, None)) => {
            let _ = prepared.send(Ok(p));
            return;
        }
        Err(e) => {
            let _ = prepared.send(Err(e));
            return;
        }
    };
    let row_reader = RowReader {
        source: opts.source,
        columns: &columns,
        catalogue,
        today: opts.today,
    };
    let mut stream = RowStream::new(&mut opened, &row_reader, opts.known);
    // A chunk ends with a row: it holds a little more than CHUNK items.
    let mut chunk = Vec::with_capacity(CHUNK + 16);
    let timings = std::env::var_os("YANGLAO_TIMINGS").is_some();
    let (began, mut blocked) = (std::time::Instant::now(), std::time::Duration::ZERO);
    while stream.read_row(&mut chunk) {
        if chunk.len() >= CHUNK {
            let at = std::time::Instant::now();
            if rows
                .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK + 16)))
                .is_err()
            {
                return;
            }
            blocked += at.elapsed();
        }
    }
    let _ = rows.send(chunk);
    if timings {
        eprintln!(
            "    (reading {}: {:.2}s, of which waiting for the writer {:.2}s)",
            path.display(),
            began.elapsed().as_secs_f64(),
            blocked.as_secs_f64()
        );
    }
}

/// Rows, facts and issues a file yields, counted (`yanglao bench read`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadCounts {
    pub rows: u64,
    pub facts: u64,
    pub issues: u64,
}

/// Reads and validates a file as the importer's reading thread does, without a database, a
/// batch or a map of registered people: what reading costs on its own (`yanglao bench read`).
pub fn read_only(catalogue: &Catalogue, path: &Path, opts: &ImportOptions<'_>) -> Result<ReadCounts, ImportError> {
    let (mut opened, columns) = open_resolved(path, opts)?;
    let row_reader = RowReader {
        source: opts.source,
        columns: &columns,
        catalogue,
        today: opts.today,
    };
    let mut stream = RowStream::new(&mut opened, &row_reader, None);
    let mut counts = ReadCounts::default();
    let mut chunk = Vec::with_capacity(CHUNK + 16);
    loop {
        let more = stream.read_row(&mut chunk);
        for item in chunk.drain(..) {
            match item.map_err(|e| ReadError::Io(std::io::Error::other(e)))? {
                Staged::Fact(_) => counts.facts += 1,
                Staged::Issue(_) => counts.issues += 1,
                Staged::RowDone { .. } => counts.rows += 1,
            }
        }
        if !more {
            return Ok(counts);
        }
    }
}

/// The file opened and its header resolved to the source's columns (a missing column refuses
/// the file before any row is read).
fn open_resolved(
    path: &Path,
    opts: &ImportOptions<'_>,
) -> Result<(reader::Opened, crate::sources::Columns), ImportError> {
    let opened = reader::open(path)?;
    let columns = opts
        .source
        .resolve(&opened.header, &opts.header_overrides)
        .map_err(ImportError::Header)?;
    Ok((opened, columns))
}

/// What the batch is to record of the file and, unless it was imported before, the file opened
/// with its columns resolved (a missing column refuses the file before any row is read).
#[allow(clippy::type_complexity)]
fn prepare(
    db: &Db,
    path: &Path,
    opts: &ImportOptions<'_>,
) -> Result<(Prepared, Option<(reader::Opened, crate::sources::Columns)>), ImportError> {
    let (sha, size) = sha256_file(path).map_err(ReadError::Io)?;
    if let Some(b) = registry::find_batch(db, opts.source.code, &sha)? {
        return Ok((Prepared::Already(b), None));
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let archive_path = match &opts.archive_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(ReadError::Io)?;
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("dat");
            let dest = dir.join(format!("{sha}.{ext}"));
            if !dest.exists() {
                std::fs::copy(path, &dest).map_err(ReadError::Io)?;
            }
            Some(dest.to_string_lossy().to_string())
        }
        None => None,
    };
    let (opened, columns) = open_resolved(path, opts)?;
    let meta = NewBatch {
        source: opts.source.code.to_string(),
        department: opts.source.department.code().to_string(),
        file_name,
        sha256: sha,
        size_bytes: size as i64,
        encoding: opened.encoding.clone(),
        archive_path,
        now: opts.now,
        fail_at: opts.fail_at,
    };
    let prepared = Prepared::Ready {
        meta,
        progress: opened.progress.clone(),
        total: opened.progress_total,
    };
    Ok((prepared, Some((opened, columns))))
}

/// Applies one file's batch from its reading thread's rows; `rows_read` is called once when the
/// last row has been received.
fn apply_file(
    db: &Db,
    opts: &ImportOptions<'_>,
    reading: Reading,
    rows_read: &mut (dyn FnMut() + Send),
    on_start: &mut dyn FnMut(Progress, Option<u64>),
) -> Result<ImportOutcome, ImportError> {
    let prepared = reading
        .prepared
        .recv()
        .map_err(|_| ReadError::Io(std::io::Error::other("读取线程意外结束")))??;
    let (meta, progress, total) = match prepared {
        Prepared::Already(b) => return Ok(ImportOutcome::AlreadyImported(b)),
        Prepared::Ready { meta, progress, total } => (meta, progress, total),
    };
    // Read ahead while an earlier file was applied: the same file may have been imported by
    // it (two copies in one delivery).
    if let Some(b) = registry::find_batch(db, &meta.source, &meta.sha256)? {
        return Ok(ImportOutcome::AlreadyImported(b));
    }
    on_start(progress, total);
    let mut items = reading
        .rows
        .into_iter()
        .chain(std::iter::from_fn(|| {
            rows_read();
            None
        }))
        .flatten();
    let batch = match opts.known {
        Some(known) => registry::apply_batch_known(db, &meta, &mut items, known),
        None => registry::apply_batch(db, &meta, &mut items),
    }?;
    let mut reports = Vec::new();
    if batch.rows_bad + batch.rows_duplicate > 0 {
        if let Some(dir) = &opts.report_dir {
            reports = write_reports(db, &batch, dir)?;
        }
    }
    Ok(ImportOutcome::Applied { batch, reports })
}

/// A file this small (a 10,000,000-person region's death file is about 7 MB) is read ahead
/// together with the file after it ([`import_files`]).
const SMALL_FILE_BYTES: u64 = 32 << 20;

/// Chunks a file may be read ahead of its batch (each about [`CHUNK`] items: rows' facts,
/// issues and row ends): about four million items, under a GB — as much as a full segment of the
/// largest file (`store::registry`), so that a province's file is read while the segment
/// before is written (at a quarter of this, the 10,000,000-person 户籍 file waited 40–49 s for
/// its rows), and the 1,000,000-person import's second file while the first is written (peak
/// 1.33 → 1.51 GiB).
const READ_AHEAD: usize = 1024;

/// Items handed from the reading thread to the writing one at a time (a chunk ends with a row,
/// so it may hold a few more).
const CHUNK: usize = 4096;

/// Turns file rows into staged facts and issues, one row at a time ([`RowStream::read_row`]).
struct RowStream<'a> {
    table: &'a mut reader::Table,
    reader: &'a RowReader<'a>,
    /// (person, fact kind, start date) → (row, value) of the first row that said it: a later
    /// row saying the same is a duplicate, saying something else is a contradiction.
    seen: foldhash::HashMap<u64, (u64, u64)>,
    /// People already staged in this batch (by ID hash).
    persons: foldhash::HashSet<u64>,
    /// The keys the current row entered in `seen`, taken out again if the row is refused.
    entered: Vec<u64>,
    /// For each fact of the current row, whether no earlier row stated it.
    fresh: Vec<bool>,
    failed: bool,
    /// The importer's map of registered people, shared with the batches.
    known: Option<&'a RwLock<PersonIds>>,
}

/// A 64-bit digest of a row's key or values, for finding duplicates. foldhash with a fixed
/// seed: as good a spread as the standard library's SipHash for this (nothing here is chosen
/// by an attacker who could aim for collisions: a collision marks a row as a duplicate, and a
/// file's author could simply repeat the row), at a fraction of the cost.
fn hash_of(parts: &impl Hash) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5941_4e47_4c41_4f00).hash_one(parts)
}

impl<'a> RowStream<'a> {
    fn new(opened: &'a mut reader::Opened, reader: &'a RowReader<'a>, known: Option<&'a RwLock<PersonIds>>) -> Self {
        // Room for the file's rows at once where their number can be judged: grown by
        // doubling, each map was rehashed into fresh memory about twenty times over for a
        // province's file.
        // A reservation that cannot be had is left to growth.
        let rows = opened.rows_estimate.and_then(|r| usize::try_from(r).ok()).unwrap_or(0);
        let mut seen = foldhash::HashMap::default();
        let _ = seen.try_reserve(rows.saturating_mul(reader.source.max_facts_per_row()));
        let mut persons = foldhash::HashSet::default();
        let _ = persons.try_reserve(rows);
        RowStream {
            table: &mut opened.table,
            reader,
            seen,
            persons,
            entered: Vec::new(),
            fresh: Vec::new(),
            failed: false,
            known,
        }
    }

    /// Reads the next row and appends what it yields (its facts or issues, then its end) to
    /// `out`; `false` once the file has no more rows or a read error was appended.
    fn read_row(&mut self, out: &mut Vec<Result<Staged, String>>) -> bool {
        if self.failed {
            return false;
        }
        let (row_no, cells) = match self.table.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => return false,
            Err(e) => {
                self.failed = true;
                out.push(Err(e.to_string()));
                return false;
            }
        };
        let row = row_no as i64;
        match self.reader.parse(cells) {
            Err(errors) => {
                for e in errors {
                    out.push(Ok(Staged::Issue(RowIssue {
                        row_no: row,
                        severity: Severity::Error,
                        column: e.column,
                        value: e.value,
                        reason: e.reason,
                    })));
                }
                out.push(Ok(Staged::RowDone { ok: false }));
            }
            Ok(parsed) => {
                let mut duplicate_of = None;
                let mut contradiction = None;
                // One probe of the map a fact, its keys taken out again if the row is refused
                // (a look-up and then an insert were two, in a map of a fact per row that
                // outgrows the caches).
                self.entered.clear();
                self.fresh.clear();
                let id = parsed.id_number.as_str();
                for f in &parsed.facts {
                    // Dates hashed as dates: formatting them was a tenth of reading a file.
                    let key = hash_of(&(id, f.kind.code(), f.from));
                    let val = hash_of(&(f.value.as_str(), f.to));
                    match self.seen.entry(key) {
                        std::collections::hash_map::Entry::Occupied(e) => {
                            let (first, v) = *e.get();
                            if v == val {
                                duplicate_of = Some(first);
                            } else {
                                contradiction = Some((first, f.kind));
                            }
                            self.fresh.push(false);
                        }
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert((row_no, val));
                            self.entered.push(key);
                            self.fresh.push(true);
                        }
                    }
                }
                if contradiction.is_some() {
                    for key in &self.entered {
                        self.seen.remove(key);
                    }
                }
                if let Some((first, kind)) = contradiction {
                    out.push(Ok(Staged::Issue(RowIssue {
                        row_no: row,
                        severity: Severity::Error,
                        column: self.reader.source.fields[0].header.to_string(),
                        value: parsed.id_number.masked(),
                        reason: format!(
                            "与第{first}行矛盾：同一人同一日期的{}不同；已导入第{first}行，本行未导入，请核实",
                            kind.label()
                        ),
                    })));
                    out.push(Ok(Staged::RowDone { ok: false }));
                } else if self.entered.is_empty() && !parsed.facts.is_empty() {
                    out.push(Ok(Staged::Issue(RowIssue {
                        row_no: row,
                        severity: Severity::Duplicate,
                        column: String::new(),
                        value: parsed.id_number.masked(),
                        reason: format!("与第{}行重复，只导入一次", duplicate_of.unwrap_or(0)),
                    })));
                    out.push(Ok(Staged::RowDone { ok: true }));
                } else {
                    let birth = parsed.id_number.birth_date();
                    let sex = parsed.id_number.sex().code();
                    let mut first_of_person = self.persons.insert(hash_of(&[id]));
                    // Who is registered already is looked up here, on the reading thread,
                    // rather than by the batch's writer (a tenth of its work in files of
                    // registered people).
                    let person_id = self.known.and_then(|k| k.read().ok().and_then(|k| k.get(id)));
                    // The name only where the writer reads it (a person's first fact, see
                    // `StagedFact::first_of_person`), moved into it; the ID number moved into
                    // the row's last fact sent and copied into the others.
                    let mut name = parsed.name;
                    let mut id: String = parsed.id_number.into();
                    // Only what the row adds: a fact an earlier row of the file stated
                    // already is in the batch once (a row repeating part of another, such as
                    // the same 户籍 with a 常住地 added, had PostgreSQL's upsert meet one key
                    // twice in a statement and refuse the whole batch).
                    let count = self.fresh.iter().filter(|&&f| f).count();
                    let fresh = parsed.facts.into_iter().zip(&self.fresh).filter(|&(_, &f)| f);
                    for (i, (f, _)) in fresh.enumerate() {
                        let last = i + 1 == count;
                        out.push(Ok(Staged::Fact(StagedFact {
                            person_id,
                            row_no: row,
                            id_number: if last { std::mem::take(&mut id) } else { id.clone() },
                            name: if first_of_person {
                                std::mem::take(&mut name)
                            } else {
                                String::new()
                            },
                            sex,
                            birth_date: birth,
                            kind: f.kind.code(),
                            value: f.value,
                            valid_from: f.from,
                            valid_to: f.to,
                            first_of_person,
                        })));
                        first_of_person = false;
                    }
                    out.push(Ok(Staged::RowDone { ok: true }));
                }
            }
        }
        true
    }
}

/// Writes the batch's row issues as CSV (UTF-8 with BOM, so Excel opens it) and `.xlsx`.
pub fn write_reports(db: &Db, batch: &BatchSummary, dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    std::fs::create_dir_all(dir).map_err(|e| ImportError::Report(e.to_string()))?;
    let stem = Path::new(&batch.file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let csv_path = dir.join(format!("批次{}_{}_问题行.csv", batch.id, stem));
    let xlsx_path = dir.join(format!("批次{}_{}_问题行.xlsx", batch.id, stem));
    let rep = |e: &dyn std::fmt::Display| ImportError::Report(e.to_string());
    let mut csv_file = File::create(&csv_path).map_err(|e| rep(&e))?;
    std::io::Write::write_all(&mut csv_file, b"\xEF\xBB\xBF").map_err(|e| rep(&e))?;
    let mut w = csv::Writer::from_writer(csv_file);
    w.write_record(["行号", "类型", "列", "值", "问题"])
        .map_err(|e| rep(&e))?;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("问题行").map_err(|e| rep(&e))?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in ["行号", "类型", "列", "值", "问题"].iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &bold)
            .map_err(|e| rep(&e))?;
    }
    sheet.set_column_width(4, 60).map_err(|e| rep(&e))?;
    let mut offset = 0i64;
    let mut xrow = 1u32;
    loop {
        let page = registry::batch_issues(db, batch.id, 10_000, offset)?;
        if page.is_empty() {
            break;
        }
        offset += page.len() as i64;
        for i in page {
            w.write_record([
                i.row_no.to_string(),
                i.severity.label().to_string(),
                i.column.clone(),
                i.value.clone(),
                i.reason.clone(),
            ])
            .map_err(|e| rep(&e))?;
            if xrow < 1_048_575 {
                sheet.write_number(xrow, 0, i.row_no as f64).map_err(|e| rep(&e))?;
                sheet.write_string(xrow, 1, i.severity.label()).map_err(|e| rep(&e))?;
                sheet.write_string(xrow, 2, &i.column).map_err(|e| rep(&e))?;
                sheet.write_string(xrow, 3, &i.value).map_err(|e| rep(&e))?;
                sheet.write_string(xrow, 4, &i.reason).map_err(|e| rep(&e))?;
                xrow += 1;
            }
        }
    }
    w.flush().map_err(|e| rep(&e))?;
    book.save(&xlsx_path).map_err(|e| rep(&e))?;
    Ok(vec![csv_path, xlsx_path])
}

/// Village-level divisions (嘎查、村、社区) for the catalogue: 区划代码, 名称. Codes must be
/// 12-digit village codes under a township the catalogue holds. Applied whole or not at all.
pub fn import_villages(db: &Db, catalogue: &Catalogue, path: &Path) -> Result<(usize, Vec<RowIssue>), ImportError> {
    let mut opened = reader::open(path)?;
    let find = |names: &[&str]| opened.header.iter().position(|h| names.contains(&h.trim()));
    let (Some(ci), Some(ni)) = (find(&["区划代码", "代码"]), find(&["名称", "区划名称"])) else {
        return Err(ImportError::Header("村级区划文件缺少必填列：区划代码、名称".into()));
    };
    let mut rows = Vec::new();
    let mut issues = Vec::new();
    while let Some((row_no, cells)) = opened.table.next_row()? {
        let raw = cells.get(ci).map(|s| s.trim()).unwrap_or("");
        let name = cells.get(ni).map(|s| s.trim()).unwrap_or("");
        let issue = |col: &str, v: &str, reason: String| RowIssue {
            row_no: row_no as i64,
            severity: Severity::Error,
            column: col.into(),
            value: v.into(),
            reason,
        };
        match DivisionCode::parse(raw) {
            Err(e) => issues.push(issue("区划代码", raw, e.to_string())),
            Ok(c) if c.level() != DivisionLevel::Village => {
                issues.push(issue("区划代码", raw, "不是村级（12位，末3位非000）代码".into()))
            }
            Ok(c) => match c.parent() {
                Some(t) if catalogue.get(t).is_some() => {
                    if name.is_empty() {
                        issues.push(issue("名称", name, "名称为空".into()));
                    } else {
                        rows.push(Division {
                            code: c,
                            name: name.to_string(),
                            level: DivisionLevel::Village,
                            parent: Some(t),
                            valid_from: None,
                            valid_to: None,
                            source: format!(
                                "村级区划导入（{}）",
                                path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
                            ),
                        });
                    }
                }
                _ => issues.push(issue("区划代码", raw, "所属乡级区划不在区划库中".into())),
            },
        }
    }
    let n = rows.len();
    db.tx(|t| {
        for d in &rows {
            yanglao_store::divisions::upsert_division(t, d)?;
        }
        Ok(())
    })?;
    Ok((n, issues))
}
