//! `GET /{p}/authorize` (OIDC Core 1.0 §3.1.2.1, RFC 7636 PKCE, RFC 9207 `iss`) and
//! `POST /{p}/authorize/decide`, where the person's choice of persona and outcome becomes the answer.
//! In non-interactive mode (`--non-interactive <persona>`, for load tests) `GET` answers at once with the
//! configured persona and outcome, through the same decision.
//!
//! Validation is strict: an unknown client or a redirect URI that is not an exact match gets a page and
//! never a redirect (§3.1.2.6); every other fault is redirected back as `invalid_request`.

use crate::{
    config::ClientConfig,
    outcome::{Outcome, RedirectError},
    pages::{self, AuthorizePage},
    personas::{self, choose_acr, level_below_asked, Level, Persona, PERSONAS},
    state::{lock, random_id, IssuedCode, PendingRequest, Provider, CODE_TTL, PENDING_TTL},
    AppState, Error,
};
use axum::{
    extract::{rejection::FormRejection, Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;

/// The authorization request parameters the stub reads; others are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub acr_values: Option<String>,
    /// `cy` first shows the provider's Welsh name.
    pub ui_locales: Option<String>,
}

/// A request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub acr_values: Vec<String>,
}

/// Why a request was refused, and how the refusal travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Shown to the person: the client or redirect URI cannot be trusted with a redirect.
    Page(String),
    /// Sent back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Validates an authorization request against the registered clients.
pub fn validate(params: &AuthorizeParams, clients: &[ClientConfig]) -> Result<ValidRequest, Refusal> {
    let client_id = present(&params.client_id).ok_or_else(|| Refusal::Page("The request has no client_id.".into()))?;
    let client = clients
        .iter()
        .find(|c| c.client_id == client_id)
        .ok_or_else(|| Refusal::Page(format!("The client {client_id:?} is not registered here.")))?;
    let redirect_uri =
        present(&params.redirect_uri).ok_or_else(|| Refusal::Page("The request has no redirect_uri.".into()))?;
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(Refusal::Page(
            "The redirect_uri is not registered for this client.".into(),
        ));
    }
    let state = present(&params.state).map(str::to_string);
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.to_string(),
        state: state.clone(),
        error,
        description: description.to_string(),
    };
    match present(&params.response_type) {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
    }
    let scopes: Vec<String> = params
        .scope
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(refuse("invalid_scope", "scope must contain openid"));
    }
    let state = state
        .clone()
        .ok_or_else(|| refuse("invalid_request", "state is required"))?;
    let nonce = present(&params.nonce).ok_or_else(|| refuse("invalid_request", "nonce is required"))?;
    let code_challenge =
        present(&params.code_challenge).ok_or_else(|| refuse("invalid_request", "code_challenge is required"))?;
    if present(&params.code_challenge_method) != Some("S256") {
        return Err(refuse("invalid_request", "code_challenge_method must be S256"));
    }
    let valid_challenge = code_challenge.len() == 43
        && code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_challenge {
        return Err(refuse(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 digest",
        ));
    }
    let acr_values = params
        .acr_values
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    Ok(ValidRequest {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state,
        nonce: nonce.to_string(),
        code_challenge: code_challenge.to_string(),
        scopes,
        acr_values,
    })
}

/// What a chosen outcome means for the authorization response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Redirect with an error.
    Refuse(RedirectError),
    /// Issue a code whose ID token will carry this `acr`.
    Code(Level),
}

/// Decides the authorization response for a persona, an outcome and the asked `acr_values`.
pub fn decide(outcome: Outcome, persona: &Persona, acr_values: &[String]) -> Decision {
    if let Some(e) = outcome.redirect_error() {
        return Decision::Refuse(e);
    }
    match outcome {
        Outcome::LevelNotReached => Decision::Code(level_below_asked(acr_values).min(persona.max_level)),
        // The person signed in, but their identity check is not finished (or fraud is suspected): the
        // ID token asserts the credential level only and says why in `identity_outcome`.
        Outcome::Pending | Outcome::FraudSuspected => Decision::Code(Level::ClCm.min(persona.max_level)),
        _ => Decision::Code(choose_acr(acr_values, persona.max_level)),
    }
}

/// Builds a redirect to `redirect_uri` with `pairs` added to its query.
pub fn redirect_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Result<Response, Error> {
    let mut url =
        url::Url::parse(redirect_uri).map_err(|_| Error::BadPage("The redirect_uri is not a valid URL.".into()))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    Ok(Redirect::to(url.as_str()).into_response())
}

/// Validates the request, then answers at once in non-interactive mode, or keeps it under a random id and
/// shows the provider's page.
pub async fn get(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    let p = state.provider(&provider)?;
    let params: AuthorizeParams = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(|_| {
        Error::BadPage("The sign-in request is malformed (a parameter is repeated or not text).".into())
    })?;
    let request = match validate(&params, &state.config().clients) {
        Ok(r) => r,
        Err(Refusal::Page(message)) => {
            tracing::info!(provider, %message, "authorization request refused");
            return Err(Error::BadPage(message));
        }
        Err(Refusal::Redirect {
            redirect_uri,
            state: rp_state,
            error,
            description,
        }) => {
            tracing::info!(provider, error, %description, "authorization request refused");
            let mut pairs = vec![("error", error), ("error_description", description.as_str())];
            if let Some(s) = &rp_state {
                pairs.push(("state", s));
            }
            pairs.push(("iss", &p.issuer));
            return redirect_to(&redirect_uri, &pairs);
        }
    };
    let now = state.now();
    let request = PendingRequest {
        provider_id: provider.clone(),
        client_id: request.client_id,
        redirect_uri: request.redirect_uri,
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.code_challenge,
        scopes: request.scopes,
        acr_values: request.acr_values,
        created_at: now,
    };
    if let Some(auto) = state.non_interactive() {
        let forced = state.forced(&provider);
        let persona = forced.persona.and_then(personas::find).unwrap_or(auto.persona);
        let outcome = forced.outcome.unwrap_or(auto.outcome);
        tracing::debug!(
            provider,
            persona = persona.id,
            outcome = outcome.id(),
            "answered without the page"
        );
        return respond(&state, p, &request, persona, outcome, now);
    }
    let request_id = random_id();
    {
        let mut pending = lock(&state.inner.pending);
        static SWEPT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        if crate::state::sweep_due(&SWEPT, now) {
            pending.retain(|_, r| r.created_at + PENDING_TTL > now);
        }
        pending.insert(request_id.clone(), request);
    }
    let forced = state.forced(&provider);
    let forced_note = match (forced.outcome, forced.persona) {
        (None, None) => None,
        (o, per) => Some(format!(
            "Forced by configuration: outcome {}, persona {}. Your choice below is overridden.",
            o.map(Outcome::id).unwrap_or("(your choice)"),
            per.unwrap_or("(your choice)")
        )),
    };
    let welsh = params
        .ui_locales
        .as_deref()
        .and_then(|l| l.split_whitespace().next())
        .is_some_and(|l| l.starts_with("cy"));
    let page = AuthorizePage {
        provider_id: &provider,
        provider_name: if welsh { &p.config.name_cy } else { &p.config.name },
        lang: if welsh { "cy" } else { "en" },
        request_id: &request_id,
        personas: PERSONAS,
        outcomes: &Outcome::ALL,
        forced_note,
    };
    Ok(pages::render(StatusCode::OK, &page))
}

/// The form posted from the provider's page.
#[derive(Debug, Deserialize)]
pub struct DecideForm {
    pub request_id: Option<String>,
    pub persona: Option<String>,
    pub outcome: Option<String>,
}

/// Turns the person's choice (or the forced one) into the authorization response.
pub async fn decide_post(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Result<Response, Error> {
    let p = state.provider(&provider)?;
    let Form(form) = form.map_err(|_| Error::BadPage("The form could not be read.".into()))?;
    let expired =
        || Error::BadPage("This sign-in has expired or was already used. Start again from the service.".into());
    let request_id = form.request_id.ok_or_else(expired)?;
    let now = state.now();
    let request = {
        let mut pending = lock(&state.inner.pending);
        match pending.get(&request_id) {
            Some(r) if r.provider_id == provider && r.created_at + PENDING_TTL > now => pending.remove(&request_id),
            _ => None,
        }
    }
    .ok_or_else(expired)?;

    let forced = state.forced(&provider);
    let persona_id = forced
        .persona
        .map(str::to_string)
        .or(form.persona)
        .unwrap_or_else(|| PERSONAS[0].id.to_string());
    let persona =
        personas::find(&persona_id).ok_or_else(|| Error::BadPage(format!("Unknown persona {persona_id:?}.")))?;
    let outcome = match forced.outcome {
        Some(o) => o,
        None => match form.outcome.as_deref() {
            None => Outcome::Success,
            Some(id) => Outcome::parse(id).ok_or_else(|| Error::BadPage(format!("Unknown outcome {id:?}.")))?,
        },
    };
    tracing::info!(
        provider,
        persona = persona.id,
        outcome = outcome.id(),
        "sign-in decided"
    );

    respond(&state, p, &request, persona, outcome, now)
}

/// The authorization response once persona and outcome are known (picked on the page, forced, or
/// configured for non-interactive mode): an error redirect, or a code kept for the token endpoint.
fn respond(
    state: &AppState,
    p: &Provider,
    request: &PendingRequest,
    persona: &'static Persona,
    outcome: Outcome,
    now: u64,
) -> Result<Response, Error> {
    match decide(outcome, persona, &request.acr_values) {
        Decision::Refuse(e) => {
            let mut pairs = vec![("error", e.error), ("error_description", e.description)];
            if let Some(io) = e.identity_outcome {
                pairs.push(("identity_outcome", io));
            }
            pairs.push(("state", &request.state));
            pairs.push(("iss", &p.issuer));
            redirect_to(&request.redirect_uri, &pairs)
        }
        Decision::Code(acr) => {
            let code = random_id();
            {
                let mut codes = lock(&state.inner.codes);
                static SWEPT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                if crate::state::sweep_due(&SWEPT, now) {
                    codes.retain(|_, c| c.expires_at > now);
                }
                codes.insert(
                    code.clone(),
                    IssuedCode {
                        provider_id: request.provider_id.clone(),
                        client_id: request.client_id.clone(),
                        redirect_uri: request.redirect_uri.clone(),
                        code_challenge: request.code_challenge.clone(),
                        nonce: request.nonce.clone(),
                        scopes: request.scopes.clone(),
                        persona,
                        acr,
                        outcome,
                        auth_time: now,
                        expires_at: now + CODE_TTL,
                    },
                );
            }
            redirect_to(
                &request.redirect_uri,
                &[("code", &code), ("state", &request.state), ("iss", &p.issuer)],
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn clients() -> Vec<ClientConfig> {
        vec![ClientConfig {
            client_id: "hub".into(),
            redirect_uris: vec!["http://hub/cb".into()],
            jwks_uri: Some("http://hub/jwks".into()),
            public_key_pem: None,
        }]
    }

    fn good() -> AuthorizeParams {
        AuthorizeParams {
            client_id: Some("hub".into()),
            redirect_uri: Some("http://hub/cb".into()),
            response_type: Some("code".into()),
            scope: Some("openid profile".into()),
            state: Some("s".into()),
            nonce: Some("n".into()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            code_challenge_method: Some("S256".into()),
            acr_values: Some("Cl.Cm.P2 Cl.Cm".into()),
            ui_locales: None,
        }
    }

    #[test]
    fn validation_table() {
        let ok = validate(&good(), &clients()).unwrap();
        assert_eq!(ok.acr_values, vec!["Cl.Cm.P2", "Cl.Cm"]);
        assert_eq!(ok.scopes, vec!["openid", "profile"]);

        type Edit = fn(&mut AuthorizeParams);
        let cases: &[(Edit, Option<&str>)] = &[
            (|p| p.client_id = Some("nobody".into()), None),
            (|p| p.redirect_uri = Some("http://hub/cb/".into()), None),
            (|p| p.redirect_uri = None, None),
            (
                |p| p.response_type = Some("token".into()),
                Some("unsupported_response_type"),
            ),
            (|p| p.scope = Some("profile".into()), Some("invalid_scope")),
            (|p| p.state = None, Some("invalid_request")),
            (|p| p.nonce = None, Some("invalid_request")),
            (|p| p.code_challenge = None, Some("invalid_request")),
            (
                |p| p.code_challenge_method = Some("plain".into()),
                Some("invalid_request"),
            ),
            (|p| p.code_challenge = Some("short".into()), Some("invalid_request")),
        ];
        for (i, (edit, expected)) in cases.iter().enumerate() {
            let mut params = good();
            edit(&mut params);
            match (validate(&params, &clients()).unwrap_err(), expected) {
                (Refusal::Page(_), None) => {}
                (
                    Refusal::Redirect {
                        error, redirect_uri, ..
                    },
                    Some(e),
                ) => {
                    assert_eq!(error, *e, "case {i}");
                    assert_eq!(redirect_uri, "http://hub/cb");
                }
                (other, _) => panic!("case {i}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn decisions() {
        let p2 = personas::find("alex-morgan").unwrap();
        let asked = vec!["Cl.Cm.P2".to_string()];
        assert_eq!(decide(Outcome::Success, p2, &asked), Decision::Code(Level::P2));
        assert_eq!(decide(Outcome::LevelNotReached, p2, &asked), Decision::Code(Level::P1));
        assert_eq!(decide(Outcome::Expired, p2, &asked), Decision::Code(Level::P2));
        let no_identity = personas::find("dana-whitfield").unwrap();
        assert_eq!(
            decide(Outcome::LevelNotReached, no_identity, &asked),
            Decision::Code(Level::ClCm),
            "capped at the persona's maximum"
        );
        assert_eq!(
            decide(Outcome::Pending, p2, &asked),
            Decision::Code(Level::ClCm),
            "credential level only"
        );
        assert_eq!(decide(Outcome::FraudSuspected, p2, &asked), Decision::Code(Level::ClCm));
        let Decision::Refuse(e) = decide(Outcome::Cancel, p2, &asked) else {
            panic!("cancel must refuse")
        };
        assert_eq!((e.error, e.identity_outcome), ("access_denied", None));
    }
}
