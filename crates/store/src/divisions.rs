//! Divisions and their history in the database.

use yanglao_domain::catalogue::{ChangeKind, DivisionChange, DivisionMove};
use yanglao_domain::{Catalogue, Division, DivisionCode, DivisionLevel};

use crate::{Db, Result, Row, StoreError, Tx, Value};

/// Writes (or updates) every division, move and change of `cat`. Idempotent.
pub fn save_catalogue(db: &Db, cat: &Catalogue) -> Result<usize> {
    db.tx(|t| {
        let mut n = 0;
        let mut all: Vec<&Division> = cat.all().collect();
        all.sort_by_key(|d| d.code);
        for d in all {
            upsert_division(t, d)?;
            n += 1;
        }
        for m in cat.moves() {
            t.exec(
                "INSERT INTO division_move (code, from_parent, to_parent, effective, note) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (code, effective) DO UPDATE SET from_parent = excluded.from_parent, to_parent = excluded.to_parent, note = excluded.note",
                &[
                    Value::text(m.code.full()),
                    Value::text(m.from_parent.full()),
                    Value::text(m.to_parent.full()),
                    Value::Date(m.effective),
                    Value::text(&m.note),
                ],
            )?;
        }
        for c in cat.changes() {
            t.exec(
                "INSERT INTO division_change (kind, from_code, to_code, effective, note) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (kind, from_code, to_code, effective) DO UPDATE SET note = excluded.note",
                &[
                    Value::text(c.kind.as_str()),
                    Value::text(c.from.full()),
                    Value::text(c.to.full()),
                    Value::Date(c.effective),
                    Value::text(&c.note),
                ],
            )?;
        }
        Ok(n)
    })
}

pub fn upsert_division(t: &mut dyn Tx, d: &Division) -> Result<u64> {
    t.exec(
        "INSERT INTO division (code, name, level, parent_code, valid_from, valid_to, source) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, parent_code = excluded.parent_code,
           valid_from = excluded.valid_from, valid_to = excluded.valid_to, source = excluded.source",
        &[
            Value::text(d.code.full()),
            Value::text(&d.name),
            Value::Int(d.level as i64),
            Value::opt_text(d.parent.map(|p| p.full())),
            Value::opt_date(d.valid_from),
            Value::opt_date(d.valid_to),
            Value::text(&d.source),
        ],
    )
}

fn code(row: &Row, i: usize) -> Result<DivisionCode> {
    let s = row.text(i)?;
    DivisionCode::parse(&s).map_err(|e| StoreError::Decode {
        column: i,
        detail: e.to_string(),
    })
}

pub fn load_catalogue(db: &Db) -> Result<Catalogue> {
    let mut divisions = Vec::new();
    for r in db.query(
        "SELECT code, name, level, parent_code, valid_from, valid_to, source FROM division",
        &[],
    )? {
        let c = code(&r, 0)?;
        let parent = match r.opt_text(3)? {
            Some(p) => Some(DivisionCode::parse(&p).map_err(|e| StoreError::Decode {
                column: 3,
                detail: e.to_string(),
            })?),
            None => None,
        };
        divisions.push(Division {
            code: c,
            name: r.text(1)?,
            level: DivisionLevel::from_i64(r.int(2)?).unwrap_or(c.level()),
            parent,
            valid_from: r.opt_date(4)?,
            valid_to: r.opt_date(5)?,
            source: r.text(6)?,
        });
    }
    let mut moves = Vec::new();
    for r in db.query(
        "SELECT code, from_parent, to_parent, effective, note FROM division_move",
        &[],
    )? {
        moves.push(DivisionMove {
            code: code(&r, 0)?,
            from_parent: code(&r, 1)?,
            to_parent: code(&r, 2)?,
            effective: r.date(3)?,
            note: r.text(4)?,
        });
    }
    let mut changes = Vec::new();
    for r in db.query(
        "SELECT kind, from_code, to_code, effective, note FROM division_change",
        &[],
    )? {
        let kind = ChangeKind::parse(&r.text(0)?).ok_or_else(|| StoreError::Decode {
            column: 0,
            detail: "unknown change kind".into(),
        })?;
        changes.push(DivisionChange {
            kind,
            from: code(&r, 1)?,
            to: code(&r, 2)?,
            effective: r.date(3)?,
            note: r.text(4)?,
        });
    }
    Ok(Catalogue::new(divisions, moves, changes))
}
