//! The client registry (INTERFACE.md §8): every relying service, its redirect URIs, keys, levels and
//! claims. Unknown fields, duplicate ids and non-https redirect URIs (except loopback) fail start-up.

use super::{is_allowed_redirect, RegistryError};
use crate::{ids::ClientId, vtr::Vector};
use serde::Deserialize;
use std::{collections::HashMap, path::Path};

/// How a client authenticates at `/token` (RFC 7591 §2 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    PrivateKeyJwt,
    ClientSecretPost,
    ClientSecretBasic,
}

/// How strictly a client is held to the rules (INTERFACE.md, "Strictness is per client").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    #[default]
    OneLogin,
    OidcBasic,
    Fapi2,
}

fn default_true() -> bool {
    true
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into()]
}

fn default_levels() -> Vec<Vector> {
    vec![Vector::DEFAULT]
}

fn default_alg() -> String {
    "ES256".into()
}

/// One relying service as registered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: ClientId,
    pub client_name: String,
    /// The service's name in Welsh, for Welsh pages (its `client_name` when not registered).
    #[serde(default)]
    pub client_name_cy: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Scopes the client may ask for (always including `openid`).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Identity claims (`https://vocab.account.gov.uk/v1/...`) the client may receive.
    #[serde(default)]
    pub claims: Vec<String>,
    /// The vectors of trust the client may ask for.
    #[serde(default = "default_levels")]
    pub levels: Vec<Vector>,
    #[serde(default)]
    pub identity_verification_supported: bool,
    #[serde(default = "default_alg")]
    pub id_token_signing_alg: String,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: TokenAuthMethod,
    /// The client's public key as PEM (inline) for `private_key_jwt`.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Where the client's JWKS is fetched from for `private_key_jwt`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Argon2id PHC string of the client secret, for `client_secret_post`/`client_secret_basic`.
    #[serde(default)]
    pub client_secret_hash: Option<String>,
    #[serde(default)]
    pub sector_identifier_uri: Option<String>,
    #[serde(default)]
    pub profile: Profile,
    #[serde(default = "default_true")]
    pub pkce_required: bool,
    #[serde(default)]
    pub jar_required: bool,
    #[serde(default)]
    pub permit_missing_nonce: bool,
    #[serde(default)]
    pub max_age_enabled: bool,
    /// The client must send its authorization requests by `POST /par` first (RFC 9126 §5); always so
    /// for `fapi2`.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Access tokens must be sender-constrained with DPoP (RFC 9449); always so for `fapi2`.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// The most seconds a request object's `exp` may lie after its `nbf`; when set, both are required
    /// (60 for `fapi2` when absent).
    #[serde(default)]
    pub request_object_max_lifetime_secs: Option<i64>,
    #[serde(default)]
    pub landing_page_url: Option<String>,
    #[serde(default = "default_true")]
    pub active: bool,
    /// Derived at load: the host pairwise subjects are computed for (`www.` removed).
    #[serde(skip)]
    pub sector: String,
}

fn default_auth_method() -> TokenAuthMethod {
    TokenAuthMethod::PrivateKeyJwt
}

impl Client {
    /// The service's name in a page's language.
    pub fn name(&self, lang: crate::i18n::Lang) -> &str {
        match (lang, &self.client_name_cy) {
            (crate::i18n::Lang::Cy, Some(cy)) => cy,
            _ => &self.client_name,
        }
    }

    /// Whether `uri` is one of the registered redirect URIs, by exact string comparison (RFC 9700 §4.1.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether the client authenticates with a private key (the only way to receive identity).
    pub fn uses_private_key_jwt(&self) -> bool {
        self.token_endpoint_auth_method == TokenAuthMethod::PrivateKeyJwt
    }

    /// Whether a nonce may be omitted in an authorization request: One Login requires it; a generic OIDC
    /// client (OIDC Core §3.1.2.1) and a FAPI 2.0 client (PKCE binds its code) may leave it out.
    pub fn nonce_optional(&self) -> bool {
        self.permit_missing_nonce || self.profile != Profile::OneLogin
    }

    /// Whether `state` may be omitted (RFC 6749 §4.1.1 RECOMMENDED; One Login requires it).
    pub fn state_optional(&self) -> bool {
        self.profile != Profile::OneLogin
    }

    /// Whether `response_mode=form_post` may be asked for (INTERFACE.md §2: `oidc-basic` clients).
    pub fn form_post_allowed(&self) -> bool {
        self.profile == Profile::OidcBasic
    }

    /// Whether the access token may come in a userinfo form body (RFC 6750 §2.2), as a certified generic
    /// client sends it; One Login's and FAPI's way is the `Authorization` header only.
    pub fn userinfo_body_token_allowed(&self) -> bool {
        self.profile == Profile::OidcBasic
    }

    /// Whether a request object's query may repeat its parameters (OIDC Core §6.1: the object's values
    /// win), as generic clients send them; One Login and FAPI allow only the few RFC 9101 §5 names.
    pub fn lenient_request_object_query(&self) -> bool {
        self.profile == Profile::OidcBasic
    }

    /// The algorithms the client's assertions and request objects may be signed with (FAPI 2.0 SP §5.4.1:
    /// PS256 and ES256 only).
    pub fn accepted_algs(&self) -> &'static [&'static str] {
        match self.profile {
            Profile::Fapi2 => &["ES256", "PS256"],
            _ => keys::ACCEPTED_ALGS,
        }
    }

    /// Whether a client assertion's `aud` must be exactly the issuer, as one string (FAPI 2.0 SP
    /// §5.3.2.1: no endpoint URL, no array).
    pub fn assertion_audience_is_issuer_only(&self) -> bool {
        self.profile == Profile::Fapi2
    }

    /// How long a code for this client lives: at most 60 s for FAPI 2.0 (SP §5.3.2.1), else `default`.
    pub fn code_ttl_secs(&self, default: u64) -> u64 {
        match self.profile {
            Profile::Fapi2 => default.min(60),
            _ => default,
        }
    }

    /// Whether access tokens must be DPoP-bound (RFC 9449; FAPI 2.0 SP §5.3.2.1 sender-constraining).
    pub fn requires_dpop(&self) -> bool {
        self.dpop_bound_access_tokens || self.profile == Profile::Fapi2
    }

    /// Request objects: must `exp` and `nbf` be present, and the most seconds `exp` may lie after `nbf`
    /// (the `fapi2` profile: both, at most `request_object_max_lifetime_secs`, 60 by default).
    pub fn request_object_lifetime(&self) -> Option<i64> {
        match self.profile {
            Profile::Fapi2 => Some(self.request_object_max_lifetime_secs.unwrap_or(60)),
            _ => self.request_object_max_lifetime_secs,
        }
    }

    /// Whether the client may leave out PKCE (never for `fapi2`: FAPI 2.0 SP §5.3.2.2).
    pub fn pkce_optional(&self) -> bool {
        (!self.pkce_required || self.profile == Profile::OidcBasic) && self.profile != Profile::Fapi2
    }

    /// Whether `max_age` is honoured (OIDC Core §3.1.2.1): for clients registered for it and every
    /// `oidc-basic` client; One Login's way is to ignore it.
    pub fn honours_max_age(&self) -> bool {
        self.max_age_enabled || self.profile != Profile::OneLogin
    }

    /// Whether the client must push its authorization requests (RFC 9126 §5; FAPI 2.0 SP §5.3.2.2).
    pub fn par_required(&self) -> bool {
        self.require_pushed_authorization_requests || self.profile == Profile::Fapi2
    }

    /// Whether this way of authenticating at `/token` and `/par` is the client's: its registered method,
    /// and for `oidc-basic` clients with a secret either of the secret methods (OIDC Core §9).
    pub fn accepts_auth_method(&self, method: TokenAuthMethod) -> bool {
        method == self.token_endpoint_auth_method
            || (self.profile == Profile::OidcBasic
                && self.token_endpoint_auth_method != TokenAuthMethod::PrivateKeyJwt
                && method != TokenAuthMethod::PrivateKeyJwt)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    clients: Vec<Client>,
}

/// Every registered client by id.
#[derive(Debug, Clone, Default)]
pub struct ClientRegistry {
    clients: HashMap<ClientId, Client>,
}

/// The sector host of a URL: its host with a leading `www.` removed (INTERFACE.md §4).
pub fn sector_of(url: &url::Url) -> Option<String> {
    url.host_str()
        .map(|h| h.strip_prefix("www.").unwrap_or(h).to_ascii_lowercase())
}

impl ClientRegistry {
    /// Reads and validates a registry file.
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        super::load(path, Self::parse)
    }

    /// Parses and validates registry TOML; the error names the client and field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed: File = toml::from_str(text).map_err(|e| e.to_string())?;
        Self::from_clients(parsed.clients)
    }

    /// Validates a list of clients.
    pub fn from_clients(list: Vec<Client>) -> Result<Self, String> {
        let mut clients = HashMap::new();
        for mut client in list {
            let id = client.client_id.to_string();
            let fail = |field: &str, why: &str| format!("client {id:?}: field {field}: {why}");
            if id.is_empty() {
                return Err("a client has an empty client_id".into());
            }
            if client.redirect_uris.is_empty() {
                return Err(fail("redirect_uris", "at least one is required"));
            }
            let mut hosts = Vec::new();
            for (field, uris) in [
                ("redirect_uris", &client.redirect_uris),
                ("post_logout_redirect_uris", &client.post_logout_redirect_uris),
            ] {
                for uri in uris {
                    let url = url::Url::parse(uri).map_err(|e| fail(field, &format!("{uri:?} is not a URL: {e}")))?;
                    if !is_allowed_redirect(&url) {
                        return Err(fail(field, &format!("{uri:?} must be https (http only on loopback)")));
                    }
                    if url.fragment().is_some() {
                        return Err(fail(field, &format!("{uri:?} must not have a fragment")));
                    }
                    if field == "redirect_uris" {
                        hosts.push(sector_of(&url).unwrap_or_default());
                    }
                }
            }
            if let Some(uri) = &client.backchannel_logout_uri {
                let url = url::Url::parse(uri).map_err(|e| fail("backchannel_logout_uri", &e.to_string()))?;
                if !is_allowed_redirect(&url) {
                    return Err(fail("backchannel_logout_uri", "must be https (http only on loopback)"));
                }
            }
            client.sector = match &client.sector_identifier_uri {
                Some(uri) => {
                    let url = url::Url::parse(uri).map_err(|e| fail("sector_identifier_uri", &e.to_string()))?;
                    sector_of(&url).ok_or_else(|| fail("sector_identifier_uri", "has no host"))?
                }
                None => {
                    hosts.dedup();
                    if hosts.len() > 1 {
                        return Err(fail(
                            "sector_identifier_uri",
                            "required when redirect_uris have several hosts",
                        ));
                    }
                    hosts.pop().unwrap_or_default()
                }
            };
            if !client.scopes.iter().any(|s| s == "openid") {
                client.scopes.push("openid".into());
            }
            match client.token_endpoint_auth_method {
                TokenAuthMethod::PrivateKeyJwt => {
                    if client.public_key.is_none() == client.jwks_uri.is_none() {
                        return Err(fail(
                            "public_key",
                            "private_key_jwt needs exactly one of public_key or jwks_uri",
                        ));
                    }
                    if let Some(pem) = &client.public_key {
                        keys::VerifyingKey::from_pem(pem.as_bytes(), None)
                            .map_err(|e| fail("public_key", &e.to_string()))?;
                    }
                }
                method => {
                    if client.client_secret_hash.is_none() {
                        return Err(fail("client_secret_hash", "required for client_secret_post/basic"));
                    }
                    if method == TokenAuthMethod::ClientSecretBasic && client.profile != Profile::OidcBasic {
                        return Err(fail(
                            "token_endpoint_auth_method",
                            "client_secret_basic is only for the oidc-basic profile",
                        ));
                    }
                    if let Some(level) = client.levels.iter().find(|v| v.asks_identity()) {
                        return Err(fail("levels", &format!("{level} needs private_key_jwt")));
                    }
                }
            }
            if !matches!(client.id_token_signing_alg.as_str(), "ES256" | "RS256") {
                return Err(fail("id_token_signing_alg", "must be ES256 or RS256"));
            }
            if client.profile == Profile::Fapi2 {
                // FAPI 2.0 SP §5.3.2.1 and §5.4.1: private_key_jwt, and no RS256 anywhere.
                if client.token_endpoint_auth_method != TokenAuthMethod::PrivateKeyJwt {
                    return Err(fail(
                        "token_endpoint_auth_method",
                        "the fapi2 profile needs private_key_jwt",
                    ));
                }
                if client.id_token_signing_alg != "ES256" {
                    return Err(fail("id_token_signing_alg", "the fapi2 profile needs ES256"));
                }
                if !client.pkce_required {
                    return Err(fail("pkce_required", "the fapi2 profile always requires PKCE"));
                }
            }
            if client.request_object_max_lifetime_secs.is_some_and(|s| s <= 0) {
                return Err(fail("request_object_max_lifetime_secs", "must be positive"));
            }
            if clients.insert(client.client_id.clone(), client).is_some() {
                return Err(format!("client {id:?}: duplicate client_id"));
            }
        }
        Ok(Self { clients })
    }

    /// The client with this id.
    pub fn get(&self, client_id: &str) -> Option<&Client> {
        self.clients.get(client_id)
    }

    /// Every client.
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.clients.values()
    }

    /// How many clients are registered.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client is registered.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [[clients]]
        client_id = "svc"
        client_name = "A service"
        redirect_uris = ["https://www.service.gov.uk/callback", "https://www.service.gov.uk/cb2"]
        jwks_uri = "https://service.gov.uk/jwks.json"
        levels = ["Cl.Cm", "Cl.Cm.P2"]
    "#;

    #[test]
    fn loads_a_good_client_and_derives_the_sector() {
        let reg = ClientRegistry::parse(GOOD).map_err(|e| e.to_string());
        let reg = reg.as_ref().ok();
        let client = reg.and_then(|r| r.get("svc"));
        assert_eq!(client.map(|c| c.sector.as_str()), Some("service.gov.uk"));
        assert_eq!(
            client.map(|c| c.has_redirect_uri("https://www.service.gov.uk/callback")),
            Some(true)
        );
        assert_eq!(
            client.map(|c| c.has_redirect_uri("https://www.service.gov.uk/callback/")),
            Some(false)
        );
    }

    #[test]
    fn a_service_is_named_in_welsh_when_registered_in_welsh() {
        use crate::i18n::Lang;
        let english_only = ClientRegistry::parse(GOOD).map_err(|e| e.to_string());
        let english_only = english_only.as_ref().ok().and_then(|r| r.get("svc"));
        let name = english_only.map(|c| (c.name(Lang::En).to_string(), c.name(Lang::Cy).to_string()));
        let en = english_only.map(|c| c.client_name.clone()).unwrap_or_default();
        assert_eq!(name, Some((en.clone(), en.clone())));
        let both = GOOD.replace("client_name", "client_name_cy = \"Gwasanaeth\"\nclient_name");
        let both = ClientRegistry::parse(&both).map_err(|e| e.to_string());
        let both = both.as_ref().ok().and_then(|r| r.get("svc"));
        let name = both.map(|c| (c.name(Lang::En).to_string(), c.name(Lang::Cy).to_string()));
        assert_eq!(name, Some((en, "Gwasanaeth".to_string())));
    }

    #[test]
    fn errors_name_the_client_and_field() {
        let cases = [
            (
                GOOD.replace("client_name", "colour = \"red\"\nclient_name"),
                "unknown field `colour`",
            ),
            (format!("{GOOD}\n{GOOD}"), "client \"svc\": duplicate client_id"),
            (
                GOOD.replace(
                    "https://www.service.gov.uk/callback\"",
                    "http://service.gov.uk/callback\"",
                ),
                "field redirect_uris",
            ),
            (
                GOOD.replace("jwks_uri = \"https://service.gov.uk/jwks.json\"", ""),
                "field public_key",
            ),
            (GOOD.replace("Cl.Cm.P2", "Cl.Cm.P9"), "not a known vector"),
            (
                GOOD.replace("https://www.service.gov.uk/cb2", "https://other.gov.uk/cb2"),
                "field sector_identifier_uri",
            ),
            (
                GOOD.replace(
                    "jwks_uri = \"https://service.gov.uk/jwks.json\"",
                    "token_endpoint_auth_method = \"client_secret_post\"\nclient_secret_hash = \"x\"",
                ),
                "field levels",
            ),
        ];
        for (text, want) in cases {
            let err = ClientRegistry::parse(&text).err().unwrap_or_default();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }

    #[test]
    fn loopback_http_is_allowed_for_development() {
        let text = GOOD
            .replace("https://www.service.gov.uk/callback", "http://127.0.0.1:3000/callback")
            .replace("https://www.service.gov.uk/cb2", "http://127.0.0.1:3000/cb2");
        assert!(ClientRegistry::parse(&text).is_ok());
    }
}
