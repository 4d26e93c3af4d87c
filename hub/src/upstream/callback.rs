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
    idp::{
        check::{check_auth_time, check_response_iss, classify_error, keep_claims},
        CALLBACK_PATH,
    },
    ids::SessionId,
    journey::{self, Answer, AuthRequest, Event, IdentityOutcome, Person, UpstreamAttempt},
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

/// What the provider's answer means, every check applied (network calls included), and what it says of
/// the provider's health: `Some(false)` when the provider is at fault (down, slow, garbage, broken
/// tokens), `Some(true)` when it worked, `None` when the answer came only from the query, which anyone
/// can make up (so it must not open the provider's circuit breaker).
async fn answer_of(
    state: &AppState,
    provider: &Provider,
    params: &Params,
    attempt: &UpstreamAttempt,
    request: &AuthRequest,
) -> (Answer, Option<bool>) {
    let (verifier, nonce) = (&attempt.secrets.pkce_verifier, &attempt.secrets.nonce);
    // RFC 9207: `iss` must be the provider's issuer, and present when it says it sends it (mix-up).
    let advertised = match state.upstreams.metadata(provider).await {
        Ok(meta) => meta.authorization_response_iss_parameter_supported,
        Err(e) => return (e.answer(), Some(false)),
    };
    if let Err(why) = check_response_iss(params.iss.as_deref(), &provider.issuer, advertised) {
        return (Answer::Invalid { reason: why.into() }, None);
    }
    if let Some(error) = params.error.as_deref() {
        return (classify_error(error, params.identity_outcome.as_deref()), None);
    }
    let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
        let answer = Answer::Invalid {
            reason: "neither code nor error".into(),
        };
        return (answer, None);
    };
    let identity = match state
        .upstreams
        .authenticate(
            provider,
            code,
            verifier,
            nonce,
            &state.config.url(CALLBACK_PATH),
            &state.upstream_key(),
        )
        .await
    {
        Ok(identity) => identity,
        Err(e) => return (e.answer(), e.provider_at_fault().then_some(false)),
    };
    if let Err(e) = check_auth_time(identity.auth_time, request.max_age, state.now()) {
        return (e.answer(), Some(false));
    }
    let identity_outcome = identity
        .claims
        .get("identity_outcome")
        .and_then(Value::as_str)
        .map(IdentityOutcome::parse);
    let person = Person {
        provider: provider.id.clone(),
        provider_issuer: provider.issuer.clone(),
        provider_sub: identity.sub,
        vector: identity.vector,
        auth_time: identity.auth_time.unwrap_or_else(|| state.now()),
        claims: keep_claims(request, identity.claims),
        identity_outcome,
    };
    (Answer::Authenticated(person), Some(true))
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
    let (answer, health) = answer_of(&state, provider, &params, &attempt, &current.journey().request).await;
    match &answer {
        Answer::Invalid { reason } | Answer::Unavailable { reason } => {
            tracing::warn!(provider = %provider.id, reason = %reason, "provider answer refused")
        }
        _ => {}
    }
    let authenticated = matches!(answer, Answer::Authenticated(_));
    if let Some(worked) = health {
        state.upstreams.record(provider.id.as_str(), worked);
    }
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
