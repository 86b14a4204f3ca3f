//! 异议 (objections): the office registers, replies and closes; a department answers its own
//! cases. Pages and the JSON API run the same steps (`objection::handle`); every step is
//! audited. A department user never learns of another department's case (404).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::api::ApiError;
use super::auth::{Caller, Role};
use super::pages::{header_row, page};
use super::params::{FormBody, JsonBody, Params, PathParam};
use crate::glossary;
use crate::objection::Status;
use crate::objection::handle::{self, Decision, Detail, ObjectionError, Registration, Target};
use crate::store::ObjectionRow;

/// Office staff: they register cases and reply to applicants.
const OFFICE: &[Role] = &[Role::Admin, Role::Ops];

/// The HTTP status and API error code of a refused step.
fn status_of(e: &ObjectionError) -> (StatusCode, &'static str) {
    match e {
        ObjectionError::UnknownObjection(_)
        | ObjectionError::UnknownRecord(_)
        | ObjectionError::UnknownDocument(_)
        | ObjectionError::UnknownSubject(_) => (StatusCode::NOT_FOUND, "not_found"),
        ObjectionError::Refused(_) | ObjectionError::Raced => (StatusCode::CONFLICT, "conflict"),
        ObjectionError::Store(_) | ObjectionError::NoDeadlineRule => {
            tracing::error!(error = ?e, "objection step");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
        _ => (StatusCode::BAD_REQUEST, "bad_request"),
    }
}

/// A refused step as the API answers it.
fn refused(e: ObjectionError) -> Response {
    let (status, code) = status_of(&e);
    (status, Json(serde_json::json!({"error": code, "message": e.to_string()}))).into_response()
}

/// A refused step as a page answers it: the reason, and the way back.
fn refused_page(caller: &Caller, e: ObjectionError, back: &str) -> Response {
    let (status, _) = status_of(&e);
    let body = html! {
        p class="err" { (e) }
        p { a href=(back) { "返回" } }
    };
    (status, page("异议", Some(caller), body)).into_response()
}

fn detail(state: &AppState, caller: &Caller, o: &ObjectionRow) -> Detail {
    let settings = state.settings();
    let calendar = state.calendar.borrow().clone();
    handle::detail(&settings, &calendar, state.today(), o, caller.is_admin())
}

async fn audit(state: &AppState, caller: &Caller, action: &str, o: &ObjectionRow) {
    let target = format!("objection:{}:record:{}", o.id, o.record_id);
    let _ = state.store.audit(&caller.name, action, &target, state.now()).await;
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub record: Option<i64>,
}

fn status_filter(q: &ListQuery) -> Result<Option<Status>, ObjectionError> {
    match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Status::parse(s).map(Some).ok_or_else(|| ObjectionError::UnknownStatus(s.to_string())),
        None => Ok(None),
    }
}

/// `GET /api/v1/objections`: the cases the caller may see, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/objections",
    operation_id = "objections",
    summary = "异议：调用者可见的异议案件，新的在前",
    params(
        ("status" = Option<String>, Query, description = "案件状态"),
        ("record" = Option<i64>, Query, description = "记录编号"),
    ),
    responses(
        (status = 200, description = "异议案件", body = Vec<crate::objection::handle::Summary>),
        super::api::QueryRefusals,
    )
)]
pub async fn list_api(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let status = match status_filter(&q) {
        Ok(s) => s,
        Err(e) => return Ok(refused(e)),
    };
    let _ = state.store.audit(&caller.name, "view", "api:objections", state.now()).await;
    let cases = match handle::list(&state.store, caller.scope(), status, q.record).await {
        Ok(c) => c,
        Err(e) => return Ok(refused(e)),
    };
    let settings = state.settings();
    let list: Vec<_> = cases.iter().map(|o| handle::summary(&settings.objections, o)).collect();
    Ok(Json(list).into_response())
}

/// What the office registers (API JSON and the page's form).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewCase {
    pub record_id: Option<i64>,
    pub wsh: Option<String>,
    /// A subject's credit code or registered name.
    pub subject: Option<String>,
    pub ground: String,
    pub applicant: String,
    pub contact: Option<String>,
    #[serde(default)]
    pub text: String,
    /// `true`/`false`, or the form's checkbox value `on`; absent: as configured.
    #[schema(value_type = Option<bool>)]
    pub suspend: Option<serde_json::Value>,
}

impl NewCase {
    fn registration(self, caller: &Caller) -> Result<Registration, ObjectionError> {
        let given = |t: &Option<String>| t.as_deref().map(str::trim).filter(|w| !w.is_empty()).map(str::to_string);
        let target = match (self.record_id, given(&self.wsh), given(&self.subject)) {
            (Some(id), _, _) => Target::Record(id),
            (None, Some(w), _) => Target::Document(w),
            (None, None, Some(subject)) => Target::Subject(subject),
            (None, None, None) => return Err(ObjectionError::Empty("记录编号、决定书文号或主体")),
        };
        let suspend = match self.suspend {
            Some(serde_json::Value::Bool(b)) => Some(b),
            Some(serde_json::Value::String(s)) => Some(matches!(s.as_str(), "on" | "true" | "1")),
            _ => None,
        };
        Ok(Registration {
            target,
            ground: self.ground,
            applicant: self.applicant,
            contact: self.contact,
            text: self.text,
            suspend,
            by: caller.name.clone(),
        })
    }
}

async fn register(state: &AppState, caller: &Caller, case: NewCase) -> Result<Vec<ObjectionRow>, ObjectionError> {
    let r = case.registration(caller)?;
    let settings = state.settings();
    let calendar = state.calendar.borrow().clone();
    let cases = handle::register(&settings, &calendar, &state.store, state.now(), &r).await?;
    for o in &cases {
        audit(state, caller, "objection:add", o).await;
    }
    Ok(cases)
}

/// `POST /api/v1/objections` (office staff): one case per record found; answers the first
/// case's detail, or with `wsh` matching several, every case's.
#[utoipa::path(
    post,
    path = "/api/v1/objections",
    operation_id = "objection_create",
    request_body = NewCase,
    summary = "登记异议（信用办）：按记录编号、文书号或主体找到记录，每条记录一个案件",
    responses(
        (status = 201, description = "登记的案件；文书号找到几条记录时为每个案件的数组", body = super::api::CreatedCases),
        super::api::StepRefusals,
    )
)]
pub async fn create_api(State(state): State<AppState>, caller: Caller, JsonBody(case): JsonBody<NewCase>) -> Response {
    if let Err(denied) = caller.require(OFFICE) {
        return denied.into_response();
    }
    match register(&state, &caller, case).await {
        Ok(cases) if cases.len() == 1 => {
            (StatusCode::CREATED, Json(detail(&state, &caller, &cases[0]))).into_response()
        }
        Ok(cases) => {
            let all: Vec<Detail> = cases.iter().map(|o| detail(&state, &caller, o)).collect();
            (StatusCode::CREATED, Json(all)).into_response()
        }
        Err(e) => refused(e),
    }
}

/// `GET /api/v1/objections/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/objections/{id}",
    operation_id = "objection",
    summary = "异议案件：经过、答复与处理结果",
    params(
        ("id" = i64, Path, description = "异议案件编号"),
    ),
    responses(
        (status = 200, description = "案件", body = Detail),
        super::api::LookupRefusals,
    )
)]
pub async fn show_api(State(state): State<AppState>, caller: Caller, PathParam(id): PathParam<i64>) -> Response {
    let _ = state.store.audit(&caller.name, "view", &format!("api:objection:{id}"), state.now()).await;
    shown(&state, &caller, handle::find(&state.store, caller.scope(), id).await)
}

/// The department's answer (API JSON and the page's form).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AnswerForm {
    /// `true`/`false`, or the form's `upheld` / `rejected`.
    #[schema(value_type = bool)]
    pub upheld: serde_json::Value,
    pub outcome: Option<String>,
    pub text: String,
}

async fn answer(state: &AppState, caller: &Caller, id: i64, form: &AnswerForm) -> Result<ObjectionRow, ObjectionError> {
    let upheld = match &form.upheld {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) if s == "upheld" || s == "true" => true,
        serde_json::Value::String(s) if s == "rejected" || s == "false" => false,
        other => return Err(ObjectionError::UnknownDecision(other.to_string())),
    };
    let decision = Decision { upheld, outcome: form.outcome.as_deref(), text: &form.text };
    let o = handle::answer(&state.store, caller.scope(), state.now(), id, &decision, &caller.name).await?;
    audit(state, caller, if upheld { "objection:upheld" } else { "objection:rejected" }, &o).await;
    Ok(o)
}

/// A step's case as the API answers it, or its refusal.
fn shown(state: &AppState, caller: &Caller, step: Result<ObjectionRow, ObjectionError>) -> Response {
    match step {
        Ok(o) => Json(detail(state, caller, &o)).into_response(),
        Err(e) => refused(e),
    }
}

/// `POST /api/v1/objections/{id}/answer`: a department user answers its own department's cases.
#[utoipa::path(
    post,
    path = "/api/v1/objections/{id}/answer",
    operation_id = "objection_answer",
    request_body = AnswerForm,
    summary = "部门答复本部门的异议案件：upheld 为 true（异议成立）或 false",
    params(
        ("id" = i64, Path, description = "异议案件编号"),
    ),
    responses(
        (status = 200, description = "答复后的案件", body = Detail),
        super::api::StepRefusals,
    )
)]
pub async fn answer_api(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<i64>,
    JsonBody(form): JsonBody<AnswerForm>,
) -> Response {
    shown(&state, &caller, answer(&state, &caller, id, &form).await)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReplyForm {
    pub text: String,
}

async fn reply(state: &AppState, caller: &Caller, id: i64, text: &str) -> Result<ObjectionRow, ObjectionError> {
    let o = handle::reply(&state.store, state.now(), id, text).await?;
    audit(state, caller, "objection:reply", &o).await;
    Ok(o)
}

async fn close(state: &AppState, caller: &Caller, id: i64) -> Result<ObjectionRow, ObjectionError> {
    let o = handle::close(&state.store, state.now(), id).await?;
    audit(state, caller, "objection:close", &o).await;
    Ok(o)
}

/// `POST /api/v1/objections/{id}/reply` (office staff).
#[utoipa::path(
    post,
    path = "/api/v1/objections/{id}/reply",
    operation_id = "objection_reply",
    request_body = ReplyForm,
    summary = "信用办答复申请人",
    params(
        ("id" = i64, Path, description = "异议案件编号"),
    ),
    responses(
        (status = 200, description = "答复后的案件", body = Detail),
        super::api::StepRefusals,
    )
)]
pub async fn reply_api(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<i64>,
    JsonBody(form): JsonBody<ReplyForm>,
) -> Response {
    if let Err(denied) = caller.require(OFFICE) {
        return denied.into_response();
    }
    shown(&state, &caller, reply(&state, &caller, id, &form.text).await)
}

/// `POST /api/v1/objections/{id}/close` (office staff).
#[utoipa::path(
    post,
    path = "/api/v1/objections/{id}/close",
    operation_id = "objection_close",
    summary = "信用办办结案件",
    params(
        ("id" = i64, Path, description = "异议案件编号"),
    ),
    responses(
        (status = 200, description = "办结的案件", body = Detail),
        super::api::StepRefusals,
    )
)]
pub async fn close_api(State(state): State<AppState>, caller: Caller, PathParam(id): PathParam<i64>) -> Response {
    if let Err(denied) = caller.require(OFFICE) {
        return denied.into_response();
    }
    shown(&state, &caller, close(&state, &caller, id).await)
}

fn status_zh(s: &str) -> &'static str {
    Status::parse(s).map_or("", Status::zh)
}

/// `GET /objections`: the cases (a department's own queue for a clerk), the figures, and the
/// registration form for office staff.
pub async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let status = match status_filter(&q) {
        Ok(s) => s,
        Err(e) => return Ok(refused_page(&caller, e, "/objections")),
    };
    let _ = state.store.audit(&caller.name, "view", "page:objections", state.now()).await;
    let cases = state
        .store
        .objections(&crate::store::ObjectionFilter {
            department: caller.scope(),
            status: status.map(Status::as_str),
            record_id: q.record,
        })
        .await?;
    let figures = cases_for_figures(&state, &caller).await?;
    let settings = state.settings();
    let body = html! {
        p class="filters" {
            "状态：" a href="/objections" { "全部" }
            @for s in [Status::Open, Status::Upheld, Status::Rejected, Status::Closed] {
                " · " a href={ "/objections?status=" (s.as_str()) } { (s.zh()) }
            }
        }
        h2 { "异议（" (cases.len()) "）" }
        table id="objections" {
            (header_row(&["编号", "记录", "提供部门", "事由", "受理日期", "答复期限", "时限", "状态", "答复日期"]))
            @for o in &cases { (case_row(&detail(&state, &caller, o), o)) }
        }
        @if cases.is_empty() { p { "暂无异议。" } }
        (figures_table(&state, &figures))
        @if caller.require(OFFICE).is_ok() { (registration_form(&settings.objections)) }
    };
    Ok(page("异议", Some(&caller), body).into_response())
}

/// A case in the list; its time limit in red when the answer is or was late.
fn case_row(d: &Detail, o: &ObjectionRow) -> Markup {
    let late = matches!(d.deadline_status, "已逾期" | "逾期答复");
    html! {
        tr {
            td { a href={ "/objections/" (o.id) } { (o.id) } }
            td { a href={ "/records/" (o.record_id) } { (o.record_id) } }
            td { (d.department_name) }
            td { (d.summary.ground) }
            td { (d.summary.received) }
            td { (d.summary.due) }
            td class=[late.then_some("err")] { (d.deadline_status) }
            td { (status_zh(&o.status)) }
            td class="date" { (o.answered_on.as_deref().unwrap_or("")) }
        }
    }
}

async fn cases_for_figures(state: &AppState, caller: &Caller) -> Result<Vec<ObjectionRow>, ApiError> {
    let all = crate::store::ObjectionFilter { department: caller.scope(), status: None, record_id: None };
    Ok(state.store.objections(&all).await?)
}

fn figures_table(state: &AppState, cases: &[ObjectionRow]) -> Markup {
    let settings = state.settings();
    let calendar = state.calendar.borrow().clone();
    let figures = handle::figures(&settings.objections, &calendar, state.today(), cases);
    html! {
        h2 { "异议处理情况（按部门、受理月份）" }
        p { "按时：部门在答复期限（分送之日起第 3 个工作日）内答复；平均用时按工作日计。" }
        table id="objection-figures" {
            (header_row(&[
                "部门", "月份", "受理", "按时答复", "逾期答复", "待答复", "逾期未答复", "成立", "不成立",
                "平均用时（工作日）", "事由",
            ]))
            @for f in &figures {
                @let grounds: Vec<String> = f.by_ground.iter().map(|(g, n)| format!("{g} {n}")).collect();
                tr {
                    td { (super::lists::department_name(&settings, &f.department)) }
                    td { (f.month) }
                    td { (f.received) }
                    td { (f.answered_on_time) }
                    td { (f.answered_late) }
                    td { (f.open) }
                    td { (f.open_overdue) }
                    td { (f.upheld) }
                    td { (f.rejected) }
                    td { (f.average_working_days.map_or_else(|| "—".to_string(), |d| format!("{d:.1}"))) }
                    td { (grounds.join("，")) }
                }
            }
        }
    }
}

fn registration_form(rules: &crate::objection::ObjectionRules) -> Markup {
    html! {
        h2 { "登记异议" }
        form method="post" action="/objections" id="register" class="stack" {
            label { "记录编号 " input name="record_id" inputmode="numeric"; }
            label { "或决定书文号 " input name="wsh"; }
            label { "或主体（统一社会信用代码或登记名称） " input name="subject"; }
            label {
                "异议事由 "
                select name="ground" { @for g in &rules.grounds { option value=(g.code) { (g.name) } } }
            }
            label { "申请人 " input name="applicant" required; }
            label { "联系方式 " input name="contact"; }
            label { "异议内容 " textarea name="text" rows="3" {} }
            label {
                input type="checkbox" name="suspend" checked[rules.suspend_publication];
                " 处理期间暂停公示（撤下，异议不成立时重新公示）"
            }
            button type="submit" { "登记并分送部门" }
        }
    }
}

/// The page's registration form, with the record id as text.
#[derive(Debug, Deserialize)]
pub struct NewCaseForm {
    #[serde(default)]
    pub record_id: String,
    pub wsh: Option<String>,
    pub subject: Option<String>,
    pub ground: String,
    pub applicant: String,
    pub contact: Option<String>,
    #[serde(default)]
    pub text: String,
    pub suspend: Option<String>,
}

/// `POST /objections` (office staff): registers, then shows the (first) case.
pub async fn create_page(
    State(state): State<AppState>,
    caller: Caller,
    FormBody(form): FormBody<NewCaseForm>,
) -> Response {
    if let Err(denied) = caller.require(OFFICE) {
        return denied.into_response();
    }
    let record_id = match form.record_id.trim() {
        "" => None,
        text => match text.parse() {
            Ok(id) => Some(id),
            Err(_) => return refused_page(&caller, ObjectionError::UnknownRecord(text.to_string()), "/objections"),
        },
    };
    let case = NewCase {
        record_id,
        wsh: form.wsh,
        subject: form.subject,
        ground: form.ground,
        applicant: form.applicant,
        contact: form.contact,
        text: form.text,
        suspend: Some(serde_json::Value::Bool(form.suspend.is_some())),
    };
    match register(&state, &caller, case).await {
        Ok(cases) if cases.len() == 1 => Redirect::to(&format!("/objections/{}", cases[0].id)).into_response(),
        Ok(_) => Redirect::to("/objections?status=open").into_response(),
        Err(e) => refused_page(&caller, e, "/objections"),
    }
}

/// `GET /objections/{id}`: the case, its steps, and the forms for the next one.
pub async fn show_page(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<i64>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("page:objection:{id}"), state.now()).await;
    let o = match handle::find(&state.store, caller.scope(), id).await {
        Ok(o) => o,
        Err(e) => return Ok(refused_page(&caller, e, "/objections")),
    };
    let mut d = detail(&state, &caller, &o);
    d.could_have_caught = match handle::causes(&state.store, &o).await {
        Ok(c) => c,
        Err(e) => return Ok(refused_page(&caller, e, "/objections")),
    };
    let item_name = state.settings().catalogue.item(&o.item).map_or_else(|| o.item.clone(), |i| i.name.clone());
    let pushes = state.store.objection_deliveries(o.id, o.record_id).await?;
    let settings = state.settings();
    let status = Status::parse(&o.status).unwrap_or(Status::Open);
    let body = html! {
        h2 { "异议 " (id) }
        (case_table(&d, &o, &item_name))
        @if !d.could_have_caught.is_empty() {
            h2 { "网关可事先发现的问题" }
            ul id="causes" { @for c in &d.could_have_caught { li { (c) } } }
        }
        @if !pushes.is_empty() {
            h2 { "因本异议推送" }
            table id="objection-pushes" {
                (header_row(&["平台", "操作", "状态"]))
                @for (destination, operation, status) in &pushes {
                    tr {
                        td { (settings.destination_title(destination)) }
                        td { (glossary::operation(operation)) }
                        td { (glossary::delivery_status(status)) }
                    }
                }
            }
        }
        @if status == Status::Open {
            (answer_form(id))
        } @else if caller.require(OFFICE).is_ok() && status != Status::Closed {
            @if o.replied_on.is_none() { (reply_form(id)) } @else { (close_form(id)) }
        }
    };
    Ok(page("异议", Some(&caller), body).into_response())
}

/// The case, step by step: what was objected to, by whom, the department's answer, the reply.
fn case_table(d: &Detail, o: &ObjectionRow, item_name: &str) -> Markup {
    let or_empty = |t: &Option<String>| t.as_deref().unwrap_or("").to_string();
    let rows: [(&str, Markup); 15] = [
        (
            "记录",
            html! {
                a href={ "/records/" (o.record_id) } { (o.record_id) }
                "（" (item_name) "，第 " (o.record_version) " 版）"
            },
        ),
        ("提供部门", html! { (d.department_name) }),
        ("异议事由", html! { (d.summary.ground) }),
        ("申请人", html! { (d.applicant) " " (or_empty(&d.contact)) }),
        ("异议内容", html! { (d.text) }),
        ("受理、分送日期", html! { (d.summary.received) }),
        (
            "答复期限",
            html! {
                (d.summary.due) "（" (d.deadline_status) "）"
                @if d.due_provisional { "（临时：该年节假日安排未发布）" }
            },
        ),
        ("状态", html! { (status_zh(&o.status)) }),
        ("暂停公示", html! { @if d.suspended { "是" } @else { "否" } }),
        (
            "部门答复",
            html! {
                @if let Some(t) = &d.answer_text {
                    (or_empty(&d.summary.answered_on)) " " (t) "（" (or_empty(&d.answered_by)) "）"
                }
            },
        ),
        ("处理结果", html! { (d.outcome.unwrap_or("")) }),
        ("处理用时（工作日）", html! { @if let Some(n) = &d.handling_working_days { (n) } }),
        ("可防止此类异议的校验", html! { (or_empty(&d.caught_by)) }),
        ("答复申请人", html! { @if let Some(t) = &d.reply_text { (or_empty(&d.replied_on)) " " (t) } }),
        ("办结日期", html! { (or_empty(&d.closed_on)) }),
    ];
    html! {
        table id="objection" {
            @for (k, v) in &rows { tr { th { (k) } td { (v) } } }
        }
    }
}

/// The department's answer: upheld (with what it does about it) or rejected, and why.
fn answer_form(id: i64) -> Markup {
    html! {
        h2 { "部门答复" }
        form method="post" action={ "/objections/" (id) "/answer" } id="answer" class="stack" {
            label { input type="radio" name="upheld" value="upheld" required; " 异议成立" }
            label {
                "处理结果 "
                select name="outcome" {
                    option value="correction" { "更正（部门重新报送更正后的数据）" }
                    option value="withdrawal" { "撤销公示" }
                    option value="repair" { "信用修复" }
                }
            }
            label { input type="radio" name="upheld" value="rejected"; " 异议不成立（原记录无误）" }
            label { "处理说明或理由 " textarea name="text" rows="3" required {} }
            button type="submit" { "提交答复" }
        }
    }
}

/// The office's reply to the applicant.
fn reply_form(id: i64) -> Markup {
    html! {
        h2 { "答复申请人" }
        form method="post" action={ "/objections/" (id) "/reply" } id="reply" class="stack" {
            label { "答复内容 " textarea name="text" rows="3" required {} }
            button type="submit" { "记录答复" }
        }
    }
}

fn close_form(id: i64) -> Markup {
    html! {
        form method="post" action={ "/objections/" (id) "/close" } id="close" { button type="submit" { "办结" } }
    }
}

/// `POST /objections/{id}/answer` from the page.
pub async fn answer_page(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<i64>,
    FormBody(form): FormBody<AnswerForm>,
) -> Response {
    match answer(&state, &caller, id, &form).await {
        Ok(_) => Redirect::to(&format!("/objections/{id}")).into_response(),
        Err(e) => refused_page(&caller, e, &format!("/objections/{id}")),
    }
}

/// `POST /objections/{id}/reply` from the page (office staff).
pub async fn reply_page(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<i64>,
    FormBody(form): FormBody<ReplyForm>,
) -> Response {
    if let Err(denied) = caller.require(OFFICE) {
        return denied.into_response();
    }
    match reply(&state, &caller, id, &form.text).await {
        Ok(_) => Redirect::to(&format!("/objections/{id}")).into_response(),
        Err(e) => refused_page(&caller, e, &format!("/objections/{id}")),
    }
}

/// `POST /objections/{id}/close` from the page (office staff).
pub async fn close_page(State(state): State<AppState>, caller: Caller, PathParam(id): PathParam<i64>) -> Response {
    if let Err(denied) = caller.require(OFFICE) {
        return denied.into_response();
    }
    match close(&state, &caller, id).await {
        Ok(_) => Redirect::to(&format!("/objections/{id}")).into_response(),
        Err(e) => refused_page(&caller, e, &format!("/objections/{id}")),
    }
}
