//! Request ids and W3C Trace Context (<https://www.w3.org/TR/trace-context/>) on every request.
//!
//! [`track`] gives each request a span carrying its method, path and request id: the caller's
//! `X-Request-Id` when it is a plain token (so a load balancer's or a calling service's id carries on),
//! else a new one; the id is answered back in `X-Request-Id`. It continues the caller's `traceparent`
//! when the server is set to ([`Adopt`]), and logs one line per request with the status and time taken.
//! Outbound calls made while handling it carry the request id and trace context on ([`outbound`]).
//!
//! Browsers carry no trace headers across redirects, so a multi-request flow (a sign-in journey) keeps
//! its `traceparent` in its own state ([`current_traceparent`]) and each later request joins it
//! ([`continue_trace`]).

use axum::{
    extract::{Request, State},
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use opentelemetry::{propagation::TextMapPropagator as _, trace::TraceContextExt as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
    time::Instant,
};
use tracing::{field::Empty, Instrument as _, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The request id header, read from callers and sent to peers.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C trace context header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Which callers' trace context a server continues.
#[derive(Debug, Clone, Copy, Default)]
pub struct Adopt {
    /// Continue a `traceparent` request header.
    pub header: bool,
    /// Also a `traceparent` query parameter on these paths (a browser's hop from a service that started
    /// the trace, which cannot set headers on a redirect).
    pub param_paths: &'static [&'static str],
}

/// What a request's tasks know of it.
#[derive(Debug, Clone)]
struct Scope {
    id: Arc<str>,
    /// The trace id once recorded on the request's span (it is recorded once).
    trace: Arc<OnceLock<String>>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Whether a caller's request id is kept: 1 to 64 letters, digits, `-`, `_` or `.` (nothing a log line
/// could be forged with).
pub fn acceptable_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A new request id: 96 random bits, hex.
pub fn new_request_id() -> String {
    let bytes: [u8; 12] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a `traceparent` value is well-formed (version 00: `00-<32 hex>-<16 hex>-<2 hex>`, ids not
/// all zeros); anything else is ignored, as the specification asks.
pub fn valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
        && parts[1].bytes().any(|b| b != b'0')
        && parts[2].bytes().any(|b| b != b'0')
}

/// The OpenTelemetry context a valid `traceparent` names.
fn extract(traceparent: &str) -> Option<opentelemetry::Context> {
    if !valid_traceparent(traceparent) {
        return None;
    }
    let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// The `traceparent` of a span (starting it), when traces are on.
pub fn traceparent_of(span: &Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

fn trace_id_of(traceparent: &str) -> Option<String> {
    traceparent.split('-').nth(1).map(str::to_string)
}

/// The `traceparent` query parameter of a request's query, if any.
fn param(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix("traceparent="))
}

/// Middleware: the request's span, id and trace, and one log line when it is answered.
pub async fn track(State(adopt): State<Adopt>, mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id = %id,
        trace_id = Empty,
    );
    let scope = Scope {
        id: Arc::from(id.as_str()),
        trace: Arc::default(),
    };
    let header = adopt
        .header
        .then(|| request.headers().get(&TRACEPARENT).and_then(|v| v.to_str().ok()))
        .flatten();
    let from_param = adopt
        .param_paths
        .contains(&request.uri().path())
        .then(|| param(request.uri().query()))
        .flatten();
    if let Some(parent) = header.or(from_param).map(str::to_string) {
        if let Some(cx) = extract(&parent) {
            if span.set_parent(cx).is_ok() {
                if let Some(trace) = trace_id_of(&parent) {
                    span.record("trace_id", trace.as_str());
                    let _ = scope.trace.set(trace);
                }
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let started = Instant::now();
    let trace = scope.trace.clone();
    let mut response = SCOPE.scope(scope, next.run(request).instrument(span.clone())).await;
    if trace.get().is_none() {
        if let Some(trace) = traceparent_of(&span).as_deref().and_then(trace_id_of) {
            span.record("trace_id", trace.as_str());
        }
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "answered"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The id of the request being handled, if any.
pub fn current_request_id() -> Option<String> {
    SCOPE.try_with(|s| s.id.to_string()).ok()
}

/// The `traceparent` of the request being handled (starting its span): what a journey keeps so its
/// later requests join its trace. `None` when traces are off.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&Span::current())
}

/// Makes the request being handled part of the trace `traceparent` names (a journey's), unless it already
/// continues one; true when it does now. Call before any outbound call of the request.
pub fn continue_trace(traceparent: &str) -> bool {
    let Ok(scope) = SCOPE.try_with(Scope::clone) else {
        return false;
    };
    if scope.trace.get().is_some() {
        return false;
    }
    let Some(cx) = extract(traceparent) else {
        return false;
    };
    let span = Span::current();
    if span.set_parent(cx).is_err() {
        return false;
    }
    if let Some(trace) = trace_id_of(traceparent) {
        span.record("trace_id", trace.as_str());
        let _ = scope.trace.set(trace);
    }
    true
}

/// A span for one outbound call (a child of the request's) and the headers that carry the request id and
/// trace context to the peer. Instrument the call with the span.
pub fn outbound(method: &str, host: &str) -> (Span, Vec<(HeaderName, HeaderValue)>) {
    let span = tracing::info_span!("outbound", method, host);
    let mut headers = Vec::new();
    if let Some(value) = traceparent_of(&span).and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.push((TRACEPARENT, value));
    }
    if let Some(value) = current_request_id().and_then(|id| HeaderValue::from_str(&id).ok()) {
        headers.push((REQUEST_ID, value));
    }
    (span, headers)
}

/// Runs `future` as part of the request `id` (for tasks spawned from a request, such as deliveries that
/// outlive it), so its outbound calls carry the id on.
pub async fn with_request_id<F: std::future::Future>(id: String, future: F) -> F::Output {
    let scope = Scope {
        id: Arc::from(id.as_str()),
        trace: Arc::default(),
    };
    SCOPE.scope(scope, future.in_current_span()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_callers_are_kept_only_when_plain() {
        for (id, kept) in [
            ("4bf92f3577b34da6", true),
            ("req_01H.abc-DEF", true),
            ("", false),
            ("a b", false),
            ("line\nbreak", false),
            ("quote\"", false),
            (&"x".repeat(65), false),
            (&"x".repeat(64), true),
        ] {
            assert_eq!(acceptable_request_id(id), kept, "{id:?}");
        }
        let fresh = new_request_id();
        assert!(acceptable_request_id(&fresh) && fresh.len() == 24, "{fresh}");
    }

    #[test]
    fn only_well_formed_traceparents_are_continued() {
        for (value, ok) in [
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true),
            ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", false),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false),
            ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false),
            ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false),
            ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", false),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false),
            ("", false),
        ] {
            assert_eq!(valid_traceparent(value), ok, "{value}");
            assert_eq!(extract(value).is_some(), ok, "{value}");
        }
        assert_eq!(
            param(Some("client_id=a&traceparent=00-ab-cd-01&state=x")),
            Some("00-ab-cd-01")
        );
        assert_eq!(param(Some("client_id=a")), None);
        assert_eq!(param(None), None);
        assert_eq!(
            trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }
}
