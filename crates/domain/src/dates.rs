//! Dates as registry facts use them. Every evaluation is as of a date passed in; nothing here
//! reads the clock.

use chrono::{Datelike, NaiveDate};

/// Age in completed years (周岁) on `as_of`: the birthday itself counts. Someone born on
/// 29 February completes a year on 1 March in common years.
pub fn age_on(birth: NaiveDate, as_of: NaiveDate) -> i32 {
    if as_of < birth {
        return 0;
    }
    let mut age = as_of.year() - birth.year();
    let had_birthday = (as_of.month(), as_of.day()) >= (birth.month(), birth.day());
    if !had_birthday {
        age -= 1;
    }
    age
}

/// The date someone reaches `years` completed years.
pub fn birthday_at(birth: NaiveDate, years: i32) -> NaiveDate {
    let y = birth.year() + years;
    NaiveDate::from_ymd_opt(y, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, 3, 1))
        .unwrap_or(NaiveDate::MAX)
}

/// Parses the date forms found in department files: 2024-01-31, 2024/1/31, 20240131,
/// 2024.01.31, 2024年1月31日.
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    let s = input.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d").ok();
    }
    let normalised: String = s
        .chars()
        .map(|c| match c {
            '/' | '.' | '年' | '月' => '-',
            c => c,
        })
        .filter(|c| *c != '日')
        .collect();
    // Drop a time part ("2024-01-31 00:00:00").
    let date_part = normalised.split_whitespace().next().unwrap_or("");
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn completed_years_around_birthday() {
        let b = d(1945, 6, 15);
        assert_eq!(age_on(b, d(2025, 6, 14)), 79);
        assert_eq!(age_on(b, d(2025, 6, 15)), 80);
        assert_eq!(age_on(b, d(2025, 6, 16)), 80);
        assert_eq!(age_on(b, d(1940, 1, 1)), 0);
    }

    #[test]
    fn leap_day_birthday_completes_on_first_of_march() {
        let b = d(1944, 2, 29);
        assert_eq!(age_on(b, d(2025, 2, 28)), 80);
        assert_eq!(age_on(b, d(2025, 3, 1)), 81);
        assert_eq!(birthday_at(b, 81), d(2025, 3, 1));
        assert_eq!(age_on(b, d(2024, 2, 29)), 80);
    }

    #[test]
    fn date_forms() {
        for s in [
            "2024-01-31",
            "2024/1/31",
            "20240131",
            "2024.01.31",
            "2024年1月31日",
            "2024-01-31 00:00:00",
        ] {
            assert_eq!(parse_date(s), Some(d(2024, 1, 31)), "{s}");
        }
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("2099-13-45"), None);
    }
}
