//! A validated row made ready for the store: business key, canonical content and its hash.

use std::fmt::Write as _;

use crate::catalogue::Item;
use crate::deadline::RecordDeadline;
use crate::ids::CreditCode;

/// Separates business-key parts; a control character cannot occur in a cleaned value.
pub const KEY_SEPARATOR: char = '\u{1f}';

/// One record as the store receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRecord {
    /// SPEC §6: document number, subject code or name, decision date (per the item's `key`).
    pub business_key: String,
    /// Canonical JSON object of the non-empty fields, in catalogue order.
    pub content: String,
    /// Hex of a 128-bit BLAKE3 of `content`: equal content, equal hash.
    pub content_hash: String,
    pub decision_date: Option<String>,
    /// Administrative division of the deciding authority (USCC positions 3–8).
    pub region: Option<String>,
    /// Row in the source file, as a person counts it.
    pub line: u64,
    /// The reporting deadline, for items that have a rule.
    pub deadline: Option<RecordDeadline>,
    /// The decision apart from its subject: the key parts that name neither the subject's
    /// code nor its name (文书号, decision date). A correction that changes the subject keeps
    /// it. `None` when the item's key has no subject part or a part is empty.
    pub decision_key: Option<String>,
    /// The subject's credit code and name as stored, for the one-code-one-name check.
    pub subject: Option<(String, String)>,
    /// Marked by the department as 补报 (back-filled history): counted apart, never as 迟报.
    pub backfill: bool,
    /// The publicity period, for items `config/publicity.toml` names (set by ingest).
    pub publicity: Option<PublicityColumns>,
}

/// What the store keeps of a record's publicity block (`crate::publicity::Block`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicityColumns {
    /// `Block::encode`'s compact form.
    pub block: String,
    /// The planned end, `YYYY-MM-DD`; None when held back.
    pub planned_end: Option<String>,
    /// A minor penalty not published.
    pub held: bool,
}

impl PublicityColumns {
    /// The planned end's month as a number (202705 for 2027-05-…), the key of the daily pass's
    /// index, read from the planned end.
    pub fn planned_end_month(&self) -> Option<i32> {
        let end = self.planned_end.as_deref()?;
        let digits = |r: std::ops::Range<usize>| end.get(r)?.parse::<i32>().ok();
        Some(digits(0..4)? * 100 + digits(5..7)?)
    }
}

/// Builds the stored form of a valid row. `values` holds one entry per item field.
pub fn prepare(item: &Item, values: &[Option<String>], line: u64, deadline: Option<RecordDeadline>) -> PreparedRecord {
    let mut business_key = String::new();
    for (n, part) in item.key.iter().enumerate() {
        if n > 0 {
            business_key.push(KEY_SEPARATOR);
        }
        if let Some(v) = part.iter().find_map(|&i| values[i].as_deref()) {
            business_key.push_str(v);
        }
    }
    let mut content = String::with_capacity(1024);
    content.push('{');
    let mut first = true;
    for (field, value) in item.fields.iter().zip(values) {
        let Some(value) = value else { continue };
        if !first {
            content.push(',');
        }
        first = false;
        push_json_str(&mut content, &field.key);
        content.push(':');
        push_json_str(&mut content, value);
    }
    content.push('}');
    let hash = blake3::hash(content.as_bytes());
    let mut content_hash = String::with_capacity(32);
    for b in &hash.as_bytes()[..16] {
        let _ = write!(content_hash, "{b:02x}");
    }
    let region = item
        .authority_code
        .and_then(|i| values[i].as_deref())
        .and_then(|c| CreditCode::parse(c).ok())
        .map(|c| c.region().to_string());
    let subject = match (item.subject_code, item.subject_name) {
        (Some(c), Some(n)) => match (values[c].as_deref(), values[n].as_deref()) {
            (Some(code), Some(name)) if code != crate::ids::CREDIT_CODE_PLACEHOLDER => {
                Some((code.to_string(), name.to_string()))
            }
            _ => None,
        },
        _ => None,
    };
    PreparedRecord {
        backfill: false,
        decision_key: decision_key(item, values),
        subject,
        business_key,
        content,
        content_hash,
        decision_date: values[item.decision_date].clone(),
        region,
        line,
        deadline,
        publicity: None,
    }
}

/// A rejected row's decision, when its key fields and decision date are readable: it is
/// counted as 漏报 until a record of the same decision arrives (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedDecision {
    pub decision_key: String,
    pub decision_date: String,
    pub line: u64,
}

pub fn rejected_decision(item: &Item, values: &[Option<String>], line: u64) -> Option<RejectedDecision> {
    let date = values[item.decision_date].as_deref()?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(RejectedDecision { decision_key: decision_key(item, values)?, decision_date: date.to_string(), line })
}

/// Where the business keys of a decision's records start: the decision key's first part and
/// the separator (the catalogue makes the decision's first field the key's first part).
pub fn decision_key_prefix(decision_key: &str) -> String {
    let first = decision_key.split(KEY_SEPARATOR).next().unwrap_or(decision_key);
    let mut prefix = String::with_capacity(first.len() + 1);
    prefix.push_str(first);
    prefix.push(KEY_SEPARATOR);
    prefix
}

/// The catalogue's decision fields (文书号, 决定日期), joined like the business key.
fn decision_key(item: &Item, values: &[Option<String>]) -> Option<String> {
    if item.decision_key.is_empty() {
        return None;
    }
    let mut key = String::new();
    for (n, &i) in item.decision_key.iter().enumerate() {
        if n > 0 {
            key.push(KEY_SEPARATOR);
        }
        key.push_str(values[i].as_deref().filter(|v| !v.is_empty())?);
    }
    Some(key)
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planned_end_month_is_read_from_the_planned_end() {
        let columns =
            |end: Option<&str>| PublicityColumns { planned_end: end.map(str::to_string), ..Default::default() };
        assert_eq!(columns(Some("2027-05-31")).planned_end_month(), Some(202705));
        assert_eq!(columns(Some("2026-12-01")).planned_end_month(), Some(202612));
        assert_eq!(columns(None).planned_end_month(), None);
    }

    #[test]
    fn the_decision_key_leaves_the_subject_out() {
        let catalogue = crate::catalogue::shipped_for_tests();
        let item = catalogue.item("CF").unwrap();
        let mut values = vec![None; item.fields.len()];
        let mut set = |k: &str, v: &str| values[item.field_index(k).unwrap()] = Some(v.to_string());
        set("CF_WSH", "淮相市监处罚〔2024〕1号");
        set("CF_XDR_SHXYM", "91340600MA2PBM9HXD");
        set("CF_XDR_MC", "某某（集团）有限公司");
        set("CF_JDRQ", "2024-03-01");
        let a = prepare(item, &values, 2, None);
        values[item.field_index("CF_XDR_SHXYM").unwrap()] = Some("914403001922038216".into());
        let b = prepare(item, &values, 2, None);
        assert_ne!(a.business_key, b.business_key);
        assert_eq!(a.decision_key, b.decision_key);
        assert_eq!(a.decision_key.as_deref(), Some("淮相市监处罚〔2024〕1号\u{1f}2024-03-01"));
        assert_eq!(b.subject, Some(("914403001922038216".into(), "某某（集团）有限公司".into())));
        // The business keys of the decision's records start with its prefix.
        let prefix = decision_key_prefix(a.decision_key.as_deref().unwrap());
        assert_eq!(prefix, "淮相市监处罚〔2024〕1号\u{1f}");
        assert!(a.business_key.starts_with(&prefix) && b.business_key.starts_with(&prefix));
    }

    #[test]
    fn list_items_have_no_decision_so_subjects_listed_the_same_day_are_not_duplicates() {
        let catalogue = crate::catalogue::shipped_for_tests();
        for code in ["UTIL_QF", "TAX_QS", "COURT_SX", "COURT_PJ", "MKT_YC", "MKT_YZWF", "TAX_A", "FJFL", "JGSX"] {
            let item = catalogue.item(code).unwrap();
            let mut values = vec![Some("2024-03-01".to_string()); item.fields.len()];
            assert_eq!(prepare(item, &values, 2, None).decision_key, None, "{code}");
            values.iter_mut().for_each(|v| *v = Some("X".into()));
            assert_eq!(prepare(item, &values, 2, None).decision_key, None, "{code}");
        }
        for code in ["CF", "XK"] {
            assert!(!catalogue.item(code).unwrap().decision_key.is_empty(), "{code}");
        }
    }

    #[test]
    fn json_strings_round_trip_through_serde() {
        for s in ["plain", "引号\"与\\反斜杠", "tab\tnew\nline\u{1}", ""] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            let back: String = serde_json::from_str(&out).expect("valid json");
            assert_eq!(back, s);
        }
    }
}
