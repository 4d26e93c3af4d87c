//! `GET|POST /consent`: before any identity claim is released, the person sees which service asks for what
//! and continues or declines (DESIGN.md privacy rules). Declining sends the service `access_denied`.

use super::{render, Page};
use crate::{
    error::HubError,
    identity::describe,
    journey::{complete, load, Status},
    state::AppState,
};
use askama::Template;
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    Form,
};
use serde::Deserialize;

/// The consent page.
#[derive(Template, Debug)]
#[template(path = "consent.html")]
pub struct Consent {
    pub service_name: String,
    pub provider_name: String,
    pub items: Vec<String>,
}

/// `GET /consent`.
pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, HubError> {
    let (_, journey) = load::current(&state, &headers).await?;
    let (Some(person), Some(met), Status::Authenticated) = (&journey.person, &journey.met, journey.status) else {
        return Err(Page::session_expired().into());
    };
    let items = complete::identity_claim_names(&state, &journey, person, met)
        .iter()
        .filter_map(|c| describe(c))
        .map(str::to_string)
        .collect();
    let page = Consent {
        service_name: state
            .clients
            .get(&journey.request.client_id)
            .map(|c| c.client_name.clone())
            .unwrap_or_default(),
        provider_name: state
            .providers
            .get(&person.provider_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "The company you chose".into()),
        items,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The consent form.
#[derive(Debug, Deserialize)]
pub struct Decision {
    #[serde(default)]
    pub decision: Option<String>,
}

/// `POST /consent`.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Decision>,
) -> Result<Response, HubError> {
    let (id, journey) = load::current(&state, &headers).await?;
    let (Some(person), Some(met), Status::Authenticated) = (journey.person.clone(), journey.met, journey.status) else {
        return Err(Page::session_expired().into());
    };
    match form.decision.as_deref() {
        Some("accept") => complete::issue_code(&state, &id, journey, &person, met, None).await,
        _ => complete::return_to_service(&state, &id, journey).await,
    }
}
