//! 信用档案: the subject search (the header's box, `/subjects?q=`, `/api/v1/subjects?q=`), a
//! subject's credit file (`/subjects/{code}`, `/api/v1/subjects/{code}`) and its printable
//! credit report (`/subjects/{code}/report`). A department user sees its own department's
//! records only; `[credit_file] other_departments` says whether it learns of the others'.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::pages::{esc, page};
use crate::config::Settings;
use crate::credit_file::{self, CreditFile, Entry, SEARCH_LIMIT};
use crate::glossary;
use crate::store::SubjectHit;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
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
        (status = 400, description = "筛选参数无效（中文说明可选值）；参数类型不符（如 offset=abc）时为纯文本", body = super::api::ErrorBody),
        (status = 401, description = "no or unknown token", body = super::api::ErrorBody),
        (status = 500, description = "服务器内部错误，请稍后重试", body = super::api::ErrorBody),
    )
)]
pub async fn search_api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SearchAnswer>, ApiError> {
    let answer = search(&state, &caller, &q).await?;
    let _ = state.store.audit(&caller.name, "view", "api:subjects", state.now()).await;
    Ok(Json(answer))
}

/// The search box, as the header has it too.
pub fn search_box(q: &str) -> maud::Markup {
    maud::html! {
        form class="search" method="get" action="/subjects" {
            input name="q" value=(q) placeholder="统一社会信用代码或名称" aria-label="主体查询";
            button type="submit" { "查询" }
        }
    }
}

pub async fn search_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Html<String>, ApiError> {
    let answer = search(&state, &caller, &q).await?;
    let _ = state.store.audit(&caller.name, "view", "page:subjects", state.now()).await;
    let mut body = search_box(&answer.q).into_string();
    if answer.q.trim().is_empty() {
        body.push_str("<p>按统一社会信用代码（全部或开头）或名称（全部或部分）查询主体的信用档案。</p>");
        return Ok(page("信用档案查询", Some(&caller), maud::PreEscaped(body)));
    }
    if answer.items.is_empty() {
        let _ = write!(body, "<p id=\"no-hits\">未找到与“{}”相符的主体。</p>", esc(&answer.q));
        return Ok(page("信用档案查询", Some(&caller), maud::PreEscaped(body)));
    }
    let others = answer.items.iter().any(|h| h.other_records.is_some());
    body.push_str("<table id=\"hits\"><tr><th>统一社会信用代码</th><th>名称</th><th>记录数</th>");
    if others {
        body.push_str("<th>其他部门记录</th>");
    }
    body.push_str("</tr>");
    for h in &answer.items {
        let matched = h.matched_name.as_deref().map(|m| format!("（匹配：{}）", esc(m))).unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td><a href=\"/subjects/{0}\">{0}</a></td><td><a href=\"/subjects/{0}\">{1}</a>{2}</td><td>{3}</td>",
            esc(&h.credit_code),
            esc(&h.name),
            matched,
            h.records
        );
        if others {
            let _ = write!(body, "<td>{}</td>", h.other_records.unwrap_or(0));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table>");
    Ok(page("信用档案查询", Some(&caller), maud::PreEscaped(body)))
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
    let body = format!("{}<p>主体不存在或无权查看。</p>", search_box("").into_string());
    (axum::http::StatusCode::NOT_FOUND, page("信用档案", Some(caller), maud::PreEscaped(body))).into_response()
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
        (status = 400, description = "筛选参数无效（中文说明可选值）；参数类型不符（如 offset=abc）时为纯文本", body = super::api::ErrorBody),
        (status = 401, description = "no or unknown token", body = super::api::ErrorBody),
        (status = 404, description = "not found, or another department's", body = super::api::ErrorBody),
        (status = 500, description = "服务器内部错误，请稍后重试", body = super::api::ErrorBody),
    )
)]
pub async fn file_api(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("api:subject:{code}"), state.now()).await;
    Ok(match file(&state, &caller, &code).await? {
        Some(f) => Json(f).into_response(),
        None => not_found_json(),
    })
}

fn identity(f: &CreditFile) -> String {
    let mut out = format!(
        "<table id=\"identity\"><tr><th>统一社会信用代码</th><td>{}</td></tr><tr><th>名称</th><td id=\"subject-name\">{}</td></tr>\
         <tr><th>主体类别</th><td>{}</td></tr><tr><th>登记地（代码第3–8位）</th><td>{}</td></tr></table>",
        esc(&f.credit_code),
        esc(&f.name),
        esc(f.kind.as_deref().unwrap_or("—")),
        esc(&match (&f.region_name, &f.region) {
            (Some(n), Some(r)) => format!("{n}（{r}）"),
            (None, Some(r)) => r.clone(),
            _ => "—".into(),
        }),
    );
    out.push_str(
        "<h3>名称记载</h3><table id=\"names\"><tr><th>名称</th><th>最早记录</th><th>最近记录</th><th>记录数</th></tr>",
    );
    for n in &f.names {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&n.name),
            esc(n.first.as_deref().unwrap_or("—")),
            esc(n.last.as_deref().unwrap_or("—")),
            n.records
        );
    }
    out.push_str("</table>");
    out
}

fn grade_block(f: &CreditFile) -> String {
    let mut out = String::from("<div id=\"grade\">");
    match &f.grade {
        Some(g) => {
            let reasons: Vec<String> =
                g.reasons.iter().map(|id| format!("<a href=\"/records/{id}\">{id}</a>")).collect();
            let _ = write!(
                out,
                "<p class=\"grade grade-{0}\"><b>{0}</b> {1}（评定日 {2}）</p><p>规则：{3}</p><p>依据：{4}</p><p>所据记录：{5}</p>",
                esc(&g.grade),
                esc(&g.name),
                esc(&g.as_of),
                esc(&g.rule),
                esc(&g.regulation),
                if reasons.is_empty() { "无".to_string() } else { reasons.join("、") }
            );
        }
        None => out.push_str("<p>尚未评定（运行 <code>credit-gateway grade</code>）。</p>"),
    }
    out.push_str("</div>");
    out
}

fn records_table(id: &str, rows: &[&Entry], links: bool) -> String {
    let mut out = format!(
        "<table id=\"{id}\" class=\"records\"><tr><th>记录</th><th>决定日期</th><th>部门</th><th>状态</th><th>内容摘要</th></tr>"
    );
    for r in rows {
        let record = if links { format!("<a href=\"/records/{0}\">{0}</a>", r.id) } else { r.id.to_string() };
        let _ = write!(
            out,
            "<tr><td>{record}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.decision_date.as_deref().unwrap_or("—")),
            esc(&r.department_name),
            esc(&r.status.join("、")),
            esc(&r.summary)
        );
    }
    out.push_str("</table>");
    out
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

fn feed_table(f: &CreditFile, settings: &Settings) -> String {
    let mut out = String::from(
        "<table id=\"feed-records\"><tr><th>回流记录</th><th>信息类别</th><th>来源</th><th>状态</th><th>接收时间</th><th>内容摘要</th></tr>",
    );
    for r in &f.feed_records {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.id,
            esc(&r.item_name),
            esc(settings.feed_title(&r.feed)),
            esc(r.status),
            esc(&glossary::local_time(&r.received_at)),
            esc(&r.summary)
        );
    }
    out.push_str("</table>");
    out
}

fn history_table(f: &CreditFile) -> String {
    let mut out = String::from(
        "<table id=\"grade-history\"><tr><th>评定日</th><th>原等级</th><th>等级</th><th>一般失信</th><th>严重失信</th><th>规则</th></tr>",
    );
    for g in &f.grades {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&g.as_of),
            esc(g.previous.as_deref().unwrap_or("—")),
            esc(&g.grade),
            g.general,
            g.serious,
            esc(&g.rule)
        );
    }
    out.push_str("</table>");
    out
}

fn others_note(f: &CreditFile) -> String {
    match f.other_departments_records {
        Some(n) if n > 0 => format!(
            "<p class=\"warn\" id=\"other-departments\">其他部门另有 {n} 条关于该主体的记录，按规定不予显示。</p>"
        ),
        _ => String::new(),
    }
}

/// `GET /subjects/{code}`: the credit file page.
pub async fn file_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("page:subject:{code}"), state.now()).await;
    let Some(f) = file(&state, &caller, &code).await? else { return Ok(not_found_page(&caller)) };
    let mut body = search_box("").into_string();
    let _ = write!(
        body,
        "<p><a id=\"report-link\" href=\"/subjects/{}/report\">打印信用报告</a></p><h2>主体信息</h2>{}<h2>信用等级</h2>{}",
        esc(&f.credit_code),
        identity(&f),
        grade_block(&f)
    );
    let _ = write!(body, "<h2>信用记录（{} 条）</h2>{}", f.records.len(), others_note(&f));
    if f.truncated {
        body.push_str("<p class=\"warn\">记录过多，仅列出前一部分。</p>");
    }
    if f.records.is_empty() {
        body.push_str("<p>无可查看的记录。</p>");
    }
    for (i, (name, rows)) in by_item(&f).iter().enumerate() {
        let _ = write!(
            body,
            "<h3>{}（{} 条）</h3>{}",
            esc(name),
            rows.len(),
            records_table(&format!("item-{i}"), rows, true)
        );
    }
    if !f.feed_records.is_empty() {
        let _ =
            write!(body, "<h2>上级平台回流（{} 条）</h2>{}", f.feed_records.len(), feed_table(&f, &state.settings()));
    }
    if !f.grades.is_empty() {
        let _ = write!(body, "<h2>等级历史</h2>{}", history_table(&f));
    }
    Ok(page(&format!("信用档案：{}", f.name), Some(&caller), maud::PreEscaped(body)).into_response())
}

/// The credit report's chapters: which items each holds (items not named go to 其他信息).
const CHAPTERS: &[(&str, &[&str])] = &[
    ("二、行政许可信息", &["XK"]),
    ("三、行政处罚信息", &["CF"]),
    ("四、严重失信主体名单信息", &["MKT_YZWF", "COURT_SX"]),
    ("五、经营异常名录信息", &["MKT_YC"]),
    ("六、守信激励信息", &["TAX_A"]),
];

/// `GET /subjects/{code}/report`: the credit file as a printable credit report.
pub async fn report_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("page:subject-report:{code}"), state.now()).await;
    let Some(f) = file(&state, &caller, &code).await? else { return Ok(not_found_page(&caller)) };
    let settings = state.settings();
    let now = (state.now() + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M");
    let mut body = String::new();
    let _ = write!(
        body,
        "<header class=\"report\"><h1>公共信用信息报告</h1><p>{} · 统一社会信用代码 {}</p><p>出具：{} · 生成时间 {}（北京时间）{}</p></header>",
        esc(&f.name),
        esc(&f.credit_code),
        esc(&settings.gateway.sender.name),
        now,
        match caller.scope() {
            Some(d) => format!(" · 查询部门 {}（仅含本部门报送的记录）", esc(d)),
            None => String::new(),
        }
    );
    let _ = write!(body, "<h2>一、基本信息</h2>{}", identity(&f));
    let mut placed: Vec<&str> = Vec::new();
    for (title, items) in CHAPTERS {
        let rows: Vec<&Entry> = f.records.iter().filter(|r| items.contains(&r.item.as_str())).collect();
        placed.extend(items.iter());
        let _ = write!(body, "<h2>{title}</h2>");
        if rows.is_empty() {
            body.push_str("<p>无。</p>");
        } else {
            body.push_str(&records_table(&format!("chapter-{}", placed.len()), &rows, false));
        }
    }
    let result_item = settings.grading.result_item.as_str();
    let rest: Vec<&Entry> =
        f.records.iter().filter(|r| !placed.contains(&r.item.as_str()) && r.item != result_item).collect();
    body.push_str("<h2>七、其他信息</h2>");
    if rest.is_empty() {
        body.push_str("<p>无。</p>");
    } else {
        body.push_str(&records_table("chapter-other", &rest, false));
    }
    let _ = write!(body, "<h2>八、信用评价信息</h2>{}", grade_block(&f));
    if !f.grades.is_empty() {
        body.push_str(&history_table(&f));
    }
    if !f.feed_records.is_empty() {
        let _ = write!(body, "<h2>九、上级平台回流信息</h2>{}", feed_table(&f, &state.settings()));
    }
    body.push_str(&others_note(&f));
    body.push_str(
        "<h2>报告说明</h2><ol id=\"report-notes\">\
         <li>本报告的章节顺序参照“信用中国”网站出具的《法人和非法人组织公共信用信息报告》的常见版式（基本信息、行政管理信息、\
         严重失信主体名单信息、经营异常名录信息、守信激励信息、其他信息、信用评价信息），并非该报告本身，不具有其证明效力。</li>\
         <li>内容仅限本网关归集的本地部门记录及上级平台回流记录；未包含：市场监管部门的登记注册详情（注册资本、经营范围、\
         股东及主要人员）、信用承诺及履约情况（尚未归集）、其他地区和行业的信息、司法判决全文。</li>\
         <li>未包含报告编号核验、二维码、出具机构电子签章和有效期声明；打印件仅供内部参考。</li>\
         <li>已撤销、已删除、已修复的记录仍列出并标明状态，不计入信用等级。</li></ol>",
    );
    let html = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>公共信用信息报告 - {}</title>\
         <style>body{{font-family:'SimSun','Songti SC',serif;margin:24px auto;max-width:900px;color:#000}}\
         h1{{text-align:center;font-size:24px}}header.report p{{text-align:center;margin:4px}}h2{{font-size:17px;border-bottom:1px solid #000;margin-top:20px}}\
         table{{border-collapse:collapse;width:100%;margin:6px 0}}th,td{{border:1px solid #000;padding:3px 6px;font-size:13px;text-align:left}}\
         .warn{{border:1px solid #000;padding:6px}}@media print{{a{{color:#000;text-decoration:none}}}}</style></head><body>{body}</body></html>",
        esc(&f.name)
    );
    Ok(Html(html).into_response())
}
