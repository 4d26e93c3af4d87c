//! The transitions of a journey, every one of them, as pure functions (DESIGN.md "One sign-in",
//! INTERFACE.md §2 `prompt`/`max_age`, §5 `returnCode`, §9 outcome table). [`start`] decides a new
//! request (single sign-on, `prompt`, `max_age`, or the provider choice); [`decide`] takes one
//! [`Event`] at the journey's [`Stage`].

use super::{
    Answer, Assertion, AuthRequest, Binding, Decided, Decision, Event, HubSession, IdentityOutcome, Journey,
    JourneyError, LiveSession, NewSession, Notice, Person, Stage, UpstreamAttempt,
};
use crate::{
    audit::event::{Fact, ProviderOutcome},
    identity::RETURN_CODE,
    ids::{constant_time_eq, SessionId, Sid},
    oauth::{ErrorCode, Prompt},
    registry::Snapshot,
    vtr::{self, Vector},
};

/// Whether the service asked for (and is registered for) the `returnCode` claim.
pub fn wants_return_code(request: &AuthRequest) -> bool {
    request.claims.iter().any(|c| c == RETURN_CODE)
}

/// The identity claims an assertion at `met` would release: asked for (within the client's
/// registration), and registered for the provider to supply. None below an identity level.
pub fn release(reg: &Snapshot, request: &AuthRequest, person: &Person, met: &Vector) -> Vec<String> {
    if !met.asks_identity() {
        return Vec::new();
    }
    let Some(provider) = reg.provider(person.provider.as_str()) else {
        return Vec::new();
    };
    request
        .claims
        .iter()
        .filter(|c| c.as_str() != RETURN_CODE && provider.claims.contains(c))
        .cloned()
        .collect()
}

/// The person and the claims the consent page asks about, for a journey waiting for consent.
pub fn consent_items<'a>(journey: &'a Journey, reg: &Snapshot) -> Result<(&'a Person, Vec<String>), JourneyError> {
    match &journey.stage {
        Stage::Consenting { person, met, .. } => Ok((person, release(reg, &journey.request, person, met))),
        other => Err(JourneyError::Illegal {
            stage: other.name(),
            event: "show_consent",
        }),
    }
}

/// The attempt a provider's answer must belong to: the journey is at a provider, with this `state`.
pub fn awaiting<'a>(journey: &'a Journey, state: &str) -> Result<&'a UpstreamAttempt, JourneyError> {
    match &journey.stage {
        Stage::AtProvider { attempt, .. } if constant_time_eq(attempt.secrets.state.as_str(), state) => Ok(attempt),
        _ => Err(JourneyError::NotAwaiting),
    }
}

/// Whether a hub session can serve this request without a provider (single sign-on): not
/// `prompt=login`, authenticated within `max_age`, at a level that meets a wanted vector.
pub fn sso_vector(request: &AuthRequest, session: &HubSession, now: i64) -> Option<Vector> {
    if request.prompt == Some(Prompt::Login) {
        return None;
    }
    if request
        .max_age
        .is_some_and(|max_age| now - session.person.auth_time > max_age)
    {
        return None;
    }
    vtr::met(&session.person.vector, &request.vtr).copied()
}

fn returned(request: &AuthRequest, code: ErrorCode, description: &'static str) -> Decided {
    Decided {
        facts: vec![Fact::ReturnedWithError {
            client_id: request.client_id.clone(),
            error: code,
        }],
        decision: Decision::Return {
            to: request.return_to.clone(),
            client_id: request.client_id.clone(),
            code,
            description,
        },
    }
}

/// A new, validated request: single sign-on from a live session, `prompt=none` answered at once, or the
/// provider choice. `sid` is the fresh id the journey's assertion will carry; `binding` ties it to the
/// browser.
pub fn start(
    request: AuthRequest,
    session: Option<&LiveSession>,
    reg: &Snapshot,
    now: i64,
    sid: Sid,
    binding: Binding,
) -> Result<Decided, JourneyError> {
    if reg.client(request.client_id.as_str()).is_none() {
        return Err(JourneyError::ServiceGone);
    }
    let sso = session.and_then(|s| sso_vector(&request, &s.session, now).map(|met| (s, met)));
    let started = Fact::JourneyStarted {
        client_id: request.client_id.clone(),
        levels_asked: request.vtr.clone(),
        single_sign_on: sso.is_some(),
    };
    let journey = Journey {
        request,
        binding,
        created_at: now,
        sid,
        failed: Vec::new(),
        stage: Stage::Choosing {
            fell_short: None,
            below: None,
        },
        trace: None,
    };
    let mut decided = match sso {
        None if journey.request.prompt == Some(Prompt::None) => returned(
            &journey.request,
            ErrorCode::LoginRequired,
            "no session at the hub meets the request",
        ),
        None => {
            // No provider can reach a wanted level (OIDC Unmet Authentication Requirements 1.0 §2), or
            // every one that can is down (INTERFACE.md §2): the service is told at once, rather than the
            // person being shown a choice with nothing to choose.
            let able: Vec<bool> = reg
                .providers
                .able_to_reach(&journey.request.vtr)
                .map(|p| p.temporarily_unavailable)
                .collect();
            if able.is_empty() {
                returned(
                    &journey.request,
                    ErrorCode::UnmetAuthenticationRequirements,
                    "no identity provider of this hub can reach the level asked for",
                )
            } else if able.iter().all(|down| *down) {
                returned(
                    &journey.request,
                    ErrorCode::TemporarilyUnavailable,
                    "every identity provider able to reach the level asked for is unavailable",
                )
            } else {
                Decided {
                    decision: Decision::Choose(journey),
                    facts: Vec::new(),
                }
            }
        }
        Some((live, met)) => {
            let person = live.session.person.clone();
            if journey.request.prompt == Some(Prompt::None) && !release(reg, &journey.request, &person, &met).is_empty()
            {
                returned(
                    &journey.request,
                    ErrorCode::ConsentRequired,
                    "the person must consent to share identity claims",
                )
            } else {
                proceed(journey, person, met, live.id.clone(), None, reg, true)
            }
        }
    };
    decided.facts.insert(0, started);
    Ok(decided)
}

/// The level is met: ask consent when identity claims would be released, else assert.
fn proceed(
    journey: Journey,
    person: Person,
    met: Vector,
    session: SessionId,
    new_session: Option<NewSession>,
    reg: &Snapshot,
    single_sign_on: bool,
) -> Decided {
    let release = release(reg, &journey.request, &person, &met);
    if release.is_empty() {
        return Decided {
            decision: Decision::Assert {
                assertion: Box::new(Assertion {
                    request: journey.request,
                    sid: journey.sid,
                    person,
                    vector: met,
                    release,
                    return_code: None,
                    session: Some(session),
                    single_sign_on,
                }),
                new_session,
            },
            facts: Vec::new(),
        };
    }
    Decided {
        decision: Decision::AskConsent {
            journey: Journey {
                stage: Stage::Consenting { person, met, session },
                ..journey
            },
            new_session,
        },
        facts: Vec::new(),
    }
}

/// An assertion of a failed identity check, for a service that asked for `returnCode`: the credential
/// level the person reached, no identity claims, no session.
fn assert_return_code(journey: Journey, person: Person) -> Decided {
    let outcome = person.identity_outcome.unwrap_or(IdentityOutcome::Failed);
    let vector = Vector {
        credential: person.vector.credential,
        identity: None,
    };
    Decided {
        decision: Decision::Assert {
            assertion: Box::new(Assertion {
                request: journey.request,
                sid: journey.sid,
                person,
                vector,
                release: Vec::new(),
                return_code: Some(outcome.return_code()),
                session: None,
                single_sign_on: false,
            }),
            new_session: None,
        },
        facts: Vec::new(),
    }
}

fn answered(
    journey: &Journey,
    attempt: &UpstreamAttempt,
    outcome: ProviderOutcome,
    level: Option<Vector>,
    reason: Option<String>,
) -> Fact {
    Fact::ProviderAnswered {
        client_id: journey.request.client_id.clone(),
        provider_id: attempt.provider.clone(),
        outcome,
        level_reached: level,
        reason,
    }
}

fn keep(journey: Journey, stage: Stage) -> Journey {
    Journey { stage, ..journey }
}

/// Takes one event at the journey's stage (the whole transition table).
pub fn decide(journey: Journey, event: Event, reg: &Snapshot, now: i64) -> Result<Decided, JourneyError> {
    let illegal = |journey: &Journey, event: &Event| JourneyError::Illegal {
        stage: journey.stage.name(),
        event: event.name(),
    };
    if reg.client(journey.request.client_id.as_str()).is_none() {
        return Err(JourneyError::ServiceGone);
    }
    match event {
        Event::Chose {
            provider,
            endpoint,
            secrets,
        } => {
            let below = match &journey.stage {
                Stage::Choosing { below, .. } | Stage::AtProvider { below, .. } => below.clone(),
                Stage::Consenting { .. } => {
                    return Err(illegal(
                        &journey,
                        &Event::Chose {
                            provider,
                            endpoint,
                            secrets,
                        },
                    ))
                }
            };
            if reg
                .providers
                .choosable(provider.as_str(), &journey.request.vtr)
                .is_none()
            {
                return Ok(Decided {
                    decision: Decision::ChoiceRefused,
                    facts: Vec::new(),
                });
            }
            let client_id = journey.request.client_id.clone();
            match endpoint {
                Err(reason) => {
                    let mut journey = keep(
                        journey,
                        Stage::Choosing {
                            fell_short: None,
                            below,
                        },
                    );
                    if !journey.failed.contains(&provider) {
                        journey.failed.push(provider.clone());
                    }
                    Ok(Decided {
                        facts: vec![Fact::ProviderAnswered {
                            client_id,
                            provider_id: provider.clone(),
                            outcome: ProviderOutcome::Unavailable,
                            level_reached: None,
                            reason: Some(reason),
                        }],
                        decision: Decision::Tell {
                            journey,
                            notice: Notice::ProviderProblem(provider),
                        },
                    })
                }
                Ok(endpoint) => {
                    let attempt = UpstreamAttempt {
                        provider: provider.clone(),
                        secrets,
                        started_at: now,
                    };
                    Ok(Decided {
                        facts: vec![Fact::ProviderChosen {
                            client_id,
                            provider_id: provider,
                        }],
                        decision: Decision::GoToProvider {
                            journey: keep(journey, Stage::AtProvider { attempt, below }),
                            endpoint,
                        },
                    })
                }
            }
        }

        Event::Answered { answer, new_session } => {
            let (attempt, below) = match &journey.stage {
                Stage::AtProvider { attempt, below } => (attempt.clone(), below.clone()),
                _ => return Err(illegal(&journey, &Event::Answered { answer, new_session })),
            };
            if reg.provider(attempt.provider.as_str()).is_none() {
                return Err(JourneyError::ProviderGone);
            }
            let provider = attempt.provider.clone();
            let choosing = |fell_short, below| Stage::Choosing { fell_short, below };
            let (outcome, level, reason) = match &answer {
                Answer::Authenticated(p) => (
                    if vtr::met(&p.vector, &journey.request.vtr).is_some() {
                        ProviderOutcome::Success
                    } else {
                        match p.identity_outcome {
                            Some(IdentityOutcome::Pending) => ProviderOutcome::Pending,
                            Some(IdentityOutcome::FraudSuspected) => ProviderOutcome::FraudSuspected,
                            _ => ProviderOutcome::LevelNotReached,
                        }
                    },
                    Some(p.vector),
                    None,
                ),
                Answer::Denied => (ProviderOutcome::Denied, None, None),
                Answer::LevelNotReached => (ProviderOutcome::LevelNotReached, None, None),
                Answer::Pending => (ProviderOutcome::Pending, None, None),
                Answer::FraudSuspected => (ProviderOutcome::FraudSuspected, None, None),
                Answer::Unavailable { reason } => (ProviderOutcome::Unavailable, None, Some(reason.clone())),
                Answer::Invalid { reason } => (ProviderOutcome::Invalid, None, Some(reason.clone())),
            };
            let fact = answered(&journey, &attempt, outcome, level, reason);
            let tell = |journey: Journey, stage: Stage, notice: Notice| Decision::Tell {
                journey: keep(journey, stage),
                notice,
            };
            let decision = match answer {
                Answer::Unavailable { .. } | Answer::Invalid { .. } => {
                    let mut journey = keep(journey, choosing(None, below));
                    if !journey.failed.contains(&provider) {
                        journey.failed.push(provider.clone());
                    }
                    Decision::Tell {
                        journey,
                        notice: Notice::ProviderProblem(provider),
                    }
                }
                Answer::Denied => tell(journey, choosing(None, below), Notice::Denied(provider)),
                Answer::LevelNotReached => Decision::Choose(keep(journey, choosing(Some(provider), below))),
                Answer::Pending => tell(journey, choosing(None, below), Notice::IdentityPending(provider)),
                Answer::FraudSuspected => tell(journey, choosing(None, below), Notice::IdentityFailed(provider)),
                Answer::Authenticated(person) => match vtr::met(&person.vector, &journey.request.vtr).copied() {
                    Some(met) => {
                        let new_session = NewSession {
                            id: new_session,
                            session: HubSession {
                                person: person.clone(),
                                created_at: now,
                                clients: Vec::new(),
                            },
                        };
                        let id = new_session.id.clone();
                        let mut decided = proceed(journey, person, met, id, Some(new_session), reg, false);
                        decided.facts.insert(0, fact);
                        return Ok(decided);
                    }
                    None => match person.identity_outcome {
                        Some(_) if wants_return_code(&journey.request) => {
                            let mut decided = assert_return_code(journey, person);
                            decided.facts.insert(0, fact);
                            return Ok(decided);
                        }
                        None => Decision::Choose(keep(journey, choosing(Some(provider), Some(person)))),
                        Some(IdentityOutcome::Pending) => {
                            tell(journey, choosing(None, Some(person)), Notice::IdentityPending(provider))
                        }
                        Some(_) => tell(journey, choosing(None, Some(person)), Notice::IdentityFailed(provider)),
                    },
                },
            };
            Ok(Decided {
                decision,
                facts: vec![fact],
            })
        }

        Event::Consent { accept } => {
            let Stage::Consenting { person, met, session } = journey.stage.clone() else {
                return Err(illegal(&journey, &Event::Consent { accept }));
            };
            let client_id = journey.request.client_id.clone();
            if !accept {
                let mut decided = returned(
                    &journey.request,
                    ErrorCode::AccessDenied,
                    "the person declined to share their identity",
                );
                decided.facts.insert(0, Fact::ConsentDeclined { client_id });
                return Ok(decided);
            }
            let release = release(reg, &journey.request, &person, &met);
            Ok(Decided {
                facts: vec![Fact::ConsentGiven {
                    client_id,
                    claims: release.clone(),
                }],
                decision: Decision::Assert {
                    assertion: Box::new(Assertion {
                        request: journey.request,
                        sid: journey.sid,
                        person,
                        vector: met,
                        release,
                        return_code: None,
                        session: Some(session),
                        single_sign_on: false,
                    }),
                    new_session: None,
                },
            })
        }

        Event::ReturnToService => match &journey.stage {
            Stage::Choosing {
                below: Some(person), ..
            } if wants_return_code(&journey.request) => {
                let person = person.clone();
                Ok(assert_return_code(journey, person))
            }
            _ => Ok(returned(
                &journey.request,
                ErrorCode::AccessDenied,
                "the person returned to the service without signing in",
            )),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::{
        ids::ProviderId,
        journey::UpstreamSecrets,
        oauth::{ResponseMode, ReturnTo},
        registry::{ClientRegistry, ProviderRegistry},
    };
    use serde_json::Map;
    use std::sync::Arc;

    const NOW: i64 = 1_000_000;
    const CORE: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";

    fn reg() -> Snapshot {
        Snapshot {
            clients: Arc::new(
                ClientRegistry::parse(
                    r#"[[clients]]
                    client_id = "svc"
                    client_name = "Service"
                    redirect_uris = ["https://svc.example/cb"]
                    jwks_uri = "https://svc.example/jwks"
                    levels = ["Cl.Cm", "Cl.Cm.P2"]
                    claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT", "https://vocab.account.gov.uk/v1/returnCode"]"#,
                )
                .unwrap(),
            ),
            providers: Arc::new(
                ProviderRegistry::parse(
                    r#"[[providers]]
                    id = "idp"
                    name = "IdP"
                    name_cy = "IdP"
                    issuer = "https://idp.example"
                    client_id = "hub"
                    levels = ["Cl.Cm", "Cl.Cm.P2"]
                    claims = ["https://vocab.account.gov.uk/v1/coreIdentityJWT"]
                    [[providers]]
                    id = "down"
                    name = "Down"
                    name_cy = "Down"
                    issuer = "https://down.example"
                    client_id = "hub"
                    levels = ["Cl.Cm", "Cl.Cm.P2"]
                    temporarily_unavailable = true"#,
                )
                .unwrap(),
            ),
        }
    }

    fn request(vtr: &str, claims: &[&str]) -> AuthRequest {
        AuthRequest {
            client_id: "svc".into(),
            return_to: ReturnTo {
                redirect_uri: "https://svc.example/cb".into(),
                state: Some("st".into()),
                response_mode: ResponseMode::Query,
            },
            nonce: Some("n".into()),
            code_challenge: None,
            scopes: vec!["openid".into()],
            vtr: vec![Vector::parse(vtr).unwrap()],
            claims: claims.iter().map(|c| c.to_string()).collect(),
            ui_locales: None,
            prompt: None,
            max_age: None,
            dpop_jkt: None,
            pushed: None,
        }
    }

    fn person(vector: &str, outcome: Option<IdentityOutcome>) -> Person {
        Person {
            provider: "idp".into(),
            provider_issuer: "https://idp.example".into(),
            provider_sub: "p-sub".into(),
            vector: Vector::parse(vector).unwrap(),
            auth_time: NOW - 10,
            claims: Map::new(),
            identity_outcome: outcome,
        }
    }

    fn binding() -> Binding {
        Binding {
            browser: "browser-hash".into(),
            csrf: "csrf".into(),
        }
    }

    fn journey(req: AuthRequest, stage: Stage) -> Journey {
        Journey {
            request: req,
            binding: binding(),
            created_at: NOW,
            sid: Sid::generate(),
            failed: Vec::new(),
            stage,
            trace: None,
        }
    }

    fn attempt() -> UpstreamAttempt {
        UpstreamAttempt {
            provider: "idp".into(),
            secrets: UpstreamSecrets::generate(),
            started_at: NOW,
        }
    }

    fn choosing() -> Stage {
        Stage::Choosing {
            fell_short: None,
            below: None,
        }
    }
    fn choosing_below() -> Stage {
        Stage::Choosing {
            fell_short: Some("idp".into()),
            below: Some(person("Cl.Cm", None)),
        }
    }
    fn at_provider() -> Stage {
        Stage::AtProvider {
            attempt: attempt(),
            below: None,
        }
    }
    fn consenting() -> Stage {
        Stage::Consenting {
            person: person("Cl.Cm.P2", None),
            met: Vector::parse("Cl.Cm.P2").unwrap(),
            session: SessionId::generate(),
        }
    }

    fn chose(provider: &str, endpoint: Result<&str, &str>) -> Event {
        Event::Chose {
            provider: ProviderId::from(provider),
            endpoint: endpoint.map(str::to_string).map_err(str::to_string),
            secrets: UpstreamSecrets::generate(),
        }
    }
    fn answer(a: Answer) -> Event {
        Event::Answered {
            answer: a,
            new_session: SessionId::generate(),
        }
    }

    /// A short name for a decision's kind, with what a table needs to tell them apart.
    fn kind(d: &Decision) -> String {
        match d {
            Decision::Choose(j) => match &j.stage {
                Stage::Choosing {
                    fell_short: Some(_), ..
                } => "choose(fell_short)".into(),
                _ => "choose".into(),
            },
            Decision::ChoiceRefused => "choice_refused".into(),
            Decision::GoToProvider { .. } => "go_to_provider".into(),
            Decision::AskConsent { new_session, .. } => format!("ask_consent(new_session={})", new_session.is_some()),
            Decision::Assert { assertion, new_session } => format!(
                "assert(return_code={:?}, new_session={})",
                assertion.return_code,
                new_session.is_some()
            ),
            Decision::Tell { notice, .. } => format!("tell({notice:?})").replace("ProviderId(\"idp\")", "idp"),
            Decision::Return { code, .. } => format!("return({code})"),
        }
    }

    /// Every (stage, event) pair, the illegal ones included.
    #[test]
    fn transition_table() {
        let p2 = || request("Cl.Cm.P2", &[CORE]);
        let p2_rc = || request("Cl.Cm.P2", &[CORE, RETURN_CODE]);
        type Make<T> = Box<dyn Fn() -> T>;
        let stages: Vec<(&str, Make<Journey>)> = vec![
            ("choosing", Box::new(move || journey(p2(), choosing()))),
            (
                "choosing_below+rc",
                Box::new(move || journey(p2_rc(), choosing_below())),
            ),
            ("at_provider", Box::new(move || journey(p2(), at_provider()))),
            ("at_provider+rc", Box::new(move || journey(p2_rc(), at_provider()))),
            ("consenting", Box::new(move || journey(p2(), consenting()))),
        ];
        let events: Vec<(&str, Make<Event>)> = vec![
            ("chose", Box::new(|| chose("idp", Ok("https://idp.example/authorize")))),
            (
                "chose_down",
                Box::new(|| chose("down", Ok("https://down.example/authorize"))),
            ),
            ("chose_unknown", Box::new(|| chose("nope", Ok("https://x")))),
            ("chose_no_discovery", Box::new(|| chose("idp", Err("discovery failed")))),
            (
                "answer_p2",
                Box::new(|| answer(Answer::Authenticated(person("Cl.Cm.P2", None)))),
            ),
            (
                "answer_cl_cm",
                Box::new(|| answer(Answer::Authenticated(person("Cl.Cm", None)))),
            ),
            (
                "answer_pending_person",
                Box::new(|| answer(Answer::Authenticated(person("Cl.Cm", Some(IdentityOutcome::Pending))))),
            ),
            (
                "answer_fraud_person",
                Box::new(|| {
                    answer(Answer::Authenticated(person(
                        "Cl.Cm",
                        Some(IdentityOutcome::FraudSuspected),
                    )))
                }),
            ),
            ("answer_denied", Box::new(|| answer(Answer::Denied))),
            ("answer_unmet", Box::new(|| answer(Answer::LevelNotReached))),
            ("answer_pending", Box::new(|| answer(Answer::Pending))),
            ("answer_fraud", Box::new(|| answer(Answer::FraudSuspected))),
            (
                "answer_down",
                Box::new(|| {
                    answer(Answer::Unavailable {
                        reason: "timeout".into(),
                    })
                }),
            ),
            (
                "answer_invalid",
                Box::new(|| {
                    answer(Answer::Invalid {
                        reason: "bad signature".into(),
                    })
                }),
            ),
            ("consent_yes", Box::new(|| Event::Consent { accept: true })),
            ("consent_no", Box::new(|| Event::Consent { accept: false })),
            ("return", Box::new(|| Event::ReturnToService)),
        ];
        let illegal = "illegal";
        #[rustfmt::skip]
        let want: &[(&str, &str, &str)] = &[
            ("choosing", "chose", "go_to_provider"),
            ("choosing", "chose_down", "choice_refused"),
            ("choosing", "chose_unknown", "choice_refused"),
            ("choosing", "chose_no_discovery", "tell(ProviderProblem(idp))"),
            ("choosing", "answer_p2", illegal),
            ("choosing", "answer_cl_cm", illegal),
            ("choosing", "answer_pending_person", illegal),
            ("choosing", "answer_fraud_person", illegal),
            ("choosing", "answer_denied", illegal),
            ("choosing", "answer_unmet", illegal),
            ("choosing", "answer_pending", illegal),
            ("choosing", "answer_fraud", illegal),
            ("choosing", "answer_down", illegal),
            ("choosing", "answer_invalid", illegal),
            ("choosing", "consent_yes", illegal),
            ("choosing", "consent_no", illegal),
            ("choosing", "return", "return(access_denied)"),
            ("choosing_below+rc", "chose", "go_to_provider"),
            ("choosing_below+rc", "chose_down", "choice_refused"),
            ("choosing_below+rc", "chose_unknown", "choice_refused"),
            ("choosing_below+rc", "chose_no_discovery", "tell(ProviderProblem(idp))"),
            ("choosing_below+rc", "answer_p2", illegal),
            ("choosing_below+rc", "answer_cl_cm", illegal),
            ("choosing_below+rc", "answer_pending_person", illegal),
            ("choosing_below+rc", "answer_fraud_person", illegal),
            ("choosing_below+rc", "answer_denied", illegal),
            ("choosing_below+rc", "answer_unmet", illegal),
            ("choosing_below+rc", "answer_pending", illegal),
            ("choosing_below+rc", "answer_fraud", illegal),
            ("choosing_below+rc", "answer_down", illegal),
            ("choosing_below+rc", "answer_invalid", illegal),
            ("choosing_below+rc", "consent_yes", illegal),
            ("choosing_below+rc", "consent_no", illegal),
            ("choosing_below+rc", "return", "assert(return_code=Some(\"X\"), new_session=false)"),
            ("at_provider", "chose", "go_to_provider"),
            ("at_provider", "chose_down", "choice_refused"),
            ("at_provider", "chose_unknown", "choice_refused"),
            ("at_provider", "chose_no_discovery", "tell(ProviderProblem(idp))"),
            ("at_provider", "answer_p2", "ask_consent(new_session=true)"),
            ("at_provider", "answer_cl_cm", "choose(fell_short)"),
            ("at_provider", "answer_pending_person", "tell(IdentityPending(idp))"),
            ("at_provider", "answer_fraud_person", "tell(IdentityFailed(idp))"),
            ("at_provider", "answer_denied", "tell(Denied(idp))"),
            ("at_provider", "answer_unmet", "choose(fell_short)"),
            ("at_provider", "answer_pending", "tell(IdentityPending(idp))"),
            ("at_provider", "answer_fraud", "tell(IdentityFailed(idp))"),
            ("at_provider", "answer_down", "tell(ProviderProblem(idp))"),
            ("at_provider", "answer_invalid", "tell(ProviderProblem(idp))"),
            ("at_provider", "consent_yes", illegal),
            ("at_provider", "consent_no", illegal),
            ("at_provider", "return", "return(access_denied)"),
            ("at_provider+rc", "chose", "go_to_provider"),
            ("at_provider+rc", "chose_down", "choice_refused"),
            ("at_provider+rc", "chose_unknown", "choice_refused"),
            ("at_provider+rc", "chose_no_discovery", "tell(ProviderProblem(idp))"),
            ("at_provider+rc", "answer_p2", "ask_consent(new_session=true)"),
            ("at_provider+rc", "answer_cl_cm", "choose(fell_short)"),
            ("at_provider+rc", "answer_pending_person", "assert(return_code=Some(\"P\"), new_session=false)"),
            ("at_provider+rc", "answer_fraud_person", "assert(return_code=Some(\"F\"), new_session=false)"),
            ("at_provider+rc", "answer_denied", "tell(Denied(idp))"),
            ("at_provider+rc", "answer_unmet", "choose(fell_short)"),
            ("at_provider+rc", "answer_pending", "tell(IdentityPending(idp))"),
            ("at_provider+rc", "answer_fraud", "tell(IdentityFailed(idp))"),
            ("at_provider+rc", "answer_down", "tell(ProviderProblem(idp))"),
            ("at_provider+rc", "answer_invalid", "tell(ProviderProblem(idp))"),
            ("at_provider+rc", "consent_yes", illegal),
            ("at_provider+rc", "consent_no", illegal),
            ("at_provider+rc", "return", "return(access_denied)"),
            ("consenting", "chose", illegal),
            ("consenting", "chose_down", illegal),
            ("consenting", "chose_unknown", illegal),
            ("consenting", "chose_no_discovery", illegal),
            ("consenting", "answer_p2", illegal),
            ("consenting", "answer_cl_cm", illegal),
            ("consenting", "answer_pending_person", illegal),
            ("consenting", "answer_fraud_person", illegal),
            ("consenting", "answer_denied", illegal),
            ("consenting", "answer_unmet", illegal),
            ("consenting", "answer_pending", illegal),
            ("consenting", "answer_fraud", illegal),
            ("consenting", "answer_down", illegal),
            ("consenting", "answer_invalid", illegal),
            ("consenting", "consent_yes", "assert(return_code=None, new_session=false)"),
            ("consenting", "consent_no", "return(access_denied)"),
            ("consenting", "return", "return(access_denied)"),
        ];
        assert_eq!(want.len(), stages.len() * events.len(), "every pair is in the table");
        let reg = reg();
        for (stage_name, make_journey) in &stages {
            for (event_name, make_event) in &events {
                let expected = want
                    .iter()
                    .find(|(s, e, _)| s == stage_name && e == event_name)
                    .map(|(_, _, w)| *w)
                    .unwrap_or_else(|| panic!("{stage_name} × {event_name} missing from the table"));
                let got = match decide(make_journey(), make_event(), &reg, NOW) {
                    Ok(decided) => kind(&decided.decision),
                    Err(JourneyError::Illegal { .. }) => illegal.to_string(),
                    Err(e) => format!("error: {e}"),
                };
                assert_eq!(got, expected, "{stage_name} × {event_name}");
            }
        }
    }

    #[test]
    fn a_removed_service_or_provider_ends_the_journey_with_an_error() {
        let mut reg = reg();
        let j = journey(request("Cl.Cm", &[]), at_provider());
        reg.providers = Arc::new(ProviderRegistry::default());
        assert_eq!(
            decide(j.clone(), answer(Answer::Denied), &reg, NOW).err(),
            Some(JourneyError::ProviderGone)
        );
        reg.clients = Arc::new(ClientRegistry::default());
        assert_eq!(
            decide(j, Event::ReturnToService, &reg, NOW).err(),
            Some(JourneyError::ServiceGone)
        );
    }

    #[test]
    fn failures_mark_the_provider_and_keep_what_fell_short() {
        let reg = reg();
        let j = journey(request("Cl.Cm.P2", &[CORE]), at_provider());
        let decided = decide(j, answer(Answer::Invalid { reason: "nonce".into() }), &reg, NOW).unwrap();
        let Decision::Tell { journey: told, .. } = decided.decision else {
            panic!("{decided:?}")
        };
        assert_eq!(told.failed, vec![ProviderId::from("idp")]);
        assert!(matches!(
            &decided.facts[..],
            [Fact::ProviderAnswered {
                outcome: ProviderOutcome::Invalid,
                reason: Some(_),
                ..
            }]
        ));
        let below = journey(request("Cl.Cm.P2", &[CORE]), at_provider());
        let decided = decide(below, answer(Answer::Authenticated(person("Cl.Cm", None))), &reg, NOW).unwrap();
        let Decision::Choose(j) = decided.decision else {
            panic!()
        };
        assert!(matches!(
            j.stage,
            Stage::Choosing {
                below: Some(_),
                fell_short: Some(_)
            }
        ));
    }

    #[test]
    fn start_table() {
        let reg = reg();
        let live = |vector: &str, auth_time: i64| LiveSession {
            id: SessionId::generate(),
            session: HubSession {
                person: Person {
                    auth_time,
                    ..person(vector, None)
                },
                created_at: NOW - 100,
                clients: Vec::new(),
            },
        };
        let with = |f: &dyn Fn(&mut AuthRequest)| {
            let mut r = request("Cl.Cm", &[]);
            f(&mut r);
            r
        };
        let p2 = |f: &dyn Fn(&mut AuthRequest)| {
            let mut r = request("Cl.Cm.P2", &[CORE]);
            f(&mut r);
            r
        };
        let cases: Vec<(&str, AuthRequest, Option<LiveSession>, &str)> = vec![
            ("no session", with(&|_| {}), None, "choose"),
            (
                "session meets",
                with(&|_| {}),
                Some(live("Cl.Cm", NOW - 10)),
                "assert(return_code=None, new_session=false)",
            ),
            ("session below", p2(&|_| {}), Some(live("Cl.Cm", NOW - 10)), "choose"),
            (
                "session meets P2 with claims",
                p2(&|_| {}),
                Some(live("Cl.Cm.P2", NOW - 10)),
                "ask_consent(new_session=false)",
            ),
            (
                "prompt=login",
                with(&|r| r.prompt = Some(Prompt::Login)),
                Some(live("Cl.Cm", NOW - 10)),
                "choose",
            ),
            (
                "prompt=none, no session",
                with(&|r| r.prompt = Some(Prompt::None)),
                None,
                "return(login_required)",
            ),
            (
                "prompt=none, session",
                with(&|r| r.prompt = Some(Prompt::None)),
                Some(live("Cl.Cm", NOW - 10)),
                "assert(return_code=None, new_session=false)",
            ),
            (
                "prompt=none, claims",
                p2(&|r| r.prompt = Some(Prompt::None)),
                Some(live("Cl.Cm.P2", NOW - 10)),
                "return(consent_required)",
            ),
            (
                "max_age passed",
                with(&|r| r.max_age = Some(5)),
                Some(live("Cl.Cm", NOW - 10)),
                "choose",
            ),
            (
                "max_age within",
                with(&|r| r.max_age = Some(60)),
                Some(live("Cl.Cm", NOW - 10)),
                "assert(return_code=None, new_session=false)",
            ),
            (
                "no provider reaches P3",
                p2(&|r| r.vtr = vec![Vector::parse("Cl.Cm.P3").unwrap()]),
                None,
                "return(unmet_authentication_requirements)",
            ),
            (
                "a session meets P3 though no provider could now",
                p2(&|r| r.vtr = vec![Vector::parse("Cl.Cm.P3").unwrap()]),
                Some(live("Cl.Cm.P3", NOW - 10)),
                "ask_consent(new_session=false)",
            ),
        ];
        for (name, request, session, want) in cases {
            let decided = start(request, session.as_ref(), &reg, NOW, Sid::generate(), binding()).unwrap();
            assert_eq!(kind(&decided.decision), want, "{name}");
            assert!(
                matches!(decided.facts.first(), Some(Fact::JourneyStarted { .. })),
                "{name}: {:?}",
                decided.facts
            );
        }
    }

    #[test]
    fn every_provider_able_to_reach_the_level_down_is_temporarily_unavailable() {
        let mut reg = reg();
        reg.providers = Arc::new(
            ProviderRegistry::parse(
                r#"[[providers]]
                id = "p1"
                name = "P1 only"
                name_cy = "P1"
                issuer = "https://p1.example"
                client_id = "hub"
                levels = ["Cl.Cm.P1"]
                [[providers]]
                id = "down"
                name = "Down"
                name_cy = "Down"
                issuer = "https://down.example"
                client_id = "hub"
                levels = ["Cl.Cm", "Cl.Cm.P2"]
                temporarily_unavailable = true"#,
            )
            .unwrap(),
        );
        for (vtr, want) in [
            ("Cl.Cm.P2", "return(temporarily_unavailable)"),
            ("Cl.Cm.P1", "choose"),
            ("Cl.Cm.P3", "return(unmet_authentication_requirements)"),
        ] {
            let r = AuthRequest {
                vtr: vec![Vector::parse(vtr).unwrap()],
                ..request("Cl.Cm", &[])
            };
            let decided = start(r, None, &reg, NOW, Sid::generate(), binding()).unwrap();
            assert_eq!(kind(&decided.decision), want, "{vtr}");
        }
    }

    #[test]
    fn consent_and_callback_helpers_check_the_stage() {
        let reg = reg();
        let j = journey(request("Cl.Cm.P2", &[CORE]), consenting());
        let (_, items) = consent_items(&j, &reg).unwrap();
        assert_eq!(items, vec![CORE.to_string()]);
        assert!(consent_items(&journey(request("Cl.Cm", &[]), choosing()), &reg).is_err());
        let at = journey(request("Cl.Cm", &[]), at_provider());
        let Stage::AtProvider { attempt, .. } = &at.stage else {
            panic!()
        };
        assert!(awaiting(&at, attempt.secrets.state.as_str()).is_ok());
        assert_eq!(awaiting(&at, "other").err(), Some(JourneyError::NotAwaiting));
        assert_eq!(awaiting(&j, "x").err(), Some(JourneyError::NotAwaiting));
    }
}
