//! The right edge of a growing tiled tree, pure: the partial tile at each level and the partial entry
//! bundle, which is all a writer needs to publish the next tiles and compute the next root
//! (tlog-tiles §Merkle Tree, §Partial Tiles). Full tiles are handed out as they complete.

use crate::merkle::{empty_root, hash_run, leaf_hash, node_hash};
use crate::tile::{encode_bundle, hashes_at_level, join_hashes, TileId, TILE_WIDTH};
use crate::Hash;

/// A finished tile or bundle, ready to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileFile {
    /// Its path relative to the log root.
    pub path: String,
    /// Its bytes.
    pub data: Vec<u8>,
    /// The tile it is (for a bundle, the level-0 tile it goes with).
    pub tile: TileId,
}

/// Why a right edge could not be rebuilt from published tiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdgeError {
    /// A partial tile or bundle has the wrong number of hashes or entries for the size.
    #[error("{0} does not have the width the tree size calls for")]
    WrongWidth(String),
}

/// The right edge of a tree: `levels[t]` holds the hashes of the incomplete tile at tile level `t`,
/// `bundle` the entries of the incomplete bundle.
#[derive(Clone, Debug, Default)]
pub struct RightEdge {
    size: u64,
    levels: Vec<Vec<Hash>>,
    bundle: Vec<Vec<u8>>,
}

impl RightEdge {
    /// The edge of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the edge of a tree of `size` leaves from its partial tiles (level by level, each exactly
    /// as wide as the size says; empty where the size has no partial tile) and its partial bundle.
    pub fn from_partials(size: u64, partials: Vec<Vec<Hash>>, bundle: Vec<Vec<u8>>) -> Result<Self, EdgeError> {
        for (t, hashes) in partials.iter().enumerate() {
            let want = hashes_at_level(t as u8, size) % TILE_WIDTH;
            if hashes.len() as u64 != want {
                return Err(EdgeError::WrongWidth(format!("tile level {t}")));
            }
        }
        if bundle.len() as u64 != size % TILE_WIDTH {
            return Err(EdgeError::WrongWidth("the partial entry bundle".into()));
        }
        Ok(Self {
            size,
            levels: partials,
            bundle,
        })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends an entry; returns the full tiles and bundle it completes (usually none).
    pub fn push(&mut self, entry: Vec<u8>) -> Vec<TileFile> {
        let mut done = Vec::new();
        let mut h = leaf_hash(&entry);
        self.bundle.push(entry);
        if self.bundle.len() as u64 == TILE_WIDTH {
            let tile = TileId {
                level: 0,
                index: self.size / TILE_WIDTH,
                width: TILE_WIDTH as u16,
            };
            let data = encode_bundle(&self.bundle).unwrap_or_default();
            done.push(TileFile {
                path: tile.bundle_path(),
                data,
                tile,
            });
            self.bundle.clear();
        }
        self.size += 1;
        let mut t = 0usize;
        loop {
            if self.levels.len() == t {
                self.levels.push(Vec::new());
            }
            self.levels[t].push(h);
            if self.levels[t].len() as u64 != TILE_WIDTH {
                return done;
            }
            let tile = TileId {
                level: t as u8,
                index: hashes_at_level(t as u8, self.size) / TILE_WIDTH - 1,
                width: TILE_WIDTH as u16,
            };
            h = hash_run(&self.levels[t]);
            done.push(TileFile {
                path: tile.path(),
                data: join_hashes(&self.levels[t]),
                tile,
            });
            self.levels[t].clear();
            t += 1;
        }
    }

    /// The partial tiles and the partial bundle of the current size: what a checkpoint at this size needs
    /// published besides the full tiles.
    pub fn partial_files(&self) -> Vec<TileFile> {
        let mut out = Vec::new();
        for (t, hashes) in self.levels.iter().enumerate() {
            if hashes.is_empty() || hashes_at_level(t as u8, self.size) == 0 {
                continue;
            }
            let tile = TileId {
                level: t as u8,
                index: hashes_at_level(t as u8, self.size) / TILE_WIDTH,
                width: hashes.len() as u16,
            };
            out.push(TileFile {
                path: tile.path(),
                data: join_hashes(hashes),
                tile,
            });
        }
        if !self.bundle.is_empty() {
            let tile = TileId {
                level: 0,
                index: self.size / TILE_WIDTH,
                width: self.bundle.len() as u16,
            };
            out.push(TileFile {
                path: tile.bundle_path(),
                data: encode_bundle(&self.bundle).unwrap_or_default(),
                tile,
            });
        }
        out
    }

    /// The root hash of the tree: its complete subtrees, from the partial tiles top down, folded from the
    /// right (RFC 6962 §2.1).
    pub fn root(&self) -> Hash {
        let mut subtrees = Vec::new();
        for hashes in self.levels.iter().rev() {
            let mut off = 0;
            for bit in (0..8).rev() {
                let run = 1usize << bit;
                if hashes.len() & run != 0 {
                    subtrees.push(hash_run(&hashes[off..off + run]));
                    off += run;
                }
            }
        }
        let Some((last, rest)) = subtrees.split_last() else {
            return empty_root();
        };
        rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::merkle::{tree_hash, HashReader as _, MemoryTree};
    use crate::tile::{decode_bundle, split_hashes, tiles_for_size};
    use std::collections::HashMap;

    #[test]
    fn roots_and_tiles_match_the_reference_tree_at_every_size() {
        let mut edge = RightEdge::new();
        let mut tree = MemoryTree::new();
        let mut files: HashMap<String, Vec<u8>> = HashMap::new();
        assert_eq!(edge.root(), empty_root());
        for i in 0..70_000u64 {
            let e = format!("entry {i}").into_bytes();
            tree.push(leaf_hash(&e));
            for f in edge.push(e) {
                files.insert(f.path, f.data);
            }
            let n = i + 1;
            if n < 600 || n % 997 == 0 || n.is_power_of_two() || n % 256 == 0 {
                assert_eq!(edge.root(), tree_hash(&tree, n).unwrap(), "size {n}");
                let partial: Vec<String> = edge.partial_files().into_iter().map(|f| f.path).collect();
                let want: Vec<String> = tiles_for_size(n)
                    .into_iter()
                    .filter(|t| !t.is_full())
                    .map(|t| t.path())
                    .collect();
                assert!(
                    partial
                        .iter()
                        .filter(|p| !p.starts_with("tile/entries"))
                        .eq(want.iter()),
                    "size {n}"
                );
            }
        }
        // Every full tile written holds the reference hashes, and every bundle its entries.
        for t in tiles_for_size(70_000).into_iter().filter(|t| t.is_full()) {
            let hashes = split_hashes(&files[&t.path()]).unwrap();
            for (i, h) in hashes.iter().enumerate() {
                assert_eq!(*h, tree.node(8 * t.level, t.index * 256 + i as u64).unwrap());
            }
            if t.level == 0 {
                let entries = decode_bundle(&files[&t.bundle_path()]).unwrap();
                assert_eq!(entries[0], format!("entry {}", t.index * 256).into_bytes());
            }
        }
    }

    #[test]
    fn an_edge_rebuilt_from_its_partials_carries_on_identically() {
        let mut a = RightEdge::new();
        for i in 0..66_000u64 {
            a.push(i.to_be_bytes().to_vec());
        }
        let parts = a.partial_files();
        let mut partials = vec![Vec::new(); 3];
        let mut bundle = Vec::new();
        for f in parts {
            if f.path.starts_with("tile/entries") {
                bundle = decode_bundle(&f.data).unwrap();
            } else {
                partials[usize::from(f.tile.level)] = split_hashes(&f.data).unwrap();
            }
        }
        let mut b = RightEdge::from_partials(66_000, partials.clone(), bundle.clone()).unwrap();
        assert_eq!(b.root(), a.root());
        for i in 66_000..70_000u64 {
            assert_eq!(a.push(i.to_be_bytes().to_vec()), b.push(i.to_be_bytes().to_vec()));
        }
        assert_eq!(a.root(), b.root());
        assert!(RightEdge::from_partials(66_001, partials.clone(), bundle.clone()).is_err());
        assert!(RightEdge::from_partials(66_000, partials, bundle[1..].to_vec()).is_err());
    }
}
