//! The reader against a log rewritten consistently below its signed root: an entry bundle edited and
//! its level-0 tile recomputed from it (so each entry still matches its tile hash) is an error naming
//! the tile, for a whole read and for a read of a sub-range, before any entry of that tile is given out;
//! entries of untouched tiles still read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use tlog::merkle::{hash_run, leaf_hash};
use tlog::read::{prove_inclusion, read_entries, read_entries_in, ReadError};
use tlog::storage::DirReader;
use tlog::tile::{decode_bundle, encode_bundle, join_hashes, split_hashes};

mod common;

use common::{copy, entry, fixture, signer, SIZE};

/// Edits entry `at` of a bundle and rewrites its level-0 tile from the edited bundle, so that every
/// entry matches its tile hash; returns the tile's new hash run (what the tile above should hold).
fn rewrite_consistently(dir: &Path, suffix: &str, at: usize) -> tlog::Hash {
    let bundle = dir.join(format!("tile/entries/{suffix}"));
    let mut entries = decode_bundle(&std::fs::read(&bundle).unwrap()).unwrap();
    entries[at] = br#"{"seq":0,"event":"assertion_issued","sub":"someone else"}"#.to_vec();
    std::fs::write(&bundle, encode_bundle(&entries).unwrap()).unwrap();
    let hashes: Vec<tlog::Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    std::fs::write(dir.join(format!("tile/0/{suffix}")), join_hashes(&hashes)).unwrap();
    hash_run(&hashes)
}

fn read_all(dir: &Path) -> (Vec<u64>, Option<ReadError>) {
    let (cp, entries) = read_entries(dir, &signer().vkey()).unwrap();
    assert_eq!(cp.size, SIZE);
    let mut ok = Vec::new();
    for item in entries {
        match item {
            Ok((i, _)) => ok.push(i),
            Err(e) => return (ok, Some(e)),
        }
    }
    (ok, None)
}

#[track_caller]
fn assert_names(e: Option<ReadError>, path: &str) {
    match e {
        Some(e @ ReadError::NotSigned { .. }) => assert!(e.to_string().contains(path), "{e}"),
        other => panic!("expected the tile {path} named as not leading to the signed root, got {other:?}"),
    }
}

#[test]
fn an_untouched_log_reads_whole_and_in_ranges() {
    let (ok, err) = read_all(fixture());
    assert_eq!((ok.len() as u64, err), (SIZE, None));
    for range in [0..1, 255..257, 300..310, 511..700, 699..5000, 700..800] {
        let (_, entries) = read_entries_in(fixture(), &signer().vkey(), range.clone()).unwrap();
        let got: Vec<(u64, Vec<u8>)> = entries.map(Result::unwrap).collect();
        let want: Vec<u64> = (range.start..range.end.min(SIZE)).collect();
        assert_eq!(got.iter().map(|(i, _)| *i).collect::<Vec<_>>(), want, "{range:?}");
        assert!(got.iter().all(|(i, e)| *e == entry(*i)));
    }
}

#[test]
fn a_full_bundle_rewritten_with_its_tile_names_the_tile_before_any_of_its_entries() {
    let (_t, d) = copy();
    rewrite_consistently(&d, "001", 10);
    let (ok, err) = read_all(&d);
    assert_eq!(
        ok,
        (0..256).collect::<Vec<_>>(),
        "tile 000 reads, nothing of tile 001 does"
    );
    assert_names(err, "tile/0/001");
}

#[test]
fn a_partial_bundle_rewritten_with_its_tile_is_caught_at_the_root() {
    let (_t, d) = copy();
    rewrite_consistently(&d, "002.p/188", 5);
    // The partial tiles of the right edge are checked only through the root, which the first tile
    // read already needs (its hash is in the partial level-1 tile): nothing reads.
    let (ok, err) = read_all(&d);
    assert!(ok.is_empty(), "{ok:?}");
    assert_names(err, "tile/0/002.p/188");
}

#[test]
fn rewriting_the_tile_above_too_is_caught_at_the_root() {
    let (_t, d) = copy();
    let run = rewrite_consistently(&d, "000", 0);
    let above = d.join("tile/1/000.p/2");
    let mut hashes = split_hashes(&std::fs::read(&above).unwrap()).unwrap();
    hashes[0] = run;
    std::fs::write(&above, join_hashes(&hashes)).unwrap();
    let (ok, err) = read_all(&d);
    assert!(ok.is_empty(), "{ok:?}");
    assert_names(err, "tile/1/000.p/2");
}

#[test]
fn a_range_read_checks_the_tiles_it_touches_against_the_root() {
    let (_t, d) = copy();
    rewrite_consistently(&d, "000", 3);
    let vkey = signer().vkey();
    let (_, mut one) = read_entries_in(&d, &vkey, 3..4).unwrap();
    assert_names(one.next().and_then(Result::err), "tile/0/000");
    assert!(one.next().is_none(), "nothing after the error");
    let (_, elsewhere) = read_entries_in(&d, &vkey, 256..700).unwrap();
    assert_eq!(
        elsewhere.filter(Result::is_ok).count(),
        444,
        "untouched tiles still read"
    );
    // A proof made from the rewritten tile would not check; prove says so rather than write it.
    let e = prove_inclusion(&DirReader(d.clone()), &vkey, 3, None).unwrap_err();
    assert!(
        matches!(e, ReadError::NotSigned { .. }) && e.to_string().contains("tile/0/000"),
        "{e}"
    );
    assert!(prove_inclusion(&DirReader(d), &vkey, 300, None).is_ok());
}

#[test]
fn an_entry_edited_alone_is_named_with_its_bundle() {
    let (_t, d) = copy();
    let bundle = d.join("tile/entries/001");
    let mut entries = decode_bundle(&std::fs::read(&bundle).unwrap()).unwrap();
    entries[7][3] ^= 1;
    std::fs::write(&bundle, encode_bundle(&entries).unwrap()).unwrap();
    let (ok, err) = read_all(&d);
    assert_eq!(ok.len(), 256 + 7);
    assert_eq!(
        err,
        Some(ReadError::Mismatch {
            index: 263,
            path: "tile/entries/001".into()
        })
    );
}
