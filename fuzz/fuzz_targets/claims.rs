//! The `claims` parameter (OIDC Core §5.5, INTERFACE.md §2) in an otherwise good request. The property:
//! never a panic; only identity claims the client is registered for are kept.
#![no_main]

use hub::provider::authorize::{validate, Params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = hub_fuzz::text(data) else { return };
    let params = Params {
        response_type: Some("code".into()),
        client_id: Some(hub_fuzz::SERVICE.into()),
        redirect_uri: Some(hub_fuzz::SERVICE_REDIRECT.into()),
        scope: Some("openid".into()),
        state: Some("s".into()),
        nonce: Some("n".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        vtr: Some(r#"["Cl.Cm.P2"]"#.into()),
        claims: Some(text.to_string()),
        ..Params::default()
    };
    if let Ok(request) = validate(&params, hub_fuzz::clients()) {
        let client = hub_fuzz::clients().get(hub_fuzz::SERVICE).expect("registered");
        assert!(request.claims.iter().all(|c| client.claims.contains(c)));
    }
});
