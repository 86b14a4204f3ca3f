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

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Deserialize;

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

fn json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// The JSON package. Record content is spliced in as stored: it is already canonical JSON.
pub fn json_package(header: &Header<'_>, records: &[PackageRecord<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + records.iter().map(|r| r.content.len() + 128).sum::<usize>());
    out.extend_from_slice(b"{\"package_id\":");
    json_str(&mut out, header.package_id);
    out.extend_from_slice(b",\"item\":");
    json_str(&mut out, header.item);
    out.extend_from_slice(b",\"sender_code\":");
    json_str(&mut out, header.sender_code);
    out.extend_from_slice(b",\"sender_name\":");
    json_str(&mut out, header.sender_name);
    out.extend_from_slice(b",\"created_at\":");
    json_str(&mut out, header.created_at);
    out.extend_from_slice(b",\"records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        json_str(&mut out, r.key);
        out.extend_from_slice(b",\"operation\":");
        json_str(&mut out, r.operation);
        out.extend_from_slice(b",\"business_key\":");
        json_str(&mut out, r.business_key);
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(r.content.as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
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
pub fn json_receipts(body: &[u8]) -> Result<(Option<String>, Vec<Receipt>), String> {
    let r: JsonReceipts = serde_json::from_slice(body).map_err(|e| format!("not a receipt answer: {e}"))?;
    Ok((r.package_id, r.receipts))
}

/// Receipts of an XML answer (`<Receipt>`), or the `<Error>` the platform gave for the whole
/// package.
pub fn xml_receipts(body: &[u8]) -> Result<(Option<String>, Vec<Receipt>), String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut package_id: Option<String> = None;
    let mut receipts = Vec::new();
    let mut open: Option<Receipt> = None;
    let mut text = String::new();
    let mut in_element: Option<&'static str> = None;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| format!("receipt is not well-formed XML: {e}"))?;
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
                Some("Error") => return Err(format!("the platform refused the package: {}", text.trim())),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok((package_id, receipts))
}

fn result_from(e: &BytesStart<'_>) -> Result<Receipt, String> {
    let mut r = Receipt { key: String::new(), status: ReceiptStatus::Returned, rule: None, reason: None };
    let mut status = None;
    for a in e.attributes().flatten() {
        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| e.to_string())?.into_owned();
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
        other => return Err(format!("receipt status {other:?}")),
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
        let body = json_package(&header(), &records);
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
        assert!(err.contains("RecordCount wrong"));
    }

    #[test]
    fn signatures_depend_on_secret_and_body() {
        assert_eq!(signature("s", b"x"), signature("s", b"x"));
        assert_ne!(signature("s", b"x"), signature("t", b"x"));
        assert_ne!(signature("s", b"x"), signature("s", b"y"));
    }
}
