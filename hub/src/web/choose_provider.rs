//! `GET|POST /choose-provider`: the person picks an identity provider able to reach the wanted level
//! (DESIGN.md journey step 3); `POST /cancel` returns them to the service with `access_denied`.

use super::{render, ChooseProvider, Page, ProviderOption};
use crate::{
    error::HubError,
    i18n::{Chrome, Lang, Text},
    journey::{load, Status},
    provider::authorize::cookie,
    state::AppState,
};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
    Form,
};
use serde::Deserialize;

/// Remembers the last provider chosen (only its id), to offer it first next time.
pub const LAST_PROVIDER_COOKIE: &str = "__Host-hub-last-provider";

/// The choice page's options for a journey: providers able to reach a wanted vector, the remembered one
/// first, unavailable ones marked.
pub fn options(
    state: &AppState,
    wanted: &[crate::vtr::Vector],
    failed: &[String],
    last: Option<&str>,
    lang: Lang,
) -> Vec<ProviderOption> {
    let mut list: Vec<ProviderOption> = state
        .providers()
        .iter()
        .filter(|p| p.can_reach(wanted))
        .map(|p| ProviderOption {
            id: p.id.clone(),
            name: p.name(lang).to_string(),
            unavailable: p.temporarily_unavailable,
            failed: failed.contains(&p.id),
            checked: false,
        })
        .collect();
    if let Some(pos) = last.and_then(|id| list.iter().position(|p| p.id == id && !p.unavailable)) {
        let mut remembered = list.remove(pos);
        remembered.checked = true;
        list.insert(0, remembered);
    }
    list
}

fn page(
    state: &AppState,
    headers: &HeaderMap,
    chrome: Chrome,
    journey: &crate::journey::Journey,
    error: Option<Text>,
) -> Response {
    let lang = chrome.lang;
    let service_name = super::service_name(state, &journey.request.client_id, lang);
    let last = cookie(headers, LAST_PROVIDER_COOKIE);
    let providers = options(
        state,
        &journey.request.vtr,
        &journey.failed_providers,
        last.as_deref(),
        lang,
    );
    let hint = if journey.request.vtr.iter().any(|v| v.asks_identity()) {
        "choose-hint-identity"
    } else {
        "choose-hint"
    };
    // The provider that fell short of the level, named on the choice page (INTERFACE.md §9).
    let notice = journey
        .level_not_reached_at
        .as_deref()
        .and_then(|id| state.providers().get(id).map(|p| p.text("level-notice").render(lang)));
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &ChooseProvider {
            heading: Text::new("choose-heading").arg("service", &service_name).render(lang),
            return_to: Text::new("return-to-named-service")
                .arg("service", &service_name)
                .render(lang),
            hint: lang.t(hint),
            providers,
            notice,
            error: error.map(|e| e.render(lang)),
            chrome,
        },
    )
}

/// `GET /choose-provider`.
pub async fn get(State(state): State<AppState>, chrome: Chrome, headers: HeaderMap) -> Result<Response, HubError> {
    let (_, journey) = load::current(&state, &headers).await?;
    if !matches!(journey.status, Status::Started | Status::ProviderChosen) {
        return Err(Page::session_expired().into());
    }
    if options(&state, &journey.request.vtr, &[], None, Lang::En).is_empty() {
        return Err(Page::new(StatusCode::OK, "no-provider-heading")
            .para("no-provider-body")
            .action("/cancel-link", "return-to-service")
            .into());
    }
    Ok(page(&state, &headers, chrome, &journey, None))
}

/// The choice form.
#[derive(Debug, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub provider: Option<String>,
}

/// `POST /choose-provider`: sends the person to the chosen provider.
pub async fn post(
    State(state): State<AppState>,
    chrome: Chrome,
    headers: HeaderMap,
    Form(choice): Form<Choice>,
) -> Result<Response, HubError> {
    let (id, journey) = load::current(&state, &headers).await?;
    let allowed = options(&state, &journey.request.vtr, &[], None, Lang::En);
    let chosen = choice
        .provider
        .as_deref()
        .and_then(|p| allowed.iter().find(|o| o.id == p && !o.unavailable));
    match chosen {
        Some(option) => crate::upstream::start::begin(&state, &id, journey, &option.id, chrome.lang).await,
        None => Ok(page(&state, &headers, chrome, &journey, Some("choose-error".into()))),
    }
}

/// `POST /cancel` (and `GET /cancel-link` from pages with only a link): the person goes back to the
/// service, which receives `access_denied` (or a `returnCode`, INTERFACE.md §5).
pub async fn cancel(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, HubError> {
    let (id, journey) = load::current(&state, &headers).await?;
    crate::journey::complete::return_to_service(&state, &id, journey).await
}
