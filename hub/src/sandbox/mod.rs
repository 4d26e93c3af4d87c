//! The sandbox for service teams (in the manner of One Login's simulator): with `federation --sandbox`
//! (never the plain `hub`, whose configuration cannot turn it on), a team forces what the hub answers
//! *their* client, to prove their integration refuses it: broken ID tokens and identity credentials, a
//! chosen `returnCode`, errors at `/authorize`; and it triggers a key rotation or a back-channel logout
//! now. The forced answers are pure changes to the claim sets and signatures the hub would have sent;
//! the pages and the JSON endpoint that set them are [`page`] (`/sandbox`) and [`config`]
//! (`/sandbox/config`).

pub mod config;
pub mod page;

use crate::{
    ids::{ClientId, PairwiseSub, Sid},
    tokens::{CoreIdentityClaims, IdTokenClaims},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use std::{collections::HashMap, sync::Mutex};

/// What the hub is forced to answer a client, until cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forced {
    IdTokenWrongIss,
    IdTokenWrongAud,
    /// Signed with the hub's RS256 key, published in its JWKS, for a client registered for ES256: a
    /// service that does not pin the algorithm takes it.
    IdTokenWrongAlg,
    /// `alg: none`, no signature.
    IdTokenAlgNone,
    IdTokenBadSignature,
    IdTokenExpired,
    /// Issued an hour from now.
    IdTokenNotYetValid,
    IdTokenWrongNonce,
    /// A credential level below the one asked (`Cl` for `Cl.Cm`).
    IdTokenWrongVot,
    CredentialBadSignature,
    CredentialWrongIss,
    CredentialWrongAud,
    CredentialWrongSub,
    CredentialExpired,
    /// This `returnCode` instead of the identity credential.
    ReturnCode(String),
    /// `access_denied` at `/authorize`.
    AccessDenied,
    /// `temporarily_unavailable` at `/authorize`.
    TemporarilyUnavailable,
}

/// Every forced answer without a parameter, by name, in the order the page lists them.
pub const NAMES: &[&str] = &[
    "id-token-wrong-iss",
    "id-token-wrong-aud",
    "id-token-wrong-alg",
    "id-token-alg-none",
    "id-token-bad-signature",
    "id-token-expired",
    "id-token-not-yet-valid",
    "id-token-wrong-nonce",
    "id-token-wrong-vot",
    "credential-bad-signature",
    "credential-wrong-iss",
    "credential-wrong-aud",
    "credential-wrong-sub",
    "credential-expired",
    "access-denied",
    "temporarily-unavailable",
];

impl Forced {
    /// Reads a forced answer's name (`return-code:X` for a return code of one to eight letters).
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(code) = name.strip_prefix("return-code:") {
            return (!code.is_empty() && code.len() <= 8 && code.chars().all(|c| c.is_ascii_alphanumeric()))
                .then(|| Self::ReturnCode(code.to_string()));
        }
        Some(match name {
            "id-token-wrong-iss" => Self::IdTokenWrongIss,
            "id-token-wrong-aud" => Self::IdTokenWrongAud,
            "id-token-wrong-alg" => Self::IdTokenWrongAlg,
            "id-token-alg-none" => Self::IdTokenAlgNone,
            "id-token-bad-signature" => Self::IdTokenBadSignature,
            "id-token-expired" => Self::IdTokenExpired,
            "id-token-not-yet-valid" => Self::IdTokenNotYetValid,
            "id-token-wrong-nonce" => Self::IdTokenWrongNonce,
            "id-token-wrong-vot" => Self::IdTokenWrongVot,
            "credential-bad-signature" => Self::CredentialBadSignature,
            "credential-wrong-iss" => Self::CredentialWrongIss,
            "credential-wrong-aud" => Self::CredentialWrongAud,
            "credential-wrong-sub" => Self::CredentialWrongSub,
            "credential-expired" => Self::CredentialExpired,
            "access-denied" => Self::AccessDenied,
            "temporarily-unavailable" => Self::TemporarilyUnavailable,
            _ => return None,
        })
    }

    /// The forced answer's name, as [`Forced::parse`] reads it.
    pub fn name(&self) -> String {
        match self {
            Self::ReturnCode(code) => format!("return-code:{code}"),
            other => NAMES
                .iter()
                .find(|n| Forced::parse(n).as_ref() == Some(other))
                .map_or_else(String::new, |n| (*n).to_string()),
        }
    }
}

/// The sandbox's state: the answer forced per client, and the last assertion each client received (whom
/// a back-channel logout "now" is about). One process: the sandbox runs in `federation` only.
#[derive(Debug, Default)]
pub struct Sandbox {
    forced: Mutex<HashMap<ClientId, Forced>>,
    last: Mutex<HashMap<ClientId, (PairwiseSub, Sid)>>,
}

impl Sandbox {
    /// Forces `answer` on `client` (or clears it with `None`).
    pub fn force(&self, client: &ClientId, answer: Option<Forced>) {
        if let Ok(mut map) = self.forced.lock() {
            match answer {
                Some(a) => map.insert(client.clone(), a),
                None => map.remove(client),
            };
        }
    }

    /// What is forced on `client`, if anything.
    pub fn forced(&self, client: &ClientId) -> Option<Forced> {
        self.forced.lock().ok()?.get(client).cloned()
    }

    /// Every client's forced answer, for the page.
    pub fn all(&self) -> Vec<(ClientId, Forced)> {
        let mut all: Vec<_> = self
            .forced
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Remembers the subject and session a client was last given.
    pub fn assertion_issued(&self, client: &ClientId, sub: &PairwiseSub, sid: &Sid) {
        if let Ok(mut map) = self.last.lock() {
            map.insert(client.clone(), (sub.clone(), sid.clone()));
        }
    }

    /// The subject and session a client was last given.
    pub fn last_assertion(&self, client: &ClientId) -> Option<(PairwiseSub, Sid)> {
        self.last.lock().ok()?.get(client).cloned()
    }
}

/// The ID token as forced: its claims changed, then signed by `key`, by `rs256` (a key of the hub's
/// published in its JWKS, but not the client's algorithm), or not at all.
pub fn id_token(
    forced: &Forced,
    mut claims: IdTokenClaims,
    key: &keys::SigningKey,
    rs256: &keys::SigningKey,
) -> Result<String, keys::KeyError> {
    match forced {
        Forced::IdTokenWrongIss => claims.iss = format!("{}/not-the-issuer", claims.iss),
        Forced::IdTokenWrongAud => claims.aud = ClientId::from("another-service"),
        Forced::IdTokenExpired => {
            claims.iat -= 3600;
            claims.exp = claims.iat + 120;
        }
        Forced::IdTokenNotYetValid => {
            claims.iat += 3600;
            claims.exp = claims.iat + 120;
        }
        Forced::IdTokenWrongNonce => claims.nonce = Some("not-the-nonce-sent".into()),
        Forced::IdTokenWrongVot => claims.vot = "Cl".into(),
        _ => {}
    }
    match forced {
        Forced::IdTokenWrongAlg => rs256.sign("JWT", &claims),
        Forced::IdTokenAlgNone => Ok(unsigned(&claims)),
        Forced::IdTokenBadSignature => key.sign("JWT", &claims).map(|t| broken(&t)),
        _ => key.sign("JWT", &claims),
    }
}

/// The identity credential's claims as forced (its signature is [`credential_signature`]'s).
pub fn credential(forced: &Forced, claims: &mut CoreIdentityClaims) {
    match forced {
        Forced::CredentialWrongIss => claims.iss = format!("{}/not-the-identity-issuer", claims.iss),
        Forced::CredentialWrongAud => claims.aud = ClientId::from("another-service"),
        Forced::CredentialWrongSub => claims.sub = PairwiseSub::from("urn:fdc:gov.uk:2022:someone-else"),
        Forced::CredentialExpired => {
            claims.nbf -= 7200;
            claims.iat -= 7200;
            claims.exp = claims.iat + 1800;
        }
        _ => {}
    }
}

/// The identity credential's signature as forced.
pub fn credential_signature(forced: &Forced, jwt: String) -> String {
    match forced {
        Forced::CredentialBadSignature => broken(&jwt),
        _ => jwt,
    }
}

/// A compact JWS whose signature no longer matches: its last signature byte changed.
fn broken(jwt: &str) -> String {
    let Some((head, sig)) = jwt.rsplit_once('.') else {
        return jwt.to_string();
    };
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
    if let Some(last) = bytes.last_mut() {
        *last ^= 0x01;
    }
    format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// An `alg: none` JWT of `claims`.
fn unsigned<T: serde::Serialize>(claims: &T) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    format!("{header}.{body}.")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn claims() -> IdTokenClaims {
        IdTokenClaims {
            iss: "https://hub".into(),
            sub: "urn:s".into(),
            aud: "svc".into(),
            iat: 1_000_000,
            exp: 1_000_120,
            nonce: Some("n".into()),
            vot: "Cl.Cm".into(),
            vtm: "https://hub/trustmark".into(),
            sid: Sid::from_wire("sid"),
            auth_time: 1_000_000,
            at_hash: "h".into(),
        }
    }

    #[test]
    fn every_name_reads_back_as_itself() {
        for name in NAMES {
            let forced = Forced::parse(name).unwrap();
            assert_eq!(forced.name(), *name);
        }
        assert_eq!(Forced::parse("return-code:X").unwrap().name(), "return-code:X");
        for bad in [
            "",
            "nope",
            "return-code:",
            "return-code:<script>",
            "return-code:toolongcode",
        ] {
            assert!(Forced::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn each_forced_id_token_fails_the_check_it_names_and_only_that() {
        let key = keys::SigningKey::generate().unwrap();
        let rs = keys::SigningKey::generate_rs256().unwrap();
        let jwks = keys::VerifyingKeys::from_jwks(&keys::jwks([&key, &rs])).unwrap();
        let es_only = keys::VerifyingKeys::from_jwks(&keys::jwks([&key])).unwrap();
        for name in &NAMES[..9] {
            let forced = Forced::parse(name).unwrap();
            let token = id_token(&forced, claims(), &key, &rs).unwrap();
            let verified = jwks.verify(&token);
            let pinned = es_only.verify(&token);
            let c = keys::peek_claims(&token).unwrap();
            let differs = |k: &str| c.get(k) != serde_json::to_value(claims()).unwrap().get(k);
            let (sig_ok, pinned_ok) = (verified.is_ok(), pinned.is_ok());
            match *name {
                "id-token-wrong-alg" => assert!(sig_ok && !pinned_ok, "{name}"),
                "id-token-alg-none" | "id-token-bad-signature" => assert!(!sig_ok, "{name}"),
                "id-token-wrong-iss" => assert!(pinned_ok && differs("iss")),
                "id-token-wrong-aud" => assert!(pinned_ok && differs("aud")),
                "id-token-expired" => assert!(pinned_ok && c["exp"].as_i64().unwrap() < 1_000_000),
                "id-token-not-yet-valid" => assert!(pinned_ok && c["iat"].as_i64().unwrap() > 1_000_000 + 600),
                "id-token-wrong-nonce" => assert!(pinned_ok && differs("nonce")),
                "id-token-wrong-vot" => assert!(pinned_ok && c["vot"] == "Cl"),
                other => panic!("{other} not covered"),
            }
        }
    }
}
