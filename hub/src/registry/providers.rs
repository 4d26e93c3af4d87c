//! The provider registry (INTERFACE.md §9): each certified identity provider the hub is a client of, the
//! vectors it can reach, the claims it can supply, how its `acr` values map to vectors, and its flags.

use super::RegistryError;
use crate::{ids::ProviderId, vtr::Vector};
use serde::Deserialize;
use std::{collections::BTreeMap, path::Path};

/// How the hub authenticates at a provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamAuth {
    #[default]
    PrivateKeyJwt,
    ClientSecretPost,
    ClientSecretBasic,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "phone", "address"]
        .map(String::from)
        .to_vec()
}

fn default_true() -> bool {
    true
}

/// One identity provider as registered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: ProviderId,
    /// Display name in English.
    pub name: String,
    /// Display name in Welsh.
    pub name_cy: String,
    /// The provider's issuer; its discovery document is fetched from `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The hub's client id at this provider.
    pub client_id: String,
    #[serde(default)]
    pub token_endpoint_auth_method: UpstreamAuth,
    /// The client secret, for providers that only offer `client_secret_*` (prefer `private_key_jwt`).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Vectors this provider can reach.
    pub levels: Vec<Vector>,
    /// Identity claims (`https://vocab.account.gov.uk/v1/...`) it can supply.
    #[serde(default)]
    pub claims: Vec<String>,
    /// Scopes asked of the provider.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The provider's own `acr` values and the vectors they mean. Values not listed are read as vector
    /// syntax (`Cl.Cm.P2`); anything else is refused.
    #[serde(default)]
    pub acr_map: BTreeMap<String, Vector>,
    /// The vector assumed when the provider's ID token has no `acr` at all (none: such tokens are refused).
    #[serde(default)]
    pub acr_absent: Option<Vector>,
    /// Whether to send `acr_values` (some generic providers reject unknown values).
    #[serde(default = "default_true")]
    pub send_acr_values: bool,
    #[serde(default)]
    pub temporarily_unavailable: bool,
    #[serde(default = "default_true")]
    pub accepting_registrations: bool,
}

impl Provider {
    /// The vector a provider's `acr` value stands for, if any.
    pub fn vector_of_acr(&self, acr: Option<&str>) -> Option<Vector> {
        match acr {
            None => self.acr_absent,
            Some(acr) => self.acr_map.get(acr).copied().or_else(|| Vector::parse(acr).ok()),
        }
    }

    /// The provider's `acr` value for a vector (the reverse of [`Provider::vector_of_acr`]).
    pub fn acr_of_vector(&self, vector: &Vector) -> String {
        self.acr_map
            .iter()
            .find(|(_, v)| *v == vector)
            .map(|(acr, _)| acr.clone())
            .unwrap_or_else(|| vector.to_string())
    }

    /// The provider's name in a page's language.
    pub fn name(&self, lang: crate::i18n::Lang) -> &str {
        match lang {
            crate::i18n::Lang::En => &self.name,
            crate::i18n::Lang::Cy => &self.name_cy,
        }
    }

    /// A message naming this provider (placeable `provider`) in English or Welsh.
    pub fn text(&self, id: &'static str) -> crate::i18n::Text {
        crate::i18n::Text::new(id).named("provider", &self.name, &self.name_cy)
    }

    /// Whether the provider can reach one of the wanted vectors.
    pub fn can_reach(&self, wanted: &[Vector]) -> bool {
        self.levels.iter().any(|have| wanted.iter().any(|w| have.satisfies(w)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    providers: Vec<Provider>,
}

/// Every registered provider, in registry order (the order the choice page lists them).
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    providers: Vec<Provider>,
}

impl ProviderRegistry {
    /// Reads and validates a registry file.
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        super::load(path, Self::parse)
    }

    /// Parses and validates registry TOML; errors name the provider and field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed: File = toml::from_str(text).map_err(|e| e.to_string())?;
        Self::from_providers(parsed.providers)
    }

    /// Validates a list of providers.
    pub fn from_providers(providers: Vec<Provider>) -> Result<Self, String> {
        let mut seen = std::collections::HashSet::new();
        for p in &providers {
            let fail = |field: &str, why: &str| format!("provider {:?}: field {field}: {why}", p.id.as_str());
            if p.id.as_str().is_empty()
                || !p
                    .id
                    .as_str()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(fail("id", "must be non-empty letters, digits, - or _"));
            }
            if !seen.insert(p.id.clone()) {
                return Err(fail("id", "duplicate provider id"));
            }
            let issuer = url::Url::parse(&p.issuer).map_err(|e| fail("issuer", &e.to_string()))?;
            if !super::is_allowed_redirect(&issuer) {
                return Err(fail("issuer", "must be https (http only on loopback)"));
            }
            if p.levels.is_empty() {
                return Err(fail("levels", "at least one vector is required"));
            }
            if p.token_endpoint_auth_method != UpstreamAuth::PrivateKeyJwt && p.client_secret.is_none() {
                return Err(fail("client_secret", "required for client_secret_post/basic"));
            }
            if !p.scopes.iter().any(|s| s == "openid") {
                return Err(fail("scopes", "must include openid"));
            }
        }
        Ok(Self { providers })
    }

    /// The provider with this id.
    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Every provider in registry order.
    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.providers.iter()
    }

    /// How many providers are registered.
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Whether no provider is registered.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The providers able to reach one of the wanted vectors, in registry order: those the choice page
    /// lists (unavailable ones included, marked as such).
    pub fn able_to_reach<'a>(&'a self, wanted: &'a [Vector]) -> impl Iterator<Item = &'a Provider> + 'a {
        self.providers.iter().filter(move |p| p.can_reach(wanted))
    }

    /// Whether the person may choose this provider for these vectors: registered, able to reach one,
    /// and not marked `temporarily_unavailable`.
    pub fn choosable(&self, id: &str, wanted: &[Vector]) -> Option<&Provider> {
        self.get(id)
            .filter(|p| p.can_reach(wanted) && !p.temporarily_unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [[providers]]
        id = "idp-a"
        name = "Provider A"
        name_cy = "Darparwr A"
        issuer = "https://idp.example/"
        client_id = "hub"
        levels = ["Cl.Cm", "Cl.Cm.P2"]
        [providers.acr_map]
        "urn:idp:high" = "Cl.Cm.P2"
    "#;

    #[test]
    fn acr_mapping_both_ways() {
        let reg = ProviderRegistry::parse(GOOD).unwrap_or_default();
        let p = reg.get("idp-a");
        let p2 = Vector::parse("Cl.Cm.P2").ok();
        assert_eq!(p.and_then(|p| p.vector_of_acr(Some("urn:idp:high"))), p2);
        assert_eq!(
            p.and_then(|p| p.vector_of_acr(Some("Cl.Cm"))),
            Vector::parse("Cl.Cm").ok()
        );
        assert_eq!(p.and_then(|p| p.vector_of_acr(Some("urn:other"))), None);
        assert_eq!(p.and_then(|p| p.vector_of_acr(None)), None);
        assert_eq!(
            p.zip(p2).map(|(p, v)| p.acr_of_vector(&v)),
            Some("urn:idp:high".to_string())
        );
    }

    #[test]
    fn errors_name_the_provider_and_field() {
        let cases = [
            (
                GOOD.replace("https://idp.example/", "http://idp.example/"),
                "provider \"idp-a\": field issuer",
            ),
            (
                format!(
                    "{GOOD}\n{}",
                    GOOD.split("[providers.acr_map]").next().unwrap_or_default()
                ),
                "duplicate provider id",
            ),
            (
                GOOD.replace("name_cy", "nickname = \"x\"\nname_cy"),
                "unknown field `nickname`",
            ),
            (
                GOOD.replace("levels = [\"Cl.Cm\", \"Cl.Cm.P2\"]", "levels = []"),
                "field levels",
            ),
        ];
        for (text, want) in cases {
            let err = ProviderRegistry::parse(&text).err().unwrap_or_default();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }
}
