//! Compact JWS parsing and verification (RFC 7515), as every JWT from outside meets it: the header, an
//! unverified peek, verification with a key set (`alg` pinned per key, no `none`, no HMAC), and DPoP
//! proofs that carry their own key (RFC 9449). The property: never a panic, and no fuzzed token
//! verifies with keys it was not signed by.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(token) = hub_fuzz::text(data) else { return };
    let _ = keys::decode_header(token);
    let _ = keys::peek_claims(token);
    assert!(
        hub_fuzz::keys().verifying.verify(token).is_err(),
        "a fuzzed token verified with the fuzzer's keys"
    );
    let _ = keys::dpop::verify(token, &["ES256", "PS256", "RS256"]);
});
