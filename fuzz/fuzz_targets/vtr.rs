//! The `vtr` parameter (INTERFACE.md §2): a JSON array of vectors of trust, each parsed and checked
//! against a client's registered levels. The property: never a panic; what is accepted was registered
//! and is sorted lowest first without repeats; a vector prints as it parses.
#![no_main]

use hub::vtr::{decide, Vector, VtrPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = hub_fuzz::text(data) else { return };
    if let Ok(v) = Vector::parse(text) {
        assert_eq!(Vector::parse(&v.to_string()).ok(), Some(v));
    }
    let registered: Vec<Vector> = ["Cl", "Cl.Cm", "Cl.Cm.P2"]
        .iter()
        .map(|v| Vector::parse(v).expect("registered level"))
        .collect();
    for private_key_jwt in [true, false] {
        let policy = VtrPolicy {
            registered: &registered,
            private_key_jwt,
        };
        if let Ok(wanted) = decide(Some(text), &policy) {
            assert!(!wanted.is_empty());
            assert!(wanted.iter().all(|v| registered.contains(v)));
            assert!(wanted.windows(2).all(|w| w[0] != w[1]));
            assert!(private_key_jwt || wanted.iter().all(|v| !v.asks_identity()));
        }
    }
});
