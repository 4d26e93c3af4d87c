//! The `private_key_jwt` client assertion (RFC 7523 §2.2, OIDC Core 1.0 §9; INTERFACE.md §3).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};

/// `client_assertion_type` for a JWT bearer client assertion.
pub const CLIENT_ASSERTION_TYPE: &str = keys::client_assertion::JWT_BEARER;

/// A client assertion signed ES256 by `key` (header `kid` = the key's thumbprint, `typ` JWT), with the
/// federation's claims ([`keys::client_assertion::Claims`]: five minutes, a fresh 256-bit `jti`).
pub fn client_assertion(
    key: &keys::SigningKey,
    client_id: &str,
    token_endpoint: &str,
    now: u64,
) -> Result<String, keys::KeyError> {
    let jti = random_token();
    key.sign(
        "JWT",
        &keys::client_assertion::Claims::new(client_id, token_endpoint, &jti, now as i64),
    )
}

/// 256 random bits as base64url: ids for sessions, pending logins, `jti`, logout `state`.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn assertion_is_signed_es256_with_kid_and_has_the_claims() -> Result<(), keys::KeyError> {
        let key = keys::SigningKey::generate()?;
        let token = client_assertion(&key, "rp-example", "http://hub.test/token", 1_700_000_000)?;
        let verifier = keys::VerifyingKeys::from_jwks(&keys::jwks([&key]))?;
        let (header, claims) = verifier.verify(&token)?;
        assert_eq!(header.alg, "ES256");
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        assert_eq!(claims.get("iss"), Some(&json!("rp-example")));
        assert_eq!(claims.get("sub"), Some(&json!("rp-example")));
        assert_eq!(claims.get("aud"), Some(&json!("http://hub.test/token")));
        assert_eq!(claims.get("iat"), Some(&json!(1_700_000_000u64)));
        assert_eq!(claims.get("exp"), Some(&json!(1_700_000_300u64)));
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
        assert!(
            URL_SAFE_NO_PAD.decode(jti).map(|b| b.len()).unwrap_or(0) >= 16,
            "jti {jti:?}"
        );
        Ok(())
    }

    #[test]
    fn each_assertion_has_a_fresh_jti() -> Result<(), keys::KeyError> {
        let key = keys::SigningKey::generate()?;
        let verifier = keys::VerifyingKeys::from_jwks(&keys::jwks([&key]))?;
        let jti = |t: &str| verifier.verify(t).ok().and_then(|(_, c)| c.get("jti").cloned());
        let a = client_assertion(&key, "c", "http://hub.test/token", 1)?;
        let b = client_assertion(&key, "c", "http://hub.test/token", 1)?;
        assert!(jti(&a).is_some());
        assert_ne!(jti(&a), jti(&b));
        Ok(())
    }

    #[test]
    fn assertion_is_refused_by_another_key() -> Result<(), keys::KeyError> {
        let key = keys::SigningKey::generate()?;
        let other = keys::SigningKey::generate()?;
        let token = client_assertion(&key, "c", "http://hub.test/token", 1)?;
        assert!(keys::VerifyingKeys::from_jwks(&keys::jwks([&other]))?
            .verify(&token)
            .is_err());
        Ok(())
    }
}
