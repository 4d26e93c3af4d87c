//! The client and provider registry files (INTERFACE.md §8, §9), read at start and on every reload. The
//! property: never a panic; a bad file is an error naming what is wrong, not a half-read registry.
#![no_main]

use hub::registry::{ClientRegistry, ProviderRegistry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = hub_fuzz::text(data) else { return };
    if let Err(e) = ClientRegistry::parse(text) {
        assert!(!e.is_empty());
    }
    if let Err(e) = ProviderRegistry::parse(text) {
        assert!(!e.is_empty());
    }
});
