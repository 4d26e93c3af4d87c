//! `GET /upstream/jwks.json`: the public key the hub signs its client assertions to providers with
//! (RFC 7523, OIDC Core §9), for providers that register the hub with a `jwks_uri`.

use crate::{http::cached, state::AppState};
use axum::{extract::State, response::Response, Json};

/// The hub's client-authentication key.
pub async fn get(State(state): State<AppState>) -> Response {
    cached(Json(keys::jwks([&state.keys.upstream])), "public, max-age=3600")
}
