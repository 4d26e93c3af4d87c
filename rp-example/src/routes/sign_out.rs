//! `GET /sign-out`: ends the local session, then RP-initiated logout at the hub (OIDC RP-Initiated Logout
//! 1.0 §2; INTERFACE.md §6).

use axum::{extract::State, response::Response};
use axum_extra::extract::cookie::CookieJar;

use crate::{
    assertion::random_token,
    store::{remove_cookie, SESSION_COOKIE},
    AppState,
};

/// Drops the session and clears its cookie, then sends the person to the hub's `end_session_endpoint` with
/// `id_token_hint`, `post_logout_redirect_uri` and `state`; straight to `/signed-out` when there was no
/// session or the hub has no logout endpoint.
pub async fn get(State(state): State<AppState>, jar: CookieJar) -> (CookieJar, Response) {
    let session = jar.get(SESSION_COOKIE).and_then(|c| state.sessions.remove(c.value()));
    let jar = remove_cookie(jar, SESSION_COOKIE);
    let local = state.config.post_logout_redirect_uri();
    let Some(session) = session else {
        return (jar, super::found(&local));
    };
    let provider = match state.provider.get(&state.config, &state.http, state.clock.now()).await {
        Ok(provider) => provider,
        Err(error) => {
            tracing::warn!(%error, "signed out locally only");
            return (jar, super::found(&local));
        }
    };
    let target = provider
        .end_session_endpoint
        .as_deref()
        .and_then(|e| url::Url::parse(e).ok())
        .map(|mut url| {
            url.query_pairs_mut()
                .append_pair("id_token_hint", &session.id_token)
                .append_pair("post_logout_redirect_uri", &local)
                .append_pair("state", &random_token());
            url.to_string()
        });
    (jar, super::found(target.as_deref().unwrap_or(&local)))
}
