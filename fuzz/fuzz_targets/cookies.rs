//! The hub's cookies as a browser (or an attacker) sends them: the `Cookie` header read into typed
//! values (RFC 6265). The property: never a panic; only token-shaped values are taken.
#![no_main]

use hub::http::cookies::HubCookies;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = axum::http::HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = axum::http::HeaderMap::new();
    headers.append(axum::http::header::COOKIE, value.clone());
    headers.append(axum::http::header::COOKIE, value);
    let cookies = HubCookies::read(&headers);
    let _ = cookies.browser_or_new();
});
