//! The identity credential in userinfo (`https://vocab.account.gov.uk/v1/coreIdentityJWT`, INTERFACE.md §5).
//!
//! Shown as received for now. The seam for issue 4 is [`validate`]: it will verify the JWT against the DID
//! document of the identity issuer (`{issuer}/.well-known/did.json`; header `kid` = `did:web:<host>#<id>`,
//! ES256), then check `iss` = the identity issuer, `sub` = the ID token's `sub`, `aud` = our client id,
//! `nbf`/`exp`, and `vot` (e.g. `P2`) against the level asked for.

use serde_json::{Map, Value};

/// The userinfo claim carrying the identity credential.
pub const CORE_IDENTITY_CLAIM: &str = "https://vocab.account.gov.uk/v1/coreIdentityJWT";

/// What is known about a credential's validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// Not checked: the JWT is shown exactly as the hub sent it (issue 4 adds the checks).
    NotChecked,
}

impl Validation {
    /// For the account page.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::NotChecked => "Not validated: shown as received from the hub",
        }
    }
}

/// The identity credential of a userinfo response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreIdentity {
    /// The compact JWT, as received.
    pub jwt: String,
    /// Its validation status.
    pub validation: Validation,
}

/// The credential in `userinfo`, if there is one.
pub fn from_userinfo(userinfo: &Map<String, Value>) -> Option<CoreIdentity> {
    let jwt = userinfo.get(CORE_IDENTITY_CLAIM)?.as_str()?.to_string();
    let validation = validate(&jwt);
    Some(CoreIdentity { jwt, validation })
}

/// Issue 4: verify against the hub's DID document. Until then every credential is [`Validation::NotChecked`].
pub fn validate(_jwt: &str) -> Validation {
    Validation::NotChecked
}
