//! `witness`: a tlog-witness cosigner (c2sp.org/tlog-witness) for the hub's audit logs. The logic is in
//! `tlog::witness`; this binary loads the key, parses flags and serves `tlog::witness_http::router`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use tlog::clock::SystemClock;
use tlog::cosignature::CosignatureSigner;
use tlog::witness::{KnownLog, Witness};
use tlog::witness_http::{serve, WitnessState};

#[derive(Parser)]
#[command(
    name = "witness",
    about = "Cosign checkpoints of transparency logs after checking their consistency"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a new Ed25519 cosigning key (mode 0600) and print its verifier key.
    Keygen {
        /// Where to write the key; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// The witness's name, a schema-less URL such as witness.example/w1.
        #[arg(long)]
        name: String,
    },
    /// Print the verifier key of a cosigning key, for logs and verifiers to trust.
    Vkey {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Serve `POST /add-checkpoint` and `GET /<origin hash>/checkpoint`.
    Serve {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// Where the witness keeps the latest size and root it cosigned per log.
        #[arg(long)]
        state: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: String,
        /// A log to witness, by its verifier key; its origin is the key's name. Repeat for more logs.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("witness: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Keygen { out, name } => {
            let key = CosignatureSigner::generate(&name).map_err(|e| e.to_string())?;
            key.write_new(&out).map_err(|e| e.to_string())?;
            println!("{}", key.vkey());
        }
        Command::Vkey { key } => println!("{}", CosignatureSigner::load(&key).map_err(|e| e.to_string())?.vkey()),
        Command::Serve {
            key,
            state,
            listen,
            logs,
        } => {
            let signer = CosignatureSigner::load(&key).map_err(|e| e.to_string())?;
            let logs = logs
                .iter()
                .map(|v| KnownLog::from_vkey(v))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let witness = Witness::open(signer, logs, &state).map_err(|e| e.to_string())?;
            println!("{}", witness.vkey());
            let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .map_err(|e| format!("{listen}: {e}"))?;
                eprintln!(
                    "witness: listening on {}",
                    listener.local_addr().map_err(|e| e.to_string())?
                );
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                serve(listener, WitnessState::new(witness, Arc::new(SystemClock)), shutdown)
                    .await
                    .map_err(|e| e.to_string())
            })?;
        }
    }
    Ok(())
}
