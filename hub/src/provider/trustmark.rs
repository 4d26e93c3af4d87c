//! `GET /trustmark` (INTERFACE.md §4): the levels of confidence and credential levels this hub can assert.

use crate::{http::cached, state::AppState};
use axum::{extract::State, response::Response, Json};
use serde_json::json;

/// The trustmark document.
pub async fn get(State(state): State<AppState>) -> Response {
    let issuer = &state.config.issuer;
    cached(
        Json(json!({"idp": issuer, "trustmark_provider": issuer, "C": ["Cl", "Cl.Cm"], "P": ["P0", "P1", "P2", "P3"]})),
        "public, max-age=86400",
    )
}
