//! `POST /token`: the token endpoint (RFC 6749 §4.1.3, OIDC Core §3.1.3, INTERFACE.md §3–4).
//!
//! Codes are single use: the code is taken from the store atomically (`GETDEL`); a second use finds a
//! marker instead, answers `invalid_grant` and revokes the access token issued with it (RFC 6749 §4.1.2).

use super::client_auth::{authenticate, Presented};
use crate::{
    error::{ErrorCode, HubError},
    ids::{at_hash, hash, pkce_matches, AccessToken},
    state::AppState,
    store::StoreExt as _,
};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::{collections::HashMap, time::Duration};

/// What an authorization code stands for, stored under `code:{hash(code)}` until redeemed or expired.
#[derive(Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    /// The pairwise subject for this client's sector.
    pub sub: String,
    /// The ID token's `vot`: the credential level reached.
    pub vot: String,
    pub auth_time: i64,
    pub sid: String,
    /// Claims released through userinfo.
    pub userinfo: Map<String, Value>,
}

impl std::fmt::Debug for CodeGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeGrant")
            .field("client_id", &self.client_id)
            .field("vot", &self.vot)
            .finish_non_exhaustive()
    }
}

/// What an access token stands for, stored under `at:{hash(token)}` for its lifetime.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessGrant {
    pub client_id: String,
    pub sub: String,
    pub userinfo: Map<String, Value>,
}

/// Store key of a code.
pub fn code_key(code: &str) -> String {
    format!("code:{}", hash(code))
}

fn used_key(code: &str) -> String {
    format!("usedcode:{}", hash(code))
}

/// Store key of an access token.
pub fn access_key(token: &str) -> String {
    format!("at:{}", hash(token))
}

fn store_down(e: impl std::fmt::Display) -> HubError {
    tracing::warn!(error = %e, "store unavailable at the token endpoint");
    HubError::json(ErrorCode::TemporarilyUnavailable, "try again later")
}

/// Reads a form body, refusing repeated parameters (RFC 6749 §3.2).
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, HubError> {
    let mut form = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if form.insert(k.to_string(), v.to_string()).is_some() {
            return Err(HubError::json(
                ErrorCode::InvalidRequest,
                format!("parameter {k} is repeated"),
            ));
        }
    }
    Ok(form)
}

/// How the client authenticated, from the form and the `Authorization` header.
fn presented(form: &HashMap<String, String>, headers: &HeaderMap) -> Result<Presented, HubError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .map(|b64| {
            let decoded = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            let (id, secret) = decoded.split_once(':').unwrap_or_default();
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            };
            (dec(id), dec(secret))
        });
    let methods = [
        basic.is_some(),
        form.contains_key("client_assertion"),
        form.contains_key("client_secret"),
    ];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(HubError::json(
            ErrorCode::InvalidRequest,
            "use exactly one client authentication method",
        ));
    }
    Ok(match basic {
        Some((client_id, secret)) => Presented::SecretBasic { client_id, secret },
        None => match (form.get("client_assertion"), form.get("client_secret")) {
            (Some(assertion), _) => Presented::Assertion {
                client_id: form.get("client_id").cloned(),
                assertion_type: form.get("client_assertion_type").cloned(),
                assertion: assertion.clone(),
            },
            (None, Some(secret)) => Presented::SecretPost {
                client_id: form.get("client_id").cloned().unwrap_or_default(),
                secret: secret.clone(),
            },
            (None, None) => Presented::None {
                client_id: form.get("client_id").cloned(),
            },
        },
    })
}

/// `POST /token`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, HubError> {
    let form = parse_form(&body)?;
    let presented = presented(&form, &headers)?;
    if let Presented::Assertion {
        client_id: Some(id),
        assertion,
        ..
    } = &presented
    {
        // A client_id in the body must agree with the assertion's issuer (RFC 7523 §3).
        let iss = keys::peek_claims(assertion)
            .ok()
            .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_string));
        if iss.as_deref() != Some(id.as_str()) {
            return Err(HubError::json(
                ErrorCode::InvalidClient,
                "client_id differs from the client assertion's iss",
            ));
        }
    }
    let client = &authenticate(&state, &presented).await?;
    match form.get("grant_type").map(String::as_str) {
        None => return Err(HubError::json(ErrorCode::InvalidRequest, "grant_type is required")),
        Some("authorization_code") => {}
        Some(_) => {
            return Err(HubError::json(
                ErrorCode::UnsupportedGrantType,
                "only authorization_code is supported",
            ))
        }
    }
    let code = form
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| HubError::json(ErrorCode::InvalidRequest, "code is required"))?;
    let grant: CodeGrant = match state.store.take_json(&code_key(code)).await.map_err(store_down)? {
        Some(grant) => grant,
        None => {
            // A replayed code revokes what it was exchanged for.
            if let Some(at) = state.store.take(&used_key(code)).await.map_err(store_down)? {
                let at = String::from_utf8_lossy(&at).to_string();
                state.store.delete(&format!("at:{at}")).await.map_err(store_down)?;
                tracing::warn!(client_id = %client.client_id, "authorization code used twice; its access token is revoked");
            }
            return Err(HubError::json(
                ErrorCode::InvalidGrant,
                "code is invalid, expired or already used",
            ));
        }
    };
    if grant.client_id != client.client_id {
        return Err(HubError::json(
            ErrorCode::InvalidGrant,
            "code was issued to another client",
        ));
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(HubError::json(
            ErrorCode::InvalidGrant,
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (&grant.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (Some(_), _) => {
            return Err(HubError::json(
                ErrorCode::InvalidGrant,
                "code_verifier does not match the code_challenge",
            ))
        }
        (None, Some(_)) => {
            return Err(HubError::json(
                ErrorCode::InvalidGrant,
                "code_verifier sent but no code_challenge was",
            ))
        }
        (None, None) => {}
    }

    let now = state.now();
    let access_token = AccessToken::generate();
    let at_ttl = state.config.access_token_ttl_secs;
    let access = AccessGrant {
        client_id: client.client_id.clone(),
        sub: grant.sub.clone(),
        userinfo: grant.userinfo.clone(),
    };
    state
        .store
        .put_json(&access_key(access_token.as_str()), &access, Duration::from_secs(at_ttl))
        .await
        .map_err(store_down)?;
    state
        .store
        .put(
            &used_key(code),
            hash(access_token.as_str()).into_bytes(),
            Duration::from_secs(state.config.code_ttl_secs.max(at_ttl)),
        )
        .await
        .map_err(store_down)?;

    let mut claims = json!({
        "iss": state.config.issuer,
        "sub": grant.sub,
        "aud": client.client_id,
        "iat": now,
        "exp": now + state.config.id_token_ttl_secs as i64,
        "vot": grant.vot,
        "vtm": state.config.url("/trustmark"),
        "sid": grant.sid,
        "auth_time": grant.auth_time,
        "at_hash": at_hash(access_token.as_str()),
    });
    if let (Some(nonce), Some(map)) = (&grant.nonce, claims.as_object_mut()) {
        map.insert("nonce".into(), json!(nonce));
    }
    let id_token = state
        .id_token_key(client)
        .sign_jwt("JWT", claims.as_object().unwrap_or(&Map::new()))
        .map_err(|e| HubError::json(ErrorCode::ServerError, format!("could not sign: {e}")))?;
    let body = json!({
        "access_token": access_token.as_str(),
        "token_type": "Bearer",
        "expires_in": at_ttl,
        "id_token": id_token,
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}
