//! `GET /metrics`: Prometheus text exposition for operators: requests by route and status with their
//! latency, and what [`crate::telemetry`] counts. Labels come from fixed sets only (route templates,
//! methods the hub serves, status codes): never a request value, never anything about a person.

use crate::state::AppState;
use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::{sync::OnceLock, time::Instant};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets (seconds) of every histogram: histograms, not summaries, so that instances add up
/// in Prometheus (`histogram_quantile` over `sum by (le)`).
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide recorder, installed on first use.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Gauges read when scraped: the age of each ring's signing key (since it started signing, or since
/// its file was written when it signs from the beginning), and the audit log's entries not yet covered
/// by a published checkpoint (its lag).
fn sample(state: &AppState) {
    #[allow(clippy::disallowed_methods)] // file ages are measured against the system's own clock
    let wall = std::time::SystemTime::now();
    let (rings, now) = (state.keys.rings(), state.now());
    for ring in [&rings.signing, &rings.signing_rs256, &rings.identity, &rings.upstream] {
        let Some((active, _)) = ring
            .states(now, 0)
            .into_iter()
            .find(|(_, s)| *s == keys::ring::KeyState::Active)
        else {
            continue;
        };
        let age = if active.activates > 0 {
            Some((now - active.activates).max(0) as f64)
        } else {
            std::fs::metadata(&active.path)
                .and_then(|m| m.modified())
                .ok()
                .map(|m| wall.duration_since(m).unwrap_or_default().as_secs_f64())
        };
        if let Some(age) = age {
            metrics::gauge!("hub_key_age_seconds", "key" => ring.name().to_string()).set(age);
        }
    }
    if let Some(log) = &state.audit_log {
        let log = log.0.log();
        metrics::gauge!("hub_audit_entries").set(log.size() as f64);
        metrics::gauge!("hub_audit_unpublished_entries").set(log.size().saturating_sub(log.published_size()) as f64);
    }
}

/// Serves the metrics.
pub async fn get(State(state): State<AppState>) -> Response {
    sample(&state);
    let body = handle().map(PrometheusHandle::render).unwrap_or_default();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Counts and times every request by its route template and status.
pub async fn track(request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    // A fixed set: a made-up method name must not become a series of its own.
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("hub_http_requests_total", "method" => method, "path" => path.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("hub_http_request_duration_seconds", "path" => path).record(started.elapsed().as_secs_f64());
    response
}
