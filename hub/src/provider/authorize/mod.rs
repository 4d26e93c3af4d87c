//! `GET|POST /authorize`: the authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1.1, INTERFACE.md §2).
//!
//! [`validate`] is the whole rule set as a pure function; the handler only extracts, calls it, lets the
//! journey decide ([`crate::journey::start`]: single sign-on, `prompt`, `max_age`, or the provider
//! choice) and renders what [`crate::carry_out`] did. Validation order: an unknown `client_id` or a
//! `redirect_uri` that is not an exact match gets a 400 page and never a redirect (RFC 6749 §4.1.2.1);
//! every other error goes back to the service with `error`, `error_description`, `state` and `iss`.

use crate::{
    carry_out::{self, Context, Outcome},
    error::HubError,
    http::cookies::{CookieChange, HubCookies},
    i18n::{Lang, Text},
    ids::ClientId,
    ids::{hash, Sid},
    journey::{self, AuthRequest, Binding},
    oauth::{ErrorCode, Prompt, ResponseMode, ReturnTo},
    registry::{clients::Profile, Client, ClientRegistry, Snapshot},
    state::AppState,
    store::{key, StoreError},
    vtr::{self, VtrPolicy},
    web::{
        page::{Page, PageError},
        respond,
    },
};
use axum::{
    extract::{RawQuery, State},
    response::Response,
    Form,
};

pub mod params;
pub mod request_object;

pub use params::Params;

/// The longest query string accepted (INTERFACE.md §2); longer ones get a 414 page.
pub const MAX_QUERY: usize = 4096;
/// Identity claims the hub can release (INTERFACE.md §2 `claims`).
pub const IDENTITY_CLAIMS: &[&str] = &[
    "https://vocab.account.gov.uk/v1/coreIdentityJWT",
    "https://vocab.account.gov.uk/v1/address",
    "https://vocab.account.gov.uk/v1/passport",
    "https://vocab.account.gov.uk/v1/drivingPermit",
    "https://vocab.account.gov.uk/v1/returnCode",
];
/// The longest `state` accepted (One Login's services send far shorter ones).
pub const MAX_STATE: usize = 1024;
/// The longest `nonce` accepted.
pub const MAX_NONCE: usize = 512;
/// The longest `claims` parameter accepted.
pub const MAX_CLAIMS: usize = 4096;
/// Scopes the hub knows.
pub const SCOPES: &[&str] = &["openid", "email", "phone"];

/// Why a request is refused: a page for the person, or an error for the service at a trusted URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Page(Text, Text),
    Redirect(ReturnTo, ErrorCode, String),
}

impl Refusal {
    /// Renders the refusal: a page, or a redirect carrying `state` and `iss`.
    pub fn respond(self, issuer: &str) -> Result<Response, PageError> {
        match self {
            Refusal::Page(heading, detail) => Err(Page::bad_request(heading, detail).into()),
            Refusal::Redirect(to, code, description) => Ok(HubError::oauth(code, description).to_service(&to, issuer)),
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
    if params.client_id.as_ref().is_some_and(|c| c.len() > 256)
        || params.redirect_uri.as_ref().is_some_and(|r| r.len() > 2048)
    {
        return Err(Refusal::Page(
            "request-problem-heading".into(),
            "unregistered-redirect-body".into(),
        ));
    }
    let client: &Client = non_empty(&params.client_id)
        .and_then(|id| clients.get(id))
        .ok_or_else(|| Refusal::Page("unknown-service-heading".into(), "unknown-service-body".into()))?;
    let redirect_uri = non_empty(&params.redirect_uri)
        .filter(|uri| client.has_redirect_uri(uri))
        .ok_or_else(|| Refusal::Page("request-problem-heading".into(), "unregistered-redirect-body".into()))?;
    let allowed = |mode: ResponseMode| mode != ResponseMode::FormPost || client.form_post_allowed();
    let Some(response_mode) = ResponseMode::parse(params.response_mode.as_deref()).filter(|m| allowed(*m)) else {
        return Err(Refusal::Page(
            "request-problem-heading".into(),
            Text::new("response-mode-body").arg(
                "mode",
                format!("{:?}", params.response_mode.as_deref().unwrap_or_default()),
            ),
        ));
    };
    let to = ReturnTo {
        redirect_uri: redirect_uri.to_string(),
        state: non_empty(&params.state).map(str::to_string),
        response_mode,
    };
    let refuse = |code: ErrorCode, why: &str| Refusal::Redirect(to.clone(), code, why.to_string());
    // Every value is bounded, by POST as by GET: a journey costs the store little (issue "under attack").
    for (name, value, max) in [
        ("state", &params.state, MAX_STATE),
        ("nonce", &params.nonce, MAX_NONCE),
        ("scope", &params.scope, 512),
        ("vtr", &params.vtr, 512),
        ("claims", &params.claims, MAX_CLAIMS),
        ("ui_locales", &params.ui_locales, 64),
        ("prompt", &params.prompt, 64),
        ("max_age", &params.max_age, 12),
        ("login_hint", &params.login_hint, 256),
        ("id_token_hint", &params.id_token_hint, keys::MAX_TOKEN_BYTES),
        ("code_challenge", &params.code_challenge, 128),
        ("code_challenge_method", &params.code_challenge_method, 16),
        ("response_type", &params.response_type, 64),
        ("dpop_jkt", &params.dpop_jkt, 64),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > max) {
            let to = ReturnTo {
                state: None,
                ..to.clone()
            };
            return Err(Refusal::Redirect(
                to,
                ErrorCode::InvalidRequest,
                format!("{name} is longer than {max} characters"),
            ));
        }
    }

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
    // A generic OIDC client asks for what it knows (`profile`, `address`, …): the hub ignores scopes it
    // does not offer (RFC 6749 §3.3 lets it), where One Login's way is to refuse them.
    let scopes: Vec<String> = if client.profile == Profile::OidcBasic {
        scopes
            .into_iter()
            .filter(|s| SCOPES.contains(&s.as_str()) && client.scopes.contains(s))
            .collect()
    } else {
        scopes
    };
    if let Some(s) = scopes
        .iter()
        .find(|s| !SCOPES.contains(&s.as_str()) || !client.scopes.contains(s))
    {
        return Err(refuse(
            ErrorCode::InvalidScope,
            &format!("scope {s} is not allowed for this client"),
        ));
    }
    if to.state.is_none() && !client.state_optional() {
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
        (None, None) if client.pkce_optional() => None,
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
    let prompt = match non_empty(&params.prompt) {
        None => None,
        Some(p) => Prompt::parse(p).map_err(|why| refuse(ErrorCode::InvalidRequest, why))?,
    };
    let max_age = match non_empty(&params.max_age) {
        Some(m) if client.honours_max_age() => Some(
            m.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| refuse(ErrorCode::InvalidRequest, "max_age must be a non-negative integer"))?,
        ),
        _ => None,
    };
    let dpop_jkt = match non_empty(&params.dpop_jkt) {
        None => None,
        // An RFC 7638 SHA-256 thumbprint: 43 characters of base64url.
        Some(j) if j.len() == 43 && j.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
            Some(j.to_string())
        }
        Some(_) => return Err(refuse(ErrorCode::InvalidRequest, "dpop_jkt is not a JWK thumbprint")),
    };
    Ok(AuthRequest {
        dpop_jkt,
        pushed: None,
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
    cookies: HubCookies,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY {
        return Err(Page::too_long().into());
    }
    let params: Params = serde_urlencoded::from_str(&query)
        .map_err(|_| Page::bad_request("request-problem-heading", "request-unreadable-body"))?;
    start(state, cookies, params).await
}

/// `POST /authorize` (form-encoded, OIDC Core §3.1.2.1).
pub async fn post(
    State(state): State<AppState>,
    cookies: HubCookies,
    Form(params): Form<Params>,
) -> Result<Response, PageError> {
    start(state, cookies, params).await
}

/// Why a request object was not taken.
#[derive(Debug)]
pub enum ObjectRefusal {
    /// Refused, for this reason: its redirect URI cannot be trusted (a page, or `invalid_request_object`).
    Refused(&'static str),
    /// An unsigned object from a client whose profile answers `request_not_supported` (OIDC Core §6.1).
    NotSupported,
    /// The store did not answer.
    Store(StoreError),
}

/// Verifies and unpacks a request object (RFC 9101, OIDC Core §6.1) with the client's keys and rules;
/// `params` without one come back as they are.
pub async fn unpack_request_object(state: &AppState, client: &Client, params: Params) -> Result<Params, ObjectRefusal> {
    let Some(jwt) = params.request.clone() else {
        return Ok(params);
    };
    if keys::decode_header(&jwt).is_ok_and(|h| h.alg.eq_ignore_ascii_case("none"))
        && client.lenient_request_object_query()
    {
        return Err(ObjectRefusal::NotSupported);
    }
    let claims = crate::provider::client_auth::verify_client_jwt(
        state,
        client,
        &jwt,
        crate::provider::client_auth::Purpose::RequestObject,
    )
    .await
    .map_err(|_| ObjectRefusal::Refused("bad signature"))?;
    let rules = request_object::Rules {
        lenient_query: client.lenient_request_object_query(),
        lifetime: client.request_object_lifetime(),
    };
    let merged = request_object::merge(&params, &claims, &state.config.issuer, state.now(), rules)
        .map_err(ObjectRefusal::Refused)?;
    // A request object's `jti`, when it has one, is single use (shared with client assertions' `jti`s, so
    // neither can be replayed as the other).
    if let Some(jti) = claims.get("jti").and_then(serde_json::Value::as_str) {
        let exp = claims.get("exp").and_then(serde_json::Value::as_i64);
        let ttl = exp.map_or(3600, |e| {
            (e - state.now() + keys::SKEW_SECS).clamp(1, 3600 + keys::SKEW_SECS)
        });
        let fresh = state
            .store
            .put_if_absent(
                &crate::store::key::jti(&client.client_id, jti),
                vec![1],
                std::time::Duration::from_secs(ttl as u64),
            )
            .await
            .map_err(ObjectRefusal::Store)?;
        if !fresh {
            return Err(ObjectRefusal::Refused("the request object was used before"));
        }
    }
    Ok(merged)
}

/// Where an error may go before the request is fully read: the query's redirect URI, if it is registered
/// exactly for the query's client.
fn trusted_return(params: &Params, reg: &Snapshot) -> Option<ReturnTo> {
    let client = reg.client(params.client_id.as_deref()?)?;
    let redirect_uri = params.redirect_uri.as_deref().filter(|u| client.has_redirect_uri(u))?;
    Some(ReturnTo {
        redirect_uri: redirect_uri.to_string(),
        state: non_empty(&params.state).map(str::to_string),
        response_mode: ResponseMode::parse(params.response_mode.as_deref())
            .filter(|m| *m != ResponseMode::FormPost || client.form_post_allowed())
            .unwrap_or_default(),
    })
}

/// A page for a refused request object, naming why.
fn object_page(client_id: Option<&str>, why: &str) -> PageError {
    tracing::info!(
        client_id = client_id.unwrap_or_default(),
        reason = why,
        "request object refused"
    );
    PageError::from(Page::bad_request(
        "request-problem-heading",
        Text::new("request-object-refused-body").arg("reason", why),
    ))
}

/// The prefix of the `request_uri`s the hub's PAR endpoint issues (RFC 9126 §2.2).
pub const PUSHED_URN: &str = "urn:ietf:params:oauth:request_uri:";

/// An authorization request as the PAR endpoint kept it (RFC 9126 §2.1): checked and validated then.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pushed {
    pub client_id: ClientId,
    /// The request's parameters, a request object already unpacked.
    pub params: Params,
    /// Whether it came as a signed request object.
    pub by_object: bool,
}

/// The pushed request a `request_uri` names (RFC 9126 §4): it must be the hub's, live, not yet spent on a
/// code, and pushed by the client the query names. Any other outcome is a page: no redirect URI of the
/// request can be trusted yet.
async fn pushed(state: &AppState, query: &Params, request_uri: &str) -> Result<(Pushed, String), PageError> {
    let refuse = |why: &'static str| {
        tracing::info!(
            client_id = query.client_id.as_deref().unwrap_or_default(),
            reason = why,
            "request_uri refused"
        );
        PageError::from(Page::bad_request(
            "request-problem-heading",
            Text::new("request-uri-refused-body").arg("reason", why),
        ))
    };
    let handle = hash(request_uri);
    let found: Option<Pushed> = state.store.get_json(&key::pushed(&handle)).await?;
    let Some(found) = found else {
        return Err(refuse("it has expired or was never issued"));
    };
    if state.store.exists(&key::pushed_spent(&handle)).await? {
        return Err(refuse("it was used already"));
    }
    if query.client_id.as_deref() != Some(found.client_id.as_str()) {
        return Err(refuse("it was pushed by another client"));
    }
    Ok((found, handle))
}

async fn start(state: AppState, cookies: HubCookies, params: Params) -> Result<Response, PageError> {
    let issuer = state.config.issuer.clone();
    let reg = state.snapshot();
    // A pushed request (RFC 9126 §4): only its own parameters are used (FAPI 2.0 SP §5.3.2.2), and only
    // the hub's own URNs are resolved; any other `request_uri` is `request_uri_not_supported` below.
    let (params, by_object, handle) = match params.request_uri.as_deref() {
        Some(uri) if uri.starts_with(PUSHED_URN) => {
            let (found, handle) = pushed(&state, &params, uri).await?;
            (found.params, found.by_object, Some(handle))
        }
        _ => {
            let by_object = params.request.is_some();
            let params = match (
                params.request.is_some(),
                params.client_id.as_deref().and_then(|c| reg.client(c)),
            ) {
                (false, _) => params,
                (true, None) => return Err(object_page(params.client_id.as_deref(), "unknown client")),
                (true, Some(client)) => match unpack_request_object(&state, client, params.clone()).await {
                    Ok(p) => p,
                    Err(ObjectRefusal::Store(e)) => return Err(HubError::from(e).into()),
                    Err(ObjectRefusal::Refused(why)) => return Err(object_page(params.client_id.as_deref(), why)),
                    Err(ObjectRefusal::NotSupported) => {
                        return match trusted_return(&params, &reg) {
                            Some(to) => Refusal::Redirect(
                                to,
                                ErrorCode::RequestNotSupported,
                                "unsigned request objects are not supported".into(),
                            )
                            .respond(&issuer),
                            None => Err(object_page(
                                params.client_id.as_deref(),
                                "unsigned request objects are not supported",
                            )),
                        }
                    }
                },
            };
            (params, by_object, None)
        }
    };
    let mut request = match validate(&params, &reg.clients) {
        Ok(request) => request,
        Err(refusal) => return refusal.respond(&issuer),
    };
    request.pushed = handle.clone();
    let client = reg.client(request.client_id.as_str());
    if handle.is_none() && client.is_some_and(Client::par_required) {
        return Refusal::Redirect(
            request.return_to,
            ErrorCode::InvalidRequest,
            "this client must push its authorization requests (RFC 9126)".into(),
        )
        .respond(&issuer);
    }
    if !by_object && client.is_some_and(|c| c.jar_required) {
        return Refusal::Redirect(
            request.return_to,
            ErrorCode::InvalidRequest,
            "this client must send a signed request object".into(),
        )
        .respond(&issuer);
    }
    // No per-service limit here: this request is not authenticated, so its `client_id` is anyone's to
    // send; the per-address limit applies (`ops::guard`), the service's own bucket only at `/token`, `/par`.
    // The sandbox (federation --sandbox only) may force an error here for this client.
    let forced = state.sandbox.as_ref().and_then(|s| s.forced(&request.client_id));
    let forced_error = match forced {
        Some(crate::sandbox::Forced::AccessDenied) => Some(ErrorCode::AccessDenied),
        Some(crate::sandbox::Forced::TemporarilyUnavailable) => Some(ErrorCode::TemporarilyUnavailable),
        _ => None,
    };
    if let Some(code) = forced_error {
        return Refusal::Redirect(request.return_to, code, "forced by the sandbox".into()).respond(&issuer);
    }
    let to = request.return_to.clone();
    // The service knows the person's language: its `ui_locales` sets the pages' language from here on.
    let lang = request.ui_locales.as_deref().and_then(Lang::from_ui_locales);
    let cx = Context {
        cookies: &cookies,
        lang: lang.or(cookies.lang).unwrap_or_default(),
    };
    // The journey is bound to this browser (a cookie for the browser session, set here if new).
    let (browser, new_browser) = cookies.browser_or_new();
    let binding = Binding::new(hash(browser.as_str()));
    match begin(&state, &reg, request, binding, cx).await {
        Ok(mut outcome) => {
            outcome.cookies.extend(new_browser);
            outcome.cookies.extend(lang.map(CookieChange::Lang));
            Ok(respond(outcome, &reg))
        }
        Err(e) => Ok(e.to_service(&to, &issuer)),
    }
}

/// The journey decides the validated request; what it decides is carried out.
async fn begin(
    state: &AppState,
    reg: &Snapshot,
    request: AuthRequest,
    binding: Binding,
    cx: Context<'_>,
) -> Result<Outcome, HubError> {
    let session = carry_out::live_session(state, cx.cookies).await?;
    let decided = journey::start(request, session.as_ref(), reg, state.now(), Sid::generate(), binding)?;
    carry_out::begin(state, decided, cx).await
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
