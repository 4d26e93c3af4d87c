//! `GET /.well-known/jwks.json` (RFC 7517, INTERFACE.md §1, §7): the public keys that sign the hub's
//! ID tokens and logout tokens.

use crate::{http::cached, state::AppState};
use axum::{extract::State, response::Response, Json};

/// The hub's public signing keys.
pub async fn get(State(state): State<AppState>) -> Response {
    cached(
        Json(keys::jwks([&state.keys.signing, &state.keys.signing_rs256])),
        "public, max-age=86400",
    )
}
