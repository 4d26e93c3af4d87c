//! The witness over HTTP (c2sp.org/tlog-witness §HTTP Interface): `POST /add-checkpoint` and the
//! monitoring `GET /<hex SHA-256 of origin>/checkpoint`. Handlers only extract, call [`Witness`] and
//! render its answer with the spec's status codes; the `witness` binary serves [`router`].

use crate::clock::Clock;
use crate::witness::{Witness, WitnessError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// The largest add-checkpoint body accepted: 63 proof lines and a checkpoint with many cosignatures.
pub const MAX_BODY: usize = 64 * 1024;

/// The witness and its clock, shared by the handlers.
#[derive(Clone)]
pub struct WitnessState {
    witness: Arc<Mutex<Witness>>,
    clock: Arc<dyn Clock>,
}

impl WitnessState {
    /// Shares `witness`, cosigning at the times `clock` gives.
    pub fn new(witness: Witness, clock: Arc<dyn Clock>) -> Self {
        Self {
            witness: Arc::new(Mutex::new(witness)),
            clock,
        }
    }
}

impl IntoResponse for WitnessError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match self {
            // Both 409s say which size the witness knows: a stale old size, and a second root for the
            // size it holds (a fork; the tlog-witness body of a 409 is that size).
            WitnessError::Conflict { known } | WitnessError::Fork { size: known, .. } => (
                status,
                [(header::CONTENT_TYPE, "text/x.tlog.size")],
                format!("{known}\n"),
            )
                .into_response(),
            other => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{other}\n"),
            )
                .into_response(),
        }
    }
}

/// The witness's routes.
pub fn router(state: WitnessState) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(latest_checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn add_checkpoint(State(state): State<WitnessState>, body: Bytes) -> Result<Response, WitnessError> {
    let body =
        String::from_utf8(body.to_vec()).map_err(|_| WitnessError::BadRequest("the body is not UTF-8".into()))?;
    let now = state.clock.now();
    // The check and the persisted update happen under one lock, with an fsync: off the async threads.
    let line = tokio::task::spawn_blocking(move || {
        let mut w = state.witness.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        w.handle(&body, now)
    })
    .await
    .map_err(|e| WitnessError::Persist(e.to_string()))??;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        line,
    )
        .into_response())
}

async fn latest_checkpoint(State(state): State<WitnessState>, Path(origin_hash): Path<String>) -> Response {
    let w = state.witness.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let found = w
        .origins()
        .into_iter()
        .find(|o| hex(&Sha256::digest(o.as_bytes())) == origin_hash);
    match found.and_then(|o| w.latest(&o).map(|r| r.checkpoint.clone())) {
        Some(cp) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            cp,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no checkpoint cosigned for that log\n").into_response(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves the witness on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WitnessState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::clock::FixedClock;
    use crate::cosignature::{cosignature_timestamp, CosignatureSigner};
    use crate::merkle::{consistency_proof, leaf_hash, tree_hash, MemoryTree};
    use crate::note::{NoteSigner, SignatureLine};
    use crate::witness::KnownLog;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use tower::ServiceExt as _;

    async fn call(app: &Router, method: &str, uri: &str, body: String) -> (StatusCode, Option<String>, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string());
        let body = String::from_utf8(to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        (status, ct, body)
    }

    #[tokio::test]
    async fn add_checkpoint_speaks_tlog_witness() {
        let log = NoteSigner::from_seed("audit.example/hub", &[1; 32]).unwrap();
        let mut tree = MemoryTree::new();
        for i in 0..40u64 {
            tree.push(leaf_hash(&i.to_be_bytes()));
        }
        let cp = |n| {
            Checkpoint::new(log.name(), n, tree_hash(&tree, n).unwrap())
                .sign(&log)
                .unwrap()
        };
        let signer = CosignatureSigner::from_seed("witness.example/w", &[2; 32]).unwrap();
        let w = Witness::in_memory(signer, vec![KnownLog::from_vkey(&log.vkey()).unwrap()]);
        let app = router(WitnessState::new(w, Arc::new(FixedClock(1_700_000_000))));

        let (status, _, body) = call(&app, "POST", "/add-checkpoint", format!("old 0\n\n{}", cp(10))).await;
        assert_eq!(status, StatusCode::OK);
        let line = SignatureLine::parse(&body).unwrap();
        assert_eq!(cosignature_timestamp(&line), Some(1_700_000_000));

        let (status, ct, body) = call(&app, "POST", "/add-checkpoint", format!("old 0\n\n{}", cp(20))).await;
        assert_eq!(
            (status, ct.as_deref(), body.as_str()),
            (StatusCode::CONFLICT, Some("text/x.tlog.size"), "10\n")
        );

        let proof: String = consistency_proof(&tree, 10, 20)
            .unwrap()
            .iter()
            .map(|h| format!("{h}\n"))
            .collect();
        let (status, _, _) = call(&app, "POST", "/add-checkpoint", format!("old 10\n{proof}\n{}", cp(20))).await;
        assert_eq!(status, StatusCode::OK);

        // Another root for the size the witness holds: a fork, 409 with the known size, never cosigned.
        let forked = Checkpoint::new(log.name(), 20, leaf_hash(b"forked"))
            .sign(&log)
            .unwrap();
        let (status, ct, body) = call(&app, "POST", "/add-checkpoint", format!("old 20\n\n{forked}")).await;
        assert_eq!(
            (status, ct.as_deref(), body.as_str()),
            (StatusCode::CONFLICT, Some("text/x.tlog.size"), "20\n")
        );
        // A proof that does not verify: 422.
        let (status, _, _) = call(
            &app,
            "POST",
            "/add-checkpoint",
            format!("old 20\n{}\n\n{}", leaf_hash(b"x"), cp(30)),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        // Not signed by the log's key: 403; an old size above the checkpoint's: 400.
        let stranger = NoteSigner::from_seed(log.name(), &[9; 32]).unwrap();
        let unsigned = Checkpoint::new(log.name(), 30, tree_hash(&tree, 30).unwrap())
            .sign(&stranger)
            .unwrap();
        let (status, _, _) = call(&app, "POST", "/add-checkpoint", format!("old 20\n\n{unsigned}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = call(&app, "POST", "/add-checkpoint", format!("old 31\n\n{}", cp(30))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let other = NoteSigner::from_seed("other.example/log", &[3; 32]).unwrap();
        let foreign = Checkpoint::new("other.example/log", 1, leaf_hash(b"x"))
            .sign(&other)
            .unwrap();
        let (status, _, _) = call(&app, "POST", "/add-checkpoint", format!("old 0\n\n{foreign}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = call(&app, "POST", "/add-checkpoint", "nonsense".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let hash = hex(&Sha256::digest(log.name().as_bytes()));
        let (status, _, body) = call(&app, "GET", &format!("/{hash}/checkpoint"), String::new()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with(&cp(20)), "{body}");
        let (status, _, _) = call(&app, "GET", "/00/checkpoint", String::new()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
