//! The README's first command: the `federation` launcher, with the development registries of
//! `config/dev` rebased to free ports, serves a federation a person signs in and out of (issue 3, "Done
//! when"), at `Cl.Cm` and at `Cl.Cm.P2` with a proven identity; what it prints for auditors (the view's
//! address and credentials, the log's directory and verifier key) is true.

use crate::harness::{binary, free_port, wait_healthy, Agent};
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

#[tokio::test]
async fn the_federation_command_serves_a_federation_a_person_signs_in_and_out_of() -> Result<()> {
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
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting federation")?,
    );
    // What it prints at start, up to the address to open.
    let mut printed = Vec::new();
    let stdout = launcher.0.stdout.take().context("federation's stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let last = line.starts_with("Open ");
        printed.push(line);
        if last {
            break;
        }
    }
    let said = |prefix: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(prefix).map(str::to_string))
            .with_context(|| format!("federation did not print {prefix:?}: {printed:#?}"))
    };
    let auditor = format!("http://127.0.0.1:{auditor_port}");
    let auditor_line = said("auditor   on ")?;
    anyhow::ensure!(auditor_line.starts_with(&auditor), "{auditor_line}");
    let password = auditor_line
        .split("with password \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no password printed")?
        .to_string();
    let log_dir = std::path::PathBuf::from(said("audit log in ")?);
    let vkey = said("audit log verifier key: ")?;
    let (rp, hub, stub) = (
        format!("http://127.0.0.1:{rp_port}"),
        format!("http://127.0.0.1:{hub_port}"),
        format!("http://127.0.0.1:{stub_port}"),
    );
    for base in [&rp, &hub, &stub] {
        wait_healthy(base).await?;
    }

    // Cl.Cm: the service shows the pairwise `sub` and the level; signing out ends its session.
    crate::flows::sign_in_and_out(&rp, &hub, &stub).await?;

    // Cl.Cm.P2: the person chooses a persona, consents, and the service shows the proven identity.
    let mut agent = Agent::new()?;
    let start = agent.visit(&format!("{rp}/"), None).await?;
    let choose = agent.submit(&start, "sign-in", &[("level", "Cl.Cm.P2")], None).await?;
    let provider = agent
        .submit(&choose, "continue", &[("provider", "stub-a")], None)
        .await?;
    let consent = agent
        .submit(
            &provider,
            "continue",
            &[("persona", "bethan-jones"), ("outcome", "success")],
            None,
        )
        .await?;
    assert!(consent.url.starts_with(&format!("{hub}/consent")), "at {}", consent.url);
    let account = agent
        .submit(&consent, "continue", &[("decision", "accept")], None)
        .await?;
    assert_eq!(account.url, format!("{rp}/account"), "{}", account.body);
    assert_eq!(account.text_of("#name").as_deref(), Some("Bethan Jones"));
    assert_eq!(account.text_of("#birth-date").as_deref(), Some("1990-11-03"));
    assert_eq!(account.text_of("#identity-level").as_deref(), Some("P2"));

    // The printed log directory holds a log that verifies with the printed key.
    let (mut verified, mut ok) = (String::new(), false);
    for _ in 0..100 {
        let out = Command::new(binary("hub")?)
            .args(["audit", "verify", "--log"])
            .arg(&log_dir)
            .args(["--vkey", &vkey])
            .output()?;
        verified = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        ok = out.status.success() && verified.starts_with("ok: ") && !verified.contains(" 0 entries");
        if ok {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::ensure!(ok, "the printed log does not verify with the printed key:\n{verified}");

    // The printed credentials sign in to the auditor view, which finds the P2 assertion.
    let mut auditor_agent = Agent::new()?;
    let sign_in = auditor_agent.visit(&format!("{auditor}/sign-in"), None).await?;
    let overview = auditor_agent
        .submit(
            &sign_in,
            "sign-in",
            &[("name", "auditor"), ("password", &password)],
            None,
        )
        .await?;
    assert_eq!(overview.url, format!("{auditor}/"), "{}", overview.body);
    let found = auditor_agent
        .visit(&format!("{auditor}/search?event=assertion_issued&level=P2"), None)
        .await?;
    assert!(found.body.contains("1 entry matches"), "{}", found.body);
    let wrong = Agent::new()?
        .submit(
            &sign_in,
            "sign-in",
            &[("name", "auditor"), ("password", "not-the-password")],
            None,
        )
        .await?;
    assert_ne!(wrong.url, format!("{auditor}/"), "a wrong password signed in");
    Ok(())
}
