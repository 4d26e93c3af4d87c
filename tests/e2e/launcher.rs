//! The README's first command: the `federation` launcher, with the development registries of
//! `config/dev` rebased to free ports, serves a federation a person signs in and out of (issue 3, "Done
//! when"), at `Cl.Cm` and at `Cl.Cm.P2` with a proven identity.

use crate::harness::{binary, free_port, wait_healthy, Agent};
use anyhow::{Context, Result};
use std::{
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
    let (rp_port, hub_port, stub_port) = (free_port()?, free_port()?, free_port()?);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?;
    let _launcher = Launcher(
        Command::new(binary("federation")?)
            .current_dir(root)
            .args(["--rp-port", &rp_port.to_string()])
            .args(["--hub-port", &hub_port.to_string()])
            .args(["--stub-port", &stub_port.to_string()])
            .arg("--keys-dir")
            .arg(keys.path())
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .context("starting federation")?,
    );
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
    Ok(())
}
