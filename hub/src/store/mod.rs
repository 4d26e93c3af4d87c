//! Session state (DESIGN.md "Stores"): a [`SessionStore`] trait of the few atomic operations the hub
//! needs, an embedded [`MemoryStore`] for the demo and unit tests, and a [`RedisStore`] for real use.
//!
//! Every key carries a TTL. Single-use values (codes, `jti` replay entries, upstream states) are taken
//! with one atomic operation (`GETDEL`, `SET NX PX`); a journey changes only from the version it was read
//! at ([`SessionStore::swap`]); a session's lifetime is extended without rewriting it
//! ([`SessionStore::touch`]), so nothing ended can come back. Keys are made in one place, [`key`];
//! values about a person are sealed ([`seal`]) before they reach the store.

pub mod key;
mod memory;
pub mod preload;
mod redis;
pub mod seal;
mod timed;

pub use self::memory::MemoryStore;
pub use self::redis::{RedisStore, Topology};

use serde::{de::DeserializeOwned, Serialize};
use std::{sync::Arc, time::Duration};

/// A store failure: the hub answers `temporarily_unavailable` or a "try again" page, never a 500.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    #[error("session store is full")]
    Full,
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
    /// Replaces `key`'s value, keeping its TTL, only if it still holds `expected` (compare and swap);
    /// false when it changed meanwhile or is gone.
    async fn swap(&self, key: &str, expected: &[u8], value: Vec<u8>) -> Result<bool, StoreError>;
    /// [`SessionStore::swap`] giving the key a new TTL in the same step (one round trip, not two).
    async fn swap_for(&self, key: &str, expected: &[u8], value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        if !self.swap(key, expected, value).await? {
            return Ok(false);
        }
        self.touch(key, ttl).await
    }
    /// Sets several keys, each with its TTL, in as few round trips as the store allows (a pipeline).
    /// Not atomic as a whole: for values written together that stand each on its own.
    async fn put_many(&self, entries: Vec<(&str, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        for (key, value, ttl) in entries {
            self.put(key, value, ttl).await?;
        }
        Ok(())
    }
    /// Deletes `key` only if it still holds `expected`; false when it changed meanwhile or is gone. Of
    /// several requests ending one journey at once, exactly one wins.
    async fn remove_if(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError>;
    /// Gives an existing key a new TTL (`PEXPIRE`); false when absent. Never brings a key back.
    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Reads `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Reads and deletes `key` in one step (`GETDEL`): at most one caller ever gets the value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes `key`.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Checks the store answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// A shared handle on a store implementation ([`Store`] measures every call through it).
pub type RawStore = Arc<dyn SessionStore>;

/// A value as read, with the (sealed) bytes it was read from, so it can be replaced or removed only from
/// that version.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub bytes: Vec<u8>,
}

/// The hub's store: typed values sealed with the hub's key ([`seal`]), and raw values (markers that
/// name nothing about a person: upstream states, `jti`s, used codes) passed through.
#[derive(Debug, Clone)]
pub struct Store {
    raw: RawStore,
    sealer: Arc<seal::Sealer>,
}

impl Store {
    /// A store over an implementation, sealing with `sealer`.
    pub fn new(raw: RawStore, sealer: seal::Sealer) -> Self {
        Self {
            raw: Arc::new(timed::Timed(raw)),
            sealer: Arc::new(sealer),
        }
    }

    fn seal<T: Serialize>(&self, key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.sealer
            .seal(key, &plain)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn open<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
        let plain = self
            .sealer
            .open(key, bytes)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Sets `key` to a sealed value, expiring after `ttl`.
    pub async fn put_json<T: Serialize + Sync>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), StoreError> {
        self.raw.put(key, self.seal(key, value)?, ttl).await
    }

    /// Reads a sealed value.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.raw.get(key).await?.map(|b| self.open(key, &b)).transpose()
    }

    /// Reads a sealed value with its version, for [`Store::swap_json`] and [`Store::remove_version`].
    pub async fn get_versioned<T: DeserializeOwned>(&self, key: &str) -> Result<Option<Versioned<T>>, StoreError> {
        match self.raw.get(key).await? {
            Some(bytes) => Ok(Some(Versioned {
                value: self.open(key, &bytes)?,
                bytes,
            })),
            None => Ok(None),
        }
    }

    /// Replaces a value read at `from` (keeping its TTL); false when it changed meanwhile or is gone.
    pub async fn swap_json<T: Serialize + Sync, U: Sync>(
        &self,
        key: &str,
        from: &Versioned<U>,
        value: &T,
    ) -> Result<bool, StoreError> {
        self.raw.swap(key, &from.bytes, self.seal(key, value)?).await
    }

    /// [`Store::swap_json`] giving the value a new TTL in the same step.
    pub async fn swap_json_for<T: Serialize + Sync, U: Sync>(
        &self,
        key: &str,
        from: &Versioned<U>,
        value: &T,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.raw.swap_for(key, &from.bytes, self.seal(key, value)?, ttl).await
    }

    /// A value sealed for `key`, to write with [`Store::put_many`].
    pub fn sealed<T: Serialize>(&self, key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
        self.seal(key, value)
    }

    /// Sets several keys (sealed values from [`Store::sealed`], or raw markers) in as few round trips as
    /// the store allows; not atomic as a whole.
    pub async fn put_many(&self, entries: Vec<(&str, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        self.raw.put_many(entries).await
    }

    /// Removes a value read at `from`; false when it changed meanwhile or is gone (another request won).
    pub async fn remove_version<U: Sync>(&self, key: &str, from: &Versioned<U>) -> Result<bool, StoreError> {
        self.raw.remove_if(key, &from.bytes).await
    }

    /// Reads and deletes a sealed value in one step.
    pub async fn take_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.raw.take(key).await?.map(|b| self.open(key, &b)).transpose()
    }

    /// Sets a raw marker.
    pub async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.raw.put(key, value, ttl).await
    }

    /// Whether a raw marker is present.
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.raw.get(key).await?.is_some())
    }

    /// Sets a raw marker only if absent.
    pub async fn put_if_absent(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        self.raw.put_if_absent(key, value, ttl).await
    }

    /// Reads and deletes a raw marker.
    pub async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.raw.take(key).await
    }

    /// Deletes a key.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.raw.delete(key).await
    }

    /// Gives an existing key a new TTL; false when absent.
    pub async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.raw.touch(key, ttl).await
    }

    /// Checks the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.raw.ping().await
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
        assert!(store.swap("a", b"1", b"3".to_vec()).await.unwrap());
        assert!(!store.swap("a", b"1", b"4".to_vec()).await.unwrap(), "stale version");
        assert!(store.swap_for("a", b"3", b"5".to_vec(), ttl).await.unwrap());
        assert!(
            !store.swap_for("a", b"3", b"6".to_vec(), ttl).await.unwrap(),
            "stale version"
        );
        assert!(!store.swap_for("missing", b"3", b"6".to_vec(), ttl).await.unwrap());
        assert!(store.swap("a", b"5", b"3".to_vec()).await.unwrap());
        store
            .put_many(vec![("m1", b"x".to_vec(), ttl), ("m2", b"y".to_vec(), ttl)])
            .await
            .unwrap();
        assert_eq!(store.take("m1").await.unwrap(), Some(b"x".to_vec()));
        assert_eq!(store.take("m2").await.unwrap(), Some(b"y".to_vec()));
        assert!(!store.swap("missing", b"1", b"3".to_vec()).await.unwrap());
        assert_eq!(store.get("missing").await.unwrap(), None, "swap never creates");
        assert!(store.touch("a", ttl).await.unwrap());
        store.put("c", b"x".to_vec(), ttl).await.unwrap();
        assert!(!store.remove_if("c", b"y").await.unwrap());
        assert!(store.remove_if("c", b"x").await.unwrap());
        assert!(!store.remove_if("c", b"x").await.unwrap(), "only one remover wins");
        assert!(!store.touch("missing", ttl).await.unwrap());
        assert_eq!(store.get("missing").await.unwrap(), None, "touch never creates");
        assert_eq!(store.take("a").await.unwrap(), Some(b"3".to_vec()));
        assert_eq!(store.take("a").await.unwrap(), None);
        store.delete("b").await.unwrap();
        assert_eq!(store.get("b").await.unwrap(), None);
        store.ping().await.unwrap();
    }
}
