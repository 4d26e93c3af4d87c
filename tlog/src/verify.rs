//! The offline auditor's check of a whole published log, pure over a [`LogReader`]: every entry hashes
//! to its level-0 tile hash, every tile level is the hash of the full tiles below (tlog-tiles §Merkle
//! Tree), the tiles' root is the checkpoint's, the checkpoint is signed by the log key, and each
//! earlier checkpoint (the `checkpoints/` history) is consistent with the next (RFC 9162 §2.1.4).
//! The error names the first bad place: an entry index, a tile path, or a checkpoint.

use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::log::HISTORY_DIR;
use crate::merkle::{consistency_proof, hash_run, leaf_hash, tree_hash, verify_consistency};
use crate::note::Ed25519Verifier;
use crate::storage::{DirReader, LogReader, ReaderTiles};
use crate::tile::{hashes_at_level, split_hashes, tile_for, TileHashReader, TILE_WIDTH};
use crate::Hash;
use std::path::Path;

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The log's origin.
    pub origin: String,
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint's root hash.
    pub root: Hash,
    /// Hash tiles checked.
    pub tiles: u64,
    /// Entries checked against their leaf hashes.
    pub entries: u64,
    /// Earlier checkpoints checked for consistency.
    pub history: usize,
}

/// The first bad place found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The log verifier key is not one.
    #[error("log key: {0}")]
    Key(String),
    /// The current checkpoint is missing, unsigned, forged, or disagrees with the tiles.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// An entry is missing, extra, or does not hash to its level-0 tile hash.
    #[error("entry {index} ({path}): {reason}")]
    Entry { index: u64, path: String, reason: String },
    /// A hash tile is missing, of the wrong length, or not the hash of the tiles below it.
    #[error("{path}: {reason}")]
    Tile { path: String, reason: String },
    /// An earlier checkpoint is unsigned, or inconsistent with the log (a fork or a rollback).
    #[error("{name}: {reason}")]
    History { name: String, reason: String },
}

/// Verifies the log in `dir` with its `checkpoints/` history, if any.
pub fn verify_dir(dir: &Path, log_vkey: &str) -> Result<Report, VerifyError> {
    let history = read_history(dir).map_err(|e| VerifyError::History {
        name: HISTORY_DIR.into(),
        reason: e.to_string(),
    })?;
    verify_log(&DirReader(dir.to_path_buf()), log_vkey, &history)
}

/// Reads every file under `dir/checkpoints` as (relative path, text), in no particular order.
pub fn read_history(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(HISTORY_DIR)];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in rd {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
                out.push((name, String::from_utf8_lossy(&std::fs::read(&p)?).into_owned()));
            }
        }
    }
    Ok(out)
}

fn read<R: LogReader + ?Sized>(r: &R, path: &str) -> Result<Option<Vec<u8>>, String> {
    r.read(path).map_err(|e| e.to_string())
}

/// Verifies a published log: checkpoint, entries, tiles, root, and the given earlier checkpoints
/// (name, text), which must all be signed by the log and consistent with it.
pub fn verify_log<R: LogReader + ?Sized>(
    reader: &R,
    log_vkey: &str,
    history: &[(String, String)],
) -> Result<Report, VerifyError> {
    let key = Ed25519Verifier::from_vkey(log_vkey).map_err(|e| VerifyError::Key(e.to_string()))?;
    let text = read(reader, "checkpoint")
        .map_err(VerifyError::Checkpoint)?
        .ok_or_else(|| VerifyError::Checkpoint("missing".into()))?;
    let text = String::from_utf8(text).map_err(|_| VerifyError::Checkpoint("not UTF-8".into()))?;
    let (cp, _) = open_checkpoint(&text, &key).map_err(|e| VerifyError::Checkpoint(e.to_string()))?;
    let size = cp.size;

    // Earlier checkpoints: signed, not larger than the current one, one root per size.
    let mut earlier: Vec<(String, Checkpoint)> = Vec::new();
    for (name, text) in history {
        let (h, _) = open_checkpoint(text, &key).map_err(|e| VerifyError::History {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        if h.size > size {
            return Err(VerifyError::History {
                name: name.clone(),
                reason: format!(
                    "size {} is larger than the checkpoint's {size}: the log was rolled back",
                    h.size
                ),
            });
        }
        earlier.push((name.clone(), h));
    }
    earlier.sort_by_key(|(name, h)| (h.size, name.clone()));
    for w in earlier.windows(2) {
        if w[0].1.size == w[1].1.size && w[0].1.root != w[1].1.root {
            return Err(VerifyError::History {
                name: w[1].0.clone(),
                reason: format!(
                    "a second root for size {} (see {}): the log forked",
                    w[1].1.size, w[0].0
                ),
            });
        }
    }

    // Level by level: entries against level-0 hashes, each higher level against the full tiles below.
    let (mut tiles, mut entries) = (0u64, 0u64);
    let mut below: Vec<Hash> = Vec::new();
    let mut level = 0u8;
    while hashes_at_level(level, size) > 0 {
        let n = hashes_at_level(level, size);
        let mut roots = Vec::with_capacity(n.div_ceil(TILE_WIDTH) as usize);
        for k in 0..n.div_ceil(TILE_WIDTH) {
            let Some(tile) = tile_for(level, k, size) else { break };
            let path = tile.path();
            let data = read(reader, &path)
                .map_err(|reason| VerifyError::Tile {
                    path: path.clone(),
                    reason,
                })?
                .ok_or_else(|| VerifyError::Tile {
                    path: path.clone(),
                    reason: format!("missing (a tree of size {size} has it)"),
                })?;
            let width = usize::from(tile.width);
            let hashes = split_hashes(&data)
                .filter(|h| h.len() == width)
                .ok_or_else(|| VerifyError::Tile {
                    path: path.clone(),
                    reason: format!(
                        "{} bytes where {} hashes ({} bytes) belong",
                        data.len(),
                        width,
                        width * 32
                    ),
                })?;
            if level == 0 {
                check_bundle(reader, tile.bundle_path(), &path, k * TILE_WIDTH, &hashes)?;
                entries += hashes.len() as u64;
            } else {
                for (i, h) in hashes.iter().enumerate() {
                    let child = k * TILE_WIDTH + i as u64;
                    if below.get(child as usize) != Some(h) {
                        let child_path = tile_for(level - 1, child, size).map(|t| t.path()).unwrap_or_default();
                        return Err(VerifyError::Tile {
                            path,
                            reason: format!("hash {i} is not the hash of {child_path}"),
                        });
                    }
                }
            }
            if tile.is_full() {
                roots.push(hash_run(&hashes));
            }
            tiles += 1;
        }
        below = roots;
        level += 1;
    }

    let hashes = TileHashReader::new(size, ReaderTiles(reader));
    let root = tree_hash(&hashes, size).map_err(|e| VerifyError::Checkpoint(e.to_string()))?;
    if root != cp.root {
        return Err(VerifyError::Checkpoint(format!(
            "root {} is not the root {} of the tiles for size {size}",
            cp.root, root
        )));
    }

    // Each earlier checkpoint is the log's tree at its size, and consistent with the next one.
    for (name, h) in &earlier {
        let at = tree_hash(&hashes, h.size).map_err(|e| VerifyError::History {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        if at != h.root {
            return Err(VerifyError::History {
                name: name.clone(),
                reason: format!(
                    "root {} is not the log's root {at} at size {}: the log forked or was rewritten",
                    h.root, h.size
                ),
            });
        }
    }
    let chain: Vec<(&str, &Checkpoint)> = earlier
        .iter()
        .map(|(n, h)| (n.as_str(), h))
        .chain(std::iter::once(("checkpoint", &cp)))
        .collect();
    for w in chain.windows(2) {
        let ((_, a), (name, b)) = (w[0], w[1]);
        let proof = consistency_proof(&hashes, a.size, b.size).map_err(|e| VerifyError::History {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        verify_consistency(a.size, b.size, &a.root, &b.root, &proof).map_err(|e| VerifyError::History {
            name: name.to_string(),
            reason: format!("not consistent with the checkpoint of size {}: {e}", a.size),
        })?;
    }

    Ok(Report {
        origin: cp.origin,
        size,
        root: cp.root,
        tiles,
        entries,
        history: earlier.len(),
    })
}

/// Checks one entry bundle against its level-0 tile's hashes, naming the first bad entry.
fn check_bundle<R: LogReader + ?Sized>(
    reader: &R,
    bundle_path: String,
    tile_path: &str,
    first: u64,
    hashes: &[Hash],
) -> Result<(), VerifyError> {
    let err = |index: u64, reason: String| VerifyError::Entry {
        index,
        path: bundle_path.clone(),
        reason,
    };
    let data = read(reader, &bundle_path)
        .map_err(|r| err(first, r))?
        .ok_or_else(|| err(first, "the bundle is missing".into()))?;
    let mut rest = data.as_slice();
    for (i, want) in hashes.iter().enumerate() {
        let index = first + i as u64;
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(err(index, "missing: the bundle ends before it".into()));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        let Some(entry) = tail.get(..len) else {
            return Err(err(index, format!("cut short: {} of its {len} bytes", tail.len())));
        };
        let got = leaf_hash(entry);
        if got != *want {
            return Err(err(
                index,
                format!("hashes to {got}, but {tile_path} has {want} for it"),
            ));
        }
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(err(
            first + hashes.len() as u64,
            "an entry the tile does not have".into(),
        ));
    }
    Ok(())
}
