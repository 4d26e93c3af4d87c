//! The auditor view: its own listener (default 127.0.0.1:8081), its own credentials, read-only. It
//! searches the assertion logs, shows the latest checkpoints with their cosignatures and whether the logs
//! verify, the figures service owners are judged on, and serves the instance's log in the tlog-tiles
//! layout (DESIGN.md "Audit log").
//!
//! | route | module |
//! | --- | --- |
//! | `GET\|POST /sign-in`, `POST /sign-out` | [`sign_in`] |
//! | `GET /` | [`overview`] |
//! | `GET /figures` | [`figures`] |
//! | `GET /search` | [`search`] |
//! | `GET /entry/{log}/{index}`, `GET /entry/{log}/{index}/proof` | [`entry`] |
//! | `GET /log/checkpoint`, `/log/vkey`, `/log/tile/…` (no sign-in) | [`log`] |
//! | `GET /healthz` | here |
//!
//! A background task ([`AuditorState::refresh`], every `auditor.refresh_secs`) verifies each log in full
//! and reads the entries added since it last looked into the figures' running totals, so no page ever
//! reads a whole log except a search, which scans (and says so).

pub mod chart;
pub mod entry;
pub mod figures;
pub mod log;
pub mod logs;
pub mod overview;
pub mod search;
pub mod session;
pub mod sign_in;
pub mod tally;

use crate::{audit::Entry, state::AppState};
use askama::Template;
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

/// The largest request body the view accepts (its forms are small), bytes.
const MAX_BODY: usize = 4 * 1024;
/// Searches running at once; more wait their turn (each scans every log).
const SEARCHES_AT_ONCE: usize = 2;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The view's state: the hub's, the logs shown, sessions, and what the refresher last found.
#[derive(Debug, Clone)]
pub struct AuditorState(Arc<Inner>);

/// What [`AuditorState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The hub's state: configuration (users, logs), the clock, the instance's own log.
    pub app: AppState,
    /// The logs shown, the instance's own first.
    pub logs: Vec<logs::Source>,
    /// Signed-in auditors.
    pub sessions: session::Sessions,
    /// Failed sign-ins per address.
    pub failures: session::Failures,
    /// Per log: the last full verification.
    checks: Mutex<Vec<Option<overview::Check>>>,
    /// The figures' running totals.
    tally: Mutex<tally::Tally>,
    /// One refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
    /// Bounds the searches running at once.
    searches: Arc<tokio::sync::Semaphore>,
}

impl std::ops::Deref for AuditorState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AuditorState {
    /// The view over the hub's own log and the logs in `auditor.logs`; nothing is read until
    /// [`Self::refresh`].
    pub fn new(app: AppState) -> Self {
        let logs = logs::sources(&app);
        for user in &app.config.auditor.users {
            if argon2::password_hash::PasswordHash::new(&user.password_hash).is_err() {
                tracing::warn!(user = %user.name, "auditor.users: password_hash is not a PHC string; this user cannot sign in");
            }
        }
        Self(Arc::new(Inner {
            checks: Mutex::new(vec![None; logs.len()]),
            tally: Mutex::new(tally::Tally::new(logs.len())),
            logs,
            app,
            sessions: session::Sessions::default(),
            failures: session::Failures::default(),
            refreshing: tokio::sync::Mutex::new(()),
            searches: Arc::new(tokio::sync::Semaphore::new(SEARCHES_AT_ONCE)),
        }))
    }

    /// The current time, from the hub's clock.
    pub fn now(&self) -> i64 {
        self.app.now()
    }

    /// The log with this slug.
    pub fn source(&self, slug: &str) -> Option<&logs::Source> {
        self.logs.iter().find(|s| s.slug == slug)
    }

    /// Every log's last verification.
    pub fn checks(&self) -> Vec<Option<overview::Check>> {
        lock(&self.checks).clone()
    }

    /// Reads the running totals.
    pub fn with_tally<R>(&self, f: impl FnOnce(&tally::Tally) -> R) -> R {
        f(&lock(&self.tally))
    }

    /// Verifies every log in full and adds the entries written since the last refresh to the figures.
    /// The background task calls it every `auditor.refresh_secs`; tests call it to see new entries now.
    pub async fn refresh(&self) {
        let _one = self.refreshing.lock().await;
        let me = self.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || me.refresh_blocking()).await {
            tracing::error!(error = %e, "auditor refresh failed");
        }
    }

    fn refresh_blocking(&self) {
        for (i, source) in self.logs.iter().enumerate() {
            let check = overview::check(source, self.now());
            if let Err(failed) = &check.outcome {
                tracing::warn!(log = %source.origin, place = %failed.place, reason = %failed.reason, "assertion log does not verify");
            }
            if let Some(slot) = lock(&self.checks).get_mut(i) {
                *slot = Some(check);
            }
            self.read_new(i, source);
        }
        lock(&self.tally).read_at = Some(self.now());
    }

    /// Adds log `i`'s entries from where the figures stopped to its latest checkpoint, a bundle at a time.
    fn read_new(&self, i: usize, source: &logs::Source) {
        let from = lock(&self.tally).next.get(i).copied().unwrap_or(0);
        let problem = match source.checkpoint() {
            Err(e) => Some(e),
            Ok((cp, _)) if cp.size < from => Some(format!(
                "the log has {} entries, fewer than the {from} already counted: it was rolled back",
                cp.size
            )),
            Ok((cp, _)) => {
                let mut batch: Vec<(u64, Option<Entry>)> = Vec::with_capacity(256);
                let result = logs::read_from(&source.reader(), from, cp.size, |index, bytes| {
                    batch.push((index, serde_json::from_slice(&bytes).ok()));
                    if batch.len() >= 256 {
                        self.count(i, &mut batch);
                    }
                    true
                });
                self.count(i, &mut batch);
                result.err()
            }
        };
        if let Some(slot) = lock(&self.tally).problems.get_mut(i) {
            *slot = problem;
        }
    }

    fn count(&self, i: usize, batch: &mut Vec<(u64, Option<Entry>)>) {
        let mut tally = lock(&self.tally);
        for (index, entry) in batch.drain(..) {
            match entry {
                Some(entry) => tally.add(&entry),
                None => tally.unreadable += 1,
            }
            if let Some(next) = tally.next.get_mut(i) {
                *next = index + 1;
            }
        }
    }
}

/// Every route of the auditor view. A URL's first segment names the module that serves it.
pub fn router(state: AuditorState) -> Router<()> {
    let timeout = Duration::from_secs(state.app.config.request_timeout_secs.max(1));
    Router::new()
        .route("/", get(overview::get))
        .route("/sign-in", get(sign_in::get).post(sign_in::post))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/figures", get(figures::get))
        .route("/search", get(search::get))
        .route("/entry/{log}/{index}", get(entry::get))
        .route("/entry/{log}/{index}/proof", get(entry::proof))
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/vkey", get(log::vkey))
        .route("/log/tile/{*path}", get(log::tile))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .merge(govuk::router())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(()),
        )
        .with_state(state)
}

/// The tracing span of one request: method and path only (search terms such as a `sub` stay out of
/// the logs).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("auditor request", method = %request.method(), path = request.uri().path())
}

/// Serves the auditor view on `listener` until `shutdown` completes, refreshing every
/// `auditor.refresh_secs`.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let every = Duration::from_secs(state.config.auditor.refresh_secs.max(1));
    let limits = crate::serve::Limits {
        max_connections: 256,
        max_connections_per_ip: 64,
        header_read_timeout: Duration::from_secs(state.config.header_read_timeout_secs.max(1)),
        ..crate::serve::Limits::default()
    };
    let auditor = AuditorState::new(state);
    let refresher = auditor.clone();
    let task = tokio::spawn(async move {
        loop {
            refresher.refresh().await;
            tokio::time::sleep(every).await;
        }
    });
    let served = crate::serve::serve(listener, router(auditor), limits, shutdown).await;
    task.abort();
    served?;
    Ok(())
}

/// `GET /healthz`: the listener answers.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// The navigation of a signed-in auditor's pages.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Who is signed in.
    pub user: String,
    /// The sign-out form's CSRF token.
    pub csrf: String,
    /// The page shown: `overview`, `figures` or `search` (or empty).
    pub current: &'static str,
}

/// A signed-in auditor: pages that take it need a session, and send anyone else to `/sign-in`.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session id from the cookie.
    pub id: String,
    /// Who, and their session's CSRF token.
    pub who: session::Signed,
}

impl SignedIn {
    /// The navigation for a page of this auditor.
    pub fn nav(&self, current: &'static str) -> Option<Nav> {
        Some(Nav {
            user: self.who.name.clone(),
            csrf: self.who.csrf.clone(),
            current,
        })
    }
}

impl FromRequestParts<AuditorState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AuditorState) -> Result<Self, Response> {
        let now = state.now();
        let found = session::read(&parts.headers, session::SESSION_COOKIE)
            .and_then(|id| state.sessions.touch(&id, now).map(|who| SignedIn { id, who }));
        found.ok_or_else(|| {
            let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let location = if here == "/" || parts.method != axum::http::Method::GET {
                "/sign-in".to_string()
            } else {
                let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
                format!("/sign-in?next={next}")
            };
            crate::http::found(&location)
        })
    }
}

/// The address a request comes from: the peer, or the client behind a trusted proxy; loopback
/// in-process.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AuditorState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AuditorState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        Ok(Self(crate::http::rate::client_ip(
            peer,
            forwarded,
            &state.app.config.trusted_proxies,
        )))
    }
}

/// A page with a heading and paragraphs: not found, too many attempts, an error.
#[derive(Template, Debug)]
#[template(path = "auditor/message.html")]
pub struct Message {
    pub nav: Option<Nav>,
    pub heading: String,
    pub paragraphs: Vec<String>,
}

impl Message {
    /// The page, rendered with the hub's safe headers.
    pub fn render(status: StatusCode, nav: Option<Nav>, heading: &str, paragraphs: &[&str]) -> Response {
        crate::web::page::render(
            status,
            &Message {
                nav,
                heading: heading.to_string(),
                paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
            },
        )
    }

    /// "Page not found".
    pub fn not_found(nav: Option<Nav>) -> Response {
        Self::render(
            StatusCode::NOT_FOUND,
            nav,
            "Page not found",
            &["If you typed the web address, check it is correct."],
        )
    }

    /// Something could not be read; the reason goes to the operators' log, not the page.
    pub fn unavailable(nav: Option<Nav>, what: &str, error: &str) -> Response {
        tracing::error!(error = %error, "auditor view: {what}");
        Self::render(
            StatusCode::INTERNAL_SERVER_ERROR,
            nav,
            "Sorry, there is a problem",
            &[what, "The log's overview says whether it verifies. Try again later."],
        )
    }
}

async fn not_found() -> Response {
    Message::not_found(None)
}

/// A form error: the field's id (the error summary links to it) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// A count and its share of another, as a percentage with one decimal (`–` when out of nothing).
pub fn rate(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_have_one_decimal_and_none_out_of_nothing() {
        assert_eq!(rate(1, 3), "33.3%");
        assert_eq!(rate(2, 2), "100.0%");
        assert_eq!(rate(0, 0), "–");
    }
}
