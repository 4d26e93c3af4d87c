//! Logs and traces for a server process. Logs go to stderr as text (the default; coloured on a
//! terminal) or as one JSON object per line, at the level `RUST_LOG` sets; request spans put the
//! request id (and, with traces on, the trace id) on every line within a request. With an OTLP endpoint
//! configured, spans are exported over OTLP/HTTP (protobuf or JSON) in batches and their W3C trace
//! context crosses processes ([`crate::request`]); without one, no span leaves the process.
//!
//! Never log personal data: request spans record method and path, never the query (which carries codes,
//! states and login hints), and no header but the request id.

use crate::config::{LogFormat, TelemetryConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider};
use std::time::Duration;
use tracing_subscriber::{layer::SubscriberExt as _, util::SubscriberInitExt as _, EnvFilter, Layer};

/// What must be flushed when the process stops: the span exporter.
#[derive(Debug, Default)]
#[must_use = "call shutdown() when the server stops, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still waiting and stops the exporter.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = provider.shutdown() {
                    eprintln!("trace export at shutdown failed: {e}");
                }
            })
            .await;
        }
    }
}

/// OTLP over the workspace's reqwest, run on the process's tokio runtime: the SDK's batch processor
/// exports from its own thread, and hands each request to the runtime.
#[derive(Debug)]
struct RuntimeClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for RuntimeClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let http = self.http.clone();
        let task = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let response = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await?;
            Ok::<_, opentelemetry_http::HttpError>(answer.body(body)?)
        });
        task.await?
    }
}

/// The tracer provider exporting to `endpoint`, named `service` / `instance`.
fn tracer_provider(
    service: &'static str,
    instance: &str,
    config: &TelemetryConfig,
    endpoint: &str,
) -> Result<SdkTracerProvider, String> {
    let protocol = match config.otlp_protocol.as_str() {
        "http/json" => opentelemetry_otlp::Protocol::HttpJson,
        _ => opentelemetry_otlp::Protocol::HttpBinary,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("OTLP client: {e}"))?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| format!("OTLP export needs a runtime: {e}"))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(RuntimeClient { http, runtime })
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_protocol(protocol)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("field telemetry.otlp_endpoint: {e}"))?;
    let batch = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_scheduled_delay(Duration::from_secs(config.otlp_export_secs.max(1)))
                .build(),
        )
        .build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .with_attribute(opentelemetry::KeyValue::new(
            "service.instance.id",
            instance.to_string(),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(batch)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.otlp_sample_ratio,
        ))))
        .with_resource(resource)
        .build())
}

/// Installs the process's logger (and trace exporter, when configured). `default_filter` applies when
/// `RUST_LOG` is not set. Call once, inside the tokio runtime.
pub fn init(
    service: &'static str,
    instance: &str,
    config: &TelemetryConfig,
    default_filter: &str,
) -> Result<Telemetry, String> {
    config.validate()?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    type Boxed =
        Box<dyn Layer<tracing_subscriber::layer::Layered<EnvFilter, tracing_subscriber::Registry>> + Send + Sync>;
    let mut layers: Vec<Boxed> = Vec::new();
    layers.push(match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .boxed(),
    });
    let mut telemetry = Telemetry::default();
    if let Some(endpoint) = &config.otlp_endpoint {
        let provider = tracer_provider(service, instance, config, endpoint)?;
        let tracer = provider.tracer(service);
        // Spans start when first needed (a child, or their context asked for), not when entered, so a
        // request's span can still join a trace found by the handler (a journey's).
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_context_activation(false)
                .with_tracked_inactivity(false)
                .boxed(),
        );
        telemetry.provider = Some(provider);
    }
    tracing_subscriber::registry()
        .with(filter)
        .with(layers)
        .try_init()
        .map_err(|e| format!("logging: {e}"))?;
    Ok(telemetry)
}
