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
header{background:#1f4e79;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}\
header a{color:#fff;text-decoration:none}header .who{margin-left:auto}\
main{padding:16px}h1{font-size:20px}table{border-collapse:collapse;background:#fff;margin:8px 0 16px}\
th,td{border:1px solid #ccd;padding:4px 8px;text-align:left}th{background:#e8eef5}\
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #ccd;padding:10px 14px;min-width:120px}\
.card b{display:block;font-size:24px}.bad b{color:#b00}.warn{background:#fff3cd;border:1px solid #e0c36c;padding:8px;margin:8px 0}\
form.login{background:#fff;border:1px solid #ccd;padding:16px;width:280px;margin:60px auto}\
form.login input{display:block;width:100%;margin:6px 0 12px;padding:4px}.err{color:#b00}\
form.stack{background:#fff;border:1px solid #ccd;padding:12px;max-width:640px}form.stack label{display:block;margin:6px 0}\
header form.search{margin:0}header form.search input{width:220px}\
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
        let who = match &c.department {
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

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

const CONNECTOR_STATUS: [(&str, &str); 5] =
    [("ok", "正常"), ("idle", "空闲"), ("error", "出错"), ("never", "未运行"), ("disabled", "已停用")];

const DELIVERY_STATUS: [(&str, &str); 6] = [
    ("pending", "待推送"),
    ("in_flight", "推送中"),
    ("accepted", "已接收"),
    ("returned", "已退回"),
    ("dead", "死信"),
    ("superseded", "已被新版本取代"),
];

fn zh<'a>(table: &[(&str, &'a str)], code: &'a str) -> &'a str {
    table.iter().find(|(c, _)| *c == code).map_or(code, |(_, z)| z)
}

/// 总览: today's overdue and due soon, this month's lateness, returns, dead letters, the
/// departments, the connectors, calendar warnings and the delivery queue.
pub async fn overview(State(state): State<AppState>, caller: Caller) -> Result<Html<String>, ApiError> {
    let o = overview_for(&state, &caller).await?;
    let _ = state.store.audit(&caller.name, "view", "page:overview", state.now()).await;
    let mut body = String::new();
    for year in &o.calendar_missing_years {
        let _ = write!(
            body,
            "<p class=\"warn\">缺少 {year} 年节假日安排：截止日期延伸到该年的记录暂按周末计算（临时），\
             请在 config/calendar/{year}.toml 中添加国务院办公厅通知。</p>"
        );
    }
    let c = &o.counts;
    let card = |label: &str, n: i64, bad: bool| {
        format!(
            "<div class=\"card{}\" id=\"card-{label}\">{label}<b>{n}</b></div>",
            if bad && n > 0 { " bad" } else { "" }
        )
    };
    let _ = write!(
        body,
        "<p>今日：{}</p><div class=\"cards\">{}{}{}{}{}{}</div>",
        esc(&o.today),
        card("记录总数", c.records, false),
        card("已逾期", c.overdue, true),
        card("即将到期", c.due_soon, false),
        card("本月迟报", c.late, true),
        card("退回待补正", c.returned, true),
        card("死信", c.dead_letters, true),
    );
    let withdrawals = state.store.withdrawals_due(state.today(), caller.scope()).await?;
    let _ =
        write!(body, "<div class=\"cards\"><a href=\"/publicity\">{}</a></div>", card("待撤下公示", withdrawals, true));
    body.push_str("<h2>部门</h2><table id=\"departments\"><tr><th>部门</th><th>记录</th><th>迟报率</th><th>已逾期</th><th>退回待补正</th></tr>");
    for d in &o.departments {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.name),
            d.records,
            percent(d.late_rate),
            d.overdue,
            d.returned
        );
    }
    body.push_str("</table><h2>连接器</h2><table id=\"connectors\"><tr><th>连接器</th><th>部门</th><th>状态</th><th>上次运行</th><th>下次运行</th><th>累计行数</th><th>错误次数</th><th>最近错误</th></tr>");
    for k in &o.connectors {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k.name),
            esc(&k.department),
            zh(&CONNECTOR_STATUS, &k.status),
            esc(k.last_run.as_deref().unwrap_or("—")),
            esc(k.next_run.as_deref().unwrap_or("—")),
            k.rows_total,
            k.errors_total,
            esc(k.last_error.as_deref().unwrap_or(""))
        );
    }
    body.push_str("</table>");
    if caller.scope().is_none() {
        body.push_str("<h2>投递队列</h2><table id=\"deliveries\"><tr><th>状态</th><th>数量</th></tr>");
        for s in &o.deliveries {
            let _ = write!(body, "<tr><td>{}</td><td>{}</td></tr>", zh(&DELIVERY_STATUS, &s.status), s.count);
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
