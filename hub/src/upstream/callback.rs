//! `GET /upstream/callback`: the provider's answer (OIDC Core §3.1.2.5–6, §3.1.3; RFC 9207) and the
//! outcome table of INTERFACE.md §9.
//!
//! The upstream `state` is taken from the store once (it cannot be replayed) and must belong to the
//! journey in this browser's cookie. Every check of the provider's answer must pass before a code is
//! minted for the service; any failure marks the provider as failing for this journey and shows the
//! person a way on. No assertion without every check.

use super::{
    start::{provider_problem, state_key},
    Expected, ProviderIdentity, CALLBACK_PATH,
};
use crate::{
    error::HubError,
    ids::constant_time_eq,
    journey::{complete, load, Journey, Person, Status},
    provider::authorize::journey_id,
    registry::Provider,
    state::AppState,
    web::Page,
};
use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Map, Value};

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

/// What the provider's error response means for the journey (INTERFACE.md §9 outcome table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOutcome {
    /// The person failed or cancelled: choose another provider or return to the service.
    Denied,
    /// The level could not be reached: back to the choice with an explanation.
    LevelNotReached,
    /// The identity check is pending.
    Pending,
    /// Fraud is suspected.
    FraudSuspected,
    /// The provider is down or answered something unusable.
    ProviderFailed,
}

/// Maps a provider's `error` (and this federation's `identity_outcome`) to an outcome.
pub fn classify(error: &str, identity_outcome: Option<&str>) -> ErrorOutcome {
    match (error, identity_outcome) {
        ("access_denied", Some("pending")) => ErrorOutcome::Pending,
        ("access_denied", Some("fraud_suspected")) => ErrorOutcome::FraudSuspected,
        ("access_denied", _) | ("login_required", _) | ("consent_required", _) | ("interaction_required", _) => {
            ErrorOutcome::Denied
        }
        ("unmet_authentication_requirements", _) => ErrorOutcome::LevelNotReached,
        _ => ErrorOutcome::ProviderFailed,
    }
}

fn bad_callback(why: &str) -> HubError {
    tracing::info!(reason = why, "upstream callback refused");
    Page::new(StatusCode::BAD_REQUEST, "callback-mismatch-heading")
        .para("callback-mismatch-body")
        .para("go-back-sign-in-again")
        .code("invalid_callback")
        .into()
}

/// `GET /upstream/callback`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, HubError> {
    let upstate = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_callback("no state"))?;
    let taken = state.store.take(&state_key(upstate)).await.map_err(|e| {
        tracing::warn!(error = %e, "store unavailable");
        Page::unavailable()
    })?;
    let id = taken
        .map(|b| String::from_utf8_lossy(&b).to_string())
        .ok_or_else(|| bad_callback("unknown or used state"))?;
    let cookie_id = journey_id(&headers).ok_or_else(|| bad_callback("no journey cookie"))?;
    if !constant_time_eq(&cookie_id, &id) {
        return Err(bad_callback("state belongs to another browser's journey"));
    }
    let journey = load::load(&state, &id).await?;
    let attempt = journey
        .upstream
        .clone()
        .filter(|a| journey.status == Status::ProviderChosen && constant_time_eq(&a.state, upstate))
        .ok_or_else(|| bad_callback("journey is not waiting for this provider"))?;
    let providers = state.providers();
    let provider = providers
        .get(&attempt.provider_id)
        .ok_or_else(|| bad_callback("provider no longer registered"))?;

    // RFC 9207: when present, `iss` must be the provider's issuer (mix-up defence).
    if params.iss.as_deref().is_some_and(|iss| iss != provider.issuer) {
        return fail_provider(
            &state,
            &id,
            journey,
            provider,
            "iss parameter is not the provider's issuer",
        )
        .await;
    }
    if let Some(error) = params.error.as_deref() {
        return on_error(
            &state,
            &id,
            journey,
            provider,
            classify(error, params.identity_outcome.as_deref()),
        )
        .await;
    }
    let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
        return fail_provider(&state, &id, journey, provider, "neither code nor error").await;
    };

    let identity = match authenticate(&state, provider, code, &attempt.pkce_verifier, &attempt.nonce).await {
        Ok(identity) => identity,
        Err(e) => return fail_provider(&state, &id, journey, provider, &e.to_string()).await,
    };
    crate::provider::metrics::provider_outcome(&provider.id, "authenticated");
    let identity_outcome = identity
        .claims
        .get("identity_outcome")
        .and_then(Value::as_str)
        .map(str::to_string);
    let person = Person {
        provider_id: provider.id.clone(),
        provider_issuer: provider.issuer.clone(),
        provider_sub: identity.sub,
        vector: identity.vector,
        auth_time: identity.auth_time.unwrap_or_else(|| state.now()),
        claims: identity.claims,
        identity_outcome,
    };
    let mut response = complete::after_provider(&state, &headers, &id, journey, person).await?;
    remember_provider(response.headers_mut(), &provider.id);
    Ok(response)
}

/// Remembers the provider chosen (only its id) to offer it first next time.
fn remember_provider(headers: &mut axum::http::HeaderMap, provider_id: &str) {
    let cookie = format!(
        "{}={provider_id}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=31536000",
        crate::web::choose_provider::LAST_PROVIDER_COOKIE
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        headers.append(axum::http::header::SET_COOKIE, v);
    }
}

/// Exchanges the code, verifies the ID token and fetches userinfo.
async fn authenticate(
    state: &AppState,
    provider: &Provider,
    code: &str,
    verifier: &str,
    nonce: &str,
) -> Result<ProviderIdentity, super::UpstreamError> {
    let meta = state.upstreams.metadata(provider).await?;
    let redirect_uri = state.config.url(CALLBACK_PATH);
    let tokens = state
        .upstreams
        .exchange(
            provider,
            &meta,
            code,
            verifier,
            &redirect_uri,
            &state.keys.upstream,
            state.now(),
        )
        .await?;
    let expected = Expected {
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        nonce,
    };
    let mut identity = state
        .upstreams
        .verify_id_token(provider, &meta, &tokens.id_token, &expected, state.now())
        .await?;
    let userinfo = state
        .upstreams
        .userinfo(&meta, &tokens.access_token, &identity.sub)
        .await?;
    for (k, v) in userinfo {
        identity.claims.entry(k).or_insert(v);
    }
    Ok(identity)
}

/// The claims released through the hub's userinfo for the scopes asked (OIDC Core §5.4).
pub fn released_claims(scopes: &[String], provider_claims: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut copy = |names: &[&str]| {
        for n in names {
            if let Some(v) = provider_claims.get(*n) {
                out.insert((*n).to_string(), v.clone());
            }
        }
    };
    if scopes.iter().any(|s| s == "email") {
        copy(&["email", "email_verified"]);
    }
    if scopes.iter().any(|s| s == "phone") {
        copy(&["phone_number", "phone_number_verified"]);
    }
    out
}

/// The provider failed or answered wrongly: mark it, back to `Started`, and show a way on.
async fn fail_provider(
    state: &AppState,
    id: &str,
    mut journey: Journey,
    provider: &Provider,
    why: &str,
) -> Result<Response, HubError> {
    tracing::warn!(provider = %provider.id, reason = why, "provider answer refused");
    crate::provider::metrics::provider_outcome(&provider.id, "refused");
    journey.go(Status::Started).map_err(|_| Page::session_expired())?;
    if !journey.failed_providers.contains(&provider.id) {
        journey.failed_providers.push(provider.id.clone());
    }
    load::save(state, id, &journey).await?;
    Err(provider_problem(provider).into())
}

async fn on_error(
    state: &AppState,
    id: &str,
    mut journey: Journey,
    provider: &Provider,
    outcome: ErrorOutcome,
) -> Result<Response, HubError> {
    let label = match outcome {
        ErrorOutcome::Denied => "access_denied",
        ErrorOutcome::LevelNotReached => "level_not_reached",
        ErrorOutcome::Pending => "pending",
        ErrorOutcome::FraudSuspected => "fraud_suspected",
        ErrorOutcome::ProviderFailed => "refused",
    };
    if outcome == ErrorOutcome::ProviderFailed {
        return fail_provider(state, id, journey, provider, "provider answered with an error").await;
    }
    crate::provider::metrics::provider_outcome(&provider.id, label);
    journey.go(Status::Started).map_err(|_| Page::session_expired())?;
    let page = match outcome {
        ErrorOutcome::LevelNotReached => {
            journey.level_not_reached_at = Some(provider.id.clone());
            load::save(state, id, &journey).await?;
            return Ok(crate::web::found("/choose-provider"));
        }
        ErrorOutcome::Pending => complete::identity_page(provider, Some("pending")),
        ErrorOutcome::FraudSuspected => complete::identity_page(provider, Some("fraud_suspected")),
        _ => Page::new(StatusCode::OK, provider.text("denied-heading"))
            .para("denied-body")
            .code("access_denied")
            .action("/choose-provider", "choose-another"),
    };
    load::save(state, id, &journey).await?;
    Ok(page.para("return-link-note").with_return_link().into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let cases = [
            ("access_denied", None, ErrorOutcome::Denied),
            ("access_denied", Some("pending"), ErrorOutcome::Pending),
            ("access_denied", Some("fraud_suspected"), ErrorOutcome::FraudSuspected),
            ("unmet_authentication_requirements", None, ErrorOutcome::LevelNotReached),
            ("temporarily_unavailable", None, ErrorOutcome::ProviderFailed),
            ("server_error", None, ErrorOutcome::ProviderFailed),
            ("invalid_request", None, ErrorOutcome::ProviderFailed),
            ("login_required", None, ErrorOutcome::Denied),
        ];
        for (error, outcome, want) in cases {
            assert_eq!(classify(error, outcome), want, "{error} {outcome:?}");
        }
    }

    #[test]
    fn only_scoped_claims_are_released() {
        let provider: Map<String, Value> = serde_json::from_str(
            r#"{"email":"a@b","email_verified":true,"phone_number":"1","given_name":"A","birthdate":"2000-01-01"}"#,
        )
        .unwrap_or_default();
        let got = released_claims(&["openid".into(), "email".into()], &provider);
        assert_eq!(
            got.keys().cloned().collect::<Vec<_>>(),
            vec!["email".to_string(), "email_verified".to_string()]
        );
        assert!(released_claims(&["openid".into()], &provider).is_empty());
    }
}
