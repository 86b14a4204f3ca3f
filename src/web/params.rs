//! Request parameters and bodies that are refused in Chinese. axum's own `Query`, `Form` and
//! `Json` answer a mistyped value (`offset=abc`) with English plain text; these wrap them and
//! answer 400 with a Chinese reason naming the parameter: `ErrorBody` JSON under `/api/`, a
//! page elsewhere.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::de::DeserializeOwned;

use super::api::ErrorBody;

/// The query string, as `axum::extract::Query`.
pub struct Params<T>(pub T);

/// Path segments, as `axum::extract::Path`.
pub struct PathParam<T>(pub T);

/// A form body, as `axum::Form`.
pub struct FormBody<T>(pub T);

/// A JSON body, as `axum::Json`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(e) => Err(refusal(parts.uri.path(), "查询参数", &e.body_text())),
        }
    }
}

impl<S, T> FromRequestParts<S> for PathParam<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(PathParam(v)),
            // The only path parameters are numbers (ids) and codes: a wrong one names nothing.
            Err(_) => Err(not_found(parts.uri.path())),
        }
    }
}

/// 404 for what no route or no such thing answers: JSON under `/api/`, a page elsewhere.
pub fn not_found(path: &str) -> Response {
    let message = "未找到：地址有误，或所查记录不存在".to_string();
    if path.starts_with("/api/") {
        let body = ErrorBody { error: "not_found".into(), message };
        (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
    } else {
        let body = html! { p class="err" { (message) } p { a href="/" { "回到总览" } } };
        (StatusCode::NOT_FOUND, super::pages::page("未找到", None, body)).into_response()
    }
}

/// The router's fallback: [`not_found`].
pub async fn fallback(uri: axum::http::Uri) -> Response {
    not_found(uri.path())
}

impl<S, T> FromRequest<S> for FormBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let path = request.uri().path().to_string();
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(v)) => Ok(FormBody(v)),
            Err(e) => Err(refusal(&path, "表单", &e.body_text())),
        }
    }
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let path = request.uri().path().to_string();
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(refusal(&path, "请求内容（JSON）", &e.body_text())),
        }
    }
}

/// 400 with the reason in Chinese: JSON for the API, a page for a person.
fn refusal(path: &str, what: &str, detail: &str) -> Response {
    let message = reason(what, detail);
    if path.starts_with("/api/") {
        let body = ErrorBody { error: "bad_request".into(), message };
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    } else {
        let body = html! { p class="err" { (message) } p { a href="javascript:history.back()" { "返回" } } };
        (StatusCode::BAD_REQUEST, super::pages::page("请求有误", None, body)).into_response()
    }
}

/// serde's words (`Failed to deserialize query string: offset: invalid digit found in string`)
/// as a clerk reads them: which parameter, and what it should be.
pub fn reason(what: &str, detail: &str) -> String {
    if detail.contains("Content-Type") {
        return format!("{what}的 Content-Type 不符");
    }
    let rest = detail.split_once(": ").map_or(detail, |(_, r)| r);
    let (name, problem) = match rest.split_once(": ") {
        Some((n, p)) if !n.contains(' ') => (Some(n.trim()), p),
        _ => (None, rest),
    };
    let should = if problem.contains("invalid digit") || problem.contains("number too large") {
        "应为整数"
    } else if problem.contains("invalid float") {
        "应为数字"
    } else if problem.contains("provided string was not `true` or `false`") || problem.contains("invalid type: string")
    {
        "取值类型不符"
    } else if let Some(field) = problem.strip_prefix("missing field `").and_then(|f| f.split('`').next()) {
        return format!("{what}缺少“{field}”");
    } else if problem.contains("unknown variant") {
        "不是可选值之一"
    } else if problem.contains("EOF") || problem.contains("expected") || problem.contains("syntax") {
        "格式不正确"
    } else {
        "无法识别"
    };
    match name {
        Some(n) => format!("{what}“{n}”{should}"),
        None => format!("{what}{should}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_errors_become_chinese_reasons_naming_the_parameter() {
        assert_eq!(
            reason("查询参数", "Failed to deserialize query string: offset: invalid digit found in string"),
            "查询参数“offset”应为整数"
        );
        assert_eq!(
            reason(
                "请求内容（JSON）",
                "Failed to deserialize the JSON body into the target type: missing field `ground` at line 1 column 2"
            ),
            "请求内容（JSON）缺少“ground”"
        );
        assert_eq!(
            reason(
                "请求内容（JSON）",
                "Failed to parse the request body as JSON: EOF while parsing an object at line 1 column 1"
            ),
            "请求内容（JSON）格式不正确"
        );
        assert_eq!(reason("表单", "Failed to deserialize form: x: weird"), "表单“x”无法识别");
        assert_eq!(
            reason("请求内容（JSON）", "Expected request with `Content-Type: application/json`"),
            "请求内容（JSON）的 Content-Type 不符"
        );
    }
}
