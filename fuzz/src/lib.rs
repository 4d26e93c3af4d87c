//! What the fuzz targets share: registries of a few services and one provider, made once, and a whole
//! hub in-process (its real router, the memory store, no audit log, no rate limits) for the target that
//! sends it requests. Nothing here listens on a socket; the provider's issuer is a loopback port where
//! nothing answers, so a request that reaches upstream ends on the "provider unavailable" path at once.

use hub::registry::{ClientRegistry, ProviderRegistry};
use std::sync::OnceLock;

/// The issuer the in-process hub calls itself.
pub const ISSUER: &str = "https://hub.example";
/// A service registered with a PEM key (`private_key_jwt`), levels up to P2 and identity claims.
pub const SERVICE: &str = "svc";
/// Its one redirect URI.
pub const SERVICE_REDIRECT: &str = "https://svc.example/callback";

/// A signing key and the service key used by the targets that need one, made once.
pub struct Keys {
    pub es256: keys::SigningKey,
    pub rs256: keys::SigningKey,
    pub verifying: keys::VerifyingKeys,
}

/// The keys, made on first use (an RSA key takes a moment).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let es256 = keys::SigningKey::generate().expect("ES256 key");
        let rs256 = keys::SigningKey::generate_rs256().expect("RS256 key");
        let set = serde_json::json!({"keys": [es256.public_jwk(), rs256.public_jwk()]});
        let verifying = keys::VerifyingKeys::from_jwks(&set).expect("JWKS");
        Keys {
            es256,
            rs256,
            verifying,
        }
    })
}

/// The client registry's TOML: three services, one per profile.
pub fn clients_toml() -> String {
    let public = keys().es256.public_pem().expect("public PEM");
    format!(
        r#"[[clients]]
client_id = "{SERVICE}"
client_name = "A service"
client_name_cy = "Gwasanaeth"
redirect_uris = ["{SERVICE_REDIRECT}"]
post_logout_redirect_uris = ["https://svc.example/signed-out"]
backchannel_logout_uri = "https://svc.example/backchannel"
scopes = ["openid", "email", "phone"]
levels = ["Cl", "Cl.Cm", "Cl.Cm.P1", "Cl.Cm.P2"]
claims = [
  "https://vocab.account.gov.uk/v1/coreIdentityJWT",
  "https://vocab.account.gov.uk/v1/address",
  "https://vocab.account.gov.uk/v1/passport",
  "https://vocab.account.gov.uk/v1/returnCode",
]
max_age_enabled = true
public_key = """
{public}"""

[[clients]]
client_id = "fapi"
client_name = "A FAPI service"
redirect_uris = ["https://fapi.example/callback"]
scopes = ["openid"]
levels = ["Cl.Cm"]
profile = "fapi2"
public_key = """
{public}"""

[[clients]]
client_id = "basic"
client_name = "A generic client"
redirect_uris = ["https://basic.example/callback", "https://basic.example/other"]
scopes = ["openid", "email"]
levels = ["Cl.Cm"]
profile = "oidc-basic"
public_key = """
{public}"""
"#
    )
}

/// The provider registry's TOML: one provider nobody answers for.
pub const PROVIDERS_TOML: &str = r#"[[providers]]
id = "idp"
name = "Fake ID"
name_cy = "ID Ffug"
issuer = "http://127.0.0.1:1/idp"
client_id = "hub"
levels = ["Cl", "Cl.Cm", "Cl.Cm.P1", "Cl.Cm.P2"]
claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
"#;

/// The client registry, parsed once.
pub fn clients() -> &'static ClientRegistry {
    static CLIENTS: OnceLock<ClientRegistry> = OnceLock::new();
    CLIENTS.get_or_init(|| ClientRegistry::parse(&clients_toml()).expect("the fuzz client registry"))
}

/// The provider registry, parsed once.
pub fn providers() -> &'static ProviderRegistry {
    static PROVIDERS: OnceLock<ProviderRegistry> = OnceLock::new();
    PROVIDERS.get_or_init(|| ProviderRegistry::parse(PROVIDERS_TOML).expect("the fuzz provider registry"))
}

/// Input bytes as text, or nothing: every outside parser here takes text.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A whole hub, in-process, with its files in a directory of its own.
pub struct Hub {
    pub router: axum::Router,
    pub runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Hub {
    /// A fresh hub: real router and state, memory store bounded at `max_entries`.
    pub fn new(max_entries: usize) -> Hub {
        let dir = tempfile::tempdir().expect("temporary directory");
        // The hub's keys (an RSA one among them) are made once and copied into each new hub.
        static KEYS_DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
        let made = KEYS_DIR.get_or_init(|| {
            let keys = tempfile::tempdir().expect("temporary directory");
            hub::state::HubKeys::load_or_generate(keys.path()).expect("hub keys");
            keys
        });
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir_all(&keys_dir).expect("keys directory");
        for entry in std::fs::read_dir(made.path()).expect("keys") {
            let path = entry.expect("key file").path();
            if path.is_file() {
                std::fs::copy(&path, keys_dir.join(path.file_name().expect("name"))).expect("copy key");
            }
        }
        let clients_file = dir.path().join("clients.toml");
        let providers_file = dir.path().join("providers.toml");
        std::fs::write(&clients_file, clients_toml()).expect("clients file");
        std::fs::write(&providers_file, PROVIDERS_TOML).expect("providers file");
        let config = hub::Config {
            issuer: ISSUER.into(),
            keys_dir,
            clients_file,
            providers_file,
            audit_log: false,
            rate_limits: false,
            memory_store_max_entries: max_entries,
            http_timeout_secs: 1,
            ..hub::Config::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let state = runtime.block_on(hub::AppState::from_config(config)).expect("hub state");
        Hub {
            router: hub::router(state),
            runtime,
            _dir: dir,
        }
    }
}
