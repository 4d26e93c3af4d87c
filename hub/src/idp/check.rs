//! The hub's rules for a provider's answer, as pure functions (OIDC Core §3.1.2.5–6, §3.1.3.7; RFC 9207;
//! INTERFACE.md §9): the request it sends, how an error response is classified, and every check of the
//! ID token's claims. Nothing here does I/O.

use crate::{
    i18n::Lang,
    ids::pkce_challenge,
    journey::{Answer, UpstreamAttempt},
    oauth::Prompt,
    registry::Provider,
    vtr::Vector,
};
use serde_json::{Map, Value};

/// Clock skew tolerated on `iat`/`nbf`/`exp` of provider tokens, seconds.
pub const SKEW: i64 = keys::SKEW_SECS;

/// What went wrong talking to a provider. None of these ever leads to an assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    #[error("provider discovery document is invalid: {0}")]
    BadMetadata(String),
    #[error("provider token endpoint refused the code: {0}")]
    TokenRefused(String),
    #[error("provider ID token is invalid: {0}")]
    BadIdToken(String),
    #[error("provider userinfo is invalid: {0}")]
    BadUserinfo(String),
}

impl UpstreamError {
    /// The journey's view of this failure: down, or answered wrongly.
    pub fn answer(&self) -> Answer {
        match self {
            UpstreamError::Unreachable(_) => Answer::Unavailable {
                reason: self.to_string(),
            },
            _ => Answer::Invalid {
                reason: self.to_string(),
            },
        }
    }
}

/// What a provider asserted, once every check has passed.
#[derive(Clone, PartialEq)]
pub struct ProviderIdentity {
    pub sub: String,
    pub vector: Vector,
    pub auth_time: Option<i64>,
    /// Claims from the ID token and userinfo together (given_name, birthdate, email, …).
    pub claims: Map<String, Value>,
}

impl std::fmt::Debug for ProviderIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderIdentity")
            .field("vector", &self.vector)
            .finish_non_exhaustive()
    }
}

/// The hub's authorization request to a provider (OIDC Core §3.1.2.1): its own `state`, `nonce` and
/// PKCE S256, the wanted levels as `acr_values`, the person's language, `prompt=login` when the service
/// asked for it; nothing of the service.
pub fn authorization_url(
    endpoint: &str,
    provider: &Provider,
    attempt: &UpstreamAttempt,
    wanted: &[Vector],
    prompt: Option<Prompt>,
    lang: Lang,
    redirect_uri: &str,
) -> String {
    let mut params = vec![
        ("response_type", "code".to_string()),
        ("client_id", provider.client_id.clone()),
        ("redirect_uri", redirect_uri.to_string()),
        ("scope", provider.scopes.join(" ")),
        ("state", attempt.secrets.state.as_str().to_string()),
        ("nonce", attempt.secrets.nonce.clone()),
        ("code_challenge", pkce_challenge(&attempt.secrets.pkce_verifier)),
        ("code_challenge_method", "S256".to_string()),
    ];
    if provider.send_acr_values {
        let acr: Vec<String> = wanted.iter().map(|v| provider.acr_of_vector(v)).collect();
        params.push(("acr_values", acr.join(" ")));
    }
    params.push(("ui_locales", lang.code().to_string()));
    if prompt == Some(Prompt::Login) {
        params.push(("prompt", "login".to_string()));
    }
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{separator}{query}")
}

/// What a provider's error response means (INTERFACE.md §9 outcome table); `identity_outcome` is this
/// federation's extension carried with `access_denied`.
pub fn classify_error(error: &str, identity_outcome: Option<&str>) -> Answer {
    match (error, identity_outcome) {
        ("access_denied", Some("pending")) => Answer::Pending,
        ("access_denied", Some("fraud_suspected")) => Answer::FraudSuspected,
        ("access_denied" | "login_required" | "consent_required" | "interaction_required", _) => Answer::Denied,
        ("unmet_authentication_requirements", _) => Answer::LevelNotReached,
        ("temporarily_unavailable", _) => Answer::Unavailable {
            reason: "the provider answered temporarily_unavailable".into(),
        },
        _ => Answer::Invalid {
            reason: "the provider answered with an error".into(),
        },
    }
}

/// What the hub expects of one ID token.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

/// Checks a provider ID token's claims (OIDC Core §3.1.3.7), after its signature has been verified:
/// `iss`, `aud` (and `azp`), `exp`, `iat`, `nbf`, `nonce`, `sub`, and `acr` mapped to a known vector.
pub fn check_id_token(
    claims: &Map<String, Value>,
    provider: &Provider,
    expected: &Expected<'_>,
    now: i64,
) -> Result<ProviderIdentity, UpstreamError> {
    let bad = |why: &str| UpstreamError::BadIdToken(why.to_string());
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    let int_claim = |name: &str| claims.get(name).and_then(Value::as_i64);
    if str_claim("iss") != Some(expected.issuer) {
        return Err(bad("iss is not the provider's issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(bad("aud does not include the hub"));
    }
    if audiences.len() > 1 && str_claim("azp") != Some(expected.client_id) {
        return Err(bad("several audiences and azp is not the hub"));
    }
    let exp = int_claim("exp").ok_or_else(|| bad("exp missing"))?;
    if exp + SKEW <= now {
        return Err(bad("expired"));
    }
    let iat = int_claim("iat").ok_or_else(|| bad("iat missing"))?;
    if iat > now + SKEW {
        return Err(bad("issued in the future"));
    }
    if int_claim("nbf").is_some_and(|nbf| nbf > now + SKEW) {
        return Err(bad("not yet valid"));
    }
    let nonce = str_claim("nonce").ok_or_else(|| bad("nonce missing"))?;
    if !crate::ids::constant_time_eq(nonce, expected.nonce) {
        return Err(bad("nonce does not match"));
    }
    let sub = str_claim("sub")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("sub missing"))?;
    let vector = provider
        .vector_of_acr(str_claim("acr"))
        .ok_or_else(|| bad("acr is not a level this provider is registered for"))?;
    if !provider.levels.contains(&vector) && !provider.levels.iter().any(|l| l.satisfies(&vector)) {
        return Err(bad("acr is above what this provider is registered to reach"));
    }
    Ok(ProviderIdentity {
        sub: sub.to_string(),
        vector,
        auth_time: int_claim("auth_time"),
        claims: claims.clone(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider() -> Provider {
        crate::registry::ProviderRegistry::parse(
            r#"[[providers]]
            id = "p"
            name = "P"
            name_cy = "P"
            issuer = "https://idp.example"
            client_id = "hub"
            levels = ["Cl.Cm", "Cl.Cm.P2"]
            [providers.acr_map]
            "urn:p:high" = "Cl.Cm.P2""#,
        )
        .unwrap()
        .get("p")
        .cloned()
        .unwrap()
    }

    fn good() -> Map<String, Value> {
        json!({"iss": "https://idp.example", "aud": "hub", "exp": 1100, "iat": 1000, "nonce": "n1", "sub": "s1", "acr": "urn:p:high"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn classify_table() {
        let cases = [
            ("access_denied", None, Answer::Denied),
            ("access_denied", Some("pending"), Answer::Pending),
            ("access_denied", Some("fraud_suspected"), Answer::FraudSuspected),
            ("unmet_authentication_requirements", None, Answer::LevelNotReached),
            ("login_required", None, Answer::Denied),
        ];
        for (error, outcome, want) in cases {
            assert_eq!(classify_error(error, outcome), want, "{error} {outcome:?}");
        }
        assert!(matches!(
            classify_error("temporarily_unavailable", None),
            Answer::Unavailable { .. }
        ));
        for error in ["server_error", "invalid_request", "made_up"] {
            assert!(matches!(classify_error(error, None), Answer::Invalid { .. }), "{error}");
        }
    }

    #[test]
    fn id_token_checks_table() {
        let p = provider();
        let expected = Expected {
            issuer: "https://idp.example",
            client_id: "hub",
            nonce: "n1",
        };
        type Mutation = Box<dyn Fn(&mut Map<String, Value>)>;
        let cases: Vec<(&str, Mutation, Option<&str>)> = vec![
            ("good", Box::new(|_| {}), None),
            (
                "wrong iss",
                Box::new(|c| {
                    c.insert("iss".into(), json!("https://evil"));
                }),
                Some("iss"),
            ),
            (
                "wrong aud",
                Box::new(|c| {
                    c.insert("aud".into(), json!("someone"));
                }),
                Some("aud"),
            ),
            (
                "aud array with azp",
                Box::new(|c| {
                    c.insert("aud".into(), json!(["hub", "x"]));
                    c.insert("azp".into(), json!("hub"));
                }),
                None,
            ),
            (
                "aud array without azp",
                Box::new(|c| {
                    c.insert("aud".into(), json!(["hub", "x"]));
                }),
                Some("azp"),
            ),
            (
                "expired",
                Box::new(|c| {
                    c.insert("exp".into(), json!(900));
                }),
                Some("expired"),
            ),
            (
                "no exp",
                Box::new(|c| {
                    c.remove("exp");
                }),
                Some("exp"),
            ),
            (
                "future iat",
                Box::new(|c| {
                    c.insert("iat".into(), json!(1600));
                }),
                Some("future"),
            ),
            (
                "nbf ahead",
                Box::new(|c| {
                    c.insert("nbf".into(), json!(1600));
                }),
                Some("not yet valid"),
            ),
            (
                "wrong nonce",
                Box::new(|c| {
                    c.insert("nonce".into(), json!("n2"));
                }),
                Some("nonce"),
            ),
            (
                "missing sub",
                Box::new(|c| {
                    c.remove("sub");
                }),
                Some("sub"),
            ),
            (
                "empty sub",
                Box::new(|c| {
                    c.insert("sub".into(), json!(""));
                }),
                Some("sub"),
            ),
            (
                "unknown acr",
                Box::new(|c| {
                    c.insert("acr".into(), json!("urn:other"));
                }),
                Some("acr"),
            ),
            (
                "missing acr",
                Box::new(|c| {
                    c.remove("acr");
                }),
                Some("acr"),
            ),
            (
                "acr above registration",
                Box::new(|c| {
                    c.insert("acr".into(), json!("Cl.Cm.P3"));
                }),
                Some("acr"),
            ),
            (
                "vector acr",
                Box::new(|c| {
                    c.insert("acr".into(), json!("Cl.Cm"));
                }),
                None,
            ),
        ];
        for (name, mutate, want_err) in cases {
            let mut claims = good();
            mutate(&mut claims);
            let got = check_id_token(&claims, &p, &expected, 1000);
            match want_err {
                None => assert!(got.is_ok(), "{name}: {got:?}"),
                Some(fragment) => {
                    let err = got.err().map(|e| e.to_string()).unwrap_or_default();
                    assert!(err.contains(fragment), "{name}: {err:?} lacks {fragment:?}");
                }
            }
        }
        assert_eq!(
            check_id_token(&good(), &p, &expected, 1000).unwrap().vector,
            Vector::parse("Cl.Cm.P2").unwrap()
        );
    }
}
