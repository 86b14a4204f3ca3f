//! Simulated upper credit platforms: they take the gateway's three package formats, check
//! each record against a subject base library (主体库) like a real platform (name and credit
//! code must match, else rule `1001`), answer per-record receipts, count what they receive,
//! and misbehave on request (5xx, timeouts, slow answers, dropped connections, partial
//! acceptance, the same answer twice).
//!
//! Endpoints: `POST /platforms/{name}/json`, `POST /platforms/{name}/xml`; file exchange in
//! `<exchange>/<name>/outbound/` → `receipts/`; `GET /sandbox/stats`, `GET /sandbox/received`,
//! `POST /sandbox/subjects`, `POST|GET /sandbox/faults`, `POST /sandbox/reset`.
//!
//! Reverse feeds: `POST /sandbox/feed/{name}` appends records (a JSON array, served as
//! given, malformed ones included) to the platform's feed, served by `GET
//! /platforms/{name}/feed?cursor=&limit=` (JSON) and `GET /platforms/{name}/feed.xml` (XML); the
//! cursor is the position in the feed. Lower platforms are the same endpoints under other
//! names (`/platforms/county-a/json`), each counted in `/sandbox/stats`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::delivery::package::{JsonPackage, signature};

/// How to start the sandbox platforms.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub listen: SocketAddr,
    /// CSV `name,credit_code`: the subject base library.
    pub subjects: Option<PathBuf>,
    /// File exchange: `<exchange>/<platform>/outbound|receipts|done`.
    pub exchange: Option<PathBuf>,
    /// Platform → signing secret; a platform with one refuses unsigned packages.
    pub secrets: HashMap<String, String>,
    pub catalogue: Arc<Catalogue>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("subject library {path}: {reason}")]
    Subjects { path: PathBuf, reason: String },
}

/// A fault to inject, as posted to `/sandbox/faults`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    pub platform: String,
    /// status | timeout | slow | drop | partial | duplicate
    pub fault: String,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub ms: Option<u64>,
    #[serde(default)]
    pub accept: Option<usize>,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ItemStats {
    pub received: u64,
    pub distinct_keys: u64,
    pub accepted: u64,
    pub returned: u64,
    pub duplicates: u64,
    /// Distinct keys received per operation (add, update, withdraw, delete).
    pub operations: std::collections::BTreeMap<String, u64>,
}

#[derive(Default)]
struct ItemState {
    received: u64,
    duplicates: u64,
    /// Key → (accepted, business key).
    keys: HashMap<String, (bool, String)>,
    operations: std::collections::BTreeMap<String, u64>,
}

#[derive(Default)]
struct PlatformState {
    items: HashMap<String, ItemState>,
    faults: VecDeque<Fault>,
    /// An answer to give again, instead of processing, to the next request.
    replay: Option<(StatusCode, &'static str, Bytes)>,
}

pub struct Platforms {
    catalogue: Arc<Catalogue>,
    subjects: RwLock<HashMap<String, String>>,
    /// `--strict-subjects`: a subject the library does not know is returned too (1001).
    strict_subjects: std::sync::atomic::AtomicBool,
    secrets: HashMap<String, String>,
    state: Mutex<HashMap<String, PlatformState>>,
    /// Platform → the records its feed serves, in order.
    feeds: Mutex<HashMap<String, Vec<serde_json::Value>>>,
}

/// One record of a package, whatever its format.
struct Incoming {
    key: String,
    operation: String,
    business_key: String,
    data: HashMap<String, String>,
}

struct Verdict {
    key: String,
    accepted: bool,
    rule: Option<&'static str>,
    reason: Option<String>,
}

impl Platforms {
    fn new(opts: &SandboxOptions) -> Result<Platforms, SandboxError> {
        let mut subjects = HashMap::new();
        if let Some(path) = &opts.subjects {
            let fail = |reason: String| SandboxError::Subjects { path: path.clone(), reason };
            let mut reader = csv::Reader::from_path(path).map_err(|e| fail(e.to_string()))?;
            for row in reader.records() {
                let row = row.map_err(|e| fail(e.to_string()))?;
                if let (Some(name), Some(code)) = (row.get(0), row.get(1)) {
                    subjects.insert(code.trim().to_string(), name.trim().to_string());
                }
            }
        }
        Ok(Platforms {
            catalogue: opts.catalogue.clone(),
            subjects: RwLock::new(subjects),
            strict_subjects: std::sync::atomic::AtomicBool::new(false),
            secrets: opts.secrets.clone(),
            state: Mutex::new(HashMap::new()),
            feeds: Mutex::new(HashMap::new()),
        })
    }

    fn check(&self, item: &str, r: &Incoming) -> Verdict {
        let verdict = |rule: Option<&'static str>, reason: Option<String>| Verdict {
            key: r.key.clone(),
            accepted: rule.is_none(),
            rule,
            reason,
        };
        let Some(spec) = self.catalogue.item(item) else {
            return verdict(Some("1000"), Some(format!("未知的信息类别 {item}")));
        };
        if !matches!(r.operation.as_str(), "add" | "update" | "withdraw" | "delete") {
            return verdict(Some("1002"), Some(format!("未知的操作类型 {}", r.operation)));
        }
        let field = |i: Option<usize>| i.and_then(|i| r.data.get(&spec.fields[i].key)).map(|v| v.trim());
        // Rule 1001 in the platform's words: 未查询到主体或查询到的主体信息不匹配.
        if let (Some(name), Some(code)) = (field(spec.subject_name), field(spec.subject_code))
            && matches!(r.operation.as_str(), "add" | "update")
        {
            match self.subjects.read().expect("subjects lock").get(code) {
                Some(registered) if registered != name => {
                    return verdict(
                        Some("1001"),
                        Some(format!(
                            "未查询到主体或查询到的主体信息不匹配：主体名称与统一社会信用代码不匹配（主体库登记名称：{registered}）"
                        )),
                    );
                }
                None if self.strict_subjects.load(std::sync::atomic::Ordering::Relaxed) => {
                    return verdict(
                        Some("1001"),
                        Some(format!("未查询到主体或查询到的主体信息不匹配：主体库中没有统一社会信用代码 {code}")),
                    );
                }
                _ => {}
            }
        }
        verdict(None, None)
    }

    /// Checks and counts a package's records (the first `limit` of them).
    fn process(&self, platform: &str, item: &str, records: &[Incoming], limit: Option<usize>) -> Vec<Verdict> {
        let taken = &records[..limit.unwrap_or(records.len()).min(records.len())];
        let verdicts: Vec<Verdict> = taken.iter().map(|r| self.check(item, r)).collect();
        let mut state = self.state.lock().expect("state lock");
        let stats = state.entry(platform.to_string()).or_default().items.entry(item.to_string()).or_default();
        let mut answered = Vec::with_capacity(verdicts.len());
        for (r, mut v) in taken.iter().zip(verdicts) {
            stats.received += 1;
            match stats.keys.get_mut(&r.key) {
                // Idempotent: a key accepted before is accepted again, never counted twice.
                Some((true, _)) => {
                    stats.duplicates += 1;
                    v = Verdict { key: v.key, accepted: true, rule: None, reason: None };
                }
                Some(entry) => entry.0 = v.accepted,
                None => {
                    stats.keys.insert(r.key.clone(), (v.accepted, r.business_key.clone()));
                    *stats.operations.entry(r.operation.clone()).or_default() += 1;
                }
            }
            answered.push(v);
        }
        answered
    }

    fn take_fault(&self, platform: &str) -> Option<Fault> {
        let mut state = self.state.lock().expect("state lock");
        let p = state.entry(platform.to_string()).or_default();
        let front = p.faults.front_mut()?;
        front.count = front.count.saturating_sub(1);
        let fault = front.clone();
        if front.count == 0 {
            p.faults.pop_front();
        }
        Some(fault)
    }

    fn take_replay(&self, platform: &str) -> Option<(StatusCode, &'static str, Bytes)> {
        self.state.lock().expect("state lock").get_mut(platform)?.replay.take()
    }

    pub fn stats(&self) -> serde_json::Value {
        let state = self.state.lock().expect("state lock");
        let mut platforms = serde_json::Map::new();
        for (name, p) in state.iter() {
            let mut items = serde_json::Map::new();
            for (item, s) in &p.items {
                let accepted = s.keys.values().filter(|(a, _)| *a).count() as u64;
                let stats = ItemStats {
                    received: s.received,
                    distinct_keys: s.keys.len() as u64,
                    accepted,
                    returned: s.keys.len() as u64 - accepted,
                    duplicates: s.duplicates,
                    operations: s.operations.clone(),
                };
                items.insert(item.clone(), serde_json::to_value(stats).expect("stats serialise"));
            }
            platforms.insert(name.clone(), serde_json::Value::Object(items));
        }
        serde_json::json!({ "platforms": platforms })
    }
}

fn json_answer(package_id: &str, verdicts: &[Verdict]) -> Bytes {
    let receipts: Vec<serde_json::Value> = verdicts
        .iter()
        .map(|v| {
            if v.accepted {
                serde_json::json!({"key": v.key, "status": "accepted"})
            } else {
                serde_json::json!({"key": v.key, "status": "returned", "rule": v.rule, "reason": v.reason})
            }
        })
        .collect();
    Bytes::from(serde_json::to_vec(&serde_json::json!({"package_id": package_id, "receipts": receipts})).expect("json"))
}

fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn xml_answer(package_id: &str, verdicts: &[Verdict]) -> Bytes {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Receipt><PackageId>{}</PackageId>", xml_escape(package_id));
    for v in verdicts {
        if v.accepted {
            out.push_str(&format!("<Result key=\"{}\" status=\"accepted\"/>", xml_escape(&v.key)));
        } else {
            out.push_str(&format!(
                "<Result key=\"{}\" status=\"returned\" rule=\"{}\">{}</Result>",
                xml_escape(&v.key),
                v.rule.unwrap_or(""),
                xml_escape(v.reason.as_deref().unwrap_or(""))
            ));
        }
    }
    out.push_str("</Receipt>");
    Bytes::from(out)
}

fn parse_json(body: &[u8]) -> Result<(String, String, Vec<Incoming>), String> {
    let p = JsonPackage::parse(body).map_err(|e| format!("not a data package: {e}"))?;
    let mut records = Vec::with_capacity(p.records.len());
    for r in p.records {
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(r.data.get()).map_err(|e| format!("not a data package: {e}"))?;
        records.push(Incoming {
            key: r.key.into_owned(),
            operation: r.operation.into_owned(),
            business_key: r.business_key.into_owned(),
            data: data
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect(),
        });
    }
    Ok((p.package_id.into_owned(), p.item.into_owned(), records))
}

/// The XML data package: header fields and records (`<Record key operation businessKey>`
/// with one child element per field).
fn parse_xml(body: &[u8]) -> Result<(String, String, Vec<Incoming>), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let (mut package_id, mut item, mut count) = (String::new(), String::new(), None::<usize>);
    let mut records = Vec::new();
    let mut current: Option<Incoming> = None;
    let mut element: Option<String> = None;
    let mut text = String::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| format!("not well-formed XML: {e}"))? {
            Event::Start(e) => {
                let name: String = AsRef::<str>::as_ref(&e.local_name()).to_string();
                if name == "Record" {
                    let mut r = Incoming {
                        key: String::new(),
                        operation: String::new(),
                        business_key: String::new(),
                        data: HashMap::new(),
                    };
                    for a in e.attributes().flatten() {
                        let v = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
                        match AsRef::<str>::as_ref(&a.key.local_name()) {
                            "key" => r.key = v.into_owned(),
                            "operation" => r.operation = v.into_owned(),
                            "businessKey" => r.business_key = v.into_owned(),
                            _ => {}
                        }
                    }
                    current = Some(r);
                } else {
                    element = Some(name);
                    text.clear();
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t),
            Event::GeneralRef(r) => crate::format::push_reference(&mut text, &r),
            Event::End(e) => {
                let local = e.local_name();
                let name: &str = local.as_ref();
                if name == "Record" {
                    records.extend(current.take());
                } else if let Some(el) = element.take() {
                    let value = text.trim().to_string();
                    match (&mut current, el.as_str()) {
                        (Some(r), _) => {
                            r.data.insert(el, value);
                        }
                        (None, "PackageId") => package_id = value,
                        (None, "PackageType") => item = value,
                        (None, "RecordCount") => count = value.parse().ok(),
                        _ => {}
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if count != Some(records.len()) {
        return Err(format!("RecordCount {count:?} does not match {} records", records.len()));
    }
    Ok((package_id, item, records))
}

type AppState = Arc<Platforms>;

async fn push(platforms: &Platforms, platform: &str, headers: &HeaderMap, body: Bytes, xml: bool) -> Response {
    let content_type = if xml { "application/xml; charset=utf-8" } else { "application/json" };
    if let Some(secret) = platforms.secrets.get(platform) {
        let given = headers.get("x-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
        if given != signature(secret, &body) {
            return (StatusCode::UNAUTHORIZED, "{\"error\":\"bad or missing X-Signature\"}").into_response();
        }
    }
    let fault = platforms.take_fault(platform);
    match fault.as_ref().map(|f| f.fault.as_str()) {
        Some("status") => {
            let f = fault.as_ref().expect("matched");
            let status = StatusCode::from_u16(f.status.unwrap_or(503)).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut r = (status, "{\"error\":\"injected\"}").into_response();
            if let Some(s) = f.retry_after {
                r.headers_mut().insert(header::RETRY_AFTER, s.into());
            }
            return r;
        }
        Some("timeout") => {
            tokio::time::sleep(Duration::from_millis(fault.as_ref().and_then(|f| f.ms).unwrap_or(30_000))).await;
            return (StatusCode::GATEWAY_TIMEOUT, "{\"error\":\"timeout\"}").into_response();
        }
        _ => {}
    }
    if let Some((status, ct, bytes)) = platforms.take_replay(platform) {
        return (status, [(header::CONTENT_TYPE, ct)], bytes).into_response();
    }
    let parsed = if xml { parse_xml(&body) } else { parse_json(&body) };
    let (package_id, item, records) = match parsed {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, serde_json::json!({"error": e}).to_string()).into_response(),
    };
    let limit = fault.as_ref().filter(|f| f.fault == "partial").map(|f| f.accept.unwrap_or(0));
    let verdicts = platforms.process(platform, &item, &records, limit);
    let answer = if xml { xml_answer(&package_id, &verdicts) } else { json_answer(&package_id, &verdicts) };
    match fault.as_ref().map(|f| f.fault.as_str()) {
        Some("slow") => {
            tokio::time::sleep(Duration::from_millis(fault.as_ref().and_then(|f| f.ms).unwrap_or(1000))).await
        }
        Some("duplicate") => {
            let mut state = platforms.state.lock().expect("state lock");
            state.entry(platform.to_string()).or_default().replay =
                Some((StatusCode::OK, content_type, answer.clone()));
        }
        Some("drop") => {
            // Processed, but the connection breaks before the answer: the client never hears.
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by the sandbox"))
            });
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from_stream(broken))
                .expect("a valid response");
        }
        _ => {}
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], answer).into_response()
}

async fn push_json(
    State(p): State<AppState>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    push(&p, &name, &headers, body, false).await
}

async fn push_xml(
    State(p): State<AppState>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    push(&p, &name, &headers, body, true).await
}

async fn stats(State(p): State<AppState>) -> Response {
    axum::Json(p.stats()).into_response()
}

#[derive(Deserialize)]
struct Subject {
    name: String,
    credit_code: String,
}

/// The subject base library as the platform pushes it down: CSV `name,credit_code`, the shape
/// `--subjects` reads and `credit-gateway subjects import` takes.
async fn list_subjects(State(p): State<AppState>) -> Response {
    let subjects = p.subjects.read().expect("subjects lock");
    let mut sorted: Vec<(&String, &String)> = subjects.iter().collect();
    sorted.sort();
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["name", "credit_code"]);
    for (code, name) in sorted {
        let _ = w.write_record([name.as_str(), code.as_str()]);
    }
    let body = w.into_inner().unwrap_or_default();
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

async fn add_subjects(State(p): State<AppState>, axum::Json(list): axum::Json<Vec<Subject>>) -> Response {
    let mut subjects = p.subjects.write().expect("subjects lock");
    for s in &list {
        subjects.insert(s.credit_code.trim().to_string(), s.name.trim().to_string());
    }
    axum::Json(serde_json::json!({"subjects": subjects.len()})).into_response()
}

async fn add_fault(State(p): State<AppState>, axum::Json(fault): axum::Json<Fault>) -> Response {
    let known = ["status", "timeout", "slow", "drop", "partial", "duplicate"];
    if !known.contains(&fault.fault.as_str()) {
        return (StatusCode::BAD_REQUEST, format!("unknown fault {:?} (expected one of {known:?})", fault.fault))
            .into_response();
    }
    let mut state = p.state.lock().expect("state lock");
    state.entry(fault.platform.clone()).or_default().faults.push_back(fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn list_faults(State(p): State<AppState>) -> Response {
    let state = p.state.lock().expect("state lock");
    let all: Vec<&Fault> = state.values().flat_map(|s| s.faults.iter()).collect();
    axum::Json(serde_json::json!(all)).into_response()
}

async fn reset(State(p): State<AppState>) -> Response {
    p.state.lock().expect("state lock").clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct ReceivedQuery {
    platform: String,
    item: String,
}

async fn received(State(p): State<AppState>, Query(q): Query<ReceivedQuery>) -> Response {
    let state = p.state.lock().expect("state lock");
    let list: Vec<serde_json::Value> = state
        .get(&q.platform)
        .and_then(|s| s.items.get(&q.item))
        .map(|s| {
            s.keys
                .iter()
                .filter(|(_, (accepted, _))| *accepted)
                .map(|(k, (_, b))| serde_json::json!({"key": k, "business_key": b}))
                .collect()
        })
        .unwrap_or_default();
    axum::Json(list).into_response()
}

async fn add_feed_records(
    State(p): State<AppState>,
    UrlPath(name): UrlPath<String>,
    axum::Json(list): axum::Json<Vec<serde_json::Value>>,
) -> Response {
    let mut feeds = p.feeds.lock().expect("feeds lock");
    let feed = feeds.entry(name).or_default();
    feed.extend(list);
    axum::Json(serde_json::json!({"records": feed.len()})).into_response()
}

#[derive(Deserialize)]
struct FeedQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

/// The page after `cursor` (a position), and the next cursor.
type FeedPage = (Vec<serde_json::Value>, usize, bool);

fn feed_page(p: &Platforms, name: &str, q: &FeedQuery) -> Result<FeedPage, (StatusCode, &'static str)> {
    if let Some(f) = p.take_fault(name).filter(|f| f.fault == "status") {
        let status = StatusCode::from_u16(f.status.unwrap_or(503)).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return Err((status, "{\"error\":\"injected\"}"));
    }
    let start = match q.cursor.as_deref().filter(|c| !c.is_empty()).map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err((StatusCode::BAD_REQUEST, "{\"error\":\"bad cursor\"}")),
    };
    let feeds = p.feeds.lock().expect("feeds lock");
    let all = feeds.get(name).map(Vec::as_slice).unwrap_or_default();
    let start = start.min(all.len());
    let end = (start + q.limit.unwrap_or(100).clamp(1, 10_000)).min(all.len());
    Ok((all[start..end].to_vec(), end, end < all.len()))
}

async fn feed_json(State(p): State<AppState>, UrlPath(name): UrlPath<String>, Query(q): Query<FeedQuery>) -> Response {
    match feed_page(&p, &name, &q) {
        Ok((records, next, more)) => {
            axum::Json(serde_json::json!({"records": records, "next_cursor": next.to_string(), "more": more}))
                .into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn feed_xml(State(p): State<AppState>, UrlPath(name): UrlPath<String>, Query(q): Query<FeedQuery>) -> Response {
    let (records, next, more) = match feed_page(&p, &name, &q) {
        Ok(page) => page,
        Err(r) => return r.into_response(),
    };
    let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Feed next=\"{next}\" more=\"{more}\">");
    let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    for r in &records {
        out.push_str("<Record");
        if let Some(obj) = r.as_object() {
            for (k, v) in obj.iter().filter(|(k, _)| *k != "data") {
                out.push_str(&format!(" {k}=\"{}\"", xml_escape(&text(v))));
            }
            out.push('>');
            for (k, v) in obj.get("data").and_then(|d| d.as_object()).into_iter().flatten() {
                out.push_str(&format!("<{k}>{}</{k}>", xml_escape(&text(v))));
            }
        } else {
            out.push('>');
        }
        out.push_str("</Record>");
    }
    out.push_str("</Feed>");
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], out).into_response()
}

pub fn router(platforms: Arc<Platforms>) -> axum::Router {
    axum::Router::new()
        .route("/platforms/{name}/feed", get(feed_json))
        .route("/platforms/{name}/feed.xml", get(feed_xml))
        .route("/sandbox/feed/{name}", post(add_feed_records))
        .route("/platforms/{name}/json", post(push_json))
        .route("/platforms/{name}/xml", post(push_xml))
        .route("/sandbox/stats", get(stats))
        .route("/sandbox/received", get(received))
        .route("/sandbox/subjects", post(add_subjects).get(list_subjects))
        .route("/sandbox/faults", post(add_fault).get(list_faults))
        .route("/sandbox/reset", post(reset))
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(platforms)
}

/// The running sandbox platforms.
pub struct RunningSandbox {
    addr: SocketAddr,
    platforms: Arc<Platforms>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningSandbox {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn platforms(&self) -> &Arc<Platforms> {
        &self.platforms
    }

    /// `--strict-subjects`: a subject the library does not know is returned (1001) too.
    pub fn set_strict_subjects(&self, strict: bool) {
        self.platforms.strict_subjects.store(strict, std::sync::atomic::Ordering::Relaxed);
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

pub async fn start(opts: SandboxOptions) -> Result<RunningSandbox, SandboxError> {
    let platforms = Arc::new(Platforms::new(&opts)?);
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| SandboxError::Listen { addr: opts.listen, source })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Listen { addr: opts.listen, source })?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app = router(platforms.clone());
    let mut on_stop = stopped.clone();
    let server = crate::supervisor::spawn_owned(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = on_stop.wait_for(|s| *s).await;
            })
            .await;
    });
    let mut tasks = vec![server];
    if let Some(dir) = opts.exchange.clone() {
        let p = platforms.clone();
        let mut on_stop = stopped.clone();
        tasks.push(crate::supervisor::spawn_owned(async move {
            loop {
                exchange_files(&p, &dir);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = on_stop.wait_for(|s| *s) => return,
                }
            }
        }));
    }
    Ok(RunningSandbox { addr, platforms, stop, tasks })
}

/// File exchange: every `<dir>/<platform>/outbound/*.xml` package is processed, its receipt
/// written to `receipts/` (whole, by rename) and the package moved to `done/`.
fn exchange_files(platforms: &Platforms, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for platform in entries.flatten().filter(|e| e.path().is_dir()) {
        let name = platform.file_name().to_string_lossy().into_owned();
        let Ok(files) = std::fs::read_dir(platform.path().join("outbound")) else { continue };
        for file in files.flatten() {
            let file_name = file.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') || !file_name.ends_with(".xml") {
                continue;
            }
            let Ok(body) = std::fs::read(file.path()) else { continue };
            let stem = file_name.trim_end_matches(".xml").to_string();
            let (id, receipt) = match parse_xml(&body) {
                Ok((id, item, records)) => {
                    let verdicts = platforms.process(&name, &item, &records, None);
                    (id.clone(), xml_answer(&id, &verdicts))
                }
                Err(e) => (
                    stem.clone(),
                    Bytes::from(format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Receipt><PackageId>{}</PackageId><Error>{}</Error></Receipt>",
                        xml_escape(&stem),
                        xml_escape(&e)
                    )),
                ),
            };
            let receipts = platform.path().join("receipts");
            let done = platform.path().join("done");
            let written = std::fs::create_dir_all(&receipts)
                .and_then(|_| std::fs::create_dir_all(&done))
                .and_then(|_| std::fs::write(receipts.join(format!(".{id}.tmp")), &receipt))
                .and_then(|_| {
                    std::fs::rename(receipts.join(format!(".{id}.tmp")), receipts.join(format!("{id}.receipt.xml")))
                })
                .and_then(|_| std::fs::rename(file.path(), done.join(&file_name)));
            if let Err(e) = written {
                tracing::warn!(file = %file.path().display(), error = %e, "sandbox file exchange");
            }
        }
    }
}
