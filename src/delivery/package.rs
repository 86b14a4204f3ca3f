//! Wire formats: the JSON package, the GB/T 39443-style XML data package (written with
//! quick-xml), their per-record receipts, and the package signature.
//!
//! JSON: `{"package_id","item","sender_code","sender_name","created_at","records":[{"key",
//! "operation","business_key","data":{…}}]}` → `{"package_id","receipts":[{"key","status",
//! "rule","reason"}]}`. XML: `<DataPackage><Header>…</Header><Body><Record key operation
//! businessKey><FIELD>value</FIELD>…</Record></Body></DataPackage>` → `<Receipt><PackageId/>
//! <Result key status rule>reason</Result></Receipt>`. A record absent from the receipts was not
//! processed.

use std::io::Write as _;

use std::borrow::Cow;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Why a package could not be built, or an answer is not a receipt.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("record {key}: stored content is not JSON: {source}")]
    Content { key: String, source: serde_json::Error },
    #[error("not a receipt answer: {0}")]
    JsonReceipt(serde_json::Error),
    #[error("receipt is not well-formed XML: {0}")]
    XmlReceipt(String),
    #[error("receipt status {0:?}")]
    ReceiptStatus(Option<String>),
    #[error("the platform refused the package: {0}")]
    Refused(String),
}

impl PackageError {
    /// The reason in Chinese, for the dashboard's delivery list.
    pub fn zh(&self) -> String {
        match self {
            PackageError::Content { key, .. } => format!("记录 {key} 的存储内容不是有效的 JSON"),
            PackageError::JsonReceipt(_) => "平台应答不是有效的 JSON 回执".to_string(),
            PackageError::XmlReceipt(_) => "平台回执不是格式正确的 XML".to_string(),
            PackageError::ReceiptStatus(s) => format!("回执状态无法识别：{}", s.as_deref().unwrap_or("（缺失）")),
            PackageError::Refused(reason) => format!("平台拒收整个数据包：{reason}"),
        }
    }
}

/// One record of a package. `content` is the record's canonical JSON object.
#[derive(Debug, Clone, Copy)]
pub struct PackageRecord<'a> {
    pub key: &'a str,
    pub operation: &'a str,
    pub business_key: &'a str,
    pub content: &'a str,
}

#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub package_id: &'a str,
    pub item: &'a str,
    pub sender_code: &'a str,
    pub sender_name: &'a str,
    pub created_at: &'a str,
}

/// The JSON package as it is on the wire: written by the JSON and folder adapters, read by
/// the sandbox platform. Text borrows from what it is built from (or parsed from, when it
/// holds no escapes).
#[derive(Debug, Serialize, Deserialize)]
pub struct JsonPackage<'a> {
    #[serde(borrow)]
    pub package_id: Cow<'a, str>,
    /// The catalogue item: one package carries one item.
    #[serde(borrow)]
    pub item: Cow<'a, str>,
    #[serde(borrow, default)]
    pub sender_code: Cow<'a, str>,
    #[serde(borrow, default)]
    pub sender_name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub created_at: Cow<'a, str>,
    #[serde(borrow)]
    pub records: Vec<JsonRecord<'a>>,
}

/// One record of the JSON package; `data` is the record's content object, as stored.
#[derive(Debug, Serialize, Deserialize)]
pub struct JsonRecord<'a> {
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    #[serde(borrow)]
    pub operation: Cow<'a, str>,
    #[serde(borrow, default)]
    pub business_key: Cow<'a, str>,
    #[serde(borrow)]
    pub data: &'a RawValue,
}

impl<'a> JsonPackage<'a> {
    /// The package of `records`; their content goes in as stored (it is canonical JSON already).
    pub fn new(header: &Header<'a>, records: &[PackageRecord<'a>]) -> Result<JsonPackage<'a>, PackageError> {
        let records = records
            .iter()
            .map(|r| {
                let data = serde_json::from_str::<&RawValue>(r.content)
                    .map_err(|source| PackageError::Content { key: r.key.to_string(), source })?;
                Ok(JsonRecord {
                    key: r.key.into(),
                    operation: r.operation.into(),
                    business_key: r.business_key.into(),
                    data,
                })
            })
            .collect::<Result<_, PackageError>>()?;
        Ok(JsonPackage {
            package_id: header.package_id.into(),
            item: header.item.into(),
            sender_code: header.sender_code.into(),
            sender_name: header.sender_name.into(),
            created_at: header.created_at.into(),
            records,
        })
    }

    /// A package read from its bytes.
    pub fn parse(body: &'a [u8]) -> Result<JsonPackage<'a>, serde_json::Error> {
        serde_json::from_slice(body)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a package of strings and JSON values serialises")
    }
}

/// The JSON package's bytes.
pub fn json_package(header: &Header<'_>, records: &[PackageRecord<'_>]) -> Result<Vec<u8>, PackageError> {
    Ok(JsonPackage::new(header, records)?.to_bytes())
}

/// The XML data package: header (package id, type, sender, record count, timestamp), body.
pub fn xml_package(header: &Header<'_>, records: &[PackageRecord<'_>]) -> Vec<u8> {
    let mut w = quick_xml::Writer::new(Vec::with_capacity(512 + records.len() * 1024));
    let io = "writing to a Vec cannot fail";
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect(io);
    w.write_event(Event::Start(BytesStart::new("DataPackage"))).expect(io);
    w.write_event(Event::Start(BytesStart::new("Header"))).expect(io);
    let count = records.len().to_string();
    for (name, value) in [
        ("PackageId", header.package_id),
        ("PackageType", header.item),
        ("SenderCode", header.sender_code),
        ("SenderName", header.sender_name),
        ("RecordCount", count.as_str()),
        ("Timestamp", header.created_at),
    ] {
        text_element(&mut w, name, value);
    }
    w.write_event(Event::End(BytesEnd::new("Header"))).expect(io);
    w.write_event(Event::Start(BytesStart::new("Body"))).expect(io);
    for r in records {
        let start = BytesStart::new("Record").with_attributes([
            ("key", r.key),
            ("operation", r.operation),
            ("businessKey", r.business_key),
        ]);
        w.write_event(Event::Start(start)).expect(io);
        // Stored content is a flat object of strings; anything else is written as JSON text.
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(r.content) {
            for (name, value) in &fields {
                match value {
                    serde_json::Value::String(s) => text_element(&mut w, name, s),
                    other => text_element(&mut w, name, &other.to_string()),
                }
            }
        }
        w.write_event(Event::End(BytesEnd::new("Record"))).expect(io);
    }
    w.write_event(Event::End(BytesEnd::new("Body"))).expect(io);
    w.write_event(Event::End(BytesEnd::new("DataPackage"))).expect(io);
    let mut out = w.into_inner();
    let _ = out.write_all(b"\n");
    out
}

fn text_element(w: &mut quick_xml::Writer<Vec<u8>>, name: &str, value: &str) {
    let io = "writing to a Vec cannot fail";
    w.write_event(Event::Start(BytesStart::new(name))).expect(io);
    w.write_event(Event::Text(BytesText::new(value))).expect(io);
    w.write_event(Event::End(BytesEnd::new(name))).expect(io);
}

/// `X-Signature`: keyed BLAKE3 of the body, with a key derived from the shared secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = blake3::derive_key("credit-gateway package signature v1", secret.as_bytes());
    blake3::keyed_hash(&key, body).to_hex().to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptStatus {
    Accepted,
    Returned,
}

/// The platform's word on one record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Receipt {
    pub key: String,
    pub status: ReceiptStatus,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct JsonReceipts {
    #[serde(default)]
    package_id: Option<String>,
    receipts: Vec<Receipt>,
}

/// Receipts of a JSON answer, and the package they are for.
pub fn json_receipts(body: &[u8]) -> Result<(Option<String>, Vec<Receipt>), PackageError> {
    let r: JsonReceipts = serde_json::from_slice(body).map_err(PackageError::JsonReceipt)?;
    Ok((r.package_id, r.receipts))
}

/// Receipts of an XML answer (`<Receipt>`), or the `<Error>` the platform gave for the whole
/// package.
pub fn xml_receipts(body: &[u8]) -> Result<(Option<String>, Vec<Receipt>), PackageError> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut package_id: Option<String> = None;
    let mut receipts = Vec::new();
    let mut open: Option<Receipt> = None;
    let mut text = String::new();
    let mut in_element: Option<&'static str> = None;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| PackageError::XmlReceipt(e.to_string()))?;
        match event {
            Event::Empty(e) if e.local_name().as_ref() == "Result" => receipts.push(result_from(&e)?),
            Event::Start(e) if e.local_name().as_ref() == "Result" => {
                open = Some(result_from(&e)?);
                text.clear();
                in_element = Some("Result");
            }
            Event::Start(e) if e.local_name().as_ref() == "PackageId" => {
                text.clear();
                in_element = Some("PackageId");
            }
            Event::Start(e) if e.local_name().as_ref() == "Error" => {
                text.clear();
                in_element = Some("Error");
            }
            Event::Text(t) if in_element.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if in_element.is_some() => text.push_str(&t),
            Event::GeneralRef(r) if in_element.is_some() => crate::format::push_reference(&mut text, &r),
            Event::End(_) => match in_element.take() {
                Some("Result") => {
                    if let Some(mut r) = open.take() {
                        let reason = text.trim();
                        r.reason = (!reason.is_empty()).then(|| reason.to_string());
                        receipts.push(r);
                    }
                }
                Some("PackageId") => package_id = Some(text.trim().to_string()),
                Some("Error") => return Err(PackageError::Refused(text.trim().to_string())),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok((package_id, receipts))
}

fn result_from(e: &BytesStart<'_>) -> Result<Receipt, PackageError> {
    let mut r = Receipt { key: String::new(), status: ReceiptStatus::Returned, rule: None, reason: None };
    let mut status = None;
    for a in e.attributes().flatten() {
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| PackageError::XmlReceipt(e.to_string()))?
            .into_owned();
        match a.key.local_name().as_ref() {
            "key" => r.key = value,
            "status" => status = Some(value),
            "rule" => r.rule = Some(value),
            _ => {}
        }
    }
    r.status = match status.as_deref() {
        Some("accepted") => ReceiptStatus::Accepted,
        Some("returned") => ReceiptStatus::Returned,
        _ => return Err(PackageError::ReceiptStatus(status)),
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header<'static> {
        Header {
            package_id: "P1",
            item: "CF",
            sender_code: "11330100000000000X",
            sender_name: "示范市信用办",
            created_at: "2026-11-23T10:00:00Z",
        }
    }

    #[test]
    fn json_package_embeds_content_as_json() {
        let records = [PackageRecord {
            key: "1:1:provincial",
            operation: "add",
            business_key: "淮相市监处罚〔2024〕1号",
            content: r#"{"CF_XDR_MC":"A&B \"公司\""}"#,
        }];
        let body = json_package(&header(), &records).unwrap();
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            r#"{"package_id":"P1","item":"CF","sender_code":"11330100000000000X","sender_name":"示范市信用办","created_at":"2026-11-23T10:00:00Z","records":[{"key":"1:1:provincial","operation":"add","business_key":"淮相市监处罚〔2024〕1号","data":{"CF_XDR_MC":"A&B \"公司\""}}]}"#,
            "the bytes the hand-written package had"
        );
        let read = JsonPackage::parse(&body).unwrap();
        assert_eq!((read.item.as_ref(), read.records[0].business_key.as_ref()), ("CF", "淮相市监处罚〔2024〕1号"));
        assert_eq!(read.records[0].data.get(), records[0].content);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["records"][0]["data"]["CF_XDR_MC"], "A&B \"公司\"");
        assert_eq!(v["records"][0]["key"], "1:1:provincial");
        assert_eq!(v["sender_name"], "示范市信用办");
    }

    #[test]
    fn xml_package_escapes_and_counts() {
        let records = [
            PackageRecord {
                key: "k1",
                operation: "add",
                business_key: "b<1>",
                content: r#"{"CF_XDR_MC":"A&B<公司>"}"#,
            },
            PackageRecord { key: "k2", operation: "update", business_key: "b2", content: r#"{"CF_WSH":"x"}"# },
        ];
        let body = String::from_utf8(xml_package(&header(), &records)).unwrap();
        assert!(body.contains("<RecordCount>2</RecordCount>"), "{body}");
        assert!(body.contains("<CF_XDR_MC>A&amp;B&lt;公司&gt;</CF_XDR_MC>"), "{body}");
        assert!(body.contains(r#"<Record key="k1" operation="add" businessKey="b&lt;1&gt;">"#), "{body}");
    }

    #[test]
    fn receipts_in_both_formats() {
        let (id, r) = json_receipts(
            r#"{"package_id":"P1","receipts":[{"key":"a","status":"accepted"},{"key":"b","status":"returned","rule":"1001","reason":"主体不符"}]}"#
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(id.as_deref(), Some("P1"));
        assert_eq!(r[1].rule.as_deref(), Some("1001"));
        let xml = r#"<?xml version="1.0"?><Receipt><PackageId>P1</PackageId><Result key="a" status="accepted"/><Result key="b" status="returned" rule="1001">主体名称与统一社会信用代码不匹配 &amp; 其他</Result></Receipt>"#;
        let (id, r) = xml_receipts(xml.as_bytes()).unwrap();
        assert_eq!(id.as_deref(), Some("P1"));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], Receipt { key: "a".into(), status: ReceiptStatus::Accepted, rule: None, reason: None });
        assert_eq!(r[1].reason.as_deref(), Some("主体名称与统一社会信用代码不匹配 & 其他"));
        let err =
            xml_receipts(b"<Receipt><PackageId>P1</PackageId><Error>RecordCount wrong</Error></Receipt>").unwrap_err();
        assert!(matches!(&err, PackageError::Refused(r) if r == "RecordCount wrong"), "{err}");
        assert!(matches!(xml_receipts(br#"<Receipt><Result key="a" status="maybe"/></Receipt>"#),
            Err(PackageError::ReceiptStatus(Some(s))) if s == "maybe"));
        assert!(
            json_package(&header(), &[PackageRecord { key: "k", operation: "add", business_key: "b", content: "{" }])
                .is_err()
        );
    }

    #[test]
    fn signatures_depend_on_secret_and_body() {
        assert_eq!(signature("s", b"x"), signature("s", b"x"));
        assert_ne!(signature("s", b"x"), signature("t", b"x"));
        assert_ne!(signature("s", b"x"), signature("s", b"y"));
    }
}
