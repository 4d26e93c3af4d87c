//! Merkle tree hashing and proofs over SHA-256, as RFC 6962 §2.1 defines them and RFC 9162 §2.1 restates
//! them: leaf and node hashes, the tree hash of any prefix, and inclusion and consistency proofs.
//!
//! Generation reads hashes of complete subtrees from a [`HashReader`] (tiles on disk, or memory), so one
//! algorithm serves the writer, the verifier and the `prove` command. Verification is pure: proof in,
//! yes or no out, with nothing to read.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use sha2::{Digest, Sha256};
use std::fmt;

/// The size of a SHA-256 hash in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 Merkle tree hash (RFC 6962 §2.1 MTH), of a leaf, an interior node or a whole tree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// The standard base64 of the hash, as checkpoints and proofs carry it (tlog-checkpoint, tlog-proof).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses exactly 32 bytes of canonical standard base64.
    pub fn from_base64(s: &str) -> Option<Hash> {
        let bytes = STANDARD.decode(s).ok()?;
        Hash::from_slice(&bytes)
    }

    /// The hash in `bytes`, which must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        <[u8; HASH_SIZE]>::try_from(bytes).ok().map(Hash)
    }

    /// Lowercase hex, for messages and tests.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// The hash of an entry as a leaf: SHA-256(0x00 ‖ entry) (RFC 6962 §2.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// The hash of an interior node: SHA-256(0x01 ‖ left ‖ right) (RFC 6962 §2.1).
///
/// The 65-byte message is padded by hand into its two SHA-256 blocks (FIPS 180-4 §5.1.1) and fed to the
/// compression function directly: node hashing is the verifier's inner loop, and this skips the
/// streaming buffer's bookkeeping. The RFC 6962 vectors in the tests pin it to the standard.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    use sha2::digest::generic_array::GenericArray;
    let mut blocks = [GenericArray::from([0u8; 64]), GenericArray::from([0u8; 64])];
    blocks[0][0] = 1;
    blocks[0][1..33].copy_from_slice(&left.0);
    blocks[0][33..64].copy_from_slice(&right.0[..31]);
    blocks[1][0] = right.0[31];
    blocks[1][1] = 0x80;
    blocks[1][56..64].copy_from_slice(&(65u64 * 8).to_be_bytes());
    let mut state = SHA256_IV;
    sha2::compress256(&mut state, &blocks);
    let mut out = [0u8; HASH_SIZE];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    Hash(out)
}

/// The SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The hash of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// Why a proof could not be made or a hash could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The index asked for is not in the tree.
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("size {old} is larger than size {new}")]
    SizeOrder { old: u64, new: u64 },
    /// The hash source could not give a hash it should hold (a tile missing, short or unreadable).
    #[error("{place}: {reason}")]
    Read { place: String, reason: String },
}

/// Why a proof does not verify (RFC 9162 §2.1.3.2 and §2.1.4.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index is not below the tree size.
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The old size is larger than the new size.
    #[error("old size {old} is larger than new size {new}")]
    SizeOrder { old: u64, new: u64 },
    /// The proof has more or fewer hashes than the sizes call for.
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    /// The proof leads to a root other than the one expected.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// A source of hashes of complete subtrees: `node(level, index)` is MTH of the leaves
/// `[index·2^level, (index+1)·2^level)`. Tiles are exactly such a source (tlog-tiles §Merkle Tree).
pub trait HashReader {
    /// The hash of the complete subtree at `level` (0 = leaves) and `index` within that level.
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError>;
}

/// The largest power of two strictly below `n` (the RFC 6962 split point `k`); `n` must be at least 2.
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[lo:hi])` read from complete subtrees (RFC 6962 §2.1); an empty or inverted range is an error.
pub fn subtree_hash<R: HashReader + ?Sized>(r: &R, lo: u64, hi: u64) -> Result<Hash, TreeError> {
    if hi <= lo {
        return Err(TreeError::SizeOrder { old: lo, new: hi });
    }
    let n = hi - lo;
    if n.is_power_of_two() && lo & (n - 1) == 0 {
        return r.node(n.trailing_zeros() as u8, lo / n);
    }
    let k = split(n);
    let left = subtree_hash(r, lo, lo + k)?;
    let right = subtree_hash(r, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// The root hash of the tree of the first `size` leaves.
pub fn tree_hash<R: HashReader + ?Sized>(r: &R, size: u64) -> Result<Hash, TreeError> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree_hash(r, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves, leaf's sibling first
/// (RFC 9162 §2.1.3.1 PATH).
pub fn inclusion_proof<R: HashReader + ?Sized>(r: &R, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(r, index, 0, size, &mut out)?;
    Ok(out)
}

fn path<R: HashReader + ?Sized>(r: &R, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Result<(), TreeError> {
    let n = hi - lo;
    if n == 1 {
        return Ok(());
    }
    let k = split(n);
    if m < lo + k {
        path(r, m, lo, lo + k, out)?;
        out.push(subtree_hash(r, lo + k, hi)?);
    } else {
        path(r, m, lo + k, hi, out)?;
        out.push(subtree_hash(r, lo, lo + k)?);
    }
    Ok(())
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves (RFC 9162 §2.1.4.1
/// PROOF). Empty when `old` is 0 or equals `new`, as tlog-witness requires.
pub fn consistency_proof<R: HashReader + ?Sized>(r: &R, old: u64, new: u64) -> Result<Vec<Hash>, TreeError> {
    if old > new {
        return Err(TreeError::SizeOrder { old, new });
    }
    let mut out = Vec::new();
    if old == 0 || old == new {
        return Ok(out);
    }
    subproof(r, old, 0, new, true, &mut out)?;
    Ok(out)
}

fn subproof<R: HashReader + ?Sized>(
    r: &R,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), TreeError> {
    if m == hi {
        if !whole {
            out.push(subtree_hash(r, lo, hi)?);
        }
        return Ok(());
    }
    let k = split(hi - lo);
    if m <= lo + k {
        subproof(r, m, lo, lo + k, whole, out)?;
        out.push(subtree_hash(r, lo + k, hi)?);
    } else {
        subproof(r, m, lo + k, hi, false, out)?;
        out.push(subtree_hash(r, lo, lo + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new` leaves with
/// root `new_root` (RFC 9162 §2.1.4.2). An empty old tree is consistent with anything given an empty
/// proof; equal sizes need equal roots and an empty proof (tlog-witness §add-checkpoint).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The Merkle hash of a power-of-two run of sibling hashes (a subtree inside a tile); a run of one is
/// itself.
pub fn hash_run(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| if p.len() == 2 { node_hash(&p[0], &p[1]) } else { p[0] })
            .collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// An in-memory tree holding every complete subtree hash: the reference [`HashReader`] for tests and
/// small tools.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash, completing whatever subtrees it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(h);
            let n = self.levels[level].len();
            if n % 2 == 1 {
                return;
            }
            h = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            level += 1;
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The root hash of the whole tree.
    pub fn root(&self) -> Hash {
        tree_hash(self, self.size()).unwrap_or_else(|_| empty_root())
    }
}

impl HashReader for MemoryTree {
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.levels
            .get(usize::from(level))
            .and_then(|l| usize::try_from(index).ok().and_then(|i| l.get(i)))
            .copied()
            .ok_or_else(|| TreeError::Read {
                place: format!("node {level}/{index}"),
                reason: "not in the tree".into(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn b64(s: &str) -> Hash {
        Hash::from_base64(s).unwrap()
    }

    /// The RFC 6962 reference leaves used by the Certificate Transparency and transparency-dev test suites.
    fn reference_leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| hex(h))
        .collect()
    }

    fn reference_tree() -> MemoryTree {
        let mut t = MemoryTree::new();
        for l in reference_leaves() {
            t.push(leaf_hash(&l));
        }
        t
    }

    #[test]
    fn roots_match_the_rfc6962_reference_vectors() {
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let t = reference_tree();
        for (size, want) in roots.iter().enumerate() {
            assert_eq!(tree_hash(&t, size as u64).unwrap().to_hex(), *want, "size {size}");
        }
    }

    #[test]
    fn node_hash_is_sha256_of_the_prefixed_pair() {
        for (a, b) in [(leaf_hash(b"a"), leaf_hash(b"b")), (Hash([0xff; 32]), Hash([0; 32]))] {
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(a.0);
            h.update(b.0);
            assert_eq!(node_hash(&a, &b).0, <[u8; 32]>::from(h.finalize()));
        }
    }

    #[test]
    fn record_hash_matches_go_sumdb() {
        // golang.org/x/mod/sumdb/tlog TestFormatTree: RecordHash("hello world").
        assert_eq!(
            leaf_hash(b"hello world").to_base64(),
            "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0="
        );
    }

    #[test]
    fn inclusion_proofs_match_the_transparency_dev_vectors() {
        // transparency-dev/merkle testdata/inclusion/*/happy-path.json
        let cases: &[(u64, u64, &[&str])] = &[
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
                    "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                    "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
                ],
            ),
            (
                5,
                8,
                &[
                    "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
                    "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
                    "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
                ],
            ),
            (2, 3, &["+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU="]),
            (
                1,
                5,
                &[
                    "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
                    "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                    "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
                ],
            ),
        ];
        let t = reference_tree();
        for (index, size, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| b64(s)).collect();
            let got = inclusion_proof(&t, *index, *size).unwrap();
            assert_eq!(got, want, "index {index} size {size}");
            let root = tree_hash(&t, *size).unwrap();
            let leaf = t.node(0, *index).unwrap();
            verify_inclusion(&leaf, *index, *size, &want, &root).unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_the_transparency_dev_vectors() {
        // transparency-dev/merkle testdata/consistency/*/happy-path.json
        let cases: &[(u64, u64, &[&str])] = &[
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
                    "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                    "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
                ],
            ),
            (
                6,
                8,
                &[
                    "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
                    "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
                    "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
                ],
            ),
            (
                2,
                5,
                &[
                    "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                    "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
                ],
            ),
            (
                6,
                7,
                &[
                    "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
                    "sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=",
                    "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
                ],
            ),
        ];
        let t = reference_tree();
        for (old, new, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| b64(s)).collect();
            assert_eq!(consistency_proof(&t, *old, *new).unwrap(), want, "{old} -> {new}");
            let (r1, r2) = (tree_hash(&t, *old).unwrap(), tree_hash(&t, *new).unwrap());
            verify_consistency(*old, *new, &r1, &r2, &want).unwrap();
        }
    }

    #[test]
    fn verification_refuses_the_edge_cases_in_the_table() {
        let t = reference_tree();
        let r = |n| tree_hash(&t, n).unwrap();
        let leaf = t.node(0, 0).unwrap();
        let p8 = inclusion_proof(&t, 0, 8).unwrap();
        let c = consistency_proof(&t, 3, 8).unwrap();
        let other = leaf_hash(b"other");
        let cases: Vec<(&str, Result<(), ProofError>)> = vec![
            ("index = size", verify_inclusion(&leaf, 8, 8, &p8, &r(8))),
            ("size 0", verify_inclusion(&leaf, 0, 0, &[], &r(0))),
            ("proof too short", verify_inclusion(&leaf, 0, 8, &p8[..2], &r(8))),
            (
                "proof too long",
                verify_inclusion(&leaf, 0, 8, &[p8.clone(), vec![other]].concat(), &r(8)),
            ),
            ("wrong root", verify_inclusion(&leaf, 0, 8, &p8, &r(7))),
            ("wrong leaf", verify_inclusion(&other, 0, 8, &p8, &r(8))),
            ("old > new", verify_consistency(8, 3, &r(8), &r(3), &c)),
            ("old 0 with a proof", verify_consistency(0, 8, &r(0), &r(8), &c)),
            ("equal sizes, other roots", verify_consistency(5, 5, &r(5), &r(4), &[])),
            ("equal sizes, a proof", verify_consistency(5, 5, &r(5), &r(5), &c)),
            ("empty proof", verify_consistency(3, 8, &r(3), &r(8), &[])),
            ("swapped roots", verify_consistency(3, 8, &r(8), &r(3), &c)),
            ("truncated", verify_consistency(3, 8, &r(3), &r(8), &c[..c.len() - 1])),
            (
                "trailing garbage",
                verify_consistency(3, 8, &r(3), &r(8), &[c.clone(), vec![other]].concat()),
            ),
        ];
        for (name, got) in cases {
            assert!(got.is_err(), "{name} verified");
        }
        verify_consistency(0, 8, &r(0), &r(8), &[]).unwrap();
        verify_consistency(8, 8, &r(8), &r(8), &[]).unwrap();
    }

    fn flip(h: &Hash, bit: usize) -> Hash {
        let mut x = *h;
        x.0[bit / 8 % HASH_SIZE] ^= 1 << (bit % 8);
        x
    }

    fn big_tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(format!("entry {i}").as_bytes()));
        }
        t
    }

    /// Every size 1..=300, every index: the generated proof verifies, and flipping a bit of a proof hash
    /// (each proof a different hash and bit), of the leaf or of the root makes it fail; so does claiming a
    /// neighbouring index. Every bit of every hash is flipped in the exhaustive test below, on small trees.
    #[test]
    fn every_inclusion_proof_up_to_300_verifies_and_any_flipped_bit_fails() {
        let t = big_tree(300);
        let roots: Vec<Hash> = (0..=300).map(|n| tree_hash(&t, n).unwrap()).collect();
        for size in 1..=300u64 {
            let root = roots[size as usize];
            for index in 0..size {
                let leaf = t.node(0, index).unwrap();
                let proof = inclusion_proof(&t, index, size).unwrap();
                verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
                let bit = (size * 31 + index * 7) as usize % 256;
                if !proof.is_empty() {
                    let mut bad = proof.clone();
                    let i = (index as usize) % proof.len();
                    bad[i] = flip(&bad[i], bit);
                    assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
                }
                assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &root).is_err());
                assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, bit)).is_err());
                if size > 1 {
                    assert!(verify_inclusion(&leaf, (index + 1) % size, size, &proof, &root).is_err());
                }
            }
        }
    }

    /// Every pair of sizes 1 ≤ old ≤ new ≤ 300: the proof verifies, and a flipped bit in a proof hash (each
    /// pair a different hash and bit) or in either root fails.
    #[test]
    fn every_consistency_proof_up_to_300_verifies_and_any_flipped_bit_fails() {
        let t = big_tree(300);
        let roots: Vec<Hash> = (0..=300).map(|n| tree_hash(&t, n).unwrap()).collect();
        for new in 1..=300u64 {
            for old in 1..=new {
                let (r1, r2) = (roots[old as usize], roots[new as usize]);
                let proof = consistency_proof(&t, old, new).unwrap();
                verify_consistency(old, new, &r1, &r2, &proof).unwrap();
                let bit = (old * 13 + new * 5) as usize % 256;
                if !proof.is_empty() {
                    let mut bad = proof.clone();
                    let i = (old as usize) % proof.len();
                    bad[i] = flip(&bad[i], bit);
                    assert!(
                        verify_consistency(old, new, &r1, &r2, &bad).is_err(),
                        "{old}->{new} [{i}]"
                    );
                }
                assert!(verify_consistency(old, new, &flip(&r1, bit), &r2, &proof).is_err());
                assert!(verify_consistency(old, new, &r1, &flip(&r2, bit), &proof).is_err());
            }
        }
    }

    /// For small trees, every single bit of every proof, not just one per hash.
    #[test]
    fn exhaustive_bit_flips_on_small_trees_all_fail() {
        let t = big_tree(13);
        for size in 1..=13u64 {
            let root = tree_hash(&t, size).unwrap();
            for index in 0..size {
                let leaf = t.node(0, index).unwrap();
                let proof = inclusion_proof(&t, index, size).unwrap();
                for i in 0..proof.len() {
                    for bit in 0..256 {
                        let mut bad = proof.clone();
                        bad[i] = flip(&bad[i], bit);
                        assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
                    }
                }
            }
            for old in 1..size {
                let r1 = tree_hash(&t, old).unwrap();
                let proof = consistency_proof(&t, old, size).unwrap();
                for i in 0..proof.len() {
                    for bit in 0..256 {
                        let mut bad = proof.clone();
                        bad[i] = flip(&bad[i], bit);
                        assert!(verify_consistency(old, size, &r1, &root, &bad).is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn hash_run_of_a_power_of_two_is_the_subtree_hash() {
        let t = big_tree(64);
        let leaves: Vec<Hash> = (0..64).map(|i| t.node(0, i).unwrap()).collect();
        assert_eq!(hash_run(&leaves), tree_hash(&t, 64).unwrap());
        assert_eq!(hash_run(&leaves[8..16]), t.node(3, 1).unwrap());
    }
}
