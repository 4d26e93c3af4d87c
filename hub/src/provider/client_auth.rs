//! Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523 §3, OIDC Core §9,
//! INTERFACE.md §3): `private_key_jwt` by default, `client_secret_post` (and `client_secret_basic` for
//! `oidc-basic` clients) against an Argon2id hash.
//!
//! The claim rules of a client assertion live once, in [`keys::client_assertion`], shared with idp-stub;
//! signature and `jti` replay checks need keys and the store and live in [`authenticate`].

use crate::{
    error::HubError,
    oauth::ErrorCode,
    registry::{clients::TokenAuthMethod, Client},
    state::AppState,
    store,
};
use argon2::{password_hash::PasswordHash, Argon2, PasswordVerifier};
use keys::client_assertion::{self, JWT_BEARER};
use serde_json::{Map, Value};
use std::time::Duration;

/// How the request tried to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    Assertion {
        client_id: Option<String>,
        assertion_type: Option<String>,
        assertion: String,
    },
    SecretPost {
        client_id: String,
        secret: String,
    },
    SecretBasic {
        client_id: String,
        secret: String,
    },
    None {
        client_id: Option<String>,
    },
}

impl Presented {
    /// Whether the client tried HTTP Basic (then `invalid_client` is a 401 with `WWW-Authenticate`).
    pub fn is_basic(&self) -> bool {
        matches!(self, Presented::SecretBasic { .. })
    }
}

fn invalid_client(basic: bool, why: &str) -> HubError {
    HubError::InvalidClient {
        description: why.to_string(),
        basic,
    }
}

/// What a client signs, each JWT for one purpose: a client assertion or a request object. A token's
/// `typ`, when present, must be one its purpose allows (RFC 8725 §3.11): an ID token, a logout token or a
/// request object cannot stand in for a client assertion, nor the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// RFC 7523 client authentication.
    ClientAssertion,
    /// RFC 9101 request object.
    RequestObject,
}

impl Purpose {
    fn allows(self, typ: Option<&str>) -> bool {
        let typ = typ.map(str::to_ascii_lowercase);
        matches!(
            (self, typ.as_deref()),
            (_, None | Some("jwt"))
                | (Purpose::ClientAssertion, Some("client-authentication+jwt"))
                | (Purpose::RequestObject, Some("oauth-authz-req+jwt"))
        )
    }
}

/// Verifies a JWT signed by a client (a client assertion or a request object) with the client's registered
/// keys: its `jwks_uri` (cached, refetched on an unknown `kid`) or its PEM `public_key`, `alg` pinned per key,
/// `typ` fitting its purpose.
pub async fn verify_client_jwt(
    state: &AppState,
    client: &Client,
    token: &str,
    purpose: Purpose,
) -> Result<Map<String, Value>, String> {
    let verified = match (&client.jwks_uri, &client.public_key) {
        (Some(uri), _) => state.client_keys.verify(uri, token).await.map_err(|e| e.to_string()),
        (None, Some(pem)) => state.client_keys.verify_pem(pem, token).map_err(|e| e.to_string()),
        (None, None) => Err("no key registered".to_string()),
    };
    let (header, claims) = verified?;
    if !client.accepted_algs().contains(&header.alg.as_str()) {
        return Err(format!("alg {} is not accepted for this client", header.alg));
    }
    if !purpose.allows(header.typ.as_deref()) {
        return Err(format!("typ {:?} is not a {purpose:?}", header.typ.unwrap_or_default()));
    }
    Ok(claims)
}

/// Work done for a client that is not registered, as much as for one that is, so the answer's timing does
/// not tell who is registered.
fn as_if_registered(presented: &Presented) {
    static DUMMY_HASH: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| keys::hash_secret("not-a-client-secret-of-anyone").unwrap_or_default());
    static DUMMY_KEY: std::sync::LazyLock<Option<keys::VerifyingKeys>> = std::sync::LazyLock::new(|| {
        let key = keys::SigningKey::generate().ok()?;
        keys::VerifyingKeys::from_jwks(&keys::jwks([&key])).ok()
    });
    match presented {
        Presented::SecretPost { secret, .. } | Presented::SecretBasic { secret, .. } => {
            if let Ok(parsed) = PasswordHash::new(&DUMMY_HASH) {
                let _ = Argon2::default().verify_password(secret.as_bytes(), &parsed);
            }
        }
        Presented::Assertion { assertion, .. } => {
            if let Some(keys) = DUMMY_KEY.as_ref() {
                let _ = keys.verify(assertion);
            }
        }
        Presented::None { .. } => {}
    }
}

/// Authenticates the client of a token request, returning its registration (a copy: the registry may be
/// reloaded meanwhile).
pub async fn authenticate(state: &AppState, presented: &Presented) -> Result<Client, HubError> {
    let basic = presented.is_basic();
    let named = match presented {
        Presented::Assertion {
            client_id, assertion, ..
        } => client_id.clone().or_else(|| {
            keys::peek_claims(assertion)
                .ok()
                .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_string))
        }),
        Presented::SecretPost { client_id, .. } | Presented::SecretBasic { client_id, .. } => Some(client_id.clone()),
        Presented::None { client_id } => client_id.clone(),
    };
    let reg = state.snapshot();
    let Some(client) = named.as_deref().and_then(|id| reg.client(id)) else {
        as_if_registered(presented);
        return Err(invalid_client(basic, "client authentication failed"));
    };
    if !client.active {
        return Err(HubError::oauth(ErrorCode::UnauthorizedClient, "client is not active"));
    }
    let method = match presented {
        Presented::Assertion { .. } => TokenAuthMethod::PrivateKeyJwt,
        Presented::SecretPost { .. } => TokenAuthMethod::ClientSecretPost,
        Presented::SecretBasic { .. } => TokenAuthMethod::ClientSecretBasic,
        Presented::None { .. } => return Err(invalid_client(basic, "client authentication is required")),
    };
    if !client.accepts_auth_method(method) {
        return Err(invalid_client(
            basic,
            "client authentication method is not the registered one",
        ));
    }
    match presented {
        Presented::Assertion {
            assertion_type,
            assertion,
            ..
        } => {
            if assertion_type.as_deref() != Some(JWT_BEARER) {
                return Err(invalid_client(false, "client_assertion_type must be jwt-bearer"));
            }
            let claims = verify_client_jwt(state, client, assertion, Purpose::ClientAssertion)
                .await
                .map_err(|e| {
                    tracing::info!(client_id = %client.client_id, error = %e, "client assertion refused");
                    invalid_client(false, "client authentication failed")
                })?;
            let now = state.now();
            let token_endpoint = state.config.url("/token");
            let par_endpoint = state.config.url("/par");
            let issuer_slash = format!("{}/", state.config.issuer);
            let audiences = [
                token_endpoint.as_str(),
                par_endpoint.as_str(),
                state.config.issuer.as_str(),
                issuer_slash.as_str(),
            ];
            let expected = client_assertion::Expected {
                client_id: client.client_id.as_str(),
                audiences: &audiences,
                now,
            };
            // FAPI 2.0 SP §5.3.2.1: the issuer, as one string, and nothing else.
            if client.assertion_audience_is_issuer_only()
                && claims.get("aud").and_then(Value::as_str) != Some(state.config.issuer.as_str())
            {
                return Err(invalid_client(
                    false,
                    "client assertion aud must be the issuer, as a string",
                ));
            }
            let checked = client_assertion::check(&claims, &expected).map_err(|why| invalid_client(false, why))?;
            let ttl = Duration::from_secs((checked.exp - now + keys::SKEW_SECS).max(1) as u64);
            if state
                .store
                .put_if_absent(&store::key::jti(&client.client_id, &checked.jti), vec![1], ttl)
                .await?
            {
                Ok(client.clone())
            } else {
                Err(invalid_client(false, "client assertion jti has been used before"))
            }
        }
        Presented::SecretPost { secret, .. } | Presented::SecretBasic { secret, .. } => {
            let hash = client.client_secret_hash.as_deref().unwrap_or_default();
            let ok = PasswordHash::new(hash)
                .is_ok_and(|parsed| Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok());
            if ok {
                Ok(client.clone())
            } else {
                Err(invalid_client(basic, "client authentication failed"))
            }
        }
        Presented::None { .. } => Err(invalid_client(basic, "client authentication is required")),
    }
}
