//! The federation hub: an OpenID Connect provider to relying services (`provider/`, INTERFACE.md §1–6)
//! and an OpenID Connect client of certified identity providers (`upstream/`, §9), brokering one sign-in
//! journey at a time.
//!
//! Layers, bottom up (no module imports one above it): the protocol rules and the journey's decisions
//! (`vtr`, `oauth`, `identity`, `pairwise`, `tokens`, `registry`, `journey`, `audit::event`), knowing
//! nothing of HTTP; the seams and state (`store`, `audit`, `upstream::client`, `state`); the carrying-out
//! of decisions (`carry_out`); then the endpoints (`provider/`, `upstream/callback`), the person's pages
//! (`web/`) and the operators' endpoints (`ops/`). The binary is thin: it reads [`config::Config`] and
//! calls [`run`]; tests call [`router`] in-process.

#[cfg(test)]
mod architecture;
pub mod audit;
pub mod auditor;
pub mod carry_out;
pub mod clock;
pub mod config;
pub mod dpop;
pub mod error;
pub mod http;
pub mod i18n;
pub mod identity;
pub mod idp;
pub mod ids;
pub mod journey;
pub mod jwks_cache;
pub mod oauth;
pub mod ops;
pub mod outbound;
pub mod pairwise;
pub mod provider;
pub mod registry;
pub mod sandbox;
pub mod serve;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod upstream;
pub mod vtr;
pub mod web;

pub use config::Config;
pub use state::AppState;

use axum::{
    routing::{get, post},
    Router,
};
use provider::{authorize, did, discovery, jwks, logout, par, token, trustmark, userinfo};
use std::future::Future;

/// The largest form body a person's page accepts, bytes.
const MAX_PAGE_FORM: usize = 4 * 1024;
/// The largest body `/authorize` (POST, request objects included) and `/token` accept, bytes.
const MAX_PROTOCOL_BODY: usize = 16 * 1024;

/// Every route of the hub. A URL's path names the module that serves it.
pub fn router(state: AppState) -> Router<()> {
    ops::metrics::handle();
    // The endpoints that cost work or store, behind a per-address rate limit.
    let guarded = Router::new()
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/token", post(token::post))
        .route("/par", post(par::post))
        .route(
            "/choose-provider",
            get(web::choose_provider::get).post(web::choose_provider::post),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::guard::per_address,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_PROTOCOL_BODY));
    let forms = Router::new()
        .route("/consent", get(web::consent::get).post(web::consent::post))
        .route("/cancel", post(web::cancel::post))
        .route("/cancel-link", get(web::cancel::link))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_PAGE_FORM));
    let app = Router::new()
        .merge(guarded)
        .merge(forms)
        .route("/.well-known/openid-configuration", get(discovery::get))
        .route("/.well-known/jwks.json", get(jwks::get))
        .route("/.well-known/did.json", get(did::get))
        .route("/userinfo", get(userinfo::handle).post(userinfo::handle))
        .route("/logout", get(logout::get).post(logout::post))
        .route("/trustmark", get(trustmark::get))
        .route("/healthz", get(ops::health::healthz))
        .route("/readyz", get(ops::health::readyz))
        .route("/metrics", get(ops::metrics::get))
        .merge(sandbox_routes(&state))
        .route(idp::JWKS_PATH, get(upstream::jwks::get))
        .route(idp::CALLBACK_PATH, get(upstream::callback::get))
        .fallback(web::not_found)
        .merge(govuk::router())
        .route_layer(axum::middleware::from_fn(ops::metrics::track))
        .layer(axum::middleware::from_fn(web::localise::localise))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(state.config.request_timeout_secs),
        ));
    let hsts = state.config.tls.enabled() || state.config.issuer.starts_with("https://");
    let adopt = serving::request::Adopt {
        header: state.config.adopt_trace_context,
        param_paths: if state.config.adopt_trace_context {
            &["/authorize"]
        } else {
            &[]
        },
    };
    let mut app = app.with_state(state);
    if hsts {
        // RFC 6797: only where people reach the hub over https (TLS here, or at the load balancer).
        app = app.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static(serving::tls::HSTS),
        ));
    }
    // Outermost: every request gets its id and span first, and its log line last.
    app.layer(axum::middleware::from_fn_with_state(adopt, serving::request::track))
}

/// The sandbox's routes, only when `federation --sandbox` turned it on (never in a plain hub).
fn sandbox_routes(state: &AppState) -> Router<AppState> {
    if state.sandbox.is_none() {
        return Router::new();
    }
    Router::new()
        .route("/sandbox", get(sandbox::page::get).post(sandbox::page::post))
        .route("/sandbox/config", post(sandbox::config::post))
}

/// What SIGHUP reloads, in this order; each step refuses a broken input and keeps what is in use, and
/// none stops the others.
///
/// 1. The client and provider registries (INTERFACE.md §8, "reloadable"): both valid or neither taken.
/// 2. The TLS certificate and key (new handshakes get the new pair; open connections keep theirs).
/// 3. The key rings (read the key files again; a ring that does not load is refused and the keys in
///    use stay), so one SIGHUP brings every change of files into service.
pub async fn reload(state: &AppState, tls: Option<&std::sync::Arc<serving::tls::Certificates>>) {
    // 1. Registries.
    let (applied, reg) = match state.reload_registries() {
        Ok(reg) => {
            tracing::info!("registries reloaded");
            telemetry::registry_reload("applied");
            (true, reg)
        }
        Err(e) => {
            tracing::error!(error = %e, "registry reload refused; the registries in use stay");
            telemetry::registry_reload("refused");
            (false, state.snapshot())
        }
    };
    let fact = audit::Fact::RegistryReloaded {
        applied,
        clients: reg.clients.len(),
        providers: reg.providers.len(),
    };
    audit::note(state.audit.as_ref(), state.now(), fact);
    // 2. Certificates.
    if let Some(certs) = tls {
        report_tls_reload(certs.reload().as_ref().map(|_| ()));
    }
    // 3. Keys: the key rings, when key files were added or removed.
    reload_keys(state);
}

/// Logs and counts one certificate reload.
fn report_tls_reload(result: Result<(), &serving::tls::TlsError>) {
    match result {
        Ok(()) => {
            tracing::info!("TLS certificate reloaded");
            telemetry::tls_reload("applied");
        }
        Err(e) => {
            tracing::error!(error = %e, "TLS certificate reload refused; the certificate in use stays");
            telemetry::tls_reload("refused");
        }
    }
}

/// Runs [`reload`] on every SIGHUP, as operators expect of a daemon.
fn reload_on_hangup(state: AppState, tls: Option<std::sync::Arc<serving::tls::Certificates>>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; registries and certificates reload only on restart");
            return;
        };
        while hangups.recv().await.is_some() {
            reload(&state, tls.as_ref()).await;
        }
    });
    #[cfg(not(unix))]
    let _ = (state, tls);
}

/// Reads the key rings again if `keys_dir` changed (a key rotated in or pruned out, INTERFACE.md §7);
/// a ring that does not load is logged and the rings in use stay.
fn reload_keys(state: &AppState) {
    match state.keys.reload() {
        Ok(true) => {
            let rings = state.keys.rings();
            let now = state.now();
            tracing::info!(
                signing = rings.signing.active(now).kid(),
                identity = rings.identity.active(now).kid(),
                upstream = rings.upstream.active(now).kid(),
                "key rings reloaded"
            );
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "key rings not reloaded; the keys in use stay"),
    }
}

/// Looks for key files added or removed every `key_reload_secs`, so a rotation reaches every instance
/// without a restart or a signal, and writes each key's change of state (published, signing, retired,
/// no longer published) to the assertion log.
fn reload_keys_periodically(state: AppState) {
    let every = std::time::Duration::from_secs(state.config.key_reload_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut known = state.key_states();
        loop {
            tick.tick().await;
            reload_keys(&state);
            let now_states = state.key_states();
            for ((ring, kid), change) in &now_states {
                if known.get(&(ring.clone(), kid.clone())) != Some(change) {
                    let fact = audit::Fact::KeyChanged {
                        purpose: ring.clone(),
                        kid: kid.clone(),
                        change: (*change).to_string(),
                    };
                    audit::note(state.audit.as_ref(), state.now(), fact);
                }
            }
            for (ring, kid) in known.keys().filter(|k| !now_states.contains_key(*k)) {
                let fact = audit::Fact::KeyChanged {
                    purpose: ring.clone(),
                    kid: kid.clone(),
                    change: "removed".into(),
                };
                audit::note(state.audit.as_ref(), state.now(), fact);
            }
            known = now_states;
        }
    });
}

/// Serves the hub on `listener` (over TLS when `tls` is configured) until `shutdown` completes; then
/// stops accepting, lets requests in flight finish (`shutdown_grace_secs`) and writes the audit log's
/// final checkpoint.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut config = config;
    if config.instance.is_empty() {
        config.instance = format!("hub-{}", listener.local_addr()?.port());
    }
    let tls = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => {
            let certs = serving::tls::Certificates::load(cert, key).map_err(|e| anyhow::anyhow!("field tls: {e}"))?;
            certs.watch(
                std::time::Duration::from_secs(config.tls.watch_secs.unwrap_or(5)),
                report_tls_reload,
            );
            Some(certs)
        }
        _ => None,
    };
    let state = AppState::from_config(config).await?;
    if state.config.bench_preload_entries > 0 {
        let ttl = std::time::Duration::from_secs(state.config.session_idle_secs);
        store::preload::fill(&state.store, state.config.bench_preload_entries, ttl).await?;
        tracing::info!(
            entries = state.config.bench_preload_entries,
            "store preloaded for a benchmark"
        );
    }
    reload_on_hangup(state.clone(), tls.clone());
    reload_keys_periodically(state.clone());
    if let Some(log) = &state.audit_log {
        tracing::info!(
            instance = %state.config.instance,
            dir = %log.0.dir().display(),
            vkey = %log.0.vkey(),
            "assertion log"
        );
        let http = serving::trust::client_builder(state.config.tls.extra_ca_file.as_deref())
            .map_err(|e| anyhow::anyhow!("field tls.extra_ca_file: {e}"))?
            .timeout(std::time::Duration::from_secs(state.config.http_timeout_secs))
            .build()?;
        audit::log::push_to_witnesses(
            log.clone(),
            state.config.audit_witnesses.clone(),
            http,
            std::time::Duration::from_secs(state.config.audit_checkpoint_secs.max(1)),
        );
    }
    let limits = serve::limits(&state.config);
    // One shutdown for every listener.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    if state.config.auditor.enabled {
        let addr = state.config.auditor.listen.clone();
        let auditor = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("field auditor.listen: cannot listen on {addr}: {e}"))?;
        tracing::info!(address = %auditor.local_addr()?, "auditor view");
        let (state, rx) = (state.clone(), stopped.clone());
        tokio::spawn(async move {
            if let Err(e) = auditor::serve(state, auditor, until_stopped(rx)).await {
                tracing::error!(error = %e, "auditor view stopped");
            }
        });
    }
    serve::serve_tls(listener, router(state.clone()), limits, tls, until_stopped(stopped)).await?;
    tracing::info!("requests in flight finished; writing the audit log's final checkpoint");
    // A final checkpoint: everything durable is published.
    state.audit.close().await;
    Ok(())
}
