//! `GET /sign-in?level=…`: the authentication request (OIDC Core 1.0 §3.1.2.1, RFC 7636; INTERFACE.md §2).

use axum::{
    extract::{Query, State},
    response::Response,
};
use axum_extra::extract::cookie::CookieJar;
use openidconnect::{core::CoreResponseType, AuthenticationFlow, CsrfToken, Nonce, PkceCodeChallenge, Scope};
use serde::Deserialize;

use crate::{
    error::RpError,
    oidc::Level,
    store::{host_cookie, PendingLogin, LOGIN_COOKIE},
    AppState,
};

/// The start page's form.
#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    /// `Cl.Cm` or `Cl.Cm.P2`; absent means `Cl.Cm`.
    pub level: Option<String>,
}

/// Remembers `state`, `nonce` and the PKCE verifier under a random id in `__Host-rp-login`, then sends the
/// person to the hub with `vtr` (and, for identity, the `claims` request).
pub async fn get(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<SignInQuery>,
) -> Result<(CookieJar, Response), RpError> {
    let level = Level::parse(query.level.as_deref())?;
    let now = state.clock.now();
    let provider = state.provider.get(&state.config, &state.http, now).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = provider.client.authorize_url(
        AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    // `openid` is added by the client itself.
    for scope in state.config.scopes.iter().filter(|s| s.as_str() != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    request = request
        .set_pkce_challenge(challenge)
        .add_extra_param("vtr", level.vtr());
    if let Some(claims) = level.claims() {
        request = request.add_extra_param("claims", claims);
    }
    // The sign-in's trace: kept for the callback, and handed to the hub when set to share it.
    let trace = serving::request::current_traceparent();
    if let Some(traceparent) = trace.clone().filter(|_| state.config.share_trace_context) {
        request = request.add_extra_param("traceparent", traceparent);
    }
    let (url, csrf, nonce) = request.url();
    let id = state
        .logins
        .insert(PendingLogin::new(csrf, nonce, verifier, level, now).traced(trace), now);
    Ok((jar.add(host_cookie(LOGIN_COOKIE, id)), super::found(url.as_str())))
}
