//! Completing a journey once the person is authenticated, by a provider or by the hub session: decide
//! whether the level was met (INTERFACE.md §9 outcome table), keep the single sign-on session, ask consent
//! before identity claims are released (DESIGN.md privacy rules), and mint the service's code (§3).

use super::{load, Journey, Person, Status};
use crate::{
    error::{ErrorCode, HubError},
    identity::{self, CoreIdentityFor, RETURN_CODE},
    ids::AuthCode,
    provider::token::{code_key, CodeGrant},
    registry::providers::Provider,
    session,
    state::AppState,
    store::StoreExt as _,
    upstream::callback::released_claims,
    vtr::{self, Vector},
    web::Page,
};
use axum::{
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Whether the service asked for (and is registered for) the `returnCode` claim.
pub fn wants_return_code(journey: &Journey) -> bool {
    journey.request.claims.iter().any(|c| c == RETURN_CODE)
}

/// The return code for a provider's `identity_outcome` (P pending, F fraud suspected, X anything else).
pub fn return_code_of(identity_outcome: Option<&str>) -> &'static str {
    match identity_outcome {
        Some("pending") => "P",
        Some("fraud_suspected") => "F",
        _ => "X",
    }
}

/// The identity claims this journey would release for this person (asked, registered, supplied).
pub fn identity_claim_names(state: &AppState, journey: &Journey, person: &Person, met: &Vector) -> Vec<String> {
    if !met.asks_identity() {
        return Vec::new();
    }
    let supplies = state
        .providers()
        .get(&person.provider_id)
        .map(|p| p.claims.clone())
        .unwrap_or_default();
    journey
        .request
        .claims
        .iter()
        .filter(|c| *c != RETURN_CODE && supplies.contains(c))
        .cloned()
        .collect()
}

fn unavailable(e: impl std::fmt::Display) -> HubError {
    tracing::warn!(error = %e, "store unavailable");
    Page::unavailable().into()
}

/// The page for an identity check that is pending or failed (fraud suspected).
pub fn identity_page(provider: &Provider, identity_outcome: Option<&str>) -> Page {
    match identity_outcome {
        Some("pending") => Page::new(StatusCode::OK, "pending-heading")
            .para(provider.text("pending-body"))
            .para("pending-next")
            .code("identity_check_pending"),
        _ => Page::new(StatusCode::OK, "failed-heading")
            .para(provider.text("failed-body"))
            .para("failed-next")
            .code("identity_check_failed"),
    }
}

/// After a provider authenticated the person: an assertion if the level is met, else the outcome table.
pub async fn after_provider(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    mut journey: Journey,
    person: Person,
) -> Result<Response, HubError> {
    let Some(met) = vtr::met(&person.vector, &journey.request.vtr).copied() else {
        journey.go(Status::Started).map_err(|_| Page::session_expired())?;
        let outcome = person.identity_outcome.clone();
        if outcome.is_some() && wants_return_code(&journey) {
            let code = return_code_of(outcome.as_deref());
            let vector = Vector {
                credential: person.vector.credential,
                identity: None,
            };
            journey.go(Status::Authenticated).map_err(|_| Page::session_expired())?;
            return issue_code(state, id, journey, &person, vector, Some(code)).await;
        }
        if outcome.is_none() {
            journey.level_not_reached_at = Some(person.provider_id.clone());
            journey.partial = Some(person);
            load::save(state, id, &journey).await?;
            return Ok(crate::web::found("/choose-provider"));
        }
        // A provider removed from the registry since it answered: the journey cannot go on.
        let providers = state.providers();
        let provider = providers.get(&person.provider_id).ok_or_else(Page::session_expired)?;
        let page = identity_page(provider, outcome.as_deref());
        journey.partial = Some(person);
        load::save(state, id, &journey).await?;
        return Ok(page.with_return_link().into_response());
    };
    let (session_id, cookie) = session::start(state, headers, &person).await.map_err(unavailable)?;
    journey.session_id = Some(session_id);
    let mut response = proceed(state, id, journey, person, met).await?;
    session::set_cookie(response.headers_mut(), cookie);
    Ok(response)
}

/// The level is met: ask consent if identity claims would be released, else issue the code.
pub async fn proceed(
    state: &AppState,
    id: &str,
    mut journey: Journey,
    person: Person,
    met: Vector,
) -> Result<Response, HubError> {
    journey.go(Status::Authenticated).map_err(|_| Page::session_expired())?;
    if identity_claim_names(state, &journey, &person, &met).is_empty() {
        return issue_code(state, id, journey, &person, met, None).await;
    }
    journey.person = Some(person);
    journey.met = Some(met);
    load::save(state, id, &journey).await?;
    Ok(crate::web::found("/consent"))
}

/// Mints the service's code for the person and sends them back (RFC 6749 §4.1.2, RFC 9207).
pub async fn issue_code(
    state: &AppState,
    id: &str,
    mut journey: Journey,
    person: &Person,
    vector: Vector,
    return_code: Option<&str>,
) -> Result<Response, HubError> {
    let clients = state.clients();
    let client = clients
        .get(&journey.request.client_id)
        .ok_or_else(Page::session_expired)?;
    let now = state.now();
    let sub = state.pairwise_sub(client, person);
    let request = &journey.request;
    let mut userinfo: Map<String, Value> = released_claims(&request.scopes, &person.claims);
    if return_code.is_none() {
        let supplies = identity_claim_names(state, &journey, person, &vector);
        let vtm = state.config.url("/trustmark");
        let for_ = CoreIdentityFor {
            identity_issuer: state.config.identity_issuer(),
            sub: &sub,
            client_id: &client.client_id,
            vector,
            vtm: &vtm,
            now,
        };
        let did = identity::did_web(state.config.identity_issuer());
        let sign = |claims: &Map<String, Value>| {
            let kid = format!("{did}#{}", state.keys.identity.kid());
            state.keys.identity.sign_jwt_with_kid("JWT", &kid, claims).ok()
        };
        userinfo.extend(identity::identity_claims(
            &request.claims,
            &supplies,
            &person.claims,
            &for_,
            sign,
        ));
    }
    if let Some(code) = return_code {
        userinfo.insert(RETURN_CODE.into(), json!([{ "code": code }]));
    }
    let grant = CodeGrant {
        client_id: client.client_id.clone(),
        redirect_uri: request.return_to.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        sub,
        vot: vector.credential_vot().to_string(),
        auth_time: person.auth_time,
        sid: journey.sid.clone(),
        userinfo,
    };
    let code = AuthCode::generate();
    state
        .store
        .put_json(
            &code_key(code.as_str()),
            &grant,
            Duration::from_secs(state.config.code_ttl_secs),
        )
        .await
        .map_err(unavailable)?;
    if let Some(session_id) = &journey.session_id {
        session::add_client(state, session_id, &client.client_id)
            .await
            .map_err(unavailable)?;
    }
    journey.go(Status::CodeIssued).map_err(|_| Page::session_expired())?;
    // Personal data leaves the journey once the code holds what the service may fetch.
    journey.person = None;
    journey.partial = None;
    load::save(state, id, &journey).await?;
    tracing::info!(client_id = %client.client_id, provider = %person.provider_id, vot = %grant.vot, return_code, "code issued");
    crate::provider::metrics::code_issued(&grant.vot, vector.identity_vot(), return_code);
    Ok(journey
        .request
        .return_to
        .redirect(&state.config.issuer, &[("code", code.as_str())]))
}

/// The person returns to the service without signing in: `access_denied`, or, for a service that asked
/// for `returnCode` and a person who authenticated below the level, tokens with the return code.
pub async fn return_to_service(state: &AppState, id: &str, mut journey: Journey) -> Result<Response, HubError> {
    if wants_return_code(&journey) && matches!(journey.status, Status::Started) {
        if let Some(person) = journey.partial.clone() {
            let code = return_code_of(person.identity_outcome.as_deref());
            let vector = Vector {
                credential: person.vector.credential,
                identity: None,
            };
            journey.go(Status::Authenticated).map_err(|_| Page::session_expired())?;
            return issue_code(state, id, journey, &person, vector, Some(code)).await;
        }
    }
    journey.go(Status::Cancelled).map_err(|_| Page::session_expired())?;
    journey.person = None;
    journey.partial = None;
    load::save(state, id, &journey).await?;
    Err(HubError::Redirect {
        to: journey.request.return_to.clone(),
        issuer: state.config.issuer.clone(),
        code: ErrorCode::AccessDenied,
        description: "the person returned to the service without signing in".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_codes() {
        assert_eq!(return_code_of(Some("pending")), "P");
        assert_eq!(return_code_of(Some("fraud_suspected")), "F");
        assert_eq!(return_code_of(None), "X");
    }
}
