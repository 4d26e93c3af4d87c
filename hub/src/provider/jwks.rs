//! `GET /.well-known/jwks.json` (RFC 7517, INTERFACE.md §1, §7): the public keys that sign the hub's
//! ID tokens and logout tokens: the one signing now, the next (published a cache period before it
//! signs) and those retired while tokens they signed may be alive.

use crate::{http::cached_for, state::AppState};
use axum::{extract::State, response::Response, Json};

/// The hub's public signing keys, cacheable for `jwks_max_age_secs`.
pub async fn get(State(state): State<AppState>) -> Response {
    cached_for(Json(state.jwks()), state.config.jwks_max_age_secs)
}
