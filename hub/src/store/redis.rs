//! The shared store for real deployments: Redis through one multiplexed, self-reconnecting connection
//! ([`redis::aio::ConnectionManager`]), a key prefix per deployment, a TTL on every key, and a timeout on
//! every command so a Redis outage becomes a clear [`StoreError::Unavailable`] rather than a hang.

use super::{SessionStore, StoreError};
use redis::{aio::ConnectionManager, AsyncCommands, SetExpiry, SetOptions};
use std::time::Duration;

/// How long one Redis command may take before the hub gives up and says "try again".
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Redis-backed [`SessionStore`]. The connection is made on first use and remade after a failure, so a
/// hub started while Redis is down serves "try again" until Redis answers, then recovers by itself.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: std::sync::Arc<tokio::sync::RwLock<Option<ConnectionManager>>>,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// A store for `url` (e.g. `redis://127.0.0.1:6379/0`) writing keys under `prefix`. Only a malformed URL
    /// fails here; the connection is made on first use.
    pub fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        Ok(Self {
            client,
            conn: Default::default(),
            prefix: prefix.to_string(),
        })
    }

    /// A store for `url`, connected now: fails when Redis does not answer.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let store = Self::new(url, prefix)?;
        store.connection().await?;
        Ok(store)
    }

    /// The shared multiplexed connection, made if there is none yet.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(conn) = self.conn.read().await.as_ref() {
            return Ok(conn.clone());
        }
        let mut slot = self.conn.write().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(1000);
        let conn = tokio::time::timeout(
            COMMAND_TIMEOUT * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn run<T>(&self, f: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
        tokio::time::timeout(COMMAND_TIMEOUT, f)
            .await
            .map_err(unavailable)?
            .map_err(unavailable)
    }
}

/// Compare and swap keeping the TTL: the journey changes only from the version it was read at.
static SWAP: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
            return 1
          end
          return 0",
    )
});

/// Compare and delete: of several requests ending one journey, one wins.
static REMOVE_IF: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('DEL', KEYS[1])
            return 1
          end
          return 0",
    )
});

fn px(ttl: Duration) -> SetExpiry {
    SetExpiry::PX(ttl.as_millis().max(1) as u64)
}

#[async_trait::async_trait]
impl SessionStore for RedisStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut c = self.connection().await?;
        let opts = SetOptions::default().with_expiration(px(ttl));
        self.run(c.set_options::<_, _, ()>(self.key(key), value, opts)).await
    }

    async fn put_if_absent(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.connection().await?;
        let opts = SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(px(ttl));
        let set: Option<String> = self.run(c.set_options(self.key(key), value, opts)).await?;
        Ok(set.is_some())
    }

    async fn swap(&self, key: &str, expected: &[u8], value: Vec<u8>) -> Result<bool, StoreError> {
        let mut c = self.connection().await?;
        let swapped: i64 = self
            .run(SWAP.key(self.key(key)).arg(expected).arg(value).invoke_async(&mut c))
            .await?;
        Ok(swapped == 1)
    }

    async fn remove_if(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        let mut c = self.connection().await?;
        let removed: i64 = self
            .run(REMOVE_IF.key(self.key(key)).arg(expected).invoke_async(&mut c))
            .await?;
        Ok(removed == 1)
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.connection().await?;
        let ms = ttl.as_millis().max(1) as i64;
        self.run(c.pexpire::<_, bool>(self.key(key), ms)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.connection().await?;
        self.run(c.get(self.key(key))).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.connection().await?;
        self.run(c.get_del(self.key(key))).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut c = self.connection().await?;
        self.run(c.del::<_, ()>(self.key(key))).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.connection().await?;
        self.run(redis::cmd("PING").query_async::<String>(&mut c))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs against the machine's Redis (127.0.0.1:6379, or `REDIS_URL`) under a random prefix.
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn meets_the_store_contract_on_real_redis() {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("test:{}:", crate::ids::random_token());
        let store = RedisStore::connect(&url, &prefix).await.unwrap();
        super::super::contract::check(&store).await;
    }

    #[tokio::test]
    async fn unreachable_redis_is_unavailable_not_a_hang() {
        let result = RedisStore::connect("redis://127.0.0.1:1", "x:").await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
    }
}
