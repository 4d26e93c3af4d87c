//! Sending the person to the chosen provider (OIDC Core §3.1.2.1, INTERFACE.md §9): a fresh `state`,
//! `nonce` and PKCE S256 of the hub's own, the wanted level as `acr_values`, and nothing of the service.

use super::CALLBACK_PATH;
use crate::{
    error::HubError,
    i18n::Lang,
    ids::{pkce_challenge, random_token},
    journey::{load, Journey, Status, UpstreamAttempt},
    registry::providers::Provider,
    state::AppState,
    web::Page,
};
use axum::{http::StatusCode, response::Response};
use std::time::Duration;

/// The store key mapping an upstream `state` to its journey.
pub fn state_key(state: &str) -> String {
    format!("upstate:{state}")
}

/// Records the attempt on the journey and redirects to the provider's authorization endpoint.
pub async fn begin(
    state: &AppState,
    journey_id: &str,
    mut journey: Journey,
    provider_id: &str,
    lang: Lang,
) -> Result<Response, HubError> {
    let providers = state.providers();
    let provider = providers.get(provider_id).ok_or_else(Page::session_expired)?;
    let meta = match state.upstreams.metadata(provider).await {
        Ok(meta) => meta,
        Err(e) => {
            tracing::warn!(provider = %provider.id, error = %e, "provider discovery failed");
            return Err(provider_problem(provider).into());
        }
    };
    let attempt = UpstreamAttempt {
        provider_id: provider.id.clone(),
        state: random_token(),
        nonce: random_token(),
        pkce_verifier: random_token(),
        started_at: state.now(),
    };
    journey
        .go(Status::ProviderChosen)
        .map_err(|_| Page::session_expired())?;
    journey.level_not_reached_at = None;
    let mut params = vec![
        ("response_type", "code".to_string()),
        ("client_id", provider.client_id.clone()),
        ("redirect_uri", state.config.url(CALLBACK_PATH)),
        ("scope", provider.scopes.join(" ")),
        ("state", attempt.state.clone()),
        ("nonce", attempt.nonce.clone()),
        ("code_challenge", pkce_challenge(&attempt.pkce_verifier)),
        ("code_challenge_method", "S256".to_string()),
    ];
    if provider.send_acr_values {
        let acr: Vec<String> = journey.request.vtr.iter().map(|v| provider.acr_of_vector(v)).collect();
        params.push(("acr_values", acr.join(" ")));
    }
    // The person's language on the hub (the service's `ui_locales`, or their own switch since).
    params.push(("ui_locales", lang.code().to_string()));
    if journey.request.prompt.as_deref() == Some("login") {
        params.push(("prompt", "login".to_string()));
    }
    let ttl = Duration::from_secs(state.config.journey_ttl_secs);
    let upstate = attempt.state.clone();
    journey.upstream = Some(attempt);
    load::save(state, journey_id, &journey).await?;
    if let Err(e) = state
        .store
        .put(&state_key(&upstate), journey_id.as_bytes().to_vec(), ttl)
        .await
    {
        tracing::warn!(error = %e, "store unavailable");
        return Err(Page::unavailable().into());
    }
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let separator = if meta.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(crate::web::found(&format!(
        "{}{separator}{query}",
        meta.authorization_endpoint
    )))
}

/// The page shown when a provider is down or answered wrongly: a way on, never an assertion.
pub fn provider_problem(provider: &Provider) -> Page {
    Page::new(StatusCode::BAD_GATEWAY, provider.text("provider-problem-heading"))
        .para(provider.text("provider-problem-body"))
        .para("provider-problem-next")
        .code("provider_error")
        .action("/choose-provider", "choose-another")
}
