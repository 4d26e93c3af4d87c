//! The token endpoint's form body (RFC 6749 §3.2, §4.1.3) and the client authentication it presents
//! (§2.3, RFC 7523), with a fuzzed `Authorization` header after a 0xFF byte. The property: never a panic;
//! a repeated parameter is refused.
#![no_main]

use hub::provider::token::{parse_form, presented};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0xFF);
    let body = parts.next().unwrap_or_default();
    let mut headers = axum::http::HeaderMap::new();
    if let Some(value) = parts.next().and_then(|v| axum::http::HeaderValue::from_bytes(v).ok()) {
        headers.insert(axum::http::header::AUTHORIZATION, value);
    }
    if let Ok(form) = parse_form(body) {
        let names: Vec<_> = url::form_urlencoded::parse(body).map(|(k, _)| k).collect();
        assert_eq!(names.len(), form.len(), "a repeated parameter was accepted");
        let _ = presented(&form, &headers);
    }
});
