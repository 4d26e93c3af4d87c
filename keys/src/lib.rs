//! Signing keys for the federation (INTERFACE.md §7): ES256 key generation, loading from PEM files,
//! JWKS rendering (RFC 7517), compact JWS signing (RFC 7515) and verification with `alg` pinned per key.
//!
//! A key's id is its RFC 7638 thumbprint, so a PEM file is all there is to a key: no side file can drift.
//! Verification never accepts `none` or HMAC, and a token whose header `alg` differs from the algorithm
//! its key is pinned to is refused (RFC 8725 §3.1).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use josekit::{
    jwk::Jwk,
    jws::{JwsHeader, JwsSigner, JwsVerifier, ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512},
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::{fmt, path::Path};

pub mod audit_key;
pub mod client_assertion;
pub mod did;
pub mod dpop;
pub mod ring;

/// Clock skew every party of the federation tolerates on `iat` and `nbf` (and past `exp` where a check
/// allows it), seconds: one value, so the hub, the stub and services agree.
pub const SKEW_SECS: i64 = 30;

/// Everything that can go wrong with a key or a token; `Display` is safe to show to a caller.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not accepted")]
    AlgorithmNotAccepted(String),
    #[error("no key matches the token (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("token alg {token} does not match the key's pinned alg {key}")]
    AlgorithmMismatch { token: String, key: String },
    #[error("signature is invalid")]
    BadSignature,
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Signature algorithms a verifier may be pinned to. `none` and the HMAC family are absent by design.
pub const ACCEPTED_ALGS: &[&str] = &[
    "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
];

/// A private signing key (ES256 on P-256, or RS256 for services that need RSA) with its thumbprint key
/// id. `Debug` never shows the private key.
pub struct SigningKey {
    kid: String,
    alg: &'static str,
    signer: Box<dyn JwsSigner>,
    public_jwk: Jwk,
    private_pem: Vec<u8>,
    public_pem: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn invalid(e: impl fmt::Display) -> KeyError {
    KeyError::InvalidKey(e.to_string())
}

impl SigningKey {
    /// A fresh P-256 key pair from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = ES256.generate_key_pair().map_err(invalid)?;
        Self::from_pem(&pair.to_pem_private_key())
    }

    /// A fresh 2048-bit RSA key pair, for RS256 (ID tokens for services registered for RS256).
    pub fn generate_rs256() -> Result<Self, KeyError> {
        let pair = RS256.generate_key_pair(2048).map_err(invalid)?;
        Self::from_pem(&pair.to_pem_private_key())
    }

    /// Loads a PKCS#8 (or SEC1 / PKCS#1) PEM private key: a P-256 key signs ES256, an RSA key RS256.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let (alg, signer, mut public_jwk, private_pem, public_pem): (_, Box<dyn JwsSigner>, _, _, _) =
            if let Ok(pair) = ES256.key_pair_from_pem(pem) {
                let signer = ES256.signer_from_pem(pem).map_err(invalid)?;
                (
                    "ES256",
                    Box::new(signer),
                    pair.to_jwk_public_key(),
                    pair.to_pem_private_key(),
                    pair.to_pem_public_key(),
                )
            } else {
                let pair = RS256.key_pair_from_pem(pem).map_err(invalid)?;
                let signer = RS256.signer_from_pem(pem).map_err(invalid)?;
                (
                    "RS256",
                    Box::new(signer),
                    pair.to_jwk_public_key(),
                    pair.to_pem_private_key(),
                    pair.to_pem_public_key(),
                )
            };
        let kid = thumbprint(&public_jwk)?;
        public_jwk.set_key_id(&kid);
        public_jwk.set_key_use("sig");
        public_jwk.set_algorithm(alg);
        Ok(Self {
            kid,
            alg,
            signer,
            public_jwk,
            private_pem,
            public_pem,
        })
    }

    /// Loads a PEM key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(&pem)
    }

    /// Loads the key at `path`, generating and writing it (mode 0600) first when the file is missing.
    /// For development only: production keys are generated once with `keys generate` and distributed.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyError> {
        if path.exists() {
            return Self::load(path);
        }
        let key = Self::generate()?;
        key.write_pem(path)?;
        Ok(key)
    }

    /// Like [`SigningKey::load_or_generate`], generating an RSA key for RS256 when missing.
    pub fn load_or_generate_rs256(path: &Path) -> Result<Self, KeyError> {
        if path.exists() {
            return Self::load(path);
        }
        let key = Self::generate_rs256()?;
        key.write_pem(path)?;
        Ok(key)
    }

    /// Writes the private key as PKCS#8 PEM, readable by the owner only.
    pub fn write_pem(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        write_private(path, &self.private_pem).map_err(io)
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key is pinned to.
    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// The public key as a JWK object with `kid`, `use: sig` and `alg`.
    pub fn public_jwk(&self) -> Value {
        Value::Object(self.public_jwk.as_ref().clone())
    }

    /// The public key as SubjectPublicKeyInfo PEM, for registering with a peer.
    pub fn public_pem(&self) -> Result<String, KeyError> {
        String::from_utf8(self.public_pem.clone()).map_err(invalid)
    }

    /// Signs `claims` as a compact JWS with header `{alg, typ, kid}`.
    pub fn sign_jwt(&self, typ: &str, claims: &Map<String, Value>) -> Result<String, KeyError> {
        self.sign_jwt_with_kid(typ, &self.kid, claims)
    }

    /// Like [`SigningKey::sign_jwt`] with a `kid` of the caller's choosing (a `did:web:…#kid` reference).
    pub fn sign_jwt_with_kid(&self, typ: &str, kid: &str, claims: &Map<String, Value>) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Signing(e.to_string()))?;
        self.sign_payload(typ, kid, &payload)
    }

    /// Signs any serializable claim set (a typed ID token, logout token, credential) as a compact JWS with
    /// header `{alg, typ, kid}`.
    pub fn sign<T: serde::Serialize + ?Sized>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        self.sign_with_kid(typ, &self.kid, claims)
    }

    /// Like [`SigningKey::sign`] with a `kid` of the caller's choosing.
    pub fn sign_with_kid<T: serde::Serialize + ?Sized>(
        &self,
        typ: &str,
        kid: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Signing(e.to_string()))?;
        if payload.first() != Some(&b'{') {
            return Err(KeyError::Signing("claims must serialize to a JSON object".into()));
        }
        self.sign_payload(typ, kid, &payload)
    }

    /// Signs `claims` with header `{alg, typ, jwk}`: the public key travels in the token (a DPoP proof,
    /// RFC 9449 §4.2), with no `kid`.
    pub fn sign_with_jwk<T: serde::Serialize + ?Sized>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Signing(e.to_string()))?;
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        let jwk = self.public_jwk.clone();
        let mut map: Map<String, Value> = jwk.as_ref().clone();
        for member in ["kid", "alg", "use"] {
            map.remove(member);
        }
        let jwk = Jwk::from_map(map).map_err(|e| KeyError::Signing(e.to_string()))?;
        header.set_jwk(jwk);
        josekit::jws::serialize_compact(&payload, &header, self.signer.as_ref())
            .map_err(|e| KeyError::Signing(e.to_string()))
    }

    /// The RFC 7638 thumbprint of the public key (what a DPoP-bound token's `cnf.jkt` names).
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        thumbprint(&self.public_jwk)
    }

    fn sign_payload(&self, typ: &str, kid: &str, payload: &[u8]) -> Result<String, KeyError> {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(kid);
        josekit::jws::serialize_compact(payload, &header, self.signer.as_ref())
            .map_err(|e| KeyError::Signing(e.to_string()))
    }
}

/// Writes a new file readable by its owner only (mode 0600), refusing to overwrite one, and syncs it:
/// for private keys and secrets.
#[cfg(unix)]
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes a new file for a private key or secret.
#[cfg(not(unix))]
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// A JWKS document (`{"keys": [...]}`) of the given keys' public halves, in order.
pub fn jwks<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> Value {
    serde_json::json!({ "keys": keys.into_iter().map(SigningKey::public_jwk).collect::<Vec<_>>() })
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) over the required members of an EC or RSA public key.
pub fn thumbprint(jwk: &Jwk) -> Result<String, KeyError> {
    let map = jwk.as_ref();
    let members: &[&str] = match jwk.key_type() {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        other => return Err(KeyError::InvalidKey(format!("unsupported key type {other}"))),
    };
    let mut canonical = Map::new();
    for m in members {
        let value = map
            .get(*m)
            .ok_or_else(|| KeyError::InvalidKey(format!("JWK lacks {m}")))?;
        canonical.insert((*m).to_string(), value.clone());
    }
    // serde_json's Map is ordered by key (no preserve_order feature), giving the canonical member order.
    let digest = Sha256::digest(Value::Object(canonical).to_string().as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(digest))
}

/// The JOSE header fields a verifier looks at before choosing a key.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
    /// RFC 7515 §4.1.11: extensions the verifier must understand. None is supported, so any is refused.
    #[serde(default)]
    pub crit: Option<Value>,
    /// RFC 7797 unencoded payloads: refused.
    #[serde(default)]
    pub b64: Option<Value>,
}

/// The longest compact JWS any party of the federation accepts, bytes (a request object with claims
/// is a few kilobytes; nothing legitimate comes near this).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Decodes a compact JWS header without verifying anything.
pub fn decode_header(token: &str) -> Result<Header, KeyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(KeyError::Malformed(format!("longer than {MAX_TOKEN_BYTES} bytes")));
    }
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed("not a compact JWS of three parts".into()));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| KeyError::Malformed("header is not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| KeyError::Malformed("header is not a JSON object with alg".into()))
}

/// One public key pinned to one algorithm.
pub struct VerifyingKey {
    kid: Option<String>,
    alg: String,
    verifier: Box<dyn JwsVerifier>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

impl VerifyingKey {
    /// A key from a JWK object. Its algorithm is the JWK's `alg` when present, else the one its type
    /// implies (P-256 → ES256, P-384 → ES384, P-521 → ES512, RSA → RS256).
    pub fn from_jwk(value: &Value) -> Result<Self, KeyError> {
        let map = value
            .as_object()
            .ok_or_else(|| KeyError::InvalidKey("JWK is not an object".into()))?;
        let jwk = Jwk::from_map(map.clone()).map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let alg = match jwk.algorithm() {
            Some(alg) => alg.to_string(),
            None => default_alg(&jwk)?.to_string(),
        };
        let verifier = verifier_from(&alg, |a| match a {
            Alg::Ec(e) => e.verifier_from_jwk(&jwk).map(|v| Box::new(v) as Box<dyn JwsVerifier>),
            Alg::Rsa(r) => r.verifier_from_jwk(&jwk).map(|v| Box::new(v) as Box<dyn JwsVerifier>),
            Alg::Pss(p) => p.verifier_from_jwk(&jwk).map(|v| Box::new(v) as Box<dyn JwsVerifier>),
        })?;
        Ok(Self {
            kid: jwk.key_id().map(str::to_string),
            alg,
            verifier,
        })
    }

    /// A key from a SubjectPublicKeyInfo PEM, pinned to `alg` (or the type's default when `None`).
    pub fn from_pem(pem: &[u8], alg: Option<&str>) -> Result<Self, KeyError> {
        let text = String::from_utf8_lossy(pem);
        let alg = match alg {
            Some(a) => a.to_string(),
            None if text.contains("RSA") || rsa_pem(pem) => "RS256".into(),
            None => ec_alg_of_pem(pem)?.to_string(),
        };
        let verifier = verifier_from(&alg, |a| match a {
            Alg::Ec(e) => e.verifier_from_pem(pem).map(|v| Box::new(v) as Box<dyn JwsVerifier>),
            Alg::Rsa(r) => r.verifier_from_pem(pem).map(|v| Box::new(v) as Box<dyn JwsVerifier>),
            Alg::Pss(p) => p.verifier_from_pem(pem).map(|v| Box::new(v) as Box<dyn JwsVerifier>),
        })?;
        Ok(Self {
            kid: None,
            alg,
            verifier,
        })
    }

    /// The algorithm this key is pinned to.
    pub fn alg(&self) -> &str {
        &self.alg
    }

    /// The key id, if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

fn rsa_pem(pem: &[u8]) -> bool {
    RS256.verifier_from_pem(pem).is_ok()
}

fn ec_alg_of_pem(pem: &[u8]) -> Result<&'static str, KeyError> {
    if ES256.verifier_from_pem(pem).is_ok() {
        Ok("ES256")
    } else if ES384.verifier_from_pem(pem).is_ok() {
        Ok("ES384")
    } else if ES512.verifier_from_pem(pem).is_ok() {
        Ok("ES512")
    } else {
        Err(KeyError::InvalidKey("not an EC or RSA public key in PEM".into()))
    }
}

fn default_alg(jwk: &Jwk) -> Result<&'static str, KeyError> {
    match (jwk.key_type(), jwk.curve()) {
        ("EC", Some("P-256")) => Ok("ES256"),
        ("EC", Some("P-384")) => Ok("ES384"),
        ("EC", Some("P-521")) => Ok("ES512"),
        ("RSA", _) => Ok("RS256"),
        (kty, crv) => Err(KeyError::InvalidKey(format!("unsupported key type {kty} {crv:?}"))),
    }
}

enum Alg {
    Ec(josekit::jws::alg::ecdsa::EcdsaJwsAlgorithm),
    Rsa(josekit::jws::alg::rsassa::RsassaJwsAlgorithm),
    Pss(josekit::jws::alg::rsassa_pss::RsassaPssJwsAlgorithm),
}

fn verifier_from(
    alg: &str,
    make: impl FnOnce(Alg) -> Result<Box<dyn JwsVerifier>, josekit::JoseError>,
) -> Result<Box<dyn JwsVerifier>, KeyError> {
    let a = match alg {
        "ES256" => Alg::Ec(ES256),
        "ES384" => Alg::Ec(ES384),
        "ES512" => Alg::Ec(ES512),
        "RS256" => Alg::Rsa(RS256),
        "RS384" => Alg::Rsa(RS384),
        "RS512" => Alg::Rsa(RS512),
        "PS256" => Alg::Pss(PS256),
        "PS384" => Alg::Pss(PS384),
        "PS512" => Alg::Pss(PS512),
        other => return Err(KeyError::AlgorithmNotAccepted(other.to_string())),
    };
    make(a).map_err(|e| KeyError::InvalidKey(e.to_string()))
}

/// A set of public keys a token may be signed by: a peer's JWKS or registered PEM.
#[derive(Debug, Default)]
pub struct VerifyingKeys {
    keys: Vec<VerifyingKey>,
}

impl VerifyingKeys {
    /// Every usable signing key of a JWKS document; keys marked `use: enc` and unsupported types are skipped.
    pub fn from_jwks(doc: &Value) -> Result<Self, KeyError> {
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| KeyError::InvalidKey("JWKS has no keys array".into()))?;
        let keys = list
            .iter()
            .filter(|k| k.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig"))
            .filter_map(|k| VerifyingKey::from_jwk(k).ok())
            .collect();
        Ok(Self { keys })
    }

    /// A set of the given keys.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Self { keys }
    }

    /// Whether a key with this id is in the set (to decide on refetching a JWKS).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies a compact JWS and returns its header and claims. The key is chosen by `kid` (or, with no
    /// `kid`, every key pinned to the header's `alg` is tried); `none`, HMAC and mismatched `alg` are refused.
    /// Claims (`exp`, `aud`, …) are the caller's to check.
    pub fn verify(&self, token: &str) -> Result<(Header, Map<String, Value>), KeyError> {
        let header = decode_header(token)?;
        if !ACCEPTED_ALGS.contains(&header.alg.as_str()) {
            return Err(KeyError::AlgorithmNotAccepted(header.alg));
        }
        // Keys come only from the set: `jku`, `x5u`, `jwk` and `x5c` in a header are never followed or
        // trusted. Extensions (`crit`) and unencoded payloads (`b64`) are not supported.
        if header.crit.is_some() || header.b64.is_some() {
            return Err(KeyError::Malformed(
                "crit and b64 header parameters are not supported".into(),
            ));
        }
        let candidates: Vec<&VerifyingKey> = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid.as_str()) || k.kid.is_none())
                .collect(),
            None => self.keys.iter().collect(),
        };
        if candidates.is_empty() {
            return Err(KeyError::UnknownKey(header.kid));
        }
        let mut mismatch = None;
        for key in candidates {
            if key.alg != header.alg {
                mismatch = Some(KeyError::AlgorithmMismatch {
                    token: header.alg.clone(),
                    key: key.alg.clone(),
                });
                continue;
            }
            if let Ok((payload, _)) = josekit::jwt::decode_with_verifier(token, key.verifier.as_ref()) {
                return Ok((header, payload.claims_set().clone()));
            }
            mismatch = Some(KeyError::BadSignature);
        }
        Err(mismatch.unwrap_or(KeyError::BadSignature))
    }
}

/// The claims of a compact JWS, decoded WITHOUT verification: only for choosing keys (by `iss`) before
/// [`VerifyingKeys::verify`], never for trusting anything.
pub fn peek_claims(token: &str) -> Result<Map<String, Value>, KeyError> {
    let part = token
        .split('.')
        .nth(1)
        .ok_or_else(|| KeyError::Malformed("no payload".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| KeyError::Malformed("payload is not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| KeyError::Malformed("payload is not a JSON object".into()))
}

/// An Argon2id PHC string for a client secret (RFC 9106 parameters as the argon2 crate defaults them).
pub fn hash_secret(secret: &str) -> Result<String, KeyError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt =
        SaltString::encode_b64(&josekit::util::random_bytes(16)).map_err(|e| KeyError::Signing(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| KeyError::Signing(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwt::JwtPayload;
    use serde_json::json;

    fn claims() -> Map<String, Value> {
        json!({"iss": "a", "sub": "b"}).as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn signs_and_verifies_with_kid_thumbprint() -> Result<(), KeyError> {
        let key = SigningKey::generate()?;
        let token = key.sign_jwt("JWT", &claims())?;
        let keys = VerifyingKeys::from_jwks(&jwks([&key]))?;
        let (header, got) = keys.verify(&token)?;
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(got.get("sub"), Some(&json!("b")));
        assert_eq!(key.kid().len(), 43);
        Ok(())
    }

    #[test]
    fn rsa_public_pem_defaults_to_rs256_and_is_pinned() -> Result<(), KeyError> {
        let pair = RS256
            .generate_key_pair(2048)
            .map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let signer = RS256
            .signer_from_pem(pair.to_pem_private_key())
            .map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let payload = JwtPayload::from_map(claims()).map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let token = josekit::jwt::encode_with_signer(&payload, &JwsHeader::new(), &signer)
            .map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let key = VerifyingKey::from_pem(&pair.to_pem_public_key(), None)?;
        assert_eq!(key.alg(), "RS256");
        let keys = VerifyingKeys::new(vec![key]);
        assert!(keys.verify(&token).is_ok());
        let ps = RS384
            .signer_from_pem(pair.to_pem_private_key())
            .map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let ps_token = josekit::jwt::encode_with_signer(&payload, &JwsHeader::new(), &ps)
            .map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        assert!(matches!(
            keys.verify(&ps_token),
            Err(KeyError::AlgorithmMismatch { .. })
        ));
        Ok(())
    }

    #[test]
    fn rs256_signing_keys_round_trip() -> Result<(), KeyError> {
        let key = SigningKey::generate_rs256()?;
        assert_eq!(key.alg(), "RS256");
        let again = SigningKey::from_pem(key.public_pem()?.as_bytes());
        assert!(again.is_err(), "a public key is not a signing key");
        let token = key.sign_jwt("JWT", &claims())?;
        let (header, _) = VerifyingKeys::from_jwks(&jwks([&key]))?.verify(&token)?;
        assert_eq!((header.alg.as_str(), header.kid.as_deref()), ("RS256", Some(key.kid())));
        Ok(())
    }

    #[test]
    fn secret_hashes_are_argon2id_and_salted() -> Result<(), KeyError> {
        let a = hash_secret("a-long-enough-client-secret-value-1234")?;
        let b = hash_secret("a-long-enough-client-secret-value-1234")?;
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        Ok(())
    }

    #[test]
    fn pem_round_trip_keeps_kid() -> Result<(), KeyError> {
        let dir = tempfile::tempdir().map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let path = dir.path().join("k.pem");
        let first = SigningKey::load_or_generate(&path)?;
        let second = SigningKey::load_or_generate(&path)?;
        assert_eq!(first.kid(), second.kid());
        let public = VerifyingKey::from_pem(first.public_pem()?.as_bytes(), None)?;
        assert_eq!(public.alg(), "ES256");
        let token = first.sign_jwt("JWT", &claims())?;
        assert!(VerifyingKeys::new(vec![public]).verify(&token).is_ok());
        Ok(())
    }

    #[test]
    fn refuses_other_keys_none_hmac_and_alg_mismatch() -> Result<(), KeyError> {
        let key = SigningKey::generate()?;
        let other = SigningKey::generate()?;
        let keys = VerifyingKeys::from_jwks(&jwks([&key]))?;
        // Signed by a key not in the set, under the set's kid.
        let forged = other.sign_jwt_with_kid("JWT", key.kid(), &claims())?;
        assert!(matches!(keys.verify(&forged), Err(KeyError::BadSignature)));
        // alg none, and HS256.
        let body = forged.split('.').nth(1).unwrap_or_default().to_string();
        for alg in ["none", "HS256"] {
            let head = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"{}"}}"#, key.kid()));
            let token = format!("{head}.{body}.");
            assert!(
                matches!(keys.verify(&token), Err(KeyError::AlgorithmNotAccepted(_))),
                "{alg}"
            );
        }
        // The right key, but the header claims ES384.
        let real = key.sign_jwt("JWT", &claims())?;
        let mut parts = real.split('.');
        let _ = parts.next();
        let head = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES384","kid":"{}"}}"#, key.kid()));
        let swapped = format!(
            "{head}.{}.{}",
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default()
        );
        assert!(matches!(keys.verify(&swapped), Err(KeyError::AlgorithmMismatch { .. })));
        // Unknown kid.
        let unknown = other.sign_jwt("JWT", &claims())?;
        assert!(matches!(keys.verify(&unknown), Err(KeyError::UnknownKey(_))));
        Ok(())
    }
}
