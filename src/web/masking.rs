//! ID numbers masked in every answer the web gives to anyone but an admin: one layer over
//! all routes, so a new view or field (a business key, record content, a reason) cannot
//! forget it.
//!
//! The layer finds the caller once (the handler's [`Caller`] reuses it), runs the handler,
//! then passes a text answer (HTML, CSV, metrics) through [`ids::mask_ids_in_text`] and the
//! strings of a JSON answer through [`ids::mask_ids_in_json`]. Binary answers cannot be
//! read here: the one there is, the deadlines XLSX export, masks its cells as it writes
//! them (`deadlines::export`).

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::Caller;
use crate::ids;

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn mask_unless_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &state).await.ok();
    let admin = caller.as_ref().is_some_and(Caller::is_admin);
    if let Some(caller) = caller {
        parts.extensions.insert(caller);
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    if admin { response } else { masked(response).await }
}

/// How an answer's body can be masked, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Text,
    Opaque,
}

fn kind(response: &Response) -> Kind {
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Kind::Json
    } else if essence.starts_with("text/") {
        Kind::Text
    } else {
        Kind::Opaque
    }
}

async fn masked(response: Response) -> Response {
    let kind = kind(&response);
    if kind == Kind::Opaque {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "reading an answer to mask it");
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "服务器内部错误，请稍后重试").into_response();
        }
    };
    let body = match (kind, std::str::from_utf8(&bytes)) {
        (Kind::Json, Ok(text)) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(mut value) => {
                ids::mask_ids_in_json(&mut value);
                serde_json::to_vec(&value).map_or_else(|_| mask_text(text), Body::from)
            }
            Err(_) => mask_text(text),
        },
        (_, Ok(text)) => mask_text(text),
        // Our text answers are UTF-8; anything else is dropped rather than shown unmasked.
        (_, Err(_)) => {
            tracing::error!("a text answer that is not UTF-8 could not be masked");
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "服务器内部错误，请稍后重试").into_response();
        }
    };
    // Full-width digits become one-byte `*`: the length may change.
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

fn mask_text(text: &str) -> Body {
    Body::from(ids::mask_ids_in_text(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[tokio::test]
    async fn text_and_json_answers_are_masked_and_binary_ones_left() {
        let id = "11010519491231002X";
        let html = axum::response::Html(format!("<td>CF / {id}</td>")).into_response();
        assert_eq!(body_of(masked(html).await).await, "<td>CF / 110105********002X</td>");
        let json = axum::Json(serde_json::json!({"business_key": format!("ID{id}"), "n": 110105194912310021_u64}));
        let body = body_of(masked(json.into_response()).await).await;
        let value: serde_json::Value = serde_json::from_str(&body).expect("still JSON");
        assert_eq!(value["business_key"], "ID110105********002X");
        assert_eq!(value["n"], 110_105_194_912_310_021_u64);
        let csv =
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], format!("１１０１０５１９４９１２３１００２Ｘ,{id}"));
        let response = masked(csv.into_response()).await;
        assert!(response.headers().get(header::CONTENT_LENGTH).is_none());
        assert_eq!(body_of(response).await, "１１０１０５********００２Ｘ,110105********002X");
        let xlsx = ([(header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")], id);
        assert_eq!(body_of(masked(xlsx.into_response()).await).await, id);
    }
}
