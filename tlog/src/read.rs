//! Reading a published log: every entry in order (for the hub's `audit query` and `export`, which
//! filter them), and the proof files of `audit prove` (tlog-proof@v1 and our consistency file), all
//! from the static layout alone.

use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::merkle::{consistency_proof, inclusion_proof, leaf_hash};
use crate::note::Ed25519Verifier;
use crate::proof::{ConsistencyProofFile, InclusionProofFile};
use crate::storage::{DirReader, LogReader, ReaderTiles};
use crate::tile::{decode_bundle, in_tile, split_hashes, tile_for, TileHashReader, TILE_WIDTH};
use std::path::Path;

/// Why the log could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The checkpoint is missing, or not signed by the log key.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A file could not be read or is damaged (path and reason).
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    /// An entry does not match its leaf hash in the level-0 tile.
    #[error("entry {index} does not match its tile hash")]
    Mismatch { index: u64 },
    /// A proof could not be made (reason given).
    #[error("proof: {0}")]
    Proof(String),
}

/// Reads and checks the served checkpoint: its text (cosignatures included) and its parsed body.
pub fn read_checkpoint<R: LogReader + ?Sized>(reader: &R, log_vkey: &str) -> Result<(Checkpoint, String), ReadError> {
    let key = Ed25519Verifier::from_vkey(log_vkey).map_err(|e| ReadError::Checkpoint(e.to_string()))?;
    let bytes = reader
        .read("checkpoint")
        .map_err(|e| ReadError::Checkpoint(e.to_string()))?
        .ok_or_else(|| ReadError::Checkpoint("missing".into()))?;
    let text = String::from_utf8(bytes).map_err(|_| ReadError::Checkpoint("not UTF-8".into()))?;
    let (cp, _) = open_checkpoint(&text, &key).map_err(|e| ReadError::Checkpoint(e.to_string()))?;
    Ok((cp, text))
}

/// The entries `(index, bytes)` of the first `size` entries of a log, bundle by bundle; each is checked
/// against its leaf hash in the level-0 tile on the way (a full audit is [`crate::verify`]'s job).
pub struct Entries<R> {
    reader: R,
    size: u64,
    next: u64,
    bundle: std::vec::IntoIter<Vec<u8>>,
    hashes: Vec<crate::Hash>,
    failed: bool,
}

/// Iterates over the first `size` entries of the log `reader` serves.
pub fn entries<R: LogReader>(reader: R, size: u64) -> Entries<R> {
    Entries {
        reader,
        size,
        next: 0,
        bundle: Vec::new().into_iter(),
        hashes: Vec::new(),
        failed: false,
    }
}

/// Iterates over all entries of the log in `dir`, up to its checkpoint, which must verify with `log_vkey`.
pub fn read_entries(dir: &Path, log_vkey: &str) -> Result<(Checkpoint, Entries<DirReader>), ReadError> {
    let reader = DirReader(dir.to_path_buf());
    let (cp, _) = read_checkpoint(&reader, log_vkey)?;
    let size = cp.size;
    Ok((cp, entries(reader, size)))
}

impl<R: LogReader> Entries<R> {
    fn load(&mut self) -> Result<(), ReadError> {
        let tile = tile_for(0, self.next / TILE_WIDTH, self.size)
            .ok_or_else(|| ReadError::Proof(format!("no tile holds entry {}", self.next)))?;
        let get = |path: String| -> Result<Vec<u8>, ReadError> {
            self.reader
                .read(&path)
                .map_err(|e| ReadError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
                .ok_or(ReadError::File {
                    path,
                    reason: "missing".into(),
                })
        };
        let bundle = decode_bundle(&get(tile.bundle_path())?).map_err(|e| ReadError::File {
            path: tile.bundle_path(),
            reason: e.to_string(),
        })?;
        let hashes = split_hashes(&get(tile.path())?).ok_or_else(|| ReadError::File {
            path: tile.path(),
            reason: "not a whole number of hashes".into(),
        })?;
        if bundle.len() != usize::from(tile.width) || hashes.len() != usize::from(tile.width) {
            return Err(ReadError::File {
                path: tile.bundle_path(),
                reason: "wrong number of entries".into(),
            });
        }
        self.bundle = bundle.into_iter();
        self.hashes = hashes;
        Ok(())
    }
}

impl<R: LogReader> Iterator for Entries<R> {
    type Item = Result<(u64, Vec<u8>), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next >= self.size {
            return None;
        }
        if in_tile(self.next) == 0 {
            if let Err(e) = self.load() {
                self.failed = true;
                return Some(Err(e));
            }
        }
        let index = self.next;
        let entry = self.bundle.next()?;
        if self.hashes.get((index % TILE_WIDTH) as usize) != Some(&leaf_hash(&entry)) {
            self.failed = true;
            return Some(Err(ReadError::Mismatch { index }));
        }
        self.next += 1;
        Some(Ok((index, entry)))
    }
}

/// A tlog-proof@v1 file proving entry `index` in the served checkpoint (cosignatures and all).
pub fn prove_inclusion<R: LogReader + ?Sized>(
    reader: &R,
    log_vkey: &str,
    index: u64,
    extra: Option<Vec<u8>>,
) -> Result<String, ReadError> {
    let (cp, text) = read_checkpoint(reader, log_vkey)?;
    let hashes = TileHashReader::new(cp.size, ReaderTiles(reader));
    let proof = inclusion_proof(&hashes, index, cp.size).map_err(|e| ReadError::Proof(e.to_string()))?;
    Ok(InclusionProofFile {
        extra,
        index,
        proof,
        checkpoint: text,
    }
    .to_text())
}

/// A consistency file from an earlier checkpoint of the log to the served one.
pub fn prove_consistency<R: LogReader + ?Sized>(
    reader: &R,
    log_vkey: &str,
    old_checkpoint: &str,
) -> Result<String, ReadError> {
    let key = Ed25519Verifier::from_vkey(log_vkey).map_err(|e| ReadError::Checkpoint(e.to_string()))?;
    let (old, _) = open_checkpoint(old_checkpoint, &key).map_err(|e| ReadError::Checkpoint(e.to_string()))?;
    let (cp, text) = read_checkpoint(reader, log_vkey)?;
    let hashes = TileHashReader::new(cp.size, ReaderTiles(reader));
    let proof = consistency_proof(&hashes, old.size, cp.size).map_err(|e| ReadError::Proof(e.to_string()))?;
    Ok(ConsistencyProofFile {
        old_size: old.size,
        new_size: cp.size,
        proof,
        old_checkpoint: old_checkpoint.to_string(),
        new_checkpoint: text,
    }
    .to_text())
}
