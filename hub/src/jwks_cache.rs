//! Fetching and caching other parties' public keys: services' `jwks_uri` (INTERFACE.md §3) and providers'
//! JWKS (§9). Fetched with a timeout, cached, and refetched once when a token names an unknown `kid`
//! (key rotation), but not more than once every `MIN_REFETCH` (10 s), so a stream of bad tokens cannot make the
//! hub hammer a peer.

use keys::{KeyError, VerifyingKeys};
use serde_json::{Map, Value};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::RwLock;

/// How long a fetched JWKS is used before it is fetched again.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// The least time between two fetches of the same JWKS.
const MIN_REFETCH: Duration = Duration::from_secs(10);

/// A failure to verify with a remote key set.
#[derive(Debug, thiserror::Error)]
pub enum RemoteKeyError {
    #[error("could not fetch keys from {url}: {message}")]
    Fetch { url: String, message: String },
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A key set and when it was fetched.
type Cached = (Arc<VerifyingKeys>, Instant);

/// A cache of JWKS documents by URL.
#[derive(Debug, Clone)]
pub struct JwksCache {
    http: reqwest::Client,
    entries: Arc<RwLock<HashMap<String, Cached>>>,
}

impl JwksCache {
    /// A cache fetching with `http`.
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            entries: Arc::default(),
        }
    }

    async fn fetch(&self, url: &str) -> Result<Arc<VerifyingKeys>, RemoteKeyError> {
        let fail = |message: String| RemoteKeyError::Fetch {
            url: url.to_string(),
            message,
        };
        let response = self.http.get(url).send().await.map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("status {}", response.status())));
        }
        let doc: Value = response.json().await.map_err(|e| fail(e.to_string()))?;
        let keys = Arc::new(VerifyingKeys::from_jwks(&doc)?);
        self.entries
            .write()
            .await
            .insert(url.to_string(), (keys.clone(), Instant::now()));
        Ok(keys)
    }

    async fn keys(&self, url: &str) -> Result<(Arc<VerifyingKeys>, Instant), RemoteKeyError> {
        if let Some((keys, at)) = self.entries.read().await.get(url).cloned() {
            if at.elapsed() < MAX_AGE {
                return Ok((keys, at));
            }
        }
        let keys = self.fetch(url).await?;
        Ok((keys, Instant::now()))
    }

    /// Verifies a compact JWS with the key set at `url` (see [`VerifyingKeys::verify`]).
    pub async fn verify(&self, url: &str, token: &str) -> Result<(keys::Header, Map<String, Value>), RemoteKeyError> {
        let (keys, fetched_at) = self.keys(url).await?;
        match keys.verify(token) {
            Err(KeyError::UnknownKey(_)) if fetched_at.elapsed() >= MIN_REFETCH => {
                Ok(self.fetch(url).await?.verify(token)?)
            }
            other => Ok(other?),
        }
    }
}
