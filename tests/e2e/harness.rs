//! The federation under test: the real `hub`, `idp-stub` and `rp-example` binaries started as processes
//! on free loopback ports with their own configuration files, keys and (optionally) a Redis key prefix.
//!
//! Also a small no-JavaScript HTTP user agent ([`Agent`]) that keeps cookies the way a browser does on
//! 127.0.0.1 (one jar per host, `Secure` cookies kept on loopback), follows redirects and submits forms.

use anyhow::{anyhow, bail, Context, Result};
use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

/// Which session store the hub runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
}

/// The test relying service registered directly with the hub (the tests drive it by hand).
pub const TEST_CLIENT: &str = "test-client";
/// Its redirect URI: nothing listens there; tests read the redirect instead of following it.
pub const TEST_REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A local certificate authority for TLS tests: a CA made with `rcgen`, and leaf certificates for
/// `127.0.0.1` and `localhost` it signs.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub pem: String,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

impl TestCa {
    /// A new CA.
    pub fn new() -> Result<Self> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "federation test CA");
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let key = rcgen::KeyPair::generate()?;
        let pem = params.self_signed(&key)?.pem();
        Ok(Self { pem, params, key })
    }

    /// Writes a new leaf certificate for 127.0.0.1 and localhost and its key as `cert`, `key` (PEM);
    /// returns the certificate's DER.
    pub fn issue(&self, cert: &std::path::Path, key: &std::path::Path) -> Result<Vec<u8>> {
        let leaf_key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "127.0.0.1");
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let leaf = params.signed_by(&leaf_key, &issuer)?;
        // Key first, then the certificate: a reader polling the certificate's time sees a whole pair.
        std::fs::write(key, leaf_key.serialize_pem())?;
        std::fs::write(cert, leaf.pem())?;
        Ok(leaf.der().to_vec())
    }

    /// The CA as a root for reqwest clients.
    pub fn root(&self) -> Result<reqwest::Certificate> {
        Ok(reqwest::Certificate::from_pem(self.pem.as_bytes())?)
    }
}

/// Lines written to stderr, by process name.
type Logs = Arc<Mutex<Vec<(String, String)>>>;

/// A running federation; dropping it stops every process.
pub struct Federation {
    /// The hub's public base URL (its issuer): the first instance, or the load balancer in front.
    pub hub: String,
    /// The first hub instance's own base URL.
    pub hub_instance: String,
    pub stub: String,
    pub rp: String,
    pub redis_prefix: Option<String>,
    /// The key the test client signs its assertions with.
    pub client_key: keys::SigningKey,
    /// The local CA the federation's certificates come from, with [`Options::tls`].
    pub ca: Option<TestCa>,
    children: Vec<(String, Child)>,
    hub_log: Option<Arc<Mutex<String>>>,
    /// Whether the processes run under [`WATCHDOG`] (see [`Options::shared`]).
    watched: bool,
    /// Every line each process wrote to stderr, with [`Options::observe`].
    logs: Option<Logs>,
    _dir: tempfile::TempDir,
}

/// Runs a command and ends it when the process `$E2E_PARENT` (the test binary) has gone, checking once a
/// second: a federation kept in a `static` is never dropped, and its processes must not outlive the run.
const WATCHDOG: &str = r#""$@" &
child=$!
while kill -0 "$E2E_PARENT" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill "$child" 2>/dev/null
wait "$child""#;

impl Drop for Federation {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free TCP port on loopback.
///
/// Ports come from below the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, 32768
/// and up by default) and from a counter shared by every test in this process: a port handed out cannot
/// be taken meanwhile by another test's server, nor by the local end of some outgoing connection, between
/// this check and the child process binding it.
pub fn free_port() -> Result<u16> {
    use std::sync::atomic::{AtomicU16, Ordering};
    const LOW: u16 = 20000;
    const HIGH: u16 = 32000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    if NEXT.load(Ordering::SeqCst) == 0 {
        let start = LOW + (std::process::id() % u32::from(HIGH - LOW)) as u16;
        let _ = NEXT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    }
    for _ in 0..(HIGH - LOW) {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = LOW + (port.wrapping_sub(LOW)) % (HIGH - LOW);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port between {LOW} and {HIGH}")
}

/// The directory holding the workspace's binaries (`target/debug`), next to this test's `deps/`.
pub fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .ok_or_else(|| anyhow!("cannot locate target dir"))?;
    Ok(dir.to_path_buf())
}

/// The path of one of the workspace's binaries, or an error saying how to build it.
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} is missing: build the binaries first with `cargo build --workspace --bins` (scripts/test does)",
            path.display()
        );
    }
    Ok(path)
}

/// A random prefix so tests sharing one Redis never see each other's keys.
pub fn random_prefix() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    format!("e2e:{}:", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// Redis for tests: `REDIS_URL` or the machine's 127.0.0.1:6379.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Options for starting a federation.
#[derive(Debug, Clone)]
pub struct Options {
    pub store: StoreKind,
    /// Extra `[[clients]]` TOML appended to the hub's client registry (placeholders: see [`expand`]).
    pub extra_clients: String,
    /// Extra `[[providers]]` TOML appended to the hub's provider registry (placeholders: see [`expand`]).
    pub extra_providers: String,
    /// The Redis the hub uses with [`StoreKind::Redis`] (default: [`redis_url`]).
    pub redis_url: Option<String>,
    /// Run the hub at `RUST_LOG=debug` and keep what it logs (see [`Federation::hub_log`]).
    pub capture_hub_log: bool,
    /// Extra lines for the hub's configuration file (`field = value`).
    pub hub_config: String,
    /// Start idp-stub with `--non-interactive <persona>`: it answers every sign-in at once, without its page.
    pub stub_non_interactive: Option<String>,
    /// The federation is shared by many tests and never dropped (a `static`): each process is watched by
    /// a small shell that ends it once this test process has gone, so nothing outlives the test run.
    pub shared: bool,
    /// Serve all three over TLS with certificates of a local CA ([`Federation::ca`]), each trusting it.
    pub tls: bool,
    /// Export traces to this OTLP/HTTP endpoint, log JSON at `info`, share trace context across the three,
    /// and keep every process's log ([`Federation::logs`]).
    pub observe: Option<String>,
    /// The hub's public base URL when something else (a load balancer) is in front of its instances.
    pub public_hub: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            store: StoreKind::Memory,
            extra_clients: String::new(),
            extra_providers: String::new(),
            redis_url: None,
            capture_hub_log: false,
            hub_config: String::new(),
            stub_non_interactive: None,
            shared: false,
            tls: false,
            observe: None,
            public_hub: None,
        }
    }
}

/// The public key (PEM) of the test client, for extra clients that sign with the same key.
pub const TEST_CLIENT_PUBLIC_KEY: &str = "$TEST_CLIENT_PUBLIC_KEY";

/// Fills the placeholders of extra registry TOML, known only once ports and keys are chosen: `$HUB`, `$STUB`
/// and `$RP` (base URLs) and `$TEST_CLIENT_PUBLIC_KEY` (the test client's public key as PEM).
pub fn expand(toml: &str, hub: &str, stub: &str, rp: &str, public_pem: &str) -> String {
    toml.replace(TEST_CLIENT_PUBLIC_KEY, public_pem)
        .replace("$HUB", hub)
        .replace("$STUB", stub)
        .replace("$RP", rp)
}

/// The identity claims the harness's stub providers are registered to supply (as in config/dev).
const STUB_A_CLAIMS: &str = r#"claims = [
  "https://vocab.account.gov.uk/v1/coreIdentityJWT",
  "https://vocab.account.gov.uk/v1/address",
  "https://vocab.account.gov.uk/v1/passport",
  "https://vocab.account.gov.uk/v1/drivingPermit",
]"#;
const STUB_B_CLAIMS: &str = r#"claims = [
  "https://vocab.account.gov.uk/v1/coreIdentityJWT",
  "https://vocab.account.gov.uk/v1/address",
]"#;

/// The service loadgen plays in the tests that run it, signing with the federation's test client key.
pub const LOADGEN_CLIENT: &str = "loadgen";

/// [`LOADGEN_CLIENT`]'s registry entry, for [`Options::extra_clients`].
pub fn loadgen_client() -> String {
    format!(
        r#"
[[clients]]
client_id = "{LOADGEN_CLIENT}"
client_name = "Load generator"
redirect_uris = ["{TEST_REDIRECT}"]
scopes = ["openid", "email"]
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
public_key = """
{TEST_CLIENT_PUBLIC_KEY}"""
"#
    )
}

/// loadgen's JSON report, from what it printed (an error shows all of it).
pub fn loadgen_report(out: &std::process::Output) -> Result<serde_json::Value> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).with_context(|| {
        format!(
            "loadgen printed no JSON report:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

impl Federation {
    /// A loadgen command playing [`LOADGEN_CLIENT`] at `hubs` (round-robin per request), its key written
    /// into `dir`, with `--json` and killed on drop; each test adds its level, count or duration.
    pub fn loadgen(&self, hubs: &[String], dir: &Path) -> Result<tokio::process::Command> {
        let key = dir.join("loadgen.pem");
        self.client_key.write_pem(&key)?;
        let mut command = tokio::process::Command::new(binary("loadgen")?);
        for hub in hubs {
            command.args(["--hub", hub]);
        }
        command.args(["--client-id", LOADGEN_CLIENT, "--key", &key.display().to_string()]);
        command.args(["--redirect-uri", TEST_REDIRECT, "--json"]);
        command.kill_on_drop(true);
        Ok(command)
    }

    /// Starts the three binaries on free ports and waits until each answers `/healthz`.
    pub async fn start(store: StoreKind) -> Result<Self> {
        Self::start_with(Options {
            store,
            ..Options::default()
        })
        .await
    }

    /// Starts with options.
    pub async fn start_with(options: Options) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let (hub_port, stub_port, rp_port) = (free_port()?, free_port()?, free_port()?);
        let scheme = if options.tls { "https" } else { "http" };
        let hub_instance = format!("{scheme}://127.0.0.1:{hub_port}");
        let hub = options.public_hub.clone().unwrap_or_else(|| hub_instance.clone());
        let stub = format!("{scheme}://127.0.0.1:{stub_port}");
        let rp = format!("{scheme}://127.0.0.1:{rp_port}");
        let client_key = keys::SigningKey::generate()?;
        let public_pem = client_key.public_pem()?;
        let p = |name: &str| dir.path().join(name);
        let ca = if options.tls { Some(TestCa::new()?) } else { None };
        // Each service's certificate, key and the CA it trusts, as a TOML inline table.
        let mut tls_tables: HashMap<&str, String> = HashMap::new();
        if let Some(ca) = &ca {
            std::fs::write(p("ca.pem"), &ca.pem)?;
            for name in ["hub", "stub", "rp"] {
                let (cert, key) = (p(&format!("{name}-cert.pem")), p(&format!("{name}-key.pem")));
                ca.issue(&cert, &key)?;
                tls_tables.insert(
                    name,
                    format!(
                        "tls = {{ cert_file = \"{}\", key_file = \"{}\", extra_ca_file = \"{}\", watch_secs = 1 }}\n",
                        cert.display(),
                        key.display(),
                        p("ca.pem").display()
                    ),
                );
            }
        }
        let telemetry_table = options.observe.as_ref().map(|endpoint| {
            format!("telemetry = {{ log_format = \"json\", otlp_endpoint = \"{endpoint}\", otlp_export_secs = 1 }}\n")
        });

        std::fs::write(
            p("idp-stub.toml"),
            format!(
                r#"base_url = "{stub}"
keys_dir = "{keys}"
{tls}{telemetry}
[[providers]]
id = "stub-a"
name = "Stub Identity A"
name_cy = "Darparwr Hunaniaeth A"
[[providers]]
id = "stub-b"
name = "Stub Identity B"
name_cy = "Darparwr Hunaniaeth B"
[[clients]]
client_id = "federation-hub"
redirect_uris = ["{hub}/upstream/callback"]
jwks_uri = "{hub}/upstream/jwks.json"
"#,
                keys = p("stub-keys").display(),
                tls = tls_tables.get("stub").cloned().unwrap_or_default(),
                telemetry = telemetry_table.clone().unwrap_or_default(),
            ),
        )?;
        std::fs::write(
            p("providers.toml"),
            format!(
                r#"[[providers]]
id = "stub-a"
name = "Stub Identity A"
name_cy = "Darparwr Hunaniaeth A"
issuer = "{stub}/stub-a"
client_id = "federation-hub"
levels = ["Cl", "Cl.Cm", "Cl.Cm.P1", "Cl.Cm.P2", "Cl.Cm.P3"]
{STUB_A_CLAIMS}
[[providers]]
id = "stub-b"
name = "Stub Identity B"
name_cy = "Darparwr Hunaniaeth B"
issuer = "{stub}/stub-b"
client_id = "federation-hub"
levels = ["Cl", "Cl.Cm", "Cl.Cm.P1", "Cl.Cm.P2"]
{STUB_B_CLAIMS}
{extra}
"#,
                extra = expand(&options.extra_providers, &hub, &stub, &rp, &public_pem)
            ),
        )?;
        std::fs::write(
            p("clients.toml"),
            format!(
                r#"[[clients]]
client_id = "rp-example"
client_name = "Example service"
client_name_cy = "Gwasanaeth enghreifftiol"
redirect_uris = ["{rp}/callback"]
post_logout_redirect_uris = ["{rp}/signed-out"]
backchannel_logout_uri = "{rp}/backchannel-logout"
scopes = ["openid", "email", "phone"]
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = [
  "https://vocab.account.gov.uk/v1/coreIdentityJWT",
  "https://vocab.account.gov.uk/v1/address",
  "https://vocab.account.gov.uk/v1/passport",
  "https://vocab.account.gov.uk/v1/drivingPermit",
  "https://vocab.account.gov.uk/v1/returnCode",
]
jwks_uri = "{rp}/jwks.json"

[[clients]]
client_id = "{TEST_CLIENT}"
client_name = "Test service"
redirect_uris = ["{TEST_REDIRECT}"]
post_logout_redirect_uris = ["http://127.0.0.1:9/signed-out"]
scopes = ["openid", "email", "phone"]
levels = ["Cl", "Cl.Cm", "Cl.Cm.P2"]
public_key = """
{public_pem}"""
{extra}
"#,
                extra = expand(&options.extra_clients, &hub, &stub, &rp, &public_pem)
            ),
        )?;
        let redis_prefix = (options.store == StoreKind::Redis).then(random_prefix);
        let mut hub_toml = format!(
            "issuer = \"{hub}\"\nkeys_dir = \"{}\"\nclients_file = \"{}\"\nproviders_file = \"{}\"\n",
            p("hub-keys").display(),
            p("clients.toml").display(),
            p("providers.toml").display(),
        );
        if !options.hub_config.contains("audit_log_dir") {
            hub_toml.push_str(&format!("audit_log_dir = \"{}\"\n", p("audit").display()));
        }
        if let Some(prefix) = &redis_prefix {
            hub_toml.push_str(&format!(
                "redis_url = \"{}\"\nredis_prefix = \"{prefix}\"\n",
                options.redis_url.clone().unwrap_or_else(redis_url)
            ));
        }
        // Every test drives the hub from one address, faster than people do: a high per-address limit,
        // unless the test sets its own.
        if !options.hub_config.contains("rate_per_ip") {
            hub_toml.push_str("rate_per_ip = { per_second = 1000, burst = 2000 }\n");
        }
        hub_toml.push_str(&tls_tables.get("hub").cloned().unwrap_or_default());
        if let Some(table) = &telemetry_table {
            hub_toml.push_str(table);
            hub_toml.push_str("adopt_trace_context = true\n");
        }
        hub_toml.push_str(&options.hub_config);
        hub_toml.push('\n');
        std::fs::write(p("hub.toml"), hub_toml)?;

        let mut fed = Federation {
            hub,
            stub,
            rp,
            redis_prefix,
            client_key,
            hub_instance: hub_instance.clone(),
            ca,
            children: Vec::new(),
            hub_log: options.capture_hub_log.then(Arc::default),
            watched: options.shared,
            logs: options.observe.is_some().then(Arc::default),
            _dir: dir,
        };
        let dir = fed._dir.path().to_path_buf();
        let stub_config = dir.join("idp-stub.toml").display().to_string();
        let stub_listen = format!("127.0.0.1:{stub_port}");
        // The tests force outcomes and read what the stub received: its test endpoints are on.
        let mut stub_args = vec!["--config", &stub_config, "--listen", &stub_listen, "--test-endpoints"];
        if let Some(persona) = &options.stub_non_interactive {
            stub_args.extend(["--non-interactive", persona.as_str()]);
        }
        fed.spawn("idp-stub", &stub_args)?;
        fed.spawn(
            "hub",
            &[
                "--config",
                &dir.join("hub.toml").display().to_string(),
                "--listen",
                &format!("127.0.0.1:{hub_port}"),
            ],
        )?;
        let mut rp_args: Vec<String> = [
            "--listen",
            &format!("127.0.0.1:{rp_port}"),
            "--base-url",
            &fed.rp.clone(),
            "--issuer",
            &fed.hub.clone(),
            "--key-path",
            &dir.join("rp.pem").display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if options.tls {
            for (flag, file) in [
                ("--tls-cert", "rp-cert.pem"),
                ("--tls-key", "rp-key.pem"),
                ("--extra-ca", "ca.pem"),
            ] {
                rp_args.extend([flag.to_string(), dir.join(file).display().to_string()]);
            }
        }
        if let Some(endpoint) = &options.observe {
            rp_args.extend(
                [
                    "--log-format",
                    "json",
                    "--otlp-endpoint",
                    endpoint,
                    "--share-trace-context",
                ]
                .map(String::from),
            );
        }
        fed.spawn("rp-example", &rp_args.iter().map(String::as_str).collect::<Vec<_>>())?;
        for base in [fed.stub.clone(), hub_instance, fed.rp.clone()] {
            wait_healthy(&base).await?;
        }
        Ok(fed)
    }

    /// Starts a hub instance on `port` with the federation's configuration, keys and store, and waits
    /// until it answers; returns its base URL.
    pub async fn start_hub_on(&mut self, port: u16) -> Result<String> {
        let config = self._dir.path().join("hub.toml").display().to_string();
        self.spawn("hub", &["--config", &config, "--listen", &format!("127.0.0.1:{port}")])?;
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://127.0.0.1:{port}");
        wait_healthy(&base).await?;
        Ok(base)
    }

    /// Sends SIGTERM to the process `pid` (as systemd or an orchestrator stops it) and waits for it to
    /// exit (60 s at most), returning its exit status.
    pub async fn terminate(&mut self, pid: u32) -> Result<std::process::ExitStatus> {
        let index = self
            .children
            .iter()
            .position(|(_, c)| c.id() == pid)
            .ok_or_else(|| anyhow!("no process {pid}"))?;
        let status = Command::new("kill")
            .args(["-s", "TERM", &pid.to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -s TERM {pid} failed");
        }
        for _ in 0..1200 {
            if let Some(exit) = self.children[index].1.try_wait()? {
                self.children.remove(index);
                return Ok(exit);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("process {pid} did not exit within 60 s of SIGTERM")
    }

    /// Every line the process `name` wrote to stderr so far, with [`Options::observe`].
    pub fn logs(&self, name: &str) -> Vec<String> {
        self.logs
            .as_ref()
            .and_then(|l| {
                l.lock().ok().map(|l| {
                    l.iter()
                        .filter(|(n, _)| n == name)
                        .map(|(_, line)| line.clone())
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// An agent trusting the federation's CA (with [`Options::tls`]).
    pub fn agent(&self) -> Result<Agent> {
        match &self.ca {
            Some(ca) => Agent::trusting(ca.root()?),
            None => Agent::new(),
        }
    }

    /// The path of a file in the federation's directory (certificates: `hub-cert.pem`, `ca.pem`, …).
    pub fn file(&self, name: &str) -> PathBuf {
        self._dir.path().join(name)
    }

    /// Starts another hub instance on a free port with the same configuration, keys and store (as behind a
    /// load balancer) and returns its base URL. Its issuer is the first instance's.
    pub async fn start_another_hub(&mut self) -> Result<String> {
        let port = free_port()?;
        self.start_hub_on(port).await
    }

    /// The first hub instance's assertion log (instance `hub-<port>`, the default name).
    pub fn audit_log_dir(&self) -> PathBuf {
        let port = self.hub.rsplit(':').next().unwrap_or_default();
        self.audit_log_dir_of(&format!("hub-{port}"))
    }

    /// The assertion log of a named instance.
    pub fn audit_log_dir_of(&self, instance: &str) -> PathBuf {
        self._dir.path().join("audit").join(instance)
    }

    /// The path of one of the federation's configuration files (`clients.toml`, `providers.toml`, …).
    pub fn config_path(&self, name: &str) -> PathBuf {
        self._dir.path().join(name)
    }

    /// Sends a signal (`HUP`, `TERM`, …) to the first hub instance, as an operator's `kill -s` would.
    pub fn signal_hub(&self, signal: &str) -> Result<()> {
        let (_, hub) = self
            .children
            .iter()
            .find(|(name, _)| name == "hub")
            .ok_or_else(|| anyhow!("no hub process"))?;
        let status = Command::new("kill")
            .args(["-s", signal, &hub.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -s {signal} failed");
        }
        Ok(())
    }

    /// The process ids of the federation's processes named `name` (`hub`, `idp-stub`, `rp-example`).
    pub fn pids(&self, name: &str) -> Vec<u32> {
        self.children
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, child)| child.id())
            .collect()
    }

    /// Everything the hub has logged so far, with [`Options::capture_hub_log`] (empty otherwise).
    pub fn hub_log(&self) -> String {
        self.hub_log
            .as_ref()
            .map(|log| log.lock().map(|l| l.clone()).unwrap_or_default())
            .unwrap_or_default()
    }

    fn spawn(&mut self, name: &str, args: &[&str]) -> Result<()> {
        let capture = self.hub_log.clone().filter(|_| name == "hub");
        let all = self.logs.clone();
        let level = if capture.is_some() {
            "debug"
        } else if all.is_some() {
            "info"
        } else {
            "error"
        };
        let mut command = if self.watched {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(WATCHDOG)
                .arg("watchdog")
                .arg(binary(name)?)
                .env("E2E_PARENT", std::process::id().to_string());
            c
        } else {
            Command::new(binary(name)?)
        };
        let mut child = command
            .args(args)
            .env("RUST_LOG", level)
            .stdout(Stdio::piped())
            .stderr(if capture.is_some() || all.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        if let Some((all, err)) = all.and_then(|all| child.stderr.take().map(|err| (all, err))) {
            let name = name.to_string();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if let Ok(mut all) = all.lock() {
                        all.push((name.clone(), line));
                    }
                }
            });
        }
        // Drain stdout so the child never blocks on a full pipe.
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
        }
        if let (Some(log), Some(err)) = (capture, child.stderr.take()) {
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if let Ok(mut log) = log.lock() {
                        log.push_str(&line);
                        log.push('\n');
                    }
                }
            });
        }
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// A client assertion for the test client (RFC 7523), with claims overridable.
    pub fn assertion(&self, overrides: serde_json::Value) -> Result<String> {
        assertion_with(&self.client_key, &self.hub, overrides)
    }
}

/// The time now, in seconds since the Unix epoch, as a real client reads it.
#[allow(clippy::disallowed_methods)]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A client assertion for `test-client` signed by `key`.
#[allow(clippy::disallowed_methods)] // a real client reads the real clock
pub fn assertion_with(key: &keys::SigningKey, hub: &str, overrides: serde_json::Value) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut claims = serde_json::json!({
        "iss": TEST_CLIENT, "sub": TEST_CLIENT, "aud": format!("{hub}/token"),
        "jti": random_prefix(), "iat": now, "exp": now + 300,
    });
    if let (Some(map), Some(o)) = (claims.as_object_mut(), overrides.as_object()) {
        for (k, v) in o {
            map.insert(k.clone(), v.clone());
        }
    }
    Ok(key.sign_jwt("JWT", claims.as_object().ok_or_else(|| anyhow!("claims"))?)?)
}

/// Waits until `base` answers `/healthz` (30 s at most); over https without checking the certificate
/// (the tests that serve TLS check it themselves).
pub async fn wait_healthy(base: &str) -> Result<()> {
    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{base} did not become healthy in 30 s (did the process fail to start? its stderr is above)")
}

/// One response, as the agent saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub url: String,
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Seen {
    /// The parsed HTML document.
    pub fn html(&self) -> scraper::Html {
        scraper::Html::parse_document(&self.body)
    }

    /// The text of the first element matching a CSS selector.
    pub fn text_of(&self, selector: &str) -> Option<String> {
        let sel = scraper::Selector::parse(selector).ok()?;
        self.html()
            .select(&sel)
            .next()
            .map(|e| e.text().collect::<String>().trim().to_string())
    }

    /// The absolute URL of the link with this id (`#id`'s `href`).
    pub fn href(&self, id: &str) -> Result<String> {
        let html = self.html();
        let sel = scraper::Selector::parse(&format!("#{id}")).map_err(|e| anyhow!("{e:?}"))?;
        let href = html
            .select(&sel)
            .next()
            .and_then(|e| e.value().attr("href"))
            .ok_or_else(|| anyhow!("no link #{id} on {}:\n{}", self.url, self.body))?;
        Ok(url::Url::parse(&self.url)?.join(href)?.to_string())
    }

    /// Whether this is the hub's provider choice page (for any journey).
    pub fn is_choice(&self, hub: &str) -> bool {
        self.status == 200 && self.url.starts_with(&format!("{hub}/choose-provider?journey="))
    }

    /// The query parameters of the redirect location.
    pub fn location_params(&self) -> HashMap<String, String> {
        self.location
            .as_deref()
            .and_then(|l| url::Url::parse(l).ok())
            .map(|u| u.query_pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect())
            .unwrap_or_default()
    }
}

/// A browser without JavaScript: a cookie jar for 127.0.0.1, manual redirects, form submission.
pub struct Agent {
    http: reqwest::Client,
    jar: HashMap<String, String>,
    /// Every URL visited, in order.
    pub history: Vec<String>,
}

impl Agent {
    pub fn new() -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()?;
        Ok(Self {
            http,
            jar: HashMap::new(),
            history: Vec::new(),
        })
    }

    /// An agent trusting `root` (a test CA) besides the built-in roots.
    pub fn trusting(root: reqwest::Certificate) -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .add_root_certificate(root)
            .build()?;
        Ok(Self {
            http,
            jar: HashMap::new(),
            history: Vec::new(),
        })
    }

    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let Ok(text) = value.to_str() else { continue };
            let mut parts = text.split(';');
            let Some((name, val)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if expired || val.is_empty() {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), val.to_string());
            }
        }
    }

    /// Whether the jar holds a cookie.
    pub fn has_cookie(&self, name: &str) -> bool {
        self.jar.contains_key(name)
    }

    /// A cookie's value in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.get(name).cloned()
    }

    /// Puts a cookie in the jar (e.g. one the server told the browser to forget), as a replaying attacker would.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_string(), value.to_string());
    }

    async fn send(&mut self, request: reqwest::RequestBuilder, url: &str) -> Result<Seen> {
        self.history.push(url.to_string());
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .with_context(|| format!("requesting {url}"))?;
        self.keep_cookies(&response);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url::Url::parse(url).ok()?.join(l).ok())
            .map(|u| u.to_string());
        let body = response.text().await.unwrap_or_default();
        Ok(Seen {
            url: url.to_string(),
            status,
            location,
            body,
        })
    }

    /// One GET, no redirect followed.
    pub async fn get(&mut self, url: &str) -> Result<Seen> {
        let req = self.http.get(url);
        self.send(req, url).await
    }

    /// One form POST, no redirect followed.
    pub async fn post(&mut self, url: &str, form: &[(String, String)]) -> Result<Seen> {
        let req = self.http.post(url).form(form);
        self.send(req, url).await
    }

    /// Follows redirects from `seen` while they stay on loopback hosts that are listening, stopping at
    /// the first non-redirect or at a redirect to `stop_at` (a URL prefix).
    pub async fn follow(&mut self, mut seen: Seen, stop_at: Option<&str>) -> Result<Seen> {
        for _ in 0..20 {
            let Some(next) = seen.location.clone() else {
                return Ok(seen);
            };
            if !(300..400).contains(&seen.status) || stop_at.is_some_and(|s| next.starts_with(s)) {
                return Ok(seen);
            }
            seen = self.get(&next).await?;
        }
        bail!("too many redirects")
    }

    /// GET and follow redirects.
    pub async fn visit(&mut self, url: &str, stop_at: Option<&str>) -> Result<Seen> {
        let seen = self.get(url).await?;
        self.follow(seen, stop_at).await
    }

    /// Submits the first form on the page containing the button `#button_id`, with the form's hidden
    /// and checked inputs, overridden by `set`, then follows redirects.
    pub async fn submit(
        &mut self,
        page: &Seen,
        button_id: &str,
        set: &[(&str, &str)],
        stop_at: Option<&str>,
    ) -> Result<Seen> {
        let (action, method, mut fields) = {
            let html = page.html();
            let form_sel = scraper::Selector::parse("form").map_err(|e| anyhow!("{e:?}"))?;
            let button_sel = scraper::Selector::parse(&format!("#{button_id}")).map_err(|e| anyhow!("{e:?}"))?;
            let input_sel = scraper::Selector::parse("input").map_err(|e| anyhow!("{e:?}"))?;
            let form = html
                .select(&form_sel)
                .find(|f| f.select(&button_sel).next().is_some())
                .ok_or_else(|| anyhow!("no form with #{button_id} on {}:\n{}", page.url, page.body))?;
            let action = form.value().attr("action").unwrap_or("").to_string();
            let method = form.value().attr("method").unwrap_or("get").to_ascii_lowercase();
            let mut fields: Vec<(String, String)> = Vec::new();
            for input in form.select(&input_sel) {
                let v = input.value();
                let (Some(name), kind) = (v.attr("name"), v.attr("type").unwrap_or("text")) else {
                    continue;
                };
                let value = v.attr("value").unwrap_or("").to_string();
                match kind {
                    "radio" | "checkbox" if v.attr("checked").is_none() => {}
                    _ => fields.push((name.to_string(), value)),
                }
            }
            (action, method, fields)
        };
        for (k, v) in set {
            fields.retain(|(name, _)| name != k);
            fields.push((k.to_string(), v.to_string()));
        }
        let target = url::Url::parse(&page.url)?.join(&action)?.to_string();
        let seen = if method == "post" {
            self.post(&target, &fields).await?
        } else {
            let mut url = url::Url::parse(&target)?;
            url.query_pairs_mut().clear().extend_pairs(fields.iter());
            self.get(url.as_ref()).await?
        };
        self.follow(seen, stop_at).await
    }
}

/// Runs `program --version`, failing clearly when it is not installed.
async fn require_tool(program: &str, why: &str) -> Result<String> {
    let out = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("`{program}` is not installed or not on PATH: {why}"))?;
    if !out.status.success() {
        bail!("`{program} --version` failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Makes a pinned Node project under `tests/` usable: Node at least `min` (major, minor), and its
/// packages installed with `npm ci` from the lockfile when `node_modules/<package>` is missing.
/// Callers guard it with a `OnceCell` so one test run installs once.
pub async fn ensure_node_project(dir: PathBuf, package: &str, min: (u32, u32)) -> Result<()> {
    let dir = dir.as_path();
    let why = format!("{} needs Node.js {}.{}+ and npm", dir.display(), min.0, min.1);
    let node = require_tool("node", &why).await?;
    let version: Vec<u32> = node
        .trim_start_matches('v')
        .split('.')
        .take(2)
        .filter_map(|m| m.parse().ok())
        .collect();
    if version.len() < 2 || (version[0], version[1]) < min {
        bail!("node {node} is too old: {why}");
    }
    if dir.join("node_modules").join(package).is_dir() {
        return Ok(());
    }
    require_tool("npm", &why).await?;
    let out = tokio::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .context("running npm ci")?;
    if !out.status.success() {
        bail!(
            "`npm ci --prefix {}` failed:\n{}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
