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
pub mod masking;
pub mod metrics;
pub mod operations;
pub mod pages;
pub mod records;
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
        .route("/problems", get(records::problems_page))
        .route("/records/{id}", get(records::record_page))
        .route("/connectors", get(operations::connectors_page))
        .route("/deliveries", get(operations::deliveries_page))
        .route("/deliveries/retry", post(operations::retry))
        .route("/connectors/run", post(operations::run_connector))
        .route("/api/v1/overview", get(api::overview))
        .route("/api/v1/departments", get(departments::api))
        .route("/api/v1/deadlines", get(deadlines::api))
        .route("/api/v1/problems", get(records::problems_api))
        .route("/api/v1/records/{id}", get(records::record_api))
        .route("/api/v1/connectors", get(operations::connectors_api))
        .route("/api/v1/deliveries", get(operations::deliveries_api))
        .route("/api/v1/openapi.json", get(api::openapi))
        .layer(axum::middleware::from_fn_with_state(state.clone(), masking::mask_unless_admin))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the database answers.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.store.ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("listening on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Binds `addr`; the returned future serves until `stop` turns true.
pub async fn bind(
    addr: SocketAddr,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, impl Future<Output = Result<(), WebError>>), WebError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| WebError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(|source| WebError::Bind { addr, source })?;
    let serve = async move {
        // The peer's address reaches the handlers, for the login throttle.
        axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(WebError::Serve)
    };
    Ok((local, serve))
}
