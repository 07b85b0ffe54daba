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
    // The usual form by hand: chrono's format parser was a sixth of reading a 户籍 file.
    if let Some(d) = iso_date(s) {
        return Some(d);
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return compact_date(s);
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

/// `YYYY-MM-DD` exactly; `None` for anything else, including an impossible day.
fn iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    ymd(b, 0..4, 5..7, 8..10)
}

/// `YYYYMMDD` exactly (the form inside an ID number), by hand: chrono's format parser was about
/// a third of reading a 户籍 file, where every row's ID number gives a birth date. `None` for
/// anything else, including an impossible day.
pub fn compact_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 8 {
        return None;
    }
    ymd(b, 0..4, 4..6, 6..8)
}

fn ymd(b: &[u8], y: std::ops::Range<usize>, m: std::ops::Range<usize>, d: std::ops::Range<usize>) -> Option<NaiveDate> {
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter()
            .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, num(d)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_dates_agree_with_chrono() {
        let mut day = NaiveDate::from_ymd_opt(1890, 1, 1).expect("date");
        while day.year() < 2031 {
            let s = day.format("%Y%m%d").to_string();
            assert_eq!(compact_date(&s), Some(day), "{s}");
            day = day.succ_opt().expect("next day");
        }
        for s in [
            "20230229",
            "19491301",
            "19490000",
            "19491200",
            "19490132",
            "1949123a",
            "2024013",
            "202401311",
            "",
            "-1990101",
            "+1990101",
            "１９４９１２３１",
        ] {
            assert_eq!(compact_date(s), None, "{s}");
            // Callers give eight characters (chrono reads "2024013" as 3 January).
            if s.len() == 8 {
                assert_eq!(
                    NaiveDate::parse_from_str(s, "%Y%m%d").ok(),
                    None,
                    "{s}: chrono refuses it too"
                );
            }
        }
    }

    #[test]
    fn iso_fast_path_agrees_with_chrono() {
        // Every day 1890–2030 as chrono writes it reads back; other shapes and impossible
        // days are left to the general path (which still reads 2024-1-31).
        let mut day = NaiveDate::from_ymd_opt(1890, 1, 1).expect("date");
        while day.year() < 2031 {
            let s = day.format("%Y-%m-%d").to_string();
            assert_eq!(iso_date(&s), Some(day), "{s}");
            day = day.succ_opt().expect("next day");
        }
        for s in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-1-31",
            "2024-01-3x",
            "2024/01/31",
            "+024-01-31",
        ] {
            assert_eq!(iso_date(s), None, "{s}");
        }
    }

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
