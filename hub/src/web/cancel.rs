//! `POST /cancel` (and `GET /cancel-link`, from pages with only a link): the person goes back to the
//! service, which receives `access_denied`, or a `returnCode` when it asked for one (INTERFACE.md §5).

use super::{chrome::Chrome, respond};
use crate::{
    carry_out::{self, Context},
    http::cookies::HubCookies,
    journey::{self, Event},
    state::AppState,
    web::page::PageResult,
};
use axum::extract::State;

/// `POST /cancel` and `GET /cancel-link`.
pub async fn post(State(state): State<AppState>, chrome: Chrome, cookies: HubCookies) -> PageResult {
    let current = carry_out::current(&state, &cookies).await?;
    let reg = state.snapshot();
    let decided = journey::decide(current.journey().clone(), Event::ReturnToService, &reg, state.now())?;
    let cx = Context {
        cookies: &cookies,
        lang: chrome.lang,
    };
    let outcome = carry_out::apply(&state, current, decided, cx).await?;
    Ok(respond(outcome, &reg))
}
