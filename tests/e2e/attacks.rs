//! The attack suite (RFC 9700, OIDC Core, RFC 6819): one test per class, named after it, each against the
//! real binaries as an attacker would try it. SECURITY.md lists every class with its test and the
//! behaviour seen.

use crate::{
    flows::{authorize_url, code_of, exchange, finish, get_code, to_provider_page, token, userinfo, Pkce},
    harness::{free_port, Agent, Federation, Options, StoreKind, TEST_CLIENT, TEST_CLIENT_PUBLIC_KEY, TEST_REDIRECT},
};
use anyhow::{anyhow, ensure, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A second service, signing with the test client's key, on another sector.
const OTHER_CLIENT: &str = r#"
[[clients]]
client_id = "other-client"
client_name = "Another service"
redirect_uris = ["http://localhost:9/other"]
post_logout_redirect_uris = ["http://localhost:9/other-signed-out"]
scopes = ["openid", "email"]
levels = ["Cl.Cm", "Cl.Cm.P2"]
claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
public_key = """
$TEST_CLIENT_PUBLIC_KEY"""
"#;

async fn with_other_client() -> Result<Federation> {
    Federation::start_with(Options {
        extra_clients: OTHER_CLIENT.replace("$TEST_CLIENT_PUBLIC_KEY", TEST_CLIENT_PUBLIC_KEY),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn code_injection_and_replay() -> Result<()> {
    let fed = with_other_client().await?;
    let pkce = Pkce::new();
    let code = get_code(&fed, &pkce).await?;
    // Another service cannot redeem the test client's code, even with the verifier.
    let other = crate::harness::assertion_with(
        &fed.client_key,
        &fed.hub,
        json!({"iss": "other-client", "sub": "other-client"}),
    )?;
    let (status, body) = token(
        &fed,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/other"),
            ("code_verifier", &pkce.verifier),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &other),
        ],
    )
    .await?;
    ensure!(status == 400 && body["error"] == "invalid_grant", "{status} {body}");
    // A code injected with another redirect URI is refused.
    let code = get_code(&fed, &pkce).await?;
    let (status, body) = token(
        &fed,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
            ("code_verifier", &pkce.verifier),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &fed.assertion(json!({}))?),
        ],
    )
    .await?;
    ensure!(status == 400 && body["error"] == "invalid_grant", "{status} {body}");
    // Replay: the first use works, the second is refused and revokes the first's access token.
    let code = get_code(&fed, &pkce).await?;
    let (status, first) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
    ensure!(status == 200, "{first}");
    let (status, again) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
    ensure!(status == 400 && again["error"] == "invalid_grant", "{again}");
    let (status, _, _) = userinfo(&fed, first["access_token"].as_str().unwrap_or_default()).await?;
    ensure!(status == 401, "the replayed code's access token still works");
    Ok(())
}

#[tokio::test]
async fn pkce_downgrade() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();
    for (what, set) in [
        (
            "no challenge",
            vec![("code_challenge", None), ("code_challenge_method", None)],
        ),
        ("plain", vec![("code_challenge_method", Some("plain"))]),
        ("no method", vec![("code_challenge_method", None)]),
    ] {
        let seen = Agent::new()?.get(&authorize_url(&fed, &pkce, &set)).await?;
        let params = seen.location_params();
        ensure!(
            params.get("error").map(String::as_str) == Some("invalid_request"),
            "{what}: {:?}",
            seen.location
        );
    }
    // A code with a challenge cannot be redeemed without its verifier, or with another.
    let code = get_code(&fed, &pkce).await?;
    let (status, body) = token(
        &fed,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", TEST_REDIRECT),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &fed.assertion(json!({}))?),
        ],
    )
    .await?;
    ensure!(status == 400 && body["error"] == "invalid_grant", "no verifier: {body}");
    Ok(())
}

#[tokio::test]
async fn mix_up_iss_required_from_providers_that_advertise_it() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    for tamper in ["drop iss", "other iss"] {
        let mut agent = Agent::new()?;
        let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
        // The stub answers; the attacker rewrites the authorization response on its way back.
        let back = agent
            .submit(
                &page,
                "continue",
                &[("outcome", "success")],
                Some(&format!("{}/upstream/callback", fed.hub)),
            )
            .await?;
        let location = back
            .location
            .clone()
            .ok_or_else(|| anyhow!("no redirect: {}", back.body))?;
        let mut url = url::Url::parse(&location)?;
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != "iss").collect();
        let mut q = url.query_pairs_mut();
        q.clear().extend_pairs(pairs.iter());
        if tamper == "other iss" {
            q.append_pair("iss", &format!("{}/stub-b", fed.stub));
        }
        drop(q);
        let seen = agent.visit(url.as_str(), Some(TEST_REDIRECT)).await?;
        ensure!(seen.status == 502, "{tamper}: {} {}", seen.status, seen.url);
        ensure!(
            seen.text_of("#error-code").as_deref() == Some("provider_error"),
            "{tamper}"
        );
        ensure!(
            !agent.history.iter().any(|u| u.starts_with(TEST_REDIRECT)),
            "{tamper}: asserted"
        );
    }
    Ok(())
}

#[tokio::test]
async fn open_redirect_every_redirect_uri_and_post_logout_redirect_uri_variation() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let variations = [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/callback#f",
        "http://127.0.0.1:9/Callback",
        "http://127.0.0.1:9/callback/../callback",
        "http://127.0.0.1:9/callback%2F..",
        "http://127.0.0.1:90/callback",
        "http://127.0.0.1:9@evil.example/callback",
        "http://evil.example/callback",
        "https://127.0.0.1:9/callback",
        "HTTP://127.0.0.1:9/callback",
        "http://127.0.0.1.evil.example:9/callback",
        "//evil.example/callback",
        "javascript:alert(1)",
        "http://127.0.0.1:9/callback\u{0000}",
        "http://127.0.0.1:9/callback%00",
        " http://127.0.0.1:9/callback",
        "http://127.0.0.1:9/callback ",
        "http://localhost:9/callback",
        "http://[::1]:9/callback",
        "",
    ];
    for uri in variations {
        let seen = Agent::new()?
            .get(&authorize_url(&fed, &Pkce::new(), &[("redirect_uri", Some(uri))]))
            .await?;
        ensure!(seen.status == 400, "{uri:?}: {}", seen.status);
        ensure!(seen.location.is_none(), "{uri:?}: redirected to {:?}", seen.location);
    }
    // post_logout_redirect_uri: only the registered one. Each variation comes with a valid
    // `id_token_hint` of a live sign-in, so the hub could redirect and refusing is its own choice; the
    // registered URI, sent the same way, does redirect.
    let registered = "http://127.0.0.1:9/signed-out";
    for (uri, redirects) in [
        ("http://127.0.0.1:9/signed-out/", false),
        ("http://127.0.0.1:9/signed-out?x=1", false),
        ("http://127.0.0.1:9/Signed-out", false),
        ("http://127.0.0.1:9/signed-out#f", false),
        ("http://127.0.0.1:90/signed-out", false),
        ("http://127.0.0.1:9@evil.example/signed-out", false),
        ("http://evil.example/signed-out", false),
        ("http://127.0.0.1:9/callback", false),
        ("//evil.example/signed-out", false),
        ("javascript:alert(1)", false),
        (registered, true),
    ] {
        let mut agent = Agent::new()?;
        let pkce = Pkce::new();
        let page = to_provider_page(&mut agent, &authorize_url(&fed, &pkce, &[]), "stub-a").await?;
        let code = code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
        let (status, tokens) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
        ensure!(status == 200, "{status} {tokens}");
        let hint = tokens["id_token"].as_str().ok_or_else(|| anyhow!("no id_token"))?;
        let seen = agent
            .get(&format!(
                "{}/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=s",
                fed.hub,
                url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
            ))
            .await?;
        if redirects {
            ensure!(
                seen.location.as_deref() == Some(&format!("{registered}?state=s")),
                "{uri}: {} {:?}",
                seen.status,
                seen.location
            );
        } else {
            ensure!(seen.location.is_none(), "{uri}: redirected to {:?}", seen.location);
            ensure!(
                seen.status == 200 && !seen.body.contains("Do you want to sign out?"),
                "{uri}: the hint was not honoured ({}), so this proves nothing",
                seen.status
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn csrf_and_login_csrf_on_every_form_and_state_changing_get() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let mut victim = Agent::new()?;
    let choose = victim
        .visit(&authorize_url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    ensure!(choose.is_choice(&fed.hub), "at {}", choose.url);
    let journey = url::Url::parse(&choose.url)?
        .query_pairs()
        .find(|(k, _)| k == "journey")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    // Forms posted without the journey's token (as another page would): refused, nothing changes.
    for (path, form) in [
        (
            "/choose-provider",
            vec![("journey", journey.as_str()), ("provider", "stub-a")],
        ),
        ("/cancel", vec![("journey", journey.as_str())]),
        ("/consent", vec![("journey", journey.as_str()), ("decision", "accept")]),
    ] {
        let form: Vec<(String, String)> = form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let seen = victim.post(&format!("{}{path}", fed.hub), &form).await?;
        ensure!(seen.status == 403, "{path}: {} {}", seen.status, seen.body);
    }
    // A state-changing GET without the token: refused.
    let seen = victim
        .get(&format!("{}/cancel-link?journey={journey}", fed.hub))
        .await?;
    ensure!(seen.status == 403, "cancel-link without its token: {}", seen.status);
    // Logout: a page elsewhere cannot end the session (GET asks; a forged POST is refused).
    let page = to_provider_page(&mut victim, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    code_of(&fed, &finish(&mut victim, &page, "success").await?)?;
    let asked = victim.get(&format!("{}/logout", fed.hub)).await?;
    ensure!(asked.body.contains("Do you want to sign out?"), "{}", asked.body);
    let forged = victim
        .post(&format!("{}/logout", fed.hub), &[("csrf".into(), "guess".into())])
        .await?;
    ensure!(forged.status == 403, "forged logout: {}", forged.status);
    ensure!(
        victim.has_cookie("__Host-hub-session"),
        "the session ended on a forged form"
    );
    // Login CSRF: an attacker's own journey (its choice page, its provider answer) used in the victim's
    // browser is refused: journeys act only in the browser they started in.
    let mut attacker = Agent::new()?;
    let attackers = attacker
        .visit(&authorize_url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    let seen = victim.get(&attackers.url).await?;
    ensure!(
        seen.status == 403,
        "attacker's journey page in the victim's browser: {}",
        seen.status
    );
    let page = to_provider_page(&mut attacker, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    let answer = attacker
        .submit(
            &page,
            "continue",
            &[("outcome", "success")],
            Some(&format!("{}/upstream/callback", fed.hub)),
        )
        .await?;
    let callback = answer.location.clone().unwrap_or_default();
    let seen = victim.visit(&callback, Some(TEST_REDIRECT)).await?;
    ensure!(
        seen.status == 400,
        "attacker's callback in the victim's browser: {}",
        seen.status
    );
    ensure!(seen.text_of("#error-code").as_deref() == Some("invalid_callback"));
    Ok(())
}

#[tokio::test]
async fn consent_and_choice_bound_to_the_journey_they_were_shown_for_with_several_journeys_in_one_browser() -> Result<()>
{
    let fed = with_other_client().await?;
    let mut agent = Agent::new()?;
    // Journey A: the test service at P2 with the credential; it gets to consent.
    let core = r#"{"userinfo":{"https://vocab.account.gov.uk/v1/coreIdentityJWT":null}}"#;
    let extra_client_for_p2 = authorize_url(
        &fed,
        &Pkce::new(),
        &[
            ("client_id", Some("other-client")),
            ("redirect_uri", Some("http://localhost:9/other")),
            ("vtr", Some(r#"["Cl.Cm.P2"]"#)),
            ("claims", Some(core)),
        ],
    );
    let page_a = to_provider_page(&mut agent, &extra_client_for_p2, "stub-a").await?;
    let consent_a = agent
        .submit(
            &page_a,
            "continue",
            &[("persona", "alex-morgan"), ("outcome", "success")],
            Some("http://localhost:9/"),
        )
        .await?;
    ensure!(consent_a.url.contains("/consent?journey="), "A at {}", consent_a.url);
    // Journey B starts in another tab for the same service at Cl.Cm: single sign-on, no consent needed.
    let b = agent
        .visit(&authorize_url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    ensure!(
        b.location.as_deref().unwrap_or_default().starts_with(TEST_REDIRECT),
        "B: {}",
        b.url
    );
    // A's consent page, submitted now, still releases to A's service only.
    let done = agent
        .submit(
            &consent_a,
            "continue",
            &[("decision", "accept")],
            Some("http://localhost:9/"),
        )
        .await?;
    let location = done.location.clone().unwrap_or_default();
    ensure!(
        location.starts_with("http://localhost:9/other?code="),
        "released to {location}"
    );
    Ok(())
}

#[tokio::test]
async fn clickjacking() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let mut agent = Agent::new()?;
    let choose = agent
        .visit(&authorize_url(&fed, &Pkce::new(), &[]), Some(TEST_REDIRECT))
        .await?;
    let pages = [
        choose.url.clone(),
        format!("{}/choose-provider", fed.hub),
        format!("{}/logout", fed.hub),
        format!("{}/no-such-page", fed.hub),
        format!("{}/authorize?client_id=nobody", fed.hub),
    ];
    let http = reqwest::Client::new();
    for page in pages {
        let response = http.get(&page).send().await?;
        let h = response.headers();
        ensure!(
            h.get("x-frame-options").and_then(|v| v.to_str().ok()) == Some("DENY"),
            "{page}"
        );
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ensure!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
    }
    Ok(())
}

#[tokio::test]
async fn session_fixation() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let mut agent = Agent::new()?;
    // The attacker plants a session id of its choosing; the hub ignores it and issues its own.
    agent.set_cookie("__Host-hub-session", "attacker-chosen-session-id-aaaaaaaaaaaaaaaaa");
    let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
    let issued = agent.cookie("__Host-hub-session").unwrap_or_default();
    ensure!(
        issued != "attacker-chosen-session-id-aaaaaaaaaaaaaaaaa" && issued.len() == 43,
        "{issued}"
    );
    // A new sign-in in the same browser gets a new session id, and the old one stops working.
    let page = to_provider_page(
        &mut agent,
        &authorize_url(&fed, &Pkce::new(), &[("prompt", Some("login"))]),
        "stub-a",
    )
    .await?;
    code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
    let renewed = agent.cookie("__Host-hub-session").unwrap_or_default();
    ensure!(renewed != issued, "the session id was not renewed at sign-in");
    let mut other = Agent::new()?;
    other.set_cookie("__Host-hub-session", &issued);
    let seen = other
        .get(&authorize_url(&fed, &Pkce::new(), &[("prompt", Some("none"))]))
        .await?;
    ensure!(seen.location_params().get("error").map(String::as_str) == Some("login_required"));
    Ok(())
}

#[tokio::test]
async fn token_substitution() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();
    let code = get_code(&fed, &pkce).await?;
    let (_, tokens) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
    let id_token = tokens["id_token"].as_str().unwrap_or_default();
    let access = tokens["access_token"].as_str().unwrap_or_default();
    // The ID token binds the access token (at_hash) and names its audience.
    let claims = keys::peek_claims(id_token)?;
    let want = URL_SAFE_NO_PAD.encode(&<sha2::Sha256 as sha2::Digest>::digest(access.as_bytes())[..16]);
    ensure!(
        claims.get("at_hash").and_then(Value::as_str) == Some(want.as_str()),
        "{claims:?}"
    );
    ensure!(claims.get("aud").and_then(Value::as_str) == Some(TEST_CLIENT));
    // An ID token is not an access token.
    let (status, _, _) = userinfo(&fed, id_token).await?;
    ensure!(status == 401, "an ID token was taken as an access token");
    // Nor a client assertion.
    let code = get_code(&fed, &pkce).await?;
    let (status, body) = exchange(&fed, &code, &pkce.verifier, id_token).await?;
    ensure!(status == 400 && body["error"] == "invalid_client", "{body}");
    Ok(())
}

#[tokio::test]
async fn one_purpose_per_jwt() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();
    let now = crate::harness::now();
    let base = json!({"iss": TEST_CLIENT, "sub": TEST_CLIENT, "aud": format!("{}/token", fed.hub),
        "jti": crate::harness::random_prefix(), "iat": now, "exp": now + 300});
    // A client assertion typed as a logout token, or carrying a request object's or ID token's claims.
    let cases: Vec<(&str, String)> = vec![
        (
            "typ logout+jwt",
            fed.client_key
                .sign_jwt("logout+jwt", base.as_object().ok_or_else(|| anyhow!("obj"))?)?,
        ),
        (
            "typ oauth-authz-req+jwt",
            fed.client_key
                .sign_jwt("oauth-authz-req+jwt", base.as_object().ok_or_else(|| anyhow!("obj"))?)?,
        ),
        (
            "request object claims",
            fed.assertion(json!({"response_type": "code", "redirect_uri": TEST_REDIRECT}))?,
        ),
        (
            "logout token claims",
            fed.assertion(json!({"events": {"http://schemas.openid.net/event/backchannel-logout": {}}}))?,
        ),
        ("ID token claims", fed.assertion(json!({"nonce": "n", "at_hash": "x"}))?),
    ];
    for (what, assertion) in cases {
        let code = get_code(&fed, &pkce).await?;
        let (status, body) = exchange(&fed, &code, &pkce.verifier, &assertion).await?;
        ensure!(
            status == 400 && body["error"] == "invalid_client",
            "{what}: {status} {body}"
        );
    }
    // A logout token is not an id_token_hint: logout asks the person instead of redirecting.
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &authorize_url(&fed, &pkce, &[]), "stub-a").await?;
    code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
    let logout_token = fed.client_key.sign_jwt(
        "logout+jwt",
        json!({"iss": fed.hub, "aud": TEST_CLIENT, "sub": "x", "iat": now, "jti": "j",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}})
        .as_object()
        .ok_or_else(|| anyhow!("obj"))?,
    )?;
    let seen = agent
        .get(&format!(
            "{}/logout?id_token_hint={logout_token}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fsigned-out",
            fed.hub
        ))
        .await?;
    ensure!(
        seen.location.is_none() && seen.body.contains("Do you want to sign out?"),
        "{}",
        seen.status
    );
    Ok(())
}

/// A signed request object for the test client.
fn request_object(fed: &Federation, pkce: &Pkce, extra: Value) -> Result<String> {
    let now = crate::harness::now();
    let mut claims = json!({
        "iss": TEST_CLIENT, "aud": fed.hub, "response_type": "code", "client_id": TEST_CLIENT,
        "redirect_uri": TEST_REDIRECT, "scope": "openid", "state": "state-123", "nonce": "n",
        "code_challenge": pkce.challenge, "code_challenge_method": "S256", "exp": now + 300,
    });
    if let (Some(map), Some(o)) = (claims.as_object_mut(), extra.as_object()) {
        for (k, v) in o {
            map.insert(k.clone(), v.clone());
        }
    }
    Ok(fed
        .client_key
        .sign_jwt("oauth-authz-req+jwt", claims.as_object().ok_or_else(|| anyhow!("obj"))?)?)
}

fn with_object(fed: &Federation, jwt: &str) -> String {
    format!(
        "{}/authorize?client_id={TEST_CLIENT}&response_type=code&scope=openid&request={jwt}",
        fed.hub
    )
}

#[tokio::test]
async fn request_objects_with_exp_and_single_use_jti() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();
    let now = crate::harness::now();
    for (what, extra) in [
        ("expired", json!({"exp": now - 10})),
        ("exp too far", json!({"exp": now + 7200})),
        ("an ID token's claims", json!({"at_hash": "x", "sid": "s"})),
    ] {
        let seen = Agent::new()?
            .get(&with_object(&fed, &request_object(&fed, &pkce, extra)?))
            .await?;
        ensure!(
            seen.status == 400 && seen.location.is_none(),
            "{what}: {} {:?}",
            seen.status,
            seen.location
        );
    }
    let once = request_object(&fed, &pkce, json!({"jti": crate::harness::random_prefix()}))?;
    let first = Agent::new()?.get(&with_object(&fed, &once)).await?;
    ensure!(first.status == 302, "first use: {} {}", first.status, first.body);
    let again = Agent::new()?.get(&with_object(&fed, &once)).await?;
    ensure!(
        again.status == 400 && again.location.is_none(),
        "replayed jti: {}",
        again.status
    );
    // One replay cache for both: a client assertion's `jti` is refused as a request object's...
    let jti = crate::harness::random_prefix();
    let code = get_code(&fed, &pkce).await?;
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({"jti": jti}))?).await?;
    ensure!(status == 200, "the assertion itself: {status} {body}");
    let seen = Agent::new()?
        .get(&with_object(&fed, &request_object(&fed, &pkce, json!({"jti": jti}))?))
        .await?;
    ensure!(
        seen.status == 400 && seen.location.is_none(),
        "a client assertion's jti as a request object's: {} {:?}",
        seen.status,
        seen.location
    );
    // ...and a request object's `jti` as a client assertion's.
    let jti = crate::harness::random_prefix();
    let seen = Agent::new()?
        .get(&with_object(&fed, &request_object(&fed, &pkce, json!({"jti": jti}))?))
        .await?;
    ensure!(
        seen.status == 302,
        "the request object itself: {} {}",
        seen.status,
        seen.body
    );
    let code = get_code(&fed, &pkce).await?;
    let (status, body) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({"jti": jti}))?).await?;
    ensure!(
        status == 400 && body["error"] == "invalid_client",
        "a request object's jti as a client assertion's: {status} {body}"
    );
    Ok(())
}

#[tokio::test]
async fn alg_kid_jku_x5u_jwk_header_tricks() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();
    let now = crate::harness::now();
    let claims = json!({"iss": TEST_CLIENT, "sub": TEST_CLIENT, "aud": format!("{}/token", fed.hub),
        "jti": crate::harness::random_prefix(), "iat": now, "exp": now + 300});
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let attacker_pem = josekit::jws::ES256.generate_key_pair()?.to_pem_private_key();
    let attacker = keys::SigningKey::from_pem(&attacker_pem)?;
    let jwk = attacker.public_jwk();
    let real = fed.assertion(json!({}))?;
    let real_sig = real.rsplit('.').next().unwrap_or_default().to_string();
    let headers = [
        ("alg none", json!({"alg": "none"}), String::new()),
        (
            "HS256 with the public key as secret",
            json!({"alg": "HS256"}),
            "c2lnbmF0dXJl".into(),
        ),
        (
            "kid path traversal",
            json!({"alg": "ES256", "kid": "../../../../etc/passwd"}),
            real_sig.clone(),
        ),
        (
            "jku to the attacker",
            json!({"alg": "ES256", "jku": "http://127.0.0.1:9/jwks.json"}),
            real_sig.clone(),
        ),
        (
            "x5u to the attacker",
            json!({"alg": "ES256", "x5u": "http://127.0.0.1:9/cert.pem"}),
            real_sig.clone(),
        ),
        ("embedded jwk", json!({"alg": "ES256", "jwk": jwk}), real_sig.clone()),
        (
            "crit extension",
            json!({"alg": "ES256", "crit": ["exp"]}),
            real_sig.clone(),
        ),
        ("alg switched to RS256", json!({"alg": "RS256"}), real_sig),
    ];
    for (what, header, sig) in headers {
        let token = format!("{}.{body}.{sig}", URL_SAFE_NO_PAD.encode(header.to_string()));
        let code = get_code(&fed, &pkce).await?;
        let (status, answer) = exchange(&fed, &code, &pkce.verifier, &token).await?;
        ensure!(
            status == 400 && answer["error"] == "invalid_client",
            "{what}: {status} {answer}"
        );
    }
    // Correctly signed by the attacker's own key, the header naming that key: by `kid` alone, embedded
    // as `jwk`, or at an attacker's `jku` that really serves it. Keys come only from the registry.
    let (jwks_url, fetched) = attacker_jwks(&keys::jwks([&attacker])).await?;
    let fresh = |claims: &Value| -> Result<Value> {
        let mut claims = claims.clone();
        claims["jti"] = json!(crate::harness::random_prefix());
        Ok(claims)
    };
    let forged = [
        (
            "the attacker's kid",
            attacker.sign_jwt("JWT", fresh(&claims)?.as_object().ok_or_else(|| anyhow!("obj"))?)?,
        ),
        (
            "the attacker's key embedded as jwk",
            attacker.sign_with_jwk("JWT", &fresh(&claims)?)?,
        ),
        (
            "jku to the attacker's JWKS",
            sign_with_jku(&attacker_pem, attacker.kid(), &jwks_url, &fresh(&claims)?)?,
        ),
    ];
    for (what, token) in forged {
        let header = keys::decode_header(&token)?;
        ensure!(header.alg == "ES256", "{what}: {header:?}");
        let code = get_code(&fed, &pkce).await?;
        let (status, answer) = exchange(&fed, &code, &pkce.verifier, &token).await?;
        ensure!(
            status == 400 && answer["error"] == "invalid_client",
            "{what}: {status} {answer}"
        );
    }
    ensure!(
        fetched.load(std::sync::atomic::Ordering::SeqCst) == 0,
        "the hub fetched the attacker's jku"
    );
    Ok(())
}

/// Serves `jwks` on a free local port, as an attacker's `jku` would: its URL and how often it was fetched.
async fn attacker_jwks(jwks: &Value) -> Result<(String, std::sync::Arc<std::sync::atomic::AtomicUsize>)> {
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (count, body) = (fetched.clone(), jwks.to_string());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/jwks.json", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, fetched))
}

/// A JWS over `claims` signed by the ES256 key `pem` whose header names its key set by `jku` and `kid`.
fn sign_with_jku(pem: &[u8], kid: &str, jku: &str, claims: &Value) -> Result<String> {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(kid);
    header.set_jwk_set_url(jku);
    let signer = josekit::jws::ES256.signer_from_pem(pem)?;
    Ok(josekit::jws::serialize_compact(
        claims.to_string().as_bytes(),
        &header,
        &signer,
    )?)
}

#[tokio::test]
async fn oversized_and_deeply_nested_jwts_and_json() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let pkce = Pkce::new();
    // A client assertion of 20 KB (over the body limit and the 16 KiB token bound): refused cleanly,
    // never a 500.
    for padding in [20 * 1024] {
        let big = fed.assertion(json!({"padding": "x".repeat(padding)}))?;
        let code = get_code(&fed, &pkce).await?;
        let (status, body) = exchange(&fed, &code, &pkce.verifier, &big).await?;
        ensure!(
            status == 413 || (status == 400 && body["error"] == "invalid_client"),
            "{padding}: {status} {body}"
        );
    }
    // Claims nested 600 deep (within the length bound): invalid_request, not a stack overflow.
    let deep = format!("{}{}", "{\"a\":".repeat(600), "1".to_string() + &"}".repeat(600));
    let seen = Agent::new()?
        .post(
            &format!("{}/authorize", fed.hub),
            &[
                ("response_type", "code"),
                ("client_id", TEST_CLIENT),
                ("redirect_uri", TEST_REDIRECT),
                ("scope", "openid"),
                ("state", "s"),
                ("nonce", "n"),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
                ("claims", &deep),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
        )
        .await?;
    ensure!(
        seen.status == 302 && seen.location_params().get("error").map(String::as_str) == Some("invalid_request"),
        "{} {:?}",
        seen.status,
        seen.location
    );
    // A body over the limit: 413; a query over it: 414.
    let response = reqwest::Client::new()
        .post(format!("{}/token", fed.hub))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=".to_string() + &"b".repeat(100 * 1024))
        .send()
        .await?;
    ensure!(response.status() == 413, "big body: {}", response.status());
    let seen = Agent::new()?
        .get(&format!("{}/authorize?x={}", fed.hub, "y".repeat(5000)))
        .await?;
    ensure!(seen.status == 414, "long query: {}", seen.status);
    // A state of 60 KB by POST (the query limit does not apply): refused, not stored.
    let seen = Agent::new()?
        .post(
            &format!("{}/authorize", fed.hub),
            &[
                ("response_type", "code"),
                ("client_id", TEST_CLIENT),
                ("redirect_uri", TEST_REDIRECT),
                ("scope", "openid"),
                ("state", &"s".repeat(60 * 1024)),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
        )
        .await?;
    ensure!(
        seen.status == 413 || seen.location_params().get("error").map(String::as_str) == Some("invalid_request"),
        "60 KB state: {}",
        seen.status
    );
    Ok(())
}

#[tokio::test]
async fn vot_downgrade() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    // The provider answers below the level asked: no code, back to the choice.
    let p2 = [("vtr", Some(r#"["Cl.Cm.P2"]"#))];
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &p2), "stub-a").await?;
    let seen = agent
        .submit(
            &page,
            "continue",
            &[("persona", "alex-morgan"), ("outcome", "level-not-reached")],
            Some(TEST_REDIRECT),
        )
        .await?;
    ensure!(seen.is_choice(&fed.hub), "at {}", seen.url);
    ensure!(
        !agent.history.iter().any(|u| u.starts_with(TEST_REDIRECT)),
        "asserted below the level"
    );
    // A person who cannot prove identity: no P2 assertion either.
    let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &p2), "stub-a").await?;
    let seen = agent
        .submit(
            &page,
            "continue",
            &[("persona", "dana-whitfield"), ("outcome", "success")],
            Some(TEST_REDIRECT),
        )
        .await?;
    ensure!(seen.is_choice(&fed.hub), "at {}", seen.url);
    // A vot the client is not registered for cannot be asked.
    let seen = Agent::new()?
        .get(&authorize_url(&fed, &Pkce::new(), &[("vtr", Some(r#"["Cl.Cm.P3"]"#))]))
        .await?;
    ensure!(seen.location_params().get("error").map(String::as_str) == Some("invalid_request"));
    // What is asserted says what was reached.
    let pkce = Pkce::new();
    let code = get_code(&fed, &pkce).await?;
    let (_, tokens) = exchange(&fed, &code, &pkce.verifier, &fed.assertion(json!({}))?).await?;
    let claims = keys::peek_claims(tokens["id_token"].as_str().unwrap_or_default())?;
    ensure!(claims.get("vot").and_then(Value::as_str) == Some("Cl.Cm"), "{claims:?}");
    Ok(())
}

#[tokio::test]
async fn prompt_and_max_age_honoured_end_to_end_and_passed_to_the_provider() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &authorize_url(&fed, &Pkce::new(), &[]), "stub-a").await?;
    code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
    // prompt=login: to the provider again, and the provider is told.
    let page = to_provider_page(
        &mut agent,
        &authorize_url(&fed, &Pkce::new(), &[("prompt", Some("login"))]),
        "stub-a",
    )
    .await?;
    ensure!(page.url.contains("prompt=login"), "prompt not passed on: {}", page.url);
    code_of(&fed, &finish(&mut agent, &page, "success").await?)?;
    // prompt=none with a session: at once; without: login_required.
    let seen = agent
        .get(&authorize_url(&fed, &Pkce::new(), &[("prompt", Some("none"))]))
        .await?;
    ensure!(seen.location_params().contains_key("code"), "{:?}", seen.location);
    let seen = Agent::new()?
        .get(&authorize_url(&fed, &Pkce::new(), &[("prompt", Some("none"))]))
        .await?;
    ensure!(seen.location_params().get("error").map(String::as_str) == Some("login_required"));
    Ok(())
}

#[tokio::test]
async fn max_age_is_passed_to_the_provider_when_the_person_must_sign_in_again() -> Result<()> {
    let fed = Federation::start_with(Options {
        extra_clients: format!(
            r#"[[clients]]
client_id = "aged"
client_name = "Aged service"
redirect_uris = ["http://localhost:9/aged"]
max_age_enabled = true
public_key = """
{TEST_CLIENT_PUBLIC_KEY}"""
"#
        ),
        ..Options::default()
    })
    .await?;
    let url = authorize_url(
        &fed,
        &Pkce::new(),
        &[
            ("client_id", Some("aged")),
            ("redirect_uri", Some("http://localhost:9/aged")),
            ("scope", Some("openid")),
            ("max_age", Some("0")),
        ],
    );
    let mut agent = Agent::new()?;
    let page = to_provider_page(&mut agent, &url, "stub-a").await?;
    ensure!(page.url.contains("max_age=0"), "max_age not passed on: {}", page.url);
    Ok(())
}

#[tokio::test]
async fn user_enumeration() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    // The hub keeps no accounts, so no person can be enumerated. For services: an unknown client and a
    // known one with a bad assertion get the same answer.
    let unknown = crate::harness::assertion_with(
        &fed.client_key,
        &fed.hub,
        json!({"iss": "no-such-client", "sub": "no-such-client"}),
    )?;
    let forged = crate::harness::assertion_with(&keys::SigningKey::generate()?, &fed.hub, json!({}))?;
    let form = |a: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", "x".to_string()),
            ("redirect_uri", TEST_REDIRECT.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", a.to_string()),
        ]
    };
    let mut answers = Vec::new();
    for a in [&unknown, &forged] {
        let f = form(a);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        answers.push(token(&fed, &f).await?);
    }
    ensure!(
        answers[0] == answers[1],
        "unknown and known clients differ: {answers:?}"
    );
    Ok(())
}

#[tokio::test]
async fn unbounded_metrics_made_up_method_names_add_no_series() -> Result<()> {
    let fed = Federation::start(StoreKind::Memory).await?;
    let size = |text: &str| text.len();
    let before = reqwest::get(format!("{}/metrics", fed.hub)).await?.text().await?;
    let http = reqwest::Client::new();
    for i in 0..100 {
        let method = reqwest::Method::from_bytes(format!("M{i}{}", "X".repeat(10 * 1024)).as_bytes())?;
        let _ = http.request(method, format!("{}/authorize", fed.hub)).send().await;
    }
    let after = reqwest::get(format!("{}/metrics", fed.hub)).await?.text().await?;
    ensure!(!after.contains("XXXXXXXX"), "a made-up method became a label");
    ensure!(
        size(&after) < size(&before) + 16 * 1024,
        "metrics grew from {} to {} bytes",
        size(&before),
        size(&after)
    );
    Ok(())
}

/// Opens `n` connections that send half a request's headers and then nothing.
async fn half_sent(port: u16, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut open = Vec::new();
    for _ in 0..n {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
            open.push(s);
        }
    }
    open
}

/// Whether the server closed a connection (EOF or reset), waiting up to `within`.
async fn closed(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn slowloris_half_sent_headers_are_cut_off_and_capped() -> Result<()> {
    let fed = Federation::start_with(Options {
        hub_config: "header_read_timeout_secs = 2\nmax_connections_per_ip = 50".into(),
        ..Options::default()
    })
    .await?;
    let port: u16 = fed.hub.rsplit(':').next().unwrap_or_default().parse()?;
    // More than the per-address cap: the extra ones are closed at once.
    let mut open = half_sent(port, 80).await;
    let mut cut_at_once = 0;
    for s in open.iter_mut().skip(50) {
        if closed(s, Duration::from_secs(1)).await {
            cut_at_once += 1;
        }
    }
    ensure!(cut_at_once >= 25, "only {cut_at_once} of 30 over the cap were closed");
    // The rest are closed once their headers are overdue (a ceiling, not a timing assertion).
    let mut cut = 0;
    for s in open.iter_mut().take(50) {
        if closed(s, Duration::from_secs(30)).await {
            cut += 1;
        }
    }
    ensure!(cut == 50, "{cut} of 50 slow connections were closed");
    // And the hub still answers.
    ensure!(reqwest::get(format!("{}/healthz", fed.hub)).await?.status() == 200);
    let _ = free_port;
    Ok(())
}

#[tokio::test]
async fn a_sign_in_flood_costs_little_and_is_rate_limited() -> Result<()> {
    let fed = Federation::start_with(Options {
        store: StoreKind::Redis,
        hub_config: "rate_per_ip = { per_second = 5, burst = 20 }".into(),
        ..Options::default()
    })
    .await?;
    let mut limited = None;
    for i in 0..60 {
        let seen = Agent::new()?.get(&authorize_url(&fed, &Pkce::new(), &[])).await?;
        if seen.status == 429 {
            limited = Some((i, seen));
            break;
        }
    }
    let (i, seen) = limited.ok_or_else(|| anyhow!("60 requests in a burst were never limited"))?;
    ensure!(i >= 15, "limited after only {i}");
    ensure!(seen.body.contains("rate_limited"), "{}", seen.body);
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .get(authorize_url(&fed, &Pkce::new(), &[]))
        .send()
        .await?;
    ensure!(response.status() == 429);
    ensure!(response.headers().contains_key("retry-after"), "no Retry-After");
    // The journeys it did start are small and short-lived until someone acts on them.
    let prefix = fed.redis_prefix.clone().unwrap_or_default();
    let client = redis::Client::open(crate::harness::redis_url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}journey:*"))
        .query_async(&mut conn)
        .await?;
    ensure!(!keys.is_empty(), "no journeys stored");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
        ensure!(ttl > 0 && ttl <= 900_000, "{key}: TTL {ttl} ms");
        let len: i64 = redis::cmd("STRLEN").arg(&key).query_async(&mut conn).await?;
        ensure!(len < 4096, "{key}: {len} bytes");
    }
    Ok(())
}

#[tokio::test]
async fn personal_data_at_rest_is_sealed() -> Result<()> {
    let fed = Federation::start(StoreKind::Redis).await?;
    let core = r#"{"userinfo":{"https://vocab.account.gov.uk/v1/coreIdentityJWT":null}}"#;
    let mut agent = Agent::new()?;
    let url = authorize_url(
        &fed,
        &Pkce::new(),
        &[("vtr", Some(r#"["Cl.Cm.P2"]"#)), ("claims", Some(core))],
    );
    let page = to_provider_page(&mut agent, &url, "stub-a").await?;
    let _ = agent
        .submit(
            &page,
            "continue",
            &[("persona", "alex-morgan"), ("outcome", "success")],
            Some(TEST_REDIRECT),
        )
        .await?;
    let prefix = fed.redis_prefix.clone().unwrap_or_default();
    let client = redis::Client::open(crate::harness::redis_url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    ensure!(keys.iter().any(|k| k.contains("session:")), "{keys:?}");
    let browser = agent.cookie("__Host-hub-browser").unwrap_or_default();
    let session = agent.cookie("__Host-hub-session").unwrap_or_default();
    for key in &keys {
        ensure!(
            !key.contains(&session) || session.is_empty(),
            "a cookie value is a store key: {key}"
        );
        ensure!(
            !key.contains(&browser) || browser.is_empty(),
            "a cookie value is a store key: {key}"
        );
        let value: Vec<u8> = redis::cmd("GET").arg(key).query_async(&mut conn).await?;
        let text = String::from_utf8_lossy(&value);
        for personal in ["Alex", "Morgan", "1990", "alex.morgan", "Bristol"] {
            ensure!(!text.contains(personal), "{key} holds {personal:?} in the clear");
        }
    }
    Ok(())
}
