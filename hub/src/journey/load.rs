//! Loading and saving the journey a browser is on, with the errors people see when it is gone.

use super::Journey;
use crate::{provider::authorize::journey_id, state::AppState, store::StoreExt as _, web::Page};
use axum::http::HeaderMap;

/// The journey named by the request's cookie, or the "timed out" / "try again" page.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<(String, Journey), Page> {
    let id = journey_id(headers).ok_or_else(Page::session_expired)?;
    load(state, &id).await.map(|j| (id, j))
}

/// The journey with this id, or the "timed out" / "try again" page.
pub async fn load(state: &AppState, id: &str) -> Result<Journey, Page> {
    match state.store.get_json::<Journey>(&Journey::key(id)).await {
        Ok(Some(j)) => Ok(j),
        Ok(None) => Err(Page::session_expired()),
        Err(e) => {
            tracing::warn!(error = %e, "journey store unavailable");
            Err(Page::unavailable())
        }
    }
}

/// Saves a journey, keeping its TTL; a journey that expired meanwhile is the "timed out" page.
pub async fn save(state: &AppState, id: &str, journey: &Journey) -> Result<(), Page> {
    match state.store.replace_json(&Journey::key(id), journey).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Page::session_expired()),
        Err(e) => {
            tracing::warn!(error = %e, "journey store unavailable");
            Err(Page::unavailable())
        }
    }
}
