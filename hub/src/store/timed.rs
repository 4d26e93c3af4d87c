//! A layer around any [`SessionStore`] that times every operation and counts its errors
//! (`hub_store_operation_duration_seconds{op}`, `hub_store_errors_total{op}`), so operators see a slow or
//! failing store whichever implementation is behind it.

use super::{SessionStore, StoreError};
use std::{future::Future, sync::Arc, time::Duration, time::Instant};

/// The store `inner`, measured.
#[derive(Debug)]
pub struct Timed(pub Arc<dyn SessionStore>);

async fn timed<T>(op: &'static str, call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    crate::telemetry::store_op(op, started.elapsed(), result.is_ok());
    result
}

#[async_trait::async_trait]
impl SessionStore for Timed {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        timed("put", self.0.put(key, value, ttl)).await
    }
    async fn put_if_absent(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        timed("put_if_absent", self.0.put_if_absent(key, value, ttl)).await
    }
    async fn swap(&self, key: &str, expected: &[u8], value: Vec<u8>) -> Result<bool, StoreError> {
        timed("swap", self.0.swap(key, expected, value)).await
    }
    async fn swap_for(&self, key: &str, expected: &[u8], value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        timed("swap_for", self.0.swap_for(key, expected, value, ttl)).await
    }
    async fn put_many(&self, entries: Vec<(&str, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        timed("put_many", self.0.put_many(entries)).await
    }
    async fn remove_if(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        timed("remove_if", self.0.remove_if(key, expected)).await
    }
    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        timed("touch", self.0.touch(key, ttl)).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        timed("get", self.0.get(key)).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        timed("take", self.0.take(key)).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        timed("delete", self.0.delete(key)).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        timed("ping", self.0.ping()).await
    }
}
