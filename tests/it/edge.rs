//! The dashboard's edge over real sockets on 127.0.0.1: stalled clients are closed and capped,
//! cookie-borne writes from another site are refused, and `/readyz` proves the store writes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use credit_gateway::config::Settings;
use credit_gateway::store::Store;
use credit_gateway::web::{AppState, auth};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Generous bound for things that must happen; nothing waits for it unless they do not.
const AT_MOST: Duration = Duration::from_secs(20);

struct Dashboard {
    addr: SocketAddr,
    base: String,
    client: reqwest::Client,
    /// The server runs while this is kept.
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Dashboard {
    async fn serve(settings: &Settings, store: &Store) -> Dashboard {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let (_cal_tx, calendar) = tokio::sync::watch::channel(settings.calendar.clone());
        let state = AppState::new(Arc::new(settings.clone()), store.clone(), calendar);
        let (addr, serve) = credit_gateway::web::bind("127.0.0.1:0".parse().unwrap(), state, stop).await.unwrap();
        tokio::spawn(serve);
        credit_gateway::connector::http::install_crypto_provider();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Dashboard { addr, base: format!("http://{addr}"), client, _stop: stop_tx }
    }

    /// A socket that has sent `bytes` and nothing more.
    async fn socket_sending(&self, bytes: &[u8]) -> TcpStream {
        let mut socket = TcpStream::connect(self.addr).await.unwrap();
        socket.write_all(bytes).await.unwrap();
        socket
    }

    async fn readyz(&self) -> (StatusCode, String) {
        let r = self.client.get(format!("{}/readyz", self.base)).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

/// Reads until the server closes the socket (or resets it); `None` if it is still open after `bound`.
async fn read_until_closed(socket: &mut TcpStream, bound: Duration) -> Option<String> {
    let mut got = Vec::new();
    match tokio::time::timeout(bound, socket.read_to_end(&mut got)).await {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

async fn sqlite_settings(root: &std::path::Path) -> Settings {
    Settings::load(&two_departments_config(root)).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_requests_and_idle_connections_are_closed_after_the_header_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path()).await;
    let timeout = Duration::from_millis(500);
    settings.gateway.header_read_timeout = timeout;
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let web = Dashboard::serve(&settings, &store).await;

    // Half a request line, then nothing: the slowloris of the issue.
    let started = Instant::now();
    let mut partial = web.socket_sending(b"GET /hea").await;
    let said = read_until_closed(&mut partial, AT_MOST).await.expect("a stalled request is never closed");
    assert!(started.elapsed() >= timeout, "closed before the timeout: {:?}", started.elapsed());
    assert!(!said.contains("200 OK"), "{said}");

    // A whole head with a header line missing its end: the same.
    let mut headers = web.socket_sending(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1").await;
    read_until_closed(&mut headers, AT_MOST).await.expect("an unfinished head is never closed");

    // A kept-alive connection is answered, then closed when no next request comes.
    let mut kept = web.socket_sending(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let said = read_until_closed(&mut kept, AT_MOST).await.expect("an idle kept-alive connection is never closed");
    assert!(said.starts_with("HTTP/1.1 200") && said.ends_with("ok\n"), "{said}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_and_are_served_once_others_close() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path()).await;
    let cap = 4;
    settings.gateway.max_connections = cap;
    // Long enough that the stalled sockets hold their places for the whole test.
    settings.gateway.header_read_timeout = Duration::from_secs(120);
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let web = Dashboard::serve(&settings, &store).await;

    // The cap and three more, each stalled in its request line.
    let mut stalled = Vec::new();
    for _ in 0..cap + 3 {
        stalled.push(web.socket_sending(b"GET /hea").await);
    }
    // A health check queued behind them is not taken while every place is held...
    let mut health = web.socket_sending(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), health.read(&mut byte)).await;
    assert!(early.is_err(), "a connection beyond the cap of {cap} was served: {early:?}");
    // ...and answered once they go away: places come back, the queue drains, nothing wedges.
    drop(stalled);
    let said = read_until_closed(&mut health, AT_MOST).await.expect("the health check is never answered");
    assert!(said.starts_with("HTTP/1.1 200") && said.ends_with("ok\n"), "{said}");
    // And the dashboard goes on serving as usual.
    let r = web.client.get(format!("{}/healthz", web.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_borne_writes_from_another_site_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(dir.path()).await;
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let now = chrono::Utc::now();
    let admin = auth::add_user(&store, &settings.departments, "admin", "admin", None, Some("口令-123"), now);
    let token = admin.await.unwrap().api_token;
    let web = Dashboard::serve(&settings, &store).await;

    // Logging in has no session to abuse yet: no origin needed.
    let r = web
        .client
        .post(format!("{}/login", web.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=admin&password=%E5%8F%A3%E4%BB%A4-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let own = web.base.clone();
    let post = |path: &str, body: &'static str, headers: &[(&'static str, String)]| {
        let mut req = web
            .client
            .post(format!("{}{path}", web.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        req.send()
    };
    let with_cookie = |extra: &[(&'static str, String)]| {
        let mut headers = vec![("cookie", cookie.clone())];
        headers.extend_from_slice(extra);
        headers
    };

    // The request: the admin's cookie, a form posted from evil.example.
    let evil = ("origin", "http://evil.example".to_string());
    let r = post("/connectors/run", "name=market-penalties", &with_cookie(std::slice::from_ref(&evil))).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(html.contains("跨站请求已拒绝") && html.contains("evil.example"), "{html}");
    let r = post("/deliveries/retry", "dead=1", &with_cookie(std::slice::from_ref(&evil))).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post("/logout", "", &with_cookie(std::slice::from_ref(&evil))).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "another site may not end the session either");
    // A referer from elsewhere, or no origin at all, is refused too.
    let referer = ("referer", "http://evil.example/page".to_string());
    assert_eq!(post("/deliveries/retry", "dead=1", &with_cookie(&[referer])).await.unwrap().status(), 403);
    assert_eq!(post("/deliveries/retry", "dead=1", &with_cookie(&[])).await.unwrap().status(), 403);

    // The same form from our own page goes through, by Origin or by Referer.
    let origin = ("origin", own.clone());
    let r = post("/deliveries/retry", "dead=1", &with_cookie(std::slice::from_ref(&origin))).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let referer = ("referer", format!("{own}/deliveries"));
    let r = post("/deliveries/retry", "dead=1", &with_cookie(&[referer])).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Run now passes the check and reaches the handler (no daemon runs connectors here).
    let r =
        post("/connectors/run", "name=market-penalties", &with_cookie(std::slice::from_ref(&origin))).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // A program with its bearer token carries no ambient credential: no origin asked.
    let bearer = ("authorization", format!("Bearer {token}"));
    let r = post("/deliveries/retry", "dead=1", &[bearer, evil]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Logging out from our own page works.
    let r = post("/logout", "", &with_cookie(&[origin])).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_when_the_sqlite_wal_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(dir.path()).await;
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let web = Dashboard::serve(&settings, &store).await;
    assert_eq!(web.readyz().await, (StatusCode::OK, "ready\n".to_string()));

    // The accident: the WAL file removed under the running daemon. Reads still
    // answer, but writes of every connection opened from now on fail.
    let wal = dir.path().join("gateway.db-wal");
    assert!(wal.exists(), "the open store keeps its WAL");
    std::fs::remove_file(&wal).unwrap();
    let (status, body) = web.readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.starts_with("未就绪：数据库不接受写入"), "{body}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_when_postgres_turns_read_only() {
    let (url, name) = fresh_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path()).await;
    settings.gateway.database_url = url;
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let web = Dashboard::serve(&settings, &store).await;
    assert_eq!(web.readyz().await, (StatusCode::OK, "ready\n".to_string()));

    // The database turns read-only (as a standby after a failover does) and the sessions
    // are cut: reads still answer, writes fail.
    let admin = sqlx::PgPool::connect(&postgres_admin_url()).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} SET default_transaction_read_only = on"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&admin)
        .await
        .unwrap();
    let (status, body) = web.readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.starts_with("未就绪：数据库不接受写入") && body.contains("read-only"), "{body}");
    store.close().await;
    admin.close().await;
    drop_postgres(&name).await;
}
