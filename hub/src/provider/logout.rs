//! `GET /logout`: RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2–3, INTERFACE.md §6).
//!
//! The `id_token_hint`'s signature is checked but not its expiry (ID tokens live two minutes; people log
//! out later). The person is sent to `post_logout_redirect_uri` only if it is registered exactly for the
//! client the hint names; otherwise they see the hub's signed-out page.

use crate::{error::HubError, provider::authorize::JOURNEY_COOKIE, state::AppState, web::Page};
use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;

/// The longest query string accepted on `/logout` (INTERFACE.md §2).
pub const MAX_QUERY: usize = 2048;

/// Logout request parameters.
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub ui_locales: Option<String>,
}

/// Where the person goes after logout: a registered URI (with `state`), or `None` for the hub's page.
pub fn destination(state: &AppState, params: &Params) -> Option<String> {
    let hint = params.id_token_hint.as_deref()?;
    let verified = keys::VerifyingKeys::from_jwks(&keys::jwks([&state.keys.signing, &state.keys.signing_rs256]))
        .ok()?
        .verify(hint)
        .ok()?;
    let (_, claims) = verified;
    if claims.get("iss").and_then(Value::as_str) != Some(state.config.issuer.as_str()) {
        return None;
    }
    let client_id = claims.get("aud").and_then(Value::as_str)?;
    if params.client_id.as_deref().is_some_and(|c| c != client_id) {
        return None;
    }
    let clients = state.clients();
    let client = clients.get(client_id)?;
    let uri = params.post_logout_redirect_uri.as_deref()?;
    if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
        return None;
    }
    let mut url = url::Url::parse(uri).ok()?;
    if let Some(s) = &params.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Some(url.to_string())
}

/// `GET /logout`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, HubError> {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY {
        return Err(Page::too_long().into());
    }
    let params: Params = serde_urlencoded::from_str(&query).unwrap_or_default();
    let mut response = match destination(&state, &params) {
        Some(url) => crate::web::found(&url),
        None => Page::new(StatusCode::OK, "signed-out-heading")
            .para("signed-out-body")
            .into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{JOURNEY_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    match crate::session::end(&state, &headers).await {
        Ok((ended, clear)) => {
            if let Some(session) = ended {
                super::backchannel::notify(&state, &session);
            }
            crate::session::set_cookie(response.headers_mut(), clear)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not end the hub session");
            return Err(Page::unavailable().into());
        }
    }
    Ok(response)
}
