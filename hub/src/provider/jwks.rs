//! `GET /.well-known/jwks.json` (RFC 7517, INTERFACE.md §1, §7): the keys that sign the hub's ID tokens;
//! and `GET /upstream/jwks.json`: the key the hub signs its client assertions to providers with.

use super::discovery::cached;
use crate::state::AppState;
use axum::{extract::State, response::Response, Json};

/// The hub's public signing keys.
pub async fn get(State(state): State<AppState>) -> Response {
    cached(
        Json(keys::jwks([&state.keys.signing, &state.keys.signing_rs256])),
        "public, max-age=86400",
    )
}

/// The hub's client-authentication key, for providers' `jwks_uri` registration.
pub async fn upstream(State(state): State<AppState>) -> Response {
    cached(Json(keys::jwks([&state.keys.upstream])), "public, max-age=3600")
}
