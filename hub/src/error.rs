//! One error type for the hub's endpoints that renders itself (STYLE.md §5): OAuth errors go to services
//! in the spec's form (a redirect with `error`, `error_description`, `state`, `iss` per RFC 6749 §4.1.2.1
//! and RFC 9207, or JSON per §5.2), and the same failures reach people as GOV.UK pages with a way forward.

use crate::web::Page;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

/// OAuth 2.0 / OIDC error codes (RFC 6749 §4.1.2.1, §5.2; OIDC Core §3.1.2.6; RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    UnmetAuthenticationRequirements,
    RequestUriNotSupported,
    TemporarilyUnavailable,
    ServerError,
}

impl ErrorCode {
    /// The code as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the authorization response is returned (OAuth 2.0 Multiple Response Types §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    Fragment,
}

/// Where and how to send an authorization response to a registered redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReturnTo {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub response_mode: ResponseMode,
}

impl ReturnTo {
    /// The redirect carrying `params` plus `state` and `iss`, in the query or fragment.
    pub fn redirect(&self, issuer: &str, params: &[(&str, &str)]) -> Response {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        if let Some(state) = &self.state {
            ser.append_pair("state", state);
        }
        ser.append_pair("iss", issuer);
        let encoded = ser.finish();
        let location = match self.response_mode {
            ResponseMode::Query if self.redirect_uri.contains('?') => format!("{}&{encoded}", self.redirect_uri),
            ResponseMode::Query => format!("{}?{encoded}", self.redirect_uri),
            ResponseMode::Fragment => format!("{}#{encoded}", self.redirect_uri),
        };
        let mut response = crate::web::found(&location);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Every way a hub endpoint can fail, each rendering itself for its audience.
#[derive(Debug)]
pub enum HubError {
    /// A page for the person: the request cannot be trusted enough to redirect (RFC 6749 §4.1.2.1).
    Page(Box<Page>),
    /// An error returned to the service at its (validated) redirect URI.
    Redirect {
        to: ReturnTo,
        issuer: String,
        code: ErrorCode,
        description: String,
    },
    /// A JSON error from the token endpoint (RFC 6749 §5.2). `basic` adds `WWW-Authenticate: Basic`.
    Json {
        status: StatusCode,
        code: ErrorCode,
        description: String,
        basic: bool,
    },
    /// A userinfo error (RFC 6750 §3): 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
    Bearer { description: String },
}

impl HubError {
    /// A token endpoint error with its RFC status (400, or 401 for `invalid_client` over Basic).
    pub fn json(code: ErrorCode, description: impl Into<String>) -> Self {
        let status = match code {
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::Json {
            status,
            code,
            description: description.into(),
            basic: false,
        }
    }
}

impl From<Page> for HubError {
    fn from(page: Page) -> Self {
        Self::Page(Box::new(page))
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        match self {
            Self::Page(page) => page.into_response(),
            Self::Redirect {
                to,
                issuer,
                code,
                description,
            } => to.redirect(
                &issuer,
                &[("error", code.as_str()), ("error_description", &description)],
            ),
            Self::Json {
                status,
                code,
                description,
                basic,
            } => {
                let body = serde_json::json!({ "error": code.as_str(), "error_description": description });
                let mut response = (status, Json(body)).into_response();
                let headers = response.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                if basic {
                    *response.status_mut() = StatusCode::UNAUTHORIZED;
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"token\""),
                    );
                }
                response
            }
            Self::Bearer { description } => {
                let safe: String = description
                    .chars()
                    .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
                    .collect();
                let value = format!("Bearer error=\"invalid_token\", error_description=\"{safe}\"");
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    Json(serde_json::json!({"error": "invalid_token", "error_description": safe})),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                response
            }
        }
    }
}
