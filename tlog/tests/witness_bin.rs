//! The `witness` binary as an operator runs it: keygen writes a 0600 key and prints the verifier key,
//! vkey prints it again, and serve cosigns a log's checkpoint over real HTTP on a loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use tlog::checkpoint::Checkpoint;
use tlog::cosignature::CosignatureVerifier;
use tlog::merkle::empty_root;
use tlog::note::{open, Verifier};
use tlog::NoteSigner;

const BIN: &str = env!("CARGO_BIN_EXE_witness");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn keygen_vkey_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("witness.key");
    let key_s = key.to_str().unwrap();
    let vkey = run(&["keygen", "--out", key_s, "--name", "witness.example/w1"]);
    assert!(vkey.starts_with("witness.example/w1+"), "{vkey}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(run(&["vkey", "--key", key_s]), vkey);
    assert!(!Command::new(BIN)
        .args(["keygen", "--out", key_s, "--name", "x"])
        .status()
        .unwrap()
        .success());

    let log = NoteSigner::from_seed("audit.example/hub", &[5; 32]).unwrap();
    let state = dir.path().join("state.json");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--key",
            key_s,
            "--state",
            state.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--log",
            &log.vkey(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_string();

    let cp = Checkpoint::new(log.name(), 0, empty_root()).sign(&log).unwrap();
    let body = format!("old 0\n\n{cp}");
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /add-checkpoint HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let cosig = resp.split("\r\n\r\n").nth(1).unwrap();
    let w = CosignatureVerifier::from_vkey(&vkey).unwrap();
    let lv = log.verifier();
    let known: [&dyn Verifier; 2] = [&lv, &w];
    assert_eq!(open(&format!("{cp}{cosig}"), &known).unwrap().verified.len(), 2);
    assert!(
        std::fs::read_to_string(&state).unwrap().contains("audit.example/hub"),
        "the state was persisted"
    );
}
