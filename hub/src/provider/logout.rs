//! `GET /logout`: RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2–3, INTERFACE.md §6).
//!
//! The `id_token_hint`'s signature is checked but not its expiry (ID tokens live two minutes; people log
//! out later). The person is sent to `post_logout_redirect_uri` only if it is registered exactly for the
//! client the hint names; otherwise they see the hub's signed-out page.

use crate::{
    audit::{self, Fact},
    carry_out,
    http::{
        self,
        cookies::{self, CookieChange, HubCookies},
    },
    ids::ClientId,
    state::AppState,
    web::page::Page,
    web::page::PageResult,
};
use axum::{
    extract::{RawQuery, State},
    http::StatusCode,
    response::IntoResponse,
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

/// The client a valid `id_token_hint` names (signed by the hub, issued by it), if any.
pub fn hinted_client(state: &AppState, params: &Params) -> Option<ClientId> {
    let hint = params.id_token_hint.as_deref()?;
    let keys = keys::VerifyingKeys::from_jwks(&keys::jwks([&state.keys.signing, &state.keys.signing_rs256])).ok()?;
    let (_, claims) = keys.verify(hint).ok()?;
    if claims.get("iss").and_then(Value::as_str) != Some(state.config.issuer.as_str()) {
        return None;
    }
    let client_id = claims.get("aud").and_then(Value::as_str)?;
    if params.client_id.as_deref().is_some_and(|c| c != client_id) {
        return None;
    }
    Some(ClientId::from(client_id))
}

/// Where the person goes after logout: a registered URI (with `state`), or `None` for the hub's page.
pub fn destination(state: &AppState, client: Option<&ClientId>, params: &Params) -> Option<String> {
    let reg = state.snapshot();
    let client = reg.client(client?.as_str())?;
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
pub async fn get(State(state): State<AppState>, cookies: HubCookies, RawQuery(query): RawQuery) -> PageResult {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY {
        return Err(Page::too_long().into());
    }
    let params: Params = serde_urlencoded::from_str(&query).unwrap_or_default();
    let client = hinted_client(&state, &params);
    let ended = carry_out::end_session(&state, &cookies).await?;
    let mut response = match destination(&state, client.as_ref(), &params) {
        Some(url) => http::found(&url),
        None => Page::new(StatusCode::OK, "signed-out-heading")
            .para("signed-out-body")
            .into_response(),
    };
    cookies::apply(
        response.headers_mut(),
        &[CookieChange::EndJourney, CookieChange::EndSession],
    );
    if let Some(session) = ended {
        super::backchannel::notify(&state, &session);
        let fact = Fact::LoggedOut {
            client_id: client,
            services_told: session.clients.clone(),
        };
        audit::note(state.audit.as_ref(), state.now(), fact).await;
    }
    Ok(response)
}
