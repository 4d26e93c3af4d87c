//! The embedded store: one process, no persistence. The launcher's default and the in-process tests'
//! store. Expiry follows the hub's [`Clock`]; expired entries are swept a few at a time from a heap
//! ordered by expiry, so no operation's cost depends on how many entries are live. A configurable bound
//! on the number of entries refuses new ones cleanly ([`StoreError::Full`]: "try again") instead of
//! growing until the process is killed.

use super::{SessionStore, StoreError};
use crate::clock::Clock;
use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

/// Expired entries removed per operation at most (amortised sweeping).
const SWEEP_PER_OP: usize = 8;

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    /// Expiry in clock milliseconds.
    expires: i64,
    /// Which heap record is this entry's current one.
    generation: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Entry>,
    heap: BinaryHeap<Reverse<(i64, u64, String)>>,
    next_generation: u64,
}

impl Inner {
    fn sweep(&mut self, now: i64) {
        for _ in 0..SWEEP_PER_OP {
            let Some(Reverse((expires, generation, _))) = self.heap.peek() else {
                return;
            };
            if *expires > now {
                return;
            }
            let generation = *generation;
            let Some(Reverse((_, _, key))) = self.heap.pop() else {
                return;
            };
            if self.map.get(&key).is_some_and(|e| e.generation == generation) {
                self.map.remove(&key);
            }
        }
        // Stale heap records (keys rewritten or deleted) are dropped as they surface; keep the heap from
        // growing past twice the live entries by rebuilding it when it does.
        if self.heap.len() > 2 * self.map.len() + 1024 {
            self.heap = self
                .map
                .iter()
                .map(|(k, e)| Reverse((e.expires, e.generation, k.clone())))
                .collect();
        }
    }

    fn live(&self, key: &str, now: i64) -> Option<&Entry> {
        self.map.get(key).filter(|e| e.expires > now)
    }

    fn set(&mut self, key: &str, value: Vec<u8>, expires: i64) {
        self.next_generation += 1;
        let generation = self.next_generation;
        self.heap.push(Reverse((expires, generation, key.to_string())));
        self.map.insert(
            key.to_string(),
            Entry {
                value,
                expires,
                generation,
            },
        );
    }
}

/// An in-process map with per-key expiry on the hub's clock.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
    max_entries: usize,
}

impl MemoryStore {
    /// An empty store on `clock` holding at most `max_entries` live entries.
    pub fn new(clock: Arc<dyn Clock>, max_entries: usize) -> Self {
        Self {
            inner: Mutex::default(),
            clock,
            max_entries,
        }
    }

    /// How many entries the store holds (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.map.len()).unwrap_or_default()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner, i64) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))?;
        let now = self.clock.now_millis();
        inner.sweep(now);
        f(&mut inner, now)
    }

    fn expiry(now: i64, ttl: Duration) -> i64 {
        now.saturating_add(ttl.as_millis().max(1) as i64)
    }

    fn room(&self, inner: &Inner, key: &str) -> Result<(), StoreError> {
        if inner.map.len() >= self.max_entries && !inner.map.contains_key(key) {
            return Err(StoreError::Full);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.with(|m, now| {
            self.room(m, key)?;
            m.set(key, value, Self::expiry(now, ttl));
            Ok(())
        })
    }

    async fn put_if_absent(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        self.with(|m, now| {
            if m.live(key, now).is_some() {
                return Ok(false);
            }
            self.room(m, key)?;
            m.set(key, value, Self::expiry(now, ttl));
            Ok(true)
        })
    }

    async fn swap(&self, key: &str, expected: &[u8], value: Vec<u8>) -> Result<bool, StoreError> {
        self.with(|m, now| {
            let Some(entry) = m.live(key, now) else {
                return Ok(false);
            };
            if entry.value != expected {
                return Ok(false);
            }
            if let Some(entry) = m.map.get_mut(key) {
                entry.value = value;
            }
            Ok(true)
        })
    }

    async fn swap_for(&self, key: &str, expected: &[u8], value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        self.with(|m, now| {
            if m.live(key, now).is_none_or(|e| e.value != expected) {
                return Ok(false);
            }
            m.set(key, value, Self::expiry(now, ttl));
            Ok(true)
        })
    }

    async fn put_many(&self, entries: Vec<(&str, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        self.with(|m, now| {
            let new = entries.iter().filter(|(k, _, _)| !m.map.contains_key(*k)).count();
            if m.map.len() + new > self.max_entries {
                return Err(StoreError::Full);
            }
            for (key, value, ttl) in entries {
                m.set(key, value, Self::expiry(now, ttl));
            }
            Ok(())
        })
    }

    async fn remove_if(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        self.with(|m, now| {
            if m.live(key, now).is_some_and(|e| e.value == expected) {
                m.map.remove(key);
                return Ok(true);
            }
            Ok(false)
        })
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.with(|m, now| {
            let Some(entry) = m.live(key, now) else {
                return Ok(false);
            };
            let value = entry.value.clone();
            m.set(key, value, Self::expiry(now, ttl));
            Ok(true)
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|m, now| Ok(m.live(key, now).map(|e| e.value.clone())))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|m, now| {
            let live = m.live(key, now).is_some();
            Ok(m.map.remove(key).filter(|_| live).map(|e| e.value))
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.with(|m, _| {
            m.map.remove(key);
            Ok(())
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|_, _| Ok(()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn meets_the_store_contract() {
        super::super::contract::check(&MemoryStore::new(Arc::new(ManualClock::at(0)), 100)).await;
    }

    #[tokio::test]
    async fn entries_expire_on_the_hub_clock() {
        let clock = ManualClock::at(1000);
        let store = MemoryStore::new(Arc::new(clock.clone()), 100);
        store.put("k", b"v".to_vec(), Duration::from_secs(10)).await.unwrap();
        clock.advance(9);
        assert_eq!(store.get("k").await.unwrap(), Some(b"v".to_vec()));
        assert!(store.touch("k", Duration::from_secs(10)).await.unwrap());
        clock.advance(9);
        assert_eq!(store.get("k").await.unwrap(), Some(b"v".to_vec()), "touch extended it");
        clock.advance(2);
        assert_eq!(store.get("k").await.unwrap(), None);
        assert_eq!(store.take("k").await.unwrap(), None);
        assert!(!store.touch("k", Duration::from_secs(10)).await.unwrap());
    }

    #[tokio::test]
    async fn expired_entries_are_swept_and_a_full_store_refuses_cleanly() {
        let clock = ManualClock::at(0);
        let store = MemoryStore::new(Arc::new(clock.clone()), 50);
        for i in 0..50 {
            store
                .put(&format!("k{i}"), vec![1], Duration::from_secs(1))
                .await
                .unwrap();
        }
        assert!(matches!(
            store.put("one-more", vec![1], Duration::from_secs(1)).await,
            Err(StoreError::Full)
        ));
        store.put("k1", vec![2], Duration::from_secs(1)).await.unwrap();
        clock.advance(2);
        for _ in 0..10 {
            store.ping().await.unwrap();
        }
        assert_eq!(store.len(), 0, "every expired entry swept, a few per operation");
        store.put("one-more", vec![1], Duration::from_secs(1)).await.unwrap();
    }
}
