//! What every list page shares: paging (offset + limit, with the true total), links that carry
//! the filters, a record's subject and Chinese names for departments, items and fields.

use std::fmt::Write as _;

use maud::{Markup, html};

use super::pages::thousands;
use crate::config::Settings;

/// Rows on a page unless asked; never more than [`MAX_LIMIT`].
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The page asked for: `offset` and `limit`, held to sane bounds.
pub fn window(offset: Option<i64>, limit: Option<i64>) -> (i64, i64) {
    (offset.unwrap_or(0).max(0), limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT))
}

/// A query string from the non-empty pairs, each value percent-encoded.
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        let Some(value) = value.filter(|v| !v.is_empty()) else { continue };
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(b as char);
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// 共 N 条 and links to the previous and next pages, keeping the filters (`base` is the path
/// with its filter query).
pub fn pager(id: &str, base: &str, total: i64, offset: i64, limit: i64, shown: usize) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    let at = |offset: i64| format!("{base}{sep}offset={offset}&limit={limit}");
    let last = offset + shown as i64;
    html! {
        p class="pager" id=(id) {
            "共 " b class="total" { (thousands(total)) } " 条"
            @if total > 0 { "，第 " (thousands(offset + 1)) "–" (thousands(last)) " 条" }
            @if offset > 0 { " " a href=(at((offset - limit).max(0))) rel="prev" { "上一页" } }
            @if last < total { " " a href=(at(offset + limit)) rel="next" { "下一页" } }
        }
    }
}

/// The department's Chinese name.
pub fn department_name<'a>(settings: &'a Settings, id: &'a str) -> &'a str {
    settings.departments.get(id).map_or(id, |d| d.name.as_str())
}

/// The item's Chinese name (行政处罚, …).
pub fn item_name(settings: &Settings, code: &str) -> String {
    settings.catalogue.item(code).map_or_else(|| code.to_string(), |i| i.name.clone())
}

/// (key, Chinese name) of every field of `item`, longer keys first (for replacing keys in text).
pub fn field_names(settings: &Settings, item: &str) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = settings
        .catalogue
        .item(item)
        .map(|i| i.fields.iter().map(|f| (f.key.clone(), f.name.clone())).collect())
        .unwrap_or_default();
    names.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    names
}

/// The field's Chinese name, or the key when the catalogue lacks it.
pub fn field_name(settings: &Settings, item: &str, key: &str) -> String {
    settings
        .catalogue
        .item(item)
        .and_then(|i| i.fields.iter().find(|f| f.key == key))
        .map_or_else(|| key.to_string(), |f| f.name.clone())
}

/// The subject's name and credit code from a record's content.
pub fn subject_of(settings: &Settings, item: &str, content: &str) -> (Option<String>, Option<String>) {
    let Some(item) = settings.catalogue.item(item) else { return (None, None) };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(content) else {
        return (None, None);
    };
    let value = |i: Option<usize>| {
        i.and_then(|i| item.fields.get(i)).and_then(|f| map.get(&f.key)).and_then(|v| v.as_str()).map(str::to_string)
    };
    (value(item.subject_name), value(item.subject_code))
}

/// A business key as people read it.
pub fn key_text(key: &str) -> String {
    key.replace(crate::record::KEY_SEPARATOR, " / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_keep_filters_and_encode_them() {
        assert_eq!(
            query(&[("department", Some("market")), ("q", Some("甲 公司")), ("item", None), ("s", Some(""))]),
            "?department=market&q=%E7%94%B2%20%E5%85%AC%E5%8F%B8"
        );
        assert_eq!(query(&[]), "");
    }

    #[test]
    fn the_pager_says_the_true_total_and_links_on() {
        let p = pager("p", "/deadlines?status=overdue", 1593, 0, 50, 50).into_string();
        assert!(p.contains("共 <b class=\"total\">1,593</b> 条") && p.contains("offset=50&amp;limit=50"), "{p}");
        assert!(!p.contains("上一页"));
        let last = pager("p", "/deadlines", 120, 100, 50, 20).into_string();
        assert!(last.contains("上一页") && !last.contains("下一页") && last.contains("第 101–120 条"), "{last}");
        assert_eq!(window(Some(-5), Some(100_000)), (0, MAX_LIMIT));
    }
}
