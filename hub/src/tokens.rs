//! The claim sets the hub signs, as typed structs (INTERFACE.md §4 ID token, §5 identity credential,
//! §6 logout token; OIDC Core §2, Back-Channel Logout 1.0 §2.4), and the grants the store keeps
//! behind a code and an access token (§3). Pure data and pure builders; signing is the caller's.

use crate::{
    ids::{ClientId, PairwiseSub, Sid},
    vtr::Vector,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The event of a back-channel logout token (Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// `typ` of a logout token (Back-Channel Logout 1.0 §2.4; RFC 8725 §3.11 explicit typing).
pub const LOGOUT_TYP: &str = "logout+jwt";
/// Lifetime of a logout token, seconds (INTERFACE.md §6).
pub const LOGOUT_TOKEN_TTL: i64 = 120;
/// Lifetime of an identity credential, seconds (INTERFACE.md §5).
pub const CORE_IDENTITY_TTL: i64 = 1800;

/// An ID token's claims (OIDC Core §2, INTERFACE.md §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: PairwiseSub,
    pub aud: ClientId,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The credential level reached, e.g. `Cl.Cm`.
    pub vot: String,
    /// The trustmark URL.
    pub vtm: String,
    pub sid: Sid,
    pub auth_time: i64,
    pub at_hash: String,
}

/// A back-channel logout token's claims: no `nonce`, one event, the session's `sid` for the service
/// (Back-Channel Logout 1.0 §2.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub aud: ClientId,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: PairwiseSub,
    pub sid: Sid,
    pub events: Map<String, Value>,
}

impl LogoutTokenClaims {
    /// The logout token for one service of an ended session.
    pub fn new(issuer: &str, client_id: ClientId, sub: PairwiseSub, sid: Sid, jti: String, now: i64) -> Self {
        let mut events = Map::new();
        events.insert(LOGOUT_EVENT.into(), Value::Object(Map::new()));
        Self {
            iss: issuer.to_string(),
            aud: client_id,
            iat: now,
            exp: now + LOGOUT_TOKEN_TTL,
            jti,
            sub,
            sid,
            events,
        }
    }
}

/// The `vc` member of an identity credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiableCredential {
    #[serde(rename = "type")]
    pub kind: Vec<String>,
    #[serde(rename = "credentialSubject")]
    pub credential_subject: CredentialSubject,
}

/// Who a credential is about, in One Login's vocabulary (INTERFACE.md §5): names as name parts, and
/// birth dates. Personal data: its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialSubject {
    pub name: Vec<Name>,
    #[serde(rename = "birthDate")]
    pub birth_date: Vec<BirthDate>,
}

impl std::fmt::Debug for CredentialSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialSubject(redacted)")
    }
}

/// One name of a person, as its parts.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Name {
    #[serde(rename = "nameParts")]
    pub name_parts: Vec<NamePart>,
}

/// A part of a name: `GivenName` or `FamilyName`, and its value.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct NamePart {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// A birth date, `YYYY-MM-DD`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct BirthDate {
    pub value: String,
}

/// A `coreIdentityJWT`'s claims (INTERFACE.md §5), as One Login issues them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreIdentityClaims {
    pub iss: String,
    pub sub: PairwiseSub,
    pub aud: ClientId,
    pub nbf: i64,
    pub iat: i64,
    pub exp: i64,
    /// The identity level reached, e.g. `P2`.
    pub vot: String,
    pub vtm: String,
    pub vc: VerifiableCredential,
}

/// The token endpoint's answer (RFC 6749 §5.1, OIDC Core §3.1.3.3, INTERFACE.md §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a sender-constrained token (RFC 9449 §5).
    pub token_type: String,
    pub expires_in: u64,
    pub id_token: String,
}

/// What an authorization code stands for, kept until it is redeemed or expires (INTERFACE.md §3).
#[derive(Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    /// The pairwise subject for this client's sector.
    pub sub: PairwiseSub,
    /// The vector asserted; the ID token's `vot` is its credential part.
    pub vector: Vector,
    pub auth_time: i64,
    pub sid: Sid,
    /// Claims released through userinfo.
    pub userinfo: Map<String, Value>,
    /// The DPoP key the code is bound to (RFC 9449 §10): the token request's proof must be by it.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
}

impl std::fmt::Debug for CodeGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeGrant")
            .field("client_id", &self.client_id)
            .field("vector", &self.vector)
            .finish_non_exhaustive()
    }
}

/// What an access token stands for, kept for its lifetime (INTERFACE.md §5).
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessGrant {
    pub client_id: ClientId,
    pub sub: PairwiseSub,
    pub userinfo: Map<String, Value>,
    /// The thumbprint of the DPoP key the token is bound to (RFC 9449 §6 `cnf.jkt`); a bound token is
    /// honoured only with a proof by that key.
    #[serde(default)]
    pub jkt: Option<String>,
}

impl std::fmt::Debug for AccessGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessGrant")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn logout_token_claims_follow_the_spec() {
        let c = LogoutTokenClaims::new(
            "https://hub",
            "svc".into(),
            "urn:sub".into(),
            Sid::from_wire("s"),
            "j".into(),
            1000,
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["aud"], "svc");
        assert_eq!(v["exp"], 1120);
        assert!(v["events"].get(LOGOUT_EVENT).is_some());
        assert_eq!(v["sid"], "s");
        assert!(v.get("nonce").is_none(), "a logout token must not carry a nonce");
    }

    #[test]
    fn an_id_token_without_nonce_has_no_nonce_member() {
        let c = IdTokenClaims {
            iss: "https://hub".into(),
            sub: "urn:s".into(),
            aud: "svc".into(),
            iat: 1,
            exp: 121,
            nonce: None,
            vot: "Cl.Cm".into(),
            vtm: "https://hub/trustmark".into(),
            sid: Sid::from_wire("sid"),
            auth_time: 1,
            at_hash: "h".into(),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert!(v.get("nonce").is_none());
        assert_eq!(v["sid"], "sid");
    }
}
