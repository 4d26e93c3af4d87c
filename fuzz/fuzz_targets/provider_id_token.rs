//! A provider's ID token claims as the hub checks them (OIDC Core §3.1.3.7, INTERFACE.md §9), after the
//! signature. The property: never a panic; an accepted token is from the provider, for the hub, with
//! the journey's nonce.
#![no_main]

use hub::idp::check::{check_id_token, Expected};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    let provider = hub_fuzz::providers().get("idp").expect("the fuzz provider");
    let expected = Expected {
        issuer: "http://127.0.0.1:1/idp",
        client_id: "hub",
        nonce: "n-0",
    };
    if check_id_token(&claims, provider, &expected, 1_800_000_000).is_ok() {
        assert_eq!(claims.get("iss").and_then(Value::as_str), Some(expected.issuer));
        assert_eq!(claims.get("nonce").and_then(Value::as_str), Some("n-0"));
    }
});
