//! For benchmarks only: fills a store with live entries before the hub serves, so figures can be taken
//! with a full store (issue "sign-ins at national scale": the same figures with a million live sessions
//! and journeys). The entries are sealed like real ones, of a real journey's and session's size, under
//! keys made as [`super::key`] makes them; they are never read and expire like any other entry.

use super::{key, Store, StoreError};
use crate::ids::{JourneyId, SessionId};
use std::time::Duration;

/// A journey's plaintext, about its real size (a Cl.Cm journey at the provider, as JSON).
const JOURNEY_BYTES: usize = 900;
/// A hub session's plaintext, about its real size.
const SESSION_BYTES: usize = 260;
/// Entries written per call to the store (one pipeline on Redis).
const BATCH: usize = 1000;
/// Batches in flight at once.
const PARALLEL: usize = 8;

/// Writes `entries` live entries to `store`, half journeys and half hub sessions, each living `ttl`.
pub async fn fill(store: &Store, entries: u64, ttl: Duration) -> Result<(), StoreError> {
    let journey = "j".repeat(JOURNEY_BYTES);
    let session = "s".repeat(SESSION_BYTES);
    let mut left = entries;
    let mut running = tokio::task::JoinSet::new();
    while left > 0 {
        let n = left.min(BATCH as u64);
        left -= n;
        let mut batch = Vec::with_capacity(n as usize);
        for i in 0..n {
            let (key, value) = if i % 2 == 0 {
                let key = key::journey(&JourneyId::generate());
                let value = store.sealed(&key, &journey)?;
                (key, value)
            } else {
                let key = key::session(&SessionId::generate());
                let value = store.sealed(&key, &session)?;
                (key, value)
            };
            batch.push((key, value));
        }
        let store = store.clone();
        running.spawn(async move {
            let entries = batch.iter().map(|(k, v)| (k.as_str(), v.clone(), ttl)).collect();
            store.put_many(entries).await
        });
        if running.len() >= PARALLEL {
            if let Some(done) = running.join_next().await {
                done.map_err(|e| StoreError::Unavailable(e.to_string()))??;
            }
        }
    }
    while let Some(done) = running.join_next().await {
        done.map_err(|e| StoreError::Unavailable(e.to_string()))??;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{
        clock::ManualClock,
        store::{MemoryStore, SessionStore},
    };
    use std::sync::Arc;

    #[tokio::test]
    async fn fills_the_store_with_entries_that_expire_and_stops_at_its_bound() {
        let clock = ManualClock::at(0);
        let memory = Arc::new(MemoryStore::new(Arc::new(clock.clone()), 5000));
        let store = Store::new(memory.clone(), super::super::seal::Sealer::ephemeral());
        fill(&store, 2500, Duration::from_secs(60)).await.unwrap();
        assert_eq!(memory.len(), 2500);
        assert!(matches!(
            fill(&store, 3000, Duration::from_secs(60)).await,
            Err(StoreError::Full)
        ));
        clock.advance(61);
        for _ in 0..1000 {
            memory.ping().await.unwrap();
        }
        assert_eq!(memory.len(), 0, "preloaded entries expire like any other");
    }
}
