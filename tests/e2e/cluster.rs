//! Scale-out on Redis Cluster (issue "sign-ins at national scale"): hub instances sharing a cluster of
//! three masters and three replicas, started here from Debian's `redis-server` on free ports and joined
//! by `redis-cli --cluster create`. One test runs journeys whose every request goes to the next of three
//! instances; another fails a master over in the middle of the load and checks that no completed sign-in
//! was lost. Correctness only; nothing here is timed.

use crate::harness::{free_port, loadgen_client, loadgen_report, Federation, Options, StoreKind};
use anyhow::{bail, ensure, Context as _, Result};
use serde_json::Value;
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

/// Six redis-server processes in cluster mode (three masters, a replica each); stopped on drop.
pub struct RedisCluster {
    ports: Vec<u16>,
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

fn cli(port: u16, args: &[&str]) -> Result<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .context("running redis-cli (apt-get install -y redis-server)")?;
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

impl RedisCluster {
    pub async fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut cluster = Self {
            ports: Vec::new(),
            children: Vec::new(),
            _dir: dir,
        };
        for _ in 0..6 {
            // Each node also listens on its cluster bus port, port + 10000.
            let mut port = free_port()?;
            while port > 55535 || std::net::TcpListener::bind(("127.0.0.1", port + 10000)).is_err() {
                port = free_port()?;
            }
            let node_dir = cluster._dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir)?;
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", "2000"])
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting redis-server (apt-get install -y redis-server)")?;
            cluster.children.push(child);
            cluster.ports.push(port);
        }
        for port in &cluster.ports {
            let mut up = false;
            for _ in 0..100 {
                if cli(*port, &["ping"])?.trim() == "PONG" {
                    up = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ensure!(up, "redis-server on port {port} did not answer");
        }
        let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .context("redis-cli --cluster create")?;
        ensure!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        cluster.wait_ok().await?;
        Ok(cluster)
    }

    /// Waits until every node says the cluster is whole.
    async fn wait_ok(&self) -> Result<()> {
        for _ in 0..200 {
            let mut ok = true;
            for port in &self.ports {
                ok &= cli(*port, &["cluster", "info"])?.contains("cluster_state:ok");
            }
            if ok {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the Redis Cluster did not become whole")
    }

    /// The hub's `redis_url` for this cluster.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The ports of the nodes that are replicas now.
    fn replicas(&self) -> Result<Vec<u16>> {
        let mut replicas = Vec::new();
        for port in &self.ports {
            if cli(*port, &["role"])?.starts_with("slave") {
                replicas.push(*port);
            }
        }
        Ok(replicas)
    }

    /// Has the replica on `port` take over its master, as an operator's manual failover does, and waits
    /// until it is a master and the cluster is whole again.
    pub async fn fail_over(&self, port: u16) -> Result<()> {
        let said = cli(port, &["cluster", "failover"])?;
        ensure!(said.trim() == "OK", "CLUSTER FAILOVER on {port}: {said}");
        for _ in 0..200 {
            if cli(port, &["role"])?.starts_with("master") {
                return self.wait_ok().await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the replica on {port} did not become a master")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A federation of three hub instances on `cluster`, the stub answering at once.
async fn three_hubs_on(cluster: &RedisCluster) -> Result<(Federation, Vec<String>)> {
    let mut fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        redis_url: Some(cluster.url()),
        stub_non_interactive: Some("alex-morgan".into()),
        extra_clients: loadgen_client(),
        ..Options::default()
    })
    .await?;
    let mut hubs = vec![fed.hub.clone()];
    hubs.push(fed.start_another_hub().await?);
    hubs.push(fed.start_another_hub().await?);
    Ok((fed, hubs))
}

/// loadgen over `hubs` (round-robin per request) at P2, with `extra` options, watching the hubs' CPU.
fn loadgen(
    fed: &Federation,
    hubs: &[String],
    dir: &std::path::Path,
    extra: &[&str],
) -> Result<tokio::process::Command> {
    let mut command = fed.loadgen(hubs, dir)?;
    command.args(["--level", "p2"]);
    command.args(extra);
    for pid in fed.pids("hub") {
        command.args(["--pid", &format!("hub={pid}")]);
    }
    Ok(command)
}

#[tokio::test]
async fn journeys_cross_three_hub_instances_round_robin_on_a_redis_cluster() -> Result<()> {
    let cluster = RedisCluster::start().await?;
    let (fed, hubs) = three_hubs_on(&cluster).await?;
    let dir = tempfile::tempdir()?;
    // One virtual user: each of its journeys' requests goes to the next instance, so every step of a
    // journey is served by another instance than the step before.
    let out = loadgen(&fed, &hubs, dir.path(), &["--count", "30", "--concurrency", "1"])?
        .output()
        .await?;
    let report = loadgen_report(&out)?;
    ensure!(
        report["completed"] == 30 && report["failed"] == 0,
        "{}",
        report["errors"]
    );
    ensure!(report["hubs"].as_array().map(Vec::len) == Some(3), "{}", report["hubs"]);
    // Every instance served: the CPU of each of the three is accounted.
    ensure!(report["processes"][0]["pids"].as_array().map(Vec::len) == Some(3));
    Ok(())
}

#[tokio::test]
async fn a_master_fails_over_mid_load_and_no_completed_sign_in_is_lost() -> Result<()> {
    let cluster = RedisCluster::start().await?;
    let (fed, hubs) = three_hubs_on(&cluster).await?;
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens.tsv");
    let tokens_arg = tokens.display().to_string();
    let running = loadgen(
        &fed,
        &hubs,
        dir.path(),
        &["--duration", "12", "--concurrency", "8", "--tokens-out", &tokens_arg],
    )?
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let replica = *cluster.replicas()?.first().context("the cluster has no replica")?;
    cluster.fail_over(replica).await?;
    let out = running.wait_with_output().await?;
    let report = loadgen_report(&out)?;
    let completed = report["completed"].as_u64().unwrap_or_default();
    ensure!(completed > 0, "no sign-in completed: {}", report["errors"]);
    // A request caught in the failover may be told "try again"; none may meet a server error.
    let errors = report["errors"].as_object().cloned().unwrap_or_default();
    ensure!(
        errors.keys().all(|kind| !kind.contains("http 500")),
        "server errors during the failover: {errors:?}"
    );
    // Every sign-in that completed still stands after the failover: its access token still answers.
    let kept = std::fs::read_to_string(&tokens)?;
    let kept: Vec<(&str, &str)> = kept.lines().filter_map(|l| l.split_once('\t')).collect();
    ensure!(
        kept.len() as u64 == completed,
        "{} tokens for {completed} sign-ins",
        kept.len()
    );
    let http = reqwest::Client::new();
    for (i, (token, sub)) in kept.iter().enumerate() {
        let hub = &hubs[i % hubs.len()];
        let info: Value = http
            .get(format!("{hub}/userinfo"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("the access token of completed sign-in {i} no longer answers"))?
            .json()
            .await?;
        ensure!(info["sub"] == *sub, "sign-in {i}: {} is not {sub}", info["sub"]);
    }
    Ok(())
}
