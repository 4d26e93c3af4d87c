//! One error for the hub, two renderings (STYLE.md §5). [`HubError`] says what went wrong, whatever
//! the source (`From` the store, the audit sink, the journey), so handlers use `?`. How it reaches its
//! audience is chosen by the route, through the handler's return type: a person's route returns
//! [`crate::web::page::PageResult`] (a GOV.UK page with a way forward), a service's route [`ApiResult`] (the spec's JSON:
//! RFC 6749 §5.2, RFC 6750 §3), and `/authorize` after the redirect URI is trusted sends it back as a
//! redirect ([`HubError::to_service`], RFC 6749 §4.1.2.1 with `state` and `iss`, RFC 9207). Each error
//! is logged once, where it is rendered.

use crate::{
    audit::AuditError,
    http,
    journey::JourneyError,
    oauth::{ErrorCode, ReturnTo},
    store::StoreError,
};
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

/// Everything that can go wrong serving a request.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The session store did not answer: "try again" / `temporarily_unavailable`.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log could not record what must be recorded: nothing is asserted.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The journey cannot take this step.
    #[error(transparent)]
    Journey(#[from] JourneyError),
    /// The request names no live journey (expired, ended, or never was).
    #[error("no such journey")]
    NoJourney,
    /// The journey belongs to another browser, or a form or link lacks its token (CSRF).
    #[error("the journey is not this browser's, or the form's token is wrong")]
    NotYours,
    /// A protocol refusal with its OAuth code.
    #[error("{code}: {description}")]
    OAuth { code: ErrorCode, description: String },
    /// Client authentication failed (RFC 6749 §5.2); `basic` when the client tried HTTP Basic.
    #[error("invalid_client: {description}")]
    InvalidClient { description: String, basic: bool },
    /// Over a rate limit: 429 with `Retry-After`.
    #[error("rate limited; retry after {} s", .0.seconds())]
    RateLimited(crate::http::rate::Limited),
    /// A Bearer access token was missing, bad, expired or revoked (RFC 6750 §3).
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// A DPoP proof was refused or lacks the server's nonce (RFC 9449 §5, §7.1, §8, §9): at the token and
    /// PAR endpoints a 400 with the code, at a protected resource a 401 with `WWW-Authenticate: DPoP`;
    /// `nonce` goes out as `DPoP-Nonce`.
    #[error("{code}: {description}")]
    Dpop {
        code: ErrorCode,
        description: String,
        nonce: Option<String>,
        at_resource: bool,
    },
}

impl HubError {
    /// A protocol refusal.
    pub fn oauth(code: ErrorCode, description: impl Into<String>) -> Self {
        Self::OAuth {
            code,
            description: description.into(),
        }
    }

    /// The OAuth code a service receives for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Store(_) | Self::Audit(_) | Self::RateLimited(_) => ErrorCode::TemporarilyUnavailable,
            Self::OAuth { code, .. } => *code,
            Self::InvalidClient { .. } => ErrorCode::InvalidClient,
            Self::InvalidToken(_) => ErrorCode::InvalidToken,
            Self::Dpop { code, .. } => *code,
            Self::Journey(_) | Self::NoJourney | Self::NotYours => ErrorCode::InvalidRequest,
        }
    }

    /// The `error_description` a service receives: never internal detail.
    pub fn description(&self) -> String {
        match self {
            Self::Store(_) | Self::Audit(_) => "the hub cannot complete the request now; try again later".into(),
            Self::RateLimited(l) => format!("too many requests; retry after {} s", l.seconds()),
            Self::OAuth { description, .. }
            | Self::InvalidClient { description, .. }
            | Self::Dpop { description, .. } => description.clone(),
            Self::InvalidToken(description) => description
                .chars()
                .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
                .collect(),
            Self::Journey(e) => e.to_string(),
            Self::NoJourney => "no such journey".into(),
            Self::NotYours => "the request does not belong to this browser".into(),
        }
    }

    /// Logs the error once, where it is rendered.
    pub fn log(&self) {
        match self {
            Self::Store(e) => tracing::warn!(error = %e, "store unavailable"),
            Self::Audit(e) => tracing::error!(error = %e, "audit log unavailable; nothing asserted"),
            Self::Journey(e) => tracing::info!(error = %e, "journey step refused"),
            Self::NotYours => tracing::info!("journey request from another browser or without its token"),
            Self::InvalidClient { description, .. } => tracing::info!(reason = %description, "client refused"),
            Self::RateLimited(_) => tracing::info!("rate limited"),
            _ => tracing::debug!(error = %self, "request refused"),
        }
    }

    /// This error sent back to the service at a trusted redirect URI, with `state` and `iss`.
    pub fn to_service(self, to: &ReturnTo, issuer: &str) -> Response {
        self.log();
        http::deliver(&to.deliver_error(issuer, self.code(), &self.description()))
    }

    /// This error as JSON for a service (RFC 6749 §5.2, RFC 6750 §3).
    pub fn json(self) -> Response {
        let (status, code, description) = (self.status(), self.code(), self.description());
        let body = Json(serde_json::json!({ "error": code.as_str(), "error_description": &description }));
        let mut response = http::no_store((status, body));
        match &self {
            Self::InvalidClient { basic: true, .. } => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"token\""),
                );
            }
            Self::InvalidToken(_) => {
                let value = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
                if let Ok(v) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Self::RateLimited(l) => retry_after(&mut response, l),
            Self::Dpop { nonce, at_resource, .. } => {
                if *at_resource {
                    let value = format!(
                        "DPoP error=\"{}\", error_description=\"{description}\", algs=\"{}\"",
                        code.as_str(),
                        crate::dpop::ALGS.join(" ")
                    );
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                    }
                }
                if let Some(v) = nonce.as_deref().and_then(|n| HeaderValue::from_str(n).ok()) {
                    response.headers_mut().insert("dpop-nonce", v);
                }
            }
            _ => {}
        }
        response
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Store(_) | Self::Audit(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::OAuth {
                code: ErrorCode::TemporarilyUnavailable,
                ..
            } => StatusCode::SERVICE_UNAVAILABLE,
            Self::OAuth {
                code: ErrorCode::ServerError,
                ..
            } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidClient { basic: true, .. } | Self::InvalidToken(_) | Self::Dpop { at_resource: true, .. } => {
                StatusCode::UNAUTHORIZED
            }
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Adds `Retry-After` (RFC 9110 §10.2.3) for a rate-limited answer.
pub fn retry_after(response: &mut Response, limited: &crate::http::rate::Limited) {
    if let Ok(v) = HeaderValue::from_str(&limited.seconds().to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// A service's route failed: rendered as the spec's JSON.
#[derive(Debug)]
pub struct ApiError(pub HubError);

/// What a service's route returns.
pub type ApiResult = Result<Response, ApiError>;

/// `From` every source of a [`HubError`] (through the wrapper's own `wrap`), so a route's handlers use
/// `?` whatever its rendering.
macro_rules! rendered_as {
    ($wrapper:ident) => {
        impl From<$crate::error::HubError> for $wrapper {
            fn from(e: $crate::error::HubError) -> Self {
                Self::wrap(e)
            }
        }
        impl From<$crate::store::StoreError> for $wrapper {
            fn from(e: $crate::store::StoreError) -> Self {
                Self::wrap(e.into())
            }
        }
        impl From<$crate::audit::AuditError> for $wrapper {
            fn from(e: $crate::audit::AuditError) -> Self {
                Self::wrap(e.into())
            }
        }
        impl From<$crate::journey::JourneyError> for $wrapper {
            fn from(e: $crate::journey::JourneyError) -> Self {
                Self::wrap(e.into())
            }
        }
    };
}

pub(crate) use rendered_as;

impl ApiError {
    fn wrap(e: HubError) -> Self {
        Self(e)
    }
}

rendered_as!(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        self.0.json()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::oauth::ResponseMode;

    #[test]
    fn one_error_renders_for_each_audience() {
        let down = || HubError::Store(StoreError::Unavailable("connection refused".into()));
        let json = down().json();
        assert_eq!(json.status(), StatusCode::SERVICE_UNAVAILABLE);
        let to = ReturnTo {
            redirect_uri: "https://svc.example/cb".into(),
            state: Some("s".into()),
            response_mode: ResponseMode::Query,
        };
        let redirect = down().to_service(&to, "https://hub");
        let location = redirect.headers()[header::LOCATION].to_str().unwrap().to_string();
        assert!(location.starts_with("https://svc.example/cb?error=temporarily_unavailable"));
        assert!(location.contains("state=s") && location.contains("iss=https%3A%2F%2Fhub"));
        assert!(!location.contains("refused"), "no internal detail reaches the service");
        let basic = HubError::InvalidClient {
            description: "no".into(),
            basic: true,
        }
        .json();
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
        assert!(basic.headers().contains_key(header::WWW_AUTHENTICATE));
        let bearer = HubError::InvalidToken("bad \"token\"".into()).json();
        assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
        let www = bearer.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_string();
        assert_eq!(www, "Bearer error=\"invalid_token\", error_description=\"bad token\"");
    }
}
