//! The state machine of one sign-in (DESIGN.md "One sign-in"): `Started → ProviderChosen → Authenticated →
//! CodeIssued → Redeemed`, plus `Failed`, `Cancelled`, `TimedOut`. An illegal transition is an error, never
//! a panic. Journeys live in the store under `journey:{id}` with a TTL kept across updates.

pub mod complete;
pub mod load;

use crate::{error::ReturnTo, vtr::Vector};
use serde::{Deserialize, Serialize};

/// Where a journey is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Started,
    ProviderChosen,
    Authenticated,
    CodeIssued,
    Redeemed,
    Failed,
    Cancelled,
    TimedOut,
}

/// An attempted transition the machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journey cannot go from {from:?} to {to:?}")]
pub struct IllegalTransition {
    pub from: Status,
    pub to: Status,
}

impl Status {
    /// Whether `self → to` is allowed.
    pub fn can_go_to(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Started, ProviderChosen)
                | (ProviderChosen, ProviderChosen)
                | (ProviderChosen, Started)
                | (ProviderChosen, Authenticated)
                | (Started, Authenticated)
                | (Authenticated, CodeIssued)
                | (CodeIssued, Redeemed)
                | (Started | ProviderChosen | Authenticated, Failed | Cancelled | TimedOut)
        )
    }
}

/// The validated authorization request a journey serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub return_to: ReturnTo,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub scopes: Vec<String>,
    /// Wanted vectors, lowest first; any will do.
    pub vtr: Vec<Vector>,
    /// Identity claims asked for in `claims.userinfo`.
    pub claims: Vec<String>,
    pub ui_locales: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
}

/// The hub's own request to a provider: fresh state, nonce and PKCE, nothing of the service's.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpstreamAttempt {
    pub provider_id: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub started_at: i64,
}

impl std::fmt::Debug for UpstreamAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamAttempt")
            .field("provider_id", &self.provider_id)
            .finish_non_exhaustive()
    }
}

/// One sign-in journey.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journey {
    pub status: Status,
    pub request: AuthRequest,
    pub created_at: i64,
    pub upstream: Option<UpstreamAttempt>,
    /// Providers that failed (down or answered wrongly) during this journey.
    pub failed_providers: Vec<String>,
    /// The provider that last fell short of the wanted level: the choice page says so (INTERFACE.md §9).
    #[serde(default)]
    pub level_not_reached_at: Option<String>,
    /// The opaque `sid` of this journey, given in the ID token.
    pub sid: String,
    /// The person as a provider (or the hub session) authenticated them, held until the code is issued.
    #[serde(default)]
    pub person: Option<Person>,
    /// The wanted vector the person met.
    #[serde(default)]
    pub met: Option<Vector>,
    /// An authentication below the wanted level, kept so a service that asked for `returnCode` can be
    /// told why identity proving failed if the person returns to it.
    #[serde(default)]
    pub partial: Option<Person>,
    /// The hub session this journey's assertion belongs to.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// A person as authenticated by a provider: who (the provider's subject, never given to services), at what
/// level, and the claims it supplied. Held only for the journey (and the hub session).
#[derive(Clone, Serialize, Deserialize)]
pub struct Person {
    pub provider_id: String,
    pub provider_issuer: String,
    pub provider_sub: String,
    pub vector: Vector,
    pub auth_time: i64,
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The provider's `identity_outcome` (`pending`, `fraud_suspected`), when identity was not proven.
    #[serde(default)]
    pub identity_outcome: Option<String>,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("provider_id", &self.provider_id)
            .field("vector", &self.vector)
            .finish_non_exhaustive()
    }
}

impl Journey {
    /// A new journey for a validated request.
    pub fn new(request: AuthRequest, now: i64) -> Self {
        Self {
            status: Status::Started,
            request,
            created_at: now,
            upstream: None,
            failed_providers: Vec::new(),
            level_not_reached_at: None,
            sid: crate::ids::random_token(),
            person: None,
            met: None,
            partial: None,
            session_id: None,
        }
    }

    /// Moves to `to` if the machine allows it.
    pub fn go(&mut self, to: Status) -> Result<(), IllegalTransition> {
        if self.status.can_go_to(to) {
            self.status = to;
            Ok(())
        } else {
            Err(IllegalTransition { from: self.status, to })
        }
    }

    /// The store key of a journey id.
    pub fn key(id: &str) -> String {
        format!("journey:{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;

    #[test]
    fn transitions_table() {
        let allowed = [
            (Started, ProviderChosen),
            (ProviderChosen, Authenticated),
            (ProviderChosen, ProviderChosen),
            (ProviderChosen, Started),
            (Authenticated, CodeIssued),
            (CodeIssued, Redeemed),
            (Started, Cancelled),
            (ProviderChosen, Failed),
            (Authenticated, TimedOut),
        ];
        let refused = [
            (Started, CodeIssued),
            (CodeIssued, CodeIssued),
            (Redeemed, Redeemed),
            (Redeemed, Started),
            (Failed, ProviderChosen),
            (Cancelled, Started),
            (CodeIssued, Failed),
            (TimedOut, Authenticated),
        ];
        for (from, to) in allowed {
            assert!(from.can_go_to(to), "{from:?} -> {to:?} should be allowed");
        }
        for (from, to) in refused {
            assert!(!from.can_go_to(to), "{from:?} -> {to:?} should be refused");
        }
    }
}
