//! Dates as the catalogue and the store write them, `YYYY-MM-DD`, read and written by hand.
//! Ingest reads and writes several per row (the date fields, the deadline, the publicity
//! block), and chrono's general parser and formatter interpret a format on every call: they
//! cost more than the rest of the row's date work (`bench ingest`).

use chrono::{Datelike, NaiveDate};

/// A date written `YYYY-MM-DD`; any other text as chrono's `FromStr` reads it.
pub fn parse(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let number = |digits: &[u8]| {
            digits.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
        };
        if let (Some(y), Some(m), Some(d)) = (number(&b[0..4]), number(&b[5..7]), number(&b[8..10])) {
            return NaiveDate::from_ymd_opt(y as i32, m, d);
        }
    }
    s.parse().ok()
}

/// Appends the date's UTF-8 as chrono's `Display` writes it (`YYYY-MM-DD` for the years
/// 0–9999). Bytes, so that a caller writing several pieces checks its text once.
pub fn push(out: &mut Vec<u8>, d: NaiveDate) {
    let year = d.year();
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(d.to_string().as_bytes());
        return;
    }
    let (y, m, day) = (year as u32, d.month(), d.day());
    let digit = |n: u32| b'0' + (n % 10) as u8;
    out.extend_from_slice(&[
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
    ]);
}

/// The date as chrono's `Display` writes it.
pub fn format(d: NaiveDate) -> String {
    let mut s = Vec::with_capacity(10);
    push(&mut s, d);
    String::from_utf8(s).unwrap_or_default()
}

/// Appends an integer in decimal, as `Display` writes it.
pub fn push_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    // The digits backwards, then turned round.
    let start = out.len();
    let mut v = n.unsigned_abs();
    loop {
        out.push(b'0' + (v % 10) as u8);
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out[start..].reverse();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_of_two_centuries_reads_and_writes_as_chrono_does() {
        let mut d = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(2100, 12, 31).unwrap();
        while d <= last {
            let text = d.to_string();
            assert_eq!(format(d), text);
            assert_eq!(parse(&text), Some(d));
            d = d.succ_opt().unwrap();
        }
        for d in [NaiveDate::from_ymd_opt(0, 1, 1).unwrap(), NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()] {
            assert_eq!(format(d), d.to_string());
        }
        let far = NaiveDate::from_ymd_opt(12345, 6, 7).unwrap();
        assert_eq!(format(far), far.to_string());
    }

    #[test]
    fn what_is_not_a_date_is_refused_as_chrono_refuses_it() {
        for s in [
            "",
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-1-5x",
            "2024/01/05",
            "２０２４-01-05",
            "abcd-ef-gh",
            "2024-01-5",
            "+2024-01-05",
            "2024-01-05 ",
            " 2024-01-05",
            "2024-01-05T00:00",
        ] {
            assert_eq!(parse(s), s.parse::<NaiveDate>().ok(), "{s:?}");
        }
        assert_eq!(parse("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
    }

    #[test]
    fn integers_as_display_writes_them() {
        for n in [0, 7, -7, 10, 99, 365, -1095, 1_000_000, i64::MAX, i64::MIN] {
            let mut s = Vec::new();
            push_int(&mut s, n);
            assert_eq!(String::from_utf8(s).unwrap(), n.to_string());
        }
    }
}
