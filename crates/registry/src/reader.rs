//! Reading department files row by row in bounded memory: CSV in UTF-8 or GBK/GB18030 (detected),
//! and `.xlsx` (first sheet, streamed cell by cell).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use calamine::{DataRef, Reader, Xlsx};
use encoding_rs::{Encoding, GB18030, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("无法读取文件：{0}")]
    Io(#[from] std::io::Error),
    #[error("CSV 第{row}行格式错误：{detail}")]
    Csv { row: u64, detail: String },
    #[error("Excel 文件无法读取：{0}")]
    Xlsx(String),
    #[error("文件格式不支持：{0}（支持 .csv 和 .xlsx）")]
    Format(String),
    #[error("文件为空或没有表头")]
    NoHeader,
}

/// Bytes consumed so far, for a progress bar.
#[derive(Clone, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counting<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Detects the text encoding from the first 64 KiB: UTF-8 (with or without BOM) when it
/// decodes as UTF-8, GB18030 (a superset of GBK and GB2312) otherwise.
pub fn detect_encoding(head: &[u8]) -> &'static Encoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return UTF_8;
    }
    match std::str::from_utf8(head) {
        Ok(_) => UTF_8,
        // A multi-byte character cut at the end of the sample is still UTF-8.
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => UTF_8,
        Err(_) => GB18030,
    }
}

/// A file opened for reading rows. `rows` yields (row number as a spreadsheet shows it,
/// cells); the header is row 1.
pub enum Table {
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        row: u64,
        /// The row just read, its buffers reused for the next: no allocation a row.
        record: csv::StringRecord,
    },
    Xlsx {
        rows: XlsxRows,
        record: csv::StringRecord,
    },
}

pub struct Opened {
    pub table: Table,
    pub encoding: String,
    pub header: Vec<String>,
    /// Bytes or rows read so far, against `progress_total` where it is known (CSV: file size;
    /// `.xlsx`: rows, total unknown until the end).
    pub progress: Progress,
    pub progress_total: Option<u64>,
    /// About how many rows the file has, judged from the lines in its first 64 KiB and its
    /// size (CSV only): room for the reader's maps is made once instead of by doubling.
    pub rows_estimate: Option<u64>,
}

pub fn open(path: &Path) -> Result<Opened, ReadError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let progress = Progress::default();
    match ext.as_str() {
        "csv" | "txt" => {
            let mut file = File::open(path)?;
            let mut head = vec![0u8; 64 * 1024];
            let n = read_up_to(&mut file, &mut head)?;
            head.truncate(n);
            let enc = detect_encoding(&head);
            let total = std::fs::metadata(path)?.len();
            let rows_estimate = estimate_rows(&head, total);
            file.seek(SeekFrom::Start(0))?;
            let counted = Counting {
                inner: BufReader::with_capacity(256 * 1024, file),
                progress: progress.clone(),
            };
            let decoded: Box<dyn Read + Send> = Box::new(
                DecodeReaderBytesBuilder::new()
                    .encoding(Some(enc))
                    .bom_override(true)
                    .build(counted),
            );
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .buffer_capacity(256 * 1024)
                .from_reader(decoded);
            let mut rec = csv::StringRecord::new();
            let header = match reader.read_record(&mut rec) {
                Ok(true) => rec
                    .iter()
                    .map(|s| s.trim_start_matches('\u{feff}').to_string())
                    .collect(),
                Ok(false) => return Err(ReadError::NoHeader),
                Err(e) => {
                    return Err(ReadError::Csv {
                        row: 1,
                        detail: e.to_string(),
                    })
                }
            };
            let table = Table::Csv {
                reader,
                row: 1,
                record: rec,
            };
            let name = if enc == UTF_8 { "UTF-8" } else { "GB18030" };
            Ok(Opened {
                table,
                encoding: name.to_string(),
                header,
                progress,
                progress_total: Some(total),
                rows_estimate,
            })
        }
        "xlsx" => {
            let mut rows = XlsxRows::open(path, progress.clone())?;
            let header = match rows.next_row()? {
                Some((_, h)) => h,
                None => return Err(ReadError::NoHeader),
            };
            Ok(Opened {
                table: Table::Xlsx {
                    rows,
                    record: csv::StringRecord::new(),
                },
                encoding: "xlsx".into(),
                header,
                progress,
                progress_total: None,
                rows_estimate: None,
            })
        }
        other => Err(ReadError::Format(if other.is_empty() {
            "无扩展名".into()
        } else {
            format!(".{other}")
        })),
    }
}

/// Rows in a file of `total` bytes whose first bytes are `head`, from the mean length of the
/// lines in `head`; `None` where `head` has fewer than 32 full lines (too few to judge by). Never
/// more than a row per 16 bytes nor more than [`MAX_ROWS_ESTIMATE`]: a file whose head is made
/// of short lines and the rest of one long one is judged on the head, and must not have the
/// reader set aside memory for rows it does not have.
fn estimate_rows(head: &[u8], total: u64) -> Option<u64> {
    let lines = head.iter().filter(|&&b| b == b'\n').count() as u64;
    if lines < 32 {
        return None;
    }
    let last = head.iter().rposition(|&b| b == b'\n')? as u64 + 1;
    Some(
        (total.saturating_mul(lines) / last)
            .min(total / 16)
            .min(MAX_ROWS_ESTIMATE),
    )
}

/// Twice a 10,000,000-person region's largest file.
const MAX_ROWS_ESTIMATE: u64 = 20_000_000;

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

impl Table {
    /// The next data row, skipping blank ones, as owned cells.
    pub fn next_row(&mut self) -> Result<Option<(u64, Vec<String>)>, ReadError> {
        if let Table::Xlsx { rows, .. } = self {
            // The cells as the sheet's reading thread sent them, not copied through a record.
            return loop {
                match rows.next_row()? {
                    None => break Ok(None),
                    Some((_, cells)) if cells.iter().all(|c| c.trim().is_empty()) => continue,
                    Some(r) => break Ok(Some(r)),
                }
            };
        }
        Ok(self
            .next_record()?
            .map(|(n, rec)| (n, rec.iter().map(str::to_string).collect())))
    }

    /// The next data row, skipping blank ones, in a record the table reuses (the importer's
    /// way: a CSV file of 10,000,000 rows is not 70,000,000 allocations; an `.xlsx` row is
    /// copied into it from the cells its reading thread sends).
    pub fn next_record(&mut self) -> Result<Option<(u64, &csv::StringRecord)>, ReadError> {
        match self {
            Table::Csv { reader, row, record } => loop {
                *row += 1;
                match reader.read_record(record) {
                    Ok(false) => return Ok(None),
                    Ok(true) => {
                        if record.iter().all(|c| c.trim().is_empty()) {
                            continue;
                        }
                        return Ok(Some((*row, record)));
                    }
                    Err(e) => {
                        return Err(ReadError::Csv {
                            row: *row,
                            detail: e.to_string(),
                        })
                    }
                }
            },
            Table::Xlsx { rows, record } => loop {
                match rows.next_row()? {
                    None => return Ok(None),
                    Some((_, cells)) if cells.iter().all(|c| c.trim().is_empty()) => continue,
                    Some((n, cells)) => {
                        record.clear();
                        for c in &cells {
                            record.push_field(c);
                        }
                        return Ok(Some((n, record)));
                    }
                }
            },
        }
    }
}

/// Streams the first worksheet of an `.xlsx` file row by row. calamine's cell reader borrows
/// the workbook, so a reader thread owns both and hands rows over a bounded channel: memory stays
/// bounded whatever the sheet's size.
pub struct XlsxRows {
    rx: std::sync::mpsc::Receiver<Result<(u64, Vec<String>), String>>,
}

type RowMsg = Result<(u64, Vec<String>), String>;

impl XlsxRows {
    fn open(path: &Path, progress: Progress) -> Result<Self, ReadError> {
        // Open on this thread so that a broken file is reported at once.
        let wb: Xlsx<_> =
            calamine::open_workbook(path).map_err(|e: calamine::XlsxError| ReadError::Xlsx(e.to_string()))?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<RowMsg>(1024);
        std::thread::spawn(move || {
            let mut wb = wb;
            if let Err(e) = stream_sheet(&mut wb, &tx, &progress) {
                let _ = tx.send(Err(e));
            }
        });
        Ok(XlsxRows { rx })
    }

    fn next_row(&mut self) -> Result<Option<(u64, Vec<String>)>, ReadError> {
        match self.rx.recv() {
            Ok(Ok(row)) => Ok(Some(row)),
            Ok(Err(e)) => Err(ReadError::Xlsx(e)),
            Err(_) => Ok(None),
        }
    }
}

fn stream_sheet(
    wb: &mut Xlsx<BufReader<File>>,
    tx: &std::sync::mpsc::SyncSender<RowMsg>,
    progress: &Progress,
) -> Result<(), String> {
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| "没有工作表".to_string())?;
    let mut reader = wb.worksheet_cells_reader(&sheet).map_err(|e| e.to_string())?;
    let mut current: Option<(u64, Vec<String>)> = None;
    while let Some(cell) = reader.next_cell().map_err(|e| e.to_string())? {
        let (r, c) = cell.get_position();
        let row_no = u64::from(r) + 1;
        if current.as_ref().is_some_and(|(n, _)| *n != row_no) {
            if let Some(done) = current.take() {
                progress.0.fetch_add(1, Ordering::Relaxed);
                if tx.send(Ok(done)).is_err() {
                    return Ok(());
                }
            }
        }
        let (_, cells) = current.get_or_insert_with(|| (row_no, Vec::new()));
        let c = c as usize;
        if c > 200 {
            return Err(format!("第{row_no}行超过200列"));
        }
        if cells.len() <= c {
            cells.resize(c + 1, String::new());
        }
        cells[c] = cell_text(cell.get_value());
    }
    if let Some(done) = current.take() {
        progress.0.fetch_add(1, Ordering::Relaxed);
        let _ = tx.send(Ok(done));
    }
    Ok(())
}

fn cell_text(v: &DataRef<'_>) -> String {
    match v {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                f.to_string()
            }
        }
        DataRef::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        DataRef::DateTime(dt) => dt.as_datetime().map(|d| d.date().to_string()).unwrap_or_default(),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_judged_from_the_lines_of_the_head() {
        // Forty lines of 50 bytes in the head: a file of 50,000 bytes holds about 1,000.
        let line = [b"x".repeat(49), b"\n".to_vec()].concat();
        let head = line.repeat(40);
        assert_eq!(estimate_rows(&head, 50_000), Some(1_000));
        // A line cut at the end of the head does not count.
        let cut = [head.clone(), b"xxxx".to_vec()].concat();
        assert_eq!(estimate_rows(&cut, 50_000), Some(1_000));
        // Too few lines to judge by.
        assert_eq!(estimate_rows(b"no newline", 5_000), None);
        assert_eq!(estimate_rows(&line.repeat(31), 50_000), None);
        // Never more than a row per 16 bytes, nor more than the ceiling.
        assert_eq!(estimate_rows(&b"\n".repeat(64), 1_600), Some(100));
        assert_eq!(estimate_rows(&head, u64::MAX), Some(MAX_ROWS_ESTIMATE));
    }
}
