//! Request objects (JAR, RFC 9101; OIDC Core §6.1; INTERFACE.md §2): the authorization request as a JWT
//! signed by the client's registered key. Its signature, `iss`, `aud` and times are checked, the query's
//! `response_type`, `scope` and `client_id` must equal the object's, and no other OIDC parameter may sit
//! in the query. An object that fails any check is a 400 page, never a redirect: its `redirect_uri`
//! cannot be trusted.

use super::params::Params;
use serde_json::{Map, Value};

/// The clock skew allowed on `exp`, `nbf` and `iat`: the one every JWT check shares.
const SKEW: i64 = keys::SKEW_SECS;

/// Query parameters allowed beside `request` (RFC 9101 §5: the OAuth ones that must match, and nothing else).
fn query_has_other_parameters(q: &Params) -> bool {
    [
        &q.redirect_uri,
        &q.state,
        &q.nonce,
        &q.code_challenge,
        &q.code_challenge_method,
        &q.vtr,
        &q.claims,
        &q.ui_locales,
        &q.prompt,
        &q.max_age,
        &q.response_mode,
        &q.request_uri,
        &q.id_token_hint,
        &q.login_hint,
    ]
    .iter()
    .any(|p| p.is_some())
}

fn as_param(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// What a client's registration asks of its request objects beyond RFC 9101.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// Other parameters in the query are ignored (OIDC Core §6.3.3: only the object's are used) rather
    /// than refused.
    pub lenient_query: bool,
    /// `exp` and `nbf` are required and `exp` lies at most this many seconds after `nbf`, and `nbf` at
    /// most 60 minutes in the past (FAPI 2.0 Message Signing §5.3.1).
    pub lifetime: Option<i64>,
}

/// The request the object carries, once its claims are checked against the query, the client's rules
/// and `now`. (The signature is checked before, with the client's keys.)
pub fn merge(
    query: &Params,
    claims: &Map<String, Value>,
    issuer: &str,
    now: i64,
    rules: Rules,
) -> Result<Params, &'static str> {
    let client_id = query
        .client_id
        .as_deref()
        .ok_or("client_id is required beside a request object")?;
    if claims.get("iss").and_then(Value::as_str) != Some(client_id) {
        return Err("the request object's iss is not the client_id");
    }
    let authorize = format!("{issuer}/authorize");
    let aud_ok = |a: &str| a == authorize || a == issuer || a.trim_end_matches('/') == issuer;
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => aud_ok(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(aud_ok),
        _ => false,
    };
    if !aud {
        return Err("the request object's aud is not this hub");
    }
    if claims
        .get("exp")
        .is_some_and(|e| e.as_i64().is_none_or(|exp| exp <= now))
    {
        return Err("the request object has expired");
    }
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp > now + 3600 + SKEW)
    {
        return Err("the request object's exp is more than 60 minutes away");
    }
    // One purpose per JWT: an ID token, a logout token or a client assertion is not a request object.
    if ["events", "at_hash", "vot", "sid", "client_assertion"]
        .iter()
        .any(|c| claims.contains_key(*c))
    {
        return Err("the request object carries claims of another kind of token");
    }
    for time in ["nbf", "iat"] {
        if claims.get(time).and_then(Value::as_i64).is_some_and(|t| t > now + SKEW) {
            return Err("the request object is not valid yet");
        }
    }
    // `exp` and `jti` are optional (INTERFACE.md §2, as One Login), so an object without them can be
    // replayed; an `iat`, when present, bounds for how long (60 minutes, as a client assertion's life).
    if claims
        .get("iat")
        .and_then(Value::as_i64)
        .is_some_and(|iat| iat < now - 3600 - SKEW)
    {
        return Err("the request object's iat is more than 60 minutes in the past");
    }
    if let Some(max) = rules.lifetime {
        let (Some(exp), Some(nbf)) = (
            claims.get("exp").and_then(Value::as_i64),
            claims.get("nbf").and_then(Value::as_i64),
        ) else {
            return Err("the request object must have exp and nbf");
        };
        if exp - nbf > max {
            return Err("the request object's exp lies too long after its nbf");
        }
        if nbf < now - 3600 {
            return Err("the request object's nbf is more than 60 minutes in the past");
        }
    }
    let object = |name: &str| as_param(claims.get(name));
    for (name, in_query) in [
        ("response_type", &query.response_type),
        ("scope", &query.scope),
        ("client_id", &query.client_id),
    ] {
        if in_query.is_some() && in_query.as_deref() != object(name).as_deref() {
            return Err("the query's response_type, scope and client_id must equal the request object's");
        }
    }
    if object("request").is_some() || object("request_uri").is_some() {
        return Err("a request object must not contain request or request_uri");
    }
    if query_has_other_parameters(query) && !rules.lenient_query {
        return Err("with a request object, the query may carry only response_type, scope, client_id and request");
    }
    Ok(Params {
        response_type: object("response_type"),
        client_id: Some(client_id.to_string()),
        redirect_uri: object("redirect_uri"),
        scope: object("scope"),
        state: object("state"),
        nonce: object("nonce"),
        code_challenge: object("code_challenge"),
        code_challenge_method: object("code_challenge_method"),
        vtr: object("vtr"),
        claims: object("claims"),
        ui_locales: object("ui_locales"),
        prompt: object("prompt"),
        max_age: object("max_age"),
        response_mode: object("response_mode"),
        request: None,
        request_uri: None,
        id_token_hint: object("id_token_hint"),
        login_hint: object("login_hint"),
        dpop_jkt: object("dpop_jkt"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://hub.example";

    fn query() -> Params {
        Params {
            response_type: Some("code".into()),
            client_id: Some("svc".into()),
            scope: Some("openid email".into()),
            request: Some("jwt".into()),
            ..Params::default()
        }
    }

    fn object() -> Map<String, Value> {
        json!({
            "iss": "svc", "aud": "https://hub.example/authorize", "exp": 1300, "iat": 1000,
            "response_type": "code", "client_id": "svc", "scope": "openid email",
            "redirect_uri": "https://svc.example/cb", "state": "s", "nonce": "n",
            "vtr": ["Cl.Cm.P2"], "claims": {"userinfo": {"https://vocab.account.gov.uk/v1/coreIdentityJWT": null}},
            "max_age": 600
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn an_iat_older_than_sixty_minutes_is_refused_with_or_without_exp() {
        let now = 10_000;
        let with_iat = |iat: i64, exp: Option<i64>| {
            let mut o = object();
            o.insert("iat".into(), json!(iat));
            match exp {
                Some(exp) => o.insert("exp".into(), json!(exp)),
                None => o.remove("exp"),
            };
            o
        };
        let merged = |o: &Map<String, Value>| merge(&query(), o, ISS, now, Rules::default());
        assert!(merged(&with_iat(now - 3600, None)).is_ok());
        assert!(merged(&with_iat(now - 3600 - SKEW, None)).is_ok(), "within the skew");
        assert_eq!(
            merged(&with_iat(now - 3601 - SKEW, None)).unwrap_err(),
            "the request object's iat is more than 60 minutes in the past"
        );
        assert!(
            merged(&with_iat(now - 7200, Some(now + 60))).is_err(),
            "a live exp does not excuse an old iat"
        );
        let mut bare = object();
        bare.remove("exp");
        bare.remove("iat");
        assert!(merged(&bare).is_ok(), "neither exp nor iat: accepted (INTERFACE.md §2)");
    }

    #[test]
    fn a_good_object_becomes_the_request() {
        let params = merge(&query(), &object(), ISS, 1000, Rules::default()).unwrap();
        assert_eq!(params.redirect_uri.as_deref(), Some("https://svc.example/cb"));
        assert_eq!(params.vtr.as_deref(), Some(r#"["Cl.Cm.P2"]"#));
        assert_eq!(params.max_age.as_deref(), Some("600"));
        assert!(params.claims.unwrap().contains("coreIdentityJWT"));
        assert!(params.request.is_none());
    }

    #[test]
    fn object_rules_table() {
        type Case = (&'static str, Box<dyn Fn(&mut Params, &mut Map<String, Value>)>);
        let cases: Vec<Case> = vec![
            (
                "iss other",
                Box::new(|_, o| {
                    o.insert("iss".into(), json!("other"));
                }),
            ),
            (
                "aud other",
                Box::new(|_, o| {
                    o.insert("aud".into(), json!("https://elsewhere/authorize"));
                }),
            ),
            (
                "no aud",
                Box::new(|_, o| {
                    o.remove("aud");
                }),
            ),
            (
                "expired",
                Box::new(|_, o| {
                    o.insert("exp".into(), json!(999));
                }),
            ),
            (
                "exp not a number",
                Box::new(|_, o| {
                    o.insert("exp".into(), json!("soon"));
                }),
            ),
            (
                "nbf ahead",
                Box::new(|_, o| {
                    o.insert("nbf".into(), json!(2000));
                }),
            ),
            ("scope differs", Box::new(|q, _| q.scope = Some("openid".into()))),
            (
                "response_type differs",
                Box::new(|q, _| q.response_type = Some("token".into())),
            ),
            ("state in query", Box::new(|q, _| q.state = Some("s".into()))),
            (
                "redirect_uri in query",
                Box::new(|q, _| q.redirect_uri = Some("https://evil/cb".into())),
            ),
            (
                "nested request",
                Box::new(|_, o| {
                    o.insert("request".into(), json!("x"));
                }),
            ),
            ("no client_id", Box::new(|q, _| q.client_id = None)),
        ];
        for (name, mutate) in cases {
            let (mut q, mut o) = (query(), object());
            mutate(&mut q, &mut o);
            assert!(
                merge(&q, &o, ISS, 1000, Rules::default()).is_err(),
                "{name} was accepted"
            );
        }
        let mut issuer_aud = object();
        issuer_aud.insert("aud".into(), json!([ISS]));
        issuer_aud.remove("exp");
        assert!(
            merge(&query(), &issuer_aud, ISS, 1000, Rules::default()).is_ok(),
            "issuer as aud, exp optional"
        );
    }

    #[test]
    fn lifetime_and_lenient_query_rules_table() {
        let fapi = Rules {
            lenient_query: false,
            lifetime: Some(60),
        };
        let lenient = Rules {
            lenient_query: true,
            lifetime: None,
        };
        let with = |pairs: &[(&str, Value)]| {
            let mut o = object();
            for (k, v) in pairs {
                o.insert((*k).into(), v.clone());
            }
            o
        };
        type Case = (&'static str, Params, Map<String, Value>, Rules, bool);
        let cases: Vec<Case> = vec![
            (
                "fapi: nbf and exp 60 s apart",
                query(),
                with(&[("nbf", json!(990)), ("exp", json!(1050))]),
                fapi,
                true,
            ),
            (
                "fapi: 61 s apart",
                query(),
                with(&[("nbf", json!(990)), ("exp", json!(1051))]),
                fapi,
                false,
            ),
            ("fapi: no nbf", query(), with(&[("exp", json!(1050))]), fapi, false),
            (
                "fapi: no exp",
                query(),
                {
                    let mut o = with(&[("nbf", json!(990))]);
                    o.remove("exp");
                    o
                },
                fapi,
                false,
            ),
            (
                "fapi: nbf an hour and more ago",
                query(),
                with(&[("nbf", json!(1000 - 3601)), ("exp", json!(1050))]),
                fapi,
                false,
            ),
            (
                "lenient: a repeated redirect_uri and state in the query",
                Params {
                    redirect_uri: Some("https://svc.example/cb".into()),
                    state: Some("q".into()),
                    ..query()
                },
                object(),
                lenient,
                true,
            ),
            (
                "strict: the same",
                Params {
                    redirect_uri: Some("https://svc.example/cb".into()),
                    state: Some("q".into()),
                    ..query()
                },
                object(),
                Rules::default(),
                false,
            ),
        ];
        for (name, q, o, rules, ok) in cases {
            let got = merge(&q, &o, ISS, 1000, rules);
            assert_eq!(got.is_ok(), ok, "{name}: {got:?}");
            if let Ok(p) = got {
                assert_eq!(p.state.as_deref(), Some("s"), "{name}: the object's values win");
            }
        }
    }
}
