//! The journey of one sign-in (DESIGN.md "One sign-in") as data and pure decisions, in the manner of
//! kanidm's `AuthoriseResponse`: the protocol decides, the web layer renders.
//!
//! A [`Journey`] is the validated request plus a [`Stage`] whose variants carry what that stage needs.
//! [`decide`] and [`start`] are pure functions of (journey, event, registries snapshot, now) returning a
//! [`Decided`]: a [`Decision`] for [`crate::carry_out`] to carry out, and the audit [`Fact`]s it
//! implies. An illegal (stage, event) pair is a [`JourneyError`], never a panic. Nothing here knows of
//! HTTP, pages, the store or the application state.

mod decide;

pub use decide::{awaiting, consent_items, decide, release, start, wants_return_code};

impl Binding {
    /// A fresh binding to the browser whose cookie hashes to `browser`.
    pub fn new(browser: String) -> Self {
        Self {
            browser,
            csrf: crate::ids::random_token(),
        }
    }
}

use crate::{
    audit::event::Fact,
    ids::{ClientId, ProviderId, SessionId, Sid, UpstreamState},
    oauth::{ErrorCode, Prompt, ReturnTo},
    vtr::Vector,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The validated authorization request a journey serves (INTERFACE.md §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: ClientId,
    pub return_to: ReturnTo,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub scopes: Vec<String>,
    /// Wanted vectors, lowest first; any will do.
    pub vtr: Vec<Vector>,
    /// Identity claims asked for in `claims.userinfo` (already limited to the client's registration).
    pub claims: Vec<String>,
    pub ui_locales: Option<String>,
    pub prompt: Option<Prompt>,
    pub max_age: Option<i64>,
    /// The DPoP key the code is bound to (RFC 9449 §10: `dpop_jkt`, or the key of a proof at `/par`).
    #[serde(default)]
    pub dpop_jkt: Option<String>,
    /// The hash of the pushed request's `request_uri` this journey came from (RFC 9126): it yields one code.
    #[serde(default)]
    pub pushed: Option<String>,
}

/// What a provider said of identity it could not prove (this federation's `identity_outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityOutcome {
    /// The check is not finished.
    Pending,
    /// The provider suspects fraud.
    FraudSuspected,
    /// Any other failure to prove identity.
    Failed,
}

impl IdentityOutcome {
    /// Reads a provider's `identity_outcome` value.
    pub fn parse(value: &str) -> Self {
        match value {
            "pending" => Self::Pending,
            "fraud_suspected" => Self::FraudSuspected,
            _ => Self::Failed,
        }
    }

    /// The `returnCode` a service that asked for it receives (INTERFACE.md §5).
    pub fn return_code(self) -> &'static str {
        match self {
            Self::Pending => "P",
            Self::FraudSuspected => "F",
            Self::Failed => "X",
        }
    }
}

/// A person as a provider authenticated them: who (the provider's subject, never given to services), at
/// what level, and the claims it supplied. Held only for the journey and the hub session.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub provider: ProviderId,
    pub provider_issuer: String,
    pub provider_sub: String,
    pub vector: Vector,
    pub auth_time: i64,
    pub claims: Map<String, Value>,
    /// Set when the provider authenticated the person but could not prove their identity.
    pub identity_outcome: Option<IdentityOutcome>,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("provider", &self.provider)
            .field("vector", &self.vector)
            .finish_non_exhaustive()
    }
}

/// The fresh secrets of one request to a provider (its own `state`, `nonce` and PKCE verifier), drawn by
/// the caller so that deciding stays pure.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamSecrets {
    pub state: UpstreamState,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl UpstreamSecrets {
    /// Three fresh 256-bit random values.
    pub fn generate() -> Self {
        Self {
            state: UpstreamState::generate(),
            nonce: crate::ids::random_token(),
            pkce_verifier: crate::ids::random_token(),
        }
    }
}

impl std::fmt::Debug for UpstreamSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamSecrets(…)")
    }
}

/// The hub's own request to a provider: nothing of the service's goes upstream (INTERFACE.md §9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamAttempt {
    pub provider: ProviderId,
    pub secrets: UpstreamSecrets,
    pub started_at: i64,
}

/// Where a journey is. Each variant carries exactly what that stage needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// The person is choosing a provider.
    Choosing {
        /// A provider that answered below the wanted level: the choice page names it.
        fell_short: Option<ProviderId>,
        /// An authentication below the level, kept for a service that asked for `returnCode`.
        below: Option<Person>,
    },
    /// The person is at a provider; the hub waits for its answer to this attempt.
    AtProvider {
        attempt: UpstreamAttempt,
        below: Option<Person>,
    },
    /// The level is met; the identity claims wait for the person's consent.
    Consenting {
        person: Person,
        met: Vector,
        /// The hub session this journey's assertion belongs to.
        session: SessionId,
    },
}

impl Stage {
    /// The stage's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Choosing { .. } => "choosing",
            Stage::AtProvider { .. } => "at_provider",
            Stage::Consenting { .. } => "consenting",
        }
    }
}

/// What ties a journey to the browser it started in: the hash of that browser's cookie, and the token
/// every form and state-changing link of the journey carries (CSRF). Drawn fresh by the caller.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// SHA-256 of the `__Host-hub-browser` cookie the journey started with.
    pub browser: String,
    /// The journey's anti-forgery token.
    pub csrf: String,
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Binding(…)")
    }
}

/// One sign-in journey. It ends (leaves the store) when the service gets a code or an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journey {
    pub request: AuthRequest,
    /// The browser it belongs to and its forms' token.
    pub binding: Binding,
    pub created_at: i64,
    /// The opaque `sid` of this journey, given in the ID token.
    pub sid: Sid,
    /// Providers that failed (down or answered wrongly) during this journey.
    pub failed: Vec<ProviderId>,
    pub stage: Stage,
    /// The W3C `traceparent` of the request that started the journey, when traces are on: each later
    /// request of the journey joins its trace (browsers carry no trace headers across redirects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// The hub's single sign-on session (DESIGN.md journey step 2): who signed in, when, and the services
/// given an assertion in it (told by back-channel logout when it ends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HubSession {
    pub person: Person,
    pub created_at: i64,
    pub clients: Vec<ClientId>,
}

impl HubSession {
    /// Whether the session is within its absolute lifetime.
    pub fn alive(&self, now: i64, absolute_secs: u64) -> bool {
        now < self.created_at + absolute_secs as i64
    }
}

/// A live hub session as found for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSession {
    pub id: SessionId,
    pub session: HubSession,
}

/// Something that happened to a journey.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The person chose a provider; `endpoint` is its authorization endpoint, or why it is unknown.
    Chose {
        provider: ProviderId,
        endpoint: Result<String, String>,
        secrets: UpstreamSecrets,
    },
    /// The provider answered the journey's current attempt. `new_session` is the id a new hub session
    /// takes if this answer starts one.
    Answered { answer: Answer, new_session: SessionId },
    /// The person agreed (or not) to release identity claims.
    Consent { accept: bool },
    /// The person went back to the service without finishing.
    ReturnToService,
}

impl Event {
    /// The event's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Chose { .. } => "chose",
            Event::Answered { .. } => "answered",
            Event::Consent { .. } => "consent",
            Event::ReturnToService => "return_to_service",
        }
    }
}

/// A provider's answer, once the hub has checked it (INTERFACE.md §9 outcome table).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Every check passed: this is who the provider says the person is.
    Authenticated(Person),
    /// `access_denied`: the person failed or cancelled.
    Denied,
    /// `unmet_authentication_requirements`.
    LevelNotReached,
    /// `access_denied` with an identity check pending.
    Pending,
    /// `access_denied` with fraud suspected.
    FraudSuspected,
    /// The provider is down or timed out.
    Unavailable { reason: String },
    /// The provider answered and a check refused the answer (bad signature, wrong `iss`, …).
    Invalid { reason: String },
}

/// What a person is told on a page of its own, the journey kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The provider is down or answered wrongly: choose another.
    ProviderProblem(ProviderId),
    /// The person failed or cancelled at the provider.
    Denied(ProviderId),
    /// The provider's identity check is pending.
    IdentityPending(ProviderId),
    /// The provider could not prove identity (fraud suspected, or failed).
    IdentityFailed(ProviderId),
}

/// A new hub session, started because a provider authenticated the person at the level.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub id: SessionId,
    pub session: HubSession,
}

/// What the hub asserts to the service: the code's content, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    pub request: AuthRequest,
    pub sid: Sid,
    pub person: Person,
    /// The vector `vot` reports.
    pub vector: Vector,
    /// The identity claims to release (asked, registered, supplied, and consented to).
    pub release: Vec<String>,
    pub return_code: Option<&'static str>,
    /// The hub session to record the service in, for back-channel logout.
    pub session: Option<SessionId>,
    /// Whether a hub session served it without a provider.
    pub single_sign_on: bool,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Keep the journey and show the provider choice.
    Choose(Journey),
    /// The choice was not one on offer: the choice page again, with an error; nothing changes.
    ChoiceRefused,
    /// Keep the journey (now waiting at the provider) and send the person to `endpoint`.
    GoToProvider { journey: Journey, endpoint: String },
    /// Keep the journey and ask the person's consent.
    AskConsent {
        journey: Journey,
        new_session: Option<NewSession>,
    },
    /// End the journey: issue the code.
    Assert {
        assertion: Box<Assertion>,
        new_session: Option<NewSession>,
    },
    /// Keep the journey and show the person a notice with a way on.
    Tell { journey: Journey, notice: Notice },
    /// End the journey: send the person back to the service with an error.
    Return {
        to: ReturnTo,
        client_id: ClientId,
        code: ErrorCode,
        description: &'static str,
    },
}

/// A decision and the audit facts it implies.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub decision: Decision,
    pub facts: Vec<Fact>,
}

/// Why the journey cannot take an event. Each renders as a page with a way on, never a 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JourneyError {
    #[error("a journey at stage {stage} cannot take {event}")]
    Illegal { stage: &'static str, event: &'static str },
    #[error("the journey is not waiting for this provider answer")]
    NotAwaiting,
    #[error("the service of this journey is no longer registered")]
    ServiceGone,
    #[error("the provider of this journey is no longer registered")]
    ProviderGone,
}
