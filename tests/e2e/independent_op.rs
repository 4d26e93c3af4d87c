//! An independent, OpenID Certified provider that is not ours — panva's `oidc-provider` for Node.js
//! (`tests/independent-op`) — works as an upstream identity provider. It is registered with the hub through
//! the provider registry alone (one `[[providers]]` entry: issuer, client_id, levels, claims); the hub
//! discovers it, sends the person there with `acr_values`, PKCE and a nonce, authenticates at its token
//! endpoint with `private_key_jwt`, and reads the level from `acr` and the identity from the standard
//! claims (`given_name`, `family_name`, `birthdate`, `email`) of its ID token and userinfo.
//!
//! The provider's configuration (`server.mjs`) is the provider operator's: the hub is its ordinary
//! `private_key_jwt` client whose keys come from the hub's `/upstream/jwks.json`.
//!
//! Needs `node` (20.19 or later) and `npm`; the first run installs the pinned packages with `npm ci`.

use crate::{
    flows::{authorize_url, code_of, exchange, Pkce},
    harness::{assertion_with, free_port, Agent, Federation, Options, Seen, StoreKind, TEST_REDIRECT},
};
use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
    sync::OnceCell,
};

const PROVIDER_ID: &str = "independent-op";
const PROVIDER_NAME: &str = "Independent Provider";
/// The relying service of these journeys, allowed `Cl.Cm.P2` and the coreIdentityJWT claim.
const CLIENT_ID: &str = "op-test-client";
const CORE_IDENTITY: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";

/// The fictional person with an account at the independent provider (see `server.mjs`).
const GIVEN_NAMES: [&str; 2] = ["Ada", "Mary"];
const FAMILY_NAME: &str = "Lovelace";
const BIRTHDATE: &str = "1985-12-10";
const EMAIL: &str = "ada.lovelace@example.org";

/// `tests/independent-op`.
fn op_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("independent-op")
}

/// Installs the pinned packages once per test run (see [`crate::harness::ensure_node_project`]).
async fn ensure_installed() -> Result<()> {
    static INSTALLED: OnceCell<()> = OnceCell::const_new();
    INSTALLED
        .get_or_try_init(|| crate::harness::ensure_node_project(op_dir(), "oidc-provider", (20, 19)))
        .await
        .map(|_| ())
}

/// The running provider; dropping it kills the node process (`kill_on_drop`).
struct IndependentOp {
    issuer: String,
    stderr: Arc<Mutex<String>>,
    _child: Child,
}

impl IndependentOp {
    /// Starts `server.mjs` on `port` as a provider the hub at `hub` is a client of, and waits for `listening`.
    async fn start(port: u16, hub: &str) -> Result<Self> {
        ensure_installed().await?;
        let issuer = format!("http://127.0.0.1:{port}");
        let mut child = Command::new("node")
            .arg(op_dir().join("server.mjs"))
            .current_dir(op_dir())
            .env("PORT", port.to_string())
            .env("ISSUER", &issuer)
            .env("HUB_JWKS_URI", format!("{hub}/upstream/jwks.json"))
            .env("HUB_REDIRECT_URI", format!("{hub}/upstream/callback"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting node server.mjs")?;
        // Keep the provider's stderr for failure messages (and so it never blocks on a full pipe).
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if line.trim() == "listening" {
                    return Ok(true);
                }
            }
            Ok::<_, std::io::Error>(false)
        })
        .await;
        let op = Self {
            issuer,
            stderr,
            _child: child,
        };
        match ready {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => bail!("server.mjs exited before listening:\n{}", op.log()),
            Ok(Err(e)) => bail!("reading server.mjs output: {e}\n{}", op.log()),
            Err(_) => bail!("server.mjs did not listen within 30 s:\n{}", op.log()),
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(op)
    }

    /// What the provider wrote to stderr so far.
    fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// The provider registry entry: configuration only, no hub code.
fn provider_entry(issuer: &str) -> String {
    format!(
        r#"
[[providers]]
id = "{PROVIDER_ID}"
name = "{PROVIDER_NAME}"
name_cy = "Darparwr Annibynnol"
issuer = "{issuer}"
client_id = "federation-hub"
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = ["{CORE_IDENTITY}"]
"#
    )
}

/// The relying service's registry entry.
fn client_entry(public_pem: &str) -> String {
    format!(
        r#"
[[clients]]
client_id = "{CLIENT_ID}"
client_name = "Identity test service"
redirect_uris = ["{TEST_REDIRECT}"]
scopes = ["openid", "email"]
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = ["{CORE_IDENTITY}"]
public_key = """
{public_pem}"""
"#
    )
}

/// What one journey through the independent provider showed.
struct Journey {
    /// The `acr` the provider's login page said it would assert.
    acr_shown: String,
    /// The provider's pages the person went through (sign-in, then consent to share with the hub).
    provider_pages: Vec<String>,
    /// Whether the hub asked the person before sharing identity claims.
    hub_consent: bool,
    /// The final response: a redirect to the service with a code.
    end: Seen,
}

/// From the service's authorization request, through the hub's choice page, the independent provider's
/// sign-in and consent pages and (for identity) the hub's consent page, to the redirect to the service.
async fn journey(fed: &Federation, op: &IndependentOp, url: &str) -> Result<Journey> {
    let mut agent = Agent::new()?;
    let choose = agent.visit(url, Some(TEST_REDIRECT)).await?;
    ensure!(
        choose.is_choice(&fed.hub),
        "expected the choice page, got {} {}\n{}",
        choose.status,
        choose.url,
        choose.body
    );
    ensure!(
        choose.body.contains(PROVIDER_NAME),
        "the choice page does not offer {PROVIDER_NAME}:\n{}",
        choose.body
    );
    let mut page = agent
        .submit(&choose, "continue", &[("provider", PROVIDER_ID)], Some(TEST_REDIRECT))
        .await?;
    let interaction = format!("{}/interaction/", op.issuer);
    ensure!(
        page.status == 200 && page.url.starts_with(&interaction),
        "expected the provider's sign-in page, got {} {}\n{}\n{}",
        page.status,
        page.url,
        page.body,
        op.log()
    );
    let acr_shown = page.text_of("#acr").unwrap_or_default();
    // The person signs in, then allows the hub what it asked for (scopes and claims).
    let mut provider_pages = Vec::new();
    for _ in 0..3 {
        if !(page.status == 200 && page.url.starts_with(&interaction)) {
            break;
        }
        provider_pages.push(page.text_of("h1").unwrap_or_default());
        page = agent.submit(&page, "continue", &[], Some(TEST_REDIRECT)).await?;
    }
    ensure!(
        !page.url.starts_with(&op.issuer),
        "stuck at the provider: {} {}\n{}\n{}",
        page.status,
        page.url,
        page.body,
        op.log()
    );
    // Identity claims: the hub asks the person before sharing them.
    let hub_consent = page.status == 200 && page.url.starts_with(&format!("{}/consent", fed.hub));
    if hub_consent {
        page = agent
            .submit(&page, "continue", &[("decision", "accept")], Some(TEST_REDIRECT))
            .await?;
    }
    ensure!(
        page.location.as_deref().is_some_and(|l| l.starts_with(TEST_REDIRECT)),
        "expected a redirect to the service, got {} {} {:?}\n{}\nprovider log:\n{}",
        page.status,
        page.url,
        page.location,
        page.body,
        op.log()
    );
    Ok(Journey {
        acr_shown,
        provider_pages,
        hub_consent,
        end: page,
    })
}

/// Exchanges a code for the service, returning the token response.
async fn tokens(fed: &Federation, key: &keys::SigningKey, code: &str, pkce: &Pkce) -> Result<Value> {
    let assertion = assertion_with(key, &fed.hub, json!({"iss": CLIENT_ID, "sub": CLIENT_ID}))?;
    let (status, body) = exchange(fed, code, &pkce.verifier, &assertion).await?;
    ensure!(status == 200, "token endpoint answered {status}: {body}");
    Ok(body)
}

/// The hub's ID token claims, verified with the hub's JWKS.
async fn id_token_claims(fed: &Federation, body: &Value) -> Result<serde_json::Map<String, Value>> {
    let id_token = body["id_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no id_token: {body}"))?;
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", fed.hub))
        .await?
        .json()
        .await?;
    let (_, claims) = keys::VerifyingKeys::from_jwks(&jwks)?.verify(id_token)?;
    ensure!(claims["iss"] == fed.hub.as_str(), "ID token iss: {claims:?}");
    ensure!(claims["aud"] == CLIENT_ID, "ID token aud: {claims:?}");
    Ok(claims)
}

/// The hub's userinfo for an access token.
async fn userinfo(fed: &Federation, body: &Value) -> Result<Value> {
    let access_token = body["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no access_token: {body}"))?;
    let response = reqwest::Client::new()
        .get(format!("{}/userinfo", fed.hub))
        .bearer_auth(access_token)
        .send()
        .await?;
    ensure!(response.status() == 200, "userinfo answered {}", response.status());
    Ok(response.json().await?)
}

/// Verifies a coreIdentityJWT with the first key of the hub's DID document. The JWT names its key
/// `did:web:…#<kid>` while the document's JWK carries the bare kid, so the JWK is given the full id.
async fn verify_core_identity(fed: &Federation, jwt: &str) -> Result<serde_json::Map<String, Value>> {
    let did: Value = reqwest::get(format!("{}/.well-known/did.json", fed.hub))
        .await?
        .json()
        .await?;
    let method = &did["assertionMethod"][0];
    let mut jwk = method["publicKeyJwk"].clone();
    let id = method["id"]
        .as_str()
        .ok_or_else(|| anyhow!("did.json assertionMethod has no id: {did}"))?;
    jwk["kid"] = Value::String(id.to_string());
    let key = keys::VerifyingKey::from_jwk(&jwk)?;
    let header = keys::decode_header(jwt)?;
    ensure!(
        header.kid.as_deref() == Some(id),
        "coreIdentityJWT kid {:?} is not the DID key {id}",
        header.kid
    );
    let (_, claims) = keys::VerifyingKeys::new(vec![key]).verify(jwt)?;
    ensure!(claims == keys::peek_claims(jwt)?, "verified and peeked claims differ");
    Ok(claims)
}

#[tokio::test]
async fn independent_certified_provider_works_upstream_for_cl_cm_and_p2() -> Result<()> {
    let port = free_port()?;
    let issuer = format!("http://127.0.0.1:{port}");
    let client_key = keys::SigningKey::generate()?;
    let fed = Federation::start_with(Options {
        store: StoreKind::Memory,
        extra_clients: client_entry(&client_key.public_pem()?),
        extra_providers: provider_entry(&issuer),
        ..Options::default()
    })
    .await?;
    let op = IndependentOp::start(port, &fed.hub).await?;
    ensure!(op.issuer == issuer);

    // Cl.Cm: the level comes from the provider's `acr`, the email from its userinfo.
    let pkce = Pkce::new();
    let url = authorize_url(&fed, &pkce, &[("client_id", Some(CLIENT_ID))]);
    let cl_cm = journey(&fed, &op, &url).await?;
    ensure!(
        cl_cm.acr_shown == "Cl.Cm",
        "provider asked for acr {:?}",
        cl_cm.acr_shown
    );
    let pages = ["Sign in to Independent Provider", "Share your details"].map(String::from);
    ensure!(
        cl_cm.provider_pages == pages,
        "provider pages {:?}",
        cl_cm.provider_pages
    );
    ensure!(!cl_cm.hub_consent, "the hub asked consent without identity claims");
    let code = code_of(&fed, &cl_cm.end)?;
    let body = tokens(&fed, &client_key, &code, &pkce).await?;
    let claims = id_token_claims(&fed, &body).await?;
    ensure!(claims["vot"] == "Cl.Cm", "ID token vot: {claims:?}");
    let sub = claims["sub"].as_str().unwrap_or_default().to_string();
    ensure!(sub.starts_with("urn:fdc:gov.uk:2022:"), "sub {sub:?}");
    let info = userinfo(&fed, &body).await?;
    ensure!(info["sub"] == sub.as_str(), "userinfo sub differs: {info}");
    ensure!(info["email"] == EMAIL, "email from the provider's userinfo: {info}");
    ensure!(info.get(CORE_IDENTITY).is_none(), "identity without asking: {info}");

    // Cl.Cm.P2 with the coreIdentityJWT: built from the provider's given_name, family_name, birthdate.
    let pkce = Pkce::new();
    let claims_param = json!({"userinfo": {CORE_IDENTITY: null}}).to_string();
    let url = authorize_url(
        &fed,
        &pkce,
        &[
            ("client_id", Some(CLIENT_ID)),
            ("vtr", Some(r#"["Cl.Cm.P2"]"#)),
            ("claims", Some(&claims_param)),
        ],
    );
    let p2 = journey(&fed, &op, &url).await?;
    ensure!(p2.acr_shown == "Cl.Cm.P2", "provider asked for acr {:?}", p2.acr_shown);
    ensure!(p2.provider_pages == pages, "provider pages {:?}", p2.provider_pages);
    ensure!(p2.hub_consent, "the hub shared identity claims without asking");
    let code = code_of(&fed, &p2.end)?;
    let body = tokens(&fed, &client_key, &code, &pkce).await?;
    let claims = id_token_claims(&fed, &body).await?;
    ensure!(claims["sub"] == sub.as_str(), "same person, same sub: {claims:?}");
    eprintln!("Cl.Cm.P2 journey: ID token vot {}", claims["vot"]);
    let info = userinfo(&fed, &body).await?;
    let jwt = info[CORE_IDENTITY]
        .as_str()
        .ok_or_else(|| anyhow!("no coreIdentityJWT in userinfo: {info}"))?;
    let identity = verify_core_identity(&fed, jwt).await?;
    ensure!(identity["vot"] == "P2", "coreIdentityJWT vot: {identity:?}");
    ensure!(identity["sub"] == sub.as_str(), "coreIdentityJWT sub: {identity:?}");
    ensure!(identity["aud"] == CLIENT_ID, "coreIdentityJWT aud: {identity:?}");
    let subject = &identity["vc"]["credentialSubject"];
    let parts: Vec<(String, String)> = subject["name"][0]["nameParts"]
        .as_array()
        .ok_or_else(|| anyhow!("no nameParts: {subject}"))?
        .iter()
        .map(|p| {
            (
                p["type"].as_str().unwrap_or_default().to_string(),
                p["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = GIVEN_NAMES
        .iter()
        .map(|g| ("GivenName".to_string(), g.to_string()))
        .chain([("FamilyName".to_string(), FAMILY_NAME.to_string())])
        .collect();
    ensure!(parts == want, "name parts {parts:?}, wanted {want:?}");
    ensure!(subject["birthDate"][0]["value"] == BIRTHDATE, "birth date: {subject}");
    drop(op);
    Ok(())
}
