//! `GET /`: the start page, with the choice of level and the start button.

use axum::{extract::State, response::Response};
use axum_extra::extract::cookie::CookieJar;

use crate::{
    templates::{render, StartPage},
    AppState,
};

/// The start page; links to `/account` when the person is already signed in.
pub async fn get(State(state): State<AppState>, jar: CookieJar) -> Response {
    let signed_in = super::current_session(&state, &jar).is_some();
    render(&StartPage {
        service_name: &state.config.service_name,
        signed_in,
    })
}
