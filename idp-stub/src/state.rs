//! Shared state (STYLE.md §6): the providers and their keys, the clock, and the in-memory stores of pending
//! requests, codes, access tokens, seen `jti`s, forced outcomes and recorded requests.

use crate::{
    config::{ClientConfig, Config, ProviderConfig},
    outcome::Outcome,
    personas::{Level, Persona},
};
use anyhow::Context as _;
use serde::Serialize;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// Where `now` comes from (STYLE.md §9), so tests can move time.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system time
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock tests set and advance.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: u64) -> Self {
        Self(AtomicU64::new(now))
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// One provider the stub plays: its configuration and signing key.
#[derive(Debug)]
pub struct Provider {
    pub config: ProviderConfig,
    pub key: keys::SigningKey,
    pub issuer: String,
}

impl Provider {
    /// `{issuer}/token`, a valid `aud` of client assertions.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }
}

/// An authorization request waiting for the person's choice on the provider page.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub provider_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub acr_values: Vec<String>,
    pub created_at: u64,
}

/// An issued authorization code and everything the token endpoint needs to answer it.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub provider_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: String,
    pub scopes: Vec<String>,
    pub persona: &'static Persona,
    pub acr: Level,
    pub outcome: Outcome,
    pub auth_time: u64,
    pub expires_at: u64,
}

/// What an access token lets userinfo release.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub provider_id: String,
    pub persona: &'static Persona,
    pub scopes: Vec<String>,
    pub expires_at: u64,
}

/// The persona and outcome every authorization request is answered with in non-interactive mode.
#[derive(Debug, Clone, Copy)]
pub struct NonInteractive {
    pub persona: &'static Persona,
    pub outcome: Outcome,
}

/// An outcome and/or persona forced for every sign-in at one provider.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Forced {
    pub outcome: Option<Outcome>,
    pub persona: Option<&'static str>,
}

/// One request as the process received it (Authorization header left out).
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The body of a POST, as text (form or JSON).
    pub body: Option<String>,
    /// The body parsed as a form when it is one.
    pub form: Option<Vec<(String, String)>>,
}

/// How long a pending authorization request waits for the person.
pub const PENDING_TTL: u64 = 30 * 60;
/// How long a code lives.
pub const CODE_TTL: u64 = 5 * 60;
/// How long access and ID tokens live.
pub const TOKEN_TTL: u64 = 300;
/// The most requests the recorder keeps (the oldest are dropped).
pub const RECORDER_LIMIT: usize = 10_000;

/// The stub's shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Config,
    /// `config.non_interactive` resolved once.
    pub non_interactive: Option<NonInteractive>,
    pub providers: HashMap<String, Provider>,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    pub pending: Mutex<HashMap<String, PendingRequest>>,
    pub codes: Mutex<HashMap<String, IssuedCode>>,
    pub tokens: Mutex<HashMap<String, AccessGrant>>,
    /// `(client_id, jti)` → expiry of the assertion, pruned as they expire.
    pub seen_jtis: Mutex<HashMap<(String, String), u64>>,
    pub forced: Mutex<HashMap<String, Forced>>,
    pub client_keys: Mutex<HashMap<String, Arc<keys::VerifyingKeys>>>,
    pub recorded: Mutex<Vec<RecordedRequest>>,
}

/// Locks a mutex, carrying on through poisoning (the data are plain maps, always consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AppState {
    /// State with the real clock; loads or generates `keys_dir/{provider}.pem` for each provider.
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// State with a clock of the caller's choosing (tests).
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        config.validate()?;
        std::fs::create_dir_all(&config.keys_dir)
            .with_context(|| format!("keys_dir: cannot create {}", config.keys_dir.display()))?;
        let mut providers = HashMap::new();
        for p in &config.providers {
            let path = config.keys_dir.join(format!("{}.pem", p.id));
            let key = keys::SigningKey::load_or_generate(&path)
                .with_context(|| format!("providers ({}): signing key {}", p.id, path.display()))?;
            let issuer = format!("{}/{}", config.base_url, p.id);
            providers.insert(
                p.id.clone(),
                Provider {
                    config: p.clone(),
                    key,
                    issuer,
                },
            );
        }
        let non_interactive = config
            .non_interactive
            .as_deref()
            .and_then(crate::personas::find)
            .map(|persona| NonInteractive {
                persona,
                outcome: config.non_interactive_outcome.unwrap_or(Outcome::Success),
            });
        let http = serving::trust::client_builder(config.tls.extra_ca_file.as_deref())
            .map_err(|e| anyhow::anyhow!("tls.extra_ca_file: {e}"))?
            .timeout(Duration::from_secs(5))
            .build()
            .context("HTTP client")?;
        Ok(AppState {
            inner: Arc::new(Inner {
                config,
                non_interactive,
                providers,
                clock,
                http,
                pending: Mutex::default(),
                codes: Mutex::default(),
                tokens: Mutex::default(),
                seen_jtis: Mutex::default(),
                forced: Mutex::default(),
                client_keys: Mutex::default(),
                recorded: Mutex::default(),
            }),
        })
    }

    /// The configuration the state was built from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    pub(crate) fn provider(&self, id: &str) -> Result<&Provider, crate::Error> {
        self.inner.providers.get(id).ok_or(crate::Error::UnknownProvider)
    }

    /// Providers in configuration order.
    pub(crate) fn providers_in_order(&self) -> Vec<&Provider> {
        self.inner
            .config
            .providers
            .iter()
            .filter_map(|p| self.inner.providers.get(&p.id))
            .collect()
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.inner.config.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The configured answer when the stub runs without its page.
    pub(crate) fn non_interactive(&self) -> Option<NonInteractive> {
        self.inner.non_interactive
    }

    pub(crate) fn forced(&self, provider_id: &str) -> Forced {
        lock(&self.inner.forced).get(provider_id).cloned().unwrap_or_default()
    }
}

/// A fresh random identifier (256 bits, base64url).
pub(crate) fn random_id() -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Whether a sweep of a map's expired entries is due (`now` in seconds): at most one a second per map, so
/// a request's cost does not grow with the number of live entries, as a sweep on every request made it.
/// Every lookup checks expiry itself; sweeping only frees memory.
pub(crate) fn sweep_due(last: &std::sync::atomic::AtomicU64, now: u64) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    let prev = last.load(Relaxed);
    now > prev && last.compare_exchange(prev, now, Relaxed, Relaxed).is_ok()
}

#[cfg(test)]
mod sweep_tests {
    #[test]
    fn a_sweep_is_due_once_a_second() {
        let last = std::sync::atomic::AtomicU64::new(0);
        assert!(super::sweep_due(&last, 100));
        assert!(!super::sweep_due(&last, 100), "twice in the same second");
        assert!(super::sweep_due(&last, 101));
        assert!(!super::sweep_due(&last, 99), "a clock moved back sweeps nothing");
    }
}
