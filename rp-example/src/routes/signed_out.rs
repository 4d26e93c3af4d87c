//! `GET /signed-out`: where the hub sends people back after logout (`post_logout_redirect_uri`).

use axum::{extract::State, response::Response};

use crate::{
    templates::{render, SignedOutPage},
    AppState,
};

/// "You have signed out".
pub async fn get(State(state): State<AppState>) -> Response {
    render(&SignedOutPage {
        service_name: &state.config.service_name,
    })
}
