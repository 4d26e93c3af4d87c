//! The load generator over the real binaries: a few hundred whole P2 sign-ins across two hub instances on
//! one Redis, the stub answering without its page. Checks correctness under concurrency, never timing.

use crate::harness::{binary, Federation, Options, StoreKind, TEST_CLIENT_PUBLIC_KEY, TEST_REDIRECT};
use anyhow::{ensure, Context as _, Result};
use serde_json::Value;

/// The service loadgen plays, signing with the test client's key.
const LOADGEN_CLIENT: &str = "loadgen";

#[tokio::test]
async fn loadgen_smoke_a_few_hundred_journeys_on_redis_across_two_hubs_without_error() -> Result<()> {
    let mut fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        stub_non_interactive: Some("alex-morgan".into()),
        extra_clients: format!(
            r#"
[[clients]]
client_id = "{LOADGEN_CLIENT}"
client_name = "Load generator"
redirect_uris = ["{TEST_REDIRECT}"]
scopes = ["openid", "email"]
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
public_key = """
{TEST_CLIENT_PUBLIC_KEY}"""
"#
        ),
        ..Options::default()
    })
    .await?;
    let second = fed.start_another_hub().await?;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("loadgen.pem");
    fed.client_key.write_pem(&key)?;

    let mut command = tokio::process::Command::new(binary("loadgen")?);
    command.args(["--hub", &fed.hub, "--hub", &second, "--client-id", LOADGEN_CLIENT]);
    command.args(["--key", &key.display().to_string(), "--redirect-uri", TEST_REDIRECT]);
    command.args(["--level", "p2", "--count", "300", "--concurrency", "8", "--json"]);
    for (name, pid) in ["hub", "idp-stub"]
        .into_iter()
        .flat_map(|n| fed.pids(n).into_iter().map(move |p| (n, p)))
    {
        command.args(["--pid", &format!("{name}={pid}")]);
    }
    let out = command.kill_on_drop(true).output().await.context("running loadgen")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("loadgen printed no JSON report:\n{stdout}\n{stderr}"))?;
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
