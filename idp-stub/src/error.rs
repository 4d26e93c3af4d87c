//! One error type (STYLE.md §5): OAuth errors render as the RFC 6749 §5.2 / RFC 6750 §3 JSON for machines,
//! the rest as a GOV.UK page for people.

use crate::pages;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// Everything a handler can refuse with. `Display` is the message shown or sent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Token endpoint: client authentication failed (RFC 6749 §5.2), 401.
    #[error("{0}")]
    InvalidClient(String),
    /// Token endpoint: bad, used, expired or mismatched code, or failed PKCE, 400.
    #[error("{0}")]
    InvalidGrant(String),
    /// A malformed machine request, 400.
    #[error("{0}")]
    InvalidRequest(String),
    /// Token endpoint: a grant type other than `authorization_code`, 400.
    #[error("only authorization_code is supported")]
    UnsupportedGrantType,
    /// Userinfo: missing, unknown or expired access token (RFC 6750 §3.1), 401.
    #[error("the access token is missing, unknown or expired")]
    InvalidToken,
    /// A path naming no configured provider, 404 page.
    #[error("There is no identity provider at this address.")]
    UnknownProvider,
    /// No route here, 404 page.
    #[error("There is nothing at this address.")]
    NotFound,
    /// A request a person made that cannot go on (bad client or redirect URI, expired page), 400 page.
    #[error("{0}")]
    BadPage(String),
    /// Something of ours failed (signing, templates), 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let oauth = |status: StatusCode, code: &str, description: String| {
            let mut response = (
                status,
                [(header::CACHE_CONTROL, "no-store")],
                Json(json!({"error": code, "error_description": description})),
            )
                .into_response();
            if code == "invalid_token" {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            response
        };
        let message = self.to_string();
        match self {
            Error::InvalidClient(_) => oauth(StatusCode::UNAUTHORIZED, "invalid_client", message),
            Error::InvalidGrant(_) => oauth(StatusCode::BAD_REQUEST, "invalid_grant", message),
            Error::InvalidRequest(_) => oauth(StatusCode::BAD_REQUEST, "invalid_request", message),
            Error::UnsupportedGrantType => oauth(StatusCode::BAD_REQUEST, "unsupported_grant_type", message),
            Error::InvalidToken => oauth(StatusCode::UNAUTHORIZED, "invalid_token", message),
            Error::UnknownProvider | Error::NotFound => {
                pages::error_page(StatusCode::NOT_FOUND, "Page not found", &message)
            }
            Error::BadPage(_) => pages::error_page(StatusCode::BAD_REQUEST, "Sorry, there is a problem", &message),
            Error::Internal(_) => {
                tracing::error!(error = %message, "internal error");
                pages::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sorry, there is a problem with the service",
                    "Try again later.",
                )
            }
        }
    }
}

impl From<keys::KeyError> for Error {
    fn from(e: keys::KeyError) -> Self {
        Error::Internal(e.to_string())
    }
}
