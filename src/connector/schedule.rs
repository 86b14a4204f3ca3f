//! Cron schedules in Asia/Shanghai time (China keeps no daylight saving, so a fixed +08:00).

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};

/// A schedule mistake in a connector or feed file (reported as `file: schedule: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "invalid cron expression {text:?}: {reason} (expected sec min hour day month weekday, e.g. \"0 */10 * * * *\")"
    )]
    Invalid { text: String, reason: String },
    #[error("cron expression {0:?} never fires")]
    NeverFires(String),
}

/// A parsed cron expression and the text it came from.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: cron::Schedule,
}

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

impl Schedule {
    /// Seconds-first cron (`"*/30 * * * * *"`); a classic five-field expression
    /// (`"*/10 * * * *"`, minute first) is read as running at second 0.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let fields = text.split_whitespace().count();
        let full = if fields == 5 { format!("0 {text}") } else { text.to_string() };
        match cron::Schedule::from_str(&full) {
            Ok(cron) => {
                if cron.upcoming(shanghai()).next().is_none() {
                    return Err(ScheduleError::NeverFires(text.to_string()));
                }
                Ok(Schedule { text: text.to_string(), cron })
            }
            Err(e) => Err(ScheduleError::Invalid { text: text.to_string(), reason: e.to_string() }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.after(&t.with_timezone(&shanghai())).next().map(|n| n.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn seconds_first_and_five_field_forms() {
        let s = Schedule::parse("*/30 * * * * *").unwrap();
        assert_eq!(s.next_after(at("2026-11-23T10:00:10Z")), Some(at("2026-11-23T10:00:30Z")));
        let s = Schedule::parse("*/10 * * * *").unwrap();
        assert_eq!(s.next_after(at("2026-11-23T10:01:00Z")), Some(at("2026-11-23T10:10:00Z")));
    }

    #[test]
    fn hours_are_shanghai_hours() {
        // 02:00 in Shanghai is 18:00 UTC the day before.
        let s = Schedule::parse("0 0 2 * * *").unwrap();
        assert_eq!(s.next_after(at("2026-11-23T12:00:00Z")), Some(at("2026-11-23T18:00:00Z")));
    }

    #[test]
    fn mistakes_are_explained() {
        let e = Schedule::parse("every five minutes").unwrap_err().to_string();
        assert!(e.contains("invalid cron expression"), "{e}");
        assert!(matches!(Schedule::parse("0 0 0 30 2 * 2020"), Err(ScheduleError::NeverFires(_))));
    }
}
