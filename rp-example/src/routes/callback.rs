//! `GET /callback`: the authentication response (OIDC Core 1.0 §3.1.2.5–§3.1.3.7, RFC 9207), the token
//! request with `private_key_jwt` (§9) and PKCE, ID token validation, userinfo (§5.3), and the identity
//! credential in it (INTERFACE.md §5, [`crate::core_identity`]).

use axum::{
    extract::{Query, State},
    http::header,
    response::Response,
};
use axum_extra::extract::cookie::CookieJar;
use openidconnect::{
    core::{CoreJsonWebKey, CoreJwsSigningAlgorithm},
    AccessToken, AccessTokenHash, AuthorizationCode, ClaimsVerificationError, IdTokenVerifier, OAuth2TokenResponse,
    RequestTokenError, TokenResponse,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    assertion::{client_assertion, CLIENT_ASSERTION_TYPE},
    core_identity::{self, CoreIdentity, Expected, CORE_IDENTITY_CLAIM, RETURN_CODE_CLAIM, SKEW_SECS},
    did::did_url,
    error::RpError,
    oidc::{error_chain, HubTokenResponse, Level, Provider},
    store::{host_cookie, remove_cookie, PendingLogin, Session, LOGIN_COOKIE, SESSION_COOKIE},
    AppState,
};

/// The authorization response, success or error.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Finishes the sign-in and sends the person to `/account`, or shows what went wrong. Either way the login
/// cookie is cleared: a login is single use.
pub async fn get(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> (CookieJar, Result<Response, RpError>) {
    let now = state.clock.now();
    let pending = jar.get(LOGIN_COOKIE).and_then(|c| state.logins.take(c.value(), now));
    // The callback is part of the sign-in's trace (its token and userinfo calls carry it to the hub).
    if let Some(trace) = pending.as_ref().and_then(|p| p.trace.as_deref()) {
        serving::request::continue_trace(trace);
    }
    let jar = remove_cookie(jar, LOGIN_COOKIE);
    match sign_in(&state, pending, query, now).await {
        Ok(session) => {
            let id = state.sessions.insert(session, now);
            (jar.add(host_cookie(SESSION_COOKIE, id)), Ok(super::found("/account")))
        }
        Err(error) => (jar, Err(error)),
    }
}

/// The checks on the authorization response, then [`finish`].
async fn sign_in(
    state: &AppState,
    pending: Option<PendingLogin>,
    query: CallbackQuery,
    now: u64,
) -> Result<Session, RpError> {
    if let Some(code) = query.error {
        return Err(RpError::Authorization {
            code,
            description: query.error_description,
        });
    }
    let pending = pending.ok_or(RpError::LoginNotFound)?;
    if query.state.as_deref() != Some(pending.state.secret().as_str()) {
        return Err(RpError::StateMismatch);
    }
    let code = query.code.ok_or(RpError::MissingCode)?;
    let provider = state.provider.get(&state.config, &state.http, now).await?;
    match &query.iss {
        Some(iss) if *iss != provider.issuer => return Err(RpError::IssuerMismatch(query.iss)),
        None if provider.iss_parameter_supported => return Err(RpError::IssuerMismatch(None)),
        _ => {}
    }
    finish(state, provider, pending, code, now).await
}

/// The ID token verifier: ES256 only (this service's registered `id_token_signing_alg`), whatever else
/// the hub's JWKS holds, and never issued in the future (OIDC Core §3.1.3.7 steps 7 and 10).
fn verifier_of(provider: &Provider, now: u64) -> IdTokenVerifier<'_, CoreJsonWebKey> {
    provider
        .client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256])
        .set_issue_time_verifier_fn(move |iat| {
            if iat.timestamp() > (now + SKEW_SECS) as i64 {
                Err(format!("issued in the future ({iat})"))
            } else {
                Ok(())
            }
        })
}

/// Code exchange, ID token validation and userinfo: the session to create.
async fn finish(
    state: &AppState,
    provider: std::sync::Arc<Provider>,
    pending: PendingLogin,
    code: String,
    now: u64,
) -> Result<Session, RpError> {
    let assertion = client_assertion(&state.key, &state.config.client_id, &provider.token_endpoint, now)
        .map_err(|e| RpError::Internal(format!("client assertion: {e}")))?;
    let tokens: HubTokenResponse = provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| RpError::TokenRequest(e.to_string()))?
        .set_pkce_verifier(pending.pkce_verifier)
        .add_extra_param("client_assertion_type", CLIENT_ASSERTION_TYPE)
        .add_extra_param("client_assertion", assertion)
        .request_async(&crate::traced::client(&state.http))
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(response) => RpError::TokenRequest(match response.error_description() {
                Some(description) => format!("{}: {description}", response.error()),
                None => response.error().to_string(),
            }),
            other => RpError::TokenRequest(error_chain(&other)),
        })?;

    let id_token = tokens
        .id_token()
        .ok_or_else(|| RpError::InvalidIdToken("no id_token in the token response".into()))?;
    let mut provider = provider;
    let first = id_token.claims(&verifier_of(&provider, now), &pending.nonce).cloned();
    let claims = match first {
        Ok(claims) => claims,
        Err(ClaimsVerificationError::SignatureVerification(_)) => {
            // Perhaps a key published since discovery was read (a rotation): read it again, once.
            state.provider.invalidate().await;
            provider = state.provider.get(&state.config, &state.http, now).await?;
            id_token
                .claims(&verifier_of(&provider, now), &pending.nonce)
                .cloned()
                .map_err(|e| RpError::InvalidIdToken(e.to_string()))?
        }
        Err(error) => return Err(RpError::InvalidIdToken(error.to_string())),
    };
    let verifier = verifier_of(&provider, now);
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|e| RpError::InvalidIdToken(e.to_string()))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| RpError::InvalidIdToken(e.to_string()))?;
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .map_err(|e| RpError::InvalidIdToken(e.to_string()))?;
        if actual != *expected {
            return Err(RpError::InvalidIdToken(
                "at_hash does not match the access token".into(),
            ));
        }
    }
    let extra = claims.additional_claims();
    let vot = extra.vot.clone().filter(|v| !v.is_empty()).ok_or(RpError::MissingVot)?;
    // Both levels this service asks for sign in with two factors: anything else is not what it asked.
    if vot != pending.level.credential() {
        return Err(RpError::InvalidIdToken(format!(
            "vot {vot} is not the credential level asked for ({})",
            pending.level.credential()
        )));
    }
    let sub = claims.subject().as_str().to_string();
    let userinfo = userinfo(state, &provider, tokens.access_token(), &sub).await?;
    let identity = identity(state, &userinfo, pending.level, &sub, now).await?;
    tracing::info!(
        level = pending.level.as_str(),
        %vot,
        identity = identity.as_ref().map(|i| i.vot.as_str()),
        "signed in"
    );
    Ok(Session::new(
        sub,
        vot,
        extra.vtm.clone(),
        extra.sid.clone(),
        id_token.to_string(),
        userinfo,
        now,
    )
    .with_identity(identity))
}

/// The identity credential of `userinfo`, validated against the identity issuer's DID document; `None` when
/// there is none. An identity journey must end with a credential at the level asked for, or a return code.
async fn identity(
    state: &AppState,
    userinfo: &Map<String, Value>,
    level: Level,
    sub: &str,
    now: u64,
) -> Result<Option<CoreIdentity>, RpError> {
    let Some(claim) = userinfo.get(CORE_IDENTITY_CLAIM) else {
        if level.identity_level().is_some() && !userinfo.contains_key(RETURN_CODE_CLAIM) {
            return Err(RpError::MissingCoreIdentity);
        }
        return Ok(None);
    };
    let jwt = claim
        .as_str()
        .ok_or_else(|| RpError::InvalidCoreIdentity("the claim is not a string".into()))?;
    let issuer = state.config.identity_issuer();
    let kid = core_identity::kid_of(jwt);
    let did = state
        .did
        .for_kid(&state.http, &did_url(issuer), kid.as_deref(), now)
        .await?;
    let expected = Expected {
        issuer,
        client_id: &state.config.client_id,
        sub,
    };
    let identity =
        core_identity::validate(jwt, &did, &expected, now).map_err(|e| RpError::InvalidCoreIdentity(e.to_string()))?;
    if let Some(asked) = level.identity_level() {
        if identity.level() < asked {
            return Err(RpError::InvalidCoreIdentity(format!(
                "vot {} is below the level asked for ({})",
                identity.vot,
                level.as_str()
            )));
        }
    }
    Ok(Some(identity))
}

/// `GET` userinfo with the Bearer token, read as a plain JSON object so that every claim (the One Login
/// identity claims included) comes through as sent; its `sub` must be the ID token's (§5.3.2).
async fn userinfo(
    state: &AppState,
    provider: &Provider,
    token: &AccessToken,
    sub: &str,
) -> Result<Map<String, Value>, RpError> {
    let Some(endpoint) = &provider.userinfo_endpoint else {
        return Ok(Map::new());
    };
    let (span, headers) = serving::request::outbound("GET", "hub");
    let mut request = state
        .http
        .get(endpoint)
        .bearer_auth(token.secret())
        .header(header::ACCEPT, "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = tracing::Instrument::instrument(request.send(), span)
        .await
        .map_err(|e| RpError::Userinfo(error_chain(&e)))?;
    if !response.status().is_success() {
        let status = response.status();
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" ({v})"))
            .unwrap_or_default();
        return Err(RpError::Userinfo(format!("HTTP {status}{challenge}")));
    }
    let claims: Map<String, Value> = response
        .json()
        .await
        .map_err(|e| RpError::Userinfo(format!("not a JSON object: {}", error_chain(&e))))?;
    if claims.get("sub").and_then(Value::as_str) != Some(sub) {
        return Err(RpError::Userinfo("sub differs from the ID token's".into()));
    }
    Ok(claims)
}
