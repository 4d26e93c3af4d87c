//! The claims of a client assertion (RFC 7523 §3, INTERFACE.md §3), once its signature has checked. The
//! property: never a panic; an accepted assertion has `iss` = `sub` = the client, an expected `aud`,
//! and an `exp` in the future.
#![no_main]

use keys::client_assertion::{check, Expected};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    let expected = Expected {
        client_id: "svc",
        audiences: &["https://hub.example/token", "https://hub.example"],
        now: NOW,
    };
    if let Ok(checked) = check(&claims, &expected) {
        assert_eq!(claims.get("iss").and_then(Value::as_str), Some("svc"));
        assert_eq!(claims.get("sub").and_then(Value::as_str), Some("svc"));
        assert!(checked.exp > NOW - keys::SKEW_SECS);
        assert!(!checked.jti.is_empty());
    }
});
