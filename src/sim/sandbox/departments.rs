//! Sandbox department sources: what the shipped connectors (`connectors/tax-arrears.toml`,
//! `court-dishonest.toml`, `utility-arrears.toml`) pull from when there is no real department.
//!
//! - 税务 欠税信息: an HTTP JSON API, page-numbered, bearer token ([`router`]).
//! - 法院 失信被执行人: an HTTP XML API, cursor-paged, `X-Api-Key` header ([`router`]).
//! - 水电气 欠费信息: a database table `utility_arrears` ([`write_utility_db`]) on SQLite,
//!   MySQL/MariaDB or PostgreSQL.
//!
//! Each system speaks its own field names (pinyin abbreviations such as `nsrmc`, `bzxrmc`,
//! `qfje`), amounts and dates as such systems write them (`12,345.60`, `2024/3/1`), so the
//! mappings in `mappings/` do real work. Records are generated, never stored: record `i` of a
//! source depends only on the seed and `i` ([`fake::Rng`] streams, as in [`crate::sim::sample`]), so
//! any page can be answered at once and the same seed always gives the same data. Good
//! records carry valid 统一社会信用代码 and 身份证号 check characters (SPEC §3); a configurable
//! share of records break exactly one rule ([`BadKind`]) so that a demo shows errors.
//!
//! **Time.** Record `i` has `updated_at = start + i × interval` (Asia/Shanghai wall time,
//! whole seconds, strictly increasing with `i`) and is visible once that moment has come, or
//! at once when `i < initial_rows`. The visible records are therefore always the prefix
//! `0..n` and a record that appears later has a larger `updated_at` than every earlier one:
//! a client that pages with a fixed `since` neither skips nor repeats a record, and the next
//! sweep's `since` (the largest `updated_at` seen) misses nothing. The clock is a function
//! ([`DepartmentSources::with_clock`]), so tests move time as they like.

use std::fmt::{self, Write as _};
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, Timelike};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{ConnectOptions, Connection, QueryBuilder};

use crate::ids::{CREDIT_ALPHABET, ID_CHECK_SYMBOLS, credit_code_check_char, org_code_check_char};
use crate::sim::fake::{self, Rng, SHOPS, SYLLABLES, push_check, push_id_number, push_person_name};

/// The tax API's bearer token unless [`DepartmentSources::with_tax_token`] says otherwise.
pub const DEFAULT_TAX_TOKEN: &str = "sandbox-tax-token";
/// The court API's `X-Api-Key` unless [`DepartmentSources::with_court_key`] says otherwise.
pub const DEFAULT_COURT_KEY: &str = "sandbox-court-key";
/// The table [`write_utility_db`] fills.
pub const UTILITY_TABLE: &str = "utility_arrears";
/// Share of records that break one rule, unless [`DepartmentSources::with_bad_share`] says otherwise.
pub const DEFAULT_BAD_SHARE: f64 = 0.05;

/// The tax API refuses larger pages (400), as real ones do: silently shorter pages would end
/// a page-numbered sweep early.
pub const TAX_MAX_PAGE_SIZE: u64 = 1_000;
/// The court API serves at most this many records per page; the cursor carries on.
pub const COURT_MAX_LIMIT: u64 = 500;
const DEFAULT_PAGE_SIZE: u64 = 100;

/// `updated_at` as the HTTP APIs write it.
const API_TIMESTAMP: &str = "%Y-%m-%dT%H:%M:%S";
/// `updated_at` as the SQLite table stores it (text that sorts as time).
const DB_TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S";

/// Independent record streams of one seed.
const TAX: u64 = 1;
const COURT: u64 = 2;
const UTILITY: u64 = 3;

/// Rows per INSERT and per transaction when writing the utilities table.
const STATEMENT_ROWS: u64 = 200;
const COMMIT_ROWS: u64 = 5_000;

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

/// 欠税信息 as the tax system's API sends it (one `data.items` element).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxArrear {
    /// Stable record id: `i + 1`.
    pub id: u64,
    /// 纳税人名称.
    pub nsrmc: String,
    /// 纳税人识别号 (the 统一社会信用代码).
    pub nsrsbh: String,
    /// 税种: 增值税, 企业所得税, …
    pub sz: String,
    /// 欠税金额 (元), as the system prints it: `12,345.60`, `12345.60`, `12345.60元`.
    pub qsje: String,
    /// 税款所属期起 (`YYYY-MM-DD`).
    pub skssqq: String,
    /// 税款所属期止 (`YYYY-MM-DD`).
    pub skssqz: String,
    /// 认定日期, in mixed forms: `2024-03-01`, `2024/3/1`, `20240301`, `2024年3月1日`.
    pub rdrq: String,
    /// 主管税务机关.
    pub zgswjg: String,
    /// 主管税务机关统一社会信用代码.
    pub zgswjgdm: String,
    /// `YYYY-MM-DDTHH:MM:SS`, Asia/Shanghai.
    pub updated_at: String,
    /// The rule this record breaks, if any (not sent).
    #[serde(skip)]
    pub bad: Option<BadKind>,
}

/// 失信被执行人 as the court system's API sends it (one `<record>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CourtDishonest {
    pub id: u64,
    /// 被执行人姓名/名称.
    pub bzxrmc: String,
    /// 证件号码 (身份证号) of a person; empty for an organisation.
    pub zjhm: String,
    /// 统一社会信用代码 of an organisation; empty for a person.
    pub shxydm: String,
    /// 执行法院.
    pub zxfy: String,
    /// 执行法院统一社会信用代码.
    pub zxfydm: String,
    /// 案号: `（2024）皖0603执1234号`.
    pub ah: String,
    /// 执行依据文号.
    pub zxyjwh: String,
    /// 立案日期: `2024-03-01` or `2024年3月1日`.
    pub larq: String,
    /// 发布日期: `2024-03-15 09:30:00`.
    pub fbrq: String,
    /// 失信被执行人行为具体情形.
    pub sxqx: String,
    /// 履行情况: 全部未履行, 部分未履行, 未履行, 部分履行.
    pub lxqk: String,
    pub updated_at: String,
    #[serde(skip)]
    pub bad: Option<BadKind>,
}

impl CourtDishonest {
    /// Element name → text, in the order the API writes them.
    pub fn elements(&self) -> [(&'static str, String); 13] {
        [
            ("id", self.id.to_string()),
            ("bzxrmc", self.bzxrmc.clone()),
            ("zjhm", self.zjhm.clone()),
            ("shxydm", self.shxydm.clone()),
            ("zxfy", self.zxfy.clone()),
            ("zxfydm", self.zxfydm.clone()),
            ("ah", self.ah.clone()),
            ("zxyjwh", self.zxyjwh.clone()),
            ("larq", self.larq.clone()),
            ("fbrq", self.fbrq.clone()),
            ("sxqx", self.sxqx.clone()),
            ("lxqk", self.lxqk.clone()),
            ("updated_at", self.updated_at.clone()),
        ]
    }
}

/// 欠费信息 as a row of the utilities' `utility_arrears` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtilityArrear {
    pub id: u64,
    /// 用户名称; `None` (NULL) in a bad row.
    pub yhmc: Option<String>,
    /// 统一社会信用代码 of a firm or 个体工商户.
    pub shxydm: Option<String>,
    /// 身份证号码 of a household.
    pub sfzhm: Option<String>,
    /// 欠费类型: 水费, 电费 or 燃气费.
    pub qflx: &'static str,
    /// 欠费金额 (元), two decimals.
    pub qfje: Decimal,
    /// 欠费起始日期.
    pub qfqsrq: NaiveDate,
    /// 统计日期.
    pub tjrq: NaiveDate,
    /// 供应单位.
    pub gydw: &'static str,
    pub updated_at: NaiveDateTime,
    pub bad: Option<BadKind>,
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

    /// Record `i` of the tax system.
    pub fn tax(&self, i: u64) -> TaxArrear {
        let mut rng = Rng::for_record(self.seed, TAX, i);
        let updated = self.updated_at(i);
        let region = rng.pick(&REGIONS);
        let mut nsrsbh = String::with_capacity(18);
        // 个体工商户 owe less than firms.
        let (nsrmc, max_digits) = if rng.one_in(7) {
            push_credit_code(&mut nsrsbh, &mut rng, "92", region.code);
            (shop_name(&mut rng, region), 5)
        } else {
            push_credit_code(&mut nsrsbh, &mut rng, "91", region.code);
            (firm_name(&mut rng, region), 7)
        };
        let (zgswjg, office_region) = if rng.one_in(8) {
            ("国家税务总局淮北市税务局", CITY_CODE)
        } else {
            (region.tax_office, region.code)
        };
        let rdrq = updated.date() - Days::new(rng.below(21));
        let sz = rng.pick(&TAX_KINDS);
        let (from, to) = tax_period(&mut rng, sz, rdrq);
        let cents = amount_cents(&mut rng, 3, max_digits);
        let qsje = match rng.below(20) {
            0..=7 => thousands(cents),
            8..=16 => plain_amount(cents),
            _ => format!("{}元", plain_amount(cents)),
        };
        let mut record = TaxArrear {
            id: i + 1,
            nsrmc,
            nsrsbh,
            sz: sz.to_string(),
            qsje,
            skssqq: from.format("%Y-%m-%d").to_string(),
            skssqz: to.format("%Y-%m-%d").to_string(),
            rdrq: date_in_style(&mut rng, rdrq),
            zgswjg: zgswjg.to_string(),
            zgswjgdm: authority_code(office_region, '1'),
            updated_at: updated.format(API_TIMESTAMP).to_string(),
            bad: None,
        };
        record.bad = self.bad_kind(i, &mut rng, &[BadKind::WrongCheckChar, BadKind::MissingRequired, BadKind::BadDate]);
        match record.bad {
            Some(BadKind::WrongCheckChar) => break_check_char(&mut record.nsrsbh, &mut rng, CREDIT_ALPHABET),
            Some(BadKind::MissingRequired) => record.nsrmc.clear(),
            Some(BadKind::BadDate) => record.rdrq = impossible_date(&mut rng, rdrq.year()),
            Some(BadKind::DateOrder) | None => {}
        }
        record
    }

    /// Record `i` of the court system.
    pub fn court(&self, i: u64) -> CourtDishonest {
        let mut rng = Rng::for_record(self.seed, COURT, i);
        let updated = self.updated_at(i);
        let region = rng.pick(&REGIONS);
        let (zxfy, court_code, court_region) = if rng.one_in(7) {
            ("淮北市中级人民法院", "06", CITY_CODE)
        } else {
            (region.court, region.court_code, region.code)
        };
        let (mut zjhm, mut shxydm) = (String::new(), String::new());
        let bzxrmc = match rng.below(10) {
            0..=5 => {
                push_id_number(&mut zjhm, &mut rng, |_| region.code);
                person_name(&mut rng)
            }
            6 => {
                push_credit_code(&mut shxydm, &mut rng, "92", region.code);
                shop_name(&mut rng, region)
            }
            _ => {
                push_credit_code(&mut shxydm, &mut rng, "91", region.code);
                firm_name(&mut rng, region)
            }
        };
        let fbrq = updated.date() - Days::new(rng.below(8));
        let larq = fbrq - Days::new(rng.range(30, 400));
        let execution = if rng.one_in(10) { "执恢" } else { "执" };
        let ah = format!("（{}）皖{court_code}{execution}{}号", larq.year(), rng.range(1, 4_999));
        let basis_year = larq.year() - i32::from(rng.one_in(2));
        let zxyjwh = match rng.below(10) {
            0 => format!("淮仲裁字〔{basis_year}〕第{}号", rng.range(1, 600)),
            1 if court_code == "06" => format!("（{basis_year}）皖06民终{}号", rng.range(1, 3_000)),
            1 => format!("（{basis_year}）皖{court_code}刑初{}号", rng.range(1, 800)),
            _ => format!("（{basis_year}）皖{court_code}民初{}号", rng.range(1, 9_999)),
        };
        let larq_text = if rng.one_in(5) {
            format!("{}年{}月{}日", larq.year(), larq.month(), larq.day())
        } else {
            larq.format("%Y-%m-%d").to_string()
        };
        let published = fbrq.and_hms_opt(u32::try_from(rng.range(8, 17)).unwrap_or(9), rng.pick(&[0, 15, 30, 45]), 0);
        let mut record = CourtDishonest {
            id: i + 1,
            bzxrmc,
            zjhm,
            shxydm,
            zxfy: zxfy.to_string(),
            zxfydm: authority_code(court_region, '2'),
            ah,
            zxyjwh,
            larq: larq_text,
            fbrq: published.map_or_else(String::new, |t| t.format(DB_TIMESTAMP).to_string()),
            sxqx: rng.pick(&CIRCUMSTANCES).to_string(),
            lxqk: rng.pick(&PERFORMANCE).to_string(),
            updated_at: updated.format(API_TIMESTAMP).to_string(),
            bad: None,
        };
        record.bad = self.bad_kind(i, &mut rng, &[BadKind::WrongCheckChar, BadKind::MissingRequired, BadKind::BadDate]);
        match record.bad {
            Some(BadKind::WrongCheckChar) if record.zjhm.is_empty() => {
                break_check_char(&mut record.shxydm, &mut rng, CREDIT_ALPHABET);
            }
            Some(BadKind::WrongCheckChar) => break_check_char(&mut record.zjhm, &mut rng, ID_CHECK_SYMBOLS),
            Some(BadKind::MissingRequired) => record.ah.clear(),
            Some(BadKind::BadDate) => record.larq = impossible_date(&mut rng, larq.year()),
            Some(BadKind::DateOrder) | None => {}
        }
        record
    }

    /// Row `i` of the utilities' table.
    pub fn utility(&self, i: u64) -> UtilityArrear {
        let mut rng = Rng::for_record(self.seed, UTILITY, i);
        let updated = self.updated_at(i);
        let region = rng.pick(&REGIONS);
        let (mut shxydm, mut sfzhm) = (None, None);
        // Households owe less than shops, shops less than firms: digits before the point.
        let (yhmc, scale) = match rng.below(20) {
            0..=8 => {
                let mut id = String::with_capacity(18);
                push_id_number(&mut id, &mut rng, |_| region.code);
                sfzhm = Some(id);
                (person_name(&mut rng), 0)
            }
            9..=11 => {
                let mut code = String::with_capacity(18);
                push_credit_code(&mut code, &mut rng, "92", region.code);
                shxydm = Some(code);
                (shop_name(&mut rng, region), 1)
            }
            _ => {
                let mut code = String::with_capacity(18);
                push_credit_code(&mut code, &mut rng, "91", region.code);
                shxydm = Some(code);
                (firm_name(&mut rng, region), 2)
            }
        };
        let (qflx, gydw, most) = match rng.below(10) {
            0..=3 => ("水费", region.water, 3),
            4..=7 => ("电费", region.power, 4),
            _ => ("燃气费", region.gas, 3),
        };
        let cents = amount_cents(&mut rng, 2 + scale / 2, most + scale);
        let tjrq = updated.date() - Days::new(rng.below(3));
        let mut qfqsrq = tjrq - Days::new(rng.range(31, 540));
        let mut yhmc = Some(yhmc);
        let bad = self.bad_kind(i, &mut rng, &[BadKind::WrongCheckChar, BadKind::MissingRequired, BadKind::DateOrder]);
        match bad {
            Some(BadKind::WrongCheckChar) => match (&mut shxydm, &mut sfzhm) {
                (Some(code), _) => break_check_char(code, &mut rng, CREDIT_ALPHABET),
                (None, Some(id)) => break_check_char(id, &mut rng, ID_CHECK_SYMBOLS),
                (None, None) => {}
            },
            Some(BadKind::MissingRequired) => yhmc = None,
            Some(BadKind::DateOrder) => qfqsrq = tjrq + Days::new(rng.range(1, 60)),
            Some(BadKind::BadDate) | None => {}
        }
        UtilityArrear {
            id: i + 1,
            yhmc,
            shxydm,
            sfzhm,
            qflx,
            qfje: Decimal::new(i64::try_from(cents).unwrap_or(i64::MAX), 2),
            qfqsrq,
            tjrq,
            gydw,
            updated_at: updated,
            bad,
        }
    }

    /// What `/sandbox/departments/stats` answers.
    pub fn stats(&self, now: NaiveDateTime) -> serde_json::Value {
        let n = self.visible_at(now);
        let latest = n.checked_sub(1).map(|i| self.updated_at(i).format(API_TIMESTAMP).to_string());
        let one = json!({ "visible": n, "bad": self.bad_before(n), "latest_updated_at": latest });
        json!({
            "now": now.format(API_TIMESTAMP).to_string(),
            "tax": one,
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
        .route("/tax/api/arrears", get(tax_arrears))
        .route("/court/api/dishonest", get(court_dishonest))
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

async fn tax_arrears(
    State(sources): State<Arc<DepartmentSources>>,
    headers: HeaderMap,
    query: Result<Query<ApiQuery>, QueryRejection>,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if bearer != Some(sources.tax_token.as_str()) {
        let mut response =
            tax_error(StatusCode::UNAUTHORIZED, "未授权：缺少或错误的访问令牌（Authorization: Bearer …）");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let Ok(Query(q)) = query else {
        return tax_error(StatusCode::BAD_REQUEST, "查询参数无法解析");
    };
    let page = match number(q.page.as_deref(), 1) {
        Some(p) if p >= 1 => p,
        _ => return tax_error(StatusCode::BAD_REQUEST, "page 应为从 1 开始的页码"),
    };
    let size = match number(q.size.as_deref(), DEFAULT_PAGE_SIZE) {
        Some(s) if (1..=TAX_MAX_PAGE_SIZE).contains(&s) => s,
        _ => return tax_error(StatusCode::BAD_REQUEST, &format!("size 应为 1 到 {TAX_MAX_PAGE_SIZE}")),
    };
    let since = match q.since.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(parse_since) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => return tax_error(StatusCode::BAD_REQUEST, "since 应为时间，如 2024-03-01T10:00:00"),
    };
    let visible = sources.visible_at(sources.now());
    let from = since.map_or(0, |t| sources.first_after(t)).min(visible);
    let first = from.saturating_add((page - 1).saturating_mul(size)).min(visible);
    let last = first.saturating_add(size).min(visible);
    let items: Vec<TaxArrear> = (first..last).map(|i| sources.tax(i)).collect();
    let body = json!({
        "code": 0,
        "message": "ok",
        "data": { "total": visible - from, "page": page, "size": size, "items": items },
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn tax_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "code": status.as_u16(), "message": message, "data": null }))).into_response()
}

async fn court_dishonest(
    State(sources): State<Arc<DepartmentSources>>,
    headers: HeaderMap,
    query: Result<Query<ApiQuery>, QueryRejection>,
) -> Response {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
    if key != Some(sources.court_key.as_str()) {
        return court_error(StatusCode::UNAUTHORIZED, "未授权：缺少或错误的 X-Api-Key");
    }
    let Ok(Query(q)) = query else {
        return court_error(StatusCode::BAD_REQUEST, "查询参数无法解析");
    };
    let limit = match number(q.limit.as_deref(), DEFAULT_PAGE_SIZE) {
        Some(l) if l >= 1 => l.min(COURT_MAX_LIMIT),
        _ => return court_error(StatusCode::BAD_REQUEST, "limit 应为正整数"),
    };
    // The cursor is `c<id>`: the id of the last record of the previous page.
    let after = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match c.strip_prefix('c').and_then(|n| n.parse::<u64>().ok()) {
            Some(id) => id,
            None => return court_error(StatusCode::BAD_REQUEST, "cursor 无效"),
        },
    };
    let since = match q.since.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(parse_since) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => return court_error(StatusCode::BAD_REQUEST, "since 应为时间，如 2024-03-01T10:00:00"),
    };
    let visible = sources.visible_at(sources.now());
    let from = since.map_or(0, |t| sources.first_after(t)).max(after).min(visible);
    let to = from.saturating_add(limit).min(visible);
    let mut xml = String::with_capacity(128 + 700 * (to - from) as usize);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response><code>0</code><message>ok</message>");
    if to < visible {
        // Record index `to - 1` has id `to`.
        let _ = write!(xml, "<next_cursor>c{to}</next_cursor>");
    } else {
        xml.push_str("<next_cursor/>");
    }
    xml.push_str("<records>");
    for i in from..to {
        xml.push_str("<record>");
        for (name, value) in sources.court(i).elements() {
            push_element(&mut xml, name, &value);
        }
        xml.push_str("</record>");
    }
    xml.push_str("</records></response>\n");
    xml_response(StatusCode::OK, xml)
}

fn court_error(status: StatusCode, message: &str) -> Response {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>");
    push_element(&mut xml, "code", &status.as_u16().to_string());
    push_element(&mut xml, "message", message);
    xml.push_str("</response>\n");
    xml_response(status, xml)
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], xml).into_response()
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

/// `<name>text</name>`, the text escaped; characters XML 1.0 cannot hold are left out.
fn push_element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>");
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    let _ = write!(out, "</{name}>");
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
    let task = tokio::spawn(async move {
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

// ---------------------------------------------------------------------------------------
// Utilities database

/// Why the utilities table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

const UTILITY_COLUMNS: &str = "id, yhmc, shxydm, sfzhm, qflx, qfje, qfqsrq, tjrq, gydw, updated_at";
const UPDATE_COLUMNS: [&str; 9] = ["yhmc", "shxydm", "sfzhm", "qflx", "qfje", "qfqsrq", "tjrq", "gydw", "updated_at"];

/// Appends rows `max(id)..visible` in multi-row upserts, `COMMIT_ROWS` per transaction.
macro_rules! write_rows {
    ($conn:ident, $db:ty, $table:ident, $tail:ident, $sources:ident, $visible:ident, |$b:ident, $r:ident| $bind:block) => {{
        let max: i64 =
            sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM {}", $table)).fetch_one(&mut $conn).await?;
        let mut next = u64::try_from(max).unwrap_or(0).min($visible);
        let mut written = 0u64;
        while next < $visible {
            let end = next.saturating_add(COMMIT_ROWS).min($visible);
            let mut tx = $conn.begin().await?;
            while next < end {
                let stop = next.saturating_add(STATEMENT_ROWS).min(end);
                let rows: Vec<UtilityArrear> = (next..stop).map(|i| $sources.utility(i)).collect();
                let mut qb = QueryBuilder::<$db>::new(format!("INSERT INTO {} ({UTILITY_COLUMNS}) ", $table));
                qb.push_values(&rows, |mut $b, $r| $bind);
                qb.push(&$tail);
                qb.build().execute(&mut *tx).await?;
                written += stop - next;
                next = stop;
            }
            tx.commit().await?;
        }
        written
    }};
}

/// Creates the table [`UTILITY_TABLE`] if missing and writes the rows visible at `now` that
/// it does not hold yet; returns how many were written. See [`write_utility_table`].
pub async fn write_utility_db(url: &str, sources: &DepartmentSources, now: NaiveDateTime) -> Result<u64, SandboxError> {
    write_utility_table(url, UTILITY_TABLE, sources, now).await
}

/// [`write_utility_db`] into any table name (letters, digits, `_`).
///
/// `url`: `sqlite://path/to/file.db` (created with its folder if missing; a relative path is
/// relative to the working directory), `mysql://…` or `mariadb://…`, `postgres://…`.
/// Columns: `id` (primary key, = record number + 1), `yhmc`, `shxydm`, `sfzhm`, `qflx`,
/// `qfje` (DECIMAL/NUMERIC(14,2)), `qfqsrq` and `tjrq` (DATE), `gydw`, `updated_at`
/// (DATETIME/TIMESTAMP; text `YYYY-MM-DD HH:MM:SS` in SQLite), indexed with `id` for a
/// connector's `(updated_at, id)` cursor.
///
/// Records are deterministic, so rows already in the table are left alone: only rows whose
/// id is above the table's largest are written, with an upsert so that a concurrent writer
/// cannot make it fail. Call it again as time passes to append what has become visible.
pub async fn write_utility_table(
    url: &str,
    table: &str,
    sources: &DepartmentSources,
    now: NaiveDateTime,
) -> Result<u64, SandboxError> {
    if !is_identifier(table) {
        return Err(SandboxError::Invalid(format!("table name {table:?}: expected letters, digits and _")));
    }
    let visible = sources.visible_at(now);
    let updates = UPDATE_COLUMNS.iter().map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ");
    if url.starts_with("sqlite:") {
        create_sqlite_parent(url)?;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10))
            .connect()
            .await?;
        let t = format!("\"{table}\"");
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY, yhmc TEXT, shxydm TEXT, sfzhm TEXT, \
             qflx TEXT NOT NULL, qfje DECIMAL(14,2) NOT NULL, qfqsrq DATE, tjrq DATE, gydw TEXT, \
             updated_at DATETIME NOT NULL)"
        ))
        .execute(&mut conn)
        .await?;
        sqlx::query(&format!("CREATE INDEX IF NOT EXISTS \"{table}_updated_at\" ON {t} (updated_at, id)"))
            .execute(&mut conn)
            .await?;
        let tail = format!(" ON CONFLICT (id) DO UPDATE SET {updates}");
        let written = write_rows!(conn, sqlx::Sqlite, t, tail, sources, visible, |b, r| {
            b.push_bind(r.id as i64)
                .push_bind(r.yhmc.clone())
                .push_bind(r.shxydm.clone())
                .push_bind(r.sfzhm.clone())
                .push_bind(r.qflx)
                .push_bind(r.qfje.to_string())
                .push_bind(r.qfqsrq.format("%Y-%m-%d").to_string())
                .push_bind(r.tjrq.format("%Y-%m-%d").to_string())
                .push_bind(r.gydw)
                .push_bind(r.updated_at.format(DB_TIMESTAMP).to_string());
        });
        conn.close().await?;
        Ok(written)
    } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        let url = url.replacen("mariadb:", "mysql:", 1);
        let mut conn = sqlx::mysql::MySqlConnectOptions::from_str(&url)?.connect().await?;
        let t = format!("`{table}`");
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (id BIGINT NOT NULL PRIMARY KEY, yhmc VARCHAR(200) NULL, \
             shxydm VARCHAR(32) NULL, sfzhm VARCHAR(32) NULL, qflx VARCHAR(16) NOT NULL, \
             qfje DECIMAL(14,2) NOT NULL, qfqsrq DATE NULL, tjrq DATE NULL, gydw VARCHAR(200) NULL, \
             updated_at DATETIME NOT NULL, KEY idx_updated_at (updated_at, id)) \
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        ))
        .execute(&mut conn)
        .await?;
        let updates = UPDATE_COLUMNS.iter().map(|c| format!("{c} = VALUES({c})")).collect::<Vec<_>>().join(", ");
        let tail = format!(" ON DUPLICATE KEY UPDATE {updates}");
        let written = write_rows!(conn, sqlx::MySql, t, tail, sources, visible, |b, r| {
            b.push_bind(r.id as i64)
                .push_bind(r.yhmc.clone())
                .push_bind(r.shxydm.clone())
                .push_bind(r.sfzhm.clone())
                .push_bind(r.qflx)
                .push_bind(r.qfje)
                .push_bind(r.qfqsrq)
                .push_bind(r.tjrq)
                .push_bind(r.gydw)
                .push_bind(r.updated_at);
        });
        conn.close().await?;
        Ok(written)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let mut conn = sqlx::postgres::PgConnectOptions::from_str(url)?.connect().await?;
        let t = format!("\"{table}\"");
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (id BIGINT PRIMARY KEY, yhmc TEXT, shxydm TEXT, sfzhm TEXT, \
             qflx TEXT NOT NULL, qfje NUMERIC(14,2) NOT NULL, qfqsrq DATE, tjrq DATE, gydw TEXT, \
             updated_at TIMESTAMP NOT NULL)"
        ))
        .execute(&mut conn)
        .await?;
        sqlx::query(&format!("CREATE INDEX IF NOT EXISTS \"{table}_updated_at\" ON {t} (updated_at, id)"))
            .execute(&mut conn)
            .await?;
        let tail = format!(" ON CONFLICT (id) DO UPDATE SET {updates}");
        let written = write_rows!(conn, sqlx::Postgres, t, tail, sources, visible, |b, r| {
            b.push_bind(r.id as i64)
                .push_bind(r.yhmc.clone())
                .push_bind(r.shxydm.clone())
                .push_bind(r.sfzhm.clone())
                .push_bind(r.qflx)
                .push_bind(r.qfje)
                .push_bind(r.qfqsrq)
                .push_bind(r.tjrq)
                .push_bind(r.gydw)
                .push_bind(r.updated_at);
        });
        conn.close().await?;
        Ok(written)
    } else {
        Err(SandboxError::Invalid("expected a sqlite://, mysql://, mariadb:// or postgres:// URL".into()))
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 60
}

/// The folder of a `sqlite://` file, created so that SQLite can create the file.
fn create_sqlite_parent(url: &str) -> Result<(), SandboxError> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| SandboxError::Io { path: dir.display().to_string(), source })
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Generators

/// A county of the sandbox city (淮北市, as in [`crate::sim::sample`]) and its authorities.
#[derive(Debug, Clone, Copy)]
struct Region {
    /// GB/T 2260 division code.
    code: &'static str,
    /// How firm names start.
    place: &'static str,
    /// How shop names start.
    local: &'static str,
    tax_office: &'static str,
    court: &'static str,
    /// 法院代字 after 皖 in case numbers.
    court_code: &'static str,
    water: &'static str,
    power: &'static str,
    gas: &'static str,
}

const CITY_CODE: &str = "340600";

const REGIONS: [Region; 4] = [
    Region {
        code: "340602",
        place: "淮北市杜集区",
        local: "杜集区",
        tax_office: "国家税务总局淮北市杜集区税务局",
        court: "淮北市杜集区人民法院",
        court_code: "0602",
        water: "淮北市供水有限公司",
        power: "国网淮北供电公司",
        gas: "淮北市燃气有限公司",
    },
    Region {
        code: "340603",
        place: "淮北市相山区",
        local: "相山区",
        tax_office: "国家税务总局淮北市相山区税务局",
        court: "淮北市相山区人民法院",
        court_code: "0603",
        water: "淮北市供水有限公司",
        power: "国网淮北供电公司",
        gas: "淮北市燃气有限公司",
    },
    Region {
        code: "340604",
        place: "淮北市烈山区",
        local: "烈山区",
        tax_office: "国家税务总局淮北市烈山区税务局",
        court: "淮北市烈山区人民法院",
        court_code: "0604",
        water: "淮北市供水有限公司",
        power: "国网淮北供电公司",
        gas: "淮北市燃气有限公司",
    },
    Region {
        code: "340621",
        place: "濉溪县",
        local: "濉溪县",
        tax_office: "国家税务总局濉溪县税务局",
        court: "濉溪县人民法院",
        court_code: "0621",
        water: "濉溪县自来水有限公司",
        power: "国网濉溪县供电公司",
        gas: "濉溪县燃气有限公司",
    },
];

const TRADES: [&str; 12] =
    ["商贸", "建材", "贸易", "物流", "科技", "食品", "家具", "医药", "建筑工程", "农业发展", "电子商务", "汽车服务"];
const FIRM_FORMS: [&str; 5] = ["有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司"];
/// Brand-like letters; `A&B` names need escaping in XML.
const LETTERS: &[u8] = b"ABCDEHJKLMNPQRTWXY";

const TAX_KINDS: [&str; 10] = [
    "增值税",
    "增值税",
    "增值税",
    "企业所得税",
    "企业所得税",
    "城市维护建设税",
    "房产税",
    "城镇土地使用税",
    "印花税",
    "个人所得税",
];
const CIRCUMSTANCES: [&str; 6] = [
    "有履行能力而拒不履行生效法律文书确定义务",
    "有履行能力而拒不履行生效法律文书确定义务",
    "违反财产报告制度",
    "违反限制消费令",
    "以伪造证据、暴力、威胁等方法妨碍、抗拒执行",
    "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
];
const PERFORMANCE: [&str; 8] =
    ["全部未履行", "全部未履行", "全部未履行", "全部未履行", "全部未履行", "部分未履行", "未履行", "部分履行"];

fn firm_name(rng: &mut Rng, region: Region) -> String {
    let mut s = String::from(region.place);
    if rng.one_in(25) {
        s.push(char::from(rng.pick(LETTERS)));
        s.push('&');
        s.push(char::from(rng.pick(LETTERS)));
    } else {
        s.push_str(rng.pick(&SYLLABLES));
        s.push_str(rng.pick(&SYLLABLES));
    }
    s.push_str(rng.pick(&TRADES));
    s.push_str(rng.pick(&FIRM_FORMS));
    s
}

fn shop_name(rng: &mut Rng, region: Region) -> String {
    let mut s = String::from(region.local);
    if rng.one_in(2) {
        s.push_str(rng.pick(&SYLLABLES));
        s.push_str(rng.pick(&SYLLABLES));
    } else {
        s.push_str(&person_name(rng));
    }
    s.push_str(rng.pick(&SHOPS));
    s
}

fn person_name(rng: &mut Rng) -> String {
    let mut s = String::new();
    push_person_name(&mut s, rng);
    s
}

/// A credit code (GB 32100) of `kind` (`91` firm, `92` 个体工商户) in `region`; one in three
/// embeds an old organisation code.
fn push_credit_code(out: &mut String, rng: &mut Rng, kind: &str, region: &str) {
    let old = rng.one_in(3);
    fake::push_credit_code(out, rng, kind, region, old);
}

/// The credit code of a government body (`11`: 机构编制, 机关) of `region`; `tag` tells
/// bodies of one region apart. The same for every seed.
fn authority_code(region: &str, tag: char) -> String {
    let mut s = String::with_capacity(18);
    s.push_str("11");
    s.push_str(region);
    let org = s.len();
    s.push_str("MB0");
    s.push_str(&region[2..6]);
    s.push(tag);
    push_check(&mut s, org, org_code_check_char);
    push_check(&mut s, 0, credit_code_check_char);
    s
}

/// Replaces the last (check) character with another symbol of `alphabet`.
fn break_check_char(code: &mut String, rng: &mut Rng, alphabet: &[u8]) {
    let Some(old) = code.pop() else { return };
    let mut new = old;
    while new == old {
        new = char::from(rng.pick(alphabet));
    }
    code.push(new);
}

/// A date that does not exist, as a clerk might type it.
fn impossible_date(rng: &mut Rng, year: i32) -> String {
    match rng.below(3) {
        0 => format!("{year}-02-30"),
        1 => format!("{year}/13/{}", rng.range(1, 28)),
        _ => format!("{year}-04-31"),
    }
}

/// An amount in 分 with `lo..=hi` digits before the point (log-uniform).
fn amount_cents(rng: &mut Rng, lo: u32, hi: u32) -> u64 {
    let digits = u32::try_from(rng.range(u64::from(lo), u64::from(hi))).unwrap_or(lo);
    let yuan = rng.range(10u64.pow(digits - 1), 10u64.pow(digits) - 1);
    let fen = if rng.one_in(3) { 0 } else { rng.below(100) };
    yuan * 100 + fen
}

/// `12345.60`.
fn plain_amount(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// `12,345.60`.
fn thousands(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut out = String::with_capacity(whole.len() + whole.len() / 3 + 3);
    for (n, c) in whole.chars().enumerate() {
        if n > 0 && (whole.len() - n) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    let _ = write!(out, ".{:02}", cents % 100);
    out
}

/// A date as tax clerks' systems print it: mostly ISO, sometimes not.
fn date_in_style(rng: &mut Rng, d: NaiveDate) -> String {
    match rng.below(20) {
        0..=11 => d.format("%Y-%m-%d").to_string(),
        12..=16 => format!("{}/{}/{}", d.year(), d.month(), d.day()),
        17..=18 => d.format("%Y%m%d").to_string(),
        _ => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}

/// 税款所属期 (first and last day) ending before `rdrq`: a month, a quarter or, for
/// 企业所得税, sometimes the previous year.
fn tax_period(rng: &mut Rng, sz: &str, rdrq: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first_of_month = rdrq.with_day(1).expect("day 1 exists");
    let month = first_of_month - Months::new(u32::try_from(rng.range(1, 12)).unwrap_or(1));
    let day = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).expect("a real month");
    let last_day = |start: NaiveDate, months: u32| start + Months::new(months) - Days::new(1);
    if sz == "企业所得税" && rng.one_in(2) {
        let year = rdrq.year() - 1;
        return (day(year, 1), day(year, 12) + Months::new(1) - Days::new(1));
    }
    if rng.one_in(2) {
        let mut start = day(month.year(), (month.month() - 1) / 3 * 3 + 1);
        if last_day(start, 3) >= rdrq {
            start = start - Months::new(3);
        }
        return (start, last_day(start, 3));
    }
    (month, last_day(month, 1))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;
    use crate::ids::{CreditCode, IdNumber};

    fn at(s: &str) -> NaiveDateTime {
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

    #[test]
    fn amounts_and_xml_text_are_written_as_systems_do() {
        assert_eq!(thousands(1_234_560), "12,345.60");
        assert_eq!(thousands(99_900), "999.00");
        assert_eq!(thousands(12_345_678_901), "123,456,789.01");
        assert_eq!(plain_amount(5), "0.05");
        let mut xml = String::new();
        push_element(&mut xml, "bzxrmc", "淮北市A&B<商贸>\"'\u{1}有限公司");
        assert_eq!(xml, "<bzxrmc>淮北市A&amp;B&lt;商贸&gt;&quot;&apos;有限公司</bzxrmc>");
    }

    #[test]
    fn tax_periods_end_before_recognition() {
        let s = DepartmentSources::fixed(3, 500);
        for i in 0..500 {
            let mut rng = Rng::for_record(3, 99, i);
            let rdrq = s.updated_at(i).date();
            let (from, to) = tax_period(&mut rng, rng_kind(i), rdrq);
            assert!(from < to && to < rdrq, "{from} {to} {rdrq}");
        }
    }

    fn rng_kind(i: u64) -> &'static str {
        TAX_KINDS[(i % TAX_KINDS.len() as u64) as usize]
    }

    // --- HTTP -----------------------------------------------------------------------------

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    /// A growing source whose clock the test moves: `now` is seconds after `start`.
    fn moving(initial: u64) -> (Arc<DepartmentSources>, Arc<AtomicI64>) {
        let start = at("2024-05-01T08:00:00");
        // The clock starts where the backlog ends: every step adds records.
        let offset = Arc::new(AtomicI64::new(backlog_end(initial)));
        let o = offset.clone();
        let s = DepartmentSources::new(11, start, Duration::from_secs(10), initial)
            .with_bad_share(0.2)
            .with_clock(move || start + TimeDelta::seconds(o.load(Ordering::SeqCst)));
        (Arc::new(s), offset)
    }

    fn backlog_end(initial: u64) -> i64 {
        (initial as i64 - 1) * 10
    }

    async fn tax_page(base: &str, page: u64, size: u64, since: Option<&str>) -> serde_json::Value {
        let mut url = format!("{base}/tax/api/arrears?page={page}&size={size}");
        if let Some(s) = since {
            url.push_str(&format!("&since={s}"));
        }
        let response = client().get(url).bearer_auth(DEFAULT_TAX_TOKEN).send().await.expect("request");
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
    }

    #[tokio::test]
    async fn tax_pages_with_since_neither_skip_nor_repeat_while_records_arrive() {
        let (sources, clock) = moving(95);
        let server = serve("127.0.0.1:0".parse().unwrap(), sources.clone()).await.unwrap();
        let base = server.base_url();
        let since = sources.tax(29).updated_at; // records 30.. are wanted
        let mut ids = Vec::new();
        let mut page = 1;
        loop {
            let body = tax_page(&base, page, 20, Some(&since)).await;
            assert_eq!(body["code"], 0);
            let items = body["data"]["items"].as_array().unwrap().clone();
            for item in &items {
                ids.push(item["id"].as_u64().unwrap());
                assert!(item["updated_at"].as_str().unwrap() > since.as_str());
            }
            // Records keep arriving between pages.
            clock.fetch_add(25 * 10, Ordering::SeqCst);
            if (items.len() as u64) < 20 || page > 100 {
                break;
            }
            page += 1;
        }
        let expected: Vec<u64> = (31..=ids.last().copied().unwrap()).collect();
        assert_eq!(ids, expected, "a contiguous run from the first record after since");
        assert!(ids.len() > 65, "records that arrived during the sweep are included: {}", ids.len());

        // Every field is the generator's, and total counts what since lets through.
        clock.store(backlog_end(95), Ordering::SeqCst);
        let body = tax_page(&base, 2, 10, None).await;
        assert_eq!(body["data"]["total"], 95);
        assert_eq!(body["data"]["page"], 2);
        assert_eq!(body["data"]["items"][0], serde_json::to_value(sources.tax(10)).unwrap());
        let past_end = tax_page(&base, 50, 10, None).await;
        assert_eq!(past_end["data"]["items"].as_array().unwrap().len(), 0);
        server.shutdown().await.unwrap();
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

    /// The records of a court page (element → text) and its next cursor, read with quick-xml.
    fn parse_court(xml: &str) -> (Vec<BTreeMap<String, String>>, Option<String>) {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut records = Vec::new();
        let mut next = None;
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => {
                    let local = e.local_name();
                    let name = local.into_inner().to_string();
                    if name == "record" {
                        records.push(BTreeMap::new());
                    }
                    path.push(name);
                    text.clear();
                }
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    let s = match AsRef::<[u8]>::as_ref(&*r) {
                        b"amp" => "&",
                        b"lt" => "<",
                        b"gt" => ">",
                        b"quot" => "\"",
                        b"apos" => "'",
                        other => panic!("unexpected entity {other:?}"),
                    };
                    text.push_str(s);
                }
                Event::End(_) => {
                    let name = path.pop().unwrap();
                    if path.last().map(String::as_str) == Some("record") {
                        records.last_mut().unwrap().insert(name, std::mem::take(&mut text));
                    } else if name == "next_cursor" {
                        next = Some(std::mem::take(&mut text));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        (records, next.filter(|c| !c.is_empty()))
    }

    #[tokio::test]
    async fn court_cursor_pages_return_every_record_once() {
        let (sources, clock) = moving(137);
        let server = serve("127.0.0.1:0".parse().unwrap(), sources.clone()).await.unwrap();
        let c = client();
        for (since, first) in [(None, 0u64), (Some(sources.court(40).updated_at), 41)] {
            clock.store(backlog_end(137), Ordering::SeqCst);
            let mut cursor: Option<String> = None;
            let mut seen = Vec::new();
            for _ in 0..100 {
                let mut url = format!("{}/court/api/dishonest?limit=25", server.base_url());
                if let Some(s) = &since {
                    url.push_str(&format!("&since={s}"));
                }
                if let Some(cur) = &cursor {
                    url.push_str(&format!("&cursor={cur}"));
                }
                let xml = c.get(url).header("X-Api-Key", DEFAULT_COURT_KEY).send().await.unwrap().text().await.unwrap();
                let (records, next) = parse_court(&xml);
                for r in &records {
                    let id: u64 = r["id"].parse().unwrap();
                    let expected: BTreeMap<String, String> =
                        sources.court(id - 1).elements().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                    assert_eq!(r, &expected, "escaped text reads back as generated");
                    seen.push(id - 1);
                }
                cursor = next;
                if cursor.is_none() {
                    break;
                }
                // Records keep arriving between pages.
                clock.fetch_add(3 * 10, Ordering::SeqCst);
            }
            let expected: Vec<u64> = (first..=*seen.last().unwrap()).collect();
            assert_eq!(seen, expected);
            assert_eq!(seen.len() as u64, sources.visible_at(sources.now()) - first, "the sweep reached the end");
        }
        let fixed = DepartmentSources::fixed(5, 3_000);
        assert!((0..3_000).any(|i| fixed.court(i).bzxrmc.contains('&')), "some names need escaping");
        server.shutdown().await.unwrap();
    }

    // --- Database -------------------------------------------------------------------------

    #[tokio::test]
    async fn utility_rows_append_to_a_sqlite_table() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/utilities.db", dir.path().display());
        let start = at("2024-05-01T08:00:00");
        let s = DepartmentSources::new(9, start, Duration::from_secs(60), 120).with_bad_share(0.1);
        assert_eq!(write_utility_db(&url, &s, start).await.unwrap(), 120);
        assert_eq!(write_utility_db(&url, &s, start).await.unwrap(), 0, "nothing new");
        let later = start + TimeDelta::minutes(200);
        assert_eq!(write_utility_db(&url, &s, later).await.unwrap(), 81);
        let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
        let rows: Vec<(i64, Option<String>, String, String, String, String)> = sqlx::query_as(
            "SELECT id, yhmc, qflx, CAST(qfje AS TEXT), tjrq, updated_at FROM utility_arrears ORDER BY id",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(rows.len(), 201);
        for (n, row) in rows.iter().enumerate() {
            let u = s.utility(n as u64);
            assert_eq!(row.0, u.id as i64);
            assert_eq!(row.1, u.yhmc);
            assert_eq!(row.2, u.qflx);
            assert_eq!(row.3.parse::<Decimal>().unwrap(), u.qfje);
            assert_eq!(row.4, u.tjrq.to_string());
            assert_eq!(row.5, u.updated_at.format(DB_TIMESTAMP).to_string());
        }
        assert!(write_utility_table(&url, "x; DROP", &s, start).await.is_err());
    }

    type MySqlRow = (i64, Option<String>, Decimal, NaiveDate, NaiveDateTime);

    #[tokio::test]
    async fn utility_rows_on_mariadb_and_postgres() {
        let unique =
            format!("utility_arrears_t{}_{}", std::process::id(), crate::clock::Clock::real().now().timestamp_micros());
        let s = DepartmentSources::fixed(4, 450).with_bad_share(0.1);
        let now = at("2024-06-01T00:00:00");
        let mysql = std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
        match sqlx::mysql::MySqlConnectOptions::from_str(&mysql).unwrap().connect().await {
            Err(e) => eprintln!("note: MySQL/MariaDB at {mysql} unreachable ({e}): skipped"),
            Ok(mut conn) => {
                let result = write_utility_table(&mysql, &unique, &s, now).await;
                let again = write_utility_table(&mysql, &unique, &s, now).await;
                let rows: Result<Vec<MySqlRow>, _> =
                    sqlx::query_as(&format!("SELECT id, sfzhm, qfje, qfqsrq, updated_at FROM `{unique}` ORDER BY id"))
                        .fetch_all(&mut conn)
                        .await;
                sqlx::query(&format!("DROP TABLE IF EXISTS `{unique}`")).execute(&mut conn).await.unwrap();
                assert_eq!(result.unwrap(), 450);
                assert_eq!(again.unwrap(), 0);
                let rows = rows.unwrap();
                assert_eq!(rows.len(), 450);
                for row in rows {
                    let u = s.utility(row.0 as u64 - 1);
                    assert_eq!((row.1, row.2, row.3, row.4), (u.sfzhm, u.qfje, u.qfqsrq, u.updated_at));
                }
            }
        }
        let pg = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        match sqlx::postgres::PgConnectOptions::from_str(&pg).unwrap().connect().await {
            Err(e) => eprintln!("note: PostgreSQL at {pg} unreachable ({e}): skipped"),
            Ok(mut conn) => {
                let result = write_utility_table(&pg, &unique, &s, now).await;
                let rows: Result<Vec<(i64, Decimal, NaiveDate, NaiveDateTime)>, _> =
                    sqlx::query_as(&format!("SELECT id, qfje, tjrq, updated_at FROM \"{unique}\" ORDER BY id"))
                        .fetch_all(&mut conn)
                        .await;
                sqlx::query(&format!("DROP TABLE IF EXISTS \"{unique}\"")).execute(&mut conn).await.unwrap();
                assert_eq!(result.unwrap(), 450);
                let rows = rows.unwrap();
                assert_eq!(rows.len(), 450);
                let u = s.utility(449);
                assert_eq!(rows[449], (450, u.qfje, u.tjrq, u.updated_at));
            }
        }
    }
}
