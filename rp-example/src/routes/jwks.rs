//! `GET /jwks.json`: this service's public key (RFC 7517). The hub is registered with
//! `jwks_uri = {base_url}/jwks.json` and checks our client assertions with it.

use axum::{extract::State, http::header, response::IntoResponse, Json};

use crate::AppState;

/// The JWKS of the signing key.
pub async fn get(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(keys::jwks([state.key.as_ref()])),
    )
}
