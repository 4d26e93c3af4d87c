//! The offline verifier against every kind of tampering: each must fail and name the first bad place
//! (the entry index, the tile path, or the checkpoint); the untouched log verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use tlog::checkpoint::Checkpoint;
use tlog::merkle::leaf_hash;
use tlog::tile::{decode_bundle, encode_bundle};
use tlog::verify::{read_history, verify_log};
use tlog::{verify_dir, NoteSigner, VerifyError};

mod common;

use common::{copy, entry, signer, ORIGIN, SIZE};

fn rewrite_bundle(dir: &Path, path: &str, f: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let p = dir.join(path);
    let mut entries = decode_bundle(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut entries);
    std::fs::write(p, encode_bundle(&entries).unwrap()).unwrap();
}

fn flip_byte(dir: &Path, path: &str, at: usize) {
    let p = dir.join(path);
    let mut b = std::fs::read(&p).unwrap();
    b[at] ^= 0x20;
    std::fs::write(p, b).unwrap();
}

fn truncate(dir: &Path, path: &str, by: usize) {
    let p = dir.join(path);
    let b = std::fs::read(&p).unwrap();
    std::fs::write(p, &b[..b.len() - by]).unwrap();
}

fn sign_checkpoint(dir: &Path, cp: &Checkpoint, key: &NoteSigner) {
    std::fs::write(dir.join("checkpoint"), cp.sign(key).unwrap()).unwrap();
}

fn current(dir: &Path) -> Checkpoint {
    let text = std::fs::read_to_string(dir.join("checkpoint")).unwrap();
    tlog::checkpoint::open_checkpoint(&text, &signer().verifier())
        .unwrap()
        .0
}

fn verify(dir: &Path) -> Result<tlog::Report, VerifyError> {
    verify_dir(dir, &signer().vkey())
}

#[track_caller]
fn assert_entry(r: Result<tlog::Report, VerifyError>, want_index: u64, mentions: &str) {
    match r {
        Err(VerifyError::Entry {
            index,
            ref path,
            ref reason,
        }) => {
            assert_eq!(index, want_index, "{path}: {reason}");
            assert!(format!("{path} {reason}").contains(mentions), "{path}: {reason}");
        }
        other => panic!("expected entry {want_index}, got {other:?}"),
    }
}

#[track_caller]
fn assert_tile(r: Result<tlog::Report, VerifyError>, want_path: &str) {
    match r {
        Err(VerifyError::Tile { ref path, .. }) => assert_eq!(path, want_path, "{r:?}"),
        other => panic!("expected {want_path}, got {other:?}"),
    }
}

#[test]
fn the_untouched_log_verifies() {
    let (_t, d) = copy();
    let r = verify(&d).unwrap();
    assert_eq!((r.origin.as_str(), r.size, r.entries, r.tiles), (ORIGIN, SIZE, SIZE, 4));
    assert!(r.history >= 7, "{r:?}");
}

#[test]
fn one_changed_byte_of_an_entry_names_the_entry() {
    let (_t, d) = copy();
    rewrite_bundle(&d, "tile/entries/001", |e| e[300 - 256][3] ^= 1);
    assert_entry(verify(&d), 300, "tile/entries/001");
}

#[test]
fn one_changed_byte_of_a_level0_hash_tile_names_the_entry_and_the_tile() {
    let (_t, d) = copy();
    flip_byte(&d, "tile/0/001", 10 * 32 + 5);
    assert_entry(verify(&d), 256 + 10, "tile/0/001");
}

#[test]
fn one_changed_byte_of_a_level1_hash_tile_names_the_tile() {
    let (_t, d) = copy();
    flip_byte(&d, "tile/1/000.p/2", 33);
    assert_tile(verify(&d), "tile/1/000.p/2");
}

#[test]
fn a_deleted_entry_names_its_index() {
    let (_t, d) = copy();
    rewrite_bundle(&d, "tile/entries/000", |e| {
        e.remove(100);
    });
    assert_entry(verify(&d), 100, "tile/entries/000");
}

#[test]
fn swapped_entries_name_the_first() {
    let (_t, d) = copy();
    rewrite_bundle(&d, "tile/entries/002.p/188", |e| e.swap(10, 11));
    assert_entry(verify(&d), 512 + 10, "tile/entries/002.p/188");
}

#[test]
fn an_extra_entry_is_named() {
    let (_t, d) = copy();
    rewrite_bundle(&d, "tile/entries/002.p/188", |e| e.push(b"smuggled".to_vec()));
    assert_entry(verify(&d), SIZE, "tile/entries/002.p/188");
}

#[test]
fn a_cut_tail_names_the_first_missing_place() {
    let (_t, d) = copy();
    truncate(&d, "tile/entries/002.p/188", 5);
    assert_entry(verify(&d), SIZE - 1, "cut short");
    let (_t, d) = copy();
    let last = entry(SIZE - 1).len() + 2;
    truncate(&d, "tile/entries/002.p/188", last);
    assert_entry(verify(&d), SIZE - 1, "missing");
    let (_t, d) = copy();
    truncate(&d, "tile/0/002.p/188", 32);
    assert_tile(verify(&d), "tile/0/002.p/188");
    let (_t, d) = copy();
    std::fs::remove_file(d.join("tile/0/001")).unwrap();
    assert_tile(verify(&d), "tile/0/001");
    let (_t, d) = copy();
    std::fs::remove_file(d.join("tile/entries/001")).unwrap();
    assert_entry(verify(&d), 256, "missing");
}

#[test]
fn a_checkpoint_signed_by_another_key_is_refused() {
    let (_t, d) = copy();
    let other = NoteSigner::from_seed(ORIGIN, &[43; 32]).unwrap();
    sign_checkpoint(&d, &current(&d), &other);
    assert!(matches!(verify(&d), Err(VerifyError::Checkpoint(_))));
}

#[test]
fn an_edited_checkpoint_is_refused() {
    let (_t, d) = copy();
    let text = std::fs::read_to_string(d.join("checkpoint")).unwrap();
    std::fs::write(d.join("checkpoint"), text.replace("\n700\n", "\n699\n")).unwrap();
    assert!(matches!(verify(&d), Err(VerifyError::Checkpoint(m)) if m.contains("signature")));
}

#[test]
fn a_validly_signed_checkpoint_with_a_wrong_root_is_refused() {
    let (_t, d) = copy();
    let cp = Checkpoint {
        root: leaf_hash(b"not the root"),
        ..current(&d)
    };
    sign_checkpoint(&d, &cp, &signer());
    assert!(matches!(verify(&d), Err(VerifyError::Checkpoint(m)) if m.contains("root")));
}

#[test]
fn a_validly_signed_checkpoint_with_a_wrong_size_is_refused() {
    // Without history: the size calls for a tile the log does not have.
    let (_t, d) = copy();
    let cp = Checkpoint {
        size: SIZE - 1,
        ..current(&d)
    };
    sign_checkpoint(&d, &cp, &signer());
    assert_tile(
        verify_log(&tlog::storage::DirReader(d.clone()), &signer().vkey(), &[]),
        "tile/0/002.p/187",
    );
    // With history: a checkpoint smaller than one already published is a rollback.
    assert!(matches!(verify(&d), Err(VerifyError::History { reason, .. }) if reason.contains("rolled back")));
    // Larger than the log: the tiles for it are missing.
    let cp = Checkpoint {
        size: SIZE + 1,
        ..current(&d)
    };
    sign_checkpoint(&d, &cp, &signer());
    assert!(matches!(verify(&d), Err(VerifyError::Tile { .. })));
}

#[test]
fn a_forged_history_checkpoint_names_its_file() {
    let (_t, d) = copy();
    let history = read_history(&d).unwrap();
    let (name, text) = history.iter().find(|(_, t)| t.contains("\n300\n")).unwrap().clone();
    let old = tlog::checkpoint::open_checkpoint(&text, &signer().verifier())
        .unwrap()
        .0;
    let forged = Checkpoint {
        root: leaf_hash(b"another history"),
        ..old
    };
    std::fs::write(d.join(&name), forged.sign(&signer()).unwrap()).unwrap();
    match verify(&d) {
        Err(VerifyError::History { name: n, reason }) => {
            assert_eq!(n, name);
            assert!(reason.contains("forked"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
