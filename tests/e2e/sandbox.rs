//! The sandbox for service teams (issue "everything a relying service needs", point 6): `federation
//! --sandbox` forces what the hub answers rp-example, and rp-example refuses every broken answer (an
//! error page naming the failure, no session); a key rotation "now" and a back-channel logout "now"
//! are handled as a service must. The plain `hub` has no sandbox.

use crate::harness::{binary, free_port, wait_healthy, Agent, Seen};
use anyhow::{Context, Result};
use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

/// The launcher's process, stopped when dropped.
struct Launcher(Child);

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Sandboxed {
    _launcher: Launcher,
    _keys: tempfile::TempDir,
    rp: String,
    hub: String,
    http: reqwest::Client,
}

impl Sandboxed {
    async fn start() -> Result<Self> {
        let keys = tempfile::tempdir()?;
        let (rp_port, hub_port, stub_port, auditor_port) = (free_port()?, free_port()?, free_port()?, free_port()?);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("workspace root")?;
        let mut launcher = Launcher(
            Command::new(binary("federation")?)
                .current_dir(root)
                .args(["--rp-port", &rp_port.to_string()])
                .args(["--hub-port", &hub_port.to_string()])
                .args(["--stub-port", &stub_port.to_string()])
                .args(["--auditor-port", &auditor_port.to_string()])
                .arg("--keys-dir")
                .arg(keys.path())
                .arg("--sandbox")
                .env("RUST_LOG", "error")
                .stdout(Stdio::piped())
                .spawn()
                .context("starting federation --sandbox")?,
        );
        let stdout = launcher.0.stdout.take().context("federation's stdout")?;
        let mut printed = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            let last = line.starts_with("Open ");
            printed.push(line);
            if last {
                break;
            }
        }
        let hub = format!("http://127.0.0.1:{hub_port}");
        anyhow::ensure!(
            printed
                .iter()
                .any(|l| l.starts_with("sandbox   on ") && l.contains(&format!("{hub}/sandbox"))),
            "federation --sandbox did not print the sandbox's address: {printed:#?}"
        );
        let rp = format!("http://127.0.0.1:{rp_port}");
        for base in [&rp, &hub, &format!("http://127.0.0.1:{stub_port}")] {
            wait_healthy(base).await?;
        }
        Ok(Self {
            _launcher: launcher,
            _keys: keys,
            rp,
            hub,
            http: reqwest::Client::new(),
        })
    }

    /// `POST /sandbox/config` for rp-example.
    async fn set(&self, body: serde_json::Value) -> Result<reqwest::Response> {
        Ok(self
            .http
            .post(format!("{}/sandbox/config", self.hub))
            .json(&body)
            .send()
            .await?)
    }

    async fn force(&self, answer: Option<&str>) -> Result<()> {
        let r = self
            .set(serde_json::json!({"client_id": "rp-example", "force": answer}))
            .await?;
        anyhow::ensure!(r.status() == 200, "forcing {answer:?}: {}", r.text().await?);
        Ok(())
    }

    /// Signs in through rp-example at `level`, choosing stub-a and `persona` with outcome success, and
    /// consenting when asked; returns the last page and the agent.
    async fn sign_in(&self, level: &str, persona: &str) -> Result<(Seen, Agent)> {
        let mut agent = Agent::new()?;
        let start = agent.visit(&format!("{}/", self.rp), None).await?;
        let choose = agent.submit(&start, "sign-in", &[("level", level)], None).await?;
        if !choose.url.starts_with(&format!("{}/choose-provider", self.hub)) {
            return Ok((choose, agent));
        }
        let stub = agent
            .submit(&choose, "continue", &[("provider", "stub-a")], None)
            .await?;
        let mut page = agent
            .submit(&stub, "continue", &[("persona", persona), ("outcome", "success")], None)
            .await?;
        if page.url.starts_with(&format!("{}/consent", self.hub)) {
            page = agent.submit(&page, "continue", &[("decision", "accept")], None).await?;
        }
        Ok((page, agent))
    }
}

#[tokio::test]
async fn rp_example_refuses_every_broken_answer_the_sandbox_forces() -> Result<()> {
    let sb = Sandboxed::start().await?;
    let account = format!("{}/account", sb.rp);
    // Normal first: the service works and shows the person.
    let (page, _) = sb.sign_in("Cl.Cm", "alex-morgan").await?;
    assert_eq!(page.url, account, "{}", page.body);

    // Each forced answer, and the code rp-example's error page names.
    let cases: &[(&str, &str, &str)] = &[
        ("id-token-wrong-iss", "Cl.Cm", "invalid_id_token"),
        ("id-token-wrong-aud", "Cl.Cm", "invalid_id_token"),
        ("id-token-wrong-alg", "Cl.Cm", "invalid_id_token"),
        ("id-token-alg-none", "Cl.Cm", "invalid_id_token"),
        ("id-token-bad-signature", "Cl.Cm", "invalid_id_token"),
        ("id-token-expired", "Cl.Cm", "invalid_id_token"),
        ("id-token-not-yet-valid", "Cl.Cm", "invalid_id_token"),
        ("id-token-wrong-nonce", "Cl.Cm", "invalid_id_token"),
        ("id-token-wrong-vot", "Cl.Cm", "invalid_id_token"),
        ("credential-bad-signature", "Cl.Cm.P2", "invalid_core_identity"),
        ("credential-wrong-iss", "Cl.Cm.P2", "invalid_core_identity"),
        ("credential-wrong-aud", "Cl.Cm.P2", "invalid_core_identity"),
        ("credential-wrong-sub", "Cl.Cm.P2", "invalid_core_identity"),
        ("credential-expired", "Cl.Cm.P2", "invalid_core_identity"),
        ("access-denied", "Cl.Cm", "access_denied"),
        ("temporarily-unavailable", "Cl.Cm", "temporarily_unavailable"),
    ];
    for (answer, level, code) in cases {
        sb.force(Some(answer)).await?;
        let (page, mut agent) = sb.sign_in(level, "alex-morgan").await?;
        assert_ne!(page.url, account, "{answer}: rp-example took it");
        assert!(page.status >= 400, "{answer}: status {}", page.status);
        assert_eq!(
            page.text_of("#error-code").as_deref(),
            Some(*code),
            "{answer}: {}",
            page.body
        );
        // No session: the account page sends the person to sign in.
        let after = agent.visit(&account, None).await?;
        assert_ne!(after.url, account, "{answer}: a session was made");
    }

    // A chosen returnCode instead of the credential: the service is told, and routes the person on.
    sb.force(Some("return-code:X")).await?;
    let (page, _) = sb.sign_in("Cl.Cm.P2", "alex-morgan").await?;
    assert_eq!(page.url, account, "{}", page.body);
    assert!(page.body.contains("X"), "the return code is shown: {}", page.body);

    // Cleared: normal again. Unknown names and clients are refused in the spec's form.
    sb.force(None).await?;
    let (page, _) = sb.sign_in("Cl.Cm", "alex-morgan").await?;
    assert_eq!(page.url, account, "{}", page.body);
    for bad in [
        serde_json::json!({"client_id": "rp-example", "force": "nonsense"}),
        serde_json::json!({"client_id": "nobody", "force": "id-token-expired"}),
        serde_json::json!({"client_id": "rp-example", "action": "nonsense"}),
    ] {
        let r = sb.set(bad.clone()).await?;
        assert_eq!(r.status(), 400, "{bad}");
        let body: serde_json::Value = r.json().await?;
        assert_eq!(body["error"], "invalid_request", "{bad}");
    }
    // The page sets answers too, with its form's token only.
    let mut agent = Agent::new()?;
    let page = agent.visit(&format!("{}/sandbox", sb.hub), None).await?;
    assert_eq!(page.status, 200);
    let done = agent
        .submit(
            &page,
            "sandbox-force",
            &[("client_id", "rp-example"), ("force", "id-token-expired")],
            None,
        )
        .await?;
    assert!(
        done.body.contains("rp-example now gets id-token-expired"),
        "{}",
        done.body
    );
    let forged = Agent::new()?
        .post(
            &format!("{}/sandbox", sb.hub),
            &[
                ("csrf".into(), "guess".into()),
                ("client_id".into(), "rp-example".into()),
                ("force".into(), "".into()),
            ],
        )
        .await?;
    assert_eq!(forged.status, 403);
    sb.force(None).await?;
    Ok(())
}

#[tokio::test]
async fn a_key_rotation_now_and_a_back_channel_logout_now_are_handled_as_a_service_must() -> Result<()> {
    let sb = Sandboxed::start().await?;
    let account = format!("{}/account", sb.rp);
    let (page, _) = sb.sign_in("Cl.Cm.P2", "alex-morgan").await?;
    assert_eq!(page.url, account, "{}", page.body);
    let jwks = |hub: String, http: reqwest::Client| async move {
        let doc: serde_json::Value = http
            .get(format!("{hub}/.well-known/jwks.json"))
            .send()
            .await?
            .json()
            .await?;
        anyhow::Ok(doc["keys"].as_array().map(|k| k.len()).unwrap_or_default())
    };
    let before = jwks(sb.hub.clone(), sb.http.clone()).await?;

    // Rotation now: tokens are signed by keys rp-example has not fetched; it fetches them and goes on.
    // (It fetches a DID document again at most every 10 s, against a flood of made-up kids: the wait
    // stands for that, not for the hub.)
    let r = sb
        .set(serde_json::json!({"client_id": "rp-example", "action": "rotate-keys"}))
        .await?;
    assert_eq!(r.status(), 200, "{}", r.text().await?);
    assert!(jwks(sb.hub.clone(), sb.http.clone()).await? > before);
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let (page, _) = sb.sign_in("Cl.Cm.P2", "alex-morgan").await?;
    assert_eq!(page.url, account, "after a rotation: {}", page.body);
    assert_eq!(page.text_of("#identity-level").as_deref(), Some("P2"));

    // Back-channel logout now: the person's session at rp-example ends.
    let (page, mut agent) = sb.sign_in("Cl.Cm", "alex-morgan").await?;
    assert_eq!(page.url, account);
    let r = sb
        .set(serde_json::json!({"client_id": "rp-example", "action": "backchannel-logout"}))
        .await?;
    assert_eq!(r.status(), 200, "{}", r.text().await?);
    let mut ended = false;
    for _ in 0..100 {
        let now = agent.visit(&account, None).await?;
        if now.url != account {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ended, "the back-channel logout did not end rp-example's session");
    Ok(())
}

#[tokio::test]
async fn the_plain_hub_has_no_sandbox() -> Result<()> {
    let fed = crate::harness::Federation::start(crate::harness::StoreKind::Memory).await?;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/sandbox", fed.hub)).send().await?;
    assert_eq!(page.status(), 404);
    let config = http
        .post(format!("{}/sandbox/config", fed.hub))
        .json(&serde_json::json!({"client_id": "rp-example", "force": "id-token-expired"}))
        .send()
        .await?;
    assert_eq!(config.status(), 404);
    // Nor can its configuration file or environment turn it on: `sandbox` is not a setting.
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hub.toml");
    std::fs::write(&file, "sandbox = true\n")?;
    for (args, env) in [
        (vec!["--config".to_string(), file.display().to_string()], None),
        (Vec::new(), Some(("HUB_SANDBOX", "true"))),
    ] {
        let mut cmd = Command::new(binary("hub")?);
        cmd.args(&args).args(["--listen", "127.0.0.1:0"]);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output()?;
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "the hub started with {args:?} {env:?}");
        assert!(said.contains("sandbox"), "{said}");
    }
    Ok(())
}
