//! Random identifiers and secrets, and the hashes under which the store keeps them.
//!
//! Codes, access tokens and journey ids are 256-bit random values (RFC 6749 §10.10 asks for at least 128).
//! The store keys single-use secrets by their SHA-256, so a dump of Redis yields nothing redeemable.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh 256-bit random value, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url(SHA-256(value)), the key under which a secret is stored.
pub fn hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// RFC 7636 §4.2 S256: base64url(SHA-256(ASCII(code_verifier))).
pub fn pkce_challenge(verifier: &str) -> String {
    hash(verifier)
}

/// Whether `verifier` answers `challenge` under S256, compared in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use subtle::ConstantTimeEq;
    pkce_challenge(verifier).as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// OIDC Core §3.1.3.6 `at_hash`: the left half of SHA-256 of the access token, base64url.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "(…)"))
            }
        }

        impl $name {
            /// A fresh random value.
            pub fn generate() -> Self {
                Self(random_token())
            }

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

secret_newtype!(
    /// The id of one authorization journey, held in the `__Host-hub-journey` cookie.
    JourneyId
);
secret_newtype!(
    /// An authorization code given to a relying service (single use, 5 minutes).
    AuthCode
);
secret_newtype!(
    /// A Bearer access token for `/userinfo` (180 seconds).
    AccessToken
);
secret_newtype!(
    /// A hub single sign-on session id, held in the `__Host-hub-session` cookie.
    SessionId
);

/// Compares two secrets in constant time (length is not secret).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(pkce_challenge(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches("wrong", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(format!("{:?}", AuthCode(a)), "AuthCode(…)");
    }
}
