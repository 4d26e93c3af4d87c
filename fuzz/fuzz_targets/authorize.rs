//! `/authorize` parameters as a query string or a form body (both are `application/x-www-form-
//! urlencoded`), through every rule of INTERFACE.md §2 (`validate`). The property: never a panic; an
//! accepted request names a registered client and one of its exact redirect URIs.
#![no_main]

use hub::provider::authorize::{validate, Params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = serde_urlencoded::from_bytes::<Params>(data) else {
        return;
    };
    if let Ok(request) = validate(&params, hub_fuzz::clients()) {
        let client = hub_fuzz::clients()
            .get(request.client_id.as_str())
            .expect("an accepted request names a registered client");
        assert!(client.has_redirect_uri(&request.return_to.redirect_uri));
        assert_eq!(
            params.redirect_uri.as_deref(),
            Some(request.return_to.redirect_uri.as_str())
        );
    }
});
