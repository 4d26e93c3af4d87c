//! `GET|POST /consent`: before any identity claim is released, the person sees which service asks for
//! what and continues or declines (DESIGN.md privacy rules). Declining sends the service `access_denied`.

use super::{cancel::Acting, chrome::Chrome, page::render, respond};
use crate::{
    carry_out::{self, Context},
    http::cookies::HubCookies,
    i18n::Text,
    identity::describe,
    journey::{self, Event},
    state::AppState,
    web::page::PageResult,
};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
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
    /// The journey the form acts on, and its token.
    pub journey: String,
    pub csrf: String,
}

/// `GET /consent`.
pub async fn get(
    State(state): State<AppState>,
    chrome: Chrome,
    cookies: HubCookies,
    Query(at): Query<Acting>,
) -> PageResult {
    let lang = chrome.lang;
    let current = carry_out::current(&state, &cookies, at.journey.as_deref()).await?;
    let reg = state.snapshot();
    let (person, claims) = journey::consent_items(current.journey(), &reg)?;
    let items = claims.iter().filter_map(|c| describe(c)).map(|id| lang.t(id)).collect();
    let service = reg
        .client(current.journey().request.client_id.as_str())
        .map(|c| c.name(lang).to_string())
        .unwrap_or_default();
    let confirmed = match reg.provider(person.provider.as_str()) {
        Some(provider) => provider.text("consent-confirmed"),
        None => Text::new("consent-confirmed").arg("provider", lang.t("consent-your-provider")),
    };
    let page = Consent {
        heading: Text::new("consent-heading").arg("service", &service).render(lang),
        confirmed: confirmed.arg("service", &service).render(lang),
        items,
        decline_note: Text::new("consent-decline-note").arg("service", &service).render(lang),
        journey: current.id.as_str().to_string(),
        csrf: current.journey().binding.csrf.clone(),
        chrome,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The consent form.
#[derive(Debug, Deserialize)]
pub struct Decision {
    #[serde(default)]
    pub decision: Option<String>,
    #[serde(default)]
    pub journey: Option<String>,
    #[serde(default)]
    pub csrf: Option<String>,
}

/// `POST /consent`.
pub async fn post(
    State(state): State<AppState>,
    chrome: Chrome,
    cookies: HubCookies,
    Form(form): Form<Decision>,
) -> PageResult {
    let current = carry_out::acted_on(&state, &cookies, form.journey.as_deref(), form.csrf.as_deref()).await?;
    let reg = state.snapshot();
    let accept = form.decision.as_deref() == Some("accept");
    let decided = journey::decide(current.journey().clone(), Event::Consent { accept }, &reg, state.now())?;
    let cx = Context {
        cookies: &cookies,
        lang: chrome.lang,
    };
    let outcome = carry_out::apply(&state, current, decided, cx).await?;
    Ok(respond(outcome, &reg))
}
