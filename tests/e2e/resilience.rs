//! Losing Redis (DESIGN.md "Stores"): the hub answers services `temporarily_unavailable` and people a
//! "try again" page, `/readyz` fails, nothing half-done is asserted, and it recovers by itself when Redis
//! is back. These tests start and stop their own `redis-server` on a free port.

use crate::flows::{authorize_url, Pkce};
use crate::harness::{free_port, Agent, Federation, Options, StoreKind, TEST_REDIRECT};
use anyhow::{bail, Context, Result};
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A private redis-server; stopped on drop.
pub struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start(port: u16) -> Result<Self> {
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
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (apt-get install -y redis-server)")?;
        let mut redis = Self {
            port,
            child: Some(child),
        };
        redis.wait_up().await?;
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_up(&mut self) -> Result<()> {
        for _ in 0..100 {
            if let Ok(client) = redis::Client::open(self.url()) {
                if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                    if redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok() {
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("redis-server on port {} did not answer", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn readyz(fed: &Federation) -> Result<u16> {
    Ok(reqwest::get(format!("{}/readyz", fed.hub)).await?.status().as_u16())
}

#[tokio::test]
async fn losing_redis_gives_try_again_answers_and_the_hub_recovers_by_itself() -> Result<()> {
    let port = free_port()?;
    let mut redis = OwnRedis::start(port).await?;
    let fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        redis_url: Some(redis.url()),
        ..Options::default()
    })
    .await?;
    assert_eq!(readyz(&fed).await?, 200);

    // A journey under way when Redis goes.
    let mut agent = Agent::new()?;
    let choose = agent
        .visit(&authorize_url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    assert_eq!(choose.status, 200);
    redis.stop();

    assert_eq!(readyz(&fed).await?, 503);
    // The service is told to try later, in the spec's form, at its registered redirect URI.
    let seen = Agent::new()?.get(&authorize_url(&fed, &Pkce::new(), &[])).await?;
    assert_eq!(seen.status, 302, "{}", seen.body);
    let params = seen.location_params();
    assert!(seen.location.as_deref().unwrap_or_default().starts_with(TEST_REDIRECT));
    assert_eq!(params.get("error").map(String::as_str), Some("temporarily_unavailable"));
    assert_eq!(params.get("state").map(String::as_str), Some("state-123"));
    // The person mid-journey sees "try again", not a 500.
    let page = agent
        .submit(&choose, "continue", &[("provider", "stub-a")], Some(TEST_REDIRECT))
        .await?;
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.text_of("#error-code").as_deref(), Some("temporarily_unavailable"));
    // The token endpoint says so in JSON.
    let token = reqwest::Client::new()
        .post(format!("{}/token", fed.hub))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "test-client"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &fed.assertion(serde_json::json!({}))?),
        ])
        .send()
        .await?;
    assert_eq!(token.status().as_u16(), 503);

    // Redis returns on the same port: the hub recovers without a restart.
    let mut redis = OwnRedis::start(port).await?;
    let mut ready = false;
    for _ in 0..100 {
        if readyz(&fed).await? == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz did not recover");
    let again = Agent::new()?
        .visit(&authorize_url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    assert!(again.is_choice(&fed.hub), "at {} {}", again.url, again.status);
    redis.stop();
    Ok(())
}

#[tokio::test]
async fn a_hub_started_before_redis_serves_try_again_then_recovers() -> Result<()> {
    let port = free_port()?;
    let fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        redis_url: Some(format!("redis://127.0.0.1:{port}")),
        ..Options::default()
    })
    .await?;
    assert_eq!(readyz(&fed).await?, 503);
    let _redis = OwnRedis::start(port).await?;
    let mut ready = false;
    for _ in 0..100 {
        if readyz(&fed).await? == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz did not recover");
    Ok(())
}

/// DESIGN.md "Scale": instances are stateless and share Redis, so each step of one sign-in may land on a
/// different instance (no sticky sessions), and single-use rules hold across instances.
#[tokio::test]
async fn one_sign_in_across_two_hub_instances_sharing_redis() -> Result<()> {
    let mut fed = Federation::start(StoreKind::Redis).await?;
    let other = fed.start_another_hub().await?;
    let pkce = Pkce::new();
    let mut agent = Agent::new()?;

    // /authorize on instance A; the choice page and the provider hand-off on instance B.
    let first = agent.get(&authorize_url(&fed, &pkce, &[])).await?;
    let location = first.location.clone().unwrap_or_default();
    assert!(
        location.starts_with(&format!("{}/choose-provider?journey=", fed.hub)),
        "{location}"
    );
    let choose = agent.get(&location.replacen(&fed.hub, &other, 1)).await?;
    assert_eq!(choose.status, 200, "{}", choose.body);
    let stub_page = agent
        .submit(&choose, "continue", &[("provider", "stub-a")], Some(TEST_REDIRECT))
        .await?;
    assert!(
        stub_page.url.starts_with(&format!("{}/stub-a/authorize", fed.stub)),
        "at {}",
        stub_page.url
    );
    // The provider returns to the registered callback (instance A), which finds the journey B started.
    let done = crate::flows::finish(&mut agent, &stub_page, "success").await?;
    let code = crate::flows::code_of(&fed, &done)?;

    // The code is redeemed at instance B; replaying it at A fails; the assertion's jti is shared too.
    let assertion = fed.assertion(serde_json::json!({}))?;
    let form = |assertion: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("redirect_uri", TEST_REDIRECT.to_string()),
            ("code_verifier", pkce.verifier.clone()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", assertion.to_string()),
        ]
    };
    let http = reqwest::Client::new();
    let at_b = http
        .post(format!("{other}/token"))
        .form(&form(&assertion))
        .send()
        .await?;
    assert_eq!(at_b.status().as_u16(), 200);
    let replay_jti: serde_json::Value = http
        .post(format!("{}/token", fed.hub))
        .form(&form(&assertion))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        replay_jti["error"], "invalid_client",
        "the jti used at B was accepted at A"
    );
    let fresh = fed.assertion(serde_json::json!({}))?;
    let replay_code: serde_json::Value = http
        .post(format!("{}/token", fed.hub))
        .form(&form(&fresh))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        replay_code["error"], "invalid_grant",
        "the code redeemed at B was redeemed again at A"
    );
    Ok(())
}
