//! Logout across services (OIDC Back-Channel Logout 1.0, INTERFACE.md §6): ending the hub session tells
//! every service that received an assertion in it, and the person is not signed in silently again.

use crate::harness::{Agent, Federation, StoreKind};
use anyhow::Result;
use std::time::Duration;

#[tokio::test]
async fn hub_logout_ends_the_services_session_by_back_channel() -> Result<()> {
    let fed = Federation::start(StoreKind::Redis).await?;
    let mut agent = Agent::new()?;
    let start = agent.visit(&format!("{}/", fed.rp), None).await?;
    let choose = agent.submit(&start, "sign-in", &[], None).await?;
    let stub_page = agent
        .submit(&choose, "continue", &[("provider", "stub-a")], None)
        .await?;
    let account = agent
        .submit(&stub_page, "continue", &[("outcome", "success")], None)
        .await?;
    assert_eq!(account.url, format!("{}/account", fed.rp));

    // The person logs out at the hub (as another service's logout would send them): the hub's page, and
    // a logout token to rp-example, which ends its own session for that sub.
    let confirm = agent.visit(&format!("{}/logout", fed.hub), None).await?;
    assert!(confirm.body.contains("Do you want to sign out?"), "{}", confirm.body);
    let signed_out = agent.submit(&confirm, "sign-out", &[], None).await?;
    assert_eq!(signed_out.status, 200);
    assert!(signed_out.body.contains("You have signed out"));
    let mut ended = false;
    for _ in 0..100 {
        let page = agent.get(&format!("{}/account", fed.rp)).await?;
        if page.status != 200 {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "rp-example still shows the account after back-channel logout");

    // And the hub session is gone: signing in again goes to the provider choice.
    let start = agent.visit(&format!("{}/", fed.rp), None).await?;
    let next = agent.submit(&start, "sign-in", &[], None).await?;
    assert!(
        next.url.starts_with(&format!("{}/choose-provider", fed.hub)),
        "at {}",
        next.url
    );
    Ok(())
}
