//! Signed notes (c2sp.org/signed-note): text, a blank line, and signature lines
//! `— <name> base64(key ID ‖ signature)`; Ed25519 keys (signature type 0x01) with their verifier key
//! strings `<name>+<hex key ID>+base64(0x01 ‖ public key)`, and signer key strings
//! `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 ‖ seed)` as golang.org/x/mod/sumdb/note writes them.
//!
//! Opening a note ignores signatures from unknown keys and refuses a note whose known signature fails,
//! as the spec says; a note with no verified signature is refused.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;
use std::io::Write as _;
use std::path::Path;

/// Signature type byte of plain Ed25519 note signatures (signed-note §Signature types).
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of timestamped Ed25519 cosignatures (tlog-cosignature).
pub const TYPE_COSIGNATURE: u8 = 0x04;
/// The most signatures a note may carry before it is refused (the spec asks for at least 16; Go uses 100).
pub const MAX_SIGNATURES: usize = 100;

const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, a key string or a key file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note breaks the format (reason given).
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A signature by a known key (name and key ID match) does not verify.
    #[error("invalid signature by {name}+{key_id:08x}")]
    InvalidSignature { name: String, key_id: u32 },
    /// No signature by any known key.
    #[error("no signature by a known key")]
    NoKnownSignature,
    /// Two known verifiers share a name and key ID, so the signature is ambiguous.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey { name: String, key_id: u32 },
    /// A verifier or signer key string is malformed (reason given).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A key file could not be read or written.
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
}

/// Whether `name` may name a key: non-empty, no Unicode space, no `+` (signed-note §Format).
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The key ID: the first four bytes of SHA-256(name ‖ 0x0A ‖ type ‖ public key), big-endian
/// (signed-note §Signatures).
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// One signature line of a note: who signed (name, key ID) and the signature bytes after the key ID.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureLine {
    /// The key name.
    pub name: String,
    /// The 32-bit key ID.
    pub key_id: u32,
    /// The signature proper, after the four key-ID bytes.
    pub signature: Vec<u8>,
}

impl fmt::Debug for SignatureLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureLine({}+{:08x})", self.name, self.key_id)
    }
}

impl SignatureLine {
    /// The line as it appears in a note, newline included.
    pub fn to_line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }

    /// Parses one line, with or without its final newline.
    pub fn parse(line: &str) -> Result<SignatureLine, NoteError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
            "a signature line must start with an em dash and a space",
        ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("a signature line needs a name and a signature"))?;
        if !is_valid_key_name(name) {
            return Err(NoteError::Malformed("invalid key name in a signature line"));
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if raw.len() < 5 {
            return Err(NoteError::Malformed("a signature is too short"));
        }
        Ok(SignatureLine {
            name: name.to_string(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            signature: raw[4..].to_vec(),
        })
    }
}

/// A note split into its text (final newline included) and its signature lines, none verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<SignatureLine>,
}

impl Note {
    /// Parses a signed note (signed-note §Format): valid UTF-8 with no control character but newline; the
    /// text ends at the last blank line; then one or more well-formed signature lines.
    pub fn parse(msg: &str) -> Result<Note, NoteError> {
        if msg.chars().any(|c| c < '\u{20}' && c != '\n') {
            return Err(NoteError::Malformed("control character"));
        }
        let split = msg
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::Malformed("the signatures must end in a newline"));
        }
        let signatures = sigs
            .split_terminator('\n')
            .map(SignatureLine::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// The note as text: the text, a blank line, the signature lines.
    pub fn to_text(&self) -> String {
        let mut s = self.text.clone();
        s.push('\n');
        for sig in &self.signatures {
            s.push_str(&sig.to_line());
        }
        s
    }
}

/// A key that can check note signatures of one (name, key ID).
pub trait Verifier: Send + Sync {
    /// The key name.
    fn name(&self) -> &str;
    /// The key ID.
    fn key_id(&self) -> u32;
    /// Whether `signature` (the bytes after the key ID) signs the note `text`.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;
}

/// A note whose signatures were checked: which known keys signed it, and which lines were by keys we do
/// not know (kept, never trusted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The signed text.
    pub text: String,
    /// Signatures by known keys, all verified.
    pub verified: Vec<SignatureLine>,
    /// Signatures by unknown keys, ignored.
    pub unknown: Vec<SignatureLine>,
}

/// Opens a note with the known verifiers (signed-note §Signatures): unknown keys are ignored, a failing
/// signature by a known key refuses the note, and so does a note no known key signed.
pub fn open(msg: &str, known: &[&dyn Verifier]) -> Result<VerifiedNote, NoteError> {
    let note = Note::parse(msg)?;
    let mut verified = Vec::new();
    let mut unknown = Vec::new();
    let mut seen = HashSet::new();
    for sig in note.signatures {
        let matching: Vec<&&dyn Verifier> = known
            .iter()
            .filter(|v| v.name() == sig.name && v.key_id() == sig.key_id)
            .collect();
        match matching.as_slice() {
            [] => {
                if !unknown.contains(&sig) {
                    unknown.push(sig);
                }
            }
            [v] => {
                if !seen.insert((sig.name.clone(), sig.key_id)) {
                    continue;
                }
                if !v.verify(note.text.as_bytes(), &sig.signature) {
                    return Err(NoteError::InvalidSignature {
                        name: sig.name,
                        key_id: sig.key_id,
                    });
                }
                verified.push(sig);
            }
            _ => {
                return Err(NoteError::AmbiguousKey {
                    name: sig.name,
                    key_id: sig.key_id,
                })
            }
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(VerifiedNote {
        text: note.text,
        verified,
        unknown,
    })
}

/// A parsed verifier key string: name, key ID (8 lowercase hex digits), signature type and key bytes.
pub(crate) fn parse_vkey(vkey: &str) -> Result<(String, u32, u8, Vec<u8>), NoteError> {
    let mut parts = vkey.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::InvalidKey("a verifier key is <name>+<key id>+<key>"));
    };
    parse_key_parts(name, id, key)
}

fn parse_key_parts(name: &str, id: &str, key: &str) -> Result<(String, u32, u8, Vec<u8>), NoteError> {
    if !is_valid_key_name(name) {
        return Err(NoteError::InvalidKey("invalid key name"));
    }
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(NoteError::InvalidKey("the key id must be 8 hex digits"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::InvalidKey("the key id must be 8 hex digits"))?;
    let raw = STANDARD
        .decode(key)
        .map_err(|_| NoteError::InvalidKey("the key is not base64"))?;
    let (&t, material) = raw.split_first().ok_or(NoteError::InvalidKey("empty key"))?;
    if material.len() != 32 {
        return Err(NoteError::InvalidKey("an Ed25519 key is 32 bytes"));
    }
    Ok((name.to_string(), id, t, material.to_vec()))
}

/// A verifier for Ed25519 note signatures of one key (type 0x01), made from its verifier key string.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl fmt::Debug for Ed25519Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Verifier({})", self.vkey())
    }
}

impl Ed25519Verifier {
    /// Parses `<name>+<hex key ID>+base64(0x01 ‖ key)`, checking the key ID against name and key.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, t, key) = parse_vkey(vkey)?;
        if t != TYPE_ED25519 {
            return Err(NoteError::InvalidKey("not an Ed25519 (type 0x01) verifier key"));
        }
        Self::from_parts(name, id, t, &key)
    }

    fn from_parts(name: String, id: u32, t: u8, key: &[u8]) -> Result<Self, NoteError> {
        if key_id(&name, t, key) != id {
            return Err(NoteError::InvalidKey("the key id does not match the name and key"));
        }
        let bytes: [u8; 32] = key
            .try_into()
            .map_err(|_| NoteError::InvalidKey("an Ed25519 key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::InvalidKey("not an Ed25519 public key"))?;
        Ok(Self { name, key_id: id, key })
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        vkey_string(&self.name, self.key_id, TYPE_ED25519, self.key.as_bytes())
    }
}

impl Verifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(text, &sig).is_ok()
    }
}

pub(crate) fn vkey_string(name: &str, id: u32, t: u8, key: &[u8]) -> String {
    let mut raw = vec![t];
    raw.extend_from_slice(key);
    format!("{name}+{id:08x}+{}", STANDARD.encode(raw))
}

/// An Ed25519 private key with its name and signature type: what [`NoteSigner`] and the witness's
/// cosigner share. `Debug` never shows the key.
#[derive(Clone)]
pub(crate) struct NamedKey {
    pub(crate) name: String,
    pub(crate) sig_type: u8,
    pub(crate) key_id: u32,
    pub(crate) key: SigningKey,
}

impl fmt::Debug for NamedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NamedKey({}+{:08x}, type {:#04x})",
            self.name, self.key_id, self.sig_type
        )
    }
}

impl NamedKey {
    pub(crate) fn generate(name: &str, sig_type: u8) -> Result<Self, NoteError> {
        use rand::TryRngCore as _;
        let mut seed = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|_| NoteError::InvalidKey("no randomness"))?;
        Self::from_seed(name, sig_type, &seed)
    }

    pub(crate) fn from_seed(name: &str, sig_type: u8, seed: &[u8; 32]) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKey("invalid key name"));
        }
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(name, sig_type, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_string(),
            sig_type,
            key_id,
            key,
        })
    }

    pub(crate) fn from_skey(skey: &str, sig_type: u8) -> Result<Self, NoteError> {
        let rest = skey
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::InvalidKey("a signer key starts with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::InvalidKey(
                "a signer key is PRIVATE+KEY+<name>+<key id>+<key>",
            ));
        };
        let (name, id, t, seed) = parse_key_parts(name, id, key)?;
        if t != sig_type {
            return Err(NoteError::InvalidKey("the signer key is of another signature type"));
        }
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| NoteError::InvalidKey("a seed is 32 bytes"))?;
        let k = Self::from_seed(&name, t, &seed)?;
        if k.key_id != id {
            return Err(NoteError::InvalidKey("the key id does not match the name and key"));
        }
        Ok(k)
    }

    pub(crate) fn skey(&self) -> String {
        let mut raw = vec![self.sig_type];
        raw.extend_from_slice(&self.key.to_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id, STANDARD.encode(raw))
    }

    pub(crate) fn vkey(&self) -> String {
        vkey_string(
            &self.name,
            self.key_id,
            self.sig_type,
            self.key.verifying_key().as_bytes(),
        )
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    pub(crate) fn load(path: &Path, sig_type: u8) -> Result<Self, NoteError> {
        let text = std::fs::read_to_string(path).map_err(|e| NoteError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_skey(&text, sig_type)
    }

    /// Writes the signer key to a new file readable by its owner only (mode 0600); refuses to overwrite.
    pub(crate) fn write_new(&self, path: &Path) -> Result<(), NoteError> {
        let err = |e: std::io::Error| NoteError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(err)?;
        f.write_all(format!("{}\n", self.skey()).as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)
    }
}

/// The log's Ed25519 note signing key (type 0x01) with its name. `Debug` never shows the key.
#[derive(Clone, Debug)]
pub struct NoteSigner(pub(crate) NamedKey);

impl NoteSigner {
    /// A new random key named `name`.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        NamedKey::generate(name, TYPE_ED25519).map(Self)
    }

    /// The key whose Ed25519 seed is `seed` (for tests and deterministic fixtures).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        NamedKey::from_seed(name, TYPE_ED25519, seed).map(Self)
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 ‖ seed)`.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        NamedKey::from_skey(skey, TYPE_ED25519).map(Self)
    }

    /// Loads the signer key string from a file.
    pub fn load(path: &Path) -> Result<Self, NoteError> {
        NamedKey::load(path, TYPE_ED25519).map(Self)
    }

    /// Writes the signer key string to a new file, mode 0600; refuses to overwrite one.
    pub fn write_new(&self, path: &Path) -> Result<(), NoteError> {
        self.0.write_new(path)
    }

    /// The signer key string (secret).
    pub fn skey(&self) -> String {
        self.0.skey()
    }

    /// The verifier key string to give to auditors and witnesses.
    pub fn vkey(&self) -> String {
        self.0.vkey()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.0.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.0.name.clone(),
            key_id: self.0.key_id,
            key: self.0.key.verifying_key(),
        }
    }

    /// The signature line for `text`.
    pub fn sign_line(&self, text: &str) -> SignatureLine {
        SignatureLine {
            name: self.0.name.clone(),
            key_id: self.0.key_id,
            signature: self.0.sign(text.as_bytes()).to_vec(),
        }
    }

    /// Signs `text` (which must end in a newline) as a note with this one signature.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed("the text must end in a newline"));
        }
        Ok(Note {
            text: text.to_string(),
            signatures: vec![self.sign_line(text)],
        }
        .to_text())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    #[test]
    fn signs_exactly_as_go_sumdb_note_does() {
        // golang.org/x/mod/sumdb/note TestSign.
        let signer = NoteSigner::from_skey(PETER_SKEY).unwrap();
        assert_eq!(signer.vkey(), PETER_VKEY);
        assert_eq!(signer.skey(), PETER_SKEY);
        assert_eq!(signer.sign_note(TEXT).unwrap(), format!("{TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn the_c2sp_example_verifies() {
        let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
        let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        let v = Ed25519Verifier::from_vkey(vkey).unwrap();
        let opened = open(note, &[&v]).unwrap();
        assert_eq!(opened.text, "This is an example message.\n");
        assert_eq!(v.vkey(), vkey);
    }

    #[test]
    fn open_verifies_known_keys_and_ignores_unknown_ones() {
        let peter = Ed25519Verifier::from_vkey(PETER_VKEY).unwrap();
        let enoch = Ed25519Verifier::from_vkey(ENOCH_VKEY).unwrap();
        let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let one = open(&msg, &[&peter]).unwrap();
        assert_eq!(one.text, TEXT);
        assert_eq!((one.verified.len(), one.unknown.len()), (1, 1));
        assert_eq!(one.unknown[0].name, "EnochRoot");
        let both = open(&msg, &[&peter, &enoch]).unwrap();
        assert_eq!((both.verified.len(), both.unknown.len()), (2, 0));
        assert_eq!(open(&msg, &[]), Err(NoteError::NoKnownSignature));
        assert!(matches!(
            open(&msg, &[&peter, &peter]),
            Err(NoteError::AmbiguousKey { .. })
        ));
        // Duplicated lines count once.
        let dup = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}");
        let d = open(&dup, &[&peter]).unwrap();
        assert_eq!((d.verified.len(), d.unknown.len()), (1, 1));
    }

    #[test]
    fn a_bad_signature_by_a_known_key_refuses_the_note() {
        let peter = Ed25519Verifier::from_vkey(PETER_VKEY).unwrap();
        let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert_eq!(
            open(&bad, &[&peter]),
            Err(NoteError::InvalidSignature {
                name: "PeterNeumann".into(),
                key_id: 0xc74f20a3
            })
        );
        // The same name with another key ID is an unknown key, not a failure.
        let other_id = PETER_SIG.replace("x08go", "xxxxx");
        assert_eq!(
            open(&format!("{TEXT}\n{other_id}"), &[&peter]),
            Err(NoteError::NoKnownSignature)
        );
        // A changed text fails the known signature.
        let changed = format!("{}\n{PETER_SIG}", TEXT.replace("answer", "question"));
        assert!(matches!(
            open(&changed, &[&peter]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let peter = Ed25519Verifier::from_vkey(PETER_VKEY).unwrap();
        let cases = [
            TEXT.to_string(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\u{1}{TEXT}\n{PETER_SIG}"),
            format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann AAAA\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann not*base64\n"),
            format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1)),
            format!("{TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
        ];
        for msg in cases {
            assert!(matches!(open(&msg, &[&peter]), Err(NoteError::Malformed(_))), "{msg:?}");
        }
    }

    #[test]
    fn key_strings_refuse_every_mangling() {
        assert!(Ed25519Verifier::from_vkey(PETER_VKEY).is_ok());
        let b = PETER_VKEY.as_bytes();
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(Ed25519Verifier::from_vkey(s).is_err(), "{s}");
            }
        }
        for cut in 1..b.len() {
            assert!(Ed25519Verifier::from_vkey(&PETER_VKEY[..cut]).is_err());
        }
        let cases = [
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ];
        for c in cases {
            assert!(Ed25519Verifier::from_vkey(c).is_err(), "{c}");
        }
        for (i, _) in PETER_SKEY.char_indices().skip(1) {
            assert!(NoteSigner::from_skey(&PETER_SKEY[..i]).is_err());
        }
        assert!(NoteSigner::from_skey(&PETER_SKEY.replace("c74f20a3", "c74f20a4")).is_err());
        assert!(NoteSigner::from_skey(&PETER_SKEY.replace("PRIVATE", "PUBLIC")).is_err());
    }

    #[test]
    fn generated_keys_round_trip_through_a_0600_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let s = NoteSigner::generate("audit.example/hub-1").unwrap();
        s.write_new(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(s.write_new(&path).is_err(), "an existing key file is never overwritten");
        let loaded = NoteSigner::load(&path).unwrap();
        assert_eq!(loaded.vkey(), s.vkey());
        let note = loaded.sign_note("hello\n").unwrap();
        let v = Ed25519Verifier::from_vkey(&s.vkey()).unwrap();
        assert_eq!(open(&note, &[&v]).unwrap().text, "hello\n");
        assert!(format!("{s:?}").find(&s.skey()).is_none(), "Debug hides the key");
    }
}
