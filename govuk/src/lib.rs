//! GOV.UK Frontend, vendored and pinned (`scripts/update-govuk-frontend`), served under `/assets/` where its
//! CSS expects its fonts and images, plus the shared page layout `templates/govuk/layout.html`.
//!
//! Every service (hub, idp-stub, rp-example) merges [`router`] and extends the layout by adding
//! `../govuk/templates` to the `dirs` of its `askama.toml`, so pages look the same with no build step.

use axum::{
    http::{header, HeaderValue},
    response::IntoResponse,
    routing::get,
    Router,
};

/// The pinned GOV.UK Frontend version the files under `assets/` come from.
pub const GOVUK_FRONTEND_VERSION: &str = "5.14.0";

/// One embedded file: URL path under `/assets/`, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "/assets/govuk-frontend.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/govuk-frontend.min.css"),
    ),
    (
        "/assets/fonts/bold-affa96571d-v2.woff",
        "font/woff",
        include_bytes!("../assets/fonts/bold-affa96571d-v2.woff"),
    ),
    (
        "/assets/fonts/bold-b542beb274-v2.woff2",
        "font/woff2",
        include_bytes!("../assets/fonts/bold-b542beb274-v2.woff2"),
    ),
    (
        "/assets/fonts/light-94a07e06a1-v2.woff2",
        "font/woff2",
        include_bytes!("../assets/fonts/light-94a07e06a1-v2.woff2"),
    ),
    (
        "/assets/fonts/light-f591b13f7d-v2.woff",
        "font/woff",
        include_bytes!("../assets/fonts/light-f591b13f7d-v2.woff"),
    ),
    (
        "/assets/images/favicon.ico",
        "image/x-icon",
        include_bytes!("../assets/images/favicon.ico"),
    ),
    (
        "/assets/images/favicon.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/favicon.svg"),
    ),
    (
        "/assets/images/govuk-crest.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/govuk-crest.svg"),
    ),
    (
        "/assets/images/govuk-icon-180.png",
        "image/png",
        include_bytes!("../assets/images/govuk-icon-180.png"),
    ),
    (
        "/assets/images/govuk-icon-mask.svg",
        "image/svg+xml",
        include_bytes!("../assets/images/govuk-icon-mask.svg"),
    ),
];

/// Routes for every vendored asset, cached for a day (file names of fonts carry their own hash).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS
        .iter()
        .fold(Router::new(), |router, &(path, content_type, bytes)| {
            router.route(
                path,
                get(move || async move {
                    (
                        [
                            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
                        ],
                        bytes,
                    )
                        .into_response()
                }),
            )
        })
}
