//! `credit-gateway run`: the long-running service.
//!
//! Today it keeps deadlines true while time passes: it watches the calendar folder and, when
//! a year's file is added or changed, swaps in the new calendar and recomputes every
//! provisional deadline; it runs every enabled connector, on its cron schedule or watching
//! its folder, a delivery worker per destination, and the dashboard and API ([`web`](crate::web)).
//! Each loop runs as its own task under a [`Supervisor`](crate::supervisor::Supervisor):
//! owned, awaited on shutdown and reload, and started again if it panics.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Datelike, Utc};
use tokio::sync::watch;

use crate::calendar::{Calendar, shanghai_date};
use crate::clock::Clock;
use crate::config::CalendarFolder;
use crate::config::{ConfigError, Settings};
use crate::connector::runner::{RunNow, run_connector};
use crate::delivery::reminder;
use crate::delivery::worker::{DeadlineFirst, run_destination};
use crate::store::{Store, StoreError};
use crate::supervisor::{LoopFactory, Supervisor};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Web(#[from] crate::web::WebError),
}

/// What identifies the calendar folder's state: each file's name, size and modification time.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn calendar_fingerprint(dir: &Path) -> Fingerprint {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .map(|e| {
            let meta = e.metadata().ok();
            (e.path(), meta.as_ref().map_or(0, |m| m.len()), meta.and_then(|m| m.modified().ok()))
        })
        .collect();
    files.sort();
    files
}

fn warn_missing_years(calendar: &Calendar, now: DateTime<Utc>) {
    let year = shanghai_date(now).year();
    for missing in calendar.missing_years(year, year + 1) {
        tracing::warn!(year = missing, "no calendar file for this year: deadlines reaching into it are provisional");
    }
}

/// Runs until `shutdown` resolves; every task asks `clock` the time.
pub async fn run(
    config_file: &Path,
    clock: Clock,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    run_with(config_file, clock, shutdown, |_| {}).await
}

/// What a caller adds to the daemon's own work.
#[derive(Clone, Default)]
pub struct Options {
    /// Loops run in every generation beside the configured ones, supervised like them
    /// (named, restarted after a panic, stopped with the generation).
    pub extra_loops: Vec<(String, LoopFactory)>,
}

/// [`run`], telling `listening` the dashboard's address once it is bound.
///
/// The dashboard and the store live as long as the process. The work (connectors, delivery
/// workers, upkeep, the calendar watch) runs as one generation of tasks under the settings in
/// force; `SIGHUP` loads the configuration again and, if it is valid, stops the generation
/// (each task finishes the step it is in: the file in hand, the batch in flight) and starts
/// the next under the new settings. An invalid configuration is refused and the old one runs on.
pub async fn run_with(
    config_file: &Path,
    clock: Clock,
    shutdown: impl std::future::Future<Output = ()>,
    listening: impl FnOnce(std::net::SocketAddr),
) -> Result<(), DaemonError> {
    run_with_options(config_file, clock, shutdown, listening, Options::default()).await
}

/// [`run_with`], with `options`' loops added to each generation.
pub async fn run_with_options(
    config_file: &Path,
    clock: Clock,
    shutdown: impl std::future::Future<Output = ()>,
    listening: impl FnOnce(std::net::SocketAddr),
    options: Options,
) -> Result<(), DaemonError> {
    let (mut settings, mut calendar_seen) = load(config_file)?;
    let store = Store::connect(&settings.gateway.database_url).await?;
    tracing::info!(
        database = %store_kind(&settings.gateway.database_url),
        years = ?settings.calendar.years(),
        "credit-gateway running"
    );
    warn_missing_years(&settings.calendar, clock.now());
    close_interrupted_runs(&store, &clock).await?;
    let (settings_tx, settings_rx) = watch::channel(Arc::new(settings.clone()));
    let (calendar_tx, calendar_rx) = watch::channel(settings.calendar.clone());
    let (web_stop_tx, web_stop) = watch::channel(false);
    let run_now = Arc::new(RunNow::default());
    let state = crate::web::AppState::live(settings_rx, store.clone(), calendar_rx, clock.clone())
        .with_run_now(run_now.clone());
    let (addr, web) = crate::web::bind(settings.gateway.listen, state, web_stop.clone()).await?;
    tracing::info!(url = %format!("http://{addr}/"), "dashboard listening");
    listening(addr);
    let web = async {
        if let Err(e) = web.await {
            tracing::error!(error = %e, "the dashboard stopped");
        }
    };
    // The watchdog is fed from its own task: it goes quiet when the runtime stops scheduling.
    let mut process_tasks = Supervisor::new(web_stop.clone());
    let watchdog_stop = web_stop.clone();
    process_tasks.spawn("watchdog", move || crate::service::feed_watchdog(watchdog_stop.clone()));

    let work = async {
        let mut hangups = hangup_signal();
        tokio::pin!(shutdown);
        let result = loop {
            let (stop_tx, stop_rx) = watch::channel(false);
            let generation = run_tasks(
                settings.clone(),
                store.clone(),
                clock.clone(),
                run_now.clone(),
                calendar_seen.clone(),
                &calendar_tx,
                stop_rx,
                &options,
            );
            tokio::pin!(generation);
            crate::service::ready(&format!("running: {addr}"));
            let next = loop {
                tokio::select! {
                    result = &mut generation => break Next::Ended(result),
                    _ = &mut shutdown => break Next::Stop,
                    _ = next_hangup(&mut hangups) => match reload(config_file, &settings) {
                        Ok(new) => break Next::Reload(Box::new(new)),
                        Err(reason) => {
                            tracing::error!(%reason, "new configuration refused; the running one stays");
                            crate::service::status(&format!("running: {addr}; last reload refused: {reason}"));
                        }
                    },
                }
            };
            match next {
                Next::Ended(result) => break result,
                Next::Stop => {
                    crate::service::stopping();
                    tracing::info!("shutting down: finishing the work in hand");
                    let _ = stop_tx.send(true);
                    break generation.await;
                }
                Next::Reload(new) => {
                    crate::service::reloading();
                    tracing::info!("reloading: finishing the work in hand under the old configuration");
                    let _ = stop_tx.send(true);
                    if let Err(e) = generation.await {
                        tracing::error!(error = %e, "the old configuration's tasks ended with an error");
                    }
                    (settings, calendar_seen) = *new;
                    let _ = settings_tx.send(Arc::new(settings.clone()));
                    let _ = calendar_tx.send(settings.calendar.clone());
                    tracing::info!(
                        connectors = settings.connectors.iter().filter(|c| c.enabled).count(),
                        destinations = settings.destinations.iter().filter(|d| d.enabled).count(),
                        "configuration reloaded"
                    );
                }
            }
        };
        let _ = web_stop_tx.send(true);
        result
    };
    let (result, (), ()) = tokio::join!(work, web, process_tasks.wait());
    store.close().await;
    result
}

/// Ingest runs a dead process left `running` (killed, or the machine went down) are closed as
/// `interrupted`, so they do not look busy for ever. A connector's file is still in its inbox
/// or spool and is taken again whole.
async fn close_interrupted_runs(store: &Store, clock: &Clock) -> Result<(), DaemonError> {
    let at = clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let reason = "处理该文件的进程已中断（被终止或停机），本次导入未完成；连接器的文件仍在收件箱中，会被重新导入。";
    for (id, holder) in store.running_ingests().await? {
        // Runs from before the holder was noted can only be from an older process.
        if holder.as_deref().is_none_or(crate::service::instance_is_gone)
            && store.close_interrupted_ingest(id, reason, &at).await?
        {
            tracing::warn!(
                run = id,
                holder = holder.as_deref().unwrap_or("?"),
                "an ingest run left running by a stopped process is closed as interrupted"
            );
        }
    }
    Ok(())
}

enum Next {
    /// The tasks ended by themselves (only on an error).
    Ended(Result<(), DaemonError>),
    Stop,
    Reload(Box<(Settings, Fingerprint)>),
}

/// The settings with the calendar read now; its folder's fingerprint is taken first, so a
/// file written meanwhile counts as a change.
fn load(config_file: &Path) -> Result<(Settings, Fingerprint), ConfigError> {
    let settings = Settings::load(config_file)?;
    let seen = calendar_fingerprint(&settings.gateway.calendar_dir);
    let settings = match Calendar::load_dir(&settings.gateway.calendar_dir) {
        Ok(calendar) => Settings { calendar: Arc::new(calendar), ..settings },
        Err(_) => settings,
    };
    Ok((settings, seen))
}

/// Why a new configuration may not replace the running one.
#[derive(Debug, thiserror::Error)]
enum ReloadRefused {
    /// Its files have mistakes (one line per mistake, joined for the status line).
    #[error("{}", .0.to_string().replace('\n', "; "))]
    Invalid(#[from] ConfigError),
    #[error("the database URL changed: restart the service to move to another database")]
    DatabaseChanged,
}

/// The configuration on disk, if it may replace `running`: valid, and on the same database.
fn reload(config_file: &Path, running: &Settings) -> Result<(Settings, Fingerprint), ReloadRefused> {
    let (new, seen) = load(config_file)?;
    if new.gateway.database_url != running.gateway.database_url {
        return Err(ReloadRefused::DatabaseChanged);
    }
    if new.gateway.listen != running.gateway.listen {
        tracing::warn!(listen = %new.gateway.listen, "the dashboard's address changes at the next restart");
    }
    Ok((new, seen))
}

#[cfg(unix)]
fn hangup_signal() -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: reloading needs a restart");
            None
        }
    }
}

async fn next_hangup(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// One generation of the daemon's work under `settings`, until `stop`: each loop its own
/// supervised task, all awaited before this returns.
// A generation's inputs are distinct things the loops share; a struct for one call adds nothing.
#[allow(clippy::too_many_arguments)]
async fn run_tasks(
    settings: Settings,
    store: Store,
    clock: Clock,
    run_now: Arc<RunNow>,
    calendar_seen: Fingerprint,
    calendar_tx: &watch::Sender<Arc<Calendar>>,
    stop_rx: watch::Receiver<bool>,
    options: &Options,
) -> Result<(), DaemonError> {
    let shared = Arc::new(settings.clone());
    store.sync_destination_items(&settings.destination_items()).await?;
    store.forget_decisions_without_key(&settings.catalogue).await?;
    let mut tasks = Supervisor::new(stop_rx.clone());
    for c in settings.connectors.iter().filter(|c| c.enabled) {
        let (shared, store, c, clock, run_now, stop) =
            (shared.clone(), store.clone(), c.clone(), clock.clone(), run_now.signal(&c.name), stop_rx.clone());
        tasks.spawn(format!("connector:{}", c.name), move || {
            run_connector(shared.clone(), store.clone(), c.clone(), clock.clone(), run_now.clone(), stop.clone())
        });
    }
    tracing::info!(connectors = settings.connectors.iter().filter(|c| c.enabled).count(), "connectors started");
    let first = DeadlineFirst::default();
    for d in settings.destinations.iter().filter(|d| d.enabled) {
        let (shared, store, d, clock, first, stop) =
            (shared.clone(), store.clone(), d.clone(), clock.clone(), first.clone(), stop_rx.clone());
        tasks.spawn(format!("delivery:{}", d.name), move || {
            run_destination(shared.clone(), store.clone(), d.clone(), clock.clone(), first.clone(), stop.clone())
        });
    }
    let feeds: Vec<_> = settings.feeds.iter().filter(|f| f.enabled).cloned().collect();
    tracing::info!(feeds = feeds.len(), "reverse feeds started");
    for f in feeds {
        let (shared, store, clock, stop) = (shared.clone(), store.clone(), clock.clone(), stop_rx.clone());
        tasks.spawn(format!("feed:{}", f.name), move || {
            crate::feed::pull::run_feed(shared.clone(), f.clone(), store.clone(), clock.clone(), stop.clone())
        });
    }
    {
        let (settings, store, clock, stop) = (settings.clone(), store.clone(), clock.clone(), stop_rx.clone());
        tasks.spawn("upkeep", move || upkeep(settings.clone(), store.clone(), clock.clone(), stop.clone()));
    }
    {
        let (settings, store, clock, stop) = (settings.clone(), store.clone(), clock.clone(), stop_rx.clone());
        tasks.spawn("subjects", move || subjects(settings.clone(), store.clone(), clock.clone(), stop.clone()));
    }
    {
        let (settings, store, clock, publish, stop) =
            (settings.clone(), store.clone(), clock.clone(), calendar_tx.clone(), stop_rx.clone());
        tasks.spawn("calendar", move || {
            watch_calendar(
                settings.clone(),
                store.clone(),
                clock.clone(),
                calendar_seen.clone(),
                publish.clone(),
                stop.clone(),
            )
        });
    }
    for (name, make) in &options.extra_loops {
        let (make, stop) = (make.clone(), stop_rx.clone());
        tasks.spawn(name.clone(), move || make(stop.clone()));
    }
    tasks.wait().await;
    Ok(())
}

fn store_kind(url: &str) -> &'static str {
    if url.starts_with("sqlite:") { "sqlite" } else { "postgres" }
}

/// Polls the calendar folder (cheap, and works on network shares where file events do not);
/// a valid change is swapped in and provisional deadlines are recomputed, an invalid one is
/// refused with its mistakes and the old calendar stays.
async fn watch_calendar(
    settings: Settings,
    store: Store,
    clock: Clock,
    mut seen: Fingerprint,
    publish: watch::Sender<Arc<Calendar>>,
    mut stop: watch::Receiver<bool>,
) {
    let dir = settings.gateway.calendar_dir.clone();
    let mut calendar: Arc<Calendar> = settings.calendar.clone();
    // Deadlines computed while a year was missing may already be answerable.
    recompute(&store, &calendar, &settings).await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(settings.gateway.calendar_poll) => {}
            _ = stop.changed() => return,
        }
        let now = calendar_fingerprint(&dir);
        if now == seen {
            continue;
        }
        seen = now;
        match Calendar::load_dir(&dir) {
            Ok(new) => {
                calendar = Arc::new(new);
                tracing::info!(years = ?calendar.years(), "calendar reloaded");
                let _ = publish.send(calendar.clone());
                recompute(&store, &calendar, &settings).await;
                warn_missing_years(&calendar, clock.now());
            }
            Err(e) => {
                tracing::error!(problems = %e.issues().join("; "), "calendar change refused; the previous calendar stays");
            }
        }
    }
}

async fn recompute(store: &Store, calendar: &Calendar, settings: &Settings) {
    match store.recompute_provisional(calendar, &settings.deadlines).await {
        Ok(0) => {}
        Ok(n) => match store.provisional_count().await {
            Ok(left) => tracing::info!(recomputed = n, still_provisional = left, "provisional deadlines recomputed"),
            Err(e) => tracing::warn!(error = %e, "cannot count provisional deadlines"),
        },
        Err(e) => tracing::error!(error = %e, "recomputing provisional deadlines failed"),
    }
}

/// Hourly: penalties whose planned publicity end passed are withdrawn (撤销) wherever they are
/// published (`store::publicity`). Each department's list of returned records awaiting
/// correction is brought up to date hourly too, and within a minute of a return arriving or
/// closing (a cheap look at the open returns each minute).
async fn upkeep(settings: Settings, store: Store, clock: Clock, mut stop: watch::Receiver<bool>) {
    const LOOK: std::time::Duration = std::time::Duration::from_secs(60);
    let mut last_pass: Option<std::time::Instant> = None;
    let mut last_returns: Option<(i64, i64)> = None;
    loop {
        let now = clock.now();
        let today = shanghai_date(now);
        let hourly = last_pass.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(3600));
        let signature = store.open_returns_signature().await.ok();
        if hourly || signature != last_returns {
            last_returns = signature;
            match store.open_returns(None).await {
                Ok(returns) => {
                    let departments: Vec<String> = settings.departments.iter().map(|d| d.id.clone()).collect();
                    let outbox = settings.gateway.data_dir.join("outbox");
                    let days = settings.gateway.correction_working_days;
                    let item = |code: &str| settings.catalogue.item(code).map_or(code.to_string(), |i| i.name.clone());
                    let destination = |name: &str| settings.destination_title(name).to_string();
                    let names = reminder::ListNames { item: &item, destination: &destination };
                    if let Err(e) =
                        reminder::write_lists(&outbox, &departments, &returns, &names, &settings.calendar, today, days)
                    {
                        tracing::error!(error = %e, "cannot write the correction lists");
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read returned records"),
            }
        }
        if hourly {
            last_pass = Some(std::time::Instant::now());
            match store.publicity_pass(today, now).await {
                Ok(p) if p.ended + p.withdrawals + p.expired == 0 => {}
                Ok(p) => tracing::info!(
                    ended = p.ended,
                    withdrawals = p.withdrawals,
                    expired = p.expired,
                    "publicity ended: withdrawals queued"
                ),
                Err(e) => tracing::error!(error = %e, "the publicity pass failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Every few seconds: new records and feed records are linked to their subjects (the search
/// and the credit file read the links). With grading configured, every subject is graded again
/// on the yearly evaluation day and, when `on_new_records`, at most every ten minutes after new
/// records arrived (`grade::grade_all`; a change of grade queues its 分级分类结果 record).
async fn subjects(settings: Settings, store: Store, clock: Clock, mut stop: watch::Receiver<bool>) {
    const LINK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
    const GRADE_AT_MOST_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
    let grading = &settings.grading;
    let mut unseen = 0u64;
    let mut last_graded: Option<std::time::Instant> = None;
    let mut graded_on: Option<chrono::NaiveDate> = None;
    loop {
        match store.link_subjects(&settings.catalogue).await {
            Ok(n) => unseen += n,
            Err(e) => tracing::error!(error = %e, "cannot link records to their subjects"),
        }
        let today = clock.today();
        use chrono::Datelike;
        let yearly =
            grading.yearly_on.is_some_and(|(m, d)| today.month() == m && today.day() == d) && graded_on != Some(today);
        let due =
            grading.on_new_records && unseen > 0 && last_graded.is_none_or(|t| t.elapsed() >= GRADE_AT_MOST_EVERY);
        if !grading.items.is_empty() && (yearly || due) {
            match crate::grade::grade_all(&settings, &store, today, clock.now(), |_| {}).await {
                Ok(run) => {
                    tracing::info!(
                        subjects = run.subjects,
                        changed = run.changed,
                        seconds = run.seconds,
                        "subjects graded"
                    );
                    unseen = 0;
                    graded_on = Some(today);
                }
                Err(e) => tracing::error!(error = %e, "grading failed"),
            }
            last_graded = Some(std::time::Instant::now());
        }
        tokio::select! {
            _ = tokio::time::sleep(LINK_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
