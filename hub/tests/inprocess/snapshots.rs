//! Protocol output as snapshots (STYLE.md §11): the discovery document, the JWKS's shape, an ID token's
//! and an identity credential's claims (volatile values redacted), and the error pages people see.
//! A change to any of them shows as a diff to review (`cargo insta review`).

use crate::app::{Browser, SignIn, TestApp, CORE};
use insta::{assert_json_snapshot, assert_snapshot};
use serde_json::Value;

fn claims_of(jwt: &str) -> Value {
    Value::Object(keys::peek_claims(jwt).unwrap())
}

#[tokio::test]
async fn discovery_document() {
    let app = TestApp::new().build();
    assert_json_snapshot!("discovery", app.get("/.well-known/openid-configuration").await.json());
}

#[tokio::test]
async fn jwks_and_did_document_shapes() {
    let app = TestApp::new().build();
    assert_json_snapshot!("jwks", app.get("/.well-known/jwks.json").await.json(), {
        ".keys[].kid" => "[kid]", ".keys[].x" => "[x]", ".keys[].y" => "[y]",
        ".keys[].n" => "[n]", ".keys[].e" => "[e]",
    });
    assert_json_snapshot!("did", app.get("/.well-known/did.json").await.json(), {
        ".assertionMethod[].id" => "[id]",
        ".assertionMethod[].publicKeyJwk.kid" => "[kid]",
        ".assertionMethod[].publicKeyJwk.x" => "[x]",
        ".assertionMethod[].publicKeyJwk.y" => "[y]",
    });
}

#[tokio::test]
async fn id_token_and_identity_credential_claims() {
    let app = TestApp::new().build();
    let ended = app.sign_in(&mut Browser::default(), SignIn::p2()).await;
    let tokens = app
        .service
        .redeem(&app, &ended.code().unwrap(), &ended.pkce.verifier)
        .await
        .json();
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = keys::decode_header(id_token).unwrap();
    assert_eq!((header.alg.as_str(), header.typ.as_deref()), ("ES256", Some("JWT")));
    assert_json_snapshot!("id_token_claims", claims_of(id_token), {
        ".sub" => "[pairwise sub]", ".sid" => "[sid]", ".at_hash" => "[at_hash]",
    });
    let mut info = app
        .service
        .userinfo(&app, tokens["access_token"].as_str().unwrap())
        .await
        .json();
    assert_json_snapshot!("identity_credential_claims", claims_of(info[CORE].as_str().unwrap()), {
        ".sub" => "[pairwise sub]",
    });
    info[CORE] = Value::String("[jwt]".into());
    assert_json_snapshot!("userinfo", info, { ".sub" => "[pairwise sub]" });
}

/// The text of a page's main content, one line per block, so a snapshot reads as the page does.
fn main_text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let main = scraper::Selector::parse("main").unwrap();
    let blocks = scraper::Selector::parse("h1, h2, p, a.govuk-button, li, button, label").unwrap();
    let Some(main) = doc.select(&main).next() else {
        return String::new();
    };
    main.select(&blocks)
        .map(|e| {
            let text: Vec<String> = e
                .text()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            let href = e.value().attr("href").map(|h| format!(" ({h})")).unwrap_or_default();
            format!("{}: {}{href}", e.value().name(), text.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn error_pages() {
    let app = TestApp::new().build();
    let unknown = app
        .get("/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Fsvc.example%2Fcb&response_type=code")
        .await;
    assert_snapshot!(
        "page_unknown_service",
        format!("{}\n{}", unknown.status, main_text(&unknown.body))
    );
    let expired = app.get("/choose-provider").await;
    assert_snapshot!(
        "page_session_expired",
        format!("{}\n{}", expired.status, main_text(&expired.body))
    );
    let welsh = app
        .send(
            axum::http::Request::get("/consent?lang=cy")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_snapshot!(
        "page_session_expired_cy",
        format!("{}\n{}", welsh.status, main_text(&welsh.body))
    );
    let mismatch = app.get("/upstream/callback?state=nope&code=x").await;
    assert_snapshot!(
        "page_callback_mismatch",
        format!("{}\n{}", mismatch.status, main_text(&mismatch.body))
    );
    // A store with room for the journey and nothing more: the provider step cannot be kept.
    let full = TestApp::new().with_store_limit(1).build();
    let ended = full.sign_in(&mut Browser::default(), SignIn::cl_cm()).await;
    assert_snapshot!(
        "page_unavailable",
        format!("{}\n{}", ended.last.status, main_text(&ended.last.body))
    );
    let missing = app.get("/nothing-here").await;
    assert_snapshot!(
        "page_not_found",
        format!("{}\n{}", missing.status, main_text(&missing.body))
    );
}
