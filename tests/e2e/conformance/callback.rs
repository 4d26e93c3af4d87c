//! The conformance client's own HTTP endpoints, as the suite serves them under its test's base URL:
//! `/callback` (the redirect URI: it answers with what it received, so a form post is checked as the
//! suite checks it), `/post_logout_redirect` and `/backchannel_logout` (logout tokens are kept for the
//! tests to find theirs).
//!
//! One listener for the whole run, on its own thread and runtime: each `#[tokio::test]` has a runtime
//! of its own that ends with it.

use anyhow::{anyhow, Result};
use axum::{
    body::Bytes,
    http::{header, HeaderMap, Method, StatusCode, Uri},
    response::IntoResponse,
    routing::{any, get, post},
    Json, Router,
};
use serde_json::{json, Value};
use std::sync::{Mutex, OnceLock};

/// What one request to the listener carried.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The `Content-Type` header, exactly as sent.
    pub content_type: Option<String>,
    pub query: Vec<(String, String)>,
    /// The body read as a form.
    pub form: Vec<(String, String)>,
}

impl Received {
    /// As JSON, the listener's answer.
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "content_type": self.content_type,
            "query": self.query,
            "form": self.form,
        })
    }

    /// Read back from the listener's answer.
    pub fn from_json(v: &Value) -> Result<Self> {
        let pairs = |name: &str| -> Result<Vec<(String, String)>> {
            Ok(serde_json::from_value(v.get(name).cloned().unwrap_or(Value::Null))?)
        };
        Ok(Self {
            method: v["method"].as_str().unwrap_or_default().to_string(),
            content_type: v["content_type"].as_str().map(str::to_string),
            query: pairs("query")?,
            form: pairs("form")?,
        })
    }
}

fn pairs(text: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn received(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Received {
    Received {
        method: method.to_string(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        query: pairs(uri.query().unwrap_or_default().as_bytes()),
        form: pairs(body),
    }
}

/// Every back-channel logout request received so far.
static BACKCHANNEL: Mutex<Vec<Received>> = Mutex::new(Vec::new());

/// The logout tokens posted to `/backchannel_logout` so far, with the request that carried each.
pub fn backchannel_requests() -> Vec<Received> {
    BACKCHANNEL.lock().map(|v| v.clone()).unwrap_or_default()
}

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    Json(received(&method, &uri, &headers, &body).to_json())
}

async fn backchannel(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    if let Ok(mut list) = BACKCHANNEL.lock() {
        list.push(received(&method, &uri, &headers, &body));
    }
    // What the suite answers (Back-Channel Logout 1.0 §2.8).
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")])
}

/// The listener's base URL, starting it on first use.
pub fn base() -> Result<String> {
    static BASE: OnceLock<Result<String, String>> = OnceLock::new();
    BASE.get_or_init(|| start().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| anyhow!("the callback listener did not start: {e}"))
}

fn start() -> Result<String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", crate::harness::free_port()?))?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = Router::new()
        .route("/callback", any(echo))
        .route("/post_logout_redirect", get(echo))
        .route("/backchannel_logout", post(backchannel));
    std::thread::Builder::new()
        .name("conformance-callback".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let _ = axum::serve(listener, router).await;
                }
            });
        })?;
    Ok(base)
}
