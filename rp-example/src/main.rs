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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let config = rp_example::Config {
        base_url: args
            .base_url
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string(),
        issuer: args.issuer,
        identity_issuer: args.identity_issuer,
        client_id: args.client_id,
        key_path: args.key_path,
        service_name: args.service_name,
        ..rp_example::Config::default()
    };
    println!("rp-example listening on http://{addr}");
    rp_example::run(config, listener, shutdown_signal()).await
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
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
