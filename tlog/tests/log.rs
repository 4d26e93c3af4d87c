//! The writer end to end on a real directory: appends are durable and group-committed, a broken disk
//! fails appends without a panic and heals, recovery cuts torn records and publishes what was durable,
//! the published directory verifies and reads back, and cosignatures reach the served checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tlog::cosignature::CosignatureSigner;
use tlog::proof::{check_consistency_proof, check_proof, check_proof_with_witnesses, Leaf};
use tlog::read::{prove_consistency, prove_inclusion, read_entries};
use tlog::storage::{DirReader, FaultyDisk};
use tlog::witness::{KnownLog, Witness};
use tlog::{verify_dir, Log, LogError, LogOptions, NoteSigner};

const ORIGIN: &str = "audit.example/hub-1";

fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[42; 32]).unwrap()
}

fn entry(i: u64) -> Vec<u8> {
    format!(
        "{{\"seq\":{i},\"event\":\"assertion_issued\",\"pad\":\"{}\"}}",
        "x".repeat((i % 200) as usize)
    )
    .into_bytes()
}

fn open(dir: &Path, options: LogOptions) -> Log {
    Log::open(dir, ORIGIN, signer(), options).unwrap()
}

async fn append_all(log: &Arc<Log>, range: std::ops::Range<u64>) -> Vec<u64> {
    let tasks: Vec<_> = range
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(entry(i)).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().unwrap());
    }
    out
}

#[tokio::test]
async fn appended_entries_are_published_verified_and_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogOptions {
            checkpoint_every: 100,
            ..LogOptions::default()
        },
    );
    assert_eq!(
        log.checkpoint().unwrap().lines().nth(1),
        Some("0"),
        "a new log publishes its empty tree"
    );
    for i in 0..1000 {
        assert_eq!(log.append(entry(i)).await.unwrap(), i);
    }
    log.close().await.unwrap();
    assert!(matches!(log.append(entry(0)).await, Err(LogError::Closed)));
    let report = verify_dir(dir.path(), &signer().vkey()).unwrap();
    assert_eq!((report.size, report.entries), (1000, 1000));
    assert!(
        report.history >= 10,
        "each publication left a history file ({})",
        report.history
    );
    for p in [
        "checkpoint",
        "tile/0/000",
        "tile/0/003.p/232",
        "tile/1/000.p/3",
        "tile/entries/000",
        "tile/entries/003.p/232",
    ] {
        assert!(dir.path().join(p).is_file(), "{p}");
    }
    assert!(
        !dir.path().join("tile/0/000.p").exists(),
        "partials of full tiles are gone"
    );
    let (cp, entries) = read_entries(dir.path(), &signer().vkey()).unwrap();
    assert_eq!(cp.size, 1000);
    let all: Vec<(u64, Vec<u8>)> = entries.map(Result::unwrap).collect();
    assert_eq!(all.len(), 1000);
    assert!(all.iter().all(|(i, e)| *e == entry(*i)));
}

#[tokio::test]
async fn proofs_from_the_published_directory_check_offline() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogOptions::default());
    for i in 0..300 {
        log.append(entry(i)).await.unwrap();
    }
    log.close().await.unwrap();
    let old = std::fs::read_to_string(dir.path().join("checkpoint")).unwrap();
    let log = open(dir.path(), LogOptions::default());
    for i in 300..777 {
        log.append(entry(i)).await.unwrap();
    }
    log.close().await.unwrap();
    let reader = DirReader(dir.path().to_path_buf());
    let vkey = signer().vkey();
    for i in [0, 1, 255, 256, 299, 776] {
        let proof = prove_inclusion(&reader, &vkey, i, Some(b"journey".to_vec())).unwrap();
        let ok = check_proof(&proof, Leaf::Entry(&entry(i)), &vkey).unwrap();
        assert_eq!((ok.index, ok.checkpoint.size), (i, 777));
        assert!(check_proof(&proof, Leaf::Entry(&entry(i + 1)), &vkey).is_err());
    }
    let c = prove_consistency(&reader, &vkey, &old).unwrap();
    let (a, b) = check_consistency_proof(&c, &vkey).unwrap();
    assert_eq!((a.size, b.size), (300, 777));
}

/// While the writer fsyncs, concurrent appends queue and share the next fsync.
#[tokio::test]
async fn concurrent_appends_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::new();
    disk.set_sync_delay_ms(20);
    let log = Arc::new(open(
        dir.path(),
        LogOptions {
            storage: Arc::new(disk.clone()),
            ..LogOptions::default()
        },
    ));
    let before = disk.wal_syncs();
    let mut indices = append_all(&log, 0..200).await;
    let syncs = disk.wal_syncs() - before;
    assert!(syncs < 20, "200 concurrent appends took {syncs} fsyncs");
    indices.sort_unstable();
    assert_eq!(indices, (0..200).collect::<Vec<_>>(), "every append got its own index");
    log.close().await.unwrap();
    verify_dir(dir.path(), &signer().vkey()).unwrap();
}

/// Entries nobody waits on cost no fsync of their own: they stay in memory until an append someone
/// waits on comes, and share its group commit, numbered before it in the order they came; at close
/// what is still deferred is written.
#[tokio::test]
async fn deferred_entries_ride_with_the_next_durable_append() {
    let dir = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::new();
    let log = open(
        dir.path(),
        LogOptions {
            storage: Arc::new(disk.clone()),
            defer_sync: Duration::from_secs(3600),
            ..LogOptions::default()
        },
    );
    let before = disk.wal_syncs();
    for i in 0..5 {
        log.append_deferred(entry(i)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        log.size(),
        0,
        "nothing waits on deferred entries, so none is written yet"
    );
    assert_eq!(disk.wal_syncs(), before);
    assert_eq!(
        log.append(entry(5)).await.unwrap(),
        5,
        "numbered after the five deferred ones"
    );
    assert_eq!(log.size(), 6, "the deferred entries are durable with it");
    assert_eq!(disk.wal_syncs() - before, 1, "six entries, one fsync");
    log.append_deferred(entry(6)).unwrap();
    assert!(matches!(
        log.append_deferred(vec![b'x'; tlog::tile::MAX_ENTRY_SIZE + 1]),
        Err(LogError::EntryTooLarge { .. })
    ));
    log.close().await.unwrap();
    assert!(matches!(log.append_deferred(entry(7)), Err(LogError::Closed)));
    let report = verify_dir(dir.path(), &signer().vkey()).unwrap();
    assert_eq!(report.entries, 7, "close wrote the last deferred entry");
    let (_, entries) = read_entries(dir.path(), &signer().vkey()).unwrap();
    let read: Vec<Vec<u8>> = entries.map(|e| e.unwrap().1).collect();
    assert_eq!(read, (0..7).map(entry).collect::<Vec<_>>(), "in the order they came");
}

/// A deferred entry with no durable append after it is written on its own once `defer_sync` has
/// passed.
#[tokio::test]
async fn a_lone_deferred_entry_is_written_after_defer_sync() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogOptions {
            defer_sync: Duration::from_millis(20),
            ..LogOptions::default()
        },
    );
    log.append_deferred(entry(0)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while log.size() < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(log.size(), 1, "the deferred entry was never written on its own");
    log.close().await.unwrap();
}

/// A full disk fails every waiting append with an error (never a panic), the log reports itself
/// unhealthy, and once the disk takes writes again the next append succeeds and health returns. The
/// failed entries are not in the log.
#[tokio::test]
async fn a_failing_disk_fails_appends_and_the_log_heals() {
    let dir = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::new();
    let log = Arc::new(open(
        dir.path(),
        LogOptions {
            storage: Arc::new(disk.clone()),
            checkpoint_interval: Duration::from_millis(50),
            ..LogOptions::default()
        },
    ));
    assert_eq!(append_all(&log, 0..10).await.len(), 10);
    assert!(log.healthy());
    disk.set_broken(true);
    let failed: Vec<_> = (0..20)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move { log.append(b"lost".to_vec()).await })
        })
        .collect();
    for f in failed {
        assert!(matches!(f.await.unwrap(), Err(LogError::Storage { .. })));
    }
    assert!(!log.healthy());
    assert_eq!(log.size(), 10);
    disk.set_broken(false);
    assert_eq!(
        log.append(entry(10)).await.unwrap(),
        10,
        "the index after the last durable one"
    );
    assert!(log.healthy());
    log.close().await.unwrap();
    let (_, entries) = read_entries(dir.path(), &signer().vkey()).unwrap();
    let all: Vec<Vec<u8>> = entries.map(|e| e.unwrap().1).collect();
    assert_eq!(all, (0..11).map(entry).collect::<Vec<_>>());
    verify_dir(dir.path(), &signer().vkey()).unwrap();
}

/// Publication failing (the disk breaks between a group commit and its checkpoint) is retried; the
/// published checkpoint never claims more than the tiles hold.
#[tokio::test]
async fn publication_failures_are_retried_and_never_leave_a_bad_directory() {
    let dir = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::new();
    let log = open(
        dir.path(),
        LogOptions {
            storage: Arc::new(disk.clone()),
            checkpoint_interval: Duration::from_millis(30),
            checkpoint_every: 1_000_000,
            ..LogOptions::default()
        },
    );
    log.append(entry(0)).await.unwrap();
    // Let the interval pass with the disk broken: publishing fails.
    disk.set_broken(true);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(!log.healthy());
    assert_eq!(log.published_size(), 0);
    verify_dir(dir.path(), &signer().vkey()).unwrap();
    disk.set_broken(false);
    for _ in 0..100 {
        if log.published_size() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(log.published_size(), 1);
    assert!(log.healthy());
    log.close().await.unwrap();
    assert_eq!(verify_dir(dir.path(), &signer().vkey()).unwrap().size, 1);
}

#[tokio::test]
async fn oversized_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogOptions::default());
    assert!(matches!(
        log.append(vec![0; 65536]).await,
        Err(LogError::EntryTooLarge { len: 65536 })
    ));
    assert_eq!(log.append(vec![0; 65535]).await.unwrap(), 0);
    log.close().await.unwrap();
    verify_dir(dir.path(), &signer().vkey()).unwrap();
}

#[test]
fn the_origin_must_be_the_key_name() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Log::open(dir.path(), "audit.example/other", signer(), LogOptions::default()),
        Err(LogError::OriginMismatch { .. })
    ));
}

/// A crash mid-write leaves a torn record at the end of the write-ahead file, after records that were
/// durable but not yet published: `open` cuts the torn bytes and publishes the rest.
#[tokio::test]
async fn recovery_cuts_a_torn_tail_and_publishes_durable_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogOptions::default());
    for i in 0..300 {
        log.append(entry(i)).await.unwrap();
    }
    log.close().await.unwrap();
    // What a crash leaves: three more durable records the publisher never saw, and half a fourth.
    let wal_path = dir.path().join(".wal");
    let bytes = std::fs::read(&wal_path).unwrap();
    let contents = tlog::wal::decode(&bytes).unwrap();
    let mut more = Vec::new();
    for i in 300..304 {
        tlog::wal::encode_record(
            contents.base + contents.entries.len() as u64 + (i - 300),
            &entry(i),
            &mut more,
        );
    }
    let torn = more.len() - 7;
    let mut f = std::fs::OpenOptions::new().append(true).open(&wal_path).unwrap();
    std::io::Write::write_all(&mut f, &more[..torn]).unwrap();
    drop(f);

    let log = open(dir.path(), LogOptions::default());
    let r = log.recovery().clone();
    assert_eq!((r.published, r.republished), (300, 3));
    assert!(r.torn_bytes > 0);
    assert_eq!(
        log.published_size(),
        303,
        "open published the durable records before returning"
    );
    assert_eq!(log.append(entry(303)).await.unwrap(), 303);
    log.close().await.unwrap();
    let (_, entries) = read_entries(dir.path(), &signer().vkey()).unwrap();
    assert_eq!(
        entries.map(|e| e.unwrap().1).collect::<Vec<_>>(),
        (0..304).map(entry).collect::<Vec<_>>()
    );
    verify_dir(dir.path(), &signer().vkey()).unwrap();
}

/// A write-ahead record that disagrees with the published tiles is refused at open, naming the entry.
#[tokio::test]
async fn recovery_refuses_a_write_ahead_file_that_contradicts_the_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogOptions {
            wal_rotate_bytes: u64::MAX,
            ..LogOptions::default()
        },
    );
    for i in 0..10 {
        log.append(entry(i)).await.unwrap();
    }
    log.close().await.unwrap();
    let mut wal = tlog::wal::encode_header(0);
    for i in 0..10u64 {
        let e = if i == 4 { b"forged".to_vec() } else { entry(i) };
        tlog::wal::encode_record(i, &e, &mut wal);
    }
    std::fs::write(dir.path().join(".wal"), wal).unwrap();
    match Log::open(dir.path(), ORIGIN, signer(), LogOptions::default()) {
        Err(LogError::Recovery(m)) => assert!(m.contains("entry 4"), "{m}"),
        other => panic!("opened: {other:?}"),
    }
}

/// Published records are dropped from the write-ahead file once they pass the rotation threshold, and
/// the log reopens from the shorter file.
#[tokio::test]
async fn the_write_ahead_file_sheds_published_records() {
    let dir = tempfile::tempdir().unwrap();
    let options = || LogOptions {
        wal_rotate_bytes: 4096,
        checkpoint_every: 16,
        ..LogOptions::default()
    };
    let log = Arc::new(open(dir.path(), options()));
    for chunk in 0..20u64 {
        append_all(&log, chunk * 50..chunk * 50 + 50).await;
    }
    let wal = std::fs::read(dir.path().join(".wal")).unwrap();
    assert!(
        tlog::wal::decode(&wal).unwrap().base > 0,
        "the file was rewritten while appends went on"
    );
    log.close().await.unwrap();
    // Reopening drops whatever is published, here everything.
    let log = open(dir.path(), options());
    let wal = std::fs::read(dir.path().join(".wal")).unwrap();
    assert_eq!(tlog::wal::decode(&wal).unwrap().base, 1000);
    assert_eq!(wal.len(), tlog::wal::HEADER_LEN);
    assert_eq!(log.size(), 1000);
    assert_eq!(log.append(entry(1000)).await.unwrap(), 1000);
    log.close().await.unwrap();
    assert_eq!(verify_dir(dir.path(), &signer().vkey()).unwrap().size, 1001);
}

/// The owner attaches a witness's cosignature; the served checkpoint (and the file on disk) carries it,
/// proofs made from the directory satisfy a witness quorum, and a stale or forged line is refused.
#[tokio::test]
async fn cosignatures_reach_the_served_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogOptions {
            checkpoint_every: 1_000_000,
            checkpoint_interval: Duration::from_secs(3600),
            ..LogOptions::default()
        },
    );
    for i in 0..5 {
        log.append(entry(i)).await.unwrap();
    }
    log.close().await.unwrap();
    let log = open(
        dir.path(),
        LogOptions {
            checkpoint_every: 1_000_000,
            checkpoint_interval: Duration::from_secs(3600),
            ..LogOptions::default()
        },
    );
    let cp = log.checkpoint().unwrap();
    let wsigner = CosignatureSigner::from_seed("witness.example/w1", &[7; 32]).unwrap();
    let mut witness = Witness::in_memory(wsigner.clone(), vec![KnownLog::from_vkey(log.vkey()).unwrap()]);
    let line = witness.add_checkpoint(0, &[], &cp, 1_750_000_000).unwrap();
    let other = CosignatureSigner::from_seed("witness.example/w1", &[8; 32]).unwrap();
    assert!(matches!(
        log.add_cosignature(&cp, &line, &other.vkey()).await,
        Err(LogError::Cosignature(_))
    ));
    log.add_cosignature(&cp, &line, &wsigner.vkey()).await.unwrap();
    let served = log.served_checkpoint().unwrap();
    assert_eq!(served, format!("{cp}{line}"));
    assert_eq!(std::fs::read_to_string(dir.path().join("checkpoint")).unwrap(), served);
    let vkey = signer().vkey();
    let proof = prove_inclusion(&DirReader(dir.path().to_path_buf()), &vkey, 2, None).unwrap();
    let w = wsigner.vkey();
    let ok = check_proof_with_witnesses(&proof, Leaf::Entry(&entry(2)), &vkey, &[&w], 1).unwrap();
    assert_eq!(ok.cosigned_by, vec![("witness.example/w1".to_string(), 1_750_000_000)]);
    verify_dir(dir.path(), &vkey).unwrap();
    // A reopened log serves the cosignatures of its checkpoint.
    log.close().await.unwrap();
    let log = open(
        dir.path(),
        LogOptions {
            checkpoint_every: 1,
            ..LogOptions::default()
        },
    );
    assert_eq!(log.served_checkpoint().unwrap(), served);
    // Once the log moves on, a cosignature of the old checkpoint is stale.
    log.append(entry(5)).await.unwrap();
    for _ in 0..100 {
        if log.published_size() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(log.published_size(), 6);
    assert!(matches!(
        log.add_cosignature(&cp, &line, &w).await,
        Err(LogError::Cosignature(_))
    ));
    assert_eq!(
        log.served_checkpoint(),
        log.checkpoint(),
        "the new checkpoint has no cosignatures yet"
    );
    log.close().await.unwrap();
}
