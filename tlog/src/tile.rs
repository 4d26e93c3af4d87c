//! The tlog-tiles layout (c2sp.org/tlog-tiles §Merkle Tree, §Log entries): tile and entry-bundle paths
//! with the `x001/x234/067` index encoding, which tiles a tree of a given size has, the entry bundle
//! encoding, and a [`HashReader`] that serves any complete subtree hash from tiles.
//!
//! Tiles have height 8: a full tile holds 256 hashes; at level `l` hash `i` of tile `n` is
//! MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]).

use crate::merkle::{hash_run, HashReader, TreeError, HASH_SIZE};
use crate::Hash;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Tile height: each tile covers 8 levels of the tree (tlog-tiles fixes it).
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile, and entries in a full bundle.
pub const TILE_WIDTH: u64 = 256;
/// The largest entry an entry bundle can carry: its length prefix is a big-endian uint16.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// One tile (or, at level 0, its entry bundle too): its level, index within the level, and width in
/// hashes (256 for a full tile, 1..=255 for a partial one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// The tile level, 0 for leaf hashes.
    pub level: u8,
    /// The tile's index within its level.
    pub index: u64,
    /// The number of hashes (or entries) in it, 1..=256.
    pub width: u16,
}

impl TileId {
    /// Whether the tile is full (256 wide); partial tiles are never hashed into the level above.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The hash tile's path, `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.suffix())
    }

    /// The entry bundle's path, `tile/entries/<N>[.p/<W>]` (meaningful at level 0).
    pub fn bundle_path(&self) -> String {
        format!("tile/entries/{}", self.suffix())
    }

    /// The directory that holds this tile's partial versions, `tile/<L>/<N>.p` (deleted once it is full).
    pub fn partial_dir(&self) -> String {
        format!("tile/{}/{}.p", self.level, encode_index(self.index))
    }

    /// The directory that holds this bundle's partial versions, `tile/entries/<N>.p`.
    pub fn partial_bundle_dir(&self) -> String {
        format!("tile/entries/{}.p", encode_index(self.index))
    }

    fn suffix(&self) -> String {
        if self.is_full() {
            encode_index(self.index)
        } else {
            format!("{}.p/{}", encode_index(self.index), self.width)
        }
    }
}

/// Encodes a tile index as zero-padded 3-digit path elements, all but the last prefixed with `x`:
/// 1234067 becomes `x001/x234/067` (tlog-tiles §Merkle Tree).
pub fn encode_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    while n >= 1000 {
        n /= 1000;
        parts.push(format!("x{:03}", n % 1000));
    }
    parts.reverse();
    parts.join("/")
}

/// What a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TilePath {
    /// A hash tile.
    Hashes(TileId),
    /// An entry bundle (level 0).
    Entries(TileId),
}

/// Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, refusing every non-canonical spelling
/// (leading zeros in L or W, a missing `x`, a width of 0 or 256 after `.p`).
pub fn parse_tile_path(path: &str) -> Option<TilePath> {
    let rest = path.strip_prefix("tile/")?;
    let (level, rest) = rest.split_once('/')?;
    let (index_part, width) = match rest.split_once(".p/") {
        Some((i, w)) => {
            let w = parse_canonical(w)?;
            if !(1..TILE_WIDTH).contains(&w) {
                return None;
            }
            (i, w as u16)
        }
        None => (rest, TILE_WIDTH as u16),
    };
    let elems: Vec<&str> = index_part.split('/').collect();
    let mut index: u64 = 0;
    for (i, e) in elems.iter().enumerate() {
        let digits = if i + 1 < elems.len() { e.strip_prefix('x')? } else { e };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(digits.parse::<u64>().ok()?)?;
    }
    if encode_index(index) != index_part {
        return None;
    }
    if level == "entries" {
        return Some(TilePath::Entries(TileId { level: 0, index, width }));
    }
    let l = parse_canonical(level)?;
    if l > 63 {
        return None;
    }
    Some(TilePath::Hashes(TileId {
        level: l as u8,
        index,
        width,
    }))
}

/// A decimal with no leading zeros (unless it is `0`).
pub(crate) fn parse_canonical(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// The number of hashes at tile level `level` in a tree of `size` leaves (`size / 256^level`).
pub fn hashes_at_level(level: u8, size: u64) -> u64 {
    size.checked_shr(8 * u32::from(level)).unwrap_or(0)
}

/// The position of hash (or entry) `n` within its tile; 0 means `n` starts a tile. For a count, the
/// width of the partial tile it leaves (0: none).
pub fn in_tile(n: u64) -> u64 {
    n % TILE_WIDTH
}

/// The tile a tree of `size` leaves has at `level`, `index`, with the width that size gives it; `None`
/// if the tree has no such tile (tlog-tiles §Partial Tiles).
pub fn tile_for(level: u8, index: u64, size: u64) -> Option<TileId> {
    let n = hashes_at_level(level, size);
    let start = index.checked_mul(TILE_WIDTH)?;
    if start >= n {
        return None;
    }
    let width = (n - start).min(TILE_WIDTH) as u16;
    Some(TileId { level, index, width })
}

/// Every tile of a tree of `size` leaves, level by level: full tiles, then the partial one if any.
pub fn tiles_for_size(size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut level = 0u8;
    loop {
        let n = hashes_at_level(level, size);
        if n == 0 {
            return out;
        }
        out.extend((0..n.div_ceil(TILE_WIDTH)).filter_map(|i| tile_for(level, i, size)));
        level += 1;
    }
}

/// The tiles a tree of `new` leaves has that a tree of `old` leaves lacks (new full tiles, and the
/// new partial tiles): what a writer publishes when it grows from `old` to `new`.
pub fn new_tiles(old: u64, new: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut level = 0u8;
    loop {
        let n = hashes_at_level(level, new);
        if n == 0 {
            return out;
        }
        let o = hashes_at_level(level, old);
        if n > o {
            for i in o / TILE_WIDTH..n.div_ceil(TILE_WIDTH) {
                out.extend(tile_for(level, i, new));
            }
        }
        level += 1;
    }
}

/// Why an entry bundle could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// An entry is longer than a uint16 length can say.
    #[error("entry {position} is {len} bytes, more than {MAX_ENTRY_SIZE}")]
    TooLarge { position: usize, len: usize },
    /// The bundle ends inside entry `position` (its length prefix or its bytes).
    #[error("the bundle ends inside entry {position}")]
    Truncated { position: usize },
}

/// Encodes entries as a bundle: each one a big-endian uint16 length, then its bytes (tlog-tiles §Log
/// entries).
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for (position, e) in entries.iter().enumerate() {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| BundleError::TooLarge { position, len: e.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Decodes a bundle into its entries.
pub fn decode_bundle(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, BundleError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let position = out.len();
        let (len, rest) = bytes
            .split_first_chunk::<2>()
            .ok_or(BundleError::Truncated { position })?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return Err(BundleError::Truncated { position });
        }
        out.push(rest[..len].to_vec());
        bytes = &rest[len..];
    }
    Ok(out)
}

/// Splits tile bytes into hashes; `None` if the length is not a whole number of hashes.
pub fn split_hashes(bytes: &[u8]) -> Option<Vec<Hash>> {
    let chunks = bytes.chunks_exact(HASH_SIZE);
    if !chunks.remainder().is_empty() {
        return None;
    }
    Some(chunks.filter_map(Hash::from_slice).collect())
}

/// Joins hashes into tile bytes.
pub fn join_hashes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// Something that holds the hashes of tiles: the published directory, or a writer's memory.
pub trait TileSource {
    /// The hashes of `tile`, at least `tile.width` of them (a full tile may stand in for a partial one).
    fn tile_hashes(&self, tile: TileId) -> Result<TileHashes, TreeError>;
}

/// A [`HashReader`] over the tiles of a tree of `size` leaves, caching the tiles it reads: how proofs and
/// roots are computed from a tiled log (tlog-tiles: "clients can fetch all the tiles they need").
pub struct TileHashReader<S> {
    size: u64,
    source: S,
    cache: RefCell<HashMap<(u8, u64), TileHashes>>,
}

/// The hashes of one tile, shared between a cache and its readers.
pub type TileHashes = Arc<Vec<Hash>>;

impl<S: TileSource> TileHashReader<S> {
    /// A reader of the tree of `size` leaves held in `source`.
    pub fn new(size: u64, source: S) -> Self {
        Self {
            size,
            source,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The tree size this reader serves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The source it reads.
    pub fn source(&self) -> &S {
        &self.source
    }
}

impl<S: TileSource> HashReader for TileHashReader<S> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        let (t, r) = (level / TILE_HEIGHT, u32::from(level % TILE_HEIGHT));
        let out_of_range = || TreeError::Read {
            place: format!("node {level}/{index}"),
            reason: format!("not in the tree of size {}", self.size),
        };
        let first = index.checked_shl(r).ok_or_else(out_of_range)?;
        let count = 1u64 << r;
        let tile = tile_for(t, first / TILE_WIDTH, self.size).ok_or_else(out_of_range)?;
        let off = (first % TILE_WIDTH) as usize;
        if off as u64 + count > u64::from(tile.width) {
            return Err(out_of_range());
        }
        let cached = self.cache.borrow().get(&(t, tile.index)).cloned();
        let hashes = match cached {
            Some(h) => h,
            None => {
                let h = self.source.tile_hashes(tile)?;
                if h.len() < usize::from(tile.width) {
                    return Err(TreeError::Read {
                        place: tile.path(),
                        reason: format!("{} hashes where {} are needed", h.len(), tile.width),
                    });
                }
                self.cache.borrow_mut().insert((t, tile.index), h.clone());
                h
            }
        };
        Ok(hash_run(&hashes[off..off + count as usize]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, tree_hash, MemoryTree};

    #[test]
    fn index_encoding_follows_the_spec_examples() {
        let cases = [
            (0, "000"),
            (7, "007"),
            (999, "999"),
            (1000, "x001/000"),
            (1234067, "x001/x234/067"),
            (1_000_000, "x001/x000/000"),
            (u64::MAX, "x018/x446/x744/x073/x709/x551/615"),
        ];
        for (n, want) in cases {
            assert_eq!(encode_index(n), want);
        }
    }

    #[test]
    fn tile_paths_are_spelled_as_the_spec_says_and_parse_back() {
        let cases = [
            (
                TileId {
                    level: 0,
                    index: 0,
                    width: 256,
                },
                "tile/0/000",
                "tile/entries/000",
            ),
            (
                TileId {
                    level: 0,
                    index: 1234067,
                    width: 256,
                },
                "tile/0/x001/x234/067",
                "tile/entries/x001/x234/067",
            ),
            (
                TileId {
                    level: 2,
                    index: 3,
                    width: 17,
                },
                "tile/2/003.p/17",
                "tile/entries/003.p/17",
            ),
            (
                TileId {
                    level: 1,
                    index: 1000,
                    width: 1,
                },
                "tile/1/x001/000.p/1",
                "tile/entries/x001/000.p/1",
            ),
        ];
        for (tile, path, bundle) in cases {
            assert_eq!(tile.path(), path);
            assert_eq!(tile.bundle_path(), bundle);
            assert_eq!(parse_tile_path(path), Some(TilePath::Hashes(tile)));
            assert_eq!(
                parse_tile_path(bundle),
                Some(TilePath::Entries(TileId { level: 0, ..tile }))
            );
        }
    }

    #[test]
    fn non_canonical_tile_paths_are_refused() {
        for bad in [
            "tile/00/000",
            "tile/0/00",
            "tile/0/1000",
            "tile/0/001/000",
            "tile/0/x000/001",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/012",
            "tile/64/000",
            "tile/entries/000.p/",
            "tiles/0/000",
            "tile/0/",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn tiles_for_size_matches_the_spec_examples() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile
        // of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial
        // level 2 tile of width 1."
        let tiles = tiles_for_size(70_000);
        let level = |l: u8| tiles.iter().filter(|t| t.level == l).copied().collect::<Vec<_>>();
        let l0 = level(0);
        assert_eq!(l0.len(), 274);
        assert_eq!(l0.iter().filter(|t| t.is_full()).count(), 273);
        assert_eq!(
            l0.last(),
            Some(&TileId {
                level: 0,
                index: 273,
                width: 112
            })
        );
        assert_eq!(
            level(1),
            vec![
                TileId {
                    level: 1,
                    index: 0,
                    width: 256
                },
                TileId {
                    level: 1,
                    index: 1,
                    width: 17
                }
            ]
        );
        assert_eq!(
            level(2),
            vec![TileId {
                level: 2,
                index: 0,
                width: 1
            }]
        );
        assert_eq!(level(3), vec![]);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of
        // width 1."
        assert_eq!(
            tiles_for_size(256),
            vec![
                TileId {
                    level: 0,
                    index: 0,
                    width: 256
                },
                TileId {
                    level: 1,
                    index: 0,
                    width: 1
                }
            ]
        );
        assert_eq!(tiles_for_size(0), vec![]);
        assert_eq!(
            tiles_for_size(1),
            vec![TileId {
                level: 0,
                index: 0,
                width: 1
            }]
        );
    }

    #[test]
    fn new_tiles_are_what_grows_between_two_sizes() {
        type Case = (u64, u64, &'static [(u8, u64, u16)]);
        let cases: &[Case] = &[
            (0, 1, &[(0, 0, 1)]),
            (1, 2, &[(0, 0, 2)]),
            (255, 256, &[(0, 0, 256), (1, 0, 1)]),
            (256, 257, &[(0, 1, 1)]),
            (200, 600, &[(0, 0, 256), (0, 1, 256), (0, 2, 88), (1, 0, 2)]),
            (600, 600, &[]),
        ];
        for (old, new, want) in cases {
            let want: Vec<TileId> = want
                .iter()
                .map(|&(level, index, width)| TileId { level, index, width })
                .collect();
            assert_eq!(new_tiles(*old, *new), want, "{old} -> {new}");
        }
        // Together, the new tiles of every step of a growing tree are the tiles of its final size.
        let mut latest: HashMap<(u8, u64), TileId> = HashMap::new();
        let steps = [0u64, 3, 255, 256, 1000, 65535, 65536, 70_000];
        for w in steps.windows(2) {
            for t in new_tiles(w[0], w[1]) {
                latest.insert((t.level, t.index), t);
            }
        }
        let mut got: Vec<TileId> = latest.into_values().collect();
        got.sort_by_key(|t| (t.level, t.index));
        assert_eq!(got, tiles_for_size(70_000));
    }

    #[test]
    fn bundles_round_trip_and_refuse_truncation() {
        let entries: Vec<Vec<u8>> = vec![vec![], b"a".to_vec(), vec![7u8; 300], vec![1u8; MAX_ENTRY_SIZE]];
        let b = encode_bundle(&entries).unwrap();
        assert_eq!(&b[..2], &[0, 0]);
        assert_eq!(&b[2..5], &[0, 1, b'a']);
        assert_eq!(decode_bundle(&b).unwrap(), entries);
        assert_eq!(
            decode_bundle(&b[..b.len() - 1]),
            Err(BundleError::Truncated { position: 3 })
        );
        assert_eq!(decode_bundle(&b[..4]), Err(BundleError::Truncated { position: 1 }));
        assert_eq!(decode_bundle(&b[..1]), Err(BundleError::Truncated { position: 0 }));
        assert_eq!(
            encode_bundle(&[vec![0u8; MAX_ENTRY_SIZE + 1]]),
            Err(BundleError::TooLarge {
                position: 0,
                len: MAX_ENTRY_SIZE + 1
            })
        );
    }

    /// A tile source made from a full in-memory tree, as a writer would lay it out.
    struct FromTree(MemoryTree);
    impl TileSource for FromTree {
        fn tile_hashes(&self, tile: TileId) -> Result<Arc<Vec<Hash>>, TreeError> {
            let level = tile.level * TILE_HEIGHT;
            let first = tile.index * TILE_WIDTH;
            Ok(Arc::new(
                (first..first + u64::from(tile.width))
                    .map(|i| self.0.node(level, i).unwrap())
                    .collect(),
            ))
        }
    }

    #[test]
    fn proofs_from_tiles_equal_proofs_from_the_whole_tree() {
        let mut t = MemoryTree::new();
        for i in 0..70_000u64 {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        for size in [1u64, 2, 255, 256, 257, 65535, 65536, 65537, 70_000] {
            let r = TileHashReader::new(size, FromTree(t.clone()));
            assert_eq!(
                tree_hash(&r, size).unwrap(),
                tree_hash(&t, size).unwrap(),
                "size {size}"
            );
            for index in [0, size / 3, size - 1] {
                assert_eq!(
                    crate::merkle::inclusion_proof(&r, index, size).unwrap(),
                    crate::merkle::inclusion_proof(&t, index, size).unwrap()
                );
            }
            for old in [1, size / 2, size - 1] {
                if old == 0 {
                    continue;
                }
                assert_eq!(
                    crate::merkle::consistency_proof(&r, old, size).unwrap(),
                    crate::merkle::consistency_proof(&t, old, size).unwrap()
                );
            }
        }
    }
}
