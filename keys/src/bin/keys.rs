//! `keys`: generate ES256 signing keys and print their public halves (INTERFACE.md §7).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "keys", about = "Generate and inspect the federation's signing keys")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a new private key as PKCS#8 PEM (mode 0600) and print its key id.
    Generate {
        /// Where to write the private key; refuses to overwrite an existing file.
        #[arg(long)]
        out: PathBuf,
        /// ES256 (P-256, the default) or RS256 (RSA 2048).
        #[arg(long, default_value = "ES256", value_parser = ["ES256", "RS256"])]
        alg: String,
    },
    /// Print the JWKS of the public halves of the given private keys.
    Jwks { files: Vec<PathBuf> },
    /// Print the public key of a private key as SubjectPublicKeyInfo PEM (to register with a peer).
    Public { file: PathBuf },
    /// Read a client secret on standard input and print its Argon2id hash for a client registry's
    /// `client_secret_hash` (the secret itself is never stored by the hub).
    HashSecret,
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keys: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), keys::KeyError> {
    match cli.command {
        Command::Generate { out, alg } => {
            let key = if alg == "RS256" {
                keys::SigningKey::generate_rs256()?
            } else {
                keys::SigningKey::generate()?
            };
            key.write_pem(&out)?;
            println!("{}", key.kid());
        }
        Command::Jwks { files } => {
            let loaded = files
                .iter()
                .map(|f| keys::SigningKey::load(f))
                .collect::<Result<Vec<_>, _>>()?;
            println!(
                "{}",
                serde_json::to_string_pretty(&keys::jwks(&loaded)).unwrap_or_default()
            );
        }
        Command::Public { file } => print!("{}", keys::SigningKey::load(&file)?.public_pem()?),
        Command::HashSecret => {
            let mut secret = String::new();
            std::io::stdin()
                .read_line(&mut secret)
                .map_err(|e| keys::KeyError::InvalidKey(e.to_string()))?;
            let secret = secret.trim_end_matches(['\r', '\n']);
            if secret.len() < 32 {
                return Err(keys::KeyError::InvalidKey(
                    "a client secret must be at least 32 characters".into(),
                ));
            }
            println!("{}", keys::hash_secret(secret)?);
        }
    }
    Ok(())
}
