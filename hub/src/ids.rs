//! Typed identifiers and secrets (STYLE.md §8), and the hashes under which the store keeps secrets.
//!
//! Codes, access tokens, journey and session ids are 256-bit random values (RFC 6749 §10.10 asks for at
//! least 128). Secrets have a redacted `Debug`; the store keys single-use secrets by their SHA-256, so a
//! dump of Redis yields nothing redeemable.

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

/// Compares two secrets in constant time (length is not secret).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A public identifier: shown in logs and metrics, compared as a string.
macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The identifier as written in registries and on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

public_id!(
    /// A relying service's `client_id` (INTERFACE.md §8).
    ClientId
);
public_id!(
    /// An identity provider's id in the provider registry (INTERFACE.md §9); never sent to services.
    ProviderId
);
public_id!(
    /// A pairwise subject identifier (OIDC Core §8.1): what one sector knows a person by.
    PairwiseSub
);

/// A random secret: redacted in `Debug`, generated fresh, compared in constant time.
macro_rules! secret_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(…)"))
            }
        }

        impl $name {
            /// A fresh random value.
            pub fn generate() -> Self {
                Self(random_token())
            }

            /// A value received from outside (a cookie, a form, a token request); not yet trusted.
            pub fn from_wire(value: &str) -> Self {
                Self(value.to_string())
            }

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether two values are equal, compared in constant time.
            pub fn same_as(&self, other: &str) -> bool {
                constant_time_eq(&self.0, other)
            }
        }
    };
}

secret_id!(
    /// The id of one authorization journey.
    JourneyId
);
secret_id!(
    /// The browser a journey belongs to, held in the `__Host-hub-browser` cookie; journeys keep only its hash.
    BrowserId
);
secret_id!(
    /// An authorization code given to a relying service (single use, 5 minutes at most).
    AuthCode
);
secret_id!(
    /// A Bearer access token for `/userinfo` (180 seconds).
    AccessToken
);
secret_id!(
    /// A hub single sign-on session id, held in the `__Host-hub-session` cookie.
    SessionId
);
secret_id!(
    /// The opaque `sid` of one journey's assertion (OIDC Front/Back-Channel Logout `sid`), not linkable
    /// across services.
    Sid
);
secret_id!(
    /// The hub's own `state` towards a provider, one per attempt.
    UpstreamState
);

impl Sid {
    /// The `sid` a service knows a hub session by (OIDC Back-Channel Logout 1.0 §2.1): the same in every
    /// ID token and logout token of that session for that service, and unlinkable across services.
    pub fn of_session(session: &SessionId, client: &ClientId) -> Self {
        Self(hash(&format!("sid:{}:{}", session.as_str(), client.as_str())))
    }
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
    fn tokens_are_long_distinct_and_redacted() {
        let (a, b) = (AuthCode::generate(), AuthCode::generate());
        assert_eq!(a.as_str().len(), 43);
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "AuthCode(…)");
        assert!(a.same_as(a.as_str()));
        assert!(!a.same_as(b.as_str()));
        assert_eq!(ClientId::from("svc"), "svc");
    }
}
