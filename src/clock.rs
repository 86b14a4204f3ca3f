//! The one clock: every part of the gateway that asks the time asks a [`Clock`], and this is
//! the only module that reads the wall clock.
//!
//! A command's `--now T` becomes [`Clock::starting_at`]: the clock reads `T` when the command
//! starts and moves on with the time that passes, so a replayed day behaves like a real one
//! (stamps are ordered, schedules and leases run out). Tests that move through weeks use
//! [`Clock::fixed`], which stands still until they [`set`](Clock::set) or
//! [`advance`](Clock::advance) it. Elapsed time is measured with `tokio::time::Instant`, so
//! paused tokio time in a test moves a started clock too.

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use tokio::time::Instant;

/// What time it is, for the whole process. Cheap to clone: clones share one clock.
#[derive(Clone)]
pub struct Clock(Arc<Kind>);

enum Kind {
    Real,
    /// `start` at the instant `origin`, moving on with the time elapsed since.
    Starting {
        start: DateTime<Utc>,
        origin: Instant,
    },
    /// Stands still until set.
    Fixed(Mutex<DateTime<Utc>>),
}

impl Clock {
    /// The real wall clock.
    pub fn real() -> Clock {
        Clock(Arc::new(Kind::Real))
    }

    /// Reads `start` now and moves on with real (or tokio's paused) time: `--now`.
    pub fn starting_at(start: DateTime<Utc>) -> Clock {
        Clock(Arc::new(Kind::Starting { start, origin: Instant::now() }))
    }

    /// `start` given, else the real clock: what a command's `--now` asks for.
    pub fn from_flag(start: Option<DateTime<Utc>>) -> Clock {
        start.map_or_else(Clock::real, Clock::starting_at)
    }

    /// Reads `at` until set or advanced: for tests.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Arc::new(Kind::Fixed(Mutex::new(at))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &*self.0 {
            Kind::Real => Utc::now(),
            Kind::Starting { start, origin } => *start + TimeDelta::from_std(origin.elapsed()).unwrap_or_default(),
            Kind::Fixed(at) => *at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    /// Today in Asia/Shanghai, the day deadlines count in.
    pub fn today(&self) -> NaiveDate {
        crate::calendar::shanghai_date(self.now())
    }

    /// Moves a fixed clock to `at`.
    ///
    /// # Panics
    /// On a real or started clock: only a fixed clock is moved by hand.
    pub fn set(&self, at: DateTime<Utc>) {
        match &*self.0 {
            Kind::Fixed(now) => *now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = at,
            _ => panic!("only a fixed clock is set by hand"),
        }
    }

    /// Moves a fixed clock on by `by`.
    ///
    /// # Panics
    /// On a real or started clock.
    pub fn advance(&self, by: TimeDelta) {
        self.set(self.now() + by);
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::real()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Kind::Real => f.write_str("Clock::real"),
            Kind::Starting { start, .. } => write!(f, "Clock::starting_at({start})"),
            Kind::Fixed(_) => write!(f, "Clock::fixed({})", self.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_fixed_clock_moves_only_when_told_and_its_clones_follow() {
        let clock = Clock::fixed(at("2026-03-02T15:59:59Z"));
        let clone = clock.clone();
        assert_eq!(clock.now(), at("2026-03-02T15:59:59Z"));
        assert_eq!(clock.today().to_string(), "2026-03-02");
        clock.advance(TimeDelta::seconds(1));
        // 16:00 UTC is midnight in Shanghai.
        assert_eq!(clone.today().to_string(), "2026-03-03");
        clone.set(at("2026-01-01T00:00:00Z"));
        assert_eq!(clock.now(), at("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn a_started_clock_reads_its_start_and_moves_on() {
        let start = at("2026-03-02T08:00:00Z");
        let clock = Clock::starting_at(start);
        let (first, second) = (clock.now(), clock.now());
        assert!(start <= first && first <= second && second < start + TimeDelta::minutes(1), "{first} {second}");
        assert_eq!(clock.today().to_string(), "2026-03-02");
    }

    #[test]
    fn the_flag_picks_the_kind() {
        let real = Clock::from_flag(None);
        assert!((real.now() - Utc::now()).num_seconds().abs() < 5);
        let started = Clock::from_flag(Some(at("2020-01-01T00:00:00Z")));
        assert!(started.now() < at("2020-01-02T00:00:00Z"));
        assert_eq!(format!("{real:?}"), "Clock::real");
    }

    #[test]
    #[should_panic(expected = "only a fixed clock")]
    fn a_real_clock_is_not_set_by_hand() {
        Clock::real().set(at("2020-01-01T00:00:00Z"));
    }
}
