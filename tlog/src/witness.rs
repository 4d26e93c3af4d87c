//! A witness (c2sp.org/tlog-witness §add-checkpoint), without HTTP: for each known log (origin and
//! verifier key) it keeps the last size and root it cosigned, persisted to a file, and cosigns a new
//! checkpoint only if it is signed by the log and provably consistent with that record. A fork (two
//! roots for one size, a smaller tree after a larger one, or a proof that does not verify) is refused.
//! Each refusal carries the HTTP status the spec assigns it: 404 unknown origin, 403 no signature by the
//! log's key, 400 a malformed body or an old size above the checkpoint's, 409 an old size that is not
//! the latest cosigned one or, for the same size, a different root, 422 a consistency proof that does
//! not verify.

use crate::checkpoint::Checkpoint;
use crate::cosignature::CosignatureSigner;
use crate::merkle::{empty_root, verify_consistency};
use crate::note::{open, Ed25519Verifier, NoteError, Verifier};
use crate::tile::parse_canonical;
use crate::Hash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The most consistency proof lines a request may carry (tlog-witness: "MUST NOT send more than 63").
pub const MAX_PROOF_LINES: usize = 63;

/// Why a checkpoint was not cosigned; [`WitnessError::status`] is the spec's HTTP status for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The request body or checkpoint is malformed, or the old size exceeds the checkpoint's (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The checkpoint's origin is not a log this witness knows (404).
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// The checkpoint is not signed by the log's key, or a signature by it fails (403).
    #[error("the checkpoint is not signed by the log: {0}")]
    Unauthenticated(String),
    /// The old size is not the size last cosigned (409); the body is the known size.
    #[error("old size does not match the latest cosigned size {known}")]
    Conflict { known: u64 },
    /// The consistency proof is not valid, or missing/extra, or the empty-tree root is wrong (422).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// A second root for the size last cosigned (the old size equals the checkpoint's, the roots
    /// differ): evidence that the log forked (409, tlog-witness; the body is the known size). A log
    /// never cosigned is taken to be at size 0 with the empty tree's root.
    #[error("fork: size {size} was cosigned with root {known}, now offered with root {offered}")]
    Fork { size: u64, known: Hash, offered: Hash },
    /// The new state could not be persisted, so nothing was cosigned (500).
    #[error("cannot persist the witness state: {0}")]
    Persist(String),
    /// The witness configuration or key is invalid.
    #[error("configuration: {0}")]
    Config(String),
}

impl WitnessError {
    /// The HTTP status tlog-witness gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::BadRequest(_) => 400,
            WitnessError::Unauthenticated(_) => 403,
            WitnessError::UnknownOrigin(_) => 404,
            WitnessError::Conflict { .. } | WitnessError::Fork { .. } => 409,
            WitnessError::Unprocessable(_) => 422,
            WitnessError::Persist(_) | WitnessError::Config(_) => 500,
        }
    }
}

/// What the witness remembers of one log: the latest cosigned size, root and checkpoint note (with the
/// witness's cosignature appended, as the monitoring endpoint serves it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The latest cosigned size.
    pub size: u64,
    /// Its root, base64.
    pub root: String,
    /// The checkpoint note as cosigned.
    pub checkpoint: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    logs: BTreeMap<String, LogRecord>,
}

/// A log the witness follows: its origin and its key.
#[derive(Clone, Debug)]
pub struct KnownLog {
    /// The origin line its checkpoints carry.
    pub origin: String,
    /// Its verifier key.
    pub key: Ed25519Verifier,
}

impl KnownLog {
    /// A log whose origin is its key's name, from the verifier key string.
    pub fn from_vkey(vkey: &str) -> Result<Self, WitnessError> {
        let key = Ed25519Verifier::from_vkey(vkey).map_err(|e| WitnessError::Config(e.to_string()))?;
        Ok(Self {
            origin: key.name().to_string(),
            key,
        })
    }
}

/// A witness: its cosigning key, the logs it knows, and its state.
#[derive(Debug)]
pub struct Witness {
    signer: CosignatureSigner,
    logs: Vec<KnownLog>,
    state: State,
    state_path: Option<PathBuf>,
}

/// The parts of an add-checkpoint request body (tlog-witness §add-checkpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness last cosigned.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint.
    pub proof: Vec<Hash>,
    /// The checkpoint note.
    pub checkpoint: String,
}

/// Parses `old <N>\n`, up to 63 base64 proof lines, a blank line, then the checkpoint.
pub fn parse_add_checkpoint(body: &str) -> Result<AddCheckpoint, WitnessError> {
    let bad = |m: &str| WitnessError::BadRequest(m.to_string());
    let (first, mut rest) = body.split_once('\n').ok_or_else(|| bad("no old size line"))?;
    let old_size = first
        .strip_prefix("old ")
        .and_then(parse_canonical)
        .ok_or_else(|| bad("malformed old size line"))?;
    let mut proof = Vec::new();
    loop {
        let (line, r) = rest
            .split_once('\n')
            .ok_or_else(|| bad("no blank line before the checkpoint"))?;
        rest = r;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(bad("more than 63 consistency proof lines"));
        }
        proof.push(Hash::from_base64(line).ok_or_else(|| bad("a proof line is not a base64 hash"))?);
    }
    Ok(AddCheckpoint {
        old_size,
        proof,
        checkpoint: rest.to_string(),
    })
}

impl Witness {
    /// A witness whose state lives in `state_path` (created on first cosignature).
    pub fn open(signer: CosignatureSigner, logs: Vec<KnownLog>, state_path: &Path) -> Result<Self, WitnessError> {
        let state = match std::fs::read(state_path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| WitnessError::Config(format!("{}: {e}", state_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(WitnessError::Config(format!("{}: {e}", state_path.display()))),
        };
        Ok(Self {
            signer,
            logs,
            state,
            state_path: Some(state_path.to_path_buf()),
        })
    }

    /// A witness that keeps its state in memory only (tests).
    pub fn in_memory(signer: CosignatureSigner, logs: Vec<KnownLog>) -> Self {
        Self {
            signer,
            logs,
            state: State::default(),
            state_path: None,
        }
    }

    /// The witness's verifier key.
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }

    /// The origins of the logs this witness follows.
    pub fn origins(&self) -> Vec<String> {
        self.logs.iter().map(|l| l.origin.clone()).collect()
    }

    /// What the witness last cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Option<&LogRecord> {
        self.state.logs.get(origin)
    }

    /// Handles a whole add-checkpoint request body.
    pub fn handle(&mut self, body: &str, now: u64) -> Result<String, WitnessError> {
        let req = parse_add_checkpoint(body)?;
        self.add_checkpoint(req.old_size, &req.proof, &req.checkpoint, now)
    }

    /// Cosigns `checkpoint` at time `now` if it is signed by its log and consistent, by `proof`, with the
    /// checkpoint of size `old_size` this witness last cosigned; returns the cosignature line. The check
    /// and the persisted update are one step, since `&mut self` serializes requests.
    pub fn add_checkpoint(
        &mut self,
        old_size: u64,
        proof: &[Hash],
        checkpoint: &str,
        now: u64,
    ) -> Result<String, WitnessError> {
        let origin = checkpoint.split('\n').next().unwrap_or_default();
        let log = self
            .logs
            .iter()
            .find(|l| l.origin == origin)
            .ok_or_else(|| WitnessError::UnknownOrigin(origin.to_string()))?;
        let note = match open(checkpoint, &[&log.key as &dyn Verifier]) {
            Ok(n) => n,
            Err(e @ NoteError::Malformed(_)) => return Err(WitnessError::BadRequest(e.to_string())),
            Err(e) => return Err(WitnessError::Unauthenticated(e.to_string())),
        };
        let cp = Checkpoint::parse_body(&note.text).map_err(|e| WitnessError::BadRequest(e.to_string()))?;
        if old_size > cp.size {
            return Err(WitnessError::BadRequest(format!(
                "old size {old_size} is larger than the checkpoint's size {}",
                cp.size
            )));
        }
        let known = self.state.logs.get(&cp.origin);
        let known_size = known.map_or(0, |r| r.size);
        if old_size != known_size {
            return Err(WitnessError::Conflict { known: known_size });
        }
        // Never cosigned: the record is the empty tree (size 0, and the empty tree's root).
        let known_root = match known {
            None => empty_root(),
            Some(r) => {
                Hash::from_base64(&r.root).ok_or_else(|| WitnessError::Persist("stored root is damaged".into()))?
            }
        };
        // "If the old size matches the checkpoint size, the witness MUST check that the root hashes are
        // also identical. If they don't match, the witness MUST respond with a 409 Conflict."
        if old_size == cp.size && known_root != cp.root {
            return Err(WitnessError::Fork {
                size: cp.size,
                known: known_root,
                offered: cp.root,
            });
        }
        // From size 0 the proof must be empty; otherwise it must lead from the known root to the new.
        verify_consistency(old_size, cp.size, &known_root, &cp.root, proof)
            .map_err(|e| WitnessError::Unprocessable(format!("consistency proof: {e}")))?;
        let line = self
            .signer
            .cosign(&note.text, now)
            .map_err(|e| WitnessError::Config(e.to_string()))?
            .to_line();
        let mut next = self.state.clone();
        next.logs.insert(
            cp.origin.clone(),
            LogRecord {
                size: cp.size,
                root: cp.root.to_base64(),
                checkpoint: format!("{checkpoint}{line}"),
            },
        );
        self.persist(&next)?;
        self.state = next;
        Ok(line)
    }

    fn persist(&self, state: &State) -> Result<(), WitnessError> {
        let Some(path) = &self.state_path else { return Ok(()) };
        let err = |e: std::io::Error| WitnessError::Persist(format!("{}: {e}", path.display()));
        let json = serde_json::to_vec_pretty(state).map_err(|e| WitnessError::Persist(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&json).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::cosignature::CosignatureVerifier;
    use crate::merkle::{consistency_proof, leaf_hash, tree_hash, MemoryTree};
    use crate::note::NoteSigner;

    struct Fixture {
        log: NoteSigner,
        tree: MemoryTree,
        fork: MemoryTree,
    }

    fn fixture() -> Fixture {
        let log = NoteSigner::from_seed("audit.example/hub", &[1; 32]).unwrap();
        let (mut tree, mut fork) = (MemoryTree::new(), MemoryTree::new());
        for i in 0..100u64 {
            tree.push(leaf_hash(format!("entry {i}").as_bytes()));
            fork.push(leaf_hash(
                format!("{} {i}", if i >= 40 { "forged" } else { "entry" }).as_bytes(),
            ));
        }
        Fixture { log, tree, fork }
    }

    fn cp(f: &Fixture, t: &MemoryTree, size: u64) -> String {
        Checkpoint::new(f.log.name(), size, tree_hash(t, size).unwrap())
            .sign(&f.log)
            .unwrap()
    }

    fn witness(f: &Fixture) -> Witness {
        let signer = CosignatureSigner::from_seed("witness.example/w1", &[2; 32]).unwrap();
        Witness::in_memory(signer, vec![KnownLog::from_vkey(&f.log.vkey()).unwrap()])
    }

    #[test]
    fn consistent_checkpoints_are_cosigned_and_the_cosignature_verifies() {
        let f = fixture();
        let mut w = witness(&f);
        let c10 = cp(&f, &f.tree, 10);
        let line = w.add_checkpoint(0, &[], &c10, 1000).unwrap();
        let wv = CosignatureVerifier::from_vkey(&w.vkey()).unwrap();
        let lv = f.log.verifier();
        assert_eq!(open(&format!("{c10}{line}"), &[&lv, &wv]).unwrap().verified.len(), 2);
        let c50 = cp(&f, &f.tree, 50);
        let proof = consistency_proof(&f.tree, 10, 50).unwrap();
        let body = format!(
            "old 10\n{}\n{c50}",
            proof.iter().map(|h| format!("{h}\n")).collect::<String>()
        );
        w.handle(&body, 1001).unwrap();
        assert_eq!(w.latest(f.log.name()).unwrap().size, 50);
        // The same checkpoint again (old = size): no proof, same root, cosigned again.
        w.add_checkpoint(50, &[], &c50, 1002).unwrap();
    }

    /// The witness refuses, with the spec's status, each of the things tlog-witness lists.
    #[test]
    fn refusals_follow_tlog_witness() {
        let f = fixture();
        let mut w = witness(&f);
        w.add_checkpoint(0, &[], &cp(&f, &f.tree, 20), 1).unwrap();
        let c30 = cp(&f, &f.tree, 30);
        let good = consistency_proof(&f.tree, 20, 30).unwrap();
        let stranger = NoteSigner::from_seed("audit.example/hub", &[9; 32]).unwrap();
        let unsigned = Checkpoint::new(f.log.name(), 30, tree_hash(&f.tree, 30).unwrap())
            .sign(&stranger)
            .unwrap();
        let other_log = NoteSigner::from_seed("other.example/log", &[3; 32]).unwrap();
        let foreign = Checkpoint::new("other.example/log", 30, tree_hash(&f.tree, 30).unwrap())
            .sign(&other_log)
            .unwrap();
        let mut bad_proof = good.clone();
        bad_proof[0].0[5] ^= 4;
        let cases: Vec<(&str, Result<String, WitnessError>, u16)> = vec![
            ("unknown origin", w.add_checkpoint(20, &good, &foreign, 2), 404),
            ("not signed by the log", w.add_checkpoint(20, &good, &unsigned, 2), 403),
            (
                "tampered body",
                w.add_checkpoint(20, &good, &c30.replace("\n30\n", "\n31\n"), 2),
                403,
            ),
            (
                "old size above the checkpoint",
                w.add_checkpoint(40, &good, &c30, 2),
                400,
            ),
            ("stale old size", w.add_checkpoint(10, &good, &c30, 2), 409),
            ("bad proof", w.add_checkpoint(20, &bad_proof, &c30, 2), 422),
            ("missing proof", w.add_checkpoint(20, &[], &c30, 2), 422),
            (
                // Old size 0 = checkpoint size 0, and the root is not the empty tree's: 409.
                "empty tree with a wrong root",
                {
                    let mut fresh = witness(&f);
                    fresh.add_checkpoint(
                        0,
                        &[],
                        &Checkpoint::new(f.log.name(), 0, leaf_hash(b"x")).sign(&f.log).unwrap(),
                        2,
                    )
                },
                409,
            ),
            (
                "same size, another root",
                w.add_checkpoint(
                    20,
                    &[],
                    &Checkpoint::new(f.log.name(), 20, leaf_hash(b"forged"))
                        .sign(&f.log)
                        .unwrap(),
                    2,
                ),
                409,
            ),
            (
                "same size and root, but a proof",
                w.add_checkpoint(20, &good[..1], &cp(&f, &f.tree, 20), 2),
                422,
            ),
            ("proof from zero", witness(&f).add_checkpoint(0, &good, &c30, 2), 422),
        ];
        for (name, got, status) in cases {
            assert_eq!(
                got.as_ref().map_err(WitnessError::status).err(),
                Some(status),
                "{name}: {got:?}"
            );
        }
        assert_eq!(
            w.add_checkpoint(10, &good, &c30, 2),
            Err(WitnessError::Conflict { known: 20 })
        );
        assert_eq!(w.latest(f.log.name()).unwrap().size, 20, "no refusal moves the witness");
        for bad in ["", "old 01\n\n", "old x\n\n", "old 1\nnot-a-hash\n\n", "old 1\n"] {
            assert_eq!(w.handle(bad, 3).map_err(|e| e.status()), Err(400), "{bad:?}");
        }
        let too_long = format!(
            "old 20\n{}\n{c30}",
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n".repeat(64)
        );
        assert_eq!(w.handle(&too_long, 3).map_err(|e| e.status()), Err(400));
    }

    /// A log that shows one history to the witness and another to someone else is caught as soon as the
    /// witness sees the other: same size, another root; or a larger forked tree whose proof fails; or a
    /// rollback to a smaller tree.
    #[test]
    fn a_fork_is_detected_and_refused() {
        let f = fixture();
        let mut w = witness(&f);
        w.add_checkpoint(0, &[], &cp(&f, &f.tree, 60), 1).unwrap();
        let forked60 = cp(&f, &f.fork, 60);
        match w.add_checkpoint(60, &[], &forked60, 2) {
            Err(WitnessError::Fork {
                size: 60,
                known,
                offered,
            }) => {
                assert_eq!(known, tree_hash(&f.tree, 60).unwrap());
                assert_eq!(offered, tree_hash(&f.fork, 60).unwrap());
            }
            other => panic!("fork not detected: {other:?}"),
        }
        // tlog-witness: same size, different roots is a 409 Conflict (the body is the known size).
        assert_eq!(
            w.add_checkpoint(60, &[], &forked60, 2).map_err(|e| e.status()),
            Err(409)
        );
        // The forked tree grown larger, with a proof computed honestly over the fork: it does not lead
        // back to the root the witness holds.
        let forked90 = cp(&f, &f.fork, 90);
        let proof = consistency_proof(&f.fork, 60, 90).unwrap();
        assert_eq!(
            w.add_checkpoint(60, &proof, &forked90, 3).map_err(|e| e.status()),
            Err(422)
        );
        // A smaller tree after a larger one: refused whichever old size the log claims.
        let c30 = cp(&f, &f.tree, 30);
        assert_eq!(w.add_checkpoint(60, &[], &c30, 4).map_err(|e| e.status()), Err(400));
        assert_eq!(
            w.add_checkpoint(30, &[], &c30, 4),
            Err(WitnessError::Conflict { known: 60 })
        );
        assert_eq!(
            w.latest(f.log.name()).unwrap().root,
            tree_hash(&f.tree, 60).unwrap().to_base64()
        );
    }

    #[test]
    fn state_survives_a_restart() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let signer = CosignatureSigner::from_seed("witness.example/w1", &[2; 32]).unwrap();
        let logs = vec![KnownLog::from_vkey(&f.log.vkey()).unwrap()];
        let mut w = Witness::open(signer.clone(), logs.clone(), &path).unwrap();
        w.add_checkpoint(0, &[], &cp(&f, &f.tree, 25), 1).unwrap();
        drop(w);
        let mut w = Witness::open(signer, logs, &path).unwrap();
        assert_eq!(w.latest(f.log.name()).unwrap().size, 25);
        assert_eq!(
            w.add_checkpoint(0, &[], &cp(&f, &f.tree, 26), 2),
            Err(WitnessError::Conflict { known: 25 })
        );
    }
}
