//! `keys`: generate ES256 signing keys and print their public halves (INTERFACE.md §7), hash secrets and
//! passwords, and make the audit log's signed-note key; and, for a service team trying the hub by hand
//! (docs/integrate.md), sign what a service sends: client assertions, DPoP proofs and request objects.

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
    /// Print a client assertion (`private_key_jwt`) signed with a service's key, for `/token` or `/par`.
    ///
    /// RFC 7523 §3: `iss` = `sub` = CLIENT_ID, `aud`, a fresh `jti`, `iat` now and `exp` five minutes on.
    /// Each assertion may be used once.
    ClientAssertion {
        /// The service's private key (PEM), as registered with the hub.
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        client_id: String,
        /// The hub's token endpoint, or its issuer (`fapi2` clients: the issuer, exactly).
        #[arg(long)]
        aud: String,
    },
    /// Print a DPoP proof for one request to `/par`, `/token` or `/userinfo`.
    ///
    /// RFC 9449 §4: signed with KEY, whose public half travels in the proof; a fresh `jti`, `htm`, `htu`,
    /// `iat` now, the server's nonce and, at `/userinfo`, the access token's hash. Each proof may be used
    /// once.
    DpopProof {
        /// The key the tokens are bound to (any key made with `keys generate`; not the client's own).
        #[arg(long)]
        key: PathBuf,
        /// The request's method.
        #[arg(long, default_value = "POST")]
        htm: String,
        /// The request's URL, without query or fragment.
        #[arg(long)]
        htu: String,
        /// The last `DPoP-Nonce` the hub sent.
        #[arg(long)]
        nonce: Option<String>,
        /// The access token the request presents (at `/userinfo`).
        #[arg(long)]
        access_token: Option<String>,
    },
    /// Print a signed request object carrying the authorization request parameters NAME=VALUE.
    ///
    /// RFC 9101: signed with the service's key, with `iss` = CLIENT_ID, `aud`, `client_id`, a fresh `jti`,
    /// `iat` and `nbf` now, and `exp` LIFETIME seconds on.
    RequestObject {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        client_id: String,
        /// The hub's issuer (or its authorization endpoint).
        #[arg(long)]
        aud: String,
        /// Seconds until it expires (the `fapi2` profile accepts at most 60).
        #[arg(long, default_value_t = 60)]
        lifetime: i64,
        /// The request's parameters, such as `response_type=code` `scope=openid` `state=…`.
        params: Vec<String>,
    },
}

/// A fresh `jti`: 128 random bits, base64url.
fn jti() -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    URL_SAFE_NO_PAD.encode(josekit::util::random_bytes(16))
}

/// A client assertion by `key` for `client_id` at `aud`, issued at `now`.
fn client_assertion(key: &keys::SigningKey, client_id: &str, aud: &str, now: i64) -> Result<String, keys::KeyError> {
    key.sign("JWT", &keys::client_assertion::Claims::new(client_id, aud, &jti(), now))
}

/// A request object by `key` for `client_id` at `aud`, carrying `params` (`NAME=VALUE`), issued at `now`.
fn request_object(
    key: &keys::SigningKey,
    client_id: &str,
    aud: &str,
    lifetime: i64,
    params: &[String],
    now: i64,
) -> Result<String, keys::KeyError> {
    use serde_json::Value;
    let mut claims = serde_json::Map::new();
    for param in params {
        let (name, value) = param
            .split_once('=')
            .ok_or_else(|| keys::KeyError::Malformed(format!("{param:?} is not NAME=VALUE")))?;
        claims.insert(name.to_string(), Value::String(value.to_string()));
    }
    for (name, value) in [
        ("iss", Value::from(client_id)),
        ("client_id", Value::from(client_id)),
        ("aud", Value::from(aud)),
        ("jti", Value::from(jti())),
        ("iat", Value::from(now)),
        ("nbf", Value::from(now)),
        ("exp", Value::from(now + lifetime)),
    ] {
        claims.insert(name.to_string(), value);
    }
    key.sign("oauth-authz-req+jwt", &claims)
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
                let (path, key) = keys::ring::rotate(&dir, &ring, at, at - after)?;
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
        Command::ClientAssertion { key, client_id, aud } => {
            let key = keys::SigningKey::load(&key)?;
            println!("{}", client_assertion(&key, &client_id, &aud, now())?);
        }
        Command::DpopProof {
            key,
            htm,
            htu,
            nonce,
            access_token,
        } => {
            let key = keys::SigningKey::load(&key)?;
            let proof = keys::dpop::proof(&key, &htm, &htu, now(), nonce.as_deref(), access_token.as_deref())?;
            println!("{proof}");
        }
        Command::RequestObject {
            key,
            client_id,
            aud,
            lifetime,
            params,
        } => {
            let key = keys::SigningKey::load(&key)?;
            println!("{}", request_object(&key, &client_id, &aud, lifetime, &params, now())?);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use serde_json::Value;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_client_assertion_verifies_with_the_key_and_passes_the_token_endpoints_rules() {
        let key = keys::SigningKey::generate().unwrap();
        let jwt = client_assertion(&key, "my-service", "https://hub.example/token", NOW).unwrap();
        let verifier = keys::VerifyingKeys::from_jwks(&keys::jwks([&key])).unwrap();
        let (header, claims) = verifier.verify(&jwt).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let expected = keys::client_assertion::Expected {
            client_id: "my-service",
            audiences: &["https://hub.example/token"],
            now: NOW + 10,
        };
        assert!(keys::client_assertion::check(&claims, &expected).is_ok(), "{claims:?}");
        // A fresh jti each time: a token endpoint accepts each assertion once.
        let again = client_assertion(&key, "my-service", "https://hub.example/token", NOW).unwrap();
        assert_ne!(keys::peek_claims(&again).unwrap()["jti"], claims["jti"]);
        // Another client's name or another audience fails the rules.
        let other = keys::client_assertion::Expected {
            client_id: "other",
            ..expected.clone()
        };
        assert!(keys::client_assertion::check(&claims, &other).is_err());
    }

    #[test]
    fn a_request_object_carries_its_parameters_and_a_bounded_lifetime() {
        let key = keys::SigningKey::generate().unwrap();
        let params = ["response_type=code".to_string(), "vtr=[\"Cl.Cm\"]".to_string()];
        let jwt = request_object(&key, "my-service", "https://hub.example", 60, &params, NOW).unwrap();
        let verifier = keys::VerifyingKeys::from_jwks(&keys::jwks([&key])).unwrap();
        let (header, claims) = verifier.verify(&jwt).unwrap();
        assert_eq!(header.typ.as_deref(), Some("oauth-authz-req+jwt"));
        assert_eq!(claims["response_type"], "code");
        assert_eq!(claims["vtr"], "[\"Cl.Cm\"]");
        assert_eq!(claims["iss"], "my-service");
        assert_eq!(claims["client_id"], "my-service");
        assert_eq!(claims["aud"], "https://hub.example");
        assert_eq!(claims["nbf"], NOW);
        assert_eq!(claims["exp"], NOW + 60);
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
        let bad = request_object(&key, "my-service", "https://hub.example", 60, &["scope".into()], NOW);
        assert!(bad.is_err(), "a parameter without = is refused");
    }

    #[test]
    fn a_dpop_proof_from_the_command_line_names_its_request_and_key() {
        let cli = Cli::try_parse_from([
            "keys",
            "dpop-proof",
            "--key",
            "k.pem",
            "--htm",
            "GET",
            "--htu",
            "https://hub.example/userinfo",
            "--nonce",
            "n",
            "--access-token",
            "at",
        ])
        .unwrap();
        let Command::DpopProof {
            htm,
            htu,
            nonce,
            access_token,
            ..
        } = cli.command
        else {
            panic!("not dpop-proof");
        };
        let key = keys::SigningKey::generate().unwrap();
        let proof = keys::dpop::proof(&key, &htm, &htu, NOW, nonce.as_deref(), access_token.as_deref()).unwrap();
        let verified = keys::dpop::verify(&proof, &["ES256"]).unwrap();
        assert_eq!(verified.jkt, key.kid(), "dpop_jkt is the key id keys generate prints");
        assert_eq!(verified.claims["htm"], "GET");
        assert_eq!(verified.claims["ath"], Value::from(keys::dpop::ath("at")));
    }

    /// Every `keys` subcommand the integration guide runs exists, with the options it gives.
    #[test]
    fn every_keys_command_in_the_integration_guide_exists() {
        const GUIDE: &str = include_str!("../../../docs/integrate.md");
        let cli = Cli::command();
        let mut seen = 0;
        let mut commands: Vec<Vec<&str>> = Vec::new();
        // Commands in shell lines (`keys …`, `--bin keys -- …`, `$(keys …)`) and in `keys …` spans of prose.
        for line in GUIDE.lines() {
            for start in ["--bin keys -- ", "$(keys ", "keys "] {
                let mut from = 0;
                while let Some(found) = line[from..].find(start) {
                    let at = from + found;
                    from = at + start.len();
                    // A bare `keys …` is a command only at the start of a shell line or a code span.
                    if start == "keys " && !(at == 0 || line[..at].ends_with('`')) {
                        continue;
                    }
                    let rest = &line[from..];
                    let words: Vec<&str> = rest
                        .split(|c: char| c.is_whitespace() || c == '`' || c == ')')
                        .take_while(|w| !w.starts_with('#'))
                        .filter(|w| !w.is_empty())
                        .collect();
                    commands.push(words);
                }
            }
        }
        for words in commands {
            let Some(sub) = words.first() else { continue };
            if !sub.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                continue;
            }
            let found = cli
                .find_subcommand(sub)
                .unwrap_or_else(|| panic!("the guide runs `keys {sub}`, which does not exist"));
            let longs: Vec<&str> = found.get_arguments().filter_map(|a| a.get_long()).collect();
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                let name = flag.trim_start_matches("--");
                assert!(
                    name == "help" || longs.contains(&name),
                    "the guide runs `keys {sub} {flag}`, which it does not take"
                );
            }
            seen += 1;
        }
        assert!(seen >= 10, "the guide's keys commands were not found ({seen})");
    }
}
