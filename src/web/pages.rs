//! The dashboard's pages: server-rendered HTML in Chinese, a little CSS, no script needed.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::AppState;
use super::api::{ApiError, overview_for};
use super::auth::{self, Caller, SESSION_COOKIE};
use crate::store::Cause;

/// Text made safe for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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
.alarm{background:#b00;color:#fff;padding:10px 14px;font-weight:bold;margin:8px 0}\
a.card{color:#222;text-decoration:none}a.card:hover{border-color:#1f4e79}td.n{text-align:right}td.hot a{color:#b00;font-weight:bold}\
td.ours{color:#666}.overdue-mark{color:#b00;font-weight:bold}dl.defs{font-size:12px;color:#555;margin:0 0 16px}\
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
    ("/connectors", "连接器"),
    ("/deliveries", "投递"),
];

/// A whole page with the navigation bar.
pub fn page(title: &str, caller: Option<&Caller>, body: &str) -> Html<String> {
    let mut nav = String::new();
    if let Some(c) = caller {
        for (href, label) in NAV {
            if *href == "/deliveries" && c.scope().is_some() {
                continue;
            }
            let _ = write!(nav, "<a href=\"{href}\">{label}</a>");
        }
        nav.push_str(&super::subjects::search_box(""));
        let who = match c.department_name.as_ref().or(c.department.as_ref()) {
            Some(d) => format!("{}（{}：{}）", esc(&c.name), c.role.zh(), esc(d)),
            None => format!("{}（{}）", esc(&c.name), c.role.zh()),
        };
        let _ = write!(
            nav,
            "<span class=\"who\">{who}</span><form method=\"post\" action=\"/logout\" style=\"margin:0\">\
             <button type=\"submit\">退出</button></form>"
        );
    }
    Html(format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{t} - 信用信息网关</title>\
         <style>{STYLE}</style></head><body><header><strong>公共信用信息网关</strong>{nav}</header>\
         <main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    ))
}

pub async fn login_form() -> Html<String> {
    page("登录", None, &login_body(None))
}

fn login_body(error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"err\">{}</p>", esc(e))).unwrap_or_default();
    format!(
        "<form class=\"login\" method=\"post\" action=\"/login\">{error}\
         <label>用户名<input name=\"name\" autocomplete=\"username\" required></label>\
         <label>密码<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">登录</button></form>"
    )
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
    Form(form): Form<LoginForm>,
) -> Response {
    let address = peer.map(|Extension(ConnectInfo(a))| a.ip());
    match auth::login(&state, &form.name, &form.password, address).await {
        Ok(auth::Login::Session(token)) => {
            let _ = state.store.audit(&form.name, "login", "dashboard", state.now()).await;
            let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Ok(auth::Login::Refused) => {
            (axum::http::StatusCode::UNAUTHORIZED, page("登录", None, &login_body(Some("用户名或密码错误"))))
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
                page("登录", None, &login_body(Some(&message))),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "login");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                page("登录", None, &login_body(Some("登录失败，请稍后重试"))),
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
pub fn linked(n: i64, href: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc(href), thousands(n))
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
pub fn definitions(terms: &[&str]) -> String {
    let mut out = String::from("<dl class=\"defs\">");
    for (term, text) in DEFINITIONS.iter().filter(|(t, _)| terms.contains(t)) {
        let _ = write!(out, "<dt>{term}</dt><dd>{text}</dd>");
    }
    out.push_str("</dl>");
    out
}

/// 总览: 今日催办 first (who to chase today, and why), a red banner while a platform fails,
/// then the figures, each a link to its list; the connectors and the delivery queue.
pub async fn overview(State(state): State<AppState>, caller: Caller) -> Result<Html<String>, ApiError> {
    use crate::glossary;
    let o = overview_for(&state, &caller).await?;
    let _ = state.store.audit(&caller.name, "view", "page:overview", state.now()).await;
    let mut body = String::new();
    for out in &o.outages {
        let _ = write!(
            body,
            "<p class=\"alarm\" id=\"outage-{}\">{}推送失败（{}），{} 条待推送，自 {} 起。\
             因此逾期的记录计入“推送失败/平台异常”，不计入部门。</p>",
            esc(&out.destination),
            esc(&out.title),
            esc(&out.http_status.map_or_else(|| out.error.clone(), |c| format!("HTTP {c}"))),
            thousands(out.pending),
            esc(&out.since_local),
        );
    }
    for year in &o.calendar_missing_years {
        let _ = write!(
            body,
            "<p class=\"warn\">缺少 {year} 年节假日安排：截止日期延伸到该年的记录暂按周末计算（临时），\
             请在 config/calendar/{year}.toml 中添加国务院办公厅通知。</p>"
        );
    }
    let c = &o.counts;
    let month = o.today.get(..7).unwrap_or("");
    let card = |id: &str, label: &str, n: i64, bad: bool, href: Option<String>| {
        let class = if bad && n > 0 { "card bad" } else { "card" };
        match href {
            Some(h) => {
                format!("<a class=\"{class}\" id=\"card-{id}\" href=\"{}\">{label}<b>{}</b></a>", esc(&h), thousands(n))
            }
            None => format!("<div class=\"{class}\" id=\"card-{id}\">{label}<b>{}</b></div>", thousands(n)),
        }
    };
    let ops = caller.scope().is_none();
    let withdrawals = state.store.withdrawals_due(state.today(), caller.scope()).await?;
    let _ = write!(
        body,
        "<p>今日：{}（数据截至 {}）</p><div class=\"cards\">{}{}{}{}{}{}{}</div>",
        esc(&o.today),
        esc(&glossary::local_time(&o.as_of)),
        card("records", "记录总数", c.records, false, Some("/deadlines?status=all".into())),
        card("overdue", "已逾期", c.overdue, true, Some("/deadlines?status=overdue".into())),
        card("due-soon", "即将到期", c.due_soon, false, Some("/deadlines?status=due_soon".into())),
        card("late", "本月迟报", c.late, true, Some(format!("/deadlines?status=reported_late&reported_month={month}"))),
        card("returned", "退回待补正", c.returned, true, Some("/problems".into())),
        card(
            "dead",
            "推送失败（死信）",
            c.dead_letters,
            true,
            ops.then(|| "/deliveries?status=dead&source=record".to_string())
        ),
        card("withdrawals", "待撤下公示", withdrawals, true, Some("/publicity".into())),
    );

    body.push_str(
        "<h2>今日催办</h2><table id=\"chase\"><tr><th rowspan=\"2\">部门</th><th colspan=\"3\">已逾期（按原因）</th>\
         <th rowspan=\"2\">2 个工作日内到期</th><th rowspan=\"2\">补正超期</th><th rowspan=\"2\">最久逾期（天）</th></tr>\
         <tr><th>部门未报送</th><th>已退回待补正</th><th>推送失败/平台异常<br><small>不计入部门</small></th></tr>",
    );
    let overdue_link = |d: &str, cause: &str| format!("/deadlines?department={d}&status=overdue&cause={cause}");
    for r in &o.chase {
        let d = r.id.as_str();
        let corrections = match &o.corrections_due_by {
            Some(by) => linked(r.corrections_overdue, &format!("/problems?department={d}&returned_by={by}")),
            None => "0".into(),
        };
        let _ = write!(
            body,
            "<tr id=\"chase-{}\"><td>{}</td><td class=\"n{}\">{}</td><td class=\"n{}\">{}</td><td class=\"n ours\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n{}\">{}</td><td class=\"n\">{}</td></tr>",
            esc(d),
            esc(&r.name),
            if r.overdue_department > 0 { " hot" } else { "" },
            linked(r.overdue_department, &overdue_link(d, "department")),
            if r.overdue_returned > 0 { " hot" } else { "" },
            linked(r.overdue_returned, &overdue_link(d, "returned")),
            linked(r.overdue_push, &overdue_link(d, "push")),
            linked(r.due_soon, &format!("/deadlines?department={d}&status=due_soon")),
            if r.corrections_overdue > 0 { " hot" } else { "" },
            corrections,
            r.oldest_days_overdue.map_or_else(|| "—".to_string(), |n| n.to_string()),
        );
    }
    body.push_str("</table>");
    body.push_str(&definitions(&["已逾期", "部门未报送", "已退回待补正", "推送失败/平台异常", "即将到期", "补正超期"]));
    let _ = write!(body, "<p class=\"note\">补正期限：退回后 {} 个工作日。</p>", o.correction_working_days);

    body.push_str(
        "<h2>部门</h2><table id=\"departments\"><tr><th>部门</th><th>记录</th><th>迟报率（累计）</th><th>已逾期（计入部门）</th>\
         <th>退回待补正</th></tr>",
    );
    let charged = Cause::list_str(&Cause::CHARGED);
    for d in &o.departments {
        let id = d.id.as_str();
        let _ = write!(
            body,
            "<tr id=\"department-{}\"><td><a href=\"/departments?department={id}\">{}</a></td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(id),
            esc(&d.name),
            linked(d.records, &format!("/deadlines?department={id}&status=all")),
            percent(d.late_rate),
            linked(d.overdue, &format!("/deadlines?department={id}&status=overdue&cause={charged}")),
            linked(d.returned, &format!("/problems?department={id}")),
        );
    }
    body.push_str("</table>");
    body.push_str(&definitions(&["迟报率", "已逾期（计入部门）"]));
    body.push_str(
        "<h2>连接器</h2><div class=\"scroll\"><table id=\"connectors\"><tr><th>连接器</th><th>部门</th><th>状态</th><th>上次运行</th>\
         <th>下次运行</th><th>累计行数</th><th>错误次数</th><th>最近错误</th></tr>",
    );
    let settings = state.settings();
    for k in &o.connectors {
        let department = settings.departments.get(&k.department).map_or(k.department.as_str(), |d| d.name.as_str());
        let _ = write!(
            body,
            "<tr><td><a href=\"/connectors#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&k.name),
            esc(&k.name),
            esc(department),
            glossary::connector_status(&k.status),
            esc(&k.last_run.as_deref().map_or_else(|| "—".to_string(), glossary::local_time)),
            esc(&k.next_run.as_deref().map_or_else(|| "—".to_string(), glossary::local_time)),
            thousands(k.rows_total),
            thousands(k.errors_total),
            esc(&k.last_error.as_deref().map(glossary::push_error).unwrap_or_default())
        );
    }
    body.push_str("</table></div>");
    if ops {
        body.push_str("<h2>投递队列</h2><table id=\"deliveries\"><tr><th>状态</th><th>数量</th></tr>");
        for s in &o.deliveries {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                glossary::delivery_status(&s.status),
                linked(s.count, &format!("/deliveries?status={}", s.status))
            );
        }
        body.push_str("</table>");
    }
    Ok(page("总览", Some(&caller), &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<script>\"x\"&'y'</script>"), "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;");
    }
}
