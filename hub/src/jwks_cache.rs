//! Fetching and caching other parties' public keys: services' `jwks_uri` (INTERFACE.md §3) and providers'
//! JWKS (§9). Fetched through the [`ProviderClient`] (bounded in time and size), cached on the hub's
//! [`Clock`], and fetched again once when a token names an unknown `kid` (key rotation), but not more
//! than once every [`MIN_REFETCH_SECS`], so a stream of bad tokens cannot make the hub hammer a peer.

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

/// A cache of JWKS documents by URL.
#[derive(Debug, Clone)]
pub struct JwksCache {
    http: Arc<dyn ProviderClient>,
    clock: Arc<dyn Clock>,
    entries: Arc<RwLock<HashMap<String, Cached>>>,
}

impl JwksCache {
    /// A cache fetching through `http`, aging on `clock`.
    pub fn new(http: Arc<dyn ProviderClient>, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            clock,
            entries: Arc::default(),
        }
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
