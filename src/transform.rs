//! Value transforms used by declarative mappings: text clean-up, dates and amounts as
//! departments really send them (SPEC §2: dates are `YYYY-MM-DD`, money is in 万元).
//!
//! They run on every cell of million-row files, so the common path does not allocate:
//! `normalize_text` borrows when nothing changes and the parsers read the borrowed text.
//! Only errors allocate, to echo (at most `MAX_ECHO_CHARS` of) the offending value.

use std::borrow::Cow;
use std::ops::RangeInclusive;

use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::Decimal;

/// Longer values are cut in messages: a whole mis-mapped paragraph helps nobody.
const MAX_ECHO_CHARS: usize = 50;
/// Dates outside this range are typos (1023, 2203) rather than credit records.
const YEARS: RangeInclusive<i32> = 1900..=2100;
/// Excel's largest date serial, 9999-12-31.
const EXCEL_MAX_SERIAL: u32 = 2_958_465;

/// Why a cell could not be transformed. Echoed inputs are normalised and cut to
/// `MAX_ECHO_CHARS` characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("unrecognised date \"{input}\"")]
    BadDate { input: String },
    #[error("not a real date: {input}")]
    ImpossibleDate { input: String },
    #[error("year {year} is outside 1900–2100: {input}")]
    YearOutOfRange { input: String, year: i32 },
    #[error("excel serial 60 stands for 1900-02-29, which does not exist")]
    ExcelLeapDay,
    #[error("unrecognised amount \"{input}\"")]
    BadAmount { input: String },
}

impl TransformError {
    /// The reason in Chinese, for the department clerk who must correct the value.
    pub fn zh(&self) -> String {
        match self {
            TransformError::BadDate { input } => format!("日期格式无法识别：“{input}”"),
            TransformError::ImpossibleDate { input } => format!("不是有效日期：{input}"),
            TransformError::YearOutOfRange { input, year } => {
                format!("年份 {year} 超出范围（1900–2100）：{input}")
            }
            TransformError::ExcelLeapDay => "Excel 日期序号 60 对应不存在的 1900-02-29".to_string(),
            TransformError::BadAmount { input } => format!("金额格式无法识别：“{input}”"),
        }
    }
}

/// The start of `s`, cut to `MAX_ECHO_CHARS` characters with `…` when longer.
fn echo(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", s.get(..cut).unwrap_or_default()),
        None => s.to_string(),
    }
}

/// Full-width ASCII (U+FF01–U+FF5E) → half-width, ideographic space U+3000 and NBSP →
/// space, zero-width chars (U+200B–U+200D, U+FEFF) and ASCII control chars removed,
/// trimmed, internal whitespace runs collapsed to one space.
///
/// Every Unicode whitespace character (tab, newline, U+3000, NBSP, …) counts as a space,
/// and C1 controls are removed along with ASCII ones: both come from the same broken
/// exports. Returns `Cow::Borrowed` (possibly a trimmed slice) when nothing else changes.
pub fn normalize_text(s: &str) -> Cow<'_, str> {
    let t = s.trim();
    if is_normal(t) {
        return Cow::Borrowed(t);
    }
    Cow::Owned(rebuild(t, fold))
}

/// A subject's name as registered: trimmed, whitespace runs collapsed to one space,
/// zero-width and control characters removed, and nothing else changed. Full-width
/// brackets（）, the middle dot · and every other character stay as written, because the
/// platforms compare the name with the registered one character for character.
pub fn normalize_name(s: &str) -> Cow<'_, str> {
    let t = s.trim();
    if is_normal_name(t) {
        return Cow::Borrowed(t);
    }
    Cow::Owned(rebuild(t, fold_space))
}

/// The form two names are compared in when their width, brackets or spacing must not
/// matter (matching a correction, the subject library): `normalize_text` without any space.
pub fn name_key(s: &str) -> String {
    normalize_text(s).chars().filter(|c| !c.is_whitespace()).collect()
}

/// `fold` without the full-width folding: only spaces and invisible characters.
fn fold_space(c: char) -> Folded {
    match c {
        '\u{200B}'..='\u{200D}' | '\u{FEFF}' => Folded::Drop,
        c if c.is_whitespace() => Folded::Space,
        c if c.is_control() => Folded::Drop,
        c => Folded::Char(c),
    }
}

fn is_normal_name(t: &str) -> bool {
    let mut prev_space = false;
    for c in t.chars() {
        match fold_space(c) {
            Folded::Char(_) => prev_space = false,
            Folded::Space if c == ' ' && !prev_space => prev_space = true,
            _ => return false,
        }
    }
    true
}

/// `t` with each character folded: dropped, a space (runs collapse to one, none at the ends),
/// or another character.
fn rebuild(t: &str, fold: impl Fn(char) -> Folded) -> String {
    let mut out = String::with_capacity(t.len());
    let mut pending_space = false;
    for c in t.chars() {
        match fold(c) {
            Folded::Drop => {}
            Folded::Space => pending_space = !out.is_empty(),
            Folded::Char(f) => {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(f);
            }
        }
    }
    out
}

enum Folded {
    Char(char),
    Space,
    Drop,
}

fn fold(c: char) -> Folded {
    match c {
        // U+FF01–U+FF5E map onto U+0021–U+007E, so the result fits in a byte.
        '\u{FF01}'..='\u{FF5E}' => Folded::Char(char::from((u32::from(c) - 0xFEE0) as u8)),
        '\u{200B}'..='\u{200D}' | '\u{FEFF}' => Folded::Drop,
        c if c.is_whitespace() => Folded::Space,
        c if c.is_control() => Folded::Drop,
        c => Folded::Char(c),
    }
}

/// True when `normalize_text` would leave the (already trimmed) `t` as it is.
fn is_normal(t: &str) -> bool {
    let mut prev_space = false;
    for c in t.chars() {
        match fold(c) {
            Folded::Char(f) if f == c => prev_space = false,
            Folded::Space if c == ' ' && !prev_space => prev_space = true,
            _ => return false,
        }
    }
    true
}

/// Dates as departments really send them → `NaiveDate`.
///
/// Accepts `2023-06-02`, `2023-6-2`, `2023/6/2`, `2023.06.02`, `20230602`, `2023年6月2日`
/// (also `号`, optional spaces), Excel serials (`45079`, `45079.5`: 1..=2958465, with
/// Excel's phantom 1900-02-29 at 60 refused), and any of the separated forms followed by a
/// time (`10:11`, `10:11:12.0`, `T10:11:12Z`, `T10:11:12+08:00`), whose date part is taken.
/// Full-width digits and punctuation are accepted. Refuses impossible dates, years outside
/// 1900..=2100 and anything else.
///
/// A bare number of up to 7 digits is an Excel serial, as Excel meant it: `2023` is
/// 1905-07-15, not a year.
pub fn parse_date(s: &str) -> Result<NaiveDate, TransformError> {
    let t = normalize_text(s);
    date(&t).map_err(|fault| {
        let input = echo(&t);
        match fault {
            DateFault::Shape => TransformError::BadDate { input },
            DateFault::Impossible => TransformError::ImpossibleDate { input },
            DateFault::Year(year) => TransformError::YearOutOfRange { input, year },
            DateFault::ExcelLeapDay => TransformError::ExcelLeapDay,
        }
    })
}

/// What went wrong, before the input is copied into a `TransformError`.
enum DateFault {
    Shape,
    Impossible,
    Year(i32),
    ExcelLeapDay,
}

fn date(t: &str) -> Result<NaiveDate, DateFault> {
    if let Some((year, rest)) = t.split_once('年') {
        return chinese_date(year, rest);
    }
    let (day, time) = match t.split_once([' ', 'T']) {
        Some((day, time)) => (day, Some(time)),
        None => (t, None),
    };
    if time.is_some_and(|time| !is_time(time)) {
        return Err(DateFault::Shape);
    }
    if day.len() == 8 && is_digits(day) {
        return ymd(
            day.get(0..4).and_then(ascii_number),
            day.get(4..6).and_then(ascii_number),
            day.get(6..8).and_then(ascii_number),
        );
    }
    if let (None, Some(serial)) = (time, excel_serial(day)) {
        return excel_date(serial);
    }
    let Some(sep) = day.chars().find(|c| !c.is_ascii_digit()) else {
        return Err(DateFault::Shape);
    };
    if !matches!(sep, '-' | '/' | '.') {
        return Err(DateFault::Shape);
    }
    let mut parts = day.split(sep);
    let (y, m, d) = (parts.next(), parts.next(), parts.next());
    if parts.next().is_some() {
        return Err(DateFault::Shape);
    }
    ymd(digits(y, 4, 4), digits(m, 1, 2), digits(d, 1, 2))
}

/// `2023年6月2日`, `2023 年 06 月 02 号`, optionally followed by a time.
fn chinese_date(year: &str, rest: &str) -> Result<NaiveDate, DateFault> {
    let (month, rest) = rest.split_once('月').ok_or(DateFault::Shape)?;
    let (day, tail) = rest.split_once(['日', '号']).ok_or(DateFault::Shape)?;
    let tail = tail.trim_start();
    if !tail.is_empty() && !is_time(tail) {
        return Err(DateFault::Shape);
    }
    ymd(digits(Some(year.trim()), 4, 4), digits(Some(month.trim()), 1, 2), digits(Some(day.trim()), 1, 2))
}

/// Numbers shaped like a date become a date, an impossible one, or an out-of-range year;
/// a month above 12 or a day above 31 is not date-shaped at all.
fn ymd(y: Option<u32>, m: Option<u32>, d: Option<u32>) -> Result<NaiveDate, DateFault> {
    let (Some(y), Some(m), Some(d)) = (y, m, d) else {
        return Err(DateFault::Shape);
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(DateFault::Shape);
    }
    let year = i32::try_from(y).map_err(|_| DateFault::Shape)?;
    if !YEARS.contains(&year) {
        return Err(DateFault::Year(year));
    }
    NaiveDate::from_ymd_opt(year, m, d).ok_or(DateFault::Impossible)
}

/// `HH:MM[:SS[.fraction]][Z|±HH[:]MM]`, hours 0–23; only checked, since the date part is
/// what the catalogue stores.
fn is_time(t: &str) -> bool {
    let mut c = Cursor(t.as_bytes());
    let hour_minute = c.number(1, 2).is_some_and(|h| h <= 23) && c.eat(b':') && c.number(2, 2).is_some_and(|m| m <= 59);
    if !hour_minute {
        return false;
    }
    if c.eat(b':') {
        if c.number(2, 2).is_none_or(|s| s > 60) {
            return false;
        }
        if c.eat(b'.') && c.number(1, 9).is_none() {
            return false;
        }
    }
    if c.eat(b'Z') {
        return c.is_empty();
    }
    if c.eat(b'+') || c.eat(b'-') {
        if c.number(2, 2).is_none_or(|h| h > 14) {
            return false;
        }
        let colon = c.eat(b':');
        if (colon || !c.is_empty()) && c.number(2, 2).is_none_or(|m| m > 59) {
            return false;
        }
    }
    c.is_empty()
}

/// A byte reader for the small grammars here; it never indexes past the end.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn eat(&mut self, b: u8) -> bool {
        match self.0.split_first() {
            Some((&first, rest)) if first == b => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    /// Reads `min..=max` ASCII digits (stopping at `max`).
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let len = self.0.iter().take(max).take_while(|b| b.is_ascii_digit()).count();
        if len < min {
            return None;
        }
        let (digits, rest) = self.0.split_at(len);
        self.0 = rest;
        digits.iter().try_fold(0u32, |acc, &b| acc.checked_mul(10)?.checked_add(u32::from(b - b'0')))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `45079` or `45079.5`: the integer part of an Excel serial (the fraction is the time).
fn excel_serial(day: &str) -> Option<u32> {
    let (int, frac) = match day.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (day, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !is_digits(f)) {
        return None;
    }
    digits(Some(int), 1, 7)
}

/// Excel counts 1900-01-01 as 1 and, copying Lotus 1-2-3, believes in 1900-02-29 (60);
/// later serials are therefore days since 1899-12-30.
fn excel_date(serial: u32) -> Result<NaiveDate, DateFault> {
    let epoch_day = match serial {
        1..=59 => 31,
        60 => return Err(DateFault::ExcelLeapDay),
        61..=EXCEL_MAX_SERIAL => 30,
        _ => return Err(DateFault::Shape),
    };
    let date = NaiveDate::from_ymd_opt(1899, 12, epoch_day)
        .and_then(|epoch| epoch.checked_add_days(Days::new(u64::from(serial))))
        .ok_or(DateFault::Shape)?;
    if !YEARS.contains(&date.year()) {
        return Err(DateFault::Year(date.year()));
    }
    Ok(date)
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The value of `min..=max` ASCII digits, `None` for anything else.
fn digits(s: Option<&str>, min: usize, max: usize) -> Option<u32> {
    s.filter(|s| (min..=max).contains(&s.len())).and_then(ascii_number)
}

fn ascii_number(s: &str) -> Option<u32> {
    let mut c = Cursor(s.as_bytes());
    let n = c.number(1, 9)?;
    c.is_empty().then_some(n)
}

/// The unit an amount was written in; `Unspecified` leaves the choice to the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AmountUnit {
    Unspecified,
    /// 元
    Yuan,
    /// 万元 (10,000 元): the unit the catalogue stores money in (SPEC §2).
    Wan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub value: Decimal,
    pub unit: AmountUnit,
}

/// Amounts: optional sign (before or after the currency), thousands separators (`,` `，`
/// and spaces, between groups of three digits), optional currency prefix `￥`/`¥`/`RMB`,
/// optional suffix `元`, `万元` or `万`, full-width digits. `2,000元` → 2000 Yuan,
/// `0.2万元` → 0.2 Wan, `1,234.50` → 1234.50 Unspecified, `.5` → 0.5.
///
/// Scientific notation (`1.2E+5`) is refused: it is what Excel shows once a number is too
/// wide for its cell, after digits may already have been lost, so the department should
/// export the plain value. So are values beyond `Decimal` (28 fraction digits, 96 bits).
pub fn parse_amount(s: &str) -> Result<Amount, TransformError> {
    let t = normalize_text(s);
    amount(&t).ok_or_else(|| TransformError::BadAmount { input: echo(&t) })
}

fn amount(t: &str) -> Option<Amount> {
    let (sign_before, rest) = take_sign(t);
    let (sign_after, rest) = match strip_currency(rest) {
        Some(rest) => take_sign(rest.trim_start()),
        None => (None, rest),
    };
    let negative = match (sign_before, sign_after) {
        (Some(_), Some(_)) => return None,
        (Some(negative), None) | (None, Some(negative)) => negative,
        (None, None) => false,
    };
    let (number, unit) = if let Some(n) = rest.strip_suffix("万元") {
        (n, AmountUnit::Wan)
    } else if let Some(n) = rest.strip_suffix('万') {
        (n, AmountUnit::Wan)
    } else if let Some(n) = rest.strip_suffix('元') {
        (n, AmountUnit::Yuan)
    } else {
        (rest, AmountUnit::Unspecified)
    };
    let value = plain_decimal(number.trim_end(), negative)?;
    Some(Amount { value, unit })
}

/// `Some(true)` for a minus (ASCII or U+2212), `Some(false)` for a plus.
fn take_sign(s: &str) -> (Option<bool>, &str) {
    if let Some(rest) = s.strip_prefix(['-', '\u{2212}']) {
        (Some(true), rest)
    } else if let Some(rest) = s.strip_prefix('+') {
        (Some(false), rest)
    } else {
        (None, s)
    }
}

fn strip_currency(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix(['￥', '¥']) {
        return Some(rest);
    }
    s.get(..3).filter(|p| p.eq_ignore_ascii_case("RMB")).and_then(|_| s.get(3..))
}

/// Digits with optional thousands separators, then an optional `.` and digits. Builds the
/// mantissa directly, so separators cost no copy.
fn plain_decimal(s: &str, negative: bool) -> Option<Decimal> {
    let mut mantissa: u128 = 0;
    let mut push = |b: u8| -> Option<()> {
        mantissa = mantissa.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
        Some(())
    };
    let mut bytes = s.bytes().peekable();
    let (mut int_digits, mut group, mut separators) = (0usize, 0usize, 0usize);
    while let Some(&b) = bytes.peek() {
        match b {
            b'0'..=b'9' => {
                push(b)?;
                int_digits += 1;
                group += 1;
            }
            b',' | b' ' => {
                // The first group has 1–3 digits, every later one exactly 3.
                let well_formed = if separators == 0 { (1..=3).contains(&group) } else { group == 3 };
                if !well_formed {
                    return None;
                }
                separators += 1;
                group = 0;
            }
            _ => break,
        }
        bytes.next();
    }
    if separators > 0 && group != 3 {
        return None;
    }
    let mut scale = 0u32;
    if bytes.next_if_eq(&b'.').is_some() {
        for b in bytes.by_ref() {
            if !b.is_ascii_digit() {
                return None;
            }
            push(b)?;
            scale += 1;
        }
        if scale == 0 {
            return None;
        }
    }
    if bytes.next().is_some() || int_digits + scale as usize == 0 {
        return None;
    }
    let magnitude = i128::try_from(mantissa).ok()?;
    // i128 has no negative zero, so `-0` comes out as plain zero.
    let signed = if negative { -magnitude } else { magnitude };
    Decimal::try_from_i128_with_scale(signed, scale).ok()
}

/// 元 → 万元, exactly: 2000 → 0.2, 0.01 → 0.000001. Only a value already carrying more
/// than 24 decimal places is rounded, at `Decimal`'s 28.
pub fn yuan_to_wan(v: Decimal) -> Decimal {
    let mut wan = v;
    // Moving the decimal point is exact; division would round at 28 places anyway.
    if wan.set_scale(v.scale() + 4).is_ok() { wan.normalize() } else { (v / Decimal::from(10_000)).normalize() }
}

/// Plain decimal text without exponent or trailing zeros (`0.2`, `15`, `0.000001`), as
/// platforms expect numbers.
pub fn format_decimal(v: Decimal) -> String {
    v.normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    fn bad(input: &str) -> TransformError {
        TransformError::BadDate { input: input.to_string() }
    }

    fn impossible(input: &str) -> TransformError {
        TransformError::ImpossibleDate { input: input.to_string() }
    }

    fn year(input: &str, year: i32) -> TransformError {
        TransformError::YearOutOfRange { input: input.to_string(), year }
    }

    #[test]
    fn normalize_text_cases() {
        let cases = [
            ("", ""),
            ("abc", "abc"),
            ("  abc  ", "abc"),
            ("ＡＢＣ　ｘｙｚ", "ABC xyz"),
            ("２０２３－０６－０２", "2023-06-02"),
            ("（１２３）！～", "(123)!~"),
            ("张三，李四：王五", "张三,李四:王五"),
            ("￥１，０００", "￥1,000"),
            ("a\tb\t\tc", "a b c"),
            ("a \t\n\r b", "a b"),
            ("a\u{3000}\u{3000}b", "a b"),
            ("a\u{a0}b", "a b"),
            ("\u{feff}9144\u{200b}0300\u{200c}\u{200d}", "91440300"),
            ("a \u{200b} b", "a b"),
            ("a\u{0}b\u{7}c\u{7f}d\u{85}e", "abcd e"),
            ("\u{3000}\u{3000}", ""),
            ("\u{200b}", ""),
            ("行政处罚  决定书", "行政处罚 决定书"),
            ("🦀 ｒｕｓｔ 🦀", "🦀 rust 🦀"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn names_keep_their_registered_form() {
        let cases = [
            ("  某某（集团）有限公司 ", "某某（集团）有限公司"),
            ("阿卜杜·热合曼", "阿卜杜·热合曼"),
            ("某某\u{3000}\u{3000}商行", "某某 商行"),
            ("某某\u{200b}公司\u{7}", "某某公司"),
            ("ＡＢＣ（淮北）", "ＡＢＣ（淮北）"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_name(input), expected, "{input:?}");
        }
        assert!(matches!(normalize_name("某某（集团）有限公司"), Cow::Borrowed(_)));
        assert_eq!(name_key("某某（集团） 有限公司"), name_key("某某(集团)有限公司"));
        assert_ne!(name_key("某某（集团）有限公司"), name_key("某某集团有限公司"));
    }

    #[test]
    fn normalize_text_borrows_when_it_can() {
        for input in ["", "abc", "行政处罚决定书 第 1 号", "  trimmed only\t\n", "\u{3000}x"] {
            assert!(matches!(normalize_text(input), Cow::Borrowed(_)), "{input:?}");
        }
        for input in ["a  b", "a\tb", "ａ", "a\u{200b}"] {
            assert!(matches!(normalize_text(input), Cow::Owned(_)), "{input:?}");
        }
    }

    #[test]
    fn dates_in_every_accepted_form() {
        let june2 = day(2023, 6, 2);
        let cases = [
            "2023-06-02",
            "2023-6-2",
            "2023/6/2",
            "2023/06/02",
            "2023.06.02",
            "2023.6.2",
            "20230602",
            "2023年6月2日",
            "2023年06月02日",
            "2023 年 6 月 2 日",
            "2023年6月2号",
            "2023年6月2日 10:11",
            "45079",
            "45079.5",
            "45079.458333333",
            "2023-06-02 10:11:12",
            "2023-06-02T10:11:12",
            "2023-06-02T10:11:12+08:00",
            "2023-06-02T10:11:12+0800",
            "2023-06-02T10:11:12-05",
            "2023-06-02T10:11:12Z",
            "2023-06-02T10:11:12.123Z",
            "2023/6/2 10:11",
            "2023/6/2 9:05",
            "2023-06-02 00:00:00.0",
            "20230602 10:11:12",
            "２０２３－０６－０２",
            "２０２３年６月２日",
            "２０２３／６／２　１０：１１",
            " \u{feff}2023-06-02\t",
        ];
        for input in cases {
            assert_eq!(parse_date(input), Ok(june2), "{input:?}");
        }
    }

    #[test]
    fn excel_serials() {
        let cases = [
            ("1", Ok(day(1900, 1, 1))),
            ("59", Ok(day(1900, 2, 28))),
            ("60", Err(TransformError::ExcelLeapDay)),
            ("61", Ok(day(1900, 3, 1))),
            ("45079", Ok(day(2023, 6, 2))),
            ("73415", Ok(day(2100, 12, 31))),
            ("73416", Err(year("73416", 2101))),
            ("2958465", Err(year("2958465", 9999))),
            ("0", Err(bad("0"))),
            ("2958466", Err(bad("2958466"))),
            ("45079.", Err(bad("45079."))),
            ("45079 10:00", Err(bad("45079 10:00"))),
            ("-45079", Err(bad("-45079"))),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_date(input), expected, "{input:?}");
        }
    }

    #[test]
    fn dates_refused() {
        let cases = [
            ("2023-02-30", impossible("2023-02-30")),
            ("2023年2月29日", impossible("2023年2月29日")),
            ("20230431", impossible("20230431")),
            ("2023-13-01", bad("2023-13-01")),
            ("2023-00-10", bad("2023-00-10")),
            ("2023-06-32", bad("2023-06-32")),
            ("2023-06-00", bad("2023-06-00")),
            ("1899-12-31", year("1899-12-31", 1899)),
            ("2101-01-01", year("2101-01-01", 2101)),
            ("0001-01-01", year("0001-01-01", 1)),
            ("", bad("")),
            ("   ", bad("")),
            ("\u{3000}２０２３－１３－０１", bad("2023-13-01")),
            ("abc", bad("abc")),
            ("长期", bad("长期")),
            ("2023-06", bad("2023-06")),
            ("2023-06-02-01", bad("2023-06-02-01")),
            ("2023-06/02", bad("2023-06/02")),
            ("2023_06_02", bad("2023_06_02")),
            ("23-6-2", bad("23-6-2")),
            ("02/06/2023", bad("02/06/2023")),
            ("2023-006-02", bad("2023-006-02")),
            ("2023--02", bad("2023--02")),
            ("2023-06-02T", bad("2023-06-02T")),
            ("2023-06-02 abc", bad("2023-06-02 abc")),
            ("2023-06-02 24:00", bad("2023-06-02 24:00")),
            ("2023-06-02 10:60", bad("2023-06-02 10:60")),
            ("2023-06-02 10:1", bad("2023-06-02 10:1")),
            ("2023-06-02T10:11:12+08:", bad("2023-06-02T10:11:12+08:")),
            ("2023-06-02T10:11:12+08:00:00", bad("2023-06-02T10:11:12+08:00:00")),
            ("2023-06-02T10:11:12.Z", bad("2023-06-02T10:11:12.Z")),
            ("2023-06-02t10:11:12", bad("2023-06-02t10:11:12")),
            ("2023-06-02 10:11:12 +08:00", bad("2023-06-02 10:11:12 +08:00")),
            ("202306021", bad("202306021")),
            ("2023年6月", bad("2023年6月")),
            ("2023年6月2日下午", bad("2023年6月2日下午")),
            ("二〇二三年六月二日", bad("二〇二三年六月二日")),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_date(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn long_and_odd_inputs_are_echoed_short() {
        let long = "9".repeat(10_000);
        let Err(TransformError::BadDate { input }) = parse_date(&long) else {
            panic!("a 10,000-digit date must be refused");
        };
        assert_eq!(input.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(input.ends_with('…'));

        let chinese = "日期".repeat(100);
        let Err(TransformError::BadAmount { input }) = parse_amount(&chinese) else {
            panic!("text is not an amount");
        };
        assert_eq!(input.chars().count(), MAX_ECHO_CHARS + 1);

        for odd in ["\u{0}", "🦀", "年", "年月日", "2023年月日", "￥", "RM", "R", "万元", "é"] {
            assert!(parse_date(odd).is_err(), "{odd:?}");
            assert!(parse_amount(odd).is_err(), "{odd:?}");
        }
    }

    #[test]
    fn amounts_in_every_accepted_form() {
        use AmountUnit::{Unspecified, Wan, Yuan};
        let cases = [
            ("2,000元", "2000", Yuan),
            ("0.2万元", "0.2", Wan),
            ("0.2万", "0.2", Wan),
            ("1,234.50", "1234.50", Unspecified),
            ("1234.5", "1234.5", Unspecified),
            ("0", "0", Unspecified),
            ("-0", "0", Unspecified),
            ("-1,234", "-1234", Unspecified),
            ("+15", "15", Unspecified),
            ("−3", "-3", Unspecified),
            (".5", "0.5", Unspecified),
            ("-.5", "-0.5", Unspecified),
            ("1 234 567.89", "1234567.89", Unspecified),
            ("1，234，567元", "1234567", Yuan),
            ("12,345,678.9", "12345678.9", Unspecified),
            ("￥2,000", "2000", Unspecified),
            ("¥2000元", "2000", Yuan),
            ("￥ 2,000.00 元", "2000", Yuan),
            ("RMB 500", "500", Unspecified),
            ("rmb500万元", "500", Wan),
            ("-￥20", "-20", Unspecified),
            ("￥-20", "-20", Unspecified),
            ("２，０００元", "2000", Yuan),
            ("１２３．４５万元", "123.45", Wan),
            ("  2000  ", "2000", Unspecified),
            ("007", "7", Unspecified),
            ("0.0000000000000000000000000001", "0.0000000000000000000000000001", Unspecified),
            ("79228162514264337593543950335", "79228162514264337593543950335", Unspecified),
        ];
        for (input, value, unit) in cases {
            assert_eq!(parse_amount(input), Ok(Amount { value: dec(value), unit }), "{input:?}");
        }
        assert_eq!(parse_amount("1,234.50").map(|a| a.value.to_string()), Ok("1234.50".to_string()));
        assert_eq!(parse_amount("-0").map(|a| a.value.is_sign_negative()), Ok(false));
    }

    #[test]
    fn amounts_refused() {
        let cases = [
            "",
            "abc",
            "元",
            "万元",
            "￥",
            "-",
            "1.2.3",
            "1..2",
            "1.",
            ".",
            "1,2",
            "1,23",
            "1234,567",
            "1,234,56",
            "1,2345",
            ",123",
            "123,",
            "1, 234",
            "12 34",
            "1.234,5",
            "1,234.5,6",
            "1.2E+5",
            "1e5",
            "--5",
            "+-5",
            "-￥-5",
            "5-",
            "- 5",
            "5元元",
            "5元万",
            "五千元",
            "USD 5",
            "0x10",
            "NaN",
            "inf",
            "79228162514264337593543950336",
            "0.00000000000000000000000000001",
            "1 000 000 000 000 000 000 000 000 000 000 000 000 000",
        ];
        for input in cases {
            let Err(error) = parse_amount(input) else {
                panic!("{input:?} must be refused");
            };
            assert!(matches!(error, TransformError::BadAmount { .. }), "{input:?}");
        }
        assert_eq!(parse_amount("abc").map_err(|e| e.zh()), Err("金额格式无法识别：“abc”".to_string()));
    }

    #[test]
    fn yuan_to_wan_is_exact() {
        let cases = [
            ("2000", "0.2"),
            ("0.01", "0.000001"),
            ("10000", "1"),
            ("1234.50", "0.12345"),
            ("0", "0"),
            ("-2000", "-0.2"),
            ("123456789012345678901234", "12345678901234567890.1234"),
            ("0.000000000000000000000001", "0.0000000000000000000000000001"),
        ];
        for (yuan, wan) in cases {
            let got = yuan_to_wan(dec(yuan));
            assert_eq!(got, dec(wan), "{yuan}");
            assert_eq!(format_decimal(got), wan, "{yuan}");
        }
        // Past 28 places only rounding is possible; it must not panic.
        let tiny = dec("0.0000000000000000000000000001");
        assert_eq!(yuan_to_wan(tiny), Decimal::ZERO);
        assert_eq!(yuan_to_wan(Decimal::MAX), Decimal::MAX / Decimal::from(10_000));
    }

    #[test]
    fn format_decimal_is_plain() {
        let cases = [
            (dec("0.2"), "0.2"),
            (dec("15.000"), "15"),
            (dec("0.000001"), "0.000001"),
            (dec("1500"), "1500"),
            (dec("-0.0"), "0"),
            (Decimal::from_scientific("1e-7").expect("valid"), "0.0000001"),
            (Decimal::from_scientific("1.5e10").expect("valid"), "15000000000"),
        ];
        for (value, text) in cases {
            assert_eq!(format_decimal(value), text);
        }
    }

    #[test]
    fn messages() {
        let cases = [
            (parse_date("2023-13-01"), "unrecognised date \"2023-13-01\"", "日期格式无法识别：“2023-13-01”"),
            (parse_date("2023-02-30"), "not a real date: 2023-02-30", "不是有效日期：2023-02-30"),
            (
                parse_date("1899-01-01"),
                "year 1899 is outside 1900–2100: 1899-01-01",
                "年份 1899 超出范围（1900–2100）：1899-01-01",
            ),
            (
                parse_date("60"),
                "excel serial 60 stands for 1900-02-29, which does not exist",
                "Excel 日期序号 60 对应不存在的 1900-02-29",
            ),
        ];
        for (result, en, zh) in cases {
            let error = result.expect_err("refused");
            assert_eq!(error.to_string(), en);
            assert_eq!(error.zh(), zh);
        }
        let amount = parse_amount("abc").expect_err("refused");
        assert_eq!(amount.to_string(), "unrecognised amount \"abc\"");
    }
}
