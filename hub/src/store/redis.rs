//! The shared store for real deployments: Redis, a key prefix per deployment, a TTL on every key, and a
//! timeout on every command so a Redis outage becomes a clear [`StoreError::Unavailable`] rather than a
//! hang. Which Redis is a matter of configuration ([`Topology::parse`] of `redis_url`):
//!
//! - `redis://host:port/db` (or `rediss://`, `unix://`): one server, through one multiplexed,
//!   self-reconnecting connection ([`redis::aio::ConnectionManager`]);
//! - `redis+cluster://host:port,host:port,…`: a Redis Cluster, found from any of the nodes listed; every
//!   command goes to the master of its key's slot and follows the cluster through failovers;
//! - `redis+sentinel://host:port,host:port,…/master-name[/db]`: the master Sentinel names, asked again
//!   whenever the connection to it fails (a failover promoted another).
//!
//! Every operation touches one key (a script included), so a Cluster needs no key to share a slot with
//! another; [`super::key`] says where that would change.

use super::{SessionStore, StoreError};
use redis::{
    aio::{ConnectionLike, ConnectionManager, MultiplexedConnection},
    AsyncCommands, Cmd, Pipeline, RedisFuture, SetExpiry, SetOptions, Value,
};
use std::{sync::Arc, time::Duration};

/// How long one Redis command may take before the hub gives up and says "try again".
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the hub's Redis is, as `redis_url` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server (a `redis://`, `rediss://` or `unix://` URL).
    Single(String),
    /// A Redis Cluster: the nodes to learn the cluster from, as `redis://host:port` URLs.
    Cluster(Vec<String>),
    /// The master `master` that these Sentinels name, database `db`.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        db: i64,
    },
}

impl Topology {
    /// Reads a `redis_url`: `redis://…` (one server), `redis+cluster://h:p,h:p,…` or
    /// `redis+sentinel://h:p,h:p,…/master[/db]`. The error says what is wrong, for the start-up message.
    pub fn parse(url: &str) -> Result<Self, String> {
        let nodes = |list: &str| -> Result<Vec<String>, String> {
            let nodes: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| format!("redis://{n}"))
                .collect();
            if nodes.is_empty() {
                return Err("names no host:port".into());
            }
            for node in &nodes {
                let parsed = url::Url::parse(node).map_err(|e| format!("{node}: {e}"))?;
                if parsed.host_str().is_none() || parsed.port().is_none() || parsed.path().len() > 1 {
                    return Err(format!("{} is not host:port", &node["redis://".len()..]));
                }
            }
            Ok(nodes)
        };
        if let Some(rest) = url.strip_prefix("redis+cluster://") {
            return Ok(Topology::Cluster(nodes(rest.trim_end_matches('/'))?));
        }
        if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            let (hosts, path) = rest
                .split_once('/')
                .ok_or("redis+sentinel:// needs /master-name after the Sentinels")?;
            let mut parts = path.split('/').filter(|p| !p.is_empty());
            let master = parts.next().ok_or("redis+sentinel:// needs /master-name")?.to_string();
            let db = match parts.next() {
                Some(db) => db.parse().map_err(|_| format!("database {db:?} is not a number"))?,
                None => 0,
            };
            if parts.next().is_some() {
                return Err("redis+sentinel://hosts/master[/db] has nothing after the database".into());
            }
            return Ok(Topology::Sentinel {
                sentinels: nodes(hosts)?,
                master,
                db,
            });
        }
        redis::Client::open(url).map_err(|e| e.to_string())?;
        Ok(Topology::Single(url.to_string()))
    }
}

/// How connections are made, per topology.
enum Backend {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
    Sentinel(tokio::sync::Mutex<redis::sentinel::SentinelClient>),
}

/// One connection of whichever kind: every kind multiplexes many requests at once.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
    Sentinel(MultiplexedConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(c) => c.get_db(),
        }
    }
}

/// Redis-backed [`SessionStore`]. The connection is made on first use and remade after a failure, so a
/// hub started while Redis is down serves "try again" until Redis answers, then recovers by itself.
#[derive(Clone)]
pub struct RedisStore {
    backend: Arc<Backend>,
    conn: Arc<tokio::sync::RwLock<Option<Conn>>>,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend.as_ref() {
            Backend::Single(_) => "single",
            Backend::Cluster(_) => "cluster",
            Backend::Sentinel(_) => "sentinel",
        };
        f.debug_struct("RedisStore")
            .field("topology", &kind)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// A store for `url` (one of the [`Topology`] forms) writing keys under `prefix`. Only a malformed URL
    /// fails here; the connection is made on first use.
    pub fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let backend = match Topology::parse(url).map_err(unavailable)? {
            Topology::Single(url) => Backend::Single(redis::Client::open(url).map_err(unavailable)?),
            Topology::Cluster(nodes) => Backend::Cluster(
                redis::cluster::ClusterClientBuilder::new(nodes)
                    .connection_timeout(COMMAND_TIMEOUT)
                    .response_timeout(COMMAND_TIMEOUT)
                    .retries(4)
                    .min_retry_wait(50)
                    .max_retry_wait(500)
                    .build()
                    .map_err(unavailable)?,
            ),
            Topology::Sentinel { sentinels, master, db } => {
                let node = redis::sentinel::SentinelNodeConnectionInfo {
                    tls_mode: None,
                    redis_connection_info: Some(redis::RedisConnectionInfo {
                        db,
                        ..Default::default()
                    }),
                };
                Backend::Sentinel(tokio::sync::Mutex::new(
                    redis::sentinel::SentinelClient::build(
                        sentinels,
                        master,
                        Some(node),
                        redis::sentinel::SentinelServerType::Master,
                    )
                    .map_err(unavailable)?,
                ))
            }
        };
        Ok(Self {
            backend: Arc::new(backend),
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

    async fn open(&self) -> Result<Conn, StoreError> {
        let made = async {
            match self.backend.as_ref() {
                Backend::Single(client) => {
                    let config = redis::aio::ConnectionManagerConfig::new()
                        .set_connection_timeout(COMMAND_TIMEOUT)
                        .set_response_timeout(COMMAND_TIMEOUT)
                        .set_number_of_retries(2)
                        .set_max_delay(1000);
                    ConnectionManager::new_with_config(client.clone(), config)
                        .await
                        .map(Conn::Single)
                }
                Backend::Cluster(client) => client.get_async_connection().await.map(Conn::Cluster),
                Backend::Sentinel(client) => {
                    let config = redis::AsyncConnectionConfig::new()
                        .set_connection_timeout(COMMAND_TIMEOUT)
                        .set_response_timeout(COMMAND_TIMEOUT);
                    let master = client.lock().await.async_get_client().await?;
                    master
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                        .map(Conn::Sentinel)
                }
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT * 2, made)
            .await
            .map_err(unavailable)?
            .map_err(unavailable)
    }

    /// The shared connection, made if there is none yet.
    async fn connection(&self) -> Result<Conn, StoreError> {
        if let Some(conn) = self.conn.read().await.as_ref() {
            return Ok(conn.clone());
        }
        let mut slot = self.conn.write().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.open().await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    async fn run<T>(&self, f: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
        let result = tokio::time::timeout(COMMAND_TIMEOUT, f).await;
        if matches!(self.backend.as_ref(), Backend::Sentinel(_)) && !matches!(result, Ok(Ok(_))) {
            // The master may have changed (a failover, or a demoted master answering READONLY): ask the
            // Sentinels again on the next command.
            self.conn.write().await.take();
        }
        result.map_err(unavailable)?.map_err(unavailable)
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

/// Compare and swap with a new TTL: the journey changes from the version it was read at, and lives on.
static SWAP_TTL: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
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

fn millis(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64
}

#[async_trait::async_trait]
impl SessionStore for RedisStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut c = self.connection().await?;
        let opts = SetOptions::default().with_expiration(SetExpiry::PX(millis(ttl)));
        self.run(c.set_options::<_, _, ()>(self.key(key), value, opts)).await
    }

    async fn put_many(&self, entries: Vec<(&str, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut c = self.connection().await?;
        if matches!(c, Conn::Cluster(_)) {
            // The keys of one call live in different slots (each names its own secret), and a Cluster
            // pipelines only within a slot: one command each.
            for (key, value, ttl) in entries {
                let opts = SetOptions::default().with_expiration(SetExpiry::PX(millis(ttl)));
                self.run(c.set_options::<_, _, ()>(self.key(key), value, opts)).await?;
            }
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (key, value, ttl) in entries {
            pipe.set_options(
                self.key(key),
                value,
                SetOptions::default().with_expiration(SetExpiry::PX(millis(ttl))),
            )
            .ignore();
        }
        self.run(pipe.query_async::<()>(&mut c)).await
    }

    async fn put_if_absent(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.connection().await?;
        let opts = SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(SetExpiry::PX(millis(ttl)));
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

    async fn swap_for(&self, key: &str, expected: &[u8], value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.connection().await?;
        let swapped: i64 = self
            .run(
                SWAP_TTL
                    .key(self.key(key))
                    .arg(expected)
                    .arg(value)
                    .arg(millis(ttl))
                    .invoke_async(&mut c),
            )
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
        let ms = millis(ttl) as i64;
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
        let cluster = RedisStore::connect("redis+cluster://127.0.0.1:1,127.0.0.1:2", "x:").await;
        assert!(matches!(cluster, Err(StoreError::Unavailable(_))));
        let sentinel = RedisStore::connect("redis+sentinel://127.0.0.1:1/mymaster", "x:").await;
        assert!(matches!(sentinel, Err(StoreError::Unavailable(_))));
    }

    #[test]
    #[allow(clippy::panic)]
    fn redis_url_forms() {
        let node = |s: &str| format!("redis://{s}");
        let cases: Vec<(&str, Result<Topology, &str>)> = vec![
            (
                "redis://127.0.0.1:6379/2",
                Ok(Topology::Single("redis://127.0.0.1:6379/2".into())),
            ),
            (
                "redis+cluster://10.0.0.1:7000,10.0.0.2:7001, 10.0.0.3:7002",
                Ok(Topology::Cluster(vec![
                    node("10.0.0.1:7000"),
                    node("10.0.0.2:7001"),
                    node("10.0.0.3:7002"),
                ])),
            ),
            (
                "redis+sentinel://s1:26379,s2:26379/hub-master/3",
                Ok(Topology::Sentinel {
                    sentinels: vec![node("s1:26379"), node("s2:26379")],
                    master: "hub-master".into(),
                    db: 3,
                }),
            ),
            (
                "redis+sentinel://s1:26379/m",
                Ok(Topology::Sentinel {
                    sentinels: vec![node("s1:26379")],
                    master: "m".into(),
                    db: 0,
                }),
            ),
            ("redis+cluster://", Err("no host:port")),
            ("redis+cluster://10.0.0.1", Err("not host:port")),
            ("redis+sentinel://s1:26379", Err("master-name")),
            ("redis+sentinel://s1:26379/", Err("master-name")),
            ("redis+sentinel://s1:26379/m/x", Err("not a number")),
            ("redis+sentinel://s1:26379/m/1/2", Err("nothing after")),
            ("http://example", Err("")),
        ];
        for (url, want) in cases {
            match (Topology::parse(url), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{url}"),
                (Err(got), Err(fragment)) => assert!(got.contains(fragment), "{url}: {got}"),
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
    }
}
