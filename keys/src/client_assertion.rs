//! `private_key_jwt` client assertions (RFC 7523 §3, OIDC Core 1.0 §9, INTERFACE.md §3): how a client
//! makes one and how a token endpoint checks its claims. One rule set for the hub, idp-stub and
//! rp-example, so the parties cannot drift apart (same skew, same lifetime rules).
//!
//! The signature is checked before, with the client's registered keys ([`crate::VerifyingKeys`]); the
//! `jti` replay check needs a store and stays with the caller.

use serde::Serialize;
use serde_json::{Map, Value};

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The life a client gives its assertions: five minutes, as One Login recommends.
pub const LIFETIME_SECS: i64 = 300;
/// The longest life a token endpoint accepts (INTERFACE.md §3: at most 60 minutes).
pub const MAX_LIFETIME_SECS: i64 = 3600;

/// The claims of a client assertion: `iss` = `sub` = the client id, `aud` = the token endpoint, a fresh
/// `jti`, `iat` now and `exp` five minutes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    /// A new assertion's claims for `client_id` at `token_endpoint`.
    pub fn new(client_id: &str, token_endpoint: &str, jti: &str, now: i64) -> Self {
        Self {
            iss: client_id.to_string(),
            sub: client_id.to_string(),
            aud: token_endpoint.to_string(),
            jti: jti.to_string(),
            iat: now,
            exp: now + LIFETIME_SECS,
        }
    }
}

/// What the token endpoint expects of an assertion.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// Every value accepted as `aud`: the token endpoint and the issuer (RFC 7523 §3 point 3).
    pub audiences: &'a [&'a str],
    pub now: i64,
}

/// A checked assertion: what the replay cache needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub jti: String,
    pub exp: i64,
}

/// The claim rules (RFC 7523 §3): `iss` = `sub` = client id; `aud` one of the expected audiences (a
/// string or an array); `exp` in the future but at most 60 minutes (and the skew) away; `iat` and `nbf`,
/// when present, numbers not in the future beyond [`crate::SKEW_SECS`]; a non-empty `jti`. The error is
/// safe to return to the client as `error_description`.
pub fn check(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<Checked, &'static str> {
    let text = |n: &str| claims.get(n).and_then(Value::as_str);
    // One purpose per JWT: a request object, an ID token or a logout token cannot stand in for one.
    const OTHER_PURPOSES: &[&str] = &[
        "response_type",
        "redirect_uri",
        "scope",
        "nonce",
        "events",
        "at_hash",
        "vot",
    ];
    if OTHER_PURPOSES.iter().any(|c| claims.contains_key(*c)) {
        return Err("a client assertion must not carry request, ID token or logout token claims");
    }
    if text("iss") != Some(expected.client_id) {
        return Err("client assertion iss must be the client_id");
    }
    if text("sub") != Some(expected.client_id) {
        return Err("client assertion sub must be the client_id");
    }
    let accepted = |a: &str| expected.audiences.contains(&a);
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => accepted(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(accepted),
        _ => false,
    };
    if !aud {
        return Err("client assertion aud must be the token endpoint");
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or("client assertion exp is required")?;
    if exp <= expected.now {
        return Err("client assertion has expired");
    }
    if exp > expected.now + MAX_LIFETIME_SECS + crate::SKEW_SECS {
        return Err("client assertion exp is more than 60 minutes away");
    }
    for (name, why) in [
        ("iat", "client assertion iat is in the future"),
        ("nbf", "client assertion is not yet valid"),
    ] {
        if let Some(t) = claims.get(name) {
            let t = t.as_i64().ok_or("client assertion iat and nbf must be numbers")?;
            if t > expected.now + crate::SKEW_SECS {
                return Err(why);
            }
        }
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty())
        .ok_or("client assertion jti is required")?;
    Ok(Checked {
        jti: jti.to_string(),
        exp,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const EP: &str = "https://hub.example/token";
    const ISS: &str = "https://hub.example";
    const NOW: i64 = 1000;

    fn good() -> Map<String, Value> {
        json!({"iss": "c", "sub": "c", "aud": EP, "exp": 1300, "iat": 1000, "jti": "j1"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn claims_table() {
        let audiences = [EP, ISS, "https://hub.example/"];
        let expected = Expected {
            client_id: "c",
            audiences: &audiences,
            now: NOW,
        };
        let cases: Vec<(&str, Value, Result<(), &str>)> = vec![
            ("aud", json!(EP), Ok(())),
            ("aud", json!(ISS), Ok(())),
            ("aud", json!("https://hub.example/"), Ok(())),
            ("aud", json!([ISS, "x"]), Ok(())),
            ("aud", json!("https://other/token"), Err("aud")),
            ("aud", json!(["other"]), Err("aud")),
            ("aud", json!(7), Err("aud")),
            ("iss", json!("d"), Err("iss")),
            ("sub", json!("d"), Err("sub")),
            ("exp", json!(NOW), Err("expired")),
            ("exp", json!("soon"), Err("exp")),
            ("exp", json!(NOW + 3600 + 30), Ok(())),
            ("exp", json!(NOW + 3600 + 31), Err("60 minutes")),
            ("iat", json!(NOW + 30), Ok(())),
            ("iat", json!(NOW + 31), Err("iat")),
            ("iat", json!("now"), Err("numbers")),
            ("nbf", json!(NOW + 100), Err("not yet valid")),
            ("jti", json!(""), Err("jti")),
            ("jti", Value::Null, Err("jti")),
            ("response_type", json!("code"), Err("must not carry")),
            ("nonce", json!("n"), Err("must not carry")),
            ("events", json!({}), Err("must not carry")),
        ];
        for (field, value, want) in cases {
            let mut c = good();
            c.insert(field.to_string(), value.clone());
            let got = check(&c, &expected).map(|_| ());
            match want {
                Ok(()) => assert!(got.is_ok(), "{field}={value}: {got:?}"),
                Err(fragment) => {
                    let err = got.err().unwrap_or_default();
                    assert!(err.contains(fragment), "{field}={value}: {err:?} lacks {fragment:?}")
                }
            }
        }
        let mut no_exp = good();
        no_exp.remove("exp");
        assert!(check(&no_exp, &expected).is_err());
        assert_eq!(
            check(&good(), &expected),
            Ok(Checked {
                jti: "j1".into(),
                exp: 1300
            })
        );
    }

    #[test]
    fn made_claims_pass_the_check() {
        let claims = Claims::new("c", EP, "j", NOW);
        let map = serde_json::to_value(&claims).unwrap().as_object().cloned().unwrap();
        let expected = Expected {
            client_id: "c",
            audiences: &[EP],
            now: NOW,
        };
        assert!(check(&map, &expected).is_ok());
        assert_eq!(claims.exp - claims.iat, LIFETIME_SECS);
    }
}
