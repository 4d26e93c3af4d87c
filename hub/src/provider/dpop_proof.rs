//! DPoP proofs as `/par`, `/token` and `/userinfo` receive them (RFC 9449 §4.3, §5, §7, §8): one
//! `DPoP` header, its JOSE form and signature ([`keys::dpop::verify`]), its claims and the server nonce
//! ([`crate::dpop::check`]), and its `jti` never seen before (the store's replay cache). Every refusal
//! is the spec's error, with a fresh nonce in `DPoP-Nonce`.

use crate::{
    dpop::{self, Refused},
    error::HubError,
    oauth::ErrorCode,
    state::AppState,
    store::key,
};
use axum::{
    http::{HeaderMap, HeaderValue},
    response::Response,
};
use std::time::Duration;

/// A proof that passed: the key it was made with, and the nonce to send back for the client's next
/// proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
}

/// The nonce a client should put in its next proof (RFC 9449 §8.2), as a `DPoP-Nonce` value.
pub fn fresh_nonce(state: &AppState) -> String {
    dpop::nonce(&state.keys.nonce_key, state.now())
}

/// Adds `DPoP-Nonce` to a response (RFC 9449 §8.2): sent wherever the hub takes proofs, so clients have
/// the nonce before they need it.
pub fn with_nonce(state: &AppState, mut response: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&fresh_nonce(state)) {
        response.headers_mut().insert("dpop-nonce", v);
    }
    response
}

/// The error for a refused proof: 400 at the authorization server, 401 with `WWW-Authenticate: DPoP`
/// at a resource.
pub fn refused(state: &AppState, code: ErrorCode, why: &str, at_resource: bool) -> HubError {
    HubError::Dpop {
        code,
        description: why.to_string(),
        nonce: Some(fresh_nonce(state)),
        at_resource,
    }
}

/// Checks the request's DPoP proof, if it has one, for `htm` at `htu` (and, at a resource, for
/// `access_token`). `Ok(None)` when there is no `DPoP` header: whether one is required is the caller's.
pub async fn check(
    state: &AppState,
    headers: &HeaderMap,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
) -> Result<Option<Proven>, HubError> {
    let at_resource = access_token.is_some();
    let invalid = |why: &str| refused(state, ErrorCode::InvalidDpopProof, why, at_resource);
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("send exactly one DPoP header"));
    }
    let token = value.to_str().map_err(|_| invalid("the DPoP header is not a JWT"))?;
    let verified = keys::dpop::verify(token, dpop::ALGS).map_err(|e| {
        tracing::debug!(error = %e, "DPoP proof refused");
        invalid("the DPoP proof is not a well-formed, correctly signed dpop+jwt")
    })?;
    let now = state.now();
    let expected = dpop::Expected {
        htm,
        htu,
        now,
        access_token,
        nonce_key: &state.keys.nonce_key,
    };
    let checked = match dpop::check(&verified, &expected) {
        Ok(checked) => checked,
        Err(Refused::Invalid(why)) => return Err(invalid(why)),
        Err(Refused::NeedsNonce) => {
            return Err(refused(
                state,
                ErrorCode::UseDpopNonce,
                "use the DPoP-Nonce this response carries",
                at_resource,
            ))
        }
    };
    let ttl = Duration::from_secs((checked.remember_until - now).max(1) as u64);
    if !state
        .store
        .put_if_absent(&key::dpop_jti(&checked.jkt, &checked.jti), vec![1], ttl)
        .await?
    {
        return Err(invalid("the DPoP proof was used before"));
    }
    Ok(Some(Proven { jkt: checked.jkt }))
}
