//! `GET /{p}/jwks.json`: the provider's public signing key (RFC 7517).

use crate::{AppState, Error};
use axum::{
    extract::{Path, State},
    Json,
};
use serde_json::Value;

/// Serves the provider's JWKS.
pub async fn get(State(state): State<AppState>, Path(provider): Path<String>) -> Result<Json<Value>, Error> {
    let p = state.provider(&provider)?;
    Ok(Json(keys::jwks([&p.key])))
}
