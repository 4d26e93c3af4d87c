//! In-process tests of the hub's router (no socket): the documents services cache, and the errors each
//! endpoint gives for bad input, in the spec's form.

use crate::app::{Seen, TestApp};
use axum::{
    body::Body,
    http::{header, HeaderMap, Request, StatusCode},
};
use serde_json::Value;

/// The router with the test service and fake provider.
struct App(TestApp);

impl App {
    fn new() -> Self {
        Self(TestApp::new().build())
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let Seen { status, headers, body } = self.0.send(request).await;
        (status, headers, body)
    }

    async fn get(&self, uri: &str) -> (StatusCode, HeaderMap, String) {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, uri: &str, body: &str) -> (StatusCode, HeaderMap, String) {
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn discovery_lists_what_one_login_services_expect_and_is_cacheable() {
    let app = App::new();
    let (status, headers, body) = app.get("/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=86400");
    let doc = json(&body);
    assert_eq!(doc["issuer"], "https://hub.example");
    for (field, value) in [
        ("authorization_endpoint", "https://hub.example/authorize"),
        ("token_endpoint", "https://hub.example/token"),
        ("userinfo_endpoint", "https://hub.example/userinfo"),
        ("jwks_uri", "https://hub.example/.well-known/jwks.json"),
        ("end_session_endpoint", "https://hub.example/logout"),
        ("trustmarks", "https://hub.example/trustmark"),
    ] {
        assert_eq!(doc[field], value, "{field}");
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(doc["subject_types_supported"], serde_json::json!(["pairwise"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert!(doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&"private_key_jwt".into()));
    assert!(doc["vtr_values_supported"]
        .as_array()
        .unwrap()
        .contains(&"Cl.Cm.P2".into()));
    assert_eq!(doc["ui_locales_supported"], serde_json::json!(["en", "cy"]));
}

#[tokio::test]
async fn jwks_did_and_trustmark_publish_public_keys_only() {
    let app = App::new();
    let (status, headers, body) = app.get("/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=86400");
    let jwks = json(&body);
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str(), key["use"].as_str()),
        (Some("EC"), Some("ES256"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "private part published");

    let (status, headers, body) = app.get("/.well-known/did.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=3600");
    let did = json(&body);
    assert_eq!(did["id"], "did:web:hub.example");
    let method = &did["assertionMethod"][0];
    assert_eq!(method["type"], "JsonWebKey");
    assert_eq!(method["controller"], "did:web:hub.example");
    assert!(method["id"].as_str().unwrap().starts_with("did:web:hub.example#"));
    assert!(method["publicKeyJwk"].get("d").is_none());
    assert_ne!(
        method["publicKeyJwk"]["kid"], key["kid"],
        "identity credentials use their own key"
    );

    let (_, _, body) = app.get("/trustmark").await;
    let trustmark = json(&body);
    assert_eq!(trustmark["idp"], "https://hub.example");
    assert_eq!(trustmark["C"], serde_json::json!(["Cl", "Cl.Cm"]));
}

#[tokio::test]
async fn authorize_errors_are_pages_before_the_redirect_uri_is_trusted_and_redirects_after() {
    let app = App::new();
    let (status, headers, body) = app
        .get("/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Fsvc.example%2Fcb&response_type=code")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(headers.get(header::LOCATION).is_none());
    assert!(body.contains("govuk-heading-l"));

    let (status, headers, _) = app
        .get("/authorize?client_id=svc&redirect_uri=https%3A%2F%2Fsvc.example%2Fcb&response_type=token&scope=openid&state=s1")
        .await;
    assert_eq!(status, StatusCode::FOUND);
    let location = headers[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("https://svc.example/cb?error=unsupported_response_type&error_description="),
        "{location}"
    );
    assert!(
        location.ends_with("&state=s1&iss=https%3A%2F%2Fhub.example"),
        "{location}"
    );

    let long = format!("/authorize?client_id=svc&x={}", "a".repeat(5000));
    let (status, _, _) = app.get(&long).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
}

#[tokio::test]
async fn a_valid_request_starts_a_journey_in_a_host_cookie_and_shows_the_choice() {
    let app = App::new();
    let (status, headers, _) = app
        .get("/authorize?client_id=svc&redirect_uri=https%3A%2F%2Fsvc.example%2Fcb&response_type=code&scope=openid&state=s1&nonce=n1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
        .await;
    assert_eq!(status, StatusCode::FOUND);
    let location = headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(location.starts_with("/choose-provider?journey="), "{location}");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("__Host-hub-browser="));
    for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let browser = cookie.split(';').next().unwrap();
    let (status, _, body) = app
        .send(
            Request::get(&location)
                .header(header::COOKIE, browser)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Choose how to sign in to A service"));
    assert!(body.contains("id=\"provider-idp\""));

    // Without the journey: the timed-out page, not a 500; without the browser's cookie: not this browser's.
    let (status, _, body) = app.get("/choose-provider").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("session_expired"));
    let (status, _, body) = app.get(&location).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("not_this_browser"));
}

#[tokio::test]
async fn token_and_userinfo_errors_are_in_the_rfc_form() {
    let app = App::new();
    let (status, headers, body) = app.post_form("/token", "grant_type=authorization_code&code=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(json(&body)["error"], "invalid_client");

    let (status, headers, body) = app
        .send(
            Request::post("/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::AUTHORIZATION, "Basic c3ZjOndyb25n")
                .body(Body::from("grant_type=authorization_code&code=x"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(headers[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic"));

    let (status, _, body) = app.post_form("/token", "code=1&code=2").await;
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    let (status, headers, _) = app
        .send(
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, "Bearer nope")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer error=\"invalid_token\""));
}

#[tokio::test]
async fn health_and_readiness() {
    let app = App::new();
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
    let (status, _, body) = app.get("/no-such-page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Page not found"));
}

#[tokio::test]
async fn metrics_are_prometheus_text_labelled_by_route_not_by_value() {
    let app = App::new();
    app.get("/authorize?client_id=nobody&state=secret-state-value").await;
    let (status, headers, body) = app.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(
        body.contains("hub_http_requests_total{method=\"GET\",path=\"/authorize\",status=\"400\"}"),
        "{body}"
    );
    assert!(!body.contains("secret-state-value"));
}
