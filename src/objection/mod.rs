//! Objections (异议): the grounds table (`config/objections.toml`), the life of a case
//! (open → upheld or rejected → replied → closed), its answer deadline and the figures.
//!
//! Pure: the store keeps the cases (`store::objections`) and `objection::handle` runs each step
//! against it; this module decides what a step may do and computes the dates.

pub mod handle;

use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::deadline::{self, RecordDeadline};
use crate::issues::{Issues, check_version};

/// The deadline rule kind in `config/deadlines.toml` that objections answer by.
pub const DEADLINE_RULE: &str = "objection";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectionsSpec {
    version: u32,
    #[serde(default)]
    suspend_publication: bool,
    grounds: Vec<GroundSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroundSpec {
    code: String,
    name: String,
    #[serde(default)]
    synonyms: Vec<String>,
    #[serde(default)]
    caught_by: String,
}

/// One ground of objection (信息错误, 重复公示, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ground {
    /// Stored; never renamed.
    pub code: String,
    pub name: String,
    pub synonyms: Vec<String>,
    /// The gateway's checks that prevent this ground.
    pub caught_by: String,
}

/// The objection rules in force.
#[derive(Debug, Clone, Default)]
pub struct ObjectionRules {
    /// Suspend a record's publication while an objection against it is open, unless the
    /// registration says otherwise.
    pub suspend_publication: bool,
    pub grounds: Vec<Ground>,
}

impl ObjectionRules {
    pub fn from_spec(file: &Path, spec: ObjectionsSpec, issues: &mut Issues) -> ObjectionRules {
        check_version(file, spec.version, issues);
        let mut grounds: Vec<Ground> = Vec::new();
        for (i, g) in spec.grounds.into_iter().enumerate() {
            let at = |k: &str| format!("grounds[{i}].{k}");
            if g.code.is_empty() || !g.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                issues.push(file, at("code"), "a code of lower-case ASCII letters and _");
                continue;
            }
            if g.name.trim().is_empty() {
                issues.push(file, at("name"), "a name to show");
                continue;
            }
            let taken = |text: &str| {
                grounds.iter().any(|x| x.code == text || x.name == text || x.synonyms.iter().any(|s| s == text))
            };
            if let Some(dup) = [&g.code, &g.name].into_iter().chain(g.synonyms.iter()).find(|t| taken(t.as_str())) {
                issues.push(file, at("code"), format!("{dup:?} already names another ground"));
                continue;
            }
            grounds.push(Ground { code: g.code, name: g.name, synonyms: g.synonyms, caught_by: g.caught_by });
        }
        if grounds.is_empty() {
            issues.push(file, "grounds", "at least one ground");
        }
        ObjectionRules { suspend_publication: spec.suspend_publication, grounds }
    }

    /// The ground a person's text names: its code, its name or a synonym (spaces ignored).
    pub fn ground(&self, text: &str) -> Option<&Ground> {
        let text = text.trim();
        self.grounds.iter().find(|g| g.code == text || g.name == text || g.synonyms.iter().any(|s| s == text))
    }

    pub fn by_code(&self, code: &str) -> Option<&Ground> {
        self.grounds.iter().find(|g| g.code == code)
    }

    /// The grounds' names, for an error listing the choices.
    pub fn listing(&self) -> String {
        self.grounds.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join("、")
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Routed to the department, not answered yet.
    Open,
    /// The department found the objection valid.
    Upheld,
    /// The department found the record right.
    Rejected,
    /// The office has replied to the applicant and closed the case.
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Upheld => "upheld",
            Status::Rejected => "rejected",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Open, Status::Upheld, Status::Rejected, Status::Closed].into_iter().find(|x| x.as_str() == s)
    }

    pub fn zh(self) -> &'static str {
        match self {
            Status::Open => "待部门答复",
            Status::Upheld => "异议成立",
            Status::Rejected => "异议不成立",
            Status::Closed => "已办结",
        }
    }
}

/// What an upheld objection leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The department sends a corrected row (a new version of the record).
    Correction,
    /// The record is withdrawn (撤销) at every platform that accepted it.
    Withdrawal,
    /// The subject's credit was repaired: withdrawn like a repair result.
    Repair,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Correction => "correction",
            Outcome::Withdrawal => "withdrawal",
            Outcome::Repair => "repair",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s.trim() {
            "correction" | "更正" => Some(Outcome::Correction),
            "withdrawal" | "撤销" | "撤下" => Some(Outcome::Withdrawal),
            "repair" | "修复" | "信用修复" => Some(Outcome::Repair),
            _ => None,
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Outcome::Correction => "更正",
            Outcome::Withdrawal => "撤销公示",
            Outcome::Repair => "信用修复",
        }
    }

    /// Does this outcome take the record off the platforms?
    pub fn withdraws(self) -> bool {
        matches!(self, Outcome::Withdrawal | Outcome::Repair)
    }
}

/// One step a person takes on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Answer,
    Reply,
    Close,
}

/// Why a step is refused, in the words shown to the person who tried it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepRefused {
    #[error("异议已答复（{0}），不能再次答复")]
    AlreadyAnswered(&'static str),
    #[error("异议已办结，不能再办理")]
    Closed,
    #[error("部门尚未答复，不能答复申请人或办结")]
    NotAnswered,
    #[error("尚未答复申请人，不能办结")]
    NotReplied,
    #[error("已答复申请人，不能再次答复")]
    AlreadyReplied,
}

/// May `step` be taken on a case in `status` (`replied`: the applicant has had the reply)?
pub fn check_step(step: Step, status: Status, replied: bool) -> Result<(), StepRefused> {
    match (step, status) {
        (_, Status::Closed) => Err(StepRefused::Closed),
        (Step::Answer, Status::Open) => Ok(()),
        (Step::Answer, answered) => Err(StepRefused::AlreadyAnswered(answered.zh())),
        (Step::Reply | Step::Close, Status::Open) => Err(StepRefused::NotAnswered),
        (Step::Reply, _) if replied => Err(StepRefused::AlreadyReplied),
        (Step::Reply, _) => Ok(()),
        (Step::Close, _) if !replied => Err(StepRefused::NotReplied),
        (Step::Close, _) => Ok(()),
    }
}

/// The answer deadline of a case routed on `routed` (day 0): the end of its
/// `working_days`-th working day.
pub fn due(calendar: &Calendar, routed: NaiveDate, working_days: u32, due_soon: u32) -> RecordDeadline {
    deadline::compute(calendar, routed, working_days, due_soon)
}

/// Working days the department took: from routing (day 0) to its answer, at least 0.
pub fn handling_working_days(calendar: &Calendar, routed: NaiveDate, answered: NaiveDate) -> u32 {
    if answered <= routed { 0 } else { calendar.working_days_between(routed, answered).0 }
}

/// A name as shown to everyone but admins: the first character, then one `*` per character.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// A telephone number or other contact as shown to everyone but admins: the first three and
/// last four characters of a long one, the rest `*`.
pub fn mask_contact(contact: &str) -> String {
    let chars: Vec<char> = contact.trim().chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    chars.iter().enumerate().map(|(i, c)| if i < 3 || i >= chars.len() - 4 { *c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{Calendar, CalendarYear, YearSpec};

    fn rules() -> ObjectionRules {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/objections.toml")).unwrap();
        let spec: ObjectionsSpec = toml::from_str(&text).unwrap();
        let mut issues = Issues::default();
        let rules = ObjectionRules::from_spec(Path::new("objections.toml"), spec, &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.iter().collect::<Vec<_>>());
        rules
    }

    fn calendar_2026() -> Calendar {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/calendar/2026.toml")).unwrap();
        let spec: YearSpec = toml::from_str(&text).unwrap();
        Calendar::from_years(vec![CalendarYear::from_spec(Path::new("2026.toml"), spec).unwrap()])
    }

    #[test]
    fn the_shipped_grounds_are_the_seven_of_the_issue_and_found_by_name_code_or_synonym() {
        let r = rules();
        let names: Vec<&str> = r.grounds.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["信息错误", "遗漏", "重复公示", "不应公示", "超期公示", "已修复未更新", "其他"]);
        assert_eq!(r.ground("重复公示").unwrap().code, "duplicate");
        assert_eq!(r.ground(" duplicate ").unwrap().name, "重复公示");
        assert_eq!(r.ground("超期").unwrap().code, "overdue_publicity");
        assert!(r.ground("不喜欢").is_none());
        assert!(!r.suspend_publication);
    }

    #[test]
    fn a_ground_named_twice_is_a_configuration_mistake() {
        let spec: ObjectionsSpec = toml::from_str(
            "version = 1\n[[grounds]]\ncode = \"wrong\"\nname = \"信息错误\"\n\
             [[grounds]]\ncode = \"other\"\nname = \"其他\"\nsynonyms = [\"信息错误\"]\n",
        )
        .unwrap();
        let mut issues = Issues::default();
        let r = ObjectionRules::from_spec(Path::new("o.toml"), spec, &mut issues);
        assert_eq!(issues.len(), 1);
        assert_eq!(r.grounds.len(), 1);
    }

    #[test]
    fn the_answer_is_due_on_the_third_working_day_after_routing_across_a_holiday() {
        let cal = calendar_2026();
        // Friday 2026-09-18: Sat 19 off, Sun 20 a make-up working day, Mon 21, Tue 22 → day 3.
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(due(&cal, d("2026-09-18"), 3, 2).deadline, d("2026-09-22"));
        // Wednesday 2026-09-30 before the National Day holiday (10-01–10-07): 10-08, 10-09, 10-10 (make-up Saturday).
        assert_eq!(due(&cal, d("2026-09-30"), 3, 2).deadline, d("2026-10-10"));
        assert_eq!(handling_working_days(&cal, d("2026-09-30"), d("2026-10-09")), 2);
        assert_eq!(handling_working_days(&cal, d("2026-09-30"), d("2026-09-30")), 0);
    }

    #[test]
    fn steps_follow_the_life_of_a_case() {
        use Status::*;
        assert_eq!(check_step(Step::Answer, Open, false), Ok(()));
        assert_eq!(check_step(Step::Answer, Upheld, false), Err(StepRefused::AlreadyAnswered("异议成立")));
        assert_eq!(check_step(Step::Reply, Open, false), Err(StepRefused::NotAnswered));
        assert_eq!(check_step(Step::Close, Open, false), Err(StepRefused::NotAnswered));
        assert_eq!(check_step(Step::Reply, Rejected, false), Ok(()));
        assert_eq!(check_step(Step::Reply, Rejected, true), Err(StepRefused::AlreadyReplied));
        assert_eq!(check_step(Step::Close, Upheld, false), Err(StepRefused::NotReplied));
        assert_eq!(check_step(Step::Close, Upheld, true), Ok(()));
        for step in [Step::Answer, Step::Reply, Step::Close] {
            assert_eq!(check_step(step, Closed, true), Err(StepRefused::Closed));
        }
    }

    #[test]
    fn applicants_are_masked() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_contact("13812345678"), "138****5678");
        assert_eq!(mask_contact("12345"), "*****");
    }
}
