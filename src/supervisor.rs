//! Supervised tasks: each long-lived loop of the daemon runs as its own named task (so the
//! loops share the runtime's threads and a long step in one does not hold up the others),
//! owned by a [`Supervisor`] and awaited when its generation stops. A loop that panics is
//! logged, counted per task name (`/metrics`), and started again after a growing pause while
//! the others go on; a loop that returns (because `stop` was signalled) is not.
//!
//! The only place that spawns the daemon's loops; blocking work goes through [`blocking`].

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::instrument::WithSubscriber as _;

/// Makes a fresh run of a loop for a generation, given the generation's stop signal: extra
/// work handed to the daemon beside its configured loops.
pub type LoopFactory = Arc<dyn Fn(watch::Receiver<bool>) -> BoxFuture<'static, ()> + Send + Sync>;

/// How long to wait before starting a panicked loop again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The pause after the first panic.
    pub initial: Duration,
    /// The pause doubles after each panic up to this.
    pub max: Duration,
    /// A run that lasted this long counts as healthy: the next pause is `initial` again.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(60), reset_after: Duration::from_secs(60) }
    }
}

impl Backoff {
    /// The pause after a panic, given the previous pause (`None` before the first) and how
    /// long the run that panicked lasted.
    pub fn next(&self, previous: Option<Duration>, ran: Duration) -> Duration {
        match previous {
            Some(p) if ran < self.reset_after => (p * 2).min(self.max),
            _ => self.initial,
        }
    }
}

/// Panics per task name since the process started; every supervised name is listed, at 0
/// until it panics, so `/metrics` shows the series from the start.
static PANICS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn panics() -> std::sync::MutexGuard<'static, BTreeMap<String, u64>> {
    PANICS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every supervised task name with its panics so far, by name.
pub fn panic_counts() -> Vec<(String, u64)> {
    panics().iter().map(|(name, n)| (name.clone(), *n)).collect()
}

/// The panics of one task name so far.
pub fn panic_count(name: &str) -> u64 {
    panics().get(name).copied().unwrap_or(0)
}

fn count_panic(name: &str) -> u64 {
    let mut map = panics();
    let n = map.entry(name.to_string()).or_insert(0);
    *n += 1;
    *n
}

/// What a panic said (`panic!` with a literal or a formatted message), or a placeholder.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// The tasks of one generation (or of the process), stopped together by one `stop` signal.
/// Dropping it aborts whatever still runs; [`Supervisor::wait`] lets each finish instead.
pub struct Supervisor {
    tasks: JoinSet<()>,
    stop: watch::Receiver<bool>,
    backoff: Backoff,
}

impl Supervisor {
    pub fn new(stop: watch::Receiver<bool>) -> Supervisor {
        Supervisor { tasks: JoinSet::new(), stop, backoff: Backoff::default() }
    }

    pub fn with_backoff(self, backoff: Backoff) -> Supervisor {
        Supervisor { backoff, ..self }
    }

    /// Runs the loop `make` returns as its own task named `name`, calling `make` again for a
    /// fresh run after a panic. The loop is expected to watch the same stop signal and return
    /// when it is set (finishing its step in hand first).
    pub fn spawn<F, Fut>(&mut self, name: impl Into<String>, make: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let name = name.into();
        panics().entry(name.clone()).or_insert(0);
        let run = supervise(name, make, self.stop.clone(), self.backoff);
        // The task logs to the subscriber of whoever spawned it (the process's, or a test's).
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        self.tasks.spawn(run.with_subscriber(dispatch));
    }

    /// How many tasks still run.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits until every task has returned (after `stop`, each at the end of its step).
    pub async fn wait(mut self) {
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(e) = joined {
                // Panics are caught inside; only a runtime shutting down cancels a task.
                tracing::warn!(error = %e, "a supervised task ended abnormally");
            }
        }
    }
}

/// Runs one loop until it returns, starting it again after each panic.
async fn supervise<F, Fut>(name: String, mut make: F, mut stop: watch::Receiver<bool>, backoff: Backoff)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut pause = None;
    loop {
        let started = tokio::time::Instant::now();
        // The loop's own state is dropped with the panic; what it shares (the store, the
        // settings) is built to survive a holder that went away mid-step.
        let run = async { make().await };
        let Err(payload) = AssertUnwindSafe(run).catch_unwind().await else { return };
        let panics = count_panic(&name);
        let wait = backoff.next(pause, started.elapsed());
        pause = Some(wait);
        tracing::error!(
            task = %name,
            panic = %panic_message(payload.as_ref()),
            panics,
            restart_in_ms = wait.as_millis() as u64,
            "task panicked; it starts again after a pause, the other tasks go on"
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        tracing::info!(task = %name, "task started again after a panic");
    }
}

/// Runs a short piece of work as its own task, not owned by anyone: a panic is logged and
/// counted under `name` and not repeated. For work a request starts and does not wait for.
pub fn spawn_once(name: &'static str, work: impl Future<Output = ()> + Send + 'static) {
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let run = async move {
        if let Err(payload) = AssertUnwindSafe(work).catch_unwind().await {
            let panics = count_panic(name);
            tracing::error!(task = name, panic = %panic_message(payload.as_ref()), panics, "task panicked");
        }
    };
    drop(tokio::spawn(run.with_subscriber(dispatch)));
}

/// A task its caller owns: it keeps the handle and awaits or aborts it (a simulated platform's
/// server, a benchmark's clients). Every task of the process is spawned in this module.
pub fn spawn_owned<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> tokio::task::JoinHandle<T> {
    tokio::spawn(work)
}

/// Runs CPU-bound or blocking work on the runtime's blocking threads, so the loops on the
/// async threads go on meanwhile. A panic in `work` goes on in the caller (and so reaches
/// its supervisor), as if the work had run in place.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("blocking work cancelled: the runtime is shutting down ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn stop_signal() -> (watch::Sender<bool>, watch::Receiver<bool>) {
        watch::channel(false)
    }

    #[test]
    fn the_pause_doubles_up_to_the_cap_and_resets_after_a_healthy_run() {
        let b = Backoff::default();
        let short = Duration::from_millis(10);
        let mut pause = None;
        let mut seen = Vec::new();
        for _ in 0..9 {
            let p = b.next(pause, short);
            seen.push(p.as_secs());
            pause = Some(p);
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.next(pause, Duration::from_secs(61)), Duration::from_secs(1));
    }

    /// A loop that panics on each of its first `panics` runs, noting when each run started,
    /// then runs until stop.
    fn flaky(
        panics: usize,
        starts: Arc<Mutex<Vec<Instant>>>,
        stop: watch::Receiver<bool>,
    ) -> impl FnMut() -> BoxFuture<'static, ()> + Send + 'static {
        move || {
            let (starts, mut stop) = (starts.clone(), stop.clone());
            async move {
                let run = {
                    let mut s = starts.lock().unwrap();
                    s.push(Instant::now());
                    s.len()
                };
                if run <= panics {
                    panic!("injected fault {run}");
                }
                let _ = stop.wait_for(|s| *s).await;
            }
            .boxed()
        }
    }

    fn gaps(starts: &[Instant]) -> Vec<u64> {
        starts.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_loop_restarts_with_growing_pauses_while_the_others_go_on() {
        let (stop_tx, stop) = stop_signal();
        let mut tasks = Supervisor::new(stop.clone());
        let starts = Arc::new(Mutex::new(Vec::new()));
        tasks.spawn("test:flaky", flaky(4, starts.clone(), stop.clone()));
        let ticks = Arc::new(Mutex::new(0u32));
        let (ticks_in, mut tick_stop) = (ticks.clone(), stop.clone());
        let mut steady = Some(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => *ticks_in.lock().unwrap() += 1,
                    _ = tick_stop.wait_for(|s| *s) => return,
                }
            }
        });
        tasks.spawn("test:steady", move || steady.take().expect("the steady loop never panics"));
        // Four panics: pauses of 1, 2, 4 and 8 s; the fifth run stays up.
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(gaps(&starts.lock().unwrap()), [1, 2, 4, 8]);
        assert_eq!(panic_count("test:flaky"), 4);
        assert_eq!(panic_count("test:steady"), 0);
        assert!(*ticks.lock().unwrap() >= 19, "the steady loop went on: {} ticks", ticks.lock().unwrap());
        assert_eq!(tasks.len(), 2);
        stop_tx.send(true).unwrap();
        tasks.wait().await;
        assert_eq!(starts.lock().unwrap().len(), 5, "a loop that returned is not started again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_ran_a_while_before_panicking_restarts_after_the_first_pause() {
        let (stop_tx, stop) = stop_signal();
        let mut tasks = Supervisor::new(stop.clone());
        let starts = Arc::new(Mutex::new(Vec::new()));
        let log = starts.clone();
        tasks.spawn("test:long-lived", move || {
            let log = log.clone();
            async move {
                let run = {
                    let mut s = log.lock().unwrap();
                    s.push(Instant::now());
                    s.len()
                };
                // Runs 1 and 2 fail at once; run 3 fails after two healthy minutes.
                if run == 3 {
                    tokio::time::sleep(Duration::from_secs(120)).await;
                }
                if run <= 3 {
                    panic!("run {run} failed");
                }
                std::future::pending::<()>().await;
            }
        });
        tokio::time::sleep(Duration::from_secs(200)).await;
        assert_eq!(gaps(&starts.lock().unwrap()), [1, 2, 121]);
        stop_tx.send(true).unwrap();
        // The fourth run never returns by itself: dropping the supervisor aborts it.
        drop(tasks);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_during_the_pause_ends_the_task_without_a_restart() {
        let (stop_tx, stop) = stop_signal();
        let mut tasks = Supervisor::new(stop.clone());
        let starts = Arc::new(Mutex::new(Vec::new()));
        tasks.spawn("test:stopped-while-down", flaky(usize::MAX, starts.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop_tx.send(true).unwrap();
        let before = Instant::now();
        tasks.wait().await;
        assert_eq!(before.elapsed(), Duration::ZERO, "no waiting out the pause");
        assert_eq!(starts.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn blocking_work_returns_its_value_and_passes_its_panic_on() {
        assert_eq!(blocking(|| 6 * 7).await, 42);
        let caught = AssertUnwindSafe(blocking(|| panic!("in blocking work"))).catch_unwind().await;
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(panic_message(payload.as_ref()), "in blocking work");
    }

    #[tokio::test]
    async fn a_panic_in_a_one_off_task_is_counted() {
        let (done_tx, done) = tokio::sync::oneshot::channel::<()>();
        spawn_once("test:once", async move {
            let _done = done_tx;
            panic!("once");
        });
        // The sender drops while the panic unwinds; on this one thread the task counts the
        // panic before the test runs again.
        let _ = done.await;
        assert_eq!(panic_count("test:once"), 1);
    }
}
