//! Reverse feeds (逆向推送 / 回流): what the upper platforms send down, taken in, stored with
//! its history and routed by jurisdiction to the lower destinations (SPEC §3, §6).
//!
//! One concept per file: feeds as configuration (`config/feeds/*.toml`, here), [`parse`] (a
//! feed page and its records: pure), [`route`] (the division-code table and who takes what:
//! pure), [`pull`] (fetch a page, apply it to the store, the per-feed loop) and [`report`]
//! (`credit-gateway feeds`). Routed
//! records go out through the same outbox and workers as upward delivery.

pub mod parse;
pub mod pull;
pub mod report;
pub mod route;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::connector::Schedule;
use crate::issues::{Issues, check_version};
use crate::secret::SecretSource;

/// The serde shape of a feed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSpec {
    version: u32,
    /// 中文 name for ops staff: 省平台回流数据.
    title: String,
    /// Catalogue items the feed carries; a record of another item is refused.
    items: Vec<String>,
    #[serde(default = "yes")]
    enabled: bool,
    /// Cron, Asia/Shanghai (`"0 */10 * * * *"`).
    schedule: String,
    /// `http` (a paged endpoint with a cursor) or `folder` (an inbound folder of data packages).
    kind: FeedKind,
    #[serde(default)]
    url: Option<String>,
    /// The wire format of an http feed's pages.
    #[serde(default)]
    format: FeedFormat,
    #[serde(default = "default_cursor_param")]
    cursor_param: String,
    #[serde(default = "default_limit_param")]
    limit_param: String,
    #[serde(default = "default_page_size")]
    page_size: u32,
    #[serde(default = "default_timeout")]
    timeout_seconds: f64,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    /// Folder feeds: where the platform drops its packages (`*.json`, taken in name order).
    #[serde(default)]
    inbound: Option<PathBuf>,
}

fn yes() -> bool {
    true
}
fn default_cursor_param() -> String {
    "cursor".into()
}
fn default_limit_param() -> String {
    "limit".into()
}
fn default_page_size() -> u32 {
    500
}
fn default_timeout() -> f64 {
    30.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    Http,
    Folder,
}

/// The page format of an http feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// `{"records":[…],"next_cursor":"…","more":true}` (see [`parse`]).
    #[default]
    Json,
    /// `<Feed next="…" more="true"><Record id item operation status region>…</Record></Feed>`.
    Xml,
}

/// Where a feed's pages come from.
#[derive(Debug, Clone)]
pub enum FeedSource {
    Http {
        url: reqwest::Url,
        format: FeedFormat,
        cursor_param: String,
        limit_param: String,
        page_size: u32,
        timeout: Duration,
        token: Option<SecretSource>,
    },
    /// Each `*.json` file is one page; its name is the cursor.
    Folder { inbound: PathBuf },
}

/// An upper platform's feed, validated.
#[derive(Debug, Clone)]
pub struct Feed {
    /// File stem: `provincial`.
    pub name: String,
    pub title: String,
    pub items: Vec<String>,
    pub enabled: bool,
    pub schedule: Schedule,
    pub source: FeedSource,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("unknown feed {0:?}")]
    UnknownFeed(String),
    #[error("fetching the page failed: {0}")]
    Fetch(String),
    #[error("the page is not a feed page: {0}")]
    Page(#[from] parse::PageError),
    #[error("reading the inbound folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
}

impl Feed {
    /// A feed file's spec (its name is the file's stem), checked against the catalogue; its
    /// inbound folder and token file are taken relative to `base_dir`.
    pub fn from_spec(
        file: &Path,
        spec: FeedSpec,
        base_dir: &Path,
        catalogue: &Catalogue,
        issues: &mut Issues,
    ) -> Option<Feed> {
        check_version(file, spec.version, issues);
        let name = file.file_stem()?.to_string_lossy().into_owned();
        let before = issues.len();
        if spec.items.is_empty() {
            issues.push(file, "items", "expected at least one catalogue item");
        }
        for item in &spec.items {
            if catalogue.item(item).is_none() {
                issues.push(file, "items", format!("unknown catalogue item {item:?}"));
            }
        }
        let schedule = Schedule::parse(&spec.schedule).map_err(|e| issues.push(file, "schedule", e.to_string())).ok();
        if !(spec.timeout_seconds > 0.0 && spec.timeout_seconds <= 3600.0) {
            issues.push(file, "timeout_seconds", "expected seconds between 0 and 3600");
        }
        if spec.page_size == 0 || spec.page_size > 10_000 {
            issues.push(file, "page_size", "expected 1 to 10000");
        }
        let base = base_dir;
        let source = match spec.kind {
            FeedKind::Http => match spec.url.as_deref().map(reqwest::Url::parse) {
                Some(Ok(url)) if matches!(url.scheme(), "http" | "https") => Some(FeedSource::Http {
                    url,
                    format: spec.format,
                    cursor_param: spec.cursor_param,
                    limit_param: spec.limit_param,
                    page_size: spec.page_size,
                    timeout: Duration::from_secs_f64(spec.timeout_seconds.clamp(0.001, 3600.0)),
                    token: SecretSource::from_keys(spec.token_env, spec.token_file.map(|f| base.join(f))),
                }),
                None => {
                    issues.push(file, "url", "an http feed needs a url");
                    None
                }
                Some(_) => {
                    issues.push(file, "url", format!("expected an http:// or https:// URL, found {:?}", spec.url));
                    None
                }
            },
            FeedKind::Folder => match spec.inbound {
                Some(dir) => Some(FeedSource::Folder { inbound: base.join(dir) }),
                None => {
                    issues.push(file, "inbound", "a folder feed needs an `inbound` folder");
                    None
                }
            },
        };
        if issues.len() > before {
            return None;
        }
        Some(Feed {
            name,
            title: spec.title,
            items: spec.items,
            enabled: spec.enabled,
            schedule: schedule?,
            source: source?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str) -> (Option<Feed>, Vec<String>) {
        let catalogue = crate::catalogue::shipped_for_tests();
        let mut issues = Issues::default();
        let file = Path::new("feeds/provincial.toml");
        let feed = Feed::from_spec(file, toml::from_str(text).unwrap(), Path::new("/srv/gw"), &catalogue, &mut issues);
        (feed, issues.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_feed_is_built_from_its_spec() {
        let (feed, issues) = build(include_str!("../../config/feeds/provincial.toml"));
        assert!(issues.is_empty(), "{issues:?}");
        let feed = feed.unwrap();
        assert_eq!(feed.name, "provincial");
        assert!(matches!(feed.source, FeedSource::Http { page_size: 500, .. }));
    }

    #[test]
    fn mistakes_name_the_file_and_key() {
        let (feed, issues) =
            build("version = 1\ntitle = \"x\"\nitems = []\nschedule = \"0 */10 * * * *\"\nkind = \"folder\"\n");
        assert!(feed.is_none());
        assert_eq!(
            issues,
            [
                "feeds/provincial.toml: items: expected at least one catalogue item",
                "feeds/provincial.toml: inbound: a folder feed needs an `inbound` folder",
            ]
        );
        let (feed, _) = build(
            "version = 1\ntitle = \"x\"\nitems = [\"CF\"]\nschedule = \"0 */10 * * * *\"\nkind = \"folder\"\ninbound = \"in\"\n",
        );
        assert!(matches!(feed.unwrap().source, FeedSource::Folder { inbound } if inbound == Path::new("/srv/gw/in")));
    }
}
