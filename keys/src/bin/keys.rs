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
    /// Make the next key of one or more key rings (INTERFACE.md §7): published at once, signing AFTER
    /// seconds from now. The hub's rings: hub-signing, hub-signing-rs256, hub-identity, hub-upstream.
    Rotate {
        /// The keys directory (the hub's `keys_dir`), shared by every instance.
        #[arg(long)]
        dir: PathBuf,
        /// Seconds from now until the new key signs: at least the JWKS cache period (one day), so every
        /// service has fetched it first. Shorter only with --force (a compromised key).
        #[arg(long, default_value_t = keys::ring::DEFAULT_PUBLISH_SECS)]
        after: i64,
        /// Allow AFTER below the cache period: services with a cached JWKS meet an unknown kid and must
        /// fetch it again.
        #[arg(long)]
        force: bool,
        /// The rings to rotate (file stems in DIR).
        #[arg(required = true)]
        rings: Vec<String>,
    },
    /// List the keys of key rings with the time each signs from and its state now (next, active,
    /// retired, expired).
    Ring {
        #[arg(long)]
        dir: PathBuf,
        /// Seconds a token lives after it is signed: how long a retired key stays published.
        #[arg(long, default_value_t = 1830)]
        retain: i64,
        #[arg(required = true)]
        rings: Vec<String>,
    },
    /// Remove the files of keys that are no longer published (every token they signed has expired).
    Prune {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1830)]
        retain: i64,
        #[arg(required = true)]
        rings: Vec<String>,
    },
}

/// The current time in Unix seconds (this binary's clock).
fn now() -> i64 {
    use tlog::clock::Clock as _;
    tlog::clock::SystemClock.now() as i64
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
        Command::Rotate {
            dir,
            after,
            force,
            rings,
        } => {
            if after < keys::ring::DEFAULT_PUBLISH_SECS && !force {
                return Err(keys::KeyError::InvalidKey(format!(
                    "--after {after} is shorter than the one-day JWKS cache period; services would meet a key \
                     they have not fetched (use --force for a compromised key)"
                )));
            }
            let at = now() + after;
            for ring in rings {
                let (path, key) = keys::ring::rotate(&dir, &ring, at)?;
                println!("{ring}\t{}\t{}\tsigns from {at}", key.kid(), path.display());
            }
        }
        Command::Ring { dir, retain, rings } => {
            let now = now();
            for name in rings {
                let ring = keys::ring::KeyRing::load(&dir, &name)?;
                for (k, state) in ring.states(now, retain) {
                    println!(
                        "{name}\t{}\t{}\t{}\t{}",
                        k.key.kid(),
                        k.key.alg(),
                        k.activates,
                        state.name()
                    );
                }
            }
        }
        Command::Prune { dir, retain, rings } => {
            for name in rings {
                for path in keys::ring::prune(&dir, &name, now(), retain)? {
                    println!("removed {}", path.display());
                }
            }
        }
    }
    Ok(())
}
