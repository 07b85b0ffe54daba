//! Contact details of a person (phone, address, guardian), encrypted field by field with SM4-GCM;
//! the key is held by the caller (from the environment), never in the database. Each value is
//! bound to its person and field, so a ciphertext copied to another row does not decrypt.

use chrono::{DateTime, Utc};
use yanglao_security::fields::FieldKey;

use crate::{Db, Result, StoreError, Value};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub phone: Option<String>,
    pub address: Option<String>,
    pub guardian: Option<String>,
}

fn context(person_id: i64, field: &str) -> String {
    format!("person:{person_id}:{field}")
}

fn seal(key: &FieldKey, person_id: i64, field: &str, v: &Option<String>) -> Result<Value> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Value::Null),
        Some(s) => key
            .encrypt(s, &context(person_id, field))
            .map(Value::Text)
            .map_err(|e| StoreError::Aborted(e.to_string())),
    }
}

pub fn set_contact(db: &Db, key: &FieldKey, person_id: i64, c: &Contact, by: &str, now: DateTime<Utc>) -> Result<()> {
    let phone = seal(key, person_id, "phone", &c.phone)?;
    let address = seal(key, person_id, "address", &c.address)?;
    let guardian = seal(key, person_id, "guardian", &c.guardian)?;
    db.tx(|t| {
        t.exec(
            "DELETE FROM person_contact WHERE person_id = $1",
            &[Value::Int(person_id)],
        )?;
        t.exec(
            "INSERT INTO person_contact (person_id, phone_enc, address_enc, guardian_enc, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Value::Int(person_id),
                phone,
                address,
                guardian,
                Value::text(by),
                Value::Text(now.to_rfc3339()),
            ],
        )?;
        Ok(())
    })
}

/// The stored (encrypted) columns, as they are at rest.
pub fn contact_at_rest(db: &Db, person_id: i64) -> Result<Option<[Option<String>; 3]>> {
    db.query_one(
        "SELECT phone_enc, address_enc, guardian_enc FROM person_contact WHERE person_id = $1",
        &[Value::Int(person_id)],
    )?
    .map(|r| Ok([r.opt_text(0)?, r.opt_text(1)?, r.opt_text(2)?]))
    .transpose()
}

pub fn contact(db: &Db, key: &FieldKey, person_id: i64) -> Result<Option<Contact>> {
    let Some([p, a, g]) = contact_at_rest(db, person_id)? else {
        return Ok(None);
    };
    let open = |v: Option<String>, field: &str| -> Result<Option<String>> {
        v.map(|s| {
            key.decrypt(&s, &context(person_id, field))
                .map_err(|e| StoreError::Aborted(format!("{field}: {e}")))
        })
        .transpose()
    };
    Ok(Some(Contact {
        phone: open(p, "phone")?,
        address: open(a, "address")?,
        guardian: open(g, "guardian")?,
    }))
}
