//! The hub as an OpenID Connect client of certified identity providers (INTERFACE.md §9): discovery of
//! each provider, the token exchange with `private_key_jwt`, ID token and userinfo validation.
//!
//! [`start`] sends the person to a provider with a fresh state, nonce and PKCE; [`callback`] takes the
//! answer and applies the outcome table. Nothing of the relying service ever goes upstream.

pub mod callback;
pub mod start;

use crate::{jwks_cache::JwksCache, registry::providers::UpstreamAuth, registry::Provider, vtr::Vector};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use keys::SigningKey;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::RwLock;

/// The redirect URI the hub registers at every provider.
pub const CALLBACK_PATH: &str = "/upstream/callback";
/// Where the hub publishes the key it signs client assertions with, for providers to fetch.
pub const JWKS_PATH: &str = "/upstream/jwks.json";
/// Clock skew tolerated on `iat`/`nbf`/`exp` of provider tokens, seconds.
pub const SKEW: i64 = 30;
/// How long a provider's discovery document is cached.
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);

/// What went wrong talking to a provider. None of these ever leads to an assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    #[error("provider discovery document is invalid: {0}")]
    BadMetadata(String),
    #[error("provider token endpoint refused the code: {0}")]
    TokenRefused(String),
    #[error("provider ID token is invalid: {0}")]
    BadIdToken(String),
    #[error("provider userinfo is invalid: {0}")]
    BadUserinfo(String),
}

/// The parts of a provider's discovery document the hub uses (OIDC Discovery §3).
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
}

/// What a provider asserted, once every check has passed.
#[derive(Clone, PartialEq)]
pub struct ProviderIdentity {
    pub sub: String,
    pub vector: Vector,
    pub auth_time: Option<i64>,
    /// Claims from the ID token and userinfo together (given_name, birthdate, email, …).
    pub claims: Map<String, Value>,
}

impl std::fmt::Debug for ProviderIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderIdentity")
            .field("vector", &self.vector)
            .finish_non_exhaustive()
    }
}

/// What the hub expects of one ID token.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

/// Checks a provider ID token's claims (OIDC Core §3.1.3.7), after its signature has been verified:
/// `iss`, `aud` (and `azp`), `exp`, `iat`, `nbf`, `nonce`, `sub`, and `acr` mapped to a known vector.
pub fn check_id_token(
    claims: &Map<String, Value>,
    provider: &Provider,
    expected: &Expected<'_>,
    now: i64,
) -> Result<ProviderIdentity, UpstreamError> {
    let bad = |why: &str| UpstreamError::BadIdToken(why.to_string());
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    let int_claim = |name: &str| claims.get(name).and_then(Value::as_i64);
    if str_claim("iss") != Some(expected.issuer) {
        return Err(bad("iss is not the provider's issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(bad("aud does not include the hub"));
    }
    if audiences.len() > 1 && str_claim("azp") != Some(expected.client_id) {
        return Err(bad("several audiences and azp is not the hub"));
    }
    let exp = int_claim("exp").ok_or_else(|| bad("exp missing"))?;
    if exp + SKEW <= now {
        return Err(bad("expired"));
    }
    let iat = int_claim("iat").ok_or_else(|| bad("iat missing"))?;
    if iat > now + SKEW {
        return Err(bad("issued in the future"));
    }
    if int_claim("nbf").is_some_and(|nbf| nbf > now + SKEW) {
        return Err(bad("not yet valid"));
    }
    let nonce = str_claim("nonce").ok_or_else(|| bad("nonce missing"))?;
    if !crate::ids::constant_time_eq(nonce, expected.nonce) {
        return Err(bad("nonce does not match"));
    }
    let sub = str_claim("sub")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("sub missing"))?;
    let vector = provider
        .vector_of_acr(str_claim("acr"))
        .ok_or_else(|| bad("acr is not a level this provider is registered for"))?;
    if !provider.levels.contains(&vector) && !provider.levels.iter().any(|l| l.satisfies(&vector)) {
        return Err(bad("acr is above what this provider is registered to reach"));
    }
    Ok(ProviderIdentity {
        sub: sub.to_string(),
        vector,
        auth_time: int_claim("auth_time"),
        claims: claims.clone(),
    })
}

/// A discovery document and when it was fetched.
type CachedMetadata = (Arc<ProviderMetadata>, Instant);

/// Discovery and key caches for every provider.
#[derive(Debug, Clone)]
pub struct Upstreams {
    http: reqwest::Client,
    jwks: JwksCache,
    metadata: Arc<RwLock<HashMap<String, CachedMetadata>>>,
}

/// A provider's token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
}

impl Upstreams {
    /// Caches fetching with `http` (no redirects, timeouts set).
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            jwks: JwksCache::new(http.clone()),
            http,
            metadata: Arc::default(),
        }
    }

    /// The provider's discovery document, fetched once an hour; its `issuer` must equal the registered one
    /// (OIDC Discovery §4.3).
    pub async fn metadata(&self, provider: &Provider) -> Result<Arc<ProviderMetadata>, UpstreamError> {
        if let Some((meta, at)) = self.metadata.read().await.get(&provider.id).cloned() {
            // A reloaded registry may have changed the provider's issuer: fetch that one's instead.
            if at.elapsed() < METADATA_MAX_AGE && meta.issuer == provider.issuer {
                return Ok(meta);
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer.trim_end_matches('/')
        );
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(UpstreamError::Unreachable(format!(
                "discovery answered {}",
                response.status()
            )));
        }
        let meta: ProviderMetadata = response
            .json()
            .await
            .map_err(|e| UpstreamError::BadMetadata(e.to_string()))?;
        if meta.issuer != provider.issuer {
            return Err(UpstreamError::BadMetadata(
                "issuer differs from the registered issuer".into(),
            ));
        }
        let meta = Arc::new(meta);
        self.metadata
            .write()
            .await
            .insert(provider.id.clone(), (meta.clone(), Instant::now()));
        Ok(meta)
    }

    /// Exchanges a code at the provider's token endpoint, authenticating as the registry says.
    #[allow(clippy::too_many_arguments)]
    pub async fn exchange(
        &self,
        provider: &Provider,
        meta: &ProviderMetadata,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        key: &SigningKey,
        now: i64,
    ) -> Result<TokenResponse, UpstreamError> {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", redirect_uri.to_string()),
            ("code_verifier", verifier.to_string()),
        ];
        let mut request = self.http.post(&meta.token_endpoint);
        match provider.token_endpoint_auth_method {
            UpstreamAuth::PrivateKeyJwt => {
                let assertion = client_assertion(key, &provider.client_id, &meta.token_endpoint, now)
                    .map_err(|e| UpstreamError::TokenRefused(format!("could not sign client assertion: {e}")))?;
                form.push(("client_id", provider.client_id.clone()));
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion", assertion));
            }
            UpstreamAuth::ClientSecretPost => {
                form.push(("client_id", provider.client_id.clone()));
                form.push(("client_secret", provider.client_secret.clone().unwrap_or_default()));
            }
            UpstreamAuth::ClientSecretBasic => {
                let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let pair = format!(
                    "{}:{}",
                    enc(&provider.client_id),
                    enc(provider.client_secret.as_deref().unwrap_or_default())
                );
                request = request.header("Authorization", format!("Basic {}", STANDARD.encode(pair)));
            }
        }
        let body = serde_urlencoded::to_string(&form).map_err(|e| UpstreamError::TokenRefused(e.to_string()))?;
        let response = request
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let code = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string));
            return Err(UpstreamError::TokenRefused(format!(
                "status {status}, error {}",
                code.unwrap_or_else(|| "unknown".into())
            )));
        }
        let tokens: TokenResponse = response
            .json()
            .await
            .map_err(|e| UpstreamError::TokenRefused(format!("unreadable token response: {e}")))?;
        if tokens
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(UpstreamError::TokenRefused("token_type is not Bearer".into()));
        }
        Ok(tokens)
    }

    /// Verifies the ID token's signature with the provider's JWKS (alg pinned per key) and checks its claims.
    pub async fn verify_id_token(
        &self,
        provider: &Provider,
        meta: &ProviderMetadata,
        token: &str,
        expected: &Expected<'_>,
        now: i64,
    ) -> Result<ProviderIdentity, UpstreamError> {
        let (_, claims) = self
            .jwks
            .verify(&meta.jwks_uri, token)
            .await
            .map_err(|e| UpstreamError::BadIdToken(e.to_string()))?;
        check_id_token(&claims, provider, expected, now)
    }

    /// Fetches userinfo with the provider's access token; its `sub` must equal the ID token's (OIDC Core §5.3.2).
    pub async fn userinfo(
        &self,
        meta: &ProviderMetadata,
        access_token: &str,
        sub: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let Some(url) = &meta.userinfo_endpoint else {
            return Ok(Map::new());
        };
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(UpstreamError::BadUserinfo(format!("status {}", response.status())));
        }
        let is_json = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(UpstreamError::BadUserinfo(
                "only JSON userinfo responses are accepted".into(),
            ));
        }
        let claims: Map<String, Value> = response
            .json()
            .await
            .map_err(|e| UpstreamError::BadUserinfo(e.to_string()))?;
        if claims.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(UpstreamError::BadUserinfo("sub differs from the ID token's".into()));
        }
        Ok(claims)
    }
}

/// A `private_key_jwt` client assertion (RFC 7523 §3): `iss` = `sub` = client id, `aud` = token endpoint,
/// a fresh `jti`, 5 minutes of life.
pub fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    token_endpoint: &str,
    now: i64,
) -> Result<String, keys::KeyError> {
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "jti": crate::ids::random_token(),
        "iat": now,
        "exp": now + 300,
    });
    key.sign_jwt("JWT", claims.as_object().unwrap_or(&Map::new()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider() -> Provider {
        crate::registry::ProviderRegistry::parse(
            r#"[[providers]]
            id = "p"
            name = "P"
            name_cy = "P"
            issuer = "https://idp.example"
            client_id = "hub"
            levels = ["Cl.Cm", "Cl.Cm.P2"]
            [providers.acr_map]
            "urn:p:high" = "Cl.Cm.P2""#,
        )
        .unwrap()
        .get("p")
        .cloned()
        .unwrap()
    }

    fn good() -> Map<String, Value> {
        json!({"iss": "https://idp.example", "aud": "hub", "exp": 1100, "iat": 1000, "nonce": "n1", "sub": "s1", "acr": "urn:p:high"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn id_token_checks_table() {
        let p = provider();
        let expected = Expected {
            issuer: "https://idp.example",
            client_id: "hub",
            nonce: "n1",
        };
        type Mutation = Box<dyn Fn(&mut Map<String, Value>)>;
        let cases: Vec<(&str, Mutation, Option<&str>)> = vec![
            ("good", Box::new(|_| {}), None),
            (
                "wrong iss",
                Box::new(|c| {
                    c.insert("iss".into(), json!("https://evil"));
                }),
                Some("iss"),
            ),
            (
                "wrong aud",
                Box::new(|c| {
                    c.insert("aud".into(), json!("someone"));
                }),
                Some("aud"),
            ),
            (
                "aud array with azp",
                Box::new(|c| {
                    c.insert("aud".into(), json!(["hub", "x"]));
                    c.insert("azp".into(), json!("hub"));
                }),
                None,
            ),
            (
                "aud array without azp",
                Box::new(|c| {
                    c.insert("aud".into(), json!(["hub", "x"]));
                }),
                Some("azp"),
            ),
            (
                "expired",
                Box::new(|c| {
                    c.insert("exp".into(), json!(900));
                }),
                Some("expired"),
            ),
            (
                "no exp",
                Box::new(|c| {
                    c.remove("exp");
                }),
                Some("exp"),
            ),
            (
                "future iat",
                Box::new(|c| {
                    c.insert("iat".into(), json!(1600));
                }),
                Some("future"),
            ),
            (
                "nbf ahead",
                Box::new(|c| {
                    c.insert("nbf".into(), json!(1600));
                }),
                Some("not yet valid"),
            ),
            (
                "wrong nonce",
                Box::new(|c| {
                    c.insert("nonce".into(), json!("n2"));
                }),
                Some("nonce"),
            ),
            (
                "missing sub",
                Box::new(|c| {
                    c.remove("sub");
                }),
                Some("sub"),
            ),
            (
                "empty sub",
                Box::new(|c| {
                    c.insert("sub".into(), json!(""));
                }),
                Some("sub"),
            ),
            (
                "unknown acr",
                Box::new(|c| {
                    c.insert("acr".into(), json!("urn:other"));
                }),
                Some("acr"),
            ),
            (
                "missing acr",
                Box::new(|c| {
                    c.remove("acr");
                }),
                Some("acr"),
            ),
            (
                "acr above registration",
                Box::new(|c| {
                    c.insert("acr".into(), json!("Cl.Cm.P3"));
                }),
                Some("acr"),
            ),
            (
                "vector acr",
                Box::new(|c| {
                    c.insert("acr".into(), json!("Cl.Cm"));
                }),
                None,
            ),
        ];
        for (name, mutate, want_err) in cases {
            let mut claims = good();
            mutate(&mut claims);
            let got = check_id_token(&claims, &p, &expected, 1000);
            match want_err {
                None => assert!(got.is_ok(), "{name}: {got:?}"),
                Some(fragment) => {
                    let err = got.err().map(|e| e.to_string()).unwrap_or_default();
                    assert!(err.contains(fragment), "{name}: {err:?} lacks {fragment:?}");
                }
            }
        }
        assert_eq!(
            check_id_token(&good(), &p, &expected, 1000).unwrap().vector,
            Vector::parse("Cl.Cm.P2").unwrap()
        );
    }
}
