//! What a relying service needs beyond One Login's way, in-process: pushed authorization requests
//! (RFC 9126), DPoP-bound tokens (RFC 9449), the `oidc-basic` and `fapi2` profiles, the form post
//! response mode, key rotation without a restart, and `sid` in logout tokens.

use crate::app::{Browser, Ended, Now as _, Pkce, Seen, SignIn, TestApp, HUB, SVC, SVC_REDIRECT};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use hub::audit::Fact;
use serde_json::{json, Value};

const FAPI: &str = "fapi";
const BASIC: &str = "basic";
const BASIC_SECRET: &str = "a-client-secret-of-the-basic-client-0123456789";

/// A FAPI 2.0 client and an `oidc-basic` client, both with the test service's redirect URI.
fn clients() -> String {
    let hash = keys::hash_secret(BASIC_SECRET).unwrap();
    format!(
        r#"
[[clients]]
client_id = "{FAPI}"
client_name = "A FAPI service"
redirect_uris = ["{SVC_REDIRECT}"]
post_logout_redirect_uris = ["https://svc.example/signed-out"]
scopes = ["openid", "email"]
profile = "fapi2"
public_key = """
$SVC_KEY"""

[[clients]]
client_id = "{BASIC}"
client_name = "A generic service"
redirect_uris = ["{SVC_REDIRECT}"]
scopes = ["openid", "email"]
profile = "oidc-basic"
token_endpoint_auth_method = "client_secret_basic"
client_secret_hash = "{hash}"
"#
    )
}

fn app() -> TestApp {
    TestApp::new().with_client(&clients()).build()
}

fn claims_of(jwt: &str) -> Value {
    Value::Object(keys::peek_claims(jwt).unwrap())
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish()
}

/// A client assertion by the test service's key for `client`, with `aud` as given.
fn assertion(app: &TestApp, client: &str, aud: Value) -> String {
    let now = app.clock.now_secs();
    let claims = json!({
        "iss": client, "sub": client, "aud": aud,
        "jti": hub::ids::random_token(), "iat": now, "exp": now + 60,
    });
    app.service.key.sign_jwt("JWT", claims.as_object().unwrap()).unwrap()
}

/// A POST with a form body and extra headers.
async fn post(app: &TestApp, uri: &str, body: &[(&str, &str)], headers: &[(&str, String)]) -> Seen {
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in headers {
        request = request.header(*k, v.as_str());
    }
    app.send(request.body(Body::from(form(body))).unwrap()).await
}

/// The authorization request of the FAPI client, as form pairs.
fn fapi_request(pkce: &Pkce, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", FAPI),
        ("redirect_uri", SVC_REDIRECT),
        ("scope", "openid email"),
        ("state", "fapi-state"),
        ("nonce", "fapi-nonce"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    pairs
}

/// Pushes the FAPI client's request with an assertion whose `aud` is the issuer.
async fn push(app: &TestApp, pkce: &Pkce, extra: &[(&str, &str)], headers: &[(&str, String)]) -> Seen {
    let assertion = assertion(app, FAPI, json!(HUB));
    let mut pairs = fapi_request(pkce, extra);
    pairs.push((
        "client_assertion_type".into(),
        keys::client_assertion::JWT_BEARER.into(),
    ));
    pairs.push(("client_assertion".into(), assertion));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post(app, "/par", &pairs, headers).await
}

/// A DPoP proof by `key` for a request to the hub.
fn proof(
    app: &TestApp,
    key: &keys::SigningKey,
    method: &str,
    path: &str,
    nonce: Option<&str>,
    token: Option<&str>,
) -> String {
    keys::dpop::proof(key, method, &format!("{HUB}{path}"), app.clock.now_secs(), nonce, token).unwrap()
}

/// Redeems a FAPI code with a DPoP proof by `key`, answering the nonce challenge as a client does.
async fn redeem_with_dpop(app: &TestApp, code: &str, verifier: &str, key: &keys::SigningKey) -> (Seen, Seen) {
    let request = |assertion: String, dpop: String| {
        let app = &app;
        let code = code.to_string();
        let verifier = verifier.to_string();
        async move {
            post(
                app,
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", SVC_REDIRECT),
                    ("code_verifier", &verifier),
                    ("client_assertion_type", keys::client_assertion::JWT_BEARER),
                    ("client_assertion", &assertion),
                ],
                &[("dpop", dpop)],
            )
            .await
        }
    };
    let first = request(
        assertion(app, FAPI, json!(HUB)),
        proof(app, key, "POST", "/token", None, None),
    )
    .await;
    let nonce = first
        .headers
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let second = request(
        assertion(app, FAPI, json!(HUB)),
        proof(app, key, "POST", "/token", Some(&nonce), None),
    )
    .await;
    (first, second)
}

/// A pushed FAPI sign-in from PAR to the code.
async fn fapi_sign_in(
    app: &TestApp,
    browser: &mut Browser,
    extra: &[(&str, &str)],
    headers: &[(&str, String)],
) -> Ended {
    let pkce = Pkce::new();
    let pushed = push(app, &pkce, extra, headers).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.body);
    let request_uri = pushed.json()["request_uri"].as_str().unwrap().to_string();
    let url = format!(
        "/authorize?{}",
        form(&[("client_id", FAPI), ("request_uri", &request_uri)])
    );
    app.drive(browser, &url, pkce, SignIn::cl_cm()).await
}

#[tokio::test]
async fn par_gives_a_request_uri_that_yields_one_code_within_sixty_seconds() {
    let app = app();
    let pkce = Pkce::new();
    let pushed = push(&app, &pkce, &[], &[]).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.body);
    assert_eq!(pushed.headers[header::CACHE_CONTROL], "no-store");
    assert!(pushed.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body = pushed.json();
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let url = format!(
        "/authorize?{}",
        form(&[("client_id", FAPI), ("request_uri", &request_uri)])
    );

    // Only the pushed parameters count: a state in the query is ignored.
    let mut browser = Browser::default();
    let with_state = format!("{url}&state=from-the-query");
    let ended = app
        .drive(&mut browser, &with_state, pkce.clone(), SignIn::cl_cm())
        .await;
    let params = ended.last.params();
    assert!(ended.code().is_some(), "{:?}", ended.last);
    assert_eq!(params["state"], "fapi-state");
    assert_eq!(params["iss"], HUB);

    // Spent: a second use is a page, never a redirect.
    let again = Browser::default().get(&app, &url).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(again.location().is_empty());

    // Another client cannot use it; an expired one is refused.
    let pushed = push(&app, &Pkce::new(), &[], &[]).await;
    let uri = pushed.json()["request_uri"].as_str().unwrap().to_string();
    let other = Browser::default()
        .get(
            &app,
            &format!("/authorize?{}", form(&[("client_id", SVC), ("request_uri", &uri)])),
        )
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    app.clock.advance(61);
    let late = Browser::default()
        .get(
            &app,
            &format!("/authorize?{}", form(&[("client_id", FAPI), ("request_uri", &uri)])),
        )
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.location().is_empty());
}

#[tokio::test]
async fn par_refuses_what_authorize_would_and_more_in_json() {
    let app = app();
    let pkce = Pkce::new();
    type Case = (&'static str, Vec<(&'static str, &'static str)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "a request_uri inside",
            vec![("request_uri", "urn:x")],
            "invalid_request",
        ),
        (
            "an unregistered redirect_uri",
            vec![("redirect_uri", "https://evil.example/cb")],
            "invalid_request",
        ),
        ("no PKCE", vec![("code_challenge", "")], "invalid_request"),
        (
            "plain PKCE",
            vec![("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (
            "a hybrid response type",
            vec![("response_type", "code id_token")],
            "unsupported_response_type",
        ),
        ("another client_id", vec![("client_id", SVC)], "invalid_client"),
    ];
    for (name, extra, want) in cases {
        let seen = push(&app, &pkce, &extra, &[]).await;
        assert_eq!(seen.status, StatusCode::BAD_REQUEST, "{name}: {}", seen.body);
        assert_eq!(seen.json()["error"], want, "{name}");
        assert!(seen.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
    }
    // FAPI 2.0: the assertion's aud is the issuer as one string, nothing else.
    for aud in [
        json!(format!("{HUB}/par")),
        json!(format!("{HUB}/token")),
        json!([HUB, format!("{HUB}/token")]),
    ] {
        let mut pairs = fapi_request(&pkce, &[]);
        pairs.push((
            "client_assertion_type".into(),
            keys::client_assertion::JWT_BEARER.into(),
        ));
        pairs.push(("client_assertion".into(), assertion(&app, FAPI, aud.clone())));
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let seen = post(&app, "/par", &pairs, &[]).await;
        assert_eq!(seen.json()["error"], "invalid_client", "aud {aud}");
    }
    // No client authentication at all.
    let seen = post(&app, "/par", &[("client_id", FAPI), ("response_type", "code")], &[]).await;
    assert_eq!(seen.json()["error"], "invalid_client");
}

#[tokio::test]
async fn a_fapi2_client_must_push_and_without_state_or_nonce_still_signs_in() {
    let app = app();
    let pkce = Pkce::new();
    let pairs = fapi_request(&pkce, &[]);
    let url = format!(
        "/authorize?{}",
        form(&pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>())
    );
    let direct = Browser::default().get(&app, &url).await;
    assert!(direct.location().starts_with(SVC_REDIRECT), "{direct:?}");
    assert_eq!(direct.params()["error"], "invalid_request");

    let ended = fapi_sign_in(&app, &mut Browser::default(), &[("state", ""), ("nonce", "")], &[]).await;
    assert!(ended.code().is_some(), "{:?}", ended.last);
    assert!(
        !ended.last.params().contains_key("state"),
        "no state is returned when none was sent"
    );
}

#[tokio::test]
async fn fapi2_tokens_are_dpop_bound_with_server_nonces_and_userinfo_checks_every_proof() {
    let app = app();
    let mut browser = Browser::default();
    let ended = fapi_sign_in(&app, &mut browser, &[], &[]).await;
    let code = ended.code().unwrap();
    let key = keys::SigningKey::generate().unwrap();

    // Without a proof: refused (and the code is kept for the real request).
    let none = post(
        &app,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SVC_REDIRECT),
            ("code_verifier", &ended.pkce.verifier),
            ("client_assertion_type", keys::client_assertion::JWT_BEARER),
            ("client_assertion", &assertion(&app, FAPI, json!(HUB))),
        ],
        &[],
    )
    .await;
    assert_eq!(none.json()["error"], "invalid_dpop_proof", "{}", none.body);

    let (first, second) = redeem_with_dpop(&app, &code, &ended.pkce.verifier, &key).await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    assert_eq!(first.json()["error"], "use_dpop_nonce");
    assert_eq!(first.headers.get_all("dpop-nonce").iter().count(), 1);
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let tokens = second.json();
    assert_eq!(tokens["token_type"], "DPoP");
    assert!(second.headers.contains_key("dpop-nonce"));
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let nonce = second.headers["dpop-nonce"].to_str().unwrap().to_string();

    let userinfo = |scheme: &'static str, dpop: Option<String>| {
        let access = access.clone();
        let app = &app;
        async move {
            let mut r = Request::get("/userinfo").header(header::AUTHORIZATION, format!("{scheme} {access}"));
            if let Some(p) = dpop {
                r = r.header("dpop", p);
            }
            app.send(
                r.header("x-fapi-interaction-id", "c770aef3-6784-41f7-8e0e-ff5f97bddb3a")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
        }
    };
    let good = || proof(&app, &key, "GET", "/userinfo", Some(&nonce), Some(&access));
    // Bearer for a bound token, no proof, another key's proof, a proof for another token: 401.
    let other = keys::SigningKey::generate().unwrap();
    for (name, scheme, dpop) in [
        ("bearer", "Bearer", Some(good())),
        ("no proof", "DPoP", None),
        (
            "another key",
            "DPoP",
            Some(proof(&app, &other, "GET", "/userinfo", Some(&nonce), Some(&access))),
        ),
        (
            "another token",
            "DPoP",
            Some(proof(&app, &key, "GET", "/userinfo", Some(&nonce), Some("other"))),
        ),
        (
            "another method",
            "DPoP",
            Some(proof(&app, &key, "POST", "/userinfo", Some(&nonce), Some(&access))),
        ),
        (
            "no nonce",
            "DPoP",
            Some(proof(&app, &key, "GET", "/userinfo", None, Some(&access))),
        ),
    ] {
        let seen = userinfo(scheme, dpop).await;
        assert_eq!(seen.status, StatusCode::UNAUTHORIZED, "{name}: {}", seen.body);
        let www = seen.headers[header::WWW_AUTHENTICATE].to_str().unwrap().to_string();
        assert!(www.to_ascii_lowercase().starts_with("dpop "), "{name}: {www}");
    }
    let ok_proof = good();
    let seen = userinfo("dpOp", Some(ok_proof.clone())).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(
        seen.headers["x-fapi-interaction-id"],
        "c770aef3-6784-41f7-8e0e-ff5f97bddb3a"
    );
    // The same proof again is a replay.
    let replay = userinfo("DPoP", Some(ok_proof)).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn fapi2_codes_live_sixty_seconds_and_bind_to_a_dpop_key_given_at_par() {
    let app = app();
    let key = keys::SigningKey::generate().unwrap();
    let other = keys::SigningKey::generate().unwrap();
    // A code 61 s old is refused.
    let ended = fapi_sign_in(&app, &mut Browser::default(), &[], &[]).await;
    app.clock.advance(61);
    let (_, late) = redeem_with_dpop(&app, &ended.code().unwrap(), &ended.pkce.verifier, &key).await;
    assert_eq!(late.json()["error"], "invalid_grant", "{}", late.body);

    // dpop_jkt at PAR binds the code: another key cannot redeem it, the key can.
    let jkt = key.thumbprint().unwrap();
    let ended = fapi_sign_in(&app, &mut Browser::default(), &[("dpop_jkt", &jkt)], &[]).await;
    let (_, wrong) = redeem_with_dpop(&app, &ended.code().unwrap(), &ended.pkce.verifier, &other).await;
    assert_eq!(wrong.json()["error"], "invalid_dpop_proof", "{}", wrong.body);
    let ended = fapi_sign_in(&app, &mut Browser::default(), &[("dpop_jkt", &jkt)], &[]).await;
    let (_, right) = redeem_with_dpop(&app, &ended.code().unwrap(), &ended.pkce.verifier, &key).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);

    // A proof at PAR whose key is not dpop_jkt's is refused there.
    let nonce = hub::dpop::nonce(&app.state.keys.nonce_key, app.clock.now_secs());
    let at_par = proof(&app, &other, "POST", "/par", Some(&nonce), None);
    let seen = push(&app, &Pkce::new(), &[("dpop_jkt", &jkt)], &[("dpop", at_par)]).await;
    assert_eq!(seen.status, StatusCode::BAD_REQUEST);
    assert_eq!(seen.json()["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn an_oidc_basic_client_uses_its_secret_form_post_and_a_token_in_the_userinfo_body() {
    let app = app();
    let pkce = Pkce::new();
    let url = format!(
        "/authorize?{}",
        form(&[
            ("response_type", "code"),
            ("client_id", BASIC),
            ("redirect_uri", SVC_REDIRECT),
            ("scope", "openid email profile address"),
            ("state", "basic-state"),
            ("response_mode", "form_post"),
            ("display", "page"),
            ("extra", "foobar"),
        ])
    );
    let mut browser = Browser::default();
    let ended = app.drive(&mut browser, &url, pkce, SignIn::cl_cm()).await;
    // The response is a page that posts itself to the redirect URI, with a button for no JavaScript.
    let page = ended.last;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(
        page.body.contains(&format!(r#"action="{SVC_REDIRECT}""#)),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"id="continue""#));
    assert_eq!(page.hidden("state"), "basic-state");
    assert_eq!(page.hidden("iss"), HUB);
    let code = page.hidden("code");
    assert!(!code.is_empty());
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");

    // client_secret_basic at /token.
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{BASIC}:{BASIC_SECRET}"),
    );
    let tokens = post(
        &app,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SVC_REDIRECT),
        ],
        &[("authorization", format!("Basic {basic}"))],
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let id = claims_of(tokens.json()["id_token"].as_str().unwrap());
    assert!(id.get("nonce").is_none(), "no nonce was sent, none comes back");
    let access = tokens.json()["access_token"].as_str().unwrap().to_string();
    let info = post(&app, "/userinfo", &[("access_token", &access)], &[]).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.json()["sub"], id["sub"]);

    // A One Login client's token in a body is refused.
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let tokens = app
        .service
        .redeem(&app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await;
    let access = tokens.json()["access_token"].as_str().unwrap().to_string();
    let info = post(&app, "/userinfo", &[("access_token", &access)], &[]).await;
    assert_eq!(info.status, StatusCode::BAD_REQUEST);
    assert_eq!(info.json()["error"], "invalid_request");
}

#[tokio::test]
async fn errors_reach_a_form_post_client_by_form_post_and_unsigned_request_objects_are_not_supported() {
    let app = app();
    let url = format!(
        "/authorize?{}",
        form(&[
            ("client_id", BASIC),
            ("redirect_uri", SVC_REDIRECT),
            ("scope", "openid"),
            ("state", "s1"),
            ("response_mode", "form_post"),
        ])
    );
    let seen = Browser::default().get(&app, &url).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.hidden("error"), "invalid_request");
    assert_eq!(seen.hidden("state"), "s1");

    // An alg:none request object from an oidc-basic client: request_not_supported at its redirect URI.
    let b64 = |v: Value| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, v.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none"})),
        b64(
            json!({"client_id": BASIC, "response_type": "code", "scope": "openid", "redirect_uri": SVC_REDIRECT, "state": "inside"})
        )
    );
    let url = format!(
        "/authorize?{}",
        form(&[
            ("client_id", BASIC),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", SVC_REDIRECT),
            ("request", &unsigned),
        ])
    );
    let seen = Browser::default().get(&app, &url).await;
    assert!(seen.location().starts_with(SVC_REDIRECT), "{seen:?}");
    assert_eq!(seen.params()["error"], "request_not_supported");
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let seen = app.get("/.well-known/jwks.json").await;
    seen.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn signing_kid(app: &TestApp) -> String {
    let ended = app.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    let tokens = app
        .service
        .redeem(app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await;
    keys::decode_header(tokens.json()["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap()
}

async fn did_ids(app: &TestApp) -> usize {
    app.get("/.well-known/did.json").await.json()["assertionMethod"]
        .as_array()
        .unwrap()
        .len()
}

/// A key file that cannot be read (dropped in by mistake) leaves the keys in use as they were, and
/// `/readyz` reports it without taking the instance out: every instance reads the same files.
#[tokio::test]
async fn a_broken_key_file_is_reported_by_readyz_and_changes_nothing() {
    let app = app();
    let kid = signing_kid(&app).await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.json()["checks"]["keys"], "ok");
    let broken = app
        .state
        .keys
        .dir()
        .join(format!("hub-signing@{}.pem", app.clock.now_secs() + 60));
    std::fs::write(&broken, "not a key").unwrap();
    assert!(app.state.keys.reload().is_err());
    let ready = app.get("/readyz").await;
    assert_eq!(
        ready.status,
        StatusCode::OK,
        "still ready: the keys read last still sign"
    );
    assert_eq!(ready.json()["checks"]["keys"], "failing");
    assert_eq!(signing_kid(&app).await, kid);
    std::fs::remove_file(&broken).unwrap();
    assert!(app.state.keys.reload().is_ok());
    assert_eq!(app.get("/readyz").await.json()["checks"]["keys"], "ok");
}

#[tokio::test]
async fn keys_rotate_without_a_restart_published_before_they_sign_and_kept_until_their_tokens_expire() {
    let app = app();
    let old = signing_kid(&app).await;
    let before = jwks_kids(&app).await;
    assert_eq!(
        app.get("/.well-known/jwks.json").await.headers[header::CACHE_CONTROL],
        "public, max-age=86400"
    );

    // A key that signs in 100 s is published at once; the old one still signs.
    let at = app.clock.now_secs() + 100;
    let new = app.state.keys.rotate("hub-signing", at).unwrap();
    let during = jwks_kids(&app).await;
    assert!(during.contains(&new) && during.contains(&old), "{during:?}");
    assert_eq!(during.len(), before.len() + 1);
    assert_eq!(signing_kid(&app).await, old);

    // From its time, the new key signs; the old one stays published while its tokens may live.
    app.clock.advance(100);
    assert_eq!(signing_kid(&app).await, new);
    assert!(jwks_kids(&app).await.contains(&old));
    app.clock.advance(150 + keys::SKEW_SECS);
    let after = jwks_kids(&app).await;
    assert!(!after.contains(&old) && after.contains(&new), "{after:?}");

    // The identity credential key rotates the same way in the DID document.
    assert_eq!(did_ids(&app).await, 1);
    app.state
        .keys
        .rotate("hub-identity", app.clock.now_secs() + 10)
        .unwrap();
    assert_eq!(did_ids(&app).await, 2);
}

/// Signs in, logs out, and waits for the back-channel logout's audit fact: (delivered, attempts), and
/// the POSTs the service saw.
async fn logout_and_wait_for_delivery(app: &TestApp) -> (bool, u32, usize) {
    let mut browser = Browser::default();
    let ended = app.sign_in(&mut browser, SignIn::cl_cm()).await;
    let tokens = app
        .service
        .redeem(app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await;
    let hint = tokens.json()["id_token"].as_str().unwrap().to_string();
    let out = browser
        .get(app, &format!("/logout?{}", form(&[("id_token_hint", &hint)])))
        .await;
    assert!(out.status.is_success() || out.status.is_redirection(), "{out:?}");
    // The backoff between attempts is real time (0.5, 1 and 2 s): wait up to a minute.
    for _ in 0..600 {
        let told = app.audit.facts().into_iter().find_map(|f| match f {
            Fact::BackchannelLogout {
                delivered, attempts, ..
            } => Some((delivered, attempts)),
            _ => None,
        });
        if let Some((delivered, attempts)) = told {
            let posts = app
                .provider
                .seen()
                .iter()
                .filter(|s| s.url == "https://svc.example/backchannel")
                .count();
            return (delivered, attempts, posts);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the back-channel logout was never finished");
}

/// A service whose back-channel endpoint fails twice is told on the third attempt, after backoff; one
/// that keeps failing is given up on after four attempts. Both are counted in the metrics.
#[tokio::test]
async fn back_channel_logout_is_retried_with_backoff_and_given_up_after_four_attempts() {
    let app = app();
    app.provider.refuse_service_posts(2);
    assert_eq!(logout_and_wait_for_delivery(&app).await, (true, 3, 3));

    let app = self::app();
    app.provider.refuse_service_posts(100);
    assert_eq!(logout_and_wait_for_delivery(&app).await, (false, 4, 4));

    let metrics = app.get("/metrics").await.body;
    for line in [
        "hub_backchannel_logout_total{outcome=\"delivered\"}",
        "hub_backchannel_logout_total{outcome=\"gave_up\"}",
        "hub_backchannel_logout_attempts_total",
    ] {
        assert!(metrics.contains(line), "{line} missing from /metrics");
    }
}

#[tokio::test]
async fn logout_tokens_carry_the_sid_and_sub_of_the_services_id_tokens() {
    let app = app();
    let mut browser = Browser::default();
    let ended = app.sign_in(&mut browser, SignIn::cl_cm()).await;
    let tokens = app
        .service
        .redeem(&app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await;
    let id_token = tokens.json()["id_token"].as_str().unwrap().to_string();
    let id = claims_of(&id_token);
    // A second sign-in in the same session gives the same sid.
    let again = app.sign_in(&mut browser, SignIn::cl_cm()).await;
    let tokens = app
        .service
        .redeem(&app, &again.code().unwrap(), &again.pkce.verifier)
        .await;
    assert_eq!(claims_of(tokens.json()["id_token"].as_str().unwrap())["sid"], id["sid"]);

    let url = format!(
        "/logout?{}",
        form(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://svc.example/signed-out"),
            ("state", "bye"),
        ])
    );
    let out = browser.get(&app, &url).await;
    assert_eq!(out.location(), "https://svc.example/signed-out?state=bye");
    let mut token = None;
    for _ in 0..200 {
        token = app
            .provider
            .seen()
            .into_iter()
            .filter(|s| s.url == "https://svc.example/backchannel")
            .find_map(|s| s.form.into_iter().find(|(k, _)| k == "logout_token").map(|(_, v)| v));
        if token.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let logout = claims_of(&token.expect("a logout token was posted"));
    assert_eq!(logout["sid"], id["sid"]);
    assert_eq!(logout["sub"], id["sub"]);
    assert!(logout.get("nonce").is_none());

    // After logout, prompt=none is login_required.
    let pkce = Pkce::new();
    let url = app.service.authorize(&pkce, "Cl.Cm", &[], &[("prompt", "none")]);
    let seen = browser.get(&app, &url).await;
    assert_eq!(seen.params()["error"], "login_required");
}
