//! The RP-Initiated Logout OP plan (`oidcc-rp-initiated-logout-certification-test-plan`) and the
//! Back-Channel Logout OP plan (`oidcc-backchannel-rp-initiated-logout-certification-test-plan`).
//!
//! Each logout module signs in (code flow, `client_secret_basic`, a 128-character `state`, the standard
//! checks), then sends the browser to `end_session_endpoint` with the module's parameters. Where the
//! suite expects a redirect to `post_logout_redirect_uri`, it then asks `prompt=none`, which must come
//! back `login_required`: the session has ended. Where it expects the OP's own page (its screenshot
//! placeholder), the hub must not redirect: with a hint it proved, the hub ends the session and shows its
//! signed-out page; without one it asks the person (RP-Initiated Logout 1.0 §2), and the person's yes ends
//! the session.

use super::{
    callback,
    client::{ensure_error_response, random, random_of, Rp, Tokens},
    config::{fetch_discovery, issuer_and_endpoints},
    shared, Mode, Plan, Shared,
};
use crate::harness::{now, Agent, Seen};
use anyhow::{anyhow, ensure, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Value};
use std::time::Duration;

/// A signed-in browser of the suite's `client_secret_basic` client.
struct SignedIn {
    s: &'static Shared,
    rp: Rp,
    agent: Agent,
    tokens: Tokens,
}

async fn signed_in() -> Result<SignedIn> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(Mode::Query);
    let mut agent = Agent::new()?;
    let state = random_of(128);
    let tokens = rp
        .sign_in(s, &mut agent, &rp.request(s, &[("state", Some(&state))]))
        .await?;
    Ok(SignedIn { s, rp, agent, tokens })
}

impl SignedIn {
    /// The browser at `end_session_endpoint` with these parameters (not following a redirect).
    async fn logout(&mut self, params: &[(&str, &str)]) -> Result<Seen> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        self.agent.get(&format!("{}/logout?{query}", self.s.hub())).await
    }

    /// `prompt=none` must now come back `login_required` (the session has ended).
    async fn ensure_logged_out(&mut self) -> Result<()> {
        let request = self.rp.request(self.s, &[("prompt", Some("none"))]);
        let seen = self.agent.get(&request.url).await?;
        let response = self.rp.response(self.s, &mut self.agent, &seen).await?;
        ensure_error_response(self.s, &response, request.state.as_deref(), &["login_required"])
    }

    /// The session is still live: `prompt=none` gives a code.
    async fn ensure_logged_in(&mut self) -> Result<()> {
        let request = self.rp.request(self.s, &[("prompt", Some("none"))]);
        let seen = self.agent.get(&request.url).await?;
        let response = self.rp.response(self.s, &mut self.agent, &seen).await?;
        response.code().map(|_| ())
    }

    /// The hub's page, not a redirect (and so nothing reaches `post_logout_redirect_uri`).
    fn ensure_page(&self, seen: &Seen) -> Result<()> {
        ensure!(
            seen.location.is_none() && seen.status == 200,
            "expected the hub's page, got {} {:?}",
            seen.status,
            seen.location
        );
        ensure!(seen.url.starts_with(self.s.hub()));
        Ok(())
    }

    /// The hub's signed-out page: the session ended without a redirect.
    async fn ensure_signed_out_page(&mut self, seen: &Seen) -> Result<()> {
        self.ensure_page(seen)?;
        ensure!(seen.body.contains("You have signed out"), "{}", seen.body);
        self.ensure_logged_out().await
    }

    /// The hub asks the person (no proven hint): the session lives until they say yes; then it has
    /// ended and the signed-out page shows, never a redirect.
    async fn ensure_asked_then_signed_out(&mut self, seen: &Seen) -> Result<()> {
        self.ensure_page(seen)?;
        ensure!(seen.body.contains("Do you want to sign out?"), "{}", seen.body);
        self.ensure_logged_in().await?;
        let done = self.agent.submit(seen, "sign-out", &[], None).await?;
        self.ensure_page(&done)?;
        ensure!(done.body.contains("You have signed out"), "{}", done.body);
        self.ensure_logged_out().await
    }
}

/// `oidcc-rp-initiated-logout-discovery-endpoint-verification`: every `*_endpoint` a URL of the issuer,
/// `end_session_endpoint` present.
#[tokio::test]
async fn oidcc_rp_initiated_logout_discovery_endpoint_verification() -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let doc = fetch_discovery(s.hub()).await?;
    issuer_and_endpoints(&doc, s.hub())?;
    ensure!(doc["end_session_endpoint"] == format!("{}/logout", s.hub()));
    Ok(())
}

/// `oidcc-rp-initiated-logout`: hint, registered `post_logout_redirect_uri` and `state`: a redirect
/// there carrying exactly that `state` (`CheckPostLogoutState`; other parameters would be a WARNING:
/// there are none), then `login_required`.
#[tokio::test]
async fn oidcc_rp_initiated_logout() -> Result<()> {
    let mut t = signed_in().await?;
    let state = random();
    let uri = t.s.post_logout_redirect_uri();
    let seen = t
        .logout(&[
            ("id_token_hint", &t.tokens.id_token.clone()),
            ("post_logout_redirect_uri", &uri),
            ("state", &state),
        ])
        .await?;
    ensure!(
        seen.location.as_deref() == Some(format!("{uri}?state={state}").as_str()),
        "{:?}",
        seen.location
    );
    t.ensure_logged_out().await
}

/// `oidcc-rp-initiated-logout-bad-post-logout-redirect-uri`: an unregistered URI: no redirect; the
/// hint proved the client, so the session ends and the signed-out page shows.
#[tokio::test]
async fn oidcc_rp_initiated_logout_bad_post_logout_redirect_uri() -> Result<()> {
    let mut t = signed_in().await?;
    let bad = format!("{}/post_logout_redirect/{}", t.s.cb, random());
    let seen = t
        .logout(&[
            ("id_token_hint", &t.tokens.id_token.clone()),
            ("post_logout_redirect_uri", &bad),
            ("state", &random()),
        ])
        .await?;
    t.ensure_signed_out_page(&seen).await
}

/// `oidcc-rp-initiated-logout-modified-id-token-hint`: the hint turned into `alg: none`: no redirect;
/// the hub, not trusting it, asks the person.
#[tokio::test]
async fn oidcc_rp_initiated_logout_modified_id_token_hint() -> Result<()> {
    let mut t = signed_in().await?;
    let payload = t
        .tokens
        .id_token
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow!("not a JWS"))?
        .to_string();
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string())
    );
    let seen = t
        .logout(&[
            ("id_token_hint", &none),
            ("post_logout_redirect_uri", &t.s.post_logout_redirect_uri()),
            ("state", &random()),
        ])
        .await?;
    t.ensure_asked_then_signed_out(&seen).await
}

/// `oidcc-rp-initiated-logout-no-id-token-hint`: URI and state without a hint (nor `client_id`): no
/// redirect; the hub asks.
#[tokio::test]
async fn oidcc_rp_initiated_logout_no_id_token_hint() -> Result<()> {
    let mut t = signed_in().await?;
    let seen = t
        .logout(&[
            ("post_logout_redirect_uri", &t.s.post_logout_redirect_uri()),
            ("state", &random()),
        ])
        .await?;
    t.ensure_asked_then_signed_out(&seen).await
}

/// `oidcc-rp-initiated-logout-no-params`: no parameters: the person is logged out (after the hub's
/// question) and sees the signed-out page; no redirect.
#[tokio::test]
async fn oidcc_rp_initiated_logout_no_params() -> Result<()> {
    let mut t = signed_in().await?;
    let seen = t.logout(&[]).await?;
    t.ensure_asked_then_signed_out(&seen).await
}

/// `oidcc-rp-initiated-logout-no-post-logout-redirect-uri`: hint and state: logged out, the signed-out
/// page, no redirect.
#[tokio::test]
async fn oidcc_rp_initiated_logout_no_post_logout_redirect_uri() -> Result<()> {
    let mut t = signed_in().await?;
    let seen = t
        .logout(&[("id_token_hint", &t.tokens.id_token.clone()), ("state", &random())])
        .await?;
    t.ensure_signed_out_page(&seen).await
}

/// `oidcc-rp-initiated-logout-no-state`: hint and URI, no state: a redirect there without `state`
/// (`CheckNoPostLogoutState`), then `login_required`.
#[tokio::test]
async fn oidcc_rp_initiated_logout_no_state() -> Result<()> {
    let mut t = signed_in().await?;
    let uri = t.s.post_logout_redirect_uri();
    let seen = t
        .logout(&[
            ("id_token_hint", &t.tokens.id_token.clone()),
            ("post_logout_redirect_uri", &uri),
        ])
        .await?;
    ensure!(seen.location.as_deref() == Some(uri.as_str()), "{:?}", seen.location);
    t.ensure_logged_out().await
}

/// `oidcc-rp-initiated-logout-only-state`: only `state`: the hub asks, then the signed-out page; no
/// redirect.
#[tokio::test]
async fn oidcc_rp_initiated_logout_only_state() -> Result<()> {
    let mut t = signed_in().await?;
    let seen = t.logout(&[("state", &random())]).await?;
    t.ensure_asked_then_signed_out(&seen).await
}

/// `oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri`: the registered URI plus
/// `?foo=bar` is not an exact match: no redirect; the proven hint ends the session, signed-out page.
#[tokio::test]
async fn oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri() -> Result<()> {
    let mut t = signed_in().await?;
    let uri = format!("{}?foo=bar", t.s.post_logout_redirect_uri());
    let seen = t
        .logout(&[
            ("id_token_hint", &t.tokens.id_token.clone()),
            ("post_logout_redirect_uri", &uri),
            ("state", &random()),
        ])
        .await?;
    t.ensure_signed_out_page(&seen).await
}

/// `oidcc-rp-initiated-logout-bad-id-token-hint`: a made-up ID token with the real one's claims signed
/// by a key of the suite's: no redirect; the hub asks.
#[tokio::test]
async fn oidcc_rp_initiated_logout_bad_id_token_hint() -> Result<()> {
    let mut t = signed_in().await?;
    let fake_key = keys::SigningKey::generate()?;
    let fake = fake_key.sign_jwt("JWT", &t.tokens.claims)?;
    let seen = t
        .logout(&[
            ("id_token_hint", &fake),
            ("post_logout_redirect_uri", &t.s.post_logout_redirect_uri()),
            ("state", &random()),
        ])
        .await?;
    t.ensure_asked_then_signed_out(&seen).await
}

/// `oidcc-backchannel-logout-discovery-endpoint-verification`: `backchannel_logout_supported` and
/// `backchannel_logout_session_supported` true (certification asks for `sid`), `end_session_endpoint`.
#[tokio::test]
async fn oidcc_backchannel_logout_discovery_endpoint_verification() -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let doc = fetch_discovery(s.hub()).await?;
    issuer_and_endpoints(&doc, s.hub())?;
    ensure!(doc["backchannel_logout_supported"] == true);
    ensure!(doc["backchannel_logout_session_supported"] == true);
    ensure!(doc["end_session_endpoint"].is_string());
    Ok(())
}

/// `oidcc-backchannel-rp-initiated-logout`: RP-initiated logout with every parameter; both the
/// back-channel POST to the client's `backchannel_logout_uri` and the front-channel redirect arrive. The
/// POST is a form with `logout_token` alone; the token verifies with the JWKS; `iss`, `aud`, `iat`, `jti`;
/// `events` exactly `{"http://schemas.openid.net/event/backchannel-logout": {}}`; no `nonce`; `sub` and
/// `sid` those of the ID token. Then `login_required`.
#[tokio::test]
async fn oidcc_backchannel_rp_initiated_logout() -> Result<()> {
    let mut t = signed_in().await?;
    let sid = t
        .tokens
        .claims
        .get("sid")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("the ID token has no sid"))?
        .to_string();
    let state = random();
    let uri = t.s.post_logout_redirect_uri();
    let seen = t
        .logout(&[
            ("id_token_hint", &t.tokens.id_token.clone()),
            ("post_logout_redirect_uri", &uri),
            ("state", &state),
        ])
        .await?;
    ensure!(seen.location.as_deref() == Some(format!("{uri}?state={state}").as_str()));

    let (_, keys) = super::client::jwks(t.s).await?;
    let mut found = None;
    for _ in 0..200 {
        found = callback::backchannel_requests().into_iter().find_map(|r| {
            let token = r.form.iter().find(|(k, _)| k == "logout_token")?.1.clone();
            let claims = keys::peek_claims(&token).ok()?;
            (claims.get("sid").and_then(Value::as_str) == Some(sid.as_str())).then_some((r, token))
        });
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (request, token) = found.ok_or_else(|| anyhow!("no logout token with the ID token's sid arrived"))?;
    ensure!(request.method == "POST");
    ensure!(
        request
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
        "{:?}",
        request.content_type
    );
    ensure!(
        request.form.len() == 1,
        "other parameters beside logout_token: {:?}",
        request.form
    );
    let (_, claims) = keys.verify(&token)?;
    ensure!(claims.get("iss") == Some(&json!(t.s.hub())));
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == t.rp.client_id,
        Some(Value::Array(l)) => l.iter().any(|a| a == t.rp.client_id),
        _ => false,
    };
    ensure!(aud_ok, "aud {:?}", claims.get("aud"));
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow!("no iat"))?;
    ensure!(iat <= now() + 300 && iat >= now() - 86_400, "iat {iat}");
    ensure!(claims.get("jti").and_then(Value::as_str).is_some_and(|j| !j.is_empty()));
    ensure!(
        claims.get("events") == Some(&json!({"http://schemas.openid.net/event/backchannel-logout": {}})),
        "events {:?}",
        claims.get("events")
    );
    ensure!(!claims.contains_key("nonce"), "a nonce in the logout token");
    ensure!(
        claims.get("sub") == t.tokens.claims.get("sub"),
        "sub differs from the ID token's"
    );
    t.ensure_logged_out().await
}
