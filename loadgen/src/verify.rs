//! What a real client checks before trusting the hub's answers: the ID token (OIDC Core 1.0 §3.1.3.7 and
//! §3.1.3.8 `at_hash`, INTERFACE.md §4) and the `coreIdentityJWT` against the DID document (§5).
//! Pure functions of the token, the keys, what was expected and `now`.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The clock skew every party tolerates.
const SKEW: i64 = keys::SKEW_SECS;
/// The `vc.type` an identity credential must have.
const IDENTITY_CREDENTIAL_TYPE: &str = "VerifiableIdentityCredential";

/// What an ID token must say.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenExpected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub access_token: &'a str,
    /// The credential level: `Cl.Cm` (identity levels travel in the credential).
    pub vot: &'a str,
    pub now: i64,
    /// A generic provider (peer mode): no `vot`, and `at_hash` optional (OIDC Core §3.1.3.6) but
    /// checked when present.
    pub generic: bool,
}

/// `at_hash`: the left half of SHA-256 over the access token, base64url (ES256 and RS256 alike).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn key_error(e: &keys::KeyError) -> &'static str {
    match e {
        keys::KeyError::UnknownKey(_) => "no hub key has its kid",
        keys::KeyError::BadSignature => "bad signature",
        keys::KeyError::AlgorithmNotAccepted(_) | keys::KeyError::AlgorithmMismatch { .. } => "algorithm refused",
        _ => "malformed",
    }
}

fn audience_is(claims: &Map<String, Value>, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}

fn number(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(Value::as_i64)
}

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// Checks an ID token's signature against the hub's keys, then its claims; returns its `sub`.
pub fn id_token(keys: &keys::VerifyingKeys, token: &str, e: &IdTokenExpected<'_>) -> Result<String, &'static str> {
    let (_, claims) = keys.verify(token).map_err(|err| key_error(&err))?;
    if text(&claims, "iss") != Some(e.issuer) {
        return Err("iss");
    }
    if !audience_is(&claims, e.client_id) {
        return Err("aud");
    }
    if number(&claims, "exp").is_none_or(|exp| exp + SKEW <= e.now) {
        return Err("exp");
    }
    if number(&claims, "iat").is_none_or(|iat| iat > e.now + SKEW) {
        return Err("iat");
    }
    if text(&claims, "nonce") != Some(e.nonce) {
        return Err("nonce");
    }
    let optional = e.generic && !claims.contains_key("at_hash");
    if !optional && text(&claims, "at_hash") != Some(at_hash(e.access_token).as_str()) {
        return Err("at_hash");
    }
    if !e.generic && text(&claims, "vot") != Some(e.vot) {
        return Err("vot");
    }
    match text(&claims, "sub") {
        Some(sub) if !sub.is_empty() => Ok(sub.to_string()),
        _ => Err("sub"),
    }
}

/// The identity issuer's signing keys from its DID document, by the `kid` a credential names
/// (`<did>#<key id>`), and the DID itself.
#[derive(Debug)]
pub struct DidKeys {
    pub did: String,
    keys: HashMap<String, keys::VerifyingKeys>,
}

impl DidKeys {
    /// Reads the `JsonWebKey` assertion methods of a DID document, each pinned to ES256.
    pub fn from_document(doc: &Value) -> anyhow::Result<Self> {
        let did = doc
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("the DID document has no id"))?
            .to_string();
        let mut keys = HashMap::new();
        for method in doc
            .get("assertionMethod")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(id), Some(Value::Object(jwk))) =
                (method.get("id").and_then(Value::as_str), method.get("publicKeyJwk"))
            else {
                continue;
            };
            // The credential's kid is the method id, not the JWK's own: the key is chosen here.
            let mut jwk = jwk.clone();
            jwk.remove("kid");
            jwk.insert("alg".into(), Value::from("ES256"));
            let key = keys::VerifyingKey::from_jwk(&Value::Object(jwk))?;
            keys.insert(id.to_string(), keys::VerifyingKeys::new(vec![key]));
        }
        if keys.is_empty() {
            anyhow::bail!("the DID document {did} lists no usable key");
        }
        Ok(Self { did, keys })
    }
}

/// What a `coreIdentityJWT` must say.
#[derive(Debug, Clone, Copy)]
pub struct CredentialExpected<'a> {
    pub client_id: &'a str,
    /// The ID token's `sub`.
    pub sub: &'a str,
    /// The identity level, e.g. `P2`.
    pub vot: &'a str,
    pub now: i64,
}

/// Checks a `coreIdentityJWT`: ES256 by a key of the DID document named by `kid`, `iss` the issuer that
/// document speaks for, then `aud`, `sub`, lifetime, `vot` and the credential type.
pub fn core_identity(did: &DidKeys, jwt: &str, e: &CredentialExpected<'_>) -> Result<(), &'static str> {
    let header = keys::decode_header(jwt).map_err(|_| "malformed")?;
    if header.alg != "ES256" {
        return Err("algorithm refused");
    }
    let keys = header
        .kid
        .as_deref()
        .and_then(|kid| did.keys.get(kid))
        .ok_or("kid not in the DID document")?;
    let (_, claims) = keys.verify(jwt).map_err(|err| key_error(&err))?;
    let issuer = text(&claims, "iss").ok_or("iss")?;
    if keys::did::did_web(issuer).as_deref() != Some(did.did.as_str()) {
        return Err("iss is not the DID document's issuer");
    }
    if !audience_is(&claims, e.client_id) {
        return Err("aud");
    }
    if text(&claims, "sub") != Some(e.sub) {
        return Err("sub is not the ID token's");
    }
    if number(&claims, "exp").is_none_or(|exp| exp + SKEW <= e.now) {
        return Err("exp");
    }
    for name in ["nbf", "iat"] {
        if number(&claims, name).is_some_and(|t| t > e.now + SKEW) {
            return Err("not yet valid");
        }
    }
    if text(&claims, "vot") != Some(e.vot) {
        return Err("vot");
    }
    let typed = claims
        .get("vc")
        .and_then(|vc| vc.get("type"))
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some(IDENTITY_CREDENTIAL_TYPE)));
    if !typed {
        return Err("vc.type");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn id_claims() -> Map<String, Value> {
        json!({
            "iss": "http://hub", "sub": "urn:fdc:x", "aud": "svc", "iat": NOW, "exp": NOW + 120,
            "nonce": "n", "vot": "Cl.Cm", "at_hash": at_hash("tok"),
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn id_token_table() {
        let key = keys::SigningKey::generate().unwrap();
        let set = keys::VerifyingKeys::from_jwks(&keys::jwks([&key])).unwrap();
        let expected = IdTokenExpected {
            issuer: "http://hub",
            client_id: "svc",
            nonce: "n",
            access_token: "tok",
            vot: "Cl.Cm",
            now: NOW,
            generic: false,
        };
        assert_eq!(
            id_token(&set, &key.sign_jwt("JWT", &id_claims()).unwrap(), &expected),
            Ok("urn:fdc:x".into())
        );
        let cases = [
            ("iss", json!("http://other"), "iss"),
            ("aud", json!(["other"]), "aud"),
            ("exp", json!(NOW - 31), "exp"),
            ("iat", json!(NOW + 31), "iat"),
            ("nonce", json!("m"), "nonce"),
            ("at_hash", json!(at_hash("other")), "at_hash"),
            ("vot", json!("Cl"), "vot"),
            ("sub", json!(""), "sub"),
        ];
        for (field, value, why) in cases {
            let mut c = id_claims();
            c.insert(field.into(), value);
            let token = key.sign_jwt("JWT", &c).unwrap();
            assert_eq!(id_token(&set, &token, &expected), Err(why), "{field}");
        }
        let stranger = keys::SigningKey::generate().unwrap();
        let forged = stranger.sign_jwt_with_kid("JWT", key.kid(), &id_claims()).unwrap();
        assert_eq!(id_token(&set, &forged, &expected), Err("bad signature"));
        // A generic provider's token: no vot, at_hash optional but checked when present.
        let generic = IdTokenExpected {
            generic: true,
            ..expected
        };
        let mut plain = id_claims();
        plain.remove("vot");
        plain.remove("at_hash");
        assert!(id_token(&set, &key.sign_jwt("JWT", &plain).unwrap(), &generic).is_ok());
        plain.insert("at_hash".into(), json!(at_hash("other")));
        let wrong = key.sign_jwt("JWT", &plain).unwrap();
        assert_eq!(id_token(&set, &wrong, &generic), Err("at_hash"));
        assert_eq!(id_token(&set, &wrong, &expected), Err("at_hash"));
    }

    #[test]
    fn at_hash_matches_the_spec_example() {
        // OIDC Core 1.0 Appendix A.3 uses RS256 over this token; the left-half SHA-256 rule is the same.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn core_identity_table() {
        let key = keys::SigningKey::generate().unwrap();
        let issuer = "http://127.0.0.1:8080";
        let doc = keys::did::document(issuer, &[&key]);
        let did = DidKeys::from_document(&doc).unwrap();
        let kid = keys::did::key_reference(&did.did, &key);
        let claims = || {
            json!({"iss": issuer, "aud": "svc", "sub": "s", "nbf": NOW, "iat": NOW, "exp": NOW + 1800, "vot": "P2",
                   "vc": {"type": ["VerifiableCredential", "VerifiableIdentityCredential"], "credentialSubject": {}}})
            .as_object()
            .cloned()
            .unwrap()
        };
        let expected = CredentialExpected {
            client_id: "svc",
            sub: "s",
            vot: "P2",
            now: NOW,
        };
        let sign = |c: &Map<String, Value>| key.sign_jwt_with_kid("JWT", &kid, c).unwrap();
        assert_eq!(core_identity(&did, &sign(&claims()), &expected), Ok(()));
        let cases = [
            ("iss", json!("http://elsewhere"), "iss is not the DID document's issuer"),
            ("sub", json!("t"), "sub is not the ID token's"),
            ("vot", json!("P1"), "vot"),
            ("exp", json!(NOW - 60), "exp"),
            ("vc", json!({"type": ["VerifiableCredential"]}), "vc.type"),
        ];
        for (field, value, why) in cases {
            let mut c = claims();
            c.insert(field.into(), value);
            assert_eq!(core_identity(&did, &sign(&c), &expected), Err(why), "{field}");
        }
        let unnamed = key.sign_jwt("JWT", &claims()).unwrap();
        assert_eq!(
            core_identity(&did, &unnamed, &expected),
            Err("kid not in the DID document")
        );
    }
}
