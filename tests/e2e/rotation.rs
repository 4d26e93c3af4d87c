//! Key rotation without downtime (INTERFACE.md §7; issue "everything a relying service needs", point 3):
//! `keys rotate` runs twice while people sign in through two hub instances on one Redis. The service
//! here caches the JWKS and the DID document exactly as their `Cache-Control` allows and never fetches
//! them out of turn (no refetch on an unknown `kid`), so every ID token and identity credential must
//! verify with the copy the service held when the token was issued: a key published late, or dropped
//! early, fails a sign-in. None fails.

use crate::{
    flows::Pkce,
    harness::{assertion_with, binary, Agent, Federation, Options, StoreKind, TEST_CLIENT_PUBLIC_KEY, TEST_REDIRECT},
};
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

const CLIENT: &str = "rotation-service";
const CORE: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";
/// The cache period the hubs announce for the JWKS and the DID document in this test.
const MAX_AGE: u64 = 3;
/// How long before it signs a rotated key is published: the cache period, the hubs' key reload interval
/// (1 s) and a margin.
const AFTER: u64 = MAX_AGE + 3;

/// A document cached for as long as its `Cache-Control: max-age` says.
#[derive(Default)]
struct Cached {
    doc: Option<(Instant, Duration, Value)>,
    fetches: usize,
}

impl Cached {
    async fn get(&mut self, http: &reqwest::Client, url: &str) -> Result<Value> {
        if let Some((at, age, doc)) = &self.doc {
            if at.elapsed() < *age {
                return Ok(doc.clone());
            }
        }
        let response = http.get(url).send().await?;
        let max_age = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("max-age=").nth(1))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .context("no max-age")?;
        let doc: Value = response.json().await?;
        self.doc = Some((Instant::now(), Duration::from_secs(max_age), doc.clone()));
        self.fetches += 1;
        Ok(doc)
    }
}

#[tokio::test]
async fn keys_rotate_during_sign_ins_and_every_token_verifies_with_the_copy_a_service_held() -> Result<()> {
    let mut fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        extra_clients: format!(
            r#"
[[clients]]
client_id = "{CLIENT}"
client_name = "Rotation service"
redirect_uris = ["{TEST_REDIRECT}"]
scopes = ["openid"]
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = ["{CORE}"]
public_key = """
{TEST_CLIENT_PUBLIC_KEY}"""
"#
        ),
        hub_config: format!("jwks_max_age_secs = {MAX_AGE}\ndid_max_age_secs = {MAX_AGE}\nkey_reload_secs = 1\n"),
        stub_non_interactive: Some("alex-morgan".into()),
        ..Options::default()
    })
    .await?;
    let second = fed.start_another_hub().await?;
    let hubs = [fed.hub.clone(), second];
    let keys_dir = fed.config_path("hub-keys");
    let http = reqwest::Client::new();
    let (mut jwks, mut did) = (Cached::default(), Cached::default());
    let (mut id_kids, mut credential_kids) = (BTreeSet::new(), BTreeSet::new());
    let started = Instant::now();
    let mut rotations = 0;
    let mut sign_ins = 0;
    while started.elapsed() < Duration::from_secs(3 * AFTER + 4) {
        // Rotate every ID token, identity credential and client-assertion key at 2 s and again later.
        if (rotations == 0 && started.elapsed() > Duration::from_secs(2))
            || (rotations == 1 && started.elapsed() > Duration::from_secs(AFTER + 4))
        {
            let out = std::process::Command::new(binary("keys")?)
                .args(["rotate", "--dir"])
                .arg(&keys_dir)
                .args(["--after", &AFTER.to_string(), "--force"])
                .args(["hub-signing", "hub-identity", "hub-upstream"])
                .output()?;
            anyhow::ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            rotations += 1;
        }
        // One P2 sign-in: started at one instance, its code redeemed at the other.
        let (start, redeem) = (&hubs[sign_ins % 2], &hubs[(sign_ins + 1) % 2]);
        sign_ins += 1;
        let pkce = Pkce::new();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", CLIENT),
                ("redirect_uri", TEST_REDIRECT),
                ("scope", "openid"),
                ("state", "state-123"),
                ("nonce", "nonce-456"),
                ("code_challenge", pkce.challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("vtr", r#"["Cl.Cm.P2"]"#),
                ("claims", &format!(r#"{{"userinfo":{{"{CORE}":null}}}}"#)),
            ])
            .finish();
        let mut agent = Agent::new()?;
        let choose = agent
            .visit(&format!("{start}/authorize?{query}"), Some(TEST_REDIRECT))
            .await?;
        let consent = agent
            .submit(&choose, "continue", &[("provider", "stub-a")], Some(TEST_REDIRECT))
            .await?;
        let done = agent
            .submit(&consent, "continue", &[("decision", "accept")], Some(TEST_REDIRECT))
            .await?;
        let code = done.location_params().get("code").cloned().ok_or_else(|| {
            anyhow!(
                "sign-in {sign_ins}: no code: {} {}\n{}",
                done.status,
                done.url,
                done.body
            )
        })?;
        let assertion = assertion_with(
            &fed.client_key,
            &fed.hub,
            serde_json::json!({"iss": CLIENT, "sub": CLIENT}),
        )?;
        let tokens: Value = http
            .post(format!("{redeem}/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", TEST_REDIRECT),
                ("code_verifier", pkce.verifier.as_str()),
                ("client_assertion_type", keys::client_assertion::JWT_BEARER),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await?
            .json()
            .await?;
        let id_token = tokens["id_token"]
            .as_str()
            .ok_or_else(|| anyhow!("sign-in {sign_ins}: no ID token: {tokens}"))?;
        // The ID token with the JWKS as the service holds it now.
        let held =
            keys::VerifyingKeys::from_jwks(&jwks.get(&http, &format!("{}/.well-known/jwks.json", fed.hub)).await?)?;
        let (header, _) = held
            .verify(id_token)
            .map_err(|e| anyhow!("sign-in {sign_ins}: the ID token does not verify with the JWKS held: {e}"))?;
        id_kids.insert(header.kid.unwrap_or_default());
        // The identity credential with the DID document as the service holds it now.
        let info: Value = http
            .get(format!("{redeem}/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap_or_default())
            .send()
            .await?
            .json()
            .await?;
        let credential = info[CORE]
            .as_str()
            .ok_or_else(|| anyhow!("sign-in {sign_ins}: no credential: {info}"))?;
        let kid = keys::decode_header(credential)?.kid.unwrap_or_default();
        let document = did.get(&http, &format!("{}/.well-known/did.json", fed.hub)).await?;
        let method = keys::did::assertion_method(&document, &kid)
            .ok_or_else(|| anyhow!("sign-in {sign_ins}: {kid} is not in the DID document held"))?;
        // The credential names its key by DID URL; the document's entry for that URL is the key.
        let mut jwk = method["publicKeyJwk"].clone();
        if let Some(o) = jwk.as_object_mut() {
            o.remove("kid");
        }
        let key = keys::VerifyingKey::from_jwk(&jwk)?;
        keys::VerifyingKeys::new(vec![key])
            .verify(credential)
            .map_err(|e| anyhow!("sign-in {sign_ins}: the credential does not verify: {e}"))?;
        credential_kids.insert(kid);
    }
    assert_eq!(rotations, 2);
    assert!(id_kids.len() >= 3, "ID tokens were signed by {id_kids:?}");
    assert!(
        credential_kids.len() >= 3,
        "credentials were signed by {credential_kids:?}"
    );
    assert!(
        jwks.fetches >= 3,
        "the service refreshed its JWKS only {} times",
        jwks.fetches
    );
    Ok(())
}
