//! Accounts, scope, the audit chain and encrypted contacts, on SQLite and PostgreSQL (issue #6).

use chrono::{Duration, NaiveDate, Utc};
use yanglao_security::fields::FieldKey;
use yanglao_store::accounts::{self, NewUser, Scope};
use yanglao_store::audit::{self, AuditEntry};
use yanglao_store::contacts::{self, Contact};
use yanglao_store::registry::{apply_batch, person_by_id_number, NewBatch, Staged, StagedFact};
use yanglao_store::{testing, Value};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn fact(row: i64, id: &str, kind: &'static str, value: &str, from: NaiveDate) -> Staged {
    Staged::Fact(StagedFact {
        person_id: None,
        row_no: row,
        id_number: id.into(),
        name: "张三".into(),
        sex: 1,
        birth_date: d(1940, 1, 1),
        kind,
        value: value.into(),
        valid_from: from,
        valid_to: None,
        first_of_person: true,
    })
}

fn meta(sha: &str) -> NewBatch {
    NewBatch {
        source: "gongan_huji".into(),
        department: "gongan".into(),
        file_name: "户籍.csv".into(),
        sha256: sha.into(),
        size_bytes: 10,
        encoding: "UTF-8".into(),
        archive_path: None,
        now: Utc::now(),
        fail_at: None,
    }
}

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        at: Utc::now(),
        actor: format!("user{}", i % 3),
        ip: "127.0.0.1".into(),
        action: "person.read".into(),
        target: format!("person:{i}"),
        detail: String::new(),
    }
}

#[test]
fn audit_chain_verifies_and_catches_edits_deletions_and_truncation() {
    for t in testing::all() {
        let entries: Vec<AuditEntry> = (0..10).map(entry).collect();
        assert_eq!(audit::append(&t.db, &entries[..4]).expect("append"), 4);
        assert_eq!(audit::append(&t.db, &entries[4..]).expect("append"), 10);
        let v = audit::verify(&t.db).expect("verify");
        assert!(v.ok(), "{}: {:?}", t.name, v.problems);
        assert_eq!(v.entries, 10);

        // Append-only in the database: updates and deletes are refused.
        assert!(
            t.db.exec("UPDATE audit_log SET actor = 'x' WHERE seq = 3", &[])
                .is_err(),
            "{}",
            t.name
        );
        assert!(
            t.db.exec("DELETE FROM audit_log WHERE seq = 3", &[]).is_err(),
            "{}",
            t.name
        );

        // Someone with the database's owner rights drops the guard and edits a row.
        drop_guard(&t);
        t.db.exec("UPDATE audit_log SET target = 'person:999' WHERE seq = 3", &[])
            .expect("edit");
        let v = audit::verify(&t.db).expect("verify");
        assert!(!v.ok(), "{}: an edited entry is caught", t.name);
        assert!(
            v.problems.iter().any(|p| p.contains("第 3 条")),
            "{}: {:?}",
            t.name,
            v.problems
        );

        // Put it back, then delete a row in the middle.
        t.db.exec("UPDATE audit_log SET target = 'person:2' WHERE seq = 3", &[])
            .expect("restore");
        assert!(audit::verify(&t.db).expect("verify").ok(), "{}", t.name);
        t.db.exec("DELETE FROM audit_log WHERE seq = 5", &[]).expect("delete");
        let v = audit::verify(&t.db).expect("verify");
        assert!(
            v.problems.iter().any(|p| p.contains("缺少第 5")),
            "{}: {:?}",
            t.name,
            v.problems
        );

        // Truncating the tail is caught by the head.
        t.db.exec("DELETE FROM audit_log WHERE seq >= 9", &[]).expect("delete");
        let v = audit::verify(&t.db).expect("verify");
        assert!(
            v.problems.iter().any(|p| p.contains("链头")),
            "{}: {:?}",
            t.name,
            v.problems
        );
    }
}

fn drop_guard(t: &testing::TestDb) {
    let sql = match t.db.backend() {
        yanglao_store::Backend::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
        yanglao_store::Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log;",
    };
    t.db.tx(|tx| tx.batch(sql)).expect("drop triggers");
}

#[test]
fn lockout_sessions_and_tokens() {
    for t in testing::all() {
        let now = Utc::now();
        let id = accounts::create_user(
            &t.db,
            &NewUser {
                username: "wang",
                display_name: "王",
                password_hash: "$argon2id$x",
                roles: "case",
                scope: "150402",
                created_by: "admin",
            },
            now,
        )
        .expect("create");
        assert!(accounts::create_user(
            &t.db,
            &NewUser {
                username: "wang",
                display_name: "重名",
                password_hash: "h",
                roles: "case",
                scope: "150402",
                created_by: "admin",
            },
            now
        )
        .is_err());
        for i in 1..5 {
            let (n, locked) = accounts::record_failure(&t.db, id, now, 5, Duration::minutes(15)).expect("fail");
            assert_eq!((n, locked), (i, None), "{}", t.name);
        }
        let (_, locked) = accounts::record_failure(&t.db, id, now, 5, Duration::minutes(15)).expect("fail");
        assert_eq!(
            locked,
            Some(now + Duration::minutes(15)),
            "{}: fifth failure locks",
            t.name
        );
        let u = accounts::user(&t.db, id).expect("q").expect("user");
        assert!(u.locked_until.is_some_and(|l| l > now));

        accounts::create_session(&t.db, "h1", id, now, "10.0.0.1").expect("session");
        let s = accounts::session(&t.db, "h1").expect("q").expect("session");
        assert_eq!(s.user.username, "wang");
        assert!(!s.ended);
        accounts::end_user_sessions(&t.db, id, now).expect("end");
        assert!(accounts::session(&t.db, "h1").expect("q").expect("session").ended);

        let tid = accounts::create_token(&t.db, "th", "卫健委", "data", "150400", "admin", now).expect("token");
        assert!(!accounts::token_by_hash(&t.db, "th").expect("q").expect("tok").revoked);
        assert!(accounts::revoke_token(&t.db, tid, now).expect("revoke"));
        assert!(accounts::token_by_hash(&t.db, "th").expect("q").expect("tok").revoked);
    }
}

#[test]
fn scope_follows_every_place_a_person_has_lived() {
    let a = "11010519491231002X";
    for t in testing::all() {
        // 户籍 in 红山区 (150402), then moved to 松山区 (150404) in 2020.
        let mut items = vec![Ok(fact(1, a, "hukou", "150402001201", d(2000, 1, 1)))].into_iter();
        apply_batch(&t.db, &meta("1"), &mut items).expect("apply");
        let mut items = vec![Ok(fact(1, a, "hukou", "150404001201", d(2020, 1, 1)))].into_iter();
        apply_batch(&t.db, &meta("2"), &mut items).expect("apply");
        let p = person_by_id_number(&t.db, a).expect("q").expect("p");
        let scope = |c: &str| Scope {
            include: vec![c.to_string()],
            exclude: vec![],
        };
        assert!(accounts::person_in_scope(&t.db, p.id, &scope("150404")).expect("q"));
        assert!(
            accounts::person_in_scope(&t.db, p.id, &scope("150402")).expect("q"),
            "{}: the county the person left still reaches them (迁出)",
            t.name
        );
        assert!(
            !accounts::person_in_scope(&t.db, p.id, &scope("150403")).expect("q"),
            "{}",
            t.name
        );
        assert!(
            !accounts::person_in_scope(&t.db, p.id, &scope("1502")).expect("q"),
            "{}",
            t.name
        );
        let excl = Scope {
            include: vec!["1504".into()],
            exclude: vec!["150402".into(), "150404".into()],
        };
        assert!(!accounts::person_in_scope(&t.db, p.id, &excl).expect("q"), "{}", t.name);
        assert!(accounts::person_in_scope(&t.db, p.id, &Scope::everywhere()).expect("q"));
    }
}

#[test]
fn contacts_are_encrypted_at_rest() {
    let a = "11010519491231002X";
    for t in testing::all() {
        let mut items = vec![Ok(fact(1, a, "hukou", "150402001201", d(2000, 1, 1)))].into_iter();
        apply_batch(&t.db, &meta("1"), &mut items).expect("apply");
        let p = person_by_id_number(&t.db, a).expect("q").expect("p");
        let key = FieldKey::from_hex("0123456789abcdeffedcba9876543210").expect("key");
        let c = Contact {
            phone: Some("13912345678".into()),
            address: Some("红山区永巨街道1号".into()),
            guardian: None,
        };
        contacts::set_contact(&t.db, &key, p.id, &c, "wang", Utc::now()).expect("set");
        let raw = contacts::contact_at_rest(&t.db, p.id).expect("q").expect("row");
        let phone = raw[0].clone().expect("phone");
        assert!(
            !phone.contains("13912345678") && phone.starts_with("sm4gcm1:"),
            "{}",
            t.name
        );
        assert!(!raw[1].clone().expect("addr").contains("红山"));
        assert_eq!(raw[2], None);
        assert_eq!(contacts::contact(&t.db, &key, p.id).expect("q"), Some(c), "{}", t.name);
        let wrong = FieldKey::from_hex("00000000000000000000000000000001").expect("key");
        assert!(
            contacts::contact(&t.db, &wrong, p.id).is_err(),
            "{}: wrong key refused",
            t.name
        );
        // Nothing in the database holds the key.
        let n =
            t.db.query_one(
                "SELECT COUNT(*) FROM person_contact WHERE phone_enc LIKE $1",
                &[Value::text("%0123456789abcdef%")],
            )
            .expect("q")
            .expect("row")
            .int(0)
            .expect("int");
        assert_eq!(n, 0);
    }
}
