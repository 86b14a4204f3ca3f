//! Credit grading (信用分级分类, SPEC §8) as configuration (`config/grading.toml`): which records
//! of which items count as general or serious dishonesty or as a revoked business licence, the
//! window they count in, and the thresholds that make the grades A–D.
//!
//! Pure: the store hands over each candidate record (its item, decision date, content and
//! what happened to it since); this module says whether and how it counts, and grades the
//! counts. The window is the last `window_months` months as SPEC §5 counts months
//! (`publicity::add_months`): a record decided on D counts on as-of days D ≤ as-of <
//! D + `window_months` months, so on D + 12 months it has left the window.

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::issues::{Issues, check_version};
use crate::publicity::add_months;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingSpec {
    version: u32,
    regulation: String,
    window_months: u32,
    general_max_for_b: u32,
    #[serde(default)]
    yearly_on: Option<String>,
    #[serde(default)]
    on_new_records: bool,
    result_item: String,
    result_department: String,
    evaluator: String,
    #[serde(default)]
    minor_counts: bool,
    grades: GradesSpec,
    items: Vec<ItemRuleSpec>,
    #[serde(default)]
    commitments: Option<CommitmentsSpec>,
}

/// Where the 信用承诺 figures read a commitment and whether it was kept.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitmentsSpec {
    item: String,
    status_field: String,
    kept: Vec<String>,
    broken: Vec<String>,
}

/// The commitments (信用承诺) the figures count: the catalogue item, the field holding 履约状态
/// and its texts that mean kept (践诺) and broken (违诺); any other text is still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commitments {
    pub item: String,
    pub status_field: String,
    pub kept: Vec<String>,
    pub broken: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradesSpec {
    #[serde(rename = "A")]
    a: GradeSpec,
    #[serde(rename = "B")]
    b: GradeSpec,
    #[serde(rename = "C")]
    c: GradeSpec,
    #[serde(rename = "D")]
    d: GradeSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradeSpec {
    name: String,
    rule: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemRuleSpec {
    item: String,
    class: String,
    #[serde(default)]
    kinds_field: Option<String>,
    #[serde(default)]
    serious_kinds: Vec<String>,
    #[serde(default)]
    revoked_kinds: Vec<String>,
    #[serde(default)]
    severity_field: Option<String>,
    #[serde(default)]
    serious_words: Vec<String>,
    #[serde(default)]
    minor_words: Vec<String>,
    #[serde(default)]
    removed_field: Option<String>,
    #[serde(default)]
    while_listed: bool,
}

/// How a counted record weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    General,
    Serious,
    /// 吊销营业执照: grade D.
    Revoked,
}

impl Class {
    fn parse(s: &str) -> Option<Class> {
        match s {
            "general" => Some(Class::General),
            "serious" => Some(Class::Serious),
            "revoked" => Some(Class::Revoked),
            _ => None,
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Class::General => "一般失信",
            Class::Serious => "严重失信",
            Class::Revoked => "吊销营业执照",
        }
    }
}

/// The four grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grade {
    A,
    B,
    C,
    D,
}

impl Grade {
    pub const ALL: [Grade; 4] = [Grade::A, Grade::B, Grade::C, Grade::D];

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }

    pub fn parse(s: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// One item's counting rule (field keys checked against the catalogue at load).
#[derive(Debug, Clone)]
pub struct ItemRule {
    pub item: String,
    pub class: Class,
    pub kinds_field: Option<String>,
    pub serious_kinds: Vec<String>,
    pub revoked_kinds: Vec<String>,
    pub severity_field: Option<String>,
    pub serious_words: Vec<String>,
    pub minor_words: Vec<String>,
    pub removed_field: Option<String>,
    /// A list entry counts while listed (not removed), whatever its date.
    pub while_listed: bool,
}

#[derive(Debug, Clone)]
pub struct GradeText {
    pub name: String,
    pub rule: String,
}

/// The grading rules in force.
#[derive(Debug, Clone)]
pub struct Grading {
    pub regulation: String,
    pub window_months: u32,
    pub general_max_for_b: u32,
    /// The yearly evaluation day (month, day), Asia/Shanghai.
    pub yearly_on: Option<(u32, u32)>,
    pub on_new_records: bool,
    /// The catalogue item a change of grade is recorded as (分级分类结果), and the department
    /// the record is stored under.
    pub result_item: String,
    pub result_department: String,
    pub evaluator: String,
    pub minor_counts: bool,
    texts: [GradeText; 4],
    pub items: Vec<ItemRule>,
    pub commitments: Option<Commitments>,
}

impl Default for Grading {
    fn default() -> Grading {
        let t = |n: &str| GradeText { name: n.into(), rule: String::new() };
        Grading {
            regulation: String::new(),
            window_months: 12,
            general_max_for_b: 5,
            yearly_on: None,
            on_new_records: false,
            result_item: String::new(),
            result_department: String::new(),
            evaluator: String::new(),
            minor_counts: false,
            texts: [t("守信"), t("一般失信"), t("严重失信"), t("黑名单")],
            items: Vec::new(),
            commitments: None,
        }
    }
}

/// A record the store found for a subject, with what happened to it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub record_id: i64,
    pub item: &'a str,
    pub decision_date: Option<&'a str>,
    pub content: &'a serde_json::Map<String, serde_json::Value>,
    /// Repaired (信用修复) on or before the as-of day: no longer counts.
    pub repaired: bool,
    /// Revoked or deleted by its department (撤销/删除): the decision no longer stands.
    pub withdrawn: bool,
    /// A repeat of a decision stored under another key: counted once, through the other.
    pub duplicate: bool,
}

/// A subject's counted records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub general: Vec<i64>,
    pub serious: Vec<i64>,
    pub revoked: Vec<i64>,
}

impl Tally {
    pub fn add(&mut self, class: Class, id: i64) {
        match class {
            Class::General => self.general.push(id),
            Class::Serious => self.serious.push(id),
            Class::Revoked => self.revoked.push(id),
        }
    }
}

/// A grade with the records behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graded {
    pub grade: Grade,
    pub general: u32,
    /// Serious records, a revoked business licence included.
    pub serious: u32,
    pub reasons: Vec<i64>,
}

/// The `[commitments]` section checked against the catalogue: the item and its status field
/// exist, and where the field has a code table every text listed is one of its entries.
fn commitments(file: &Path, c: CommitmentsSpec, catalogue: &Catalogue, issues: &mut Issues) -> Option<Commitments> {
    let Some(item) = catalogue.item(&c.item) else {
        issues.push(file, "commitments.item", format!("{:?} is not a catalogue item", c.item));
        return None;
    };
    let Some(field) = item.field_index(&c.status_field).map(|i| &item.fields[i]) else {
        issues.push(file, "commitments.status_field", format!("{:?} is not a field of {}", c.status_field, c.item));
        return None;
    };
    if c.kept.is_empty() {
        issues.push(file, "commitments.kept", "the 履约状态 texts that mean the commitment was kept");
    }
    if let Some(t) = c.kept.iter().find(|t| c.broken.contains(t)) {
        issues.push(file, "commitments.broken", format!("{t:?} is also listed as kept"));
    }
    if let crate::catalogue::FieldKind::Code { table, .. } = &field.kind {
        for (k, texts) in [("kept", &c.kept), ("broken", &c.broken)] {
            for t in texts.iter().filter(|t| !table.is_stored_form(t)) {
                issues.push(
                    file,
                    format!("commitments.{k}"),
                    format!("{t:?} is not a text of the code table {}", field.name),
                );
            }
        }
    }
    Some(Commitments { item: c.item, status_field: c.status_field, kept: c.kept, broken: c.broken })
}

impl Grading {
    pub fn from_spec(file: &Path, spec: GradingSpec, catalogue: &Catalogue, issues: &mut Issues) -> Grading {
        check_version(file, spec.version, issues);
        if spec.regulation.trim().is_empty() {
            issues.push(file, "regulation", "the regulation or policy the grades follow");
        }
        if spec.window_months == 0 || spec.window_months > 120 {
            issues.push(file, "window_months", "a number of months, 1–120");
        }
        let yearly_on = spec.yearly_on.as_deref().and_then(|s| {
            let parsed = s
                .split_once('-')
                .and_then(|(m, d)| Some((m.parse::<u32>().ok()?, d.parse::<u32>().ok()?)))
                .filter(|&(m, d)| NaiveDate::from_ymd_opt(2024, m, d).is_some());
            if parsed.is_none() {
                issues.push(file, "yearly_on", "a day of the year as MM-DD");
            }
            parsed
        });
        match catalogue.item(&spec.result_item) {
            None => issues.push(file, "result_item", format!("{:?} is not a catalogue item", spec.result_item)),
            Some(item) => {
                for key in RESULT_FIELDS {
                    if item.field_index(key).is_none() {
                        issues.push(file, "result_item", format!("the item has no field {key}"));
                    }
                }
            }
        }
        if spec.result_department.trim().is_empty() {
            issues.push(file, "result_department", "the department the grade results are stored under");
        }
        let mut items: Vec<ItemRule> = Vec::new();
        for (i, r) in spec.items.into_iter().enumerate() {
            let at = |k: &str| format!("items[{i}].{k}");
            let Some(item) = catalogue.item(&r.item) else {
                issues.push(file, at("item"), format!("{:?} is not a catalogue item", r.item));
                continue;
            };
            if item.subject_code.is_none() {
                issues.push(file, at("item"), "the item names no subject (subject_code)");
                continue;
            }
            if items.iter().any(|x| x.item == r.item) {
                issues.push(file, at("item"), "the item is listed twice");
                continue;
            }
            let Some(class) = Class::parse(&r.class) else {
                issues.push(file, at("class"), "general, serious or revoked");
                continue;
            };
            for (k, f) in [
                ("kinds_field", &r.kinds_field),
                ("severity_field", &r.severity_field),
                ("removed_field", &r.removed_field),
            ] {
                if let Some(f) = f
                    && item.field_index(f).is_none()
                {
                    issues.push(file, at(k), format!("{f:?} is not a field of {}", r.item));
                }
            }
            if r.kinds_field.is_none() && !(r.serious_kinds.is_empty() && r.revoked_kinds.is_empty()) {
                issues.push(file, at("kinds_field"), "the field the kinds are read from");
            }
            if let Some(k) = r.serious_kinds.iter().find(|k| r.revoked_kinds.contains(k)) {
                issues.push(file, at("revoked_kinds"), format!("{k:?} is also a serious kind"));
            }
            if r.while_listed && r.removed_field.is_none() {
                issues.push(file, at("while_listed"), "a listing counts until removed: name removed_field");
            }
            items.push(ItemRule {
                item: r.item,
                class,
                kinds_field: r.kinds_field,
                serious_kinds: r.serious_kinds,
                revoked_kinds: r.revoked_kinds,
                severity_field: r.severity_field,
                serious_words: r.serious_words,
                minor_words: r.minor_words,
                removed_field: r.removed_field,
                while_listed: r.while_listed,
            });
        }
        let commitments = spec.commitments.and_then(|c| commitments(file, c, catalogue, issues));
        let g = spec.grades;
        let text = |s: GradeSpec| GradeText { name: s.name, rule: s.rule };
        Grading {
            regulation: spec.regulation,
            window_months: spec.window_months,
            general_max_for_b: spec.general_max_for_b,
            yearly_on,
            on_new_records: spec.on_new_records,
            result_item: spec.result_item,
            result_department: spec.result_department,
            evaluator: spec.evaluator,
            minor_counts: spec.minor_counts,
            texts: [text(g.a), text(g.b), text(g.c), text(g.d)],
            items,
            commitments,
        }
    }

    pub fn text(&self, grade: Grade) -> &GradeText {
        &self.texts[grade as usize]
    }

    pub fn rule(&self, item: &str) -> Option<&ItemRule> {
        self.items.iter().find(|r| r.item == item)
    }

    /// The earliest decision date a window-bound record may have and still count on `as_of`
    /// (a little early: the exact test is [`Grading::in_window`]), for the store's range.
    pub fn window_floor(&self, as_of: NaiveDate) -> NaiveDate {
        as_of.checked_sub_months(chrono::Months::new(self.window_months + 1)).unwrap_or(NaiveDate::MIN)
    }

    /// Does a record decided on `decided` count on `as_of`?
    pub fn in_window(&self, decided: NaiveDate, as_of: NaiveDate) -> bool {
        decided <= as_of && add_months(decided, self.window_months) > as_of
    }

    /// How `c` counts on `as_of`, if at all.
    pub fn classify(&self, c: &Candidate<'_>, as_of: NaiveDate) -> Option<Class> {
        let rule = self.rule(c.item)?;
        if c.repaired || c.withdrawn || c.duplicate {
            return None;
        }
        let decided = NaiveDate::parse_from_str(c.decision_date?, "%Y-%m-%d").ok()?;
        if decided > as_of {
            return None;
        }
        if let Some(f) = &rule.removed_field
            && let Some(removed) = crate::subject::field(c.content, f)
            && NaiveDate::parse_from_str(removed.trim(), "%Y-%m-%d").is_ok_and(|d| d <= as_of)
        {
            return None;
        }
        if !rule.while_listed && !self.in_window(decided, as_of) {
            return None;
        }
        if let Some(f) = &rule.kinds_field
            && let Some(kinds) = crate::subject::field(c.content, f)
        {
            let kinds: Vec<&str> = kinds.split([';', '；']).map(str::trim).collect();
            if kinds.iter().any(|k| rule.revoked_kinds.iter().any(|r| r == k)) {
                return Some(Class::Revoked);
            }
            if kinds.iter().any(|k| rule.serious_kinds.iter().any(|s| s == k)) {
                return Some(Class::Serious);
            }
        }
        if let Some(f) = &rule.severity_field
            && let Some(word) = crate::subject::field(c.content, f).map(str::trim)
        {
            if rule.serious_words.iter().any(|w| w == word) {
                return Some(Class::Serious.max(rule.class));
            }
            if !self.minor_counts && rule.minor_words.iter().any(|w| w == word) {
                return None;
            }
        }
        Some(rule.class)
    }

    /// The grade of a subject's counted records (SPEC §8): D for a revoked business licence;
    /// C for any serious record or more than `general_max_for_b` general ones; B for some
    /// general ones; A for none. The reasons are the records that decide it.
    pub fn grade(&self, t: &Tally) -> Graded {
        let general = t.general.len() as u32;
        let serious = (t.serious.len() + t.revoked.len()) as u32;
        let (grade, mut reasons) = if !t.revoked.is_empty() {
            (Grade::D, t.revoked.clone())
        } else if !t.serious.is_empty() || general > self.general_max_for_b {
            let mut r = t.serious.clone();
            if general > self.general_max_for_b {
                r.extend(&t.general);
            }
            (Grade::C, r)
        } else if general > 0 {
            (Grade::B, t.general.clone())
        } else {
            (Grade::A, Vec::new())
        };
        reasons.sort_unstable();
        reasons.dedup();
        Graded { grade, general, serious, reasons }
    }

    /// The rule text behind a grade, with the regulation.
    pub fn explain(&self, g: &Graded) -> String {
        let t = self.text(g.grade);
        format!(
            "{}（{}）：{}；近 {} 个月一般失信 {} 条、严重失信 {} 条",
            g.grade.as_str(),
            t.name,
            t.rule,
            self.window_months,
            g.general,
            g.serious
        )
    }
}

/// The fields the result item (分级分类结果) must have: name, code, grade, previous grade,
/// evaluation date, rule, counts, evaluator.
pub const RESULT_FIELDS: [&str; 9] =
    ["FJ_QYMC", "FJ_SHXYM", "FJ_DJ", "FJ_YDJ", "FJ_PDRQ", "FJ_YJ", "FJ_YBSX", "FJ_YZSX", "FJ_PDJG"];

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        crate::catalogue::shipped_for_tests()
    }

    fn shipped() -> Grading {
        let spec: GradingSpec = toml::from_str(include_str!("../config/grading.toml")).unwrap();
        let mut issues = Issues::default();
        let g = Grading::from_spec(Path::new("grading.toml"), spec, &catalogue(), &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.iter().collect::<Vec<_>>());
        g
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn content(pairs: &[(&str, &str)]) -> serde_json::Map<String, serde_json::Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect()
    }

    fn penalty<'a>(id: i64, date: &'a str, c: &'a serde_json::Map<String, serde_json::Value>) -> Candidate<'a> {
        Candidate {
            record_id: id,
            item: "CF",
            decision_date: Some(date),
            content: c,
            repaired: false,
            withdrawn: false,
            duplicate: false,
        }
    }

    #[test]
    fn the_window_is_twelve_months_counted_as_publicity_counts_them() {
        let g = shipped();
        assert!(g.in_window(d("2025-06-30"), d("2026-06-29")));
        assert!(!g.in_window(d("2025-06-30"), d("2026-06-30")), "leaves the window on D + 12 months");
        // 2024-02-29 + 12 months = 2025-02-28 (clipped): gone on that day.
        assert!(!g.in_window(d("2024-02-29"), d("2025-02-28")));
        assert!(g.in_window(d("2024-02-29"), d("2025-02-27")));
        assert!(g.window_floor(d("2025-02-28")) < d("2024-02-29"));
    }

    #[test]
    fn licence_revocation_is_c_and_business_licence_revocation_is_d() {
        let g = shipped();
        let fine = content(&[("CF_CFLB", "02")]);
        let licence = content(&[("CF_CFLB", "02;05")]);
        let business = content(&[("CF_CFLB", "15")]);
        let as_of = d("2026-06-30");
        assert_eq!(g.classify(&penalty(1, "2026-01-01", &fine), as_of), Some(Class::General));
        assert_eq!(g.classify(&penalty(2, "2026-01-01", &licence), as_of), Some(Class::Serious));
        assert_eq!(g.classify(&penalty(3, "2026-01-01", &business), as_of), Some(Class::Revoked));
        let mut repaired = penalty(4, "2026-01-01", &licence);
        repaired.repaired = true;
        assert_eq!(g.classify(&repaired, as_of), None);
        assert_eq!(g.classify(&penalty(5, "2026-07-01", &fine), as_of), None, "after the as-of day");
    }

    #[test]
    fn five_general_records_are_b_and_six_are_c() {
        let g = shipped();
        let five = Tally { general: vec![1, 2, 3, 4, 5], ..Default::default() };
        assert_eq!(g.grade(&five).grade, Grade::B);
        let six = Tally { general: vec![1, 2, 3, 4, 5, 6], ..Default::default() };
        let c = g.grade(&six);
        assert_eq!((c.grade, c.reasons.len()), (Grade::C, 6));
        assert_eq!(g.grade(&Tally::default()).grade, Grade::A);
        let d = Tally { general: vec![1], serious: vec![2], revoked: vec![3] };
        assert_eq!(g.grade(&d), Graded { grade: Grade::D, general: 1, serious: 2, reasons: vec![3] });
    }

    #[test]
    fn a_listing_counts_until_removed() {
        let g = shipped();
        let listed = content(&[("YZ_LRRQ", "2020-01-01")]);
        let removed = content(&[("YZ_LRRQ", "2020-01-01"), ("YZ_YCRQ", "2026-01-01")]);
        let c = |content| Candidate {
            record_id: 1,
            item: "MKT_YZWF",
            decision_date: Some("2020-01-01"),
            content,
            repaired: false,
            withdrawn: false,
            duplicate: false,
        };
        assert_eq!(g.classify(&c(&listed), d("2026-06-30")), Some(Class::Serious));
        assert_eq!(g.classify(&c(&removed), d("2026-06-30")), None);
        assert_eq!(g.classify(&c(&removed), d("2025-12-31")), Some(Class::Serious));
    }
}
