//! TLS between the three binaries (issue "run it like a national service"): certificates from a local CA
//! made with `rcgen`, HTTP/2 and HTTP/1.1 by ALPN, HSTS, a whole sign-in over https, and certificates
//! reloaded (SIGHUP for the hub, a changed file for all three) while sign-ins run, dropping none.

use crate::flows::sign_in_and_out_with;
use crate::harness::{Federation, Options, TestCa};
use anyhow::{anyhow, bail, ensure, Result};
use std::{sync::Arc, time::Duration};

/// Connects to `base` (an https URL on loopback) offering `alpn`, checking the certificate against `ca`:
/// the protocol chosen and the leaf certificate served.
async fn handshake(ca: &TestCa, base: &str, alpn: &[&str]) -> Result<(Option<String>, Vec<u8>)> {
    let port: u16 = base
        .rsplit(':')
        .next()
        .ok_or_else(|| anyhow!("no port in {base}"))?
        .parse()?;
    let mut roots = rustls::RootCertStore::empty();
    let der =
        rustls_pki_types::pem::PemObject::from_pem_slice(ca.pem.as_bytes()).map_err(|e| anyhow!("CA PEM: {e:?}"))?;
    roots.add(der)?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1")?.to_owned();
    let tls = connector.connect(name, tcp).await?;
    let (_, session) = tls.get_ref();
    let protocol = session.alpn_protocol().map(|p| String::from_utf8_lossy(p).to_string());
    let leaf = session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .ok_or_else(|| anyhow!("no certificate served"))?;
    Ok((protocol, leaf))
}

/// A whole sign-in through rp-example (no sign-out: the sign-ins running at once are one person, and a
/// back-channel logout would end the others' sessions at the service).
async fn sign_in(mut agent: crate::harness::Agent, rp: String, hub: String) -> Result<()> {
    let start = agent.visit(&format!("{rp}/"), None).await?;
    let choose = agent.submit(&start, "sign-in", &[], None).await?;
    ensure!(
        choose.url.starts_with(&format!("{hub}/choose-provider")),
        "at {}",
        choose.url
    );
    let stub_page = agent
        .submit(&choose, "continue", &[("provider", "stub-a")], None)
        .await?;
    let account = agent
        .submit(&stub_page, "continue", &[("outcome", "success")], None)
        .await?;
    ensure!(
        account.url == format!("{rp}/account"),
        "at {}:\n{}",
        account.url,
        account.body
    );
    ensure!(account.text_of("#vot").as_deref() == Some("Cl.Cm"));
    Ok(())
}

/// The value of a counter line in `/metrics` (0 when absent).
async fn counter(http: &reqwest::Client, hub: &str, line: &str) -> Result<u64> {
    let text = http.get(format!("{hub}/metrics")).send().await?.text().await?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(line))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

#[tokio::test]
async fn a_whole_sign_in_over_tls_and_certificate_reloads_during_sign_ins_drop_none() -> Result<()> {
    let fed = Federation::start_with(Options {
        tls: true,
        ..Options::default()
    })
    .await?;
    let ca = fed.ca.as_ref().ok_or_else(|| anyhow!("no CA"))?;
    for base in [&fed.hub, &fed.stub, &fed.rp] {
        ensure!(base.starts_with("https://"), "{base}");
        let (h2, _) = handshake(ca, base, &["h2", "http/1.1"]).await?;
        ensure!(h2.as_deref() == Some("h2"), "{base} chose {h2:?} when offered h2");
        let (h1, _) = handshake(ca, base, &["http/1.1"]).await?;
        ensure!(h1.as_deref() == Some("http/1.1"), "{base} chose {h1:?}");
    }
    let http = reqwest::Client::builder().add_root_certificate(ca.root()?).build()?;
    let discovery = http
        .get(format!("{}/.well-known/openid-configuration", fed.hub))
        .send()
        .await?;
    ensure!(
        discovery.headers().get("strict-transport-security").is_some(),
        "no HSTS over TLS"
    );
    // The discovery modules' "https" checks (OIDC Discovery 1.0 §3): every URL it names is https.
    let doc: serde_json::Value = discovery.json().await?;
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "pushed_authorization_request_endpoint",
    ] {
        let url = doc[field].as_str().unwrap_or_default();
        ensure!(url.starts_with("https://"), "discovery's {field} is {url:?} over TLS");
    }
    // A plain-HTTP client is not served: the port speaks TLS only.
    let plain = fed.hub.replace("https://", "http://");
    ensure!(
        reqwest::get(format!("{plain}/healthz")).await.is_err(),
        "plain HTTP answered"
    );

    // One whole sign-in and sign-out over TLS, every hop verified against the local CA.
    sign_in_and_out_with(fed.agent()?, &fed.rp, &fed.hub, &fed.stub).await?;

    // Sign-ins run while every certificate is replaced (the hub's by SIGHUP, the others' when their files
    // change) and a broken one is refused: none fails.
    let (_, before) = handshake(ca, &fed.hub, &["h2"]).await?;
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..6 {
        runs.spawn(sign_in(fed.agent()?, fed.rp.clone(), fed.hub.clone()));
    }
    let mut fresh = Vec::new();
    for round in 0..3 {
        for name in ["hub", "stub", "rp"] {
            let der = ca.issue(
                &fed.file(&format!("{name}-cert.pem")),
                &fed.file(&format!("{name}-key.pem")),
            )?;
            if name == "hub" {
                fresh.push(der);
            }
        }
        fed.signal_hub("HUP")?;
        for _ in 0..2 {
            runs.spawn(sign_in(fed.agent()?, fed.rp.clone(), fed.hub.clone()));
        }
        tokio::time::sleep(Duration::from_millis(300 * (round + 1))).await;
    }
    let mut done = 0;
    while let Some(run) = runs.join_next().await {
        run??;
        done += 1;
    }
    ensure!(done == 12, "{done} sign-ins finished");

    // New handshakes get the last certificate; the reloads were counted.
    let last = fresh.last().cloned().unwrap_or_default();
    let mut served = Vec::new();
    for _ in 0..100 {
        served = handshake(ca, &fed.hub, &["h2"]).await?.1;
        if served == last {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(served != before, "the hub still serves its first certificate");
    ensure!(served == last, "the hub does not serve the last certificate written");
    for (name, base) in [("stub", &fed.stub), ("rp", &fed.rp)] {
        let (_, leaf) = handshake(ca, base, &["h2"]).await?;
        let file = std::fs::read_to_string(fed.file(&format!("{name}-cert.pem")))?;
        let der: rustls_pki_types::CertificateDer =
            rustls_pki_types::pem::PemObject::from_pem_slice(file.as_bytes()).map_err(|e| anyhow!("{e:?}"))?;
        let mut same = leaf == der.as_ref();
        for _ in 0..50 {
            if same {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            same = handshake(ca, base, &["h2"]).await?.1 == der.as_ref();
        }
        ensure!(same, "{name} does not serve its new certificate");
    }
    ensure!(counter(&http, &fed.hub, "hub_tls_reloads_total{outcome=\"applied\"} ").await? >= 3);

    // A broken certificate is refused and the one in use stays.
    std::fs::write(fed.file("hub-cert.pem"), "not a certificate")?;
    fed.signal_hub("HUP")?;
    let mut refused = 0;
    for _ in 0..100 {
        refused = counter(&http, &fed.hub, "hub_tls_reloads_total{outcome=\"refused\"} ").await?;
        if refused > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if refused == 0 {
        bail!("the broken certificate was not refused");
    }
    ensure!(
        handshake(ca, &fed.hub, &["h2"]).await?.1 == last,
        "the certificate in use changed"
    );
    sign_in_and_out_with(fed.agent()?, &fed.rp, &fed.hub, &fed.stub).await?;
    Ok(())
}
