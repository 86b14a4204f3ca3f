//! Records' publicity as `publicity`, the dashboard and the API show it: listings with their
//! status on a day, one record with its repair and revocation history, and the 超期公示 audit.

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use crate::calendar::shanghai_date;
use crate::config::Settings;
use crate::publicity::{Listing, Progress, Status, StoredBlock, status, withdrawal_due};
use crate::store::{EarlyEndRow, PublicityRow, Store, StoreError, WithdrawalRow};

/// Working days to withdraw when `config/deadlines.toml` has no `withdrawal` rule.
const WITHDRAWAL_DAYS: u32 = 3;

/// The `withdrawal` rule's working days.
fn withdrawal_days(settings: &Settings) -> u32 {
    settings.deadlines.event("withdrawal").map_or(WITHDRAWAL_DAYS, |e| e.working_days)
}

fn date(s: Option<&str>) -> Option<NaiveDate> {
    s.and_then(|s| s.get(..10)?.parse().ok())
}

fn progress(r: &PublicityRow) -> Progress {
    Progress {
        published: r.published,
        withdrawals: r.withdrawals,
        withdrawals_accepted: r.withdrawals_accepted,
        early_end: date(r.event_decided.as_deref()),
        early_due: date(r.event_due_on.as_deref()).or_else(|| date(r.feed_repair_due_on.as_deref())),
    }
}

/// The decision's document number (the key's first part) and the subject's name.
fn names(settings: &Settings, r: &PublicityRow) -> (Option<String>, Option<String>) {
    let wsh = r.business_key.split(crate::record::KEY_SEPARATOR).next().filter(|w| !w.is_empty()).map(str::to_string);
    let subject = settings.catalogue.item(&r.item).and_then(|item| {
        let key = &item.fields[item.subject_name?].key;
        let content: serde_json::Value = serde_json::from_str(&r.content).ok()?;
        content.get(key)?.as_str().map(str::to_string)
    });
    (wsh, subject)
}

/// One row as listed, with its block and status on `today`.
pub fn listing(settings: &Settings, r: &PublicityRow, today: NaiveDate) -> Option<(Listing, StoredBlock, Progress)> {
    let block = StoredBlock::decode(&r.publicity)?;
    let p = progress(r);
    let due = withdrawal_due(&block, &p, &settings.calendar, withdrawal_days(settings));
    let (wsh, subject) = names(settings, r);
    let listing = Listing {
        id: r.id,
        item: r.item.clone(),
        wsh,
        subject,
        decided: block.decided,
        regime: block.regime.clone(),
        class: block.class,
        class_defaulted: block.class_defaulted,
        sector: block.sector.clone(),
        min_end: block.min_end,
        max_end: block.max_end,
        department_end: block.department_end,
        planned_end: block.planned_end,
        status: status(&block, &p, due, today),
    };
    Some((listing, block, p))
}

/// Every record with a publicity block (of `department`, or all) whose status on `today` is
/// `filter` (all without one).
pub async fn list(
    settings: &Settings,
    store: &Store,
    today: NaiveDate,
    filter: Option<Status>,
    department: Option<&str>,
) -> Result<Vec<Listing>, StoreError> {
    let rows = store.publicity_rows(None).await?;
    Ok(rows
        .iter()
        .filter(|r| department.is_none_or(|d| r.department == d))
        .filter_map(|r| listing(settings, r, today))
        .map(|(l, _, _)| l)
        .filter(|l| filter.is_none_or(|f| l.status == f))
        .collect())
}

/// The withdrawal of a record against its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithdrawalState {
    pub due_on: Option<NaiveDate>,
    /// The day the last withdrawal was accepted, when all were.
    pub done_on: Option<NaiveDate>,
    pub on_time: Option<bool>,
}

/// `publicity show RECORD --json`: the listing's keys, the history and the withdrawals.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub listing: Listing,
    pub history: Vec<EarlyEndRow>,
    pub feed_repairs: i64,
    pub withdrawals: Vec<WithdrawalRow>,
    pub withdrawal: WithdrawalState,
}

pub async fn show(settings: &Settings, store: &Store, today: NaiveDate, id: i64) -> Result<Option<Shown>, StoreError> {
    let Some(row) = store.publicity_row(id).await? else { return Ok(None) };
    let Some((listing, block, p)) = listing(settings, &row, today) else { return Ok(None) };
    let due = withdrawal_due(&block, &p, &settings.calendar, withdrawal_days(settings));
    let done = (p.withdrawals > 0 && p.withdrawals == p.withdrawals_accepted)
        .then(|| row.withdrawn_at.as_deref().and_then(|t| t.parse::<chrono::DateTime<Utc>>().ok()))
        .flatten()
        .map(shanghai_date);
    let withdrawal = WithdrawalState {
        due_on: due
            .filter(|_| p.early_end.is_some() || p.withdrawals > 0 || block.planned_end.is_some_and(|e| e < today)),
        done_on: done,
        on_time: done.zip(due).map(|(d, due)| d <= due),
    };
    Ok(Some(Shown {
        listing,
        history: store.early_ends(id).await?,
        feed_repairs: row.feed_repairs,
        withdrawals: store.withdrawals_of(id).await?,
        withdrawal,
    }))
}

/// One finding of the 超期公示 audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: i64,
    pub item: String,
    pub wsh: Option<String>,
    pub max_end: NaiveDate,
    pub min_end: NaiveDate,
    /// Destinations still holding it (past its maximum) …
    pub published: i64,
    /// … or the day its first withdrawal was pushed (before its minimum).
    pub withdrawn_on: Option<NaiveDate>,
    pub reason: String,
}

/// `publicity audit`: records still published past their maximum on `today`, and
/// withdrawals pushed before the minimum without a repair or revocation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Audit {
    pub past_maximum: Vec<Finding>,
    pub withdrawn_early: Vec<Finding>,
}

pub async fn audit(settings: &Settings, store: &Store, today: NaiveDate) -> Result<Audit, StoreError> {
    let mut out = Audit::default();
    for r in store.publicity_rows(None).await? {
        let Some(block) = StoredBlock::decode(&r.publicity) else { continue };
        let (wsh, _) = names(settings, &r);
        let finding = |reason: String, withdrawn_on: Option<NaiveDate>| Finding {
            id: r.id,
            item: r.item.clone(),
            wsh: wsh.clone(),
            max_end: block.max_end,
            min_end: block.min_end,
            published: r.published,
            withdrawn_on,
            reason,
        };
        if r.published > 0 && block.max_end < today {
            out.past_maximum.push(finding(
                format!("最长公示期限已于 {} 届满，仍在 {} 个平台公示（超期公示）", block.max_end, r.published),
                None,
            ));
        }
        let first = r.first_withdrawal_pushed_at.as_deref().and_then(|t| t.parse::<chrono::DateTime<Utc>>().ok());
        if let Some(first) = first.map(shanghai_date)
            && first <= block.min_end
            && r.event_kind.is_none()
            && r.feed_repairs == 0
        {
            out.withdrawn_early.push(finding(
                format!("最短公示期限 {} 届满前（{first}）已撤下，且无信用修复或部门撤销", block.min_end),
                Some(first),
            ));
        }
    }
    Ok(out)
}
