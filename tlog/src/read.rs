//! Reading a published log: its entries in order (for the hub's `audit query` and `export`, which
//! filter them, and `audit prove --entry-out`, which wants one), and the proof files of `audit prove`
//! (tlog-proof@v1 and our consistency file), all from the static layout alone.
//!
//! Every tile an entry is read from is checked against the checkpoint's signed root before any of its
//! entries is given out: a full tile hashes to its hash in the tile above, which is checked the same
//! way, up to the partial tiles of the right edge, from which (with the tiles' hashes above) the root
//! is computed and compared with the checkpoint's. So an entry bundle rewritten together with its hash
//! tile is an error naming the tile, not a wrong answer.

use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::merkle::{
    consistency_proof, hash_run, inclusion_proof, leaf_hash, node_hash, tree_hash, verify_consistency,
    verify_inclusion, HashReader, TreeError,
};
use crate::note::Ed25519Verifier;
use crate::proof::{ConsistencyProofFile, InclusionProofFile};
use crate::storage::{DirReader, LogReader, ReaderTiles};
use crate::tile::{
    decode_bundle, in_tile, split_hashes, tile_for, tiles_for_size, TileHashReader, TileId, TILE_HEIGHT, TILE_WIDTH,
};
use crate::Hash;
use std::collections::HashSet;
use std::ops::Range;
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
    #[error("entry {index} in {path} does not match its hash in the level-0 tile")]
    Mismatch { index: u64, path: String },
    /// A hash tile does not lead to the checkpoint's signed root: it (or, for the partial tiles of the
    /// tree's right edge, one of them) was rewritten.
    #[error("{path}: {reason}")]
    NotSigned { path: String, reason: String },
    /// A proof could not be made (reason given).
    #[error("proof: {0}")]
    Proof(String),
}

impl From<TreeError> for ReadError {
    fn from(e: TreeError) -> Self {
        match e {
            TreeError::Read { place, reason } => ReadError::File { path: place, reason },
            other => ReadError::Proof(other.to_string()),
        }
    }
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

/// The entries `(index, bytes)` of a range of a log, bundle by bundle. Each bundle's level-0 tile is
/// checked against the checkpoint's root (through the tiles above it) before its first entry is given
/// out, and each entry against its leaf hash in that tile; the first failure is the last item. A full
/// audit of every tile and of the checkpoint history is [`crate::verify`]'s job.
pub struct Entries<R> {
    tree: TileHashReader<ReaderTiles<R>>,
    root: Hash,
    next: u64,
    end: u64,
    /// The level-0 tile whose bundle is loaded.
    loaded: Option<u64>,
    bundle: Vec<Vec<u8>>,
    bundle_path: String,
    hashes: Vec<Hash>,
    /// Whether the tiles of the right edge have been checked against the root.
    root_checked: bool,
    /// The tiles above level 0 checked against the root so far.
    checked: HashSet<(u8, u64)>,
    failed: bool,
}

/// Iterates over every entry of the tree `cp` (size and root) of the log `reader` serves.
pub fn entries<R: LogReader>(reader: R, cp: &Checkpoint) -> Entries<R> {
    entries_in(reader, cp, 0..cp.size)
}

/// Iterates over the entries `range` (cut to the tree's size) of the tree `cp` of the log `reader`
/// serves; only the tiles holding them, and those above them, are read.
pub fn entries_in<R: LogReader>(reader: R, cp: &Checkpoint, range: Range<u64>) -> Entries<R> {
    Entries {
        tree: TileHashReader::new(cp.size, ReaderTiles(reader)),
        root: cp.root,
        next: range.start,
        end: range.end.min(cp.size),
        loaded: None,
        bundle: Vec::new(),
        bundle_path: String::new(),
        hashes: Vec::new(),
        root_checked: false,
        checked: HashSet::new(),
        failed: false,
    }
}

/// Iterates over all entries of the log in `dir`, up to its checkpoint, which must verify with `log_vkey`.
pub fn read_entries(dir: &Path, log_vkey: &str) -> Result<(Checkpoint, Entries<DirReader>), ReadError> {
    read_entries_in(dir, log_vkey, 0..u64::MAX)
}

/// Iterates over the entries `range` of the log in `dir` (cut to its checkpoint's size), the checkpoint
/// verifying with `log_vkey`.
pub fn read_entries_in(
    dir: &Path,
    log_vkey: &str,
    range: Range<u64>,
) -> Result<(Checkpoint, Entries<DirReader>), ReadError> {
    let reader = DirReader(dir.to_path_buf());
    let (cp, _) = read_checkpoint(&reader, log_vkey)?;
    let iter = entries_in(reader, &cp, range);
    Ok((cp, iter))
}

impl<R: LogReader> Entries<R> {
    fn size(&self) -> u64 {
        self.tree.size()
    }

    fn read(&self, path: String) -> Result<Vec<u8>, ReadError> {
        self.tree
            .source()
            .0
            .read(&path)
            .map_err(|e| ReadError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?
            .ok_or(ReadError::File {
                path,
                reason: "missing".into(),
            })
    }

    fn tile(&self, level: u8, index: u64) -> Result<TileId, ReadError> {
        tile_for(level, index, self.size()).ok_or_else(|| {
            ReadError::Proof(format!(
                "a tree of size {} has no tile {index} at level {level}",
                self.size()
            ))
        })
    }

    /// Checks the partial tiles of the tree's right edge (and the tiles above them that the root is
    /// computed from) against the checkpoint's root, once.
    fn check_root(&mut self) -> Result<(), ReadError> {
        if self.root_checked {
            return Ok(());
        }
        let root = tree_hash(&self.tree, self.size())?;
        if root != self.root {
            let partial: Vec<String> = tiles_for_size(self.size())
                .into_iter()
                .filter(|t| !t.is_full())
                .map(|t| t.path())
                .collect();
            return Err(ReadError::NotSigned {
                path: partial.join(", "),
                reason: format!(
                    "these partial tiles (the right edge, which the root is computed from) lead to root {root}, not to the checkpoint's root {}: one of them was rewritten",
                    self.root
                ),
            });
        }
        self.root_checked = true;
        Ok(())
    }

    /// Checks the tile at `level` (above 0) and `index`, as read through the tree's cache, against the
    /// root.
    fn check_tile(&mut self, level: u8, index: u64) -> Result<(), ReadError> {
        if self.checked.contains(&(level, index)) {
            return Ok(());
        }
        let tile = self.tile(level, index)?;
        if tile.is_full() {
            let below = level * TILE_HEIGHT + TILE_HEIGHT - 1;
            let run = node_hash(
                &self.tree.node(below, 2 * index)?,
                &self.tree.node(below, 2 * index + 1)?,
            );
            self.check_full(tile, run)?;
        } else {
            self.check_root()?;
        }
        self.checked.insert((level, index));
        Ok(())
    }

    /// Checks that `run`, the hash of the full tile `tile`'s hashes, is its hash in the tile above, once
    /// that tile is checked against the root.
    fn check_full(&mut self, tile: TileId, run: Hash) -> Result<(), ReadError> {
        let above = self.tile(tile.level + 1, tile.index / TILE_WIDTH)?;
        self.check_tile(above.level, above.index)?;
        if self.tree.node((tile.level + 1) * TILE_HEIGHT, tile.index)? != run {
            return Err(ReadError::NotSigned {
                path: tile.path(),
                reason: format!(
                    "its hashes do not hash to hash {} of {}, which leads to the checkpoint's root: the tile was rewritten",
                    in_tile(tile.index),
                    above.path()
                ),
            });
        }
        Ok(())
    }

    /// Loads the bundle of level-0 tile `index` and that tile's hashes, checked against the root.
    fn load(&mut self, index: u64) -> Result<(), ReadError> {
        let tile = self.tile(0, index)?;
        let width = usize::from(tile.width);
        let hashes = if tile.is_full() {
            let hashes = split_hashes(&self.read(tile.path())?)
                .filter(|h| h.len() == width)
                .ok_or_else(|| ReadError::File {
                    path: tile.path(),
                    reason: format!("not {width} hashes"),
                })?;
            self.check_full(tile, hash_run(&hashes))?;
            hashes
        } else {
            // The partial tile is read (and checked against the root) through the tree's cache.
            self.check_root()?;
            let first = index * TILE_WIDTH;
            (first..first + u64::from(tile.width))
                .map(|i| self.tree.node(0, i))
                .collect::<Result<Vec<_>, _>>()?
        };
        let bundle = decode_bundle(&self.read(tile.bundle_path())?).map_err(|e| ReadError::File {
            path: tile.bundle_path(),
            reason: e.to_string(),
        })?;
        if bundle.len() != width {
            return Err(ReadError::File {
                path: tile.bundle_path(),
                reason: format!("{} entries where the tile has {width}", bundle.len()),
            });
        }
        self.bundle = bundle;
        self.bundle_path = tile.bundle_path();
        self.hashes = hashes;
        self.loaded = Some(index);
        Ok(())
    }
}

impl<R: LogReader> Iterator for Entries<R> {
    type Item = Result<(u64, Vec<u8>), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next >= self.end {
            return None;
        }
        let tile = self.next / TILE_WIDTH;
        if self.loaded != Some(tile) {
            if let Err(e) = self.load(tile) {
                self.failed = true;
                return Some(Err(e));
            }
        }
        let index = self.next;
        let pos = in_tile(index) as usize;
        let entry = std::mem::take(self.bundle.get_mut(pos)?);
        if self.hashes.get(pos) != Some(&leaf_hash(&entry)) {
            self.failed = true;
            return Some(Err(ReadError::Mismatch {
                index,
                path: self.bundle_path.clone(),
            }));
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
    // A proof made from rewritten tiles would not check; say so here, naming the entry's tile.
    let leaf = hashes.node(0, index)?;
    if verify_inclusion(&leaf, index, cp.size, &proof, &cp.root).is_err() {
        return Err(ReadError::NotSigned {
            path: tile_for(0, index / TILE_WIDTH, cp.size)
                .map(|t| t.path())
                .unwrap_or_default(),
            reason: format!(
                "the inclusion proof of entry {index} made from the tiles does not lead to the checkpoint's root: a tile was rewritten"
            ),
        });
    }
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
    verify_consistency(old.size, cp.size, &old.root, &cp.root, &proof).map_err(|e| {
        ReadError::Proof(format!(
            "the log's tiles do not prove the checkpoint of size {} consistent with the one of size {} \
             ({e}): the log forked, or a tile was rewritten",
            cp.size, old.size
        ))
    })?;
    Ok(ConsistencyProofFile {
        old_size: old.size,
        new_size: cp.size,
        proof,
        old_checkpoint: old_checkpoint.to_string(),
        new_checkpoint: text,
    }
    .to_text())
}
