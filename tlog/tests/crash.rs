//! SIGKILL at any point: a child process appends from several tasks and reports each acknowledged
//! index; the parent kills it at a different moment each round. After every kill the published
//! directory must verify as it stands, `open` must recover it, and every acknowledged entry must be in
//! the log at its index with its bytes.
//!
//! The test runs itself as the child: the test binary re-executes this one test with an environment
//! variable naming the directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tlog::read::read_entries;
use tlog::{verify_dir, Log, LogOptions, NoteSigner};

const ORIGIN: &str = "audit.example/crash";
const CHILD_ENV: &str = "TLOG_CRASH_CHILD_DIR";
const TEST_NAME: &str = "sigkill_at_any_point_leaves_a_log_that_recovers_with_every_acknowledged_entry";

fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[9; 32]).unwrap()
}

fn options() -> LogOptions {
    LogOptions {
        checkpoint_every: 64,
        checkpoint_interval: Duration::from_millis(15),
        wal_rotate_bytes: 16 * 1024,
        ..LogOptions::default()
    }
}

fn entry(round: u32, task: u32, seq: u32) -> Vec<u8> {
    format!(
        "round {round} task {task} seq {seq} {}",
        "p".repeat((seq % 97) as usize)
    )
    .into_bytes()
}

/// The child: append forever from 8 tasks, printing `ack <index> <round> <task> <seq>` per durable entry.
fn child(dir: &Path, round: u32) -> ! {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let log = Arc::new(Log::open(dir, ORIGIN, signer(), options()).unwrap());
        println!("ready");
        let tasks: Vec<_> = (0..8u32)
            .map(|task| {
                let log = log.clone();
                tokio::spawn(async move {
                    for seq in 0.. {
                        let i = log.append(entry(round, task, seq)).await.unwrap();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {i} {round} {task} {seq}").unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    std::process::exit(0)
}

#[test]
fn sigkill_at_any_point_leaves_a_log_that_recovers_with_every_acknowledged_entry() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let round = std::env::var("TLOG_CRASH_ROUND").unwrap().parse().unwrap();
        child(Path::new(&dir), round);
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let vkey = signer().vkey();
    let mut acked: HashMap<u64, Vec<u8>> = HashMap::new();
    for (round, kill_after) in [0usize, 1, 40, 300, 7, 900, 2000].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .env("TLOG_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        loop {
            let line = lines.next().expect("the child ended").unwrap();
            // libtest may print the test's name on the same line first.
            if line.ends_with("ready") && kill_after == 0 {
                break;
            }
            let Some(rest) = line.strip_prefix("ack ") else {
                continue;
            };
            let f: Vec<u32> = rest.split(' ').skip(1).map(|x| x.parse().unwrap()).collect();
            let index: u64 = rest.split(' ').next().unwrap().parse().unwrap();
            assert!(
                acked.insert(index, entry(f[0], f[1], f[2])).is_none(),
                "index {index} acknowledged twice"
            );
            seen += 1;
            if seen >= kill_after {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();

        // As the kill left it, the published directory verifies.
        let before = verify_dir(&dir, &vkey).unwrap_or_else(|e| panic!("round {round}: published log broken: {e}"));
        // Recovery publishes every durable entry, which includes every acknowledged one.
        let log = Log::open(&dir, ORIGIN, signer(), options()).unwrap();
        assert!(log.size() >= before.size);
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(log.close()).unwrap();
        drop(log);
        let report = verify_dir(&dir, &vkey).unwrap();
        eprintln!(
            "round {round}: killed after {seen} acks; {} published at the kill, {} after recovery",
            before.size, report.size
        );
        let (_, entries) = read_entries(&dir, &vkey).unwrap();
        let all: Vec<Vec<u8>> = entries.map(|e| e.unwrap().1).collect();
        assert_eq!(all.len() as u64, report.size);
        for (i, want) in &acked {
            assert_eq!(
                all.get(*i as usize),
                Some(want),
                "round {round}: acknowledged entry {i}"
            );
        }
        assert!(
            all.iter().all(|e| e.starts_with(b"round ")),
            "only appended entries are in the log"
        );
    }
    assert!(acked.len() >= 3000, "{} entries acknowledged", acked.len());
}
