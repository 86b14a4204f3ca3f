//! 税务 A级纳税人名单: the tax system's JSON API (`GET /tax/api/a-grade`, paged and filtered as
//! the arrears in [`super::tax`]) and the records it serves: firms of the demo's 行政处罚 files,
//! graded A for the year before the last April's publication.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::city::{REGIONS, break_check_char, firm_name, impossible_date, push_credit_code};
use super::tax::{date_in_style, page_of, paging};
use super::{API_TIMESTAMP, ApiQuery, BadKind, DepartmentSources, TAX_A};
use crate::ids::CREDIT_ALPHABET;
use crate::sim::fake::Rng;
use crate::sim::sample::{self, DEMO_SEED, SampleCompany};

/// A级纳税人 as the tax system's API sends it (`GET /tax/api/a-grade`, one `data.items` element).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxAGrade {
    /// Stable record id: `j + 1`.
    pub id: u64,
    /// 纳税人名称.
    pub nsrmc: String,
    /// 纳税人识别号 (the 统一社会信用代码).
    pub nsrsbh: String,
    /// 评价年度, a JSON number.
    pub pjnd: i32,
    /// 纳税信用级别: `A`, sometimes `A级`.
    pub xyjb: String,
    /// 发布日期, in the forms of [`super::TaxArrear::rdrq`].
    pub fbrq: String,
    /// 评价税务机关.
    pub pjswjg: String,
    /// `YYYY-MM-DDTHH:MM:SS`, Asia/Shanghai.
    pub updated_at: String,
    /// The rule this record breaks, if any (not sent).
    #[serde(skip)]
    pub bad: Option<BadKind>,
}

/// One A级纳税人 record every this many records of the timeline: the list is short (tens).
const A_GRADE_STRIDE: u64 = 5;
/// The demo files whose firms the list names (`DEMO_SEED..DEMO_SEED + this`).
const A_GRADE_FILES: u64 = 6;
/// The day the tax bureau publishes the year before's list (April).
const A_GRADE_PUBLISHED: (u32, u32) = (4, 15);

impl DepartmentSources {
    /// How many A级纳税人 records are visible at `now`: records `0..n`. Record `j` takes slot
    /// `j × A_GRADE_STRIDE` of the timeline, so the list grows slowly and keeps its order.
    pub fn a_grade_visible_at(&self, now: NaiveDateTime) -> u64 {
        self.visible_at(now).div_ceil(A_GRADE_STRIDE)
    }

    /// `updated_at` of A级纳税人 record `j`.
    pub fn a_grade_updated_at(&self, j: u64) -> NaiveDateTime {
        self.updated_at(j.saturating_mul(A_GRADE_STRIDE))
    }

    /// The first A级纳税人 record whose `updated_at` is strictly after `since`.
    pub fn a_grade_first_after(&self, since: NaiveDateTime) -> u64 {
        self.first_after(since).div_ceil(A_GRADE_STRIDE)
    }

    /// A级纳税人 record `j`: a firm of the demo's first 行政处罚 files (so its credit file shows
    /// both), graded A for the year before the last April's publication.
    pub fn tax_a(&self, j: u64) -> TaxAGrade {
        let mut rng = Rng::for_record(self.seed, TAX_A, j);
        let updated = self.a_grade_updated_at(j);
        let (nsrmc, nsrsbh, region) = match a_grade_firm(j) {
            Some(c) => (c.name, c.credit_code, c.region),
            None => {
                let region = rng.pick(&REGIONS);
                let mut code = String::with_capacity(18);
                push_credit_code(&mut code, &mut rng, "91", region.code);
                (firm_name(&mut rng, region), code, region.code)
            }
        };
        let (month, day) = A_GRADE_PUBLISHED;
        let published = |year| NaiveDate::from_ymd_opt(year, month, day).expect("a real day");
        let today = updated.date();
        let fbrq = if today >= published(today.year()) { published(today.year()) } else { published(today.year() - 1) };
        let pjswjg =
            REGIONS.iter().find(|r| r.code == region).map_or("国家税务总局淮北市税务局", |r| r.tax_office);
        let mut record = TaxAGrade {
            id: j + 1,
            nsrmc,
            nsrsbh,
            pjnd: fbrq.year() - 1,
            xyjb: if rng.one_in(6) { "A级" } else { "A" }.to_string(),
            fbrq: date_in_style(&mut rng, fbrq),
            pjswjg: pjswjg.to_string(),
            updated_at: updated.format(API_TIMESTAMP).to_string(),
            bad: None,
        };
        record.bad = self.bad_kind(j, &mut rng, &[BadKind::WrongCheckChar, BadKind::MissingRequired, BadKind::BadDate]);
        match record.bad {
            Some(BadKind::WrongCheckChar) => break_check_char(&mut record.nsrsbh, &mut rng, CREDIT_ALPHABET),
            Some(BadKind::MissingRequired) => record.nsrmc.clear(),
            Some(BadKind::BadDate) => record.fbrq = impossible_date(&mut rng, fbrq.year()),
            Some(BadKind::DateOrder) | None => {}
        }
        record
    }
}

/// The firm of A级纳税人 record `j`: the first firm among five rows of one of the demo's first
/// files; each record has its own rows, so no firm is graded twice for a year.
fn a_grade_firm(j: u64) -> Option<SampleCompany> {
    let seed = DEMO_SEED + j % A_GRADE_FILES;
    let first = j / A_GRADE_FILES * 5;
    (first..first + 5).find_map(|n| sample::company(seed, n))
}

/// `GET /tax/api/a-grade`: the A级纳税人名单, paged and filtered like the arrears.
pub(super) async fn a_grade(
    State(sources): State<Arc<DepartmentSources>>,
    headers: HeaderMap,
    query: Result<Query<ApiQuery>, QueryRejection>,
) -> Response {
    let paging = match paging(&sources, &headers, query) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let visible = sources.a_grade_visible_at(sources.now());
    let from = paging.since.map_or(0, |t| sources.a_grade_first_after(t)).min(visible);
    page_of(&paging, visible, from, |j| sources.tax_a(j))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::super::serve;
    use super::super::tests::{client, moving};
    use super::*;
    use crate::sim::sandbox::departments::DEFAULT_TAX_TOKEN;

    #[test]
    fn a_grade_records_name_firms_of_the_demo_files_once_each() {
        let s = DepartmentSources::fixed(5, 600).with_bad_share(0.1);
        let n = s.a_grade_visible_at(s.now());
        assert_eq!(n, 120);
        let mut codes = std::collections::BTreeSet::new();
        for j in 0..n {
            let a = s.tax_a(j);
            assert_eq!(a.bad.is_some(), s.is_bad(j));
            assert_eq!(
                crate::ids::CreditCode::parse(&a.nsrsbh).is_ok(),
                a.bad != Some(BadKind::WrongCheckChar),
                "{a:?}"
            );
            assert_eq!(a.nsrmc.is_empty(), a.bad == Some(BadKind::MissingRequired));
            let fbrq = crate::transform::parse_date(&a.fbrq);
            assert_eq!(fbrq.is_ok(), a.bad != Some(BadKind::BadDate), "{}", a.fbrq);
            if let Ok(d) = fbrq {
                assert!(d <= s.a_grade_updated_at(j).date() && d.year() == a.pjnd + 1, "{a:?}");
            }
            assert!(a.bad.is_some() || codes.insert(a.nsrsbh.clone()), "graded twice: {a:?}");
        }
        let demo: std::collections::BTreeSet<String> = (0..A_GRADE_FILES)
            .flat_map(|f| (0..200).filter_map(move |n| sample::company(DEMO_SEED + f, n)))
            .map(|c| c.credit_code)
            .collect();
        assert!(codes.iter().filter(|c| demo.contains(*c)).count() > 90, "the demo's firms");
    }

    #[tokio::test]
    async fn a_grade_pages_with_since_hold_only_what_is_new() {
        let (sources, clock) = moving(100);
        let server = serve("127.0.0.1:0".parse().unwrap(), sources.clone()).await.unwrap();
        let base = server.base_url();
        let get = |q: String| {
            let url = format!("{base}/tax/api/a-grade?{q}");
            async move {
                let r = client().get(url).bearer_auth(DEFAULT_TAX_TOKEN).send().await.expect("request");
                assert_eq!(r.status(), 200);
                r.json::<serde_json::Value>().await.expect("json")
            }
        };
        let all = get("page=1&size=100".into()).await;
        assert_eq!(all["data"]["total"], 20);
        assert_eq!(all["data"]["items"][3], serde_json::to_value(sources.tax_a(3)).unwrap());
        let page = get("page=2&size=8".into()).await;
        let ids: Vec<u64> =
            page["data"]["items"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, (9..=16).collect::<Vec<_>>());
        let since = sources.tax_a(19).updated_at;
        assert_eq!(get(format!("since={since}")).await["data"]["total"], 0);
        clock.fetch_add(10 * 10, Ordering::SeqCst);
        let new = get(format!("since={since}")).await;
        let ids: Vec<u64> =
            new["data"]["items"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, [21, 22], "ten timeline records later, two new A-grade records");
        let r = client().get(format!("{base}/tax/api/a-grade")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        server.shutdown().await.unwrap();
    }
}
