//! The identity issuer's DID document (`{identity_issuer}/.well-known/did.json`, INTERFACE.md §5), fetched on
//! first use and cached: the hub serves it with `max-age=3600`; a credential whose `kid` the cached copy does
//! not list makes us fetch it again (key rotation), at most once per [`DID_REFETCH_INTERVAL_SECS`]; a failed
//! fetch keeps the old copy.

use std::sync::Arc;

use axum::http::header;
use serde_json::Value;

use crate::{core_identity::assertion_method, error::RpError, oidc::error_chain};

/// How long a DID document is used before it is fetched again.
pub const DID_MAX_AGE_SECS: u64 = 3600;
/// The shortest time between two fetches prompted by an unknown `kid` (or a stale copy).
pub const DID_REFETCH_INTERVAL_SECS: u64 = 10;

/// The DID document URL of an identity issuer (a trailing slash on the issuer is not doubled).
pub fn did_url(identity_issuer: &str) -> String {
    format!("{}/.well-known/did.json", identity_issuer.trim_end_matches('/'))
}

#[derive(Debug, Default)]
struct Slot {
    document: Option<Arc<Value>>,
    fetched_at: u64,
    last_attempt: Option<u64>,
}

/// The cached DID document.
#[derive(Debug, Default)]
pub struct DidCache {
    slot: tokio::sync::Mutex<Slot>,
}

impl DidCache {
    /// The document to verify a credential signed under `kid` with: the cached copy when it is fresh and
    /// lists `kid`, else a new fetch (no more than once per 10 s while a copy is cached; the copy is used
    /// when the fetch fails or is not allowed yet, and validation then says whether the `kid` is there).
    pub async fn for_kid(
        &self,
        http: &reqwest::Client,
        url: &str,
        kid: Option<&str>,
        now: u64,
    ) -> Result<Arc<Value>, RpError> {
        let mut slot = self.slot.lock().await;
        if let Some(document) = slot.document.clone() {
            let fresh = now.saturating_sub(slot.fetched_at) < DID_MAX_AGE_SECS;
            let lists_kid = kid.is_some_and(|kid| assertion_method(&document, kid).is_some());
            let may_refetch = slot
                .last_attempt
                .is_none_or(|at| now.saturating_sub(at) >= DID_REFETCH_INTERVAL_SECS);
            if (fresh && lists_kid) || !may_refetch {
                return Ok(document);
            }
        }
        slot.last_attempt = Some(now);
        match fetch(http, url).await {
            Ok(document) => {
                let document = Arc::new(document);
                slot.document = Some(document.clone());
                slot.fetched_at = now;
                Ok(document)
            }
            Err(error) => match slot.document.clone() {
                Some(stale) => {
                    tracing::warn!(%error, "DID document refresh failed; keeping the cached copy");
                    Ok(stale)
                }
                None => Err(error),
            },
        }
    }
}

/// `GET` the document: a JSON object with an `id` and an `assertionMethod` array.
async fn fetch(http: &reqwest::Client, url: &str) -> Result<Value, RpError> {
    let unavailable = |what: String| RpError::HubUnavailable(format!("DID document {url}: {what}"));
    let response = http
        .get(url)
        .header(header::ACCEPT, "application/did+json, application/json")
        .send()
        .await
        .map_err(|e| unavailable(error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("HTTP {}", response.status())));
    }
    let document: Value = response
        .json()
        .await
        .map_err(|e| unavailable(format!("not JSON: {}", error_chain(&e))))?;
    if document.get("id").and_then(Value::as_str).is_none()
        || document.get("assertionMethod").and_then(Value::as_array).is_none()
    {
        return Err(unavailable("no id or assertionMethod".into()));
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A server whose DID document lists `key-<n>` on its n-th fetch (1-based); returns its issuer.
    async fn rotating_issuer(hits: Arc<AtomicUsize>) -> Result<String, Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().route(
            "/.well-known/did.json",
            axum::routing::get(move || async move {
                let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
                axum::Json(serde_json::json!({
                    "id": "did:web:x",
                    "assertionMethod": [{"id": format!("did:web:x#key-{n}"), "type": "JsonWebKey"}],
                }))
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(issuer)
    }

    fn lists(document: &Value, kid: &str) -> bool {
        assertion_method(document, kid).is_some()
    }

    #[tokio::test]
    async fn refetches_on_an_unknown_kid_at_most_every_ten_seconds() -> Result<(), Box<dyn std::error::Error>> {
        let hits = Arc::new(AtomicUsize::new(0));
        let issuer = rotating_issuer(hits.clone()).await?;
        let url = did_url(&format!("{issuer}/"));
        assert_eq!(url, format!("{issuer}/.well-known/did.json"));
        let http = reqwest::Client::new();
        let cache = DidCache::default();

        let doc = cache.for_kid(&http, &url, Some("did:web:x#key-1"), 1000).await?;
        assert!(lists(&doc, "did:web:x#key-1"));
        // A known kid: the cached copy.
        cache.for_kid(&http, &url, Some("did:web:x#key-1"), 1001).await?;
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // An unknown kid within 10 s of the last fetch: still the cached copy.
        let doc = cache.for_kid(&http, &url, Some("did:web:x#key-2"), 1005).await?;
        assert!(!lists(&doc, "did:web:x#key-2"));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // After 10 s: fetched again, and the new key is there.
        let doc = cache.for_kid(&http, &url, Some("did:web:x#key-2"), 1010).await?;
        assert!(lists(&doc, "did:web:x#key-2"));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        // After an hour the copy is stale and fetched again even for a listed kid.
        cache
            .for_kid(&http, &url, Some("did:web:x#key-2"), 1010 + DID_MAX_AGE_SECS)
            .await?;
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        Ok(())
    }

    #[tokio::test]
    async fn an_unreachable_issuer_is_hub_unavailable_and_a_cached_copy_survives_it(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let http = reqwest::Client::new();
        let cache = DidCache::default();
        let down = did_url("http://127.0.0.1:1");
        let error = cache.for_kid(&http, &down, Some("k"), 0).await.err();
        assert_eq!(error.map(|e| e.code().to_string()).as_deref(), Some("hub_unavailable"));

        let hits = Arc::new(AtomicUsize::new(0));
        let url = did_url(&rotating_issuer(hits).await?);
        let cache = DidCache::default();
        cache.for_kid(&http, &url, Some("did:web:x#key-1"), 0).await?;
        let doc = cache.for_kid(&http, &down, Some("did:web:x#key-9"), 100).await?;
        assert!(lists(&doc, "did:web:x#key-1"));
        Ok(())
    }
}
