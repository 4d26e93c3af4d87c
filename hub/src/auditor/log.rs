//! `GET /log/checkpoint`, `GET /log/tile/<L>/<N>[.p/<W>]`, `GET /log/tile/entries/<N>[.p/<W>]` and
//! `GET /log/vkey`: this instance's log, read-only, in the c2sp.org/tlog-tiles layout, for standard
//! tlog clients (no sign-in). Only paths in the tlog-tiles grammar, spelt canonically, are served
//! (`tlog::tile::parse_tile_path`), and the file read is named from the parsed tile, never from the
//! request: traversal, absolute paths, dot-files (`.wal`, `.lock`) and anything else are 404.
//!
//! Caching as tlog-tiles asks: full tiles never change (`immutable`, a year); partial tiles and the
//! checkpoint do (`no-cache`).

use super::{logs::Source, AuditorState};
use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use tlog::{
    storage::LogReader as _,
    tile::{parse_tile_path, TilePath},
};

/// Full tiles and bundles: the same bytes forever.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Partial tiles, the checkpoint and the key: ask again each time.
const NO_CACHE: &str = "no-cache";

fn plain_not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn with(body: Vec<u8>, content_type: &'static str, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn own(state: &AuditorState) -> Option<Source> {
    state.logs.iter().find(|s| s.own).cloned()
}

/// Reads one file of the own log, off the async threads.
async fn read(source: Source, path: String) -> Option<Vec<u8>> {
    tokio::task::spawn_blocking(move || source.reader().read(&path))
        .await
        .ok()?
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "auditor view: a log file could not be read");
            None
        })
}

/// `GET /log/checkpoint`: the served checkpoint, with its witnesses' cosignatures.
pub async fn checkpoint(State(state): State<AuditorState>) -> Response {
    let Some(source) = own(&state) else {
        return plain_not_found();
    };
    match read(source, "checkpoint".into()).await {
        Some(bytes) => with(bytes, "text/plain; charset=utf-8", NO_CACHE),
        None => plain_not_found(),
    }
}

/// `GET /log/vkey`: the log's verifier key (auditors should also take it from elsewhere).
pub async fn vkey(State(state): State<AuditorState>) -> Response {
    match own(&state) {
        Some(source) => with(
            format!("{}\n", source.vkey).into_bytes(),
            "text/plain; charset=utf-8",
            NO_CACHE,
        ),
        None => plain_not_found(),
    }
}

/// The file a request path names, if it is a tile or bundle path spelt canonically, and whether the
/// tile is full.
pub fn tile_file(request_path: &str) -> Option<(String, bool)> {
    let asked = request_path.strip_prefix("/log/")?;
    let (path, full) = match parse_tile_path(asked)? {
        TilePath::Hashes(t) => (t.path(), t.is_full()),
        TilePath::Entries(t) => (t.bundle_path(), t.is_full()),
    };
    (path == asked).then_some((path, full))
}

/// `GET /log/tile/…`: a hash tile or an entry bundle.
pub async fn tile(State(state): State<AuditorState>, uri: Uri) -> Response {
    let (Some(source), Some((path, full))) = (own(&state), tile_file(uri.path())) else {
        return plain_not_found();
    };
    match read(source, path).await {
        Some(bytes) => with(
            bytes,
            "application/octet-stream",
            if full { IMMUTABLE } else { NO_CACHE },
        ),
        None => plain_not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_tile_paths_name_a_file() {
        let good = [
            ("/log/tile/0/000", "tile/0/000", true),
            ("/log/tile/0/x001/234", "tile/0/x001/234", true),
            ("/log/tile/1/000.p/7", "tile/1/000.p/7", false),
            ("/log/tile/entries/000", "tile/entries/000", true),
            ("/log/tile/entries/005.p/255", "tile/entries/005.p/255", false),
        ];
        for (asked, file, full) in good {
            assert_eq!(tile_file(asked), Some((file.to_string(), full)), "{asked}");
        }
        let bad = [
            "/log/tile/../checkpoint",
            "/log/tile/0/../../.wal",
            "/log/tile/0/%2e%2e/.lock",
            "/log/tile//etc/passwd",
            "/log/tile/0/0",
            "/log/tile/0/1234",
            "/log/tile/00/000",
            "/log/tile/0/000.p/0",
            "/log/tile/0/000.p/256",
            "/log/tile/0/000.p/07",
            "/log/tile/0/000/",
            "/log/tile/0/.000",
            "/log/tile/entries/x000/001",
            "/log/tile/0/000?x",
            "/log/.wal",
            "/log/checkpoints/1",
            "/tile/0/000",
        ];
        for asked in bad {
            assert_eq!(tile_file(asked), None, "{asked}");
        }
    }
}
