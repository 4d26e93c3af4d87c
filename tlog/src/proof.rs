//! Offline proof files. The inclusion proof is c2sp.org/tlog-proof@v1: header, optional `extra`, the
//! entry's `index`, the RFC 6962 audit path one base64 hash a line, a blank line, then the checkpoint.
//!
//! C2SP has no file for a consistency proof, so we define one in the same spirit:
//!
//! ```text
//! federation-hub/tlog-consistency@v1
//! old <old size>
//! new <new size>
//! <base64 hash, one a line, RFC 9162 §2.1.4 order>
//!
//! <old checkpoint, verbatim>
//!
//! <new checkpoint, verbatim>
//! ```
//!
//! Checkpoint texts have no blank line, so the first blank line after the old checkpoint's signature
//! lines is where the new checkpoint starts. Checking either file needs nothing but its text, the entry
//! (for inclusion) and the log's verifier key.

use crate::checkpoint::{open_checkpoint, Checkpoint, CheckpointError};
use crate::cosignature::{cosignature_timestamp, CosignatureVerifier};
use crate::merkle::{leaf_hash, verify_consistency, verify_inclusion, ProofError};
use crate::note::{open, Ed25519Verifier, NoteError, Verifier};
use crate::tile::parse_canonical;
use crate::Hash;
use base64::{engine::general_purpose::STANDARD, Engine as _};

/// The first line of a tlog-proof file.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The first line of our consistency-proof file.
pub const CONSISTENCY_HEADER: &str = "federation-hub/tlog-consistency@v1";

/// Why a proof file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFileError {
    /// The file breaks its format (reason given).
    #[error("malformed proof file: {0}")]
    Malformed(&'static str),
    /// The log verifier key is invalid.
    #[error("log key: {0}")]
    Key(NoteError),
    /// The checkpoint in the file is not a checkpoint signed by the log.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The proof does not bind the entry (or the old tree) to the checkpoint.
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    /// The sizes in the file disagree with its checkpoints.
    #[error("the file says size {said} but its checkpoint has size {checkpoint}")]
    SizeMismatch { said: u64, checkpoint: u64 },
    /// Fewer witnesses cosigned the checkpoint than the policy asks.
    #[error("{got} valid cosignatures from known witnesses, {need} needed")]
    TooFewCosignatures { got: usize, need: usize },
}

/// An inclusion proof of one entry, as a tlog-proof@v1 file holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProofFile {
    /// Opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// The entry's index.
    pub index: u64,
    /// The audit path, leaf's sibling first.
    pub proof: Vec<Hash>,
    /// The checkpoint the entry is proven against, verbatim (signature and cosignature lines included).
    pub checkpoint: String,
}

impl InclusionProofFile {
    /// The file text.
    pub fn to_text(&self) -> String {
        let mut s = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            s.push_str(&format!("extra {}\n", STANDARD.encode(extra)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parses the file text (tlog-proof §Format).
    pub fn parse(text: &str) -> Result<Self, ProofFileError> {
        let rest = text
            .strip_prefix(TLOG_PROOF_HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(ProofFileError::Malformed(
                "the first line must be c2sp.org/tlog-proof@v1",
            ))?;
        let (mut line, mut rest) = next_line(rest)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                STANDARD
                    .decode(b64)
                    .map_err(|_| ProofFileError::Malformed("extra is not base64"))?,
            );
            (line, rest) = next_line(rest)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical)
            .ok_or(ProofFileError::Malformed("expected an index line"))?;
        let (proof, checkpoint) = hashes_then_blank(rest)?;
        Ok(Self {
            extra,
            index,
            proof,
            checkpoint: checkpoint.to_string(),
        })
    }
}

fn next_line(s: &str) -> Result<(&str, &str), ProofFileError> {
    s.split_once('\n')
        .ok_or(ProofFileError::Malformed("unexpected end of file"))
}

/// Reads base64 hash lines up to a blank line; returns them and what follows the blank line.
fn hashes_then_blank(mut rest: &str) -> Result<(Vec<Hash>, &str), ProofFileError> {
    let mut out = Vec::new();
    loop {
        let (line, r) = next_line(rest)?;
        rest = r;
        if line.is_empty() {
            return Ok((out, rest));
        }
        if out.len() >= 64 {
            return Err(ProofFileError::Malformed("more than 64 proof hashes"));
        }
        out.push(Hash::from_base64(line).ok_or(ProofFileError::Malformed("a proof line is not a base64 hash"))?);
    }
}

/// What is being proven: the entry's bytes, or its RFC 6962 leaf hash.
#[derive(Clone, Copy, Debug)]
pub enum Leaf<'a> {
    /// The entry itself; its leaf hash is SHA-256(0x00 ‖ entry).
    Entry(&'a [u8]),
    /// The leaf hash, for a verifier that holds only that.
    Hash(Hash),
}

impl Leaf<'_> {
    fn hash(&self) -> Hash {
        match self {
            Leaf::Entry(e) => leaf_hash(e),
            Leaf::Hash(h) => *h,
        }
    }
}

/// A proof that checked: the entry's index, the checkpoint, and the witnesses whose cosignatures
/// verified (name and timestamp).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedProof {
    /// The entry's index.
    pub index: u64,
    /// The checkpoint it is included in.
    pub checkpoint: Checkpoint,
    /// The extra data, unauthenticated.
    pub extra: Option<Vec<u8>>,
    /// Known witnesses that cosigned the checkpoint, with their cosignature times.
    pub cosigned_by: Vec<(String, u64)>,
}

/// Checks a tlog-proof offline (tlog-proof §Verifying): the checkpoint is signed by `log_vkey` and has
/// its name as origin, and the audit path binds `leaf` at the index to the checkpoint's root.
pub fn check_proof(proof_text: &str, leaf: Leaf<'_>, log_vkey: &str) -> Result<CheckedProof, ProofFileError> {
    check_proof_with_witnesses(proof_text, leaf, log_vkey, &[], 0)
}

/// [`check_proof`], and at least `quorum` of the given witnesses (cosignature/v1 verifier keys) must
/// have cosigned the checkpoint; cosignatures by other keys are ignored.
pub fn check_proof_with_witnesses(
    proof_text: &str,
    leaf: Leaf<'_>,
    log_vkey: &str,
    witness_vkeys: &[&str],
    quorum: usize,
) -> Result<CheckedProof, ProofFileError> {
    let file = InclusionProofFile::parse(proof_text)?;
    let log = Ed25519Verifier::from_vkey(log_vkey).map_err(ProofFileError::Key)?;
    let (cp, _) = open_checkpoint(&file.checkpoint, &log)?;
    let cosigned_by = witness_cosignatures(&file.checkpoint, &log, witness_vkeys)?;
    if cosigned_by.len() < quorum {
        return Err(ProofFileError::TooFewCosignatures {
            got: cosigned_by.len(),
            need: quorum,
        });
    }
    verify_inclusion(&leaf.hash(), file.index, cp.size, &file.proof, &cp.root)?;
    Ok(CheckedProof {
        index: file.index,
        checkpoint: cp,
        extra: file.extra,
        cosigned_by,
    })
}

/// The known witnesses whose cosignatures on `checkpoint` verify; a known witness's bad cosignature
/// refuses the checkpoint, as signed-note says of any known key.
pub fn witness_cosignatures(
    checkpoint: &str,
    log: &Ed25519Verifier,
    witness_vkeys: &[&str],
) -> Result<Vec<(String, u64)>, ProofFileError> {
    let witnesses = witness_vkeys
        .iter()
        .map(|v| CosignatureVerifier::from_vkey(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ProofFileError::Key)?;
    let mut known: Vec<&dyn Verifier> = vec![log];
    known.extend(witnesses.iter().map(|w| w as &dyn Verifier));
    let note = open(checkpoint, &known).map_err(CheckpointError::from)?;
    Ok(note
        .verified
        .iter()
        .filter(|s| !(s.name == log.name() && s.key_id == log.key_id()))
        .filter_map(|s| cosignature_timestamp(s).map(|t| (s.name.clone(), t)))
        .collect())
}

/// A consistency proof between two checkpoints of one log, as our consistency file holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProofFile {
    /// The old tree size.
    pub old_size: u64,
    /// The new tree size.
    pub new_size: u64,
    /// The RFC 9162 §2.1.4 consistency proof.
    pub proof: Vec<Hash>,
    /// The old checkpoint, verbatim.
    pub old_checkpoint: String,
    /// The new checkpoint, verbatim.
    pub new_checkpoint: String,
}

impl ConsistencyProofFile {
    /// The file text.
    pub fn to_text(&self) -> String {
        let mut s = format!("{CONSISTENCY_HEADER}\nold {}\nnew {}\n", self.old_size, self.new_size);
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.old_checkpoint);
        s.push('\n');
        s.push_str(&self.new_checkpoint);
        s
    }

    /// Parses the file text.
    pub fn parse(text: &str) -> Result<Self, ProofFileError> {
        let rest = text
            .strip_prefix(CONSISTENCY_HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(ProofFileError::Malformed(
                "the first line must be federation-hub/tlog-consistency@v1",
            ))?;
        let (line, rest) = next_line(rest)?;
        let old_size = line
            .strip_prefix("old ")
            .and_then(parse_canonical)
            .ok_or(ProofFileError::Malformed("expected an old line"))?;
        let (line, rest) = next_line(rest)?;
        let new_size = line
            .strip_prefix("new ")
            .and_then(parse_canonical)
            .ok_or(ProofFileError::Malformed("expected a new line"))?;
        let (proof, rest) = hashes_then_blank(rest)?;
        // The old checkpoint: its text lines, a blank line, its signature lines, then a blank line.
        let text_end = rest
            .find("\n\n")
            .ok_or(ProofFileError::Malformed("the old checkpoint has no signatures"))?;
        let sigs_start = text_end + 2;
        let sigs_end = rest[sigs_start..]
            .find("\n\n")
            .map(|i| sigs_start + i + 1)
            .ok_or(ProofFileError::Malformed("no blank line between the two checkpoints"))?;
        let old_checkpoint = rest[..sigs_end].to_string();
        let new_checkpoint = rest[sigs_end + 1..].to_string();
        Ok(Self {
            old_size,
            new_size,
            proof,
            old_checkpoint,
            new_checkpoint,
        })
    }
}

/// Checks a consistency file offline: both checkpoints signed by the log, their sizes as the file says,
/// and the proof shows the old tree is a prefix of the new one. Returns (old, new).
pub fn check_consistency_proof(text: &str, log_vkey: &str) -> Result<(Checkpoint, Checkpoint), ProofFileError> {
    let file = ConsistencyProofFile::parse(text)?;
    let log = Ed25519Verifier::from_vkey(log_vkey).map_err(ProofFileError::Key)?;
    let (old, _) = open_checkpoint(&file.old_checkpoint, &log)?;
    let (new, _) = open_checkpoint(&file.new_checkpoint, &log)?;
    for (said, cp) in [(file.old_size, &old), (file.new_size, &new)] {
        if said != cp.size {
            return Err(ProofFileError::SizeMismatch {
                said,
                checkpoint: cp.size,
            });
        }
    }
    verify_consistency(old.size, new.size, &old.root, &new.root, &file.proof)?;
    Ok((old, new))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::cosignature::CosignatureSigner;
    use crate::merkle::{consistency_proof, inclusion_proof, tree_hash, MemoryTree};
    use crate::note::NoteSigner;

    fn fixture(n: u64) -> (NoteSigner, MemoryTree) {
        let signer = NoteSigner::from_seed("audit.example/log", &[3; 32]).unwrap();
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(format!("entry {i}").as_bytes()));
        }
        (signer, t)
    }

    fn checkpoint(s: &NoteSigner, t: &MemoryTree, size: u64) -> String {
        Checkpoint::new(s.name(), size, tree_hash(t, size).unwrap())
            .sign(s)
            .unwrap()
    }

    #[test]
    fn the_spec_example_parses() {
        let text = "c2sp.org/tlog-proof@v1\nextra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6\nindex 73894\ngSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\nB95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\nexample.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n\u{2014} example.com/fancylog hI2DJw==\n";
        let p = InclusionProofFile::parse(text).unwrap();
        assert_eq!(p.index, 73894);
        assert_eq!(p.extra.as_deref(), Some(&b"age-v1.2.1-darwin-arm64.tar.gz"[..]));
        assert_eq!(p.proof.len(), 2);
        assert!(p.checkpoint.starts_with("example.com/fancylog\n109482\n"));
        assert_eq!(p.to_text(), text);
    }

    #[test]
    fn inclusion_proofs_check_offline_and_refuse_tampering() {
        let (s, t) = fixture(1000);
        let cp = checkpoint(&s, &t, 1000);
        let entry = b"entry 421";
        let file = InclusionProofFile {
            extra: None,
            index: 421,
            proof: inclusion_proof(&t, 421, 1000).unwrap(),
            checkpoint: cp.clone(),
        };
        let text = file.to_text();
        let ok = check_proof(&text, Leaf::Entry(entry), &s.vkey()).unwrap();
        assert_eq!((ok.index, ok.checkpoint.size), (421, 1000));
        check_proof(&text, Leaf::Hash(leaf_hash(entry)), &s.vkey()).unwrap();
        let other_key = NoteSigner::from_seed("audit.example/log", &[4; 32]).unwrap();
        let wrong_index = InclusionProofFile {
            index: 422,
            ..file.clone()
        }
        .to_text();
        let mut bad_hash = file.clone();
        bad_hash.proof[3].0[0] ^= 1;
        let cases: Vec<(&str, Result<CheckedProof, ProofFileError>)> = vec![
            ("other entry", check_proof(&text, Leaf::Entry(b"entry 422"), &s.vkey())),
            ("other key", check_proof(&text, Leaf::Entry(entry), &other_key.vkey())),
            ("wrong index", check_proof(&wrong_index, Leaf::Entry(entry), &s.vkey())),
            (
                "bad hash",
                check_proof(&bad_hash.to_text(), Leaf::Entry(entry), &s.vkey()),
            ),
            (
                "edited size",
                check_proof(&text.replace("\n1000\n", "\n1001\n"), Leaf::Entry(entry), &s.vkey()),
            ),
            (
                "no header",
                check_proof(
                    &text.replace("c2sp.org/tlog-proof@v1\n", ""),
                    Leaf::Entry(entry),
                    &s.vkey(),
                ),
            ),
            ("bad vkey", check_proof(&text, Leaf::Entry(entry), "nonsense")),
        ];
        for (name, got) in cases {
            assert!(got.is_err(), "{name} checked");
        }
    }

    #[test]
    fn malformed_proof_files_are_refused() {
        let cp = "o\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n\n\u{2014} o AAAAAAA=\n";
        let cases = [
            format!("c2sp.org/tlog-proof@v2\nindex 0\n\n{cp}"),
            format!("c2sp.org/tlog-proof@v1\nindex 01\n\n{cp}"),
            format!("c2sp.org/tlog-proof@v1\nindex -1\n\n{cp}"),
            format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n{cp}"),
            format!("c2sp.org/tlog-proof@v1\nindex 0\nnot-a-hash\n\n{cp}"),
            format!("c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n{cp}"),
            "c2sp.org/tlog-proof@v1\nindex 0\n".to_string(),
            format!("c2sp.org/tlog-proof@v1\n{cp}"),
        ];
        for c in cases {
            assert!(
                matches!(InclusionProofFile::parse(&c), Err(ProofFileError::Malformed(_))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn witness_quorum_counts_only_known_valid_cosignatures() {
        let (s, t) = fixture(10);
        let body = Checkpoint::new(s.name(), 10, tree_hash(&t, 10).unwrap()).body();
        let w1 = CosignatureSigner::from_seed("w1.example", &[5; 32]).unwrap();
        let w2 = CosignatureSigner::from_seed("w2.example", &[6; 32]).unwrap();
        let stranger = CosignatureSigner::from_seed("w3.example", &[7; 32]).unwrap();
        let cp = format!(
            "{}{}{}{}",
            s.sign_note(&body).unwrap(),
            w1.cosign(&body, 100).unwrap().to_line(),
            w2.cosign(&body, 200).unwrap().to_line(),
            stranger.cosign(&body, 300).unwrap().to_line()
        );
        let text = InclusionProofFile {
            extra: Some(b"ctx".to_vec()),
            index: 3,
            proof: inclusion_proof(&t, 3, 10).unwrap(),
            checkpoint: cp,
        }
        .to_text();
        let leaf = Leaf::Entry(b"entry 3");
        let (v1, v2) = (w1.vkey(), w2.vkey());
        let got = check_proof_with_witnesses(&text, leaf, &s.vkey(), &[&v1, &v2], 2).unwrap();
        assert_eq!(
            got.cosigned_by,
            vec![("w1.example".to_string(), 100), ("w2.example".to_string(), 200)]
        );
        assert_eq!(got.extra.as_deref(), Some(&b"ctx"[..]));
        assert_eq!(
            check_proof_with_witnesses(&text, leaf, &s.vkey(), &[&v1], 2),
            Err(ProofFileError::TooFewCosignatures { got: 1, need: 2 })
        );
    }

    #[test]
    fn consistency_files_round_trip_and_check() {
        let (s, t) = fixture(700);
        let file = ConsistencyProofFile {
            old_size: 300,
            new_size: 700,
            proof: consistency_proof(&t, 300, 700).unwrap(),
            old_checkpoint: checkpoint(&s, &t, 300),
            new_checkpoint: checkpoint(&s, &t, 700),
        };
        let text = file.to_text();
        assert_eq!(ConsistencyProofFile::parse(&text).unwrap(), file);
        let (old, new) = check_consistency_proof(&text, &s.vkey()).unwrap();
        assert_eq!((old.size, new.size), (300, 700));

        // A checkpoint of a forked tree, properly signed, does not pass.
        let mut fork = MemoryTree::new();
        for i in 0..700u64 {
            fork.push(leaf_hash(
                format!("{} {i}", if i == 100 { "forged" } else { "entry" }).as_bytes(),
            ));
        }
        let forked = ConsistencyProofFile {
            new_checkpoint: checkpoint(&s, &fork, 700),
            proof: consistency_proof(&fork, 300, 700).unwrap(),
            ..file.clone()
        };
        assert!(matches!(
            check_consistency_proof(&forked.to_text(), &s.vkey()),
            Err(ProofFileError::Proof(_))
        ));
        let lying = ConsistencyProofFile {
            old_size: 301,
            ..file.clone()
        };
        assert!(matches!(
            check_consistency_proof(&lying.to_text(), &s.vkey()),
            Err(ProofFileError::SizeMismatch { .. })
        ));
        let other = NoteSigner::from_seed("audit.example/log", &[9; 32]).unwrap();
        assert!(matches!(
            check_consistency_proof(&text, &other.vkey()),
            Err(ProofFileError::Checkpoint(_))
        ));
        assert!(ConsistencyProofFile::parse(&text.replacen("\n\n", "\n", 1)).is_err());
    }
}
