//! `POST /backchannel-logout`: the hub ends sessions here (OIDC Back-Channel Logout 1.0 §2.4–§2.8;
//! INTERFACE.md §6). Answers 200, or 400 `{"error":"invalid_request"}`.

use axum::{
    extract::{rejection::FormRejection, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Form, Json,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::AppState;

/// The event a logout token must carry.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Clock skew allowed on `iat` and `exp`.
pub const SKEW_SECS: u64 = keys::SKEW_SECS as u64;

/// The form body.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    pub logout_token: Option<String>,
}

/// Why a logout token was refused (logged; the hub only sees `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    #[error("no logout_token")]
    Missing,
    #[error("the hub's keys are unavailable: {0}")]
    Keys(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("iss is not the hub")]
    Issuer,
    #[error("aud is not this client")]
    Audience,
    #[error("iat missing or in the future")]
    IssuedAt,
    #[error("expired")]
    Expired,
    #[error("no jti")]
    Jti,
    #[error("no back-channel logout event")]
    Event,
    #[error("a logout token must not have a nonce")]
    Nonce,
    #[error("neither sub nor sid")]
    NoSubject,
}

/// Whose sessions to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutTarget {
    pub sub: Option<String>,
    pub sid: Option<String>,
}

/// Checks the claims of a logout token whose signature has been verified (§2.6 steps 3–6).
pub fn validate_logout_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<LogoutTarget, LogoutTokenError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(LogoutTokenError::Issuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(LogoutTokenError::Audience);
    }
    match claims.get("iat").and_then(Value::as_u64) {
        Some(iat) if iat <= now + SKEW_SECS => {}
        _ => return Err(LogoutTokenError::IssuedAt),
    }
    if let Some(exp) = claims.get("exp") {
        match exp.as_u64() {
            Some(exp) if exp + SKEW_SECS > now => {}
            _ => return Err(LogoutTokenError::Expired),
        }
    }
    if claims.get("jti").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(LogoutTokenError::Jti);
    }
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|e| e.get(BACKCHANNEL_LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenError::Event);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Nonce);
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    let target = LogoutTarget {
        sub: text("sub"),
        sid: text("sid"),
    };
    if target.sub.is_none() && target.sid.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    Ok(target)
}

/// Verifies the token with the hub's JWKS (fetched again once on an unknown `kid`) and ends the sessions.
pub async fn post(State(state): State<AppState>, form: Result<Form<LogoutForm>, FormRejection>) -> Response {
    match logout(&state, form.ok().and_then(|Form(f)| f.logout_token)).await {
        Ok(ended) => {
            tracing::info!(ended, "back-channel logout");
            ([(header::CACHE_CONTROL, "no-store")], StatusCode::OK).into_response()
        }
        Err(error) => {
            tracing::info!(%error, "logout token refused");
            (
                StatusCode::BAD_REQUEST,
                [(header::CACHE_CONTROL, "no-store")],
                Json(serde_json::json!({"error": "invalid_request"})),
            )
                .into_response()
        }
    }
}

async fn logout(state: &AppState, token: Option<String>) -> Result<usize, LogoutTokenError> {
    let token = token.filter(|t| !t.is_empty()).ok_or(LogoutTokenError::Missing)?;
    let now = state.clock.now();
    let keys_error = |e: crate::RpError| LogoutTokenError::Keys(e.to_string());
    let mut provider = state
        .provider
        .get(&state.config, &state.http, now)
        .await
        .map_err(keys_error)?;
    let mut verified = provider.logout_keys.verify(&token);
    if matches!(verified, Err(keys::KeyError::UnknownKey(_))) {
        state.provider.invalidate().await;
        provider = state
            .provider
            .get(&state.config, &state.http, now)
            .await
            .map_err(keys_error)?;
        verified = provider.logout_keys.verify(&token);
    }
    let (_, claims) = verified.map_err(|e| LogoutTokenError::Signature(e.to_string()))?;
    let target = validate_logout_claims(&claims, &provider.issuer, &state.config.client_id, now)?;
    Ok(state
        .sessions
        .remove_matching(target.sub.as_deref(), target.sid.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn good() -> Map<String, Value> {
        let v = json!({
            "iss": "http://hub", "aud": "rp", "iat": NOW, "exp": NOW + 120, "jti": "j", "sub": "alice",
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        });
        v.as_object().cloned().unwrap_or_default()
    }

    fn with(name: &str, value: Option<Value>) -> Map<String, Value> {
        let mut claims = good();
        match value {
            Some(v) => claims.insert(name.into(), v),
            None => claims.remove(name),
        };
        claims
    }

    #[test]
    fn logout_claims_table() {
        type Case = (&'static str, Map<String, Value>, Result<(), LogoutTokenError>);
        let cases: Vec<Case> = vec![
            ("good", good(), Ok(())),
            ("aud array", with("aud", Some(json!(["x", "rp"]))), Ok(())),
            (
                "sid only",
                with("sub", None)
                    .into_iter()
                    .chain([("sid".into(), json!("s"))])
                    .collect(),
                Ok(()),
            ),
            (
                "wrong iss",
                with("iss", Some(json!("http://evil"))),
                Err(LogoutTokenError::Issuer),
            ),
            (
                "wrong aud",
                with("aud", Some(json!("other"))),
                Err(LogoutTokenError::Audience),
            ),
            ("no iat", with("iat", None), Err(LogoutTokenError::IssuedAt)),
            (
                "future iat",
                with("iat", Some(json!(NOW + 3600))),
                Err(LogoutTokenError::IssuedAt),
            ),
            (
                "expired",
                with("exp", Some(json!(NOW - 3600))),
                Err(LogoutTokenError::Expired),
            ),
            ("no jti", with("jti", None), Err(LogoutTokenError::Jti)),
            (
                "no event",
                with("events", Some(json!({"other": {}}))),
                Err(LogoutTokenError::Event),
            ),
            ("nonce", with("nonce", Some(json!("n"))), Err(LogoutTokenError::Nonce)),
            ("no sub nor sid", with("sub", None), Err(LogoutTokenError::NoSubject)),
        ];
        for (name, claims, want) in cases {
            let got = validate_logout_claims(&claims, "http://hub", "rp", NOW).map(|_| ());
            assert_eq!(got, want, "{name}");
        }
    }
}
