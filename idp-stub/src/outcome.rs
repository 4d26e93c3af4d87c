//! The outcomes a tester can pick or force: real answers (success, refusals, errors per RFC 6749 §4.1.2.1
//! and OIDC Core §3.1.2.6) and deliberately broken ID tokens a strict client must reject (OIDC Core §3.1.3.7).

use serde::{Deserialize, Serialize};

/// One outcome of a sign-in at the stub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    AuthenticationFailed,
    Cancel,
    LevelNotReached,
    UnmetRequirements,
    Pending,
    FraudSuspected,
    TemporarilyUnavailable,
    BadSignature,
    AlgNone,
    WrongIss,
    WrongAud,
    Expired,
    NotYetValid,
    WrongNonce,
    WrongAcr,
    MissingSub,
}

/// What the authorization response carries for an outcome that is refused at the redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    pub error: &'static str,
    pub description: &'static str,
    /// The stub's extension telling the hub an identity check is pending or fraud is suspected.
    pub identity_outcome: Option<&'static str>,
}

impl Outcome {
    /// Every outcome, in page order.
    pub const ALL: [Outcome; 17] = [
        Outcome::Success,
        Outcome::AuthenticationFailed,
        Outcome::Cancel,
        Outcome::LevelNotReached,
        Outcome::UnmetRequirements,
        Outcome::Pending,
        Outcome::FraudSuspected,
        Outcome::TemporarilyUnavailable,
        Outcome::BadSignature,
        Outcome::AlgNone,
        Outcome::WrongIss,
        Outcome::WrongAud,
        Outcome::Expired,
        Outcome::NotYetValid,
        Outcome::WrongNonce,
        Outcome::WrongAcr,
        Outcome::MissingSub,
    ];

    /// The id used in forms, `/config` and the page.
    pub fn id(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::AuthenticationFailed => "authentication-failed",
            Outcome::Cancel => "cancel",
            Outcome::LevelNotReached => "level-not-reached",
            Outcome::UnmetRequirements => "unmet-requirements",
            Outcome::Pending => "pending",
            Outcome::FraudSuspected => "fraud-suspected",
            Outcome::TemporarilyUnavailable => "temporarily-unavailable",
            Outcome::BadSignature => "bad-signature",
            Outcome::AlgNone => "alg-none",
            Outcome::WrongIss => "wrong-iss",
            Outcome::WrongAud => "wrong-aud",
            Outcome::Expired => "expired",
            Outcome::NotYetValid => "not-yet-valid",
            Outcome::WrongNonce => "wrong-nonce",
            Outcome::WrongAcr => "wrong-acr",
            Outcome::MissingSub => "missing-sub",
        }
    }

    /// The outcome with this id.
    pub fn parse(id: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.id() == id)
    }

    /// A label for the page.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "Success",
            Outcome::AuthenticationFailed => "Authentication failed (access_denied)",
            Outcome::Cancel => "The person cancels (access_denied)",
            Outcome::LevelNotReached => "Success, but one level below what was asked",
            Outcome::UnmetRequirements => "Unmet authentication requirements",
            Outcome::Pending => "Identity check pending",
            Outcome::FraudSuspected => "Fraud suspected",
            Outcome::TemporarilyUnavailable => "Temporarily unavailable",
            Outcome::BadSignature => "Broken ID token: bad signature",
            Outcome::AlgNone => "Broken ID token: alg none",
            Outcome::WrongIss => "Broken ID token: wrong issuer",
            Outcome::WrongAud => "Broken ID token: wrong audience",
            Outcome::Expired => "Broken ID token: expired",
            Outcome::NotYetValid => "Broken ID token: not yet valid",
            Outcome::WrongNonce => "Broken ID token: wrong nonce",
            Outcome::WrongAcr => "Broken ID token: unknown acr",
            Outcome::MissingSub => "Broken ID token: no sub",
        }
    }

    /// The error redirect for outcomes refused at the authorization response; `None` when a code is issued.
    pub fn redirect_error(self) -> Option<RedirectError> {
        let e = |error, description, identity_outcome| {
            Some(RedirectError {
                error,
                description,
                identity_outcome,
            })
        };
        match self {
            Outcome::AuthenticationFailed => e("access_denied", "Authentication failed", None),
            Outcome::Cancel => e("access_denied", "The person cancelled", None),
            Outcome::UnmetRequirements => e(
                "unmet_authentication_requirements",
                "The requested level could not be reached",
                None,
            ),
            Outcome::TemporarilyUnavailable => e(
                "temporarily_unavailable",
                "The identity provider is temporarily unavailable",
                None,
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_serde() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.id()), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), serde_json::json!(o.id()));
            assert_eq!(serde_json::from_value::<Outcome>(serde_json::json!(o.id())).unwrap(), o);
        }
    }
}
