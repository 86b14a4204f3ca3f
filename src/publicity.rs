//! Publicity periods of penalties (SPEC §5): regime, class, sector, minimum, maximum and planned end.
//!
//! Pure: the rules come from `config/publicity.toml` (`Publicity::from_spec`, checked against the
//! catalogue), a record's mapped values go in, its publicity block and any warnings come out.
//! Periods are calendar months from the decision date, clipped to the end of a shorter month.

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::issues::{Issues, check_version};
use crate::problem::{Problem, ProblemCode};
use crate::record::PublicityColumns;
use crate::sector::KeywordRule;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicitySpec {
    version: u32,
    #[serde(default)]
    items: Vec<ItemSpec>,
    #[serde(default)]
    classes: ClassWordsSpec,
    default_class: Class,
    #[serde(default)]
    class_rules: Vec<ClassRuleSpec>,
    #[serde(default)]
    sectors: Vec<SectorSpec>,
    regimes: Vec<RegimeSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemSpec {
    item: String,
    decided: String,
    department_end: Option<String>,
    class: Option<String>,
    publish_minor: Option<String>,
    kinds: Option<String>,
    authority: Option<String>,
    conduct: Option<String>,
    basis: Option<String>,
    operation: Option<String>,
    revoked_on: Option<String>,
    revoked_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassWordsSpec {
    #[serde(default)]
    minor: Vec<String>,
    #[serde(default)]
    general: Vec<String>,
    #[serde(default)]
    serious: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassRuleSpec {
    class: Class,
    kinds: Vec<String>,
    /// Why, for the person reading the file (the rule is the configuration's documentation).
    #[serde(rename = "reason")]
    _reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectorSpec {
    name: String,
    fields: Vec<SectorField>,
    contains: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SectorField {
    Authority,
    Conduct,
    Basis,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegimeSpec {
    name: String,
    regulation: String,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
    periods: Vec<PeriodSpec>,
    #[serde(default)]
    sector_periods: Vec<SectorPeriodSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodSpec {
    class: Option<Class>,
    min_months: u32,
    max_months: u32,
    #[serde(default)]
    held: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectorPeriodSpec {
    sectors: Vec<String>,
    min_months: u32,
    max_months: u32,
}

/// The class of a dishonest act (失信严重程度), from least to most serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Minor,
    General,
    Serious,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Minor => "minor",
            Class::General => "general",
            Class::Serious => "serious",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        match s {
            "minor" => Some(Class::Minor),
            "general" => Some(Class::General),
            "serious" => Some(Class::Serious),
            _ => None,
        }
    }

    /// The one-letter form of the stored block.
    fn initial(self) -> &'static str {
        &self.as_str()[..1]
    }

    fn from_initial(s: &str) -> Option<Class> {
        [Class::Minor, Class::General, Class::Serious].into_iter().find(|c| c.initial() == s)
    }

    pub fn zh(self) -> &'static str {
        match self {
            Class::Minor => "轻微",
            Class::General => "一般",
            Class::Serious => "严重",
        }
    }
}

/// Where an item keeps what the rules read (indexes into the item's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRule {
    pub item: String,
    pub decided: usize,
    pub department_end: Option<usize>,
    pub class: Option<usize>,
    pub publish_minor: Option<usize>,
    pub kinds: Option<usize>,
    pub authority: Option<usize>,
    pub conduct: Option<usize>,
    pub basis: Option<usize>,
    /// 操作类型 (新增/变更/撤销/删除) and, for a revocation, its date and reason.
    pub operation: Option<usize>,
    pub revoked_on: Option<usize>,
    pub revoked_reason: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ClassRule {
    class: Class,
    kinds: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Period {
    class: Option<Class>,
    min_months: u32,
    max_months: u32,
    held: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SectorPeriod {
    sectors: Vec<String>,
    min_months: u32,
    max_months: u32,
}

/// One regime: the decisions of a date range and the regulation that sets their periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regime {
    pub name: String,
    pub regulation: String,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    periods: Vec<Period>,
    sector_periods: Vec<SectorPeriod>,
}

impl Regime {
    fn covers(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= d) && self.until.is_none_or(|u| d <= u)
    }

    /// Whether the regime sorts penalties into classes (order 58 does not).
    fn classed(&self) -> bool {
        self.periods.iter().any(|p| p.class.is_some())
    }
}

/// The rules of `config/publicity.toml`.
#[derive(Debug, Clone, Default)]
pub struct Publicity {
    pub items: Vec<ItemRule>,
    pub regimes: Vec<Regime>,
    words: Vec<(String, Class)>,
    default_class: Option<Class>,
    class_rules: Vec<ClassRule>,
    sectors: Vec<KeywordRule<SectorField>>,
}

/// A penalty version's publicity: what `publicity --json` shows and the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block<'a> {
    pub regime: &'a str,
    pub class: Option<Class>,
    pub class_defaulted: bool,
    pub sector: Option<&'a str>,
    pub decided: NaiveDate,
    pub min_end: NaiveDate,
    pub max_end: NaiveDate,
    pub department_end: Option<NaiveDate>,
    /// None when held back (a minor penalty not published).
    pub planned_end: Option<NaiveDate>,
    pub held: bool,
}

/// The same block read back from the store (owned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredBlock {
    pub regime: String,
    pub class: Option<Class>,
    pub class_defaulted: bool,
    pub sector: Option<String>,
    pub decided: NaiveDate,
    pub min_end: NaiveDate,
    pub max_end: NaiveDate,
    pub department_end: Option<NaiveDate>,
    pub planned_end: Option<NaiveDate>,
    pub held: bool,
}

/// What a department row asks for (操作类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Add,
    Change,
    Withdraw,
    Delete,
}

impl Operation {
    /// The stored text of the `operation` code table (新增/变更/撤销/删除).
    pub fn parse(s: &str) -> Option<Operation> {
        match s {
            "新增" => Some(Operation::Add),
            "变更" => Some(Operation::Change),
            "撤销" => Some(Operation::Withdraw),
            "删除" => Some(Operation::Delete),
            _ => None,
        }
    }

    /// The outbox's operation word.
    pub fn outbox(self) -> &'static str {
        match self {
            Operation::Add => "add",
            Operation::Change => "update",
            Operation::Withdraw => "withdraw",
            Operation::Delete => "delete",
        }
    }
}

/// `d` plus `months` calendar months, clipped to the last day of a shorter month.
pub fn add_months(d: NaiveDate, months: u32) -> NaiveDate {
    let total = d.year() as i64 * 12 + d.month0() as i64 + months as i64;
    let (year, month) = (total.div_euclid(12) as i32, total.rem_euclid(12) as u32 + 1);
    let last = last_day(year, month);
    NaiveDate::from_ymd_opt(year, month, d.day().min(last)).unwrap_or(NaiveDate::MAX)
}

fn last_day(year: i32, month: u32) -> u32 {
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    next.and_then(|n| n.pred_opt()).map_or(28, |d| d.day())
}

fn is_yes(s: &str) -> bool {
    matches!(s.trim(), "是" | "必要" | "确有必要" | "需要" | "Y" | "y" | "1" | "true" | "TRUE" | "yes")
}

impl Publicity {
    /// The rules of `publicity.toml`, checked against the catalogue's items and fields.
    pub fn from_spec(file: &Path, spec: PublicitySpec, catalogue: &Catalogue, issues: &mut Issues) -> Publicity {
        check_version(file, spec.version, issues);
        let mut items = Vec::new();
        for (i, s) in spec.items.into_iter().enumerate() {
            let Some(item) = catalogue.item(&s.item) else {
                issues.push(file, format!("items[{i}].item"), format!("unknown catalogue item {:?}", s.item));
                continue;
            };
            let mut field = |name: &str, key: Option<&String>| -> Option<usize> {
                let key = key?;
                let found = item.field_index(key);
                if found.is_none() {
                    issues.push(file, format!("items[{i}].{name}"), format!("{} has no field {key}", s.item));
                }
                found
            };
            let Some(decided) = field("decided", Some(&s.decided)) else { continue };
            let rule = ItemRule {
                item: s.item.clone(),
                decided,
                department_end: field("department_end", s.department_end.as_ref()),
                class: field("class", s.class.as_ref()),
                publish_minor: field("publish_minor", s.publish_minor.as_ref()),
                kinds: field("kinds", s.kinds.as_ref()),
                authority: field("authority", s.authority.as_ref()),
                conduct: field("conduct", s.conduct.as_ref()),
                basis: field("basis", s.basis.as_ref()),
                operation: field("operation", s.operation.as_ref()),
                revoked_on: field("revoked_on", s.revoked_on.as_ref()),
                revoked_reason: field("revoked_reason", s.revoked_reason.as_ref()),
            };
            if items.iter().any(|r: &ItemRule| r.item == rule.item) {
                issues.push(file, format!("items[{i}].item"), format!("item {} has two rules", rule.item));
            }
            items.push(rule);
        }
        let mut words = Vec::new();
        for (class, list) in [
            (Class::Minor, spec.classes.minor),
            (Class::General, spec.classes.general),
            (Class::Serious, spec.classes.serious),
        ] {
            words.extend(list.into_iter().map(|w| (w, class)));
        }
        let mut regimes = Vec::new();
        for (i, r) in spec.regimes.into_iter().enumerate() {
            let at = |k: &str| format!("regimes[{i}].{k}");
            if r.regulation.trim().is_empty() {
                issues.push(file, at("regulation"), "name the regulation the periods come from");
            }
            if let (Some(f), Some(u)) = (r.from, r.until)
                && f > u
            {
                issues.push(file, at("from"), "must not be after `until`");
            }
            if r.periods.is_empty() {
                issues.push(file, at("periods"), "at least one period");
            }
            let classed = r.periods.iter().filter(|p| p.class.is_some()).count();
            if classed != 0 && classed != r.periods.len() {
                issues.push(file, at("periods"), "either every period names a class or none does");
            }
            for (j, p) in r.periods.iter().enumerate() {
                if p.min_months > p.max_months {
                    issues.push(file, format!("regimes[{i}].periods[{j}]"), "min_months must not exceed max_months");
                }
            }
            if classed > 0 && !r.periods.iter().any(|p| p.class == Some(spec.default_class)) {
                issues.push(
                    file,
                    at("periods"),
                    format!("no period for the default class {}", spec.default_class.as_str()),
                );
            }
            if let Some(prev) = regimes.last().and_then(|p: &Regime| p.until)
                && r.from.is_none_or(|f| f != prev + chrono::Days::new(1))
            {
                issues.push(file, at("from"), format!("must be the day after the previous regime's `until` ({prev})"));
            }
            regimes.push(Regime {
                name: r.name,
                regulation: r.regulation,
                from: r.from,
                until: r.until,
                periods: r
                    .periods
                    .into_iter()
                    .map(|p| Period {
                        class: p.class,
                        min_months: p.min_months,
                        max_months: p.max_months,
                        held: p.held,
                    })
                    .collect(),
                sector_periods: r
                    .sector_periods
                    .into_iter()
                    .map(|s| SectorPeriod { sectors: s.sectors, min_months: s.min_months, max_months: s.max_months })
                    .collect(),
            });
        }
        Publicity {
            items,
            regimes,
            words,
            default_class: Some(spec.default_class),
            class_rules: spec.class_rules.into_iter().map(|r| ClassRule { class: r.class, kinds: r.kinds }).collect(),
            sectors: spec.sectors.into_iter().map(|s| KeywordRule::new(s.name, s.fields, &s.contains)).collect(),
        }
    }

    pub fn for_item(&self, item: &str) -> Option<&ItemRule> {
        self.items.iter().find(|r| r.item == item)
    }

    pub fn regime(&self, decided: NaiveDate) -> Option<&Regime> {
        self.regimes.iter().find(|r| r.covers(decided))
    }

    /// The class a department's word names (失信严重程度), if it is one of the configured words.
    pub fn class_word(&self, word: &str) -> Option<Class> {
        let word = word.trim();
        self.words.iter().find(|(w, _)| w == word).map(|(_, c)| *c)
    }

    /// The class the rules give a penalty of these kinds (codes joined by `;`): the most
    /// serious rule that matches any kind, else the default class.
    fn class_by_rules(&self, kinds: Option<&str>) -> Class {
        // Runs for every row: no allocation.
        let has =
            |rule: &ClassRule| kinds.is_some_and(|k| k.split(';').any(|k| rule.kinds.iter().any(|x| x == k.trim())));
        self.class_rules
            .iter()
            .filter(|r| has(r))
            .map(|r| r.class)
            .max()
            .unwrap_or(self.default_class.unwrap_or(Class::General))
    }

    fn sector<'a>(&'a self, rule: &ItemRule, values: &[Option<String>]) -> Option<&'a str> {
        crate::sector::first_match(&self.sectors, |f: SectorField| {
            let at = match f {
                SectorField::Authority => rule.authority,
                SectorField::Conduct => rule.conduct,
                SectorField::Basis => rule.basis,
            };
            at.and_then(|i| values.get(i)?.as_deref())
        })
    }

    /// The publicity block of one record (`values`: one per item field), with its warnings
    /// pushed to `problems`. `publish_minor`: the mapping says minor penalties are published.
    /// None when the record has no valid decision date or no regime covers it.
    pub fn compute<'a>(
        &'a self,
        rule: &ItemRule,
        values: &[Option<String>],
        publish_minor: bool,
        problems: &mut Vec<Problem>,
    ) -> Option<Block<'a>> {
        let value = |i: Option<usize>| i.and_then(|i| values.get(i)?.as_deref()).filter(|v| !v.is_empty());
        let decided = crate::iso_date::parse(value(Some(rule.decided))?)?;
        let regime = self.regime(decided)?;
        // The department's class where it sends a known one, else the rules' (marked defaulted).
        let (mut class, mut defaulted) = match value(rule.class) {
            Some(word) => match self.class_word(word) {
                Some(c) => (c, false),
                None => {
                    let c = self.class_by_rules(value(rule.kinds));
                    problems.push(Problem::warning(
                        rule.class,
                        ProblemCode::UnknownCode,
                        format!("失信严重程度“{word}”无法识别（应为轻微、一般或严重），已按规则认定为{}", c.zh()),
                    ));
                    (c, true)
                }
            },
            None => (self.class_by_rules(value(rule.kinds)), true),
        };
        let period = if regime.classed() {
            match regime.periods.iter().find(|p| p.class == Some(class)) {
                Some(p) => p,
                None => {
                    // A class this regime does not know (轻微 before 2026): the default class.
                    class = self.default_class.unwrap_or(Class::General);
                    defaulted = true;
                    regime.periods.iter().find(|p| p.class == Some(class)).unwrap_or(&regime.periods[0])
                }
            }
        } else {
            regime.periods.first()?
        };
        let sector = self.sector(rule, values);
        let (mut min_months, mut max_months) = (period.min_months, period.max_months);
        if let Some(s) = sector
            && let Some(sp) = regime.sector_periods.iter().find(|sp| sp.sectors.iter().any(|x| x == s))
        {
            // The longest period applies.
            min_months = min_months.max(sp.min_months);
            max_months = max_months.max(sp.max_months);
        }
        let min_end = add_months(decided, min_months);
        let max_end = add_months(decided, max_months);
        let department_end = value(rule.department_end).and_then(crate::iso_date::parse);
        let necessary = publish_minor || value(rule.publish_minor).is_some_and(is_yes);
        let held = period.held && !necessary;
        let planned_end = match held {
            true => None,
            false => {
                if let Some(d) = department_end {
                    let basis = &regime.regulation;
                    if d < min_end {
                        problems.push(Problem::warning(
                            rule.department_end,
                            ProblemCode::PublicityTooShort,
                            format!(
                                "公示截止期 {d} 早于最短公示期限（{basis}：自处罚决定日期 {decided} 起至少{}），将公示至 {min_end}",
                                months_zh(min_months)
                            ),
                        ));
                    } else if d > max_end {
                        problems.push(Problem::warning(
                            rule.department_end,
                            ProblemCode::PublicityTooLong,
                            format!(
                                "公示截止期 {d} 超过最长公示期限（{basis}：自处罚决定日期 {decided} 起至多{}），将于 {max_end} 期满撤下",
                                months_zh(max_months)
                            ),
                        ));
                    }
                }
                Some(department_end.map_or(max_end, |d| d.clamp(min_end, max_end)))
            }
        };
        Some(Block {
            regime: &regime.name,
            class: regime.classed().then_some(class),
            class_defaulted: regime.classed() && defaulted,
            sector,
            decided,
            min_end,
            max_end,
            department_end,
            planned_end,
            held,
        })
    }
}

fn months_zh(months: u32) -> String {
    match (months / 12, months % 12) {
        (0, m) => format!("{m}个月"),
        (y, 0) => format!("{y}年"),
        (y, m) => format!("{y}年{m}个月"),
    }
}

impl Block<'_> {
    /// The compact form the store keeps in `records.publicity`:
    /// `regime|class|defaulted|sector|decided|min|max|department|planned|held`, the class by
    /// its initial and the four ends as days after `decided` (a signed count): every byte is
    /// written again for each version, so the block is kept short (bench ingest).
    pub fn encode(&self) -> String {
        use crate::iso_date::{push, push_int};
        // Written piece by piece as bytes and checked as text once, not with `write!`: this
        // runs for every row of an ingest.
        let decided = self.decided.num_days_from_ce();
        let mut out = Vec::with_capacity(64);
        for part in [self.regime, self.class.map_or("", Class::initial), if self.class_defaulted { "1" } else { "0" }] {
            out.extend_from_slice(part.as_bytes());
            out.push(b'|');
        }
        out.extend_from_slice(self.sector.unwrap_or("").as_bytes());
        out.push(b'|');
        push(&mut out, self.decided);
        for end in [Some(self.min_end), Some(self.max_end), self.department_end, self.planned_end] {
            out.push(b'|');
            if let Some(d) = end {
                push_int(&mut out, i64::from(d.num_days_from_ce() - decided));
            }
        }
        out.push(b'|');
        out.push(if self.held { b'1' } else { b'0' });
        String::from_utf8(out).unwrap_or_default()
    }
}

impl StoredBlock {
    /// Reads `Block::encode`'s form back; None when it is not one. Blocks stored before the
    /// compact form (class words, ends as dates) read the same.
    pub fn decode(s: &str) -> Option<StoredBlock> {
        let p: Vec<&str> = s.split('|').collect();
        let [regime, class, defaulted, sector, decided, min, max, department, planned, held] = p.as_slice() else {
            return None;
        };
        let decided: NaiveDate = decided.parse().ok()?;
        let end = |v: &str| -> Option<NaiveDate> {
            match v.parse::<i64>() {
                Ok(days) => decided.checked_add_signed(chrono::Duration::try_days(days)?),
                Err(_) => v.parse().ok(),
            }
        };
        let optional = |v: &str| if v.is_empty() { Some(None) } else { end(v).map(Some) };
        Some(StoredBlock {
            regime: regime.to_string(),
            class: Class::parse(class).or_else(|| Class::from_initial(class)),
            class_defaulted: *defaulted == "1",
            sector: (!sector.is_empty()).then(|| sector.to_string()),
            decided,
            min_end: end(min)?,
            max_end: end(max)?,
            department_end: optional(department)?,
            planned_end: optional(planned)?,
            held: *held == "1",
        })
    }
}

/// What ingest does with one accepted row of an item that has publicity rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowAction {
    /// Store the record with these columns (None: no decision date or no regime covers it).
    Store(Option<PublicityColumns>),
    /// The department revokes (撤销) or deletes (删除) a decision it sent before.
    Revoke { operation: Operation, on: Option<NaiveDate>, reason: Option<String> },
}

impl Publicity {
    /// The row's operation and publicity. The operation and revocation fields are taken out of
    /// `values`: they say what to do with the record, they are not part of its content.
    pub fn row_action(
        &self,
        rule: &ItemRule,
        values: &mut [Option<String>],
        publish_minor: bool,
        problems: &mut Vec<Problem>,
    ) -> RowAction {
        let mut take = |i: Option<usize>| i.and_then(|i| values.get_mut(i)?.take());
        let operation = take(rule.operation).and_then(|o| Operation::parse(&o));
        let on = take(rule.revoked_on).and_then(|d| crate::iso_date::parse(&d));
        let reason = take(rule.revoked_reason);
        if let Some(operation @ (Operation::Withdraw | Operation::Delete)) = operation {
            return RowAction::Revoke { operation, on, reason };
        }
        RowAction::Store(self.compute(rule, values, publish_minor, problems).map(|b| PublicityColumns {
            block: b.encode(),
            planned_end: b.planned_end.map(crate::iso_date::format),
            held: b.held,
        }))
    }
}

/// Where a record's publicity stands: one word, the `--status` filter of `publicity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(as = PublicityStatus)]
pub enum Status {
    Published,
    /// Planned end within `ENDING_DAYS`.
    Ending,
    Ended,
    /// A minor penalty not published.
    Held,
    /// The department's date is before the minimum (published to the minimum instead).
    TooShort,
    /// The department's date is after the maximum (withdrawn at the maximum instead).
    TooLong,
    /// Publication is over and a platform still holds the record, within the withdrawal deadline.
    WithdrawalDue,
    /// The same, past the deadline.
    WithdrawalLate,
}

/// Days before the planned end in which a record is `ending`.
pub const ENDING_DAYS: i64 = 30;

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Published,
        Status::Ending,
        Status::Ended,
        Status::Held,
        Status::TooShort,
        Status::TooLong,
        Status::WithdrawalDue,
        Status::WithdrawalLate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Published => "published",
            Status::Ending => "ending",
            Status::Ended => "ended",
            Status::Held => "held",
            Status::TooShort => "too-short",
            Status::TooLong => "too-long",
            Status::WithdrawalDue => "withdrawal-due",
            Status::WithdrawalLate => "withdrawal-late",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn zh(self) -> &'static str {
        match self {
            Status::Published => "公示中",
            Status::Ending => "即将到期",
            Status::Ended => "已结束",
            Status::Held => "暂缓公示（轻微失信）",
            Status::TooShort => "公示期过短",
            Status::TooLong => "公示期过长",
            Status::WithdrawalDue => "待撤下",
            Status::WithdrawalLate => "撤下超期",
        }
    }
}

/// Where a record's publication stands in the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Destinations holding it now (accepted, not withdrawn).
    pub published: i64,
    /// Withdrawals queued and how many were accepted.
    pub withdrawals: i64,
    pub withdrawals_accepted: i64,
    /// An early end (repair, revocation): its date and the withdrawal deadline.
    pub early_end: Option<NaiveDate>,
    pub early_due: Option<NaiveDate>,
}

/// The withdrawal deadline: an early end's, else `working_days` after the planned end.
pub fn withdrawal_due(
    block: &StoredBlock,
    p: &Progress,
    calendar: &crate::calendar::Calendar,
    working_days: u32,
) -> Option<NaiveDate> {
    p.early_due.or_else(|| block.planned_end.map(|e| calendar.add_working_days(e, working_days).date))
}

/// The status of a record on `today` (`due`: from `withdrawal_due`).
pub fn status(block: &StoredBlock, p: &Progress, due: Option<NaiveDate>, today: NaiveDate) -> Status {
    if block.held && p.early_end.is_none() {
        return Status::Held;
    }
    // Over at an early end, after the planned end, or once a withdrawal is queued (a repair
    // result from a reverse feed queues one without an early end of ours).
    let over = p.early_end.is_some() || block.planned_end.is_some_and(|e| e < today) || p.withdrawals > 0;
    if over {
        if p.published > 0 || p.withdrawals > p.withdrawals_accepted {
            return match due {
                Some(d) if d < today => Status::WithdrawalLate,
                _ => Status::WithdrawalDue,
            };
        }
        return Status::Ended;
    }
    match block.department_end {
        Some(d) if d < block.min_end => return Status::TooShort,
        Some(d) if d > block.max_end => return Status::TooLong,
        _ => {}
    }
    match block.planned_end {
        Some(e) if (e - today).num_days() <= ENDING_DAYS => Status::Ending,
        _ => Status::Published,
    }
}

/// One record as `publicity --json` lists it (exactly these keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Listing {
    pub id: i64,
    pub item: String,
    pub wsh: Option<String>,
    pub subject: Option<String>,
    pub decided: NaiveDate,
    pub regime: String,
    pub class: Option<Class>,
    pub class_defaulted: bool,
    pub sector: Option<String>,
    pub min_end: NaiveDate,
    pub max_end: NaiveDate,
    pub department_end: Option<NaiveDate>,
    pub planned_end: Option<NaiveDate>,
    pub status: Status,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    /// The shipped catalogue and publicity rules.
    fn shipped() -> (Publicity, crate::catalogue::Catalogue) {
        let catalogue = crate::catalogue::shipped_for_tests();
        let spec: PublicitySpec = toml::from_str(include_str!("../config/publicity.toml")).expect("publicity.toml");
        let mut issues = Issues::default();
        let p = Publicity::from_spec(Path::new("publicity.toml"), spec, &catalogue, &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.iter().map(|i| i.to_string()).collect::<Vec<_>>());
        (p, catalogue)
    }

    struct Case<'a> {
        decided: &'a str,
        end: Option<&'a str>,
        class: Option<&'a str>,
        kinds: &'a str,
        conduct: &'a str,
        basis: &'a str,
        necessary: Option<&'a str>,
    }

    const BASE: Case<'static> = Case {
        decided: "2024-03-01",
        end: None,
        class: None,
        kinds: "02",
        conduct: "无照经营",
        basis: "《无证无照经营查处办法》第十三条",
        necessary: None,
    };

    fn run(c: Case<'_>) -> (StoredBlock, Vec<Problem>) {
        let (p, catalogue) = shipped();
        let item = catalogue.item("CF").expect("CF");
        let rule = p.for_item("CF").expect("CF rule").clone();
        let mut values: Vec<Option<String>> = vec![None; item.fields.len()];
        let mut set = |key: &str, v: Option<&str>| values[item.field_index(key).expect(key)] = v.map(str::to_string);
        set("CF_JDRQ", Some(c.decided));
        set("CF_GSJZQ", c.end);
        set("CF_SXYZCD", c.class);
        set("CF_CFLB", Some(c.kinds));
        set("CF_WFXW", Some(c.conduct));
        set("CF_YJ", Some(c.basis));
        set("CF_QWGSBY", c.necessary);
        let mut problems = Vec::new();
        let block = p.compute(&rule, &values, false, &mut problems).expect("a block");
        let stored = StoredBlock::decode(&block.encode()).expect("round trip");
        (stored, problems)
    }

    fn codes(problems: &[Problem]) -> Vec<&'static str> {
        problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn the_stored_block_is_compact_and_blocks_stored_before_read_the_same() {
        let block = Block {
            regime: "order58",
            class: Some(Class::General),
            class_defaulted: true,
            sector: Some("特种设备"),
            decided: d("2026-01-05"),
            min_end: d("2027-01-05"),
            max_end: d("2029-01-05"),
            department_end: Some(d("2026-01-01")),
            planned_end: Some(d("2027-01-05")),
            held: false,
        };
        assert_eq!(block.encode(), "order58|g|1|特种设备|2026-01-05|365|1096|-4|365|0");
        let before = "order58|general|1|特种设备|2026-01-05|2027-01-05|2029-01-05|2026-01-01|2027-01-05|0";
        assert_eq!(StoredBlock::decode(before), StoredBlock::decode(&block.encode()));
        let held = Block { class: Some(Class::Minor), department_end: None, planned_end: None, held: true, ..block };
        let stored = StoredBlock::decode(&held.encode()).expect("decodes");
        assert_eq!(
            (stored.class, stored.department_end, stored.planned_end, stored.held),
            (Some(Class::Minor), None, None, true)
        );
        assert_eq!(StoredBlock::decode("order58|g|1||2026-01-05|x|1096||365|0"), None);
    }

    #[test]
    fn months_are_calendar_months_clipped_to_the_month_end() {
        assert_eq!(add_months(d("2024-11-30"), 3), d("2025-02-28"));
        assert_eq!(add_months(d("2024-02-29"), 12), d("2025-02-28"));
        assert_eq!(add_months(d("2024-02-29"), 48), d("2028-02-29"));
        assert_eq!(add_months(d("2023-11-30"), 3), d("2024-02-29"));
        assert_eq!(add_months(d("2024-01-31"), 1), d("2024-02-29"));
        assert_eq!(add_months(d("2024-08-31"), 1), d("2024-09-30"));
        assert_eq!(add_months(d("2024-10-15"), 3), d("2025-01-15"));
        assert_eq!(add_months(d("2024-03-01"), 0), d("2024-03-01"));
        assert_eq!(add_months(d("2024-12-31"), 36), d("2027-12-31"));
    }

    #[test]
    fn the_2019_regime_ends_on_2023_04_30() {
        let (b, _) = run(Case { decided: "2023-04-30", ..BASE });
        assert_eq!((b.regime.as_str(), b.class, b.class_defaulted), ("2019", Some(Class::General), true));
        assert_eq!((b.min_end, b.max_end), (d("2023-07-30"), d("2024-04-30")));
        assert_eq!(b.planned_end, Some(d("2024-04-30")), "no department date: the maximum");
        let (b, _) = run(Case { decided: "2023-04-30", kinds: "05", ..BASE });
        assert_eq!((b.class, b.min_end, b.max_end), (Some(Class::Serious), d("2023-10-30"), d("2026-04-30")));
    }

    #[test]
    fn order_58_starts_on_2023_05_01_without_classes() {
        let (b, _) = run(Case { decided: "2023-05-01", kinds: "05", ..BASE });
        assert_eq!((b.regime.as_str(), b.class, b.class_defaulted), ("order58", None, false));
        assert_eq!((b.min_end, b.max_end), (d("2023-08-01"), d("2026-05-01")));
    }

    #[test]
    fn order_58_ends_on_2026_03_31_and_2026_starts_on_04_01() {
        let (b, _) = run(Case { decided: "2026-03-31", ..BASE });
        assert_eq!((b.regime.as_str(), b.min_end, b.max_end), ("order58", d("2026-06-30"), d("2029-03-31")));
        let (b, _) = run(Case { decided: "2026-04-01", ..BASE });
        assert_eq!((b.regime.as_str(), b.class), ("2026", Some(Class::General)));
        assert_eq!((b.min_end, b.max_end), (d("2026-07-01"), d("2027-04-01")));
    }

    #[test]
    fn order_58_sectors_need_a_year() {
        for (conduct, basis, sector) in [
            ("特种设备未经检验使用", "依据", "特种设备"),
            ("未落实责任", "《中华人民共和国安全生产法》第九十七条", "安全生产"),
            ("占用疏散通道", "《中华人民共和国消防法》第六十条", "消防"),
        ] {
            let (b, _) = run(Case { decided: "2024-11-30", conduct, basis, end: Some("2025-03-01"), ..BASE });
            assert_eq!(b.sector.as_deref(), Some(sector));
            assert_eq!((b.min_end, b.max_end), (d("2025-11-30"), d("2027-11-30")), "{sector}");
            assert_eq!(b.planned_end, Some(d("2025-11-30")));
        }
        let (b, _) = run(Case { decided: "2024-11-30", ..BASE });
        assert_eq!((b.sector, b.min_end), (None, d("2025-02-28")));
    }

    #[test]
    fn sectors_are_shown_but_do_not_lengthen_2026_periods() {
        let (b, _) =
            run(Case { decided: "2026-05-10", basis: "《中华人民共和国消防法》第六十条", ..BASE });
        assert_eq!((b.sector.as_deref(), b.min_end), (Some("消防"), d("2026-08-10")));
    }

    #[test]
    fn the_2026_classes() {
        let (b, _) = run(Case { decided: "2026-05-10", class: Some("严重"), ..BASE });
        assert_eq!((b.class, b.class_defaulted), (Some(Class::Serious), false));
        assert_eq!((b.min_end, b.max_end), (d("2027-05-10"), d("2029-05-10")));
        let (b, _) = run(Case { decided: "2026-05-10", class: Some("一般失信"), ..BASE });
        assert_eq!((b.class, b.min_end, b.max_end), (Some(Class::General), d("2026-08-10"), d("2027-05-10")));
        let (b, p) = run(Case { decided: "2026-05-10", class: Some("轻微"), end: Some("2026-06-10"), ..BASE });
        assert_eq!((b.class, b.held, b.planned_end), (Some(Class::Minor), true, None));
        assert_eq!((b.min_end, b.max_end), (d("2026-05-10"), d("2026-08-10")), "a held minor penalty's minimum is D");
        assert!(p.is_empty());
    }

    #[test]
    fn a_necessary_minor_penalty_is_published_at_most_three_months() {
        let (b, p) = run(Case {
            decided: "2026-05-31",
            class: Some("轻微"),
            necessary: Some("是"),
            end: Some("2027-05-31"),
            ..BASE
        });
        assert!(!b.held);
        assert_eq!((b.max_end, b.planned_end), (d("2026-08-31"), Some(d("2026-08-31"))));
        assert_eq!(codes(&p), ["publicity_too_long"]);
    }

    #[test]
    fn a_mapping_that_publishes_minor_penalties() {
        let (p, catalogue) = shipped();
        let item = catalogue.item("CF").expect("CF");
        let rule = p.for_item("CF").expect("CF rule").clone();
        let mut values: Vec<Option<String>> = vec![None; item.fields.len()];
        values[item.field_index("CF_JDRQ").expect("JDRQ")] = Some("2026-05-10".into());
        values[item.field_index("CF_SXYZCD").expect("class")] = Some("轻微失信".into());
        let held = p.compute(&rule, &values, false, &mut Vec::new()).expect("block");
        assert!(held.held);
        let published = p.compute(&rule, &values, true, &mut Vec::new()).expect("block");
        assert!(!published.held);
        assert_eq!(published.planned_end, Some(d("2026-08-10")), "no department date: the 3-month maximum");
    }

    #[test]
    fn the_rules_class_a_penalty_the_department_did_not() {
        // 吊销 in a decision with a fine: the longest period applies.
        let (b, _) = run(Case { decided: "2026-05-10", kinds: "02;05", ..BASE });
        assert_eq!((b.class, b.class_defaulted), (Some(Class::Serious), true));
        assert_eq!(b.max_end, d("2029-05-10"));
        for kind in ["04", "06", "13", "14"] {
            let (b, _) = run(Case { decided: "2026-05-10", kinds: kind, ..BASE });
            assert_eq!(b.class, Some(Class::Serious), "{kind}");
        }
        let (b, _) = run(Case { decided: "2026-05-10", kinds: "01;02", ..BASE });
        assert_eq!((b.class, b.class_defaulted), (Some(Class::General), true));
    }

    #[test]
    fn several_kinds_in_2019_take_the_longest_period() {
        let (b, _) = run(Case { decided: "2022-06-15", kinds: "01;02;04", ..BASE });
        assert_eq!((b.min_end, b.max_end), (d("2022-12-15"), d("2025-06-15")));
    }

    #[test]
    fn a_minor_class_before_2026_counts_as_general() {
        let (b, _) = run(Case { decided: "2022-06-15", class: Some("轻微"), ..BASE });
        assert_eq!((b.class, b.class_defaulted, b.held), (Some(Class::General), true, false));
    }

    #[test]
    fn an_unknown_class_is_a_warning_and_the_rules_decide() {
        let (b, p) = run(Case { decided: "2026-05-10", class: Some("很严重"), ..BASE });
        assert_eq!((b.class, b.class_defaulted), (Some(Class::General), true));
        assert_eq!(codes(&p), ["unknown_code"]);
        assert!(p[0].reason.contains("很严重"), "{}", p[0].reason);
    }

    #[test]
    fn department_dates_are_clipped_into_the_period_with_warnings() {
        let (b, p) = run(Case { decided: "2024-11-30", end: Some("2024-12-31"), ..BASE });
        assert_eq!(b.planned_end, Some(d("2025-02-28")));
        assert_eq!(codes(&p), ["publicity_too_short"]);
        assert!(p[0].reason.contains("2025-02-28"), "{}", p[0].reason);
        let (b, p) = run(Case { decided: "2024-11-30", end: Some("2029-11-30"), ..BASE });
        assert_eq!(b.planned_end, Some(d("2027-11-30")));
        assert_eq!(codes(&p), ["publicity_too_long"]);
        // The bounds themselves are allowed.
        for end in ["2025-02-28", "2027-11-30", "2026-01-01"] {
            let (b, p) = run(Case { decided: "2024-11-30", end: Some(end), ..BASE });
            assert_eq!((b.planned_end, p.len()), (Some(d(end)), 0));
        }
    }

    #[test]
    fn a_leap_day_decision() {
        let (b, _) = run(Case { decided: "2024-02-29", ..BASE });
        assert_eq!((b.min_end, b.max_end), (d("2024-05-29"), d("2027-02-28")));
        let (b, _) = run(Case { decided: "2024-02-29", conduct: "特种设备", ..BASE });
        assert_eq!(b.min_end, d("2025-02-28"));
    }

    #[test]
    fn a_regime_gap_is_a_configuration_mistake() {
        let (_, catalogue) = shipped();
        let text = include_str!("../config/publicity.toml").replace("from = \"2023-05-01\"", "from = \"2023-05-02\"");
        let spec: PublicitySpec = toml::from_str(&text).expect("toml");
        let mut issues = Issues::default();
        Publicity::from_spec(Path::new("publicity.toml"), spec, &catalogue, &mut issues);
        assert_eq!(issues.len(), 1);
    }

    fn block(department_end: &str, planned: Option<&str>, held: bool) -> StoredBlock {
        StoredBlock {
            regime: "2026".into(),
            class: Some(Class::General),
            class_defaulted: false,
            sector: None,
            decided: d("2026-05-10"),
            min_end: d("2026-08-10"),
            max_end: d("2027-05-10"),
            department_end: Some(d(department_end)),
            planned_end: planned.map(d),
            held,
        }
    }

    #[test]
    fn statuses_over_a_record_life() {
        let b = block("2026-12-31", Some("2026-12-31"), false);
        let none = Progress::default();
        let live = Progress { published: 1, ..Progress::default() };
        assert_eq!(status(&b, &live, None, d("2026-06-01")), Status::Published);
        assert_eq!(status(&b, &live, None, d("2026-12-01")), Status::Ending);
        assert_eq!(status(&b, &live, None, d("2026-12-31")), Status::Ending, "published to the end of the day");
        let due = Some(d("2027-01-06"));
        assert_eq!(status(&b, &live, due, d("2027-01-01")), Status::WithdrawalDue);
        assert_eq!(status(&b, &live, due, d("2027-01-07")), Status::WithdrawalLate);
        let withdrawn = Progress { withdrawals: 1, withdrawals_accepted: 1, ..Progress::default() };
        assert_eq!(status(&b, &withdrawn, due, d("2027-01-07")), Status::Ended);
        assert_eq!(status(&b, &none, due, d("2027-01-07")), Status::Ended, "never published");
        let short = block("2026-06-01", Some("2026-08-10"), false);
        assert_eq!(status(&short, &live, None, d("2026-06-01")), Status::TooShort);
        let long = block("2030-01-01", Some("2027-05-10"), false);
        assert_eq!(status(&long, &live, None, d("2026-06-01")), Status::TooLong);
        let held = block("2026-06-01", None, true);
        assert_eq!(status(&held, &none, None, d("2030-01-01")), Status::Held);
        let revoked =
            Progress { published: 1, early_end: Some(d("2026-06-01")), early_due: Some(d("2026-06-04")), ..live };
        assert_eq!(status(&b, &revoked, revoked.early_due, d("2026-06-02")), Status::WithdrawalDue);
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn a_revocation_row_is_taken_out_of_the_content() {
        let (p, catalogue) = shipped();
        let item = catalogue.item("CF").expect("CF");
        let rule = p.for_item("CF").expect("CF rule").clone();
        let mut values: Vec<Option<String>> = vec![None; item.fields.len()];
        let at = |k: &str| item.field_index(k).expect(k);
        values[at("CF_JDRQ")] = Some("2026-05-10".into());
        values[at("CF_CZLX")] = Some("撤销".into());
        values[at("CF_CXRQ")] = Some("2026-06-01".into());
        values[at("CF_CXYY")] = Some("复议撤销".into());
        let action = p.row_action(&rule, &mut values, false, &mut Vec::new());
        assert_eq!(
            action,
            RowAction::Revoke {
                operation: Operation::Withdraw,
                on: Some(d("2026-06-01")),
                reason: Some("复议撤销".into())
            }
        );
        assert!(values[at("CF_CZLX")].is_none() && values[at("CF_CXRQ")].is_none());
        values[at("CF_CZLX")] = Some("变更".into());
        let RowAction::Store(Some(columns)) = p.row_action(&rule, &mut values, false, &mut Vec::new()) else {
            panic!("a change is stored")
        };
        assert!(values[at("CF_CZLX")].is_none(), "the operation is not content");
        assert_eq!(columns.planned_end.as_deref(), Some("2027-05-10"));
    }
}
