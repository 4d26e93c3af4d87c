//! Client authentication at the token endpoint with `private_key_jwt` (OIDC Core 1.0 §9, RFC 7523 §3):
//! signature by the client's registered keys, `iss` = `sub` = client id, `aud` naming this provider,
//! a short future `exp`, and a `jti` never seen before.

use crate::{
    config::ClientConfig,
    state::{lock, Provider},
    AppState, Error,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The only accepted `client_assertion_type`.
pub const ASSERTION_TYPE: &str = keys::client_assertion::JWT_BEARER;

/// Checks a verified assertion's claims for `client_id` at the provider with `issuer` and
/// `token_endpoint`: the federation's one rule set ([`keys::client_assertion::check`]).
pub fn check_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    issuer: &str,
    token_endpoint: &str,
    now: u64,
) -> Result<keys::client_assertion::Checked, String> {
    let expected = keys::client_assertion::Expected {
        client_id,
        audiences: &[token_endpoint, issuer],
        now: now as i64,
    };
    keys::client_assertion::check(claims, &expected).map_err(str::to_string)
}

/// Keys from a registered PEM; an RSA key may sign with RS256 or PS256.
fn pem_keys(pem: &str) -> Result<keys::VerifyingKeys, keys::KeyError> {
    let default = keys::VerifyingKey::from_pem(pem.as_bytes(), None)?;
    let mut list = Vec::new();
    if default.alg() == "RS256" {
        list.push(keys::VerifyingKey::from_pem(pem.as_bytes(), Some("PS256"))?);
    }
    list.push(default);
    Ok(keys::VerifyingKeys::new(list))
}

async fn fetch_jwks(state: &AppState, uri: &str) -> Result<keys::VerifyingKeys, String> {
    let host = url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let (span, headers) = serving::request::outbound("GET", &host);
    let mut request = state.inner.http.get(uri);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = tracing::Instrument::instrument(request.send(), span)
        .await
        .map_err(|e| format!("cannot fetch {uri}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{uri} answered {}", response.status()));
    }
    let doc: Value = response.json().await.map_err(|e| format!("{uri} is not JSON: {e}"))?;
    keys::VerifyingKeys::from_jwks(&doc).map_err(|e| format!("{uri}: {e}"))
}

/// The client's keys: its PEM, or its JWKS from cache, fetched again once when `kid` is unknown.
async fn client_keys(
    state: &AppState,
    client: &ClientConfig,
    kid: Option<&str>,
) -> Result<Arc<keys::VerifyingKeys>, Error> {
    if let Some(pem) = &client.public_key_pem {
        return pem_keys(pem)
            .map(Arc::new)
            .map_err(|e| Error::InvalidClient(format!("client key unusable: {e}")));
    }
    let uri = client
        .jwks_uri
        .as_deref()
        .ok_or_else(|| Error::InvalidClient("client has no keys".into()))?;
    let cached = lock(&state.inner.client_keys).get(&client.client_id).cloned();
    if let Some(keys) = cached {
        if kid.is_none_or(|k| keys.has_kid(k)) {
            return Ok(keys);
        }
    }
    let fetched = fetch_jwks(state, uri).await.map_err(|e| {
        tracing::warn!(client = client.client_id, error = %e, "client JWKS fetch failed");
        Error::InvalidClient("the client's keys could not be fetched".into())
    })?;
    let fetched = Arc::new(fetched);
    lock(&state.inner.client_keys).insert(client.client_id.clone(), fetched.clone());
    Ok(fetched)
}

/// Authenticates the client of a token request; returns its id.
pub async fn authenticate(
    state: &AppState,
    provider: &Provider,
    client_id_param: Option<&str>,
    assertion_type: Option<&str>,
    assertion: Option<&str>,
) -> Result<String, Error> {
    let fail = |reason: &str| {
        tracing::info!(provider = provider.config.id, reason, "client authentication failed");
        Error::InvalidClient("client authentication failed".into())
    };
    if assertion_type != Some(ASSERTION_TYPE) {
        return Err(fail("client_assertion_type missing or not jwt-bearer"));
    }
    let assertion = assertion
        .filter(|a| !a.is_empty())
        .ok_or_else(|| fail("client_assertion missing"))?;
    let peeked = keys::peek_claims(assertion).map_err(|_| fail("client_assertion malformed"))?;
    let claimed = peeked
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("client_assertion has no iss"))?;
    if client_id_param.is_some_and(|c| c != claimed) {
        return Err(fail("client_id differs from the assertion's iss"));
    }
    let client = state.client(claimed).ok_or_else(|| fail("unknown client"))?.clone();
    let header = keys::decode_header(assertion).map_err(|_| fail("client_assertion header malformed"))?;
    let keys = client_keys(state, &client, header.kid.as_deref()).await?;
    let (_, claims) = keys.verify(assertion).map_err(|e| fail(&format!("signature: {e}")))?;
    let now = state.now();
    let checked = check_claims(
        &claims,
        &client.client_id,
        &provider.issuer,
        &provider.token_endpoint(),
        now,
    )
    .map_err(|e| fail(&e))?;
    let mut seen = lock(&state.inner.seen_jtis);
    static SWEPT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if crate::state::sweep_due(&SWEPT, now) {
        seen.retain(|_, exp| *exp > now);
    }
    if seen
        .insert((client.client_id.clone(), checked.jti), checked.exp.max(0) as u64)
        .is_some()
    {
        return Err(fail("jti replayed"));
    }
    Ok(client.client_id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const ISS: &str = "http://stub/a";
    const TOKEN: &str = "http://stub/a/token";

    fn good() -> Map<String, Value> {
        json!({"iss": "hub", "sub": "hub", "aud": TOKEN, "exp": NOW + 60, "iat": NOW, "jti": "j1"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn claim_checks_follow_the_federation_rules() {
        let ok = check_claims(&good(), "hub", ISS, TOKEN, NOW).unwrap();
        assert_eq!(ok.jti, "j1");
        let cases: &[(&str, Value, Option<&str>)] = &[
            ("aud", json!(ISS), None),
            ("aud", json!(["other", TOKEN]), None),
            ("aud", json!("http://stub/b/token"), Some("aud")),
            ("iss", json!("someone"), Some("iss")),
            ("exp", json!(NOW), Some("expired")),
            ("iat", json!(NOW + 600), Some("iat")),
            ("jti", json!(""), Some("jti")),
        ];
        for (name, value, expected) in cases {
            let mut claims = good();
            claims.insert(name.to_string(), value.clone());
            match (check_claims(&claims, "hub", ISS, TOKEN, NOW), expected) {
                (Ok(_), None) => {}
                (Err(e), Some(part)) => assert!(e.contains(part), "{name}={value}: {e}"),
                (got, _) => panic!("{name}={value}: unexpected {got:?}"),
            }
        }
    }
}
