//! Pulling a feed: fetch one page (or take one inbound file), check its records, route them,
//! and store the page with its cursor in one transaction; a pass repeats that while the
//! platform has more; the per-feed loop runs a pass on each cron tick until stopped.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::parse::{self, Checker, Page};
use super::route::destinations_for;
use super::{Feed, FeedError, FeedFormat, FeedSource};
use crate::calendar::{end_of_day_shanghai, shanghai_date};
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::{FeedCounts, RepairClock, RoutedRecord, Store};

/// Working days to sync a repair result when `config/deadlines.toml` has no `repair_sync` rule.
const REPAIR_SYNC_DAYS: u32 = 3;

/// What one step did, and whether the platform has more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepOutcome {
    pub counts: FeedCounts,
    pub more: bool,
}

/// One feed's pulling machinery.
pub struct Puller {
    settings: Arc<Settings>,
    feed: Feed,
    client: reqwest::Client,
}

impl Puller {
    pub fn new(settings: Arc<Settings>, feed: Feed) -> Puller {
        let timeout = match &feed.source {
            FeedSource::Http { timeout, .. } => *timeout,
            FeedSource::Folder { .. } => Duration::from_secs(30),
        };
        let client = crate::http_client::builder(timeout).build().expect("a TLS client with the ring provider builds");
        Puller { settings, feed, client }
    }

    /// Pulls pages until the platform has no more; the counts of all of them. `now` stamps
    /// what is received and starts the repair SLA.
    pub async fn pass(&self, store: &Store, now: DateTime<Utc>) -> Result<FeedCounts, FeedError> {
        let mut total = FeedCounts::default();
        loop {
            let step = self.step(store, now).await?;
            total.add(&step.counts);
            if !step.more {
                return Ok(total);
            }
        }
    }

    /// One page: fetched from where the stored cursor points, applied with its new cursor.
    pub async fn step(&self, store: &Store, now: DateTime<Utc>) -> Result<StepOutcome, FeedError> {
        let result = match &self.feed.source {
            FeedSource::Http { .. } => self.http_step(store, now).await,
            FeedSource::Folder { inbound } => self.folder_step(store, inbound, now).await,
        };
        if let Err(e) = &result
            && !matches!(e, FeedError::Store(_))
        {
            tracing::warn!(feed = %self.feed.name, error = %e, "feed pull failed; the cursor stays");
            store.feed_failed(&self.feed.name, &e.to_string(), now).await?;
        }
        result
    }

    /// Parses and checks a page on a blocking thread: checking a large page is CPU work that
    /// would otherwise hold up the loops sharing this thread.
    async fn check_page(
        &self,
        body: impl AsRef<[u8]> + Send + 'static,
        format: FeedFormat,
    ) -> Result<Page, parse::PageError> {
        let (settings, items) = (self.settings.clone(), self.feed.items.clone());
        crate::supervisor::blocking(move || {
            let checker = Checker {
                catalogue: &settings.catalogue,
                divisions: &settings.divisions,
                items: &items,
                sectors: &settings.sectors,
            };
            match format {
                FeedFormat::Json => parse::json_page(body.as_ref(), &checker),
                FeedFormat::Xml => parse::xml_page(body.as_ref(), &checker),
            }
        })
        .await
    }

    async fn http_step(&self, store: &Store, now: DateTime<Utc>) -> Result<StepOutcome, FeedError> {
        let FeedSource::Http { url, format, cursor_param, limit_param, page_size, token, .. } = &self.feed.source
        else {
            unreachable!("called for http feeds only")
        };
        let cursor = store.feed_cursor(&self.feed.name).await?;
        let mut url = url.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(c) = &cursor {
                q.append_pair(cursor_param, c);
            }
            q.append_pair(limit_param, &page_size.to_string());
        }
        let mut request = self.client.get(url);
        if let Some(token) = token {
            let token = token.read().map_err(|e| FeedError::Fetch(e.to_string()))?;
            request = request.bearer_auth(token.expose());
        }
        let response = request.send().await.map_err(|e| FeedError::Fetch(e.to_string()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| FeedError::Fetch(format!("reading the page: {e}")))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(FeedError::Fetch(format!("HTTP {status}: {text}")));
        }
        let page = self.check_page(body, *format).await.map_err(FeedError::Page)?;
        // No next cursor, or the same one, means the end of the feed for now.
        let next = page.next_cursor.clone().or_else(|| cursor.clone());
        let more = page.more && next != cursor && !(page.records.is_empty() && page.rejected.is_empty());
        let counts = self.apply(store, &page, next.as_deref(), now).await?;
        Ok(StepOutcome { counts, more })
    }

    /// Folder feeds: the first inbound file after the cursor (file names sort in order).
    async fn folder_step(&self, store: &Store, inbound: &Path, now: DateTime<Utc>) -> Result<StepOutcome, FeedError> {
        let cursor = store.feed_cursor(&self.feed.name).await?;
        let folder = |source| FeedError::Folder { path: inbound.to_path_buf(), source };
        let mut names: Vec<String> = match std::fs::read_dir(inbound) {
            Ok(entries) => entries
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(folder(e)),
        };
        names.sort();
        for name in &names {
            let path = inbound.join(name);
            if cursor.as_deref().is_some_and(|c| name.as_str() <= c) {
                // Committed before a crash, not yet moved: nothing to apply again.
                move_into(&path, &inbound.join("processed")).map_err(folder)?;
                continue;
            }
            let body = std::fs::read(&path).map_err(folder)?;
            let page = match self.check_page(body, FeedFormat::Json).await {
                Ok(page) => page,
                Err(e) => {
                    move_into(&path, &inbound.join("failed")).map_err(folder)?;
                    tracing::warn!(feed = %self.feed.name, file = %name, error = %e, "feed package refused");
                    store.feed_failed(&self.feed.name, &format!("{name}: {e}"), now).await?;
                    return Ok(StepOutcome { counts: FeedCounts::default(), more: true });
                }
            };
            let counts = self.apply(store, &page, Some(name), now).await?;
            move_into(&path, &inbound.join("processed")).map_err(folder)?;
            return Ok(StepOutcome { counts, more: true });
        }
        Ok(StepOutcome::default())
    }

    /// Routes a page's records and stores them with the cursor.
    async fn apply(
        &self,
        store: &Store,
        page: &Page,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<FeedCounts, FeedError> {
        let s = &self.settings;
        // A withdrawal or deletion carries only its key, so rarely the words of its sector: a
        // version giving none keeps its record's (stored, or earlier in this page), and so
        // reaches the departments that took the record.
        let unsectored: Vec<(&str, &str)> = page
            .records
            .iter()
            .filter(|r| r.sector.is_none() && s.sectors.covers(&r.item))
            .map(|r| (r.item.as_str(), r.business_key.as_str()))
            .collect();
        let mut known = store.feed_sectors(&unsectored).await?;
        let routed: Vec<RoutedRecord<'_>> = page
            .records
            .iter()
            .map(|r| {
                let key = (r.item.clone(), r.business_key.clone());
                let sector = r.sector.clone().or_else(|| known.get(&key).cloned());
                if let Some(sector) = &sector {
                    known.insert(key, sector.clone());
                }
                let destinations: Vec<String> =
                    destinations_for(&s.destinations, &s.divisions, &r.item, &r.region, sector.as_deref())
                        .into_iter()
                        .map(|d| d.name.clone())
                        .collect();
                // A department that took the record gets its later versions, wherever they go.
                let followers = s
                    .destinations
                    .iter()
                    .filter(|d| d.enabled && d.is_lower() && d.items.contains(&r.item))
                    .filter(|d| !destinations.contains(&d.name))
                    .map(|d| d.name.clone())
                    .collect();
                RoutedRecord { record: r, destinations, followers, sector }
            })
            .collect();
        for x in &page.rejected {
            tracing::warn!(feed = %self.feed.name, position = x.position, id = ?x.source_id, reason = %x.reason, "feed record refused");
        }
        let counts = store
            .apply_feed_page(&self.feed.name, cursor, &routed, &page.rejected, self.repair_clock(now), now)
            .await?;
        Ok(counts)
    }

    /// Repair results received now are due in `repair_sync` working days (SPEC §6).
    fn repair_clock(&self, now: DateTime<Utc>) -> RepairClock {
        let days = self.settings.deadlines.event("repair_sync").map_or(REPAIR_SYNC_DAYS, |e| e.working_days);
        let received_on = shanghai_date(now);
        let due = self.settings.calendar.add_working_days(received_on, days);
        RepairClock {
            received_on,
            due_on: due.date,
            due_at: end_of_day_shanghai(due.date),
            provisional: due.provisional,
        }
    }
}

fn move_into(file: &Path, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::rename(file, dir.join(file.file_name().unwrap_or_default()))
}

/// One pass of a feed now: for the CLI and tests.
pub async fn pull_now(
    settings: Arc<Settings>,
    store: &Store,
    feed: &str,
    now: DateTime<Utc>,
) -> Result<FeedCounts, FeedError> {
    let f = settings.feed(feed).cloned().ok_or_else(|| FeedError::UnknownFeed(feed.to_string()))?;
    Puller::new(settings, f).pass(store, now).await
}

/// One feed's loop until `stop`: a pass on each cron tick (the daemon runs one per feed).
pub async fn run_feed(
    settings: Arc<Settings>,
    feed: Feed,
    store: Store,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
) {
    let puller = Puller::new(settings, feed);
    loop {
        let now = clock.now();
        let Some(next) = puller.feed.schedule.next_after(now) else { return };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Instances sharing a database pull each tick once, under the same leases as connectors.
        let (key, holder) = (format!("feed:{}", puller.feed.name), crate::service::instance_id());
        let lease = puller.settings.gateway.connector_lease;
        match crate::connector::runner::take_lease(&store, &key, &holder, lease, Some(next), clock.now()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => continue,
            Err(e) => {
                tracing::warn!(feed = %puller.feed.name, error = %e, "cannot take the feed's lease");
                continue;
            }
        }
        let pulled = puller.pass(&store, clock.now()).await;
        if let Err(e) = store.release_connector_lease(&key, &holder).await {
            tracing::warn!(feed = %puller.feed.name, error = %e, "cannot give the feed's lease back; it runs out by itself");
        }
        match pulled {
            Ok(c) if c.new_versions + c.rejected > 0 => tracing::info!(
                feed = %puller.feed.name,
                new_versions = c.new_versions,
                rejected = c.rejected,
                routed = c.routed,
                withdrawals = c.withdrawals,
                "feed pulled"
            ),
            Ok(_) => {}
            Err(crate::feed::FeedError::Store(e)) => {
                tracing::error!(feed = %puller.feed.name, error = %e, "feed pull: store error")
            }
            Err(_) => {} // logged and kept as the feed's health by `step`
        }
    }
}
