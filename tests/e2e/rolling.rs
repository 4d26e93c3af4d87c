//! Change without downtime (issue "run it like a national service"): three hub instances on one Redis
//! behind a load balancer, each restarted in turn with SIGTERM while loadgen signs people in, lose no
//! sign-in; and SIGTERM while a request of a sign-in is in flight lets it finish.

use crate::{
    faults::latency_proxy,
    flows::{authorize_url, to_provider_page, Pkce},
    harness::{
        free_port, loadgen_client, loadgen_report, redis_url, Agent, Federation, Options, StoreKind, TEST_REDIRECT,
    },
};
use anyhow::{anyhow, ensure, Context as _, Result};
use axum::{body::Body, extract::State, http::Request, response::Response};
use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

/// A load balancer as the test needs one: round robin over the instances, a fresh connection to an
/// instance per request, and an instance that refuses connections (it is stopping) taken out for a
/// moment and the request sent to the next one. A request an instance accepted is never sent twice.
struct Balancer {
    backends: Vec<String>,
    next: AtomicUsize,
    down: Mutex<Vec<Option<Instant>>>,
    http: reqwest::Client,
}

async fn forward(State(lb): State<Arc<Balancer>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return status(400);
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    for _ in 0..lb.backends.len() * 20 {
        let i = lb.next.fetch_add(1, Ordering::SeqCst) % lb.backends.len();
        let out = lb
            .down
            .lock()
            .ok()
            .and_then(|d| d[i])
            .is_some_and(|until| until > Instant::now());
        if out {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let mut sent = lb
            .http
            .request(parts.method.clone(), format!("{}{path}", lb.backends[i]))
            .body(body.clone());
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" && name != "connection" {
                sent = sent.header(name, value);
            }
        }
        match sent.send().await {
            Ok(answer) => {
                let mut response = Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name != "transfer-encoding" && name != "connection" && name != "content-length" {
                        response = response.header(name, value);
                    }
                }
                let bytes = answer.bytes().await.unwrap_or_default();
                return response.body(Body::from(bytes)).unwrap_or_else(|_| status(502));
            }
            Err(e) if e.is_connect() => {
                if let Ok(mut down) = lb.down.lock() {
                    down[i] = Some(Instant::now() + Duration::from_millis(500));
                }
            }
            Err(_) => return status(502),
        }
    }
    status(503)
}

fn status(code: u16) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
    response
}

/// Starts the balancer on `port` in front of `backends`.
async fn balancer(port: u16, backends: Vec<String>) -> Result<()> {
    let lb = Arc::new(Balancer {
        down: Mutex::new(vec![None; backends.len()]),
        backends,
        next: AtomicUsize::new(0),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()?,
    });
    let app = axum::Router::new().fallback(forward).with_state(lb);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
}

#[tokio::test]
async fn a_rolling_restart_of_three_hubs_under_load_loses_no_sign_in() -> Result<()> {
    let lb_port = free_port()?;
    let public = format!("http://127.0.0.1:{lb_port}");
    let mut fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        stub_non_interactive: Some("alex-morgan".into()),
        public_hub: Some(public.clone()),
        hub_config: "shutdown_grace_secs = 20\n".into(),
        extra_clients: loadgen_client(),
        ..Options::default()
    })
    .await?;
    let mut instances = vec![fed.hub_instance.clone()];
    instances.push(fed.start_another_hub().await?);
    instances.push(fed.start_another_hub().await?);
    balancer(lb_port, instances.clone()).await?;
    let dir = tempfile::tempdir()?;
    let mut load = fed.loadgen(std::slice::from_ref(&public), dir.path())?;
    load.args([
        "--level",
        "cl-cm",
        "--concurrency",
        "6",
        "--duration",
        "25",
        "--warmup",
        "0",
    ]);
    let load = load.output();
    let restarts = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut exits = Vec::new();
        for base in &instances {
            let port: u16 = base.rsplit(':').next().unwrap_or_default().parse()?;
            let pids = fed.pids("hub");
            let pid = *pids.first().ok_or_else(|| anyhow!("no hub"))?;
            exits.push(fed.terminate(pid).await?);
            fed.start_hub_on(port).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        Ok::<_, anyhow::Error>(exits)
    };
    let (out, exits) = tokio::join!(load, restarts);
    let exits = exits?;
    let out = out.context("running loadgen")?;
    ensure!(exits.len() == 3 && exits.iter().all(|e| e.success()), "exits {exits:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = loadgen_report(&out)?;
    ensure!(
        report["failed"] == 0 && report["errors"] == serde_json::json!({}),
        "sign-ins lost during the rolling restart: {} failed, {}\n{stderr}",
        report["failed"],
        report["errors"]
    );
    let completed = report["completed"].as_u64().unwrap_or(0);
    ensure!(completed >= 30, "only {completed} sign-ins completed");
    eprintln!("rolling restart: {completed} sign-ins, none lost");
    Ok(())
}

#[tokio::test]
async fn sigterm_while_a_sign_in_is_in_flight_lets_it_finish() -> Result<()> {
    // Redis behind a proxy that can slow it, so a request of the sign-in is still running at SIGTERM.
    let delay = Arc::new(AtomicU64::new(0));
    let redis_port: u16 = redis_url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .parse()?;
    let proxy = latency_proxy(redis_port, delay.clone()).await?;
    let mut fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        redis_url: Some(format!("redis://127.0.0.1:{proxy}")),
        ..Options::default()
    })
    .await?;
    let other = fed.start_another_hub().await?;
    let pkce = Pkce::new();
    let mut agent = Agent::new()?;
    let stub_page = to_provider_page(&mut agent, &authorize_url(&fed, &pkce, &[]), "stub-a").await?;

    // The provider's answer reaches the first instance slowly; SIGTERM arrives meanwhile.
    delay.store(300, Ordering::SeqCst);
    let answered = tokio::spawn(async move {
        let done = crate::flows::finish(&mut agent, &stub_page, "success").await;
        (agent, done)
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = *fed.pids("hub").first().ok_or_else(|| anyhow!("no hub"))?;
    let exit = fed.terminate(pid).await?;
    let (_, done) = answered.await?;
    let done = done?;
    delay.store(0, Ordering::SeqCst);
    ensure!(exit.success(), "the hub exited with {exit}");
    let code = crate::flows::code_of(&fed, &done)?;

    // The sign-in finishes at the other instance: the code it issued is redeemed there.
    let assertion = fed.assertion(serde_json::json!({}))?;
    let response = reqwest::Client::new()
        .post(format!("{other}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", TEST_REDIRECT),
            ("code_verifier", pkce.verifier.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await?;
    ensure!(response.status() == 200, "token: {}", response.text().await?);
    // The stopped instance's log ends with a checkpoint covering its assertion.
    let checkpoint = std::fs::read_to_string(fed.audit_log_dir().join("checkpoint"))?;
    let size: u64 = checkpoint.lines().nth(1).unwrap_or_default().parse().unwrap_or(0);
    ensure!(size >= 1, "no entry in the final checkpoint:\n{checkpoint}");
    Ok(())
}
