//! Plain-HTTP journeys (no JavaScript): the whole sign-in through rp-example, and the protocol rules a
//! relying service relies on, driven through the test client registered with the hub.

use crate::harness::{assertion_with, Agent, Federation, Seen, StoreKind, TEST_CLIENT, TEST_REDIRECT};
use anyhow::{anyhow, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A PKCE pair (RFC 7636).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier =
            format!("{}{}", crate::harness::random_prefix(), crate::harness::random_prefix()).replace(':', "x");
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self { verifier, challenge }
    }
}

/// The test client's authorization URL; `None` in `set` removes a parameter.
pub fn authorize_url(fed: &Federation, pkce: &Pkce, set: &[(&str, Option<&str>)]) -> String {
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", TEST_CLIENT),
        ("redirect_uri", TEST_REDIRECT),
        ("scope", "openid email"),
        ("state", "state-123"),
        ("nonce", "nonce-456"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in set {
        params.retain(|(name, _)| name != k);
        if let Some(v) = v {
            params.push((k.to_string(), v.to_string()));
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    format!("{}/authorize?{query}", fed.hub)
}

/// From an authorization URL to the stub provider's page, choosing `provider` on the hub.
pub async fn to_provider_page(agent: &mut Agent, url: &str, provider: &str) -> Result<Seen> {
    let choose = agent.visit(url, Some(TEST_REDIRECT)).await?;
    if choose.status != 200 || !choose.url.contains("/choose-provider?journey=") {
        return Err(anyhow!(
            "expected the choice page, got {} {} {:?}\n{}",
            choose.status,
            choose.url,
            choose.location,
            choose.body
        ));
    }
    let page = agent
        .submit(&choose, "continue", &[("provider", provider)], Some(TEST_REDIRECT))
        .await?;
    if page.status != 200 {
        return Err(anyhow!(
            "expected the provider's page, got {} {}\n{}",
            page.status,
            page.url,
            page.body
        ));
    }
    Ok(page)
}

/// Completes the stub's page with an outcome; stops at the test client's redirect or a hub page.
pub async fn finish(agent: &mut Agent, stub_page: &Seen, outcome: &str) -> Result<Seen> {
    agent
        .submit(stub_page, "continue", &[("outcome", outcome)], Some(TEST_REDIRECT))
        .await
}

/// The authorization code from a redirect to the test client, checking `state` and `iss`.
pub fn code_of(fed: &Federation, seen: &Seen) -> Result<String> {
    let location = seen
        .location
        .clone()
        .ok_or_else(|| anyhow!("no redirect; got {} {}\n{}", seen.status, seen.url, seen.body))?;
    if !location.starts_with(TEST_REDIRECT) {
        return Err(anyhow!("redirect to {location}, not the client"));
    }
    let params = seen.location_params();
    assert_eq!(params.get("state").map(String::as_str), Some("state-123"));
    assert_eq!(params.get("iss"), Some(&fed.hub));
    params
        .get("code")
        .cloned()
        .ok_or_else(|| anyhow!("no code in {location}"))
}

/// Runs the whole journey for the test client and returns a code.
pub async fn get_code(fed: &Federation, pkce: &Pkce) -> Result<String> {
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &authorize_url(fed, pkce, &[]), "stub-a").await?;
    let done = finish(&mut agent, &page, "success").await?;
    code_of(fed, &done)
}

/// POSTs to the hub's token endpoint.
pub async fn token(fed: &Federation, form: &[(&str, &str)]) -> Result<(u16, Value)> {
    let response = reqwest::Client::new()
        .post(format!("{}/token", fed.hub))
        .form(form)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// A token request for `code` authenticated with `assertion`.
pub async fn exchange(fed: &Federation, code: &str, verifier: &str, assertion: &str) -> Result<(u16, Value)> {
    token(
        fed,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", TEST_REDIRECT),
            ("code_verifier", verifier),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ],
    )
    .await
}

/// GETs the hub's userinfo with a Bearer token: status, `WWW-Authenticate`, body.
pub async fn userinfo(fed: &Federation, access_token: &str) -> Result<(u16, Option<String>, Value)> {
    let response = reqwest::Client::new()
        .get(format!("{}/userinfo", fed.hub))
        .bearer_auth(access_token)
        .send()
        .await?;
    let status = response.status().as_u16();
    let www = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((status, www, response.json().await.unwrap_or(Value::Null)))
}

/// The hub's signing keys from its JWKS.
pub async fn hub_keys(fed: &Federation) -> Result<keys::VerifyingKeys> {
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", fed.hub))
        .await?
        .json()
        .await?;
    Ok(keys::VerifyingKeys::from_jwks(&jwks)?)
}

async fn sign_in_through_rp_example(store: StoreKind) -> Result<()> {
    let fed = Federation::start(store).await?;
    sign_in_and_out(&fed.rp, &fed.hub, &fed.stub).await
}

/// A person signs in at the service `rp` through `hub` at `stub`'s provider A, without JavaScript, sees
/// the `sub` and level on the service, signs out through the hub and is signed out of the service.
pub async fn sign_in_and_out(rp: &str, hub: &str, stub: &str) -> Result<()> {
    sign_in_and_out_with(Agent::new()?, rp, hub, stub).await
}

/// [`sign_in_and_out`] with a given agent (one trusting a test CA, say).
pub async fn sign_in_and_out_with(mut agent: Agent, rp: &str, hub: &str, stub: &str) -> Result<()> {
    let start = agent.visit(&format!("{rp}/"), None).await?;
    assert_eq!(start.status, 200);
    let choose = agent.submit(&start, "sign-in", &[], None).await?;
    assert!(
        choose.url.starts_with(&format!("{hub}/choose-provider")),
        "at {}",
        choose.url
    );
    assert!(choose.body.contains("Stub Identity A") && choose.body.contains("Stub Identity B"));
    let stub_page = agent
        .submit(&choose, "continue", &[("provider", "stub-a")], None)
        .await?;
    assert!(
        stub_page.url.starts_with(&format!("{stub}/stub-a/authorize")),
        "at {}",
        stub_page.url
    );
    let account = agent
        .submit(&stub_page, "continue", &[("outcome", "success")], None)
        .await?;
    assert_eq!(account.url, format!("{rp}/account"), "{}", account.body);
    let sub = account.text_of("#sub").unwrap_or_default();
    assert!(sub.starts_with("urn:fdc:gov.uk:2022:") && sub.len() > 40, "sub {sub:?}");
    assert_eq!(account.text_of("#vot").as_deref(), Some("Cl.Cm"));
    assert!(agent.has_cookie("__Host-rp-session"));

    // Signing out goes through the hub's end_session_endpoint back to the service's signed-out page.
    let signed_out = agent.visit(&format!("{rp}/sign-out"), None).await?;
    assert!(
        signed_out.url.starts_with(&format!("{rp}/signed-out")),
        "at {}",
        signed_out.url
    );
    assert_eq!(signed_out.status, 200);
    assert!(agent.history.iter().any(|u| u.starts_with(&format!("{hub}/logout?"))));
    assert!(
        !agent.has_cookie("__Host-rp-session"),
        "service session cookie kept after sign-out"
    );
    let again = agent.visit(&format!("{rp}/account"), None).await?;
    assert_ne!(
        again.url,
        format!("{rp}/account"),
        "account page still shown after sign-out"
    );
    Ok(())
}

#[tokio::test]
async fn sign_in_without_javascript_through_rp_example_on_memory_store() -> Result<()> {
    sign_in_through_rp_example(StoreKind::Memory).await
}

#[tokio::test]
async fn sign_in_without_javascript_through_rp_example_on_redis() -> Result<()> {
    sign_in_through_rp_example(StoreKind::Redis).await
}

async fn code_flow_rules(store: StoreKind) -> Result<()> {
    let fed = Federation::start(store).await?;
    let pkce = Pkce::new();
    let code = get_code(&fed, &pkce).await?;
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 180);
    let id_token = body["id_token"].as_str().unwrap_or_default();
    let (header, claims) = hub_keys(&fed).await?.verify(id_token)?;
    assert_eq!(header.alg, "ES256");
    assert_eq!(claims["iss"], json!(fed.hub));
    assert_eq!(claims["aud"], json!(TEST_CLIENT));
    assert_eq!(claims["nonce"], "nonce-456");
    assert_eq!(claims["vot"], "Cl.Cm");
    assert_eq!(claims["vtm"], json!(format!("{}/trustmark", fed.hub)));
    assert_eq!(
        claims["exp"].as_i64().unwrap_or_default() - claims["iat"].as_i64().unwrap_or_default(),
        120
    );
    for c in ["sid", "auth_time", "at_hash", "sub"] {
        assert!(claims.get(c).is_some(), "ID token lacks {c}");
    }
    let access = body["access_token"].as_str().unwrap_or_default().to_string();
    let (status, _, info) = userinfo(&fed, &access).await?;
    assert_eq!(status, 200);
    assert_eq!(info["sub"], claims["sub"]);
    assert!(info.get("email").is_some(), "email scope released no email: {info}");
    assert!(
        info.get("given_name").is_none() && info.get("birthdate").is_none(),
        "userinfo leaks identity: {info}"
    );

    // Second use of the code: invalid_grant, and the access token issued with it is revoked.
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, www, _) = userinfo(&fed, &access).await?;
    assert_eq!(status, 401);
    assert!(www.unwrap_or_default().starts_with("Bearer error=\"invalid_token\""));

    // Every key the hub wrote to Redis carries a TTL (journeys, codes, tokens, replay entries). A finished
    // journey leaves the store; one left half-way stays, with its TTL.
    let unfinished = Agent::new()?.get(&authorize_url(&fed, &Pkce::new(), &[])).await?;
    assert_eq!(unfinished.status, 302, "{}", unfinished.body);
    if let Some(prefix) = &fed.redis_prefix {
        let client = redis::Client::open(crate::harness::redis_url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await?;
        assert!(
            keys.iter().any(|k| k.contains("journey:")),
            "no journey keys under {prefix}: {keys:?}"
        );
        assert!(keys.iter().any(|k| k.contains("jti:")), "no jti replay keys: {keys:?}");
        for key in keys {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
            assert!(ttl > 0, "{key} has no TTL ({ttl})");
        }
    }
    Ok(())
}

#[tokio::test]
async fn code_flow_id_token_userinfo_and_code_reuse_on_memory_store() -> Result<()> {
    code_flow_rules(StoreKind::Memory).await
}

#[tokio::test]
async fn code_flow_id_token_userinfo_and_code_reuse_on_redis() -> Result<()> {
    code_flow_rules(StoreKind::Redis).await
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();
    let code = get_code(&fed, &pkce).await?;
    let (status, body) = exchange(&fed, &code, &Pkce::new().verifier, &fed.assertion(json!({}))?).await?;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    Ok(())
}

#[tokio::test]
async fn replayed_or_foreign_client_assertions_are_invalid_client() -> Result<()> {
    let fed = Federation::start(StoreKind::Redis).await?;
    let pkce = Pkce::new();
    let assertion = fed.assertion(json!({}))?;
    let code = get_code(&fed, &pkce).await?;
    let (status, _) = exchange(&fed, &code, &pkce.verifier, &assertion).await?;
    assert_eq!(status, 200);

    let code = get_code(&fed, &pkce).await?;
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &assertion).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client")),
        "replayed jti"
    );

    let other = keys::SigningKey::generate()?;
    let foreign = assertion_with(&other, &fed.hub, json!({}))?;
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &foreign).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client")),
        "signed by another key"
    );

    let wrong_aud = fed.assertion(json!({"aud": "https://elsewhere.example/token"}))?;
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &wrong_aud).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client")),
        "wrong aud"
    );

    // The code survived the refused attempts (authentication comes before the code is taken).
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}

#[tokio::test]
async fn unknown_client_or_unregistered_redirect_uri_get_a_400_page_and_no_redirect() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();
    let mut agent = Agent::new()?;
    for set in [
        vec![("client_id", Some("no-such-client"))],
        vec![("client_id", None)],
        vec![("redirect_uri", Some("https://evil.example/callback"))],
        vec![("redirect_uri", Some("http://127.0.0.1:9/callback/"))],
        vec![("redirect_uri", None)],
    ] {
        let seen = agent.get(&authorize_url(&fed, &pkce, &set)).await?;
        assert_eq!(seen.status, 400, "{set:?}");
        assert!(seen.location.is_none(), "{set:?} redirected");
        assert!(seen.body.contains("govuk-heading-l"), "not a GOV.UK page");
    }
    Ok(())
}

#[tokio::test]
async fn missing_nonce_redirects_with_invalid_request_state_and_iss() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let mut agent = Agent::new()?;
    let seen = agent
        .get(&authorize_url(&fed, &Pkce::new(), &[("nonce", None)]))
        .await?;
    assert_eq!(seen.status, 302, "{}", seen.body);
    assert!(seen.location.as_deref().unwrap_or_default().starts_with(TEST_REDIRECT));
    let params = seen.location_params();
    assert_eq!(params.get("error").map(String::as_str), Some("invalid_request"));
    assert!(params.get("error_description").is_some_and(|d| d.contains("nonce")));
    assert_eq!(params.get("state").map(String::as_str), Some("state-123"));
    assert_eq!(params.get("iss"), Some(&fed.hub));
    Ok(())
}

#[tokio::test]
async fn callback_with_a_wrong_state_ends_on_an_error_page_without_a_code() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let mut agent = Agent::new()?;
    let _stub_page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    let seen = agent
        .visit(
            &format!("{}/upstream/callback?code=abc&state=not-the-state", fed.hub),
            Some(TEST_REDIRECT),
        )
        .await?;
    assert_eq!(seen.status, 400);
    assert!(seen.location.is_none());
    assert_eq!(seen.text_of("#error-code").as_deref(), Some("invalid_callback"));
    Ok(())
}

#[tokio::test]
async fn broken_provider_answers_end_on_an_error_page_without_a_code() -> Result<()> {
    // Every broken answer in a row: keep the provider's circuit breaker from opening on them.
    let fed = Federation::start_with(crate::harness::Options {
        hub_config: "provider_breaker_failures = 1000".into(),
        ..Default::default()
    })
    .await?;
    for outcome in [
        "bad-signature",
        "wrong-aud",
        "wrong-nonce",
        "alg-none",
        "wrong-iss",
        "expired",
    ] {
        let mut agent = Agent::new()?;
        let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
        let seen = finish(&mut agent, &page, outcome).await?;
        assert!(seen.location.is_none(), "{outcome}: redirected to {:?}", seen.location);
        assert!(
            !agent.history.iter().any(|u| u.starts_with(TEST_REDIRECT)),
            "{outcome}: reached the service"
        );
        assert_eq!(seen.status, 502, "{outcome}");
        assert_eq!(
            seen.text_of("#error-code").as_deref(),
            Some("provider_error"),
            "{outcome}"
        );
        // The way on: the choice page, with the provider marked as having failed.
        let choose = agent.visit(&seen.href("continue")?, None).await?;
        assert!(choose.body.contains("Did not work just now"), "{outcome}");
    }
    Ok(())
}

#[tokio::test]
async fn authentication_failed_at_the_provider_sends_the_service_access_denied() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    let seen = finish(&mut agent, &page, "authentication-failed").await?;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.text_of("#error-code").as_deref(), Some("access_denied"));
    let back = agent
        .visit(&seen.href("return-to-service")?, Some(TEST_REDIRECT))
        .await?;
    let params = back.location_params();
    assert!(back.location.as_deref().unwrap_or_default().starts_with(TEST_REDIRECT));
    assert_eq!(params.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(params.get("state").map(String::as_str), Some("state-123"));
    assert_eq!(params.get("iss"), Some(&fed.hub));
    assert!(!params.contains_key("code"));
    Ok(())
}

/// A request object (RFC 9101) for the test client, signed by `key`, with claims overridable.
fn request_object(fed: &Federation, key: &keys::SigningKey, pkce: &Pkce, overrides: Value) -> Result<String> {
    let mut claims = json!({
        "iss": TEST_CLIENT, "aud": format!("{}/authorize", fed.hub),
        "response_type": "code", "client_id": TEST_CLIENT, "scope": "openid email",
        "redirect_uri": TEST_REDIRECT, "state": "state-123", "nonce": "nonce-456",
        "code_challenge": pkce.challenge, "code_challenge_method": "S256",
    });
    if let (Some(map), Some(o)) = (claims.as_object_mut(), overrides.as_object()) {
        for (k, v) in o {
            map.insert(k.clone(), v.clone());
        }
    }
    Ok(key.sign_jwt(
        "oauth-authz-req+jwt",
        claims.as_object().ok_or_else(|| anyhow!("claims"))?,
    )?)
}

fn jar_url(fed: &Federation, jwt: &str, extra: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    ser.extend_pairs([
        ("response_type", "code"),
        ("client_id", TEST_CLIENT),
        ("scope", "openid email"),
        ("request", jwt),
    ]);
    ser.extend_pairs(extra.iter());
    format!("{}/authorize?{}", fed.hub, ser.finish())
}

#[tokio::test]
async fn signed_request_objects_are_honoured_and_bad_ones_get_a_page() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();

    // A good object: the journey runs on the object's parameters to a code for its state.
    let mut agent = Agent::new()?;
    let good = request_object(&fed, &fed.client_key, &pkce, json!({}))?;
    let page = to_provider_page(&mut agent, &jar_url(&fed, &good, &[]), "stub-a").await?;
    let done = finish(&mut agent, &page, "success").await?;
    let code = code_of(&fed, &done)?;
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
    assert_eq!(status, 200, "{body}");

    // Bad objects: a 400 page, never a redirect (the redirect URI inside cannot be trusted).
    let other = keys::SigningKey::generate()?;
    let cases = [
        (
            "signed by another key",
            jar_url(&fed, &request_object(&fed, &other, &pkce, json!({}))?, &[]),
        ),
        (
            "wrong aud",
            jar_url(
                &fed,
                &request_object(
                    &fed,
                    &fed.client_key,
                    &pkce,
                    json!({"aud": "https://elsewhere.example"}),
                )?,
                &[],
            ),
        ),
        (
            "expired",
            jar_url(
                &fed,
                &request_object(&fed, &fed.client_key, &pkce, json!({"exp": 1000}))?,
                &[],
            ),
        ),
        ("state beside the object", jar_url(&fed, &good, &[("state", "other")])),
        (
            "unsigned",
            jar_url(
                &fed,
                &format!("{}.", good.rsplit_once('.').map(|(h, _)| h).unwrap_or_default()),
                &[],
            ),
        ),
    ];
    for (name, url) in cases {
        let seen = Agent::new()?.get(&url).await?;
        assert_eq!(seen.status, 400, "{name}");
        assert!(seen.location.is_none(), "{name} redirected");
        assert!(seen.body.contains("govuk-heading-l"), "{name}: not a page");
    }
    Ok(())
}

#[tokio::test]
async fn a_service_registered_for_rs256_gets_rs256_id_tokens_verifiable_from_the_jwks() -> Result<()> {
    let fed = Federation::start_with(crate::harness::Options {
        extra_clients: format!(
            r#"
[[clients]]
client_id = "rs256-client"
client_name = "An RSA-only service"
redirect_uris = ["{TEST_REDIRECT}"]
scopes = ["openid", "email"]
id_token_signing_alg = "RS256"
public_key = """
{}"""
"#,
            crate::harness::TEST_CLIENT_PUBLIC_KEY
        ),
        ..crate::harness::Options::default()
    })
    .await?;
    let pkce = Pkce::new();
    let mut agent = Agent::new()?;
    let url = authorize_url(&fed, &pkce, &[("client_id", Some("rs256-client"))]);
    let page = to_provider_page(&mut agent, &url, "stub-a").await?;
    let code = code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
    let assertion = fed.assertion(json!({"iss": "rs256-client", "sub": "rs256-client"}))?;
    let (status, body) = token(
        &fed,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", TEST_REDIRECT),
            ("code_verifier", &pkce.verifier),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ],
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let (header, claims) = hub_keys(&fed)
        .await?
        .verify(body["id_token"].as_str().unwrap_or_default())?;
    assert_eq!(header.alg, "RS256");
    assert_eq!(claims["aud"], "rs256-client");
    Ok(())
}

#[tokio::test]
async fn client_secret_post_and_basic_clients_authenticate_with_their_secret() -> Result<()> {
    let secret = "a-client-secret-long-enough-to-be-hard-to-guess";
    let hash = keys::hash_secret(secret)?;
    let fed = Federation::start_with(crate::harness::Options {
        extra_clients: format!(
            r#"
[[clients]]
client_id = "secret-post"
client_name = "A secret-post service"
redirect_uris = ["{TEST_REDIRECT}"]
token_endpoint_auth_method = "client_secret_post"
client_secret_hash = "{hash}"

[[clients]]
client_id = "secret-basic"
client_name = "A generic OIDC service"
redirect_uris = ["{TEST_REDIRECT}"]
profile = "oidc-basic"
token_endpoint_auth_method = "client_secret_basic"
client_secret_hash = "{hash}"
"#
        ),
        ..crate::harness::Options::default()
    })
    .await?;
    let http = reqwest::Client::new();
    for client_id in ["secret-post", "secret-basic"] {
        let pkce = Pkce::new();
        let mut agent = Agent::new()?;
        let url = authorize_url(
            &fed,
            &pkce,
            &[("client_id", Some(client_id)), ("scope", Some("openid"))],
        );
        let page = to_provider_page(&mut agent, &url, "stub-a").await?;
        let code = code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
        let form = |secret: &str| {
            let mut f = vec![
                ("grant_type", "authorization_code".to_string()),
                ("code", code.clone()),
                ("redirect_uri", TEST_REDIRECT.to_string()),
                ("code_verifier", pkce.verifier.clone()),
            ];
            if client_id == "secret-post" {
                f.push(("client_id", client_id.to_string()));
                f.push(("client_secret", secret.to_string()));
            }
            f
        };
        let send = |secret: &'static str| {
            let request = http.post(format!("{}/token", fed.hub)).form(&form(secret));
            if client_id == "secret-basic" {
                request.basic_auth(client_id, Some(secret))
            } else {
                request
            }
        };
        let wrong = send("not-the-secret").send().await?;
        let status = wrong.status().as_u16();
        let www = wrong.headers().get("www-authenticate").is_some();
        let body: Value = wrong.json().await?;
        assert_eq!(body["error"], "invalid_client", "{client_id}");
        // RFC 6749 §5.2: 401 with WWW-Authenticate when the client used HTTP Basic; One Login's 400 otherwise.
        assert_eq!(
            (status, www),
            if client_id == "secret-basic" {
                (401, true)
            } else {
                (400, false)
            },
            "{client_id}"
        );
        let right = send("a-client-secret-long-enough-to-be-hard-to-guess").send().await?;
        assert_eq!(right.status().as_u16(), 200, "{client_id}: {}", right.text().await?);
    }
    // A client that authenticates with a secret cannot ask for an identity level.
    let mut agent = Agent::new()?;
    let seen = agent
        .get(&authorize_url(
            &fed,
            &Pkce::new(),
            &[
                ("client_id", Some("secret-post")),
                ("scope", Some("openid")),
                ("vtr", Some(r#"["Cl.Cm.P2"]"#)),
            ],
        ))
        .await?;
    assert_eq!(
        seen.location_params().get("error").map(String::as_str),
        Some("invalid_request")
    );
    Ok(())
}
