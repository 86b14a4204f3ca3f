//! The outbox worker of one destination: claim a batch, push it, record one outcome per
//! record; repeat while there is work, otherwise wait a little.
//!
//! Safe against crashes and faults: the claim is a lease (a dead instance's batch is claimed
//! again when it runs out), every record carries its idempotency key (a batch pushed twice
//! is accepted once), receipts for keys not in the batch are ignored (a stale or duplicated
//! answer changes nothing), and records missing from the receipts are retried.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use tokio::sync::watch;

use super::adapter::{self, Adapter, Answer, PushFailure};
use super::package::{Header, PackageRecord, Receipt, ReceiptStatus};
use super::{AdapterKind, Destination};
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::{Claimed, Outcome, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown destination {0:?}")]
    UnknownDestination(String),
}

/// What pushing did, for `deliveries push` and tests.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct PushCounts {
    pub pushes: u64,
    pub accepted: u64,
    pub returned: u64,
    pub retried: u64,
    pub dead: u64,
}

impl PushCounts {
    fn add(&mut self, o: &PushCounts) {
        self.pushes += o.pushes;
        self.accepted += o.accepted;
        self.returned += o.returned;
        self.retried += o.retried;
        self.dead += o.dead;
    }
}

/// Packages claimed together and pushed side by side: the store's per-claim work is shared
/// by all of them, and the platform's answer time overlaps.
const PACKAGES_PER_CLAIM: usize = 4;

/// Claim-push-record loops run side by side per destination: while one waits for the
/// platform, the other claims or writes its outcomes, so the store and the network overlap.
const LANES: usize = 2;

/// One destination's pushing machinery.
pub struct Pusher {
    destination: Destination,
    adapter: Box<dyn Adapter>,
    limiter: DefaultDirectRateLimiter,
    sender_code: String,
    sender_name: String,
    worker: String,
    /// Where each item keeps its subject's code and name, for the subject-library pre-check.
    catalogue: crate::catalogue::Catalogue,
    /// Claims, package stamps, retry times and the day a record counts as reported.
    clock: Clock,
}

impl Pusher {
    pub fn new(settings: &Settings, destination: Destination, worker: &str, clock: Clock) -> Pusher {
        let adapter = adapter::for_destination(&destination, clock.clone());
        let period = Duration::from_secs_f64(1.0 / destination.rate_per_second);
        let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX));
        Pusher {
            limiter: RateLimiter::direct(quota.allow_burst(NonZeroU32::MIN)),
            adapter,
            sender_code: settings.gateway.sender.code.clone(),
            sender_name: settings.gateway.sender.name.clone(),
            worker: worker.to_string(),
            catalogue: settings.catalogue.clone(),
            destination,
            clock,
        }
    }

    /// Pushes everything due, in `LANES` loops side by side, until nothing is due.
    pub async fn push_all(&self, store: &Store) -> Result<PushCounts, DeliveryError> {
        let lanes = futures_util::future::join_all((0..LANES).map(|_| async {
            let mut total = PushCounts::default();
            while let Some(counts) = self.push_batch(store).await? {
                total.add(&counts);
            }
            Ok::<_, DeliveryError>(total)
        }))
        .await;
        let mut total = PushCounts::default();
        for lane in lanes {
            total.add(&lane?);
        }
        Ok(total)
    }

    /// Claims and pushes one batch; `None` when nothing is due.
    pub async fn push_batch(&self, store: &Store) -> Result<Option<PushCounts>, DeliveryError> {
        use tracing::Instrument as _;
        let span = tracing::info_span!("delivery_batch", destination = %self.destination.name, worker = %self.worker);
        self.push_batch_inner(store).instrument(span).await
    }

    async fn push_batch_inner(&self, store: &Store) -> Result<Option<PushCounts>, DeliveryError> {
        let d = &self.destination;
        let mut from_files = None;
        if d.adapter == AdapterKind::File {
            from_files = self.collect_file_receipts(store).await?;
        }
        let claimed = store
            .claim_deliveries(&d.name, &self.worker, d.batch_size * PACKAGES_PER_CLAIM, self.clock.now(), d.lease)
            .await?;
        if claimed.is_empty() {
            return Ok(from_files);
        }
        let mut counts = from_files.unwrap_or_default();
        // Subjects the platform's library holds under another name are returned at once.
        let predicted = self.precheck(store, &claimed).await?;
        let claimed: Vec<Claimed> = match predicted.is_empty() {
            true => claimed,
            false => claimed.into_iter().filter(|c| !predicted.iter().any(|(p, _)| p.id == c.id)).collect(),
        };
        // One package per catalogue item (the package type) and `batch_size` records, pushed
        // side by side; the outcomes of all of them are written in one transaction.
        let mut by_item: Vec<(&str, Vec<&Claimed>)> = Vec::new();
        for c in &claimed {
            match by_item.iter_mut().find(|(item, _)| *item == c.item) {
                Some((_, list)) => list.push(c),
                None => by_item.push((&c.item, vec![c])),
            }
        }
        let packages: Vec<(&str, &[&Claimed])> = by_item
            .iter()
            .flat_map(|(item, list)| list.chunks(d.batch_size).map(move |chunk| (*item, chunk)))
            .collect();
        let pushed_at = self.clock.now();
        let answers = futures_util::future::join_all(packages.iter().map(|(item, batch)| async move {
            self.limiter.until_ready().await;
            let started = std::time::Instant::now();
            let answer = self.push(item, batch, self.clock.now()).await;
            if d.adapter != AdapterKind::File {
                super::latency::observe(&d.name, answer.is_ok(), started.elapsed());
            }
            answer
        }))
        .await;
        // The outage banner: failing while every package failed, healthy once one got an answer.
        if d.adapter != AdapterKind::File && !answers.is_empty() {
            let failure = answers.iter().all(Result::is_err).then(|| answers.iter().find_map(|a| a.as_ref().err()));
            let error = failure.flatten().map(|f| f.error.as_str());
            store.note_push(&d.name, error, self.clock.now()).await?;
        }
        let mut outcomes: Vec<(&Claimed, Outcome)> = predicted.iter().map(|(c, o)| (c, o.clone())).collect();
        for ((_, batch), answer) in packages.iter().zip(answers) {
            outcomes.extend(self.outcomes(batch, answer));
            counts.pushes += 1;
        }
        for (_, o) in &outcomes {
            match o {
                Outcome::Accepted => counts.accepted += 1,
                Outcome::Returned { .. } => counts.returned += 1,
                Outcome::Retry { dead: true, .. } => counts.dead += 1,
                Outcome::Retry { .. } => counts.retried += 1,
            }
        }
        store.record_outcomes(&d.name, d.deadline, &outcomes, pushed_at, self.clock.now()).await?;
        Ok(Some(counts))
    }

    /// The subject-library pre-check (deadline destination, the provincial platform whose
    /// library is kept): an added or changed record whose credit code the library holds under
    /// another name is not pushed but returned at once with the platform's rule 1001, so the
    /// department corrects it before the platform returns it. Subjects the library does not
    /// hold are pushed as usual.
    async fn precheck(&self, store: &Store, claimed: &[Claimed]) -> Result<Vec<(Claimed, Outcome)>, DeliveryError> {
        if !self.destination.deadline || !store.has_subject_library().await? {
            return Ok(Vec::new());
        }
        let mut subjects: Vec<(usize, String, String)> = Vec::new();
        for (i, c) in claimed.iter().enumerate() {
            if c.source != "record" || !matches!(c.operation.as_str(), "add" | "update") {
                continue;
            }
            let Some(item) = self.catalogue.item(&c.item) else { continue };
            let (Some(ci), Some(ni)) = (item.subject_code, item.subject_name) else { continue };
            let code = content_field(&c.content, &item.fields[ci].key);
            if let (Some(code), Some(name)) = (code, content_field(&c.content, &item.fields[ni].key)) {
                subjects.push((i, code, name));
            }
        }
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<&str> = subjects.iter().map(|s| s.1.as_str()).collect();
        let library = store.subject_library_names(&codes).await?;
        let mut out = Vec::new();
        for (i, code, name) in subjects {
            let Some(registered) = library.get(&code) else { continue };
            if registered.trim() == name.trim() {
                continue;
            }
            let how = if crate::transform::name_key(registered) == crate::transform::name_key(&name) {
                "名称写法（括号、全半角或空格）与主体库登记名称不同"
            } else {
                "主体名称与统一社会信用代码不匹配"
            };
            let reason = format!(
                "预判退回（未推送）：未查询到主体或查询到的主体信息不匹配：{how}（统一社会信用代码 {code}，主体库登记名称：{registered}，本记录名称：{name}）"
            );
            out.push((claimed[i].clone(), Outcome::Returned { rule: Some("1001".to_string()), reason }));
        }
        Ok(out)
    }

    /// Builds and sends one package; what the platform answered, or why it did not.
    async fn push(&self, item: &str, batch: &[&Claimed], at: DateTime<Utc>) -> Result<Answer, PushFailure> {
        let d = &self.destination;
        let package_id = format!("{}-{}-{:08x}", d.name, at.format("%Y%m%d%H%M%S%3f"), fastrand::u32(..));
        let created_at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let header = Header {
            package_id: &package_id,
            item,
            sender_code: &self.sender_code,
            sender_name: &self.sender_name,
            created_at: &created_at,
        };
        let records: Vec<PackageRecord<'_>> = batch
            .iter()
            .map(|c| PackageRecord {
                key: &c.idempotency_key,
                operation: wire_operation(&c.operation),
                business_key: &c.business_key,
                content: &c.content,
            })
            .collect();
        let body = self.adapter.package(&header, &records).map_err(|e| PushFailure::new(e.to_string()))?;
        self.adapter.push(&package_id, body).await
    }

    /// Records the outcomes of the receipts a file-exchange platform has put back, and moves
    /// each receipt to `processed/` once recorded.
    async fn collect_file_receipts(&self, store: &Store) -> Result<Option<PushCounts>, DeliveryError> {
        let mut counts: Option<PushCounts> = None;
        for file in self.adapter.returned_receipts() {
            let receipts = match &file.receipts {
                Ok(receipts) => receipts.clone(),
                Err(e) => {
                    // The package comes back to the queue when its lease runs out.
                    tracing::warn!(destination = %self.destination.name, file = %file.path.display(), error = %e, "receipt refused the package");
                    Vec::new()
                }
            };
            let keys: Vec<String> = receipts.iter().map(|r| r.key.clone()).collect();
            let claimed = store.in_flight_by_keys(&self.destination.name, &keys).await?;
            let batch: Vec<&Claimed> = claimed.iter().collect();
            // Only the keys present: the rest of the package stays in flight until its lease ends.
            let outcomes: Vec<(&Claimed, Outcome)> = self
                .outcomes(&batch, Ok(Answer::Receipts(receipts)))
                .into_iter()
                .filter(|(_, o)| !matches!(o, Outcome::Retry { .. }))
                .collect();
            let c = counts.get_or_insert_with(PushCounts::default);
            for (_, o) in &outcomes {
                match o {
                    Outcome::Accepted => c.accepted += 1,
                    _ => c.returned += 1,
                }
            }
            let now = self.clock.now();
            store.record_outcomes(&self.destination.name, self.destination.deadline, &outcomes, now, now).await?;
            file.processed();
        }
        Ok(counts)
    }

    /// One outcome per claimed record.
    fn outcomes<'c>(&self, batch: &[&'c Claimed], answer: Result<Answer, PushFailure>) -> Vec<(&'c Claimed, Outcome)> {
        let d = &self.destination;
        let retry = |c: &Claimed, error: &str, after: Option<Duration>| {
            let wait = d.retry.wait(c.attempts as u32, after);
            Outcome::Retry {
                error: error.to_string(),
                at: self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                dead: d.retry.exhausted(c.attempts as u32),
            }
        };
        match answer {
            Ok(Answer::Later) => Vec::new(),
            Ok(Answer::AllAccepted) => batch.iter().map(|c| (*c, Outcome::Accepted)).collect(),
            Err(f) => {
                tracing::warn!(destination = %d.name, records = batch.len(), error = %f.error, "push failed; will retry");
                batch.iter().map(|c| (*c, retry(c, &f.error, f.retry_after))).collect()
            }
            Ok(Answer::Receipts(receipts)) => {
                let by_key: HashMap<&str, &Receipt> = receipts.iter().map(|r| (r.key.as_str(), r)).collect();
                batch
                    .iter()
                    .map(|c| {
                        let outcome = match by_key.get(c.idempotency_key.as_str()) {
                            Some(r) if r.status == ReceiptStatus::Accepted => Outcome::Accepted,
                            Some(r) => Outcome::Returned {
                                rule: r.rule.clone(),
                                reason: r.reason.clone().unwrap_or_else(|| "平台退回，未说明原因".to_string()),
                            },
                            None => retry(c, "not in the platform's receipts", None),
                        };
                        (*c, outcome)
                    })
                    .collect()
            }
        }
    }
}

/// Pushes everything due by `clock` for one destination, until nothing is due: for the CLI
/// and tests. Only delivery: the publicity pass that queues withdrawals of ended periods is
/// the caller's (the daemon's upkeep, `deliveries push`), so a benchmark times the push alone.
pub async fn push_due(
    settings: &Settings,
    store: &Store,
    destination: &str,
    clock: &Clock,
) -> Result<PushCounts, DeliveryError> {
    let d = settings.destination(destination).ok_or_else(|| DeliveryError::UnknownDestination(destination.into()))?;
    let pusher = Pusher::new(settings, d.clone(), &crate::service::instance_id(), clock.clone());
    pusher.push_all(store).await
}

/// The deadline destination goes first: while its worker has a backlog, the workers of the
/// other destinations push one batch a second at most instead of competing with it for the
/// store's writer and the machine, so the records whose reporting time counts are reported first.
#[derive(Debug, Clone)]
pub struct DeadlineFirst {
    busy: Arc<watch::Sender<bool>>,
}

/// How long another destination's worker waits for the deadline destination's backlog to clear
/// before it pushes one batch anyway: slowed, never starved.
const YIELD_AT_MOST: Duration = Duration::from_secs(1);

impl Default for DeadlineFirst {
    fn default() -> Self {
        DeadlineFirst { busy: Arc::new(watch::channel(false).0) }
    }
}

impl DeadlineFirst {
    /// The deadline destination's worker says whether its last claim found work.
    fn set_busy(&self, busy: bool) {
        self.busy.send_if_modified(|b| std::mem::replace(b, busy) != busy);
    }

    /// Another destination's worker, before each batch: waits while the deadline destination
    /// is busy, for `YIELD_AT_MOST` at most. Returns whether it waited.
    async fn give_way(&self) -> bool {
        let mut busy = self.busy.subscribe();
        if !*busy.borrow_and_update() {
            return false;
        }
        let _ = tokio::time::timeout(YIELD_AT_MOST, busy.wait_for(|b| !*b)).await;
        true
    }
}

/// The outbox loops of one destination (`LANES` side by side), until `stop`.
pub async fn run_destination(
    settings: Arc<Settings>,
    store: Store,
    destination: Destination,
    clock: Clock,
    first: DeadlineFirst,
    stop: watch::Receiver<bool>,
) {
    let pusher = Pusher::new(&settings, destination, &crate::service::instance_id(), clock);
    futures_util::future::join_all((0..LANES).map(|lane| run_lane(&pusher, &store, &first, lane == 0, &stop))).await;
}

/// One loop: claim, push, record; wait a little when nothing is due. The `leading` lane of the
/// deadline destination tells the others whether it has a backlog.
async fn run_lane(pusher: &Pusher, store: &Store, first: &DeadlineFirst, leading: bool, stop: &watch::Receiver<bool>) {
    let name = &pusher.destination.name;
    let deadline = pusher.destination.deadline;
    loop {
        if *stop.borrow() {
            return;
        }
        if !deadline {
            let mut watching = stop.clone();
            tokio::select! {
                _ = first.give_way() => {}
                _ = watching.wait_for(|s| *s) => return,
            }
        }
        let idle = match pusher.push_batch(store).await {
            Ok(Some(_)) => false,
            Ok(None) => true,
            Err(e) => {
                tracing::error!(destination = %name, error = %e, "outbox worker: store error");
                true
            }
        };
        if deadline && leading {
            first.set_busy(!idle);
        }
        if idle {
            let mut watching = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = watching.wait_for(|s| *s) => return,
            }
        }
    }
}

/// The operation a platform is sent: an objection's suspension is a withdrawal (撤销) and its
/// end a new publication (新增); the platforms know no other words.
fn wire_operation(operation: &str) -> &str {
    match operation {
        "suspend" => "withdraw",
        "resume" => "add",
        other => other,
    }
}

/// The text of `key` in a record's content (a JSON object of strings), read without parsing
/// the whole object: contents are written compact (`"key":"value"`), and `"key":` cannot occur
/// inside a string value, where quotes are escaped. Any other layout is parsed whole.
fn content_field(content: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":");
    match content.find(&pattern) {
        Some(at) => {
            let mut value = serde_json::Deserializer::from_str(&content[at + pattern.len()..]);
            serde::Deserialize::deserialize(&mut value).ok()
        }
        None => {
            let data = serde_json::from_str::<HashMap<String, serde_json::Value>>(content).ok()?;
            data.get(key)?.as_str().map(str::to_string)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn other_destinations_give_way_to_the_deadline_one_but_are_not_starved() {
        let first = DeadlineFirst::default();
        let started = tokio::time::Instant::now();
        assert!(!first.give_way().await, "nothing to give way to");
        assert_eq!(started.elapsed(), Duration::ZERO);

        first.set_busy(true);
        assert!(first.give_way().await);
        assert_eq!(started.elapsed(), YIELD_AT_MOST, "one batch a second while the deadline worker is busy");

        // The backlog clears while another worker waits: it goes on at once.
        let waiting = tokio::spawn({
            let first = first.clone();
            async move {
                let t = tokio::time::Instant::now();
                first.give_way().await;
                t.elapsed()
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        first.set_busy(false);
        assert_eq!(waiting.await.unwrap(), Duration::from_millis(200));
    }
}

#[cfg(test)]
mod content_field_tests {
    use super::content_field;

    #[test]
    fn reads_a_field_as_a_full_parse_would() {
        let compact = r#"{"A":"x\"B\":\"no","B":"北京（集团）\\","C":"c"}"#;
        assert_eq!(content_field(compact, "B").as_deref(), Some("北京（集团）\\"));
        assert_eq!(content_field(compact, "A").as_deref(), Some("x\"B\":\"no"));
        assert_eq!(content_field(compact, "D"), None);
        assert_eq!(content_field(r#"{ "B" : "spaced" }"#, "B").as_deref(), Some("spaced"));
    }
}
