//! PostgreSQL: a pool of synchronous clients; bulk writes through binary COPY.

use std::error::Error as StdError;

use bytes::BytesMut;
use chrono::{DateTime, NaiveDate, Utc};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use std::collections::HashMap;

use postgres::{Client, GenericClient, NoTls, Statement};

use crate::pool::Pool;
use crate::{Backend, BulkWriter, Cell, ColType, RawRow, Result, Row, StoreError, Tx, Value};

struct PgRaw<'a>(&'a postgres::Row);

impl RawRow for PgRaw<'_> {
    fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| StoreError::Decode {
            column: i,
            detail: "NULL where an integer was expected".into(),
        })
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(match *self.0.columns()[i].type_() {
            Type::INT4 => self.0.try_get::<_, Option<i32>>(i)?.map(i64::from),
            Type::INT2 => self.0.try_get::<_, Option<i16>>(i)?.map(i64::from),
            _ => self.0.try_get::<_, Option<i64>>(i)?,
        })
    }
    fn str(&self, i: usize) -> Result<Option<&str>> {
        Ok(self.0.try_get::<_, Option<&str>>(i)?)
    }
    fn days(&self, i: usize) -> Result<Option<i32>> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        Ok(self
            .0
            .try_get::<_, Option<NaiveDate>>(i)?
            .and_then(|d| i32::try_from((d - epoch).num_days()).ok()))
    }
}

/// A pooled connection with its prepared statements: a page's few queries then cost one round
/// trip each instead of two (prepare, then execute).
pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// Statements kept per connection; beyond this the cache starts over (dynamic SQL such as
/// searches with a varying number of conditions must not grow it without bound).
const STATEMENT_CACHE: usize = 256;

pub struct PgDb {
    pool: Pool<PgConn>,
}

impl PgDb {
    pub fn open(url: &str) -> Result<Self> {
        let config: postgres::Config = url.parse().map_err(|_| StoreError::Url(url.to_string()))?;
        let pool = Pool::new(
            16,
            Box::new(move || {
                let mut client = config.connect(NoTls)?;
                // Import staging lives in temporary tables; the default 8 MB of local buffers
                // sends a large batch's staging to disk and back. Allocated only as used, and
                // settable only before a session's first temporary table.
                client.batch_execute("SET temp_buffers = '256MB'")?;
                Ok(PgConn {
                    client,
                    statements: HashMap::new(),
                })
            }),
        );
        // Connect once now so that a wrong URL fails at start, not on the first request.
        drop(pool.get()?);
        Ok(PgDb { pool })
    }

    pub fn tx<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get()?;
        if conn.client.is_closed() {
            conn.discard();
            conn = self.pool.get()?;
        }
        let PgConn { client, statements } = &mut *conn;
        let mut tx = client.transaction()?;
        let out = {
            let mut t = PgTx {
                tx: &mut tx,
                statements,
            };
            f(&mut t)?
        };
        tx.commit()?;
        Ok(out)
    }

    /// Reads outside a transaction: a single query needs no BEGIN/COMMIT, and those two round
    /// trips were most of a one-person explanation's time.
    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get()?;
        if conn.client.is_closed() {
            conn.discard();
            conn = self.pool.get()?;
        }
        let PgConn { client, statements } = &mut *conn;
        let mut t = PgTx { tx: client, statements };
        f(&mut t)
    }
}

/// Statements on a transaction or, for reads, on the connection itself.
struct PgTx<'a, C: GenericClient> {
    tx: &'a mut C,
    statements: &'a mut HashMap<String, Statement>,
}

impl<C: GenericClient> PgTx<'_, C> {
    /// The prepared statement for `sql`, from this connection's cache when it was seen before.
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl ToSql for Cell<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match *self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Text(s) if *ty == Type::TEXT || *ty == Type::VARCHAR => s.to_sql(ty, out),
            Cell::Int(n) if *ty == Type::INT8 => n.to_sql(ty, out),
            Cell::Date(d) if *ty == Type::DATE => d.to_sql(ty, out),
            Cell::Time(t) if *ty == Type::TIMESTAMPTZ => t.to_sql(ty, out),
            // Anything else as the owned value converts it.
            c => c.to_value().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => n.to_string().to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Text(s) => match *ty {
                Type::DATE => NaiveDate::parse_from_str(s, "%Y-%m-%d")?.to_sql(ty, out),
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                _ => s.to_sql(ty, out),
            },
            Value::Date(d) => match *ty {
                Type::TEXT | Type::VARCHAR => d.format("%Y-%m-%d").to_string().to_sql(ty, out),
                _ => d.to_sql(ty, out),
            },
            Value::Time(t) => match *ty {
                Type::TEXT | Type::VARCHAR => t.to_rfc3339().to_sql(ty, out),
                _ => t.to_sql(ty, out),
            },
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn read_row(row: &postgres::Row) -> Result<Row> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|n| Value::Int(n.into())),
            Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(|n| Value::Int(n.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(|b| Value::Int(b.into())),
            Type::DATE => row.try_get::<_, Option<NaiveDate>>(i)?.map(Value::Date),
            Type::TIMESTAMPTZ => row.try_get::<_, Option<DateTime<Utc>>>(i)?.map(Value::Time),
            Type::NUMERIC => {
                return Err(StoreError::Decode {
                    column: i,
                    detail: "NUMERIC: cast to BIGINT in SQL".into(),
                })
            }
            _ => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

impl<C: GenericClient> Tx for PgTx<'_, C> {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn exec(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        Ok(self.tx.execute(&stmt, &params(values))?)
    }

    fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>> {
        let stmt = self.statement(sql)?;
        self.tx.query(&stmt, &params(values))?.iter().map(read_row).collect()
    }

    fn scan(&mut self, sql: &str, values: &[Value], f: &mut dyn FnMut(&Row) -> Result<()>) -> Result<u64> {
        use postgres::fallible_iterator::FallibleIterator;
        let stmt = self.statement(sql)?;
        let mut rows = self.tx.query_raw(&stmt, params(values))?;
        let mut count = 0;
        while let Some(r) = rows.next()? {
            f(&read_row(&r)?)?;
            count += 1;
        }
        Ok(count)
    }

    fn scan_raw(&mut self, sql: &str, values: &[Value], f: &mut dyn FnMut(&dyn RawRow) -> Result<()>) -> Result<u64> {
        use postgres::fallible_iterator::FallibleIterator;
        let stmt = self.statement(sql)?;
        let mut rows = self.tx.query_raw(&stmt, params(values))?;
        let mut count = 0;
        while let Some(r) = rows.next()? {
            f(&PgRaw(&r))?;
            count += 1;
        }
        Ok(count)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.tx.batch_execute(sql)?)
    }

    fn bulk<'a>(&'a mut self, table: &str, columns: &[&str], types: &[ColType]) -> Result<Box<dyn BulkWriter + 'a>> {
        let sql = format!("COPY {table} ({}) FROM STDIN BINARY", columns.join(", "));
        let sink = self.tx.copy_in(&sql)?;
        let pg_types: Vec<Type> = types
            .iter()
            .map(|t| match t {
                ColType::Int => Type::INT8,
                ColType::Text => Type::TEXT,
                ColType::Date => Type::DATE,
                ColType::Time => Type::TIMESTAMPTZ,
            })
            .collect();
        let writer = BinaryCopyInWriter::new(sink, &pg_types);
        Ok(Box::new(PgBulk { writer, count: 0 }))
    }
}

struct PgBulk<'a> {
    writer: BinaryCopyInWriter<'a>,
    count: u64,
}

impl BulkWriter for PgBulk<'_> {
    fn write(&mut self, row: &[Value]) -> Result<()> {
        self.writer.write(&params(row))?;
        self.count += 1;
        Ok(())
    }
    fn write_cells(&mut self, row: &[Cell<'_>]) -> Result<()> {
        self.writer.write_raw(row.iter())?;
        self.count += 1;
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<u64> {
        self.writer.finish()?;
        Ok(self.count)
    }
}
