//! Benchmarks that print their figures (STYLE.md §14):
//!
//! 1. durable append throughput, fsync on, with 1, 16 and 64 concurrent writers of ~300-byte entries,
//!    in a temp directory on the real disk: entries/s, entries per fsync, and append latency;
//! 2. `verify_dir` over a log of one million entries.
//!
//! Run: `cargo bench -p tlog --bench tlog`. `TLOG_BENCH_SECS` (default 3) sets each throughput run's
//! length, `TLOG_BENCH_VERIFY_ENTRIES` (default 1000000) the verified log's size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tlog::storage::FaultyDisk;
use tlog::{verify_dir, Log, LogOptions, NoteSigner};

const ORIGIN: &str = "bench.example/log";

fn entry(writer: u64, seq: u64) -> Vec<u8> {
    let head = format!("{{\"seq\":{seq},\"writer\":{writer},\"event\":\"assertion_issued\",\"journey\":\"");
    let mut e = head.into_bytes();
    e.resize(300 - 2, b'a');
    e.extend_from_slice(b"\"}");
    e
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p) as usize)
        .copied()
        .unwrap_or_default()
}

async fn throughput(writers: u64, secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    // FaultyDisk never fails here; it only counts the write-ahead fsyncs.
    let disk = FaultyDisk::new();
    let options = LogOptions {
        storage: Arc::new(disk.clone()),
        ..LogOptions::default()
    };
    let signer = NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap();
    let log = Arc::new(Log::open(dir.path(), ORIGIN, signer.clone(), options).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let syncs_before = disk.wal_syncs();
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (log, stop) = (log.clone(), stop.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    log.append(entry(w, seq)).await.unwrap();
                    lat.push(t.elapsed());
                    seq += 1;
                }
                lat
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let syncs = (disk.wal_syncs() - syncs_before).max(1);
    log.close().await.unwrap();
    lat.sort_unstable();
    let n = lat.len() as f64;
    println!(
        "append  writers={writers:>2}  {:>8.0} entries/s  {:>6.1} entries/fsync  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} entries in {elapsed:.1} s)",
        n / elapsed,
        n / syncs as f64,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.len()
    );
    let t = Instant::now();
    let r = verify_dir(dir.path(), &signer.vkey()).unwrap();
    assert_eq!(r.size, lat.len() as u64);
    println!(
        "        verified {} entries in {:.2} s",
        r.size,
        t.elapsed().as_secs_f64()
    );
}

async fn verify_million(entries: u64) {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::from_seed(ORIGIN, &[2; 32]).unwrap();
    let options = LogOptions {
        checkpoint_every: 65536,
        checkpoint_interval: Duration::from_secs(5),
        ..LogOptions::default()
    };
    let log = Arc::new(Log::open(dir.path(), ORIGIN, signer.clone(), options).unwrap());
    let start = Instant::now();
    let writers = 256u64;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut seq = w;
                while seq < entries {
                    log.append(entry(w, seq)).await.unwrap();
                    seq += writers;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    log.close().await.unwrap();
    let built = start.elapsed().as_secs_f64();
    println!(
        "build   {entries} entries by {writers} writers in {built:.1} s ({:.0} entries/s, durable)",
        entries as f64 / built
    );
    let t = Instant::now();
    let r = verify_dir(dir.path(), &signer.vkey()).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(r.size, entries);
    println!(
        "verify  {} entries, {} tiles, {} history checkpoints in {secs:.2} s ({:.0} entries/s)",
        r.size,
        r.tiles,
        r.history,
        r.size as f64 / secs
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let secs = env("TLOG_BENCH_SECS", 3);
    rt.block_on(async {
        for writers in [1, 16, 64] {
            throughput(writers, secs).await;
        }
        verify_million(env("TLOG_BENCH_VERIFY_ENTRIES", 1_000_000)).await;
    });
}
