//! Checkpoints (c2sp.org/tlog-checkpoint): the note text `<origin>\n<size>\n<base64 root>\n` with
//! optional extension lines, signed as a note by the log.
//!
//! [`open_checkpoint`] also requires the origin to equal the log key's name, which the spec recommends:
//! we make it a rule so that a verifier key alone pins which log a checkpoint is from, offline.

use crate::note::{open, Ed25519Verifier, NoteError, NoteSigner, VerifiedNote, Verifier as _};
use crate::tile::parse_canonical;
use crate::Hash;

/// A tree head: the log's origin, tree size and root hash, and opaque extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// The number of entries.
    pub size: u64,
    /// The RFC 6962 root hash of those entries.
    pub root: Hash,
    /// Extension lines, each non-empty (NOT RECOMMENDED by the spec; kept for fidelity).
    pub extensions: Vec<String>,
}

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note text is not a checkpoint body (reason given).
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// The note itself is malformed or not signed by the log key.
    #[error("checkpoint signature: {0}")]
    Note(#[from] NoteError),
    /// The origin line is not the log key's name.
    #[error("checkpoint origin {origin:?} is not the log key's name {key_name:?}")]
    WrongOrigin { origin: String, key_name: String },
}

impl Checkpoint {
    /// A checkpoint with no extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.to_string(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text (tlog-checkpoint §Note text).
    pub fn body(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, self.root.to_base64());
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a note text as a checkpoint: at least three non-empty lines; a size with no leading zeros;
    /// a root of 32 bytes in base64; non-empty extension lines.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("the text must end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(CheckpointError::Malformed("empty origin"))?;
        let size = lines
            .next()
            .and_then(parse_canonical)
            .ok_or(CheckpointError::Malformed(
                "the size must be a decimal with no leading zeros",
            ))?;
        let root = lines
            .next()
            .and_then(Hash::from_base64)
            .ok_or(CheckpointError::Malformed("the root must be 32 bytes of base64"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::Malformed("empty extension line"));
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint as a note.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, CheckpointError> {
        Ok(signer.sign_note(&self.body())?)
    }
}

/// Opens a signed checkpoint: the note must be signed by `log` (other signatures, such as witness
/// cosignatures, are kept but not trusted), the body must parse, and the origin must be the key name.
pub fn open_checkpoint(text: &str, log: &Ed25519Verifier) -> Result<(Checkpoint, VerifiedNote), CheckpointError> {
    let note = open(text, &[log])?;
    let cp = Checkpoint::parse_body(&note.text)?;
    if cp.origin != log.name() {
        return Err(CheckpointError::WrongOrigin {
            origin: cp.origin,
            key_name: log.name().to_string(),
        });
    }
    Ok((cp, note))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

    #[test]
    fn bodies_parse_and_format_exactly() {
        let text = format!("example.com/behind-the-sofa\n20852163\n{ROOT}\n");
        let cp = Checkpoint::parse_body(&text).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert_eq!(cp.root.to_base64(), ROOT);
        assert_eq!(cp.body(), text);
        let ext = format!("o\n0\n{ROOT}\nextension one\nextension two\n");
        let cp = Checkpoint::parse_body(&ext).unwrap();
        assert_eq!(cp.extensions, vec!["extension one", "extension two"]);
        assert_eq!(cp.body(), ext);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let cases = [
            format!("o\n1\n{ROOT}"),
            format!("\n1\n{ROOT}\n"),
            format!("o\n01\n{ROOT}\n"),
            format!("o\n-1\n{ROOT}\n"),
            format!("o\n+1\n{ROOT}\n"),
            format!("o\n1 \n{ROOT}\n"),
            format!("o\n18446744073709551616\n{ROOT}\n"),
            "o\n1\nAAAA\n".to_string(),
            format!("o\n1\n{}\n", &ROOT[..ROOT.len() - 1]),
            "o\n1\n".to_string(),
            format!("o\n1\n{ROOT}\n\n"),
            format!("o\n1\n{ROOT}\next\n\nmore\n"),
        ];
        for c in cases {
            assert!(
                matches!(Checkpoint::parse_body(&c), Err(CheckpointError::Malformed(_))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn signed_checkpoints_open_with_the_log_key_only() {
        let signer = NoteSigner::from_seed("example.com/log", &[7; 32]).unwrap();
        let other = NoteSigner::from_seed("example.com/log", &[8; 32]).unwrap();
        let cp = Checkpoint::new("example.com/log", 5, leaf_hash(b"x"));
        let text = cp.sign(&signer).unwrap();
        let (got, note) = open_checkpoint(&text, &signer.verifier()).unwrap();
        assert_eq!(got, cp);
        assert_eq!(note.verified.len(), 1);
        assert!(matches!(
            open_checkpoint(&text, &other.verifier()),
            Err(CheckpointError::Note(NoteError::NoKnownSignature))
        ));
        let misnamed = Checkpoint::new("example.com/other", 5, leaf_hash(b"x"))
            .sign(&signer)
            .unwrap();
        assert!(matches!(
            open_checkpoint(&misnamed, &signer.verifier()),
            Err(CheckpointError::WrongOrigin { .. })
        ));
        let edited = text.replace("\n5\n", "\n6\n");
        assert!(matches!(
            open_checkpoint(&edited, &signer.verifier()),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
    }
}
