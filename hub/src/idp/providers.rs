//! Talking to identity providers (OIDC Core §3.1.3, Discovery 1.0 §4; INTERFACE.md §9): discovery
//! (cached on the hub's clock), the token exchange with `private_key_jwt` (or a client secret), ID token
//! verification with the provider's pinned keys, and userinfo. Every call goes through the
//! [`ProviderClient`] seam.

use super::check::{check_id_token, Expected, ProviderIdentity, UpstreamError};
use crate::{
    clock::Clock,
    jwks_cache::JwksCache,
    outbound::ProviderClient,
    registry::{providers::UpstreamAuth, Provider},
};
use keys::SigningKey;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::{collections::HashMap, sync::Arc};
use tokio::sync::RwLock;

/// How long a provider's discovery document is cached, seconds.
pub const METADATA_MAX_AGE_SECS: i64 = 3600;
/// How long a failed discovery fetch is remembered before the provider is asked again, seconds, by
/// default: a provider that is down is not hammered.
pub const FAILURE_MEMORY_SECS: i64 = 5;

/// The circuit breaker of one provider (issue "under faults"): after `threshold` failures in a row it
/// opens for `cooldown` seconds, during which the choice page shows the provider as unavailable; then
/// one attempt is let through, and a success closes it.
#[derive(Debug, Clone, Copy, Default)]
struct Breaker {
    failures: u32,
    open_until: i64,
}

/// The breaker's settings.
#[derive(Debug, Clone, Copy)]
pub struct BreakerPolicy {
    pub threshold: u32,
    pub cooldown_secs: i64,
    /// How long a failed discovery is remembered, seconds.
    pub failure_memory_secs: i64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            threshold: 3,
            cooldown_secs: 30,
            failure_memory_secs: FAILURE_MEMORY_SECS,
        }
    }
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
    /// RFC 9207 §3: whether the provider puts `iss` in its authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// A provider's token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
}

/// A discovery document and when it was fetched (clock seconds).
type CachedMetadata = (Arc<ProviderMetadata>, i64);

/// Discovery and key caches for every provider.
#[derive(Debug, Clone)]
pub struct Upstreams {
    http: Arc<dyn ProviderClient>,
    clock: Arc<dyn Clock>,
    jwks: JwksCache,
    metadata: Arc<RwLock<HashMap<String, CachedMetadata>>>,
    /// The last failed discovery per provider: (when, why).
    failed: Arc<std::sync::Mutex<HashMap<String, (i64, UpstreamError)>>>,
    breakers: Arc<std::sync::Mutex<HashMap<String, Breaker>>>,
    policy: BreakerPolicy,
}

impl Upstreams {
    /// Caches fetching through `http`, aging on `clock`, breaking circuits by `policy`.
    pub fn new(http: Arc<dyn ProviderClient>, clock: Arc<dyn Clock>, policy: BreakerPolicy) -> Self {
        Self {
            jwks: JwksCache::new(http.clone(), clock.clone()),
            http,
            clock,
            metadata: Arc::default(),
            failed: Arc::default(),
            breakers: Arc::default(),
            policy,
        }
    }

    /// Whether the provider's breaker is open now: recent repeated failures, so the choice page shows it
    /// as unavailable.
    pub fn open(&self, provider: &str) -> bool {
        let now = self.clock.now();
        self.breakers
            .lock()
            .ok()
            .and_then(|b| b.get(provider).copied())
            .is_some_and(|b| b.open_until > now)
    }

    /// Records how a provider did: a working answer (the person's own refusal included) closes its
    /// breaker; being down or answering wrongly counts towards opening it.
    pub fn record(&self, provider: &str, worked: bool) {
        let now = self.clock.now();
        let Ok(mut breakers) = self.breakers.lock() else {
            return;
        };
        let b = breakers.entry(provider.to_string()).or_default();
        if worked {
            *b = Breaker::default();
            return;
        }
        b.failures += 1;
        if b.failures >= self.policy.threshold {
            if b.open_until <= now {
                tracing::warn!(
                    provider,
                    failures = b.failures,
                    "provider failing; shown as unavailable"
                );
                crate::telemetry::breaker_opened(provider);
            }
            b.open_until = now + self.policy.cooldown_secs;
        }
    }

    /// Seconds since each provider's discovery document was fetched (ids of providers fetched at least
    /// once), for `/readyz`.
    pub async fn discovery_ages(&self) -> Vec<(String, i64)> {
        let now = self.clock.now();
        self.metadata
            .read()
            .await
            .iter()
            .map(|(id, (_, at))| (id.clone(), now - at))
            .collect()
    }

    /// The provider's discovery document, fetched once an hour; its `issuer` must equal the registered one
    /// (OIDC Discovery §4.3). A failure is remembered for the policy's `failure_memory_secs`.
    pub async fn metadata(&self, provider: &Provider) -> Result<Arc<ProviderMetadata>, UpstreamError> {
        let now = self.clock.now();
        if let Some((meta, at)) = self.metadata.read().await.get(provider.id.as_str()).cloned() {
            // A reloaded registry may have changed the provider's issuer: fetch that one's instead.
            if now - at < METADATA_MAX_AGE_SECS && meta.issuer == provider.issuer {
                return Ok(meta);
            }
        }
        if let Some((at, e)) = self
            .failed
            .lock()
            .ok()
            .and_then(|f| f.get(provider.id.as_str()).cloned())
        {
            if now - at < self.policy.failure_memory_secs {
                return Err(e);
            }
        }
        let meta = match self.fetch_metadata(provider).await {
            Ok(meta) => Arc::new(meta),
            Err(e) => {
                if let Ok(mut f) = self.failed.lock() {
                    f.insert(provider.id.to_string(), (now, e.clone()));
                }
                return Err(e);
            }
        };
        self.metadata
            .write()
            .await
            .insert(provider.id.to_string(), (meta.clone(), now));
        Ok(meta)
    }

    async fn fetch_metadata(&self, provider: &Provider) -> Result<ProviderMetadata, UpstreamError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer.trim_end_matches('/')
        );
        let started = std::time::Instant::now();
        let reply = self.http.get(&url, None).await;
        crate::telemetry::provider_call(provider.id.as_str(), "discovery", &reply, started.elapsed());
        let reply = reply.map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        if !reply.ok() {
            return Err(UpstreamError::Unreachable(format!(
                "discovery answered {}",
                reply.status
            )));
        }
        let meta: ProviderMetadata =
            serde_json::from_slice(&reply.body).map_err(|e| UpstreamError::BadMetadata(unreadable(&e)))?;
        if meta.issuer != provider.issuer {
            return Err(UpstreamError::BadMetadata(
                "issuer differs from the registered issuer".into(),
            ));
        }
        Ok(meta)
    }

    /// Exchanges a code at the provider's token endpoint, authenticating as the registry says.
    pub async fn exchange(
        &self,
        provider: &Provider,
        meta: &ProviderMetadata,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        key: &SigningKey,
    ) -> Result<TokenResponse, UpstreamError> {
        let now = self.clock.now();
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.into()),
            ("redirect_uri", redirect_uri.into()),
            ("code_verifier", verifier.into()),
        ];
        let mut basic = None;
        match provider.token_endpoint_auth_method {
            UpstreamAuth::PrivateKeyJwt => {
                let claims = keys::client_assertion::Claims::new(
                    &provider.client_id,
                    &meta.token_endpoint,
                    &crate::ids::random_token(),
                    now,
                );
                let assertion = key
                    .sign("JWT", &claims)
                    .map_err(|e| UpstreamError::TokenRefused(format!("could not sign client assertion: {e}")))?;
                form.push(("client_id", provider.client_id.clone()));
                form.push(("client_assertion_type", keys::client_assertion::JWT_BEARER.into()));
                form.push(("client_assertion", assertion));
            }
            UpstreamAuth::ClientSecretPost => {
                form.push(("client_id", provider.client_id.clone()));
                form.push(("client_secret", provider.client_secret.clone().unwrap_or_default()));
            }
            UpstreamAuth::ClientSecretBasic => {
                basic = Some((
                    provider.client_id.as_str(),
                    provider.client_secret.as_deref().unwrap_or_default(),
                ));
            }
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let started = std::time::Instant::now();
        let reply = self.http.post_form(&meta.token_endpoint, &form, basic).await;
        crate::telemetry::provider_call(provider.id.as_str(), "token", &reply, started.elapsed());
        let reply = reply.map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        if reply.status >= 500 {
            return Err(UpstreamError::Unreachable(format!(
                "token endpoint answered {}",
                reply.status
            )));
        }
        if !reply.ok() {
            let code = serde_json::from_slice::<Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .filter(|c| looks_like_an_error_code(c));
            return Err(UpstreamError::TokenRefused(format!(
                "status {}, error {}",
                reply.status,
                code.unwrap_or_else(|| "unknown".into())
            )));
        }
        let tokens: TokenResponse = serde_json::from_slice(&reply.body)
            .map_err(|e| UpstreamError::TokenGarbage(format!("unreadable token response: {}", unreadable(&e))))?;
        if tokens
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(UpstreamError::TokenGarbage("token_type is not Bearer".into()));
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
    ) -> Result<ProviderIdentity, UpstreamError> {
        let (header, claims) = self
            .jwks
            .verify(&meta.jwks_uri, token)
            .await
            .map_err(|e| UpstreamError::BadIdToken(e.to_string()))?;
        if header
            .typ
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("JWT") && !t.eq_ignore_ascii_case("id_token+jwt"))
        {
            return Err(UpstreamError::BadIdToken("typ is not an ID token's".into()));
        }
        check_id_token(&claims, provider, expected, self.clock.now())
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
        let reply = self
            .http
            .get(url, Some(access_token))
            .await
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        if !reply.ok() {
            return Err(UpstreamError::BadUserinfo(format!("status {}", reply.status)));
        }
        if !reply.is_json() {
            return Err(UpstreamError::BadUserinfo(
                "only JSON userinfo responses are accepted".into(),
            ));
        }
        let claims: Map<String, Value> =
            serde_json::from_slice(&reply.body).map_err(|e| UpstreamError::BadUserinfo(unreadable(&e)))?;
        if claims.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(UpstreamError::BadUserinfo("sub differs from the ID token's".into()));
        }
        Ok(claims)
    }

    /// The whole back half of a sign-in at a provider: exchange the code, verify the ID token, fetch
    /// userinfo. Every check must pass.
    pub async fn authenticate(
        &self,
        provider: &Provider,
        code: &str,
        verifier: &str,
        nonce: &str,
        redirect_uri: &str,
        key: &SigningKey,
    ) -> Result<ProviderIdentity, UpstreamError> {
        let meta = self.metadata(provider).await?;
        let tokens = self
            .exchange(provider, &meta, code, verifier, redirect_uri, key)
            .await?;
        let expected = Expected {
            issuer: &provider.issuer,
            client_id: &provider.client_id,
            nonce,
        };
        let mut identity = self
            .verify_id_token(provider, &meta, &tokens.id_token, &expected)
            .await?;
        let started = std::time::Instant::now();
        let userinfo = self.userinfo(&meta, &tokens.access_token, &identity.sub).await;
        crate::telemetry::provider_call_outcome(
            provider.id.as_str(),
            "userinfo",
            if userinfo.is_ok() { "ok" } else { "error" },
            started.elapsed(),
        );
        let userinfo = userinfo?;
        for (k, v) in userinfo {
            identity.claims.entry(k).or_insert(v);
        }
        Ok(identity)
    }
}

/// What was wrong with a JSON answer, without a word of it: `serde_json`'s own message may quote the
/// values it could not read (a person's name in a malformed userinfo), and the reason goes to the logs
/// and the audit log, which never hold personal data.
fn unreadable(e: &serde_json::Error) -> String {
    format!("{:?} error at line {}, column {}", e.classify(), e.line(), e.column())
}

/// Whether a provider's `error` is shaped like an OAuth error code (RFC 6749 §5.2: a short token of
/// ASCII letters and underscores), so that only such a code, never free text, reaches the logs.
fn looks_like_an_error_code(code: &str) -> bool {
    (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn what_a_provider_sent_never_reaches_the_logs_as_text() {
        // A userinfo body that is a JSON string holding a name: serde_json's own message quotes it.
        let err = serde_json::from_slice::<Map<String, Value>>(br#""Alex Morgan""#).unwrap_err();
        assert!(
            err.to_string().contains("Alex Morgan"),
            "serde_json quotes what it read"
        );
        let said = unreadable(&err);
        assert!(!said.contains("Alex") && !said.contains("Morgan"), "{said}");
        assert!(said.contains("line 1"), "{said}");
        for (code, ok) in [
            ("invalid_grant", true),
            ("invalid_client", true),
            ("", false),
            ("Alex Morgan", false),
            ("invalid grant", false),
            ("INVALID", false),
            (&"a".repeat(65), false),
        ] {
            assert_eq!(looks_like_an_error_code(code), ok, "{code:?}");
        }
    }
}
