//! `idp-stub`: one process playing several branded OpenID Connect providers that stand in for certified
//! identity providers (INTERFACE.md §9). Each provider is its own issuer at `{base_url}/{provider id}` with
//! its own ES256 key; the hub is their client. The stub is strict like a real provider (exact redirect
//! URIs, PKCE S256, `private_key_jwt` with replay protection, RFC 9207 `iss`) and lets a tester pick or force
//! outcomes, including deliberately broken ID tokens, and inspect every request it received; the last two
//! only when started with `test_endpoints`, on loopback. With `non_interactive` it answers every valid
//! authorization request at once as one persona, for load tests.
//!
//! Find an endpoint by its path: `/{p}/authorize` is `provider/authorize.rs`, `/{p}/token` is
//! `provider/token.rs`, and so on.

mod config;
mod error;
mod home;
pub mod outcome;
mod pages;
pub mod personas;
pub mod provider;
mod recorder;
mod state;

pub use config::{ClientConfig, Config, ProviderConfig};
pub use error::Error;
pub use state::{AppState, Clock, ManualClock, SystemClock};

use axum::{
    middleware,
    routing::{get, post},
    Router,
};
use provider::{authorize, config as forced, discovery, jwks, token, userinfo};
use std::future::Future;

/// All routes of the stub; with `test_endpoints`, also `/{p}/config` and `/_requests`, and the request
/// recorder wrapped around everything (without them nothing is recorded: nobody could read it).
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/", get(home::index))
        .route("/healthz", get(home::healthz))
        .route("/personas", get(home::personas))
        .route("/{provider}/.well-known/openid-configuration", get(discovery::get))
        .route("/{provider}/jwks.json", get(jwks::get))
        .route("/{provider}/authorize", get(authorize::get))
        .route("/{provider}/authorize/decide", post(authorize::decide_post))
        .route("/{provider}/token", post(token::post))
        .route("/{provider}/userinfo", get(userinfo::handle).post(userinfo::handle));
    let test_endpoints = state.config().test_endpoints;
    if test_endpoints {
        router = router
            .route("/_requests", get(recorder::list).delete(recorder::clear))
            .route("/{provider}/config", get(forced::get).post(forced::post));
    }
    let router = router.merge(govuk::router()).fallback(|| async { Error::NotFound });
    let router = if test_endpoints {
        router.layer(middleware::from_fn_with_state(state.clone(), recorder::record))
    } else {
        router
    };
    router.with_state(state).layer(middleware::from_fn_with_state(
        serving::request::Adopt {
            header: true,
            param_paths: &[],
        },
        serving::request::track,
    ))
}

/// Serves the stub on `listener` (over TLS when configured) until `shutdown` completes, then stops
/// accepting and finishes in-flight requests. Refuses to
/// start with `test_endpoints` on a listener that is not on loopback.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.check_listen_addr(listener.local_addr()?)?;
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
    let limits = serving::server::Limits {
        max_connections_per_ip: config.max_connections_per_ip,
        ..serving::server::Limits::default()
    };
    let state = AppState::new(config)?;
    serving::server::serve(listener, router(state), limits, tls, shutdown).await?;
    Ok(())
}
