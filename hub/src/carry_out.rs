//! Carrying out the journey's decisions (DESIGN.md "One sign-in"): the one place that loads and saves
//! journeys and hub sessions, mints codes, writes audit entries and counts metrics. Handlers gather
//! inputs, call [`crate::journey`] to decide, call [`begin`] or [`apply`], and render the [`Outcome`].
//!
//! A journey changes only from the version it was read at, and ends (leaves the store) exactly once:
//! of several requests acting on one journey at once, one wins and the others see "no such journey".
//! A journey acts only in the browser it started in (its [`crate::journey::Binding`]), and forms and
//! state-changing links must carry its token.
//! "Assertion issued" is written to the audit sink, durably, before the code exists.

use crate::{
    audit::{Entry, Fact},
    error::HubError,
    http::cookies::{CookieChange, HubCookies},
    i18n::Lang,
    identity::{self, CoreIdentityFor, CORE_IDENTITY, RETURN_CODE},
    idp::{check::authorization_url, CALLBACK_PATH},
    ids::{constant_time_eq, hash, AuthCode, ClientId, JourneyId, SessionId, UpstreamState},
    journey::{Assertion, Decided, Decision, HubSession, Journey, JourneyError, LiveSession, NewSession, Notice},
    registry::Snapshot,
    state::AppState,
    store::{key, StoreError, Versioned},
    telemetry,
    tokens::CodeGrant,
};
use serde_json::{json, Value};
use std::time::Duration;

/// A journey as read from the store, with the id it is stored under.
#[derive(Debug, Clone)]
pub struct Current {
    pub id: JourneyId,
    pub stored: Versioned<Journey>,
}

impl Current {
    /// The journey itself.
    pub fn journey(&self) -> &Journey {
        &self.stored.value
    }
}

/// Where the person goes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Back to the service (a code or an error), as its response mode delivers it.
    Service(crate::oauth::Delivery),
    /// To the provider's authorization endpoint.
    Provider(String),
    /// To the provider choice.
    Choice,
    /// The choice page again, saying the choice was not one on offer.
    ChoiceAgain,
    /// To the consent page.
    Consent,
    /// A notice page about the provider's answer.
    Notice(Notice),
}

/// How pages name a live journey: its id (in links and forms) and its token (in forms and
/// state-changing links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyLink {
    pub id: JourneyId,
    pub csrf: String,
}

impl JourneyLink {
    /// The link of `path` for this journey (`/choose-provider?journey=…`).
    pub fn page(&self, path: &str) -> String {
        format!("{path}?journey={}", self.id.as_str())
    }

    /// A state-changing link of `path` for this journey, its token included.
    pub fn action(&self, path: &str) -> String {
        format!("{path}?journey={}&csrf={}", self.id.as_str(), self.csrf)
    }
}

/// What the handler renders: where to go, which cookies change, and the journey still live (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub next: Next,
    pub cookies: Vec<CookieChange>,
    pub journey: Option<JourneyLink>,
}

/// What the request brought that carrying out needs.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub cookies: &'a HubCookies,
    /// The person's language, passed on to the provider.
    pub lang: Lang,
}

fn journey_ttl(state: &AppState) -> Duration {
    Duration::from_secs(state.config.journey_ttl_secs)
}

fn session_idle(state: &AppState) -> Duration {
    Duration::from_secs(state.config.session_idle_secs)
}

/// The journey a page or form names, if it belongs to this browser.
pub async fn current(state: &AppState, cookies: &HubCookies, journey: Option<&str>) -> Result<Current, HubError> {
    let id = journey
        .filter(|j| j.len() == 43)
        .map(JourneyId::from_wire)
        .ok_or(HubError::NoJourney)?;
    let current = load(state, id).await?;
    mine(&current, cookies)?;
    Ok(current)
}

/// [`current`], for a form or a state-changing link: it must also carry the journey's token.
pub async fn acted_on(
    state: &AppState,
    cookies: &HubCookies,
    journey: Option<&str>,
    csrf: Option<&str>,
) -> Result<Current, HubError> {
    let current = current(state, cookies, journey).await?;
    let token = &current.journey().binding.csrf;
    if !csrf.is_some_and(|c| constant_time_eq(c, token)) {
        return Err(HubError::NotYours);
    }
    Ok(current)
}

/// Whether the journey belongs to the browser whose cookies these are.
fn mine(current: &Current, cookies: &HubCookies) -> Result<(), HubError> {
    let browser = cookies.browser.as_ref().map(|b| hash(b.as_str()));
    if browser.is_some_and(|b| constant_time_eq(&b, &current.journey().binding.browser)) {
        Ok(())
    } else {
        Err(HubError::NotYours)
    }
}

async fn load(state: &AppState, id: JourneyId) -> Result<Current, HubError> {
    match state.store.get_versioned::<Journey>(&key::journey(&id)).await? {
        Some(stored) => {
            // This request is a step of the journey: it joins the journey's trace.
            if let Some(trace) = &stored.value.trace {
                serving::request::continue_trace(trace);
            }
            Ok(Current { id, stored })
        }
        None => Err(HubError::NoJourney),
    }
}

/// The journey a provider's answer belongs to: its upstream `state` is taken once (it cannot be
/// replayed) and must belong to the journey in this browser's cookie.
pub async fn answered(state: &AppState, cookies: &HubCookies, upstate: &str) -> Result<Current, HubError> {
    let taken = state
        .store
        .take(&key::upstream_state(&UpstreamState::from_wire(upstate)))
        .await?;
    let Some(bytes) = taken else {
        return Err(JourneyError::NotAwaiting.into());
    };
    let id = JourneyId::from_wire(&String::from_utf8_lossy(&bytes));
    let current = load(state, id).await?;
    mine(&current, cookies).map_err(|_| JourneyError::NotAwaiting)?;
    Ok(current)
}

/// The live hub session a cookie names, its idle lifetime extended without rewriting it (so a session
/// ended meanwhile stays ended); one past its absolute lifetime is ended.
pub async fn live_session(state: &AppState, cookies: &HubCookies) -> Result<Option<LiveSession>, StoreError> {
    let Some(id) = cookies.session.clone() else {
        return Ok(None);
    };
    let key = key::session(&id);
    let Some(session) = state.store.get_json::<HubSession>(&key).await? else {
        return Ok(None);
    };
    if !session.alive(state.now(), state.config.session_absolute_secs) {
        state.store.delete(&key).await?;
        record(state, None, Fact::SessionExpired).await;
        return Ok(None);
    }
    if !state.store.touch(&key, session_idle(state)).await? {
        return Ok(None);
    }
    Ok(Some(LiveSession { id, session }))
}

/// Ends the hub session a cookie names, returning what it was. At most one caller gets it.
pub async fn end_session(state: &AppState, cookies: &HubCookies) -> Result<Option<HubSession>, StoreError> {
    match &cookies.session {
        Some(id) => state.store.take_json(&key::session(id)).await,
        None => Ok(None),
    }
}

/// Writes one audit entry. A fact that must be durable is waited for and its failure fails the caller;
/// any other is noted (it joins the next durable entry's group commit) and its failure logged.
async fn record(state: &AppState, journey: Option<&JourneyId>, fact: Fact) -> Option<crate::audit::AuditError> {
    let durable = fact.must_be_durable();
    let entry = Entry {
        time: state.now(),
        journey: journey.map(|j| hash(j.as_str())),
        fact,
    };
    if !durable {
        state.audit.note(entry);
        return None;
    }
    state.audit.record(entry).await.err()
}

/// Writes the facts of a decision (none of which must be durable) and counts provider outcomes.
async fn record_all(state: &AppState, journey: &JourneyId, facts: Vec<Fact>) {
    for fact in facts {
        if let Fact::ProviderAnswered {
            provider_id, outcome, ..
        } = &fact
        {
            telemetry::provider_outcome(provider_id.as_str(), *outcome);
        }
        record(state, Some(journey), fact).await;
    }
}

/// Where a journey is kept: already in the store (from a version), or new.
enum Kept {
    Stored(Box<Current>),
    New(JourneyId),
}

impl Kept {
    fn id(&self) -> &JourneyId {
        match self {
            Kept::Stored(c) => &c.id,
            Kept::New(id) => id,
        }
    }

    /// Saves the journey at its next stage: a new one for `journey_start_ttl_secs` (abandoned requests
    /// cost little), one the person acted on for `journey_ttl_secs` idle.
    async fn save(&self, state: &AppState, journey: &Journey) -> Result<JourneyLink, HubError> {
        let link = JourneyLink {
            id: self.id().clone(),
            csrf: journey.binding.csrf.clone(),
        };
        match self {
            Kept::Stored(current) => {
                let key = key::journey(&current.id);
                let swapped = if matches!(current.journey().stage, crate::journey::Stage::Choosing { .. }) {
                    // The person acted: the journey now lives the full idle time.
                    let ttl = journey_ttl(state);
                    state.store.swap_json_for(&key, &current.stored, journey, ttl).await?
                } else {
                    state.store.swap_json(&key, &current.stored, journey).await?
                };
                if !swapped {
                    return Err(HubError::NoJourney);
                }
            }
            Kept::New(id) => {
                let ttl = Duration::from_secs(state.config.journey_start_ttl_secs.min(state.config.journey_ttl_secs));
                let journey = Journey {
                    trace: serving::request::current_traceparent(),
                    ..journey.clone()
                };
                state.store.put_json(&key::journey(id), &journey, ttl).await?;
            }
        }
        Ok(link)
    }

    /// Ends the journey; only one caller ever succeeds.
    async fn end(&self, state: &AppState) -> Result<(), HubError> {
        match self {
            Kept::Stored(current) => {
                if state
                    .store
                    .remove_version(&key::journey(&current.id), &current.stored)
                    .await?
                {
                    Ok(())
                } else {
                    Err(HubError::NoJourney)
                }
            }
            Kept::New(_) => Ok(()),
        }
    }
}

/// Carries out the decision on a new, validated request ([`crate::journey::start`]).
pub async fn begin(state: &AppState, decided: Decided, cx: Context<'_>) -> Result<Outcome, HubError> {
    carry(state, Kept::New(JourneyId::generate()), decided, cx).await
}

/// Carries out a decision on a journey read from the store ([`crate::journey::decide`]).
pub async fn apply(state: &AppState, current: Current, decided: Decided, cx: Context<'_>) -> Result<Outcome, HubError> {
    carry(state, Kept::Stored(Box::new(current)), decided, cx).await
}

async fn carry(state: &AppState, kept: Kept, decided: Decided, cx: Context<'_>) -> Result<Outcome, HubError> {
    let Decided { decision, facts } = decided;
    let id = kept.id().clone();
    let mut cookies = Vec::new();
    let mut link = None;
    let next = match decision {
        Decision::Choose(journey) => {
            link = Some(kept.save(state, &journey).await?);
            Next::Choice
        }
        Decision::ChoiceRefused => Next::ChoiceAgain,
        Decision::GoToProvider { journey, endpoint } => {
            let crate::journey::Stage::AtProvider { attempt, .. } = &journey.stage else {
                return Err(JourneyError::NotAwaiting.into());
            };
            let reg = state.snapshot();
            let provider = reg
                .provider(attempt.provider.as_str())
                .ok_or(JourneyError::ProviderGone)?;
            state
                .store
                .put(
                    &key::upstream_state(&attempt.secrets.state),
                    id.as_str().as_bytes().to_vec(),
                    journey_ttl(state),
                )
                .await?;
            let url = authorization_url(
                &endpoint,
                provider,
                attempt,
                &journey.request,
                cx.lang,
                &state.config.url(CALLBACK_PATH),
            );
            link = Some(kept.save(state, &journey).await?);
            Next::Provider(url)
        }
        Decision::AskConsent { journey, new_session } => {
            if let Some(new_session) = new_session {
                cookies.push(start_session(state, cx.cookies, new_session, None).await?);
            }
            link = Some(kept.save(state, &journey).await?);
            Next::Consent
        }
        Decision::Tell { journey, notice } => {
            link = Some(kept.save(state, &journey).await?);
            Next::Notice(notice)
        }
        Decision::Return {
            to,
            client_id,
            code,
            description,
        } => {
            kept.end(state).await?;
            tracing::info!(client_id = %client_id, error = %code, "returned to the service with an error");
            let provider = match &kept {
                Kept::Stored(current) => match &current.journey().stage {
                    crate::journey::Stage::AtProvider { attempt, .. } => attempt.provider.as_str().to_string(),
                    crate::journey::Stage::Consenting { person, .. } => person.provider.as_str().to_string(),
                    _ => "none".to_string(),
                },
                Kept::New(_) => "none".to_string(),
            };
            telemetry::journey_ended(client_id.as_str(), &provider, code.as_str());
            Next::Service(to.deliver_error(&state.config.issuer, code, description))
        }
        Decision::Assert { assertion, new_session } => {
            kept.end(state).await?;
            let provider = if assertion.single_sign_on {
                "single_sign_on"
            } else {
                assertion.person.provider.as_str()
            };
            let provider = provider.to_string();
            record_all(state, &id, facts).await;
            let (to, client_id) = (assertion.request.return_to.clone(), assertion.request.client_id.clone());
            let next = match assert(state, &id, *assertion, new_session, cx).await {
                Ok((location, session_cookie)) => {
                    telemetry::journey_ended(client_id.as_str(), &provider, "assertion");
                    cookies.extend(session_cookie);
                    Next::Service(location)
                }
                // A service removed from the registry meanwhile has no registered redirect URI left:
                // the person gets a page, never a redirect there.
                Err(e @ HubError::Journey(JourneyError::ServiceGone)) => return Err(e),
                // The journey has ended, so the service must hear how: the audit log or the store could
                // not take the assertion ("no audit, no assertion"), so it gets `temporarily_unavailable`
                // (or the protocol error) at its registered redirect URI, with `state` and `iss`.
                Err(e) => {
                    e.log();
                    let code = e.code();
                    telemetry::journey_ended(client_id.as_str(), &provider, code.as_str());
                    Next::Service(to.deliver_error(&state.config.issuer, code, &e.description()))
                }
            };
            return Ok(Outcome {
                next,
                cookies,
                journey: None,
            });
        }
    };
    record_all(state, &id, facts).await;
    Ok(Outcome {
        next,
        cookies,
        journey: link,
    })
}

/// Starts a hub session (a new sign-in gets a new session id: no fixation), ending the one the browser had.
async fn start_session(
    state: &AppState,
    cookies: &HubCookies,
    new_session: NewSession,
    client: Option<ClientId>,
) -> Result<CookieChange, HubError> {
    if let Some(old) = &cookies.session {
        state.store.delete(&key::session(old)).await?;
    }
    let mut session = new_session.session;
    session.clients.extend(client);
    state
        .store
        .put_json(&key::session(&new_session.id), &session, session_idle(state))
        .await?;
    Ok(CookieChange::Session(new_session.id))
}

/// Records that a service received an assertion in a session (for back-channel logout). A session that
/// ended meanwhile stays ended.
async fn add_client(state: &AppState, id: &SessionId, client: &ClientId) -> Result<(), HubError> {
    let key = key::session(id);
    for _ in 0..8 {
        let Some(current) = state.store.get_versioned::<HubSession>(&key).await? else {
            return Ok(());
        };
        if current.value.clients.contains(client) {
            return Ok(());
        }
        let mut next = current.value.clone();
        next.clients.push(client.clone());
        if state.store.swap_json(&key, &current, &next).await? {
            return Ok(());
        }
    }
    Err(StoreError::Unavailable("the session kept changing".into()).into())
}

/// Mints the service's code for an assertion (RFC 6749 §4.1.2, RFC 9207): the durable audit entry first,
/// then the session it belongs to, then the code and the claims it stands for.
async fn assert(
    state: &AppState,
    journey: &JourneyId,
    a: Assertion,
    new_session: Option<NewSession>,
    cx: Context<'_>,
) -> Result<(crate::oauth::Delivery, Option<CookieChange>), HubError> {
    let reg: Snapshot = state.snapshot();
    let client = reg
        .client(a.request.client_id.as_str())
        .ok_or(JourneyError::ServiceGone)?;
    let now = state.now();
    let sub = state.pairwise_sub(client, &a.person);
    let request = &a.request;
    let mut userinfo = identity::released_claims(&request.scopes, &a.person.claims);
    let forced = state.sandbox.as_ref().and_then(|s| s.forced(&client.client_id));
    let return_code: Option<String> = match &forced {
        Some(crate::sandbox::Forced::ReturnCode(code)) => Some(code.clone()),
        _ => a.return_code.map(str::to_string),
    };
    match &return_code {
        None => {
            let vtm = state.config.url("/trustmark");
            let for_ = CoreIdentityFor {
                identity_issuer: state.config.identity_issuer(),
                sub: &sub,
                client_id: &client.client_id,
                vector: a.vector,
                vtm: &vtm,
                now,
            };
            let did = keys::did::did_web(state.config.identity_issuer()).unwrap_or_default();
            let key = state.identity_key();
            let kid = keys::did::key_reference(&did, &key);
            let sign = |claims: &crate::tokens::CoreIdentityClaims| match &forced {
                Some(forced) => {
                    let mut claims = claims.clone();
                    crate::sandbox::credential(forced, &mut claims);
                    let jwt = key.sign_with_kid("JWT", &kid, &claims).ok()?;
                    Some(crate::sandbox::credential_signature(forced, jwt))
                }
                None => key.sign_with_kid("JWT", &kid, claims).ok(),
            };
            userinfo.extend(identity::identity_claims(
                &a.release,
                &a.release,
                &a.person.claims,
                &for_,
                sign,
            ));
        }
        Some(code) => {
            userinfo.insert(RETURN_CODE.into(), json!([{ "code": code }]));
        }
    }
    let credential_hash = userinfo.get(CORE_IDENTITY).and_then(Value::as_str).map(hash);
    let released: Vec<String> = a
        .release
        .iter()
        .filter(|c| userinfo.contains_key(*c))
        .cloned()
        .collect();

    // The service knows the session by one `sid` (Back-Channel Logout 1.0 §2.1), the journey's own when
    // there is no session.
    let sid = match (&new_session, &a.session) {
        (Some(n), _) => crate::ids::Sid::of_session(&n.id, &client.client_id),
        (None, Some(s)) => crate::ids::Sid::of_session(s, &client.client_id),
        (None, None) => a.sid.clone(),
    };
    // A pushed request yields one code (RFC 9126 §4, §7.3): the first journey to get here spends it.
    if let Some(handle) = &request.pushed {
        let ttl = Duration::from_secs(state.config.journey_ttl_secs);
        if !state
            .store
            .put_if_absent(&key::pushed_spent(handle), vec![1], ttl)
            .await?
        {
            return Err(crate::error::HubError::oauth(
                crate::oauth::ErrorCode::InvalidRequestUri,
                "the pushed request was used for a code already",
            ));
        }
    }
    let issued = Fact::AssertionIssued {
        client_id: client.client_id.clone(),
        provider_id: a.person.provider.clone(),
        sub: sub.clone(),
        levels_asked: request.vtr.clone(),
        level_reached: a.vector,
        claims_released: released,
        return_code: return_code.clone(),
        identity_credential_sha256: credential_hash,
        single_sign_on: a.single_sign_on,
    };
    if let Some(e) = record(state, Some(journey), issued).await {
        return Err(e.into());
    }
    // The session learns of the service only once the assertion is durable, so a service that got no
    // code is never told of a logout.
    let session_cookie = match (new_session, &a.session) {
        (Some(new_session), _) => {
            Some(start_session(state, cx.cookies, new_session, Some(client.client_id.clone())).await?)
        }
        (None, Some(session)) => {
            add_client(state, session, &client.client_id).await?;
            None
        }
        (None, None) => None,
    };

    if let Some(sandbox) = &state.sandbox {
        sandbox.assertion_issued(&client.client_id, &sub, &sid);
    }
    let grant = CodeGrant {
        client_id: client.client_id.clone(),
        redirect_uri: request.return_to.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        sub,
        vector: a.vector,
        auth_time: a.person.auth_time,
        sid,
        userinfo,
        dpop_jkt: request.dpop_jkt.clone(),
    };
    let code = AuthCode::generate();
    state
        .store
        .put_json(
            &key::code(&code),
            &grant,
            Duration::from_secs(client.code_ttl_secs(state.config.code_ttl_secs)),
        )
        .await?;
    tracing::info!(
        client_id = %client.client_id,
        provider = %a.person.provider,
        vot = a.vector.credential_vot(),
        return_code = a.return_code,
        "code issued"
    );
    telemetry::code_issued(a.vector.credential_vot(), a.vector.identity_vot(), a.return_code);

    Ok((
        request
            .return_to
            .deliver(&state.config.issuer, &[("code", code.as_str())]),
        session_cookie,
    ))
}
