//! `keys`: generate ES256 signing keys and print their public halves (INTERFACE.md §7), hash secrets and
//! passwords, and make the audit log's signed-note key.

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
    /// Read a person's password (an auditor's) on standard input and print its Argon2id hash for the
    /// hub's `[[auditor.users]]` `password_hash`.
    HashPassword,
    /// Make a new audit key (Ed25519, c2sp.org/signed-note) for the log named ORIGIN and print its
    /// verifier key, to give to auditors and witnesses.
    AuditKey {
        /// The log's name (the hub's `audit_origin`), e.g. `hub.example.gov.uk/a`.
        #[arg(long)]
        origin: String,
        /// Where to write the signer key (mode 0600); refuses to overwrite an existing file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the verifier key of an audit key file.
    AuditVkey { file: PathBuf },
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
        Command::HashPassword => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|e| keys::KeyError::InvalidKey(e.to_string()))?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 12 {
                return Err(keys::KeyError::InvalidKey(
                    "a password must be at least 12 characters (a passphrase of several words is best)".into(),
                ));
            }
            println!("{}", keys::hash_secret(password)?);
        }
        Command::AuditKey { origin, out } => println!("{}", keys::audit_key::generate(&out, &origin)?.vkey()),
        Command::AuditVkey { file } => println!("{}", keys::audit_key::vkey(&file)?),
    }
    Ok(())
}
