//! The guard in front of the endpoints that cost the hub work or store (`/authorize`, `/par`, `/token`,
//! `/choose-provider`): a per-address rate limit ([`crate::http::rate`]), answered `429` with
//! `Retry-After`, as a page for people and as JSON for services. (The per-service limit is taken by
//! `/token` and `/par` once the service has authenticated.)

use crate::{error::HubError, http::rate::client_ip, state::AppState, web::page::PageError};
use axum::{
    extract::{ConnectInfo, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::net::SocketAddr;

/// The address a request comes from (the peer, or the client behind a trusted proxy); loopback when the
/// router is called in-process.
pub fn address_of(state: &AppState, request: &Request) -> std::net::IpAddr {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let forwarded = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    client_ip(peer, forwarded, &state.config.trusted_proxies)
}

/// Middleware: one request from the address's bucket, or 429.
pub async fn per_address(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = address_of(&state, &request);
    match state.limiter.ip(ip) {
        Ok(()) => next.run(request).await,
        Err(limited) => {
            let error = HubError::RateLimited(limited);
            let for_people = request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("text/html"))
                || matches!(request.uri().path(), "/authorize" | "/choose-provider");
            if for_people {
                PageError::from(error).into_response()
            } else {
                error.log();
                error.json()
            }
        }
    }
}
