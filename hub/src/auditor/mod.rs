//! The auditor view: its own listener (default 127.0.0.1:8081), its own credentials, read-only. It
//! searches the assertion logs, shows the latest checkpoints with their cosignatures and whether the logs
//! verify, the figures service owners are judged on, and serves the instance's log in the tlog-tiles
//! layout.

pub mod chart;
pub mod dates;
pub mod logs;
pub mod tally;

use crate::state::AppState;
use std::future::Future;

/// Serves the auditor view on `listener` until `shutdown` completes.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _ = state;
    axum::serve(listener, axum::Router::new())
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
