//! `POST /token`: the token endpoint (RFC 6749 §4.1.3, OIDC Core §3.1.3, INTERFACE.md §3–4).
//!
//! Codes are single use: the code is taken from the store atomically (`GETDEL`); a second use finds a
//! marker instead, answers `invalid_grant` and revokes the access token issued with it (RFC 6749 §4.1.2).
//! A request with a DPoP proof gets a token bound to its key (RFC 9449 §5); a client that must
//! sender-constrain its tokens (`fapi2`) gets none without one, and a code bound to a key (`dpop_jkt`,
//! §10) is redeemed only with a proof by that key.

use super::client_auth::{authenticate, Presented};
use crate::{
    audit::{self, Fact},
    error::{ApiResult, HubError},
    http::no_store,
    ids::{at_hash, hash, pkce_matches, AccessToken, AuthCode},
    oauth::ErrorCode,
    state::AppState,
    store::key,
    tokens::{AccessGrant, CodeGrant, IdTokenClaims, TokenResponse},
};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::Value;
use std::{collections::HashMap, time::Duration};

fn invalid(code: ErrorCode, why: &str) -> HubError {
    HubError::oauth(code, why)
}

/// Reads a form body, refusing repeated parameters (RFC 6749 §3.2).
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, HubError> {
    let mut form = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if form.insert(k.to_string(), v.to_string()).is_some() {
            return Err(invalid(
                ErrorCode::InvalidRequest,
                &format!("parameter {k} is repeated"),
            ));
        }
    }
    Ok(form)
}

/// How the client authenticated, from the form and the `Authorization` header.
pub fn presented(form: &HashMap<String, String>, headers: &HeaderMap) -> Result<Presented, HubError> {
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
        return Err(invalid(
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
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult {
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
            return Err(HubError::InvalidClient {
                description: "client_id differs from the client assertion's iss".into(),
                basic: false,
            }
            .into());
        }
    }
    // The proof first: a request lacking the server's nonce is answered before its client assertion's
    // `jti` is spent, so the client can simply retry (RFC 9449 §8).
    let token_endpoint = state.config.url("/token");
    let proof = super::dpop_proof::check(&state, &headers, "POST", &token_endpoint, None).await?;
    let client = &authenticate(&state, &presented).await?;
    if proof.is_none() && client.requires_dpop() {
        return Err(super::dpop_proof::refused(
            &state,
            ErrorCode::InvalidDpopProof,
            "this client's access tokens are DPoP-bound: send a DPoP proof",
            false,
        )
        .into());
    }
    // The service's own bucket, now that it has authenticated (see `http::rate`).
    state
        .limiter
        .authenticated_client(client.client_id.as_str())
        .map_err(HubError::RateLimited)?;
    match form.get("grant_type").map(String::as_str) {
        None => return Err(invalid(ErrorCode::InvalidRequest, "grant_type is required").into()),
        Some("authorization_code") => {}
        Some(_) => return Err(invalid(ErrorCode::UnsupportedGrantType, "only authorization_code is supported").into()),
    }
    let code = form
        .get("code")
        .filter(|c| !c.is_empty())
        .map(|c| AuthCode::from_wire(c))
        .ok_or_else(|| invalid(ErrorCode::InvalidRequest, "code is required"))?;
    let grant: CodeGrant = match state.store.take_json(&key::code(&code)).await? {
        Some(grant) => grant,
        None => {
            // A replayed code revokes what it was exchanged for.
            if let Some(at) = state.store.take(&key::used_code(&code)).await? {
                let at = String::from_utf8_lossy(&at).to_string();
                state.store.delete(&key::access_token_hash(&at)).await?;
                tracing::warn!(client_id = %client.client_id, "authorization code used twice; its access token is revoked");
                let fact = Fact::CodeReuseDetected {
                    client_id: client.client_id.clone(),
                };
                audit::note(state.audit.as_ref(), state.now(), fact);
            }
            return Err(invalid(ErrorCode::InvalidGrant, "code is invalid, expired or already used").into());
        }
    };
    if grant.client_id != client.client_id {
        return Err(invalid(ErrorCode::InvalidGrant, "code was issued to another client").into());
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(invalid(
            ErrorCode::InvalidGrant,
            "redirect_uri differs from the authorization request's",
        )
        .into());
    }
    match (&grant.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (Some(_), _) => {
            return Err(invalid(
                ErrorCode::InvalidGrant,
                "code_verifier does not match the code_challenge",
            )
            .into())
        }
        (None, Some(_)) => {
            return Err(invalid(ErrorCode::InvalidGrant, "code_verifier sent but no code_challenge was").into())
        }
        (None, None) => {}
    }
    if let Some(bound) = &grant.dpop_jkt {
        if proof
            .as_ref()
            .is_none_or(|p| !crate::ids::constant_time_eq(&p.jkt, bound))
        {
            return Err(super::dpop_proof::refused(
                &state,
                ErrorCode::InvalidDpopProof,
                "the code is bound to another DPoP key",
                false,
            )
            .into());
        }
    }

    let now = state.now();
    let access_token = AccessToken::generate();
    let at_ttl = state.config.access_token_ttl_secs;
    let jkt = proof.map(|p| p.jkt);
    let access = AccessGrant {
        client_id: client.client_id.clone(),
        sub: grant.sub.clone(),
        userinfo: grant.userinfo.clone(),
        jkt: jkt.clone(),
    };
    // The token's grant and the used code's marker, in one round trip.
    let (at_key, used_key) = (key::access_token(&access_token), key::used_code(&code));
    let used_ttl = Duration::from_secs(state.config.code_ttl_secs.max(at_ttl));
    let marker = hash(access_token.as_str()).into_bytes();
    let at_value = state.store.sealed(&at_key, &access)?;
    let entries = vec![
        (at_key.as_str(), at_value, Duration::from_secs(at_ttl)),
        (used_key.as_str(), marker, used_ttl),
    ];
    state.store.put_many(entries).await?;

    let claims = IdTokenClaims {
        iss: state.config.issuer.clone(),
        sub: grant.sub.clone(),
        aud: client.client_id.clone(),
        iat: now,
        exp: now + state.config.id_token_ttl_secs as i64,
        nonce: grant.nonce.clone(),
        vot: grant.vector.credential_vot().to_string(),
        vtm: state.config.url("/trustmark"),
        sid: grant.sid.clone(),
        auth_time: grant.auth_time,
        at_hash: at_hash(access_token.as_str()),
    };
    let forced = state.sandbox.as_ref().and_then(|s| s.forced(&client.client_id));
    let id_token = match &forced {
        Some(forced) => crate::sandbox::id_token(
            forced,
            claims,
            &state.id_token_key(client),
            state.keys.rings().signing_rs256.active(now),
        ),
        None => state.id_token_key(client).sign("JWT", &claims),
    }
    .map_err(|e| invalid(ErrorCode::ServerError, &format!("could not sign: {e}")))?;
    audit::note(
        state.audit.as_ref(),
        now,
        Fact::CodeRedeemed {
            client_id: client.client_id.clone(),
            sub: grant.sub,
            id_token_sha256: hash(&id_token),
            access_token_sha256: hash(access_token.as_str()),
        },
    );
    let response = no_store(Json(TokenResponse {
        access_token: access_token.as_str().to_string(),
        token_type: if jkt.is_some() { "DPoP" } else { "Bearer" }.into(),
        expires_in: at_ttl,
        id_token,
    }));
    Ok(if jkt.is_some() {
        super::dpop_proof::with_nonce(&state, response)
    } else {
        response
    })
}
