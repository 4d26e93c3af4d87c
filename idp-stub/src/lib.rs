//! `idp-stub`: one process playing several branded OpenID Connect providers that stand in for certified
//! identity providers (INTERFACE.md §9). Each provider is its own issuer at `{base_url}/{provider id}` with
//! its own ES256 key; the hub is their client. The stub is strict like a real provider (exact redirect
//! URIs, PKCE S256, `private_key_jwt` with replay protection, RFC 9207 `iss`) and lets a tester pick or force
//! outcomes, including deliberately broken ID tokens, and inspect every request it received.
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

/// All routes of the stub, the request recorder wrapped around them.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home::index))
        .route("/healthz", get(home::healthz))
        .route("/personas", get(home::personas))
        .route("/_requests", get(recorder::list).delete(recorder::clear))
        .route("/{provider}/.well-known/openid-configuration", get(discovery::get))
        .route("/{provider}/jwks.json", get(jwks::get))
        .route("/{provider}/authorize", get(authorize::get))
        .route("/{provider}/authorize/decide", post(authorize::decide_post))
        .route("/{provider}/token", post(token::post))
        .route("/{provider}/userinfo", get(userinfo::handle).post(userinfo::handle))
        .route("/{provider}/config", get(forced::get).post(forced::post))
        .merge(govuk::router())
        .fallback(|| async { Error::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), recorder::record))
        .with_state(state)
}

/// Serves the stub on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState::new(config)?;
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
