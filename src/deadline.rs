//! Deadline rules (`config/deadlines.toml`) and each record's deadline and status.
//!
//! Pure: a decision date and the calendar in, dates out. The store derives time-dependent
//! statuses in SQL from the same three dates, so a record becomes overdue at 24:00 Asia/Shanghai
//! of its deadline day without any event.

use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::catalogue::{Catalogue, FieldKind};
use crate::issues::{Issues, check_version};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlinesSpec {
    version: u32,
    #[serde(default = "default_due_soon")]
    due_soon_working_days: u32,
    #[serde(default)]
    records: Vec<RecordRuleSpec>,
    #[serde(default)]
    events: Vec<EventRuleSpec>,
}

fn default_due_soon() -> u32 {
    2
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordRuleSpec {
    item: String,
    start: String,
    /// The number of days, or `event`: the days of that event rule (one number for both).
    #[serde(default)]
    working_days: Option<u32>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    basis: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRuleSpec {
    kind: String,
    name: String,
    working_days: u32,
}

/// A record's reporting deadline: `working_days` after the item's `start` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRule {
    pub item: String,
    /// Index of the start field in the item.
    pub start: usize,
    pub working_days: u32,
    /// The regulation the rule comes from.
    pub basis: String,
}

/// A deadline counted from an event (withdrawal, objection, …) rather than a record field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRule {
    pub kind: String,
    pub name: String,
    pub working_days: u32,
}

#[derive(Debug, Clone, Default)]
pub struct DeadlineRules {
    pub due_soon_working_days: u32,
    pub records: Vec<RecordRule>,
    pub events: Vec<EventRule>,
}

impl DeadlineRules {
    /// The rules of `deadlines.toml`, checked against the catalogue's items and date fields.
    pub fn from_spec(file: &Path, spec: DeadlinesSpec, catalogue: &Catalogue, issues: &mut Issues) -> DeadlineRules {
        check_version(file, spec.version, issues);
        let events: Vec<EventRule> = spec
            .events
            .into_iter()
            .map(|e| EventRule { kind: e.kind, name: e.name, working_days: e.working_days })
            .collect();
        let mut records = Vec::new();
        for (i, r) in spec.records.into_iter().enumerate() {
            let at = |k: &str| format!("records[{i}].{k}");
            let working_days = match (r.working_days, r.event.as_deref()) {
                (Some(days), None) => days,
                (None, Some(kind)) => match events.iter().find(|e| e.kind == kind) {
                    Some(e) => e.working_days,
                    None => {
                        issues.push(file, at("event"), format!("no [[events]] rule of kind {kind:?}"));
                        continue;
                    }
                },
                _ => {
                    issues.push(file, at("working_days"), "either working_days or event, not both");
                    continue;
                }
            };
            let Some(item) = catalogue.item(&r.item) else {
                issues.push(file, at("item"), format!("unknown catalogue item {:?}", r.item));
                continue;
            };
            match item.field_index(&r.start) {
                Some(start) if matches!(item.fields[start].kind, FieldKind::Date { .. }) => {
                    if records.iter().any(|x: &RecordRule| x.item == r.item) {
                        issues.push(file, at("item"), format!("item {} has two record rules", r.item));
                    }
                    records.push(RecordRule { item: r.item, start, working_days, basis: r.basis });
                }
                Some(_) => issues.push(file, at("start"), format!("{} is not a date field", r.start)),
                None => issues.push(file, at("start"), format!("{} has no field {}", r.item, r.start)),
            }
        }
        DeadlineRules { due_soon_working_days: spec.due_soon_working_days, records, events }
    }

    pub fn for_item(&self, item: &str) -> Option<&RecordRule> {
        self.records.iter().find(|r| r.item == item)
    }

    pub fn event(&self, kind: &str) -> Option<&EventRule> {
        self.events.iter().find(|e| e.kind == kind)
    }
}

/// A record's deadline, as stored beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordDeadline {
    /// The last day (Asia/Shanghai) on which acceptance is on time.
    pub deadline: NaiveDate,
    /// From this day on, at most `due_soon_working_days` working days are left.
    pub due_soon_from: NaiveDate,
    /// Reaches into a year with no calendar file: weekends only, recomputed when it is loaded.
    pub provisional: bool,
}

/// The deadline of something that started on `start`, `working_days` later.
pub fn compute(calendar: &Calendar, start: NaiveDate, working_days: u32, due_soon_working_days: u32) -> RecordDeadline {
    let end = calendar.add_working_days(start, working_days);
    let soon = calendar.add_working_days(start, working_days.saturating_sub(due_soon_working_days));
    RecordDeadline { deadline: end.date, due_soon_from: soon.date, provisional: end.provisional || soon.provisional }
}

/// Where a record stands against its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DeadlineStatus)]
pub enum Status {
    /// No deadline rule for its item.
    Untracked,
    Pending,
    DueSoon,
    /// Past its deadline and not yet accepted.
    Overdue,
    ReportedOnTime,
    ReportedLate,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Untracked => "untracked",
            Status::Pending => "pending",
            Status::DueSoon => "due_soon",
            Status::Overdue => "overdue",
            Status::ReportedOnTime => "reported_on_time",
            Status::ReportedLate => "reported_late",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Status::Untracked => "不计时限",
            Status::Pending => "待报送",
            Status::DueSoon => "即将到期",
            Status::Overdue => "已逾期",
            Status::ReportedOnTime => "按时报送",
            Status::ReportedLate => "迟报",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Untracked,
            Status::Pending,
            Status::DueSoon,
            Status::Overdue,
            Status::ReportedOnTime,
            Status::ReportedLate,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// The status on `today` (Asia/Shanghai). The store's SQL `CASE` is this function; a test
/// checks they agree.
pub fn status(deadline: Option<&RecordDeadline>, reported_on: Option<NaiveDate>, today: NaiveDate) -> Status {
    let Some(d) = deadline else {
        return Status::Untracked;
    };
    match reported_on {
        Some(day) if day <= d.deadline => Status::ReportedOnTime,
        Some(_) => Status::ReportedLate,
        None if today > d.deadline => Status::Overdue,
        None if today >= d.due_soon_from => Status::DueSoon,
        None => Status::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn rules_are_built_from_their_spec_against_the_catalogue() {
        let spec = toml::from_str(
            r#"
version = 1
due_soon_working_days = 3
records = [
  { item = "CF", start = "CF_JDRQ", working_days = 7, basis = "双公示" },
  { item = "NOPE", start = "X", working_days = 7 },
  { item = "CF", start = "CF_WSH", working_days = 7 },
  { item = "JGSX", start = "JGSX_TZRQ", event = "supervision_list" },
  { item = "XK", start = "XK_JDRQ", event = "nowhere" },
  { item = "XK", start = "XK_JDRQ", event = "withdrawal", working_days = 3 },
]
events = [
  { kind = "withdrawal", name = "撤销", working_days = 3 },
  { kind = "supervision_list", name = "监管事项清单变更", working_days = 10 },
]
"#,
        )
        .unwrap();
        let catalogue = crate::catalogue::shipped_for_tests();
        let mut issues = Issues::default();
        let rules = DeadlineRules::from_spec(Path::new("deadlines.toml"), spec, &catalogue, &mut issues);
        assert_eq!(rules.due_soon_working_days, 3);
        assert_eq!(rules.for_item("CF").unwrap().working_days, 7);
        assert_eq!(rules.event("withdrawal").unwrap().name, "撤销");
        assert_eq!(rules.for_item("JGSX").unwrap().working_days, 10, "the event rule's days");
        assert!(rules.for_item("XK").is_none());
        let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(
            issues,
            [
                "deadlines.toml: records[1].item: unknown catalogue item \"NOPE\"",
                "deadlines.toml: records[2].start: CF_WSH is not a date field",
                "deadlines.toml: records[4].event: no [[events]] rule of kind \"nowhere\"",
                "deadlines.toml: records[5].working_days: either working_days or event, not both",
            ]
        );
    }

    #[test]
    fn status_follows_the_days() {
        let d = RecordDeadline { deadline: date("2026-02-28"), due_soon_from: date("2026-02-26"), provisional: false };
        assert_eq!(status(Some(&d), None, date("2026-02-25")), Status::Pending);
        assert_eq!(status(Some(&d), None, date("2026-02-26")), Status::DueSoon);
        assert_eq!(status(Some(&d), None, date("2026-02-28")), Status::DueSoon);
        assert_eq!(status(Some(&d), None, date("2026-03-01")), Status::Overdue);
        assert_eq!(status(Some(&d), Some(date("2026-02-28")), date("2026-03-09")), Status::ReportedOnTime);
        assert_eq!(status(Some(&d), Some(date("2026-03-01")), date("2026-03-09")), Status::ReportedLate);
        assert_eq!(status(None, None, date("2026-03-01")), Status::Untracked);
        for s in ["pending", "due_soon", "overdue", "reported_on_time", "reported_late", "untracked"] {
            assert_eq!(Status::parse(s).unwrap().as_str(), s);
        }
    }
}
