//! `GET|POST /{p}/userinfo` (OIDC Core 1.0 §5.3) with a Bearer access token (RFC 6750 §2.1): the standard
//! claims the scopes release plus One Login's identity vocabulary.

use crate::{state::lock, AppState, Error};
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};

/// The access token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Answers the claims of the token's persona.
pub async fn handle(
    State(state): State<AppState>,
    Path(provider_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    state.provider(&provider_id)?;
    let token = bearer(&headers).ok_or(Error::InvalidToken)?;
    let now = state.now();
    let grant = lock(&state.inner.tokens)
        .get(token)
        .cloned()
        .ok_or(Error::InvalidToken)?;
    if grant.provider_id != provider_id || grant.expires_at <= now {
        return Err(Error::InvalidToken);
    }
    let subject = grant.persona.subject(&provider_id);
    let claims = grant.persona.userinfo_claims(&subject, &grant.scopes);
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response())
}
