//! In-process router tests (`oneshot`, no socket for the service itself). A full sign-in is tested end to
//! end against the real hub in the workspace's `tests` crate.

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    response::Response,
    Router,
};
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge};
use rp_example::{oidc::Level, store::PendingLogin, AppState, Config};
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A service under test, its state, and the temporary directory holding its key.
struct TestApp {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl TestApp {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        Self::with_issuer("http://127.0.0.1:1")
    }

    /// `issuer` defaults to a port nothing listens on: an unreachable hub.
    fn with_issuer(issuer: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let config = Config {
            issuer: issuer.into(),
            key_path: dir.path().join("rp.pem"),
            service_name: "Test service".into(),
            ..Config::default()
        };
        Ok(Self {
            state: AppState::new(config)?,
            _dir: dir,
        })
    }

    fn router(&self) -> Router {
        rp_example::router(self.state.clone())
    }

    async fn get(&self, uri: &str, cookie: Option<&str>) -> Result<Response, Box<dyn std::error::Error>> {
        let mut request = Request::get(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        Ok(self.router().oneshot(request.body(Body::empty())?).await?)
    }
}

async fn body(response: Response) -> Result<String, Box<dyn std::error::Error>> {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
    Ok(String::from_utf8(bytes.to_vec())?)
}

fn location(response: &Response) -> &str {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn start_page_renders_with_the_sign_in_button() -> TestResult {
    let app = TestApp::new()?;
    let response = app.get("/", None).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let html = body(response).await?;
    assert!(html.contains(r#"id="sign-in""#), "{html}");
    assert!(html.contains("govuk-button--start"));
    assert!(html.contains(r#"action="/sign-in""#));
    assert!(html.contains(r#"id="level-cl-cm" name="level" type="radio" value="Cl.Cm" checked"#));
    assert!(html.contains(r#"id="level-cl-cm-p2" name="level" type="radio" value="Cl.Cm.P2""#));
    assert!(html.contains("Sign in and prove your identity"));
    assert!(html.contains(r#"<span class="govuk-header__service-name">Test service</span>"#));
    assert!(!html.contains(r#"href="/account""#));
    Ok(())
}

#[tokio::test]
async fn sign_in_with_an_unreachable_hub_shows_the_try_again_page() -> TestResult {
    let app = TestApp::new()?;
    let response = app.get("/sign-in?level=Cl.Cm", None).await?;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = body(response).await?;
    assert!(html.contains("Sorry, there is a problem with the service"), "{html}");
    assert!(html.contains(r#"id="error-code">hub_unavailable<"#));
    assert!(html.contains("Try again"));
    assert!(html.contains(r#"<span class="govuk-header__service-name">Test service</span>"#));
    Ok(())
}

#[tokio::test]
async fn sign_in_with_an_unknown_level_is_a_400_page() -> TestResult {
    let app = TestApp::new()?;
    let response = app.get("/sign-in?level=P3", None).await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body(response).await?.contains(r#"id="error-code">invalid_level<"#));
    Ok(())
}

#[tokio::test]
async fn callback_with_access_denied_shows_the_code() -> TestResult {
    let app = TestApp::new()?;
    let response = app
        .get(
            "/callback?error=access_denied&error_description=The+person+said+no&state=x",
            None,
        )
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = body(response).await?;
    assert!(html.contains(r#"id="error-code">access_denied<"#), "{html}");
    assert!(html.contains("The person said no"));
    assert!(html.contains(r#"href="/""#));
    Ok(())
}

#[tokio::test]
async fn callback_error_text_is_escaped() -> TestResult {
    let app = TestApp::new()?;
    let html = body(app.get("/callback?error=%3Cscript%3E", None).await?).await?;
    assert!(!html.contains("<script>"));
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "{html}"
    );
    Ok(())
}

#[tokio::test]
async fn callback_with_a_wrong_state_is_refused() -> TestResult {
    let app = TestApp::new()?;
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let login = PendingLogin::new(
        CsrfToken::new("right".into()),
        Nonce::new("n".into()),
        verifier,
        Level::ClCm,
        app.state.clock.now(),
    );
    let id = app.state.logins.insert(login, app.state.clock.now());
    let cookie = format!("__Host-rp-login={id}");
    let response = app.get("/callback?code=abc&state=wrong", Some(&cookie)).await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("__Host-rp-login=;")),
        "{:?}",
        set_cookies(&response)
    );
    assert!(body(response).await?.contains(r#"id="error-code">state_mismatch<"#));
    // The login was single use: the right state now finds nothing.
    let response = app.get("/callback?code=abc&state=right", Some(&cookie)).await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body(response).await?.contains(r#"id="error-code">login_not_found<"#));
    Ok(())
}

#[tokio::test]
async fn callback_without_a_login_cookie_is_refused() -> TestResult {
    let app = TestApp::new()?;
    let response = app.get("/callback?code=abc&state=s", None).await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body(response).await?.contains(r#"id="error-code">login_not_found<"#));
    Ok(())
}

#[tokio::test]
async fn jwks_contains_the_key() -> TestResult {
    let app = TestApp::new()?;
    let response = app.get("/jwks.json", None).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: serde_json::Value = serde_json::from_str(&body(response).await?)?;
    assert_eq!(jwks["keys"][0]["kid"], app.state.key.kid());
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert!(jwks["keys"][0].get("d").is_none());
    let verifier = keys::VerifyingKeys::from_jwks(&jwks)?;
    let assertion = rp_example::assertion::client_assertion(&app.state.key, "rp-example", "http://hub/token", 1)?;
    assert!(verifier.verify(&assertion).is_ok());
    Ok(())
}

#[tokio::test]
async fn account_without_a_session_goes_to_the_start() -> TestResult {
    let app = TestApp::new()?;
    let response = app.get("/account", None).await?;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/");
    Ok(())
}

#[tokio::test]
async fn account_shows_the_session() -> TestResult {
    let app = TestApp::new()?;
    let userinfo = serde_json::json!({
        "sub": "urn:fdc:gov.uk:2022:abc",
        "email": "a@example.com",
        "https://vocab.account.gov.uk/v1/coreIdentityJWT": "e30.e30.sig",
    });
    let session = rp_example::store::Session::new(
        "urn:fdc:gov.uk:2022:abc".into(),
        "Cl.Cm".into(),
        Some("http://hub/trustmark".into()),
        Some("sid-1".into()),
        "id.token.here".into(),
        userinfo.as_object().cloned().unwrap_or_default(),
        app.state.clock.now(),
    );
    let id = app.state.sessions.insert(session, app.state.clock.now());
    let cookie = format!("__Host-rp-session={id}");
    let response = app.get("/account", Some(&cookie)).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let html = body(response).await?;
    assert!(html.contains("You are signed in"));
    assert!(html.contains(r#"id="sub">urn:fdc:gov.uk:2022:abc<"#), "{html}");
    assert!(html.contains(r#"id="vot">Cl.Cm<"#));
    assert!(html.contains(r#"<pre id="claims""#));
    assert!(html.contains("a@example.com"));
    assert!(html.contains(r#"id="core-identity""#));
    assert!(html.contains(r#"id="sign-out""#));
    // The start page now links to the account.
    assert!(body(app.get("/", Some(&cookie)).await?)
        .await?
        .contains(r#"href="/account""#));
    // Signing out with the hub unreachable ends the session locally.
    let response = app.get("/sign-out", Some(&cookie)).await?;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "http://127.0.0.1:3000/signed-out");
    assert!(set_cookies(&response)
        .iter()
        .any(|c| c.starts_with("__Host-rp-session=;")));
    assert_eq!(app.get("/account", Some(&cookie)).await?.status(), StatusCode::FOUND);
    Ok(())
}

#[tokio::test]
async fn signed_out_and_healthz() -> TestResult {
    let app = TestApp::new()?;
    let response = app.get("/signed-out", None).await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body(response).await?.contains("You have signed out"));
    assert_eq!(app.get("/healthz", None).await?.status(), StatusCode::OK);
    assert_eq!(
        app.get("/assets/govuk-frontend.min.css", None).await?.status(),
        StatusCode::OK
    );
    Ok(())
}

#[tokio::test]
async fn backchannel_logout_without_a_token_is_invalid_request() -> TestResult {
    let app = TestApp::new()?;
    let request = Request::post("/backchannel-logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("logout_token=not.a.jwt"))?;
    let response = app.router().oneshot(request).await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(response).await?, r#"{"error":"invalid_request"}"#);
    Ok(())
}

/// A stand-in hub serving only discovery and JWKS on an ephemeral port.
async fn fake_hub() -> Result<(String, keys::SigningKey), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let key = keys::SigningKey::generate()?;
    let jwks = keys::jwks([&key]);
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "vtr_values_supported": ["Cl.Cm", "Cl.Cm.P2"],
        "claims_supported": ["sub", "https://vocab.account.gov.uk/v1/coreIdentityJWT"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "trustmarks": format!("{issuer}/trustmark"),
    });
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/.well-known/jwks.json",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((issuer, key))
}

#[tokio::test]
async fn sign_in_redirects_to_the_hub_with_pkce_vtr_and_claims() -> TestResult {
    let (issuer, hub_key) = fake_hub().await?;
    let app = TestApp::with_issuer(&issuer)?;
    let response = app.get("/sign-in?level=Cl.Cm.P2", None).await?;
    assert_eq!(response.status(), StatusCode::FOUND);
    let url = url::Url::parse(location(&response))?;
    assert_eq!(
        format!("{}://{}{}", url.scheme(), url.authority(), url.path()),
        format!("{issuer}/authorize")
    );
    let params: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(params.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(params.get("client_id").map(String::as_str), Some("rp-example"));
    assert_eq!(
        params.get("redirect_uri").map(String::as_str),
        Some("http://127.0.0.1:3000/callback")
    );
    assert_eq!(params.get("scope").map(String::as_str), Some("openid email"));
    assert_eq!(params.get("code_challenge_method").map(String::as_str), Some("S256"));
    assert_eq!(params.get("vtr").map(String::as_str), Some(r#"["Cl.Cm.P2"]"#));
    for name in ["state", "nonce", "code_challenge"] {
        assert!(params.get(name).is_some_and(|v| v.len() >= 22), "{name}");
    }
    let claims: serde_json::Value = serde_json::from_str(params.get("claims").map(String::as_str).unwrap_or("{}"))?;
    assert!(claims["userinfo"]
        .get("https://vocab.account.gov.uk/v1/coreIdentityJWT")
        .is_some());
    let cookies = set_cookies(&response);
    let login = cookies
        .iter()
        .find(|c| c.starts_with("__Host-rp-login="))
        .cloned()
        .unwrap_or_default();
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(login.contains(flag), "{login}");
    }

    // The ordinary level sends no claims request.
    let response = app.get("/sign-in", None).await?;
    let url = url::Url::parse(location(&response))?;
    assert!(url.query_pairs().all(|(k, _)| k != "claims"));
    assert!(url.query_pairs().any(|(k, v)| k == "vtr" && v == r#"["Cl.Cm"]"#));

    // RFC 9207: the hub says it sends iss, so a callback with another iss is refused.
    let cookie = login.split(';').next().unwrap_or_default().to_string();
    let state = params.get("state").cloned().unwrap_or_default();
    let response = app
        .get(
            &format!("/callback?code=c&state={state}&iss=http%3A%2F%2Fevil"),
            Some(&cookie),
        )
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body(response).await?.contains(r#"id="error-code">iss_mismatch<"#));

    // A logout token signed by the hub's key ends the person's sessions.
    let now = app.state.clock.now();
    let session = rp_example::store::Session::new(
        "alice".into(),
        "Cl.Cm".into(),
        None,
        None,
        "t".into(),
        serde_json::Map::new(),
        now,
    );
    let id = app.state.sessions.insert(session, now);
    let claims = serde_json::json!({
        "iss": issuer, "aud": "rp-example", "iat": now, "exp": now + 120, "jti": "j1", "sub": "alice",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    let token = hub_key.sign_jwt("logout+jwt", claims.as_object().ok_or("claims")?)?;
    let request = Request::post("/backchannel-logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("logout_token={token}")))?;
    assert_eq!(app.router().oneshot(request).await?.status(), StatusCode::OK);
    assert!(app.state.sessions.get(&id, now).is_none());
    Ok(())
}

/// What the full-flow fake hub saw and must put in the ID token.
#[derive(Default)]
struct Seen {
    nonce: String,
    token_form: std::collections::HashMap<String, String>,
    did_fetches: usize,
}

/// The identity claims the fake hub puts in userinfo.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Identity {
    /// A coreIdentityJWT signed with the key of its did.json, an address and a return code.
    Valid,
    /// A coreIdentityJWT signed with a key that is not in its did.json.
    UnknownKey,
    /// A coreIdentityJWT signed with the right key, but for another subject.
    OtherSubject,
    /// Only a return code (a failed identity check).
    ReturnCodeOnly,
    /// No identity claims at all.
    Nothing,
}

const SUB: &str = "urn:fdc:gov.uk:2022:xyz";

/// A stand-in hub with a token and userinfo endpoint and a DID document, for one whole sign-in.
async fn fake_hub_with_tokens(
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
    identity: Identity,
) -> Result<String, Box<dyn std::error::Error>> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    use sha2::Digest as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let issuer = format!("http://{addr}");
    let key = std::sync::Arc::new(keys::SigningKey::generate()?);
    let jwks = keys::jwks([key.as_ref()]);
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });

    // The identity key, published in did.json as the contract (INTERFACE.md §5) describes.
    let did = format!("did:web:{}%3A{}", addr.ip(), addr.port());
    let did_key = keys::SigningKey::generate()?;
    let stranger = keys::SigningKey::generate()?;
    let did_document = serde_json::json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": did,
        "assertionMethod": [{
            "id": format!("{did}#{}", did_key.kid()), "type": "JsonWebKey", "controller": did,
            "publicKeyJwk": did_key.public_jwk(),
        }],
    });
    let now = rp_example::Clock::now(&rp_example::SystemClock);
    let credential = serde_json::json!({
        "iss": issuer,
        "sub": if identity == Identity::OtherSubject { "urn:fdc:gov.uk:2022:other" } else { SUB },
        "aud": "rp-example", "nbf": now, "iat": now, "exp": now + 1800,
        "vot": "P2", "vtm": format!("{issuer}/trustmark"),
        "vc": {
            "type": ["VerifiableCredential", "VerifiableIdentityCredential"],
            "credentialSubject": {
                "name": [{"nameParts": [
                    {"type": "GivenName", "value": "Kenneth"},
                    {"type": "FamilyName", "value": "Decerqueira"},
                ]}],
                "birthDate": [{"value": "1965-07-08"}],
            },
        },
    });
    let credential = credential.as_object().cloned().unwrap_or_default();
    let signer = if identity == Identity::UnknownKey {
        &stranger
    } else {
        &did_key
    };
    let core_identity_jwt = signer.sign_jwt_with_kid("JWT", &format!("{did}#{}", signer.kid()), &credential)?;

    let token = {
        let (issuer, seen) = (issuer.clone(), seen.clone());
        move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| async move {
            let access_token = "access-token-1";
            let at_hash = URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(access_token.as_bytes())[..16]);
            let now = rp_example::Clock::now(&rp_example::SystemClock);
            let nonce = seen.lock().map(|s| s.nonce.clone()).unwrap_or_default();
            let claims = serde_json::json!({
                "iss": issuer, "sub": SUB, "aud": "rp-example", "iat": now, "exp": now + 120,
                "nonce": nonce, "at_hash": at_hash, "vot": "Cl.Cm", "vtm": format!("{issuer}/trustmark"), "sid": "sid-9",
                "auth_time": now,
            });
            let claims = claims.as_object().cloned().unwrap_or_default();
            let id_token = key.sign_jwt("JWT", &claims).unwrap_or_default();
            if let Ok(mut s) = seen.lock() {
                s.token_form = form;
            }
            axum::Json(serde_json::json!({
                "access_token": access_token, "token_type": "Bearer", "expires_in": 180, "id_token": id_token,
            }))
        }
    };
    let mut answer = serde_json::json!({"sub": SUB, "email": "p@example.com", "email_verified": true});
    match identity {
        Identity::Valid | Identity::UnknownKey | Identity::OtherSubject => {
            answer["https://vocab.account.gov.uk/v1/coreIdentityJWT"] = serde_json::json!(core_identity_jwt);
            answer["https://vocab.account.gov.uk/v1/address"] =
                serde_json::json!([{"buildingNumber": "10", "streetName": "Downing Street", "postalCode": "SW1A 2AA"}]);
            answer["https://vocab.account.gov.uk/v1/passport"] = serde_json::json!([{"documentNumber": "123456789", "expiryDate": "2030-01-01", "icaoIssuerCode": "GBR"}]);
            answer["https://vocab.account.gov.uk/v1/returnCode"] = serde_json::json!([{"code": "X"}]);
        }
        Identity::ReturnCodeOnly => {
            answer["https://vocab.account.gov.uk/v1/returnCode"] = serde_json::json!([{"code": "B"}, {"code": "C"}]);
        }
        Identity::Nothing => {}
    }
    let userinfo = move |headers: axum::http::HeaderMap| async move {
        let ok = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some("Bearer access-token-1");
        if !ok {
            return (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({})));
        }
        (StatusCode::OK, axum::Json(answer))
    };
    let did_json = {
        let seen = seen.clone();
        move || async move {
            if let Ok(mut s) = seen.lock() {
                s.did_fetches += 1;
            }
            axum::Json(did_document)
        }
    };
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/.well-known/jwks.json",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        )
        .route("/.well-known/did.json", axum::routing::get(did_json))
        .route("/token", axum::routing::post(token))
        .route("/userinfo", axum::routing::get(userinfo));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(issuer)
}

/// The value of the cookie `name` among `Set-Cookie` headers, as `name=value`.
fn cookie_named(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|c| c.starts_with(&format!("{name}=")))
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// Starts a sign-in at `level` and comes back to `/callback` as the fake hub would: the callback's response.
async fn sign_in_through_the_fake_hub(
    app: &TestApp,
    seen: &std::sync::Arc<std::sync::Mutex<Seen>>,
    level: &str,
) -> Result<Response, Box<dyn std::error::Error>> {
    let response = app.get(&format!("/sign-in?level={level}"), None).await?;
    let url = url::Url::parse(location(&response))?;
    let params: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    if let Ok(mut s) = seen.lock() {
        s.nonce = params.get("nonce").cloned().unwrap_or_default();
    }
    let cookie = cookie_named(&set_cookies(&response), "__Host-rp-login");
    let state = params.get("state").cloned().unwrap_or_default();
    app.get(&format!("/callback?code=the-code&state={state}"), Some(&cookie))
        .await
}

#[tokio::test]
async fn whole_sign_in_against_a_fake_hub() -> TestResult {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let issuer = fake_hub_with_tokens(seen.clone(), Identity::Valid).await?;
    let app = TestApp::with_issuer(&issuer)?;
    let response = sign_in_through_the_fake_hub(&app, &seen, "Cl.Cm.P2").await?;
    let status = response.status();
    let cookies = set_cookies(&response);
    let where_to = location(&response).to_string();
    assert_eq!(status, StatusCode::FOUND, "{}", body(response).await?);
    assert_eq!(where_to, "/account");

    // The token request: PKCE verifier and private_key_jwt with the RP's key.
    let form = seen.lock().map(|s| s.token_form.clone()).unwrap_or_default();
    assert_eq!(form.get("grant_type").map(String::as_str), Some("authorization_code"));
    assert_eq!(form.get("code").map(String::as_str), Some("the-code"));
    assert_eq!(form.get("client_id").map(String::as_str), Some("rp-example"));
    assert!(form.get("code_verifier").is_some_and(|v| v.len() >= 43));
    assert_eq!(
        form.get("client_assertion_type").map(String::as_str),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let rp_keys = keys::VerifyingKeys::from_jwks(&keys::jwks([app.state.key.as_ref()]))?;
    let (_, assertion) = rp_keys.verify(form.get("client_assertion").map(String::as_str).unwrap_or_default())?;
    assert_eq!(
        assertion.get("aud"),
        Some(&serde_json::json!(format!("{issuer}/token")))
    );

    // The account page shows what came back, the verified identity included.
    let session = cookie_named(&cookies, "__Host-rp-session");
    let html = body(app.get("/account", Some(&session)).await?).await?;
    assert!(html.contains(r#"id="sub">urn:fdc:gov.uk:2022:xyz<"#), "{html}");
    assert!(html.contains(r#"id="vot">Cl.Cm<"#));
    assert!(html.contains(r#"<pre id="claims""#));
    assert!(html.contains(r#"id="name">Kenneth Decerqueira<"#), "{html}");
    assert!(html.contains(r#"id="birth-date">1965-07-08<"#));
    assert!(html.contains(r#"id="identity-level">P2<"#));
    assert!(html.contains(r#"id="return-code">X<"#));
    assert!(html.contains(r#"<pre id="address""#) && html.contains("SW1A 2AA"));
    assert!(html.contains(r#"<pre id="passport""#) && html.contains("123456789"));
    assert!(!html.contains(r#"id="driving-permit""#));
    assert!(html.contains(r#"id="core-identity-status">Valid: signed by did:web:127.0.0.1%3A"#));
    assert!(html.contains(r#"id="sign-out""#));

    // A second sign-in uses the cached DID document.
    let response = sign_in_through_the_fake_hub(&app, &seen, "Cl.Cm.P2").await?;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(seen.lock().map(|s| s.did_fetches).unwrap_or_default(), 1);
    Ok(())
}

/// The callback's error page and cookies, for a sign-in at `level` against a hub sending `identity`.
async fn refused_sign_in(
    identity: Identity,
    level: &str,
) -> Result<(StatusCode, String, Vec<String>), Box<dyn std::error::Error>> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let issuer = fake_hub_with_tokens(seen.clone(), identity).await?;
    let app = TestApp::with_issuer(&issuer)?;
    let response = sign_in_through_the_fake_hub(&app, &seen, level).await?;
    let status = response.status();
    let cookies = set_cookies(&response);
    Ok((status, body(response).await?, cookies))
}

#[tokio::test]
async fn a_core_identity_signed_by_a_key_not_in_did_json_is_refused() -> TestResult {
    let (status, html, cookies) = refused_sign_in(Identity::UnknownKey, "Cl.Cm.P2").await?;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{html}");
    assert!(html.contains(r#"id="error-code">invalid_core_identity<"#), "{html}");
    assert!(html.contains("Sorry, there is a problem with the service"));
    assert!(
        !cookies.iter().any(|c| c.starts_with("__Host-rp-session=")),
        "{cookies:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_core_identity_for_another_subject_is_refused() -> TestResult {
    let (status, html, cookies) = refused_sign_in(Identity::OtherSubject, "Cl.Cm.P2").await?;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{html}");
    assert!(html.contains(r#"id="error-code">invalid_core_identity<"#), "{html}");
    assert!(html.contains("sub differs"), "{html}");
    assert!(!cookies.iter().any(|c| c.starts_with("__Host-rp-session=")));
    Ok(())
}

#[tokio::test]
async fn an_identity_journey_without_core_identity_or_return_code_is_refused() -> TestResult {
    let (status, html, cookies) = refused_sign_in(Identity::Nothing, "Cl.Cm.P2").await?;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{html}");
    assert!(html.contains(r#"id="error-code">missing_core_identity<"#), "{html}");
    assert!(!cookies.iter().any(|c| c.starts_with("__Host-rp-session=")));
    // Without identity asked for, nothing is missing.
    let (status, html, _) = refused_sign_in(Identity::Nothing, "Cl.Cm").await?;
    assert_eq!(status, StatusCode::FOUND, "{html}");
    Ok(())
}

#[tokio::test]
async fn an_identity_journey_ending_in_a_return_code_signs_in_and_shows_it() -> TestResult {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let issuer = fake_hub_with_tokens(seen.clone(), Identity::ReturnCodeOnly).await?;
    let app = TestApp::with_issuer(&issuer)?;
    let response = sign_in_through_the_fake_hub(&app, &seen, "Cl.Cm.P2").await?;
    assert_eq!(response.status(), StatusCode::FOUND);
    let session = cookie_named(&set_cookies(&response), "__Host-rp-session");
    let html = body(app.get("/account", Some(&session)).await?).await?;
    assert!(html.contains(r#"id="return-code">B, C<"#), "{html}");
    assert!(!html.contains(r#"id="name""#));
    assert!(!html.contains(r#"id="core-identity""#));
    // No credential: no DID document needed.
    assert_eq!(seen.lock().map(|s| s.did_fetches).unwrap_or_default(), 0);
    Ok(())
}
