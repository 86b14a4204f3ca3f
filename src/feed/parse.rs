//! A feed page and its records, checked like any source. Pure: bytes in, records and
//! rejections out; a bad record is data (a [`Rejected`] with a Chinese reason), never an error
//! that stops the page.
//!
//! JSON page: `{"records":[{"id","item","operation","status","region","repair","data":{FIELD:
//! value}}],"next_cursor":"…","more":true}`. XML page: `<Feed next="…" more="true"><Record id
//! item operation status region repair><FIELD>value</FIELD>…</Record></Feed>`. `operation` is
//! 新增/变更/撤销/删除 (or add/update/withdraw/delete); `status` the publicity status (0 normal,
//! 1 withdrawn, 2 deleted; by default what the operation implies); `region` the deciding
//! authority's division, else taken from its credit code (positions 3–8, SPEC §3); `sector`
//! the platform's 领域, optional (`crate::sector` decides the record's).

use serde_json::{Map, Value};

use super::route::Divisions;
use crate::catalogue::Catalogue;
use crate::problem::Severity;

/// 新增, 变更, 撤销, 删除 (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Add,
    Update,
    Withdraw,
    Delete,
}

impl Operation {
    pub fn parse(s: &str) -> Option<Operation> {
        match s.trim() {
            "新增" | "add" | "I" => Some(Operation::Add),
            "变更" | "update" | "U" => Some(Operation::Update),
            "撤销" | "withdraw" | "W" => Some(Operation::Withdraw),
            "删除" | "delete" | "D" => Some(Operation::Delete),
            _ => None,
        }
    }

    /// As the outbox and the packages spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Add => "add",
            Operation::Update => "update",
            Operation::Withdraw => "withdraw",
            Operation::Delete => "delete",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Operation::Add => "新增",
            Operation::Update => "变更",
            Operation::Withdraw => "撤销",
            Operation::Delete => "删除",
        }
    }

    /// The publicity status the operation leaves: 0 normal, 1 withdrawn, 2 deleted.
    pub fn publicity(self) -> i64 {
        match self {
            Operation::Add | Operation::Update => 0,
            Operation::Withdraw => 1,
            Operation::Delete => 2,
        }
    }
}

/// One feed record, checked and made ready for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRecord {
    /// The platform's own id, for messages.
    pub source_id: Option<String>,
    pub item: String,
    pub operation: Operation,
    pub publicity: i64,
    /// Today's division code of the deciding authority.
    pub region: String,
    /// The record's sector (领域) by `config/sectors.toml`; a withdrawal or deletion, carrying
    /// only its key, mostly has none here and keeps its record's (`feed::pull`).
    pub sector: Option<String>,
    /// A 信用修复 result: it withdraws our matching penalty where it was published.
    pub repair: bool,
    pub business_key: String,
    /// The document number (决定文书号, the key's first part), to match a repair by.
    pub document_number: Option<String>,
    /// The field that holds it (`CF_WSH`).
    pub document_field: Option<String>,
    pub content: String,
    pub content_hash: String,
}

/// A record refused, and why (in Chinese, for ops staff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Index in the page, from 0.
    pub position: usize,
    pub source_id: Option<String>,
    pub reason: String,
    pub raw: String,
}

/// A page: its records, the refused ones, and where the next page starts.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub records: Vec<FeedRecord>,
    pub rejected: Vec<Rejected>,
    pub next_cursor: Option<String>,
    pub more: bool,
}

/// Why a page is not a feed page at all (a bad record in it is a [`Rejected`], not this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("expected a JSON object")]
    NotAnObject,
    #[error("expected a `records` array")]
    NoRecords,
    #[error("not well-formed XML: {0}")]
    NotXml(String),
    #[error("expected a <Feed> element")]
    NoFeedElement,
}

impl PageError {
    /// The reason in Chinese, for the feed's health on the dashboard.
    pub fn zh(&self) -> String {
        match self {
            PageError::NotJson(detail) => format!("数据页不是有效的 JSON（{detail}）"),
            PageError::NotAnObject => "数据页应为 JSON 对象".to_string(),
            PageError::NoRecords => "数据页缺少 records 数组".to_string(),
            PageError::NotXml(detail) => format!("数据页不是格式正确的 XML（{detail}）"),
            PageError::NoFeedElement => "数据页缺少 <Feed> 元素".to_string(),
        }
    }
}

/// What a record is checked against.
pub struct Checker<'a> {
    pub catalogue: &'a Catalogue,
    pub divisions: &'a Divisions,
    /// The items the feed carries.
    pub items: &'a [String],
    /// Sectors, for routing by 领域 (`config/sectors.toml`).
    pub sectors: &'a crate::sector::Sectors,
}

/// Parses a JSON page. Only a page that is not a feed page at all is an error.
pub fn json_page(body: &[u8], checker: &Checker<'_>) -> Result<Page, PageError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| PageError::NotJson(e.to_string()))?;
    let Value::Object(mut page) = v else { return Err(PageError::NotAnObject) };
    let Some(Value::Array(records)) = page.remove("records") else {
        return Err(PageError::NoRecords);
    };
    let next_cursor = match page.remove("next_cursor") {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let more = matches!(page.get("more"), Some(Value::Bool(true)));
    Ok(checked(records, next_cursor, more, checker))
}

/// Parses an XML page into the same records as [`json_page`].
pub fn xml_page(body: &[u8], checker: &Checker<'_>) -> Result<Page, PageError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let (mut next_cursor, mut more, mut seen_feed) = (None, false, false);
    let mut records = Vec::new();
    let mut current: Option<(Map<String, Value>, Map<String, Value>)> = None;
    let mut element: Option<String> = None;
    let mut text = String::new();
    let attrs = |e: &quick_xml::events::BytesStart<'_>| -> Result<Vec<(String, String)>, PageError> {
        let mut out = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| PageError::NotXml(e.to_string()))?;
            let v =
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| PageError::NotXml(e.to_string()))?;
            out.push((AsRef::<str>::as_ref(&a.key.local_name()).to_string(), v.into_owned()));
        }
        Ok(out)
    };
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| PageError::NotXml(e.to_string()))? {
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let (e, empty) = match &ev {
                    Event::Start(e) => (e, false),
                    Event::Empty(e) => (e, true),
                    _ => unreachable!("matched above"),
                };
                let name = AsRef::<str>::as_ref(&e.local_name()).to_string();
                match name.as_str() {
                    "Feed" => {
                        seen_feed = true;
                        for (k, v) in attrs(e)? {
                            match k.as_str() {
                                "next" if !v.is_empty() => next_cursor = Some(v),
                                "more" => more = v == "true",
                                _ => {}
                            }
                        }
                    }
                    "Record" => {
                        let mut head = Map::new();
                        for (k, v) in attrs(e)? {
                            let v = if k == "repair" { Value::Bool(v == "true" || v == "1") } else { Value::String(v) };
                            head.insert(k, v);
                        }
                        if empty {
                            head.insert("data".into(), Value::Object(Map::new()));
                            records.push(Value::Object(head));
                        } else {
                            current = Some((head, Map::new()));
                        }
                    }
                    _ if !empty => {
                        element = Some(name);
                        text.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t),
            Event::GeneralRef(r) => crate::format::push_reference(&mut text, &r),
            Event::End(e) => {
                let name = AsRef::<str>::as_ref(&e.local_name()).to_string();
                if name == "Record" {
                    if let Some((mut head, data)) = current.take() {
                        head.insert("data".into(), Value::Object(data));
                        records.push(Value::Object(head));
                    }
                } else if let (Some(el), Some((_, data))) = (element.take(), current.as_mut()) {
                    data.insert(el, Value::String(text.trim().to_string()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_feed {
        return Err(PageError::NoFeedElement);
    }
    Ok(checked(records, next_cursor, more, checker))
}

fn checked(records: Vec<Value>, next_cursor: Option<String>, more: bool, checker: &Checker<'_>) -> Page {
    let mut page = Page { next_cursor, more, ..Page::default() };
    for (position, raw) in records.into_iter().enumerate() {
        match check_record(&raw, checker) {
            Ok(r) => page.records.push(r),
            Err(refusal) => page.rejected.push(Rejected {
                position,
                source_id: source_id(&raw),
                reason: refusal.zh(),
                raw: raw.to_string(),
            }),
        }
    }
    page
}

fn source_id(raw: &Value) -> Option<String> {
    match raw.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Checks one record; why it is refused ([`Refusal::zh`] is what `feed_rejects` keeps).
pub fn check_record(raw: &Value, checker: &Checker<'_>) -> Result<FeedRecord, Refusal> {
    let Value::Object(obj) = raw else { return Err(Refusal::NotAnObject) };
    let item_code = obj.get("item").and_then(text).ok_or(Refusal::NoItem)?;
    let item = checker.catalogue.item(&item_code).ok_or_else(|| Refusal::UnknownItem(item_code.clone()))?;
    if !checker.items.contains(&item_code) {
        return Err(Refusal::ItemNotInFeed(item_code));
    }
    let op_text = obj.get("operation").and_then(text).ok_or(Refusal::NoOperation)?;
    let operation = Operation::parse(&op_text).ok_or_else(|| Refusal::UnknownOperation(op_text.clone()))?;
    let publicity = match obj.get("status").and_then(text) {
        None => operation.publicity(),
        Some(s) => match s.as_str() {
            "0" | "1" | "2" => s.parse::<i64>().expect("one digit"),
            _ => return Err(Refusal::UnknownPublicity(s)),
        },
    };
    if publicity != operation.publicity() {
        return Err(Refusal::PublicityMismatch { operation, publicity });
    }
    let repair = matches!(obj.get("repair"), Some(Value::Bool(true)));
    if repair && operation != Operation::Withdraw {
        return Err(Refusal::RepairNotWithdrawal(operation));
    }
    let Some(Value::Object(data)) = obj.get("data") else { return Err(Refusal::NoData) };
    let mut values: Vec<Option<String>> = vec![None; item.fields.len()];
    let mut unknown = Vec::new();
    for (key, v) in data {
        match item.field_index(key) {
            Some(i) => values[i] = text(v),
            None => unknown.push(key.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(Refusal::UnknownFields { item: item.name.clone(), fields: unknown });
    }
    match operation {
        // New and changed records are checked in full, like any department's row.
        Operation::Add | Operation::Update => {
            let mut problems = Vec::new();
            crate::catalogue::validate::validate(
                checker.catalogue,
                item,
                &values,
                &vec![false; values.len()],
                &mut problems,
            );
            let errors: Vec<String> = problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .map(|p| match p.field {
                    Some(i) => format!("{}（{}）：{}", item.fields[i].name, item.fields[i].key, p.reason),
                    None => p.reason.clone(),
                })
                .collect();
            if !errors.is_empty() {
                return Err(Refusal::Invalid(errors));
            }
        }
        // A withdrawal or deletion needs only what names the record.
        Operation::Withdraw | Operation::Delete => {
            let missing: Vec<String> = item
                .key
                .iter()
                .filter(|part| part.iter().all(|&i| values[i].is_none()))
                .map(|part| part.iter().map(|&i| item.fields[i].key.as_str()).collect::<Vec<_>>().join("|"))
                .collect();
            if !missing.is_empty() {
                return Err(Refusal::KeyMissing { operation, fields: missing });
            }
        }
    }
    let prepared = crate::record::prepare(item, &values, 0, None);
    let region = match obj.get("region").and_then(text) {
        Some(r) if r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit()) => r,
        Some(r) => return Err(Refusal::BadRegion(r)),
        None => prepared.region.clone().ok_or_else(|| Refusal::NoRegion {
            authority: item.authority_code.map(|i| (item.fields[i].name.clone(), item.fields[i].key.clone())),
        })?,
    };
    // The platform's own 领域 beside the record, like `region`; a word we do not know is left
    // to the rules rather than refusing a record that is otherwise good.
    let explicit = obj.get("sector").and_then(text);
    let sector = checker.sectors.of(item, &values, explicit.as_deref()).map(str::to_string);
    Ok(FeedRecord {
        source_id: source_id(raw),
        item: item.code.clone(),
        operation,
        publicity,
        region: checker.divisions.current(&region).to_string(),
        sector,
        repair,
        business_key: prepared.business_key,
        document_number: item.key.first().and_then(|part| part.iter().find_map(|&i| values[i].clone())),
        document_field: item.key.first().and_then(|part| part.first()).map(|&i| item.fields[i].key.clone()),
        content: prepared.content,
        content_hash: prepared.content_hash,
    })
}

/// Why a feed record is refused; the feed goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the record is not a JSON object")]
    NotAnObject,
    #[error("no `item`")]
    NoItem,
    #[error("item {0} is not in the catalogue")]
    UnknownItem(String),
    #[error("this feed does not carry item {0}")]
    ItemNotInFeed(String),
    #[error("no `operation`")]
    NoOperation,
    #[error("unknown operation {0:?}")]
    UnknownOperation(String),
    #[error("unknown publicity status {0:?}")]
    UnknownPublicity(String),
    #[error("operation {operation:?} does not go with publicity status {publicity}")]
    PublicityMismatch { operation: Operation, publicity: i64 },
    #[error("a repair result must be a withdrawal, not {0:?}")]
    RepairNotWithdrawal(Operation),
    #[error("no `data`")]
    NoData,
    #[error("{item} has no fields {fields:?}")]
    UnknownFields { item: String, fields: Vec<String> },
    /// The catalogue's checks, each already in Chinese (`名称（KEY）：原因`).
    #[error("fails the catalogue's checks: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("a {operation:?} needs business key fields {fields:?}")]
    KeyMissing { operation: Operation, fields: Vec<String> },
    #[error("region {0:?} is not 6 digits")]
    BadRegion(String),
    /// No `region`, and the authority's code (name, key) gives none either.
    #[error("no region, and none from the authority's credit code")]
    NoRegion { authority: Option<(String, String)> },
}

impl Refusal {
    /// The reason in Chinese, for the platform's operator reading `feed_rejects`.
    pub fn zh(&self) -> String {
        match self {
            Refusal::NotAnObject => "记录不是 JSON 对象".into(),
            Refusal::NoItem => "缺少信息类别（item）".into(),
            Refusal::UnknownItem(code) => format!("信息类别 {code} 不在目录中"),
            Refusal::ItemNotInFeed(code) => format!("本订阅不含信息类别 {code}"),
            Refusal::NoOperation => "缺少操作类型（operation）".into(),
            Refusal::UnknownOperation(op) => format!("操作类型「{op}」无法识别（应为 新增、变更、撤销 或 删除）"),
            Refusal::UnknownPublicity(s) => format!("公示状态「{s}」无法识别（应为 0 正常、1 撤销、2 删除）"),
            Refusal::PublicityMismatch { operation, publicity } => {
                format!("操作类型「{}」与公示状态 {publicity} 不一致", operation.zh())
            }
            Refusal::RepairNotWithdrawal(operation) => {
                format!("信用修复结果的操作类型应为「撤销」，实为「{}」", operation.zh())
            }
            Refusal::NoData => "缺少记录内容（data）".into(),
            Refusal::UnknownFields { item, fields } => format!("{item} 没有字段 {}", fields.join("、")),
            Refusal::Invalid(errors) => errors.join("；"),
            Refusal::KeyMissing { operation, fields } => {
                format!("{}须带业务主键字段 {}", operation.zh(), fields.join("、"))
            }
            Refusal::BadRegion(r) => format!("区域代码「{r}」应为 6 位数字"),
            Refusal::NoRegion { authority: Some((name, key)) } => {
                format!("无法确定管辖区域：缺少区域代码（region），且{name}（{key}）不是有效的统一社会信用代码")
            }
            Refusal::NoRegion { authority: None } => "无法确定管辖区域：缺少区域代码（region）".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// The shipped catalogue and Hangzhou's division table (it has merged districts).
    struct Shipped {
        catalogue: Catalogue,
        divisions: Divisions,
        sectors: crate::sector::Sectors,
    }

    fn settings() -> Shipped {
        Shipped {
            catalogue: crate::catalogue::shipped_for_tests(),
            divisions: crate::feed::route::hangzhou_for_tests(),
            sectors: crate::sector::shipped_for_tests(),
        }
    }

    /// 上城区 authority and subject (valid check characters).
    fn data() -> Value {
        serde_json::json!({
            "CF_XDR_MC": "杭州测试有限公司", "CF_XDR_LB": "法人及非法人组织", "CF_XDR_SHXYM": code("91", 5001),
            "CF_FRDB": "张三", "CF_WSH": "杭市监罚〔2026〕1号", "CF_WFXW": "未按规定公示年度报告",
            "CF_SY": "违反规定", "CF_YJ": "第十八条", "CF_CFLB": "01", "CF_NR": "警告", "CF_JDRQ": "2026-11-02",
            "CF_YXQ": "2027-11-02", "CF_GSJZQ": "2027-11-02", "CF_CFJG": "杭州市上城区市场监督管理局",
            "CF_CFJGDM": code("11", 101), "CF_SJLY": "杭州市上城区市场监督管理局", "CF_SJLYDM": code("11", 101),
        })
    }

    fn code(kind: &str, n: u32) -> String {
        let org8 = format!("{:08}", 10_000_000 + n);
        let org = format!("{org8}{}", crate::ids::org_code_check_char(&org8).unwrap());
        let first17 = format!("{kind}330104{org}");
        format!("{first17}{}", crate::ids::credit_code_check_char(&first17).unwrap())
    }

    fn check(record: Value) -> Result<FeedRecord, Refusal> {
        let s = settings();
        let items = vec!["CF".to_string()];
        check_record(
            &record,
            &Checker { catalogue: &s.catalogue, divisions: &s.divisions, items: &items, sectors: &s.sectors },
        )
    }

    #[test]
    fn operations_imply_their_publicity_status() {
        for (op, publicity) in [("新增", 0), ("变更", 0), ("撤销", 1), ("删除", 2), ("delete", 2)] {
            let r = check(serde_json::json!({"item": "CF", "operation": op, "data": data()})).unwrap();
            assert_eq!(r.publicity, publicity, "{op}");
        }
    }

    #[test]
    fn the_region_comes_from_the_authority_code_after_renames() {
        // The authority's code says 330104 (江干区), merged into 上城区 (330102).
        let r = check(serde_json::json!({"item": "CF", "operation": "新增", "data": data()})).unwrap();
        assert_eq!(r.region, "330102");
        let r =
            check(serde_json::json!({"item": "CF", "operation": "新增", "region": "330106", "data": data()})).unwrap();
        assert_eq!(r.region, "330106", "an explicit region wins");
        assert_eq!(r.document_number.as_deref(), Some("杭市监罚〔2026〕1号"));
        assert_eq!(r.document_field.as_deref(), Some("CF_WSH"));
    }

    #[test]
    fn bad_records_are_refused_with_a_reason_in_chinese() {
        let mut no_authority = data();
        no_authority["CF_CFJGDM"] = "not a code".into();
        let mut extra = data();
        extra["CF_COLOUR"] = "red".into();
        let cases = [
            (serde_json::json!({"operation": "新增", "data": data()}), "缺少信息类别（item）"),
            (serde_json::json!({"item": "XK", "operation": "新增", "data": data()}), "本订阅不含信息类别 XK"),
            (
                serde_json::json!({"item": "CF", "operation": "新增", "status": 7, "data": data()}),
                "公示状态「7」无法识别",
            ),
            (
                serde_json::json!({"item": "CF", "operation": "新增", "repair": true, "data": data()}),
                "信用修复结果的操作类型应为「撤销」",
            ),
            (serde_json::json!({"item": "CF", "operation": "新增"}), "缺少记录内容（data）"),
            (serde_json::json!({"item": "CF", "operation": "新增", "data": extra}), "没有字段 CF_COLOUR"),
            (serde_json::json!({"item": "CF", "operation": "删除", "data": {"CF_WSH": "1号"}}), "删除须带业务主键字段"),
            (serde_json::json!({"item": "CF", "operation": "新增", "data": no_authority}), "处罚机关统一社会信用代码"),
        ];
        for (record, expected) in cases {
            let reason = check(record.clone()).expect_err(&record.to_string()).zh();
            assert!(reason.contains(expected), "{record}: {reason}");
        }
    }

    #[test]
    fn json_and_xml_pages_give_the_same_records() {
        let s = settings();
        let items = vec!["CF".to_string()];
        let checker = Checker { catalogue: &s.catalogue, divisions: &s.divisions, items: &items, sectors: &s.sectors };
        let json = serde_json::json!({"records": [{"id": "P1", "item": "CF", "operation": "新增", "sector": "应急管理", "data": data()}],
            "next_cursor": "1", "more": false});
        let from_json = json_page(json.to_string().as_bytes(), &checker).unwrap();
        let mut xml = String::from(
            "<Feed next=\"1\" more=\"false\"><Record id=\"P1\" item=\"CF\" operation=\"新增\" sector=\"应急管理\">",
        );
        for (k, v) in data().as_object().unwrap() {
            xml.push_str(&format!("<{k}>{}</{k}>", quick_xml::escape::escape(v.as_str().unwrap())));
        }
        xml.push_str("</Record></Feed>");
        let from_xml = xml_page(xml.as_bytes(), &checker).unwrap();
        assert_eq!(from_json.records, from_xml.records);
        assert_eq!(from_xml.records[0].sector.as_deref(), Some("安全生产"), "the platform's word, by alias");
        assert_eq!((from_xml.next_cursor.as_deref(), from_xml.more), (Some("1"), false));
        assert!(json_page(b"[1, 2]", &checker).is_err(), "not a page");
        assert!(xml_page(b"<Other/>", &checker).is_err(), "not a feed");
    }
}
