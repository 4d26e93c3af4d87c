//! The server loop every binary of the federation runs, with the bounds a public service needs: a cap on
//! connections in all and per client address, a header-read timeout that also ends idle keep-alive
//! connections (and bounds a TLS handshake), a bound on header size, HTTP/1.1 and HTTP/2 (hyper's `auto`
//! builder; over TLS by ALPN), and graceful shutdown: when `shutdown` completes the listener is closed at
//! once (a load balancer sees the instance go and sends new connections elsewhere), requests in flight
//! finish within [`Limits::shutdown_grace`], and then the call returns so the caller can write what must
//! be written last (the hub's final audit checkpoint).
//!
//! Each request carries its peer address as `ConnectInfo`, for per-address rate limits.

use crate::tls::Certificates;
use axum::{extract::ConnectInfo, Router};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};
use tower::ServiceExt as _;

/// How long connections accepted just before shutdown have to send their first request before
/// connections with no request under way are closed.
const FIRST_REQUEST_WAIT: Duration = Duration::from_secs(1);

/// The server's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// Time a client has to finish the TLS handshake and to send a request's headers (and the longest a
    /// kept-alive connection waits idle).
    pub header_read_timeout: Duration,
    /// The largest request head read, bytes.
    pub max_header_bytes: usize,
    /// How long requests in flight may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Told when a connection is closed at once because of a cap (`total` or `per_ip`), for metrics.
    pub on_refused: fn(&'static str),
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_connections_per_ip: 256,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(20),
            on_refused: |_| {},
        }
    }
}

/// Open connections by client address, released when a connection closes.
#[derive(Debug, Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

impl PerIp {
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut map = self.0.lock().ok()?;
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            ip,
            counts: self.clone(),
        })
    }
}

/// One connection's place in [`PerIp`].
struct Slot {
    ip: IpAddr,
    counts: Arc<PerIp>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.counts.0.lock() {
            if let Some(n) = map.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&self.ip);
                }
            }
        }
    }
}

/// Serves `router` on `listener` within `limits`, over TLS when `tls` is given, until `shutdown`
/// completes; then closes the listener and lets connections finish their requests for up to
/// `limits.shutdown_grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<Certificates>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = match &tls {
        Some(certs) => Some(tokio_rustls::TlsAcceptor::from(
            certs.server_config().map_err(std::io::Error::other)?,
        )),
        None => None,
    };
    let total = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let accept = |stream: tokio::net::TcpStream, peer: SocketAddr| {
        let Ok(permit) = total.clone().try_acquire_owned() else {
            (limits.on_refused)("total");
            drop(stream);
            return;
        };
        let Some(slot) = per_ip.enter(peer.ip(), limits.max_connections_per_ip) else {
            (limits.on_refused)("per_ip");
            drop(stream);
            return;
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                request
            });
        let service = TowerToHyperService::new(service);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let handshake_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let result = match acceptor {
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                        watcher.watch(conn.into_owned()).await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        Ok(())
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        Ok(())
                    }
                },
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop((permit, slot));
        });
    };
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        accept(stream, peer);
    }
    // Connections the kernel already completed (the listen backlog) are served, not reset: a load
    // balancer that sent a request on one would otherwise see it fail after connecting.
    let backlog = listener.into_std()?;
    while let Ok((stream, peer)) = backlog.accept() {
        if stream.set_nonblocking(true).is_err() {
            continue;
        }
        if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
            accept(stream, peer);
        }
    }
    drop(backlog);
    // A connection accepted just now has not sent its request yet, and hyper's graceful shutdown closes
    // a connection with no request under way: give those a moment to send theirs first.
    tokio::time::sleep(FIRST_REQUEST_WAIT.min(limits.shutdown_grace)).await;
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("shutdown grace period over; closing the connections left");
        }
    }
    Ok(())
}
