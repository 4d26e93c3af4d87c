//! The server loop every binary of the federation runs, with the bounds a public service needs: a cap on
//! connections in all and per client address, a header-read timeout on every connection, a bound on
//! header size, HTTP/1.1 and HTTP/2 (hyper's `auto` builder; over TLS by ALPN), and graceful shutdown:
//! when `shutdown` completes the listener is closed at once (a load balancer sees the instance go and
//! sends new connections elsewhere), requests in flight finish within [`Limits::shutdown_grace`], and then
//! the call returns so the caller can write what must be written last (the hub's final audit checkpoint).
//!
//! What bounds each phase of a connection, with `T` the [`Limits::header_read_timeout`]:
//! - from being accepted to its first request's complete headers (the TLS handshake; the first bytes
//!   hyper's `auto` builder reads, with no timer of its own, to tell the HTTP/2 preface from HTTP/1; the
//!   HTTP/2 preface and settings; the request's head): `T` in all, or the connection is closed. A
//!   watchdog per connection does this (`Activity`), whatever the client sends meanwhile (HTTP/2 pings
//!   and settings do not extend it); hyper's HTTP/1 `header_read_timeout` also bounds each HTTP/1 head;
//! - from a request's end (its answer all handed to hyper) to the next request's headers, on a kept-alive
//!   HTTP/1.1 connection or an HTTP/2 connection with no other request under way: `T` again;
//! - a request under way, from its headers to the end of its answer: only the app's bounds (the hub's
//!   request timeout), and for HTTP/2 keep-alive pings that close a connection whose peer stopped
//!   answering;
//! - at shutdown: a connection accepted in the last moments gets `FIRST_REQUEST_WAIT` (1 s) to send its
//!   request, then connections with none under way are closed and the rest get
//!   [`Limits::shutdown_grace`].
//!
//! Each request carries its peer address as `ConnectInfo`, for per-address rate limits.

use crate::tls::Certificates;
use axum::{extract::ConnectInfo, Router};
use hyper::{
    body::{Body, Frame, Incoming, SizeHint},
    service::Service,
    Request, Response,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll},
    time::Duration,
};
use tokio::time::Instant;
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
    /// Time a connection has, from being accepted or from its previous request's end, to finish the TLS
    /// handshake and send a request's complete headers, HTTP/1.1 or HTTP/2; otherwise it is closed. So
    /// also the longest a kept-alive connection waits idle.
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

/// One connection's requests under way (headers arrived, answer not yet all handed to hyper) and when it
/// last had none (since it was accepted, at first): the watchdog [`Activity::idle_for`] closes a
/// connection that has had none for the header-read timeout, whatever it sends meanwhile. hyper-util's
/// `auto` builder has no timer while it reads the first bytes to tell HTTP/2 from HTTP/1, and hyper's
/// HTTP/2 has no header-read or idle timeout (its keep-alive pings only find peers that stopped
/// answering), so this bound is ours.
#[derive(Debug)]
struct Activity(Mutex<(usize, Instant)>);

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new((0, Instant::now()))))
    }

    fn state(&self) -> MutexGuard<'_, (usize, Instant)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request has arrived; it is under way until the returned guard is dropped.
    fn busy(self: &Arc<Self>) -> Busy {
        self.state().0 += 1;
        Busy(self.clone())
    }

    /// Completes once the connection has had no request under way for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let (under_way, since) = *self.state();
            // With requests under way, look again in `limit`: one ending now leaves the connection that long.
            let from = if under_way == 0 { since } else { Instant::now() };
            match from.checked_add(limit) {
                None => return std::future::pending().await,
                Some(wake) if under_way == 0 && wake <= Instant::now() => return,
                Some(wake) => tokio::time::sleep_until(wake).await,
            }
        }
    }
}

/// A request under way on a connection (see [`Activity`]).
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.0 = state.0.saturating_sub(1);
        if state.0 == 0 {
            state.1 = Instant::now();
        }
    }
}

/// The app's service, counting each request under way in the connection's [`Activity`]: from the call
/// (hyper calls once the headers are complete) until the answer's body is dropped (all handed to hyper,
/// or the request abandoned).
#[derive(Debug, Clone)]
struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S, B> Service<Request<Incoming>> for Counted<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<CountedBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let busy = self.activity.busy();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| CountedBody { body, _busy: busy }))
        })
    }
}

/// An answer's body, holding its request's [`Busy`] until hyper drops it.
#[derive(Debug)]
struct CountedBody<B> {
    body: B,
    _busy: Busy,
}

impl<B: Body + Unpin> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
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
        let activity = Activity::new();
        let service = router
            .clone()
            .map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                request
            });
        let service = Counted {
            inner: TowerToHyperService::new(service),
            activity: activity.clone(),
        };
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let connection = async move {
                let result = match acceptor {
                    None => {
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        watcher.watch(conn.into_owned()).await
                    }
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => {
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                            watcher.watch(conn.into_owned()).await
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            Ok(())
                        }
                    },
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            };
            // The handshake, the protocol's preface and each request's headers race the watchdog; a
            // request under way holds it off. Dropping the connection closes it.
            tokio::select! {
                biased;
                () = connection => {}
                () = activity.idle_for(header_read_timeout) => {
                    tracing::debug!("closing a connection that sent no request within the header-read timeout");
                }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::{body::Body as AxumBody, routing};
    use tokio::{
        io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };

    /// The header-read timeout of the servers under test.
    const TIMEOUT: Duration = Duration::from_millis(300);
    /// The longest a test waits for the server to close a connection (a ceiling, not a timing).
    const CEILING: Duration = Duration::from_secs(10);
    const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    /// An HTTP/2 SETTINGS frame with no settings (RFC 9113 section 6.5).
    const EMPTY_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
    /// An HTTP/2 PING frame (section 6.7).
    const PING: &[u8] = &[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];

    /// A server with a [`TIMEOUT`] header-read timeout, over TLS when `tls` is given, running until
    /// `shutdown`: `/` answers at once, `/slow` after a second (longer than the timeout).
    async fn start_until(
        tls: Option<Arc<Certificates>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
        let router = Router::new().route("/", routing::get(|| async { "hello" })).route(
            "/slow",
            routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                "slow answer"
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            header_read_timeout: TIMEOUT,
            ..Limits::default()
        };
        (addr, tokio::spawn(serve(listener, router, limits, tls, shutdown)))
    }

    /// [`start_until`] with no shutdown.
    async fn start(tls: Option<Arc<Certificates>>) -> SocketAddr {
        start_until(tls, std::future::pending()).await.0
    }

    /// Whether the server closes `stream` within [`CEILING`], reading (and dropping) what it sends.
    async fn closed_by_server(stream: &mut (impl AsyncRead + Unpin)) -> bool {
        let mut buf = [0u8; 1024];
        let until_eof = async {
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        };
        tokio::time::timeout(CEILING, until_eof).await.is_ok()
    }

    /// A connection to `addr` that has sent `bytes`.
    async fn sent(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        stream
    }

    /// A self-signed certificate for `localhost`, loaded, and a TLS client trusting it.
    fn tls_pair(dir: &std::path::Path) -> (Arc<Certificates>, tokio_rustls::TlsConnector) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (
            Certificates::load(&c, &k).unwrap(),
            tokio_rustls::TlsConnector::from(Arc::new(config)),
        )
    }

    /// A GET of `path`.
    fn get(path: &str) -> Request<AxumBody> {
        Request::get(format!("http://localhost{path}"))
            .body(AxumBody::empty())
            .unwrap()
    }

    /// The status and body of an answer.
    async fn answer(sent: impl Future<Output = hyper::Result<Response<Incoming>>>) -> (u16, String) {
        let response = sent.await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(AxumBody::new(response.into_body()), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_is_closed_plain_or_tls() {
        let addr = start(None).await;
        assert!(
            closed_by_server(&mut sent(addr, b"").await).await,
            "plain, nothing sent"
        );

        let dir = tempfile::tempdir().unwrap();
        let (certs, connector) = tls_pair(dir.path());
        let addr = start(Some(certs)).await;
        // No handshake at all.
        assert!(closed_by_server(&mut sent(addr, b"").await).await, "TLS, no handshake");
        // A handshake and then nothing, and a handshake and half an HTTP/2 preface.
        for bytes in [&b""[..], &H2_PREFACE[..10]] {
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = connector
                .connect(name, TcpStream::connect(addr).await.unwrap())
                .await
                .unwrap();
            tls.write_all(bytes).await.unwrap();
            tls.flush().await.unwrap();
            assert!(closed_by_server(&mut tls).await, "TLS, then {bytes:?}");
        }
    }

    #[tokio::test]
    async fn half_an_http2_preface_is_closed() {
        let addr = start(None).await;
        for cut in [1, 10, H2_PREFACE.len() - 1] {
            let mut stream = sent(addr, &H2_PREFACE[..cut]).await;
            assert!(closed_by_server(&mut stream).await, "{cut} bytes of the preface");
        }
    }

    #[tokio::test]
    async fn an_http2_preface_without_a_request_is_closed_even_while_pinging() {
        let addr = start(None).await;
        assert!(
            closed_by_server(&mut sent(addr, H2_PREFACE).await).await,
            "preface only"
        );
        let both = [H2_PREFACE, EMPTY_SETTINGS].concat();
        assert!(
            closed_by_server(&mut sent(addr, &both).await).await,
            "preface and settings"
        );

        // Frames other than a request's headers, sent all along, do not keep the connection open.
        let (mut read, mut write) = sent(addr, &both).await.into_split();
        let pinger = tokio::spawn(async move {
            while write.write_all(PING).await.is_ok() {
                tokio::time::sleep(TIMEOUT / 4).await;
            }
        });
        assert!(closed_by_server(&mut read).await, "pings");
        pinger.abort();
    }

    #[tokio::test]
    async fn half_sent_http1_headers_are_closed() {
        let addr = start(None).await;
        let mut stream = sent(addr, b"GET / HTTP/1.1\r\nHost: localhost\r\n").await;
        assert!(closed_by_server(&mut stream).await);
    }

    #[tokio::test]
    async fn http1_with_keep_alive_and_http2_requests_are_answered_even_when_slow() {
        let addr = start(None).await;

        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let (mut h1, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let h1_conn = tokio::spawn(conn);
        // Each request on the one kept-alive connection (the client has no other).
        assert_eq!(answer(h1.send_request(get("/"))).await, (200, "hello".into()));
        assert_eq!(answer(h1.send_request(get("/"))).await, (200, "hello".into()));
        // A handler slower than the header-read timeout still answers in full.
        assert_eq!(answer(h1.send_request(get("/slow"))).await, (200, "slow answer".into()));
        assert_eq!(answer(h1.send_request(get("/"))).await, (200, "hello".into()));
        // And then, idle, the connection is closed.
        assert!(tokio::time::timeout(CEILING, h1_conn).await.is_ok(), "HTTP/1.1 idle");

        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let (mut h2, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap();
        let h2_conn = tokio::spawn(conn);
        assert_eq!(answer(h2.send_request(get("/"))).await, (200, "hello".into()));
        assert_eq!(answer(h2.send_request(get("/slow"))).await, (200, "slow answer".into()));
        assert_eq!(answer(h2.send_request(get("/"))).await, (200, "hello".into()));
        assert!(tokio::time::timeout(CEILING, h2_conn).await.is_ok(), "HTTP/2 idle");
    }

    #[tokio::test]
    async fn a_slow_request_under_way_at_shutdown_is_answered() {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr, server) = start_until(None, async {
            let _ = stopped.await;
        })
        .await;
        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let (mut h2, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap();
        tokio::spawn(conn);
        let slow = tokio::spawn(answer(h2.send_request(get("/slow"))));
        tokio::time::sleep(TIMEOUT / 2).await;
        stop.send(()).unwrap();
        assert_eq!(slow.await.unwrap(), (200, "slow answer".into()));
        let ended = tokio::time::timeout(CEILING, server).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    }
}
