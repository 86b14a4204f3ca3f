//! Failed logins counted per user name and per client address, with a lock that doubles:
//! after `max_failures` failures within the window a key is locked for one window, and each
//! further failure once the lock has run out (before the key is forgotten) locks it for twice
//! as long as the last, up to a day. Kept in memory, per process, and read against the
//! daemon's [`Clock`](crate::clock::Clock) (the caller passes `now`), so tests move through it.
//!
//! Not `governor`: a rate limiter refills on its own clock and knows nothing of failures; what
//! is wanted here is "locked after N failures", on the gateway's clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

/// The longest lock, however many failures.
const MAX_LOCK: TimeDelta = TimeDelta::days(1);
/// Past this many keys, forgotten ones are swept out on the next failure.
const SWEEP_ABOVE: usize = 4096;

/// How many failed logins lock a key, and for how long (`[auth]` in `gateway.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures of one user name within the window before it is locked.
    pub max_failures_per_user: u32,
    /// Failures from one client address (any names) within the window before it is locked.
    pub max_failures_per_address: u32,
    /// How long failures are remembered, and the first lock.
    pub window: TimeDelta,
}

impl Default for LoginPolicy {
    fn default() -> LoginPolicy {
        LoginPolicy { max_failures_per_user: 5, max_failures_per_address: 20, window: TimeDelta::minutes(15) }
    }
}

/// One key's failures.
#[derive(Debug, Clone, Copy)]
struct Strikes {
    failures: u32,
    last_failure: DateTime<Utc>,
    /// Locked until then (in the past when not locked).
    locked_until: DateTime<Utc>,
    /// The length of the last lock, doubled by the next.
    last_lock: TimeDelta,
}

impl Strikes {
    /// Forgotten a window after the last failure and the end of the last lock.
    fn forgotten(&self, now: DateTime<Utc>, window: TimeDelta) -> bool {
        now >= self.last_failure.max(self.locked_until) + window
    }
}

/// The counts of every key of this process, and the password checks running now.
#[derive(Debug)]
pub struct LoginThrottle {
    keys: Mutex<HashMap<String, Strikes>>,
    /// Argon2 checks at once: half the cores, so a storm of logins from many addresses leaves
    /// the other half to the pages.
    checks: tokio::sync::Semaphore,
}

impl Default for LoginThrottle {
    fn default() -> LoginThrottle {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        LoginThrottle { keys: Mutex::default(), checks: tokio::sync::Semaphore::new((cores / 2).max(1)) }
    }
}

fn user_key(name: &str) -> String {
    format!("user:{name}")
}

fn address_key(address: IpAddr) -> String {
    format!("addr:{address}")
}

impl LoginThrottle {
    fn keys(&self) -> std::sync::MutexGuard<'_, HashMap<String, Strikes>> {
        self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long to wait before `name` may try again from `address`, or `None` when it may now.
    pub fn wait(&self, name: &str, address: Option<IpAddr>, now: DateTime<Utc>) -> Option<TimeDelta> {
        let keys = self.keys();
        let locked =
            |key: String| keys.get(&key).map(|s| s.locked_until - now).filter(|left| *left > TimeDelta::zero());
        let by_name = locked(user_key(name));
        let by_address = address.and_then(|a| locked(address_key(a)));
        by_name.max(by_address)
    }

    /// Counts a wrong password (or an unknown name) against both keys; true when this failure
    /// locked one of them.
    pub fn failed(&self, name: &str, address: Option<IpAddr>, now: DateTime<Utc>, policy: &LoginPolicy) -> bool {
        let mut keys = self.keys();
        if keys.len() > SWEEP_ABOVE {
            keys.retain(|_, s| !s.forgotten(now, policy.window));
        }
        let mut strike = |key: String, max: u32| {
            let fresh = Strikes { failures: 0, last_failure: now, locked_until: now, last_lock: TimeDelta::zero() };
            let s = keys.entry(key).or_insert(fresh);
            if s.forgotten(now, policy.window) {
                *s = fresh;
            }
            s.failures += 1;
            s.last_failure = now;
            // Failures in flight when the lock began do not lengthen it.
            if s.failures < max.max(1) || s.locked_until > now {
                return false;
            }
            let lock = if s.last_lock.is_zero() { policy.window } else { s.last_lock * 2 };
            s.last_lock = lock.min(MAX_LOCK);
            s.locked_until = now + s.last_lock;
            true
        };
        let by_name = strike(user_key(name), policy.max_failures_per_user);
        let by_address = address.is_some_and(|a| strike(address_key(a), policy.max_failures_per_address));
        by_name || by_address
    }

    /// Waits for a turn to check a password (the permit is held while argon2 runs).
    pub async fn check_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // `None` only if the semaphore were closed, which it never is.
        self.checks.acquire().await.ok()
    }

    /// A right password forgets the name's failures (not the address's: one good account must
    /// not clear the way for guessing at others).
    pub fn succeeded(&self, name: &str) {
        self.keys().remove(&user_key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn five_failures_lock_the_name_for_a_window_and_further_ones_double_it() {
        let policy = LoginPolicy::default();
        let throttle = LoginThrottle::default();
        let t0 = at("2026-03-02T08:00:00Z");
        for i in 0..4 {
            throttle.failed("ops", None, t0 + TimeDelta::seconds(i), &policy);
            assert_eq!(throttle.wait("ops", None, t0 + TimeDelta::seconds(i)), None, "failure {i}");
        }
        let t5 = t0 + TimeDelta::seconds(4);
        assert!(throttle.failed("ops", None, t5, &policy), "the fifth failure locks");
        assert!(!throttle.failed("ops", None, t5, &policy), "one in flight does not lengthen the lock");
        assert_eq!(throttle.wait("ops", None, t5), Some(TimeDelta::minutes(15)));
        assert_eq!(throttle.wait("clerk", None, t5), None, "another name is not locked");
        let after = t5 + TimeDelta::minutes(15);
        assert_eq!(throttle.wait("ops", None, after), None);
        // Another failure soon after the lock: twice as long.
        throttle.failed("ops", None, after, &policy);
        assert_eq!(throttle.wait("ops", None, after), Some(TimeDelta::minutes(30)));
        // A good login forgets the name.
        throttle.succeeded("ops");
        assert_eq!(throttle.wait("ops", None, after), None);
    }

    #[test]
    fn failures_a_window_apart_are_forgotten() {
        let policy = LoginPolicy::default();
        let throttle = LoginThrottle::default();
        let mut t = at("2026-03-02T08:00:00Z");
        for _ in 0..10 {
            throttle.failed("ops", None, t, &policy);
            assert_eq!(throttle.wait("ops", None, t), None);
            t += TimeDelta::minutes(16);
        }
    }

    #[test]
    fn one_address_guessing_many_names_is_locked_and_the_lock_is_capped() {
        let policy = LoginPolicy::default();
        let throttle = LoginThrottle::default();
        let address: IpAddr = "10.1.2.3".parse().unwrap();
        let mut t = at("2026-03-02T08:00:00Z");
        for i in 0..20 {
            assert_eq!(throttle.wait(&format!("n{i}"), Some(address), t), None);
            throttle.failed(&format!("n{i}"), Some(address), t, &policy);
        }
        assert_eq!(throttle.wait("someone", Some(address), t), Some(TimeDelta::minutes(15)));
        assert_eq!(throttle.wait("someone", Some("10.1.2.4".parse().unwrap()), t), None);
        // Each failure as the last lock runs out doubles the next, up to a day.
        for _ in 0..10 {
            t += throttle.wait("y", Some(address), t).unwrap();
            throttle.failed("y", Some(address), t, &policy);
        }
        assert_eq!(throttle.wait("y", Some(address), t), Some(MAX_LOCK));
    }
}
