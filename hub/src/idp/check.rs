//! The hub's rules for a provider's answer, as pure functions (OIDC Core §3.1.2.5–6, §3.1.3.7; RFC 9207;
//! INTERFACE.md §9): the request it sends, how an error response is classified, and every check of the
//! ID token's claims. Nothing here does I/O.

use crate::{
    i18n::Lang,
    identity::{ADDRESS, CORE_IDENTITY, DRIVING_PERMIT, PASSPORT},
    ids::pkce_challenge,
    journey::{Answer, AuthRequest, UpstreamAttempt},
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
    #[error("provider token endpoint answered something unusable: {0}")]
    TokenGarbage(String),
    #[error("provider ID token is invalid: {0}")]
    BadIdToken(String),
    #[error("provider userinfo is invalid: {0}")]
    BadUserinfo(String),
}

impl UpstreamError {
    /// The journey's view of this failure: down, or answered wrongly.
    /// Whether the provider itself is at fault (down, slow, answering garbage or broken tokens), as
    /// counts towards its circuit breaker. A refused code is not: anyone can send the hub a made-up one.
    pub fn provider_at_fault(&self) -> bool {
        !matches!(self, UpstreamError::TokenRefused(_))
    }

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

/// Whether the journey wants identity claims proven at an identity level.
fn wants_identity(request: &AuthRequest) -> bool {
    request.vtr.iter().any(Vector::asks_identity)
}

/// The scopes the hub asks a provider for one journey: `openid`, and only what the service's request
/// needs (`email`, `phone` as it asked; `profile` for a name and birth date, `address` for an address, at
/// an identity level), of those the provider is registered for. Data minimisation (DESIGN.md privacy).
pub fn scopes_for(provider: &Provider, request: &AuthRequest) -> Vec<String> {
    let asked = |c: &str| request.claims.iter().any(|x| x == c);
    let identity = wants_identity(request);
    let wanted = |scope: &str| match scope {
        "openid" => true,
        "email" | "phone" => request.scopes.iter().any(|s| s == scope),
        "profile" => identity && asked(CORE_IDENTITY),
        "address" => identity && asked(ADDRESS),
        _ => false,
    };
    let mut scopes: Vec<String> = provider.scopes.iter().filter(|s| wanted(s)).cloned().collect();
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    scopes
}

/// The provider's claims the hub keeps for a journey: those it may release to the service, and the
/// identity outcome a `returnCode` needs. Everything else is dropped on arrival.
pub fn keep_claims(request: &AuthRequest, claims: Map<String, Value>) -> Map<String, Value> {
    let scoped = |s: &str| request.scopes.iter().any(|x| x == s);
    let asked = |c: &str| wants_identity(request) && request.claims.iter().any(|x| x == c);
    claims
        .into_iter()
        .filter(|(name, _)| match name.as_str() {
            "email" | "email_verified" => scoped("email"),
            "phone_number" | "phone_number_verified" => scoped("phone"),
            "given_name" | "family_name" | "birthdate" => asked(CORE_IDENTITY),
            "address" => asked(ADDRESS),
            "identity_outcome" => true,
            other => (other == ADDRESS || other == PASSPORT || other == DRIVING_PERMIT) && asked(other),
        })
        .collect()
}

/// OIDC Core §3.1.2.1 `max_age`: the provider's `auth_time` must be recent enough when the service asked
/// for a maximum authentication age (the hub passes it on).
pub fn check_auth_time(auth_time: Option<i64>, max_age: Option<i64>, now: i64) -> Result<(), UpstreamError> {
    let Some(max_age) = max_age else {
        return Ok(());
    };
    let at = auth_time.ok_or_else(|| UpstreamError::BadIdToken("auth_time missing though max_age was sent".into()))?;
    if now - at > max_age + SKEW {
        return Err(UpstreamError::BadIdToken("auth_time is older than max_age".into()));
    }
    Ok(())
}

/// RFC 9207 §2.4: a provider that says it sends `iss` in authorization responses must send it, and it
/// must be the provider's issuer (mix-up defence).
pub fn check_response_iss(iss: Option<&str>, issuer: &str, advertised: bool) -> Result<(), &'static str> {
    match iss {
        Some(iss) if iss != issuer => Err("iss parameter is not the provider's issuer"),
        None if advertised => Err("the provider advertises RFC 9207 but sent no iss"),
        _ => Ok(()),
    }
}

/// The hub's authorization request to a provider (OIDC Core §3.1.2.1): its own `state`, `nonce` and
/// PKCE S256, the wanted levels as `acr_values`, only the scopes the journey needs, the person's
/// language, `prompt=login` and `max_age` when the service asked for them; nothing of the service.
pub fn authorization_url(
    endpoint: &str,
    provider: &Provider,
    attempt: &UpstreamAttempt,
    request: &AuthRequest,
    lang: Lang,
    redirect_uri: &str,
) -> String {
    let wanted = &request.vtr;
    let mut params = vec![
        ("response_type", "code".to_string()),
        ("client_id", provider.client_id.clone()),
        ("redirect_uri", redirect_uri.to_string()),
        ("scope", scopes_for(provider, request).join(" ")),
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
    if request.prompt == Some(Prompt::Login) {
        params.push(("prompt", "login".to_string()));
    }
    if let Some(max_age) = request.max_age {
        params.push(("max_age", max_age.to_string()));
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
    if claims.contains_key("events") {
        return Err(bad("a logout token is not an ID token"));
    }
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
            (
                "a logout token (events) as an ID token",
                Box::new(|c| {
                    c.insert(
                        "events".into(),
                        json!({"http://schemas.openid.net/event/backchannel-logout": {}}),
                    );
                }),
                Some("logout token"),
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

    #[test]
    fn auth_time_against_max_age_table() {
        let now = 10_000;
        // (case, auth_time, max_age, the refusal's words or None when accepted)
        type Case = (&'static str, Option<i64>, Option<i64>, Option<&'static str>);
        let cases: [Case; 8] = [
            ("no max_age, no auth_time", None, None, None),
            ("no max_age, an old auth_time", Some(0), None, None),
            ("recent enough", Some(now - 60), Some(60), None),
            ("at max_age plus the skew", Some(now - 60 - SKEW), Some(60), None),
            (
                "older than max_age",
                Some(now - 61 - SKEW),
                Some(60),
                Some("older than max_age"),
            ),
            ("far older", Some(now - 3600), Some(300), Some("older than max_age")),
            ("max_age=0, just now", Some(now), Some(0), None),
            (
                "max_age sent, auth_time missing",
                None,
                Some(300),
                Some("auth_time missing"),
            ),
        ];
        for (name, auth_time, max_age, want_err) in cases {
            let got = check_auth_time(auth_time, max_age, now);
            match want_err {
                None => assert!(got.is_ok(), "{name}: {got:?}"),
                Some(fragment) => {
                    let err = got.err().map(|e| e.to_string()).unwrap_or_default();
                    assert!(err.contains(fragment), "{name}: {err:?} lacks {fragment:?}");
                }
            }
        }
    }

    fn request(scopes: &[&str], vtr: &str, claims: &[&str]) -> AuthRequest {
        AuthRequest {
            client_id: "svc".into(),
            return_to: crate::oauth::ReturnTo {
                redirect_uri: "https://svc.example/cb".into(),
                state: Some("st".into()),
                response_mode: crate::oauth::ResponseMode::Query,
            },
            nonce: Some("n".into()),
            code_challenge: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            vtr: vec![Vector::parse(vtr).unwrap()],
            claims: claims.iter().map(|c| c.to_string()).collect(),
            ui_locales: None,
            prompt: None,
            max_age: None,
            dpop_jkt: None,
            pushed: None,
        }
    }

    #[test]
    fn scopes_asked_of_a_provider_are_only_what_the_journey_needs_table() {
        let all = provider(); // registered for openid, profile, email, phone, address (the default)
        let mut narrow = provider();
        narrow.scopes = vec!["openid".into(), "email".into()];
        let cases: Vec<(&str, &Provider, AuthRequest, &[&str])> = vec![
            ("openid only", &all, request(&["openid"], "Cl.Cm", &[]), &["openid"]),
            (
                "email asked",
                &all,
                request(&["openid", "email"], "Cl.Cm", &[]),
                &["openid", "email"],
            ),
            (
                "email and phone asked",
                &all,
                request(&["openid", "email", "phone"], "Cl.Cm", &[]),
                &["openid", "email", "phone"],
            ),
            (
                "identity claims without an identity level: no profile, no address",
                &all,
                request(&["openid"], "Cl.Cm", &[CORE_IDENTITY, ADDRESS]),
                &["openid"],
            ),
            (
                "core identity at P2: profile",
                &all,
                request(&["openid"], "Cl.Cm.P2", &[CORE_IDENTITY]),
                &["openid", "profile"],
            ),
            (
                "address at P2: address",
                &all,
                request(&["openid"], "Cl.Cm.P2", &[ADDRESS]),
                &["openid", "address"],
            ),
            (
                "P2 asking for nothing: no profile",
                &all,
                request(&["openid"], "Cl.Cm.P2", &[]),
                &["openid"],
            ),
            (
                "a provider not registered for phone is not asked for it",
                &narrow,
                request(&["openid", "email", "phone"], "Cl.Cm.P2", &[CORE_IDENTITY]),
                &["openid", "email"],
            ),
        ];
        for (name, p, req, want) in cases {
            assert_eq!(scopes_for(p, &req), want, "{name}");
        }
        // openid goes even when the registration lists it last or the provider's list lacks it.
        let mut odd = provider();
        odd.scopes = vec!["email".into()];
        assert_eq!(
            scopes_for(&odd, &request(&["openid", "email"], "Cl.Cm", &[])),
            ["openid", "email"]
        );
    }

    #[test]
    fn claims_kept_from_a_provider_are_only_those_that_may_be_released_table() {
        let from_provider = json!({
            "sub": "p-sub", "email": "a@example.com", "email_verified": true,
            "phone_number": "+441234", "phone_number_verified": true,
            "given_name": "Alex", "family_name": "Morgan", "birthdate": "1990-04-12",
            "address": {"postal_code": "SW1A 1AA"}, ADDRESS: [{"postalCode": "SW1A 1AA"}],
            PASSPORT: [{"documentNumber": "1"}], DRIVING_PERMIT: [{"personalNumber": "2"}],
            "identity_outcome": "pending", "nickname": "al", "acr": "Cl.Cm.P2", "iss": "https://idp.example",
        })
        .as_object()
        .cloned()
        .unwrap();
        let cases: Vec<(&str, AuthRequest, &[&str])> = vec![
            ("openid only", request(&["openid"], "Cl.Cm", &[]), &["identity_outcome"]),
            (
                "email",
                request(&["openid", "email"], "Cl.Cm", &[]),
                &["email", "email_verified", "identity_outcome"],
            ),
            (
                "phone",
                request(&["openid", "phone"], "Cl.Cm", &[]),
                &["identity_outcome", "phone_number", "phone_number_verified"],
            ),
            (
                "identity claims asked without an identity level: none kept",
                request(&["openid"], "Cl.Cm", &[CORE_IDENTITY, ADDRESS, PASSPORT]),
                &["identity_outcome"],
            ),
            (
                "core identity at P2: name and birth date",
                request(&["openid"], "Cl.Cm.P2", &[CORE_IDENTITY]),
                &["birthdate", "family_name", "given_name", "identity_outcome"],
            ),
            (
                "address at P2",
                request(&["openid"], "Cl.Cm.P2", &[ADDRESS]),
                &["address", ADDRESS, "identity_outcome"],
            ),
            (
                "passport and driving permit at P2",
                request(&["openid"], "Cl.Cm.P2", &[PASSPORT, DRIVING_PERMIT]),
                &[DRIVING_PERMIT, "identity_outcome", PASSPORT],
            ),
        ];
        for (name, req, want) in cases {
            let kept = keep_claims(&req, from_provider.clone());
            let mut names: Vec<&str> = kept.keys().map(String::as_str).collect();
            names.sort_unstable();
            let mut want = want.to_vec();
            want.sort_unstable();
            assert_eq!(names, want, "{name}");
        }
    }
}
