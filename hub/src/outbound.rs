//! The [`ProviderClient`] seam: every HTTP call the hub makes on its own (to identity providers'
//! discovery, JWKS, token and userinfo endpoints, to services' `jwks_uri` and back-channel logout URIs)
//! goes through it, so tests swap in a fake provider and see every request.
//!
//! [`HttpClient`] is the real one: reqwest with no redirects, connect and total timeouts, a bound on the
//! size of every answer read, the system's roots plus an optional extra CA as its trust store
//! ([`serving::trust`]), and the request id and W3C trace context of the request it is made for sent
//! on (`X-Request-Id`, `traceparent`; [`serving::request::outbound`]).

use std::time::Duration;
use tracing::Instrument as _;

/// An answer to an outbound request: status, content type and the body (bounded in size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether the body is declared JSON (`application/json`, with parameters or not).
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|c| {
            c.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        })
    }
}

/// An outbound request that got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("could not reach {0}")]
    Unreachable(String),
    #[error("no answer from {0} in time")]
    Timeout(String),
    #[error("the answer from {0} is larger than {1} bytes")]
    TooLarge(String, usize),
}

/// Outbound HTTP, as the hub needs it.
#[async_trait::async_trait]
pub trait ProviderClient: Send + Sync + std::fmt::Debug {
    /// `GET url`, with `Authorization: Bearer` when given.
    async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Reply, FetchError>;
    /// `POST url` with a form body, with HTTP Basic credentials when given.
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Reply, FetchError>;
}

/// The real outbound client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    max_body: usize,
}

impl HttpClient {
    /// A client whose every call connects within and completes within `timeout`, reading at most
    /// `max_body` bytes of any answer.
    pub fn new(timeout: Duration, max_body: usize) -> anyhow::Result<Self> {
        Self::trusting(timeout, max_body, None)
    }

    /// [`HttpClient::new`], also trusting the CA certificates of `extra_ca` (PEM) besides the system's.
    pub fn trusting(timeout: Duration, max_body: usize, extra_ca: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let http = serving::trust::client_builder(extra_ca)
            .map_err(|e| anyhow::anyhow!("field tls.extra_ca_file: {e}"))?
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Self { http, max_body })
    }

    async fn send(&self, method: &str, url: &str, request: reqwest::RequestBuilder) -> Result<Reply, FetchError> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "the peer".into());
        let (span, headers) = serving::request::outbound(method, &host);
        let mut request = request;
        for (name, value) in headers {
            request = request.header(name, value);
        }
        self.read(host, request).instrument(span).await
    }

    async fn read(&self, host: String, request: reqwest::RequestBuilder) -> Result<Reply, FetchError> {
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout(host.clone())
            } else {
                FetchError::Unreachable(host.clone())
            }
        };
        let mut response = request.send().await.map_err(classify)?;
        if response.content_length().is_some_and(|len| len > self.max_body as u64) {
            return Err(FetchError::TooLarge(host, self.max_body));
        }
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge(host, self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }
}

#[async_trait::async_trait]
impl ProviderClient for HttpClient {
    async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Reply, FetchError> {
        let mut request = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send("GET", url, request).await
    }

    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Reply, FetchError> {
        let body = serde_urlencoded::to_string(form).map_err(|_| FetchError::Unreachable(url.to_string()))?;
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some((user, password)) = basic {
            // RFC 6749 §2.3.1: each part form-encoded before Basic encoding.
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(user), Some(enc(password)));
        }
        self.send("POST", url, request).await
    }
}
