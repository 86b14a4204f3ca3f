//! `credit-gateway grade`: every subject's grade on a day (SPEC §8, `config/grading.toml`),
//! set-based — one streamed read of the counted records in the window, one of the subjects,
//! one of the grades before — then the changed grades stored with their reasons, and each
//! change of grade stored as a record of the result item (分级分类结果), which the outbox
//! delivers like any other record (same key and content again: `unchanged`, nothing queued).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::config::Settings;
use crate::grading::{Candidate, Grade, Tally};
use crate::store::{GradeRow, IngestCounts, IngestRunStart, RunStatus, Store, StoreError};

/// One subject's grade on the day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubjectGrade {
    pub credit_code: String,
    pub name: String,
    pub grade: &'static str,
    pub general: u32,
    pub serious: u32,
    pub reasons: Vec<i64>,
    /// The grade before this day (none: never graded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// What a grading run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GradeRun {
    pub as_of: String,
    pub subjects: u64,
    /// Subjects per grade, A to D.
    pub per_grade: [u64; 4],
    /// Subjects whose grade differs from the one before.
    pub changed: u64,
    /// Grade rows stored (changed grades or reasons).
    pub stored: u64,
    /// 分级分类结果 records written: new, new versions, unchanged.
    pub records_new: u64,
    pub records_updated: u64,
    pub records_unchanged: u64,
    /// Of `seconds`, the time spent writing the result records.
    pub write_seconds: f64,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("grading is not configured (config/grading.toml)")]
    NotConfigured,
}

impl GradeError {
    pub fn zh(&self) -> String {
        match self {
            GradeError::Store(e) => format!("数据库错误：{e}"),
            GradeError::NotConfigured => "未配置信用分级分类规则（config/grading.toml）".into(),
        }
    }
}

/// Grades every subject on `as_of`; stores the changes and their result records.
/// `each` sees every subject's grade, in credit-code order.
pub async fn grade_all(
    settings: &Settings,
    store: &Store,
    as_of: NaiveDate,
    now: DateTime<Utc>,
    mut each: impl FnMut(&SubjectGrade),
) -> Result<GradeRun, GradeError> {
    let started = std::time::Instant::now();
    let rules = &settings.grading;
    if rules.items.is_empty() {
        return Err(GradeError::NotConfigured);
    }
    store.link_subjects(&settings.catalogue).await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "grading: linked");
    let day = as_of.format("%Y-%m-%d").to_string();
    let floor = rules.window_floor(as_of).format("%Y-%m-%d").to_string();
    let window: Vec<String> = rules.items.iter().filter(|r| !r.while_listed).map(|r| r.item.clone()).collect();
    let listed: Vec<String> = rules.items.iter().filter(|r| r.while_listed).map(|r| r.item.clone()).collect();
    let (repaired, revoked) = store.ended_records(&day).await?;
    // Per item: the item and the content fields the grading reads (its rule's, its subject's).
    let mut needed: HashMap<&str, (&crate::catalogue::Item, Vec<&str>)> = HashMap::new();
    for r in &rules.items {
        let Some(item) = settings.catalogue.item(&r.item) else { continue };
        let mut keys: Vec<&str> =
            [&r.kinds_field, &r.severity_field, &r.removed_field].into_iter().flatten().map(String::as_str).collect();
        keys.extend([item.subject_code, item.subject_name].into_iter().flatten().map(|i| item.fields[i].key.as_str()));
        needed.insert(r.item.as_str(), (item, keys));
    }
    let mut tallies: HashMap<String, Tally> = HashMap::new();
    store
        .each_grading_row(&window, &listed, &floor, &day, |row| {
            let Some((item, keys)) = needed.get(row.item.as_str()) else { return };
            let Some(content) = light_content(&row.content, keys) else { return };
            // Natural persons are not graded (SPEC §8 grades enterprises): no person key.
            let Some((code, _)) = crate::subject::of_content(item, &content, None) else { return };
            let c = Candidate {
                record_id: row.record_id,
                item: &row.item,
                decision_date: row.decision_date.as_deref(),
                content: &content,
                repaired: repaired.contains(&row.record_id),
                withdrawn: revoked.contains(&row.record_id),
                duplicate: row.duplicate,
            };
            if let Some(class) = rules.classify(&c, as_of) {
                tallies.entry(code).or_default().add(class, row.record_id);
            }
        })
        .await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, subjects = tallies.len(), "grading: tallied");
    let before = store.latest_grades_before(&day).await?;
    let same_day = store.grades_on(&day).await?;
    let computed_at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut run = GradeRun { as_of: day.clone(), ..Default::default() };
    let mut rows: Vec<GradeRow> = Vec::new();
    let mut results: Vec<(SubjectGrade, String)> = Vec::new();
    let empty = Tally::default();
    let mut subjects: Vec<(String, String)> = Vec::new();
    store.each_subject(|code, name| subjects.push((code, name))).await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "grading: subjects read");
    for (code, name) in subjects {
        let graded = rules.grade(tallies.get(&code).unwrap_or(&empty));
        let reasons = crate::store::join_ids(&graded.reasons);
        let prev = before.get(&code);
        let today_row = same_day.get(&code);
        let g = SubjectGrade {
            grade: graded.grade.as_str(),
            general: graded.general,
            serious: graded.serious,
            reasons: graded.reasons.clone(),
            previous: prev.map(|p| p.0.clone()),
            name,
            credit_code: code,
        };
        run.subjects += 1;
        run.per_grade[graded.grade as usize] += 1;
        let prev_grade = prev.map_or("A", |p| p.0.as_str());
        if g.grade != prev_grade {
            run.changed += 1;
        }
        let differs = |r: &(String, String)| r.0 != g.grade || r.1 != reasons;
        let store_row = match today_row {
            Some(t) => differs(t),
            None => prev.is_none_or(differs),
        };
        if store_row {
            rows.push(GradeRow {
                credit_code: g.credit_code.clone(),
                as_of: day.clone(),
                grade: g.grade.to_string(),
                previous: g.previous.clone(),
                general: i64::from(g.general),
                serious: i64::from(g.serious),
                reasons: g.reasons.clone(),
                rule: rules.explain(&graded),
                record_id: None,
                computed_at: computed_at.clone(),
            });
        }
        // A change of grade is a record; so is the day's record that must now say otherwise.
        let recorded_change = today_row.is_some_and(|t| t.0 != prev_grade);
        if g.grade != prev_grade || (store_row && recorded_change) {
            results.push((g.clone(), rules.explain(&graded)));
        }
        each(&g);
    }
    run.stored = rows.len() as u64;
    store.store_grades(&rows).await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "grading: grades stored");
    let writing = std::time::Instant::now();
    let lower = lower_routes(settings, store, &results, [&before, &same_day]).await?;
    write_results(settings, store, &day, &results, &lower, now, &mut run).await?;
    run.write_seconds = writing.elapsed().as_secs_f64();
    run.seconds = started.elapsed().as_secs_f64();
    Ok(run)
}

/// Per result, the lower destinations (departments) that take it: those listing the result
/// item whose `regions` (else our own jurisdiction) hold the subject's region — its credit
/// code's positions 3–8 — and, for one listing `sectors`, whose sectors include one of the
/// result's: the sectors of the records behind this grade and behind the grades before it
/// (`earlier`: the latest before the day, and the day's own when it is graded again;
/// `config/sectors.toml` `from = "reasons"`), so a department told of a grade resting on its
/// sector is told when that grade changes. The reasons are read a chunk at a time, and only
/// those of results of a region some department listing sectors serves.
async fn lower_routes<'s>(
    settings: &'s Settings,
    store: &Store,
    results: &[(SubjectGrade, String)],
    earlier: [&HashMap<String, (String, String)>; 2],
) -> Result<Vec<Vec<&'s str>>, GradeError> {
    let item = settings.grading.result_item.as_str();
    let takes = |d: &&crate::delivery::Destination| d.enabled && d.is_lower() && d.items.iter().any(|i| i == item);
    if results.is_empty() || !settings.destinations.iter().any(|d| takes(&d)) {
        return Ok(vec![Vec::new(); results.len()]);
    }
    let reasons_of = |g: &SubjectGrade| -> Vec<i64> {
        let mut ids = g.reasons.clone();
        for grades in earlier {
            ids.extend(grades.get(&g.credit_code).map(|p| crate::store::split_ids(&p.1)).unwrap_or_default());
        }
        ids
    };
    // Reasons are read only for the results a department listing sectors may take by region:
    // with every sector, would one of them take it?
    let every: Vec<&str> = settings.sectors.names().collect();
    let by_sector = |g: &SubjectGrade| {
        crate::feed::route::destinations_for_sectors(
            &settings.destinations,
            &settings.divisions,
            item,
            subject_region(&g.credit_code),
            &every,
        )
        .iter()
        .any(|d| !d.sectors.is_empty())
    };
    let mut sector_of: HashMap<i64, &str> = HashMap::new();
    if settings.sectors.from_reasons(item) {
        let mut ids: Vec<i64> = results.iter().filter(|(g, _)| by_sector(g)).flat_map(|(g, _)| reasons_of(g)).collect();
        ids.sort_unstable();
        ids.dedup();
        store
            .each_record_content(&ids, |id, code, content| {
                let Some(reason_item) = settings.catalogue.item(code) else { return };
                if let Some(sector) = settings.sectors.of(reason_item, &field_values(reason_item, content), None) {
                    sector_of.insert(id, sector);
                }
            })
            .await?;
    }
    let mut routes = Vec::with_capacity(results.len());
    for (g, _) in results {
        let sectors = settings.sectors.of_reasons(reasons_of(g).iter().map(|id| sector_of.get(id).copied()));
        let to = crate::feed::route::destinations_for_sectors(
            &settings.destinations,
            &settings.divisions,
            item,
            subject_region(&g.credit_code),
            &sectors,
        );
        routes.push(to.into_iter().map(|d| d.name.as_str()).collect());
    }
    Ok(routes)
}

/// A subject's region: its credit code's positions 3–8 (登记管理机关行政区划码, GB 32100-2015);
/// none (routed nowhere below) when they are not digits.
fn subject_region(code: &str) -> &str {
    code.get(2..8).filter(|r| r.bytes().all(|b| b.is_ascii_digit())).unwrap_or("")
}

/// A stored record's content as its item's values (text; numbers as written), for the rules
/// that read values by field (the sector of a reason).
fn field_values(item: &crate::catalogue::Item, content: &str) -> Vec<Option<String>> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(content).unwrap_or_default();
    item.fields
        .iter()
        .map(|f| match map.get(&f.key) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Null) | None => None,
            Some(v) => Some(v.to_string()),
        })
        .collect()
}

/// Stores each change of grade as a record of the result item, through the record writer
/// (so the outbox queues its upper deliveries as for any record), with, in the same
/// transaction, its deliveries to the departments `lower` names per result.
#[allow(clippy::too_many_arguments)]
async fn write_results(
    settings: &Settings,
    store: &Store,
    day: &str,
    results: &[(SubjectGrade, String)],
    lower: &[Vec<&str>],
    now: DateTime<Utc>,
    run: &mut GradeRun,
) -> Result<(), GradeError> {
    let rules = &settings.grading;
    let Some(item) = settings.catalogue.item(&rules.result_item) else { return Ok(()) };
    if results.is_empty() {
        return Ok(());
    }
    store.sync_destination_items(&settings.destination_items()).await?;
    let stamp = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let source = format!("grade --as-of {day}");
    let run_id = store
        .start_ingest(&IngestRunStart {
            connector: "grading",
            department: &rules.result_department,
            item: &item.code,
            source: &source,
            fingerprint: None,
            config_hash: "",
            started_at: &stamp,
        })
        .await?;
    let gw = &settings.gateway;
    let mut writer = store
        .record_writer(run_id, &item.code, &rules.result_department, &stamp, gw.statement_rows, gw.commit_rows)
        .await?;
    let set = |values: &mut Vec<Option<String>>, key: &str, v: Option<String>| {
        if let Some(i) = item.field_index(key) {
            values[i] = v.filter(|s| !s.is_empty());
        }
    };
    let mut counts = IngestCounts::default();
    for (n, chunk) in results.chunks(gw.statement_rows.max(1)).enumerate() {
        let mut prepared = Vec::with_capacity(chunk.len());
        for (i, (g, rule)) in chunk.iter().enumerate() {
            let mut values: Vec<Option<String>> = vec![None; item.fields.len()];
            let name = if g.name.is_empty() { g.credit_code.clone() } else { g.name.clone() };
            set(&mut values, "FJ_QYMC", Some(name));
            set(&mut values, "FJ_SHXYM", Some(g.credit_code.clone()));
            set(&mut values, "FJ_DJ", Some(g.grade.to_string()));
            set(&mut values, "FJ_YDJ", Some(g.previous.clone().unwrap_or_else(|| Grade::A.as_str().to_string())));
            set(&mut values, "FJ_PDRQ", Some(day.to_string()));
            set(&mut values, "FJ_YJ", Some(format!("{rule}（{}）", rules.regulation)));
            set(&mut values, "FJ_YBSX", Some(g.general.to_string()));
            set(&mut values, "FJ_YZSX", Some(g.serious.to_string()));
            set(&mut values, "FJ_PDJG", Some(rules.evaluator.clone()));
            let line = (n * gw.statement_rows.max(1) + i + 1) as u64;
            prepared.push(crate::record::prepare(item, &values, line, None));
        }
        let first = n * gw.statement_rows.max(1);
        let routed: Vec<(&str, &str)> = prepared
            .iter()
            .zip(&lower[first..first + prepared.len()])
            .flat_map(|(r, to)| to.iter().map(|d| (r.business_key.as_str(), *d)))
            .collect();
        let c = writer.write_routed(&prepared, &[], &routed).await?;
        counts.rows += prepared.len() as u64;
        counts.accepted += prepared.len() as u64;
        counts.new_versions += c.new_versions;
        counts.unchanged += c.unchanged;
        run.records_new += c.inserted;
        run.records_updated += c.new_versions;
        run.records_unchanged += c.unchanged;
    }
    writer.finish().await?;
    store
        .finish_ingest(run_id, &counts, RunStatus::Done, None, None, &now.to_rfc3339_opts(SecondsFormat::Millis, true))
        .await?;
    Ok(())
}

/// The fields `keys` of a record's content, as strings, without building the whole document.
fn light_content(content: &str, keys: &[&str]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let raw: HashMap<&str, &serde_json::value::RawValue> = serde_json::from_str(content).ok()?;
    let mut out = serde_json::Map::new();
    for k in keys {
        if let Some(v) = raw.get(k)
            && let Ok(text) = serde_json::from_str::<String>(v.get())
        {
            out.insert((*k).to_string(), serde_json::Value::String(text));
        }
    }
    Some(out)
}
