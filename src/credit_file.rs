//! A subject's credit file (信用档案) and the subject search, as the dashboard, the API and
//! `credit-gateway subject show` present them: identity (names over time, type, region), every
//! record by item and date with its status, the records the upper platforms sent down about it,
//! and its grade with the rule and the history.
//!
//! A department user's view holds only its own department's records; whether it learns that
//! others hold records about the subject is `[credit_file] other_departments` (gateway.toml).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::config::OtherDepartments;
use crate::config::Settings;
use crate::store::{FileRecord, GradeRow, Store, StoreError, SubjectHit};

/// At most this many hits per search.
pub const SEARCH_LIMIT: usize = 20;

/// Finds subjects by credit code (or its start) and by name (any part of any name its records
/// gave it, compared in `subject::search_key`'s folded form).
pub async fn search(
    settings: &Settings,
    store: &Store,
    q: &str,
    scope: Option<&str>,
    limit: usize,
) -> Result<Vec<SubjectHit>, StoreError> {
    // A whole 居民身份证号码 finds the natural person it names, by the same keyed hash the
    // links were made with (the number itself is stored nowhere to be searched).
    if crate::ids::IdNumber::parse(q).is_ok() {
        let Some(person) = store.person_key().await?.subject(q) else { return Ok(Vec::new()) };
        let others = settings.gateway.credit_file_others == OtherDepartments::Count;
        return store.search_subjects(Some(&person), "", scope, others, limit.clamp(1, 100)).await;
    }
    let code = crate::subject::code_query(q);
    let key = crate::subject::search_key(q);
    if code.is_none() && key.chars().count() < 2 && key.is_ascii() {
        return Ok(Vec::new());
    }
    let others = settings.gateway.credit_file_others == OtherDepartments::Count;
    store.search_subjects(code.as_deref(), &key, scope, others, limit.clamp(1, 100)).await
}

/// One name a subject's records gave it, with the decision dates it was used between.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NameUse {
    pub name: String,
    pub first: Option<String>,
    pub last: Option<String>,
    pub records: u64,
}

/// One record in the file.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub item: String,
    pub item_name: String,
    pub department: String,
    pub department_name: String,
    pub decision_date: Option<String>,
    /// The statuses that apply, the weightiest first (已撤销, 已修复, 异议处理中, …, 已公示).
    pub status: Vec<&'static str>,
    /// What the record is about: its key without the subject, and its main fields.
    pub summary: String,
    pub version: i64,
}

/// A record sent down by an upper platform.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FeedEntry {
    pub id: i64,
    pub feed: String,
    pub item: String,
    pub item_name: String,
    pub status: &'static str,
    pub repair: bool,
    /// 领域, by which it went to the departments that apply joint punishment.
    pub sector: Option<String>,
    pub received_at: String,
    pub summary: String,
}

/// The grade in force.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CurrentGrade {
    pub grade: String,
    pub name: String,
    pub rule: String,
    pub as_of: String,
    pub general: i64,
    pub serious: i64,
    /// The records behind it (those this caller may see).
    pub reasons: Vec<i64>,
    pub regulation: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CreditFile {
    pub credit_code: String,
    pub name: String,
    pub names: Vec<NameUse>,
    /// 主体类别 from the code's registration authority and kind (GB 32100-2015 positions 1–2).
    pub kind: Option<String>,
    /// The registering division (positions 3–8) and its name, when the division table has it.
    pub region: Option<String>,
    pub region_name: Option<String>,
    pub records: Vec<Entry>,
    /// Records other departments hold (a department user's view, where policy shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_departments_records: Option<u64>,
    pub feed_records: Vec<FeedEntry>,
    pub grade: Option<CurrentGrade>,
    pub grades: Vec<GradeRow>,
    /// More records than the file lists ([`crate::store::subject_file::FILE_LIMIT`]).
    pub truncated: bool,
}

/// The statuses of a record, weightiest first.
pub fn statuses(r: &FileRecord) -> Vec<&'static str> {
    let mut s = Vec::new();
    match r.revoked.as_deref() {
        Some("delete") => s.push("已删除"),
        Some(_) => s.push("已撤销"),
        None => {}
    }
    if r.repaired {
        s.push("已修复");
    }
    if r.under_objection {
        s.push("异议处理中");
    }
    if r.returned {
        s.push("被退回待补正");
    }
    if r.duplicate {
        s.push("重复报送");
    }
    if r.revoked.is_none() && !r.repaired {
        s.push(if r.publicity_held {
            "不予公示"
        } else if r.publicity_closed {
            "公示期满"
        } else if r.reported_on.is_some() {
            "已公示"
        } else {
            "待报送"
        });
    }
    s
}

/// The credit file of `code` as `scope` (a department, or `None` for the office) may see it;
/// `None` when there is nothing it may see.
pub async fn credit_file(
    settings: &Settings,
    store: &Store,
    code: &str,
    scope: Option<&str>,
    today: NaiveDate,
) -> Result<Option<CreditFile>, StoreError> {
    let code = code.trim().to_ascii_uppercase();
    let all = store.subject_records(&code).await?;
    let feed = store.subject_feed_records(&code).await?;
    let grades = store.subject_grade_history(&code).await?;
    if all.is_empty() && feed.is_empty() && grades.is_empty() {
        return Ok(None);
    }
    let visible: Vec<&FileRecord> = all.iter().filter(|r| scope.is_none_or(|d| r.department == d)).collect();
    let others = (all.len() - visible.len()) as u64;
    let policy = settings.gateway.credit_file_others;
    if scope.is_some() && visible.is_empty() && policy == OtherDepartments::Hidden {
        return Ok(None);
    }
    let catalogue = &settings.catalogue;
    // Names over time, from every record (the identity is not any department's).
    let mut names: BTreeMap<String, NameUse> = BTreeMap::new();
    for r in &all {
        let Some(item) = catalogue.item(&r.item) else { continue };
        let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&r.content) else { continue };
        let name = crate::subject::name_of(item, &map);
        if name.is_empty() {
            continue;
        }
        let e = names.entry(name.clone()).or_insert(NameUse { name, first: None, last: None, records: 0 });
        e.records += 1;
        if let Some(d) = &r.decision_date {
            if e.first.as_ref().is_none_or(|f| d < f) {
                e.first = Some(d.clone());
            }
            if e.last.as_ref().is_none_or(|l| d > l) {
                e.last = Some(d.clone());
            }
        }
    }
    let mut names: Vec<NameUse> = names.into_values().collect();
    names.sort_by(|a, b| a.first.cmp(&b.first).then_with(|| a.name.cmp(&b.name)));
    let shown = store.subject_display_names(&[code.as_str()]).await?;
    let name = shown.get(&code).cloned().or_else(|| names.last().map(|n| n.name.clone())).unwrap_or_default();
    let item_name = |i: &str| catalogue.item(i).map_or(i.to_string(), |x| x.name.clone());
    let records: Vec<Entry> = visible
        .iter()
        .map(|r| Entry {
            id: r.id,
            item: r.item.clone(),
            item_name: item_name(&r.item),
            department: r.department.clone(),
            department_name: settings.departments.get(&r.department).map_or(r.department.clone(), |d| d.name.clone()),
            decision_date: r.decision_date.clone(),
            status: statuses(r),
            summary: summary(settings, &r.item, &r.content),
            version: r.version,
        })
        .collect();
    let feed_records = feed
        .iter()
        .map(|f| FeedEntry {
            id: f.id,
            feed: f.feed.clone(),
            item: f.item.clone(),
            item_name: item_name(&f.item),
            status: match (f.repair, f.publicity) {
                (true, _) => "信用修复",
                (_, 1) => "已撤销",
                (_, 2) => "已删除",
                _ => "公示中",
            },
            repair: f.repair,
            sector: f.sector.clone(),
            received_at: f.received_at.clone(),
            summary: summary(settings, &f.item, &f.content),
        })
        .collect();
    let day = today.format("%Y-%m-%d").to_string();
    let visible_ids: std::collections::HashSet<i64> = visible.iter().map(|r| r.id).collect();
    let grade = grades.iter().find(|g| g.as_of <= day).map(|g| {
        let text = crate::grading::Grade::parse(&g.grade).map(|x| settings.grading.text(x));
        CurrentGrade {
            grade: g.grade.clone(),
            name: text.map_or(String::new(), |t| t.name.clone()),
            rule: g.rule.clone(),
            as_of: g.as_of.clone(),
            general: g.general,
            serious: g.serious,
            reasons: g.reasons.iter().copied().filter(|id| visible_ids.contains(id)).collect(),
            regulation: settings.grading.regulation.clone(),
        }
    });
    let person = crate::subject::is_person(&code);
    let kind =
        if person { Some("自然人".to_string()) } else { catalogue.subject_kind_of_code(&code).map(str::to_string) };
    let region = code.get(2..8).filter(|r| !person && r.chars().all(|c| c.is_ascii_digit())).map(str::to_string);
    let region_name = region.as_deref().and_then(|r| settings.divisions.get(r)).map(|d| d.name.clone());
    Ok(Some(CreditFile {
        truncated: all.len() as i64 >= crate::store::SUBJECT_FILE_LIMIT,
        credit_code: code,
        name,
        names,
        kind,
        region,
        region_name,
        records,
        other_departments_records: (scope.is_some() && policy == OtherDepartments::Count).then_some(others),
        feed_records,
        grade,
        grades,
    }))
}

/// A record in a line: the key parts that are not the subject (文书号, 案号 …), then its coded
/// fields (处罚类别 …), then its long texts (违法行为类型, 处罚内容 …), at most four, each cut short.
pub fn summary(settings: &Settings, item: &str, content: &str) -> String {
    use crate::catalogue::FieldKind;
    let Some(item) = settings.catalogue.item(item) else { return String::new() };
    let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(content) else {
        return String::new();
    };
    let subject: Vec<usize> =
        [item.subject_code, item.subject_name, item.subject_kind, item.subject_id].into_iter().flatten().collect();
    let shown = |i: &usize| !subject.contains(i) && *i != item.decision_date && !item.fields[*i].personal;
    let keys: Vec<usize> = item.key.iter().filter_map(|part| part.first().copied()).filter(|i| shown(i)).collect();
    let coded = (0..item.fields.len())
        .filter(|i| shown(i) && item.fields[*i].report && matches!(item.fields[*i].kind, FieldKind::Code { .. }));
    let long = (0..item.fields.len()).filter(|i| {
        shown(i) && matches!(item.fields[*i].kind, FieldKind::Text) && item.fields[*i].max_len.unwrap_or(0) >= 500
    });
    // Then the other dates (a list's 移出日期), where room is left.
    let dates = (0..item.fields.len()).filter(|i| shown(i) && matches!(item.fields[*i].kind, FieldKind::Date { .. }));
    let mut parts: Vec<String> = Vec::new();
    for i in keys.into_iter().chain(coded).chain(long).chain(dates) {
        let f = &item.fields[i];
        let Some(v) = map.get(&f.key).and_then(|v| v.as_str()) else { continue };
        let v = match &f.kind {
            FieldKind::Code { table, .. } => {
                v.split(';').map(|c| table.describe(c.trim())).collect::<Vec<_>>().join("、")
            }
            _ => v.to_string(),
        };
        let cut: String = v.chars().take(40).collect();
        let more = if cut.len() < v.len() { "…" } else { "" };
        if !parts.iter().any(|p| p.starts_with(&format!("{}：", f.name))) {
            parts.push(format!("{}：{cut}{more}", f.name));
        }
        if parts.len() == 4 {
            break;
        }
    }
    parts.join("；")
}
