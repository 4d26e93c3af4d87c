//! `GET /account`: what the hub told us about the person.

use axum::{extract::State, response::Response};
use axum_extra::extract::cookie::CookieJar;
use serde_json::{Map, Value};

use crate::{
    core_identity::{self, ADDRESS_CLAIM, CORE_IDENTITY_CLAIM, DRIVING_PERMIT_CLAIM, PASSPORT_CLAIM},
    templates::{render, AccountPage, IdentityView},
    AppState,
};

/// The account page, or a 302 to `/` without a session.
pub async fn get(State(state): State<AppState>, jar: CookieJar) -> Response {
    let Some(session) = super::current_session(&state, &jar) else {
        return super::found("/");
    };
    let claims = serde_json::to_string_pretty(&session.userinfo).unwrap_or_default();
    let identity = session.identity.as_ref();
    // The JWT as received: the validated one, else (a session made without sign-in) whatever userinfo holds.
    let jwt = identity
        .map(|i| i.jwt.as_str())
        .or_else(|| session.userinfo.get(CORE_IDENTITY_CLAIM).and_then(Value::as_str));
    let validation = match identity {
        Some(i) => format!("Valid: signed by {}", i.kid),
        None => "Not validated".to_string(),
    };
    let return_codes = core_identity::return_codes(&session.userinfo).map(|codes| codes.join(", "));
    render(&AccountPage {
        service_name: &state.config.service_name,
        sub: &session.sub,
        vot: &session.vot,
        vtm: session.vtm.as_deref(),
        sid: session.sid.as_deref(),
        claims: &claims,
        name: identity.and_then(|i| i.full_name()),
        birth_date: identity.and_then(|i| i.birth_date.as_deref()),
        identity_level: identity.map(|i| i.vot.as_str()),
        return_codes,
        address: pretty(&session.userinfo, ADDRESS_CLAIM),
        passport: pretty(&session.userinfo, PASSPORT_CLAIM),
        driving_permit: pretty(&session.userinfo, DRIVING_PERMIT_CLAIM),
        identity: jwt.map(|jwt| IdentityView {
            jwt,
            validation,
            claims: identity.and_then(|i| serde_json::to_string_pretty(&i.claims).ok()),
        }),
    })
}

/// A userinfo claim as pretty JSON, when present.
fn pretty(userinfo: &Map<String, Value>, claim: &str) -> Option<String> {
    userinfo
        .get(claim)
        .and_then(|value| serde_json::to_string_pretty(value).ok())
}
