//! SQLite: one file, WAL, a write connection and a few readers.

use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::pool::Pool;
use crate::sqlite_rows_in::{RowsIn, Slot};
use crate::{days_of, Backend, BulkWriter, ColType, RawRow, Result, Row, StoreError, Tx, Value};

struct SqliteRaw<'a, 'b>(&'a rusqlite::Row<'b>);

fn raw_decode(i: usize, what: &str) -> StoreError {
    StoreError::Decode {
        column: i,
        detail: what.to_string(),
    }
}

impl RawRow for SqliteRaw<'_, '_> {
    fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?
            .ok_or_else(|| raw_decode(i, "NULL where an integer was expected"))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.0.get_ref(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| raw_decode(i, "not an integer")),
            _ => Err(raw_decode(i, "not an integer")),
        }
    }
    fn str(&self, i: usize) -> Result<Option<&str>> {
        match self.0.get_ref(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t).map(Some).map_err(|_| raw_decode(i, "not UTF-8")),
            _ => Err(raw_decode(i, "not text")),
        }
    }
    fn days(&self, i: usize) -> Result<Option<i32>> {
        match self.str(i)? {
            None => Ok(None),
            Some(s) => days_of(s).map(Some).ok_or_else(|| raw_decode(i, "not a date")),
        }
    }
}

pub struct SqliteDb {
    writer: Mutex<Connection>,
    /// Rows for the writer's next `rows_in` statement ([`Tx::exec_rows`]).
    rows_in: Slot,
    readers: Pool<Connection>,
    _checkpointer: Checkpointer,
}

/// WAL checkpoints on a thread of their own: left to the writer (SQLite's default), a commit
/// that crosses the threshold copies the log into the database while every request waiting on
/// that commit (the audit log's, for instance) waits too. Passive checkpoints never block
/// readers or the writer.
struct Checkpointer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &str) -> Result<Checkpointer> {
        let conn = open_conn(path)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::park_timeout(std::time::Duration::from_millis(500));
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|e| StoreError::Aborted(format!("checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

fn open_conn(path: &str) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // 8 KiB pages for a new database (an existing one keeps its own): a batch's commit writes
    // every page it dirtied to the log one frame at a time, and at 4 KiB that was a seventh of
    // an import's writer thread. 16 KiB wrote a 3,000,000-fact batch with its commit 16 %
    // faster than 4 KiB (8 KiB: 9 %), but facts ended one here, one there (a death file's) then
    // cost a page each four times as large: the death batch 1.1 → 3.1 s (BENCHMARKS.md,
    // registry import, change 21). 8 KiB is PostgreSQL's page size too.
    conn.execute_batch(
        "PRAGMA page_size = 8192;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -131072;",
    )?;
    Ok(conn)
}

impl SqliteDb {
    pub fn open(path: &str) -> Result<Self> {
        let writer = open_conn(path)?;
        // The one writer gets a large page cache: batches touch wide index ranges. Dirty pages
        // stay in memory until the commit up to 1 GiB (the cache grows past its 512 MiB for
        // them), which holds a 1,000,000-person region's largest batch; beyond that they spill
        // to the WAL, so a province-sized batch does not hold all it writes in memory (the
        // 10,000,000-person 户籍 file held about 10 GB with spilling off). `cache_spill` counts
        // pages, whose size depends on when the database was made.
        let page_size: i64 = writer.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        writer.execute_batch(&format!(
            "PRAGMA cache_size = -524288; PRAGMA cache_spill = {}; PRAGMA wal_autocheckpoint = 0;",
            (1i64 << 30) / page_size.max(512)
        ))?;
        let rows_in = Slot::default();
        crate::sqlite_rows_in::register(&writer, rows_in.clone())?;
        let p = path.to_string();
        let readers = Pool::new(8, Box::new(move || open_conn(&p)));
        Ok(SqliteDb {
            writer: Mutex::new(writer),
            rows_in,
            readers,
            _checkpointer: Checkpointer::start(path)?,
        })
    }

    pub fn tx<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // On for every other transaction, even if an importer's batch panicked before turning
        // them back on (one pragma, microseconds).
        conn.execute_batch("PRAGMA foreign_keys = ON")?;
        Self::run_tx(&mut conn, &self.rows_in, f)
    }

    /// A transaction whose writes name only persons and import batches it has read or created
    /// itself (the importer's batch): run without SQLite's per-row foreign-key lookups, about
    /// a quarter of inserting a fact (BENCHMARKS.md, registry import, change 20). What they
    /// would check cannot fail there: this connection is the only writer, and persons and
    /// batches are never deleted or renumbered (triggers, migration 12). Every other
    /// transaction checks them.
    pub fn tx_known_references<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // Only possible outside a transaction.
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        let out = Self::run_tx(&mut conn, &self.rows_in, f);
        // Back on now if possible; [`SqliteDb::tx`] does it anyway (an error here must not hide
        // the batch's own outcome: it may have committed).
        let _ = conn.execute_batch("PRAGMA foreign_keys = ON");
        out
    }

    fn run_tx<T>(conn: &mut Connection, rows_in: &Slot, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut t = SqliteTx {
            conn: &tx,
            rows_in: Some(rows_in),
        };
        let out = f(&mut t)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let conn = self.readers.get()?;
        let mut t = SqliteTx {
            conn: &conn,
            rows_in: None,
        };
        f(&mut t)
    }
}

struct SqliteTx<'c> {
    conn: &'c Connection,
    /// The writer's `rows_in`; readers have none.
    rows_in: Option<&'c Slot>,
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(n) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*n)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Date(d) => ToSqlOutput::Owned(rusqlite::types::Value::Text(date_text(*d))),
            Value::Time(t) => ToSqlOutput::Owned(rusqlite::types::Value::Text(t.to_rfc3339())),
        })
    }
}

/// `YYYY-MM-DD` by hand: chrono's formatter was a visible share of staging a large import
/// (three dates a staged fact). Years outside 0..=9999 fall back to chrono.
fn date_text(d: chrono::NaiveDate) -> String {
    match date_bytes(d) {
        Some(b) => b.iter().map(|&c| char::from(c)).collect(),
        None => d.format("%Y-%m-%d").to_string(),
    }
}

/// `YYYY-MM-DD` as bytes, for years 0–9999.
pub(crate) fn date_bytes(d: chrono::NaiveDate) -> Option<[u8; 10]> {
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&y) {
        return None;
    }
    let y = y as u32;
    let digit = |n: u32| b'0' + (n % 10) as u8;
    Some([
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(day / 10),
        digit(day),
    ])
}

fn read_row(row: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Real(v) => Value::Text(v.to_string()),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
        });
    }
    Ok(Row(out))
}

/// `$3` → `?3`: SQLite binds `?NNN` by number, whereas `$3` would be a named parameter bound
/// by order of first appearance.
fn numbered(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl Tx for SqliteTx<'_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(&numbered(sql))?;
        let n = stmt.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(&numbered(sql))?;
        let n = stmt.column_count();
        let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| read_row(r, n))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(StoreError::from)
    }

    fn scan(&mut self, sql: &str, params: &[Value], f: &mut dyn FnMut(&Row) -> Result<()>) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(&numbered(sql))?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut count = 0;
        while let Some(r) = rows.next()? {
            f(&read_row(r, n)?)?;
            count += 1;
        }
        Ok(count)
    }

    fn scan_raw(&mut self, sql: &str, params: &[Value], f: &mut dyn FnMut(&dyn RawRow) -> Result<()>) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(&numbered(sql))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut count = 0;
        while let Some(r) = rows.next()? {
            f(&SqliteRaw(r))?;
            count += 1;
        }
        Ok(count)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql)?;
        Ok(())
    }

    fn exec_rows(&mut self, sql: &str, params: &[Value], rows: Box<dyn RowsIn>) -> Result<u64> {
        let slot = self
            .rows_in
            .ok_or_else(|| StoreError::Aborted("rows_in is the writer's, not a reader's".into()))?;
        let given = rows.count();
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(rows);
        let out = self.exec(sql, params);
        // Rows the statement did not read would be lost without a word: refused.
        let left = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let n = out?;
        if left.is_some() && given > 0 {
            return Err(StoreError::Aborted(format!(
                "a statement given {given} rows did not read them"
            )));
        }
        Ok(n)
    }

    fn bulk<'a>(&'a mut self, table: &str, columns: &[&str], _types: &[ColType]) -> Result<Box<dyn BulkWriter + 'a>> {
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            placeholders.join(", ")
        );
        let stmt = self.conn.prepare(&sql)?;
        Ok(Box::new(SqliteBulk { stmt, count: 0 }))
    }
}

struct SqliteBulk<'c> {
    stmt: rusqlite::Statement<'c>,
    count: u64,
}

impl BulkWriter for SqliteBulk<'_> {
    fn write(&mut self, row: &[Value]) -> Result<()> {
        self.stmt.execute(rusqlite::params_from_iter(row.iter()))?;
        self.count += 1;
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<u64> {
        Ok(self.count)
    }
}

#[cfg(test)]
mod date_tests {
    #[test]
    fn date_text_matches_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (1900, 2, 28),
            (2024, 2, 29),
            (2025, 12, 31),
            (9999, 12, 31),
            (5, 3, 9),
        ] {
            let day = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
            assert_eq!(super::date_text(day), day.format("%Y-%m-%d").to_string());
        }
    }
}
