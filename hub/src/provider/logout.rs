//! `GET /logout` and `POST /logout`: RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2–3, INTERFACE.md
//! §6).
//!
//! A service proves it started the logout with an `id_token_hint`: signed by the hub (its expiry is not
//! checked: ID tokens live two minutes, people log out later), issued to a service of the browser's hub
//! session, about its person. Then the session ends at once and the person goes to
//! `post_logout_redirect_uri` if it is registered exactly for that service (else the signed-out page).
//! Without such a hint the hub asks the person (§2: the OP MUST ask then) on a page whose form carries a
//! token derived from the session, so no other page can end it (CSRF). Ending a session tells every
//! service of it by back-channel.

use crate::{
    audit::{self, Fact},
    carry_out,
    http::{
        self,
        cookies::{self, CookieChange, HubCookies},
    },
    ids::{hash, ClientId, SessionId},
    journey::HubSession,
    state::AppState,
    web::{
        chrome::Chrome,
        page::{render, Page, PageResult},
    },
};
use askama::Template;
use axum::{
    extract::{RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Form,
};
use serde::Deserialize;
use serde_json::Value;

/// The longest query string accepted on `/logout` (INTERFACE.md §2).
pub const MAX_QUERY: usize = 2048;

/// Logout request parameters.
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub ui_locales: Option<String>,
}

/// The page asking the person whether to sign out.
#[derive(Template, Debug)]
#[template(path = "logout.html")]
pub struct Confirm {
    pub chrome: Chrome,
    pub csrf: String,
}

/// What a valid `id_token_hint` says: the service it was issued to and the subject it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub client_id: ClientId,
    pub sub: String,
}

/// The service and subject a valid `id_token_hint` names (signed by the hub, issued by it, not a logout
/// token), if any.
pub fn hint(state: &AppState, params: &Params) -> Option<Hint> {
    let token = params.id_token_hint.as_deref().filter(|t| t.len() <= 8 * 1024)?;
    let keys = state.own_id_token_keys()?;
    let (header, claims) = keys.verify(token).ok()?;
    if header.typ.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("JWT")) || claims.contains_key("events") {
        return None;
    }
    if claims.get("iss").and_then(Value::as_str) != Some(state.config.issuer.as_str()) {
        return None;
    }
    let client_id = claims.get("aud").and_then(Value::as_str)?;
    if params.client_id.as_deref().is_some_and(|c| c != client_id) {
        return None;
    }
    Some(Hint {
        client_id: ClientId::from(client_id),
        sub: claims.get("sub").and_then(Value::as_str)?.to_string(),
    })
}

/// Whether the hint is about this session: its service was given an assertion in it, for its person.
pub fn hint_belongs(state: &AppState, hint: &Hint, session: &HubSession) -> bool {
    let reg = state.snapshot();
    let Some(client) = reg.client(hint.client_id.as_str()) else {
        return false;
    };
    session.clients.contains(&hint.client_id) && state.pairwise_sub(client, &session.person).as_str() == hint.sub
}

/// Where the person goes after logout: a URI registered for the hinted service (with `state`), or `None`
/// for the hub's signed-out page.
pub fn destination(state: &AppState, hint: Option<&Hint>, params: &Params) -> Option<String> {
    let reg = state.snapshot();
    let client = reg.client(hint?.client_id.as_str())?;
    let uri = params.post_logout_redirect_uri.as_deref()?;
    if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
        return None;
    }
    let mut url = url::Url::parse(uri).ok()?;
    if let Some(s) = &params.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Some(url.to_string())
}

/// The confirmation form's token for a session: only a page that knows the session id can make it.
fn token_for(session: &SessionId) -> String {
    hash(&format!("logout-confirmation:{}", session.as_str()))
}

fn signed_out() -> Response {
    Page::new(StatusCode::OK, "signed-out-heading")
        .para("signed-out-body")
        .into_response()
}

/// Ends the browser's session (if any), tells its services, and clears the cookie.
async fn end(state: &AppState, cookies: &HubCookies, client: Option<ClientId>, mut response: Response) -> PageResult {
    let ended = carry_out::end_session(state, cookies).await?;
    cookies::apply(response.headers_mut(), &[CookieChange::EndSession]);
    if let (Some(session), Some(id)) = (ended, &cookies.session) {
        super::backchannel::notify(state, id, &session);
        let fact = Fact::LoggedOut {
            client_id: client,
            services_told: session.clients.clone(),
        };
        audit::note(state.audit.as_ref(), state.now(), fact);
    }
    Ok(response)
}

/// `GET /logout`.
pub async fn get(
    State(state): State<AppState>,
    chrome: Chrome,
    cookies: HubCookies,
    RawQuery(query): RawQuery,
) -> PageResult {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY {
        return Err(Page::too_long().into());
    }
    let params: Params = serde_urlencoded::from_str(&query).unwrap_or_default();
    let hint = hint(&state, &params);
    let session = carry_out::live_session(&state, &cookies).await?;
    let then = || match destination(&state, hint.as_ref(), &params) {
        Some(url) => http::found(&url),
        None => signed_out(),
    };
    match (&session, &hint) {
        // Nothing to end.
        (None, _) => Ok(then()),
        // The service proved it: end at once.
        (Some(live), Some(h)) if hint_belongs(&state, h, &live.session) => {
            end(&state, &cookies, Some(h.client_id.clone()), then()).await
        }
        // Ask the person.
        (Some(live), _) => Ok(render(
            StatusCode::OK,
            &Confirm {
                chrome,
                csrf: token_for(&live.id),
            },
        )),
    }
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct Confirmed {
    #[serde(default)]
    pub csrf: Option<String>,
}

/// `POST /logout`: the person confirmed.
pub async fn post(State(state): State<AppState>, cookies: HubCookies, Form(form): Form<Confirmed>) -> PageResult {
    let Some(session) = cookies.session.clone() else {
        return Ok(signed_out());
    };
    let valid = form
        .csrf
        .as_deref()
        .is_some_and(|t| crate::ids::constant_time_eq(t, &token_for(&session)));
    if !valid {
        return Err(crate::error::HubError::NotYours.into());
    }
    end(&state, &cookies, None, signed_out()).await
}
