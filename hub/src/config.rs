//! The hub's typed configuration (STYLE.md §7): defaults, then an optional TOML file, then `HUB_*`
//! environment variables, validated once at start-up with errors that name the field.

use crate::http::rate::Rate;
use serde::{Deserialize, Serialize};
use std::{net::IpAddr, path::PathBuf};

/// Everything the hub needs to start.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The hub's issuer identifier and base URL (no trailing slash), e.g. `https://hub.example.gov.uk`.
    pub issuer: String,
    /// Where the hub's private keys live (`hub-signing.pem`, `hub-upstream.pem`, `pairwise.secret`);
    /// missing keys are generated there on first start (development).
    pub keys_dir: PathBuf,
    /// The client registry (INTERFACE.md §8).
    pub clients_file: PathBuf,
    /// The provider registry (INTERFACE.md §9).
    pub providers_file: PathBuf,
    /// A Redis URL: `redis://host:port/db` (one server), `redis+cluster://h:p,h:p,…` (a Redis Cluster)
    /// or `redis+sentinel://h:p,…/master[/db]` (the master the Sentinels name); absent: the memory store.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, one per deployment.
    pub redis_prefix: String,
    /// Prefix of pairwise subject identifiers.
    pub sub_prefix: String,
    /// Idle lifetime of one sign-in journey, seconds.
    pub journey_ttl_secs: u64,
    /// Lifetime of an authorization code, seconds (at most 300).
    pub code_ttl_secs: u64,
    /// Lifetime of a pushed authorization request's `request_uri`, seconds (RFC 9126 §2.2; FAPI 2.0 asks
    /// for 5..=600, the conformance suite for at least 5).
    pub request_uri_ttl_secs: u64,
    /// Lifetime of an access token, seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of an ID token, seconds.
    pub id_token_ttl_secs: u64,
    /// Idle lifetime of a hub single sign-on session, seconds.
    pub session_idle_secs: u64,
    /// Absolute lifetime of a hub single sign-on session, seconds.
    pub session_absolute_secs: u64,
    /// The issuer of identity credentials (`coreIdentityJWT`) and host of their DID document; the hub's
    /// own issuer when absent. One Login uses a separate host (`https://identity.account.gov.uk/`).
    pub identity_issuer: Option<String>,
    /// Timeout of each HTTP call to a provider or a client's `jwks_uri`, seconds.
    pub http_timeout_secs: u64,
    /// The most entries the embedded memory store holds; past it, new sign-ins get "try again".
    pub memory_store_max_entries: usize,
    /// For benchmarks only (0 everywhere else): synthetic live entries, half journeys and half sessions,
    /// written to the store at start so figures can be taken with a full store.
    pub bench_preload_entries: u64,
    /// Lifetime of a journey nobody has acted on yet (a request that reached the choice page and no
    /// further), seconds: abandoned sign-ins cost little. The first choice gives it `journey_ttl_secs`.
    pub journey_start_ttl_secs: u64,
    /// Whether the rate limits apply (turn off only for benchmarks from one address).
    pub rate_limits: bool,
    /// Requests per second (and burst) from one client address to `/authorize`, `/par`, `/token` and
    /// `/choose-provider`, per hub instance.
    pub rate_per_ip: Rate,
    /// Requests per second (and burst) from one service at `/token` and `/par`, counted once it has
    /// authenticated, per hub instance.
    pub rate_per_client: Rate,
    /// Proxies whose `X-Forwarded-For` names the client address (a load balancer's addresses).
    pub trusted_proxies: Vec<IpAddr>,
    /// Connections open at once, in all, per hub instance.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// Seconds a client has to send a request's headers (and the longest a kept-alive connection waits).
    pub header_read_timeout_secs: u64,
    /// Seconds a request may take from its headers to its answer.
    pub request_timeout_secs: u64,
    /// Failures in a row (down, timed out, answered wrongly) after which a provider is shown as
    /// unavailable on the choice page (circuit breaking).
    pub provider_breaker_failures: u32,
    /// Seconds a failing provider stays shown as unavailable before one attempt is let through.
    pub provider_breaker_cooldown_secs: u64,
    /// Seconds a failed discovery fetch is remembered before the provider is asked again.
    pub provider_failure_memory_secs: u64,
    /// This instance's name, unique among the instances of a deployment: it names its audit log. Empty:
    /// `hub-<listen port>`.
    pub instance: String,
    /// Whether assertions are logged (off only for benchmarks measuring the log's cost: then nothing is
    /// recorded at all).
    pub audit_log: bool,
    /// Where each instance's assertion log lives, in `<audit_log_dir>/<instance>`.
    pub audit_log_dir: PathBuf,
    /// The log's origin (and its audit key's name); default `<issuer host[:port]>/audit/<instance>`.
    pub audit_origin: Option<String>,
    /// The instance's audit key (signed-note signer key); default `<keys_dir>/audit-<instance>.key`,
    /// made when missing.
    pub audit_key_file: Option<PathBuf>,
    /// Publish a signed checkpoint at least this often while entries wait, seconds.
    pub audit_checkpoint_secs: u64,
    /// Publish a checkpoint once this many entries wait, sooner than `audit_checkpoint_secs`. Each
    /// publication rewrites the right edge's tiles and the checkpoint, each fsynced, so under load the
    /// one-second timer should do it (at 256, ten a second cost a twentieth of the hub's CPU).
    pub audit_checkpoint_every: u64,
    /// Witnesses asked to cosign every checkpoint (tlog-witness).
    pub audit_witnesses: Vec<crate::audit::log::WitnessConfig>,
    /// The auditor view: its own listener, its own credentials, read-only.
    pub auditor: AuditorConfig,
    /// Serving over TLS (certificate and key files, reloaded in place) and the extra CA trusted for
    /// calls to providers and services.
    pub tls: serving::TlsConfig,
    /// Log format and OpenTelemetry trace export.
    pub telemetry: serving::TelemetryConfig,
    /// Continue the W3C trace context services send (a `traceparent` header, or a `traceparent`
    /// parameter on `/authorize` for the browser's hop), so one sign-in is one trace across service, hub
    /// and provider. Off by default: a trace id chosen by a service would then reach providers, and a
    /// service and a provider comparing notes could link a person across the hub's pairwise boundary.
    /// Turn on only where one operator runs every party's telemetry (a test federation). Off, each
    /// journey is still one trace of its own, from `/authorize` to the provider and back.
    pub adopt_trace_context: bool,
    /// Seconds requests in flight may take to finish after SIGTERM before their connections are closed.
    pub shutdown_grace_secs: u64,
    /// How long services may cache the JWKS (`/.well-known/jwks.json`, `/upstream/jwks.json`), seconds.
    /// A new key must be published at least this long before it signs (`keys rotate --after`).
    pub jwks_max_age_secs: u64,
    /// How long services may cache the DID document, seconds.
    pub did_max_age_secs: u64,
    /// The sandbox for service teams (`/sandbox`): set only by `federation --sandbox`, never by a
    /// configuration file or the environment, so a deployed hub cannot have it.
    #[serde(skip)]
    pub sandbox: bool,
    /// How often the hub looks for added or removed key files in `keys_dir` (rotation without restart),
    /// seconds; SIGHUP looks at once.
    pub key_reload_secs: u64,
}

/// The auditor view's settings (issue "a transparency log": auditors' web view).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuditorConfig {
    /// Whether this instance serves the auditor view.
    pub enabled: bool,
    /// Where it listens: its own address, never the services' listener.
    pub listen: String,
    /// Who may sign in: a name and the Argon2id hash of a password (`keys hash-password`).
    pub users: Vec<AuditorUser>,
    /// Other instances' logs to show beside this instance's own: a directory each, with the verifier
    /// key its checkpoints must verify with (else the `vkey` file in the directory).
    pub logs: Vec<AuditorLog>,
    /// How often the view reads new entries and verifies the logs, seconds.
    pub refresh_secs: u64,
}

impl Default for AuditorConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: "127.0.0.1:8081".into(),
            users: Vec::new(),
            logs: Vec::new(),
            refresh_secs: 5,
        }
    }
}

/// One auditor's sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditorUser {
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// A log the auditor view shows.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditorLog {
    pub dir: PathBuf,
    #[serde(default)]
    pub vkey: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            keys_dir: ".dev-keys/hub".into(),
            clients_file: "config/dev/clients.toml".into(),
            providers_file: "config/dev/providers.toml".into(),
            redis_url: None,
            redis_prefix: "hub:".into(),
            sub_prefix: "urn:fdc:gov.uk:2022:".into(),
            journey_ttl_secs: 3600,
            code_ttl_secs: 300,
            request_uri_ttl_secs: 60,
            access_token_ttl_secs: 180,
            id_token_ttl_secs: 120,
            http_timeout_secs: 5,
            session_idle_secs: 3600,
            session_absolute_secs: 8 * 3600,
            identity_issuer: None,
            memory_store_max_entries: 500_000,
            bench_preload_entries: 0,
            journey_start_ttl_secs: 900,
            rate_limits: true,
            rate_per_ip: Rate {
                per_second: 20,
                burst: 60,
            },
            rate_per_client: Rate {
                per_second: 500,
                burst: 1000,
            },
            trusted_proxies: Vec::new(),
            max_connections: 4096,
            max_connections_per_ip: 256,
            header_read_timeout_secs: 10,
            request_timeout_secs: 30,
            provider_breaker_failures: 3,
            provider_breaker_cooldown_secs: 30,
            provider_failure_memory_secs: 5,
            instance: String::new(),
            audit_log: true,
            audit_log_dir: "audit-log".into(),
            audit_origin: None,
            audit_key_file: None,
            audit_checkpoint_secs: 1,
            audit_checkpoint_every: 4096,
            audit_witnesses: Vec::new(),
            auditor: AuditorConfig::default(),
            tls: serving::TlsConfig::default(),
            telemetry: serving::TelemetryConfig::default(),
            adopt_trace_context: false,
            shutdown_grace_secs: 20,
            jwks_max_age_secs: 86_400,
            did_max_age_secs: 3_600,
            key_reload_secs: 10,
            sandbox: false,
        }
    }
}

impl Config {
    /// Defaults, overlaid by the TOML file (if given) and then by `HUB_*` environment variables (a nested
    /// field with a double underscore: `HUB_TLS__CERT_FILE`).
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, String> {
        use figment::providers::{Env, Format, Serialized, Toml};
        let mut fig = figment::Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            fig = fig.merge(Toml::file(path));
        }
        let config: Config = fig
            .merge(Env::prefixed("HUB_").split("__"))
            .extract()
            .map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that serde cannot: the issuer is a URL without query or fragment, lifetimes are sane.
    pub fn validate(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.issuer).map_err(|e| format!("field issuer: {e}"))?;
        if url.query().is_some() || url.fragment().is_some() || self.issuer.ends_with('/') {
            return Err("field issuer: must have no query, fragment or trailing slash".into());
        }
        if !crate::registry::is_allowed_redirect(&url) {
            return Err("field issuer: must be https (http only on loopback)".into());
        }
        if self.code_ttl_secs == 0 || self.code_ttl_secs > 300 {
            return Err("field code_ttl_secs: must be 1..=300".into());
        }
        if !(5..=600).contains(&self.request_uri_ttl_secs) {
            return Err("field request_uri_ttl_secs: must be 5..=600".into());
        }
        if !(1..=300).contains(&self.header_read_timeout_secs) {
            return Err("field header_read_timeout_secs: must be 1..=300 (0 would close every connection)".into());
        }
        if self.id_token_ttl_secs == 0 || self.access_token_ttl_secs == 0 || self.journey_ttl_secs == 0 {
            return Err(
                "lifetimes (id_token_ttl_secs, access_token_ttl_secs, journey_ttl_secs) must be positive".into(),
            );
        }
        self.tls.validate()?;
        self.telemetry.validate()?;
        Ok(())
    }

    /// Where and how this instance writes its assertion log.
    pub fn audit_settings(&self) -> crate::audit::log::LogSettings {
        let authority = url::Url::parse(&self.issuer)
            .ok()
            .map(|u| match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_string(),
            })
            .unwrap_or_default();
        crate::audit::log::LogSettings {
            dir: self.audit_log_dir.join(&self.instance),
            origin: self
                .audit_origin
                .clone()
                .unwrap_or_else(|| format!("{authority}/audit/{}", self.instance)),
            key_file: self
                .audit_key_file
                .clone()
                .unwrap_or_else(|| self.keys_dir.join(format!("audit-{}.key", self.instance))),
            checkpoint_interval: std::time::Duration::from_secs(self.audit_checkpoint_secs.max(1)),
            checkpoint_every: self.audit_checkpoint_every.max(1),
        }
    }

    /// The issuer of identity credentials.
    pub fn identity_issuer(&self) -> &str {
        self.identity_issuer.as_deref().unwrap_or(&self.issuer)
    }

    /// A URL under the issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (fn(&mut Config), Option<&'static str>);

    #[test]
    fn lifetimes_out_of_their_range_name_the_field() {
        let cases: [Case; 8] = [
            (|_| {}, None),
            (|c| c.header_read_timeout_secs = 0, Some("header_read_timeout_secs")),
            (|c| c.header_read_timeout_secs = 1, None),
            (|c| c.code_ttl_secs = 0, Some("code_ttl_secs")),
            (|c| c.code_ttl_secs = 301, Some("code_ttl_secs")),
            (|c| c.request_uri_ttl_secs = 4, Some("request_uri_ttl_secs")),
            (|c| c.request_uri_ttl_secs = 601, Some("request_uri_ttl_secs")),
            (|c| c.request_uri_ttl_secs = 5, None),
        ];
        for (edit, want) in cases {
            let mut config = Config::default();
            edit(&mut config);
            match (config.validate(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(field)) => assert!(e.contains(field), "{e}"),
                (got, want) => unreachable!("{got:?}, wanted an error naming {want:?}"),
            }
        }
    }
}
