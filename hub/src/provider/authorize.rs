//! `GET|POST /authorize`: the authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1.1, INTERFACE.md §2).
//!
//! [`validate`] is the whole rule set as a pure function; the handler only extracts, calls it, starts a
//! journey and redirects to the provider choice. Validation order: an unknown `client_id` or a
//! `redirect_uri` that is not an exact match gets a 400 page and never a redirect (RFC 6749 §4.1.2.1);
//! every other error goes back to the service with `error`, `error_description`, `state` and `iss`.

use crate::{
    error::{ErrorCode, HubError, ResponseMode, ReturnTo},
    i18n::Text,
    journey::{AuthRequest, Journey},
    registry::{clients::Profile, Client, ClientRegistry},
    state::AppState,
    store::StoreExt as _,
    vtr::{self, VtrPolicy},
    web::Page,
};
use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::Response,
    Form,
};
use serde::Deserialize;
use std::time::Duration;

/// The longest query string accepted (INTERFACE.md §2); longer ones get a 414 page.
pub const MAX_QUERY: usize = 4096;
/// The journey cookie. `__Host-` binds it to this origin, path `/`, `Secure` (RFC 6265bis §4.1.3.2).
pub const JOURNEY_COOKIE: &str = "__Host-hub-journey";
/// Identity claims the hub can release (INTERFACE.md §2 `claims`).
pub const IDENTITY_CLAIMS: &[&str] = &[
    "https://vocab.account.gov.uk/v1/coreIdentityJWT",
    "https://vocab.account.gov.uk/v1/address",
    "https://vocab.account.gov.uk/v1/passport",
    "https://vocab.account.gov.uk/v1/drivingPermit",
    "https://vocab.account.gov.uk/v1/returnCode",
];
/// Scopes the hub knows.
pub const SCOPES: &[&str] = &["openid", "email", "phone"];

/// Every authorization request parameter, as received.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Params {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub vtr: Option<String>,
    pub claims: Option<String>,
    pub ui_locales: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub id_token_hint: Option<String>,
    pub login_hint: Option<String>,
}

/// Why a request is refused: a page for the person, or an error for the service at a trusted URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Page(Text, Text),
    Redirect(ReturnTo, ErrorCode, String),
}

impl Refusal {
    /// Renders the refusal; redirects carry `iss`.
    pub fn into_error(self, issuer: &str) -> HubError {
        match self {
            Refusal::Page(heading, detail) => HubError::Page(Box::new(
                Page::new(StatusCode::BAD_REQUEST, heading)
                    .para(detail)
                    .para("request-problem-next")
                    .code("invalid_request"),
            )),
            Refusal::Redirect(to, code, description) => HubError::Redirect {
                to,
                issuer: issuer.to_string(),
                code,
                description,
            },
        }
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// A PKCE code challenge: 43 to 128 characters of base64url (RFC 7636 §4.2).
fn valid_challenge(c: &str) -> bool {
    (43..=128).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Applies every rule of INTERFACE.md §2 to a request, in the specified order.
pub fn validate(params: &Params, clients: &ClientRegistry) -> Result<AuthRequest, Refusal> {
    let client: &Client = non_empty(&params.client_id)
        .and_then(|id| clients.get(id))
        .ok_or_else(|| Refusal::Page("unknown-service-heading".into(), "unknown-service-body".into()))?;
    let redirect_uri = non_empty(&params.redirect_uri)
        .filter(|uri| client.has_redirect_uri(uri))
        .ok_or_else(|| Refusal::Page("request-problem-heading".into(), "unregistered-redirect-body".into()))?;
    let response_mode = match params.response_mode.as_deref() {
        None | Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some(other) => {
            return Err(Refusal::Page(
                "request-problem-heading".into(),
                Text::new("response-mode-body").arg("mode", format!("{other:?}")),
            ))
        }
    };
    let to = ReturnTo {
        redirect_uri: redirect_uri.to_string(),
        state: non_empty(&params.state).map(str::to_string),
        response_mode,
    };
    let refuse = |code: ErrorCode, why: &str| Refusal::Redirect(to.clone(), code, why.to_string());

    if !client.active {
        return Err(refuse(ErrorCode::UnauthorizedClient, "client is not active"));
    }
    if params.request_uri.is_some() {
        return Err(refuse(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if params.request.is_some() {
        // Request objects are verified and merged before validation; one left here was not.
        return Err(Refusal::Page(
            "request-problem-heading".into(),
            "request-object-unchecked-body".into(),
        ));
    }
    match non_empty(&params.response_type) {
        None => return Err(refuse(ErrorCode::InvalidRequest, "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ))
        }
    }
    let scopes: Vec<String> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(refuse(ErrorCode::InvalidScope, "scope must include openid"));
    }
    if let Some(s) = scopes
        .iter()
        .find(|s| !SCOPES.contains(&s.as_str()) || !client.scopes.contains(s))
    {
        return Err(refuse(
            ErrorCode::InvalidScope,
            &format!("scope {s} is not allowed for this client"),
        ));
    }
    if to.state.is_none() {
        return Err(refuse(ErrorCode::InvalidRequest, "state is required"));
    }
    let nonce = non_empty(&params.nonce).map(str::to_string);
    if nonce.is_none() && !client.nonce_optional() {
        return Err(refuse(ErrorCode::InvalidRequest, "nonce is required"));
    }
    let code_challenge = match (
        non_empty(&params.code_challenge),
        params.code_challenge_method.as_deref(),
    ) {
        (None, None) if !client.pkce_required || client.profile == Profile::OidcBasic => None,
        (None, _) => return Err(refuse(ErrorCode::InvalidRequest, "code_challenge is required")),
        (Some(_), Some(m)) if m != "S256" => {
            return Err(refuse(ErrorCode::InvalidRequest, "code_challenge_method must be S256"))
        }
        (Some(_), None) => return Err(refuse(ErrorCode::InvalidRequest, "code_challenge_method must be S256")),
        (Some(c), Some(_)) if !valid_challenge(c) => {
            return Err(refuse(ErrorCode::InvalidRequest, "code_challenge is malformed"))
        }
        (Some(c), Some(_)) => Some(c.to_string()),
    };
    let policy = VtrPolicy {
        registered: &client.levels,
        private_key_jwt: client.uses_private_key_jwt(),
    };
    let vtr =
        vtr::decide(non_empty(&params.vtr), &policy).map_err(|e| refuse(ErrorCode::InvalidRequest, &e.to_string()))?;
    let claims = match non_empty(&params.claims) {
        None => Vec::new(),
        Some(raw) => {
            let value: serde_json::Value = serde_json::from_str(raw)
                .map_err(|_| refuse(ErrorCode::InvalidRequest, "claims is not a JSON object"))?;
            let object = value
                .as_object()
                .ok_or_else(|| refuse(ErrorCode::InvalidRequest, "claims is not a JSON object"))?;
            object
                .get("userinfo")
                .and_then(|u| u.as_object())
                .map(|u| {
                    u.keys()
                        .filter(|k| IDENTITY_CLAIMS.contains(&k.as_str()) && client.claims.contains(k))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        }
    };
    let prompt = non_empty(&params.prompt).map(str::to_string);
    if let Some(p) = &prompt {
        let values: Vec<&str> = p.split(' ').collect();
        if values.iter().any(|v| !matches!(*v, "none" | "login")) || (values.contains(&"none") && values.len() > 1) {
            return Err(refuse(ErrorCode::InvalidRequest, "prompt may be none or login"));
        }
    }
    let max_age = match non_empty(&params.max_age) {
        Some(m) if client.max_age_enabled => Some(
            m.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| refuse(ErrorCode::InvalidRequest, "max_age must be a non-negative integer"))?,
        ),
        _ => None,
    };
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        return_to: to,
        nonce,
        code_challenge,
        scopes,
        vtr,
        claims,
        ui_locales: non_empty(&params.ui_locales).map(str::to_string),
        prompt,
        max_age,
    })
}

/// `GET /authorize`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, HubError> {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY {
        return Err(Page::too_long().into());
    }
    let params: Params = serde_urlencoded::from_str(&query).map_err(|_| {
        Page::new(StatusCode::BAD_REQUEST, "request-problem-heading")
            .para("request-unreadable-body")
            .code("invalid_request")
    })?;
    start(state, headers, params).await
}

/// `POST /authorize` (form-encoded, OIDC Core §3.1.2.1).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Result<Response, HubError> {
    start(state, headers, params).await
}

/// Whether a hub session can serve this request without a provider (single sign-on): not `prompt=login`,
/// authenticated within `max_age`, at a level that meets a wanted vector.
pub fn sso_vector(
    request: &AuthRequest,
    session_vector: &crate::vtr::Vector,
    auth_time: i64,
    now: i64,
) -> Option<crate::vtr::Vector> {
    if request
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|v| v == "login"))
    {
        return None;
    }
    if request.max_age.is_some_and(|max_age| now - auth_time > max_age) {
        return None;
    }
    crate::vtr::met(session_vector, &request.vtr).copied()
}

/// Verifies and unpacks a request object (RFC 9101); any failure is a 400 page.
async fn unpack_request_object(state: &AppState, params: Params) -> Result<Params, HubError> {
    let Some(jwt) = params.request.clone() else {
        return Ok(params);
    };
    let refuse = |why: &str| {
        tracing::info!(
            client_id = params.client_id.as_deref().unwrap_or_default(),
            reason = why,
            "request object refused"
        );
        Refusal::Page(
            "request-problem-heading".into(),
            Text::new("request-object-refused-body").arg("reason", why),
        )
        .into_error(&state.config.issuer)
    };
    let clients = state.clients();
    let client = params
        .client_id
        .as_deref()
        .and_then(|id| clients.get(id))
        .ok_or_else(|| refuse("unknown client"))?;
    let claims = super::client_auth::verify_client_jwt(state, client, &jwt)
        .await
        .map_err(|_| refuse("bad signature"))?;
    super::request_object::merge(&params, &claims, &state.config.issuer, state.now()).map_err(refuse)
}

async fn start(state: AppState, headers: HeaderMap, params: Params) -> Result<Response, HubError> {
    let issuer = &state.config.issuer;
    let by_object = params.request.is_some();
    let params = unpack_request_object(&state, params).await?;
    let clients = state.clients();
    let request = validate(&params, &clients).map_err(|r| r.into_error(issuer))?;
    if !by_object && clients.get(&request.client_id).is_some_and(|c| c.jar_required) {
        return Err(Refusal::Redirect(
            request.return_to,
            ErrorCode::InvalidRequest,
            "this client must send a signed request object".into(),
        )
        .into_error(issuer));
    }
    let unavailable = |to: ReturnTo| {
        Refusal::Redirect(
            to,
            ErrorCode::TemporarilyUnavailable,
            "the hub cannot start a sign-in now; try again later".into(),
        )
        .into_error(issuer)
    };
    let session = match crate::session::current(&state, &headers).await {
        Ok(session) => session,
        Err(e) => {
            tracing::warn!(error = %e, "session store unavailable");
            return Err(unavailable(request.return_to));
        }
    };
    let now = state.now();
    let sso = session.and_then(|(sid, s)| {
        sso_vector(&request, &s.person.vector, s.person.auth_time, now).map(|met| (sid, s.person, met))
    });
    let return_to = request.return_to.clone();
    let lang = request
        .ui_locales
        .as_deref()
        .and_then(crate::i18n::Lang::from_ui_locales);
    let mut journey = Journey::new(request, now);
    journey.session_id = sso.as_ref().map(|(sid, _, _)| sid.clone());
    if journey.request.prompt.as_deref() == Some("none") {
        match &sso {
            None => {
                return Err(Refusal::Redirect(
                    return_to,
                    ErrorCode::LoginRequired,
                    "no session at the hub meets the request".into(),
                )
                .into_error(issuer))
            }
            Some((_, person, met))
                if !crate::journey::complete::identity_claim_names(&state, &journey, person, met).is_empty() =>
            {
                return Err(Refusal::Redirect(
                    return_to,
                    ErrorCode::ConsentRequired,
                    "the person must consent to share identity claims".into(),
                )
                .into_error(issuer))
            }
            Some(_) => {}
        }
    }
    let id = crate::ids::JourneyId::generate();
    let ttl = Duration::from_secs(state.config.journey_ttl_secs);
    if let Err(e) = state.store.put_json(&Journey::key(id.as_str()), &journey, ttl).await {
        tracing::warn!(error = %e, "could not start a journey");
        return Err(unavailable(return_to));
    }
    let mut response = match sso {
        Some((_, person, met)) => crate::journey::complete::proceed(&state, id.as_str(), journey, person, met).await?,
        None => crate::web::found("/choose-provider"),
    };
    set_journey_cookie(response.headers_mut(), id.as_str());
    // The service knows the person's language: its `ui_locales` sets the pages' language from here on.
    if let Some(lang) = lang {
        response.headers_mut().append(header::SET_COOKIE, lang.cookie());
    }
    Ok(response)
}

/// Sets the journey cookie: `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`.
pub fn set_journey_cookie(headers: &mut HeaderMap, id: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{JOURNEY_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax"
    )) {
        headers.append(header::SET_COOKIE, v);
    }
}

/// The journey id from the request's cookies, if any.
pub fn journey_id(headers: &HeaderMap) -> Option<String> {
    cookie(headers, JOURNEY_COOKIE)
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn clients() -> ClientRegistry {
        ClientRegistry::parse(
            r#"
            [[clients]]
            client_id = "svc"
            client_name = "Service"
            redirect_uris = ["https://svc.example/cb"]
            jwks_uri = "https://svc.example/jwks"
            scopes = ["openid", "email"]
            claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
            levels = ["Cl.Cm", "Cl.Cm.P2"]

            [[clients]]
            client_id = "off"
            client_name = "Inactive"
            redirect_uris = ["https://off.example/cb"]
            jwks_uri = "https://off.example/jwks"
            active = false
            "#,
        )
        .unwrap()
    }

    fn good() -> Params {
        Params {
            response_type: Some("code".into()),
            client_id: Some("svc".into()),
            redirect_uri: Some("https://svc.example/cb".into()),
            scope: Some("openid email".into()),
            state: Some("st".into()),
            nonce: Some("n".into()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            code_challenge_method: Some("S256".into()),
            ..Params::default()
        }
    }

    #[test]
    fn validation_table() {
        type Case = (&'static str, Box<dyn Fn(&mut Params)>, Result<(), &'static str>);
        let page = Err("page");
        let cases: Vec<Case> = vec![
            ("good", Box::new(|_| {}), Ok(())),
            ("unknown client", Box::new(|p| p.client_id = Some("x".into())), page),
            ("no client", Box::new(|p| p.client_id = None), page),
            (
                "redirect not registered",
                Box::new(|p| p.redirect_uri = Some("https://evil.example/cb".into())),
                page,
            ),
            (
                "redirect with extra slash",
                Box::new(|p| p.redirect_uri = Some("https://svc.example/cb/".into())),
                page,
            ),
            (
                "redirect with query",
                Box::new(|p| p.redirect_uri = Some("https://svc.example/cb?x=1".into())),
                page,
            ),
            (
                "form_post not for one-login",
                Box::new(|p| p.response_mode = Some("form_post".into())),
                page,
            ),
            (
                "inactive",
                Box::new(|p| {
                    p.client_id = Some("off".into());
                    p.redirect_uri = Some("https://off.example/cb".into());
                }),
                Err("unauthorized_client"),
            ),
            (
                "no response_type",
                Box::new(|p| p.response_type = None),
                Err("invalid_request"),
            ),
            (
                "token response_type",
                Box::new(|p| p.response_type = Some("token".into())),
                Err("unsupported_response_type"),
            ),
            (
                "no openid",
                Box::new(|p| p.scope = Some("email".into())),
                Err("invalid_scope"),
            ),
            (
                "unregistered scope",
                Box::new(|p| p.scope = Some("openid phone".into())),
                Err("invalid_scope"),
            ),
            ("no state", Box::new(|p| p.state = None), Err("invalid_request")),
            ("no nonce", Box::new(|p| p.nonce = None), Err("invalid_request")),
            (
                "no pkce",
                Box::new(|p| {
                    p.code_challenge = None;
                    p.code_challenge_method = None;
                }),
                Err("invalid_request"),
            ),
            (
                "plain pkce",
                Box::new(|p| p.code_challenge_method = Some("plain".into())),
                Err("invalid_request"),
            ),
            (
                "pkce no method",
                Box::new(|p| p.code_challenge_method = None),
                Err("invalid_request"),
            ),
            (
                "short challenge",
                Box::new(|p| p.code_challenge = Some("abc".into())),
                Err("invalid_request"),
            ),
            (
                "bad vtr",
                Box::new(|p| p.vtr = Some("[\"Cl.P2\"]".into())),
                Err("invalid_request"),
            ),
            (
                "unregistered vtr",
                Box::new(|p| p.vtr = Some("[\"Cl.Cm.P3\"]".into())),
                Err("invalid_request"),
            ),
            (
                "registered P2",
                Box::new(|p| p.vtr = Some("[\"Cl.Cm.P2\"]".into())),
                Ok(()),
            ),
            (
                "bad claims",
                Box::new(|p| p.claims = Some("nope".into())),
                Err("invalid_request"),
            ),
            (
                "prompt consent",
                Box::new(|p| p.prompt = Some("consent".into())),
                Err("invalid_request"),
            ),
            (
                "prompt none login",
                Box::new(|p| p.prompt = Some("none login".into())),
                Err("invalid_request"),
            ),
            (
                "request_uri",
                Box::new(|p| p.request_uri = Some("urn:x".into())),
                Err("request_uri_not_supported"),
            ),
        ];
        for (name, mutate, want) in cases {
            let mut params = good();
            mutate(&mut params);
            let got = match validate(&params, &clients()) {
                Ok(_) => Ok(()),
                Err(Refusal::Page(..)) => Err("page"),
                Err(Refusal::Redirect(to, code, _)) => {
                    assert_eq!(Some(to.redirect_uri.as_str()), params.redirect_uri.as_deref(), "{name}");
                    Err(code.as_str())
                }
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn claims_keep_only_registered_identity_claims() {
        let mut params = good();
        params.claims = Some(r#"{"userinfo":{"https://vocab.account.gov.uk/v1/coreIdentityJWT":null,"https://vocab.account.gov.uk/v1/passport":null,"x":null}}"#.into());
        let request = validate(&params, &clients()).unwrap();
        assert_eq!(
            request.claims,
            vec!["https://vocab.account.gov.uk/v1/coreIdentityJWT".to_string()]
        );
        assert_eq!(request.return_to.state.as_deref(), Some("st"));
    }
}
