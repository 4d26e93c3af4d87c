//! HTTP helpers every endpoint and page shares (STYLE.md §16: below both): the hub's cookies, read and
//! written through one typed module, the shape of its redirects, and how an authorization response is
//! delivered to a service (a redirect, or a form post the web layer renders).

pub mod cookies;
pub mod rate;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

/// A `302 Found` redirect, the status OAuth 2.0 examples use (RFC 6749 §4.1.2); browsers follow it with a
/// GET even after a form POST. Never cached.
pub fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A response POSTed to a service by the person's browser (Form Post Response Mode §2): the web layer's
/// middleware renders it as the page in the person's language (`crate::web::form_post`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPost {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

/// Sends an authorization response to the service as its response mode says.
pub fn deliver(delivery: &crate::oauth::Delivery) -> Response {
    match delivery {
        crate::oauth::Delivery::Redirect(location) => found(location),
        crate::oauth::Delivery::FormPost { action, fields } => {
            let mut response = StatusCode::OK.into_response();
            response.extensions_mut().insert(FormPost {
                action: action.clone(),
                fields: fields.clone(),
            });
            response
        }
    }
}

/// A JSON response with a `Cache-Control` header.
pub fn cached(body: impl IntoResponse, cache: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// A response cacheable by anyone for `secs` seconds (keys documents whose cache period follows the
/// rotation schedule, INTERFACE.md §7).
pub fn cached_for(body: impl IntoResponse, secs: u64) -> Response {
    let mut response = body.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={secs}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    response
}

/// A JSON response that must never be cached (tokens, userinfo: RFC 6749 §5.1).
pub fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
