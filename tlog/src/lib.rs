//! The hub's audit log: a tiled transparency log in the C2SP formats, so that standard transparency-log
//! tooling and an independent verifier written from the specs agree with it on every byte.
//!
//! Layers, bottom up: [`merkle`] (RFC 6962 / RFC 9162 hashing and proofs), [`tile`] (c2sp.org/tlog-tiles
//! layout), [`note`], [`checkpoint`] and [`cosignature`] (c2sp.org/signed-note, tlog-checkpoint,
//! tlog-cosignature), [`proof`] (c2sp.org/tlog-proof and our consistency-proof file); then the durable
//! writer [`Log`], the offline verifier [`verify`], the reader [`read`] and the [`witness`]
//! (c2sp.org/tlog-witness).

pub mod checkpoint;
pub mod clock;
pub mod cosignature;
pub mod edge;
pub mod log;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod read;
pub mod storage;
pub mod tile;
pub mod verify;
pub mod wal;
pub mod witness;
pub mod witness_http;

pub use log::{Log, LogError, LogOptions, RecoveryReport};
pub use merkle::Hash;
pub use note::NoteSigner;
pub use verify::{verify_dir, Report, VerifyError};
