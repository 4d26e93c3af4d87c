//! The hub as seen by an ordinary OpenID Connect client: `openidconnect` types extended with what One
//! Login adds (INTERFACE.md §1, §4), and the lazily fetched, cached discovery document.
//!
//! OIDC Discovery 1.0 §4 (fetching the document), RFC 9207 (`authorization_response_iss_parameter_supported`),
//! OIDC RP-Initiated Logout 1.0 §2 (`end_session_endpoint`).

use std::sync::Arc;

use openidconnect::{
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreErrorResponseType,
        CoreGenderClaim, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
        CoreRevocationErrorResponse, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
    },
    AdditionalClaims, AdditionalProviderMetadata, AuthType, Client, ClientId, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, ProviderMetadata, RedirectUrl, StandardErrorResponse,
    StandardTokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::{config::Config, error::RpError};

/// The claims One Login adds to the ID token: `vot` (the level reached, e.g. `Cl.Cm`), `vtm` (the trust mark
/// URL) and `sid` (this journey's session id, used by back-channel logout). Optional here so that a missing
/// `vot` is our own, named failure rather than a parse error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubClaims {
    /// Vector of trust reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vot: Option<String>,
    /// Trust mark URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vtm: Option<String>,
    /// Session id of the journey at the hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl AdditionalClaims for HubClaims {}

/// Discovery fields beyond OIDC Discovery 1.0 that this client acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubMetadata {
    /// RP-initiated logout endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// RFC 9207: the authorization response carries `iss`, and the client must check it.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for HubMetadata {}

/// The hub's discovery document.
pub type HubProviderMetadata = ProviderMetadata<
    HubMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The token response: standard fields and an ID token with [`HubClaims`].
pub type HubTokenResponse = StandardTokenResponse<
    IdTokenFields<
        HubClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// An `openidconnect` client for the hub, as built from its discovery document.
pub type HubClient = Client<
    HubClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    HubTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long a discovery document (and its JWKS) is used before it is fetched again; the hub serves both
/// with `max-age=86400`. A failed refresh keeps the old copy.
pub const DISCOVERY_MAX_AGE_SECS: u64 = 86_400;

/// The level of assurance a person asks for on the start page, sent as `vtr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `Cl.Cm`: sign in with two factors.
    ClCm,
    /// `Cl.Cm.P2`: sign in and prove identity at medium confidence.
    ClCmP2,
}

/// The identity claims asked for in userinfo on an identity journey (INTERFACE.md §2).
pub const IDENTITY_CLAIMS: [&str; 5] = [
    "https://vocab.account.gov.uk/v1/coreIdentityJWT",
    "https://vocab.account.gov.uk/v1/address",
    "https://vocab.account.gov.uk/v1/passport",
    "https://vocab.account.gov.uk/v1/drivingPermit",
    "https://vocab.account.gov.uk/v1/returnCode",
];

impl Level {
    /// Parses the `level` form value; absent means `Cl.Cm`.
    pub fn parse(value: Option<&str>) -> Result<Self, RpError> {
        match value {
            None | Some("") | Some("Cl.Cm") => Ok(Self::ClCm),
            Some("Cl.Cm.P2") => Ok(Self::ClCmP2),
            Some(other) => Err(RpError::InvalidLevel(other.to_string())),
        }
    }

    /// The vector of trust as written in `vtr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClCm => "Cl.Cm",
            Self::ClCmP2 => "Cl.Cm.P2",
        }
    }

    /// The credential level asked for, which the ID token's `vot` must state.
    pub fn credential(self) -> &'static str {
        "Cl.Cm"
    }

    /// The identity level asked for (`P2` → 2), `None` for a sign-in without identity.
    pub fn identity_level(self) -> Option<u8> {
        match self {
            Self::ClCm => None,
            Self::ClCmP2 => Some(2),
        }
    }

    /// The `vtr` parameter: a JSON array of one vector.
    pub fn vtr(self) -> String {
        serde_json::json!([self.as_str()]).to_string()
    }

    /// The `claims` parameter, asked for on identity journeys only.
    pub fn claims(self) -> Option<String> {
        match self {
            Self::ClCm => None,
            Self::ClCmP2 => {
                let userinfo: serde_json::Map<String, serde_json::Value> = IDENTITY_CLAIMS
                    .iter()
                    .map(|c| (c.to_string(), serde_json::Value::Null))
                    .collect();
                Some(serde_json::json!({ "userinfo": userinfo }).to_string())
            }
        }
    }
}

/// The hub as discovered: a ready `openidconnect` client and the endpoints and keys we use directly.
pub struct Provider {
    /// The client, with redirect URI set and `RequestBody` authentication (`client_id` in the body; the
    /// `client_assertion` is added per request).
    pub client: HubClient,
    /// The issuer, as discovery stated it (and as it must appear in `iss`).
    pub issuer: String,
    /// The token endpoint: the `aud` of client assertions.
    pub token_endpoint: String,
    /// The userinfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// The RP-initiated logout endpoint.
    pub end_session_endpoint: Option<String>,
    /// Whether the authorization response carries `iss` (RFC 9207), so that it must be checked.
    pub iss_parameter_supported: bool,
    /// The hub's JWKS as `keys` verifiers, for back-channel logout tokens.
    pub logout_keys: keys::VerifyingKeys,
    fetched_at: u64,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Fetches the discovery document and JWKS and builds the client.
    pub async fn discover(config: &Config, http: &reqwest::Client, now: u64) -> Result<Self, RpError> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| RpError::HubUnavailable(format!("{what}: {e}"));
        let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| unavailable("issuer", &e))?;
        let metadata = HubProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|e| unavailable("discovery failed", &error_chain(&e)))?;
        let token_endpoint = metadata
            .token_endpoint()
            .map(|u| u.as_str().to_string())
            .ok_or_else(|| RpError::HubUnavailable("discovery has no token_endpoint".into()))?;
        let jwks = serde_json::to_value(metadata.jwks()).map_err(|e| unavailable("jwks", &e))?;
        let logout_keys = keys::VerifyingKeys::from_jwks(&jwks).map_err(|e| unavailable("jwks", &e))?;
        let redirect = RedirectUrl::new(config.redirect_uri()).map_err(|e| unavailable("redirect_uri", &e))?;
        let extra = metadata.additional_metadata().clone();
        let userinfo_endpoint = metadata.userinfo_endpoint().map(|u| u.as_str().to_string());
        let issuer = metadata.issuer().as_str().to_string();
        let client = HubClient::from_provider_metadata(metadata, ClientId::new(config.client_id.clone()), None)
            .set_auth_type(AuthType::RequestBody)
            .set_redirect_uri(redirect);
        Ok(Self {
            client,
            issuer,
            token_endpoint,
            userinfo_endpoint,
            end_session_endpoint: extra.end_session_endpoint,
            iss_parameter_supported: extra.authorization_response_iss_parameter_supported,
            logout_keys,
            fetched_at: now,
        })
    }
}

/// An error and its sources on one line (reqwest's own `Display` hides the cause, e.g. "connection refused").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// The discovered hub, fetched on first use: the hub may start after this service, and while it is down
/// people see a "try again" page instead of the service failing to start.
#[derive(Debug, Default)]
pub struct ProviderCache {
    inner: tokio::sync::Mutex<Option<Arc<Provider>>>,
}

impl ProviderCache {
    /// The cached provider, fetching it when there is none or the copy is older than a day (keeping the old
    /// copy when the refresh fails).
    pub async fn get(&self, config: &Config, http: &reqwest::Client, now: u64) -> Result<Arc<Provider>, RpError> {
        let mut slot = self.inner.lock().await;
        if let Some(provider) = slot.as_ref() {
            if now.saturating_sub(provider.fetched_at) < DISCOVERY_MAX_AGE_SECS {
                return Ok(provider.clone());
            }
        }
        match Provider::discover(config, http, now).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                *slot = Some(fresh.clone());
                Ok(fresh)
            }
            Err(error) => match slot.as_ref() {
                Some(stale) => {
                    tracing::warn!(%error, "discovery refresh failed; keeping the cached copy");
                    Ok(stale.clone())
                }
                None => Err(error),
            },
        }
    }

    /// The cached provider, if any, without fetching.
    pub async fn cached(&self) -> Option<Arc<Provider>> {
        self.inner.lock().await.clone()
    }

    /// Forgets the cached copy, so the next [`ProviderCache::get`] fetches again (after an unknown `kid`).
    pub async fn invalidate(&self) {
        *self.inner.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_give_vtr_and_claims() {
        assert_eq!(Level::parse(None).ok(), Some(Level::ClCm));
        assert_eq!(Level::parse(Some("Cl.Cm.P2")).ok(), Some(Level::ClCmP2));
        assert!(Level::parse(Some("P2")).is_err());
        assert_eq!(Level::ClCm.vtr(), r#"["Cl.Cm"]"#);
        assert_eq!(Level::ClCmP2.vtr(), r#"["Cl.Cm.P2"]"#);
        assert_eq!(Level::ClCm.claims(), None);
        let claims: serde_json::Value =
            serde_json::from_str(&Level::ClCmP2.claims().unwrap_or_default()).unwrap_or_default();
        for name in IDENTITY_CLAIMS {
            assert_eq!(claims["userinfo"].get(name), Some(&serde_json::Value::Null), "{name}");
        }
    }

    #[test]
    fn hub_claims_accept_one_login_extras() {
        let claims: HubClaims = serde_json::from_value(
            serde_json::json!({"vot": "Cl.Cm", "vtm": "http://hub/trustmark", "sid": "s", "x": 1}),
        )
        .unwrap_or_default();
        assert_eq!(claims.vot.as_deref(), Some("Cl.Cm"));
        assert_eq!(claims.sid.as_deref(), Some("s"));
    }
}
