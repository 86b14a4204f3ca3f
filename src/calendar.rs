//! Working days: Monday–Friday, minus statutory holidays, plus the weekend days the State
//! Council declares working days (调休). One file per year under `config/calendar/`.
//!
//! A year without a file is *provisional*: only weekends are days off, and every answer that
//! looked at such a day says so, so a deadline can be recomputed when the year's file arrives.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use serde::Deserialize;

/// The serde shape of one year's file (`config/calendar/YYYY.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearSpec {
    version: u32,
    year: i32,
    notice: String,
    #[serde(default)]
    notice_url: String,
    #[serde(default)]
    holidays: Vec<HolidaySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidaySpec {
    name: String,
    from: NaiveDate,
    to: NaiveDate,
    /// Weekend days declared working days for this holiday (调休).
    #[serde(default)]
    workdays: Vec<NaiveDate>,
}

/// One year's State Council arrangement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarYear {
    pub year: i32,
    pub notice: String,
    pub notice_url: String,
    /// Days off that would otherwise be working days, and weekend days that are working days.
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

/// A day's kind in a year that has a file: a bitset per kind, indexed by day of the year.
#[derive(Debug, Clone)]
struct YearDays {
    off: [u64; 6],
    on: [u64; 6],
    info: CalendarYear,
}

fn bit(d: NaiveDate) -> (usize, u64) {
    let i = d.ordinal0() as usize;
    (i / 64, 1u64 << (i % 64))
}

/// Whether a date is a working day, and whether that answer is only provisional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workday {
    pub workday: bool,
    pub provisional: bool,
}

/// A deadline day, provisional when any day counted fell in a year without a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub date: NaiveDate,
    pub provisional: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, YearDays>,
}

/// Every mistake found in the calendar folder, as `file: key: message`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("calendar: {}", .0.join("; "))]
pub struct CalendarError(Vec<String>);

impl CalendarError {
    pub fn new(issues: Vec<String>) -> CalendarError {
        CalendarError(issues)
    }

    pub fn issues(&self) -> &[String] {
        &self.0
    }
}

impl Calendar {
    pub fn from_years(years: Vec<CalendarYear>) -> Calendar {
        let mut map = BTreeMap::new();
        for y in years {
            let mut days = YearDays { off: [0; 6], on: [0; 6], info: y };
            for d in &days.info.holidays {
                let (w, b) = bit(*d);
                days.off[w] |= b;
            }
            for d in &days.info.workdays {
                let (w, b) = bit(*d);
                days.on[w] |= b;
            }
            map.insert(days.info.year, days);
        }
        Calendar { years: map }
    }

    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    pub fn year(&self, year: i32) -> Option<&CalendarYear> {
        self.years.get(&year).map(|y| &y.info)
    }

    pub fn is_workday(&self, date: NaiveDate) -> Workday {
        let weekday = !matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        match self.years.get(&date.year()) {
            Some(y) => {
                let (w, b) = bit(date);
                let workday = if y.on[w] & b != 0 {
                    true
                } else if y.off[w] & b != 0 {
                    false
                } else {
                    weekday
                };
                Workday { workday, provisional: false }
            }
            None => Workday { workday: weekday, provisional: true },
        }
    }

    /// The `n`th working day after `start` (day 0 is `start`; counting starts the next day).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Deadline {
        let mut date = start;
        let mut left = n;
        let mut provisional = false;
        while left > 0 {
            let Some(next) = date.succ_opt() else { break };
            date = next;
            let w = self.is_workday(date);
            provisional |= w.provisional;
            if w.workday {
                left -= 1;
            }
        }
        Deadline { date, provisional }
    }

    /// Working days in (from, to]; 0 when `to` is not after `from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> (u32, bool) {
        let mut n = 0;
        let mut provisional = false;
        let mut d = from;
        while d < to {
            let Some(next) = d.succ_opt() else { break };
            d = next;
            let w = self.is_workday(d);
            provisional |= w.provisional;
            n += u32::from(w.workday);
        }
        (n, provisional)
    }

    /// Years in `[from, to]` without a file: the dashboard warns about them.
    pub fn missing_years(&self, from: i32, to: i32) -> Vec<i32> {
        (from..=to).filter(|y| !self.years.contains_key(y)).collect()
    }
}

impl CalendarYear {
    /// One year's arrangement from its file's spec; `file` (named `YYYY.toml`) labels every
    /// mistake as `file: key: message`.
    pub fn from_spec(file: &Path, spec: YearSpec) -> Result<CalendarYear, Vec<String>> {
        let name = file.display();
        let mut issues = Vec::new();
        if spec.version != 1 {
            issues.push(format!("{name}: version: expected 1, found {}", spec.version));
        }
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if stem != spec.year.to_string() {
            issues.push(format!("{name}: year: the file for {} must be named {}.toml", spec.year, spec.year));
        }
        if spec.notice.trim().is_empty() {
            issues.push(format!("{name}: notice: expected the State Council notice's title"));
        }
        let mut holidays = Vec::new();
        let mut workdays = Vec::new();
        for (i, h) in spec.holidays.iter().enumerate() {
            let at = |k: &str| format!("{name}: holidays[{i}].{k}");
            if h.from > h.to {
                issues.push(format!("{}: {} is after {}", at("from"), h.from, h.to));
            }
            for (k, d) in [("from", h.from), ("to", h.to)] {
                if d.year() != spec.year {
                    issues.push(format!("{}: {d} is not in {}", at(k), spec.year));
                }
            }
            let mut d = h.from;
            while d <= h.to && d.year() == spec.year {
                holidays.push(d);
                match d.succ_opt() {
                    Some(n) => d = n,
                    None => break,
                }
            }
            for w in &h.workdays {
                if w.year() != spec.year {
                    issues.push(format!("{}: {w} is not in {}", at("workdays"), spec.year));
                }
                if !matches!(w.weekday(), Weekday::Sat | Weekday::Sun) {
                    issues.push(format!(
                        "{}: {w} is a {:?}, but make-up working days are weekend days",
                        at("workdays"),
                        w.weekday()
                    ));
                }
                workdays.push(*w);
            }
            if h.name.trim().is_empty() {
                issues.push(format!("{}: expected the holiday's name", at("name")));
            }
        }
        for w in &workdays {
            if holidays.contains(w) {
                issues.push(format!("{name}: {w} is both a holiday and a working day"));
            }
        }
        if issues.is_empty() {
            Ok(CalendarYear { year: spec.year, notice: spec.notice, notice_url: spec.notice_url, holidays, workdays })
        } else {
            Err(issues)
        }
    }
}

const SHANGHAI: i32 = 8 * 3600;

/// The instant a deadline day ends: 24:00 Asia/Shanghai (UTC+8, no daylight saving), in UTC.
pub fn end_of_day_shanghai(date: NaiveDate) -> DateTime<Utc> {
    let offset = FixedOffset::east_opt(SHANGHAI).expect("+08:00 is a valid offset");
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists") + Duration::days(1);
    offset.from_local_datetime(&midnight).single().expect("a fixed offset has no gaps").with_timezone(&Utc)
}

/// The Asia/Shanghai calendar day of an instant.
pub fn shanghai_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::seconds(i64::from(SHANGHAI))).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// The shipped years, built from their files' text.
    fn shipped() -> Calendar {
        let years = [
            ("2023.toml", include_str!("../config/calendar/2023.toml")),
            ("2024.toml", include_str!("../config/calendar/2024.toml")),
            ("2025.toml", include_str!("../config/calendar/2025.toml")),
            ("2026.toml", include_str!("../config/calendar/2026.toml")),
        ]
        .map(|(name, text)| {
            let spec = toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            CalendarYear::from_spec(Path::new(name), spec).unwrap()
        });
        Calendar::from_years(years.into())
    }

    #[test]
    fn the_spec_deadline_examples() {
        let c = shipped();
        for (start, want) in [
            ("2023-01-19", "2023-02-02"),
            ("2023-09-27", "2023-10-12"),
            ("2024-09-27", "2024-10-12"),
            ("2025-09-26", "2025-10-13"),
            ("2025-12-31", "2026-01-12"),
            ("2026-02-12", "2026-02-28"),
        ] {
            assert_eq!(
                c.add_working_days(date(start), 7),
                Deadline { date: date(want), provisional: false },
                "{start}"
            );
        }
        assert_eq!(c.add_working_days(date("2026-02-12"), 0).date, date("2026-02-12"));
    }

    #[test]
    fn make_up_days_work_and_holidays_do_not() {
        let c = shipped();
        assert_eq!(c.is_workday(date("2026-02-28")), Workday { workday: true, provisional: false });
        assert_eq!(c.is_workday(date("2026-02-16")), Workday { workday: false, provisional: false });
        assert_eq!(c.is_workday(date("2026-03-07")), Workday { workday: false, provisional: false });
        assert_eq!(c.working_days_between(date("2026-02-12"), date("2026-02-28")), (7, false));
        assert_eq!(c.working_days_between(date("2026-02-28"), date("2026-02-12")), (0, false));
    }

    #[test]
    fn a_year_without_a_file_is_provisional_until_it_is_loaded() {
        let c = shipped();
        assert_eq!(c.missing_years(2026, 2027), vec![2027]);
        let d = c.add_working_days(date("2026-12-24"), 7);
        assert_eq!(d, Deadline { date: date("2027-01-04"), provisional: true });
        let mut years: Vec<CalendarYear> = c.years().iter().map(|y| c.year(*y).unwrap().clone()).collect();
        years.push(CalendarYear {
            year: 2027,
            notice: "test".into(),
            notice_url: String::new(),
            holidays: vec![date("2027-01-01")],
            workdays: vec![],
        });
        let c = Calendar::from_years(years);
        assert_eq!(
            c.add_working_days(date("2026-12-24"), 7),
            Deadline { date: date("2027-01-05"), provisional: false }
        );
    }

    #[test]
    fn every_mistake_in_a_year_is_reported() {
        let spec = toml::from_str(
            "version = 1\nyear = 2031\nnotice = \"x\"\n[[holidays]]\nname = \"元旦\"\nfrom = \"2031-01-02\"\nto = \"2030-12-31\"\nworkdays = [\"2031-01-07\"]\n",
        )
        .unwrap();
        let all = CalendarYear::from_spec(Path::new("2030.toml"), spec).unwrap_err().join("\n");
        for want in [
            "2030.toml: year: the file for 2031 must be named 2031.toml",
            "is after",
            "2030-12-31 is not in 2031",
            "Tue",
        ] {
            assert!(all.contains(want), "{want} in {all}");
        }
    }

    #[test]
    fn deadline_days_end_at_midnight_in_shanghai() {
        assert_eq!(end_of_day_shanghai(date("2026-02-28")).to_rfc3339(), "2026-02-28T16:00:00+00:00");
        let just_before = end_of_day_shanghai(date("2026-02-28")) - Duration::seconds(1);
        assert_eq!(shanghai_date(just_before), date("2026-02-28"));
        assert_eq!(shanghai_date(end_of_day_shanghai(date("2026-02-28"))), date("2026-03-01"));
    }
}
