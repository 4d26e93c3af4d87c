//! The modules of the Basic OP plan (`oidcc-basic-certification-test-plan`), each a function of the
//! response mode so the Form Post OP plan runs the same module with `response_mode=form_post`
//! ([`super::basic_op`], [`super::form_post_op`]). Each says what the suite's module sends and which of
//! its FAILURE conditions it asserts; where the suite accepts "an error page or a redirect with X", the
//! test asserts the one the hub gives.

use super::{
    client::{
        authorize, ensure_endpoint_error, ensure_error_page, ensure_error_response, ensure_only_requested_claims,
        ensure_random_enough, ensure_state_and_iss, ensure_userinfo, pkce, random_of, userinfo, Rp, Tokens,
        UserinfoCall,
    },
    shared, Mode, Plan, Shared, SHORT_CODE_TTL,
};
use crate::harness::{now, Agent};
use anyhow::{anyhow, ensure, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Value};
use std::time::Duration;

async fn discovery(s: &Shared) -> Result<Value> {
    Ok(reqwest::get(format!("{}/.well-known/openid-configuration", s.hub()))
        .await?
        .json()
        .await?)
}

fn lists(doc: &Value, field: &str, value: &str) -> bool {
    doc[field]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(value)))
}

/// A standard sign-in with `set` changed, checked to the token response (the modules whose only
/// assertion is "the flow completes with the standard checks").
async fn standard_flow(mode: Mode, set: &[(&str, Option<&str>)]) -> Result<(&'static Shared, Tokens)> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let request = rp.request(s, set);
    let tokens = rp.sign_in(s, &mut agent, &request).await?;
    Ok((s, tokens))
}

/// `oidcc-server`: the code flow and userinfo; the code ≥128 bits with ≥96 bits of entropy; the ID
/// token carries no claim nobody asked for; userinfo 200.
pub async fn oidcc_server(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let request = rp.request(s, &[]);
    let (response, _) = rp.run(s, &mut agent, &request).await?;
    ensure_state_and_iss(s, &response, request.state.as_deref())?;
    let code = response.code()?;
    ensure_random_enough("the code", &code)?;
    let tokens = rp.redeem(s, &code, &request).await?;
    ensure_only_requested_claims(&tokens.claims)?;
    ensure_userinfo(&userinfo(s, &tokens.access_token, UserinfoCall::Get).await?, &tokens)?;
    Ok(())
}

/// `oidcc-response-type-missing`: no `response_type`. The suite accepts an error page or an error
/// response (`invalid_request` or `unsupported_response_type`); the hub answers `invalid_request` to the
/// client, with `state` and `iss` and no code.
pub async fn oidcc_response_type_missing(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let request = rp.request(s, &[("response_type", None)]);
    let seen = agent.get(&request.url).await?;
    let response = rp.response(s, &mut agent, &seen).await?;
    ensure_error_response(s, &response, request.state.as_deref(), &["invalid_request"])
}

async fn userinfo_module(mode: Mode, how: UserinfoCall) -> Result<()> {
    let (s, tokens) = standard_flow(mode, &[]).await?;
    ensure_userinfo(&userinfo(s, &tokens.access_token, how).await?, &tokens)?;
    Ok(())
}

/// `oidcc-userinfo-get`: userinfo by GET with the Bearer header: 200, `application/json`, a JSON object
/// whose `sub` is the ID token's.
pub async fn oidcc_userinfo_get(mode: Mode) -> Result<()> {
    userinfo_module(mode, UserinfoCall::Get).await
}

/// `oidcc-userinfo-post-header`: the same by POST with the token in the header.
pub async fn oidcc_userinfo_post_header(mode: Mode) -> Result<()> {
    userinfo_module(mode, UserinfoCall::PostHeader).await
}

/// `oidcc-userinfo-post-body`: the same with `access_token` in a form body (optional in the suite: a
/// refusal is a WARNING); `oidc-basic` clients may, so the hub answers 200.
pub async fn oidcc_userinfo_post_body(mode: Mode) -> Result<()> {
    userinfo_module(mode, UserinfoCall::PostBody).await
}

/// `oidcc-ensure-request-without-nonce-succeeds-for-code-flow`: no `nonce`; a code is issued (and, as
/// the standard checks ask, the ID token then carries no nonce).
pub async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow(mode: Mode) -> Result<()> {
    let (_, tokens) = standard_flow(mode, &[("nonce", None)]).await?;
    ensure!(
        !tokens.claims.contains_key("nonce"),
        "a nonce came back though none was sent"
    );
    Ok(())
}

/// The scope modules: the suite skips one whose scope discovery's `scopes_supported` lacks; the hub
/// offers `openid`, `email` and `phone`, ignores a scope it does not offer (RFC 6749 §3.3) and signs in.
/// Userinfo: 200 with `sub`, and the claims of each offered scope asked for.
async fn scope_module(mode: Mode, scope: &str) -> Result<Value> {
    let (s, tokens) = standard_flow(mode, &[("scope", Some(scope))]).await?;
    let doc = discovery(s).await?;
    for asked in scope.split(' ') {
        let offered = lists(&doc, "scopes_supported", asked);
        ensure!(
            offered == matches!(asked, "openid" | "email" | "phone"),
            "scopes_supported and {asked}"
        );
    }
    let info = ensure_userinfo(&userinfo(s, &tokens.access_token, UserinfoCall::Get).await?, &tokens)?;
    if scope.split(' ').any(|x| x == "email") {
        ensure!(
            info["email"].is_string(),
            "no email in userinfo for scope email: {info}"
        );
    }
    if scope.split(' ').any(|x| x == "phone") {
        ensure!(
            info["phone_number"].is_string(),
            "no phone_number for scope phone: {info}"
        );
    }
    ensure!(
        info.get("name").is_none(),
        "name in userinfo though profile is not offered"
    );
    ensure_only_requested_claims(&tokens.claims)?;
    Ok(info)
}

/// `oidcc-scope-profile`: `scope=openid profile` (the suite skips it: `profile` is not in
/// `scopes_supported`; the hub still signs in).
pub async fn oidcc_scope_profile(mode: Mode) -> Result<()> {
    scope_module(mode, "openid profile").await.map(|_| ())
}

/// `oidcc-scope-email`: `scope=openid email`: email in userinfo, neither email nor name in the ID token.
pub async fn oidcc_scope_email(mode: Mode) -> Result<()> {
    scope_module(mode, "openid email").await.map(|_| ())
}

/// `oidcc-scope-address`: `scope=openid address` (skipped by the suite: not offered).
pub async fn oidcc_scope_address(mode: Mode) -> Result<()> {
    scope_module(mode, "openid address").await.map(|_| ())
}

/// `oidcc-scope-phone`: `scope=openid phone`: `phone_number` in userinfo.
pub async fn oidcc_scope_phone(mode: Mode) -> Result<()> {
    scope_module(mode, "openid phone").await.map(|_| ())
}

/// `oidcc-scope-all`: every scope (skipped by the suite unless all are offered).
pub async fn oidcc_scope_all(mode: Mode) -> Result<()> {
    scope_module(mode, "openid email phone address profile")
        .await
        .map(|_| ())
}

/// `oidcc-ensure-other-scope-order-succeeds`: `scope=email openid`, the `openid email` of the module
/// reversed, which must succeed (RFC 6749 §3.3: the order does not matter); userinfo carries the email.
pub async fn oidcc_ensure_other_scope_order_succeeds(mode: Mode) -> Result<()> {
    scope_module(mode, "email openid").await.map(|_| ())
}

/// `oidcc-alternate-happy-flow`: the scope's order reversed and the parameters sent in another order.
pub async fn oidcc_alternate_happy_flow(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let (mut params, mut request) = rp.params(s, &[("scope", Some("email openid"))]);
    params.reverse();
    request.url = rp.url(s, &params);
    let tokens = rp.sign_in(s, &mut agent, &request).await?;
    let info = ensure_userinfo(&userinfo(s, &tokens.access_token, UserinfoCall::Get).await?, &tokens)?;
    ensure!(info["email"].is_string(), "no email: {info}");
    ensure_only_requested_claims(&tokens.claims)
}

/// `oidcc-display-page`: `display=page`, which the OP may ignore but must not refuse.
pub async fn oidcc_display_page(mode: Mode) -> Result<()> {
    standard_flow(mode, &[("display", Some("page"))]).await.map(|_| ())
}

/// `oidcc-display-popup`: `display=popup`, likewise.
pub async fn oidcc_display_popup(mode: Mode) -> Result<()> {
    standard_flow(mode, &[("display", Some("popup"))]).await.map(|_| ())
}

/// `oidcc-prompt-login`: a sign-in, then (after the suite's one-second wait, as `auth_time` counts
/// seconds) `prompt=login` in the same browser: the person signs in again (the suite's screenshot of the
/// second login: here, the provider's page is shown again) and the second `auth_time` is later.
pub async fn oidcc_prompt_login(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let first = rp.sign_in(s, &mut agent, &rp.request(s, &[])).await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let request = rp.request(s, &[("prompt", Some("login"))]);
    let ended = authorize(s, &mut agent, &request.url, "success").await?;
    ensure!(ended.signed_in, "prompt=login did not send the person to sign in again");
    let response = rp.response(s, &mut agent, &ended.seen).await?;
    ensure_state_and_iss(s, &response, request.state.as_deref())?;
    let second = rp.redeem(s, &response.code()?, &request).await?;
    if let (Some(a), Some(b)) = (first.auth_time(), second.auth_time()) {
        ensure!(b > a, "the second auth_time {b} is not later than the first {a}");
    }
    Ok(())
}

/// `oidcc-prompt-none-not-logged-in`: `prompt=none` without a session and a 128-character `state`:
/// an error response (never a page) with `login_required` (the suite accepts the four
/// interaction errors).
pub async fn oidcc_prompt_none_not_logged_in(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let state = random_of(128);
    let request = rp.request(s, &[("prompt", Some("none")), ("state", Some(&state))]);
    let seen = agent.get(&request.url).await?;
    let response = rp.response(s, &mut agent, &seen).await?;
    ensure_error_response(s, &response, Some(&state), &["login_required"])
}

/// A sign-in, then a second request in the same browser with `set`: it must succeed without the person
/// (no page), with the same `sub` and `auth_time`.
async fn silent_second(
    mode: Mode,
    first_set: &[(&str, Option<&str>)],
    set: &dyn Fn(&Tokens) -> Vec<(&'static str, String)>,
) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let first = rp.sign_in(s, &mut agent, &rp.request(s, first_set)).await?;
    let second_set = set(&first);
    let second_set: Vec<(&str, Option<&str>)> = second_set.iter().map(|(k, v)| (*k, Some(v.as_str()))).collect();
    let request = rp.request(s, &second_set);
    let ended = authorize(s, &mut agent, &request.url, "success").await?;
    ensure!(!ended.signed_in, "the person was asked to sign in again");
    let response = rp.response(s, &mut agent, &ended.seen).await?;
    ensure_state_and_iss(s, &response, request.state.as_deref())?;
    let second = rp.redeem(s, &response.code()?, &request).await?;
    ensure!(second.sub() == first.sub(), "sub changed");
    ensure!(second.auth_time() == first.auth_time(), "auth_time changed");
    if second_set.iter().any(|(k, _)| *k == "max_age") {
        ensure!(second.auth_time().is_some(), "no auth_time though max_age was sent");
    }
    Ok(())
}

/// `oidcc-prompt-none-logged-in`: a sign-in, then `prompt=none`: a code without interaction, same
/// `sub` and `auth_time`.
pub async fn oidcc_prompt_none_logged_in(mode: Mode) -> Result<()> {
    silent_second(mode, &[], &|_| vec![("prompt", "none".into())]).await
}

/// `oidcc-max-age-1`: a sign-in, the suite's two-second wait, then `max_age=1`: the person signs in
/// again, and the second ID token carries an `auth_time` later than the first and recent.
pub async fn oidcc_max_age_1(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let first = rp.sign_in(s, &mut agent, &rp.request(s, &[])).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let request = rp.request(s, &[("max_age", Some("1"))]);
    let ended = authorize(s, &mut agent, &request.url, "success").await?;
    ensure!(ended.signed_in, "max_age=1 did not make the person sign in again");
    let response = rp.response(s, &mut agent, &ended.seen).await?;
    let second = rp.redeem(s, &response.code()?, &request).await?;
    let auth_time = second
        .auth_time()
        .ok_or_else(|| anyhow!("no auth_time though max_age was sent"))?;
    ensure!(
        first.auth_time().is_none_or(|a| auth_time > a),
        "auth_time {auth_time} is not later than the first"
    );
    ensure!(auth_time >= now() - 1 - 300, "auth_time {auth_time} is not recent");
    Ok(())
}

/// `oidcc-max-age-10000`: `max_age=15000` then `max_age=10000`: the second succeeds without login, both
/// ID tokens carry `auth_time`, the same, and the same `sub`.
pub async fn oidcc_max_age_10000(mode: Mode) -> Result<()> {
    silent_second(mode, &[("max_age", Some("15000"))], &|first| {
        assert!(first.auth_time().is_some(), "no auth_time with max_age=15000");
        vec![("max_age", "10000".into())]
    })
    .await
}

/// `oidcc-ensure-request-with-unknown-parameter-succeeds`: `extra=foobar` is ignored (RFC 6749 §3.1).
pub async fn oidcc_ensure_request_with_unknown_parameter_succeeds(mode: Mode) -> Result<()> {
    standard_flow(mode, &[("extra", Some("foobar"))]).await.map(|_| ())
}

/// `oidcc-id-token-hint`: a sign-in, then `prompt=none` with the first ID token as `id_token_hint`:
/// silent success, same `sub` and `auth_time`.
pub async fn oidcc_id_token_hint(mode: Mode) -> Result<()> {
    silent_second(mode, &[], &|first| {
        vec![("prompt", "none".into()), ("id_token_hint", first.id_token.clone())]
    })
    .await
}

/// `oidcc-login-hint`: `login_hint=buffy@<issuer host>`, which the hub may ignore but must not refuse.
pub async fn oidcc_login_hint(mode: Mode) -> Result<()> {
    standard_flow(mode, &[("login_hint", Some("buffy@127.0.0.1"))])
        .await
        .map(|_| ())
}

/// `oidcc-ui-locales`: `ui_locales=se` (a language the hub does not speak: pages stay in English).
pub async fn oidcc_ui_locales(mode: Mode) -> Result<()> {
    standard_flow(mode, &[("ui_locales", Some("se"))]).await.map(|_| ())
}

/// `oidcc-claims-locales`: `claims_locales=se`, ignored.
pub async fn oidcc_claims_locales(mode: Mode) -> Result<()> {
    standard_flow(mode, &[("claims_locales", Some("se"))]).await.map(|_| ())
}

/// `oidcc-ensure-request-with-acr-values-succeeds`: `acr_values` (discovery lists none, so the suite's
/// `"1 2"`): the flow succeeds.
pub async fn oidcc_ensure_request_with_acr_values_succeeds(mode: Mode) -> Result<()> {
    let (s, _) = standard_flow(mode, &[("acr_values", Some("1 2"))]).await?;
    ensure!(discovery(s).await?.get("acr_values_supported").is_none());
    Ok(())
}

/// `oidcc-codereuse`: the code redeemed, then again at once: 400, JSON, `invalid_grant` (the suite only
/// warns of a 200; the hub refuses).
pub async fn oidcc_codereuse(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let request = rp.request(s, &[]);
    let code = rp.code(s, &mut agent, &request).await?;
    rp.redeem(s, &code, &request).await?;
    let again = rp.token(s, &code, &[]).await?;
    ensure_endpoint_error(&again, &[400], &["invalid_grant"])
}

/// `oidcc-codereuse-30seconds`: the code redeemed, then again after the suite's 30 s: 400, JSON,
/// `invalid_grant`; the access token issued for it no longer works (a 4xx, which the suite expects and
/// only warns without). What stands in for the 30 s: a federation whose codes live
/// [`SHORT_CODE_TTL`] seconds, and a replay once that has passed, when the code itself is long gone and
/// only the hub's record of its use can refuse it.
pub async fn oidcc_codereuse_30seconds(mode: Mode) -> Result<()> {
    let s = shared(Plan::ShortLived).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let request = rp.request(s, &[]);
    let code = rp.code(s, &mut agent, &request).await?;
    let tokens = rp.redeem(s, &code, &request).await?;
    tokio::time::sleep(Duration::from_secs(SHORT_CODE_TTL + 1)).await;
    let again = rp.token(s, &code, &[]).await?;
    ensure_endpoint_error(&again, &[400], &["invalid_grant"])?;
    let info = userinfo(s, &tokens.access_token, UserinfoCall::Get).await?;
    ensure!(
        (400..500).contains(&info.status),
        "the access token of a replayed code still works: {} {}",
        info.status,
        info.body
    );
    Ok(())
}

/// `oidcc-ensure-registered-redirect-uri`: a `redirect_uri` that is the registered one with something
/// appended: the hub's error page, never a redirect (to either URI).
pub async fn oidcc_ensure_registered_redirect_uri(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let bad = format!("{}/{}", s.redirect_uri(rp.client_id), super::client::random());
    let request = rp.request(s, &[("redirect_uri", Some(&bad))]);
    let seen = agent.get(&request.url).await?;
    ensure_error_page(&seen, s)?;
    ensure!(
        !seen.body.contains(r#"id="form-post""#),
        "a form post to the unregistered URI"
    );
    Ok(())
}

/// `oidcc-ensure-post-request-succeeds`: the authorization request as a form POST.
pub async fn oidcc_ensure_post_request_succeeds(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let (params, request) = rp.params(s, &[]);
    let first = agent.post(&format!("{}/authorize", s.hub()), &params).await?;
    let ended = super::client::person(s, &mut agent, first, "success").await?;
    let response = rp.response(s, &mut agent, &ended.seen).await?;
    ensure_state_and_iss(s, &response, request.state.as_deref())?;
    rp.redeem(s, &response.code()?, &request).await?;
    Ok(())
}

/// `oidcc-server-client-secret-post`: discovery lists `client_secret_post` (absent would fail here),
/// and the suite's `client_secret_post` client signs in and calls userinfo.
pub async fn oidcc_server_client_secret_post(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    ensure!(lists(
        &discovery(s).await?,
        "token_endpoint_auth_methods_supported",
        "client_secret_post"
    ));
    let rp = Rp::post(mode);
    let mut agent = Agent::new()?;
    let tokens = rp.sign_in(s, &mut agent, &rp.request(s, &[])).await?;
    ensure_userinfo(&userinfo(s, &tokens.access_token, UserinfoCall::Get).await?, &tokens)?;
    Ok(())
}

/// An unsigned (`alg: none`) request object.
fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported`: `request=<alg:none>`
/// with `state` and `nonce` only inside. The suite skips it when discovery's
/// `request_object_signing_alg_values_supported` lacks `none` (it does) or when the OP answers
/// `request_not_supported`, which the hub does for `oidc-basic` clients, at the registered redirect URI,
/// with `iss` and without the `state` it could not trust.
pub async fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let doc = discovery(s).await?;
    ensure!(doc["request_object_signing_alg_values_supported"].is_array());
    ensure!(!lists(&doc, "request_object_signing_alg_values_supported", "none"));
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let redirect_uri = s.redirect_uri(rp.client_id);
    let mut object = json!({
        "client_id": rp.client_id, "response_type": "code", "scope": "openid",
        "redirect_uri": redirect_uri, "state": "inside-the-object", "nonce": "inside-the-object",
    });
    let mut query = vec![
        ("client_id", Some(rp.client_id)),
        ("response_type", Some("code")),
        ("scope", Some("openid")),
        ("redirect_uri", Some(redirect_uri.as_str())),
        ("state", None),
        ("nonce", None),
    ];
    if mode == Mode::FormPost {
        object["response_mode"] = json!("form_post");
    }
    let request_object = unsigned(&object);
    query.push(("request", Some(request_object.as_str())));
    let request = rp.request(s, &query);
    let seen = agent.get(&request.url).await?;
    let response = rp.response(s, &mut agent, &seen).await?;
    ensure_error_response(s, &response, None, &["request_not_supported"])
}

/// `oidcc-claims-essential`: `name` asked for as an essential userinfo claim through `claims`, which the
/// OP may ignore but must not refuse; `name` is not in the ID token.
pub async fn oidcc_claims_essential(mode: Mode) -> Result<()> {
    let claims = json!({"userinfo": {"name": {"essential": true}}}).to_string();
    let (s, tokens) = standard_flow(mode, &[("claims", Some(&claims))]).await?;
    ensure!(!tokens.claims.contains_key("name"), "name in the ID token");
    ensure_userinfo(&userinfo(s, &tokens.access_token, UserinfoCall::Get).await?, &tokens)?;
    Ok(())
}

/// `oidcc-ensure-request-object-with-redirect-uri`: an unsigned request object with the right
/// `redirect_uri` and a wrong one in the query. The suite skips it unless `none` is offered; run, the
/// hub shows its error page (one of the two passes) and never redirects, above all not to the registered
/// URI with `request_not_supported` (a FAILURE).
pub async fn oidcc_ensure_request_object_with_redirect_uri(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let good = s.redirect_uri(rp.client_id);
    let bad = format!("{good}/{}", super::client::random());
    let object = json!({
        "client_id": rp.client_id, "response_type": "code", "scope": "openid",
        "redirect_uri": good, "state": "s", "nonce": "n",
    });
    let request_object = unsigned(&object);
    let request = rp.request(s, &[("redirect_uri", Some(&bad)), ("request", Some(&request_object))]);
    let seen = agent.get(&request.url).await?;
    ensure_error_page(&seen, s)
}

/// `oidcc-ensure-request-with-valid-pkce-succeeds`: an S256 `code_challenge`, the `code_verifier` at the
/// token endpoint: the flow succeeds.
pub async fn oidcc_ensure_request_with_valid_pkce_succeeds(mode: Mode) -> Result<()> {
    let s = shared(Plan::Oidc).await?;
    let rp = Rp::basic(mode);
    let mut agent = Agent::new()?;
    let (verifier, challenge) = pkce();
    let mut request = rp.request(
        s,
        &[
            ("code_challenge", Some(&challenge)),
            ("code_challenge_method", Some("S256")),
        ],
    );
    request.verifier = Some(verifier);
    rp.sign_in(s, &mut agent, &request).await?;
    Ok(())
}
