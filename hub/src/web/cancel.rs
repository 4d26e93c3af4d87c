//! `POST /cancel` (and `GET /cancel-link`, from pages with only a link): the person goes back to the
//! service, which receives `access_denied`, or a `returnCode` when it asked for one (INTERFACE.md §5).
//! Both name the journey and carry its token: a page elsewhere cannot end someone's sign-in.

use super::{chrome::Chrome, page::PageResult, respond};
use crate::{
    carry_out::{self, Context},
    http::cookies::HubCookies,
    journey::{self, Event},
    state::AppState,
};
use axum::{
    extract::{Query, State},
    Form,
};
use serde::Deserialize;

/// The journey a form or link acts on, with its token.
#[derive(Debug, Default, Deserialize)]
pub struct Acting {
    #[serde(default)]
    pub journey: Option<String>,
    #[serde(default)]
    pub csrf: Option<String>,
}

async fn cancel(state: AppState, chrome: Chrome, cookies: HubCookies, acting: Acting) -> PageResult {
    let current = carry_out::acted_on(&state, &cookies, acting.journey.as_deref(), acting.csrf.as_deref()).await?;
    let reg = state.snapshot();
    let decided = journey::decide(current.journey().clone(), Event::ReturnToService, &reg, state.now())?;
    let cx = Context {
        cookies: &cookies,
        lang: chrome.lang,
    };
    let outcome = carry_out::apply(&state, current, decided, cx).await?;
    Ok(respond(outcome, &reg))
}

/// `POST /cancel`.
pub async fn post(
    State(state): State<AppState>,
    chrome: Chrome,
    cookies: HubCookies,
    Form(acting): Form<Acting>,
) -> PageResult {
    cancel(state, chrome, cookies, acting).await
}

/// `GET /cancel-link`.
pub async fn link(
    State(state): State<AppState>,
    chrome: Chrome,
    cookies: HubCookies,
    Query(acting): Query<Acting>,
) -> PageResult {
    cancel(state, chrome, cookies, acting).await
}
