//! Session state (DESIGN.md "Stores"): a [`SessionStore`] trait of the few atomic operations the hub
//! needs, an embedded [`MemoryStore`] for the demo and unit tests, and a [`RedisStore`] for real use.
//!
//! Every key carries a TTL. Single-use values (codes, `jti` replay entries, upstream states) are taken
//! with one atomic operation (`GETDEL`, `SET NX PX`), so two hub instances can never both redeem one.

mod memory;
mod redis;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

use serde::{de::DeserializeOwned, Serialize};
use std::{sync::Arc, time::Duration};

/// A store failure: the hub answers `temporarily_unavailable` or a "try again" page, never a 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    #[error("stored value could not be decoded: {0}")]
    Corrupt(String),
}

/// The atomic key-value operations the hub's state needs. Keys are relative; implementations prefix them.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Sets `key` to `value`, expiring after `ttl`.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;
    /// Sets `key` only if absent (`SET NX PX`); false when it already existed.
    async fn put_if_absent(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError>;
    /// Replaces an existing key's value keeping its TTL (`SET XX KEEPTTL`); false when absent.
    async fn replace(&self, key: &str, value: Vec<u8>) -> Result<bool, StoreError>;
    /// Reads `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Reads and deletes `key` in one step (`GETDEL`): at most one caller ever gets the value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes `key`.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Checks the store answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// A shared store handle.
pub type Store = Arc<dyn SessionStore>;

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: Option<Vec<u8>>) -> Result<Option<T>, StoreError> {
    bytes
        .map(|b| serde_json::from_slice(&b).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// Typed JSON helpers over any [`SessionStore`].
#[async_trait::async_trait]
pub trait StoreExt {
    async fn put_json<T: Serialize + Sync>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), StoreError>;
    async fn put_json_if_absent<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    async fn replace_json<T: Serialize + Sync>(&self, key: &str, value: &T) -> Result<bool, StoreError>;
    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError>;
    async fn take_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError>;
}

#[async_trait::async_trait]
impl<S: SessionStore + ?Sized> StoreExt for S {
    async fn put_json<T: Serialize + Sync>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), StoreError> {
        self.put(key, encode(value)?, ttl).await
    }
    async fn put_json_if_absent<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.put_if_absent(key, encode(value)?, ttl).await
    }
    async fn replace_json<T: Serialize + Sync>(&self, key: &str, value: &T) -> Result<bool, StoreError> {
        self.replace(key, encode(value)?).await
    }
    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        decode(self.get(key).await?)
    }
    async fn take_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        decode(self.take(key).await?)
    }
}

/// The contract every store implementation must meet, run against each of them.
#[cfg(test)]
pub(crate) mod contract {
    use super::*;

    #[allow(clippy::unwrap_used)]
    pub async fn check(store: &dyn SessionStore) {
        let ttl = Duration::from_secs(60);
        assert_eq!(store.get("a").await.unwrap(), None);
        store.put("a", b"1".to_vec(), ttl).await.unwrap();
        assert_eq!(store.get("a").await.unwrap(), Some(b"1".to_vec()));
        assert!(!store.put_if_absent("a", b"2".to_vec(), ttl).await.unwrap());
        assert!(store.put_if_absent("b", b"2".to_vec(), ttl).await.unwrap());
        assert!(store.replace("a", b"3".to_vec()).await.unwrap());
        assert!(!store.replace("missing", b"3".to_vec()).await.unwrap());
        assert_eq!(store.take("a").await.unwrap(), Some(b"3".to_vec()));
        assert_eq!(store.take("a").await.unwrap(), None);
        store.delete("b").await.unwrap();
        assert_eq!(store.get("b").await.unwrap(), None);
        store.ping().await.unwrap();
    }
}
