//! `GET /upstream/callback`: a provider's answer (OIDC Core §3.1.2.5–6, §3.1.3; RFC 9207) and the
//! outcome table of INTERFACE.md §9.
//!
//! The upstream `state` is taken from the store once (it cannot be replayed) and must belong to the
//! journey in this browser's cookie. Every check of the provider's answer must pass before the journey
//! can assert anything; any failure marks the provider as failing for this journey and shows the person
//! a way on.

use crate::{
    carry_out::{self, Context},
    http::cookies::{CookieChange, HubCookies},
    idp::{check::classify_error, CALLBACK_PATH},
    ids::SessionId,
    journey::{self, Answer, Event, IdentityOutcome, Person},
    registry::Provider,
    state::AppState,
    web::page::PageResult,
    web::{chrome::Chrome, page::Page, respond},
};
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::Value;

/// The authorization response from a provider.
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// This federation's extension: `pending` or `fraud_suspected` with `error=access_denied`.
    pub identity_outcome: Option<String>,
}

/// What the provider's answer means, every check applied (network calls included).
async fn answer_of(state: &AppState, provider: &Provider, params: &Params, verifier: &str, nonce: &str) -> Answer {
    // RFC 9207: when present, `iss` must be the provider's issuer (mix-up defence).
    if params.iss.as_deref().is_some_and(|iss| iss != provider.issuer) {
        return Answer::Invalid {
            reason: "iss parameter is not the provider's issuer".into(),
        };
    }
    if let Some(error) = params.error.as_deref() {
        return classify_error(error, params.identity_outcome.as_deref());
    }
    let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
        return Answer::Invalid {
            reason: "neither code nor error".into(),
        };
    };
    let identity = match state
        .upstreams
        .authenticate(
            provider,
            code,
            verifier,
            nonce,
            &state.config.url(CALLBACK_PATH),
            &state.keys.upstream,
        )
        .await
    {
        Ok(identity) => identity,
        Err(e) => return e.answer(),
    };
    let identity_outcome = identity
        .claims
        .get("identity_outcome")
        .and_then(Value::as_str)
        .map(IdentityOutcome::parse);
    Answer::Authenticated(Person {
        provider: provider.id.clone(),
        provider_issuer: provider.issuer.clone(),
        provider_sub: identity.sub,
        vector: identity.vector,
        auth_time: identity.auth_time.unwrap_or_else(|| state.now()),
        claims: identity.claims,
        identity_outcome,
    })
}

/// `GET /upstream/callback`.
pub async fn get(
    State(state): State<AppState>,
    chrome: Chrome,
    cookies: HubCookies,
    Query(params): Query<Params>,
) -> PageResult {
    let upstate = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(Page::callback_mismatch)?;
    let current = carry_out::answered(&state, &cookies, upstate).await?;
    let attempt = journey::awaiting(current.journey(), upstate)?.clone();
    let reg = state.snapshot();
    let provider = reg
        .provider(attempt.provider.as_str())
        .ok_or_else(Page::callback_mismatch)?;
    let answer = answer_of(
        &state,
        provider,
        &params,
        &attempt.secrets.pkce_verifier,
        &attempt.secrets.nonce,
    )
    .await;
    match &answer {
        Answer::Invalid { reason } | Answer::Unavailable { reason } => {
            tracing::warn!(provider = %provider.id, reason = %reason, "provider answer refused")
        }
        _ => {}
    }
    let authenticated = matches!(answer, Answer::Authenticated(_));
    let event = Event::Answered {
        answer,
        new_session: SessionId::generate(),
    };
    let decided = journey::decide(current.journey().clone(), event, &reg, state.now())?;
    let cx = Context {
        cookies: &cookies,
        lang: chrome.lang,
    };
    let mut outcome = carry_out::apply(&state, current, decided, cx).await?;
    if authenticated {
        // Remember the provider chosen (only its id) to offer it first next time.
        outcome.cookies.push(CookieChange::LastProvider(attempt.provider));
    }
    Ok(respond(outcome, &reg))
}
