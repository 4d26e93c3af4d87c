//! One module per path: the URL tells you the file.

pub mod account;
pub mod backchannel_logout;
pub mod callback;
pub mod jwks;
pub mod sign_in;
pub mod sign_out;
pub mod signed_out;
pub mod start;

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::CookieJar;

use crate::{
    store::{Session, SESSION_COOKIE},
    AppState,
};

/// A `302 Found` to `location` (axum's `Redirect::to` is a 303).
pub fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

/// The person's session, from the session cookie.
pub fn current_session(state: &AppState, jar: &CookieJar) -> Option<Session> {
    let id = jar.get(SESSION_COOKIE)?;
    state.sessions.get(id.value(), state.clock.now())
}
