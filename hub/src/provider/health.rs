//! `GET /healthz` (the process answers) and `GET /readyz` (the store answers and keys are loaded), for
//! load balancers and orchestrators.

use crate::state::AppState;
use axum::{extract::State, http::StatusCode, response::IntoResponse};

/// Liveness.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Readiness: 503 while the session store does not answer.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")),
    }
}
