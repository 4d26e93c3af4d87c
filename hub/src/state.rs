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
use keys::{ring::KeyRing, SigningKey};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

/// The largest answer the hub reads from a provider or a service's `jwks_uri`, bytes.
pub const MAX_OUTBOUND_BODY: usize = 256 * 1024;

/// The rings of the hub's signing keys (INTERFACE.md §7; [`keys::ring`]): each role's keys in
/// `keys_dir`, the one that signs and those published chosen by the time, so instances agree.
#[derive(Debug)]
pub struct Rings {
    /// Signs ID tokens and logout tokens (published at `/.well-known/jwks.json`).
    pub signing: KeyRing,
    /// Signs ID tokens for services registered for RS256 (published beside `signing`).
    pub signing_rs256: KeyRing,
    /// Signs identity credentials (`coreIdentityJWT`); published in the DID document.
    pub identity: KeyRing,
    /// Signs the hub's client assertions to providers (published at `/upstream/jwks.json`).
    pub upstream: KeyRing,
}

impl Rings {
    /// Reads every ring from `dir`, generating a first key for any that has none (development).
    pub fn load_or_generate(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let ec = |name: &str| KeyRing::load_or_generate(dir, name, SigningKey::generate);
        let rings = Self {
            signing: ec("hub-signing")?,
            upstream: ec("hub-upstream")?,
            identity: ec("hub-identity")?,
            signing_rs256: KeyRing::load_or_generate(dir, "hub-signing-rs256", SigningKey::generate_rs256)?,
        };
        for (ring, alg) in [
            (&rings.signing, "ES256"),
            (&rings.upstream, "ES256"),
            (&rings.identity, "ES256"),
            (&rings.signing_rs256, "RS256"),
        ] {
            if ring.active(0).alg() != alg {
                anyhow::bail!("{}: the {} keys must be {alg} keys", dir.display(), ring.name());
            }
        }
        Ok(rings)
    }
}

/// How long each ring's retired keys stay published: the longest a token they signed lives, plus skew.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub signing: i64,
    pub identity: i64,
    pub upstream: i64,
}

impl Retention {
    /// From the configured lifetimes: ID and logout tokens, identity credentials, client assertions.
    pub fn of(config: &Config) -> Self {
        Self {
            signing: (config.id_token_ttl_secs as i64).max(crate::tokens::LOGOUT_TOKEN_TTL) + keys::SKEW_SECS,
            identity: crate::tokens::CORE_IDENTITY_TTL + keys::SKEW_SECS,
            upstream: keys::client_assertion::LIFETIME_SECS + keys::SKEW_SECS,
        }
    }
}

/// The hub's own keys and secrets. The rings are swapped whole when `keys_dir` changes
/// ([`HubKeys::reload`]): a rotation needs no restart.
#[derive(Debug)]
pub struct HubKeys {
    rings: ArcSwap<Rings>,
    dir: PathBuf,
    /// What the key files looked like when the rings were read (names, sizes, times).
    seen: std::sync::Mutex<Vec<(String, u64, Option<std::time::SystemTime>)>>,
    /// The secret behind pairwise subjects; never leaves the hub.
    pub pairwise_secret: Vec<u8>,
    /// Seals what the store holds about a person (`seal-<id>.key` files).
    pub seal: Sealer,
    /// Makes DPoP server nonces (RFC 9449 §8); derived from the pairwise secret so every instance agrees.
    pub nonce_key: Vec<u8>,
    /// The last reading of changed key files failed (a bad key was dropped in): the rings in use stay
    /// those last read, and `/readyz` says so.
    reload_failing: std::sync::atomic::AtomicBool,
}

/// The key files of `dir` as they stand: name, size and modification time of each `.pem`.
fn key_files(dir: &Path) -> Vec<(String, u64, Option<std::time::SystemTime>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".pem"))
                .map(|e| {
                    let meta = e.metadata().ok();
                    (
                        e.file_name().to_string_lossy().to_string(),
                        meta.as_ref().map_or(0, |m| m.len()),
                        meta.and_then(|m| m.modified().ok()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

impl HubKeys {
    /// Loads the keys from `dir`, generating any that are missing (development start-up).
    pub fn load_or_generate(dir: &Path) -> anyhow::Result<Self> {
        let seen = key_files(dir);
        let rings = Rings::load_or_generate(dir)?;
        let secret_path = dir.join("pairwise.secret");
        if !secret_path.exists() {
            let secret = crate::ids::random_token();
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
        let nonce_key = {
            use hmac::Mac as _;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&pairwise_secret)
                .map_err(|e| anyhow::anyhow!("pairwise secret: {e}"))?;
            mac.update(b"dpop-nonce-key");
            mac.finalize().into_bytes().to_vec()
        };
        Ok(Self {
            rings: ArcSwap::from_pointee(rings),
            dir: dir.to_path_buf(),
            seen: std::sync::Mutex::new(seen),
            pairwise_secret,
            seal,
            nonce_key,
            reload_failing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The rings as they stand now.
    pub fn rings(&self) -> Arc<Rings> {
        self.rings.load_full()
    }

    /// Reads the rings again if a key file was added, removed or changed since they were read; a ring
    /// that does not load changes nothing. `Ok(true)` when the rings were replaced.
    pub fn reload(&self) -> anyhow::Result<bool> {
        let result = self.read_again();
        self.reload_failing
            .store(result.is_err(), std::sync::atomic::Ordering::SeqCst);
        result
    }

    /// The directory the keys are read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the last reading of changed key files failed (it is tried again at every reload).
    pub fn reload_failing(&self) -> bool {
        self.reload_failing.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn read_again(&self) -> anyhow::Result<bool> {
        let now_seen = key_files(&self.dir);
        let Ok(mut seen) = self.seen.lock() else {
            anyhow::bail!("key reload state poisoned");
        };
        if *seen == now_seen {
            return Ok(false);
        }
        let rings = Rings::load_or_generate(&self.dir)?;
        self.rings.store(Arc::new(rings));
        *seen = now_seen;
        Ok(true)
    }

    /// Adds a key to ring `name` that signs from `activates` and reads the rings again (the sandbox's
    /// "rotate now"; operators use `keys rotate`).
    pub fn rotate(&self, name: &str, activates: i64) -> anyhow::Result<String> {
        let (_, key) = keys::ring::rotate(&self.dir, name, activates, activates)?;
        self.reload()?;
        Ok(key.kid().to_string())
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
    /// The service teams' sandbox, when `federation --sandbox` turned it on.
    pub sandbox: Option<Arc<crate::sandbox::Sandbox>>,
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
            sandbox: config.sandbox.then(Arc::default),
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

    /// The key that signs ID tokens for a client now (`id_token_signing_alg`, INTERFACE.md §4, §7).
    pub fn id_token_key(&self, client: &Client) -> Arc<SigningKey> {
        let rings = self.keys.rings();
        let ring = if client.id_token_signing_alg == "RS256" {
            &rings.signing_rs256
        } else {
            &rings.signing
        };
        ring.active(self.now()).clone()
    }

    /// The key that signs logout tokens now (the ES256 ID token key).
    pub fn logout_key(&self) -> Arc<SigningKey> {
        self.keys.rings().signing.active(self.now()).clone()
    }

    /// The key that signs identity credentials now.
    pub fn identity_key(&self) -> Arc<SigningKey> {
        self.keys.rings().identity.active(self.now()).clone()
    }

    /// The key that signs the hub's client assertions to providers now.
    pub fn upstream_key(&self) -> Arc<SigningKey> {
        self.keys.rings().upstream.active(self.now()).clone()
    }

    /// The hub's JWKS now: the ID token keys (ES256 and RS256) that sign, will sign, or signed tokens
    /// still alive (INTERFACE.md §1, §7).
    pub fn jwks(&self) -> serde_json::Value {
        let (rings, now, keep) = (self.keys.rings(), self.now(), Retention::of(&self.config));
        let mut keys = rings.signing.published(now, keep.signing);
        keys.extend(rings.signing_rs256.published(now, keep.signing));
        keys::jwks(keys)
    }

    /// The DID document now: the identity credential keys published (INTERFACE.md §5, §7).
    pub fn did_document(&self) -> serde_json::Value {
        let (rings, now, keep) = (self.keys.rings(), self.now(), Retention::of(&self.config));
        keys::did::document(
            self.config.identity_issuer(),
            &rings.identity.published(now, keep.identity),
        )
    }

    /// The JWKS of the hub's client-assertion keys, for providers (`/upstream/jwks.json`).
    pub fn upstream_jwks(&self) -> serde_json::Value {
        let (rings, now, keep) = (self.keys.rings(), self.now(), Retention::of(&self.config));
        keys::jwks(rings.upstream.published(now, keep.upstream))
    }

    /// Each key of each ring and its state now (`next`, `active`, `retired`, `expired`), for the
    /// assertion log's record of key changes.
    pub fn key_states(&self) -> std::collections::BTreeMap<(String, String), &'static str> {
        let (rings, now, keep) = (self.keys.rings(), self.now(), Retention::of(&self.config));
        [
            (&rings.signing, keep.signing),
            (&rings.signing_rs256, keep.signing),
            (&rings.identity, keep.identity),
            (&rings.upstream, keep.upstream),
        ]
        .into_iter()
        .flat_map(|(ring, retain)| {
            ring.states(now, retain)
                .into_iter()
                .map(|(k, s)| ((ring.name().to_string(), k.key.kid().to_string()), s.name()))
                .collect::<Vec<_>>()
        })
        .collect()
    }

    /// Every ID token key the hub ever had and still holds: its own tokens (an `id_token_hint`) verify
    /// with them, however old.
    pub fn own_id_token_keys(&self) -> Option<keys::VerifyingKeys> {
        let rings = self.keys.rings();
        keys::VerifyingKeys::from_jwks(&keys::jwks(rings.signing.all().chain(rings.signing_rs256.all()))).ok()
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
