//! Back-channel logout tokens as a service receives them (OIDC Back-Channel Logout 1.0 §2.6), in
//! rp-example: the claims after the signature. The property: never a panic; an accepted token is from the
//! hub, for this client, has the logout event and no `nonce`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rp_example::routes::backchannel_logout::validate_logout_claims;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    if let Ok(target) = validate_logout_claims(&claims, hub_fuzz::ISSUER, "rp", 1_800_000_000) {
        assert_eq!(claims.get("iss").and_then(Value::as_str), Some(hub_fuzz::ISSUER));
        assert!(!claims.contains_key("nonce"));
        assert!(target.sub.is_some() || target.sid.is_some());
    }
});
