//! Fetching and caching other parties' public keys: services' `jwks_uri` (INTERFACE.md §3) and providers'
//! JWKS (§9). Fetched through the [`ProviderClient`] (bounded in time and size), cached on the hub's
//! [`Clock`], and fetched again once when a token names an unknown `kid` (key rotation), but not more
//! than once every [`MIN_REFETCH_SECS`], so a stream of bad tokens cannot make the hub hammer a peer. A
//! failed fetch is remembered for [`MIN_REFETCH_SECS`] and answered from memory, and one URL is fetched
//! by one request at a time, so a peer that is down is not hammered either.
//! Keys registered as PEM are parsed once and kept by their text ([`JwksCache::verify_pem`]): parsing a
//! public key costs more than checking a signature with it.

use crate::{clock::Clock, outbound::ProviderClient};
use keys::{KeyError, VerifyingKeys};
use serde_json::{Map, Value};
use std::{collections::HashMap, sync::Arc};
use tokio::sync::{Mutex, RwLock};

/// How long a fetched JWKS is used before it is fetched again, seconds.
pub const MAX_AGE_SECS: i64 = 3600;
/// The least time between two fetches of the same JWKS, seconds; also how long a failed fetch is
/// remembered.
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
    /// The last failed fetch per URL: when (clock seconds) and why.
    failed: Arc<std::sync::Mutex<HashMap<String, (i64, String)>>>,
    /// One fetch at a time per URL: those waiting use its outcome instead of fetching too.
    gates: Arc<std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>>,
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
            failed: Arc::default(),
            gates: Arc::default(),
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

    fn gate(&self, url: &str) -> Arc<Mutex<()>> {
        match self.gates.lock() {
            Ok(mut gates) => gates.entry(url.to_string()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    /// The key set at `url`: a cached one `usable` accepts (its fetch time), else fetched, unless a fetch
    /// failed less than [`MIN_REFETCH_SECS`] ago (that failure is the answer). One fetch per URL at a time.
    async fn fetch(&self, url: &str, usable: impl Fn(i64) -> bool) -> Result<Cached, RemoteKeyError> {
        let gate = self.gate(url);
        let _one_at_a_time = gate.lock().await;
        if let Some((keys, at)) = self.entries.read().await.get(url).cloned() {
            if usable(at) {
                return Ok((keys, at));
            }
        }
        let now = self.clock.now();
        let fail = |message: String| RemoteKeyError::Fetch {
            url: url.to_string(),
            message,
        };
        let remembered = self.failed.lock().ok().and_then(|f| f.get(url).cloned());
        if let Some((at, why)) = remembered {
            if now - at < MIN_REFETCH_SECS {
                return Err(fail(format!("{why} ({} s ago; not asked again yet)", now - at)));
            }
        }
        match self.fetch_now(url).await {
            Ok(keys) => {
                self.entries.write().await.insert(url.to_string(), (keys.clone(), now));
                if let Ok(mut f) = self.failed.lock() {
                    f.remove(url);
                }
                Ok((keys, now))
            }
            Err(e) => {
                if let Ok(mut f) = self.failed.lock() {
                    let why = match &e {
                        RemoteKeyError::Fetch { message, .. } => message.clone(),
                        RemoteKeyError::Key(k) => format!("unusable key set: {k}"),
                    };
                    f.insert(url.to_string(), (now, why));
                }
                Err(e)
            }
        }
    }

    async fn fetch_now(&self, url: &str) -> Result<Arc<VerifyingKeys>, RemoteKeyError> {
        let fail = |message: String| RemoteKeyError::Fetch {
            url: url.to_string(),
            message,
        };
        let reply = self.http.get(url, None).await.map_err(|e| fail(e.to_string()))?;
        if !reply.ok() {
            return Err(fail(format!("status {}", reply.status)));
        }
        let doc: Value = serde_json::from_slice(&reply.body).map_err(|e| fail(e.to_string()))?;
        Ok(Arc::new(VerifyingKeys::from_jwks(&doc)?))
    }

    async fn keys(&self, url: &str) -> Result<Cached, RemoteKeyError> {
        let fresh = |at: i64| self.clock.now() - at < MAX_AGE_SECS;
        if let Some((keys, at)) = self.entries.read().await.get(url).cloned() {
            if fresh(at) {
                return Ok((keys, at));
            }
        }
        self.fetch(url, fresh).await
    }

    /// Verifies a compact JWS with the key set at `url` (see [`VerifyingKeys::verify`]).
    pub async fn verify(&self, url: &str, token: &str) -> Result<(keys::Header, Map<String, Value>), RemoteKeyError> {
        let (keys, fetched_at) = self.keys(url).await?;
        match keys.verify(token) {
            Err(KeyError::UnknownKey(_)) if self.clock.now() - fetched_at >= MIN_REFETCH_SECS => {
                // Fetched again, unless another request did so since (rotation seen once, not per token).
                let (keys, _) = self.fetch(url, |at| at > fetched_at).await?;
                Ok(keys.verify(token)?)
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

    /// A peer whose JWKS answer is set by the test, counting every fetch.
    #[derive(Debug, Default)]
    struct Peer {
        fetches: std::sync::atomic::AtomicUsize,
        answer: std::sync::Mutex<Option<Result<crate::outbound::Reply, crate::outbound::FetchError>>>,
    }

    impl Peer {
        fn serve(&self, answer: Result<crate::outbound::Reply, crate::outbound::FetchError>) {
            *self.answer.lock().unwrap() = Some(answer);
        }

        fn fetches(&self) -> usize {
            self.fetches.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[async_trait::async_trait]
    impl ProviderClient for Peer {
        async fn get(&self, url: &str, _: Option<&str>) -> Result<crate::outbound::Reply, crate::outbound::FetchError> {
            self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::task::yield_now().await;
            self.answer
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| Err(crate::outbound::FetchError::Unreachable(url.to_string())))
        }

        async fn post_form(
            &self,
            url: &str,
            _: &[(&str, &str)],
            _: Option<(&str, &str)>,
        ) -> Result<crate::outbound::Reply, crate::outbound::FetchError> {
            Err(crate::outbound::FetchError::Unreachable(url.to_string()))
        }
    }

    fn jwks_reply(keys: &[&keys::SigningKey]) -> Result<crate::outbound::Reply, crate::outbound::FetchError> {
        Ok(crate::outbound::Reply {
            status: 200,
            content_type: Some("application/json".into()),
            body: keys::jwks(keys.iter().copied()).to_string().into_bytes(),
        })
    }

    const URL: &str = "https://svc.example/jwks";

    /// `n` verifications of `token` at once; whether each passed.
    async fn at_once(cache: &JwksCache, token: &str, n: usize) -> Vec<bool> {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (cache, token) = (cache.clone(), token.to_string());
            set.spawn(async move { cache.verify(URL, &token).await.is_ok() });
        }
        set.join_all().await
    }

    #[tokio::test]
    async fn a_failed_fetch_is_remembered_so_a_peer_that_is_down_is_not_hammered() {
        let peer = Arc::new(Peer::default());
        let clock = ManualClock::at(1000);
        let cache = JwksCache::new(peer.clone(), Arc::new(clock.clone()));
        let key = keys::SigningKey::generate().unwrap();
        let token = key.sign("JWT", &serde_json::json!({"iss": "c"})).unwrap();
        // Down: the first verification fetches, the next ones within MIN_REFETCH_SECS answer from memory,
        // concurrent ones included.
        peer.serve(Err(crate::outbound::FetchError::Timeout("svc.example".into())));
        assert!(at_once(&cache, &token, 20).await.iter().all(|ok| !ok));
        assert!(matches!(
            cache.verify(URL, &token).await,
            Err(RemoteKeyError::Fetch { .. })
        ));
        assert_eq!(peer.fetches(), 1, "twenty verifications at once, one fetch");
        clock.advance(MIN_REFETCH_SECS - 1);
        assert!(cache.verify(URL, &token).await.is_err());
        assert_eq!(peer.fetches(), 1);
        // Garbage and error statuses count as failures too.
        for (answer, fetches) in [
            (
                Ok(crate::outbound::Reply {
                    status: 503,
                    content_type: None,
                    body: Vec::new(),
                }),
                2,
            ),
            (
                Ok(crate::outbound::Reply {
                    status: 200,
                    content_type: None,
                    body: b"{}".to_vec(),
                }),
                3,
            ),
        ] {
            clock.advance(1);
            peer.serve(answer);
            for _ in 0..5 {
                assert!(cache.verify(URL, &token).await.is_err());
            }
            assert_eq!(peer.fetches(), fetches);
            clock.advance(MIN_REFETCH_SECS - 1);
        }
        // Back: asked again once the memory has passed, and then cached.
        clock.advance(1);
        peer.serve(jwks_reply(&[&key]));
        for _ in 0..5 {
            assert!(cache.verify(URL, &token).await.is_ok());
        }
        assert_eq!(peer.fetches(), 4);
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_at_most_every_min_refetch_secs_even_when_the_refetch_fails() {
        let peer = Arc::new(Peer::default());
        let clock = ManualClock::at(1000);
        let cache = JwksCache::new(peer.clone(), Arc::new(clock.clone()));
        let (old, new) = (
            keys::SigningKey::generate().unwrap(),
            keys::SigningKey::generate().unwrap(),
        );
        let claims = serde_json::json!({"iss": "c"});
        let (old_token, new_token) = (old.sign("JWT", &claims).unwrap(), new.sign("JWT", &claims).unwrap());
        peer.serve(jwks_reply(&[&old]));
        assert!(cache.verify(URL, &old_token).await.is_ok());
        assert_eq!(peer.fetches(), 1);
        // A token of a key not yet published, within MIN_REFETCH_SECS: no fetch.
        assert!(matches!(
            cache.verify(URL, &new_token).await,
            Err(RemoteKeyError::Key(KeyError::UnknownKey(_)))
        ));
        assert_eq!(peer.fetches(), 1);
        // Later, the peer down: one refetch, then its failure is remembered; the known key still works.
        clock.advance(MIN_REFETCH_SECS);
        peer.serve(Err(crate::outbound::FetchError::Unreachable("svc.example".into())));
        for _ in 0..5 {
            assert!(cache.verify(URL, &new_token).await.is_err());
        }
        assert_eq!(peer.fetches(), 2);
        assert!(cache.verify(URL, &old_token).await.is_ok());
        // The rotated set published: one refetch picks it up for every token after.
        clock.advance(MIN_REFETCH_SECS);
        peer.serve(jwks_reply(&[&old, &new]));
        assert!(at_once(&cache, &new_token, 10).await.iter().all(|ok| *ok));
        assert_eq!(peer.fetches(), 3);
    }

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
