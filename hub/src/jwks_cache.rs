//! Fetching and caching other parties' public keys: services' `jwks_uri` (INTERFACE.md §3) and providers'
//! JWKS (§9). Fetched through the [`ProviderClient`] (bounded in time and size), cached on the hub's
//! [`Clock`], and fetched again once when a token names an unknown `kid` (key rotation), but not more
//! than once every [`MIN_REFETCH_SECS`], so a stream of bad tokens cannot make the hub hammer a peer.
//! Keys registered as PEM are parsed once and kept by their text ([`JwksCache::verify_pem`]): parsing a
//! public key costs more than checking a signature with it.

use crate::{clock::Clock, outbound::ProviderClient};
use keys::{KeyError, VerifyingKeys};
use serde_json::{Map, Value};
use std::{collections::HashMap, sync::Arc};
use tokio::sync::RwLock;

/// How long a fetched JWKS is used before it is fetched again, seconds.
pub const MAX_AGE_SECS: i64 = 3600;
/// The least time between two fetches of the same JWKS, seconds.
pub const MIN_REFETCH_SECS: i64 = 10;

/// A failure to verify with a remote key set.
#[derive(Debug, thiserror::Error)]
pub enum RemoteKeyError {
    #[error("could not fetch keys from {url}: {message}")]
    Fetch { url: String, message: String },
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A key set and when it was fetched (clock seconds).
type Cached = (Arc<VerifyingKeys>, i64);

/// The most PEM keys kept parsed; past it the cache starts again (registries hold far fewer clients).
const MAX_PEM_KEYS: usize = 4096;

/// A cache of JWKS documents by URL.
#[derive(Debug, Clone)]
pub struct JwksCache {
    http: Arc<dyn ProviderClient>,
    clock: Arc<dyn Clock>,
    entries: Arc<RwLock<HashMap<String, Cached>>>,
    /// Registered PEM keys, parsed, by their text: a reloaded registry with a new key misses and parses it.
    pem: Arc<std::sync::RwLock<HashMap<String, Arc<VerifyingKeys>>>>,
}

impl JwksCache {
    /// A cache fetching through `http`, aging on `clock`.
    pub fn new(http: Arc<dyn ProviderClient>, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            clock,
            entries: Arc::default(),
            pem: Arc::default(),
        }
    }

    /// The key set of a registered PEM public key, parsed on first use and kept.
    pub fn pem_keys(&self, pem: &str) -> Result<Arc<VerifyingKeys>, KeyError> {
        if let Some(keys) = self.pem.read().ok().and_then(|m| m.get(pem).cloned()) {
            return Ok(keys);
        }
        let keys = Arc::new(VerifyingKeys::new(vec![keys::VerifyingKey::from_pem(
            pem.as_bytes(),
            None,
        )?]));
        if let Ok(mut map) = self.pem.write() {
            if map.len() >= MAX_PEM_KEYS {
                map.clear();
            }
            map.insert(pem.to_string(), keys.clone());
        }
        Ok(keys)
    }

    /// Verifies a compact JWS with a registered PEM public key (see [`VerifyingKeys::verify`]).
    pub fn verify_pem(&self, pem: &str, token: &str) -> Result<(keys::Header, Map<String, Value>), KeyError> {
        self.pem_keys(pem)?.verify(token)
    }

    async fn fetch(&self, url: &str) -> Result<Arc<VerifyingKeys>, RemoteKeyError> {
        let fail = |message: String| RemoteKeyError::Fetch {
            url: url.to_string(),
            message,
        };
        let reply = self.http.get(url, None).await.map_err(|e| fail(e.to_string()))?;
        if !reply.ok() {
            return Err(fail(format!("status {}", reply.status)));
        }
        let doc: Value = serde_json::from_slice(&reply.body).map_err(|e| fail(e.to_string()))?;
        let keys = Arc::new(VerifyingKeys::from_jwks(&doc)?);
        self.entries
            .write()
            .await
            .insert(url.to_string(), (keys.clone(), self.clock.now()));
        Ok(keys)
    }

    async fn keys(&self, url: &str) -> Result<Cached, RemoteKeyError> {
        let now = self.clock.now();
        if let Some((keys, at)) = self.entries.read().await.get(url).cloned() {
            if now - at < MAX_AGE_SECS {
                return Ok((keys, at));
            }
        }
        let keys = self.fetch(url).await?;
        Ok((keys, now))
    }

    /// Verifies a compact JWS with the key set at `url` (see [`VerifyingKeys::verify`]).
    pub async fn verify(&self, url: &str, token: &str) -> Result<(keys::Header, Map<String, Value>), RemoteKeyError> {
        let (keys, fetched_at) = self.keys(url).await?;
        match keys.verify(token) {
            Err(KeyError::UnknownKey(_)) if self.clock.now() - fetched_at >= MIN_REFETCH_SECS => {
                Ok(self.fetch(url).await?.verify(token)?)
            }
            other => Ok(other?),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{clock::ManualClock, outbound::HttpClient};

    fn cache() -> JwksCache {
        let http = HttpClient::new(std::time::Duration::from_secs(1), 1024).unwrap();
        JwksCache::new(Arc::new(http), Arc::new(ManualClock::at(0)))
    }

    #[test]
    fn pem_keys_are_parsed_once_and_a_new_pem_is_parsed_anew() {
        let cache = cache();
        let (a, b) = (
            keys::SigningKey::generate().unwrap(),
            keys::SigningKey::generate().unwrap(),
        );
        let (pem_a, pem_b) = (a.public_pem().unwrap(), b.public_pem().unwrap());
        let claims = serde_json::json!({"iss": "c"});
        let token_a = a.sign("JWT", &claims).unwrap();
        let token_b = b.sign("JWT", &claims).unwrap();
        assert!(cache.verify_pem(&pem_a, &token_a).is_ok());
        assert!(Arc::ptr_eq(
            &cache.pem_keys(&pem_a).unwrap(),
            &cache.pem_keys(&pem_a).unwrap()
        ));
        assert!(matches!(
            cache.verify_pem(&pem_a, &token_b),
            Err(KeyError::BadSignature)
        ));
        // A registry reloaded with another key: the token of the new key passes, the old one's fails.
        assert!(cache.verify_pem(&pem_b, &token_b).is_ok());
        assert!(cache.verify_pem(&pem_b, &token_a).is_err());
        assert!(cache.verify_pem("not a key", &token_a).is_err());
    }
}
