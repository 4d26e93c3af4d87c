//! `GET /healthz` (the process answers) and `GET /readyz` (the store answers, the audit log is writable,
//! keys are loaded), for load balancers and orchestrators.

use crate::state::AppState;
use axum::{extract::State, http::StatusCode, response::IntoResponse};

/// Liveness.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Readiness: 503 while the session store does not answer or the audit log cannot be written.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(e) = state.store.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n"));
    }
    if !state.audit.healthy() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: audit log unavailable\n".to_string(),
        );
    }
    (StatusCode::OK, "ready\n".to_string())
}
