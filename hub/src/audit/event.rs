//! What the audit log records (DESIGN.md "Audit log"): one JSON object per step that matters, naming
//! services, providers, levels, outcomes, pseudonymous subjects, claim *names* and token *hashes*, and
//! never a name, birth date, address, document, email, phone, provider subject, code or token.
//!
//! Pure data: the journey's decisions produce these facts; the carrying-out adds the envelope
//! ([`crate::audit::Entry`]) and hands them to the [`crate::audit::AuditSink`].

use crate::{
    ids::{ClientId, PairwiseSub, ProviderId},
    oauth::ErrorCode,
    vtr::Vector,
};
use serde::{Deserialize, Serialize};

/// How a provider's answer ended (INTERFACE.md §9 outcome table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderOutcome {
    /// Authenticated at or above the wanted level.
    Success,
    /// Authenticated below the wanted level, or `unmet_authentication_requirements`.
    LevelNotReached,
    /// The person failed or cancelled at the provider (`access_denied`).
    Denied,
    /// The identity check is pending.
    Pending,
    /// Fraud is suspected.
    FraudSuspected,
    /// The provider is down or did not answer in time.
    Unavailable,
    /// The provider answered, and a check of the answer refused it.
    Invalid,
}

/// One auditable step. `event` is the entry's type tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Fact {
    /// A service started a sign-in, asking for these levels.
    JourneyStarted {
        client_id: ClientId,
        levels_asked: Vec<Vector>,
        /// Whether a hub session already met the request (single sign-on).
        single_sign_on: bool,
    },
    /// The person chose a provider.
    ProviderChosen {
        client_id: ClientId,
        provider_id: ProviderId,
    },
    /// A provider answered.
    ProviderAnswered {
        client_id: ClientId,
        provider_id: ProviderId,
        outcome: ProviderOutcome,
        /// The level the provider asserted, when it authenticated the person.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level_reached: Option<Vector>,
        /// Which check refused an invalid answer (no personal data).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The person agreed to release these identity claims to the service.
    ConsentGiven { client_id: ClientId, claims: Vec<String> },
    /// The person declined to release identity claims.
    ConsentDeclined { client_id: ClientId },
    /// The hub asserted who the person is: the code is about to be given to the service.
    AssertionIssued {
        client_id: ClientId,
        provider_id: ProviderId,
        sub: PairwiseSub,
        levels_asked: Vec<Vector>,
        level_reached: Vector,
        claims_released: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        return_code: Option<String>,
        /// SHA-256 (base64url) of the identity credential (`coreIdentityJWT`), when one was issued.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity_credential_sha256: Option<String>,
        single_sign_on: bool,
    },
    /// The journey went back to the service with an error.
    ReturnedWithError { client_id: ClientId, error: ErrorCode },
    /// A code was exchanged at the token endpoint.
    CodeRedeemed {
        client_id: ClientId,
        sub: PairwiseSub,
        id_token_sha256: String,
        access_token_sha256: String,
    },
    /// A code was presented a second time; the access token issued with it was revoked.
    CodeReuseDetected { client_id: ClientId },
    /// Userinfo was served for an access token.
    UserinfoServed {
        client_id: ClientId,
        sub: PairwiseSub,
        claims: Vec<String>,
    },
    /// A hub session ended by logout.
    LoggedOut {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<ClientId>,
        services_told: Vec<ClientId>,
    },
    /// A back-channel logout token was delivered, or delivery gave up.
    BackchannelLogout {
        client_id: ClientId,
        sub: PairwiseSub,
        delivered: bool,
        attempts: u32,
    },
    /// A hub session was found past its absolute lifetime and ended.
    SessionExpired,
    /// The registries were read again.
    RegistryReloaded {
        applied: bool,
        clients: usize,
        providers: usize,
    },
    /// A signing key was published, started signing, or was retired.
    KeyChanged {
        purpose: String,
        kid: String,
        change: String,
    },
}

impl Fact {
    /// The entry's type tag, as the log's `event` field writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Fact::JourneyStarted { .. } => "journey_started",
            Fact::ProviderChosen { .. } => "provider_chosen",
            Fact::ProviderAnswered { .. } => "provider_answered",
            Fact::ConsentGiven { .. } => "consent_given",
            Fact::ConsentDeclined { .. } => "consent_declined",
            Fact::AssertionIssued { .. } => "assertion_issued",
            Fact::ReturnedWithError { .. } => "returned_with_error",
            Fact::CodeRedeemed { .. } => "code_redeemed",
            Fact::CodeReuseDetected { .. } => "code_reuse_detected",
            Fact::UserinfoServed { .. } => "userinfo_served",
            Fact::LoggedOut { .. } => "logged_out",
            Fact::BackchannelLogout { .. } => "backchannel_logout",
            Fact::SessionExpired => "session_expired",
            Fact::RegistryReloaded { .. } => "registry_reloaded",
            Fact::KeyChanged { .. } => "key_changed",
        }
    }

    /// Whether the hub must not go on until this fact is durable ("no audit, no assertion").
    pub fn must_be_durable(&self) -> bool {
        matches!(self, Fact::AssertionIssued { .. })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn facts_serialize_with_their_kind_as_event() {
        let facts = [
            Fact::SessionExpired,
            Fact::ConsentDeclined {
                client_id: "svc".into(),
            },
            Fact::ProviderAnswered {
                client_id: "svc".into(),
                provider_id: "idp".into(),
                outcome: ProviderOutcome::Invalid,
                level_reached: None,
                reason: Some("nonce does not match".into()),
            },
        ];
        for fact in facts {
            let json = serde_json::to_value(&fact).unwrap();
            assert_eq!(json["event"], fact.kind());
            let back: Fact = serde_json::from_value(json).unwrap();
            assert_eq!(back, fact);
        }
    }

    /// One fact of each kind, every optional field set; the match makes a new kind fail to compile here.
    fn one_of_each() -> Vec<Fact> {
        let v = || Vector::parse("Cl.Cm.P2").unwrap();
        let all = vec![
            Fact::JourneyStarted {
                client_id: "svc".into(),
                levels_asked: vec![v()],
                single_sign_on: false,
            },
            Fact::ProviderChosen {
                client_id: "svc".into(),
                provider_id: "idp".into(),
            },
            Fact::ProviderAnswered {
                client_id: "svc".into(),
                provider_id: "idp".into(),
                outcome: ProviderOutcome::Success,
                level_reached: Some(v()),
                reason: Some("r".into()),
            },
            Fact::ConsentGiven {
                client_id: "svc".into(),
                claims: vec!["c".into()],
            },
            Fact::ConsentDeclined {
                client_id: "svc".into(),
            },
            Fact::AssertionIssued {
                client_id: "svc".into(),
                provider_id: "idp".into(),
                sub: PairwiseSub::from("urn:x"),
                levels_asked: vec![v()],
                level_reached: v(),
                claims_released: vec!["c".into()],
                return_code: Some("P".into()),
                identity_credential_sha256: Some("h".into()),
                single_sign_on: false,
            },
            Fact::ReturnedWithError {
                client_id: "svc".into(),
                error: ErrorCode::AccessDenied,
            },
            Fact::CodeRedeemed {
                client_id: "svc".into(),
                sub: PairwiseSub::from("urn:x"),
                id_token_sha256: "h".into(),
                access_token_sha256: "h".into(),
            },
            Fact::CodeReuseDetected {
                client_id: "svc".into(),
            },
            Fact::UserinfoServed {
                client_id: "svc".into(),
                sub: PairwiseSub::from("urn:x"),
                claims: vec!["c".into()],
            },
            Fact::LoggedOut {
                client_id: Some("svc".into()),
                services_told: vec!["svc".into()],
            },
            Fact::BackchannelLogout {
                client_id: "svc".into(),
                sub: PairwiseSub::from("urn:x"),
                delivered: true,
                attempts: 1,
            },
            Fact::SessionExpired,
            Fact::RegistryReloaded {
                applied: true,
                clients: 1,
                providers: 1,
            },
            Fact::KeyChanged {
                purpose: "id_token".into(),
                kid: "k".into(),
                change: "published".into(),
            },
        ];
        for f in &all {
            match f {
                Fact::JourneyStarted { .. }
                | Fact::ProviderChosen { .. }
                | Fact::ProviderAnswered { .. }
                | Fact::ConsentGiven { .. }
                | Fact::ConsentDeclined { .. }
                | Fact::AssertionIssued { .. }
                | Fact::ReturnedWithError { .. }
                | Fact::CodeRedeemed { .. }
                | Fact::CodeReuseDetected { .. }
                | Fact::UserinfoServed { .. }
                | Fact::LoggedOut { .. }
                | Fact::BackchannelLogout { .. }
                | Fact::SessionExpired
                | Fact::RegistryReloaded { .. }
                | Fact::KeyChanged { .. } => {}
            }
        }
        all
    }

    /// docs/audit-log.md is the entries' schema: it has a section for every event, naming every field.
    #[test]
    fn the_schema_in_the_docs_names_every_event_and_field() {
        let doc = include_str!("../../../docs/audit-log.md");
        let facts = one_of_each();
        let kinds: std::collections::BTreeSet<_> = facts.iter().map(Fact::kind).collect();
        assert_eq!(kinds.len(), facts.len(), "one_of_each repeats a kind");
        for fact in facts {
            let heading = format!("### `{}`", fact.kind());
            let at = doc
                .find(&heading)
                .unwrap_or_else(|| panic!("docs/audit-log.md has no {heading}"));
            let section = &doc[at + heading.len()..];
            let section = &section[..section.find("\n#").unwrap_or(section.len())];
            let json = serde_json::to_value(&fact).unwrap();
            for field in json.as_object().unwrap().keys().filter(|k| *k != "event") {
                assert!(
                    section.contains(&format!("| `{field}` |")),
                    "docs/audit-log.md {heading} does not describe `{field}`"
                );
            }
        }
        for field in ["time", "journey", "event"] {
            assert!(doc.contains(&format!("| `{field}` |")), "the envelope's `{field}`");
        }
    }
}
