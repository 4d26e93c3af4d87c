//! The `idp-stub` binary: reads the configuration, applies command-line and `IDP_STUB_*` overrides, and
//! serves until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Parser;
use std::{io::Write as _, path::PathBuf};

/// mimalloc: a request allocates and frees many small buffers across threads, where glibc's allocator
/// spent a fifth of the process's time under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stand-ins for certified identity providers, for development and tests.
#[derive(Debug, Parser)]
#[command(name = "idp-stub", version)]
struct Args {
    /// Configuration file (TOML).
    #[arg(long, env = "IDP_STUB_CONFIG", default_value = "config/dev/idp-stub.toml")]
    config: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "IDP_STUB_LISTEN", default_value = "127.0.0.1:8090")]
    listen: String,
    /// Public base URL, overriding the file's `base_url`.
    #[arg(long, env = "IDP_STUB_BASE_URL")]
    base_url: Option<String>,
    /// Keys directory, overriding the file's `keys_dir`.
    #[arg(long, env = "IDP_STUB_KEYS_DIR")]
    keys_dir: Option<PathBuf>,
    /// Answer every valid authorization request at once as this persona, without the page (load tests).
    #[arg(long, env = "IDP_STUB_NON_INTERACTIVE", value_name = "PERSONA")]
    non_interactive: Option<String>,
    /// The outcome of those answers (default `success`).
    #[arg(long, env = "IDP_STUB_NON_INTERACTIVE_OUTCOME", value_name = "OUTCOME", value_parser = parse_outcome)]
    non_interactive_outcome: Option<idp_stub::outcome::Outcome>,
    /// Serve `/{provider}/config` and `/_requests`, for tests and demos; loopback listen addresses only.
    #[arg(long, env = "IDP_STUB_TEST_ENDPOINTS")]
    test_endpoints: bool,
    /// Log format, text or json (overriding the file's `telemetry.log_format`).
    #[arg(long, env = "IDP_STUB_LOG_FORMAT")]
    log_format: Option<serving::LogFormat>,
    /// Export traces to this OTLP/HTTP collector (overriding the file's `telemetry.otlp_endpoint`).
    #[arg(long, env = "IDP_STUB_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
}

fn parse_outcome(id: &str) -> Result<idp_stub::outcome::Outcome, String> {
    idp_stub::outcome::Outcome::parse(id).ok_or_else(|| {
        let ids: Vec<&str> = idp_stub::outcome::Outcome::ALL.iter().map(|o| o.id()).collect();
        format!("unknown outcome; one of {}", ids.join(", "))
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = idp_stub::Config::from_file(&args.config)?;
    if let Some(base_url) = args.base_url {
        config.base_url = base_url;
    }
    if let Some(keys_dir) = args.keys_dir {
        config.keys_dir = keys_dir;
    }
    if let Some(persona) = args.non_interactive {
        config.non_interactive = Some(persona);
    }
    if let Some(outcome) = args.non_interactive_outcome {
        config.non_interactive_outcome = Some(outcome);
    }
    config.test_endpoints |= args.test_endpoints;
    config.validate().context("invalid configuration after overrides")?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    config.check_listen_addr(addr)?;
    if let Some(format) = args.log_format {
        config.telemetry.log_format = format;
    }
    if let Some(endpoint) = args.otlp_endpoint {
        config.telemetry.otlp_endpoint = Some(endpoint);
    }
    let telemetry = serving::telemetry::init("idp-stub", &addr.to_string(), &config.telemetry, "info")
        .map_err(anyhow::Error::msg)?;
    let scheme = if config.tls.enabled() { "https" } else { "http" };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "idp-stub listening on {scheme}://{addr}")?;
    stdout.flush()?;
    let served = idp_stub::run(config, listener, serving::shutdown::signal()).await;
    telemetry.shutdown().await;
    served
}
