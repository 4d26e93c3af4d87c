//! `POST /par`: pushed authorization requests (RFC 9126; FAPI 2.0 Security Profile §5.3.2.2).
//!
//! The client authenticates as at `/token` and pushes its whole authorization request (plain parameters
//! or a signed request object); the hub validates it as `/authorize` would, keeps it for
//! `request_uri_ttl_secs` ([`EXPIRES_IN`] by default) seconds, and answers `201` with a `request_uri` the client sends the person to
//! `/authorize` with. A DPoP proof here, or `dpop_jkt`, binds the code to that key (RFC 9449 §10).
//! Every refusal is the spec's JSON (RFC 9126 §2.3), never a redirect.

use super::{
    authorize::{self, ObjectRefusal, Params, Pushed, Refusal, PUSHED_URN},
    client_auth::authenticate,
    dpop_proof,
    token::{parse_form, presented},
};
use crate::{
    error::{ApiResult, HubError},
    http::no_store,
    ids::{hash, random_token},
    oauth::ErrorCode,
    state::AppState,
    store::key,
};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    Json,
};
use serde::Serialize;
use std::time::Duration;

/// How long a `request_uri` may be used by default, seconds (RFC 9126 §2.2; FAPI 2.0 SP: 5–600); the
/// configuration's `request_uri_ttl_secs`.
pub const EXPIRES_IN: u64 = 60;

/// The PAR endpoint's answer (RFC 9126 §2.2).
#[derive(Debug, Clone, Serialize)]
pub struct PushedResponse {
    pub request_uri: String,
    pub expires_in: u64,
}

fn invalid(code: ErrorCode, why: impl Into<String>) -> HubError {
    HubError::oauth(code, why)
}

/// What a service is told for a request `/authorize` would have refused with a page (the page's text
/// is for people).
fn page_reason(detail: &crate::i18n::Text) -> &'static str {
    match detail.id {
        "unregistered-redirect-body" => "redirect_uri is missing or not registered for this client",
        "unknown-service-body" => "client_id is not a registered client",
        "response-mode-body" => "response_mode is not one this client may use",
        _ => "the authorization request is not valid",
    }
}

/// `POST /par`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let form = parse_form(&body)?;
    let presented = presented(&form, &headers)?;
    let par_endpoint = state.config.url("/par");
    let proof = dpop_proof::check(&state, &headers, "POST", &par_endpoint, None).await?;
    let client = authenticate(&state, &presented).await?;
    // The service's own bucket, now that it has authenticated (see `http::rate`).
    state
        .limiter
        .authenticated_client(client.client_id.as_str())
        .map_err(HubError::RateLimited)?;
    if form.contains_key("request_uri") {
        return Err(invalid(
            ErrorCode::InvalidRequest,
            "request_uri is not allowed in a pushed request",
        )
        .into());
    }
    if form.get("client_id").is_some_and(|c| c != client.client_id.as_str()) {
        return Err(invalid(ErrorCode::InvalidRequest, "client_id is not the authenticated client").into());
    }
    let mut params: Params = serde_urlencoded::from_bytes(&body)
        .map_err(|_| invalid(ErrorCode::InvalidRequest, "the request is not a readable form"))?;
    params.client_id = Some(client.client_id.to_string());
    let by_object = params.request.is_some();
    // A client registered for signed requests pushes only signed ones (FAPI 2.0 Message Signing §5.3.2):
    // refused here, where the client is told, not later in the person's browser.
    if !by_object && client.jar_required {
        return Err(invalid(
            ErrorCode::InvalidRequest,
            "this client must push a signed request object",
        )
        .into());
    }
    let params = match authorize::unpack_request_object(&state, &client, params).await {
        Ok(params) => params,
        Err(ObjectRefusal::Store(e)) => return Err(HubError::from(e).into()),
        Err(ObjectRefusal::Refused(why)) => return Err(invalid(ErrorCode::InvalidRequestObject, why).into()),
        Err(ObjectRefusal::NotSupported) => {
            return Err(invalid(
                ErrorCode::RequestNotSupported,
                "unsigned request objects are not supported",
            )
            .into())
        }
    };
    // A proof here and `dpop_jkt` must name one key (RFC 9449 §10.1).
    let mut params = params;
    match (&proof, params.dpop_jkt.as_deref()) {
        (Some(p), Some(jkt)) if !crate::ids::constant_time_eq(&p.jkt, jkt) => {
            return Err(dpop_proof::refused(
                &state,
                ErrorCode::InvalidDpopProof,
                "dpop_jkt is not the thumbprint of the DPoP proof's key",
                false,
            )
            .into())
        }
        (Some(p), None) => params.dpop_jkt = Some(p.jkt.clone()),
        _ => {}
    }
    let reg = state.snapshot();
    if let Err(refusal) = authorize::validate(&params, &reg.clients) {
        return Err(match refusal {
            Refusal::Page(_, detail) => invalid(ErrorCode::InvalidRequest, page_reason(&detail)),
            Refusal::Redirect(_, code, why) => invalid(code, why),
        }
        .into());
    }
    let request_uri = format!("{PUSHED_URN}{}", random_token());
    let expires_in = state.config.request_uri_ttl_secs;
    let pushed = Pushed {
        client_id: client.client_id.clone(),
        params,
        by_object,
    };
    state
        .store
        .put_json(
            &key::pushed(&hash(&request_uri)),
            &pushed,
            Duration::from_secs(expires_in),
        )
        .await?;
    tracing::info!(client_id = %client.client_id, "authorization request pushed");
    let response = no_store((
        StatusCode::CREATED,
        Json(PushedResponse {
            request_uri,
            expires_in,
        }),
    ));
    Ok(if proof.is_some() || client.requires_dpop() {
        dpop_proof::with_nonce(&state, response)
    } else {
        response
    })
}
