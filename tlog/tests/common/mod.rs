//! The published log the verifier and reader tests tamper with: 700 entries (level-0 tiles 000 and 001
//! full, 002.p/188 partial; level-1 tile 000.p/2; a checkpoint every 100 entries, so history files),
//! built once per test binary; each test works on its own copy.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tlog::{Log, LogOptions, NoteSigner};

pub const ORIGIN: &str = "audit.example/hub-1";
pub const SIZE: u64 = 700;

pub fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[42; 32]).unwrap()
}

pub fn entry(i: u64) -> Vec<u8> {
    format!("{{\"seq\":{i},\"event\":\"assertion_issued\"}}").into_bytes()
}

/// The log, published and closed.
pub fn fixture() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let options = LogOptions {
                checkpoint_every: 100,
                ..LogOptions::default()
            };
            let log = Log::open(dir.path(), ORIGIN, signer(), options).unwrap();
            for i in 0..SIZE {
                log.append(entry(i)).await.unwrap();
            }
            log.close().await.unwrap();
        });
        dir
    })
    .path()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A copy of the fixture to tamper with, and the directory that holds it.
pub fn copy() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("log");
    copy_dir(fixture(), &p);
    (t, p)
}
