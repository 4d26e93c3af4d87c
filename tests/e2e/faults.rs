//! Faults, each a test (issue "under faults"): Redis slow (latency injected by a proxy in the test), a
//! provider slow, hanging, answering garbage or down (a fake one in the test), and the hub killed with
//! SIGKILL under load. Redis stopped mid-journey and restarted is `resilience::losing_redis_…`.

use crate::{
    flows::{authorize_url, code_of, finish, to_provider_page, Pkce},
    harness::{free_port, Agent, Federation, Options, StoreKind, TEST_REDIRECT},
    resilience::{readyz, OwnRedis},
};
use anyhow::{anyhow, ensure, Result};
use std::{
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A TCP proxy that delays every chunk in both directions by `delay_ms` (changeable while it runs).
pub(crate) async fn latency_proxy(upstream: u16, delay_ms: Arc<AtomicU64>) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let delay = delay_ms.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let d1 = delay.clone();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(d1.load(Ordering::SeqCst))).await;
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(delay.load(Ordering::SeqCst))).await;
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    Ok(port)
}

#[tokio::test]
async fn redis_slow_by_injected_latency_gives_try_again_then_recovers() -> Result<()> {
    let redis = OwnRedis::start(free_port()?).await?;
    let delay = Arc::new(AtomicU64::new(0));
    let redis_port: u16 = redis.url().rsplit(':').next().unwrap_or_default().parse()?;
    let proxy = latency_proxy(redis_port, delay.clone()).await?;
    let fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        redis_url: Some(format!("redis://127.0.0.1:{proxy}")),
        ..Options::default()
    })
    .await?;
    ensure!(readyz(&fed).await? == 200);
    // Slower than the hub's command timeout: try again for the service, /readyz fails, no 500.
    delay.store(3000, Ordering::SeqCst);
    let seen = Agent::new()?.get(&authorize_url(&fed, &Pkce::new(), &[])).await?;
    ensure!(
        seen.location_params().get("error").map(String::as_str) == Some("temporarily_unavailable"),
        "{} {:?}",
        seen.status,
        seen.location
    );
    ensure!(readyz(&fed).await? == 503, "readyz while Redis is slow");
    // Latency gone: the hub recovers by itself.
    delay.store(0, Ordering::SeqCst);
    let mut back = false;
    for _ in 0..150 {
        if readyz(&fed).await? == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(back, "/readyz did not recover");
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
    Ok(())
}

/// How the fake provider answers.
const HEALTHY: u8 = 0;
const HANGING: u8 = 1;
const SLOW: u8 = 2;
const GARBAGE: u8 = 3;
const DOWN: u8 = 4;

/// A provider at `http://127.0.0.1:{port}` that answers discovery as `mode` says.
async fn fake_provider(mode: Arc<AtomicU8>) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mode = mode.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = stream.read(&mut buf).await;
                let issuer = format!("http://127.0.0.1:{port}");
                let body = match mode {
                    HANGING => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    DOWN => return,
                    GARBAGE => "{\"issuer\": ]]] not json".to_string(),
                    _ => serde_json::json!({
                        "issuer": issuer,
                        "authorization_endpoint": format!("{issuer}/authorize"),
                        "token_endpoint": format!("{issuer}/token"),
                        "jwks_uri": format!("{issuer}/jwks"),
                    })
                    .to_string(),
                };
                if mode == SLOW {
                    tokio::time::sleep(Duration::from_secs(4)).await;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(port)
}

/// Chooses the flaky provider on a fresh journey; returns the hub's answer to the choice.
async fn choose_flaky(fed: &Federation) -> Result<crate::harness::Seen> {
    let mut agent = Agent::new()?;
    let choose = agent
        .visit(&authorize_url(fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    ensure!(choose.is_choice(&fed.hub), "at {}", choose.url);
    let radio_disabled = choose.body.contains("value=\"flaky\" disabled");
    let seen = agent
        .submit(&choose, "continue", &[("provider", "flaky")], Some("http://127.0.0.1"))
        .await?;
    Ok(crate::harness::Seen {
        body: format!(
            "{}{}",
            if radio_disabled {
                "[flaky shown unavailable]"
            } else {
                ""
            },
            seen.body
        ),
        ..seen
    })
}

#[tokio::test]
async fn a_provider_slow_hanging_answering_garbage_or_down_is_refused_then_shown_unavailable_and_back_when_it_recovers(
) -> Result<()> {
    let mode = Arc::new(AtomicU8::new(HANGING));
    let port = fake_provider(mode.clone()).await?;
    let fed = Federation::start_with(Options {
        extra_providers: format!(
            r#"[[providers]]
id = "flaky"
name = "Flaky ID"
name_cy = "ID Anwadal"
issuer = "http://127.0.0.1:{port}"
client_id = "federation-hub"
levels = ["Cl.Cm"]
"#
        ),
        hub_config: "http_timeout_secs = 1\nprovider_breaker_failures = 4\nprovider_breaker_cooldown_secs = 2\nprovider_failure_memory_secs = 1".into(),
        ..Options::default()
    })
    .await?;
    // Hanging, slow, garbage, down: each times out or is refused, with a page and a way on.
    for m in [HANGING, SLOW, GARBAGE, DOWN] {
        mode.store(m, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1500)).await; // past the hub's memory of the last failure
        let seen = choose_flaky(&fed).await?;
        ensure!(seen.status == 502, "mode {m}: {} {}", seen.status, seen.url);
        ensure!(
            seen.text_of("#error-code").as_deref() == Some("provider_error"),
            "mode {m}"
        );
    }
    // After repeated failures the choice shows the provider as unavailable (circuit open).
    let seen = choose_flaky(&fed).await?;
    ensure!(
        seen.body.starts_with("[flaky shown unavailable]"),
        "the failing provider is still offered"
    );
    // It recovers: after the cooldown, one attempt goes through and the person is sent there.
    mode.store(HEALTHY, Ordering::SeqCst);
    let mut sent = None;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let seen = choose_flaky(&fed).await?;
        if seen
            .location
            .as_deref()
            .unwrap_or_default()
            .starts_with(&format!("http://127.0.0.1:{port}/authorize?"))
        {
            sent = Some(seen);
            break;
        }
    }
    ensure!(sent.is_some(), "the recovered provider was never offered again");
    let seen = choose_flaky(&fed).await?;
    ensure!(
        !seen.body.starts_with("[flaky shown unavailable]"),
        "still shown unavailable after recovery"
    );
    Ok(())
}

#[tokio::test]
async fn the_hub_killed_under_load_leaves_every_code_redeemable_once_or_refused() -> Result<()> {
    let mut fed = Federation::start(StoreKind::Redis).await?;
    let codes = Arc::new(tokio::sync::Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (codes, stop) = (codes.clone(), stop.clone());
        let journeys: Vec<(String, String)> = (0..200)
            .map(|_| {
                let pkce = Pkce::new();
                (authorize_url(&fed, &pkce, &[]), pkce.verifier)
            })
            .collect();
        workers.push(tokio::spawn(async move {
            for (url, verifier) in journeys {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut agent) = Agent::new() else { break };
                let Ok(page) = to_provider_page(&mut agent, &url, "stub-a").await else {
                    continue;
                };
                let Ok(done) = finish(&mut agent, &page, "success").await else {
                    continue;
                };
                let to_service = done.location.as_deref().unwrap_or_default().starts_with(TEST_REDIRECT);
                if let (true, Some(code)) = (to_service, done.location_params().get("code")) {
                    codes.lock().await.push((code.clone(), verifier));
                }
            }
        }));
    }
    // Let the load run, then kill the hub without warning.
    for _ in 0..100 {
        if codes.lock().await.len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fed.signal_hub("KILL")?;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = w.await;
    }
    let codes = codes.lock().await.clone();
    ensure!(!codes.is_empty(), "no code was issued before the kill");
    // A new instance on the same store and keys: every code the service got redeems once, or is
    // refused cleanly; none twice.
    let restarted = fed.start_another_hub().await?;
    let http = reqwest::Client::new();
    let mut redeemed = 0;
    for (code, verifier) in &codes {
        let mut answers = Vec::new();
        for _ in 0..2 {
            let response = http
                .post(format!("{restarted}/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", TEST_REDIRECT),
                    ("code_verifier", verifier.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &fed.assertion(serde_json::json!({}))?),
                ])
                .send()
                .await?;
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            answers.push((status, body));
        }
        ensure!(
            answers[1].0 == 400 && answers[1].1["error"] == "invalid_grant",
            "a code redeemed twice: {answers:?}"
        );
        match answers[0].0 {
            200 => redeemed += 1,
            400 => ensure!(answers[0].1["error"] == "invalid_grant", "{answers:?}"),
            other => return Err(anyhow!("status {other}: {answers:?}")),
        }
    }
    ensure!(
        redeemed == codes.len(),
        "{redeemed} of {} codes the service received redeemed",
        codes.len()
    );
    Ok(())
}
