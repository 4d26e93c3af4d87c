//! The hub's server loop: the federation's shared loop ([`serving::server`]: connection caps, header-read
//! timeout, HTTP/1.1 and HTTP/2, TLS with certificates reloaded in place, graceful shutdown) with the
//! hub's bounds from its configuration and its refusals counted in `/metrics`.

use crate::config::Config;
use axum::Router;
use serving::tls::Certificates;
use std::{future::Future, sync::Arc, time::Duration};

pub use serving::server::Limits;

/// The bounds the configuration sets, refusals counted as `hub_connections_refused_total`.
pub fn limits(config: &Config) -> Limits {
    Limits {
        max_connections: config.max_connections,
        max_connections_per_ip: config.max_connections_per_ip,
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
        shutdown_grace: Duration::from_secs(config.shutdown_grace_secs),
        on_refused: crate::telemetry::connection_refused,
        ..Limits::default()
    }
}

/// Serves `router` over plain HTTP until `shutdown` completes (see [`serving::server::serve`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serving::server::serve(listener, router, limits, None, shutdown).await
}

/// Serves `router`, over TLS when `tls` is given, until `shutdown` completes.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<Certificates>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serving::server::serve(listener, router, limits, tls, shutdown).await
}
