//! The steps of an objection against the store: register (find the record, route it to its
//! department, set the answer deadline), answer, reply, close; and each case as people see it.
//! The CLI and the web call these, so both refuse the same things with the same words.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{DEADLINE_RULE, ObjectionRules, Outcome, Status, Step, StepRefused, check_step};
use crate::calendar::Calendar;
use crate::config::Settings;
use crate::store::{Answer, NewObjection, ObjectedRecord, ObjectionFilter, ObjectionRow, Store, StoreError};

/// Why a step was refused, in Chinese for the person who tried it.
#[derive(Debug, thiserror::Error)]
pub enum ObjectionError {
    #[error("记录 {0} 不存在")]
    UnknownRecord(String),
    #[error("没有决定书文号为“{0}”的记录")]
    UnknownDocument(String),
    #[error("没有统一社会信用代码或名称为“{0}”的主体的记录")]
    UnknownSubject(String),
    #[error("未知异议事由“{given}”（可选：{choices}）")]
    UnknownGround { given: String, choices: String },
    #[error("异议 {0} 不存在")]
    UnknownObjection(i64),
    #[error("未知处理结果“{0}”（可选：更正 correction、撤销公示 withdrawal、信用修复 repair）")]
    UnknownOutcome(String),
    #[error("未知答复结论“{0}”（可选：upheld 异议成立、rejected 异议不成立）")]
    UnknownDecision(String),
    #[error("未知状态“{0}”（可选：open 待答复、upheld 成立、rejected 不成立、closed 办结）")]
    UnknownStatus(String),
    #[error("{0}不能为空")]
    Empty(&'static str),
    #[error("{0}过长（不超过 {1} 字）")]
    TooLong(&'static str, usize),
    #[error("{0}含有不可见的控制字符，请删除后重试")]
    ControlCharacter(&'static str),
    #[error("config/deadlines.toml 没有 `objection` 时限规则")]
    NoDeadlineRule,
    #[error(transparent)]
    Refused(#[from] StepRefused),
    #[error("异议已被他人同时办理，请刷新后查看")]
    Raced,
    /// The detail stays in the error's source (logged), not in what the person is shown.
    #[error("数据库错误，请稍后重试；仍不成功请联系系统管理员")]
    Store(#[from] StoreError),
}

impl ObjectionError {
    /// Not the caller's fault: the store or the configuration failed.
    pub fn is_internal(&self) -> bool {
        matches!(self, ObjectionError::Store(_) | ObjectionError::NoDeadlineRule)
    }
}

/// Longest free text kept (an objection's statement, an answer, a reply).
const MAX_TEXT: usize = 2_000;
const MAX_NAME: usize = 100;

/// How the applicant points at the record.
#[derive(Debug, Clone)]
pub enum Target {
    Record(i64),
    /// A decision number (文书号): every record of any item with it.
    Document(String),
    /// A subject's credit code or name as registered: every record of any item about it.
    Subject(String),
}

/// A new objection as the office registers it.
#[derive(Debug, Clone)]
pub struct Registration {
    pub target: Target,
    pub ground: String,
    pub applicant: String,
    pub contact: Option<String>,
    pub text: String,
    /// Suspend publication while open; `None`: as `config/objections.toml` says.
    pub suspend: Option<bool>,
    pub by: String,
}

fn text_field(name: &'static str, text: &str, max: usize, required: bool) -> Result<String, ObjectionError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(ObjectionError::Empty(name));
    }
    if text.chars().count() > max {
        return Err(ObjectionError::TooLong(name, max));
    }
    if has_control(text) {
        return Err(ObjectionError::ControlCharacter(name));
    }
    Ok(text.to_string())
}

/// Control characters other than line breaks and tabs: never typed by a person, and NUL is
/// refused by PostgreSQL.
fn has_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

async fn find_records(
    settings: &Settings,
    store: &Store,
    target: &Target,
) -> Result<Vec<ObjectedRecord>, ObjectionError> {
    match target {
        Target::Record(id) => store
            .objected_record(*id)
            .await?
            .map(|r| vec![r])
            .ok_or_else(|| ObjectionError::UnknownRecord(id.to_string())),
        Target::Document(number) => {
            let number = number.trim();
            if has_control(number) {
                return Err(ObjectionError::ControlCharacter("决定书文号"));
            }
            let mut found = Vec::new();
            for item in settings.catalogue.items() {
                let Some(&field) = item.key.first().and_then(|part| part.first()) else { continue };
                found.extend(store.records_by_document(&item.code, &item.fields[field].key, number).await?);
            }
            if found.is_empty() {
                return Err(ObjectionError::UnknownDocument(number.to_string()));
            }
            Ok(found)
        }
        Target::Subject(subject) => {
            let subject = subject.trim();
            if has_control(subject) {
                return Err(ObjectionError::ControlCharacter("主体"));
            }
            let mut found = Vec::new();
            for item in settings.catalogue.items() {
                for field in [item.subject_code, item.subject_name].into_iter().flatten() {
                    found.extend(store.records_by_document(&item.code, &item.fields[field].key, subject).await?);
                }
            }
            if found.is_empty() {
                return Err(ObjectionError::UnknownSubject(subject.to_string()));
            }
            Ok(found)
        }
    }
}

/// Registers one case per record found, each routed to the record's department today
/// (`clock`'s day in Asia/Shanghai), due on the `objection` rule's last working day.
pub async fn register(
    settings: &Settings,
    calendar: &Calendar,
    store: &Store,
    now: DateTime<Utc>,
    r: &Registration,
) -> Result<Vec<ObjectionRow>, ObjectionError> {
    let rules = &settings.objections;
    let ground = rules.ground(&r.ground).ok_or_else(|| ObjectionError::UnknownGround {
        given: r.ground.trim().to_string(),
        choices: rules.listing(),
    })?;
    let applicant = text_field("申请人", &r.applicant, MAX_NAME, true)?;
    let contact = r.contact.as_deref().map(|c| text_field("联系方式", c, MAX_NAME, false)).transpose()?;
    let contact = contact.filter(|c| !c.is_empty());
    let text = text_field("异议内容", &r.text, MAX_TEXT, false)?;
    let rule = settings.deadlines.event(DEADLINE_RULE).ok_or(ObjectionError::NoDeadlineRule)?;
    let records = find_records(settings, store, &r.target).await?;
    let today = crate::calendar::shanghai_date(now);
    let due = super::due(calendar, today, rule.working_days, settings.deadlines.due_soon_working_days);
    let mut cases = Vec::with_capacity(records.len());
    for record in records {
        let new = NewObjection {
            record_id: record.id,
            ground: &ground.code,
            applicant: &applicant,
            contact: contact.as_deref(),
            text: &text,
            received_on: today,
            due_on: due.deadline,
            due_soon_from: due.due_soon_from,
            due_provisional: due.provisional,
            suspend: r.suspend.unwrap_or(rules.suspend_publication),
            registered_by: &r.by,
        };
        let id = store.add_objection(&new, now).await?;
        cases.push(store.objection(id).await?.ok_or(ObjectionError::UnknownObjection(id))?);
    }
    Ok(cases)
}

/// A case, if `scope` (a department user's department) may see it: another department's case
/// is answered like a missing one.
pub async fn find(store: &Store, scope: Option<&str>, id: i64) -> Result<ObjectionRow, ObjectionError> {
    match store.objection(id).await? {
        Some(o) if scope.is_none_or(|d| d == o.department) => Ok(o),
        _ => Err(ObjectionError::UnknownObjection(id)),
    }
}

fn status_of(o: &ObjectionRow) -> Status {
    Status::parse(&o.status).unwrap_or(Status::Open)
}

/// What the department decided.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    pub upheld: bool,
    /// For an upheld case: 更正 (correction, the default), 撤销公示 (withdrawal) or 信用修复 (repair).
    pub outcome: Option<&'a str>,
    /// What was done, or why the record stands.
    pub text: &'a str,
}

/// The department's answer: upheld (with what it leads to) or rejected (with the reason).
pub async fn answer(
    store: &Store,
    scope: Option<&str>,
    now: DateTime<Utc>,
    id: i64,
    decision: &Decision<'_>,
    by: &str,
) -> Result<ObjectionRow, ObjectionError> {
    let Decision { upheld, outcome, text } = *decision;
    let case = find(store, scope, id).await?;
    check_step(Step::Answer, status_of(&case), case.replied_on.is_some())?;
    let outcome = match outcome.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) if upheld => Some(Outcome::parse(o).ok_or_else(|| ObjectionError::UnknownOutcome(o.to_string()))?),
        Some(_) | None if upheld => Some(Outcome::Correction),
        _ => None,
    };
    let text = text_field(if upheld { "处理说明" } else { "不予支持的理由" }, text, MAX_TEXT, true)?;
    let a = Answer {
        upheld,
        outcome: outcome.map(Outcome::as_str),
        withdraw: outcome.is_some_and(Outcome::withdraws),
        text: &text,
        on: crate::calendar::shanghai_date(now),
        by,
    };
    if !store.answer_objection(id, &a, now).await? {
        return Err(ObjectionError::Raced);
    }
    find(store, scope, id).await
}

/// The office's reply to the applicant.
pub async fn reply(store: &Store, now: DateTime<Utc>, id: i64, text: &str) -> Result<ObjectionRow, ObjectionError> {
    let case = find(store, None, id).await?;
    check_step(Step::Reply, status_of(&case), case.replied_on.is_some())?;
    let text = text_field("答复内容", text, MAX_TEXT, true)?;
    if !store.reply_objection(id, &text, crate::calendar::shanghai_date(now), now).await? {
        return Err(ObjectionError::Raced);
    }
    find(store, None, id).await
}

/// Closes a case the applicant has had the reply to.
pub async fn close(store: &Store, now: DateTime<Utc>, id: i64) -> Result<ObjectionRow, ObjectionError> {
    let case = find(store, None, id).await?;
    check_step(Step::Close, status_of(&case), case.replied_on.is_some())?;
    if !store.close_objection(id, crate::calendar::shanghai_date(now), now).await? {
        return Err(ObjectionError::Raced);
    }
    find(store, None, id).await
}

/// Cases `scope` may see, newest first.
pub async fn list(
    store: &Store,
    scope: Option<&str>,
    status: Option<Status>,
    record_id: Option<i64>,
) -> Result<Vec<ObjectionRow>, ObjectionError> {
    let filter = ObjectionFilter { department: scope, status: status.map(Status::as_str), record_id };
    Ok(store.objections(&filter).await?)
}

/// A case as `objections list --json` and `/api/v1/objections` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub id: i64,
    pub record_id: i64,
    pub department: String,
    /// The ground's name (信息错误, …).
    pub ground: String,
    pub received: String,
    /// The last day of the answer deadline.
    pub due: String,
    pub status: &'static str,
    pub answered_on: Option<String>,
    /// Answered by the deadline; `None` while unanswered.
    pub on_time: Option<bool>,
}

/// A case with everything `objections show` and the case page show; the applicant is masked
/// unless `unmasked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    pub department_name: String,
    pub item: String,
    pub ground_code: String,
    pub applicant: String,
    pub contact: Option<String>,
    pub text: String,
    pub routed: String,
    pub due_provisional: bool,
    /// 即将到期 / 已逾期 / 按时答复 / 逾期答复.
    pub deadline_status: &'static str,
    pub suspended: bool,
    pub record_version: i64,
    pub outcome: Option<&'static str>,
    pub answer_text: Option<String>,
    pub answered_by: Option<String>,
    pub handling_working_days: Option<u32>,
    pub reply_text: Option<String>,
    pub replied_on: Option<String>,
    pub closed_on: Option<String>,
    pub registered_by: String,
    /// The gateway's checks that prevent this ground, for an upheld case (its cause fed back).
    pub caught_by: Option<String>,
    /// The records and warnings behind an upheld case the gateway could have caught
    /// ([`causes`]; empty until filled).
    pub could_have_caught: Vec<String>,
}

pub fn summary(rules: &ObjectionRules, o: &ObjectionRow) -> Summary {
    Summary {
        id: o.id,
        record_id: o.record_id,
        department: o.department.clone(),
        ground: rules.by_code(&o.ground).map_or_else(|| o.ground.clone(), |g| g.name.clone()),
        received: o.received_on.clone(),
        due: o.due_on.clone(),
        status: status_of(o).as_str(),
        answered_on: o.answered_on.clone(),
        on_time: o.answered_on.as_ref().map(|a| a <= &o.due_on),
    }
}

pub fn detail(settings: &Settings, calendar: &Calendar, today: NaiveDate, o: &ObjectionRow, unmasked: bool) -> Detail {
    let rules = &settings.objections;
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let deadline_status = match (o.answered_on.as_deref(), day(&o.due_on), day(&o.due_soon_from)) {
        (Some(a), _, _) if a <= o.due_on.as_str() => "按时答复",
        (Some(_), _, _) => "逾期答复",
        (None, Some(due), _) if today > due => "已逾期",
        (None, _, Some(soon)) if today >= soon => "即将到期",
        _ => "待答复",
    };
    let handling = match (day(&o.routed_on), o.answered_on.as_deref().and_then(day)) {
        (Some(r), Some(a)) => Some(super::handling_working_days(calendar, r, a)),
        _ => None,
    };
    let upheld = status_of(o) == Status::Upheld || (o.outcome.is_some() && status_of(o) == Status::Closed);
    Detail {
        summary: summary(rules, o),
        department_name: settings
            .departments
            .get(&o.department)
            .map_or_else(|| o.department.clone(), |d| d.name.clone()),
        item: o.item.clone(),
        ground_code: o.ground.clone(),
        applicant: if unmasked { o.applicant.clone() } else { super::mask_name(&o.applicant) },
        contact: o.contact.as_deref().map(|c| if unmasked { c.to_string() } else { super::mask_contact(c) }),
        text: o.text.clone(),
        routed: o.routed_on.clone(),
        due_provisional: o.due_provisional,
        deadline_status,
        suspended: o.suspended,
        record_version: o.record_version,
        outcome: o.outcome.as_deref().and_then(Outcome::parse).map(Outcome::zh),
        answer_text: o.answer_text.clone(),
        answered_by: o.answered_by.clone(),
        handling_working_days: handling,
        reply_text: o.reply_text.clone(),
        replied_on: o.replied_on.clone(),
        closed_on: o.closed_on.clone(),
        registered_by: o.registered_by.clone(),
        caught_by: upheld
            .then(|| rules.by_code(&o.ground).map(|g| g.caught_by.clone()).filter(|c| !c.is_empty()))
            .flatten(),
        could_have_caught: Vec::new(),
    }
}

/// [`detail`] with its [`causes`].
pub async fn detail_with_causes(
    settings: &Settings,
    calendar: &Calendar,
    store: &Store,
    today: NaiveDate,
    o: &ObjectionRow,
    unmasked: bool,
) -> Result<Detail, ObjectionError> {
    let mut d = detail(settings, calendar, today, o, unmasked);
    d.could_have_caught = causes(store, o).await?;
    Ok(d)
}

/// One department's objections received in one month, as `report`, the dashboard and
/// `/metrics` show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub department: String,
    /// `YYYY-MM` of the day received.
    pub month: String,
    pub received: u64,
    pub answered_on_time: u64,
    pub answered_late: u64,
    /// Not answered yet, deadline not passed.
    pub open: u64,
    /// Not answered and past the deadline.
    pub open_overdue: u64,
    pub upheld: u64,
    pub rejected: u64,
    /// Mean working days from routing to answer, over the answered cases.
    pub average_working_days: Option<f64>,
    /// Cases per ground name.
    pub by_ground: std::collections::BTreeMap<String, u64>,
}

/// The figures per department and month of receipt, in that order.
pub fn figures(rules: &ObjectionRules, calendar: &Calendar, today: NaiveDate, cases: &[ObjectionRow]) -> Vec<Figures> {
    let mut out: std::collections::BTreeMap<(String, String), (Figures, u64)> = Default::default();
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    for o in cases {
        let month = o.received_on.get(..7).unwrap_or_default().to_string();
        let (f, days) = out
            .entry((o.department.clone(), month.clone()))
            .or_insert_with(|| (Figures { department: o.department.clone(), month, ..Figures::default() }, 0));
        f.received += 1;
        let ground = rules.by_code(&o.ground).map_or_else(|| o.ground.clone(), |g| g.name.clone());
        *f.by_ground.entry(ground).or_default() += 1;
        match o.answered_on.as_deref() {
            Some(answered) => {
                if answered <= o.due_on.as_str() {
                    f.answered_on_time += 1;
                } else {
                    f.answered_late += 1;
                }
                if o.outcome.is_some() {
                    f.upheld += 1;
                } else {
                    f.rejected += 1;
                }
                if let (Some(r), Some(a)) = (day(&o.routed_on), day(answered)) {
                    *days += u64::from(super::handling_working_days(calendar, r, a));
                }
            }
            None if day(&o.due_on).is_some_and(|due| today > due) => f.open_overdue += 1,
            None => f.open += 1,
        }
    }
    out.into_values()
        .map(|(mut f, days)| {
            let answered = f.answered_on_time + f.answered_late;
            f.average_working_days = (answered > 0).then(|| days as f64 / answered as f64);
            f
        })
        .collect()
}

/// What the gateway could have caught of an upheld objection of ground 重复公示, 超期公示 or
/// 信息错误: the records and warnings behind it, in words for the office (its causes fed back).
pub async fn causes(store: &Store, o: &ObjectionRow) -> Result<Vec<String>, ObjectionError> {
    let upheld = o.outcome.is_some();
    if !upheld {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    match o.ground.as_str() {
        "duplicate" => {
            let others = store.same_decision_records(o.record_id).await?;
            if !others.is_empty() {
                let ids: Vec<String> = others.iter().map(i64::to_string).collect();
                out.push(format!("同一决定另有记录 {}（duplicate_decision 已在导入时提示）", ids.join("、")));
            }
        }
        "overdue_publicity" => {
            if let Some(end) = store.record_publicity_end(o.record_id).await?
                && end.as_str() < o.received_on.as_str()
            {
                out.push(format!(
                    "记录 {} 的公示期应于 {end} 届满（publicity audit 列出未按期撤下的记录）",
                    o.record_id
                ));
            }
        }
        "wrong" => {
            for (code, reason) in store.record_row_warnings(o.record_id).await? {
                out.push(format!("记录 {} 导入时已有警告 {code}：{reason}", o.record_id));
            }
        }
        _ => {}
    }
    Ok(out)
}
