//! `GET|POST /choose-provider`: the person picks an identity provider able to reach the wanted level
//! (DESIGN.md journey step 3); unavailable ones are shown as such, the last one chosen is offered first.

use super::{cancel::Acting, chrome::Chrome, page::render, page::Page, respond};
use crate::{
    carry_out::{self, Context, Current, Next},
    http::cookies::HubCookies,
    i18n::{Lang, Text},
    ids::ProviderId,
    journey::{self, Event, Stage, UpstreamSecrets},
    registry::Snapshot,
    state::AppState,
    web::page::PageResult,
};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Form,
};
use serde::Deserialize;

/// One provider row on the choice page.
#[derive(Debug, Clone)]
pub struct ProviderOption {
    pub id: String,
    pub name: String,
    pub unavailable: bool,
    pub failed: bool,
    pub checked: bool,
}

/// The provider choice page, its texts in the person's language.
#[derive(Template, Debug)]
#[template(path = "choose_provider.html")]
pub struct ChooseProvider {
    pub chrome: Chrome,
    pub heading: String,
    pub return_to: String,
    pub hint: String,
    pub providers: Vec<ProviderOption>,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// The journey the forms act on, and its token.
    pub journey: String,
    pub csrf: String,
}

/// The choice page's options for a journey: providers able to reach a wanted vector, the remembered one
/// first, unavailable ones marked.
pub fn options(
    reg: &Snapshot,
    wanted: &[crate::vtr::Vector],
    failed: &[ProviderId],
    last: Option<&ProviderId>,
    lang: Lang,
    failing: impl Fn(&str) -> bool,
) -> Vec<ProviderOption> {
    let mut list: Vec<ProviderOption> = reg
        .providers
        .able_to_reach(wanted)
        .map(|p| ProviderOption {
            id: p.id.to_string(),
            name: p.name(lang).to_string(),
            unavailable: p.temporarily_unavailable || failing(p.id.as_str()),
            failed: failed.contains(&p.id),
            checked: false,
        })
        .collect();
    if let Some(pos) = last.and_then(|id| list.iter().position(|p| p.id == id.as_str() && !p.unavailable)) {
        let mut remembered = list.remove(pos);
        remembered.checked = true;
        list.insert(0, remembered);
    }
    list
}

fn page(
    state: &AppState,
    reg: &Snapshot,
    cookies: &HubCookies,
    chrome: Chrome,
    current: &Current,
    error: Option<Text>,
) -> Response {
    let lang = chrome.lang;
    let journey = current.journey();
    let service_name = reg
        .client(journey.request.client_id.as_str())
        .map(|c| c.name(lang).to_string())
        .unwrap_or_default();
    let providers = options(
        reg,
        &journey.request.vtr,
        &journey.failed,
        cookies.last_provider.as_ref(),
        lang,
        |id| state.upstreams.open(id),
    );
    let hint = if journey.request.vtr.iter().any(|v| v.asks_identity()) {
        "choose-hint-identity"
    } else {
        "choose-hint"
    };
    // The provider that fell short of the level, named on the choice page (INTERFACE.md §9).
    let notice = match &journey.stage {
        Stage::Choosing {
            fell_short: Some(id), ..
        } => reg.provider(id.as_str()).map(|p| p.text("level-notice").render(lang)),
        _ => None,
    };
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
            journey: current.id.as_str().to_string(),
            csrf: journey.binding.csrf.clone(),
            chrome,
        },
    )
}

/// Whether the journey is at a stage where a provider may be chosen.
fn choosing(current: &Current) -> bool {
    matches!(
        current.journey().stage,
        Stage::Choosing { .. } | Stage::AtProvider { .. }
    )
}

/// `GET /choose-provider`.
pub async fn get(
    State(state): State<AppState>,
    chrome: Chrome,
    cookies: HubCookies,
    Query(at): Query<Acting>,
) -> PageResult {
    let current = carry_out::current(&state, &cookies, at.journey.as_deref()).await?;
    if !choosing(&current) {
        return Err(Page::session_expired().into());
    }
    let reg = state.snapshot();
    if reg
        .providers
        .able_to_reach(&current.journey().request.vtr)
        .next()
        .is_none()
    {
        let link = carry_out::JourneyLink {
            id: current.id.clone(),
            csrf: current.journey().binding.csrf.clone(),
        };
        return Ok(Page::new(StatusCode::OK, "no-provider-heading")
            .para("no-provider-body")
            .action(link.action("/cancel-link"), "return-to-service")
            .into_response());
    }
    Ok(page(&state, &reg, &cookies, chrome, &current, None))
}

/// The choice form.
#[derive(Debug, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub journey: Option<String>,
    #[serde(default)]
    pub csrf: Option<String>,
}

/// `POST /choose-provider`: sends the person to the chosen provider.
pub async fn post(
    State(state): State<AppState>,
    chrome: Chrome,
    cookies: HubCookies,
    Form(choice): Form<Choice>,
) -> PageResult {
    let current = carry_out::acted_on(&state, &cookies, choice.journey.as_deref(), choice.csrf.as_deref()).await?;
    let reg = state.snapshot();
    let provider = ProviderId::from(choice.provider.unwrap_or_default());
    // Discovery only for a provider that may be chosen; the journey decides the rest.
    let endpoint = match reg
        .providers
        .choosable(provider.as_str(), &current.journey().request.vtr)
    {
        Some(p) if state.upstreams.open(p.id.as_str()) => Err("the provider is failing; shown as unavailable".into()),
        Some(p) => match state.upstreams.metadata(p).await {
            Ok(meta) => Ok(meta.authorization_endpoint.clone()),
            Err(e) => {
                tracing::warn!(provider = %p.id, error = %e, "provider discovery failed");
                state.upstreams.record(p.id.as_str(), false);
                Err(e.to_string())
            }
        },
        None => Err("not a provider on offer".into()),
    };
    let event = Event::Chose {
        provider,
        endpoint,
        secrets: UpstreamSecrets::generate(),
    };
    let decided = journey::decide(current.journey().clone(), event, &reg, state.now())?;
    let cx = Context {
        cookies: &cookies,
        lang: chrome.lang,
    };
    let outcome = carry_out::apply(&state, current.clone(), decided, cx).await?;
    if outcome.next == Next::ChoiceAgain {
        return Ok(page(
            &state,
            &reg,
            &cookies,
            chrome,
            &current,
            Some("choose-error".into()),
        ));
    }
    Ok(respond(outcome, &reg))
}
