//! An independent, OpenID Certified client library that is not ours — panva's `openid-client` for
//! Node.js (`tests/independent-rp`) — discovers the hub, runs the authorization code flow with PKCE and
//! `private_key_jwt`, validates the ID token against the hub's JWKS and calls userinfo. It is registered
//! with the hub through configuration alone (one `[[clients]]` entry with its public key); the script
//! contains no protocol code of its own, only the person's part in the browser.
//!
//! Needs `node` (20 or later) and `npm`; the first run installs the pinned packages with `npm ci`.

use crate::harness::{Federation, Options, StoreKind};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::{path::PathBuf, process::Stdio, time::Duration};
use tokio::{process::Command, sync::OnceCell};

const CLIENT_ID: &str = "independent-rp";
const REDIRECT_URI: &str = "http://127.0.0.1:9/independent/callback";

/// `tests/independent-rp`.
fn rp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("independent-rp")
}

/// Installs the pinned packages once per test run (see [`crate::harness::ensure_node_project`]).
async fn ensure_installed() -> Result<()> {
    static INSTALLED: OnceCell<()> = OnceCell::const_new();
    INSTALLED
        .get_or_try_init(|| crate::harness::ensure_node_project(rp_dir(), "openid-client", (20, 0)))
        .await
        .map(|_| ())
}

/// What one run of the independent client printed, and whether it exited 0.
struct Outcome {
    success: bool,
    result: Value,
}

/// Starts a federation with the independent client registered (public key of `registered`) and runs
/// the client with `signing` as its private key.
async fn run_independent_client(registered: &keys::SigningKey, signing: &keys::SigningKey) -> Result<Outcome> {
    ensure_installed().await?;
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("independent-rp.pem");
    signing.write_pem(&key_file)?;
    let public_pem = registered.public_pem()?;
    // Configuration only: one registry entry with the client's public key.
    let fed = Federation::start_with(Options {
        store: StoreKind::Memory,
        extra_clients: format!(
            r#"
[[clients]]
client_id = "{CLIENT_ID}"
client_name = "Independent certified client"
redirect_uris = ["{REDIRECT_URI}"]
scopes = ["openid", "email"]
public_key = """
{public_pem}"""
"#
        ),
        ..Options::default()
    })
    .await?;

    let run = Command::new("node")
        .arg(rp_dir().join("run.mjs"))
        .current_dir(rp_dir())
        .env("HUB_ISSUER", &fed.hub)
        .env("CLIENT_ID", CLIENT_ID)
        .env("REDIRECT_URI", REDIRECT_URI)
        .env("PRIVATE_KEY_PEM_FILE", &key_file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .context("the independent client did not finish in 60 s")?
        .context("running node")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| {
            anyhow!(
                "no JSON line from the independent client ({}):\n{stdout}\n{stderr}",
                out.status
            )
        })?;
    let result: Value = serde_json::from_str(line).with_context(|| format!("parsing {line}"))?;
    eprintln!("independent client ({}): {result}", out.status);
    Ok(Outcome {
        success: out.status.success(),
        result,
    })
}

#[tokio::test]
async fn independent_certified_client_signs_in_with_pkce_and_private_key_jwt() -> Result<()> {
    let key = keys::SigningKey::generate()?;
    let Outcome { success, result } = run_independent_client(&key, &key).await?;
    if !success || result["ok"] != Value::Bool(true) {
        bail!("the independent client failed: {result}");
    }
    let sub = result["sub"].as_str().ok_or_else(|| anyhow!("no sub: {result}"))?;
    if !sub.starts_with("urn:fdc:gov.uk:2022:") {
        bail!("sub {sub:?} lacks One Login's prefix: {result}");
    }
    if result["vot"] != "Cl.Cm" {
        bail!("vot {} is not Cl.Cm: {result}", result["vot"]);
    }
    if result["userinfo"]["sub"] != sub {
        bail!("userinfo sub differs from the ID token's: {result}");
    }
    if result["userinfo"]["email"].as_str().is_none_or(str::is_empty) {
        bail!("userinfo has no email for scope email: {result}");
    }
    Ok(())
}

/// The control: the same client signing its assertion with a key the hub does not know is refused at
/// the token endpoint, and the script reports the library's error and exits 1 (so a pass above means
/// something).
#[tokio::test]
async fn independent_client_with_an_unregistered_key_is_refused() -> Result<()> {
    let registered = keys::SigningKey::generate()?;
    let other = keys::SigningKey::generate()?;
    let Outcome { success, result } = run_independent_client(&registered, &other).await?;
    if success || result["ok"] != Value::Bool(false) {
        bail!("an unregistered key was accepted: {result}");
    }
    if result["error"]["error"] != "invalid_client" {
        bail!("expected invalid_client from the token endpoint: {result}");
    }
    Ok(())
}
