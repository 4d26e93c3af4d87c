//! Ed25519 checkpoint cosignatures (c2sp.org/tlog-cosignature, `cosignature/v1`): a witness signs
//! `cosignature/v1\ntime <unix secs>\n` followed by the checkpoint body, with key IDs of signature type
//! 0x04, and its signature line carries the 8-byte big-endian timestamp before the 64-byte signature.

use crate::note::{key_id, parse_vkey, vkey_string};
use crate::note::{NamedKey, NoteError, SignatureLine, Verifier, TYPE_COSIGNATURE};
use ed25519_dalek::VerifyingKey;
use std::fmt;
use std::path::Path;

/// The message a cosigner signs for `body` at `timestamp` (tlog-cosignature §Ed25519 signed message).
pub fn cosigned_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// The timestamp a cosignature line carries, if it has the cosignature/v1 shape (72 bytes).
pub fn cosignature_timestamp(line: &SignatureLine) -> Option<u64> {
    let ts: [u8; 8] = line.signature.get(..8)?.try_into().ok()?;
    (line.signature.len() == 72).then_some(u64::from_be_bytes(ts))
}

/// A witness's cosigning key (Ed25519, type 0x04) and name. `Debug` never shows the key.
#[derive(Clone, Debug)]
pub struct CosignatureSigner(NamedKey);

impl CosignatureSigner {
    /// A new random key named `name`.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        NamedKey::generate(name, TYPE_COSIGNATURE).map(Self)
    }

    /// The key whose Ed25519 seed is `seed`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        NamedKey::from_seed(name, TYPE_COSIGNATURE, seed).map(Self)
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 ‖ seed)`, the signer key format of
    /// golang.org/x/mod/sumdb/note with the cosignature type byte.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        NamedKey::from_skey(skey, TYPE_COSIGNATURE).map(Self)
    }

    /// Loads the signer key string from a file.
    pub fn load(path: &Path) -> Result<Self, NoteError> {
        NamedKey::load(path, TYPE_COSIGNATURE).map(Self)
    }

    /// Writes the signer key string to a new file, mode 0600; refuses to overwrite one.
    pub fn write_new(&self, path: &Path) -> Result<(), NoteError> {
        self.0.write_new(path)
    }

    /// The verifier key string `<name>+<hex key ID>+base64(0x04 ‖ public key)`.
    pub fn vkey(&self) -> String {
        self.0.vkey()
    }

    /// The signer key string (secret).
    pub fn skey(&self) -> String {
        self.0.skey()
    }

    /// The cosigner name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The cosignature line for the checkpoint `body` at `timestamp` (POSIX seconds, below 2^63).
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<SignatureLine, NoteError> {
        if timestamp > i64::MAX as u64 {
            return Err(NoteError::Malformed("a cosignature timestamp must be below 2^63"));
        }
        let mut signature = timestamp.to_be_bytes().to_vec();
        signature.extend_from_slice(&self.0.sign(cosigned_message(body, timestamp).as_bytes()));
        Ok(SignatureLine {
            name: self.0.name.clone(),
            key_id: self.0.key_id,
            signature,
        })
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.0.name.clone(),
            key_id: self.0.key_id,
            key: self.0.key.verifying_key(),
        }
    }
}

/// Checks cosignature/v1 signatures of one witness key; usable as a note [`Verifier`] so that a
/// checkpoint with cosignatures opens with log and witness keys together.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignatureVerifier({})", self.vkey())
    }
}

impl CosignatureVerifier {
    /// Parses `<name>+<hex key ID>+base64(0x04 ‖ key)`, checking the key ID.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, t, material) = parse_vkey(vkey)?;
        if t != TYPE_COSIGNATURE {
            return Err(NoteError::InvalidKey("not a cosignature (type 0x04) verifier key"));
        }
        let bytes: [u8; 32] = material
            .as_slice()
            .try_into()
            .map_err(|_| NoteError::InvalidKey("an Ed25519 key is 32 bytes"))?;
        if key_id(&name, t, &bytes) != id {
            return Err(NoteError::InvalidKey("the key id does not match the name and key"));
        }
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::InvalidKey("not an Ed25519 public key"))?;
        Ok(Self { name, key_id: id, key })
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        vkey_string(&self.name, self.key_id, TYPE_COSIGNATURE, self.key.as_bytes())
    }
}

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        if signature.len() != 72 {
            return false;
        }
        let (ts, sig) = signature.split_at(8);
        let Ok(ts) = <[u8; 8]>::try_from(ts) else { return false };
        let ts = u64::from_be_bytes(ts);
        let (Ok(body), Ok(sig)) = (std::str::from_utf8(text), ed25519_dalek::Signature::from_slice(sig)) else {
            return false;
        };
        ts <= i64::MAX as u64
            && self
                .key
                .verify_strict(cosigned_message(body, ts).as_bytes(), &sig)
                .is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::note::{open, NoteSigner};

    #[test]
    fn the_spec_example_line_carries_its_timestamp() {
        // tlog-cosignature's example cosignature, whose signed message has "time 1679315147".
        let line = SignatureLine::parse("\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==").unwrap();
        assert_eq!(cosignature_timestamp(&line), Some(1679315147));
        assert_eq!(line.key_id, 0x8d66cf3f);
    }

    #[test]
    fn the_signed_message_is_the_spec_layout() {
        let body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            cosigned_message(body, 1679315147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn cosignatures_verify_beside_the_log_signature_and_bind_time_and_body() {
        let log = NoteSigner::from_seed("example.com/log", &[1; 32]).unwrap();
        let w = CosignatureSigner::from_seed("witness.example/w1", &[2; 32]).unwrap();
        let body = "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cosig = w.cosign(body, 1_700_000_000).unwrap();
        assert_eq!(cosignature_timestamp(&cosig), Some(1_700_000_000));
        let note = format!("{}{}", log.sign_note(body).unwrap(), cosig.to_line());
        let wv = CosignatureVerifier::from_vkey(&w.vkey()).unwrap();
        let lv = log.verifier();
        let both = open(&note, &[&lv, &wv]).unwrap();
        assert_eq!(both.verified.len(), 2);
        // The key ID commits to type 0x04: the same key as a plain note key has another ID.
        let plain = NoteSigner::from_seed("witness.example/w1", &[2; 32]).unwrap();
        assert_ne!(plain.key_id(), wv.key_id);
        // A changed timestamp breaks the signature.
        let mut moved = cosig.clone();
        moved.signature[7] ^= 1;
        let bad = format!("{}{}", log.sign_note(body).unwrap(), moved.to_line());
        assert!(open(&bad, &[&lv, &wv]).is_err());
        // Another body breaks it too.
        let other = body.replace("\n3\n", "\n4\n");
        assert!(!wv.verify(other.as_bytes(), &cosig.signature));
        assert!(w.cosign(body, 1 << 63).is_err());
        assert!(
            CosignatureVerifier::from_vkey(&log.vkey()).is_err(),
            "a type 0x01 key is not a cosigner key"
        );
        assert_eq!(CosignatureSigner::from_skey(&w.skey()).unwrap().vkey(), w.vkey());
    }
}
