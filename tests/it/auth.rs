//! Who may still get in: failed logins lock a name (and an address) for a while, answered 429;
//! API tokens and sessions end when the user is re-added, reset, revoked or removed, and when
//! the token's days are over. Users are managed through the real binary, the dashboard is
//! asked over real HTTP, on one clock that the test moves.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::store::Store;
use credit_gateway::web::{AppState, auth};
use reqwest::StatusCode;

use crate::support::*;

/// The instant the tests start at (a Monday morning in Shanghai).
const T0: &str = "2026-03-02T01:00:00Z";

fn t0() -> DateTime<Utc> {
    T0.parse().unwrap()
}

struct Dashboard {
    base: String,
    client: reqwest::Client,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Dashboard {
    async fn serve(settings: &Settings, store: &Store, clock: &Clock) -> Dashboard {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let (_cal_tx, calendar) = tokio::sync::watch::channel(settings.calendar.clone());
        let state = AppState::new(Arc::new(settings.clone()), store.clone(), calendar).with_clock(clock.clone());
        let (addr, serve) = credit_gateway::web::bind("127.0.0.1:0".parse().unwrap(), state, stop).await.unwrap();
        tokio::spawn(serve);
        credit_gateway::connector::http::install_crypto_provider();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Dashboard { base: format!("http://{addr}"), client, _stop: stop_tx }
    }

    /// The API's answer to `token`.
    async fn api(&self, token: &str) -> StatusCode {
        let r = self.client.get(format!("{}/api/v1/overview", self.base)).bearer_auth(token).send().await.unwrap();
        r.status()
    }

    /// POSTs the login form.
    async fn login(&self, name: &str, password: &str) -> reqwest::Response {
        let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        self.client
            .post(format!("{}/login", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("name={}&password={}", enc(name), enc(password)))
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the session cookie.
    async fn session(&self, name: &str, password: &str) -> String {
        let r = self.login(name, password).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name} logs in");
        r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
    }

    /// The overview page's answer to a session: 200, or 303 to the login.
    async fn page(&self, cookie: &str) -> StatusCode {
        self.client.get(format!("{}/", self.base)).header("cookie", cookie).send().await.unwrap().status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_lock_the_name_until_the_window_passes() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::load(&two_departments_config(dir.path())).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    for name in ["ops", "alice"] {
        auth::add_user(&store, &settings.departments, name, "ops", None, Some("口令-123"), t0()).await.unwrap();
    }
    let clock = Clock::fixed(t0());
    let web = Dashboard::serve(&settings, &store, &clock).await;

    for _ in 0..5 {
        assert_eq!(web.login("ops", "猜的").await.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is refused, without checking it.
    let r = web.login("ops", "口令-123").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "900");
    assert!(r.text().await.unwrap().contains("登录失败次数过多，请 15 分钟后再试"));
    // Another user from the same address is not locked.
    web.session("alice", "口令-123").await;

    clock.advance(TimeDelta::minutes(14));
    let r = web.login("ops", "口令-123").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "60");
    clock.advance(TimeDelta::minutes(1));
    let cookie = web.session("ops", "口令-123").await;
    assert_eq!(web.page(&cookie).await, StatusCode::OK);

    // One address guessing at many names is locked for every name.
    for i in 0..20 {
        assert_eq!(web.login(&format!("猜{i}"), "x").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(web.login("alice", "口令-123").await.status(), StatusCode::TOO_MANY_REQUESTS);
    clock.advance(TimeDelta::minutes(15));
    web.session("alice", "口令-123").await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_end_with_revoke_reset_remove_re_add_and_their_days_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    tokens_end(&sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_end_with_revoke_reset_remove_re_add_and_their_days_on_postgres() {
    let (url, name) = fresh_postgres().await;
    tokens_end(&url).await;
    drop_postgres(&name).await;
}

/// Runs the binary at T0 (or `at`) and returns its stdout; it must succeed.
fn cli_at(url: &str, at: &str, args: &[&str]) -> String {
    let mut all = vec!["--now", at];
    all.extend_from_slice(args);
    let out = gateway(url, &all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn cli(url: &str, args: &[&str]) -> String {
    cli_at(url, T0, args)
}

/// The API token a `users add` or `users reset` printed.
fn token_of(printed: &str) -> String {
    printed.lines().find_map(|l| l.strip_prefix("API 令牌：")).unwrap_or_else(|| panic!("{printed}")).to_string()
}

async fn tokens_end(url: &str) {
    let printed = cli(url, &["users", "add", "ops", "--role", "ops", "--password", "口令-123"]);
    assert!(printed.contains("令牌有效至：2026-05-31T01:00:0"), "90 days: {printed}");
    let first = token_of(&printed);

    let mut settings = Settings::load(&config_file()).unwrap_or_else(|e| panic!("{e}"));
    settings.gateway.database_url = url.to_string();
    let store = Store::connect(url).await.unwrap();
    let clock = Clock::fixed(t0());
    let web = Dashboard::serve(&settings, &store, &clock).await;

    // `tokens revoke` ends the API token and the page session at once.
    assert_eq!(web.api(&first).await, StatusCode::OK);
    let cookie = web.session("ops", "口令-123").await;
    assert_eq!(web.page(&cookie).await, StatusCode::OK);
    assert!(cli(url, &["tokens", "revoke", "ops"]).contains("已吊销用户 ops 的 2 个会话和 API 令牌"));
    assert_eq!(web.api(&first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(web.page(&cookie).await, StatusCode::SEE_OTHER);

    // `users reset`: a new password and token; the old password no longer logs in.
    let printed = cli(url, &["users", "reset", "ops"]);
    assert!(printed.contains("用户：ops（运维）"), "{printed}");
    let password = printed.lines().find_map(|l| l.strip_prefix("密码：")).unwrap().to_string();
    let second = token_of(&printed);
    assert_eq!(web.api(&second).await, StatusCode::OK);
    assert_eq!(web.login("ops", "口令-123").await.status(), StatusCode::UNAUTHORIZED);
    let cookie = web.session("ops", &password).await;

    // Re-added under another role: the token and session of the old role end.
    let printed = cli(url, &["users", "add", "ops", "--role", "department", "--department", "tax"]);
    let third = token_of(&printed);
    assert_eq!(web.api(&second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(web.page(&cookie).await, StatusCode::SEE_OTHER);
    assert_eq!(web.api(&third).await, StatusCode::OK);

    // `users remove`: the token ends and the name no longer logs in.
    let password = printed.lines().find_map(|l| l.strip_prefix("密码：")).unwrap().to_string();
    assert!(cli(url, &["users", "remove", "ops"]).contains("已删除用户 ops"));
    assert_eq!(web.api(&third).await, StatusCode::UNAUTHORIZED);
    assert_eq!(web.login("ops", &password).await.status(), StatusCode::UNAUTHORIZED);
    assert!(!cli(url, &["users", "list"]).contains("ops"));
    let again = gateway(url, &["users", "remove", "ops"]);
    assert!(!again.status.success() && stderr(&again).contains("没有用户 \"ops\""), "{}", stderr(&again));
    let unknown = gateway(url, &["tokens", "revoke", "ops"]);
    assert!(!unknown.status.success() && stderr(&unknown).contains("没有用户"), "{}", stderr(&unknown));

    // An API token ends after its days, on the daemon's clock.
    let robot = token_of(&cli(url, &["users", "add", "robot", "--role", "ops"]));
    // (The command's clock started at T0 and ran on for the moment the command took.)
    clock.advance(TimeDelta::days(90) - TimeDelta::minutes(1));
    assert_eq!(web.api(&robot).await, StatusCode::OK);
    clock.advance(TimeDelta::minutes(2));
    assert_eq!(web.api(&robot).await, StatusCode::UNAUTHORIZED);
    // `users reset` hands out a new one, valid from the moment of the reset.
    let late = (t0() + TimeDelta::days(90)).to_rfc3339();
    let renewed = token_of(&cli_at(url, &late, &["users", "reset", "robot"]));
    assert_eq!(web.api(&renewed).await, StatusCode::OK);
    store.close().await;
}
