//! Pulling a department's HTTP API (JSON or XML), page by page.
//!
//! Each page is written to the spool folder as it came and ingested like a dropped file, so
//! what the gateway stored can always be traced to the exact bytes the API answered. The
//! checkpoint says where a sweep stands (`next` page, offset or cursor) and what the last
//! finished sweep reached (`since`); a restart continues the sweep, and the `since` filter
//! moves on only once a sweep has reached the last page.
//!
//! Requests are rate-limited per connector (`governor`), time out, and are retried with
//! exponential backoff and jitter on timeouts, connection failures, 429 and 5xx, honouring
//! `Retry-After`. Secrets come from the environment or a file and are never logged.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use super::{BoxFuture, Pulled, Source, SourceError};
use crate::clock::Clock;
use crate::http_client::RetryPolicy;
use crate::issues::Issues;
use crate::mapping::Mapping;
use crate::secret::SecretSource;

/// The longest `Retry-After` a department's API can impose between two attempts.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    url: String,
    format: PageFormat,
    #[serde(default = "default_timeout")]
    timeout_seconds: f64,
    #[serde(default = "default_attempts")]
    max_attempts: u32,
    #[serde(default = "default_backoff_initial")]
    backoff_initial_ms: u64,
    #[serde(default = "default_backoff_max")]
    backoff_max_ms: u64,
    /// Requests per second at most (fractions allowed: 0.5 is one every two seconds).
    #[serde(default = "default_rate")]
    rate_per_second: f64,
    /// A page larger than this is refused (MiB).
    #[serde(default = "default_max_page_mib")]
    max_page_mib: u64,
    /// Constant query parameters.
    #[serde(default)]
    query: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pagination: Option<PaginationSpec>,
    #[serde(default)]
    incremental: Option<Incremental>,
    #[serde(default)]
    auth: Option<AuthSpec>,
}

fn default_timeout() -> f64 {
    30.0
}
fn default_attempts() -> u32 {
    5
}
fn default_backoff_initial() -> u64 {
    500
}
fn default_backoff_max() -> u64 {
    30_000
}
fn default_rate() -> f64 {
    5.0
}
fn default_max_page_mib() -> u64 {
    64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageFormat {
    Json,
    Xml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaginationSpec {
    style: PageStyle,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    size_param: Option<String>,
    #[serde(default = "default_page_size")]
    size: u64,
    #[serde(default = "default_first")]
    first: u64,
    #[serde(default)]
    next: Option<String>,
}

fn default_page_size() -> u64 {
    100
}
fn default_first() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum PageStyle {
    None,
    Page,
    Offset,
    Cursor,
}

/// How pages are walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// One request answers everything.
    None,
    /// `?page=N&size=M`; the last page is the first one with fewer than M records.
    Page { param: String, size_param: String, size: u64, first: u64 },
    /// `?offset=N&limit=M`.
    Offset { param: String, size_param: String, size: u64 },
    /// `?cursor=C`; the answer names the next cursor at `next`; none or empty ends the sweep.
    Cursor { param: String, size_param: Option<String>, size: u64, next: String },
}

/// The incremental filter: `?since=<largest value of field seen by the last sweep>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    pub param: String,
    pub field: String,
    /// `since` of the very first sweep; none fetches everything.
    #[serde(default)]
    pub initial: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSpec {
    kind: AuthKind,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
    #[serde(default)]
    header: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AuthKind {
    Bearer,
    Basic,
    Header,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Bearer(SecretSource),
    Basic { username: String, password: SecretSource },
    Header { name: String, token: SecretSource },
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub url: reqwest::Url,
    pub format: PageFormat,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub rate_per_second: f64,
    pub max_page_bytes: u64,
    pub query: Vec<(String, String)>,
    pub pagination: Pagination,
    pub incremental: Option<Incremental>,
    pub auth: Option<Auth>,
}

impl HttpSpec {
    pub(super) fn check(self, base: &Path, file: &Path, issues: &mut Issues) -> Option<HttpSettings> {
        let before = issues.len();
        let url = match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            Ok(_) => {
                issues.push(file, "http.url", "expected an http:// or https:// URL");
                None
            }
            Err(e) => {
                issues.push(file, "http.url", format!("invalid URL: {e}"));
                None
            }
        };
        if !(self.timeout_seconds > 0.0 && self.timeout_seconds <= 3600.0) {
            issues.push(file, "http.timeout_seconds", "expected a number of seconds between 0 and 3600");
        }
        if self.max_attempts == 0 {
            issues.push(file, "http.max_attempts", "expected at least 1");
        }
        if !(self.rate_per_second > 0.0 && self.rate_per_second <= 10_000.0) {
            issues.push(file, "http.rate_per_second", "expected a rate above 0 and at most 10000");
        }
        let pagination = match self.pagination {
            None => Pagination::None,
            Some(p) => {
                let param = |default: &str| p.param.clone().unwrap_or_else(|| default.to_string());
                if p.size == 0 {
                    issues.push(file, "http.pagination.size", "expected at least 1");
                }
                match p.style {
                    PageStyle::None => Pagination::None,
                    PageStyle::Page => Pagination::Page {
                        param: param("page"),
                        size_param: p.size_param.clone().unwrap_or_else(|| "size".into()),
                        size: p.size,
                        first: p.first,
                    },
                    PageStyle::Offset => Pagination::Offset {
                        param: param("offset"),
                        size_param: p.size_param.clone().unwrap_or_else(|| "limit".into()),
                        size: p.size,
                    },
                    PageStyle::Cursor => match &p.next {
                        Some(next) => Pagination::Cursor {
                            param: param("cursor"),
                            size_param: p.size_param.clone(),
                            size: p.size,
                            next: next.clone(),
                        },
                        None => {
                            issues.push(
                                file,
                                "http.pagination.next",
                                "cursor pagination needs `next`: where the answer holds the next cursor",
                            );
                            Pagination::None
                        }
                    },
                }
            }
        };
        let auth = self.auth.and_then(|a| {
            let token = SecretSource::from_keys(a.token_env.clone(), a.token_file.as_ref().map(|f| base.join(f)));
            match a.kind {
                AuthKind::Bearer => match token {
                    Some(t) => Some(Auth::Bearer(t)),
                    None => {
                        issues.push(file, "http.auth", "bearer auth needs token_env or token_file");
                        None
                    }
                },
                AuthKind::Header => match (a.header.clone(), token) {
                    (Some(name), Some(token)) if reqwest::header::HeaderName::try_from(name.as_str()).is_ok() => {
                        Some(Auth::Header { name, token })
                    }
                    _ => {
                        issues.push(
                            file,
                            "http.auth",
                            "header auth needs a valid `header` name and token_env or token_file",
                        );
                        None
                    }
                },
                AuthKind::Basic => {
                    let password =
                        SecretSource::from_keys(a.password_env.clone(), a.password_file.as_ref().map(|f| base.join(f)));
                    match (a.username.clone(), password) {
                        (Some(username), Some(password)) => Some(Auth::Basic { username, password }),
                        _ => {
                            issues.push(
                                file,
                                "http.auth",
                                "basic auth needs username and password_env or password_file",
                            );
                            None
                        }
                    }
                }
            }
        });
        if issues.len() > before {
            return None;
        }
        Some(HttpSettings {
            url: url?,
            format: self.format,
            timeout: Duration::from_secs_f64(self.timeout_seconds),
            retry: RetryPolicy {
                backoff_initial: Duration::from_millis(self.backoff_initial_ms),
                backoff_max: Duration::from_millis(self.backoff_max_ms.max(self.backoff_initial_ms)),
                max_attempts: self.max_attempts,
                retry_after_max: RETRY_AFTER_MAX,
            },
            rate_per_second: self.rate_per_second,
            max_page_bytes: self.max_page_mib.saturating_mul(1 << 20),
            query: self.query.into_iter().collect(),
            pagination,
            incremental: self.incremental,
            auth,
        })
    }
}

/// Where a sweep stands; stored as the connector's checkpoint (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCheckpoint {
    /// The `since` of the current sweep: the largest value the last finished sweep saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Where the current sweep continues; none at the start of a sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The largest `since` field value seen so far in the current sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seen: Option<String>,
}

pub struct HttpSource {
    settings: HttpSettings,
    records: Option<String>,
    client: reqwest::Client,
    limiter: Arc<DefaultDirectRateLimiter>,
    spool: PathBuf,
    /// Names the spooled pages.
    clock: Clock,
    finished: bool,
    pages: u64,
}

impl HttpSource {
    pub fn new(
        settings: HttpSettings,
        mapping: &Mapping,
        spool: PathBuf,
        clock: Clock,
    ) -> Result<HttpSource, SourceError> {
        let client = crate::http_client::builder(settings.timeout)
            .build()
            .map_err(|e| SourceError::Http { url: settings.url.to_string(), reason: e.to_string() })?;
        let period = Duration::from_secs_f64(1.0 / settings.rate_per_second);
        let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX));
        clear_spool(&spool)?;
        Ok(HttpSource {
            records: mapping.records.clone(),
            settings,
            client,
            limiter: Arc::new(RateLimiter::direct(quota.allow_burst(NonZeroU32::MIN))),
            spool,
            clock,
            finished: false,
            pages: 0,
        })
    }

    fn request_url(&self, cp: &HttpCheckpoint) -> reqwest::Url {
        let mut url = self.settings.url.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in &self.settings.query {
                q.append_pair(k, v);
            }
            if let (Some(inc), Some(since)) = (&self.settings.incremental, &cp.since) {
                q.append_pair(&inc.param, since);
            }
            match &self.settings.pagination {
                Pagination::None => {}
                Pagination::Page { param, size_param, size, first } => {
                    q.append_pair(param, cp.next.as_deref().unwrap_or(&first.to_string()));
                    q.append_pair(size_param, &size.to_string());
                }
                Pagination::Offset { param, size_param, size } => {
                    q.append_pair(param, cp.next.as_deref().unwrap_or("0"));
                    q.append_pair(size_param, &size.to_string());
                }
                Pagination::Cursor { param, size_param, size, .. } => {
                    if let Some(cursor) = &cp.next {
                        q.append_pair(param, cursor);
                    }
                    if let Some(sp) = size_param {
                        q.append_pair(sp, &size.to_string());
                    }
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    /// One GET with rate limit, timeout and retries.
    async fn fetch(&self, url: &reqwest::Url) -> Result<Vec<u8>, SourceError> {
        let fail = |reason: String| SourceError::Http { url: url.to_string(), reason };
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.until_ready().await;
            let mut request = self.client.get(url.clone());
            request = match &self.settings.auth {
                None => request,
                Some(Auth::Bearer(token)) => request.bearer_auth(token.read()?.expose()),
                Some(Auth::Basic { username, password }) => {
                    request.basic_auth(username, Some(password.read()?.expose()))
                }
                Some(Auth::Header { name, token }) => request.header(name.as_str(), token.read()?.expose()),
            };
            let (reason, retry_after) = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    match read_body(response, self.settings.max_page_bytes).await {
                        Ok(body) => return Ok(body),
                        Err(BodyError::TooLarge) => {
                            return Err(fail(format!("page larger than {} MiB", self.settings.max_page_bytes >> 20)));
                        }
                        Err(BodyError::Transport(e)) => (format!("reading the answer: {e}"), None),
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = self.settings.retry.retry_after(response.headers(), self.clock.now());
                    if !(status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS) {
                        return Err(fail(format!("HTTP {status}")));
                    }
                    (format!("HTTP {status}"), retry_after)
                }
                Err(e) if e.is_timeout() => ("timed out".to_string(), None),
                Err(e) => (format!("request failed: {e}"), None),
            };
            if self.settings.retry.exhausted(attempt) {
                return Err(fail(format!("{reason} (gave up after {attempt} attempts)")));
            }
            let wait = self.settings.retry.wait(attempt, retry_after);
            tracing::warn!(url = %url, attempt, reason = %reason, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn next_page(&mut self, checkpoint: Option<&str>) -> Result<Option<Pulled>, SourceError> {
        if self.finished {
            return Ok(None);
        }
        let mut cp: HttpCheckpoint = match checkpoint {
            Some(text) => serde_json::from_str(text).map_err(|_| SourceError::Checkpoint(text.to_string()))?,
            None => HttpCheckpoint {
                since: self.settings.incremental.as_ref().and_then(|i| i.initial.clone()),
                ..HttpCheckpoint::default()
            },
        };
        let url = self.request_url(&cp);
        let body = self.fetch(&url).await?;
        let field = self.settings.incremental.as_ref().map(|i| i.field.as_str());
        let next_at = match &self.settings.pagination {
            Pagination::Cursor { next, .. } => Some(next.as_str()),
            _ => None,
        };
        let page = match self.settings.format {
            PageFormat::Json => scan_json(&body, self.records.as_deref(), field, next_at),
            PageFormat::Xml => scan_xml(&body, self.records.as_deref(), field, next_at),
        }
        .map_err(|e| SourceError::Http { url: url.to_string(), reason: e.to_string() })?;
        let n = page.records;
        let following = match &self.settings.pagination {
            Pagination::None => None,
            Pagination::Page { size, first, .. } => (n >= *size).then(|| {
                let current: u64 = cp.next.as_deref().and_then(|p| p.parse().ok()).unwrap_or(*first);
                (current + 1).to_string()
            }),
            Pagination::Offset { size, .. } => (n >= *size).then(|| {
                let current: u64 = cp.next.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0);
                (current + n).to_string()
            }),
            Pagination::Cursor { .. } => page.next_cursor.filter(|c| !c.is_empty() && n > 0),
        };
        cp.max_seen = later(cp.max_seen.take(), page.max_since);
        match following {
            Some(next) => cp.next = Some(next),
            None => {
                // The sweep is complete: the next one asks only for what changed since.
                cp.since = later(cp.since.take(), cp.max_seen.take());
                cp.next = None;
                self.finished = true;
            }
        }
        let checkpoint = serde_json::to_string(&cp).expect("a checkpoint serialises");
        if n == 0 {
            return Ok(Some(Pulled {
                path: None,
                source: url.to_string(),
                checkpoint: Some(checkpoint),
                refused: None,
            }));
        }
        self.pages += 1;
        let ext = match self.settings.format {
            PageFormat::Json => "json",
            PageFormat::Xml => "xml",
        };
        let stamp = self.clock.now().format("%Y%m%dT%H%M%S");
        let path = self.spool.join(format!("{stamp}-p{:05}.{ext}", self.pages));
        write_atomically(&path, &body)?;
        Ok(Some(Pulled { path: Some(path), source: format!("GET {url}"), checkpoint: Some(checkpoint), refused: None }))
    }
}

impl Source for HttpSource {
    fn start_pass(&mut self) {
        self.finished = false;
    }

    fn next_file<'a>(&'a mut self, checkpoint: Option<&'a str>) -> BoxFuture<'a, Result<Option<Pulled>, SourceError>> {
        Box::pin(self.next_page(checkpoint))
    }
}

/// Kept here for `bench`, which still calls it by this path.
pub use crate::http_client::install_crypto_provider;

/// Spool files left by a crash are not needed: their rows are fetched again from the
/// checkpoint, which never moves past uncommitted rows.
pub(super) fn clear_spool(spool: &Path) -> Result<(), SourceError> {
    let io = |source| SourceError::Io { path: spool.to_path_buf(), source };
    std::fs::create_dir_all(spool).map_err(io)?;
    for entry in std::fs::read_dir(spool).map_err(io)?.flatten() {
        if entry.path().is_file() {
            std::fs::remove_file(entry.path()).map_err(io)?;
        }
    }
    Ok(())
}

/// Written under a temporary name and renamed: a file in the spool is always whole.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SourceError> {
    let io = |source| SourceError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

async fn read_body(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why an API's answer is not a page of records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PageError {
    #[error("the answer is not JSON: {0}")]
    NotJson(String),
    #[error("`{0}` in the answer is not a list")]
    NotAList(String),
    #[error("the answer has no `{path}`: {answer}")]
    Missing { path: String, answer: String },
    #[error("an XML API needs `records` (the record element's name) in its mapping")]
    NoRecordElement,
    #[error("the answer is not well-formed XML: {0}")]
    NotXml(String),
}

/// What a page holds, as far as walking the pages needs to know.
#[derive(Debug, Default, PartialEq, Eq)]
struct PageScan {
    records: u64,
    max_since: Option<String>,
    next_cursor: Option<String>,
}

/// The larger of two `since` values: numerically when both are numbers, else as text
/// (ISO dates and times sort as text).
fn later(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let greater = match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => y > x,
                _ => b > a,
            };
            Some(if greater { b } else { a })
        }
        (a, None) => a,
        (None, b) => b,
    }
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_at<'v>(root: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.').filter(|k| !k.is_empty()).try_fold(root, |v, key| v.get(key))
}

/// The records of a JSON page: at `records` (a dotted path), else the top-level array, else
/// the first array of an envelope object (`{"code":0,"data":[…]}`).
fn scan_json(
    body: &[u8],
    records: Option<&str>,
    since: Option<&str>,
    next: Option<&str>,
) -> Result<PageScan, PageError> {
    let root: serde_json::Value = serde_json::from_slice(body).map_err(|e| PageError::NotJson(e.to_string()))?;
    let list = match records {
        Some(path) => match json_at(&root, path) {
            Some(serde_json::Value::Array(items)) => Some(items.as_slice()),
            Some(serde_json::Value::Null) => None,
            Some(_) => return Err(PageError::NotAList(path.to_string())),
            None => return Err(PageError::Missing { path: path.to_string(), answer: snippet(body) }),
        },
        None => match &root {
            serde_json::Value::Array(items) => Some(items.as_slice()),
            serde_json::Value::Object(map) => map.values().find_map(|v| v.as_array().map(Vec::as_slice)),
            _ => None,
        },
    };
    let list = list.unwrap_or_default();
    let max_since = since.and_then(|field| {
        list.iter().filter_map(|r| r.get(field).and_then(json_text)).fold(None, |max, v| later(max, Some(v)))
    });
    let next_cursor = next.and_then(|path| json_at(&root, path)).and_then(json_text);
    Ok(PageScan { records: list.len() as u64, max_since, next_cursor })
}

/// The start of an answer, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

/// The records of an XML page are the `records` elements (local names); `since` is a child
/// of a record, `next` an element anywhere outside the records.
fn scan_xml(
    body: &[u8],
    records: Option<&str>,
    since: Option<&str>,
    next: Option<&str>,
) -> Result<PageScan, PageError> {
    use quick_xml::events::Event;
    let Some(record) = records else { return Err(PageError::NoRecordElement) };
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut scan = PageScan::default();
    // Depth of the open record element, and which text is being collected.
    let mut depth = 0usize;
    let mut record_depth: Option<usize> = None;
    let mut capture: Option<(bool, String)> = None; // (is_since, text)
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| PageError::NotXml(e.to_string()))?;
        match event {
            Event::Start(e) => {
                depth += 1;
                let name = e.local_name();
                let name: &str = name.as_ref();
                match record_depth {
                    None if name == record => {
                        record_depth = Some(depth);
                        scan.records += 1;
                    }
                    None if Some(name) == next => capture = Some((false, String::new())),
                    Some(d) if depth == d + 1 && Some(name) == since => capture = Some((true, String::new())),
                    _ => {}
                }
            }
            Event::Empty(e) => {
                let name = e.local_name();
                if record_depth.is_none() && AsRef::<str>::as_ref(&name) == record {
                    scan.records += 1;
                }
            }
            Event::Text(t) => {
                if let Some((_, text)) = &mut capture {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some((_, text)) = &mut capture {
                    text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, text)) = &mut capture {
                    crate::format::push_reference(text, &r);
                }
            }
            Event::End(_) => {
                if let Some((is_since, text)) = capture.take() {
                    let text = text.trim().to_string();
                    if is_since {
                        scan.max_since = later(scan.max_since.take(), Some(text).filter(|t| !t.is_empty()));
                    } else {
                        scan.next_cursor = Some(text);
                    }
                }
                if record_depth == Some(depth) {
                    record_depth = None;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_pages_by_path_and_by_envelope() {
        let body = br#"{"code":0,"data":{"total":3,"items":[{"id":1,"updated_at":"2024-03-01T10:00:00"},{"id":2,"updated_at":"2024-03-02T09:00:00"}],"next":"c2"}}"#;
        let scan = scan_json(body, Some("data.items"), Some("updated_at"), Some("data.next")).unwrap();
        assert_eq!(
            scan,
            PageScan { records: 2, max_since: Some("2024-03-02T09:00:00".into()), next_cursor: Some("c2".into()) }
        );
        let scan = scan_json(br#"{"code":0,"rows":[{"v":5},{"v":12}]}"#, None, Some("v"), None).unwrap();
        assert_eq!((scan.records, scan.max_since.as_deref()), (2, Some("12")), "numbers compare as numbers");
        let err =
            scan_json(br#"{"code":500,"message":"busy"}"#, Some("data.items"), None, None).unwrap_err().to_string();
        assert!(err.contains("no `data.items`") && err.contains("busy"), "{err}");
        assert_eq!(scan_json(br#"{"data":{"items":null}}"#, Some("data.items"), None, None).unwrap().records, 0);
    }

    #[test]
    fn xml_pages_count_records_and_find_the_cursor() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><code>0</code><next_cursor>c&amp;9</next_cursor>\
                    <records><record><ah>（2024）浙0102执1号</ah><updated_at>2024-03-01T10:00:00</updated_at></record>\
                    <record><ah>2</ah><updated_at>2024-03-05T10:00:00</updated_at></record></records></response>";
        let scan = scan_xml(body.as_bytes(), Some("record"), Some("updated_at"), Some("next_cursor")).unwrap();
        assert_eq!(
            scan,
            PageScan { records: 2, max_since: Some("2024-03-05T10:00:00".into()), next_cursor: Some("c&9".into()) }
        );
        assert!(scan_xml(b"<a><b></a>", Some("record"), None, None).is_err());
    }

    #[test]
    fn later_prefers_the_larger_value() {
        assert_eq!(later(Some("2024-01-02".into()), Some("2024-01-10".into())).as_deref(), Some("2024-01-10"));
        assert_eq!(later(Some("9".into()), Some("10".into())).as_deref(), Some("10"));
        assert_eq!(later(None, Some("a".into())).as_deref(), Some("a"));
        assert_eq!(later(Some("b".into()), None).as_deref(), Some("b"));
    }
}
