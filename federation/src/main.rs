//! `federation`: starts rp-example, the hub and idp-stub together for a local demo, on the embedded
//! memory store by default, with the auditor view on, and prints the addresses to open, the auditor's
//! development credentials, the assertion log's directory and its verifier key.
//!
//! It reads the development registries in `config/dev/` (written for the default ports 3000, 8080 and
//! 8090) and rewrites those origins when other ports are chosen, so the files stay the one source.

#[cfg(test)]
mod deploy_check;
#[cfg(test)]
mod reference;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use tokio::{net::TcpListener, sync::watch};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Store {
    Memory,
    Redis,
}

#[derive(Parser)]
#[command(
    name = "federation",
    about = "Start hub, idp-stub and rp-example together for a local demo"
)]
struct Cli {
    /// Host every service listens on and is addressed by.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// rp-example's port.
    #[arg(long, default_value_t = 3000)]
    rp_port: u16,
    /// The hub's port.
    #[arg(long, default_value_t = 8080)]
    hub_port: u16,
    /// idp-stub's port.
    #[arg(long, default_value_t = 8090)]
    stub_port: u16,
    /// The auditor view's port (its own listener, never the services').
    #[arg(long, default_value_t = 8081)]
    auditor_port: u16,
    /// The hub's session store.
    #[arg(long, value_enum, default_value_t = Store::Memory)]
    store: Store,
    /// Redis URL when `--store redis`.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Where the development registries are.
    #[arg(long, default_value = "config/dev")]
    config_dir: PathBuf,
    /// Where development keys are kept (generated on first start).
    #[arg(long, default_value = ".dev-keys")]
    keys_dir: PathBuf,
    /// Turn on the sandbox for service teams: `/sandbox` on the hub forces broken answers for one
    /// service. Never for a real deployment (the plain `hub` cannot turn it on).
    #[arg(long)]
    sandbox: bool,
}

/// The origins the files in `config/dev` are written for.
const DEFAULT_ORIGINS: [(&str, u16); 3] = [("rp", 3000), ("hub", 8080), ("stub", 8090)];

/// Rewrites the default loopback origins in a development file to the chosen ones.
fn rebase(text: &str, host: &str, ports: [u16; 3]) -> String {
    let mut out = text.to_string();
    // Through placeholders, so a chosen port equal to another default cannot be rewritten twice.
    for (i, (_, default)) in DEFAULT_ORIGINS.iter().enumerate() {
        out = out.replace(&format!("http://127.0.0.1:{default}"), &format!("\u{0}{i}\u{0}"));
    }
    for (i, port) in ports.iter().enumerate() {
        out = out.replace(&format!("\u{0}{i}\u{0}"), &format!("http://{host}:{port}"));
    }
    out
}

async fn shutdown(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
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
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("federation: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The development auditor's name; the password is new at every start and printed once.
const AUDITOR: &str = "auditor";

/// A fresh development password: 20 characters from an alphabet without look-alikes.
fn dev_password() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let auditor_password = dev_password();
    let ports = [cli.rp_port, cli.hub_port, cli.stub_port];
    let origin = |port: u16| format!("http://{}:{port}", cli.host);
    let read = |name: &str| {
        let path = cli.config_dir.join(name);
        std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} (run from the repository root)", path.display()))
    };
    let runtime = cli.keys_dir.join("federation");
    std::fs::create_dir_all(&runtime)?;
    for name in ["clients.toml", "providers.toml", "idp-stub.toml"] {
        std::fs::write(runtime.join(name), rebase(&read(name)?, &cli.host, ports))?;
    }

    let mut stub = idp_stub::Config::from_file(runtime.join("idp-stub.toml"))?;
    stub.base_url = origin(cli.stub_port);
    stub.keys_dir = cli.keys_dir.join("idp-stub");

    let hub = hub::Config {
        issuer: origin(cli.hub_port),
        keys_dir: cli.keys_dir.join("hub"),
        clients_file: runtime.join("clients.toml"),
        providers_file: runtime.join("providers.toml"),
        redis_url: matches!(cli.store, Store::Redis).then(|| cli.redis_url.clone()),
        instance: "hub".into(),
        audit_log_dir: cli.keys_dir.join("audit"),
        auditor: hub::config::AuditorConfig {
            enabled: true,
            listen: format!("{}:{}", cli.host, cli.auditor_port),
            users: vec![hub::config::AuditorUser {
                name: AUDITOR.into(),
                password_hash: keys::hash_secret(&auditor_password).map_err(anyhow::Error::msg)?,
            }],
            ..hub::config::AuditorConfig::default()
        },
        sandbox: cli.sandbox,
        // A service team's test suite signs in as fast as it can from one address.
        rate_limits: !cli.sandbox,
        ..hub::Config::default()
    };
    hub.validate().map_err(anyhow::Error::msg)?;
    // The log's key is made here rather than by the hub at start, so its verifier key can be printed.
    let audit = hub.audit_settings();
    let audit_vkey = keys::audit_key::load_or_generate(&audit.key_file, &audit.origin)?.vkey();

    let rp = rp_example::Config {
        base_url: origin(cli.rp_port),
        issuer: origin(cli.hub_port),
        key_path: cli.keys_dir.join("rp-example.pem"),
        ..rp_example::Config::default()
    };

    let bind = |port: u16| {
        let addr = format!("{}:{port}", cli.host);
        async move {
            TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}: is something else running there? choose other ports with --rp-port/--hub-port/--stub-port"))
        }
    };
    let (stub_l, hub_l, rp_l) = (
        bind(cli.stub_port).await?,
        bind(cli.hub_port).await?,
        bind(cli.rp_port).await?,
    );

    // The demo's stub lets a tester force outcomes and see requests, but only where nobody else can reach.
    stub.test_endpoints = stub_l.local_addr()?.ip().is_loopback();
    if !stub.test_endpoints {
        println!("idp-stub test endpoints (/{{provider}}/config, /_requests) are off: not on loopback");
    }

    let (stop, rx) = watch::channel(false);
    let stub_task = tokio::spawn(idp_stub::run(stub, stub_l, shutdown(rx.clone())));
    let hub_task = tokio::spawn(hub::run(hub, hub_l, shutdown(rx.clone())));
    let rp_task = tokio::spawn(rp_example::run(rp, rp_l, shutdown(rx.clone())));

    println!(
        "idp-stub  on {}  (personas and outcomes: {}/)",
        origin(cli.stub_port),
        origin(cli.stub_port)
    );
    println!(
        "hub       on {}  (discovery: {}/.well-known/openid-configuration)",
        origin(cli.hub_port),
        origin(cli.hub_port)
    );
    println!("rp-example on {}", origin(cli.rp_port));
    println!(
        "auditor   on {}  (sign in as {AUDITOR:?} with password {auditor_password:?}, new at each start)",
        origin(cli.auditor_port)
    );
    println!("audit log in {}", audit.dir.display());
    println!("audit log verifier key: {audit_vkey}");
    if cli.sandbox {
        println!(
            "sandbox   on {}/sandbox  (force what the hub answers a service; POST /sandbox/config for tests; no rate limits)",
            origin(cli.hub_port)
        );
    }
    println!();
    println!("Open {}/ to sign in. Ctrl-C stops everything.", origin(cli.rp_port));

    let mut tasks = tokio::task::JoinSet::new();
    for (name, task) in [("idp-stub", stub_task), ("hub", hub_task), ("rp-example", rp_task)] {
        tasks.spawn(async move { (name, task.await) });
    }
    let first = tokio::select! {
        _ = tokio::signal::ctrl_c() => None,
        done = tasks.join_next() => done,
    };
    let _ = stop.send(true);
    if let Some(Ok((name, result))) = first {
        match result {
            Ok(Ok(())) => anyhow::bail!("{name} stopped unexpectedly"),
            Ok(Err(e)) => return Err(e.context(format!("{name} failed"))),
            Err(e) => anyhow::bail!("{name} crashed: {e}"),
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((name, Ok(Err(e)))) = done {
            eprintln!("{name}: {e:#}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rebase;

    #[test]
    fn rebases_default_origins_without_double_rewrites() {
        let text =
            "a = \"http://127.0.0.1:3000/cb\"\nb = \"http://127.0.0.1:8080/x\"\nc = \"http://127.0.0.1:8090/stub-a\"";
        let out = rebase(text, "127.0.0.1", [8080, 3000, 8091]);
        assert_eq!(
            out,
            "a = \"http://127.0.0.1:8080/cb\"\nb = \"http://127.0.0.1:3000/x\"\nc = \"http://127.0.0.1:8091/stub-a\""
        );
    }
}
