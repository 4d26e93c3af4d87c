//! What an operator does to a running hub (INTERFACE.md §8: the registries are "read at start-up and
//! reloadable"): a SIGHUP reads the client and provider registries again; a broken file is refused, counted
//! in `/metrics`, and the registries in use stay.

use crate::flows::{authorize_url, Pkce};
use crate::harness::{Agent, Federation, StoreKind, TEST_CLIENT, TEST_REDIRECT};
use anyhow::{bail, Result};
use std::time::Duration;

/// Where an authorization request of `client_id` lands: the choice page, or a page refusing it.
async fn lands_on_choice(fed: &Federation, client_id: &str) -> Result<bool> {
    let url = authorize_url(fed, &Pkce::new(), &[("client_id", Some(client_id))]);
    let seen = Agent::new()?.visit(&url, Some(TEST_REDIRECT)).await?;
    Ok(seen.is_choice(&fed.hub))
}

/// The value of `hub_registry_reloads_total{outcome=…}` in `/metrics` (0 before any).
async fn reloads(fed: &Federation, outcome: &str) -> Result<u64> {
    let text = reqwest::get(format!("{}/metrics", fed.hub)).await?.text().await?;
    let prefix = format!("hub_registry_reloads_total{{outcome=\"{outcome}\"}} ");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

/// Polls until `cond` holds (a ceiling for a loaded machine, not a timing assertion).
async fn eventually<F, Fut>(what: &str, mut cond: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    for _ in 0..300 {
        if cond().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("never: {what}")
}

#[tokio::test]
async fn sighup_reloads_the_registries_and_a_broken_file_changes_nothing() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let clients = fed.config_path("clients.toml");
    assert!(
        !lands_on_choice(&fed, "late-service").await?,
        "an unregistered service was served"
    );

    // A new service registered in the file is served after SIGHUP, without a restart.
    let original = std::fs::read_to_string(&clients)?;
    let late = format!(
        r#"
[[clients]]
client_id = "late-service"
client_name = "Late service"
redirect_uris = ["{TEST_REDIRECT}"]
scopes = ["openid", "email"]
levels = ["Cl.Cm"]
public_key = """
{}"""
"#,
        fed.client_key.public_pem()?
    );
    std::fs::write(&clients, format!("{original}{late}"))?;
    fed.signal_hub("HUP")?;
    eventually("late-service is served after SIGHUP", || {
        lands_on_choice(&fed, "late-service")
    })
    .await?;
    assert_eq!(reloads(&fed, "applied").await?, 1);

    // A broken file (a duplicate client_id) is refused: both services are still served as before.
    std::fs::write(&clients, format!("{original}{late}{late}"))?;
    fed.signal_hub("HUP")?;
    eventually("the broken file is refused", || async {
        Ok(reloads(&fed, "refused").await? == 1)
    })
    .await?;
    assert!(lands_on_choice(&fed, "late-service").await?);
    assert!(lands_on_choice(&fed, TEST_CLIENT).await?);
    assert_eq!(reloads(&fed, "applied").await?, 1);

    // Removing the service from the file and reloading stops serving it.
    std::fs::write(&clients, &original)?;
    fed.signal_hub("HUP")?;
    eventually("late-service is no longer served", || async {
        Ok(!lands_on_choice(&fed, "late-service").await?)
    })
    .await?;
    assert!(lands_on_choice(&fed, TEST_CLIENT).await?);
    Ok(())
}
