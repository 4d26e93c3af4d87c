//! The shared application state (STYLE.md §6): one cheap `Clone` holding configuration, registries, keys
//! and the seams tests swap: the [`SessionStore`](crate::store::SessionStore), the [`Clock`], the
//! [`ProviderClient`] for all outbound HTTP, and the [`AuditSink`](crate::audit::AuditSink).

use crate::{
    audit::{self, NoAudit},
    clock::{Clock, SystemClock},
    config::Config,
    idp::providers::Upstreams,
    ids::PairwiseSub,
    journey::Person,
    jwks_cache::JwksCache,
    outbound::{HttpClient, ProviderClient},
    registry::{Client, ClientRegistry, ProviderRegistry, Snapshot},
    store::{seal::Sealer, MemoryStore, RawStore, RedisStore, Store},
};
use anyhow::Context as _;
use arc_swap::ArcSwap;
use keys::SigningKey;
use std::{path::Path, sync::Arc, time::Duration};

/// The largest answer the hub reads from a provider or a service's `jwks_uri`, bytes.
pub const MAX_OUTBOUND_BODY: usize = 256 * 1024;

/// The hub's own keys.
#[derive(Debug)]
pub struct HubKeys {
    /// Signs ID tokens and logout tokens (published at `/.well-known/jwks.json`).
    pub signing: SigningKey,
    /// Signs the hub's client assertions to providers (published at `/upstream/jwks.json`).
    pub upstream: SigningKey,
    /// Signs ID tokens for services registered for RS256 (published beside `signing`).
    pub signing_rs256: SigningKey,
    /// Signs identity credentials (`coreIdentityJWT`); published in the DID document.
    pub identity: SigningKey,
    /// The secret behind pairwise subjects; never leaves the hub.
    pub pairwise_secret: Vec<u8>,
    /// Seals what the store holds about a person (`seal-<id>.key` files).
    pub seal: Sealer,
}

impl HubKeys {
    /// Loads the keys from `dir`, generating any that are missing (development start-up).
    pub fn load_or_generate(dir: &Path) -> anyhow::Result<Self> {
        let signing = SigningKey::load_or_generate(&dir.join("hub-signing.pem"))?;
        let upstream = SigningKey::load_or_generate(&dir.join("hub-upstream.pem"))?;
        let identity = SigningKey::load_or_generate(&dir.join("hub-identity.pem"))?;
        let signing_rs256 = SigningKey::load_or_generate_rs256(&dir.join("hub-signing-rs256.pem"))?;
        if signing.alg() != "ES256"
            || identity.alg() != "ES256"
            || upstream.alg() != "ES256"
            || signing_rs256.alg() != "RS256"
        {
            anyhow::bail!(
                "{}: hub-signing, hub-identity and hub-upstream must be P-256 keys, hub-signing-rs256 an RSA key",
                dir.display()
            );
        }
        let secret_path = dir.join("pairwise.secret");
        if !secret_path.exists() {
            let secret = crate::ids::random_token();
            if let Some(dir) = secret_path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            keys::write_private(&secret_path, secret.as_bytes())
                .with_context(|| format!("writing {}", secret_path.display()))?;
        }
        let pairwise_secret =
            std::fs::read(&secret_path).with_context(|| format!("reading {}", secret_path.display()))?;
        if pairwise_secret.len() < 32 {
            anyhow::bail!(
                "{}: the pairwise secret must be at least 32 bytes",
                secret_path.display()
            );
        }
        let seal = Sealer::load_or_generate(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        Ok(Self {
            signing,
            upstream,
            identity,
            signing_rs256,
            pairwise_secret,
            seal,
        })
    }
}

/// The seams tests swap (STYLE.md §6).
#[derive(Debug, Clone)]
pub struct Seams {
    /// The store implementation; the state seals what it writes there.
    pub store: RawStore,
    pub clock: Arc<dyn Clock>,
    /// All HTTP the hub makes on its own: providers, services' `jwks_uri`, back-channel logout.
    pub outbound: Arc<dyn ProviderClient>,
    pub audit: audit::Sink,
}

impl Seams {
    /// The real seams for a configuration: Redis or the memory store, the system clock, real HTTP.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: RawStore = match &config.redis_url {
            Some(url) => Arc::new(
                RedisStore::new(url, &config.redis_prefix).map_err(|e| anyhow::anyhow!("field redis_url: {e}"))?,
            ),
            None => Arc::new(MemoryStore::new(clock.clone(), config.memory_store_max_entries)),
        };
        let timeout = Duration::from_secs(config.http_timeout_secs);
        Ok(Self {
            store,
            clock,
            outbound: Arc::new(HttpClient::trusting(
                timeout,
                MAX_OUTBOUND_BODY,
                config.tls.extra_ca_file.as_deref(),
            )?),
            audit: Arc::new(NoAudit),
        })
    }
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    /// The registries, swapped whole on a reload ([`AppState::reload_registries`]); read them through
    /// [`AppState::snapshot`].
    clients: ArcSwap<ClientRegistry>,
    providers: ArcSwap<ProviderRegistry>,
    pub keys: HubKeys,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub outbound: Arc<dyn ProviderClient>,
    pub audit: audit::Sink,
    pub upstreams: Upstreams,
    pub client_keys: JwksCache,
    /// Rate limits per client address and per service.
    pub limiter: crate::http::rate::Limiter,
    /// The assertion log, when this instance writes one.
    pub audit_log: Option<crate::audit::log::LogHandle>,
}

/// Cheap-to-clone handle on [`Inner`].
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state from configuration: registries, keys, the real seams.
    pub async fn from_config(config: Config) -> anyhow::Result<Self> {
        let clients = ClientRegistry::load(&config.clients_file)?;
        let providers = ProviderRegistry::load(&config.providers_file)?;
        let keys = HubKeys::load_or_generate(&config.keys_dir)?;
        let mut seams = Seams::from_config(&config)?;
        let mut audit_log = None;
        if config.audit_log {
            match crate::audit::log::AuditLog::open(&config.audit_settings()) {
                Ok(log) => {
                    let handle = crate::audit::log::LogHandle(Arc::new(log));
                    seams.audit = Arc::new(handle.clone());
                    audit_log = Some(handle);
                }
                // Serve "try again" until the log can be written, as for a Redis that is not up yet.
                Err(e) => {
                    tracing::error!(error = %e, "the audit log cannot be opened; nothing is asserted until it can");
                    seams.audit = Arc::new(crate::audit::log::Opening::new(config.audit_settings()));
                }
            }
        }
        if config.redis_url.is_some() {
            if let Err(e) = seams.store.ping().await {
                tracing::warn!(error = %e, "Redis does not answer yet; serving 'try again' until it does");
            }
        }
        let mut state = Self::new(config, clients, providers, keys, seams);
        if let Some(inner) = Arc::get_mut(&mut state.0) {
            inner.audit_log = audit_log;
        }
        Ok(state)
    }

    /// Builds the state from parts (tests swap the seams).
    pub fn new(
        config: Config,
        clients: ClientRegistry,
        providers: ProviderRegistry,
        keys: HubKeys,
        seams: Seams,
    ) -> Self {
        let seal = keys.seal.clone();
        Self(Arc::new(Inner {
            audit_log: None,
            limiter: crate::http::rate::Limiter::new(config.rate_per_ip, config.rate_per_client, config.rate_limits),
            upstreams: Upstreams::new(
                seams.outbound.clone(),
                seams.clock.clone(),
                crate::idp::providers::BreakerPolicy {
                    threshold: config.provider_breaker_failures,
                    cooldown_secs: config.provider_breaker_cooldown_secs as i64,
                    failure_memory_secs: config.provider_failure_memory_secs as i64,
                },
            ),
            client_keys: JwksCache::new(seams.outbound.clone(), seams.clock.clone()),
            config,
            clients: ArcSwap::from_pointee(clients),
            providers: ArcSwap::from_pointee(providers),
            keys,
            store: Store::new(seams.store, seal),
            clock: seams.clock,
            outbound: seams.outbound,
            audit: seams.audit,
        }))
    }

    /// Both registries as they stand now; a reload does not change a snapshot already taken.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            clients: self.clients.load_full(),
            providers: self.providers.load_full(),
        }
    }

    /// Reads both registry files again and, if both are valid, serves them from now on (INTERFACE.md §8:
    /// "read at start-up and reloadable"). An invalid file changes nothing: the error names the entry and field.
    pub fn reload_registries(&self) -> Result<Snapshot, String> {
        let clients = ClientRegistry::load(&self.config.clients_file).map_err(|e| e.to_string())?;
        let providers = ProviderRegistry::load(&self.config.providers_file).map_err(|e| e.to_string())?;
        self.clients.store(Arc::new(clients));
        self.providers.store(Arc::new(providers));
        Ok(self.snapshot())
    }

    /// The key that signs ID tokens for a client (`id_token_signing_alg`, INTERFACE.md §4).
    pub fn id_token_key(&self, client: &Client) -> &SigningKey {
        if client.id_token_signing_alg == "RS256" {
            &self.keys.signing_rs256
        } else {
            &self.keys.signing
        }
    }

    /// The pairwise `sub` of a person for a client's sector (INTERFACE.md §4).
    pub fn pairwise_sub(&self, client: &Client, person: &Person) -> PairwiseSub {
        PairwiseSub::from(crate::pairwise::pairwise_sub(
            &self.keys.pairwise_secret,
            &self.config.sub_prefix,
            &client.sector,
            &person.provider_issuer,
            &person.provider_sub,
        ))
    }

    /// The current time, from the clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
