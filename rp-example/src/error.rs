//! Everything that can stop a person signing in, each rendered as a GOV.UK page with a way forward and
//! the failure named in `#error-code`. Bad input is a 4xx, a misbehaving or unreachable hub a 502/503;
//! only our own faults are a 500.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::templates::{render, ErrorPage};

/// Why a browser request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpError {
    /// The hub's discovery document or JWKS could not be fetched or made sense of.
    #[error("the hub is unavailable: {0}")]
    HubUnavailable(String),
    /// The hub answered the authorization request with `error` (e.g. `access_denied`).
    #[error("the hub returned {code}")]
    Authorization { code: String, description: Option<String> },
    /// `/sign-in` was asked for a level this service does not offer.
    #[error("unknown level {0:?}")]
    InvalidLevel(String),
    /// `/callback` without a login in progress in this browser (expired, used, or started elsewhere).
    #[error("no sign-in in progress")]
    LoginNotFound,
    /// `/callback` with a `state` other than the one sent.
    #[error("state does not match")]
    StateMismatch,
    /// `/callback` with an `iss` other than the hub's (RFC 9207), or without one when the hub sends it.
    #[error("iss {0:?} is not the hub's issuer")]
    IssuerMismatch(Option<String>),
    /// `/callback` with neither `code` nor `error`.
    #[error("no authorization code")]
    MissingCode,
    /// The token request failed (the hub's error code, or a transport failure).
    #[error("token request failed: {0}")]
    TokenRequest(String),
    /// The ID token failed validation (signature, `iss`, `aud`, `exp`, `nonce`, `at_hash`).
    #[error("ID token refused: {0}")]
    InvalidIdToken(String),
    /// The ID token has no `vot`.
    #[error("ID token has no vot")]
    MissingVot,
    /// The userinfo request failed or its answer was refused.
    #[error("userinfo failed: {0}")]
    Userinfo(String),
    /// The identity credential (coreIdentityJWT) failed validation, or is below the level asked for.
    #[error("identity credential refused: {0}")]
    InvalidCoreIdentity(String),
    /// An identity journey ended with neither an identity credential nor a return code.
    #[error("an identity check was asked for, but userinfo has neither a coreIdentityJWT nor a returnCode")]
    MissingCoreIdentity,
    /// Our own fault (signing, rendering).
    #[error("internal error: {0}")]
    Internal(String),
}

impl RpError {
    /// The code shown in `#error-code`: the hub's own for [`RpError::Authorization`], else ours.
    pub fn code(&self) -> &str {
        match self {
            Self::HubUnavailable(_) => "hub_unavailable",
            Self::Authorization { code, .. } => code,
            Self::InvalidLevel(_) => "invalid_level",
            Self::LoginNotFound => "login_not_found",
            Self::StateMismatch => "state_mismatch",
            Self::IssuerMismatch(_) => "iss_mismatch",
            Self::MissingCode => "missing_code",
            Self::TokenRequest(_) => "token_request_failed",
            Self::InvalidIdToken(_) => "invalid_id_token",
            Self::MissingVot => "missing_vot",
            Self::Userinfo(_) => "userinfo_failed",
            Self::InvalidCoreIdentity(_) => "invalid_core_identity",
            Self::MissingCoreIdentity => "missing_core_identity",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::HubUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Authorization { .. }
            | Self::InvalidLevel(_)
            | Self::LoginNotFound
            | Self::StateMismatch
            | Self::IssuerMismatch(_)
            | Self::MissingCode => StatusCode::BAD_REQUEST,
            Self::TokenRequest(_)
            | Self::InvalidIdToken(_)
            | Self::MissingVot
            | Self::Userinfo(_)
            | Self::InvalidCoreIdentity(_)
            | Self::MissingCoreIdentity => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The page as the person sees it, under `service_name`.
    pub fn render(&self, service_name: &str) -> Response {
        let (heading, body, link_text) = match self {
            Self::Authorization { .. } => (
                "You have not been signed in",
                "GOV.UK One Login did not sign you in to this service.",
                "Return to the start page",
            ),
            Self::HubUnavailable(_) => (
                "Sorry, there is a problem with the service",
                "We cannot reach GOV.UK One Login at the moment. Try again later.",
                "Try again",
            ),
            Self::LoginNotFound | Self::StateMismatch => (
                "Sorry, there is a problem with the service",
                "Your sign-in could not be finished: it may have timed out or been started in another window.",
                "Start again",
            ),
            Self::InvalidCoreIdentity(_) | Self::MissingCoreIdentity => (
                "Sorry, there is a problem with the service",
                "We could not confirm the identity details GOV.UK One Login sent. You have not been signed in.",
                "Try again",
            ),
            _ => (
                "Sorry, there is a problem with the service",
                "You have not been signed in.",
                "Try again",
            ),
        };
        let detail = match self {
            Self::Authorization { description, .. } => description.clone(),
            other => Some(other.to_string()),
        };
        let page = ErrorPage {
            service_name,
            heading,
            body,
            code: self.code(),
            detail: detail.as_deref(),
            link_href: "/",
            link_text,
        };
        (self.status(), render(&page)).into_response()
    }
}

/// Renders the page under a generic service name, and leaves the error in the response extensions so the
/// router's `map_response` layer can render it again under the configured service name.
impl IntoResponse for RpError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        } else {
            tracing::info!(code = self.code(), error = %self, "request refused");
        }
        let mut response = self.render("");
        response.extensions_mut().insert(self);
        response
    }
}
