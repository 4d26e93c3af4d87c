//! Observability across the three processes (issue "run it like a national service"): one sign-in is
//! one trace in hub, idp-stub and rp-example, read from an in-process OTLP/HTTP collector the three
//! export to; and their JSON log lines carry the request ids passed between them in `X-Request-Id`.

use crate::harness::{free_port, Agent, Federation, Options};
use anyhow::{anyhow, ensure, Result};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value::Value as Any,
};
use prost::Message as _;
use serde_json::Value;
use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

/// One span as the collector received it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace: String,
    name: String,
    attributes: HashMap<String, String>,
}

fn text(value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// An OTLP/HTTP (protobuf) collector on a free port: every span exported to it.
async fn collector() -> Result<(String, Arc<Mutex<Vec<Received>>>)> {
    let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: bytes::Bytes| {
            let kept = kept.clone();
            async move {
                let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                    return axum::http::StatusCode::BAD_REQUEST;
                };
                let mut out = Vec::new();
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|r| r.attributes.iter())
                        .find(|kv| kv.key == "service.name")
                        .map(|kv| text(&kv.value))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            out.push(Received {
                                service: service.clone(),
                                trace: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                                name: span.name.clone(),
                                attributes: span
                                    .attributes
                                    .iter()
                                    .map(|kv| (kv.key.clone(), text(&kv.value)))
                                    .collect(),
                            });
                        }
                    }
                }
                if let Ok(mut spans) = kept.lock() {
                    spans.extend(out);
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let port = free_port()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://127.0.0.1:{port}"), spans))
}

/// The request spans of `trace`, as `service path` strings.
fn paths_in(spans: &[Received], trace: &str) -> BTreeSet<String> {
    spans
        .iter()
        .filter(|s| s.trace == trace && s.name == "request")
        .map(|s| {
            format!(
                "{} {}",
                s.service,
                s.attributes.get("path").cloned().unwrap_or_default()
            )
        })
        .collect()
}

/// The fields of the request span of a JSON log line (`spans[0]`), if it has one.
fn request_span(line: &str) -> Option<serde_json::Map<String, Value>> {
    let value: Value = serde_json::from_str(line).ok()?;
    value["spans"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == "request")?
        .as_object()
        .cloned()
}

#[tokio::test]
async fn one_sign_in_is_one_trace_across_the_three_processes_and_their_json_logs_share_request_ids() -> Result<()> {
    let (endpoint, spans) = collector().await?;
    let fed = Federation::start_with(Options {
        observe: Some(endpoint),
        ..Options::default()
    })
    .await?;

    // One sign-in through rp-example, without JavaScript.
    let mut agent = Agent::new()?;
    let start = agent.visit(&format!("{}/", fed.rp), None).await?;
    let choose = agent.submit(&start, "sign-in", &[], None).await?;
    let stub_page = agent
        .submit(&choose, "continue", &[("provider", "stub-a")], None)
        .await?;
    let account = agent
        .submit(&stub_page, "continue", &[("outcome", "success")], None)
        .await?;
    ensure!(account.url == format!("{}/account", fed.rp), "at {}", account.url);

    // The sign-in's trace starts at rp-example's /sign-in.
    let wanted = [
        "rp-example /sign-in",
        "rp-example /callback",
        "hub /authorize",
        "hub /choose-provider",
        "hub /upstream/callback",
        "hub /token",
        "hub /userinfo",
        "idp-stub /stub-a/token",
        "idp-stub /stub-a/userinfo",
    ];
    let mut found = (String::new(), BTreeSet::new());
    for _ in 0..300 {
        let all = spans.lock().map_err(|_| anyhow!("lock"))?.clone();
        if let Some(start) = all
            .iter()
            .find(|s| s.service == "rp-example" && s.attributes.get("path").map(String::as_str) == Some("/sign-in"))
        {
            found = (start.trace.clone(), paths_in(&all, &start.trace));
            if wanted.iter().all(|w| found.1.contains(*w)) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (trace, paths) = found;
    for w in wanted {
        ensure!(
            paths.contains(w),
            "the sign-in's trace {trace:?} lacks {w:?}; it has {paths:?}"
        );
    }
    // Outbound calls are spans of the same trace in the process that made them.
    let all = spans.lock().map_err(|_| anyhow!("lock"))?.clone();
    let services: BTreeSet<&str> = all
        .iter()
        .filter(|s| s.trace == trace)
        .map(|s| s.service.as_str())
        .collect();
    ensure!(services.len() == 3, "{services:?}");
    ensure!(
        all.iter()
            .any(|s| s.trace == trace && s.service == "hub" && s.name == "outbound"),
        "no outbound span of the hub in the trace"
    );

    // JSON logs: every line of the three is one JSON object; the ids of the requests between them match.
    for name in ["hub", "idp-stub", "rp-example"] {
        let lines = fed.logs(name);
        ensure!(!lines.is_empty(), "{name} logged nothing");
        for line in &lines {
            ensure!(
                serde_json::from_str::<Value>(line).is_ok(),
                "{name} wrote a line that is not JSON: {line}"
            );
        }
    }
    let id_of = |name: &str, path: &str| -> Option<String> {
        fed.logs(name)
            .iter()
            .filter_map(|l| request_span(l))
            .find(|s| s["path"] == path && s.get("trace_id").and_then(Value::as_str) == Some(trace.as_str()))
            .and_then(|s| s["request_id"].as_str().map(str::to_string))
    };
    let with_id = |name: &str, id: &str| -> Vec<String> {
        fed.logs(name)
            .iter()
            .filter_map(|l| request_span(l))
            .filter(|s| s["request_id"] == id)
            .filter_map(|s| s["path"].as_str().map(str::to_string))
            .collect()
    };
    let rp_callback =
        id_of("rp-example", "/callback").ok_or_else(|| anyhow!("no rp-example /callback line in the trace"))?;
    let at_hub = with_id("hub", &rp_callback);
    ensure!(
        at_hub.iter().any(|p| p == "/token") && at_hub.iter().any(|p| p == "/userinfo"),
        "the hub's lines for rp-example's request {rp_callback}: {at_hub:?}"
    );
    let hub_callback =
        id_of("hub", "/upstream/callback").ok_or_else(|| anyhow!("no hub /upstream/callback line in the trace"))?;
    let at_stub = with_id("idp-stub", &hub_callback);
    ensure!(
        at_stub.iter().any(|p| p == "/stub-a/token") && at_stub.iter().any(|p| p == "/stub-a/userinfo"),
        "the stub's lines for the hub's request {hub_callback}: {at_stub:?}"
    );
    // /readyz names each dependency, without error text; the provider used is fresh.
    let ready: Value = reqwest::get(format!("{}/readyz", fed.hub)).await?.json().await?;
    ensure!(ready["ready"] == true, "{ready}");
    for check in ["store", "keys", "audit_log"] {
        ensure!(ready["checks"][check] == "ok", "{check}: {ready}");
    }
    ensure!(ready["checks"]["providers"]["stub-a"] == "fresh", "{ready}");
    ensure!(ready["checks"]["providers"]["stub-b"] == "not_fetched", "{ready}");
    // The metrics an operator's dashboard and alerts read.
    let metrics = reqwest::get(format!("{}/metrics", fed.hub)).await?.text().await?;
    for series in [
        "hub_journeys_total{client=\"rp-example\",provider=\"stub-a\",outcome=\"assertion\"} 1",
        "hub_provider_requests_total{provider=\"stub-a\",endpoint=\"token\",outcome=\"ok\"} 1",
        "hub_provider_request_duration_seconds_bucket{provider=\"stub-a\",endpoint=\"userinfo\",le=",
        "hub_store_operation_duration_seconds_bucket{op=\"put\",le=",
        "hub_http_request_duration_seconds_bucket{path=\"/token\",le=",
        "hub_audit_append_seconds_bucket{le=",
        "hub_audit_unpublished_entries ",
        "hub_key_age_seconds{key=\"hub-signing\"} ",
    ] {
        ensure!(metrics.contains(series), "no {series} in /metrics:\n{metrics}");
    }
    // The request id goes back to the caller.
    let answer = reqwest::Client::new()
        .get(format!("{}/healthz", fed.hub))
        .header("x-request-id", "probe-0042")
        .send()
        .await?;
    ensure!(answer.headers().get("x-request-id").and_then(|v| v.to_str().ok()) == Some("probe-0042"));
    Ok(())
}
