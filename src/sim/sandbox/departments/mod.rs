//! Sandbox department sources: what the shipped connectors (`connectors/tax-arrears.toml`,
//! `tax-a-grade.toml`, `court-dishonest.toml`, `utility-arrears.toml`) pull from when there is
//! no real department. One module per department kind:
//!
//! - `tax`: 税务 欠税信息, and `tax_a_grade` its A级纳税人名单: an HTTP JSON API,
//!   page-numbered, bearer token ([`router`]); the A-grade list takes one slot in five of the
//!   timeline below.
//! - `court`: 法院 失信被执行人: an HTTP XML API, cursor-paged, `X-Api-Key` header ([`router`]).
//! - `utilities`: 水电气 欠费信息: a database table `utility_arrears` ([`write_utility_db`]) on
//!   SQLite, MySQL/MariaDB or PostgreSQL.
//!
//! and `city`, the counties, authorities, firms and people they all record. This module
//! holds what the three share: the sources' seed and clock ([`DepartmentSources`]), the bad
//! share ([`BadKind`]) and the HTTP server.
//!
//! Each system speaks its own field names (pinyin abbreviations such as `nsrmc`, `bzxrmc`,
//! `qfje`), amounts and dates as such systems write them (`12,345.60`, `2024/3/1`), so the
//! mappings in `mappings/` do real work. Records are generated, never stored: record `i` of a
//! source depends only on the seed and `i` ([`fake::Rng`](crate::sim::fake::Rng) streams, as
//! in [`crate::sim::sample`]), so any page can be answered at once and the same seed always
//! gives the same data. Good records carry valid 统一社会信用代码 and 身份证号 check
//! characters (SPEC §3); a configurable share of records break exactly one rule ([`BadKind`])
//! so that a demo shows errors.
//!
//! **Time.** Record `i` has `updated_at = start + i × interval` (Asia/Shanghai wall time,
//! whole seconds, strictly increasing with `i`) and is visible once that moment has come, or
//! at once when `i < initial_rows`. The visible records are therefore always the prefix
//! `0..n` and a record that appears later has a larger `updated_at` than every earlier one:
//! a client that pages with a fixed `since` neither skips nor repeats a record, and the next
//! sweep's `since` (the largest `updated_at` seen) misses nothing. The clock is a function
//! ([`DepartmentSources::with_clock`]), so tests move time as they like.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::sim::fake::Rng;

mod city;
mod court;
mod tax;
mod tax_a_grade;
mod utilities;

pub use court::{COURT_MAX_LIMIT, CourtDishonest, DEFAULT_COURT_KEY};
pub use tax::{DEFAULT_TAX_TOKEN, TAX_MAX_PAGE_SIZE, TaxArrear};
pub use tax_a_grade::TaxAGrade;
pub use utilities::{SandboxError, UTILITY_TABLE, UtilityArrear, write_utility_db, write_utility_table};

/// Share of records that break one rule, unless [`DepartmentSources::with_bad_share`] says otherwise.
pub const DEFAULT_BAD_SHARE: f64 = 0.05;
/// Records per page when a request does not say.
const DEFAULT_PAGE_SIZE: u64 = 100;

/// `updated_at` as the HTTP APIs write it.
const API_TIMESTAMP: &str = "%Y-%m-%dT%H:%M:%S";
/// `updated_at` as the SQLite table stores it (text that sorts as time).
const DB_TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S";

/// Independent record streams of one seed.
const TAX: u64 = 1;
const COURT: u64 = 2;
const UTILITY: u64 = 3;
const TAX_A: u64 = 4;

/// The sandbox clock: Asia/Shanghai wall time.
pub type Clock = Arc<dyn Fn() -> NaiveDateTime + Send + Sync>;

/// Asia/Shanghai wall time (UTC+8, no daylight saving) by the gateway's clock, to the second.
pub fn shanghai_wall_time(clock: &crate::clock::Clock) -> NaiveDateTime {
    let now = clock.now().naive_utc() + TimeDelta::hours(8);
    now.with_nanosecond(0).unwrap_or(now)
}

/// The one rule a bad record breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadKind {
    /// The subject's 统一社会信用代码 or 身份证号 has a wrong check character.
    WrongCheckChar,
    /// A required value is empty (tax: `nsrmc`; court: `ah`; utilities: `yhmc` is NULL).
    MissingRequired,
    /// A date that does not exist (tax: `rdrq`; court: `larq`), e.g. `2024-02-30`.
    BadDate,
    /// Utilities: 欠费起始日期 `qfqsrq` after 统计日期 `tjrq`.
    DateOrder,
}

impl BadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BadKind::WrongCheckChar => "wrong_check_char",
            BadKind::MissingRequired => "missing_required",
            BadKind::BadDate => "bad_date",
            BadKind::DateOrder => "date_order",
        }
    }
}

impl fmt::Display for BadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three sandbox sources: record generators, their clock, and the API credentials.
#[derive(Clone)]
pub struct DepartmentSources {
    seed: u64,
    start: NaiveDateTime,
    interval_secs: i64,
    initial_rows: u64,
    grows: bool,
    bad_share: f64,
    tax_token: String,
    court_key: String,
    clock: Clock,
}

impl fmt::Debug for DepartmentSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DepartmentSources")
            .field("seed", &self.seed)
            .field("start", &self.start)
            .field("interval_secs", &self.interval_secs)
            .field("initial_rows", &self.initial_rows)
            .field("grows", &self.grows)
            .field("bad_share", &self.bad_share)
            .finish_non_exhaustive()
    }
}

impl DepartmentSources {
    /// Sources that grow with time: record `i` is visible once `start + i × interval <= now`,
    /// or at once when `i < initial_rows`. `interval` is rounded down to whole seconds, at
    /// least one (timestamps have whole seconds and must strictly increase). For a backlog
    /// dated in the past, see [`DepartmentSources::with_backlog`]. The clock is the real one
    /// until [`DepartmentSources::with_clock`].
    pub fn new(seed: u64, start: NaiveDateTime, interval: Duration, initial_rows: u64) -> Self {
        let interval_secs = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX).max(1);
        DepartmentSources {
            seed,
            start: start.with_nanosecond(0).unwrap_or(start),
            interval_secs,
            initial_rows,
            grows: true,
            bad_share: DEFAULT_BAD_SHARE,
            tax_token: DEFAULT_TAX_TOKEN.to_string(),
            court_key: DEFAULT_COURT_KEY.to_string(),
            clock: {
                let real = crate::clock::Clock::real();
                Arc::new(move || shanghai_wall_time(&real))
            },
        }
    }

    /// Growing sources whose `backlog` first records are dated up to `now` (one every
    /// `interval` before it) and whose next records arrive one every `interval` after it.
    pub fn with_backlog(seed: u64, now: NaiveDateTime, interval: Duration, backlog: u64) -> Self {
        let secs = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX).max(1);
        let back = i64::try_from(backlog.saturating_sub(1)).unwrap_or(i64::MAX).saturating_mul(secs);
        let start = now.checked_sub_signed(TimeDelta::seconds(back)).unwrap_or(now);
        DepartmentSources::new(seed, start, interval, backlog)
    }

    /// A fixed set of `rows` records per source that never grows, dated one every 30 minutes
    /// from 2024-01-02 08:30:00: for tests.
    pub fn fixed(seed: u64, rows: u64) -> Self {
        let start = NaiveDate::from_ymd_opt(2024, 1, 2).and_then(|d| d.and_hms_opt(8, 30, 0)).expect("a real time");
        DepartmentSources { grows: false, ..DepartmentSources::new(seed, start, Duration::from_secs(1_800), rows) }
    }

    /// Runs on the gateway's clock (`--now`), read as Asia/Shanghai wall time.
    pub fn with_gateway_clock(self, clock: crate::clock::Clock) -> Self {
        self.with_clock(move || shanghai_wall_time(&clock))
    }

    /// Replaces the clock (Asia/Shanghai wall time).
    pub fn with_clock(mut self, clock: impl Fn() -> NaiveDateTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Share of records (0–1) that break one rule; spread evenly, the same records for every
    /// source.
    pub fn with_bad_share(mut self, share: f64) -> Self {
        self.bad_share = if share.is_finite() { share.clamp(0.0, 1.0) } else { 0.0 };
        self
    }

    pub fn with_tax_token(mut self, token: impl Into<String>) -> Self {
        self.tax_token = token.into();
        self
    }

    pub fn with_court_key(mut self, key: impl Into<String>) -> Self {
        self.court_key = key.into();
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn tax_token(&self) -> &str {
        &self.tax_token
    }

    pub fn court_key(&self) -> &str {
        &self.court_key
    }

    /// The sandbox clock now.
    pub fn now(&self) -> NaiveDateTime {
        (self.clock)()
    }

    /// How many records (per source) are visible at `now`: records `0..n`.
    pub fn visible_at(&self, now: NaiveDateTime) -> u64 {
        if !self.grows {
            return self.initial_rows;
        }
        let grown = if now < self.start {
            0
        } else {
            let elapsed = (now - self.start).num_seconds();
            u64::try_from(elapsed / self.interval_secs).map_or(u64::MAX, |n| n.saturating_add(1))
        };
        grown.max(self.initial_rows)
    }

    /// `updated_at` of record `i`.
    pub fn updated_at(&self, i: u64) -> NaiveDateTime {
        let secs = i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(self.interval_secs);
        self.start.checked_add_signed(TimeDelta::seconds(secs)).unwrap_or(NaiveDateTime::MAX)
    }

    /// The first record whose `updated_at` is strictly after `since`.
    pub fn first_after(&self, since: NaiveDateTime) -> u64 {
        if since < self.start {
            return 0;
        }
        // updated_at(i) > since ⟺ i × interval > ⌊since − start⌋ (whole seconds).
        let elapsed = (since - self.start).num_seconds();
        u64::try_from(elapsed / self.interval_secs).map_or(u64::MAX, |n| n.saturating_add(1))
    }

    /// Whether record `i` is one of the bad share.
    pub fn is_bad(&self, i: u64) -> bool {
        self.bad_before(i + 1) > self.bad_before(i)
    }

    /// How many of records `0..n` are bad: `round(n × share)`.
    pub fn bad_before(&self, n: u64) -> u64 {
        (n as f64 * self.bad_share).round() as u64
    }

    fn bad_kind(&self, i: u64, rng: &mut Rng, kinds: &[BadKind]) -> Option<BadKind> {
        self.is_bad(i).then(|| rng.pick(kinds))
    }

    /// What `/sandbox/departments/stats` answers.
    pub fn stats(&self, now: NaiveDateTime) -> serde_json::Value {
        let n = self.visible_at(now);
        let latest = n.checked_sub(1).map(|i| self.updated_at(i).format(API_TIMESTAMP).to_string());
        let one = json!({ "visible": n, "bad": self.bad_before(n), "latest_updated_at": latest });
        let a = self.a_grade_visible_at(now);
        let latest_a = a.checked_sub(1).map(|j| self.a_grade_updated_at(j).format(API_TIMESTAMP).to_string());
        json!({
            "now": now.format(API_TIMESTAMP).to_string(),
            "tax": one,
            "tax_a_grade": { "visible": a, "bad": self.bad_before(a), "latest_updated_at": latest_a },
            "court": one,
            "utilities": one,
        })
    }
}

// ---------------------------------------------------------------------------------------
// HTTP APIs

/// The tax and court APIs and the stats page, over `sources`.
pub fn router(sources: Arc<DepartmentSources>) -> Router {
    Router::new()
        .route("/tax/api/arrears", get(tax::tax_arrears))
        .route("/tax/api/a-grade", get(tax_a_grade::a_grade))
        .route("/court/api/dishonest", get(court::court_dishonest))
        .route("/sandbox/departments/stats", get(stats))
        .with_state(sources)
}

/// Query parameters of both APIs, read as text so that mistakes get a proper answer.
#[derive(Debug, Default, Deserialize)]
struct ApiQuery {
    page: Option<String>,
    size: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
    since: Option<String>,
}

async fn stats(State(sources): State<Arc<DepartmentSources>>) -> Response {
    axum::Json(sources.stats(sources.now())).into_response()
}

/// A query number, or `default` when absent; `None` when malformed.
fn number(value: Option<&str>, default: u64) -> Option<u64> {
    match value.map(str::trim) {
        None | Some("") => Some(default),
        Some(v) => v.parse().ok(),
    }
}

/// `2024-03-01T10:00:00`, `2024-03-01 10:00:00` (fractions allowed) or `2024-03-01`.
fn parse_since(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

/// A running sandbox HTTP server.
#[derive(Debug)]
pub struct SandboxServer {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl SandboxServer {
    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open requests finish, and waits for the server to end.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.map_err(io::Error::other)?
    }
}

/// Serves [`router`] on `listen` (use a loopback address such as `127.0.0.1:8091`; port 0
/// picks a free one). The server runs until [`SandboxServer::shutdown`]; dropping the handle
/// leaves it running.
pub async fn serve(listen: SocketAddr, sources: Arc<DepartmentSources>) -> io::Result<SandboxServer> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(sources);
    let task = crate::supervisor::spawn_owned(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                if rx.await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
            .await
    });
    Ok(SandboxServer { addr, shutdown: tx, task })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;
    use crate::ids::{CreditCode, IdNumber};

    pub(super) fn at(s: &str) -> NaiveDateTime {
        parse_since(s).expect("a test time")
    }

    #[test]
    fn same_seed_same_records_and_timestamps_increase() {
        let a = DepartmentSources::fixed(7, 50);
        let b = DepartmentSources::fixed(7, 50);
        let c = DepartmentSources::fixed(8, 50);
        for i in 0..50 {
            assert_eq!(a.tax(i), b.tax(i));
            assert_eq!(a.court(i), b.court(i));
            assert_eq!(a.utility(i), b.utility(i));
            assert_eq!(a.tax(i).id, i + 1);
        }
        assert_ne!(a.tax(3), c.tax(3));
        let stamps: Vec<String> = (0..50).map(|i| a.tax(i).updated_at).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
        assert_eq!(a.court(9).updated_at, a.tax(9).updated_at);
        assert_eq!(a.utility(9).updated_at.format(API_TIMESTAMP).to_string(), a.tax(9).updated_at);
    }

    #[test]
    fn good_records_carry_valid_identifiers_and_bad_ones_break_one_rule() {
        let s = DepartmentSources::fixed(42, 2_000).with_bad_share(0.1);
        let mut kinds: BTreeMap<(&str, BadKind), u64> = BTreeMap::new();
        for i in 0..2_000 {
            let t = s.tax(i);
            assert_eq!(t.bad.is_some(), s.is_bad(i));
            assert!(CreditCode::parse(&t.zgswjgdm).is_ok(), "{}", t.zgswjgdm);
            assert_eq!(CreditCode::parse(&t.nsrsbh).is_ok(), t.bad != Some(BadKind::WrongCheckChar), "{t:?}");
            assert_eq!(t.nsrmc.is_empty(), t.bad == Some(BadKind::MissingRequired));
            assert_eq!(crate::transform::parse_date(&t.rdrq).is_ok(), t.bad != Some(BadKind::BadDate), "{}", t.rdrq);
            assert!(crate::transform::parse_amount(&t.qsje).is_ok(), "{}", t.qsje);
            if let Some(k) = t.bad {
                *kinds.entry(("tax", k)).or_default() += 1;
            }

            let c = s.court(i);
            assert!(CreditCode::parse(&c.zxfydm).is_ok());
            assert!(c.zjhm.is_empty() != c.shxydm.is_empty());
            let id_ok =
                if c.zjhm.is_empty() { CreditCode::parse(&c.shxydm).is_ok() } else { IdNumber::parse(&c.zjhm).is_ok() };
            assert_eq!(id_ok, c.bad != Some(BadKind::WrongCheckChar), "{c:?}");
            assert_eq!(c.ah.is_empty(), c.bad == Some(BadKind::MissingRequired));
            assert_eq!(crate::transform::parse_date(&c.larq).is_ok(), c.bad != Some(BadKind::BadDate), "{}", c.larq);
            let fbrq = crate::transform::parse_date(&c.fbrq).expect("fbrq is always a date");
            if let Ok(larq) = crate::transform::parse_date(&c.larq) {
                assert!(larq < fbrq);
            }
            if let Some(k) = c.bad {
                *kinds.entry(("court", k)).or_default() += 1;
            }

            let u = s.utility(i);
            let id_ok = match (&u.shxydm, &u.sfzhm) {
                (Some(code), None) => CreditCode::parse(code).is_ok(),
                (None, Some(id)) => IdNumber::parse(id).is_ok(),
                other => panic!("one identifier expected: {other:?}"),
            };
            assert_eq!(id_ok, u.bad != Some(BadKind::WrongCheckChar), "{u:?}");
            assert_eq!(u.yhmc.is_none(), u.bad == Some(BadKind::MissingRequired));
            assert_eq!(u.qfqsrq > u.tjrq, u.bad == Some(BadKind::DateOrder));
            assert_eq!(u.qfje.scale(), 2);
            if let Some(k) = u.bad {
                *kinds.entry(("utilities", k)).or_default() += 1;
            }
        }
        let bad: u64 = kinds.iter().filter(|((src, _), _)| *src == "tax").map(|(_, n)| n).sum();
        assert_eq!(bad, 200);
        assert_eq!(s.bad_before(2_000), 200);
        assert_eq!(kinds.len(), 9, "every kind occurs for every source: {kinds:?}");
        let none = DepartmentSources::fixed(42, 100).with_bad_share(0.0);
        assert!((0..100).all(|i| none.tax(i).bad.is_none()));
    }

    #[test]
    fn visibility_grows_with_the_clock() {
        let start = at("2024-05-01T08:00:00");
        let s = DepartmentSources::new(1, start, Duration::from_secs(60), 10);
        assert_eq!(s.visible_at(at("2024-04-01T00:00:00")), 10);
        assert_eq!(s.visible_at(at("2024-05-01T08:09:00")), 10);
        assert_eq!(s.visible_at(at("2024-05-01T08:10:00")), 11);
        assert_eq!(s.visible_at(at("2024-05-01T08:10:59")), 11);
        assert_eq!(s.visible_at(at("2024-05-01T09:00:00")), 61);
        assert_eq!(s.updated_at(60), at("2024-05-01T09:00:00"));
        assert_eq!(s.first_after(at("2024-04-30T00:00:00")), 0);
        assert_eq!(s.first_after(at("2024-05-01T08:00:00")), 1);
        assert_eq!(s.first_after(at("2024-05-01T08:00:59")), 1);
        assert_eq!(s.first_after(at("2024-05-01T08:01:00")), 2);
        for i in 0..100 {
            let t = s.updated_at(i);
            assert_eq!(s.first_after(t), i + 1);
            assert_eq!(s.first_after(t - TimeDelta::seconds(1)), i);
        }
        let now = at("2024-06-01T12:00:00");
        let b = DepartmentSources::with_backlog(1, now, Duration::from_secs(30), 500);
        assert_eq!(b.visible_at(now), 500);
        assert_eq!(b.updated_at(499), now);
        assert_eq!(b.visible_at(now + TimeDelta::seconds(30)), 501);
        let fixed = DepartmentSources::fixed(1, 5);
        assert_eq!(fixed.visible_at(at("2100-01-01T00:00:00")), 5);
    }

    // --- HTTP -----------------------------------------------------------------------------

    pub(super) fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    /// A growing source whose clock the test moves: `now` is seconds after `start`.
    pub(super) fn moving(initial: u64) -> (Arc<DepartmentSources>, Arc<AtomicI64>) {
        let start = at("2024-05-01T08:00:00");
        // The clock starts where the backlog ends: every step adds records.
        let offset = Arc::new(AtomicI64::new(backlog_end(initial)));
        let o = offset.clone();
        let s = DepartmentSources::new(11, start, Duration::from_secs(10), initial)
            .with_bad_share(0.2)
            .with_clock(move || start + TimeDelta::seconds(o.load(Ordering::SeqCst)));
        (Arc::new(s), offset)
    }

    pub(super) fn backlog_end(initial: u64) -> i64 {
        (initial as i64 - 1) * 10
    }

    #[tokio::test]
    async fn apis_refuse_without_credentials_and_reject_bad_parameters() {
        let sources = Arc::new(DepartmentSources::fixed(1, 10).with_tax_token("t0k").with_court_key("k3y"));
        let server = serve("127.0.0.1:0".parse().unwrap(), sources).await.unwrap();
        let base = server.base_url();
        let c = client();
        let tax = format!("{base}/tax/api/arrears");
        let r = c.get(&tax).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], 401);
        assert_eq!(c.get(&tax).bearer_auth("wrong").send().await.unwrap().status(), 401);
        assert_eq!(c.get(&tax).bearer_auth("t0k").send().await.unwrap().status(), 200);
        for bad in ["page=0", "size=5000", "size=x", "since=yesterday"] {
            let r = c.get(format!("{tax}?{bad}")).bearer_auth("t0k").send().await.unwrap();
            assert_eq!(r.status(), 400, "{bad}");
        }
        let court = format!("{base}/court/api/dishonest");
        let r = c.get(&court).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.text().await.unwrap().contains("<code>401</code>"));
        assert_eq!(c.get(&court).header("X-Api-Key", DEFAULT_COURT_KEY).send().await.unwrap().status(), 401);
        let r = c.get(&court).header("X-Api-Key", "k3y").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/xml; charset=utf-8");
        let r = c.get(format!("{court}?cursor=zzz")).header("X-Api-Key", "k3y").send().await.unwrap();
        assert_eq!(r.status(), 400);
        let stats: serde_json::Value =
            c.get(format!("{base}/sandbox/departments/stats")).send().await.unwrap().json().await.unwrap();
        assert_eq!(stats["tax"]["visible"], 10);
        assert_eq!(stats["utilities"]["visible"], 10);
        server.shutdown().await.unwrap();
    }
}
