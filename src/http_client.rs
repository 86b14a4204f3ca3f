//! The one outbound HTTP client: how connectors, feeds and delivery workers build their
//! `reqwest` client (rustls with `ring`, timeouts, `credit-gateway/<version>`), and the one
//! retry policy (exponential backoff with jitter, `Retry-After` as seconds or as an HTTP date).

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Sent with every request, so a platform's operator can tell who is calling.
pub const USER_AGENT: &str = concat!("credit-gateway/", env!("CARGO_PKG_VERSION"));

/// Connecting never waits longer than this, whatever the request timeout.
const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(10);

/// rustls with `ring` (no C toolchain beyond what the other crates need); installed once per
/// process, before any client is built.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with the crypto provider installed, the request `timeout`, a connect
/// timeout of at most 10 s and the user agent; callers add what is theirs (pool size) and build.
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder().timeout(timeout).connect_timeout(timeout.min(CONNECT_TIMEOUT_MAX)).user_agent(USER_AGENT)
}

/// When to try again, and when to stop: the numbers come from the connector, feed or
/// destination file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles with each further one.
    pub backoff_initial: Duration,
    /// The longest computed wait.
    pub backoff_max: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The longest `Retry-After` obeyed: a server's word is not a reason to stop for a day.
    pub retry_after_max: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (counted from 1): `backoff_initial · 2^(attempt−1)`,
    /// capped at `backoff_max`, times a jitter in [50 %, 100 %] so that many callers do not
    /// retry in step.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.backoff_with_jitter(attempt, fastrand::f64())
    }

    /// `unit` in [0, 1) picks the point in the jitter range.
    fn backoff_with_jitter(&self, attempt: u32, unit: f64) -> Duration {
        let exp = self.backoff_initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        exp.min(self.backoff_max).mul_f64(0.5 + unit / 2.0)
    }

    /// The wait after failed attempt `attempt`: the server's `Retry-After` (already capped by
    /// [`RetryPolicy::retry_after`]) when it gave one, else the backoff.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| self.backoff(attempt))
    }

    /// `attempts` made so far use up the policy: no further attempt.
    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }

    /// The answer's `Retry-After`, held to `retry_after_max`; `now` reads the date form.
    pub fn retry_after(&self, headers: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
        let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after(value, now).map(|wait| wait.min(self.retry_after_max))
    }
}

/// A `Retry-After` value (RFC 7231 §7.1.3): delta-seconds (`120`), or an HTTP date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`, or the obsolete RFC 850 and asctime forms) read against
/// `now`; a date already past means no wait. `None` for anything else.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a very long time": the caller's cap applies.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(value)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// An HTTP date in any of its three forms (always GMT).
fn http_date(value: &str) -> Option<DateTime<Utc>> {
    const FORMATS: [&str; 3] = [
        "%a, %d %b %Y %H:%M:%S GMT", // IMF-fixdate, the one servers must send
        "%A, %d-%b-%y %H:%M:%S GMT", // RFC 850
        "%a %b %e %H:%M:%S %Y",      // asctime
    ];
    FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(value, f).ok()).map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_attempts: 5,
            retry_after_max: Duration::from_secs(600),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("99999999999999999999999", now()), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(parse_retry_after("-5", now()), None);
        assert_eq!(parse_retry_after("1.5", now()), None);
        assert_eq!(parse_retry_after("", now()), None);
        assert_eq!(parse_retry_after("soon", now()), None);
    }

    #[test]
    fn retry_after_as_an_http_date() {
        let in_90s = Some(Duration::from_secs(90));
        assert_eq!(parse_retry_after("Mon, 23 Nov 2026 08:01:30 GMT", now()), in_90s);
        assert_eq!(parse_retry_after("Monday, 23-Nov-26 08:01:30 GMT", now()), in_90s);
        assert_eq!(parse_retry_after("Mon Nov 23 08:01:30 2026", now()), in_90s);
        assert_eq!(parse_retry_after("Sun, 22 Nov 2026 08:00:00 GMT", now()), Some(Duration::ZERO), "past");
        assert_eq!(parse_retry_after("Mon, 23 Nov 2026 08:01:30 +0800", now()), None, "HTTP dates are GMT");
    }

    #[test]
    fn retry_after_header_is_capped() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(policy().retry_after(&headers, now()), None);
        headers.insert(reqwest::header::RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(policy().retry_after(&headers, now()), Some(Duration::from_secs(600)));
        headers.insert(reqwest::header::RETRY_AFTER, "Mon, 23 Nov 2026 08:00:07 GMT".parse().unwrap());
        assert_eq!(policy().retry_after(&headers, now()), Some(Duration::from_secs(7)));
        assert_eq!(policy().wait(3, Some(Duration::from_secs(7))), Duration::from_secs(7));
    }

    #[test]
    fn backoff_doubles_within_the_jitter_range_and_stops_at_the_max() {
        let p = policy();
        for (attempt, full_ms) in [(0, 500), (1, 500), (2, 1_000), (3, 2_000), (6, 16_000), (7, 30_000), (40, 30_000)] {
            let full = Duration::from_millis(full_ms);
            assert_eq!(p.backoff_with_jitter(attempt, 0.0), full / 2, "attempt {attempt}");
            assert!(p.backoff_with_jitter(attempt, 0.999_999) <= full, "attempt {attempt}");
            let drawn = p.backoff(attempt);
            assert!(drawn >= full / 2 && drawn <= full, "attempt {attempt}: {drawn:?}");
        }
        assert!(!p.exhausted(4));
        assert!(p.exhausted(5));
    }
}
