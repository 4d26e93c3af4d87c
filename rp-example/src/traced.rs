//! The HTTP client `openidconnect` calls the hub with, sending the request id and W3C trace context of
//! the request being handled (`X-Request-Id`, `traceparent`), so the hub's spans and log lines join the
//! service's.

use openidconnect::{HttpRequest, HttpResponse};
use tracing::Instrument as _;

/// A client for `request_async` that sends one request on `http` with the propagation headers.
pub fn client(
    http: &reqwest::Client,
) -> impl Fn(HttpRequest) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, reqwest::Error>> + Send>>
{
    let http = http.clone();
    move |request: HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let host = parts.uri.host().unwrap_or("hub").to_string();
            let (span, headers) = serving::request::outbound(parts.method.as_str(), &host);
            let mut builder = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            let response = builder.send().instrument(span).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            let mut answer = HttpResponse::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
