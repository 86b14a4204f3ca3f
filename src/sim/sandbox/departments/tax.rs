//! 税务 欠税信息: the tax system's JSON API (`GET /tax/api/arrears`, page-numbered, bearer
//! token, `since` on `updated_at`; its paging also serves [`super::tax_a_grade`]) and the records
//! it serves: 纳税人, 税种, 欠税金额 as clerks' systems print amounts and dates, 税款所属期 before
//! the 认定日期.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime};
use serde::Serialize;
use serde_json::json;

use super::city::{
    CITY_CODE, REGIONS, amount_cents, authority_code, break_check_char, firm_name, impossible_date, push_credit_code,
    shop_name,
};
use super::{API_TIMESTAMP, ApiQuery, BadKind, DEFAULT_PAGE_SIZE, DepartmentSources, TAX, number, parse_since};
use crate::ids::CREDIT_ALPHABET;
use crate::sim::fake::Rng;

/// The tax API's bearer token unless [`DepartmentSources::with_tax_token`] says otherwise.
pub const DEFAULT_TAX_TOKEN: &str = "sandbox-tax-token";
/// The tax API refuses larger pages (400), as real ones do: silently shorter pages would end
/// a page-numbered sweep early.
pub const TAX_MAX_PAGE_SIZE: u64 = 1_000;

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

impl DepartmentSources {
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
}

pub(super) async fn tax_arrears(
    State(sources): State<Arc<DepartmentSources>>,
    headers: HeaderMap,
    query: Result<Query<ApiQuery>, QueryRejection>,
) -> Response {
    let paging = match paging(&sources, &headers, query) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let visible = sources.visible_at(sources.now());
    let from = paging.since.map_or(0, |t| sources.first_after(t)).min(visible);
    page_of(&paging, visible, from, |i| sources.tax(i))
}

/// A request's page, size and `since`, once its token is right.
pub(super) struct Paging {
    page: u64,
    size: u64,
    pub(super) since: Option<NaiveDateTime>,
}

/// The token and query checks every tax endpoint makes; a refusal is the answer to send (boxed:
/// a response is large beside a `Paging`).
pub(super) fn paging(
    sources: &DepartmentSources,
    headers: &HeaderMap,
    query: Result<Query<ApiQuery>, QueryRejection>,
) -> Result<Paging, Box<Response>> {
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
        return Err(Box::new(response));
    }
    let Ok(Query(q)) = query else {
        return Err(Box::new(tax_error(StatusCode::BAD_REQUEST, "查询参数无法解析")));
    };
    let page = match number(q.page.as_deref(), 1) {
        Some(p) if p >= 1 => p,
        _ => return Err(Box::new(tax_error(StatusCode::BAD_REQUEST, "page 应为从 1 开始的页码"))),
    };
    let size = match number(q.size.as_deref(), DEFAULT_PAGE_SIZE) {
        Some(s) if (1..=TAX_MAX_PAGE_SIZE).contains(&s) => s,
        _ => return Err(Box::new(tax_error(StatusCode::BAD_REQUEST, &format!("size 应为 1 到 {TAX_MAX_PAGE_SIZE}")))),
    };
    let since = match q.since.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(parse_since) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            return Err(Box::new(tax_error(StatusCode::BAD_REQUEST, "since 应为时间，如 2024-03-01T10:00:00")));
        }
    };
    Ok(Paging { page, size, since })
}

/// The page of records `from..visible` the request asks for, in the tax system's envelope.
pub(super) fn page_of<T: Serialize>(paging: &Paging, visible: u64, from: u64, record: impl Fn(u64) -> T) -> Response {
    let Paging { page, size, .. } = *paging;
    let first = from.saturating_add((page - 1).saturating_mul(size)).min(visible);
    let last = first.saturating_add(size).min(visible);
    let items: Vec<T> = (first..last).map(record).collect();
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
pub(super) fn date_in_style(rng: &mut Rng, d: NaiveDate) -> String {
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
    use std::sync::atomic::Ordering;

    use super::super::serve;
    use super::super::tests::{backlog_end, client, moving};
    use super::*;

    #[test]
    fn amounts_are_written_as_systems_do() {
        assert_eq!(thousands(1_234_560), "12,345.60");
        assert_eq!(thousands(99_900), "999.00");
        assert_eq!(thousands(12_345_678_901), "123,456,789.01");
        assert_eq!(plain_amount(5), "0.05");
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
}
