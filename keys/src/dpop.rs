//! DPoP proofs (RFC 9449 §4): a JWT of type `dpop+jwt` signed by a key the client holds, whose public half
//! travels in the header. [`verify`] checks the JOSE side (§4.3 steps 2–6: one well-formed JWS, the type,
//! an accepted asymmetric `alg`, a public `jwk` that verifies the signature) and gives the claims and
//! the key's thumbprint; the claim rules (`htm`, `htu`, `iat`, `jti`, `nonce`, `ath`) are the server's.
//! [`proof`] makes one, for clients and tests.

use crate::{thumbprint, KeyError, SigningKey, VerifyingKey, VerifyingKeys, MAX_TOKEN_BYTES};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use josekit::jwk::Jwk;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const TYP: &str = "dpop+jwt";

/// JWK members that only a private key has: a proof carrying one is refused (RFC 9449 §4.3 step 6).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A proof whose signature checked with the key in its header.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The RFC 7638 thumbprint of the proof's key (`jkt`).
    pub jkt: String,
    /// The proof's `alg`.
    pub alg: String,
    /// The proof's claims, unchecked.
    pub claims: Map<String, Value>,
}

/// Checks a DPoP proof's form and signature with the key it carries, `alg` one of `accepted`.
pub fn verify(token: &str, accepted: &[&str]) -> Result<Verified, KeyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(KeyError::Malformed("the proof is too long".into()));
    }
    let head = token
        .split('.')
        .next()
        .ok_or_else(|| KeyError::Malformed("not a compact JWS".into()))?;
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(head)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| KeyError::Malformed("the header is not a base64url JSON object".into()))?;
    if header.get("typ").and_then(Value::as_str) != Some(TYP) {
        return Err(KeyError::Malformed("typ must be dpop+jwt".into()));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !accepted.contains(&alg.as_str()) {
        return Err(KeyError::AlgorithmNotAccepted(alg));
    }
    let mut jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| KeyError::Malformed("the header has no jwk".into()))?;
    if header.contains_key("kid") || header.contains_key("crit") || header.contains_key("b64") {
        return Err(KeyError::Malformed(
            "a DPoP proof names its key by jwk alone, without crit or b64".into(),
        ));
    }
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(KeyError::InvalidKey("the jwk is a private key".into()));
    }
    if jwk.get("alg").and_then(Value::as_str).is_some_and(|a| a != alg) {
        return Err(KeyError::AlgorithmMismatch {
            token: alg,
            key: jwk.get("alg").and_then(Value::as_str).unwrap_or_default().to_string(),
        });
    }
    // The key is pinned to the header's alg; a kid in the header has nothing to select here.
    jwk.insert("alg".into(), Value::String(alg.clone()));
    jwk.remove("kid");
    let parsed = Jwk::from_map(jwk.clone()).map_err(|e| KeyError::InvalidKey(e.to_string()))?;
    let jkt = thumbprint(&parsed)?;
    let key = VerifyingKey::from_jwk(&Value::Object(jwk))?;
    let (_, claims) = VerifyingKeys::new(vec![key]).verify(token)?;
    Ok(Verified { jkt, alg, claims })
}

/// `ath`: the base64url SHA-256 of an access token (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// A DPoP proof for a request (`htm` method, `htu` URL without query and fragment), with the server's
/// nonce and, at a resource, the access token's hash.
pub fn proof(
    key: &SigningKey,
    htm: &str,
    htu: &str,
    now: i64,
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> Result<String, KeyError> {
    let mut claims = Map::new();
    let jti = URL_SAFE_NO_PAD.encode(josekit::util::random_bytes(16));
    claims.insert("jti".into(), Value::String(jti));
    claims.insert("htm".into(), Value::String(htm.to_string()));
    claims.insert("htu".into(), Value::String(htu.to_string()));
    claims.insert("iat".into(), Value::from(now));
    if let Some(n) = nonce {
        claims.insert("nonce".into(), Value::String(n.to_string()));
    }
    if let Some(t) = access_token {
        claims.insert("ath".into(), Value::String(ath(t)));
    }
    key.sign_with_jwk(TYP, &claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_made_here_verifies_and_names_its_key() -> Result<(), KeyError> {
        let key = SigningKey::generate()?;
        let token = proof(&key, "POST", "https://hub.example/token", 1_000, Some("n"), Some("at"))?;
        let verified = verify(&token, &["ES256", "PS256"])?;
        assert_eq!(verified.jkt, key.thumbprint()?);
        assert_eq!(verified.claims.get("htm"), Some(&Value::from("POST")));
        assert_eq!(verified.claims.get("nonce"), Some(&Value::from("n")));
        assert_eq!(verified.claims.get("ath"), Some(&Value::from(ath("at"))));
        Ok(())
    }

    #[test]
    fn proofs_of_the_wrong_form_are_refused() -> Result<(), KeyError> {
        let key = SigningKey::generate()?;
        let good = proof(&key, "POST", "https://hub.example/token", 1_000, None, None)?;
        let parts: Vec<&str> = good.split('.').collect();
        let header: Map<String, Value> = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(parts[0])
                .map_err(|e| KeyError::Malformed(e.to_string()))?,
        )
        .map_err(|e| KeyError::Malformed(e.to_string()))?;
        let with_header = |edit: &dyn Fn(&mut Map<String, Value>)| {
            let mut h = header.clone();
            edit(&mut h);
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(Value::Object(h).to_string()),
                parts[1],
                parts[2]
            )
        };
        let other = SigningKey::generate()?;
        let cases: Vec<(&str, String)> = vec![
            (
                "other typ",
                with_header(&|h| {
                    h.insert("typ".into(), "JWT".into());
                }),
            ),
            (
                "alg none",
                with_header(&|h| {
                    h.insert("alg".into(), "none".into());
                }),
            ),
            (
                "HS256",
                with_header(&|h| {
                    h.insert("alg".into(), "HS256".into());
                }),
            ),
            (
                "no jwk",
                with_header(&|h| {
                    h.remove("jwk");
                }),
            ),
            (
                "another key",
                with_header(&|h| {
                    h.insert("jwk".into(), other.public_jwk());
                }),
            ),
            (
                "a private key",
                with_header(&|h| {
                    if let Some(Value::Object(j)) = h.get_mut("jwk") {
                        j.insert("d".into(), "AAAA".into());
                    }
                }),
            ),
            (
                "a kid",
                with_header(&|h| {
                    h.insert("kid".into(), "k".into());
                }),
            ),
            ("garbage", "a.b.c".to_string()),
            ("too long", "a".repeat(MAX_TOKEN_BYTES + 1)),
        ];
        for (name, token) in cases {
            assert!(verify(&token, &["ES256", "PS256"]).is_err(), "{name} was accepted");
        }
        assert!(verify(&good, &["PS256"]).is_err(), "an alg not accepted");
        Ok(())
    }
}
