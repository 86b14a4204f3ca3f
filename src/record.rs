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
    PreparedRecord {
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
    use super::push_json_str;

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
