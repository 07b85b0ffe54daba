//! Parameter values by division and date, on SQLite and PostgreSQL.

use chrono::{Duration, NaiveDate, Utc};
use yanglao_domain::catalogue::builtin;
use yanglao_domain::{DivisionCode, Fen};
use yanglao_lists::params::{parse_value, resolve, set, ParamValue};
use yanglao_rules::Type;
use yanglao_store::testing;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn c(s: &str) -> DivisionCode {
    DivisionCode::parse(s).expect("code")
}

#[test]
fn the_most_specific_division_in_force_applies_and_history_is_kept() {
    let cat = builtin::catalogue();
    let name = "城乡居民基础养老金";
    for t in testing::all() {
        let now = Utc::now();
        set(
            &t.db,
            name,
            Type::Money,
            c("150000"),
            d(2024, 1, 1),
            "150元",
            "区厅",
            now,
            "",
        )
        .expect("set");
        set(
            &t.db,
            name,
            Type::Money,
            c("150102"),
            d(2024, 7, 1),
            "170元",
            "新城区",
            now,
            "",
        )
        .expect("set");
        // A correction of the county's value: a newer row, the old one kept.
        set(
            &t.db,
            name,
            Type::Money,
            c("150102"),
            d(2024, 7, 1),
            "175元",
            "新城区",
            now + Duration::seconds(1),
            "更正",
        )
        .expect("set");
        let at = |div: &str, date| {
            resolve(&t.db, &cat, name, c(div), date)
                .expect("resolve")
                .map(|r| (r.division, r.value))
        };
        let village = "150102001201";
        assert_eq!(at(village, d(2023, 12, 31)), None, "{}: nothing set yet", t.name);
        assert_eq!(
            at(village, d(2024, 6, 30)),
            Some(("150000".into(), "150元".into())),
            "{}",
            t.name
        );
        assert_eq!(
            at(village, d(2024, 7, 1)),
            Some(("150102".into(), "175元".into())),
            "{}: county wins, latest correction",
            t.name
        );
        assert_eq!(
            at("150203001201", d(2024, 7, 1)),
            Some(("150000".into(), "150元".into())),
            "{}: another county",
            t.name
        );
        let history = yanglao_store::lists::param_values(&t.db, name, &["150102".to_string()]).expect("history");
        assert_eq!(history.len(), 2, "{}: the corrected value is kept", t.name);
        // A wrong value is refused before it is stored.
        assert!(set(
            &t.db,
            name,
            Type::Money,
            c("150102"),
            d(2025, 1, 1),
            "一百元",
            "x",
            now,
            ""
        )
        .is_err());
    }
}

#[test]
fn values_are_typed() {
    assert_eq!(
        parse_value("a", Type::Money, "153元").expect("money"),
        ParamValue::Money(Fen::new(15_300))
    );
    assert_eq!(parse_value("a", Type::Int, "3").expect("int"), ParamValue::Int(3));
    let t = parse_value("a", Type::MoneyByInt, "0=0元,3=300元，4=500元").expect("table");
    assert_eq!(
        t.get(Some(3)),
        Some(yanglao_rules::eval::Value::Money(Fen::new(30_000)))
    );
    assert_eq!(t.get(Some(2)), None);
    assert!(parse_value("a", Type::MoneyByInt, "3:300元").is_err());
}
