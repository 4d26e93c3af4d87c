//! Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523 §3, OIDC Core §9,
//! INTERFACE.md §3): `private_key_jwt` by default, `client_secret_post` (and `client_secret_basic` for
//! `oidc-basic` clients) against an Argon2id hash.
//!
//! [`check_assertion_claims`] is the pure rule set for a client assertion; signature and `jti` replay
//! checks need keys and the store and live in [`authenticate`].

use crate::{
    error::{ErrorCode, HubError},
    registry::{clients::TokenAuthMethod, Client},
    state::AppState,
};
use argon2::{password_hash::PasswordHash, Argon2, PasswordVerifier};
use serde_json::{Map, Value};
use std::time::Duration;

/// The only client assertion type (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest life a client assertion may claim (INTERFACE.md §3: at most 60 minutes).
pub const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// Clock skew tolerated on `iat`/`nbf`, seconds.
pub const SKEW: i64 = 30;

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
    HubError::Json {
        status: axum::http::StatusCode::BAD_REQUEST,
        code: ErrorCode::InvalidClient,
        description: why.to_string(),
        basic,
    }
}

/// A client assertion's claims that passed [`check_assertion_claims`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAssertion {
    pub jti: String,
    pub exp: i64,
}

/// The claim rules for a client assertion: `iss` = `sub` = client id, `aud` names the token endpoint or
/// the issuer (a string or an array), `exp` in the future but at most 60 minutes away, `iat` and `nbf` not
/// in the future (30 s skew), and a `jti`.
pub fn check_assertion_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    token_endpoint: &str,
    issuer: &str,
    now: i64,
) -> Result<CheckedAssertion, &'static str> {
    let s = |n: &str| claims.get(n).and_then(Value::as_str);
    let i = |n: &str| claims.get(n).and_then(Value::as_i64);
    if s("iss") != Some(client_id) {
        return Err("client assertion iss must be the client_id");
    }
    if s("sub") != Some(client_id) {
        return Err("client assertion sub must be the client_id");
    }
    let aud_ok = |a: &str| a == token_endpoint || a == issuer || a.trim_end_matches('/') == issuer;
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => aud_ok(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(aud_ok),
        _ => false,
    };
    if !aud {
        return Err("client assertion aud must be the token endpoint");
    }
    let exp = i("exp").ok_or("client assertion exp is required")?;
    if exp <= now {
        return Err("client assertion has expired");
    }
    if exp > now + MAX_ASSERTION_LIFETIME + SKEW {
        return Err("client assertion exp is more than 60 minutes away");
    }
    if i("iat").is_some_and(|iat| iat > now + SKEW) {
        return Err("client assertion iat is in the future");
    }
    if i("nbf").is_some_and(|nbf| nbf > now + SKEW) {
        return Err("client assertion is not yet valid");
    }
    let jti = s("jti")
        .filter(|j| !j.is_empty())
        .ok_or("client assertion jti is required")?;
    Ok(CheckedAssertion {
        jti: jti.to_string(),
        exp,
    })
}

/// Verifies a JWT signed by a client (a client assertion or a request object) with the client's registered
/// keys: its `jwks_uri` (cached, refetched on an unknown `kid`) or its PEM `public_key`, `alg` pinned per key.
pub async fn verify_client_jwt(state: &AppState, client: &Client, token: &str) -> Result<Map<String, Value>, String> {
    let verified = match (&client.jwks_uri, &client.public_key) {
        (Some(uri), _) => state.client_keys.verify(uri, token).await.map_err(|e| e.to_string()),
        (None, Some(pem)) => keys::VerifyingKey::from_pem(pem.as_bytes(), None)
            .and_then(|k| keys::VerifyingKeys::new(vec![k]).verify(token))
            .map_err(|e| e.to_string()),
        (None, None) => Err("no key registered".to_string()),
    };
    verified.map(|(_, claims)| claims)
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
    let clients = state.clients();
    let client = named
        .as_deref()
        .and_then(|id| clients.get(id))
        .ok_or_else(|| invalid_client(basic, "unknown client"))?;
    if !client.active {
        return Err(HubError::json(ErrorCode::UnauthorizedClient, "client is not active"));
    }
    match (presented, client.token_endpoint_auth_method) {
        (
            Presented::Assertion {
                assertion_type,
                assertion,
                ..
            },
            TokenAuthMethod::PrivateKeyJwt,
        ) => {
            if assertion_type.as_deref() != Some(JWT_BEARER) {
                return Err(invalid_client(false, "client_assertion_type must be jwt-bearer"));
            }
            let claims = verify_client_jwt(state, client, assertion).await.map_err(|e| {
                tracing::info!(client_id = %client.client_id, error = %e, "client assertion refused");
                invalid_client(false, "client assertion signature is invalid")
            })?;
            let now = state.now();
            let checked = check_assertion_claims(
                &claims,
                &client.client_id,
                &state.config.url("/token"),
                &state.config.issuer,
                now,
            )
            .map_err(|why| invalid_client(false, why))?;
            let ttl = Duration::from_secs((checked.exp - now + SKEW).max(1) as u64);
            let key = format!("jti:{}:{}", client.client_id, crate::ids::hash(&checked.jti));
            match state.store.put_if_absent(&key, vec![1], ttl).await {
                Ok(true) => Ok(client.clone()),
                Ok(false) => Err(invalid_client(false, "client assertion jti has been used before")),
                Err(e) => {
                    tracing::warn!(error = %e, "store unavailable");
                    Err(HubError::json(ErrorCode::TemporarilyUnavailable, "try again later"))
                }
            }
        }
        (Presented::SecretPost { secret, .. }, TokenAuthMethod::ClientSecretPost)
        | (Presented::SecretBasic { secret, .. }, TokenAuthMethod::ClientSecretBasic) => {
            let hash = client.client_secret_hash.as_deref().unwrap_or_default();
            let ok = PasswordHash::new(hash)
                .is_ok_and(|parsed| Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok());
            if ok {
                Ok(client.clone())
            } else {
                Err(invalid_client(basic, "client authentication failed"))
            }
        }
        (Presented::None { .. }, _) => Err(invalid_client(basic, "client authentication is required")),
        _ => Err(invalid_client(
            basic,
            "client authentication method is not the registered one",
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const EP: &str = "https://hub.example/token";
    const ISS: &str = "https://hub.example";

    fn good() -> Map<String, Value> {
        json!({"iss": "c", "sub": "c", "aud": EP, "exp": 1300, "iat": 1000, "jti": "j1"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn assertion_claims_table() {
        let cases: Vec<(&str, Value, Value, Result<(), &str>)> = vec![
            ("good", json!("aud"), json!(EP), Ok(())),
            ("aud issuer", json!("aud"), json!(ISS), Ok(())),
            (
                "aud issuer with slash",
                json!("aud"),
                json!("https://hub.example/"),
                Ok(()),
            ),
            ("aud array", json!("aud"), json!([ISS, "x"]), Ok(())),
            ("aud other", json!("aud"), json!("https://other/token"), Err("aud")),
            ("iss other", json!("iss"), json!("d"), Err("iss")),
            ("sub other", json!("sub"), json!("d"), Err("sub")),
            ("expired", json!("exp"), json!(1000), Err("expired")),
            ("too long", json!("exp"), json!(1000 + 3600 + 31), Err("60 minutes")),
            ("iat future", json!("iat"), json!(1031), Err("iat")),
            ("nbf future", json!("nbf"), json!(1100), Err("not yet valid")),
            ("no jti", json!("jti"), json!(""), Err("jti")),
        ];
        for (name, field, value, want) in cases {
            let mut c = good();
            c.insert(field.as_str().unwrap().to_string(), value);
            let got = check_assertion_claims(&c, "c", EP, ISS, 1000).map(|_| ());
            match want {
                Ok(()) => assert!(got.is_ok(), "{name}: {got:?}"),
                Err(fragment) => assert!(got.err().unwrap_or_default().contains(fragment), "{name}"),
            }
        }
        let mut c = good();
        c.remove("exp");
        assert!(check_assertion_claims(&c, "c", EP, ISS, 1000).is_err());
    }
}
