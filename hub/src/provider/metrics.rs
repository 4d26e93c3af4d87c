//! `GET /metrics`: Prometheus text exposition for operators — requests by route and status with their
//! latency, codes issued by level, and provider outcomes. Labels are route templates, levels and provider
//! ids only: never anything about a person.

use axum::{
    extract::{MatchedPath, Request},
    http::{header, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::{sync::OnceLock, time::Instant};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder, installed on first use.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// Serves the metrics.
pub async fn get() -> Response {
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
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("hub_http_requests_total", "method" => method, "path" => path.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("hub_http_request_duration_seconds", "path" => path).record(started.elapsed().as_secs_f64());
    response
}

/// Counts a code issued to a service, by the level asserted.
pub fn code_issued(vot: &str, identity: Option<&str>, return_code: Option<&str>) {
    metrics::counter!(
        "hub_codes_issued_total",
        "vot" => vot.to_string(),
        "identity" => identity.unwrap_or("none").to_string(),
        "return_code" => return_code.unwrap_or("none").to_string()
    )
    .increment(1);
}

/// Counts registry reloads by outcome (`applied` or `refused`).
pub fn registry_reload(outcome: &'static str) {
    metrics::counter!("hub_registry_reloads_total", "outcome" => outcome).increment(1);
}

/// Counts a provider's answer by outcome.
pub fn provider_outcome(provider: &str, outcome: &'static str) {
    metrics::counter!("hub_provider_outcomes_total", "provider" => provider.to_string(), "outcome" => outcome)
        .increment(1);
}
