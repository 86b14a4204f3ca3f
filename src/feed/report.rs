//! What `credit-gateway feeds` shows ops staff: each feed's cursor and health, missing-report
//! candidates (漏报/瞒报), repair results against their SLA, refused records; and a pull now.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::FeedError;
use crate::config::Settings;
use crate::record::KEY_SEPARATOR;
use crate::store::Store;

/// A `feeds` subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedsAction {
    List,
    /// Records of our jurisdiction no department reported.
    Missing,
    Repairs,
    Rejects,
    Pull(String),
}

fn key(k: &str) -> String {
    k.replace(KEY_SEPARATOR, " | ")
}

/// Runs the action; the text (or JSON) to print.
pub async fn feeds_command(
    settings: Arc<Settings>,
    store: &Store,
    action: FeedsAction,
    json: bool,
    now: DateTime<Utc>,
) -> Result<String, FeedError> {
    let mut out = String::new();
    let to_json = |v: serde_json::Value| serde_json::to_string_pretty(&v).expect("values serialise");
    match action {
        FeedsAction::List => {
            let states = store.feed_states().await?;
            let rows: Vec<serde_json::Value> = settings
                .feeds
                .iter()
                .map(|f| {
                    let s = states.iter().find(|s| s.feed == f.name);
                    serde_json::json!({
                        "feed": f.name, "title": f.title, "enabled": f.enabled, "schedule": f.schedule.as_str(),
                        "cursor": s.and_then(|s| s.cursor.clone()), "pulled_at": s.and_then(|s| s.pulled_at.clone()),
                        "ok_at": s.and_then(|s| s.ok_at.clone()), "last_error": s.and_then(|s| s.last_error.clone()),
                        "accepted": s.map_or(0, |s| s.accepted), "rejected": s.map_or(0, |s| s.rejected),
                        "healthy": s.is_none_or(|s| s.last_error.is_none()),
                    })
                })
                .collect();
            if json {
                return Ok(to_json(serde_json::Value::Array(rows)));
            }
            let _ = writeln!(out, "订阅\t名称\t游标\t最近拉取\t接收\t拒收\t状态");
            for r in rows {
                let state = match r["last_error"].as_str() {
                    Some(e) => format!("失败：{e}"),
                    None => "正常".to_string(),
                };
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{state}",
                    r["feed"].as_str().unwrap_or_default(),
                    r["title"].as_str().unwrap_or_default(),
                    r["cursor"].as_str().unwrap_or("-"),
                    r["pulled_at"].as_str().unwrap_or("-"),
                    r["accepted"],
                    r["rejected"],
                );
            }
        }
        FeedsAction::Missing => {
            let Some(own) = settings.divisions.own() else {
                return Ok("config/divisions.toml names no own jurisdiction (`own`)\n".into());
            };
            let rows = store.feed_missing(own).await?;
            if json {
                return Ok(to_json(serde_json::to_value(&rows).expect("rows serialise")));
            }
            let _ = writeln!(out, "可能漏报/瞒报：本辖区（{own}）上级下发、但无部门报送的记录 {} 条", rows.len());
            let _ = writeln!(out, "编号\t订阅\t类别\t区域\t领域\t业务主键\t接收时间");
            for r in rows {
                let region = r.region.unwrap_or_default();
                let sector = r.sector.as_deref().unwrap_or("-");
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{region}\t{sector}\t{}\t{}",
                    r.id,
                    r.feed,
                    r.item,
                    key(&r.business_key),
                    r.received_at
                );
            }
        }
        FeedsAction::Repairs => {
            let rows = store.repairs().await?;
            if json {
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        let mut v = serde_json::to_value(r).expect("rows serialise");
                        v["status"] = r.status(now).into();
                        v
                    })
                    .collect();
                return Ok(to_json(serde_json::Value::Array(list)));
            }
            let _ = writeln!(out, "编号\t记录\t业务主键\t收到\t期限\t撤销已受理/应撤销\t状态");
            for r in rows {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}/{}\t{}",
                    r.id,
                    r.record_id,
                    key(&r.business_key),
                    r.received_on,
                    r.due_on,
                    r.accepted,
                    r.withdrawals,
                    r.status(now)
                );
            }
        }
        FeedsAction::Rejects => {
            let rows = store.feed_rejects(None).await?;
            if json {
                return Ok(to_json(serde_json::to_value(&rows).expect("rows serialise")));
            }
            let _ = writeln!(out, "订阅\t游标\t位置\t编号\t原因");
            for r in rows {
                let id = r.source_id.unwrap_or_default();
                let cursor = r.cursor.unwrap_or_default();
                let _ = writeln!(out, "{}\t{cursor}\t{}\t{id}\t{}", r.feed, r.position, r.reason);
            }
        }
        FeedsAction::Pull(name) => {
            store.sync_destination_items(&settings.destination_items()).await?;
            let counts = super::pull::pull_now(settings, store, &name, now).await?;
            return Ok(serde_json::to_string(&counts).expect("counts serialise"));
        }
    }
    Ok(out)
}
