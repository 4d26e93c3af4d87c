//! The hub's single sign-on session (DESIGN.md journey step 2): after a sign-in, the person's
//! authentication is kept under `session:{id}` (cookie `__Host-hub-session`) so a second service at the
//! same or a lower level does not send them to a provider again. It expires after an idle period
//! (refreshed on use) and at an absolute limit, and logout ends it.

use crate::{
    journey::Person,
    provider::authorize::cookie,
    state::AppState,
    store::{StoreError, StoreExt as _},
};
use axum::http::{header, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The session cookie.
pub const SESSION_COOKIE: &str = "__Host-hub-session";

/// One hub session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HubSession {
    pub person: Person,
    pub created_at: i64,
    /// The services given an assertion in this session, told by back-channel logout when it ends.
    #[serde(default)]
    pub clients: Vec<String>,
}

fn key(id: &str) -> String {
    format!("session:{id}")
}

/// Whether a session is still within its absolute lifetime.
pub fn alive(session: &HubSession, now: i64, absolute_secs: u64) -> bool {
    now < session.created_at + absolute_secs as i64
}

/// The live session named by the request's cookie, refreshed for another idle period.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<(String, HubSession)>, StoreError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = state.store.get_json::<HubSession>(&key(&id)).await? else {
        return Ok(None);
    };
    if !alive(&session, state.now(), state.config.session_absolute_secs) {
        state.store.delete(&key(&id)).await?;
        return Ok(None);
    }
    state.store.put_json(&key(&id), &session, idle(state)).await?;
    Ok(Some((id, session)))
}

fn idle(state: &AppState) -> Duration {
    Duration::from_secs(state.config.session_idle_secs)
}

/// Starts (or replaces) the session for a person, returning its id and the cookie to set.
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
    person: &Person,
) -> Result<(String, HeaderValue), StoreError> {
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        // A new sign-in gets a new session id (no fixation).
        state.store.delete(&key(&old)).await?;
    }
    let id = crate::ids::SessionId::generate();
    let session = HubSession {
        person: person.clone(),
        created_at: state.now(),
        clients: Vec::new(),
    };
    state.store.put_json(&key(id.as_str()), &session, idle(state)).await?;
    let cookie = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Lax",
        id.as_str()
    ))
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok((id.as_str().to_string(), cookie))
}

/// Records that a service received an assertion in this session (for back-channel logout).
pub async fn add_client(state: &AppState, id: &str, client_id: &str) -> Result<(), StoreError> {
    if let Some(mut session) = state.store.get_json::<HubSession>(&key(id)).await? {
        if !session.clients.iter().any(|c| c == client_id) {
            session.clients.push(client_id.to_string());
            state.store.replace_json(&key(id), &session).await?;
        }
    }
    Ok(())
}

/// Ends the session named by the request's cookie; returns what it was and the cookie that clears it.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<(Option<HubSession>, HeaderValue), StoreError> {
    let ended = match cookie(headers, SESSION_COOKIE) {
        Some(id) => state.store.take_json::<HubSession>(&key(&id)).await?,
        None => None,
    };
    Ok((
        ended,
        HeaderValue::from_static("__Host-hub-session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"),
    ))
}

/// Appends a `Set-Cookie`.
pub fn set_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(header::SET_COOKIE, value);
}
