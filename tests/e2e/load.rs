//! The load generator over the real binaries: a few hundred whole P2 sign-ins across two hub instances on
//! one Redis, the stub answering without its page. Checks correctness under concurrency, never timing.

use crate::harness::{loadgen_client, loadgen_report, Federation, Options, StoreKind};
use anyhow::{ensure, Context as _, Result};

#[tokio::test]
async fn loadgen_smoke_a_few_hundred_journeys_on_redis_across_two_hubs_without_error() -> Result<()> {
    let mut fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        stub_non_interactive: Some("alex-morgan".into()),
        extra_clients: loadgen_client(),
        ..Options::default()
    })
    .await?;
    let second = fed.start_another_hub().await?;
    let dir = tempfile::tempdir()?;
    let mut command = fed.loadgen(&[fed.hub.clone(), second], dir.path())?;
    command.args(["--level", "p2", "--count", "300", "--concurrency", "8"]);
    for (name, pid) in ["hub", "idp-stub"]
        .into_iter()
        .flat_map(|n| fed.pids(n).into_iter().map(move |p| (n, p)))
    {
        command.args(["--pid", &format!("{name}={pid}")]);
    }
    let out = command.output().await.context("running loadgen")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = loadgen_report(&out)?;
    ensure!(
        report["failed"] == 0 && report["errors"] == serde_json::json!({}),
        "loadgen counted errors: {}\n{stderr}",
        report["errors"]
    );
    ensure!(report["completed"] == 300, "completed: {}", report["completed"]);
    ensure!(out.status.success(), "loadgen exited with {}\n{stderr}", out.status);
    ensure!(report["hubs"].as_array().map(Vec::len) == Some(2), "{}", report["hubs"]);
    for step in [
        "authorize",
        "choice",
        "provider+callback",
        "consent",
        "token",
        "userinfo",
    ] {
        ensure!(
            report["steps"][step]["count"] == 300,
            "step {step}: {}",
            report["steps"][step]
        );
    }
    let watched: Vec<&str> = report["processes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["hub", "idp-stub", "loadgen"] {
        ensure!(watched.contains(&name), "{name} not accounted: {watched:?}");
    }
    ensure!(
        report["processes"][0]["pids"].as_array().is_some_and(|p| !p.is_empty()),
        "{}",
        report["processes"]
    );
    Ok(())
}
