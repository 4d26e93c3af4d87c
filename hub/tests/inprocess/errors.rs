//! Every row of INTERFACE.md's error tables, produced the way a service would meet it, with status,
//! body and headers checked: §2 at `/authorize` (a redirect carrying `error`, `error_description`,
//! `state` and `iss`, `Cache-Control: no-store`; or, before the redirect URI is trusted, a 400 or 414
//! page) and §3 at `/token` (JSON `error` and `error_description`, `Cache-Control: no-store`,
//! `Content-Type: application/json`; 401 with `WWW-Authenticate: Basic` when the client tried Basic).

use crate::app::{Browser, Now as _, Pkce, Seen, SignIn, TestApp, HUB, SVC, SVC_REDIRECT};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use serde_json::json;

const OFF: &str = "off";
const OFF_REDIRECT: &str = "https://off.example/cb";
const P3: &str = "p3";
const BASIC: &str = "basic";
const BASIC_SECRET: &str = "the-basic-client-secret-0123456789";
const JAR: &str = "jar";

fn app() -> TestApp {
    let hash = keys::hash_secret(BASIC_SECRET).unwrap();
    TestApp::new()
        .with_client(&format!(
            r#"
[[clients]]
client_id = "{OFF}"
client_name = "An inactive service"
redirect_uris = ["{OFF_REDIRECT}"]
active = false
public_key = """
$SVC_KEY"""

[[clients]]
client_id = "{P3}"
client_name = "A service asking for P3"
redirect_uris = ["{SVC_REDIRECT}"]
scopes = ["openid", "email"]
levels = ["Cl.Cm.P3"]
public_key = """
$SVC_KEY"""

[[clients]]
client_id = "{BASIC}"
client_name = "A generic service"
redirect_uris = ["{SVC_REDIRECT}"]
profile = "oidc-basic"
token_endpoint_auth_method = "client_secret_basic"
client_secret_hash = "{hash}"

[[clients]]
client_id = "{JAR}"
client_name = "A FAPI service that signs its requests"
redirect_uris = ["{SVC_REDIRECT}"]
profile = "fapi2"
jar_required = true
public_key = """
$SVC_KEY"""
"#
        ))
        .build()
}

/// The characters `error_description` may hold (RFC 6749 §4.1.2.1).
fn description_ok(d: &str) -> bool {
    !d.is_empty() && d.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// A §2 error redirect: 302 to `redirect_uri` with `error`, a description, `state` and `iss`, and nothing
/// cached.
fn assert_redirect(row: &str, seen: &Seen, redirect_uri: &str, error: &str, state: Option<&str>) {
    assert_eq!(seen.status, StatusCode::FOUND, "{row}: {}", seen.body);
    assert!(seen.location().starts_with(redirect_uri), "{row}: {}", seen.location());
    let params = seen.params();
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{row}: {params:?}"
    );
    assert!(
        params.get("error_description").is_some_and(|d| description_ok(d)),
        "{row}: {params:?}"
    );
    assert_eq!(params.get("state").map(String::as_str), state, "{row}");
    assert_eq!(params.get("iss").map(String::as_str), Some(HUB), "{row}");
    assert!(!params.contains_key("code"), "{row}");
    assert_eq!(seen.headers[header::CACHE_CONTROL], "no-store", "{row}");
}

/// A refusal as a page for the person: its status, HTML, never a redirect.
fn assert_page(row: &str, seen: &Seen, status: StatusCode) {
    assert_eq!(seen.status, status, "{row}: {}", seen.body);
    assert!(seen.headers.get(header::LOCATION).is_none(), "{row}");
    assert!(
        seen.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{row}"
    );
    assert!(seen.body.contains("govuk-heading-l"), "{row}: {}", seen.body);
}

/// A §3 error: JSON with `error` and a description, not cached.
fn assert_json(row: &str, seen: &Seen, status: StatusCode, error: &str) {
    assert_eq!(seen.status, status, "{row}: {}", seen.body);
    assert!(
        seen.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{row}"
    );
    assert_eq!(seen.headers[header::CACHE_CONTROL], "no-store", "{row}");
    let body = seen.json();
    assert_eq!(body["error"], error, "{row}: {body}");
    assert!(
        body["error_description"].as_str().is_some_and(description_ok),
        "{row}: {body}"
    );
}

#[tokio::test]
async fn every_authorize_error_of_interface_section_2_reaches_the_service_as_specified() {
    let app = app();
    let pkce = Pkce::new();
    let url = |extra: &[(&str, &str)]| app.service.authorize(&pkce, "Cl.Cm", &[], extra);
    let get = |url: String| {
        let app = &app;
        async move { Browser::default().get(app, &url).await }
    };
    let state = Some("svc-state");

    let rows: Vec<(&str, String, &str, &str)> = vec![
        (
            "invalid_request: no nonce",
            url(&[("nonce", "")]),
            SVC_REDIRECT,
            "invalid_request",
        ),
        (
            "invalid_scope: no openid",
            url(&[("scope", "email")]),
            SVC_REDIRECT,
            "invalid_scope",
        ),
        (
            "unsupported_response_type: token",
            url(&[("response_type", "token")]),
            SVC_REDIRECT,
            "unsupported_response_type",
        ),
        (
            "unauthorized_client: an inactive client",
            url(&[("client_id", OFF), ("redirect_uri", OFF_REDIRECT)]),
            OFF_REDIRECT,
            "unauthorized_client",
        ),
        (
            "login_required: prompt=none without a session",
            url(&[("prompt", "none")]),
            SVC_REDIRECT,
            "login_required",
        ),
        (
            "unmet_authentication_requirements: no provider reaches P3",
            app.service.authorize(&pkce, "Cl.Cm.P3", &[], &[("client_id", P3)]),
            SVC_REDIRECT,
            "unmet_authentication_requirements",
        ),
        (
            "request_uri_not_supported: another server's request_uri",
            url(&[("request_uri", "https://svc.example/request.jwt")]),
            SVC_REDIRECT,
            "request_uri_not_supported",
        ),
    ];
    for (row, url, redirect_uri, error) in rows {
        assert_redirect(row, &get(url).await, redirect_uri, error, state);
    }

    // access_denied: the person declines to share their identity.
    let declined = app.sign_in(&mut Browser::default(), SignIn::p2().decline()).await;
    assert_redirect("access_denied", &declined.last, SVC_REDIRECT, "access_denied", state);

    // The 400 pages: an unknown client, an unregistered redirect URI; the 414 page.
    assert_page(
        "unknown client",
        &get(url(&[("client_id", "nobody")])).await,
        StatusCode::BAD_REQUEST,
    );
    assert_page(
        "unregistered redirect_uri",
        &get(url(&[("redirect_uri", "https://svc.example/cb/other")])).await,
        StatusCode::BAD_REQUEST,
    );
    let long = "x".repeat(4200);
    assert_page(
        "a query over 4096 bytes",
        &get(url(&[("login_hint", &long)])).await,
        StatusCode::URI_TOO_LONG,
    );
}

#[tokio::test]
async fn temporarily_unavailable_when_the_store_is_full() {
    // The hub cannot keep a journey: the store refuses new entries (as Redis does at `maxmemory` with
    // `noeviction`).
    let app = TestApp::new().with_store_limit(0).build();
    let url = app.service.authorize(&Pkce::new(), "Cl.Cm", &[], &[]);
    let seen = Browser::default().get(&app, &url).await;
    assert_redirect(
        "temporarily_unavailable",
        &seen,
        SVC_REDIRECT,
        "temporarily_unavailable",
        Some("svc-state"),
    );
}

#[tokio::test]
async fn server_error_when_the_store_answers_with_a_value_the_hub_cannot_read() {
    // A signed-in browser whose session the store now answers with bytes that are not a value the hub
    // sealed (a restored backup with another sealing key, a bit flipped on disk): server_error.
    let app = app();
    let mut browser = Browser::default();
    let ended = app.sign_in(&mut browser, SignIn::cl_cm()).await;
    assert!(ended.code().is_some());
    let cookie = browser.cookies["__Host-hub-session"].clone();
    let key = format!("session:{}", hub::ids::hash(&cookie));
    app.state
        .store
        .put(
            &key,
            b"not a sealed value".to_vec(),
            std::time::Duration::from_secs(600),
        )
        .await
        .unwrap();
    let url = app.service.authorize(&Pkce::new(), "Cl.Cm", &[], &[]);
    let seen = browser.get(&app, &url).await;
    assert_redirect("server_error", &seen, SVC_REDIRECT, "server_error", Some("svc-state"));
    assert!(
        !seen.params()["error_description"].contains("seal"),
        "no internal detail"
    );
}

/// A POST to `/token` with a form and optional `Authorization`.
async fn token(app: &TestApp, form: &[(&str, &str)], authorization: Option<String>) -> Seen {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let mut request = Request::post("/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(a) = authorization {
        request = request.header(header::AUTHORIZATION, a);
    }
    app.send(request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn every_token_error_of_interface_section_3_is_the_specified_json() {
    let app = app();
    let now = app.clock.now_secs();
    let assertion = |client: &str| {
        app.service.assertion(
            now,
            json!({"iss": client, "sub": client, "jti": hub::ids::random_token()}),
        )
    };
    let jwt = keys::client_assertion::JWT_BEARER;
    let with = |client: &str, extra: &[(&'static str, &'static str)]| {
        let mut form: Vec<(String, String)> = vec![
            ("client_assertion_type".into(), jwt.into()),
            ("client_assertion".into(), assertion(client)),
            ("redirect_uri".into(), SVC_REDIRECT.into()),
        ];
        form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        form
    };
    let send = |form: Vec<(String, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            token(app, &pairs, None).await
        }
    };
    let other_key = keys::SigningKey::generate().unwrap();
    let foreign = other_key
        .sign_jwt(
            "JWT",
            json!({"iss": SVC, "sub": SVC, "aud": format!("{HUB}/token"), "jti": "j", "iat": now, "exp": now + 60})
                .as_object()
                .unwrap(),
        )
        .unwrap();

    type Row<'a> = (&'a str, Vec<(String, String)>, StatusCode, &'a str);
    let rows: Vec<Row> = vec![
        (
            "invalid_request: no grant_type",
            with(SVC, &[("code", "c")]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "invalid_grant: a code never issued",
            with(SVC, &[("grant_type", "authorization_code"), ("code", "never-issued")]),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            "unauthorized_client: an inactive client",
            with(OFF, &[("grant_type", "authorization_code"), ("code", "c")]),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            "unsupported_grant_type: refresh_token",
            with(SVC, &[("grant_type", "refresh_token"), ("refresh_token", "r")]),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            "invalid_client: an assertion by another key",
            vec![
                ("grant_type".into(), "authorization_code".into()),
                ("code".into(), "c".into()),
                ("client_assertion_type".into(), jwt.into()),
                ("client_assertion".into(), foreign),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_client",
        ),
    ];
    for (row, form, status, error) in rows {
        let seen = send(form).await;
        assert_json(row, &seen, status, error);
        assert!(seen.headers.get(header::WWW_AUTHENTICATE).is_none(), "{row}");
    }

    // HTTP Basic with a wrong secret: 401 and a Basic challenge (RFC 6749 §5.2).
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{BASIC}:not-the-secret"),
    );
    let seen = token(
        &app,
        &[("grant_type", "authorization_code"), ("code", "c")],
        Some(format!("Basic {basic}")),
    )
    .await;
    assert_json(
        "invalid_client by Basic",
        &seen,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    );
    assert!(seen.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Basic "));
}

#[tokio::test]
async fn a_client_registered_for_signed_requests_cannot_push_plain_parameters() {
    // FAPI 2.0 Message Signing §5.3.2: refused at PAR, where the client is told.
    let app = app();
    let pkce = Pkce::new();
    let now = app.clock.now_secs();
    let assertion = app.service.assertion(
        now,
        json!({"iss": JAR, "sub": JAR, "aud": HUB, "jti": hub::ids::random_token(), "exp": now + 60}),
    );
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", JAR),
            ("response_type", "code"),
            ("redirect_uri", SVC_REDIRECT),
            ("scope", "openid"),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("client_assertion_type", keys::client_assertion::JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ])
        .finish();
    let seen = app
        .send(
            Request::post("/par")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_json(
        "plain parameters at PAR",
        &seen,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}
