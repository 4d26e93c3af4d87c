//! `rp-example`: serves the example relying service. Everything is in the library; this reads flags and
//! the environment, binds, and waits for Ctrl-C or SIGTERM.

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;

/// An example relying service that signs people in through the hub.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "RP_EXAMPLE_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Public base URL, no trailing slash (default: http://<listen address>).
    #[arg(long, env = "RP_EXAMPLE_BASE_URL")]
    base_url: Option<String>,
    /// The hub's issuer.
    #[arg(long, env = "RP_EXAMPLE_ISSUER", default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// Issuer of identity credentials, whose DID document verifies them (default: the hub's issuer).
    #[arg(long, env = "RP_EXAMPLE_IDENTITY_ISSUER")]
    identity_issuer: Option<String>,
    /// Client id at the hub.
    #[arg(long, env = "RP_EXAMPLE_CLIENT_ID", default_value = "rp-example")]
    client_id: String,
    /// PEM private key for client assertions (generated when missing).
    #[arg(long, env = "RP_EXAMPLE_KEY_PATH", default_value = ".dev-keys/rp-example.pem")]
    key_path: PathBuf,
    /// Name shown in the header.
    #[arg(long, env = "RP_EXAMPLE_SERVICE_NAME", default_value = "Example service")]
    service_name: String,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "RP_EXAMPLE_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "RP_EXAMPLE_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// An extra CA certificate file (PEM) trusted when calling the hub, besides the system's roots.
    #[arg(long, env = "RP_EXAMPLE_EXTRA_CA")]
    extra_ca: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, env = "RP_EXAMPLE_LOG_FORMAT", default_value = "text")]
    log_format: serving::LogFormat,
    /// Export traces to this OTLP/HTTP collector (e.g. http://127.0.0.1:4318).
    #[arg(long, env = "RP_EXAMPLE_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Hand each sign-in's trace context to the hub (`traceparent` authorization parameter).
    #[arg(long, env = "RP_EXAMPLE_SHARE_TRACE_CONTEXT")]
    share_trace_context: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tls = serving::TlsConfig {
        cert_file: args.tls_cert,
        key_file: args.tls_key,
        watch_secs: None,
        extra_ca_file: args.extra_ca,
    };
    let telemetry = serving::TelemetryConfig {
        log_format: args.log_format,
        otlp_endpoint: args.otlp_endpoint,
        ..serving::TelemetryConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let exporter =
        serving::telemetry::init("rp-example", &addr.to_string(), &telemetry, "info").map_err(anyhow::Error::msg)?;
    let scheme = if tls.enabled() { "https" } else { "http" };
    let config = rp_example::Config {
        base_url: args
            .base_url
            .unwrap_or_else(|| format!("{scheme}://{addr}"))
            .trim_end_matches('/')
            .to_string(),
        issuer: args.issuer,
        identity_issuer: args.identity_issuer,
        client_id: args.client_id,
        key_path: args.key_path,
        service_name: args.service_name,
        tls,
        telemetry,
        share_trace_context: args.share_trace_context,
        ..rp_example::Config::default()
    };
    config.validate()?;
    println!("rp-example listening on {scheme}://{addr}");
    let served = rp_example::run(config, listener, serving::shutdown::signal()).await;
    exporter.shutdown().await;
    served
}
