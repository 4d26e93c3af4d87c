//! OAuth 2.0 / OIDC vocabulary shared by every layer: error codes (RFC 6749 §4.1.2.1, §5.2; OIDC Core
//! §3.1.2.6; RFC 6750 §3.1), response modes, `prompt`, and where an authorization response goes.
//!
//! Pure values: the web layer turns a [`ReturnTo`] into an HTTP redirect.

use serde::{Deserialize, Serialize};

/// OAuth 2.0 / OIDC error codes; `Display` is the code as written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidToken,
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
            Self::InvalidToken => "invalid_token",
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    Fragment,
}

impl ResponseMode {
    /// `query` or `fragment`; anything else is not a mode this hub answers in.
    pub fn parse(mode: Option<&str>) -> Option<Self> {
        match mode {
            None | Some("query") => Some(Self::Query),
            Some("fragment") => Some(Self::Fragment),
            Some(_) => None,
        }
    }
}

/// The `prompt` parameter (OIDC Core §3.1.2.1), as far as the hub honours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Answer without any page: `login_required` when no session will do.
    None,
    /// Authenticate again at a provider, whatever the session.
    Login,
}

impl Prompt {
    /// Parses a space-separated `prompt`: only `none` (alone) and `login` are accepted.
    pub fn parse(value: &str) -> Result<Option<Self>, &'static str> {
        let values: Vec<&str> = value.split(' ').filter(|v| !v.is_empty()).collect();
        if values.iter().any(|v| !matches!(*v, "none" | "login")) || (values.contains(&"none") && values.len() > 1) {
            return Err("prompt may be none or login");
        }
        Ok(if values.contains(&"none") {
            Some(Self::None)
        } else if values.is_empty() {
            None
        } else {
            Some(Self::Login)
        })
    }
}

/// Where and how to send an authorization response: a registered redirect URI, the service's `state`
/// and the response mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnTo {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub response_mode: ResponseMode,
}

impl ReturnTo {
    /// The URL carrying `params` plus `state` and `iss` (RFC 9207), in the query or the fragment.
    pub fn location(&self, issuer: &str, params: &[(&str, &str)]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        if let Some(state) = &self.state {
            ser.append_pair("state", state);
        }
        ser.append_pair("iss", issuer);
        let encoded = ser.finish();
        match self.response_mode {
            ResponseMode::Query if self.redirect_uri.contains('?') => format!("{}&{encoded}", self.redirect_uri),
            ResponseMode::Query => format!("{}?{encoded}", self.redirect_uri),
            ResponseMode::Fragment => format!("{}#{encoded}", self.redirect_uri),
        }
    }

    /// The URL carrying an error response (RFC 6749 §4.1.2.1).
    pub fn error_location(&self, issuer: &str, code: ErrorCode, description: &str) -> String {
        self.location(issuer, &[("error", code.as_str()), ("error_description", description)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_table() {
        let cases = [
            ("none", Ok(Some(Prompt::None))),
            ("login", Ok(Some(Prompt::Login))),
            ("login login", Ok(Some(Prompt::Login))),
            ("", Ok(None)),
            ("none login", Err("prompt may be none or login")),
            ("consent", Err("prompt may be none or login")),
            ("select_account", Err("prompt may be none or login")),
        ];
        for (input, want) in cases {
            assert_eq!(Prompt::parse(input), want, "{input:?}");
        }
    }

    #[test]
    fn locations_carry_state_and_iss() {
        let to = ReturnTo {
            redirect_uri: "https://svc.example/cb".into(),
            state: Some("s 1".into()),
            response_mode: ResponseMode::Query,
        };
        assert_eq!(
            to.location("https://hub", &[("code", "c")]),
            "https://svc.example/cb?code=c&state=s+1&iss=https%3A%2F%2Fhub"
        );
        let fragment = ReturnTo {
            response_mode: ResponseMode::Fragment,
            redirect_uri: "https://svc.example/cb?x=1".into(),
            state: None,
        };
        assert_eq!(
            fragment.error_location("https://hub", ErrorCode::AccessDenied, "no"),
            "https://svc.example/cb?x=1#error=access_denied&error_description=no&iss=https%3A%2F%2Fhub"
        );
    }
}
