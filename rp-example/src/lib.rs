//! `rp-example`: a small GOV.UK-style relying service that signs people in through the hub as an
//! ordinary OpenID Connect client built on the `openidconnect` crate (INTERFACE.md §1–§6).
//!
//! It shows what a service written for GOV.UK One Login does: discovery (fetched lazily and cached, so the
//! hub may start after it), the authorization code flow with PKCE S256, `state`, `nonce`, `vtr` and the
//! identity `claims` request, `private_key_jwt` client authentication, ID token validation (signature
//! through the hub's JWKS, `iss`, `aud`, `exp`, `nonce`, `at_hash`, and the One Login `vot`), userinfo with
//! the identity claims (the coreIdentityJWT verified against the identity issuer's DID document, see
//! [`core_identity`]), RP-initiated logout and back-channel logout.
//!
//! The URL tells you the file: `GET /sign-in` is [`routes::sign_in`], `GET /callback` is
//! [`routes::callback`], and so on.

use std::{future::Future, sync::Arc};

use axum::{
    extract::State,
    response::Response,
    routing::{get, post},
    Router,
};

pub mod assertion;
pub mod clock;
pub mod config;
pub mod core_identity;
pub mod did;
pub mod error;
pub mod oidc;
pub mod routes;
pub mod store;
mod templates;
pub mod traced;

pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use error::RpError;

use oidc::ProviderCache;
use store::{LoginStore, SessionStore};

/// Everything a handler needs, cheap to clone (`Arc`s inside).
#[derive(Clone)]
pub struct AppState {
    /// The configuration read at start-up.
    pub config: Arc<Config>,
    /// The RP's signing key: client assertions are signed with it and its public half is at `/jwks.json`.
    pub key: Arc<keys::SigningKey>,
    /// The HTTP client for the hub: no redirects followed (as `openidconnect` requires), 10 s timeout.
    pub http: reqwest::Client,
    /// The hub's discovery document, JWKS and a client built from them, fetched on first use.
    pub provider: Arc<ProviderCache>,
    /// Logins started at `/sign-in` and not yet finished at `/callback`.
    pub logins: Arc<LoginStore>,
    /// The identity issuer's DID document, fetched on first use.
    pub did: Arc<did::DidCache>,
    /// Signed-in people.
    pub sessions: Arc<SessionStore>,
    /// Where time comes from (client assertion `iat`/`exp`, logout token checks, store expiry).
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    /// Loads (or, in development, generates) the signing key and builds the state. Nothing is fetched
    /// from the hub here: discovery happens on the first sign-in.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`AppState::new`] with a clock of the caller's choosing (tests move time with it).
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        config.validate()?;
        let key = keys::SigningKey::load_or_generate(&config.key_path)
            .map_err(|e| anyhow::anyhow!("key_path {}: {e}", config.key_path.display()))?;
        let http = serving::trust::client_builder(config.tls.extra_ca_file.as_deref())
            .map_err(|e| anyhow::anyhow!("tls.extra_ca_file: {e}"))?
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Self {
            config: Arc::new(config),
            key: Arc::new(key),
            http,
            provider: Arc::new(ProviderCache::default()),
            logins: Arc::new(LoginStore::default()),
            did: Arc::new(did::DidCache::default()),
            sessions: Arc::new(SessionStore::default()),
            clock,
        })
    }
}

/// Every route of the service, plus the GOV.UK assets under `/assets/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(routes::start::get))
        .route("/sign-in", get(routes::sign_in::get))
        .route("/callback", get(routes::callback::get))
        .route("/account", get(routes::account::get))
        .route("/sign-out", get(routes::sign_out::get))
        .route("/signed-out", get(routes::signed_out::get))
        .route("/backchannel-logout", post(routes::backchannel_logout::post))
        .route("/jwks.json", get(routes::jwks::get))
        .route("/healthz", get(|| async { "ok" }))
        .merge(govuk::router())
        .layer(axum::middleware::map_response_with_state(state.clone(), render_errors))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            serving::request::Adopt {
                header: true,
                param_paths: &[],
            },
            serving::request::track,
        ))
}

/// Renders an [`RpError`] page again under the configured service name (the error alone does not know it).
async fn render_errors(State(state): State<AppState>, mut response: Response) -> Response {
    if let Some(error) = response.extensions_mut().remove::<RpError>() {
        // Keep the status and headers (a cleared cookie, say); only the page changes.
        *response.body_mut() = error.render(&state.config.service_name).into_body();
    }
    response
}

/// Serves the service on `listener` (over TLS when configured, the certificate reloaded when its files
/// change) until `shutdown` completes, then stops accepting and finishes in-flight requests.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => {
            let certs = serving::tls::Certificates::load(cert, key).map_err(|e| anyhow::anyhow!("tls: {e}"))?;
            certs.watch(
                std::time::Duration::from_secs(config.tls.watch_secs.unwrap_or(5)),
                |result| match result {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(e) => tracing::error!(error = %e, "TLS certificate reload refused; the one in use stays"),
                },
            );
            Some(certs)
        }
        _ => None,
    };
    let state = AppState::new(config)?;
    serving::server::serve(
        listener,
        router(state),
        serving::server::Limits::default(),
        tls,
        shutdown,
    )
    .await?;
    Ok(())
}
