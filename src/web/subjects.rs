//! 信用档案: the subject search (the header's box, `/subjects?q=`, `/api/v1/subjects?q=`), a
//! subject's credit file (`/subjects/{code}`, `/api/v1/subjects/{code}`) and its printable
//! credit report (`/subjects/{code}/report`). A department user sees its own department's
//! records only; `[credit_file] other_departments` says whether it learns of the others'.

use axum::Json;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::AppState;
use super::api::ApiError;
use super::auth::{Caller, Role};
use super::lists::{pager, query, window};
use super::pages::{header_row, page};
use super::params::{Params, PathParam};
use crate::config::Settings;
use crate::credit_file::{self, CreditFile, Entry, SEARCH_LIMIT};
use crate::glossary;
use crate::grading::Grade;
use crate::store::SubjectHit;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    /// The subjects graded so (`A`–`D`) on `as_of` (default today): the list behind a count of
    /// the 分级分类 page. The office's staff only.
    #[serde(default)]
    grade: Option<String>,
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    offset: Option<i64>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SearchAnswer {
    pub q: String,
    pub items: Vec<SubjectHit>,
}

async fn search(state: &AppState, caller: &Caller, q: &SearchQuery) -> Result<SearchAnswer, ApiError> {
    let text: String = q.q.as_deref().unwrap_or("").chars().take(100).collect();
    let items = if text.trim().is_empty() {
        Vec::new()
    } else {
        let settings = state.settings();
        credit_file::search(&settings, &state.store, &text, caller.scope(), q.limit.unwrap_or(SEARCH_LIMIT)).await?
    };
    Ok(SearchAnswer { q: text, items })
}

/// `GET /api/v1/subjects?q=`: `{q, items: [{credit_code, name, records, other_records?, matched_name?}]}`.
#[utoipa::path(
    get,
    path = "/api/v1/subjects",
    operation_id = "subjects",
    summary = "信用主体：按统一社会信用代码或名称片段查找，答 {q, items: [{credit_code, name, records}]}",
    params(
        ("q" = Option<String>, Query, description = "统一社会信用代码（至少 4 位）或名称片段"),
        ("limit" = Option<usize>, Query, description = "最多条数"),
    ),
    responses(
        (status = 200, description = "找到的主体", body = SearchAnswer),
        super::api::QueryRefusals,
    )
)]
pub async fn search_api(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<SearchQuery>,
) -> Result<Json<SearchAnswer>, ApiError> {
    let answer = search(&state, &caller, &q).await?;
    let _ = state.store.audit(&caller.name, "view", "api:subjects", state.now()).await;
    Ok(Json(answer))
}

/// The search box, as the header has it too.
pub fn search_box(q: &str) -> Markup {
    html! {
        form class="search" method="get" action="/subjects" {
            input name="q" value=(q) placeholder="统一社会信用代码或名称" aria-label="主体查询";
            button type="submit" { "查询" }
        }
    }
}

pub async fn search_page(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<SearchQuery>,
) -> Result<Response, ApiError> {
    if let Some(grade) = q.grade.as_deref() {
        return graded_page(&state, &caller, grade, &q).await;
    }
    let answer = search(&state, &caller, &q).await?;
    let _ = state.store.audit(&caller.name, "view", "page:subjects", state.now()).await;
    let body = html! {
        (search_box(&answer.q))
        @if answer.q.trim().is_empty() {
            p { "按统一社会信用代码（全部或开头）、名称（全部或部分）或自然人的完整身份证号码查询主体的信用档案。" }
        } @else if answer.items.is_empty() {
            p id="no-hits" { "未找到与“" (answer.q) "”相符的主体。" }
        } @else {
            (hits_table(&answer.items))
        }
    };
    Ok(page("信用档案查询", Some(&caller), body).into_response())
}

/// `/subjects?grade=C&as_of=2026-11-30`: the subjects in a grade on a day, paged.
async fn graded_page(state: &AppState, caller: &Caller, grade: &str, q: &SearchQuery) -> Result<Response, ApiError> {
    if let Err(denied) = caller.require(&[Role::Admin, Role::Ops]) {
        return Ok(denied.into_response());
    }
    let bad = |message: String| {
        let body = html! { p class="err" { (message) } };
        (axum::http::StatusCode::BAD_REQUEST, page("信用档案查询", Some(caller), body)).into_response()
    };
    let Some(grade) = Grade::parse(grade) else {
        return Ok(bad(format!("信用等级“{grade}”无效，可选：A、B、C、D")));
    };
    let as_of = match q.as_of.as_deref().filter(|s| !s.is_empty()) {
        None => state.today(),
        Some(s) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => return Ok(bad(format!("统计日“{s}”无效：应为 YYYY-MM-DD，如 2026-11-30"))),
        },
    };
    let (offset, limit) = window(q.offset, q.limit.map(|l| l as i64));
    let day = as_of.to_string();
    let (total, hits) = state.store.subjects_with_grade(grade.as_str(), &day, offset, limit).await?;
    let _ = state.store.audit(&caller.name, "view", "page:subjects-graded", state.now()).await;
    let settings = state.settings();
    let base = format!("/subjects{}", query(&[("grade", Some(grade.as_str())), ("as_of", Some(&day))]));
    let title = format!("{} {}（{day}）", grade.as_str(), settings.grading.text(grade).name);
    let body = html! {
        p { (day) " 最近一次评定为 " (grade.as_str()) " 级（" (settings.grading.text(grade).rule) "）的主体。" }
        (pager("graded-total", &base, total, offset, limit, hits.len()))
        @if !hits.is_empty() { (hits_table(&hits)) }
    };
    Ok(page(&title, Some(caller), body).into_response())
}

/// The subjects found; 其他部门记录 only where the caller may learn of them.
fn hits_table(hits: &[SubjectHit]) -> Markup {
    let others = hits.iter().any(|h| h.other_records.is_some());
    html! {
        table id="hits" {
            tr {
                th { "统一社会信用代码" } th { "名称" } th { "记录数" }
                @if others { th { "其他部门记录" } }
            }
            @for h in hits {
                tr {
                    td { a href={ "/subjects/" (h.credit_code) } { (h.credit_code) } }
                    td {
                        a href={ "/subjects/" (h.credit_code) } { (h.name) }
                        @if let Some(m) = &h.matched_name { "（匹配：" (m) "）" }
                    }
                    td { (h.records) }
                    @if others { td { (h.other_records.unwrap_or(0)) } }
                }
            }
        }
    }
}

/// What the subject key is: a credit code, or a natural person's key made from the ID number
/// (`subject::PersonKey`), which shows nothing of it.
fn code_label(code: &str) -> &'static str {
    if crate::subject::is_person(code) {
        "自然人标识（由身份证号码加密生成）"
    } else {
        "统一社会信用代码"
    }
}

fn valid_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 18 && code.chars().all(|c| c.is_ascii_alphanumeric())
}

async fn file(state: &AppState, caller: &Caller, code: &str) -> Result<Option<CreditFile>, ApiError> {
    if !valid_code(code) {
        return Ok(None);
    }
    let settings = state.settings();
    Ok(credit_file::credit_file(&settings, &state.store, code, caller.scope(), state.today()).await?)
}

fn not_found_json() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not_found", "message": "主体不存在或无权查看"})),
    )
        .into_response()
}

fn not_found_page(caller: &Caller) -> Response {
    let body = html! { (search_box("")) p { "主体不存在或无权查看。" } };
    (axum::http::StatusCode::NOT_FOUND, page("信用档案", Some(caller), body)).into_response()
}

/// `GET /api/v1/subjects/{code}`: the credit file.
#[utoipa::path(
    get,
    path = "/api/v1/subjects/{code}",
    operation_id = "subject_file",
    summary = "信用档案：一个主体的记录、反馈、异议与评价；部门用户只见本部门记录",
    params(
        ("code" = String, Path, description = "统一社会信用代码"),
    ),
    responses(
        (status = 200, description = "信用档案", body = CreditFile),
        super::api::LookupRefusals,
    )
)]
pub async fn file_api(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(code): PathParam<String>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("api:subject:{code}"), state.now()).await;
    Ok(match file(&state, &caller, &code).await? {
        Some(f) => Json(f).into_response(),
        None => not_found_json(),
    })
}

fn identity(f: &CreditFile) -> Markup {
    let region = match (&f.region_name, &f.region) {
        (Some(n), Some(r)) => format!("{n}（{r}）"),
        (None, Some(r)) => r.clone(),
        _ => "—".into(),
    };
    html! {
        table id="identity" {
            tr { th { (code_label(&f.credit_code)) } td { (f.credit_code) } }
            tr { th { "名称" } td id="subject-name" { (f.name) } }
            tr { th { "主体类别" } td { (f.kind.as_deref().unwrap_or("—")) } }
            tr { th { "登记地（代码第3–8位）" } td { (region) } }
        }
        h3 { "名称记载" }
        table id="names" {
            (header_row(&["名称", "最早记录", "最近记录", "记录数"]))
            @for n in &f.names {
                tr {
                    td { (n.name) }
                    td { (n.first.as_deref().unwrap_or("—")) }
                    td { (n.last.as_deref().unwrap_or("—")) }
                    td { (n.records) }
                }
            }
        }
    }
}

fn grade_block(f: &CreditFile) -> Markup {
    html! {
        div id="grade" {
            @match &f.grade {
                Some(g) => {
                    p class={ "grade grade-" (g.grade) } { b { (g.grade) } " " (g.name) "（评定日 " (g.as_of) "）" }
                    p { "规则：" (g.rule) }
                    p { "依据：" (g.regulation) }
                    p {
                        "所据记录："
                        @for (i, id) in g.reasons.iter().enumerate() {
                            @if i > 0 { "、" }
                            a href={ "/records/" (id) } { (id) }
                        }
                        @if g.reasons.is_empty() { "无" }
                    }
                },
                None => p { "尚未评定（运行 " code { "credit-gateway grade" } "）。" },
            }
        }
    }
}

/// A subject's records of one kind; the report prints them without links.
fn records_table(id: &str, rows: &[&Entry], links: Links) -> Markup {
    html! {
        table id=(id) class="records" {
            (header_row(&["记录", "决定日期", "部门", "状态", "内容摘要"]))
            @for r in rows {
                tr {
                    td {
                        @if links == Links::Shown { a href={ "/records/" (r.id) } { (r.id) } } @else { (r.id) }
                    }
                    td { (r.decision_date.as_deref().unwrap_or("—")) }
                    td { (r.department_name) }
                    td { (r.status.join("、")) }
                    td { (r.summary) }
                }
            }
        }
    }
}

/// Whether a record's number links to its page (not on paper).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Links {
    Shown,
    Printed,
}

fn by_item(f: &CreditFile) -> Vec<(String, Vec<&Entry>)> {
    let mut groups: Vec<(String, Vec<&Entry>)> = Vec::new();
    for r in &f.records {
        match groups.iter_mut().find(|(name, _)| *name == r.item_name) {
            Some((_, list)) => list.push(r),
            None => groups.push((r.item_name.clone(), vec![r])),
        }
    }
    groups
}

fn feed_table(f: &CreditFile, settings: &Settings) -> Markup {
    html! {
        table id="feed-records" {
            (header_row(&["回流记录", "信息类别", "领域", "来源", "状态", "接收时间", "内容摘要"]))
            @for r in &f.feed_records {
                tr {
                    td { (r.id) }
                    td { (r.item_name) }
                    td { (r.sector.as_deref().unwrap_or("—")) }
                    td { (settings.feed_title(&r.feed)) }
                    td { (r.status) }
                    td { (glossary::local_time(&r.received_at)) }
                    td { (r.summary) }
                }
            }
        }
    }
}

fn history_table(f: &CreditFile) -> Markup {
    html! {
        table id="grade-history" {
            (header_row(&["评定日", "原等级", "等级", "一般失信", "严重失信", "规则"]))
            @for g in &f.grades {
                tr {
                    td { (g.as_of) }
                    td { (g.previous.as_deref().unwrap_or("—")) }
                    td { (g.grade) }
                    td { (g.general) }
                    td { (g.serious) }
                    td { (g.rule) }
                }
            }
        }
    }
}

fn others_note(f: &CreditFile) -> Markup {
    html! {
        @if let Some(n) = f.other_departments_records.filter(|n| *n > 0) {
            p class="warn" id="other-departments" { "其他部门另有 " (n) " 条关于该主体的记录，按规定不予显示。" }
        }
    }
}

/// `GET /subjects/{code}`: the credit file page.
pub async fn file_page(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(code): PathParam<String>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("page:subject:{code}"), state.now()).await;
    let Some(f) = file(&state, &caller, &code).await? else { return Ok(not_found_page(&caller)) };
    let body = html! {
        (search_box(""))
        p { a id="report-link" href={ "/subjects/" (f.credit_code) "/report" } { "打印信用报告" } }
        h2 { "主体信息" }
        (identity(&f))
        h2 { "信用等级" }
        (grade_block(&f))
        h2 { "信用记录（" (f.records.len()) " 条）" }
        (others_note(&f))
        @if f.truncated { p class="warn" { "记录过多，仅列出前一部分。" } }
        @if f.records.is_empty() { p { "无可查看的记录。" } }
        @for (i, (name, rows)) in by_item(&f).iter().enumerate() {
            h3 { (name) "（" (rows.len()) " 条）" }
            (records_table(&format!("item-{i}"), rows, Links::Shown))
        }
        @if !f.feed_records.is_empty() {
            h2 { "上级平台回流（" (f.feed_records.len()) " 条）" }
            (feed_table(&f, &state.settings()))
        }
        @if !f.grades.is_empty() {
            h2 { "等级历史" }
            (history_table(&f))
        }
    };
    Ok(page(&format!("信用档案：{}", f.name), Some(&caller), body).into_response())
}

/// The credit report's chapters: which items each holds (items not named go to 其他信息).
const CHAPTERS: &[(&str, &[&str])] = &[
    ("二、行政许可信息", &["XK"]),
    ("三、行政处罚信息", &["CF"]),
    ("四、严重失信主体名单信息", &["MKT_YZWF", "COURT_SX"]),
    ("五、经营异常名录信息", &["MKT_YC"]),
    ("六、守信激励信息", &["TAX_A"]),
    ("七、信用承诺信息", &["XYCN"]),
];

/// `GET /subjects/{code}/report`: the credit file as a printable credit report.
pub async fn report_page(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(code): PathParam<String>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("page:subject-report:{code}"), state.now()).await;
    let Some(f) = file(&state, &caller, &code).await? else { return Ok(not_found_page(&caller)) };
    let settings = state.settings();
    let now = (state.now() + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M").to_string();
    let result_item = settings.grading.result_item.as_str();
    let mut placed: Vec<&str> = Vec::new();
    let chapters: Vec<(&str, Vec<&Entry>, String)> = CHAPTERS
        .iter()
        .map(|(title, items)| {
            placed.extend(items.iter());
            let rows = f.records.iter().filter(|r| items.contains(&r.item.as_str())).collect();
            (*title, rows, format!("chapter-{}", placed.len()))
        })
        .collect();
    let rest: Vec<&Entry> =
        f.records.iter().filter(|r| !placed.contains(&r.item.as_str()) && r.item != result_item).collect();
    let body = html! {
        header class="report" {
            h1 { "公共信用信息报告" }
            p { (f.name) " · " (code_label(&f.credit_code)) " " (f.credit_code) }
            p {
                "出具：" (settings.gateway.sender.name) " · 生成时间 " (now) "（北京时间）"
                @if let Some(d) = caller.scope() { " · 查询部门 " (d) "（仅含本部门报送的记录）" }
            }
        }
        h2 { "一、基本信息" }
        (identity(&f))
        @for (title, rows, id) in &chapters {
            h2 { (title) }
            @if rows.is_empty() { p { "无。" } } @else { (records_table(id, rows, Links::Printed)) }
        }
        h2 { "八、其他信息" }
        @if rest.is_empty() { p { "无。" } } @else { (records_table("chapter-other", &rest, Links::Printed)) }
        h2 { "九、信用评价信息" }
        (grade_block(&f))
        @if !f.grades.is_empty() { (history_table(&f)) }
        @if !f.feed_records.is_empty() {
            h2 { "十、上级平台回流信息" }
            (feed_table(&f, &settings))
        }
        (others_note(&f))
        h2 { "报告说明" }
        ol id="report-notes" {
            li {
                "本报告的章节顺序参照“信用中国”网站出具的《法人和非法人组织公共信用信息报告》的常见版式（基本信息、行政管理信息、"
                "严重失信主体名单信息、经营异常名录信息、守信激励信息、信用承诺信息、其他信息、信用评价信息），并非该报告本身，不具有其证明效力。"
            }
            li {
                "内容仅限本网关归集的本地部门记录及上级平台回流记录；未包含：市场监管部门的登记注册详情（注册资本、经营范围、"
                "股东及主要人员）、其他地区和行业的信息、司法判决全文；信用承诺仅含本地部门归集的承诺及其现时履约状态。"
            }
            li { "未包含报告编号核验、二维码、出具机构电子签章和有效期声明；打印件仅供内部参考。" }
            li { "已撤销、已删除、已修复的记录仍列出并标明状态，不计入信用等级。" }
        }
    };
    let document = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { "公共信用信息报告 - " (f.name) }
                // A style sheet is raw text in HTML, and this one is the constant below.
                style { (PreEscaped(REPORT_STYLE)) }
            }
            body { (body) }
        }
    };
    Ok(Html(document.into_string()).into_response())
}

/// The printed report's look: a serif face, black rules, links as plain text on paper.
const REPORT_STYLE: &str = "body{font-family:'SimSun','Songti SC',serif;margin:24px auto;max-width:900px;color:#000}\
h1{text-align:center;font-size:24px}header.report p{text-align:center;margin:4px}h2{font-size:17px;border-bottom:1px solid #000;margin-top:20px}\
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #000;padding:3px 6px;font-size:13px;text-align:left}\
.warn{border:1px solid #000;padding:6px}@media print{a{color:#000;text-decoration:none}}";
