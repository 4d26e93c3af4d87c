//! Over real TCP on port 0: `run` serves and shuts down gracefully, and a client registered by `jwks_uri`
//! has its keys fetched, cached and fetched again when it signs with a new key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::{routing::get, Json, Router};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use idp_stub::{ClientConfig, Config, ProviderConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:1/upstream/callback";

async fn listener() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, format!("http://{addr}"))
}

#[tokio::test]
async fn serves_over_tcp_and_refetches_client_jwks_on_new_kid() {
    // The client's JWKS endpoint, whose content the test changes.
    let key1 = keys::SigningKey::generate().unwrap();
    let key2 = keys::SigningKey::generate().unwrap();
    let published = Arc::new(Mutex::new(keys::jwks([&key1])));
    let fetches = Arc::new(Mutex::new(0u32));
    let (jwks_listener, jwks_base) = listener().await;
    let jwks_app = {
        let (published, fetches) = (published.clone(), fetches.clone());
        Router::new().route(
            "/jwks.json",
            get(move || async move {
                *fetches.lock().unwrap() += 1;
                Json(published.lock().unwrap().clone())
            }),
        )
    };
    tokio::spawn(async move { axum::serve(jwks_listener, jwks_app).await });

    let dir = tempfile::tempdir().unwrap();
    let (stub_listener, base) = listener().await;
    let config = Config {
        base_url: base.clone(),
        keys_dir: dir.path().to_path_buf(),
        providers: vec![ProviderConfig {
            id: "stub-a".into(),
            name: "Stub A".into(),
            name_cy: "Stub A".into(),
        }],
        clients: vec![ClientConfig {
            client_id: "hub".into(),
            redirect_uris: vec![REDIRECT.into()],
            jwks_uri: Some(format!("{jwks_base}/jwks.json")),
            public_key_pem: None,
        }],
        non_interactive: None,
        non_interactive_outcome: None,
        test_endpoints: false,
        max_connections_per_ip: 256,
        tls: Default::default(),
        telemetry: Default::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(idp_stub::run(config, stub_listener, async move {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = format!("{base}/stub-a");
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    assert!(
        dir.path().join("stub-a.pem").exists(),
        "provider key generated in keys_dir"
    );

    let sign_in = || async {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
        let query = serde_urlencoded::to_string([
            ("client_id", "hub"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "s"),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        let page = http
            .get(format!("{issuer}/authorize?{query}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = "name=\"request_id\" value=\"";
        let start = page.find(marker).unwrap() + marker.len();
        let request_id = page[start..start + page[start..].find('"').unwrap()].to_string();
        let reply = http
            .post(format!("{issuer}/authorize/decide"))
            .form(&[
                ("request_id", request_id.as_str()),
                ("persona", "alex-morgan"),
                ("outcome", "success"),
            ])
            .send()
            .await
            .unwrap();
        let location = reply.headers()["location"].to_str().unwrap().to_string();
        let params: HashMap<String, String> = url::Url::parse(&location).unwrap().query_pairs().into_owned().collect();
        params["code"].clone()
    };
    let token = |code: String, key: &keys::SigningKey, jti: &str| {
        let claims = json!({"iss": "hub", "sub": "hub", "aud": issuer, "jti": jti, "exp": now() + 60});
        let assertion = key.sign_jwt("JWT", claims.as_object().unwrap()).unwrap();
        let request = http.post(format!("{issuer}/token")).form(&[
            ("grant_type", "authorization_code".to_string()),
            ("code", code),
            ("redirect_uri", REDIRECT.to_string()),
            ("code_verifier", VERIFIER.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", assertion),
        ]);
        async move { request.send().await.unwrap() }
    };

    let reply = token(sign_in().await, &key1, "a").await;
    assert_eq!(reply.status(), 200);
    let reply = token(sign_in().await, &key1, "b").await;
    assert_eq!(reply.status(), 200);
    assert_eq!(*fetches.lock().unwrap(), 1, "JWKS cached");

    *published.lock().unwrap() = keys::jwks([&key1, &key2]);
    let reply = token(sign_in().await, &key2, "c").await;
    assert_eq!(reply.status(), 200, "new kid triggers one refetch");
    assert_eq!(*fetches.lock().unwrap(), 2);

    let stranger = keys::SigningKey::generate().unwrap();
    let reply = token(sign_in().await, &stranger, "d").await;
    assert_eq!(reply.status(), 401);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[allow(clippy::disallowed_methods)] // the test's own reference time
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
