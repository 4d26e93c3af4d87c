//! `GET|POST /userinfo` (OIDC Core §5.3, RFC 6750, INTERFACE.md §5): `sub` and the claims released for
//! the access token; a bad, expired or revoked token is a 401 with `WWW-Authenticate: Bearer`.

use super::token::{access_key, AccessGrant};
use crate::{
    error::{ErrorCode, HubError},
    state::AppState,
    store::StoreExt as _,
};
use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::Value;

/// `GET /userinfo` and `POST /userinfo`.
pub async fn handle(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, HubError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| HubError::Bearer {
            description: "a Bearer access token is required".into(),
        })?;
    let grant: AccessGrant = match state.store.get_json(&access_key(token)).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return Err(HubError::Bearer {
                description: "the access token is invalid, expired or revoked".into(),
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, "store unavailable at userinfo");
            return Err(HubError::json(ErrorCode::TemporarilyUnavailable, "try again later"));
        }
    };
    let mut body = grant.userinfo.clone();
    body.insert("sub".into(), Value::String(grant.sub));
    let mut response = Json(Value::Object(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
