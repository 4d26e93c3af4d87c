//! The `idp-stub` binary: reads the configuration, applies command-line and `IDP_STUB_*` overrides, and
//! serves until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Parser;
use std::{io::Write as _, path::PathBuf};

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
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let mut config = idp_stub::Config::from_file(&args.config)?;
    if let Some(base_url) = args.base_url {
        config.base_url = base_url;
    }
    if let Some(keys_dir) = args.keys_dir {
        config.keys_dir = keys_dir;
    }
    config.validate().context("invalid configuration after overrides")?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "idp-stub listening on http://{addr}")?;
    stdout.flush()?;
    idp_stub::run(config, listener, shutdown_signal()).await
}
