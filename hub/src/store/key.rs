//! Every store key the hub writes, made in one place. Secrets that name a key (codes, tokens, cookie
//! values, upstream states) appear only as their SHA-256, so a dump of the store holds nothing a person
//! or a service could present.
//!
//! On a Redis Cluster each key lives in the slot of its whole name: every store operation touches one
//! key, so none needs a hash tag (`{…}`). A script or transaction over several keys would need them to
//! share one, by a tag made here.

use crate::ids::{hash, AccessToken, AuthCode, ClientId, JourneyId, SessionId, UpstreamState};

/// One sign-in journey.
pub fn journey(id: &JourneyId) -> String {
    format!("journey:{}", hash(id.as_str()))
}

/// The journey an upstream `state` belongs to (single use).
pub fn upstream_state(state: &UpstreamState) -> String {
    format!("upstate:{}", hash(state.as_str()))
}

/// What an authorization code stands for (single use).
pub fn code(code: &AuthCode) -> String {
    format!("code:{}", hash(code.as_str()))
}

/// The marker a redeemed code leaves: the hash of the access token it was exchanged for.
pub fn used_code(code: &AuthCode) -> String {
    format!("usedcode:{}", hash(code.as_str()))
}

/// What an access token stands for.
pub fn access_token(token: &AccessToken) -> String {
    access_token_hash(&hash(token.as_str()))
}

/// An access token by its hash (as a used code's marker holds it).
pub fn access_token_hash(token_hash: &str) -> String {
    format!("at:{token_hash}")
}

/// A hub single sign-on session.
pub fn session(id: &SessionId) -> String {
    format!("session:{}", hash(id.as_str()))
}

/// A pushed authorization request (RFC 9126), by the hash of its `request_uri`.
pub fn pushed(request_uri_hash: &str) -> String {
    format!("par:{request_uri_hash}")
}

/// The marker that a pushed request has yielded its one code.
pub fn pushed_spent(request_uri_hash: &str) -> String {
    format!("parspent:{request_uri_hash}")
}

/// A DPoP proof's `jti`, kept while the proof could be replayed (RFC 9449 §11.1), per key.
pub fn dpop_jti(jkt: &str, jti: &str) -> String {
    format!("dpopjti:{}:{}", hash(jkt), hash(jti))
}

/// A client assertion's `jti`, kept until the assertion expires (replay cache).
pub fn jti(client: &ClientId, jti: &str) -> String {
    format!("jti:{}:{}", client, hash(jti))
}
