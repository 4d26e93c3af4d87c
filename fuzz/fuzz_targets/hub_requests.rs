//! Whole requests to the hub's real router, in-process: any route a browser or a service can reach,
//! with fuzzed query, form body, cookies and `Authorization` header. The property: never a panic and
//! never a 500 (a person gets a page, a service the spec's error; a full store is a 503 "try again").
//!
//! Input: one byte choosing the route, then the query, body, `Cookie` and `Authorization` values
//! separated by 0xFF (a byte that never occurs in UTF-8 text).
#![no_main]

use axum::body::Body;
use hub_fuzz::Hub;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use tower::ServiceExt as _;

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/authorize"),
    ("POST", "/authorize"),
    ("POST", "/token"),
    ("POST", "/par"),
    ("GET", "/choose-provider"),
    ("POST", "/choose-provider"),
    ("GET", "/consent"),
    ("POST", "/consent"),
    ("POST", "/cancel"),
    ("GET", "/cancel-link"),
    ("GET", "/logout"),
    ("POST", "/logout"),
    ("GET", "/userinfo"),
    ("POST", "/userinfo"),
    ("GET", "/upstream/callback"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/readyz"),
];

/// A fresh hub every so many requests keeps the memory store (journeys, sessions) from filling up.
const REQUESTS_PER_HUB: u32 = 20_000;

thread_local! {
    static HUB: RefCell<(Hub, u32)> = RefCell::new((Hub::new(100_000), 0));
}

fuzz_target!(|data: &[u8]| {
    let Some((&route, rest)) = data.split_first() else {
        return;
    };
    let (method, path) = ROUTES[route as usize % ROUTES.len()];
    let mut parts = rest.split(|&b| b == 0xFF);
    let query = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default().to_vec();
    let cookie = parts.next();
    let authorization = parts.next();
    let Ok(query) = std::str::from_utf8(query) else { return };
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if method == "POST" {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    // An input that is not a valid URI or header is refused by the HTTP layer before the hub sees it.
    let Ok(request) = request.body(Body::from(body)) else {
        return;
    };
    HUB.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.1 >= REQUESTS_PER_HUB {
            *cell = (Hub::new(100_000), 0);
        }
        cell.1 += 1;
        let hub = &cell.0;
        let response = hub
            .runtime
            .block_on(hub.router.clone().oneshot(request))
            .expect("the router is infallible");
        let status = response.status();
        assert!(status != 500, "{method} {path}: 500");
        assert!(!status.is_server_error() || status == 503, "{method} {path}: {status}");
    });
});
