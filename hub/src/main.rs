//! `hub`: reads configuration (file, then `HUB_*` environment, then flags) and serves the hub; `hub audit
//! …` is the auditor's command line over assertion logs.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// mimalloc: a request allocates and frees many small buffers across threads, where glibc's allocator
/// spent a fifth of the process's time under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let cli = Cli::parse();
    if let Some(Command::Audit { command }) = cli.command {
        init_text_logs();
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

/// Text logs for the command line.
fn init_text_logs() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
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
    let address = listener.local_addr()?;
    let instance = if config.instance.is_empty() {
        format!("hub-{}", address.port())
    } else {
        config.instance.clone()
    };
    let telemetry = serving::telemetry::init("hub", &instance, &config.telemetry, "info,tower_http=warn")
        .map_err(anyhow::Error::msg)?;
    let scheme = if config.tls.enabled() { "https" } else { "http" };
    println!("hub listening on {scheme}://{address}");
    let served = hub::run(config, listener, serving::shutdown::signal()).await;
    telemetry.shutdown().await;
    served
}
