//! The identity credential in userinfo (`https://vocab.account.gov.uk/v1/coreIdentityJWT`, INTERFACE.md §5),
//! and the other identity claims that may come with it.
//!
//! [`validate`] is a pure function: given the JWT, the identity issuer's DID document (fetched and cached by
//! [`crate::did::DidCache`]), what we expect (`iss`, `aud`, `sub`) and the time, it checks
//!
//! - the header: `alg` ES256 and nothing else (`none`, HMAC and RSA are refused before any key is looked at);
//!   `kid` = `<DID document id>#<key id>`, naming an `assertionMethod` entry of type `JsonWebKey`;
//! - the DID document: its `id` is the `did:web` DID of the identity issuer (`http://127.0.0.1:8080` →
//!   `did:web:127.0.0.1%3A8080`), so that a document cannot speak for another issuer;
//! - the signature, with that entry's `publicKeyJwk` (pinned to ES256, P-256);
//! - the claims: `iss` = the identity issuer, `aud` = our client id (a string, or an array containing it),
//!   `sub` = the ID token's `sub`, `exp` in the future, `nbf`/`iat` not in the future (30 s of skew), `vot`
//!   one of `P1`..`P3`, and `vc.type` containing `VerifiableIdentityCredential`;
//!
//! and extracts the name (given names, family names) and birth date of `vc.credentialSubject`.

use serde_json::{Map, Value};

/// The userinfo claim carrying the identity credential.
pub const CORE_IDENTITY_CLAIM: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";
/// The userinfo claim with the person's addresses (plain JSON).
pub const ADDRESS_CLAIM: &str = "https://vocab.account.gov.uk/v1/address";
/// The userinfo claim with the passport used in the identity check (plain JSON).
pub const PASSPORT_CLAIM: &str = "https://vocab.account.gov.uk/v1/passport";
/// The userinfo claim with the driving permit used in the identity check (plain JSON).
pub const DRIVING_PERMIT_CLAIM: &str = "https://vocab.account.gov.uk/v1/drivingPermit";
/// The userinfo claim with return codes (`[{"code": "X"}]`): a failed check, or one the service must look into.
pub const RETURN_CODE_CLAIM: &str = "https://vocab.account.gov.uk/v1/returnCode";

/// The only algorithm an identity credential may be signed with.
pub const CORE_IDENTITY_ALG: &str = "ES256";
/// Clock skew allowed on `nbf` and `iat`: the federation's one value.
pub const SKEW_SECS: u64 = keys::SKEW_SECS as u64;
/// The identity levels a credential may state in `vot`.
pub const IDENTITY_LEVELS: [&str; 3] = ["P1", "P2", "P3"];
/// The `type` an identity credential's `vc` must have.
pub const IDENTITY_CREDENTIAL_TYPE: &str = "VerifiableIdentityCredential";

/// What the credential must say: the identity issuer, our client id and the ID token's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The identity issuer (`iss`); its DID is derived from it.
    pub issuer: &'a str,
    /// Our client id (`aud`).
    pub client_id: &'a str,
    /// The ID token's `sub`.
    pub sub: &'a str,
}

/// A validated identity credential: what the service may rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreIdentity {
    /// The compact JWT, as received.
    pub jwt: String,
    /// The `kid` it was verified with (`did:web:…#…`).
    pub kid: String,
    /// The identity level reached (`P1`..`P3`).
    pub vot: String,
    /// The trust mark URL, if sent.
    pub vtm: Option<String>,
    /// The given names of the current name, in order.
    pub given_names: Vec<String>,
    /// The family names of the current name, in order.
    pub family_names: Vec<String>,
    /// The current birth date, as received (`YYYY-MM-DD`).
    pub birth_date: Option<String>,
    /// The verified claims, for display.
    pub claims: Map<String, Value>,
}

impl CoreIdentity {
    /// Given names then family names, space-separated; `None` when the credential has no name.
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .given_names
            .iter()
            .chain(&self.family_names)
            .map(String::as_str)
            .filter(|p| !p.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The identity level as a number (`P2` → 2), for comparing with the level asked for.
    pub fn level(&self) -> u8 {
        identity_level(&self.vot).unwrap_or(0)
    }
}

/// `P1` → 1 … `P3` → 3; anything else is `None`.
pub fn identity_level(vot: &str) -> Option<u8> {
    match vot {
        "P1" => Some(1),
        "P2" => Some(2),
        "P3" => Some(3),
        _ => None,
    }
}

/// Why a credential was refused. `Display` names the failed check; it is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreIdentityError {
    /// Not a compact JWS with a JSON header and payload.
    #[error("malformed credential: {0}")]
    Malformed(String),
    /// The header `alg` is not ES256 (`none` included).
    #[error("algorithm {0:?} is not accepted (ES256 only)")]
    AlgorithmNotAccepted(String),
    /// The DID document is not one we can use (no `id`, or not the identity issuer's DID).
    #[error("DID document refused: {0}")]
    DidDocument(String),
    /// The header `kid` is missing, not a key of the DID document, or its entry is unusable.
    #[error("kid refused: {0}")]
    UnknownKid(String),
    /// The signature does not verify with the key named by `kid`.
    #[error("signature refused: {0}")]
    Signature(String),
    /// `iss` is not the identity issuer.
    #[error("iss {0:?} is not the identity issuer")]
    Issuer(Option<String>),
    /// `aud` does not contain our client id.
    #[error("aud does not contain our client id")]
    Audience,
    /// `sub` is not the ID token's.
    #[error("sub differs from the ID token's")]
    Subject,
    /// `exp` is missing or not in the future.
    #[error("expired (or no exp)")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("not yet valid ({0} is in the future)")]
    NotYetValid(&'static str),
    /// A time claim is not a number.
    #[error("{0} is not a number")]
    BadTime(&'static str),
    /// `vot` is missing or not an identity level.
    #[error("vot {0:?} is not P1, P2 or P3")]
    Vot(Option<String>),
    /// `vc` is missing, or not an identity credential.
    #[error("not an identity credential: {0}")]
    NotAnIdentityCredential(String),
}

/// The header `kid` of a credential, without verifying anything (to pick or refetch the DID document).
pub fn kid_of(jwt: &str) -> Option<String> {
    keys::decode_header(jwt).ok()?.kid
}

pub use keys::did::{assertion_method, did_web};

/// Verifies and checks an identity credential (see the module documentation). Pure: no I/O, no clock.
pub fn validate(jwt: &str, did: &Value, expected: &Expected<'_>, now: u64) -> Result<CoreIdentity, CoreIdentityError> {
    let header = keys::decode_header(jwt).map_err(|e| CoreIdentityError::Malformed(e.to_string()))?;
    if header.alg != CORE_IDENTITY_ALG {
        return Err(CoreIdentityError::AlgorithmNotAccepted(header.alg));
    }

    // The DID document must be the identity issuer's.
    let did_id = did
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| CoreIdentityError::DidDocument("no id".into()))?;
    let issuer_did = did_web(expected.issuer)
        .ok_or_else(|| CoreIdentityError::DidDocument(format!("issuer {:?} is not a URL", expected.issuer)))?;
    if did_id != issuer_did {
        return Err(CoreIdentityError::DidDocument(format!(
            "id {did_id:?} is not the identity issuer's {issuer_did:?}"
        )));
    }

    // The kid names one of its assertion methods.
    let kid = header
        .kid
        .clone()
        .ok_or_else(|| CoreIdentityError::UnknownKid("no kid in the header".into()))?;
    let fragment = kid
        .strip_prefix(did_id)
        .and_then(|rest| rest.strip_prefix('#'))
        .ok_or_else(|| CoreIdentityError::UnknownKid(format!("{kid:?} is not {did_id}#<key id>")))?;
    if fragment.is_empty() {
        return Err(CoreIdentityError::UnknownKid(format!("{kid:?} has an empty fragment")));
    }
    let method = assertion_method(did, &kid)
        .ok_or_else(|| CoreIdentityError::UnknownKid(format!("{kid:?} is not an assertionMethod of {did_id}")))?;
    if method.get("type").and_then(Value::as_str) != Some("JsonWebKey") {
        return Err(CoreIdentityError::UnknownKid(format!(
            "{kid:?} is not of type JsonWebKey"
        )));
    }
    let mut jwk = method
        .get("publicKeyJwk")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| CoreIdentityError::UnknownKid(format!("{kid:?} has no publicKeyJwk")))?;
    if jwk.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
        return Err(CoreIdentityError::UnknownKid(format!("{kid:?} is not a signing key")));
    }
    // The JWK's own kid is the fragment; the JWT names the whole DID URL. Verify under the latter.
    jwk.insert("kid".into(), Value::String(kid.clone()));
    let key = keys::VerifyingKey::from_jwk(&Value::Object(jwk))
        .map_err(|e| CoreIdentityError::UnknownKid(format!("{kid:?}: {e}")))?;
    if key.alg() != CORE_IDENTITY_ALG {
        return Err(CoreIdentityError::UnknownKid(format!(
            "{kid:?} is pinned to {}, not ES256",
            key.alg()
        )));
    }
    let (_, claims) = keys::VerifyingKeys::new(vec![key])
        .verify(jwt)
        .map_err(|e| CoreIdentityError::Signature(e.to_string()))?;

    check_claims(&claims, expected, now)?;
    let vot = match claims.get("vot").and_then(Value::as_str) {
        Some(vot) if IDENTITY_LEVELS.contains(&vot) => vot.to_string(),
        other => return Err(CoreIdentityError::Vot(other.map(str::to_string))),
    };
    let subject = identity_subject(&claims)?;
    let (given_names, family_names) = current(subject.get("name")).map(name_parts).unwrap_or_default();
    let birth_date = current(subject.get("birthDate"))
        .and_then(|d| d.get("value"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(CoreIdentity {
        jwt: jwt.to_string(),
        kid,
        vot,
        vtm: claims.get("vtm").and_then(Value::as_str).map(str::to_string),
        given_names,
        family_names,
        birth_date,
        claims,
    })
}

/// `iss`, `aud`, `sub` and the times.
fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>, now: u64) -> Result<(), CoreIdentityError> {
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(expected.issuer) {
        return Err(CoreIdentityError::Issuer(iss.map(str::to_string)));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected.client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expected.client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(CoreIdentityError::Audience);
    }
    if claims.get("sub").and_then(Value::as_str) != Some(expected.sub) {
        return Err(CoreIdentityError::Subject);
    }
    match time(claims, "exp")? {
        Some(exp) if exp > now => {}
        _ => return Err(CoreIdentityError::Expired),
    }
    for name in ["nbf", "iat"] {
        if time(claims, name)?.is_some_and(|t| t > now + SKEW_SECS) {
            return Err(CoreIdentityError::NotYetValid(name));
        }
    }
    Ok(())
}

/// A NumericDate claim (seconds; fractions dropped), `None` when absent.
fn time(claims: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, CoreIdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => match (value.as_u64(), value.as_f64()) {
            (Some(t), _) => Ok(Some(t)),
            (None, Some(t)) if t.is_finite() && t >= 0.0 => Ok(Some(t as u64)),
            _ => Err(CoreIdentityError::BadTime(name)),
        },
    }
}

/// `vc.credentialSubject`, once `vc.type` is checked.
fn identity_subject(claims: &Map<String, Value>) -> Result<&Map<String, Value>, CoreIdentityError> {
    let vc = claims
        .get("vc")
        .and_then(Value::as_object)
        .ok_or_else(|| CoreIdentityError::NotAnIdentityCredential("no vc".into()))?;
    let is_identity = vc
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some(IDENTITY_CREDENTIAL_TYPE)));
    if !is_identity {
        return Err(CoreIdentityError::NotAnIdentityCredential(format!(
            "vc.type lacks {IDENTITY_CREDENTIAL_TYPE}"
        )));
    }
    vc.get("credentialSubject")
        .and_then(Value::as_object)
        .ok_or_else(|| CoreIdentityError::NotAnIdentityCredential("no vc.credentialSubject".into()))
}

/// The current entry of a One Login history array (`name`, `birthDate`): the first without `validUntil`,
/// else the first.
fn current(list: Option<&Value>) -> Option<&Value> {
    let list = list?.as_array()?;
    list.iter()
        .find(|e| e.get("validUntil").is_none_or(Value::is_null))
        .or_else(|| list.first())
}

/// The given and family names of a name entry, each in order.
fn name_parts(name: &Value) -> (Vec<String>, Vec<String>) {
    let mut given = Vec::new();
    let mut family = Vec::new();
    for part in name.get("nameParts").and_then(Value::as_array).into_iter().flatten() {
        let Some(value) = part.get("value").and_then(Value::as_str) else {
            continue;
        };
        match part.get("type").and_then(Value::as_str) {
            Some("GivenName") => given.push(value.to_string()),
            Some("FamilyName") => family.push(value.to_string()),
            _ => {}
        }
    }
    (given, family)
}

/// The codes of a `returnCode` claim (`[{"code": "X"}, …]`), in order; `None` when the claim is absent.
pub fn return_codes(userinfo: &Map<String, Value>) -> Option<Vec<String>> {
    let list = userinfo.get(RETURN_CODE_CLAIM)?.as_array()?;
    Some(
        list.iter()
            .filter_map(|c| c.get("code").and_then(Value::as_str).map(str::to_string))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "http://127.0.0.1:8080";
    const DID: &str = "did:web:127.0.0.1%3A8080";
    const CLIENT: &str = "rp-example";
    const SUB: &str = "urn:fdc:gov.uk:2022:abc";
    const NOW: u64 = 1_700_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            client_id: CLIENT,
            sub: SUB,
        }
    }

    /// A DID document listing `keys` as JsonWebKey assertion methods.
    fn did_document(keys: &[&keys::SigningKey]) -> Value {
        let methods: Vec<Value> = keys
            .iter()
            .map(|k| {
                json!({
                    "id": format!("{DID}#{}", k.kid()), "type": "JsonWebKey", "controller": DID,
                    "publicKeyJwk": k.public_jwk(),
                })
            })
            .collect();
        json!({
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
            "id": DID,
            "assertionMethod": methods,
        })
    }

    fn good_claims() -> Map<String, Value> {
        let claims = json!({
            "iss": ISSUER, "sub": SUB, "aud": CLIENT, "nbf": NOW - 1, "iat": NOW - 1, "exp": NOW + 1800,
            "vot": "P2", "vtm": format!("{ISSUER}/trustmark"),
            "vc": {
                "type": ["VerifiableCredential", "VerifiableIdentityCredential"],
                "credentialSubject": {
                    "name": [{"nameParts": [
                        {"type": "GivenName", "value": "Kenneth"},
                        {"type": "GivenName", "value": "Peter"},
                        {"type": "FamilyName", "value": "Decerqueira"},
                    ]}],
                    "birthDate": [{"value": "1965-07-08"}],
                },
            },
        });
        claims.as_object().cloned().unwrap_or_default()
    }

    /// Replaces a signed token's header (the signature then no longer matches; the point is what is refused
    /// before the signature is looked at).
    fn with_header(token: &str, header: Value) -> String {
        let rest = token.split_once('.').map(|(_, r)| r).unwrap_or_default();
        format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
    }

    type Edit = fn(&mut Map<String, Value>);

    struct Case {
        name: &'static str,
        /// Sign with the key outside the DID document.
        other_key: bool,
        /// The kid, `None` for `<DID>#<signing key's kid>`.
        kid: Option<&'static str>,
        /// A header to put instead of the signed one.
        header: Option<Value>,
        edit: Edit,
        expect: fn(&Result<CoreIdentity, CoreIdentityError>) -> bool,
    }

    fn keep(_: &mut Map<String, Value>) {}

    #[test]
    fn validation_table() -> Result<(), Box<dyn std::error::Error>> {
        let key = keys::SigningKey::generate()?;
        let other = keys::SigningKey::generate()?;
        let did = did_document(&[&key]);
        let good_kid = format!("{DID}#{}", key.kid());
        let cases = [
            Case {
                name: "good",
                other_key: false,
                kid: None,
                header: None,
                edit: keep,
                expect: |r| r.as_ref().is_ok_and(|i| i.vot == "P2"),
            },
            Case {
                name: "aud as an array",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("aud".into(), json!(["another", CLIENT]));
                },
                expect: |r| r.is_ok(),
            },
            Case {
                name: "signed by a key not in the DID document, under a listed kid",
                other_key: true,
                kid: None,
                header: None,
                edit: keep,
                expect: |r| matches!(r, Err(CoreIdentityError::Signature(_))),
            },
            Case {
                name: "kid not in the DID document",
                other_key: true,
                kid: Some("other"),
                header: None,
                edit: keep,
                expect: |r| matches!(r, Err(CoreIdentityError::UnknownKid(_))),
            },
            Case {
                name: "kid of another DID",
                other_key: false,
                kid: Some("did:web:evil.example"),
                header: None,
                edit: keep,
                expect: |r| matches!(r, Err(CoreIdentityError::UnknownKid(_))),
            },
            Case {
                name: "kid without the DID",
                other_key: false,
                kid: Some("bare"),
                header: None,
                edit: keep,
                expect: |r| matches!(r, Err(CoreIdentityError::UnknownKid(_))),
            },
            Case {
                name: "alg none",
                other_key: false,
                kid: None,
                header: Some(json!({"alg": "none", "typ": "JWT"})),
                edit: keep,
                expect: |r| matches!(r, Err(CoreIdentityError::AlgorithmNotAccepted(a)) if a == "none"),
            },
            Case {
                name: "alg HS256",
                other_key: false,
                kid: None,
                header: Some(json!({"alg": "HS256", "typ": "JWT"})),
                edit: keep,
                expect: |r| matches!(r, Err(CoreIdentityError::AlgorithmNotAccepted(_))),
            },
            Case {
                name: "alg RS256 (mismatch with the ES256 key)",
                other_key: false,
                kid: None,
                header: Some(json!({"alg": "RS256", "typ": "JWT"})),
                edit: keep,
                expect: |r| matches!(r, Err(CoreIdentityError::AlgorithmNotAccepted(_))),
            },
            Case {
                name: "wrong iss",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("iss".into(), json!("https://identity.account.gov.uk/"));
                },
                expect: |r| matches!(r, Err(CoreIdentityError::Issuer(_))),
            },
            Case {
                name: "wrong aud",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("aud".into(), json!("another-service"));
                },
                expect: |r| matches!(r, Err(CoreIdentityError::Audience)),
            },
            Case {
                name: "wrong sub",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("sub".into(), json!("urn:fdc:gov.uk:2022:someone-else"));
                },
                expect: |r| matches!(r, Err(CoreIdentityError::Subject)),
            },
            Case {
                name: "expired",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("exp".into(), json!(NOW));
                },
                expect: |r| matches!(r, Err(CoreIdentityError::Expired)),
            },
            Case {
                name: "no exp",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.remove("exp");
                },
                expect: |r| matches!(r, Err(CoreIdentityError::Expired)),
            },
            Case {
                name: "not yet valid (nbf)",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("nbf".into(), json!(NOW + SKEW_SECS + 1));
                },
                expect: |r| matches!(r, Err(CoreIdentityError::NotYetValid("nbf"))),
            },
            Case {
                name: "nbf within the skew",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("nbf".into(), json!(NOW + SKEW_SECS));
                },
                expect: |r| r.is_ok(),
            },
            Case {
                name: "issued in the future",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("iat".into(), json!(NOW + 120));
                },
                expect: |r| matches!(r, Err(CoreIdentityError::NotYetValid("iat"))),
            },
            Case {
                name: "no vot",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.remove("vot");
                },
                expect: |r| matches!(r, Err(CoreIdentityError::Vot(None))),
            },
            Case {
                name: "vot not an identity level",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert("vot".into(), json!("Cl.Cm"));
                },
                expect: |r| matches!(r, Err(CoreIdentityError::Vot(Some(_)))),
            },
            Case {
                name: "missing vc",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.remove("vc");
                },
                expect: |r| matches!(r, Err(CoreIdentityError::NotAnIdentityCredential(_))),
            },
            Case {
                name: "vc not an identity credential",
                other_key: false,
                kid: None,
                header: None,
                edit: |c| {
                    c.insert(
                        "vc".into(),
                        json!({"type": ["VerifiableCredential"], "credentialSubject": {}}),
                    );
                },
                expect: |r| matches!(r, Err(CoreIdentityError::NotAnIdentityCredential(_))),
            },
        ];
        for case in cases {
            let signer = if case.other_key { &other } else { &key };
            let kid = match case.kid {
                None => format!("{DID}#{}", signer.kid()),
                Some(k) if k.starts_with("did:") => format!("{k}#{}", signer.kid()),
                Some(k) => k.to_string(),
            };
            // "signed by a key not in the DID document, under a listed kid": the listed kid, the other key.
            let kid = if case.other_key && case.kid.is_none() {
                good_kid.clone()
            } else {
                kid
            };
            let mut claims = good_claims();
            (case.edit)(&mut claims);
            let mut token = signer.sign_jwt_with_kid("JWT", &kid, &claims)?;
            if let Some(header) = case.header {
                let mut header = header;
                header["kid"] = json!(kid);
                token = with_header(&token, header);
            }
            let result = validate(&token, &did, &expected(), NOW);
            assert!((case.expect)(&result), "{}: {result:?}", case.name);
        }
        Ok(())
    }

    #[test]
    fn a_good_credential_gives_name_birth_date_and_level() -> Result<(), Box<dyn std::error::Error>> {
        let key = keys::SigningKey::generate()?;
        let kid = format!("{DID}#{}", key.kid());
        let token = key.sign_jwt_with_kid("JWT", &kid, &good_claims())?;
        let identity = validate(&token, &did_document(&[&key]), &expected(), NOW)?;
        assert_eq!(identity.kid, kid);
        assert_eq!(identity.vot, "P2");
        assert_eq!(identity.level(), 2);
        assert_eq!(identity.given_names, ["Kenneth", "Peter"]);
        assert_eq!(identity.family_names, ["Decerqueira"]);
        assert_eq!(identity.full_name().as_deref(), Some("Kenneth Peter Decerqueira"));
        assert_eq!(identity.birth_date.as_deref(), Some("1965-07-08"));
        assert_eq!(identity.vtm.as_deref(), Some("http://127.0.0.1:8080/trustmark"));
        assert_eq!(kid_of(&token), Some(kid));
        Ok(())
    }

    #[test]
    fn the_current_name_is_the_one_without_valid_until() -> Result<(), Box<dyn std::error::Error>> {
        let key = keys::SigningKey::generate()?;
        let mut claims = good_claims();
        claims["vc"]["credentialSubject"]["name"] = json!([
            {"validUntil": "2020-01-01", "nameParts": [{"type": "GivenName", "value": "Old"}]},
            {"validFrom": "2020-01-01", "nameParts": [
                {"type": "GivenName", "value": "New"}, {"type": "FamilyName", "value": "Name"}]},
        ]);
        let token = key.sign_jwt_with_kid("JWT", &format!("{DID}#{}", key.kid()), &claims)?;
        let identity = validate(&token, &did_document(&[&key]), &expected(), NOW)?;
        assert_eq!(identity.full_name().as_deref(), Some("New Name"));
        Ok(())
    }

    #[test]
    fn the_did_document_must_be_the_issuers_and_its_entry_usable() -> Result<(), Box<dyn std::error::Error>> {
        let key = keys::SigningKey::generate()?;
        let kid = format!("{DID}#{}", key.kid());
        let token = key.sign_jwt_with_kid("JWT", &kid, &good_claims())?;
        let good = did_document(&[&key]);

        let mut other_id = good.clone();
        other_id["id"] = json!("did:web:evil.example");
        assert!(matches!(
            validate(&token, &other_id, &expected(), NOW),
            Err(CoreIdentityError::DidDocument(_))
        ));
        let mut wrong_type = good.clone();
        wrong_type["assertionMethod"][0]["type"] = json!("Multikey");
        assert!(matches!(
            validate(&token, &wrong_type, &expected(), NOW),
            Err(CoreIdentityError::UnknownKid(_))
        ));
        let mut rsa_pinned = good.clone();
        rsa_pinned["assertionMethod"][0]["publicKeyJwk"]["alg"] = json!("ES384");
        assert!(validate(&token, &rsa_pinned, &expected(), NOW).is_err());
        let mut enc = good;
        enc["assertionMethod"][0]["publicKeyJwk"]["use"] = json!("enc");
        assert!(matches!(
            validate(&token, &enc, &expected(), NOW),
            Err(CoreIdentityError::UnknownKid(_))
        ));
        assert!(matches!(
            validate("not-a-jwt", &did_document(&[&key]), &expected(), NOW),
            Err(CoreIdentityError::Malformed(_))
        ));
        Ok(())
    }

    #[test]
    fn did_web_of_issuers() {
        assert_eq!(
            did_web("http://127.0.0.1:8080").as_deref(),
            Some("did:web:127.0.0.1%3A8080")
        );
        assert_eq!(
            did_web("https://identity.account.gov.uk/").as_deref(),
            Some("did:web:identity.account.gov.uk")
        );
        assert_eq!(
            did_web("https://example.gov.uk/identity").as_deref(),
            Some("did:web:example.gov.uk:identity")
        );
        assert_eq!(did_web("not a url"), None);
    }

    #[test]
    fn return_codes_in_order() {
        let userinfo = json!({RETURN_CODE_CLAIM: [{"code": "X"}, {"code": "Y"}]});
        let userinfo = userinfo.as_object().cloned().unwrap_or_default();
        assert_eq!(return_codes(&userinfo), Some(vec!["X".to_string(), "Y".to_string()]));
        assert_eq!(return_codes(&Map::new()), None);
    }
}
