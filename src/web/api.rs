//! The JSON API under `/api/v1`: what the pages show, for scripts and other systems.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use super::auth::Caller;
use crate::store::{ConnectorHealth, OverviewCounts, StoreError};

/// Every error the API answers in JSON: a stable code (`bad_request`, `unauthenticated`,
/// `forbidden`, `not_found`, `conflict`, `internal`) and what went wrong, in Chinese.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// What registering an objection answers: the case, or every case when a 文书号 finds several
/// records (for the document only; the handler serializes the same shapes).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CreatedCases {
    One(Box<crate::objection::handle::Detail>),
    Many(Vec<crate::objection::handle::Detail>),
}

/// The error answers every operation may give, documented once: no or unknown token (401) and
/// a failure of ours (500). Each set below is used as `responses((status = 200, ..), Set)`, so
/// an operation names only what is particular to it (the document only; handlers answer
/// [`ErrorBody`]).
#[derive(utoipa::IntoResponses)]
pub enum Refusals {
    #[response(status = 401, description = "no or unknown token")]
    Unauthenticated(ErrorBody),
    #[response(status = 500, description = "服务器内部错误，请稍后重试")]
    Internal(ErrorBody),
}

/// A read taking parameters: [`Refusals`] and a parameter it cannot read (400).
#[derive(utoipa::IntoResponses)]
pub enum QueryRefusals {
    #[response(status = 400, description = "参数无效（中文说明哪个参数、应为何值）")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "no or unknown token")]
    Unauthenticated(ErrorBody),
    #[response(status = 500, description = "服务器内部错误，请稍后重试")]
    Internal(ErrorBody),
}

/// A read of one thing by its key: [`QueryRefusals`] and a key naming nothing the caller may
/// see (404).
#[derive(utoipa::IntoResponses)]
pub enum LookupRefusals {
    #[response(status = 400, description = "参数无效（中文说明哪个参数、应为何值）")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "no or unknown token")]
    Unauthenticated(ErrorBody),
    #[response(status = 404, description = "not found, or another department's")]
    NotFound(ErrorBody),
    #[response(status = 500, description = "服务器内部错误，请稍后重试")]
    Internal(ErrorBody),
}

/// A step on an objection case: a body it cannot read (400), a role that may not take the
/// step (403), a case naming nothing the caller may see (404), a step the case's status
/// refuses (409), with [`Refusals`].
#[derive(utoipa::IntoResponses)]
pub enum StepRefusals {
    #[response(status = 400, description = "请求无效（中文说明）")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "no or unknown token")]
    Unauthenticated(ErrorBody),
    #[response(status = 403, description = "this role may not do it")]
    Forbidden(ErrorBody),
    #[response(status = 404, description = "not found, or another department's")]
    NotFound(ErrorBody),
    #[response(status = 409, description = "案件当前状态不允许此操作")]
    Conflict(ErrorBody),
    #[response(status = 500, description = "服务器内部错误，请稍后重试")]
    Internal(ErrorBody),
}

/// A failure answering a request: logged in full, answered briefly.
pub struct ApiError(StoreError);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "answering a request");
        let body = ErrorBody { error: "internal".into(), message: "服务器内部错误，请稍后重试".into() };
        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    }
}

/// PostgreSQL refuses text holding NUL, which SQLite stores: a request whose path or query
/// holds an encoded NUL (`%00`) is refused here, with 400 and a Chinese reason, before any
/// handler puts it into a query (it was a 500 on PostgreSQL), so both backends answer alike.
pub async fn refuse_nul(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = request.uri();
    if !(uri.path().contains("%00") || uri.query().is_some_and(|q| q.contains("%00"))) {
        return next.run(request).await;
    }
    let message = "请求中含有空字符（%00），无法处理";
    if uri.path().starts_with("/api/") {
        let body = ErrorBody { error: "bad_request".into(), message: message.into() };
        (axum::http::StatusCode::BAD_REQUEST, Json(body)).into_response()
    } else {
        (axum::http::StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Overview {
    #[schema(format = Date)]
    pub today: String,
    /// When these figures were counted (they are kept for a few seconds: see [`OverviewCache`]).
    #[schema(format = DateTime)]
    pub as_of: String,
    #[serde(flatten)]
    pub counts: OverviewCounts,
    pub departments: Vec<DepartmentLine>,
    pub connectors: Vec<ConnectorLine>,
    /// Deliveries per status (the queue).
    pub deliveries: Vec<StatusCount>,
    /// Deliveries per destination and status, for the 投递 page (counted with the figures, as
    /// counting two million deliveries takes most of a second).
    #[serde(skip)]
    pub delivery_counts: Vec<(String, String, i64)>,
    /// Years without a calendar file that this year's deadlines reach into.
    pub calendar_missing_years: Vec<i32>,
    /// 今日催办: one line per department, overdue split by who must act.
    pub chase: Vec<ChaseRow>,
    /// Destinations whose pushes fail now (the red banner).
    pub outages: Vec<OutageLine>,
    /// Working days a department has to correct a returned record.
    pub correction_working_days: u32,
    /// Records first returned on or before this day and still open are past their correction time.
    pub corrections_due_by: Option<String>,
    /// Penalties whose publicity has ended and that a platform still holds, or whose withdrawal
    /// is still to be accepted (the 待撤下公示 card).
    pub withdrawals_due: i64,
}

/// One department's line of 今日催办 (SPEC §7 overdue, split by cause).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChaseRow {
    pub id: String,
    pub name: String,
    /// Overdue: the department handed the record over after its deadline (部门未报送).
    pub overdue_department: i64,
    /// Overdue: returned by a platform and not yet corrected (已退回待补正).
    pub overdue_returned: i64,
    /// Overdue although it reached the gateway in time: our push or the platform (not charged).
    pub overdue_push: i64,
    /// Due within the due-soon working days.
    pub due_soon: i64,
    /// Returned records past their correction time (补正超期).
    pub corrections_overdue: i64,
    /// Calendar days since the oldest deadline charged to the department.
    pub oldest_days_overdue: Option<i64>,
}

/// A destination whose pushes are failing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutageLine {
    pub destination: String,
    pub title: String,
    /// RFC 3339 (UTC) and Asia/Shanghai `HH:MM`.
    pub since: String,
    pub since_local: String,
    /// In Chinese.
    pub error: String,
    pub http_status: Option<u16>,
    pub pending: i64,
}

/// The last day a record may have been first returned on and be past its correction time
/// today: more than `allowed` working days in (day, today].
pub fn correction_cutoff(
    calendar: &crate::calendar::Calendar,
    today: chrono::NaiveDate,
    allowed: u32,
) -> Option<chrono::NaiveDate> {
    let mut day = today;
    let mut waited = 0u32;
    for _ in 0..800 {
        waited += u32::from(calendar.is_workday(day).workday);
        day = day.pred_opt()?;
        if waited > allowed {
            return Some(day);
        }
    }
    None
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepartmentLine {
    pub id: String,
    pub name: String,
    pub records: i64,
    /// 迟报率 of all accepted records: late / (on time + late); null before any acceptance.
    pub late_rate: Option<f64>,
    /// Overdue and charged to the department (部门未报送, 已退回待补正); overdue by our push
    /// is never the department's.
    pub overdue: i64,
    pub returned: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectorLine {
    pub name: String,
    pub department: String,
    /// `ok`, `idle`, `error`, or `never` before its first run.
    pub status: String,
    pub last_run: Option<String>,
    pub next_run: Option<String>,
    pub rows_total: i64,
    pub errors_total: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
}

/// How long counted figures are served as they are.
const FRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// The overview is counted over every record and delivery (a million records take a second
/// or more on SQLite), so each scope's figures are kept for [`FRESH`] and then recounted in
/// the background while the last ones are still served: a page never waits for the count,
/// and the database counts once per scope and interval however many people look.
#[derive(Default)]
pub struct OverviewCache {
    entries: std::sync::Mutex<std::collections::HashMap<Option<String>, Cached>>,
}

struct Cached {
    counted: std::time::Instant,
    overview: std::sync::Arc<Overview>,
    recounting: bool,
}

impl OverviewCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Option<String>, Cached>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn put(&self, scope: Option<String>, overview: std::sync::Arc<Overview>) {
        let cached = Cached { counted: std::time::Instant::now(), overview, recounting: false };
        self.entries().insert(scope, cached);
    }
}

/// A recount under way for one scope. However it ends (new figures, an error, a panic, or
/// the runtime dropping it), the scope is no longer marked as recounting, so a later look
/// starts another instead of serving the old figures for ever.
struct Recount {
    cache: std::sync::Arc<OverviewCache>,
    scope: Option<String>,
}

impl Drop for Recount {
    fn drop(&mut self) {
        if let Some(c) = self.cache.entries().get_mut(&self.scope) {
            c.recounting = false;
        }
    }
}

/// Everything the 总览 page shows, limited to the caller's department for department users:
/// the figures of the last [`FRESH`] seconds, or counted now if there are none yet.
pub async fn overview_for(state: &AppState, caller: &Caller) -> Result<std::sync::Arc<Overview>, StoreError> {
    let scope = caller.scope().map(str::to_string);
    let stale = {
        let mut entries = state.overview_cache.entries();
        match entries.get_mut(&scope) {
            Some(c) if c.counted.elapsed() < FRESH => return Ok(c.overview.clone()),
            Some(c) => {
                let start = !c.recounting;
                c.recounting = true;
                Some((c.overview.clone(), start))
            }
            None => None,
        }
    };
    match stale {
        Some((overview, start)) => {
            if start {
                let (state, caller) = (state.clone(), caller.clone());
                crate::supervisor::spawn_once("overview-recount", async move {
                    let recount =
                        Recount { cache: state.overview_cache.clone(), scope: caller.scope().map(str::to_string) };
                    match count_overview(&state, &caller).await {
                        Ok(o) => state.overview_cache.put(recount.scope.clone(), std::sync::Arc::new(o)),
                        Err(e) => tracing::warn!(error = %e, "recounting the overview failed; the last figures stay"),
                    }
                });
            }
            Ok(overview)
        }
        None => {
            let overview = std::sync::Arc::new(count_overview(state, caller).await?);
            state.overview_cache.put(scope, overview.clone());
            Ok(overview)
        }
    }
}

async fn count_overview(state: &AppState, caller: &Caller) -> Result<Overview, StoreError> {
    let today = state.today();
    let scope = caller.scope();
    let counts = state.store.overview_counts(today, scope).await?;
    let by_department = state.store.department_counts(today, scope).await?;
    let departments: Vec<DepartmentLine> = state
        .settings()
        .departments
        .iter()
        .filter(|d| caller.sees(&d.id))
        .map(|d| {
            let c = by_department.iter().find(|c| c.department == d.id);
            let (on_time, late) = c.map_or((0, 0), |c| (c.on_time, c.late));
            DepartmentLine {
                id: d.id.clone(),
                name: d.name.clone(),
                records: c.map_or(0, |c| c.records),
                late_rate: (on_time + late > 0).then(|| late as f64 / (on_time + late) as f64),
                overdue: c.map_or(0, |c| c.overdue),
                returned: c.map_or(0, |c| c.returned),
            }
        })
        .collect();
    let health = state.store.connector_health().await?;
    let connectors = state
        .settings()
        .connectors
        .iter()
        .filter(|c| caller.sees(&c.department))
        .map(|c| {
            let h = health
                .iter()
                .find(|h| h.connector == c.name)
                .cloned()
                .unwrap_or_else(|| ConnectorHealth { connector: c.name.clone(), ..ConnectorHealth::default() });
            ConnectorLine {
                name: c.name.clone(),
                department: c.department.clone(),
                status: if c.enabled { h.last_status.unwrap_or_else(|| "never".into()) } else { "disabled".into() },
                last_run: h.last_run_at,
                next_run: h.next_run_at,
                rows_total: h.rows_total,
                errors_total: h.errors_total,
                last_error: h.last_error,
            }
        })
        .collect();
    // The queue is shared by every department: only ops and admins see it whole.
    let delivery_counts = match scope {
        None => state.store.delivery_counts().await?,
        Some(_) => Vec::new(),
    };
    let mut by_status = std::collections::BTreeMap::<&str, i64>::new();
    for (_, status, n) in &delivery_counts {
        *by_status.entry(status).or_default() += n;
    }
    let deliveries =
        by_status.into_iter().map(|(status, count)| StatusCount { status: status.to_string(), count }).collect();
    let settings = state.settings();
    let allowed = settings.gateway.correction_working_days;
    let cutoff = correction_cutoff(&state.calendar.borrow(), today, allowed).map(|d| d.to_string());
    let return_days = state.store.open_return_days(scope).await?;
    let returned_of = |department: Option<&str>, by: Option<&str>| -> i64 {
        return_days
            .iter()
            .filter(|(d, on, _)| department.is_none_or(|x| x == d) && by.is_none_or(|b| on.as_str() <= b))
            .map(|(_, _, n)| n)
            .sum()
    };
    let lines = state.store.chase_lines(today, scope).await?;
    let chase = settings
        .departments
        .iter()
        .filter(|d| caller.sees(&d.id))
        .map(|d| {
            let l = lines.iter().find(|l| l.department == d.id).cloned().unwrap_or_default();
            ChaseRow {
                id: d.id.clone(),
                name: d.name.clone(),
                overdue_department: l.overdue_department,
                overdue_returned: l.overdue_returned,
                overdue_push: l.overdue_push,
                due_soon: l.due_soon,
                corrections_overdue: cutoff.as_deref().map_or(0, |c| returned_of(Some(&d.id), Some(c))),
                oldest_days_overdue: l
                    .oldest_deadline
                    .as_deref()
                    .and_then(|o| o.parse::<chrono::NaiveDate>().ok())
                    .map(|o| (today - o).num_days()),
            }
        })
        .collect();
    let outages = if scope.is_none() {
        state
            .store
            .push_outages()
            .await?
            .into_iter()
            .map(|o| OutageLine {
                title: settings
                    .destinations
                    .iter()
                    .find(|d| d.name == o.destination)
                    .map_or(o.destination.clone(), |d| d.title.clone()),
                since_local: crate::glossary::local_hm(&o.failing_since),
                error: crate::glossary::push_error(&o.last_error),
                http_status: crate::glossary::http_status(&o.last_error),
                destination: o.destination,
                since: o.failing_since,
                pending: o.pending,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut counts = counts;
    counts.returned = returned_of(None, None);
    let departments: Vec<DepartmentLine> = departments
        .into_iter()
        .map(|mut d: DepartmentLine| {
            d.returned = returned_of(Some(&d.id), None);
            d
        })
        .collect();
    let withdrawals_due = state.store.withdrawals_due(today, scope).await?;
    Ok(Overview {
        chase,
        outages,
        correction_working_days: allowed,
        corrections_due_by: cutoff,
        withdrawals_due,
        today: today.to_string(),
        as_of: state.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        counts,
        departments,
        connectors,
        deliveries,
        delivery_counts,
        calendar_missing_years: state.missing_years(),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/overview",
    operation_id = "overview",
    summary = "今日总览：逾期、即将到期、本月迟报、退回待补正、死信、部门与连接器",
    responses(
        (status = 200, description = "overview", body = Overview),
        Refusals,
    )
)]
pub async fn overview(State(state): State<AppState>, caller: Caller) -> Result<Json<Overview>, ApiError> {
    let overview = overview_for(&state, &caller).await?;
    let _ = state.store.audit(&caller.name, "view", "api:overview", state.now()).await;
    Ok(Json(Overview::clone(&overview)))
}

/// The OpenAPI description of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    summary = "this document",
    responses(
        (status = 200, description = "OpenAPI", body = Object),
        Refusals,
    )
)]
pub async fn openapi(_caller: Caller) -> Json<serde_json::Value> {
    Json(openapi_document().clone())
}

/// The API's description, generated from the handlers' `#[utoipa::path]` attributes and the
/// types they answer with, so it cannot drift from what they serialize.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "credit-gateway", description = "公共信用信息网关：总览、到期、问题数据、记录、连接器与投递"),
    paths(
        overview,
        openapi,
        super::departments::api,
        super::deadlines::api,
        super::publicity::api,
        super::grading::api,
        super::records::problems_api,
        super::records::record_api,
        super::subjects::search_api,
        super::subjects::file_api,
        super::objections::list_api,
        super::objections::create_api,
        super::objections::show_api,
        super::objections::answer_api,
        super::objections::reply_api,
        super::objections::close_api,
        super::operations::connectors_api,
        super::operations::deliveries_api,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme (the API token) the document's `security` names, and
/// drops the tags utoipa makes of the handlers' module paths (`super::records`).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                op.tags = None;
            }
        }
    }
}

/// The document as JSON, built once.
pub fn openapi_document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        use utoipa::OpenApi as _;
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document is JSON")
    });
    &DOCUMENT
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The router and the document cannot drift: every `/api/v1` route the router serves is
    /// described with each of its methods, and every `{name}` in a path is a path parameter.
    #[test]
    fn every_api_route_is_in_the_openapi_document() {
        let doc = openapi_document();
        let router = include_str!("mod.rs");
        let routes: Vec<&str> = router.lines().filter(|l| l.contains(".route(\"/api/v1/")).collect();
        assert!(routes.len() >= 15, "{routes:?}");
        for line in routes {
            let path = line.split('"').nth(1).unwrap();
            for method in ["get", "post"].into_iter().filter(|m| line.contains(&format!("{m}("))) {
                let op = &doc["paths"][path][method];
                assert!(op.is_object(), "{method} {path} is not in the OpenAPI document");
                for name in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
                    let params = op["parameters"].as_array().cloned().unwrap_or_default();
                    assert!(
                        params.iter().any(|p| p["name"] == name && p["in"] == "path"),
                        "{method} {path}: no path parameter {name}"
                    );
                }
            }
        }
    }

    /// What the hand-written document stated stays stated, and every answer has a schema: the
    /// bearer scheme asked of every operation, a Chinese summary per operation, and a JSON
    /// schema for each documented status.
    #[test]
    fn every_answer_of_the_openapi_document_has_a_schema() {
        let doc = openapi_document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "credit-gateway");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"],
            serde_json::json!({"type": "http", "scheme": "bearer"})
        );
        assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let summary = op["summary"].as_str().unwrap_or("");
                assert!(!summary.is_empty(), "{method} {path}: no summary");
                assert!(
                    path.ends_with("openapi.json") || !summary.is_ascii(),
                    "{method} {path}: the summary is not in Chinese: {summary}"
                );
                assert!(op.get("tags").is_none(), "{method} {path}: tagged {}", op["tags"]);
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{method} {path}: 401 undocumented");
                for (status, response) in responses {
                    let schema = &response["content"]["application/json"]["schema"];
                    assert!(schema.is_object(), "{method} {path} {status}: no JSON schema");
                }
                for p in op["parameters"].as_array().into_iter().flatten() {
                    assert!(p["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path}: {p}");
                }
            }
        }
        assert!(operations >= 17, "{operations} operations");
    }

    fn overview() -> std::sync::Arc<Overview> {
        std::sync::Arc::new(Overview {
            today: "2026-12-03".into(),
            as_of: "2026-12-03T08:00:00Z".into(),
            counts: OverviewCounts::default(),
            departments: Vec::new(),
            connectors: Vec::new(),
            deliveries: Vec::new(),
            delivery_counts: Vec::new(),
            calendar_missing_years: Vec::new(),
            chase: Vec::new(),
            outages: Vec::new(),
            correction_working_days: 5,
            corrections_due_by: None,
            withdrawals_due: 0,
        })
    }

    #[test]
    fn a_recount_that_panics_lets_the_next_look_start_another() {
        let cache = std::sync::Arc::new(OverviewCache::default());
        let scope = Some("market".to_string());
        cache.put(scope.clone(), overview());
        cache.entries().get_mut(&scope).unwrap().recounting = true;
        let recount = Recount { cache: cache.clone(), scope: scope.clone() };
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _recount = recount;
            panic!("counting failed");
        }));
        assert!(panicked.is_err());
        assert!(!cache.entries()[&scope].recounting);
    }
}
