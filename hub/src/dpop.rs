//! DPoP at the hub (RFC 9449): the claim rules for a proof the hub receives at `/par`, `/token` and
//! `/userinfo` (§4.3 steps 7–12; the JOSE side is [`keys::dpop::verify`]), and server nonces (§8) that
//! every instance of a deployment accepts without shared state: a time window and its HMAC under a key
//! derived from the deployment's secret. Pure functions of the proof, the request and `now`.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Proof algorithms the hub accepts (FAPI 2.0 Security Profile §5.4.1: PS256 and ES256).
pub const ALGS: &[&str] = &["ES256", "PS256"];
/// How old a proof's `iat` may be, seconds (§11.1: a short window; replays within it are caught by `jti`).
pub const MAX_AGE_SECS: i64 = 120;
/// How long one server nonce stands for, seconds; a nonce is accepted in its window and the next.
pub const NONCE_WINDOW_SECS: i64 = 60;
/// The longest `jti` accepted.
const MAX_JTI: usize = 256;

/// What a proof must match: the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method (`htm`).
    pub htm: &'a str,
    /// The request's URL without query and fragment (`htu`).
    pub htu: &'a str,
    pub now: i64,
    /// At a protected resource: the access token presented, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    /// The key server nonces are made with.
    pub nonce_key: &'a [u8],
}

/// Why a proof is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// `invalid_dpop_proof`, with what is wrong.
    Invalid(&'static str),
    /// `use_dpop_nonce`: the proof lacks the current server nonce (§8).
    NeedsNonce,
}

/// A proof that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The RFC 7638 thumbprint of the proof's key: what a bound token's `cnf.jkt` names.
    pub jkt: String,
    /// The proof's `jti`, for the replay cache.
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub remember_until: i64,
}

/// Compares `htu` with the request's URL as RFC 9449 §4.3 step 9 asks: scheme and host case-insensitive,
/// default ports implied, query and fragment ignored.
fn same_target(htu: &str, expected: &str) -> bool {
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(htu), url::Url::parse(expected)) else {
        return false;
    };
    for u in [&mut a, &mut b] {
        u.set_query(None);
        u.set_fragment(None);
    }
    a == b
}

/// Applies the claim rules to a proof whose signature [`keys::dpop::verify`] checked.
pub fn check(proof: &keys::dpop::Verified, expected: &Expected<'_>) -> Result<Checked, Refused> {
    let claim = |name: &str| proof.claims.get(name);
    let jti = claim("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or(Refused::Invalid("the proof has no jti"))?;
    if claim("htm").and_then(Value::as_str) != Some(expected.htm) {
        return Err(Refused::Invalid("htm is not the request's method"));
    }
    let htu = claim("htu")
        .and_then(Value::as_str)
        .ok_or(Refused::Invalid("the proof has no htu"))?;
    if !same_target(htu, expected.htu) {
        return Err(Refused::Invalid("htu is not the request's URL"));
    }
    let iat = claim("iat")
        .and_then(Value::as_i64)
        .ok_or(Refused::Invalid("the proof has no iat"))?;
    if iat > expected.now + keys::SKEW_SECS || iat < expected.now - MAX_AGE_SECS {
        return Err(Refused::Invalid("the proof's iat is outside the accepted window"));
    }
    match (expected.access_token, claim("ath").and_then(Value::as_str)) {
        (Some(token), Some(ath)) if crate::ids::constant_time_eq(ath, &keys::dpop::ath(token)) => {}
        (Some(_), _) => return Err(Refused::Invalid("ath is not the access token's hash")),
        (None, _) => {}
    }
    match claim("nonce").and_then(Value::as_str) {
        Some(n) if nonce_valid(expected.nonce_key, n, expected.now) => {}
        _ => return Err(Refused::NeedsNonce),
    }
    Ok(Checked {
        jkt: proof.jkt.clone(),
        jti: jti.to_string(),
        remember_until: iat.max(expected.now) + MAX_AGE_SECS + keys::SKEW_SECS,
    })
}

fn mac(key: &[u8], window: i64) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(b"dpop-nonce:");
    mac.update(&window.to_be_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..18])
}

/// The server nonce for `now` (§8.1): `<window>.<mac>`, opaque to clients.
pub fn nonce(key: &[u8], now: i64) -> String {
    let window = now.div_euclid(NONCE_WINDOW_SECS);
    format!("{window}.{}", mac(key, window))
}

/// Whether `nonce` was made with `key` in the current window or the one before.
pub fn nonce_valid(key: &[u8], nonce: &str, now: i64) -> bool {
    let Some((window, tag)) = nonce.split_once('.') else {
        return false;
    };
    let Ok(window) = window.parse::<i64>() else {
        return false;
    };
    let current = now.div_euclid(NONCE_WINDOW_SECS);
    (window == current || window == current - 1) && crate::ids::constant_time_eq(tag, &mac(key, window))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn proof(edit: impl Fn(&mut Map<String, Value>)) -> keys::dpop::Verified {
        let mut claims = json!({
            "jti": "j1",
            "htm": "POST",
            "htu": "https://hub.example/token",
            "iat": NOW,
            "nonce": nonce(KEY, NOW),
        })
        .as_object()
        .cloned()
        .unwrap();
        edit(&mut claims);
        keys::dpop::Verified {
            jkt: "thumb".into(),
            alg: "ES256".into(),
            claims,
        }
    }

    fn expected() -> Expected<'static> {
        Expected {
            htm: "POST",
            htu: "https://hub.example/token",
            now: NOW,
            access_token: None,
            nonce_key: KEY,
        }
    }

    #[test]
    fn claim_rules_table() {
        type Edit = Box<dyn Fn(&mut Map<String, Value>)>;
        let set = |k: &'static str, v: Value| -> Edit { Box::new(move |c| drop(c.insert(k.into(), v.clone()))) };
        let drop_ = |k: &'static str| -> Edit { Box::new(move |c| drop(c.remove(k))) };
        let invalid = |why| Err(Refused::Invalid(why));
        type Case = (&'static str, Edit, Option<&'static str>, Result<(), Refused>);
        let cases: Vec<Case> = vec![
            ("good", Box::new(|_| {}), None, Ok(())),
            (
                "htu case and default port",
                set("htu", json!("HTTPS://Hub.Example:443/token")),
                None,
                Ok(()),
            ),
            (
                "htu with a query",
                set("htu", json!("https://hub.example/token?x=1")),
                None,
                Ok(()),
            ),
            ("no jti", drop_("jti"), None, invalid("the proof has no jti")),
            (
                "empty jti",
                set("jti", json!("")),
                None,
                invalid("the proof has no jti"),
            ),
            (
                "other method",
                set("htm", json!("GET")),
                None,
                invalid("htm is not the request's method"),
            ),
            (
                "other url",
                set("htu", json!("https://hub.example/userinfo")),
                None,
                invalid("htu is not the request's URL"),
            ),
            (
                "other host",
                set("htu", json!("https://evil.example/token")),
                None,
                invalid("htu is not the request's URL"),
            ),
            ("no htu", drop_("htu"), None, invalid("the proof has no htu")),
            ("no iat", drop_("iat"), None, invalid("the proof has no iat")),
            (
                "iat too old",
                set("iat", json!(NOW - MAX_AGE_SECS - 1)),
                None,
                invalid("the proof's iat is outside the accepted window"),
            ),
            (
                "iat in the future",
                set("iat", json!(NOW + 31)),
                None,
                invalid("the proof's iat is outside the accepted window"),
            ),
            (
                "iat a string",
                set("iat", json!("1")),
                None,
                invalid("the proof has no iat"),
            ),
            ("no nonce", drop_("nonce"), None, Err(Refused::NeedsNonce)),
            (
                "a forged nonce",
                set("nonce", json!("29999999.abc")),
                None,
                Err(Refused::NeedsNonce),
            ),
            (
                "a stale nonce",
                set("nonce", json!(nonce(KEY, NOW - 2 * NONCE_WINDOW_SECS))),
                None,
                Err(Refused::NeedsNonce),
            ),
            (
                "last window's nonce",
                set("nonce", json!(nonce(KEY, NOW - NONCE_WINDOW_SECS))),
                None,
                Ok(()),
            ),
            (
                "another key's nonce",
                set("nonce", json!(nonce(b"other", NOW))),
                None,
                Err(Refused::NeedsNonce),
            ),
            (
                "at a resource without ath",
                Box::new(|_| {}),
                Some("at"),
                invalid("ath is not the access token's hash"),
            ),
            (
                "at a resource with ath",
                set("ath", json!(keys::dpop::ath("at"))),
                Some("at"),
                Ok(()),
            ),
            (
                "another token's ath",
                set("ath", json!(keys::dpop::ath("other"))),
                Some("at"),
                invalid("ath is not the access token's hash"),
            ),
        ];
        for (name, edit, token, want) in cases {
            let got = check(
                &proof(edit),
                &Expected {
                    access_token: token,
                    ..expected()
                },
            )
            .map(|_| ());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_checked_proof_names_its_key_and_how_long_to_remember_its_jti() {
        let checked = check(&proof(|_| {}), &expected()).unwrap();
        assert_eq!(checked.jkt, "thumb");
        assert_eq!(checked.jti, "j1");
        assert!(checked.remember_until >= NOW + MAX_AGE_SECS);
    }

    #[test]
    fn nonces_verify_in_their_window_and_the_next_only() {
        let n = nonce(KEY, NOW);
        assert!(nonce_valid(KEY, &n, NOW));
        assert!(nonce_valid(KEY, &n, NOW + NONCE_WINDOW_SECS));
        assert!(!nonce_valid(KEY, &n, NOW + 2 * NONCE_WINDOW_SECS + NONCE_WINDOW_SECS));
        assert!(!nonce_valid(b"another", &n, NOW));
        assert!(!nonce_valid(KEY, "garbage", NOW));
    }
}
