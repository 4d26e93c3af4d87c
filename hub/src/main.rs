//! `hub`: reads configuration (file, then `HUB_*` environment, then flags) and serves the hub; `hub audit
//! …` is the auditor's command line over assertion logs.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "hub",
    about = "The federation hub: OpenID Connect provider to services, client of identity providers"
)]
struct Cli {
    /// A TOML configuration file (fields of hub::Config); defaults apply without one.
    #[arg(long, env = "HUB_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "HUB_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The issuer / base URL (overrides the file).
    #[arg(long)]
    issuer: Option<String>,
    /// A Redis URL (overrides the file); without one the embedded memory store is used.
    #[arg(long)]
    redis_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The auditor's commands over assertion logs: verify, query, export, prove, check-proof.
    Audit {
        #[command(subcommand)]
        command: hub::audit::cli::AuditCommand,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Some(Command::Audit { command }) = cli.command {
        return match hub::audit::cli::run(command) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hub audit: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = hub::Config::load(cli.config.as_deref()).map_err(anyhow::Error::msg)?;
    if let Some(issuer) = cli.issuer {
        config.issuer = issuer;
    }
    if let Some(url) = cli.redis_url {
        config.redis_url = Some(url);
    }
    config.validate().map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(&cli.listen).await?;
    println!("hub listening on http://{}", listener.local_addr()?);
    hub::run(config, listener, shutdown_signal()).await
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
