//! The dashboard's pages: server-rendered HTML in Chinese, a little CSS, no script needed.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::AppState;
use super::api::{ApiError, ChaseRow, ConnectorLine, DepartmentLine, OutageLine, Overview, StatusCount, overview_for};
use super::auth::{self, Caller, SESSION_COOKIE};
use super::params::FormBody;
use crate::config::Settings;
use crate::store::Cause;

const STYLE: &str = "body{font-family:'Microsoft YaHei','PingFang SC',sans-serif;margin:0;color:#222;background:#f4f6f8}\
header{background:#1f4e79;color:#fff;padding:8px 16px;display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center}\
header a{color:#fff;text-decoration:none}header .who{margin-left:auto}\
main{padding:16px}h1{font-size:20px}table{border-collapse:collapse;background:#fff;margin:8px 0 16px}\
th,td{border:1px solid #ccd;padding:4px 8px;text-align:left}th{white-space:nowrap}th{background:#e8eef5}\
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #ccd;padding:10px 14px;min-width:120px}\
.card b{display:block;font-size:24px}.bad b{color:#b00}.warn{background:#fff3cd;border:1px solid #e0c36c;padding:8px;margin:8px 0}\
form.login{background:#fff;border:1px solid #ccd;padding:16px;width:280px;margin:60px auto}\
form.login input{display:block;width:100%;margin:6px 0 12px;padding:4px}.err{color:#b00}\
form.stack{background:#fff;border:1px solid #ccd;padding:12px;max-width:640px}form.stack label{display:block;margin:6px 0}\
header form.search{margin:0}header form.search input{width:220px}\
@media (max-width:1280px){header{gap:6px 12px}header form.search input{width:160px}}\
@media (max-width:1100px){header{gap:4px 10px}header form.search input{width:120px}}\
.alarm{background:#b00;color:#fff;padding:10px 14px;font-weight:bold;margin:8px 0}\
a.card{color:#222;text-decoration:none}a.card:hover{border-color:#1f4e79}td.n{text-align:right}td.hot a{color:#b00;font-weight:bold}\
td.ours{color:#666}td.date{white-space:nowrap}td.why{min-width:9em}.overdue-mark{color:#b00;font-weight:bold}dl.defs{font-size:12px;color:#555;margin:0 0 16px}\
dl.defs dt{display:inline;font-weight:bold}dl.defs dd{display:inline;margin:0 12px 0 4px}\
.scroll{overflow-x:auto;max-width:100%}.tables{display:flex;flex-wrap:wrap;gap:16px}.tables h3{font-size:14px;margin:4px 0}td{min-width:3.5em}td:first-child{white-space:nowrap}.pager{margin:8px 0}.pager a{margin-right:12px}\
form.stack input:not([type=radio]):not([type=checkbox]),form.stack select,form.stack textarea{display:block;width:100%;max-width:600px;margin-top:2px;padding:4px;box-sizing:border-box}";

const NAV: &[(&str, &str)] = &[
    ("/", "总览"),
    ("/departments", "部门"),
    ("/deadlines", "到期"),
    ("/publicity", "公示期"),
    ("/problems", "问题数据"),
    ("/objections", "异议"),
    ("/grading", "分级分类"),
    ("/connectors", "连接器"),
    ("/deliveries", "投递"),
];

/// A whole page with the navigation bar.
pub fn page(title: &str, caller: Option<&Caller>, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title { (title) " - 信用信息网关" }
                // A style sheet is raw text in HTML, and this one is the constant above.
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "公共信用信息网关" }
                    @if let Some(c) = caller { (navigation(c)) }
                }
                main { h1 { (title) } (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// Pages for the office's staff only (department users are refused them).
const OFFICE_ONLY: &[&str] = &["/deliveries", "/grading"];

/// The header's links (投递 and 分级分类 for the office's staff only), the search box, who is
/// logged in and the way out.
fn navigation(c: &Caller) -> Markup {
    html! {
        @for (href, label) in NAV {
            @if !OFFICE_ONLY.contains(href) || c.scope().is_none() {
                a href=(href) { (label) }
            }
        }
        (super::subjects::search_box(""))
        span class="who" {
            (c.name) "（" (c.role.zh())
            @if let Some(d) = c.department_name.as_ref().or(c.department.as_ref()) { "：" (d) }
            "）"
        }
        form method="post" action="/logout" style="margin:0" { button type="submit" { "退出" } }
    }
}

pub async fn login_form() -> Html<String> {
    page("登录", None, login_body(None))
}

fn login_body(error: Option<&str>) -> Markup {
    html! {
        form class="login" method="post" action="/login" {
            @if let Some(e) = error { p class="err" { (e) } }
            label { "用户名" input name="name" autocomplete="username" required; }
            label { "密码" input name="password" type="password" autocomplete="current-password" required; }
            button type="submit" { "登录" }
        }
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
}

/// The login form's answer. The client address is the TCP peer's (a proxy in front would need
/// its own limits: forwarded headers are not trusted).
pub async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    FormBody(form): FormBody<LoginForm>,
) -> Response {
    let address = peer.map(|Extension(ConnectInfo(a))| a.ip());
    match auth::login(&state, &form.name, &form.password, address).await {
        Ok(auth::Login::Session(token)) => {
            let _ = state.store.audit(&form.name, "login", "dashboard", state.now()).await;
            let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Ok(auth::Login::Refused) => {
            (axum::http::StatusCode::UNAUTHORIZED, page("登录", None, login_body(Some("用户名或密码错误"))))
                .into_response()
        }
        Ok(auth::Login::Throttled(wait)) => {
            // Rounded up, so a client that obeys never comes back early.
            let seconds = ((wait.num_milliseconds() + 999) / 1000).max(1);
            let minutes = (seconds + 59) / 60;
            let message = format!("登录失败次数过多，请 {minutes} 分钟后再试");
            (
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, seconds.to_string())],
                page("登录", None, login_body(Some(&message))),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "login");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                page("登录", None, login_body(Some("登录失败，请稍后重试"))),
            )
                .into_response()
        }
    }
}

pub async fn logout(State(state): State<AppState>, parts: Parts) -> Response {
    if let Some(token) = auth::session_token(&parts) {
        let _ = state.store.remove_token(&auth::token_hash(&token)).await;
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// A count as people read it: `2,902`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A figure that links to the list behind it (whose total is the figure).
pub fn linked(n: i64, href: &str) -> Markup {
    html! { a href=(href) { (thousands(n)) } }
}

/// A header row of plain column titles.
pub fn header_row(titles: &[&str]) -> Markup {
    html! { tr { @for t in titles { th { (t) } } } }
}

/// The one statement of each measure (SPEC §7), shown under every table that uses them.
pub const DEFINITIONS: &[(&str, &str)] = &[
    ("已逾期", "截止日期（决定日期起第 N 个工作日 24:00）已过、省平台尚未接收的记录"),
    ("部门未报送", "已逾期，且部门在截止日期之后才交给网关"),
    ("已退回待补正", "已逾期，平台退回后部门尚未补正"),
    ("推送失败/平台异常", "已逾期，但记录在截止日期前已到达网关，因推送或平台原因未被接收；不计入部门"),
    ("已逾期（计入部门）", "已逾期中的部门未报送与已退回待补正；推送失败/平台异常不计入部门"),
    ("推送未成功", "即推送失败/平台异常：已逾期，但记录在截止日期前已到达网关；不计入部门"),
    ("即将到期", "尚未接收、剩余不超过规定工作日的记录"),
    ("补正超期", "平台退回后超过规定工作日仍未补正的记录"),
    ("迟报率", "当期被省平台接收的记录中，首次接收晚于截止日期的比例（补报不计）；及时率 = 1 − 迟报率"),
    ("合规率", "当期（按导入月份）提交的数据行中通过校验的比例"),
    ("漏报", "已知存在（部门台账、被拒且未更正、被退回且从未接收）但从未被省平台接收的决定"),
];

/// The definitions of `terms`, as a footnote.
pub fn definitions(terms: &[&str]) -> Markup {
    html! {
        dl class="defs" {
            @for (term, text) in DEFINITIONS.iter().filter(|(t, _)| terms.contains(t)) {
                dt { (term) } dd { (text) }
            }
        }
    }
}

/// 总览: 今日催办 first (who to chase today, and why), a red banner while a platform fails,
/// then the figures, each a link to its list; the connectors and the delivery queue.
pub async fn overview(State(state): State<AppState>, caller: Caller) -> Result<Html<String>, ApiError> {
    let o = overview_for(&state, &caller).await?;
    let _ = state.store.audit(&caller.name, "view", "page:overview", state.now()).await;
    let ops = caller.scope().is_none();
    let settings = state.settings();
    let body = html! {
        @for out in &o.outages { (outage_banner(out)) }
        @for year in &o.calendar_missing_years { (missing_calendar(*year)) }
        (figure_cards(&o, ops))
        (chase_table(&o))
        (definitions(&["已逾期", "部门未报送", "已退回待补正", "推送失败/平台异常", "即将到期", "补正超期"]))
        p class="note" { "补正期限：退回后 " (o.correction_working_days) " 个工作日。" }
        (department_table(&o.departments))
        (definitions(&["迟报率", "已逾期（计入部门）"]))
        (connector_table(&settings, &o.connectors))
        @if ops { (delivery_queue(&o.deliveries)) }
    };
    Ok(page("总览", Some(&caller), body))
}

/// The red banner of a platform whose pushes fail now.
fn outage_banner(out: &OutageLine) -> Markup {
    let why = out.http_status.map_or_else(|| out.error.clone(), |c| format!("HTTP {c}"));
    html! {
        p class="alarm" id={ "outage-" (out.destination) } {
            (out.title) "推送失败（" (why) "），" (thousands(out.pending)) " 条待推送，自 " (out.since_local)
            " 起。因此逾期的记录计入“推送失败/平台异常”，不计入部门。"
        }
    }
}

/// The warning for a year whose deadlines are reckoned without its holidays.
fn missing_calendar(year: i32) -> Markup {
    html! {
        p class="warn" {
            "缺少 " (year) " 年节假日安排：截止日期延伸到该年的记录暂按周末计算（临时），请在 config/calendar/"
            (year) ".toml 中添加国务院办公厅通知。"
        }
    }
}

/// Whether a card turns red when its figure is not zero.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tone {
    Plain,
    RedWhenAny,
}

/// One figure of 总览: a link to its list, or a plain box where the caller has no list.
fn card(id: &str, label: &str, n: i64, tone: Tone, href: Option<&str>) -> Markup {
    let bad = tone == Tone::RedWhenAny && n > 0;
    let inner = html! { (label) b { (thousands(n)) } };
    html! {
        @match href {
            Some(h) => a.card.bad[bad] id={ "card-" (id) } href=(h) { (inner) },
            None => div.card.bad[bad] id={ "card-" (id) } { (inner) },
        }
    }
}

fn figure_cards(o: &Overview, ops: bool) -> Markup {
    use crate::glossary;
    let c = &o.counts;
    let month = o.today.get(..7).unwrap_or("");
    let late = format!("/deadlines?status=reported_late&reported_month={month}");
    html! {
        p { "今日：" (o.today) "（数据截至 " (glossary::local_time(&o.as_of)) "）" }
        div class="cards" {
            (card("records", "记录总数", c.records, Tone::Plain, Some("/deadlines?status=all")))
            (card("overdue", "已逾期", c.overdue, Tone::RedWhenAny, Some("/deadlines?status=overdue")))
            (card("due-soon", "即将到期", c.due_soon, Tone::Plain, Some("/deadlines?status=due_soon")))
            (card("late", "本月迟报", c.late, Tone::RedWhenAny, Some(&late)))
            (card("returned", "退回待补正", c.returned, Tone::RedWhenAny, Some("/problems")))
            (card("dead", "推送失败（死信）", c.dead_letters, Tone::RedWhenAny,
                ops.then_some("/deliveries?status=dead&source=record")))
            (card("withdrawals", "待撤下公示", o.withdrawals_due, Tone::RedWhenAny, Some("/publicity")))
        }
    }
}

/// 今日催办: per department, overdue by cause (what is not the department's is grey), what
/// falls due soon, corrections past their time and the oldest overdue.
fn chase_table(o: &Overview) -> Markup {
    html! {
        h2 { "今日催办" }
        table id="chase" {
            tr {
                th rowspan="2" { "部门" }
                th colspan="3" { "已逾期（按原因）" }
                th rowspan="2" { "2 个工作日内到期" }
                th rowspan="2" { "补正超期" }
                th rowspan="2" { "最久逾期（天）" }
            }
            tr {
                th { "部门未报送" }
                th { "已退回待补正" }
                th { "推送失败/平台异常" br; small { "不计入部门" } }
            }
            @for r in &o.chase { (chase_row(r, o.corrections_due_by.as_deref())) }
        }
    }
}

fn chase_row(r: &ChaseRow, corrections_due_by: Option<&str>) -> Markup {
    let d = r.id.as_str();
    let overdue = |cause: &str| format!("/deadlines?department={d}&status=overdue&cause={cause}");
    html! {
        tr id={ "chase-" (d) } {
            td { (r.name) }
            td.n.hot[r.overdue_department > 0] { (linked(r.overdue_department, &overdue("department"))) }
            td.n.hot[r.overdue_returned > 0] { (linked(r.overdue_returned, &overdue("returned"))) }
            td class="n ours" { (linked(r.overdue_push, &overdue("push"))) }
            td class="n" { (linked(r.due_soon, &format!("/deadlines?department={d}&status=due_soon"))) }
            td.n.hot[r.corrections_overdue > 0] {
                @match corrections_due_by {
                    Some(by) => (linked(r.corrections_overdue, &format!("/problems?department={d}&returned_by={by}"))),
                    None => "0",
                }
            }
            td class="n" { (r.oldest_days_overdue.map_or_else(|| "—".to_string(), |n| n.to_string())) }
        }
    }
}

/// Per department: its records, 迟报率 and what is charged to it today.
fn department_table(departments: &[DepartmentLine]) -> Markup {
    let charged = Cause::list_str(&Cause::CHARGED);
    html! {
        h2 { "部门" }
        table id="departments" {
            (header_row(&["部门", "记录", "迟报率（累计）", "已逾期（计入部门）", "退回待补正"]))
            @for d in departments {
                @let id = d.id.as_str();
                tr id={ "department-" (id) } {
                    td { a href={ "/departments?department=" (id) } { (d.name) } }
                    td class="n" { (linked(d.records, &format!("/deadlines?department={id}&status=all"))) }
                    td class="n" { (percent(d.late_rate)) }
                    td class="n" {
                        (linked(d.overdue, &format!("/deadlines?department={id}&status=overdue&cause={charged}")))
                    }
                    td class="n" { (linked(d.returned, &format!("/problems?department={id}"))) }
                }
            }
        }
    }
}

fn connector_table(settings: &Settings, connectors: &[ConnectorLine]) -> Markup {
    html! {
        h2 { "连接器" }
        div class="scroll" {
            table id="connectors" {
                (header_row(&["连接器", "部门", "状态", "上次运行", "下次运行", "累计行数", "错误次数", "最近错误"]))
                @for k in connectors {
                    tr {
                        td { a href={ "/connectors#" (k.name) } { (k.name) } }
                        (super::operations::connector_cells(settings, k))
                    }
                }
            }
        }
    }
}

/// The outbox by status (the gateway's staff only).
fn delivery_queue(deliveries: &[StatusCount]) -> Markup {
    html! {
        h2 { "投递队列" }
        table id="deliveries" {
            (header_row(&["状态", "数量"]))
            @for s in deliveries {
                tr {
                    td { (crate::glossary::delivery_status(&s.status)) }
                    td class="n" { (linked(s.count, &format!("/deliveries?status={}", s.status))) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_by_construction() {
        let value = "<script>\"x\"&'y'</script>";
        let Html(html) = page(value, None, html! { p title=(value) { (value) } });
        let escaped = "&lt;script&gt;&quot;x&quot;&amp;'y'&lt;/script&gt;";
        assert!(html.contains(&format!("<title>{escaped} - 信用信息网关</title>")), "{html}");
        assert!(html.contains(&format!("<p title=\"{escaped}\">{escaped}</p>")), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }
}
