//! Request objects (RFC 9101, INTERFACE.md §2): the claims of a signed object merged with the query,
//! under each client rule set. The property: never a panic; an accepted object names the client as `iss`
//! and the hub as `aud`, and has not expired.
#![no_main]

use hub::provider::authorize::{
    request_object::{merge, Rules},
    Params,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&rule, rest)) = data.split_first() else {
        return;
    };
    let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(rest) else {
        return;
    };
    let query = Params {
        client_id: Some("svc".into()),
        response_type: Some("code".into()),
        scope: Some("openid".into()),
        ..Params::default()
    };
    let rules = Rules {
        lenient_query: rule & 1 == 1,
        lifetime: (rule & 2 == 2).then_some(60),
    };
    if merge(&query, &claims, hub_fuzz::ISSUER, NOW, rules).is_ok() {
        assert_eq!(claims.get("iss").and_then(Value::as_str), Some("svc"));
        assert!(claims.get("exp").is_none_or(|e| e.as_i64().is_some_and(|e| e > NOW)));
    }
});
