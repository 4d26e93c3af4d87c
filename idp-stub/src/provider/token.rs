//! `POST /{p}/token`: the authorization code grant (RFC 6749 §4.1.3, OIDC Core 1.0 §3.1.3) with
//! `private_key_jwt` client authentication and PKCE S256 (RFC 7636 §4.6). The ID token is deliberately
//! broken when the person picked a broken outcome.

use crate::{
    outcome::Outcome,
    provider::client_auth,
    state::{lock, random_id, AccessGrant, IssuedCode, Provider, TOKEN_TTL},
    AppState, Error,
};
use axum::{
    extract::{rejection::FormRejection, Path, State},
    http::header,
    response::{IntoResponse, Response},
    Form, Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The token request form.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(code_verifier)) == code_challenge`, with the verifier's length and
/// characters as §4.1 demands.
pub fn pkce_matches(code_verifier: &str, code_challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&code_verifier.len())
        && code_verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
    computed.as_bytes().ct_eq(code_challenge.as_bytes()).into()
}

/// The ID token's claims for an issued code, before any breakage.
pub fn id_token_claims(provider: &Provider, code: &IssuedCode, now: u64) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(provider.issuer));
    claims.insert("sub".into(), json!(code.persona.subject(&provider.config.id)));
    claims.insert("aud".into(), json!(code.client_id));
    claims.insert("exp".into(), json!(now + TOKEN_TTL));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(code.auth_time));
    claims.insert("nonce".into(), json!(code.nonce));
    claims.insert("acr".into(), json!(code.acr.as_str()));
    match code.outcome {
        Outcome::Pending => {
            claims.insert("identity_outcome".into(), json!("pending"));
        }
        Outcome::FraudSuspected => {
            claims.insert("identity_outcome".into(), json!("fraud_suspected"));
        }
        _ => {}
    }
    claims.extend(code.persona.standard_claims(&code.scopes));
    claims
}

/// Applies the broken outcome's fault to the claims (the signature faults are applied by [`sign_id_token`]).
pub fn break_claims(outcome: Outcome, claims: &mut Map<String, Value>, now: u64) {
    match outcome {
        Outcome::WrongIss => {
            claims.insert("iss".into(), json!("https://impostor.example/not-this-provider"));
        }
        Outcome::WrongAud => {
            claims.insert("aud".into(), json!("some-other-client"));
        }
        Outcome::Expired => {
            claims.insert("iat".into(), json!(now.saturating_sub(900)));
            claims.insert("exp".into(), json!(now.saturating_sub(600)));
        }
        Outcome::NotYetValid => {
            claims.insert("iat".into(), json!(now + 600));
            claims.insert("nbf".into(), json!(now + 600));
            claims.insert("exp".into(), json!(now + 600 + TOKEN_TTL));
        }
        Outcome::WrongNonce => {
            claims.insert("nonce".into(), json!(random_id()));
        }
        Outcome::WrongAcr => {
            claims.insert("acr".into(), json!("urn:stub:unknown-level"));
        }
        Outcome::MissingSub => {
            claims.remove("sub");
        }
        _ => {}
    }
}

/// Signs the ID token with the provider's key, or breaks the signature as the outcome says.
pub fn sign_id_token(provider: &Provider, outcome: Outcome, claims: &Map<String, Value>) -> Result<String, Error> {
    match outcome {
        Outcome::BadSignature => {
            let throwaway = keys::SigningKey::generate()?;
            Ok(throwaway.sign_jwt_with_kid("JWT", provider.key.kid(), claims)?)
        }
        Outcome::AlgNone => {
            let header = json!({"alg": "none", "typ": "JWT", "kid": provider.key.kid()});
            let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string().as_bytes());
            Ok(format!(
                "{}.{}.",
                encode(&header),
                encode(&Value::Object(claims.clone()))
            ))
        }
        _ => Ok(provider.key.sign_jwt("JWT", claims)?),
    }
}

/// Exchanges a code for tokens.
pub async fn post(
    State(state): State<AppState>,
    Path(provider_id): Path<String>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, Error> {
    let provider = state.provider(&provider_id)?;
    let Form(form) = form.map_err(|e| Error::InvalidRequest(format!("the request body is not a form: {e}")))?;
    if form.grant_type.as_deref() != Some("authorization_code") {
        return Err(Error::UnsupportedGrantType);
    }
    let client_id = client_auth::authenticate(
        &state,
        provider,
        form.client_id.as_deref(),
        form.client_assertion_type.as_deref(),
        form.client_assertion.as_deref(),
    )
    .await?;

    let code_value = form
        .code
        .as_deref()
        .ok_or_else(|| Error::InvalidRequest("code is required".into()))?;
    let now = state.now();
    // Single use: the code is gone whatever the outcome of the checks below.
    let code = lock(&state.inner.codes).remove(code_value);
    let invalid = |reason: &str| {
        tracing::info!(provider = provider_id, reason, "token request refused");
        Error::InvalidGrant(reason.to_string())
    };
    let code = code.ok_or_else(|| invalid("the code is unknown or was already used"))?;
    if code.provider_id != provider_id || code.client_id != client_id {
        return Err(invalid("the code was issued to another client or provider"));
    }
    if code.expires_at <= now {
        return Err(invalid("the code has expired"));
    }
    if form.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
        return Err(invalid("redirect_uri does not match the authorization request"));
    }
    let verifier = form.code_verifier.as_deref().unwrap_or("");
    if !pkce_matches(verifier, &code.code_challenge) {
        return Err(invalid("code_verifier does not match the code_challenge"));
    }

    let mut claims = id_token_claims(provider, &code, now);
    break_claims(code.outcome, &mut claims, now);
    let id_token = sign_id_token(provider, code.outcome, &claims)?;
    let access_token = random_id();
    {
        let mut tokens = lock(&state.inner.tokens);
        static SWEPT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        if crate::state::sweep_due(&SWEPT, now) {
            tokens.retain(|_, g| g.expires_at > now);
        }
        tokens.insert(
            access_token.clone(),
            AccessGrant {
                provider_id: provider_id.clone(),
                persona: code.persona,
                scopes: code.scopes.clone(),
                expires_at: now + TOKEN_TTL,
            },
        );
    }
    tracing::info!(provider = provider_id, outcome = code.outcome.id(), "tokens issued");
    Ok((
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL,
            "id_token": id_token,
        })),
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn pkce_table() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let cases = [
            (verifier, challenge, true),
            (verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", false),
            ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", challenge, false),
            ("short", challenge, false),
            ("", challenge, false),
            (verifier, verifier, false), // "plain" is not accepted
        ];
        for (v, c, expected) in cases {
            assert_eq!(pkce_matches(v, c), expected, "{v} / {c}");
        }
    }
}
