//! `rows_in`: rows held in memory, read by one SQLite statement as a table.
//!
//! The importer's facts went into a temporary staging table row by row and from there into
//! the fact table by one `INSERT … SELECT` (faster than any per-row insert into `fact`: the
//! statement keeps its cursors on the table's indexes open and positioned). Writing the
//! staging table was about 3 s of a 1,000,000-person import's 20 s on its one busy thread, a
//! b-tree built only to be read once. This virtual table hands the rows to the same
//! `INSERT … SELECT` directly (ARCHITECTURE.md, decision 30).
//!
//! The only unsafe code in the workspace: rusqlite's virtual-table traits are `unsafe` because
//! SQLite reads the first field of the table and cursor structs as its own base structs. Both
//! structs below are `#[repr(C)]` with that field first, as rusqlite's own modules are; nothing
//! else here is unsafe.
#![allow(unsafe_code)]

use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use rusqlite::vtab::{Context, Filters, IndexInfo, Module, VTab, VTabConnection, VTabCursor};
use rusqlite::{ffi, Connection};

use crate::Cell;

/// Rows for one statement, read by position.
pub trait RowsIn: Send {
    /// How many rows there are.
    fn count(&self) -> usize;
    /// Column `col` (0-based, at most [`COLUMNS`]) of row `row`.
    fn cell(&self, row: usize, col: usize) -> Cell<'_>;
}

/// Columns `c0` … `c7`; a statement reads those its rows have.
pub const COLUMNS: usize = 8;

/// The rows the next statement on the connection will read, put there by
/// [`crate::Tx::exec_rows`] and taken by the statement's scan.
pub type Slot = Arc<Mutex<Option<Box<dyn RowsIn>>>>;

/// Registers `rows_in` on the connection, reading from `slot`.
pub fn register(conn: &Connection, slot: Slot) -> rusqlite::Result<()> {
    // A constant, so that the reference to it is `'static` (rusqlite's own modules do this).
    const MODULE: Module<'static, RowsTab> = Module::eponymous_only_module();
    conn.create_module(c"rows_in", &MODULE, Some(slot))
}

#[repr(C)]
struct RowsTab {
    /// SQLite's base struct; must be first.
    base: ffi::sqlite3_vtab,
    slot: Slot,
}

unsafe impl<'vtab> VTab<'vtab> for RowsTab {
    type Aux = Slot;
    type Cursor = RowsCursor<'vtab>;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&Slot>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let slot = aux
            .cloned()
            .ok_or_else(|| rusqlite::Error::ModuleError("rows_in registered without its rows".into()))?;
        Ok((
            Cow::Borrowed(c"CREATE TABLE x(c0, c1, c2, c3, c4, c5, c6, c7)"),
            RowsTab {
                base: ffi::sqlite3_vtab::default(),
                slot,
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        // One plan: read every row in order. Constraints are left to SQLite.
        let rows = self
            .slot
            .lock()
            .map(|s| s.as_ref().map_or(0, |r| r.count()))
            .unwrap_or(0);
        info.set_estimated_cost(rows as f64);
        info.set_estimated_rows(rows as i64);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<RowsCursor<'vtab>> {
        Ok(RowsCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            slot: self.slot.clone(),
            rows: None,
            at: 0,
            phantom: PhantomData,
        })
    }
}

#[repr(C)]
struct RowsCursor<'vtab> {
    /// SQLite's base struct; must be first.
    base: ffi::sqlite3_vtab_cursor,
    slot: Slot,
    rows: Option<Box<dyn RowsIn>>,
    at: usize,
    phantom: PhantomData<&'vtab RowsTab>,
}

unsafe impl VTabCursor for RowsCursor<'_> {
    fn filter(&mut self, _idx_num: c_int, _idx_str: Option<&str>, _args: &Filters<'_>) -> rusqlite::Result<()> {
        // The rows are read once: a statement that scanned `rows_in` twice would find nothing
        // the second time, and is refused instead of reading an empty table.
        let mut slot = self
            .slot
            .lock()
            .map_err(|_| rusqlite::Error::ModuleError("rows_in: lock poisoned".into()))?;
        self.rows =
            Some(slot.take().ok_or_else(|| {
                rusqlite::Error::ModuleError("rows_in read without rows given (or read twice)".into())
            })?);
        self.at = 0;
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.rows.as_ref().is_none_or(|r| self.at >= r.count())
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let rows = self
            .rows
            .as_ref()
            .ok_or_else(|| rusqlite::Error::ModuleError("rows_in: column read before its scan".into()))?;
        let col = usize::try_from(i)
            .ok()
            .filter(|c| *c < COLUMNS)
            .ok_or_else(|| rusqlite::Error::ModuleError(format!("rows_in: no column {i}")))?;
        match rows.cell(self.at, col) {
            Cell::Null => ctx.set_result(rusqlite::types::Null),
            Cell::Int(n) => ctx.set_result(n),
            Cell::Text(s) => ctx.set_result(s),
            Cell::Date(d) => match crate::sqlite_backend::date_bytes(d) {
                Some(b) => ctx.set_result(std::str::from_utf8(&b).unwrap_or_default()),
                None => ctx.set_result(d.format("%Y-%m-%d").to_string()),
            },
            Cell::Time(t) => ctx.set_result(t.to_rfc3339()),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.at as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::{Cell, RowsIn};
    use crate::Value;

    struct Numbers(Vec<(i64, String, Option<chrono::NaiveDate>)>);

    impl RowsIn for Numbers {
        fn count(&self) -> usize {
            self.0.len()
        }
        fn cell(&self, row: usize, col: usize) -> Cell<'_> {
            let (n, s, d) = &self.0[row];
            match col {
                0 => Cell::Int(*n),
                1 => Cell::Text(s),
                2 => d.map_or(Cell::Null, Cell::Date),
                _ => Cell::Null,
            }
        }
    }

    fn rows(n: i64) -> Box<Numbers> {
        let day = |i: i64| chrono::NaiveDate::from_ymd_opt(2024, 2, 1 + (i % 28) as u32);
        Box::new(Numbers(
            (0..n)
                .map(|i| (i, format!("第{i}行"), if i % 3 == 0 { None } else { day(i) }))
                .collect(),
        ))
    }

    #[test]
    fn a_statement_reads_every_row_given_in_order_with_its_types() {
        let t = crate::testing::sqlite();
        let db = &t.db;
        db.tx(|t| {
            t.batch("CREATE TABLE got (n BIGINT, s TEXT, d TEXT, k TEXT)")?;
            let n = t.exec_rows(
                "INSERT INTO got SELECT c0, c1, c2, $1 FROM rows_in",
                &[Value::text("k")],
                rows(1000),
            )?;
            assert_eq!(n, 1000);
            Ok(())
        })
        .expect("insert");
        let got = db
            .query("SELECT n, s, d, k, typeof(n), typeof(d) FROM got ORDER BY rowid", &[])
            .expect("read");
        assert_eq!(got.len(), 1000);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.int(0).expect("n"), i as i64);
            assert_eq!(r.text(1).expect("s"), format!("第{i}行"));
            let want = if i % 3 == 0 {
                None
            } else {
                Some(format!("2024-02-{:02}", 1 + i % 28))
            };
            assert_eq!(r.opt_text(2).expect("d"), want);
            assert_eq!(r.text(3).expect("k"), "k");
            assert_eq!(r.text(4).expect("type"), "integer");
        }
    }

    #[test]
    fn rows_not_read_or_read_twice_are_an_error_and_the_transaction_keeps_nothing() {
        let t = crate::testing::sqlite();
        let db = &t.db;
        db.exec("CREATE TABLE got (n BIGINT)", &[]).expect("table");
        // Not read: the statement never scans rows_in.
        let err = db
            .tx(|t| t.exec_rows("INSERT INTO got VALUES (1)", &[], rows(5)))
            .expect_err("unread rows refused");
        assert!(err.to_string().contains("did not read"), "{err}");
        // Read twice: the second scan finds them taken.
        let err = db
            .tx(|t| {
                t.exec_rows(
                    "INSERT INTO got SELECT a.c0 FROM rows_in a UNION ALL SELECT b.c0 FROM rows_in b",
                    &[],
                    rows(5),
                )
            })
            .expect_err("second read refused");
        assert!(err.to_string().contains("read twice"), "{err}");
        // Without rows given, a statement naming rows_in fails rather than reading nothing.
        let err = db
            .tx(|t| t.exec("INSERT INTO got SELECT c0 FROM rows_in", &[]))
            .expect_err("no rows given");
        assert!(err.to_string().contains("without rows given"), "{err}");
        let left = db.query("SELECT count(*) FROM got", &[]).expect("count");
        assert_eq!(left[0].int(0).expect("n"), 0);
    }

    #[test]
    fn postgresql_has_no_rows_in() {
        let t = crate::testing::postgres();
        let err =
            t.db.tx(|t| t.exec_rows("SELECT c0 FROM rows_in", &[], rows(1)))
                .expect_err("SQLite's only");
        assert!(err.to_string().contains("SQLite's"), "{err}");
    }
}
