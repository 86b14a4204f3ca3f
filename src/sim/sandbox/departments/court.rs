//! 法院 失信被执行人: the court system's XML API (`GET /court/api/dishonest`, cursor-paged,
//! `X-Api-Key` header) and the records it serves: persons, shops and firms, 案号 and
//! 执行依据, 立案 before 发布.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Days};
use serde::Serialize;

use super::city::{
    CITY_CODE, REGIONS, authority_code, break_check_char, firm_name, impossible_date, person_name, push_credit_code,
    shop_name,
};
use super::{
    API_TIMESTAMP, ApiQuery, BadKind, COURT, DB_TIMESTAMP, DEFAULT_PAGE_SIZE, DepartmentSources, number, parse_since,
};
use crate::ids::{CREDIT_ALPHABET, ID_CHECK_SYMBOLS};
use crate::sim::fake::{Rng, push_id_number};

/// The court API's `X-Api-Key` unless [`DepartmentSources::with_court_key`] says otherwise.
pub const DEFAULT_COURT_KEY: &str = "sandbox-court-key";
/// The court API serves at most this many records per page; the cursor carries on.
pub const COURT_MAX_LIMIT: u64 = 500;

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

impl DepartmentSources {
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
}

pub(super) async fn court_dishonest(
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::Ordering;

    use super::super::serve;
    use super::super::tests::{backlog_end, client, moving};
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        let mut xml = String::new();
        push_element(&mut xml, "bzxrmc", "淮北市A&B<商贸>\"'\u{1}有限公司");
        assert_eq!(xml, "<bzxrmc>淮北市A&amp;B&lt;商贸&gt;&quot;&apos;有限公司</bzxrmc>");
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
}
