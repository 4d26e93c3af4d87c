//! `GET|POST /userinfo` (OIDC Core §5.3, RFC 6750, INTERFACE.md §5): `sub` and the claims released for
//! the access token; a bad, expired or revoked token is a 401 with `WWW-Authenticate: Bearer`.

use crate::{
    audit::{self, Fact},
    error::{ApiResult, HubError},
    http::no_store,
    ids::AccessToken,
    state::AppState,
    store::key,
    tokens::AccessGrant,
};
use axum::{
    extract::State,
    http::{header, HeaderMap},
    Json,
};
use serde_json::Value;

/// The Bearer token of a request (RFC 6750 §2.1).
fn bearer(headers: &HeaderMap) -> Option<AccessToken> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(AccessToken::from_wire)
}

/// `GET /userinfo` and `POST /userinfo`.
pub async fn handle(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let token = bearer(&headers).ok_or_else(|| HubError::InvalidToken("a Bearer access token is required".into()))?;
    let grant: AccessGrant = state
        .store
        .get_json(&key::access_token(&token))
        .await?
        .ok_or_else(|| HubError::InvalidToken("the access token is invalid, expired or revoked".into()))?;
    let claims: Vec<String> = grant.userinfo.keys().cloned().collect();
    let mut body = grant.userinfo;
    body.insert("sub".into(), Value::String(grant.sub.to_string()));
    let fact = Fact::UserinfoServed {
        client_id: grant.client_id,
        sub: grant.sub,
        claims,
    };
    audit::note(state.audit.as_ref(), state.now(), fact).await;
    Ok(no_store(Json(Value::Object(body))))
}
