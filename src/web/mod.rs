//! The web side of the daemon (axum): the ops dashboard (server-rendered pages in Chinese),
//! the JSON API under `/api/v1`, `/metrics` for Prometheus, `/healthz` and `/readyz`.
//!
//! Every route but the health checks and the login asks for a [`auth::Caller`] and checks
//! its role; department users see their own department only. Every answer passes the
//! [`masking`] layer, which masks ID numbers for all but admins.

pub mod api;
pub mod auth;
pub mod deadlines;
pub mod departments;
pub mod grading;
pub mod lists;
pub mod masking;
pub mod metrics;
pub mod missing;
pub mod objections;
pub mod operations;
pub mod origin;
pub mod pages;
pub mod params;
pub mod publicity;
pub mod records;
pub mod serve;
pub mod subjects;
pub mod throttle;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    /// The settings in force (the daemon swaps in a new configuration on SIGHUP).
    settings: watch::Receiver<Arc<Settings>>,
    pub store: Store,
    /// The calendar in force (the daemon swaps in new years without a restart).
    pub calendar: watch::Receiver<Arc<Calendar>>,
    /// The daemon's clock: 今日, statuses, sessions and audit stamps follow it.
    pub clock: Clock,
    /// The overview's figures of the last few seconds, per scope.
    pub overview_cache: Arc<api::OverviewCache>,
    /// Lists' totals that are slow to count, kept a few seconds per question.
    pub list_totals: Arc<lists::TotalCache>,
    /// The daemon's connectors, to ask for a pass now; `None` where no daemon runs them.
    pub run_now: Option<Arc<crate::connector::runner::RunNow>>,
    /// Failed logins per name and address, in this process's memory.
    pub login_throttle: Arc<throttle::LoginThrottle>,
}

impl AppState {
    /// Fixed settings (tests, benchmarks), on the real clock until [`AppState::with_clock`].
    pub fn new(settings: Arc<Settings>, store: Store, calendar: watch::Receiver<Arc<Calendar>>) -> AppState {
        AppState::live(watch::channel(settings).1, store, calendar, Clock::real())
    }

    /// Settings that follow the daemon's reloads, and the daemon's clock.
    pub fn live(
        settings: watch::Receiver<Arc<Settings>>,
        store: Store,
        calendar: watch::Receiver<Arc<Calendar>>,
        clock: Clock,
    ) -> AppState {
        AppState {
            settings,
            store,
            calendar,
            clock,
            overview_cache: Arc::default(),
            list_totals: Arc::default(),
            run_now: None,
            login_throttle: Arc::default(),
        }
    }

    /// On another clock.
    pub fn with_clock(self, clock: Clock) -> AppState {
        AppState { clock, ..self }
    }

    /// With the daemon's connectors, which the dashboard may ask for a pass now.
    pub fn with_run_now(self, run_now: Arc<crate::connector::runner::RunNow>) -> AppState {
        AppState { run_now: Some(run_now), ..self }
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings.borrow().clone()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    /// Years without a calendar file that deadlines of this year and the next reach into.
    pub fn missing_years(&self) -> Vec<i32> {
        use chrono::Datelike;
        let year = self.today().year();
        self.calendar.borrow().missing_years(year, year + 1)
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/departments", get(departments::page_html))
        .route("/deadlines", get(deadlines::page_or_export))
        .route("/publicity", get(publicity::page_html))
        .route("/grading", get(grading::page_html))
        .route("/problems", get(records::problems_page))
        .route("/missing", get(missing::page_html))
        .route("/problems/report/{run}", get(records::error_report))
        .route("/records/{id}", get(records::record_page))
        .route("/subjects", get(subjects::search_page))
        .route("/subjects/{code}", get(subjects::file_page))
        .route("/subjects/{code}/report", get(subjects::report_page))
        .route("/objections", get(objections::list_page).post(objections::create_page))
        .route("/objections/{id}", get(objections::show_page))
        .route("/objections/{id}/answer", post(objections::answer_page))
        .route("/objections/{id}/reply", post(objections::reply_page))
        .route("/objections/{id}/close", post(objections::close_page))
        .route("/connectors", get(operations::connectors_page))
        .route("/deliveries", get(operations::deliveries_page))
        .route("/deliveries/retry", post(operations::retry))
        .route("/connectors/run", post(operations::run_connector))
        .route("/api/v1/overview", get(api::overview))
        .route("/api/v1/departments", get(departments::api))
        .route("/api/v1/deadlines", get(deadlines::api))
        .route("/api/v1/publicity", get(publicity::api))
        .route("/api/v1/grading", get(grading::api))
        .route("/api/v1/problems", get(records::problems_api))
        .route("/api/v1/records/{id}", get(records::record_api))
        .route("/api/v1/subjects", get(subjects::search_api))
        .route("/api/v1/subjects/{code}", get(subjects::file_api))
        .route("/api/v1/connectors", get(operations::connectors_api))
        .route("/api/v1/deliveries", get(operations::deliveries_api))
        .route("/api/v1/objections", get(objections::list_api).post(objections::create_api))
        .route("/api/v1/objections/{id}", get(objections::show_api))
        .route("/api/v1/objections/{id}/answer", post(objections::answer_api))
        .route("/api/v1/objections/{id}/reply", post(objections::reply_api))
        .route("/api/v1/objections/{id}/close", post(objections::close_api))
        .route("/api/v1/openapi.json", get(api::openapi))
        .fallback(params::fallback)
        .layer(axum::middleware::from_fn(api::refuse_nul))
        .layer(axum::middleware::from_fn(forbidden_page))
        .layer(axum::middleware::from_fn_with_state(state.clone(), masking::mask_unless_admin))
        // A write that rides on the session cookie must come from our own pages.
        .layer(axum::middleware::from_fn(origin::same_origin_writes))
        .with_state(state)
}

/// A browser refused a page (a clerk opening 投递) reads why in Chinese, on a page; API
/// callers keep the JSON answer.
async fn forbidden_page(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let page = !request.uri().path().starts_with("/api/")
        && request
            .headers()
            .get(axum::http::header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if !(page && json && response.status() == axum::http::StatusCode::FORBIDDEN) {
        return response;
    }
    let body = maud::html! {
        p class="err" id="forbidden" { "无权访问：此页面仅对运维人员和管理员开放。如需查看，请联系信用办。" }
        p { a href="/" { "返回总览" } }
    };
    (axum::http::StatusCode::FORBIDDEN, pages::page("无权访问", None, body)).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// How long `/readyz` waits for its proof write.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Ready when the database takes a write (this instance's heartbeat row): a database that
/// still answers reads but refuses writes (its WAL deleted, turned read-only) is not ready.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let instance = crate::service::instance_id();
    let proof = state.store.prove_write(&instance, state.now());
    let reason = match tokio::time::timeout(READY_WITHIN, proof).await {
        Ok(Ok(())) => return "ready\n".into_response(),
        Ok(Err(e)) => format!("数据库不接受写入：{e}"),
        Err(_) => format!("数据库写入 {} 秒未完成", READY_WITHIN.as_secs()),
    };
    tracing::warn!(%reason, "not ready");
    (axum::http::StatusCode::SERVICE_UNAVAILABLE, format!("未就绪：{reason}\n")).into_response()
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("listening on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Binds `addr`; the returned future serves until `stop` turns true, under the settings'
/// limits (`[http] header_read_timeout_seconds`, `max_connections`).
pub async fn bind(
    addr: SocketAddr,
    state: AppState,
    stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, impl Future<Output = Result<(), WebError>>), WebError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| WebError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(|source| WebError::Bind { addr, source })?;
    let settings = state.settings();
    let gateway = &settings.gateway;
    let limits =
        serve::Limits { header_read_timeout: gateway.header_read_timeout, max_connections: gateway.max_connections };
    let serve = async move {
        serve::serve(listener, router(state), limits, stop).await;
        Ok(())
    };
    Ok((local, serve))
}
