//! `GET|POST /consent`: before any identity claim is released, the person sees which service asks for what
//! and continues or declines (DESIGN.md privacy rules). Declining sends the service `access_denied`.

use super::{render, Page};
use crate::{
    error::HubError,
    i18n::{Chrome, Text},
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

/// The consent page, its texts in the person's language.
#[derive(Template, Debug)]
#[template(path = "consent.html")]
pub struct Consent {
    pub chrome: Chrome,
    pub heading: String,
    pub confirmed: String,
    pub items: Vec<String>,
    pub decline_note: String,
}

/// `GET /consent`.
pub async fn get(State(state): State<AppState>, chrome: Chrome, headers: HeaderMap) -> Result<Response, HubError> {
    let lang = chrome.lang;
    let (_, journey) = load::current(&state, &headers).await?;
    let (Some(person), Some(met), Status::Authenticated) = (&journey.person, &journey.met, journey.status) else {
        return Err(Page::session_expired().into());
    };
    let items = complete::identity_claim_names(&state, &journey, person, met)
        .iter()
        .filter_map(|c| describe(c))
        .map(|id| lang.t(id))
        .collect();
    let service = super::service_name(&state, &journey.request.client_id, lang);
    let confirmed = match state.providers().get(&person.provider_id) {
        Some(provider) => provider.text("consent-confirmed"),
        None => Text::new("consent-confirmed").arg("provider", lang.t("consent-your-provider")),
    };
    let page = Consent {
        heading: Text::new("consent-heading").arg("service", &service).render(lang),
        confirmed: confirmed.arg("service", &service).render(lang),
        items,
        decline_note: Text::new("consent-decline-note").arg("service", &service).render(lang),
        chrome,
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
