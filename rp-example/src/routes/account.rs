//! `GET /account`: what the hub told us about the person.

use axum::{extract::State, response::Response};
use axum_extra::extract::cookie::CookieJar;

use crate::{
    core_identity,
    templates::{render, AccountPage, IdentityView},
    AppState,
};

/// The account page, or a 302 to `/` without a session.
pub async fn get(State(state): State<AppState>, jar: CookieJar) -> Response {
    let Some(session) = super::current_session(&state, &jar) else {
        return super::found("/");
    };
    let claims = serde_json::to_string_pretty(&session.userinfo).unwrap_or_default();
    let identity = core_identity::from_userinfo(&session.userinfo);
    render(&AccountPage {
        service_name: &state.config.service_name,
        sub: &session.sub,
        vot: &session.vot,
        vtm: session.vtm.as_deref(),
        sid: session.sid.as_deref(),
        claims: &claims,
        identity: identity.as_ref().map(|i| IdentityView {
            jwt: &i.jwt,
            validation: i.validation.describe(),
        }),
    })
}
