//! What auditors and witnesses read from elsewhere (C2SP signed-note, tlog-checkpoint, tlog-proof,
//! tlog-cosignature): notes, signature lines, checkpoints opened with a verifier key, and proof files.
//! The property: never a panic, and no fuzzed note opens with a key the fuzzer does not hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tlog::note::{Ed25519Verifier, Note, NoteSigner, SignatureLine};

fn verifier() -> &'static Ed25519Verifier {
    static V: OnceLock<Ed25519Verifier> = OnceLock::new();
    V.get_or_init(|| {
        NoteSigner::from_seed("hub.example/audit/a", &[7; 32])
            .expect("signer")
            .verifier()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = hub_fuzz::text(data) else { return };
    if let Ok(note) = Note::parse(text) {
        assert_eq!(
            Note::parse(&note.to_text()).ok().map(|n| n.to_text()),
            Some(note.to_text())
        );
    }
    for line in text.lines() {
        let _ = SignatureLine::parse(line);
    }
    let _ = tlog::checkpoint::Checkpoint::parse_body(text);
    assert!(
        tlog::checkpoint::open_checkpoint(text, verifier()).is_err(),
        "a fuzzed checkpoint opened with the fuzzer's key"
    );
    let _ = tlog::proof::InclusionProofFile::parse(text);
    let _ = Ed25519Verifier::from_vkey(text);
});
