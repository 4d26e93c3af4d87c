//! OAuth 2.0 / OIDC vocabulary shared by every layer: error codes (RFC 6749 §4.1.2.1, §5.2; OIDC Core
//! §3.1.2.6; RFC 6750 §3.1; RFC 9126 §2.3; RFC 9449 §7), response modes, `prompt`, and where an
//! authorization response goes.
//!
//! Pure values: a [`ReturnTo`] says how to deliver a response ([`Delivery`]); the HTTP layer sends it.

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
    RequestNotSupported,
    InvalidRequestUri,
    InvalidRequestObject,
    InvalidDpopProof,
    UseDpopNonce,
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
            Self::RequestNotSupported => "request_not_supported",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
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
    /// OAuth 2.0 Form Post Response Mode: an HTML form POSTed to the redirect URI.
    FormPost,
}

impl ResponseMode {
    /// `query`, `fragment` or `form_post`; anything else is not a mode this hub answers in. (Which
    /// clients may use `form_post` is the registry's rule, not this parser's.)
    pub fn parse(mode: Option<&str>) -> Option<Self> {
        match mode {
            None | Some("query") => Some(Self::Query),
            Some("fragment") => Some(Self::Fragment),
            Some("form_post") => Some(Self::FormPost),
            Some(_) => None,
        }
    }
}

/// How an authorization response reaches the service: a redirect carrying it in the query or fragment,
/// or a form the browser POSTs to the redirect URI (Form Post Response Mode §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Redirect(String),
    FormPost {
        action: String,
        fields: Vec<(String, String)>,
    },
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
    /// The response `params` plus `state` and `iss` (RFC 9207), as the response mode delivers them.
    pub fn deliver(&self, issuer: &str, params: &[(&str, &str)]) -> Delivery {
        let mut fields: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if let Some(state) = &self.state {
            fields.push(("state".into(), state.clone()));
        }
        fields.push(("iss".into(), issuer.to_string()));
        let encoded = || {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &fields {
                ser.append_pair(k, v);
            }
            ser.finish()
        };
        match self.response_mode {
            ResponseMode::Query if self.redirect_uri.contains('?') => {
                Delivery::Redirect(format!("{}&{}", self.redirect_uri, encoded()))
            }
            ResponseMode::Query => Delivery::Redirect(format!("{}?{}", self.redirect_uri, encoded())),
            ResponseMode::Fragment => Delivery::Redirect(format!("{}#{}", self.redirect_uri, encoded())),
            ResponseMode::FormPost => Delivery::FormPost {
                action: self.redirect_uri.clone(),
                fields,
            },
        }
    }

    /// An error response (RFC 6749 §4.1.2.1), as the response mode delivers it.
    pub fn deliver_error(&self, issuer: &str, code: ErrorCode, description: &str) -> Delivery {
        self.deliver(issuer, &[("error", code.as_str()), ("error_description", description)])
    }

    /// The URL carrying `params`, `state` and `iss` in a redirect mode (for tests and logs; a form post
    /// has no URL of its own and gives the redirect URI with the parameters in its query).
    pub fn location(&self, issuer: &str, params: &[(&str, &str)]) -> String {
        match self.deliver(issuer, params) {
            Delivery::Redirect(url) => url,
            Delivery::FormPost { action, .. } => ReturnTo {
                response_mode: ResponseMode::Query,
                redirect_uri: action,
                ..self.clone()
            }
            .location(issuer, params),
        }
    }

    /// The URL carrying an error response in a redirect mode (see [`Self::location`]).
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
        let posted = ReturnTo {
            response_mode: ResponseMode::FormPost,
            ..to
        };
        assert_eq!(
            posted.deliver("https://hub", &[("code", "c")]),
            Delivery::FormPost {
                action: "https://svc.example/cb".into(),
                fields: vec![
                    ("code".into(), "c".into()),
                    ("state".into(), "s 1".into()),
                    ("iss".into(), "https://hub".into())
                ],
            }
        );
    }

    #[test]
    fn response_modes_table() {
        for (mode, want) in [
            (None, Some(ResponseMode::Query)),
            (Some("query"), Some(ResponseMode::Query)),
            (Some("fragment"), Some(ResponseMode::Fragment)),
            (Some("form_post"), Some(ResponseMode::FormPost)),
            (Some("jwt"), None),
            (Some("query.jwt"), None),
            (Some("FORM_POST"), None),
            (Some(""), None),
        ] {
            assert_eq!(ResponseMode::parse(mode), want, "{mode:?}");
        }
    }
}
