//! An independent, OpenID Certified client library that is not ours — panva's `openid-client` for
//! Node.js (`tests/independent-rp`) — discovers the hub, runs the authorization code flow with PKCE and
//! `private_key_jwt`, validates the ID token against the hub's JWKS and calls userinfo. It is registered
//! with the hub through configuration alone (one `[[clients]]` entry with its public key); the script
//! contains no protocol code of its own, only the person's part in the browser.
//!
//! The same library, by configuration alone, also as a FAPI 2.0 client (PAR, `private_key_jwt`, DPoP, a
//! signed request object pushed) and as a generic `oidc-basic` client (`client_secret_basic`,
//! `response_mode=form_post` received at its own endpoint), and receiving and validating (with `jose`)
//! the back-channel logout token at its own endpoint (`tests/independent-rp/capabilities.mjs`).
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

/// Runs `tests/independent-rp/capabilities.mjs` for one capability against a federation where the client
/// is registered by `registry` (placeholders `$CB`: the script's own base URL; `$PUBLIC_KEY`: its public
/// key as PEM; `$SECRET_HASH`: the Argon2id hash of its secret).
async fn run_capability(capability: &str, registry: &str) -> Result<Value> {
    ensure_installed().await?;
    let key = keys::SigningKey::generate()?;
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("capabilities.pem");
    key.write_pem(&key_file)?;
    let secret = "the-independent-clients-secret-0123456789";
    let port = crate::harness::free_port()?;
    let cb = format!("http://127.0.0.1:{port}");
    let registry = registry
        .replace("$CB", &cb)
        .replace("$PUBLIC_KEY", &key.public_pem()?)
        .replace("$SECRET_HASH", &keys::hash_secret(secret)?);
    // Configuration only: one registry entry.
    let fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        extra_clients: registry,
        ..Options::default()
    })
    .await?;
    let run = Command::new("node")
        .arg(rp_dir().join("capabilities.mjs"))
        .current_dir(rp_dir())
        .env("HUB_ISSUER", &fed.hub)
        .env("CLIENT_ID", CAPABLE_CLIENT)
        .env("CAPABILITY", capability)
        .env("LISTEN_PORT", port.to_string())
        .env("PRIVATE_KEY_PEM_FILE", &key_file)
        .env("CLIENT_SECRET", secret)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .context("the independent client did not finish in 60 s")?
        .context("running node")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| {
            anyhow!(
                "no JSON line ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let result: Value = serde_json::from_str(line)?;
    eprintln!("independent client, {capability} ({}): {result}", out.status);
    if !out.status.success() || result["ok"] != Value::Bool(true) {
        bail!("the independent client failed at {capability}: {result}");
    }
    Ok(result)
}

const CAPABLE_CLIENT: &str = "independent-capable";

/// A `fapi2` client's registry entry (with `extra` lines).
fn fapi2_client(extra: &str) -> String {
    format!(
        r#"
[[clients]]
client_id = "{CAPABLE_CLIENT}"
client_name = "Independent FAPI 2.0 client"
redirect_uris = ["$CB/callback"]
scopes = ["openid", "email"]
profile = "fapi2"
{extra}
public_key = """
$PUBLIC_KEY"""
"#
    )
}

/// What a FAPI 2.0 run must show: a pushed request (`/authorize` saw only `client_id` and `request_uri`),
/// a DPoP-bound token that userinfo serves with its proof and refuses without.
fn check_fapi2(result: &Value) -> Result<()> {
    let mut parameters: Vec<&str> = result["authorization_url_parameters"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    parameters.sort_unstable();
    if parameters != ["client_id", "request_uri"] {
        bail!("the authorization URL was not a pushed request's: {result}");
    }
    if !result["token_type"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop"))
    {
        bail!("token_type is not DPoP: {result}");
    }
    if result["userinfo"]["sub"] != result["sub"] || result["userinfo"]["email"].as_str().is_none() {
        bail!("userinfo: {result}");
    }
    if result["without_proof"] != 401 {
        bail!("the DPoP-bound token was not refused without its proof: {result}");
    }
    Ok(())
}

#[tokio::test]
async fn independent_client_pushes_with_private_key_jwt_and_binds_its_tokens_with_dpop_as_a_fapi2_client() -> Result<()>
{
    let result = run_capability("fapi2-par-dpop", &fapi2_client("")).await?;
    check_fapi2(&result)
}

#[tokio::test]
async fn independent_client_pushes_a_signed_request_object_when_registered_for_signed_requests_only() -> Result<()> {
    let result = run_capability("fapi2-jar-par", &fapi2_client("jar_required = true")).await?;
    if result["request_object_pushed"] != true {
        bail!("no request object: {result}");
    }
    check_fapi2(&result)
}

#[tokio::test]
async fn independent_client_receives_its_response_by_form_post_as_an_oidc_basic_client() -> Result<()> {
    let registry = format!(
        r#"
[[clients]]
client_id = "{CAPABLE_CLIENT}"
client_name = "Independent generic client"
redirect_uris = ["$CB/callback"]
scopes = ["openid", "email"]
profile = "oidc-basic"
token_endpoint_auth_method = "client_secret_basic"
client_secret_hash = "$SECRET_HASH"
"#
    );
    let result = run_capability("form-post", &registry).await?;
    if result["received_method"] != "POST" || result["received_content_type"] != "application/x-www-form-urlencoded" {
        bail!("the client's endpoint did not receive a urlencoded POST: {result}");
    }
    if result["userinfo"]["sub"] != result["sub"] || result["userinfo"]["email"].as_str().is_none() {
        bail!("userinfo: {result}");
    }
    Ok(())
}

#[tokio::test]
async fn independent_client_receives_and_validates_the_back_channel_logout_token() -> Result<()> {
    let registry = format!(
        r#"
[[clients]]
client_id = "{CAPABLE_CLIENT}"
client_name = "Independent client with back-channel logout"
redirect_uris = ["$CB/callback"]
post_logout_redirect_uris = ["$CB/signed-out"]
backchannel_logout_uri = "$CB/backchannel"
public_key = """
$PUBLIC_KEY"""
"#
    );
    let result = run_capability("backchannel-logout", &registry).await?;
    let front = result["front_channel"].as_str().unwrap_or_default();
    if !front.ends_with("/signed-out?state=bye") {
        bail!("the person was not sent to the post-logout redirect URI with the state: {result}");
    }
    let token = &result["logout_token"];
    if token["sid"] != result["id_token_sid"] || token["sub"] != result["id_token_sub"] || token["sid"].is_null() {
        bail!("the logout token's sid and sub are not the ID token's: {result}");
    }
    if result["logout_typ"] != "logout+jwt" {
        bail!("typ {}: {result}", result["logout_typ"]);
    }
    Ok(())
}

/// `tests/independent-py`.
fn py_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("independent-py")
}

/// Makes `tests/independent-py/.venv` with the pinned packages of `requirements.txt` once per run, when
/// it is missing (`scripts/test` does the same first).
async fn ensure_python() -> Result<PathBuf> {
    static INSTALLED: OnceCell<PathBuf> = OnceCell::const_new();
    INSTALLED
        .get_or_try_init(|| async {
            let venv = py_dir().join(".venv");
            let python = venv.join("bin").join("python");
            if !python.exists() {
                let made = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .await
                    .context("python3 -m venv: tests/independent-py needs Python 3 with venv and pip")?;
                if !made.success() {
                    bail!("python3 -m venv {} failed", venv.display());
                }
                let installed = Command::new(venv.join("bin").join("pip"))
                    .args(["install", "-q", "--disable-pip-version-check", "-r"])
                    .arg(py_dir().join("requirements.txt"))
                    .status()
                    .await
                    .context("pip install")?;
                if !installed.success() {
                    bail!("pip install -r tests/independent-py/requirements.txt failed");
                }
            }
            Ok(python)
        })
        .await
        .cloned()
}

/// Runs the Authlib client registered with `registered`'s public key, signing with `signing`.
async fn run_python_client(registered: &keys::SigningKey, signing: &keys::SigningKey) -> Result<Outcome> {
    let python = ensure_python().await?;
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("independent-py.pem");
    signing.write_pem(&key_file)?;
    let public_pem = registered.public_pem()?;
    let fed = Federation::start_with(Options {
        store: StoreKind::Memory,
        extra_clients: format!(
            r#"
[[clients]]
client_id = "independent-py"
client_name = "Independent Python client"
redirect_uris = ["{REDIRECT_URI}"]
scopes = ["openid", "email"]
public_key = """
{public_pem}"""
"#
        ),
        ..Options::default()
    })
    .await?;
    let run = Command::new(python)
        .arg(py_dir().join("run.py"))
        .env("HUB_ISSUER", &fed.hub)
        .env("CLIENT_ID", "independent-py")
        .env("REDIRECT_URI", REDIRECT_URI)
        .env("PRIVATE_KEY_PEM_FILE", &key_file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .context("the Python client did not finish in 60 s")?
        .context("running python")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| {
            anyhow!(
                "no JSON line ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let result: Value = serde_json::from_str(line)?;
    eprintln!("independent Python client ({}): {result}", out.status);
    Ok(Outcome {
        success: out.status.success(),
        result,
    })
}

/// A second library in a second language: Authlib (Python) with `private_key_jwt`, PKCE and the ID token
/// verified against the JWKS, as a One Login service would configure it.
#[tokio::test]
async fn independent_python_client_authlib_signs_in_with_pkce_and_private_key_jwt() -> Result<()> {
    let key = keys::SigningKey::generate()?;
    let Outcome { success, result } = run_python_client(&key, &key).await?;
    if !success || result["ok"] != Value::Bool(true) {
        bail!("the Python client failed: {result}");
    }
    let sub = result["sub"].as_str().ok_or_else(|| anyhow!("no sub: {result}"))?;
    if !sub.starts_with("urn:fdc:gov.uk:2022:") || result["vot"] != "Cl.Cm" || result["id_token_alg"] != "ES256" {
        bail!("unexpected ID token: {result}");
    }
    if result["userinfo"]["sub"] != sub || result["userinfo"]["email"].as_str().is_none() {
        bail!("userinfo: {result}");
    }
    Ok(())
}

/// Its control: signing with a key the hub does not know fails at the token endpoint.
#[tokio::test]
async fn independent_python_client_with_an_unregistered_key_is_refused() -> Result<()> {
    let Outcome { success, result } =
        run_python_client(&keys::SigningKey::generate()?, &keys::SigningKey::generate()?).await?;
    if success || !result["error"].as_str().is_some_and(|e| e.contains("invalid_client")) {
        bail!("an unregistered key was accepted, or failed otherwise: {result}");
    }
    Ok(())
}
