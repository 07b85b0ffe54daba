//! yanglao's one data-access layer. SQLite (embedded default) and PostgreSQL (production) sit
//! behind the same small interface: SQL written once in the portable subset both understand
//! (`$n` parameters in ascending order, `ON CONFLICT`, `UPDATE … FROM`), typed values, and a bulk
//! path per backend (prepared inserts on SQLite, binary `COPY` on PostgreSQL).
//!
//! Everything is synchronous; the web layer calls it from blocking threads.

pub mod accounts;
pub mod assessments;
pub mod audit;
pub mod contacts;
pub mod divisions;
pub mod entitlements;
pub mod lists;
pub mod ltc;
mod pool;
mod postgres_backend;
pub mod registry;
mod sqlite_backend;
pub mod sqlite_rows_in;
pub mod testing;
pub mod visits;

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    #[error("database URL not understood: {0} (use a file path, sqlite:PATH or postgres://…)")]
    Url(String),
    #[error("unexpected value in column {column}: {detail}")]
    Decode { column: usize, detail: String },
    #[error("{0}")]
    Aborted(String),
    #[error("migration {version}: {source}")]
    Migration { version: i64, source: Box<StoreError> },
}

impl From<postgres::Error> for StoreError {
    /// The server's own message (and SQLSTATE) where there is one: "db error" alone says nothing.
    fn from(e: postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => StoreError::Postgres(format!("{} ({})", db.message(), db.code().code())),
            None => StoreError::Postgres(e.to_string()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A value passed to or read from SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }
    pub fn opt_date(d: Option<NaiveDate>) -> Value {
        d.map(Value::Date).unwrap_or(Value::Null)
    }
    pub fn opt_text(s: Option<String>) -> Value {
        s.map(Value::Text).unwrap_or(Value::Null)
    }
}

/// Column types of a bulk write (PostgreSQL's binary COPY needs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Text,
    Date,
    Time,
}

/// One result row with typed accessors that read both backends' representations.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn get(&self, i: usize) -> Result<&Value> {
        self.0.get(i).ok_or(StoreError::Decode {
            column: i,
            detail: "no such column".into(),
        })
    }
    pub fn int(&self, i: usize) -> Result<i64> {
        match self.get(i)? {
            Value::Int(n) => Ok(*n),
            Value::Text(s) => s.parse().map_err(|_| decode(i, s)),
            v => Err(decode(i, &format!("{v:?}"))),
        }
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.get(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    pub fn text(&self, i: usize) -> Result<String> {
        match self.get(i)? {
            Value::Text(s) => Ok(s.clone()),
            Value::Int(n) => Ok(n.to_string()),
            Value::Date(d) => Ok(d.to_string()),
            Value::Time(t) => Ok(t.to_rfc3339()),
            Value::Null => Err(decode(i, "NULL")),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.get(i)? {
            Value::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    pub fn date(&self, i: usize) -> Result<NaiveDate> {
        match self.get(i)? {
            Value::Date(d) => Ok(*d),
            Value::Text(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| decode(i, s)),
            v => Err(decode(i, &format!("{v:?}"))),
        }
    }
    pub fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>> {
        match self.get(i)? {
            Value::Null => Ok(None),
            _ => self.date(i).map(Some),
        }
    }
    pub fn time(&self, i: usize) -> Result<DateTime<Utc>> {
        match self.get(i)? {
            Value::Time(t) => Ok(*t),
            Value::Text(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| decode(i, s)),
            v => Err(decode(i, &format!("{v:?}"))),
        }
    }
    pub fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>> {
        match self.get(i)? {
            Value::Null => Ok(None),
            _ => self.time(i).map(Some),
        }
    }
}

fn decode(column: usize, detail: &str) -> StoreError {
    StoreError::Decode {
        column,
        detail: detail.to_string(),
    }
}

/// A transaction (or a plain connection) on either backend.
pub trait Tx {
    fn backend(&self) -> Backend;
    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Runs several statements without parameters.
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Fast bulk write into `table`; rows must match `columns` and `types`.
    fn bulk<'a>(&'a mut self, table: &str, columns: &[&str], types: &[ColType]) -> Result<Box<dyn BulkWriter + 'a>>;

    /// Runs `sql` once with `rows` readable as the table `rows_in` (columns `c0` … `c7`),
    /// without writing them anywhere first. SQLite's writer only (a virtual table); the rows
    /// must be read, exactly once.
    fn exec_rows(&mut self, _sql: &str, _params: &[Value], _rows: Box<dyn sqlite_rows_in::RowsIn>) -> Result<u64> {
        Err(StoreError::Aborted(format!(
            "rows_in is SQLite's; this is {}",
            self.backend().name()
        )))
    }

    fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Streams the rows of a query through `f` without collecting them: whole-registry reads
    /// (the entitlement snapshot) would otherwise hold millions of rows at once.
    fn scan(&mut self, sql: &str, params: &[Value], f: &mut dyn FnMut(&Row) -> Result<()>) -> Result<u64>;

    /// Like [`Tx::scan`] but the row is borrowed from the driver: no value is copied unless the
    /// caller keeps it. For the few whole-table reads where per-row allocation dominates.
    fn scan_raw(&mut self, sql: &str, params: &[Value], f: &mut dyn FnMut(&dyn RawRow) -> Result<()>) -> Result<u64>;
}

/// A row as the driver holds it.
pub trait RawRow {
    fn int(&self, i: usize) -> Result<i64>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    /// Text (or a date read as text on SQLite); `None` for NULL.
    fn str(&self, i: usize) -> Result<Option<&str>>;
    /// A date column as days since 1970-01-01 (TEXT `YYYY-MM-DD` on SQLite, DATE on PostgreSQL).
    fn days(&self, i: usize) -> Result<Option<i32>>;
}

/// Days since 1970-01-01 of `YYYY-MM-DD`.
pub fn days_of(text: &str) -> Option<i32> {
    // By hand: chrono's format parser is the slowest step of a whole-registry scan.
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let d = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    Some(d.num_days_from_ce() - 719_163)
}

/// A value borrowed for one write: [`BulkWriter::write_cells`], `rows_in`. Writing millions
/// of rows, the owned [`Value`]s cost an allocation and a copy for every text (the import's
/// `COPY` of facts made three a row).
#[derive(Clone, Copy, Debug)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

impl Value {
    /// The value borrowed as a [`Cell`].
    pub fn as_cell(&self) -> Cell<'_> {
        match self {
            Value::Null => Cell::Null,
            Value::Int(n) => Cell::Int(*n),
            Value::Text(s) => Cell::Text(s),
            Value::Date(d) => Cell::Date(*d),
            Value::Time(t) => Cell::Time(*t),
        }
    }
}

impl Cell<'_> {
    pub fn to_value(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Int(n) => Value::Int(n),
            Cell::Text(s) => Value::text(s),
            Cell::Date(d) => Value::Date(d),
            Cell::Time(t) => Value::Time(t),
        }
    }
}

pub trait BulkWriter {
    fn write(&mut self, row: &[Value]) -> Result<()>;
    /// The same from borrowed cells (no copy where the database's writer takes them as they
    /// are: PostgreSQL's binary `COPY`).
    fn write_cells(&mut self, row: &[Cell<'_>]) -> Result<()> {
        self.write(&row.iter().map(|c| c.to_value()).collect::<Vec<_>>())
    }
    fn finish(self: Box<Self>) -> Result<u64>;
}

/// A handle on the database: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

enum Inner {
    Sqlite(sqlite_backend::SqliteDb),
    Postgres(postgres_backend::PgDb),
}

impl Db {
    /// Opens the database a URL names: a file path or `sqlite:PATH` for SQLite, `postgres://…`
    /// (or `postgresql://…`, or a `host=… dbname=…` string) for PostgreSQL. Anything else is
    /// refused rather than guessed.
    pub fn open(url: &str) -> Result<Db> {
        let inner = if url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("host=") {
            Inner::Postgres(postgres_backend::PgDb::open(url)?)
        } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            Inner::Sqlite(sqlite_backend::SqliteDb::open(path)?)
        } else if url.contains("://") {
            return Err(StoreError::Url(url.to_string()));
        } else {
            Inner::Sqlite(sqlite_backend::SqliteDb::open(url)?)
        };
        Ok(Db { inner: Arc::new(inner) })
    }

    pub fn backend(&self) -> Backend {
        match &*self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs `f` in one transaction: committed if it returns Ok, rolled back otherwise.
    pub fn tx<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match &*self.inner {
            Inner::Sqlite(db) => db.tx(f),
            Inner::Postgres(db) => db.tx(f),
        }
    }

    /// [`Db::tx`] for a transaction whose writes name only persons and import batches it read
    /// or created itself (the importer's batch): SQLite skips its per-row foreign-key lookups
    /// there (see `SqliteDb::tx_known_references`). On PostgreSQL this is [`Db::tx`]: the batch
    /// itself switches the per-statement check off once it is large enough to pay for the lock
    /// (`registry::trust_references`).
    pub fn tx_known_references<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match &*self.inner {
            Inner::Sqlite(db) => db.tx_known_references(f),
            Inner::Postgres(db) => db.tx(f),
        }
    }

    /// Reads outside an explicit transaction.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match &*self.inner {
            Inner::Sqlite(db) => db.read(|c| c.query(sql, params)),
            Inner::Postgres(db) => db.read(|c| c.query(sql, params)),
        }
    }

    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Streams borrowed rows through `f` (see [`Tx::scan_raw`]); returns the number of rows.
    pub fn scan_raw(&self, sql: &str, params: &[Value], mut f: impl FnMut(&dyn RawRow) -> Result<()>) -> Result<u64> {
        match &*self.inner {
            Inner::Sqlite(db) => db.read(|c| c.scan_raw(sql, params, &mut f)),
            Inner::Postgres(db) => db.read(|c| c.scan_raw(sql, params, &mut f)),
        }
    }

    /// Streams a query's rows through `f` (see [`Tx::scan`]); returns the number of rows.
    pub fn scan(&self, sql: &str, params: &[Value], mut f: impl FnMut(&Row) -> Result<()>) -> Result<u64> {
        match &*self.inner {
            Inner::Sqlite(db) => db.read(|c| c.scan(sql, params, &mut f)),
            Inner::Postgres(db) => db.read(|c| c.scan(sql, params, &mut f)),
        }
    }

    pub fn exec(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.tx(|t| t.exec(sql, params))
    }

    /// Applies the embedded migrations not yet applied, each in its own transaction.
    pub fn migrate(&self) -> Result<Vec<i64>> {
        self.migrate_up_to(i64::MAX)
    }

    /// Applies the embedded migrations not yet applied up to version `last`: a migration's
    /// test writes data with the schema before it, then applies it.
    pub fn migrate_up_to(&self, last: i64) -> Result<Vec<i64>> {
        let migrations: &[(i64, &str)] = match self.backend() {
            Backend::Sqlite => &[
                (1, include_str!("../migrations/sqlite/0001_registry.sql")),
                (2, include_str!("../migrations/sqlite/0002_service_lists.sql")),
                (3, include_str!("../migrations/sqlite/0003_parameters.sql")),
                (4, include_str!("../migrations/sqlite/0004_entitlements.sql")),
                (5, include_str!("../migrations/sqlite/0005_assessments.sql")),
                (6, include_str!("../migrations/sqlite/0006_ltc.sql")),
                (7, include_str!("../migrations/sqlite/0007_accounts_audit.sql")),
                (8, include_str!("../migrations/sqlite/0008_visits.sql")),
                // 9 was an earlier form of PostgreSQL's 11, withdrawn before release; 11 is
                // PostgreSQL only (SQLite keeps its foreign keys; BENCHMARKS.md, registry import);
                // 12 is each database's own; 13 is PostgreSQL only (its division index by code alone;
                // SQLite measured no gain).
                (10, include_str!("../migrations/sqlite/0010_visitor_account.sql")),
                (12, include_str!("../migrations/sqlite/0012_registry_history_kept.sql")),
            ],
            Backend::Postgres => &[
                (1, include_str!("../migrations/postgres/0001_registry.sql")),
                (2, include_str!("../migrations/postgres/0002_service_lists.sql")),
                (3, include_str!("../migrations/postgres/0003_parameters.sql")),
                (4, include_str!("../migrations/postgres/0004_entitlements.sql")),
                (5, include_str!("../migrations/postgres/0005_assessments.sql")),
                (6, include_str!("../migrations/postgres/0006_ltc.sql")),
                (7, include_str!("../migrations/postgres/0007_accounts_audit.sql")),
                (8, include_str!("../migrations/postgres/0008_visits.sql")),
                (10, include_str!("../migrations/postgres/0010_visitor_account.sql")),
                (
                    11,
                    include_str!("../migrations/postgres/0011_fact_reference_checks.sql"),
                ),
                (
                    12,
                    include_str!("../migrations/postgres/0012_fact_checks_sized_hot_updates.sql"),
                ),
                (
                    13,
                    include_str!("../migrations/postgres/0013_fact_division_by_value.sql"),
                ),
                (
                    14,
                    include_str!("../migrations/postgres/0014_fact_partitioned_by_source.sql"),
                ),
            ],
        };
        self.tx(|t| {
            t.batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
        })?;
        let mut applied = Vec::new();
        for (version, sql) in migrations.iter().filter(|(v, _)| *v <= last) {
            let done = self.query_one(
                "SELECT version FROM schema_migrations WHERE version = $1",
                &[Value::Int(*version)],
            )?;
            if done.is_some() {
                continue;
            }
            self.tx(|t| {
                t.batch(sql)?;
                t.exec(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[Value::Int(*version), Value::text(Utc::now().to_rfc3339())],
                )?;
                Ok(())
            })
            .map_err(|e| StoreError::Migration {
                version: *version,
                source: Box::new(e),
            })?;
            applied.push(*version);
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod days_tests {
    use super::*;

    #[test]
    fn days_of_matches_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        for s in ["1970-01-01", "1900-02-28", "2024-02-29", "2025-12-31", "1969-12-31"] {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
            assert_eq!(days_of(s), Some((d - epoch).num_days() as i32), "{s}");
        }
        for bad in ["2025-02-30", "2025/01/01", "20250101", "2025-1-01", "abcd-ef-gh"] {
            assert_eq!(days_of(bad), None, "{bad}");
        }
    }
}
