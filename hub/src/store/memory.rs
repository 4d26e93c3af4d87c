//! The embedded store: one process, no persistence. The launcher's default and the unit tests' store.

use super::{SessionStore, StoreError};
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// An in-process map with per-key expiry, checked on read and swept on write.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, (Vec<u8>, Instant)>, Instant) -> R) -> Result<R, StoreError> {
        let mut map = self
            .entries
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))?;
        let now = Instant::now();
        map.retain(|_, (_, expiry)| *expiry > now);
        Ok(f(&mut map, now))
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.with(|m, now| {
            m.insert(key.to_string(), (value, now + ttl));
        })
    }

    async fn put_if_absent(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        self.with(|m, now| {
            if m.contains_key(key) {
                false
            } else {
                m.insert(key.to_string(), (value, now + ttl));
                true
            }
        })
    }

    async fn replace(&self, key: &str, value: Vec<u8>) -> Result<bool, StoreError> {
        self.with(|m, _| match m.get_mut(key) {
            Some(entry) => {
                entry.0 = value;
                true
            }
            None => false,
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|m, _| m.get(key).map(|(v, _)| v.clone()))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|m, _| m.remove(key).map(|(v, _)| v))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.with(|m, _| {
            m.remove(key);
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|_, _| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn meets_the_store_contract() {
        super::super::contract::check(&MemoryStore::new()).await;
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn entries_expire() {
        let store = MemoryStore::new();
        store.put("k", b"v".to_vec(), Duration::from_millis(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(store.get("k").await.unwrap(), None);
    }
}
