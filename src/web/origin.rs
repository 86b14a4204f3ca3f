//! Cross-site request forgery: a write (POST, PUT, PATCH, DELETE) that rides on the session
//! cookie must say, by `Origin` (or `Referer` when a browser sends no `Origin`), that it comes
//! from a page of the host it was sent to. `SameSite=Strict` alone leaves older browsers and
//! same-site neighbours (another service on a sibling subdomain) able to post the admin's forms.
//!
//! Calls with a bearer token are exempt: a token is no ambient credential, a foreign page
//! cannot make the browser send it.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth;
use super::pages::{esc, page};

/// Refuses a cookie-borne write whose origin is not the host it was sent to; lets every
/// other request through.
pub async fn same_origin_writes(request: Request, next: Next) -> Response {
    let Err(seen) = check(request.method(), request.headers()) else {
        return next.run(request).await;
    };
    tracing::warn!(path = %request.uri().path(), origin = %seen, "cross-site write refused");
    let message = "跨站请求已拒绝：请求来源与本站不一致，请从本站页面重新操作";
    if request.uri().path().starts_with("/api/") {
        let body = serde_json::json!({"error": "cross_site", "message": message});
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    let body = format!("<p class=\"err\">{message}</p><p>请求来源：{}</p>", esc(&seen));
    (StatusCode::FORBIDDEN, page("拒绝访问", None, maud::PreEscaped(body))).into_response()
}

/// `Err` with the origin seen (or a note that there was none) when the request must be refused.
fn check(method: &Method, headers: &HeaderMap) -> Result<(), String> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    if safe || !auth::rides_on_cookie(headers) {
        return Ok(());
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    // `Origin: null` (a sandboxed frame, a redirect across sites) names no origin at all.
    let seen = match text(header::ORIGIN) {
        Some(origin) => origin,
        None => text(header::REFERER).ok_or_else(|| "（无 Origin 与 Referer）".to_string())?,
    };
    // The scheme is not compared: behind a TLS proxy the page is https and the request to us http.
    match authority(seen) {
        Some(a) if !host.is_empty() && a.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(seen.to_string()),
    }
}

/// `host[:port]` of an absolute URL (`http://h:8080/path?q` → `h:8080`).
fn authority(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    (!authority.is_empty()).then_some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    const COOKIE: (&str, &str) = ("cookie", "cg_session=abc");
    const HOST: (&str, &str) = ("host", "gw.example:8080");

    #[test]
    fn cookie_writes_need_their_own_origin() {
        let own = headers(&[COOKIE, HOST, ("origin", "http://gw.example:8080")]);
        assert_eq!(check(&Method::POST, &own), Ok(()));
        let tls = headers(&[COOKIE, HOST, ("origin", "https://GW.example:8080")]);
        assert_eq!(check(&Method::POST, &tls), Ok(()));
        let evil = headers(&[COOKIE, HOST, ("origin", "http://evil.example")]);
        assert_eq!(check(&Method::POST, &evil), Err("http://evil.example".into()));
        let other_port = headers(&[COOKIE, HOST, ("origin", "http://gw.example:9090")]);
        assert!(check(&Method::DELETE, &other_port).is_err());
        let null = headers(&[COOKIE, HOST, ("origin", "null"), ("referer", "http://gw.example:8080/")]);
        assert!(check(&Method::POST, &null).is_err(), "Origin: null names no origin");
        let neither = headers(&[COOKIE, HOST]);
        assert!(check(&Method::PUT, &neither).is_err());
    }

    #[test]
    fn the_referer_stands_in_for_a_missing_origin() {
        let own = headers(&[COOKIE, HOST, ("referer", "http://gw.example:8080/deliveries?dead=1")]);
        assert_eq!(check(&Method::POST, &own), Ok(()));
        let evil = headers(&[COOKIE, HOST, ("referer", "http://gw.example.evil.example/gw.example:8080")]);
        assert!(check(&Method::POST, &evil).is_err());
    }

    #[test]
    fn reads_bearer_calls_and_anonymous_posts_pass() {
        let evil = [("origin", "http://evil.example"), HOST];
        assert_eq!(check(&Method::GET, &headers(&[COOKIE, evil[0], evil[1]])), Ok(()));
        let bearer = headers(&[COOKIE, evil[0], evil[1], ("authorization", "Bearer t")]);
        assert_eq!(check(&Method::POST, &bearer), Ok(()));
        assert_eq!(check(&Method::POST, &headers(&evil)), Ok(()), "a login form has no session yet");
    }
}
