//! `GET /`, `GET /personas` and `GET /healthz`: what a tester needs to find their way.

use crate::{
    outcome::Outcome,
    pages::{self, HomePage},
    personas::{Persona, PERSONAS},
    AppState,
};
use axum::{extract::State, http::StatusCode, response::Response, Json};

/// The index page listing providers, personas and outcomes.
pub async fn index(State(state): State<AppState>) -> Response {
    let providers = state
        .providers_in_order()
        .into_iter()
        .map(|p| (p.config.id.clone(), p.config.name.clone(), p.config.name_cy.clone()))
        .collect();
    pages::render(
        StatusCode::OK,
        &HomePage {
            providers,
            personas: PERSONAS,
            outcomes: &Outcome::ALL,
            test_endpoints: state.config().test_endpoints,
        },
    )
}

/// The personas as JSON.
pub async fn personas() -> Json<&'static [Persona]> {
    Json(PERSONAS)
}

/// Liveness.
pub async fn healthz() -> &'static str {
    "ok"
}
