//! `GET /upstream/jwks.json`: the public key the hub signs its client assertions to providers with
//! (RFC 7523, OIDC Core §9), for providers that register the hub with a `jwks_uri`.

use crate::{http::cached_for, state::AppState};
use axum::{extract::State, response::Response, Json};

/// The hub's client-authentication keys: the one that signs, the next, and those retired recently
/// (INTERFACE.md §7).
pub async fn get(State(state): State<AppState>) -> Response {
    cached_for(Json(state.upstream_jwks()), state.config.jwks_max_age_secs)
}
