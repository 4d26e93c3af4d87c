//! `GET|POST /userinfo` (OIDC Core §5.3, RFC 6750, RFC 9449 §7, INTERFACE.md §5): `sub` and the claims
//! released for the access token.
//!
//! The token comes in the `Authorization` header (`Bearer`, or `DPoP` with a proof by the key it is bound
//! to; schemes compare case-insensitively, RFC 9110 §11.1), or, for clients whose profile allows it
//! (`oidc-basic`), in a form body (RFC 6750 §2.2). A bad, expired or revoked token is a 401 with
//! `WWW-Authenticate`. A FAPI client's `x-fapi-interaction-id` is echoed back.

use crate::{
    audit::{self, Fact},
    error::{ApiResult, HubError},
    http::no_store,
    ids::{constant_time_eq, AccessToken},
    oauth::ErrorCode,
    state::AppState,
    store::key,
    tokens::AccessGrant,
};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, Method},
    response::Response,
    Json,
};
use serde_json::Value;

/// How the request presented its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `Authorization: Bearer <token>`.
    Bearer(AccessToken),
    /// `Authorization: DPoP <token>`.
    Dpop(AccessToken),
    /// `access_token` in a form body.
    Body(AccessToken),
}

impl Presented {
    fn token(&self) -> &AccessToken {
        match self {
            Self::Bearer(t) | Self::Dpop(t) | Self::Body(t) => t,
        }
    }
}

/// The access token of a request (RFC 6750 §2.1–2.2, RFC 9449 §7.1): exactly one way, or a refusal.
pub fn presented(headers: &HeaderMap, body: &[u8]) -> Result<Presented, HubError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .map(|(scheme, token)| (scheme.to_ascii_lowercase(), token.trim()))
        .filter(|(_, token)| !token.is_empty());
    let form_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let from_body: Vec<String> = if form_body {
        url::form_urlencoded::parse(body)
            .filter(|(k, _)| k == "access_token")
            .map(|(_, v)| v.to_string())
            .collect()
    } else {
        Vec::new()
    };
    match (from_header, from_body.as_slice()) {
        (Some(_), [_, ..]) | (None, [_, _, ..]) => Err(HubError::oauth(
            ErrorCode::InvalidRequest,
            "send the access token one way only",
        )),
        (Some((scheme, token)), []) if scheme == "bearer" => Ok(Presented::Bearer(AccessToken::from_wire(token))),
        (Some((scheme, token)), []) if scheme == "dpop" => Ok(Presented::Dpop(AccessToken::from_wire(token))),
        (None, [token]) if !token.is_empty() => Ok(Presented::Body(AccessToken::from_wire(token))),
        _ => Err(HubError::InvalidToken("an access token is required".into())),
    }
}

/// `GET /userinfo` and `POST /userinfo`.
pub async fn handle(State(state): State<AppState>, method: Method, headers: HeaderMap, body: Bytes) -> ApiResult {
    let presented = presented(&headers, &body)?;
    let token = presented.token();
    let grant: AccessGrant = state
        .store
        .get_json(&key::access_token(token))
        .await?
        .ok_or_else(|| HubError::InvalidToken("the access token is invalid, expired or revoked".into()))?;
    match (&presented, &grant.jkt) {
        (Presented::Dpop(_), Some(bound)) => {
            let url = state.config.url("/userinfo");
            let proof = super::dpop_proof::check(&state, &headers, method.as_str(), &url, Some(token.as_str()))
                .await?
                .ok_or_else(|| refused(&state, ErrorCode::InvalidDpopProof, "a DPoP proof is required"))?;
            if !constant_time_eq(&proof.jkt, bound) {
                return Err(refused(
                    &state,
                    ErrorCode::InvalidDpopProof,
                    "the proof's key is not the token's",
                )
                .into());
            }
        }
        (_, Some(_)) => {
            return Err(refused(
                &state,
                ErrorCode::InvalidToken,
                "the access token is DPoP-bound: use the DPoP scheme",
            )
            .into())
        }
        (Presented::Dpop(_), None) => {
            return Err(
                HubError::InvalidToken("the access token is not DPoP-bound: use the Bearer scheme".into()).into(),
            )
        }
        (Presented::Body(_), None) => {
            let allowed = state
                .snapshot()
                .client(grant.client_id.as_str())
                .is_some_and(|c| c.userinfo_body_token_allowed());
            if !allowed {
                return Err(HubError::oauth(
                    ErrorCode::InvalidRequest,
                    "send the access token in the Authorization header",
                )
                .into());
            }
        }
        (Presented::Bearer(_), None) => {}
    }
    let claims: Vec<String> = grant.userinfo.keys().cloned().collect();
    let mut body = grant.userinfo;
    body.insert("sub".into(), Value::String(grant.sub.to_string()));
    let fact = Fact::UserinfoServed {
        client_id: grant.client_id,
        sub: grant.sub,
        claims,
    };
    audit::note(state.audit.as_ref(), state.now(), fact);
    let mut response: Response = no_store(Json(Value::Object(body)));
    if let Some(id) = headers.get("x-fapi-interaction-id").filter(|v| v.len() <= 64) {
        response.headers_mut().insert("x-fapi-interaction-id", id.clone());
    }
    Ok(response)
}

fn refused(state: &AppState, code: ErrorCode, why: &str) -> HubError {
    super::dpop_proof::refused(state, code, why, true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn presented_table() {
        let form = ("content-type", "application/x-www-form-urlencoded");
        let t = || AccessToken::from_wire("t");
        let cases: Vec<(&str, HeaderMap, &str, Result<Presented, &str>)> = vec![
            (
                "bearer",
                headers(&[("authorization", "Bearer t")]),
                "",
                Ok(Presented::Bearer(t())),
            ),
            (
                "bearer any case",
                headers(&[("authorization", "bEaReR t")]),
                "",
                Ok(Presented::Bearer(t())),
            ),
            (
                "dpop",
                headers(&[("authorization", "DPoP t")]),
                "",
                Ok(Presented::Dpop(t())),
            ),
            (
                "dpop any case",
                headers(&[("authorization", "dpOp t")]),
                "",
                Ok(Presented::Dpop(t())),
            ),
            ("body", headers(&[form]), "access_token=t", Ok(Presented::Body(t()))),
            (
                "body and header",
                headers(&[("authorization", "Bearer t"), form]),
                "access_token=t",
                Err("invalid_request"),
            ),
            (
                "twice in the body",
                headers(&[form]),
                "access_token=t&access_token=u",
                Err("invalid_request"),
            ),
            (
                "a body that is not a form",
                headers(&[]),
                "access_token=t",
                Err("invalid_token"),
            ),
            ("nothing", headers(&[]), "", Err("invalid_token")),
            (
                "empty bearer",
                headers(&[("authorization", "Bearer ")]),
                "",
                Err("invalid_token"),
            ),
            (
                "other scheme",
                headers(&[("authorization", "Basic dTpw")]),
                "",
                Err("invalid_token"),
            ),
        ];
        for (name, h, body, want) in cases {
            let got = presented(&h, body.as_bytes()).map_err(|e| e.code().as_str());
            assert_eq!(got, want, "{name}");
        }
    }
}
