//! In-process router tests: the stub driven like the hub drives it, with `tower::ServiceExt::oneshot`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::{
    body::{to_bytes, Body},
    http::{header, HeaderMap, Method, Request, StatusCode},
    Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use idp_stub::{AppState, ClientConfig, Config, ManualClock, ProviderConfig};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::{collections::HashMap, sync::Arc};
use tower::ServiceExt as _;

const NOW: u64 = 1_800_000_000;
const BASE: &str = "http://stub.test";
const CLIENT: &str = "federation-hub";
const REDIRECT: &str = "http://hub.test/upstream/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The redirect target's query parameters.
    fn redirect_params(&self) -> HashMap<String, String> {
        assert!(
            self.status.is_redirection(),
            "expected a redirect, got {} {}",
            self.status,
            self.body
        );
        let location = self.headers.get(header::LOCATION).unwrap().to_str().unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
    }
}

/// A stub with two providers, one client whose key the test holds, and a clock the test moves.
struct TestApp {
    router: Router,
    clock: Arc<ManualClock>,
    client_key: keys::SigningKey,
    _dir: tempfile::TempDir,
}

/// What an authorization request says; each test changes only what differs.
struct AuthRequest {
    scope: &'static str,
    acr_values: Option<&'static str>,
    nonce: Option<&'static str>,
    redirect_uri: &'static str,
}

impl Default for AuthRequest {
    fn default() -> Self {
        Self {
            scope: "openid",
            acr_values: Some("Cl.Cm.P2"),
            nonce: Some("nonce-1"),
            redirect_uri: REDIRECT,
        }
    }
}

/// Two providers and one client whose key the test holds; test endpoints off, the page shown.
fn base_config(dir: &std::path::Path, client_key: &keys::SigningKey) -> Config {
    Config {
        base_url: BASE.into(),
        keys_dir: dir.join("keys"),
        providers: vec![
            ProviderConfig {
                id: "stub-a".into(),
                name: "Stub Identity A".into(),
                name_cy: "Darparwr A".into(),
            },
            ProviderConfig {
                id: "stub-b".into(),
                name: "Stub Identity B".into(),
                name_cy: "Darparwr B".into(),
            },
        ],
        clients: vec![ClientConfig {
            client_id: CLIENT.into(),
            redirect_uris: vec![REDIRECT.into()],
            jwks_uri: None,
            public_key_pem: Some(client_key.public_pem().unwrap()),
        }],
        non_interactive: None,
        non_interactive_outcome: None,
        test_endpoints: false,
        max_connections_per_ip: 256,
        tls: Default::default(),
        telemetry: Default::default(),
    }
}

impl TestApp {
    /// The stub as tests and demos run it: test endpoints on, the page shown.
    fn new() -> Self {
        Self::with(|c| c.test_endpoints = true)
    }

    /// The stub with its configuration changed by `edit`; test endpoints off unless `edit` turns them on.
    fn with(edit: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let client_key = keys::SigningKey::generate().unwrap();
        let mut config = base_config(dir.path(), &client_key);
        edit(&mut config);
        let clock = Arc::new(ManualClock::new(NOW));
        let state = AppState::with_clock(config, clock.clone()).unwrap();
        Self {
            router: idp_stub::router(state),
            clock,
            client_key,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, uri: &str, pairs: &[(&str, &str)], bearer: Option<&str>) -> Reply {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(
            request
                .body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
                .unwrap(),
        )
        .await
    }

    async fn post_json(&self, uri: &str, body: Value) -> Reply {
        let request = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
        self.send(request.body(Body::from(body.to_string())).unwrap()).await
    }

    fn authorize_uri(&self, provider: &str, req: &AuthRequest) -> String {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
        let mut pairs = vec![
            ("client_id", CLIENT),
            ("redirect_uri", req.redirect_uri),
            ("response_type", "code"),
            ("scope", req.scope),
            ("state", "state-1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        if let Some(n) = req.nonce {
            pairs.push(("nonce", n));
        }
        if let Some(a) = req.acr_values {
            pairs.push(("acr_values", a));
        }
        format!("/{provider}/authorize?{}", serde_urlencoded::to_string(&pairs).unwrap())
    }

    /// Opens the provider page, picks a persona and outcome, and returns the redirect back.
    async fn sign_in(&self, provider: &str, req: &AuthRequest, persona: &str, outcome: &str) -> Reply {
        let page = self.get(&self.authorize_uri(provider, req)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let marker = "name=\"request_id\" value=\"";
        let start = page.body.find(marker).unwrap() + marker.len();
        let request_id = &page.body[start..start + page.body[start..].find('"').unwrap()];
        let decide = format!("/{provider}/authorize/decide");
        self.post_form(
            &decide,
            &[("request_id", request_id), ("persona", persona), ("outcome", outcome)],
            None,
        )
        .await
    }

    fn assertion(&self, aud: &str, jti: &str) -> String {
        let claims = json!({"iss": CLIENT, "sub": CLIENT, "aud": aud, "jti": jti, "iat": self.clock_now(), "exp": self.clock_now() + 60});
        self.client_key.sign_jwt("JWT", claims.as_object().unwrap()).unwrap()
    }

    fn clock_now(&self) -> u64 {
        use idp_stub::Clock as _;
        self.clock.now()
    }

    async fn token_with(&self, provider: &str, code: &str, verifier: &str, assertion: &str) -> Reply {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ];
        self.post_form(&format!("/{provider}/token"), &form, None).await
    }

    async fn token(&self, provider: &str, code: &str) -> Reply {
        let jti = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let assertion = self.assertion(&format!("{BASE}/{provider}/token"), &jti);
        self.token_with(provider, code, VERIFIER, &assertion).await
    }

    /// Signs in and exchanges the code; returns the token response.
    async fn code_flow(&self, provider: &str, req: &AuthRequest, persona: &str, outcome: &str) -> Value {
        let params = self.sign_in(provider, req, persona, outcome).await.redirect_params();
        let reply = self.token(provider, &params["code"]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    }

    async fn provider_keys(&self, provider: &str) -> keys::VerifyingKeys {
        keys::VerifyingKeys::from_jwks(&self.get(&format!("/{provider}/jwks.json")).await.json()).unwrap()
    }
}

#[tokio::test]
async fn discovery_document_names_the_provider_endpoints() {
    let app = TestApp::new();
    let doc = app.get("/stub-b/.well-known/openid-configuration").await.json();
    let issuer = format!("{BASE}/stub-b");
    assert_eq!(doc["issuer"], json!(issuer));
    for (field, suffix) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks.json"),
    ] {
        assert_eq!(doc[field], json!(format!("{issuer}{suffix}")), "{field}");
    }
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(doc["token_endpoint_auth_methods_supported"], json!(["private_key_jwt"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["acr_values_supported"],
        json!(["Cl", "Cl.Cm", "Cl.Cm.P1", "Cl.Cm.P2", "Cl.Cm.P3"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], json!(true));
    assert_eq!(
        app.get("/nobody/.well-known/openid-configuration").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn authorize_with_unregistered_redirect_uri_shows_a_page_not_a_redirect() {
    let app = TestApp::new();
    let req = AuthRequest {
        redirect_uri: "http://evil.test/callback",
        ..Default::default()
    };
    let reply = app.get(&app.authorize_uri("stub-a", &req)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.headers.get(header::LOCATION).is_none());
    assert!(reply.body.contains("govuk-template"), "a GOV.UK page");
    assert!(!reply.body.contains("evil.test"));
}

#[tokio::test]
async fn authorize_without_nonce_redirects_with_invalid_request() {
    let app = TestApp::new();
    let reply = app
        .get(&app.authorize_uri(
            "stub-a",
            &AuthRequest {
                nonce: None,
                ..Default::default()
            },
        ))
        .await;
    let params = reply.redirect_params();
    assert_eq!(params["error"], "invalid_request");
    assert!(params["error_description"].contains("nonce"));
    assert_eq!(params["state"], "state-1");
    assert_eq!(params["iss"], format!("{BASE}/stub-a"));
}

#[tokio::test]
async fn full_code_flow_gives_a_verifiable_id_token_and_userinfo() {
    let app = TestApp::new();
    let req = AuthRequest {
        scope: "openid profile email phone address",
        ..Default::default()
    };

    let page = app.get(&app.authorize_uri("stub-a", &req)).await;
    for needle in [
        "Stub Identity A",
        "id=\"persona-chidi-okafor\"",
        "id=\"outcome-wrong-nonce\"",
        "id=\"continue\"",
    ] {
        assert!(page.body.contains(needle), "page lacks {needle}");
    }

    let welsh = app
        .get(&format!("{}&ui_locales=cy%20en", app.authorize_uri("stub-a", &req)))
        .await;
    assert!(welsh.body.contains("lang=\"cy\"") && welsh.body.contains("Darparwr A"));

    let params = app
        .sign_in("stub-a", &req, "chidi-okafor", "success")
        .await
        .redirect_params();
    assert_eq!(
        (params["state"].as_str(), params["iss"].as_str()),
        ("state-1", "http://stub.test/stub-a")
    );
    let reply = app.token("stub-a", &params["code"]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let tokens = reply.json();
    assert_eq!(
        (tokens["token_type"].clone(), tokens["expires_in"].clone()),
        (json!("Bearer"), json!(300))
    );

    let (header, claims) = app
        .provider_keys("stub-a")
        .await
        .verify(tokens["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!((header.alg.as_str(), header.typ.as_deref()), ("ES256", Some("JWT")));
    assert!(header.kid.is_some());
    assert_eq!(claims["iss"], json!("http://stub.test/stub-a"));
    assert_eq!(claims["aud"], json!(CLIENT));
    assert_eq!(claims["nonce"], json!("nonce-1"));
    assert_eq!(claims["acr"], json!("Cl.Cm.P2"), "P3 persona answers the asked P2");
    assert_eq!(claims["exp"], json!(NOW + 300));
    assert_eq!(claims["given_name"], json!("Chidi"));
    assert_eq!(claims["address"]["postal_code"], json!("N1 9ZZ"));
    let sub = claims["sub"].as_str().unwrap().to_string();
    assert!(sub.starts_with("stub-a-chidi-okafor-"), "{sub}");

    let access = tokens["access_token"].as_str().unwrap();
    let info = app
        .send(
            Request::get("/stub-a/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(info["sub"], json!(sub));
    assert_eq!(info["email"], json!("chidi.okafor@example.org"));
    assert_eq!(
        info["https://vocab.account.gov.uk/v1/passport"][0]["documentNumber"],
        json!("120398457")
    );
    assert!(
        info.get("https://vocab.account.gov.uk/v1/drivingPermit").is_none(),
        "this persona has no licence"
    );
    assert_eq!(
        info["https://vocab.account.gov.uk/v1/address"][0]["postalCode"],
        json!("N1 9ZZ")
    );

    // The same person at the other provider is another subject; the token is not valid there.
    let other = app
        .send(
            Request::get("/stub-b/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        other.headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );

    // The recorder kept the token request's form but never an Authorization header.
    let recorded = app.get("/_requests").await.json();
    let token_request = recorded
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/stub-a/token")
        .unwrap();
    assert!(token_request["form"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p[0] == "code_verifier"));
    assert!(!recorded.to_string().to_lowercase().contains("\"authorization\""));
}

#[tokio::test]
async fn scopes_gate_claims_and_acr_follows_the_persona() {
    let app = TestApp::new();
    let req = AuthRequest {
        scope: "openid",
        acr_values: Some("Cl.Cm.P2 Cl.Cm"),
        ..Default::default()
    };
    let tokens = app.code_flow("stub-b", &req, "dana-whitfield", "success").await;
    let claims = keys::peek_claims(tokens["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        claims["acr"],
        json!("Cl.Cm"),
        "no-identity persona reaches the second preference"
    );
    for absent in ["given_name", "email", "phone_number", "address"] {
        assert!(!claims.contains_key(absent), "{absent} released without its scope");
    }
    let req = AuthRequest {
        acr_values: Some("Cl.Cm.P2"),
        ..Default::default()
    };
    let tokens = app.code_flow("stub-b", &req, "alex-morgan", "level-not-reached").await;
    assert_eq!(
        keys::peek_claims(tokens["id_token"].as_str().unwrap()).unwrap()["acr"],
        json!("Cl.Cm.P1")
    );
}

#[tokio::test]
async fn code_is_single_use_and_bound_to_the_verifier() {
    let app = TestApp::new();
    let req = AuthRequest::default();
    let code = app
        .sign_in("stub-a", &req, "alex-morgan", "success")
        .await
        .redirect_params()["code"]
        .clone();
    assert_eq!(app.token("stub-a", &code).await.status, StatusCode::OK);
    let reuse = app.token("stub-a", &code).await;
    assert_eq!(
        (reuse.status, reuse.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );

    let code = app
        .sign_in("stub-a", &req, "alex-morgan", "success")
        .await
        .redirect_params()["code"]
        .clone();
    let wrong_verifier = "x".repeat(43);
    let reply = app
        .token_with(
            "stub-a",
            &code,
            &wrong_verifier,
            &app.assertion(&format!("{BASE}/stub-a"), "j-v"),
        )
        .await;
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );

    let code = app
        .sign_in("stub-a", &req, "alex-morgan", "success")
        .await
        .redirect_params()["code"]
        .clone();
    app.clock.advance(301);
    let reply = app.token("stub-a", &code).await;
    assert_eq!(reply.json()["error"], json!("invalid_grant"), "expired code");
}

#[tokio::test]
async fn client_assertion_faults_are_invalid_client() {
    let app = TestApp::new();
    let req = AuthRequest::default();
    let aud = format!("{BASE}/stub-a/token");

    let code = app
        .sign_in("stub-a", &req, "alex-morgan", "success")
        .await
        .redirect_params()["code"]
        .clone();
    let assertion = app.assertion(&aud, "jti-once");
    assert_eq!(
        app.token_with("stub-a", &code, VERIFIER, &assertion).await.status,
        StatusCode::OK
    );

    let code = app
        .sign_in("stub-a", &req, "alex-morgan", "success")
        .await
        .redirect_params()["code"]
        .clone();
    let stranger = keys::SigningKey::generate().unwrap();
    let claims = json!({"iss": CLIENT, "sub": CLIENT, "aud": aud, "jti": "j-2", "exp": NOW + 60});
    let cases = [
        ("replayed jti", app.assertion(&aud, "jti-once")),
        (
            "other provider's audience",
            app.assertion(&format!("{BASE}/stub-b/token"), "j-1"),
        ),
        (
            "signed by an unknown key",
            stranger.sign_jwt("JWT", claims.as_object().unwrap()).unwrap(),
        ),
        ("not a JWT", "garbage".to_string()),
    ];
    for (name, assertion) in cases {
        let reply = app.token_with("stub-a", &code, VERIFIER, &assertion).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(reply.json()["error"], json!("invalid_client"), "{name}");
    }
    // Failed client authentication does not burn the code.
    assert_eq!(app.token("stub-a", &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn broken_outcomes_produce_the_token_they_name() {
    let app = TestApp::new();
    let keys = app.provider_keys("stub-a").await;
    let issuer = format!("{BASE}/stub-a");
    type Check = fn(&Map<String, Value>) -> bool;
    let cases: &[(&str, Check)] = &[
        ("wrong-iss", |c| c["iss"] != json!("http://stub.test/stub-a")),
        ("wrong-aud", |c| c["aud"] != json!(CLIENT)),
        ("expired", |c| c["exp"].as_u64().unwrap() < NOW),
        ("not-yet-valid", |c| {
            c["iat"].as_u64().unwrap() == NOW + 600 && c["nbf"].as_u64().unwrap() == NOW + 600
        }),
        ("wrong-nonce", |c| c["nonce"] != json!("nonce-1")),
        ("wrong-acr", |c| c["acr"] == json!("urn:stub:unknown-level")),
        ("missing-sub", |c| !c.contains_key("sub")),
    ];
    for (outcome, check) in cases {
        let tokens = app
            .code_flow("stub-a", &AuthRequest::default(), "alex-morgan", outcome)
            .await;
        let (_, claims) = keys
            .verify(tokens["id_token"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{outcome}: {e}"));
        assert!(check(&claims), "{outcome}: {claims:?}");
        assert_eq!(
            claims.get("iss") == Some(&json!(issuer)),
            *outcome != "wrong-iss",
            "{outcome} breaks only its claim"
        );
    }

    let tokens = app
        .code_flow("stub-a", &AuthRequest::default(), "alex-morgan", "bad-signature")
        .await;
    let token = tokens["id_token"].as_str().unwrap();
    let header = keys::decode_header(token).unwrap();
    assert!(keys.has_kid(header.kid.as_deref().unwrap()), "the real key's kid");
    assert!(
        matches!(keys.verify(token), Err(keys::KeyError::BadSignature)),
        "bad-signature must fail verification"
    );

    let tokens = app
        .code_flow("stub-a", &AuthRequest::default(), "alex-morgan", "alg-none")
        .await;
    let token = tokens["id_token"].as_str().unwrap();
    assert_eq!(keys::decode_header(token).unwrap().alg, "none");
    assert!(token.ends_with('.'), "empty signature");
    assert_eq!(keys::peek_claims(token).unwrap()["nonce"], json!("nonce-1"));
}

#[tokio::test]
async fn refusals_redirect_with_state_and_iss_and_forcing_overrides_the_page() {
    let app = TestApp::new();
    let cases = [
        ("authentication-failed", "access_denied", None),
        ("cancel", "access_denied", None),
        ("unmet-requirements", "unmet_authentication_requirements", None),
        ("temporarily-unavailable", "temporarily_unavailable", None),
    ];
    for (outcome, error, identity_outcome) in cases {
        let params = app
            .sign_in("stub-a", &AuthRequest::default(), "alex-morgan", outcome)
            .await
            .redirect_params();
        assert_eq!(params["error"], error, "{outcome}");
        assert_eq!(
            params.get("identity_outcome").map(String::as_str),
            identity_outcome,
            "{outcome}"
        );
        assert_eq!(
            (params["state"].as_str(), params["iss"].as_str()),
            ("state-1", "http://stub.test/stub-a")
        );
        assert!(!params.contains_key("code"));
    }

    // Pending and fraud-suspected: the person signed in, so a code comes back; the ID token carries the
    // credential level only and says why in identity_outcome.
    for (outcome, why) in [("pending", "pending"), ("fraud-suspected", "fraud_suspected")] {
        let tokens = app
            .code_flow("stub-a", &AuthRequest::default(), "alex-morgan", outcome)
            .await;
        let claims = keys::peek_claims(tokens["id_token"].as_str().unwrap()).unwrap();
        assert_eq!(claims["identity_outcome"], json!(why), "{outcome}");
        assert_eq!(claims["acr"], json!("Cl.Cm"), "{outcome}");
    }

    let set = app
        .post_json(
            "/stub-b/config",
            json!({"outcome": "cancel", "persona": "bethan-jones"}),
        )
        .await;
    assert_eq!(set.json(), json!({"outcome": "cancel", "persona": "bethan-jones"}));
    assert_eq!(app.get("/stub-b/config").await.json()["outcome"], json!("cancel"));
    let params = app
        .sign_in("stub-b", &AuthRequest::default(), "alex-morgan", "success")
        .await
        .redirect_params();
    assert_eq!(params["error_description"], "The person cancelled");
    let other = app
        .sign_in("stub-a", &AuthRequest::default(), "alex-morgan", "success")
        .await
        .redirect_params();
    assert!(other.contains_key("code"), "forcing is per provider");

    app.post_json("/stub-b/config", json!({"outcome": null, "persona": "bethan-jones"}))
        .await;
    let tokens = app
        .code_flow("stub-b", &AuthRequest::default(), "alex-morgan", "success")
        .await;
    let sub = keys::peek_claims(tokens["id_token"].as_str().unwrap()).unwrap()["sub"].clone();
    assert!(
        sub.as_str().unwrap().starts_with("stub-b-bethan-jones-"),
        "forced persona wins: {sub}"
    );

    let bad = app.post_json("/stub-b/config", json!({"outcome": "explode"})).await;
    assert_eq!(
        (bad.status, bad.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
}

#[tokio::test]
async fn test_endpoints_are_404_unless_asked_for() {
    let off = TestApp::with(|_| {});
    let on = TestApp::new();
    for (method, uri) in [
        (Method::GET, "/_requests"),
        (Method::DELETE, "/_requests"),
        (Method::GET, "/stub-a/config"),
    ] {
        let request = || {
            Request::builder()
                .method(method.clone())
                .uri(uri)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            off.send(request()).await.status,
            StatusCode::NOT_FOUND,
            "{method} {uri} without the flag"
        );
        assert!(
            on.send(request()).await.status.is_success(),
            "{method} {uri} with the flag"
        );
    }
    let set = off.post_json("/stub-a/config", json!({"outcome": "cancel"})).await;
    assert_eq!(set.status, StatusCode::NOT_FOUND);
    assert_eq!(
        on.post_json("/stub-a/config", json!({"outcome": null})).await.status,
        StatusCode::OK
    );
    assert!(
        !off.get("/").await.body.contains("href=\"/_requests\""),
        "the page names only what is served"
    );
    assert!(on.get("/").await.body.contains("href=\"/_requests\""));
    // Everything else still works without them (no recorder in front of the token endpoint).
    let tokens = off
        .code_flow("stub-a", &AuthRequest::default(), "alex-morgan", "success")
        .await;
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn non_interactive_authorize_answers_with_a_code_whose_tokens_verify() {
    let app = TestApp::with(|c| c.non_interactive = Some("alex-morgan".into()));
    let req = AuthRequest {
        scope: "openid profile",
        acr_values: Some("Cl.Cm.P3 Cl.Cm.P2 Cl.Cm"),
        ..Default::default()
    };
    let params = app.get(&app.authorize_uri("stub-b", &req)).await.redirect_params();
    assert_eq!(
        (params["state"].as_str(), params["iss"].as_str()),
        ("state-1", "http://stub.test/stub-b")
    );
    let reply = app.token("stub-b", &params["code"]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (_, claims) = app
        .provider_keys("stub-b")
        .await
        .verify(reply.json()["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["iss"], json!("http://stub.test/stub-b"));
    assert_eq!(claims["aud"], json!(CLIENT));
    assert_eq!(claims["nonce"], json!("nonce-1"));
    assert_eq!(
        claims["acr"],
        json!("Cl.Cm.P2"),
        "the first asked level a P2 persona reaches"
    );
    assert_eq!(claims["given_name"], json!("Alex"));
    assert!(claims["sub"].as_str().unwrap().starts_with("stub-b-alex-morgan-"));

    // The request is validated as before, and PKCE and the code's single use still hold.
    let no_nonce = AuthRequest {
        nonce: None,
        ..Default::default()
    };
    let refused = app.get(&app.authorize_uri("stub-a", &no_nonce)).await.redirect_params();
    assert_eq!(refused["error"], "invalid_request");
    assert!(!refused.contains_key("code"));
    let evil = AuthRequest {
        redirect_uri: "http://evil.test/callback",
        ..Default::default()
    };
    assert_eq!(
        app.get(&app.authorize_uri("stub-a", &evil)).await.status,
        StatusCode::BAD_REQUEST
    );
    let code = app.get(&app.authorize_uri("stub-a", &req)).await.redirect_params()["code"].clone();
    let jti = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let wrong = app
        .token_with(
            "stub-a",
            &code,
            &"x".repeat(43),
            &app.assertion(&format!("{BASE}/stub-a/token"), &jti),
        )
        .await;
    assert_eq!(wrong.json()["error"], json!("invalid_grant"));

    // A configured outcome other than success travels the same way.
    let refusing = TestApp::with(|c| {
        c.non_interactive = Some("dana-whitfield".into());
        c.non_interactive_outcome = Some(idp_stub::outcome::Outcome::Cancel);
    });
    let params = refusing
        .get(&refusing.authorize_uri("stub-a", &AuthRequest::default()))
        .await
        .redirect_params();
    assert_eq!(
        (params["error"].as_str(), params["state"].as_str()),
        ("access_denied", "state-1")
    );
}

#[tokio::test]
async fn test_endpoints_on_a_non_loopback_address_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = keys::SigningKey::generate().unwrap();
    let mut config = base_config(dir.path(), &key);
    let any = || async { tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap() };
    idp_stub::run(config.clone(), any().await, async {})
        .await
        .expect("without the test endpoints any address will do");
    config.test_endpoints = true;
    let err = idp_stub::run(config.clone(), any().await, async {}).await.unwrap_err();
    assert!(err.to_string().contains("--test-endpoints"), "{err}");
    let loopback = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    idp_stub::run(config, loopback, async {})
        .await
        .expect("loopback is fine");
}
