//! What every list page shares: paging (offset + limit, or onward by keyset, with the true
//! total, kept a few seconds where counting it is slow), links that carry the filters, a
//! record's subject and Chinese names for departments, items and fields.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use maud::{Markup, html};

use super::pages::thousands;
use crate::config::Settings;
use crate::store::{Cause, ListFilter, Store, StoreError};

/// Rows on a page unless asked; never more than [`MAX_LIMIT`].
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The page asked for: `offset` and `limit`, held to sane bounds.
pub fn window(offset: Option<i64>, limit: Option<i64>) -> (i64, i64) {
    (offset.unwrap_or(0).max(0), limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT))
}

/// The deepest row a page may start at by offset: SQLite steps through every row before the
/// page, so a page 500,000 rows into a million records took 75-320 ms where the first takes
/// 2 ms. Deeper rows are reached by keyset (下一页, or `after`, which also jumps to a deadline)
/// or by narrower filters, as large services do (GitLab stops offset paging at 50,000 rows).
pub const MAX_OFFSET: i64 = 10_000;

/// `offset` if a page may start there, else what to do instead, in Chinese (`keyset`: whether
/// the list's order pages by keyset).
pub fn offset_within_reach(offset: i64, keyset: bool) -> Result<i64, String> {
    if offset <= MAX_OFFSET {
        return Ok(offset);
    }
    let instead = match keyset {
        true => "请用“下一页”继续翻看，或按截止日期跳转（after=截止日期_0，如 after=2026-03-10_0）",
        false => "请改按截止日期排序后用“下一页”翻看",
    };
    Err(format!(
        "翻页位置过深（第 {} 条起）：按条数翻页最多到第 {} 条。{instead}，或用部门、状态、月份、搜索缩小范围",
        thousands(offset.saturating_add(1)),
        thousands(MAX_OFFSET + 1)
    ))
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

/// 共 N 条 and links for a list paged onward by keyset: 下一页 starts after the page's last row
/// (`next`, when rows remain), so a page deep in a million records costs what the first does.
/// A page reached by keyset (`keyed`) does not know its position: it offers 首页 instead of
/// 上一页 and no 第 a–b 条.
pub fn keyset_pager(
    id: &str,
    base: &str,
    total: i64,
    (offset, limit, shown): (i64, i64, usize),
    keyed: bool,
    next: Option<&str>,
) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    let at = |offset: i64| format!("{base}{sep}offset={offset}&limit={limit}");
    let last = offset + shown as i64;
    html! {
        p class="pager" id=(id) {
            "共 " b class="total" { (thousands(total)) } " 条"
            @if total > 0 && !keyed { "，第 " (thousands(offset + 1)) "–" (thousands(last)) " 条" }
            @if keyed { " " a href=(at(0)) rel="first" { "首页" } }
            @else if offset > 0 { " " a href=(at((offset - limit).max(0))) rel="prev" { "上一页" } }
            @if let Some(key) = next {
                " " a href={ (base) (sep) "after=" (key) "&limit=" (limit) } rel="next" { "下一页" }
            }
        }
    }
}

/// A count slower than this is kept (see [`TotalCache`]).
const SLOW_COUNT: Duration = Duration::from_millis(50);
/// A total this large is kept however quick its count was: the open records of a million
/// counted in 45-50 ms, just under [`SLOW_COUNT`], so every 待办 page paid it (`bench web`:
/// `/deadlines` p50 49.7 ms, p95 55 ms). Counting this many records is never cheap.
const LARGE_TOTAL: i64 = 100_000;
/// How long a kept total is served before it is counted again, as the overview's figures.
const FRESH: Duration = Duration::from_secs(10);
/// At most this many questions' totals are kept.
const KEPT: usize = 256;

/// The true totals of lists whose count is slow (the open records of a million take 100 ms
/// and more to count, even on an index alone): kept per question (the filters and the day)
/// for [`FRESH`], then served while one recount runs in the background, as the overview's
/// figures are. A count quicker than [`SLOW_COUNT`] of fewer than [`LARGE_TOTAL`] records is
/// never kept, so a small store counts every time; a page's rows are always read live.
#[derive(Default)]
pub struct TotalCache {
    entries: Mutex<HashMap<String, Kept>>,
}

struct Kept {
    total: i64,
    counted: Instant,
    recounting: bool,
}

/// A recount under way: however it ends, the question is no longer marked as recounting.
struct Recount {
    cache: Arc<TotalCache>,
    key: String,
}

impl Drop for Recount {
    fn drop(&mut self) {
        if let Some(k) = self.cache.entries().get_mut(&self.key) {
            k.recounting = false;
        }
    }
}

impl TotalCache {
    fn entries(&self) -> MutexGuard<'_, HashMap<String, Kept>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn keep(&self, key: String, total: i64, took: Duration) {
        let mut entries = self.entries();
        if took < SLOW_COUNT && total < LARGE_TOTAL {
            entries.remove(&key);
            return;
        }
        if entries.len() >= KEPT {
            entries.retain(|_, k| k.counted.elapsed() < FRESH);
            if entries.len() >= KEPT {
                entries.clear();
            }
        }
        entries.insert(key, Kept { total, counted: Instant::now(), recounting: false });
    }

    /// The number of records `f` finds on `today` (see [`TotalCache::total`]).
    pub async fn record_total(
        self: &Arc<Self>,
        store: &Store,
        today: NaiveDate,
        f: &ListFilter,
    ) -> Result<i64, StoreError> {
        let key = format!(
            "records\u{1}{today}\u{1}{:?}\u{1}{:?}\u{1}{}\u{1}{}\u{1}{:?}\u{1}{:?}\u{1}{:?}",
            f.department,
            f.item,
            f.status.as_str(),
            Cause::list_str(&f.causes),
            f.search,
            f.reported_month,
            f.decision_month
        );
        let (store, f) = (store.clone(), f.clone());
        self.total(key, move || {
            let (store, f) = (store.clone(), f.clone());
            async move { store.record_count(today, &f).await }
        })
        .await
    }

    /// The number of deliveries with this status (`None`: not done), destination and source.
    pub async fn delivery_total(
        self: &Arc<Self>,
        store: &Store,
        status: Option<&str>,
        destination: Option<&str>,
        source: Option<&str>,
    ) -> Result<i64, StoreError> {
        let key = format!("deliveries\u{1}{status:?}\u{1}{destination:?}\u{1}{source:?}");
        let store = store.clone();
        let (status, destination, source) =
            (status.map(str::to_string), destination.map(str::to_string), source.map(str::to_string));
        self.total(key, move || {
            let (store, status, destination, source) =
                (store.clone(), status.clone(), destination.clone(), source.clone());
            async move { store.delivery_count(status.as_deref(), destination.as_deref(), source.as_deref()).await }
        })
        .await
    }

    /// The total `count` gives for the question `key`: counted now, or kept from a slow count
    /// of the last [`FRESH`] (or later, while it is counted again in the background).
    async fn total<C, F>(self: &Arc<Self>, key: String, count: C) -> Result<i64, StoreError>
    where
        C: Fn() -> F + Send + 'static,
        F: Future<Output = Result<i64, StoreError>> + Send + 'static,
    {
        let stale = {
            let mut entries = self.entries();
            match entries.get_mut(&key) {
                Some(k) if k.counted.elapsed() < FRESH => return Ok(k.total),
                Some(k) => {
                    let start = !k.recounting;
                    k.recounting = true;
                    Some((k.total, start))
                }
                None => None,
            }
        };
        if let Some((total, start)) = stale {
            if start {
                let recount = Recount { cache: self.clone(), key };
                let counting = count();
                crate::supervisor::spawn_once("list-total-recount", async move {
                    let t = Instant::now();
                    match counting.await {
                        Ok(n) => recount.cache.keep(recount.key.clone(), n, t.elapsed()),
                        Err(e) => tracing::warn!(error = %e, "recounting a list's total failed; the last one stays"),
                    }
                });
            }
            return Ok(total);
        }
        let t = Instant::now();
        let total = count().await?;
        self.keep(key, total, t.elapsed());
        Ok(total)
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
    fn a_total_is_kept_when_its_count_was_slow_or_it_is_large() {
        let cache = TotalCache::default();
        let quick = Duration::from_millis(1);
        cache.keep("small".into(), 500, quick);
        cache.keep("slow".into(), 500, SLOW_COUNT);
        cache.keep("large".into(), LARGE_TOTAL, quick);
        let mut kept: Vec<String> = cache.entries().keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, ["large", "slow"]);
        // A quick recount of a small list forgets what was kept.
        cache.keep("slow".into(), 400, quick);
        assert!(!cache.entries().contains_key("slow"));
    }

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
        assert_eq!(offset_within_reach(MAX_OFFSET, false), Ok(MAX_OFFSET));
        let deep = offset_within_reach(494_446, true).unwrap_err();
        assert!(deep.contains("第 494,447 条起") && deep.contains("after=2026-03-10_0"), "{deep}");
        assert!(offset_within_reach(MAX_OFFSET + 1, false).unwrap_err().contains("改按截止日期排序"));
        assert!(offset_within_reach(i64::MAX, true).unwrap_err().contains("9,223,372,036,854,775,807"));
    }
}
