//! The request recorder: every request the process receives, kept in memory so tests can assert what the
//! hub sends upstream (and that nothing of the relying service leaks). `GET /_requests` lists them,
//! `DELETE /_requests` clears them. The `Authorization` header is never kept.

use crate::{
    state::{lock, RecordedRequest, RECORDER_LIMIT},
    AppState,
};
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};

/// The largest body the stub reads (and records).
pub const BODY_LIMIT: usize = 256 * 1024;

/// Middleware recording the request, then passing it on with its body intact.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/_requests" {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = if parts.method == Method::POST || parts.method == Method::PUT {
        match to_bytes(body, BODY_LIMIT).await {
            Ok(b) => b,
            Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
        }
    } else {
        // Bodies of other methods are not used by the stub.
        drop(body);
        Default::default()
    };
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != header::AUTHORIZATION)
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body_text = (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned());
    let form = if is_form {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes).ok()
    } else {
        None
    };
    let entry = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers,
        body: body_text,
        form,
    };
    {
        let mut recorded = lock(&state.inner.recorded);
        if recorded.len() >= RECORDER_LIMIT {
            recorded.remove(0);
        }
        recorded.push(entry);
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// `GET /_requests`: the recorded requests, oldest first.
pub async fn list(State(state): State<AppState>) -> Json<Vec<RecordedRequest>> {
    Json(lock(&state.inner.recorded).clone())
}

/// `DELETE /_requests`: forgets them.
pub async fn clear(State(state): State<AppState>) -> StatusCode {
    lock(&state.inner.recorded).clear();
    StatusCode::NO_CONTENT
}
